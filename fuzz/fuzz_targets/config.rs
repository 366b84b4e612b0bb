//! `meridian.toml`: `config::compile` on arbitrary text must not panic; a config it
//! accepts keeps the documented bounds (coordinates, payload size, listeners, the server's
//! own region among the regions), and the fixture's services file checks against it
//! without a panic either.
//!
//! Input: the text of `meridian.toml`.
#![no_main]

use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/meridian/meridian.toml");
    let compiled = meridian::config::compile(text, path);
    for e in &compiled.errors {
        let _ = e.to_string();
    }
    if !compiled.errors.is_empty() {
        return;
    }
    let config = compiled.config;
    for r in &config.regions {
        assert!((-90.0..=90.0).contains(&r.lat), "lat {}", r.lat);
        assert!((-180.0..=180.0).contains(&r.lon), "lon {}", r.lon);
    }
    let s = &config.server;
    assert!(
        (512..=4096).contains(&s.max_udp_payload),
        "payload {}",
        s.max_udp_payload
    );
    assert!(!s.dns_listen.is_empty());
    for (i, a) in s.dns_listen.iter().enumerate() {
        assert!(!s.dns_listen[..i].contains(a), "{a} listed twice");
    }
    assert!(
        config.regions.iter().any(|r| r.name == s.region)
            || (config.regions.is_empty() && s.region.is_empty()),
        "server.region {:?}",
        s.region
    );
    let origin = Name::from_ascii("example.com.").unwrap();
    let services = Path::new("/etc/meridian/zones/example.com.toml");
    let _ = meridian::config::parse_services(
        meridian_fuzz::services_text(),
        services,
        &origin,
        &config,
    );
});

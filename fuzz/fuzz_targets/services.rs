//! The services file (`zones/<origin>.toml`): `config::parse_services` on arbitrary text
//! against the fixture config must not panic, and every service it accepts must route:
//! for located and unlocated clients, all up or some down, the decision gives only the
//! service's own addresses of the asked family, each once: healthy ones, at most
//! `max_answers`, or (failing open) none healthy, at most 16; with a TTL no longer than
//! the service's.
//!
//! Input: the text of `example.com.toml`.
#![no_main]

use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use meridian::config::parse_services;
use meridian::geo::Location;
use meridian::route::{self, Client, EndpointState, Family, Health};
use std::net::IpAddr;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let snap = meridian_fuzz::snapshot();
    let origin = Name::from_ascii("example.com.").unwrap();
    let path = Path::new("zones/example.com.toml");
    let Ok(services) = parse_services(text, path, &origin, &snap.config) else {
        return;
    };
    let clients: [(IpAddr, u8); 4] = [
        ("81.2.69.160".parse().unwrap(), 32),
        ("2001:db8::1".parse().unwrap(), 48),
        ("10.1.2.3".parse().unwrap(), 24),
        ("0.0.0.0".parse().unwrap(), 0),
    ];
    for s in &services {
        assert!(!s.endpoints.is_empty() && (1..=16).contains(&s.max_answers));
        let n = s.endpoints.len();
        let states: [Vec<EndpointState>; 3] = [
            vec![EndpointState::Up; n],
            (0..n)
                .map(|i| {
                    if i % 2 == 0 {
                        EndpointState::Down
                    } else {
                        EndpointState::Up
                    }
                })
                .collect(),
            vec![EndpointState::Drained; n],
        ];
        for (addr, prefix) in clients {
            let located = snap.locate(addr);
            let unknown = Location::unknown(0);
            for location in [&located, &unknown] {
                let client = Client {
                    addr,
                    source_prefix: prefix,
                    location,
                };
                for endpoints in &states {
                    for (family, ttl_cap) in [(Family::V4, None), (Family::V6, Some(3))] {
                        let health = Health { endpoints, ttl_cap };
                        let d =
                            route::decide(s, &snap.config.regions, &client, &health, family, None);
                        let got: Vec<IpAddr> = d.addresses().collect();
                        let mut healthy = 0;
                        for (i, a) in got.iter().enumerate() {
                            assert!(family.matches(a), "{a} in a {family:?} answer");
                            let e = s.endpoints.iter().position(|e| e.address == *a);
                            let e = e.unwrap_or_else(|| panic!("{a} not an endpoint"));
                            healthy += (endpoints[e] == EndpointState::Up
                                && s.endpoints[e].capacity > 0)
                                as usize;
                            assert!(!got[..i].contains(a), "{a} twice");
                        }
                        // Healthy endpoints, at most max_answers; or, failing open, all
                        // (at most 16) with none healthy.
                        let normal = healthy == got.len() && got.len() <= s.max_answers;
                        let fail_open = healthy == 0 && got.len() <= route::MAX_ANSWERS;
                        assert!(
                            normal || fail_open,
                            "{} answers, {healthy} healthy",
                            got.len()
                        );
                        assert!(d.ttl <= s.ttl, "TTL {} over the service's {}", d.ttl, s.ttl);
                    }
                }
            }
        }
    }
});

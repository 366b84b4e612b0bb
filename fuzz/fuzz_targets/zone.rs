//! The zone master-file reader, and what follows it when the text reads: the zone build
//! (zone-level checks, pre-encoded answers) and queries for the first names it holds, answered
//! from a snapshot serving that zone. Reading must never panic; nor may building or
//! answering, and every answer must pass the response checks.
//!
//! Input: the text of `example.com.zone`. `$INCLUDE inc.zone` reads a small included
//! file, `$INCLUDE loop.zone` one that includes itself.
#![no_main]

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinEncodable;
use libfuzzer_sys::fuzz_target;
use meridian::dns::respond::Transport;
use meridian::snapshot::Snapshot;
use meridian::zone::{BalancedName, build_zones, master};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

struct Setup {
    dir: tempfile::TempDir,
    path: PathBuf,
    origin: Name,
    balanced: Vec<BalancedName>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("inc.zone"),
            "inc 60 IN A 192.0.2.7\n@ IN TXT \"included\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("loop.zone"), "$INCLUDE loop.zone\n").unwrap();
        let path = dir.path().join("example.com.zone");
        let origin = Name::from_ascii("example.com.").unwrap();
        let snap = meridian_fuzz::snapshot();
        // The fixture's load-balanced names under example.com, with their service index.
        let balanced = snap
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.origin == origin)
            .map(|(i, s)| BalancedName {
                name: s.name.clone(),
                service: i as u32,
                file: s.file.clone(),
                line: s.line,
            })
            .collect();
        extern "C" fn cleanup() {
            if let Some(s) = SETUP.get() {
                let _ = std::fs::remove_dir_all(s.dir.path());
            }
        }
        unsafe { libc::atexit(cleanup) };
        Setup {
            dir,
            path,
            origin,
            balanced,
        }
    })
}

fn query(name: &[u8], qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns as u8];
    m.extend_from_slice(name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if edns {
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }
    m
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let s = setup();
    let Ok(records) = master::parse_str(text, &s.path, &s.origin) else {
        return;
    };
    for r in &records {
        assert!(r.ttl <= i32::MAX as u32, "TTL {} read", r.ttl);
    }
    let names: Vec<(Vec<u8>, u16)> = records
        .iter()
        .take(4)
        .filter_map(|r| Some((r.name.to_bytes().ok()?, u16::from(r.rdata.record_type()))))
        .collect();
    let parsed = vec![(s.path.clone(), s.origin.clone(), records)];
    let Ok(zones) = build_zones(parsed, &s.balanced) else {
        return;
    };
    let base = meridian_fuzz::snapshot();
    let snap = Snapshot {
        config: base.config.clone(),
        zones: Arc::new(zones),
        services: base.services.clone(),
        service_names: base.service_names.clone(),
        geo: base.geo.clone(),
        health: base.health.clone(),
    };
    let peer = IpAddr::from([198, 51, 100, 7]);
    for (name, qtype) in &names {
        for (qtype, edns, transport) in [
            (*qtype, false, Transport::Udp),
            (*qtype, true, Transport::Tcp),
            (255, false, Transport::Udp),
        ] {
            meridian_fuzz::respond_and_check(&snap, &query(name, qtype, edns), transport, peer);
        }
        // A name below it: wildcards, delegations, NXDOMAIN.
        let mut below = b"\x01z".to_vec();
        below.extend_from_slice(name);
        if below.len() <= 255 {
            meridian_fuzz::respond_and_check(&snap, &query(&below, 1, false), Transport::Udp, peer);
        }
    }
});

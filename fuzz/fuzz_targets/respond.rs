//! The query path: arbitrary bytes as a query, from an arbitrary source address, over UDP
//! or TCP, with arbitrary endpoint health, answered from the fixture snapshot.
//!
//! Input: byte 0 = flags (bit 0 TCP, bit 1 IPv6 source), bytes 1..17 the source address
//! (the first 4 for IPv4), bytes 17..19 a health seed (0: all up), then the query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian::dns::respond::Transport;
use meridian::health::{HealthTable, ServiceHealth};
use meridian::route::EndpointState;
use std::net::IpAddr;

const PREFIX: usize = 19;

fuzz_target!(|data: &[u8]| {
    if data.len() < PREFIX {
        return;
    }
    let base = meridian_fuzz::snapshot();
    let flags = data[0];
    let transport = if flags & 1 != 0 {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let mut a = [0u8; 16];
    a.copy_from_slice(&data[1..17]);
    let peer = if flags & 2 != 0 {
        IpAddr::from(a)
    } else {
        IpAddr::from([a[0], a[1], a[2], a[3]])
    };
    let seed = u16::from_be_bytes([data[17], data[18]]);
    let msg = &data[PREFIX..];
    if seed == 0 {
        meridian_fuzz::respond_and_check(base, msg, transport, peer);
        return;
    }
    // Each endpoint Up, Down or Drained, and a TTL cap on some services, from the seed.
    let mut x = seed as u32 | (seed as u32) << 16;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let services = base
        .services
        .iter()
        .map(|s| ServiceHealth {
            endpoints: (0..s.endpoints.len())
                .map(|_| match next() % 3 {
                    0 => EndpointState::Up,
                    1 => EndpointState::Down,
                    _ => EndpointState::Drained,
                })
                .collect(),
            ttl_cap: (next() % 4 == 0).then(|| next() % 40),
        })
        .collect();
    let snap = base.with_health(HealthTable::from_services(services));
    meridian_fuzz::respond_and_check(&snap, msg, transport, peer);
});

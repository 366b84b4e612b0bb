//! The EDNS Client Subnet option: arbitrary option data in an otherwise valid query for a
//! fixture name. `wire::parse` must accept exactly the options RFC 7871 §6 allows (checked
//! against a plain restatement of the rule below) and keep the subnet as sent; the answer
//! must pass the response checks and echo family, source prefix and address.
//!
//! Input: byte 0 picks name, type and transport; the rest is the option's data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian::dns::respond::{QueryStats, Transport, respond};
use meridian::dns::wire::{self, QueryError};
use std::net::IpAddr;

const NAMES: [&[u8]; 8] = [
    b"\x03www\x07example\x03com\x00",
    b"\x04pool\x07example\x03com\x00",
    b"\x03api\x07example\x03com\x00",
    b"\x03app\x02eu\x07example\x03com\x00",
    b"\x07example\x03com\x00",
    b"\x06chain1\x07example\x03com\x00",
    b"\x03foo\x04wild\x07example\x03com\x00",
    b"\x03www\x04deep\x07example\x03com\x00",
];

/// RFC 7871 §6, as written: family 1 (IPv4, prefix ≤ 32) or 2 (IPv6, ≤ 128), exactly
/// ceil(prefix / 8) address bytes, and the bits past the prefix zero.
fn valid(option: &[u8]) -> bool {
    if option.len() < 4 {
        return false;
    }
    let family = u16::from_be_bytes([option[0], option[1]]);
    let prefix = option[2] as usize;
    let bits = match family {
        1 => 32,
        2 => 128,
        _ => return false,
    };
    let addr = &option[4..];
    prefix <= bits
        && addr.len() * 8 >= prefix
        && addr.len() * 8 < prefix + 8
        && (prefix..addr.len() * 8).all(|bit| addr[bit / 8] & (0x80 >> (bit % 8)) == 0)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, option)) = data.split_first() else {
        return;
    };
    if option.len() > 1000 {
        return;
    }
    let name = NAMES[(pick & 7) as usize];
    let qtype: u16 = if pick & 8 != 0 { 28 } else { 1 };
    let transport = if pick & 16 != 0 {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let mut msg = vec![0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    msg.extend_from_slice(name);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&[0, 1]);
    // OPT: root owner, payload 1232, version 0, DO, one option.
    msg.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0]);
    msg.extend_from_slice(&(4 + option.len() as u16).to_be_bytes());
    msg.extend_from_slice(&wire::OPT_ECS.to_be_bytes());
    msg.extend_from_slice(&(option.len() as u16).to_be_bytes());
    msg.extend_from_slice(option);

    let parsed = wire::parse(&msg);
    match &parsed {
        Ok(q) => {
            assert!(
                valid(option),
                "accepted an invalid ECS option {option:02x?}"
            );
            let c = q
                .edns
                .and_then(|e| e.client_subnet)
                .expect("the subnet is kept");
            assert_eq!(c.family, u16::from_be_bytes([option[0], option[1]]));
            assert_eq!(c.source_prefix, option[2]);
            assert_eq!(c.scope_prefix, option[3]);
            assert_eq!(&c.addr[..c.addr_len as usize], &option[4..]);
            assert!(c.addr[c.addr_len as usize..].iter().all(|&b| b == 0));
            match c.ip() {
                IpAddr::V4(a) => assert_eq!(c.family, 1, "{a}"),
                IpAddr::V6(a) => assert_eq!(c.family, 2, "{a}"),
            }
        }
        Err(QueryError::FormErr {
            question_end: Some(_),
            edns: Some(e),
        }) => {
            assert!(!valid(option), "refused a valid ECS option {option:02x?}");
            assert!(e.client_subnet.is_none());
        }
        Err(e) => panic!("unexpected {e:?} for ECS option {option:02x?}"),
    }

    let snap = meridian_fuzz::snapshot();
    let peer = IpAddr::from([192, 0, 2, 99]);
    meridian_fuzz::respond_and_check(snap, &msg, transport, peer);
    let mut out = Vec::new();
    assert!(
        respond(
            snap,
            &msg,
            &meridian_fuzz::request(transport, peer),
            &mut out,
            &mut QueryStats::default()
        )
        .is_some()
    );
    if parsed.is_ok() {
        // The response's OPT ends with the option echoed: family, source prefix, a scope
        // no longer than it, and the address.
        let echo = &out[out.len() - option.len()..];
        assert_eq!(
            echo[..3],
            option[..3],
            "ECS family and source prefix echoed"
        );
        assert!(
            echo[3] <= echo[2],
            "scope {} over source {}",
            echo[3],
            echo[2]
        );
        assert_eq!(echo[4..], option[4..], "ECS address echoed");
        let len = &out[out.len() - option.len() - 2..out.len() - option.len()];
        assert_eq!(len, (option.len() as u16).to_be_bytes());
    }
});

//! EDNS Client Subnet (RFC 7871): the option is echoed with SCOPE 0 for static names, and
//! a malformed option gets FORMERR (§7.1.1, §6).

use crate::util::{ECS, Edns, Fixture, Query, ecs_option, rcode};
use hickory_proto::rr::RecordType;

#[test]
fn ecs_is_echoed_with_scope_zero_for_static_names() {
    let server = Fixture::standard().start();
    // (family, source prefix, address bytes exactly ceil(prefix/8) long)
    let rows: &[(u16, u8, &[u8])] = &[
        (1, 24, &[192, 0, 2]),
        (1, 32, &[192, 0, 2, 1]),
        (1, 20, &[198, 51, 96]),
        (1, 0, &[]),
        (2, 56, &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0]),
        (
            2,
            128,
            &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        ),
    ];
    for &(family, source, address) in rows {
        let q = Query::new("www.example.com.", RecordType::A)
            .edns(Edns::new(1232).option(ECS, ecs_option(family, source, 0, address)));
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            let what = format!("{transport} family {family} /{source} {address:?}");
            r.assert_answer(&q);
            assert_eq!(
                r.answer_texts(),
                ["www.example.com. 3600 A 192.0.2.10"],
                "{what}\n{r}"
            );
            let opt = r
                .opt
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: OPT missing\n{r}"));
            let echoed = opt
                .option(ECS)
                .unwrap_or_else(|| panic!("{what}: ECS not echoed\n{r}"));
            assert_eq!(
                echoed,
                ecs_option(family, source, 0, address).as_slice(),
                "{what}: same family, source prefix and address, scope 0\n{r}"
            );
        }
    }
}

#[test]
fn malformed_ecs_gets_formerr() {
    let server = Fixture::standard().start();
    let rows: &[(&str, Vec<u8>)] = &[
        ("family 3", ecs_option(3, 24, 0, &[192, 0, 2])),
        (
            "IPv4 source prefix 33",
            ecs_option(1, 33, 0, &[192, 0, 2, 1, 0]),
        ),
        (
            "IPv4 /33 with 4 bytes",
            ecs_option(1, 33, 0, &[192, 0, 2, 1]),
        ),
        (
            "IPv6 source prefix 129",
            ecs_option(
                2,
                129,
                0,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
        ),
        (
            "IPv4 /16 with 4 address bytes",
            ecs_option(1, 16, 0, &[192, 0, 0, 0]),
        ),
        (
            "IPv4 /24 with 2 address bytes",
            ecs_option(1, 24, 0, &[192, 0]),
        ),
        (
            "IPv6 /56 with 16 address bytes",
            ecs_option(
                2,
                56,
                0,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
        ),
        (
            "IPv4 192.0.2.1/24 (4 bytes, bit beyond the prefix)",
            ecs_option(1, 24, 0, &[192, 0, 2, 1]),
        ),
        (
            "IPv4 192.0.3.0/23 (bit beyond the prefix)",
            ecs_option(1, 23, 0, &[192, 0, 3]),
        ),
        (
            "IPv6 /52 with bits beyond the prefix",
            ecs_option(2, 52, 0, &[0x20, 1, 0xd, 0xb8, 0, 0, 0x0f]),
        ),
        ("option shorter than its fixed part", vec![0, 1, 24]),
    ];
    for (what, option) in rows {
        let q = Query::new("www.example.com.", RecordType::A)
            .edns(Edns::new(1232).option(ECS, option.clone()));
        let r = server.query(&q);
        assert_eq!(r.id, q.id, "{what}: ID\n{r}");
        assert!(r.qr, "{what}: QR\n{r}");
        assert_eq!(r.rcode(), rcode::FORMERR, "{what}: rcode\n{r}");
        assert!(r.answers.is_empty(), "{what}: no answer with FORMERR\n{r}");
    }
    // Still serving.
    let q = Query::new("www.example.com.", RecordType::A);
    server.query(&q).assert_answer(&q);
}

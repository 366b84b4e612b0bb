//! Negative answers (RFC 2308): NXDOMAIN vs NODATA, the SOA and its TTL; REFUSED outside
//! every zone.

use crate::util::{Fixture, Query, rcode};
use hickory_proto::rr::RecordType;

const EXAMPLE_SOA: &str =
    "example.com. 300 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300";
/// SOA record TTL 60 is below its minimum field 300, so the negative TTL is 60.
const DEEP_SOA: &str = "deep.example.com. 60 SOA ns1.deep.example.com. hostmaster.deep.example.com. 7 7200 3600 1209600 300";

#[test]
fn negative_answers_carry_exactly_the_zone_soa_with_ttl_min_of_ttl_and_minimum() {
    let server = Fixture::standard().start();
    // (query, type, NXDOMAIN or NODATA (NOERROR), the SOA in authority)
    let rows = [
        (
            "nothere.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            EXAMPLE_SOA,
        ),
        (
            "deeper.nothere.example.com.",
            RecordType::AAAA,
            rcode::NXDOMAIN,
            EXAMPLE_SOA,
        ),
        (
            "x.a.b.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            EXAMPLE_SOA,
        ),
        (
            "NoThere.Example.Com.",
            RecordType::A,
            rcode::NXDOMAIN,
            EXAMPLE_SOA,
        ),
        (
            "www.example.com.",
            RecordType::TXT,
            rcode::NOERROR,
            EXAMPLE_SOA,
        ),
        (
            "ns1.example.com.",
            RecordType::MX,
            rcode::NOERROR,
            EXAMPLE_SOA,
        ),
        ("example.com.", RecordType::A, rcode::NOERROR, EXAMPLE_SOA),
        // b.example.com is an empty non-terminal (only a.b exists): NODATA, not NXDOMAIN.
        ("b.example.com.", RecordType::A, rcode::NOERROR, EXAMPLE_SOA),
        (
            "b.example.com.",
            RecordType::TXT,
            rcode::NOERROR,
            EXAMPLE_SOA,
        ),
        (
            "nope.deep.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            DEEP_SOA,
        ),
        (
            "www.deep.example.com.",
            RecordType::AAAA,
            rcode::NOERROR,
            DEEP_SOA,
        ),
    ];
    for (name, qtype, expected_rcode, soa) in rows {
        let q = Query::new(name, qtype).rd(true);
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            let what = format!("{transport} {name} {qtype}");
            r.assert_echoes(&q);
            assert_eq!(r.rcode(), expected_rcode, "{what}: rcode\n{r}");
            assert!(r.aa, "{what}: AA must be set on a negative answer\n{r}");
            assert!(r.answers.is_empty(), "{what}: answer must be empty\n{r}");
            assert_eq!(r.authority_texts(), [soa], "{what}: authority\n{r}");
        }
    }
}

#[test]
fn names_outside_every_zone_are_refused_with_aa_clear() {
    let server = Fixture::standard().start();
    for name in [
        "example.org.",
        "www.example.org.",
        "com.",
        ".",
        // Suffix matching must go by labels, not by characters.
        "notexample.com.",
        "example.com.evil.org.",
    ] {
        let q = Query::new(name, RecordType::A).rd(true);
        let r = server.query(&q);
        r.assert_echoes(&q);
        assert_eq!(r.rcode(), rcode::REFUSED, "{name}\n{r}");
        assert!(!r.aa, "{name}: AA must be clear on REFUSED\n{r}");
        assert!(
            r.answers.is_empty() && r.authority.is_empty(),
            "{name}\n{r}"
        );
    }
}

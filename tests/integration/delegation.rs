//! Delegations (RFC 1034 §4.3.2): at or below a zone cut the answer is a referral.
//!
//! The zone has `sub NS ns.sub.example.com.`, `sub NS ns.other.net.` and glue for
//! `ns.sub` (A and AAAA).

use crate::util::{Fixture, Query, rcode, sorted};
use hickory_proto::rr::RecordType;

#[test]
fn queries_at_or_below_a_cut_get_a_referral_with_glue() {
    let server = Fixture::standard().start();
    let ns = [
        "sub.example.com. 3600 NS ns.other.net.",
        "sub.example.com. 3600 NS ns.sub.example.com.",
    ];
    let glue = [
        "ns.sub.example.com. 3600 A 192.0.2.50",
        "ns.sub.example.com. 3600 AAAA 2001:db8::50",
    ];
    let rows = [
        ("www.sub.example.com.", RecordType::A),
        ("a.b.c.sub.example.com.", RecordType::MX),
        ("sub.example.com.", RecordType::A),
        // The parent's NS at the cut are not authoritative data: still a referral.
        ("sub.example.com.", RecordType::NS),
        ("sub.example.com.", RecordType::SOA),
        // Glue is not authoritative data either.
        ("ns.sub.example.com.", RecordType::A),
        ("SUB.Example.COM.", RecordType::NS),
    ];
    for (name, qtype) in rows {
        let q = Query::new(name, qtype).rd(true);
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            let what = format!("{transport} {name} {qtype}");
            r.assert_echoes(&q);
            assert_eq!(r.rcode(), rcode::NOERROR, "{what}: rcode\n{r}");
            assert!(
                !r.aa,
                "{what}: a referral is not authoritative (AA clear)\n{r}"
            );
            assert!(r.answers.is_empty(), "{what}: answer must be empty\n{r}");
            assert_eq!(sorted(&r.authority_texts()), ns, "{what}: authority\n{r}");
            assert_eq!(sorted(&r.additional_texts()), glue, "{what}: glue\n{r}");
        }
    }
}

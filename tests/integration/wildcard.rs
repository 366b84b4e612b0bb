//! Wildcards (RFC 4592): synthesis, owner names, and the closest-encloser rules.
//!
//! The zone has `*.wild A 192.0.2.40`, `real.wild A`, `x.ent.wild A` (so `ent.wild` is
//! an empty non-terminal) and `*.cw CNAME www`.

use crate::util::{Fixture, Query, rcode};
use hickory_proto::rr::RecordType;

const SOA: &str =
    "example.com. 300 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300";

#[test]
fn wildcards_follow_rfc4592() {
    let server = Fixture::standard().start();
    let nodata: &[&str] = &[];
    // (query, type, rcode, answer section; an empty answer must come with the SOA)
    let rows: &[(&str, RecordType, u16, &[&str])] = &[
        // Synthesized, owner = the query name, one label or more below the wildcard.
        (
            "x.wild.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &["x.wild.example.com. 3600 A 192.0.2.40"],
        ),
        (
            "a.b.wild.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &["a.b.wild.example.com. 3600 A 192.0.2.40"],
        ),
        // The wildcard name asked literally.
        (
            "*.wild.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &["*.wild.example.com. 3600 A 192.0.2.40"],
        ),
        // An existing name is never overridden, not even for a type it lacks.
        (
            "real.wild.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &["real.wild.example.com. 3600 A 192.0.2.41"],
        ),
        (
            "real.wild.example.com.",
            RecordType::AAAA,
            rcode::NOERROR,
            nodata,
        ),
        // The wildcard has no AAAA: NODATA.
        (
            "x.wild.example.com.",
            RecordType::AAAA,
            rcode::NOERROR,
            nodata,
        ),
        // `*.wild` does not match `wild` itself (an empty non-terminal here).
        ("wild.example.com.", RecordType::A, rcode::NOERROR, nodata),
        // An empty non-terminal exists, so it is not synthesized...
        (
            "ent.wild.example.com.",
            RecordType::A,
            rcode::NOERROR,
            nodata,
        ),
        // ...and below it the closest encloser is ent.wild, which has no `*`: NXDOMAIN.
        (
            "y.ent.wild.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            nodata,
        ),
        // A wildcard CNAME is synthesized and then followed.
        (
            "q.cw.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[
                "q.cw.example.com. 3600 CNAME www.example.com.",
                "www.example.com. 3600 A 192.0.2.10",
            ],
        ),
        ("cw.example.com.", RecordType::A, rcode::NOERROR, nodata),
    ];
    for (name, qtype, expected_rcode, answers) in rows {
        let q = Query::new(name, *qtype);
        let r = server.query(&q);
        let what = format!("{name} {qtype}");
        r.assert_echoes(&q);
        assert_eq!(r.rcode(), *expected_rcode, "{what}: rcode\n{r}");
        assert!(r.aa, "{what}: AA\n{r}");
        assert_eq!(r.answer_texts(), *answers, "{what}: answer\n{r}");
        if answers.is_empty() {
            assert_eq!(r.authority_texts(), [SOA], "{what}: authority\n{r}");
        }
    }
}

#[test]
fn wildcard_answer_owner_is_the_query_name_over_tcp_too() {
    let server = Fixture::standard().start();
    let q = Query::new("deep.er.wild.example.com.", RecordType::A);
    let r = server.query_tcp(&q);
    r.assert_answer(&q);
    assert_eq!(
        r.answer_texts(),
        ["deep.er.wild.example.com. 3600 A 192.0.2.40"],
        "{r}"
    );
}

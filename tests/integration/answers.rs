//! Positive answers: header bits copied from the query, static RRsets, ANY (RFC 8482).

use crate::util::{Fixture, Query, Rdata, Response, rcode, sorted};
use hickory_proto::rr::RecordType;

#[test]
fn header_copies_id_rd_opcode_and_question_case_and_sets_qr_aa() {
    let server = Fixture::standard().start();
    // (query name as sent, ID, RD)
    let rows = [
        ("WwW.ExAmPlE.cOm.", 0x0000, true),
        ("WwW.ExAmPlE.cOm.", 0xffff, false),
        ("www.example.com", 0x1234, true),
        ("WWW.EXAMPLE.COM.", 0xbeef, false),
    ];
    for (name, id, rd) in rows {
        let q = Query::new(name, RecordType::A).id(id).rd(rd);
        for r in [server.query(&q), server.query_tcp(&q)] {
            r.assert_answer(&q); // ID, QR, opcode, RD, question bytes, AA, NOERROR
            assert!(
                !r.ra,
                "RA must be clear on an authoritative-only server\n{r}"
            );
            assert_eq!(
                r.answer_texts(),
                ["www.example.com. 3600 A 192.0.2.10"],
                "{r}"
            );
        }
    }
}

#[test]
fn static_rrsets_are_answered_with_their_ttls() {
    let server = Fixture::standard().start();
    let rows: &[(&str, RecordType, &[&str])] = &[
        (
            "www.example.com.",
            RecordType::A,
            &["www.example.com. 3600 A 192.0.2.10"],
        ),
        (
            "www.example.com.",
            RecordType::AAAA,
            &["www.example.com. 3600 AAAA 2001:db8::10"],
        ),
        (
            "mail.example.com.",
            RecordType::A,
            &["mail.example.com. 600 A 192.0.2.25"],
        ),
        (
            "txt.example.com.",
            RecordType::TXT,
            &["txt.example.com. 3600 TXT \"hello world\""],
        ),
        (
            "multi.example.com.",
            RecordType::MX,
            &["multi.example.com. 3600 MX 10 mail.example.com."],
        ),
        (
            "example.com.",
            RecordType::NS,
            &[
                "example.com. 3600 NS ns1.example.com.",
                "example.com. 3600 NS ns2.example.com.",
            ],
        ),
        (
            "example.com.",
            RecordType::SOA,
            &[
                "example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",
            ],
        ),
        (
            "a.b.example.com.",
            RecordType::A,
            &["a.b.example.com. 3600 A 192.0.2.30"],
        ),
        (
            "x.ent.wild.example.com.",
            RecordType::A,
            &["x.ent.wild.example.com. 3600 A 192.0.2.42"],
        ),
    ];
    for (name, qtype, expected) in rows {
        let q = Query::new(name, *qtype);
        let r = server.query(&q);
        r.assert_answer(&q);
        assert_eq!(
            sorted(&r.answer_texts()),
            sorted(expected),
            "{name} {qtype}\n{r}"
        );
        assert!(
            !r.authority.iter().any(|rec| rec.rtype == RecordType::SOA),
            "a positive answer carries no SOA in authority\n{r}"
        );
    }
}

#[test]
fn tcp_answers_equal_udp_answers() {
    let server = Fixture::standard().start();
    for (name, qtype) in [
        ("www.example.com.", RecordType::A),
        ("multi.example.com.", RecordType::TXT),
        ("example.com.", RecordType::NS),
    ] {
        let q = Query::new(name, qtype);
        let udp = server.query(&q);
        let tcp = server.query_tcp(&q);
        tcp.assert_answer(&q);
        assert_eq!(
            sorted(&tcp.answer_texts()),
            sorted(&udp.answer_texts()),
            "{tcp}\n{udp}"
        );
    }
}

/// RFC 8482: ANY gets a small answer (one RRset, or a synthesized HINFO), not every RRset
/// of the name. `multi.example.com` has A, AAAA, TXT and MX.
#[test]
fn any_query_gets_small_answer_over_udp_and_tcp() {
    let server = Fixture::standard().start();
    let q = Query::new("multi.example.com.", RecordType::ANY);
    for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
        r.assert_answer(&q);
        assert_any_is_minimal(&r, transport);
    }
}

fn assert_any_is_minimal(r: &Response, transport: &str) {
    assert!(
        !r.answers.is_empty(),
        "{transport}: ANY needs some answer\n{r}"
    );
    let mut types: Vec<RecordType> = r.answers.iter().map(|rec| rec.rtype).collect();
    types.dedup();
    assert_eq!(
        types.len(),
        1,
        "{transport}: ANY answers one RRset at most\n{r}"
    );
    for rec in &r.answers {
        assert!(
            rec.is("multi.example.com.", types[0]),
            "{transport}: owner\n{r}"
        );
        if rec.rtype == RecordType::HINFO {
            let Rdata::Other(data) = &rec.data else {
                unreachable!()
            };
            assert!(
                data.windows(7).any(|w| w == b"RFC8482"),
                "{transport}: synthesized HINFO should say RFC8482\n{r}"
            );
        }
    }
    assert_eq!(r.rcode(), rcode::NOERROR);
}

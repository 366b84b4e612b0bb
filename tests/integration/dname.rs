//! DNAME (RFC 6672): the DNAME and a synthesised CNAME for names below it, YXDOMAIN when
//! the synthesised name is too long, the DNAME at its owner answered as data, and no data
//! allowed below a DNAME.

use crate::util::{Edns, Fixture, Query, Rdata, Record, Server, encode_name, rcode, sorted};
use hickory_proto::rr::RecordType;

const YXDOMAIN: u16 = 6;

/// A 205-octet target: any query prefix longer than 50 octets overflows 255.
fn long_target() -> String {
    format!("{0}.{0}.{0}.example.net.", "t".repeat(63))
}

fn server() -> Server {
    Fixture::standard()
        .append(
            "example.com",
            &format!(
                "dn 120 IN DNAME example.net.\n\
                 dn 300 IN A 192.0.2.7\n\
                 dnin 90 IN DNAME deep.example.com.\n\
                 inz 100 IN DNAME example.com.\n\
                 long 60 IN DNAME {}\n",
                long_target()
            ),
        )
        .start()
}

/// The DNAME record `r` is, with its owner, TTL and target.
fn assert_dname(r: &Record, owner: &str, ttl: u32, target: &str, what: &str) {
    assert!(r.is(owner, RecordType::DNAME), "{what}: {}", r.text());
    assert_eq!(r.ttl, ttl, "{what}: DNAME TTL");
    assert_eq!(r.data, Rdata::Other(encode_name(target)), "{what}: target");
}

#[test]
fn names_below_a_dname_get_the_dname_and_a_synthesised_cname() {
    let server = server();
    // query name, DNAME owner, TTL, target, synthesised CNAME as text
    let rows = [
        (
            "foo.dn.example.com.",
            "dn.example.com.",
            120,
            "example.net.",
            "foo.dn.example.com. 120 CNAME foo.example.net.",
        ),
        (
            "A.b.DN.example.com.",
            "dn.example.com.",
            120,
            "example.net.",
            // The test client prints names in lower case.
            "a.b.dn.example.com. 120 CNAME a.b.example.net.",
        ),
        // Type CNAME is answered by the synthesised CNAME: nothing is chased (every other
        // type restarts at the new name: see the test below).
        (
            "www.dnin.example.com.",
            "dnin.example.com.",
            90,
            "deep.example.com.",
            "www.dnin.example.com. 90 CNAME www.deep.example.com.",
        ),
    ];
    for (qname, owner, ttl, target, cname) in rows {
        let qtypes = if owner == "dnin.example.com." {
            &[RecordType::CNAME][..]
        } else {
            &[
                RecordType::A,
                RecordType::TXT,
                RecordType::ANY,
                RecordType::CNAME,
            ][..]
        };
        for &qtype in qtypes {
            let q = Query::new(qname, qtype).rd(true).edns(Edns::new(1232));
            for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
                let what = format!("{transport} {qname} {qtype}");
                r.assert_echoes(&q);
                assert_eq!(r.rcode(), rcode::NOERROR, "{what}\n{r}");
                assert!(r.aa, "{what}\n{r}");
                assert!(!r.tc, "{what}\n{r}");
                assert_eq!(r.answers.len(), 2, "{what}\n{r}");
                assert_dname(&r.answers[0], owner, ttl, target, &what);
                assert_eq!(r.answers[1].text(), cname, "{what}\n{r}");
                assert!(r.authority.is_empty(), "{what}\n{r}");
                assert!(r.additional.is_empty(), "{what}\n{r}");
                assert!(r.opt.is_some(), "{what}\n{r}");
            }
        }
    }
}

#[test]
fn a_synthesised_name_over_255_octets_is_yxdomain_with_the_dname() {
    let server = server();
    let target = long_target();
    // Prefix of 51 octets (one 50-octet label): 51 + 205 = 256 > 255.
    let too_long = format!("{}.long.example.com.", "x".repeat(50));
    let q = Query::new(&too_long, RecordType::A).edns(Edns::new(1232));
    for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
        r.assert_echoes(&q);
        assert!(!r.tc, "{transport}\n{r}");
        assert_eq!(r.rcode(), YXDOMAIN, "{transport}\n{r}");
        assert!(r.aa, "{transport}\n{r}");
        assert_eq!(r.answers.len(), 1, "{transport}\n{r}");
        assert_dname(&r.answers[0], "long.example.com.", 60, &target, transport);
    }
    // 50 octets of prefix: 255 exactly, which fits.
    let fits = format!("{}.long.example.com.", "x".repeat(49));
    let r = server.query(&Query::new(&fits, RecordType::A).edns(Edns::new(1232)));
    assert_eq!(r.rcode(), rcode::NOERROR, "{r}");
    assert!(!r.tc, "{r}");
    assert_eq!(r.answers.len(), 2, "{r}");
    assert_eq!(
        r.answers[1].text(),
        format!("{fits} 60 CNAME {}.{target}", "x".repeat(49))
    );
}

#[test]
fn the_dname_owner_answers_the_dname_as_data_and_other_types_normally() {
    let server = server();
    let r = server.query(&Query::new("dn.example.com.", RecordType::DNAME));
    assert_eq!(r.rcode(), rcode::NOERROR, "{r}");
    assert!(r.aa, "{r}");
    assert_eq!(r.answers.len(), 1, "{r}");
    assert_dname(
        &r.answers[0],
        "dn.example.com.",
        120,
        "example.net.",
        "DNAME",
    );
    let r = server.query(&Query::new("dn.example.com.", RecordType::A));
    assert_eq!(r.answer_texts(), ["dn.example.com. 300 A 192.0.2.7"], "{r}");
    let r = server.query(&Query::new("dn.example.com.", RecordType::MX));
    assert_eq!(r.rcode(), rcode::NOERROR, "{r}");
    assert!(r.answers.is_empty(), "NODATA\n{r}");
    assert_eq!(r.authority_texts().len(), 1, "the SOA\n{r}");
}

#[test]
fn data_below_a_dname_is_a_zone_error_naming_file_and_line() {
    let run = Fixture::standard()
        .append(
            "example.com",
            "dn IN DNAME example.net.\nx.dn IN A 192.0.2.1\n",
        )
        .check();
    assert!(!run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("x.dn.example.com. is below the DNAME at dn.example.com."),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("example.com.zone:"), "{}", run.stderr);
}

#[test]
fn a_dname_answer_too_big_for_udp_is_truncated_whole_and_complete_over_tcp() {
    let server = server();
    let qname = format!("{}.long.example.com.", "x".repeat(49));
    let q = Query::new(&qname, RecordType::A);
    let r = server.query(&q);
    r.assert_echoes(&q);
    assert!(r.tc, "512 octets without EDNS\n{r}");
    assert!(r.answers.is_empty(), "no partial RRsets\n{r}");
    let r = server.query_tcp(&q);
    assert!(!r.tc, "{r}");
    assert_eq!(r.rcode(), rcode::NOERROR, "{r}");
    assert_eq!(r.answers.len(), 2, "{r}");
}

/// Query name, type → rcode, answer after the DNAME, authority (sorted), additional.
type Row<'a> = (
    &'a str,
    RecordType,
    u16,
    &'a [&'a str],
    &'a [&'a str],
    &'a [&'a str],
);

#[test]
fn a_synthesised_name_in_our_zones_is_followed_like_a_cname() {
    let server = server();
    let soa_deep = "deep.example.com. 60 SOA ns1.deep.example.com. hostmaster.deep.example.com. 7 7200 3600 1209600 300";
    let soa =
        "example.com. 300 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300";
    let rows: &[Row] = &[
        (
            "WwW.dnin.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[
                "www.dnin.example.com. 90 CNAME www.deep.example.com.",
                "www.deep.example.com. 3600 A 192.0.2.61",
            ],
            &[],
            &[],
        ),
        (
            "www.dnin.example.com.",
            RecordType::TXT,
            rcode::NOERROR,
            &["www.dnin.example.com. 90 CNAME www.deep.example.com."],
            &[soa_deep],
            &[],
        ),
        // ANY and DNAME restart at the new name too (RFC 6672 §3.2), as Knot and NSD do.
        (
            "www.dnin.example.com.",
            RecordType::ANY,
            rcode::NOERROR,
            &[
                "www.dnin.example.com. 90 CNAME www.deep.example.com.",
                "www.deep.example.com. 3600 A 192.0.2.61",
            ],
            &[],
            &[],
        ),
        (
            "www.dnin.example.com.",
            RecordType::DNAME,
            rcode::NOERROR,
            &["www.dnin.example.com. 90 CNAME www.deep.example.com."],
            &[soa_deep],
            &[],
        ),
        (
            "nothere.dnin.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            &["nothere.dnin.example.com. 90 CNAME nothere.deep.example.com."],
            &[soa_deep],
            &[],
        ),
        // A target whose own CNAME chain is followed in turn.
        (
            "alias.inz.example.com.",
            RecordType::AAAA,
            rcode::NOERROR,
            &[
                "alias.inz.example.com. 100 CNAME alias.example.com.",
                "alias.example.com. 3600 CNAME www.example.com.",
                "www.example.com. 3600 AAAA 2001:db8::10",
            ],
            &[],
            &[],
        ),
        // A wildcard answer, moved onto the synthesised name.
        (
            "a-long-label.cw.inz.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[
                "a-long-label.cw.inz.example.com. 100 CNAME a-long-label.cw.example.com.",
                "a-long-label.cw.example.com. 3600 CNAME www.example.com.",
                "www.example.com. 3600 A 192.0.2.10",
            ],
            &[],
            &[],
        ),
        (
            "mail.inz.example.com.",
            RecordType::MX,
            rcode::NOERROR,
            &["mail.inz.example.com. 100 CNAME mail.example.com."],
            &[soa],
            &[],
        ),
        // Below a delegation: the referral, AA kept for the DNAME and CNAME.
        (
            "host.sub.inz.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &["host.sub.inz.example.com. 100 CNAME host.sub.example.com."],
            &[
                "sub.example.com. 3600 NS ns.other.net.",
                "sub.example.com. 3600 NS ns.sub.example.com.",
            ],
            &[
                "ns.sub.example.com. 3600 A 192.0.2.50",
                "ns.sub.example.com. 3600 AAAA 2001:db8::50",
            ],
        ),
    ];
    for &(qname, qtype, want_rcode, answer, authority, additional) in rows {
        let q = Query::new(qname, qtype).edns(Edns::new(1232));
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            let what = format!("{transport} {qname} {qtype}");
            r.assert_echoes(&q);
            assert_eq!(r.rcode(), want_rcode, "{what}\n{r}");
            assert!(r.aa, "{what}\n{r}");
            assert!(!r.tc, "{what}\n{r}");
            assert!(
                r.answers[0].is(&r.answers[0].name, RecordType::DNAME),
                "{what}\n{r}"
            );
            assert_eq!(r.answer_texts()[1..], *answer, "{what}\n{r}");
            assert_eq!(sorted(&r.authority_texts()), *authority, "{what}\n{r}");
            assert_eq!(sorted(&r.additional_texts()), *additional, "{what}\n{r}");
        }
    }
}

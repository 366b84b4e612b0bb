//! Protocol corners of issue 12: the OPT record in FORMERR responses (RFC 6891 §7), ANY
//! at a CNAME owner (RFC 1034 §4.3.2 step 3a), CNAME chains into a delegation.

use crate::util::{Edns, Fixture, Query, Response, encode_name, header, rcode, sorted};
use hickory_proto::rr::RecordType;

/// An OPT record advertising 1232 bytes, DO set.
const OPT: &[u8] = &[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0];

fn question(name: &str) -> Vec<u8> {
    let mut b = encode_name(name);
    b.extend_from_slice(&[0, 1, 0, 1]);
    b
}

#[test]
fn formerr_keeps_the_opt_record_even_without_a_question() {
    let mut server = Fixture::standard().start();
    let www = question("www.example.com");
    let rows: Vec<(&str, Vec<u8>)> = vec![
        (
            "qdcount 0 with OPT",
            [&header(0x5101, 0, [0, 0, 0, 1])[..], OPT].concat(),
        ),
        (
            "compressed question name, then OPT",
            [
                &header(0x5102, 0, [1, 0, 0, 1])[..],
                b"\x03www\xc0\x0c\x00\x01\x00\x01",
                OPT,
            ]
            .concat(),
        ),
        (
            "qdcount 2, then OPT",
            [
                &header(0x5103, 0, [2, 0, 0, 1])[..],
                &www,
                &question("mail.example.com"),
                OPT,
            ]
            .concat(),
        ),
        (
            "two OPT records",
            [&header(0x5104, 0, [1, 0, 0, 2])[..], &www, OPT, OPT].concat(),
        ),
        (
            "broken record after the OPT",
            [&header(0x5105, 0, [1, 0, 0, 2])[..], &www, OPT, &[0, 0, 1]].concat(),
        ),
    ];
    let udp = server.udp();
    for (what, packet) in &rows {
        let mut replies = vec![("udp", udp.replies_to(packet, "www.example.com."))];
        let mut tcp = server.tcp();
        tcp.send(packet).unwrap();
        replies.push(("tcp", tcp.recv().into_iter().collect()));
        for (transport, replies) in replies {
            assert_eq!(replies.len(), 1, "{what} over {transport}: {replies:02x?}");
            let r = Response::parse(&replies[0]).unwrap();
            let id = u16::from_be_bytes([packet[0], packet[1]]);
            assert_eq!(r.id, id, "{what} over {transport}\n{r}");
            assert_eq!(r.rcode(), rcode::FORMERR, "{what} over {transport}\n{r}");
            assert!(r.answers.is_empty(), "{what} over {transport}\n{r}");
            let opt = r
                .opt
                .as_ref()
                .unwrap_or_else(|| panic!("{what} over {transport}: no OPT\n{r}"));
            assert_eq!(opt.version, 0, "{what}\n{r}");
            assert!(opt.dnssec_ok, "{what}: DO is echoed\n{r}");
        }
    }
    // Without an OPT in the query there is none in the response.
    let bare = header(0x5106, 0, [0, 0, 0, 0]);
    let replies = udp.replies_to(&bare, "www.example.com.");
    let r = Response::parse(&replies[0]).unwrap();
    assert_eq!(r.rcode(), rcode::FORMERR, "{r}");
    assert!(r.opt.is_none(), "{r}");
    server.assert_alive();
}

#[test]
fn any_at_a_cname_owner_is_the_cname_and_nothing_chased() {
    let server = Fixture::standard().start();
    // query name → the CNAME record, the only record in the response.
    let rows = [
        (
            "alias.example.com.",
            "alias.example.com. 3600 CNAME www.example.com.",
        ),
        (
            "chain1.example.com.",
            "chain1.example.com. 3600 CNAME chain2.example.com.",
        ),
        (
            "dangling.example.com.",
            "dangling.example.com. 3600 CNAME nothere.example.com.",
        ),
        (
            "external.example.com.",
            "external.example.com. 3600 CNAME www.example.org.",
        ),
        (
            "loop1.example.com.",
            "loop1.example.com. 3600 CNAME loop2.example.com.",
        ),
        (
            "q.cw.example.com.",
            "q.cw.example.com. 3600 CNAME www.example.com.",
        ),
    ];
    for (qname, cname) in rows {
        let q = Query::new(qname, RecordType::ANY).edns(Edns::new(1232));
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            r.assert_echoes(&q);
            assert_eq!(r.rcode(), rcode::NOERROR, "{qname} {transport}\n{r}");
            assert!(r.aa, "{qname} {transport}\n{r}");
            assert_eq!(r.answer_texts(), [cname], "{qname} {transport}\n{r}");
            assert!(r.authority.is_empty(), "{qname} {transport}\n{r}");
            assert!(r.additional.is_empty(), "{qname} {transport}\n{r}");
        }
    }
    // A type other than ANY still follows the chain to its end.
    let r = server.query(&Query::new("dangling.example.com.", RecordType::A));
    assert_eq!(r.rcode(), rcode::NXDOMAIN, "{r}");
}

#[test]
fn a_cname_chain_into_a_delegation_ends_with_the_referral() {
    let server = Fixture::standard()
        .append(
            "example.com",
            "tosub IN CNAME host.sub\ntosub2 IN CNAME tosub\n*.wsub IN CNAME host.sub\n",
        )
        .start();
    let ns = [
        "sub.example.com. 3600 NS ns.other.net.",
        "sub.example.com. 3600 NS ns.sub.example.com.",
    ];
    let glue = [
        "ns.sub.example.com. 3600 A 192.0.2.50",
        "ns.sub.example.com. 3600 AAAA 2001:db8::50",
    ];
    let rows: &[(&str, &[&str])] = &[
        (
            "tosub.example.com.",
            &["tosub.example.com. 3600 CNAME host.sub.example.com."],
        ),
        (
            "tosub2.example.com.",
            &[
                "tosub2.example.com. 3600 CNAME tosub.example.com.",
                "tosub.example.com. 3600 CNAME host.sub.example.com.",
            ],
        ),
        (
            "a.wsub.example.com.",
            &["a.wsub.example.com. 3600 CNAME host.sub.example.com."],
        ),
    ];
    for (qname, cnames) in rows {
        for qtype in [RecordType::A, RecordType::MX] {
            let q = Query::new(qname, qtype).rd(true).edns(Edns::new(1232));
            for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
                let what = format!("{transport} {qname} {qtype}");
                r.assert_echoes(&q);
                assert_eq!(r.rcode(), rcode::NOERROR, "{what}\n{r}");
                assert!(r.aa, "{what}: the CNAMEs are authoritative\n{r}");
                assert_eq!(r.answer_texts(), *cnames, "{what}\n{r}");
                assert_eq!(sorted(&r.authority_texts()), ns, "{what}\n{r}");
                assert_eq!(sorted(&r.additional_texts()), glue, "{what}\n{r}");
            }
        }
    }
}

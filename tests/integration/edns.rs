//! EDNS(0) (RFC 6891): OPT echo, BADVERS, the DO bit, unknown options, and the UDP payload
//! size with truncation (RFC 1035 §4.2.1, RFC 2181 §9).

use crate::util::{ECS, Edns, Fixture, Query, Rdata, Response, Server, ecs_option, rcode};
use hickory_proto::rr::RecordType;

/// `count` TXT records of `len` bytes each on one owner, all different.
fn txt_rrset(owner: &str, count: usize, len: usize) -> String {
    (0..count)
        .map(|i| {
            let text = format!("{owner}-{i:02}-");
            format!(
                "{owner} IN TXT \"{text}{}\"\n",
                "x".repeat(len - text.len())
            )
        })
        .collect()
}

/// The standard zones plus TXT RRsets of ~3100 (`big`), ~850 (`mid`) and ~230 (`small`)
/// bytes, on a server whose `max_udp_payload` is 1232.
fn server_with_large_rrsets() -> Server {
    let extra = txt_rrset("big", 15, 200) + &txt_rrset("mid", 4, 200) + &txt_rrset("small", 2, 100);
    Fixture::standard()
        .append("example.com", &extra)
        .server_key("max_udp_payload = 1232")
        .start()
}

#[test]
fn opt_is_in_the_response_iff_the_query_had_one() {
    let server = Fixture::standard().start();
    // One query per kind of response: answer, NXDOMAIN, NODATA, referral, REFUSED.
    let rows = [
        ("www.example.com.", RecordType::A, rcode::NOERROR),
        ("nothere.example.com.", RecordType::A, rcode::NXDOMAIN),
        ("www.example.com.", RecordType::TXT, rcode::NOERROR),
        ("www.sub.example.com.", RecordType::A, rcode::NOERROR),
        ("example.org.", RecordType::A, rcode::REFUSED),
    ];
    for (name, qtype, expected_rcode) in rows {
        let plain = Query::new(name, qtype);
        let r = server.query(&plain);
        r.assert_echoes(&plain);
        assert_eq!(
            r.rcode(),
            expected_rcode,
            "{name} {qtype} without EDNS\n{r}"
        );
        assert!(
            r.opt.is_none(),
            "{name} {qtype}: no OPT without EDNS in the query\n{r}"
        );

        let with_edns = Query::new(name, qtype).edns(Edns::new(1232));
        let r = server.query(&with_edns);
        r.assert_echoes(&with_edns);
        assert_eq!(r.rcode(), expected_rcode, "{name} {qtype} with EDNS\n{r}");
        let opt = r
            .opt
            .as_ref()
            .unwrap_or_else(|| panic!("{name} {qtype}: OPT missing\n{r}"));
        assert_eq!(opt.version, 0, "{name} {qtype}: OPT version\n{r}");
        assert!(opt.payload >= 512, "{name} {qtype}: OPT payload size\n{r}");
    }
}

/// RFC 6891 §6.1.1: a responder MUST include an OPT when the request had one, error
/// responses included.
#[test]
fn opt_is_in_error_responses_too() {
    let server = Fixture::standard().start();
    let bad_ecs = ecs_option(1, 24, 0, &[192, 0, 2, 1]);
    let rows = [
        (
            "NOTIMP (opcode 3)",
            Query::new("www.example.com.", RecordType::A)
                .opcode(3)
                .edns(Edns::new(1232)),
            rcode::NOTIMP,
        ),
        (
            "FORMERR (bad ECS)",
            Query::new("www.example.com.", RecordType::A)
                .edns(Edns::new(1232).option(ECS, bad_ecs)),
            rcode::FORMERR,
        ),
    ];
    let mut failures = Vec::new();
    for (what, q, expected_rcode) in rows {
        let r = server.query(&q);
        assert_eq!(r.id, q.id, "{what}\n{r}");
        assert_eq!(r.rcode(), expected_rcode, "{what}\n{r}");
        if r.opt.is_none() {
            failures.push(format!("{what}: OPT missing\n{r}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unsupported_edns_version_gets_badvers_with_opt() {
    let server = Fixture::standard().start();
    for version in [1, 2, 255] {
        let q =
            Query::new("www.example.com.", RecordType::A).edns(Edns::new(1232).version(version));
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            r.assert_echoes(&q);
            let opt = r
                .opt
                .as_ref()
                .unwrap_or_else(|| panic!("{transport}: BADVERS needs an OPT\n{r}"));
            assert_eq!(
                r.header_rcode, 0,
                "{transport} v{version}: header rcode bits\n{r}"
            );
            assert_eq!(
                opt.ext_rcode, 1,
                "{transport} v{version}: OPT extended rcode\n{r}"
            );
            assert_eq!(r.rcode(), rcode::BADVERS);
            assert_eq!(
                opt.version, 0,
                "{transport} v{version}: our highest version\n{r}"
            );
        }
    }
}

#[test]
fn dnssec_ok_bit_is_copied() {
    let server = Fixture::standard().start();
    for dnssec_ok in [true, false] {
        for name in ["www.example.com.", "nothere.example.com."] {
            let q = Query::new(name, RecordType::A).edns(Edns::new(1232).dnssec_ok(dnssec_ok));
            let r = server.query(&q);
            r.assert_echoes(&q);
            let opt = r.opt.as_ref().unwrap_or_else(|| panic!("OPT missing\n{r}"));
            assert_eq!(opt.dnssec_ok, dnssec_ok, "{name}: DO bit\n{r}");
        }
    }
}

#[test]
fn unknown_edns_option_is_ignored() {
    let server = Fixture::standard().start();
    let q = Query::new("www.example.com.", RecordType::A).edns(
        Edns::new(1232)
            .option(65001, vec![1, 2, 3, 4])
            .option(65002, vec![]),
    );
    let r = server.query(&q);
    r.assert_answer(&q);
    assert_eq!(
        r.answer_texts(),
        ["www.example.com. 3600 A 192.0.2.10"],
        "{r}"
    );
    let opt = r.opt.as_ref().unwrap_or_else(|| panic!("OPT missing\n{r}"));
    assert!(
        opt.option(65001).is_none() && opt.option(65002).is_none(),
        "unknown options are not echoed\n{r}"
    );
}

/// How many TXT records of `owner` the answer holds.
fn txt_count(r: &Response, owner: &str) -> usize {
    r.answers
        .iter()
        .filter(|rec| rec.is(owner, RecordType::TXT) && matches!(rec.data, Rdata::Txt(_)))
        .count()
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Udp,
    Tcp,
}

/// (transport, EDNS payload advertised, owner, RRset size, TC expected, size limit)
type PayloadRow = (Via, Option<u16>, &'static str, usize, bool, usize);

#[test]
fn udp_payload_size_is_honoured_and_truncation_never_splits_an_rrset() {
    let server = server_with_large_rrsets();
    let rows: &[PayloadRow] = &[
        // Client offers 4096 but the server caps UDP at max_udp_payload = 1232.
        (Via::Udp, Some(4096), "big.example.com.", 15, true, 1232),
        // No EDNS: 512 bytes.
        (Via::Udp, None, "big.example.com.", 15, true, 512),
        (Via::Udp, None, "mid.example.com.", 4, true, 512),
        (Via::Udp, Some(512), "mid.example.com.", 4, true, 512),
        // A payload that fits is used in full.
        (Via::Udp, Some(1232), "mid.example.com.", 4, false, 1232),
        // An advertised payload below 512 counts as 512 (RFC 6891 §6.2.5).
        (Via::Udp, Some(100), "small.example.com.", 2, false, 512),
        (Via::Udp, Some(100), "big.example.com.", 15, true, 512),
        // TCP carries everything.
        (Via::Tcp, None, "big.example.com.", 15, false, 65535),
        (Via::Tcp, Some(4096), "big.example.com.", 15, false, 65535),
        (Via::Tcp, Some(512), "big.example.com.", 15, false, 65535),
    ];
    for &(via, payload, owner, rrset_len, tc, limit) in rows {
        let mut q = Query::new(owner, RecordType::TXT);
        if let Some(payload) = payload {
            q = q.edns(Edns::new(payload));
        }
        let r = match via {
            Via::Udp => server.query(&q),
            Via::Tcp => server.query_tcp(&q),
        };
        let what = format!("{via:?} payload {payload:?} {owner}");
        r.assert_echoes(&q);
        assert_eq!(r.rcode(), rcode::NOERROR, "{what}: rcode\n{r}");
        assert!(r.aa, "{what}: AA\n{r}");
        assert_eq!(r.tc, tc, "{what}: TC\n{r}");
        assert!(
            r.bytes.len() <= limit,
            "{what}: {} bytes > {limit}\n{r}",
            r.bytes.len()
        );
        assert_eq!(
            r.opt.is_some(),
            payload.is_some(),
            "{what}: OPT iff EDNS\n{r}"
        );
        let n = txt_count(&r, owner);
        if tc {
            assert!(
                n == 0 || n == rrset_len,
                "{what}: partial RRset ({n} of {rrset_len})\n{r}"
            );
        } else {
            assert_eq!(n, rrset_len, "{what}: the whole RRset\n{r}");
        }
    }
    // The sizes above only mean something if the RRsets are as large as intended.
    let full = server.query_tcp(&Query::new("big.example.com.", RecordType::TXT));
    assert!(full.bytes.len() > 3000, "big is {} bytes", full.bytes.len());
    let mid = server.query_tcp(&Query::new("mid.example.com.", RecordType::TXT));
    assert!(
        (513..1200).contains(&mid.bytes.len()),
        "mid is {} bytes",
        mid.bytes.len()
    );
    let small = server.query_tcp(&Query::new("small.example.com.", RecordType::TXT));
    assert!(
        (101..450).contains(&small.bytes.len()),
        "small is {} bytes",
        small.bytes.len()
    );
}

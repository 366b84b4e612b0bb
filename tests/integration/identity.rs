//! Which server answered, and why a query was refused: CH TXT `id.server.` /
//! `hostname.bind.` / `version.bind.` (RFC 4892), the NSID option (RFC 5001) and Extended
//! DNS Errors (RFC 8914), against the real binary, with hand-built and hickory-built
//! queries. (`dig` and `kdig` speaking NSID to Meridian: `interop.rs`.)

use crate::util::{
    ECS, EDE, Edns, FLEET_TOKEN, Fixture, NSID, Query, Rdata, Response, ecs_option, rcode, wait_for,
};
use hickory_proto::op::{Edns as HickoryEdns, Message, MessageType, OpCode, Query as HickoryQuery};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use std::time::Duration;

const CLASS_CH: u16 = 3;
const CLASS_HS: u16 = 4;

/// EDNS with an empty NSID option: "tell me who you are".
fn asking_nsid() -> Edns {
    Edns::new(1232).option(NSID, vec![])
}

fn ch_txt(name: &str) -> Query {
    Query::new(name, RecordType::TXT).qclass(CLASS_CH)
}

/// The NSID a response carries, if any.
fn nsid(r: &Response) -> Option<Vec<u8>> {
    r.opt.as_ref()?.option(NSID).map(<[u8]>::to_vec)
}

/// The Extended DNS Error a response carries: INFO-CODE and EXTRA-TEXT.
fn ede(r: &Response) -> Option<(u16, String)> {
    let data = r.opt.as_ref()?.option(EDE)?;
    assert!(
        data.len() >= 2,
        "EDE option shorter than its INFO-CODE\n{r}"
    );
    let text = String::from_utf8(data[2..].to_vec()).expect("EXTRA-TEXT is UTF-8");
    Some((u16::from_be_bytes([data[0], data[1]]), text))
}

/// The text of a CH TXT answer, after checking its shape: NOERROR, AA clear (as NSD and
/// Knot), one TXT record of class CH with TTL 0 at the name as asked.
fn ch_answer(r: &Response, q: &Query) -> String {
    r.assert_echoes(q);
    assert_eq!(r.rcode(), rcode::NOERROR, "{r}");
    assert!(!r.aa && !r.tc, "AA and TC clear\n{r}");
    assert_eq!(r.answers.len(), 1, "one record\n{r}");
    assert!(r.authority.is_empty() && r.additional.is_empty(), "{r}");
    let rec = &r.answers[0];
    assert_eq!(rec.name, q.name, "owner is the name as asked\n{r}");
    assert_eq!(
        (rec.rtype, rec.class, rec.ttl),
        (RecordType::TXT, CLASS_CH, 0),
        "{r}"
    );
    match &rec.data {
        Rdata::Txt(strings) if strings.len() == 1 => String::from_utf8(strings[0].clone()).unwrap(),
        other => panic!("one TXT string expected, got {other:?}\n{r}"),
    }
}

/// The host name, as the server reads it for its default identity.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0, "gethostname");
    let len = buf.iter().position(|&b| b == 0).unwrap();
    String::from_utf8(buf[..len].to_vec()).unwrap()
}

#[test]
fn nsid_is_sent_only_when_asked_and_in_every_response_to_such_a_query() {
    let server = Fixture::standard()
        .server_key("identity = \"ns-ams-7\"")
        .start();
    let rows = [
        (
            "answer",
            Query::new("www.example.com.", RecordType::A),
            rcode::NOERROR,
        ),
        (
            "NXDOMAIN",
            Query::new("nothere.example.com.", RecordType::A),
            rcode::NXDOMAIN,
        ),
        (
            "NODATA",
            Query::new("www.example.com.", RecordType::MX),
            rcode::NOERROR,
        ),
        (
            "referral",
            Query::new("www.sub.example.com.", RecordType::A),
            rcode::NOERROR,
        ),
        (
            "REFUSED",
            Query::new("example.org.", RecordType::A),
            rcode::REFUSED,
        ),
        (
            "NOTIMP",
            Query::new("www.example.com.", RecordType::A).opcode(2),
            rcode::NOTIMP,
        ),
        ("CH answer", ch_txt("id.server."), rcode::NOERROR),
    ];
    for (what, q, want) in rows {
        let asked = q.clone().edns(asking_nsid());
        for (transport, r) in [
            ("UDP", server.query(&asked)),
            ("TCP", server.query_tcp(&asked)),
        ] {
            r.assert_echoes(&asked);
            assert_eq!(r.rcode(), want, "{what} over {transport}\n{r}");
            assert_eq!(
                nsid(&r).as_deref(),
                Some(&b"ns-ams-7"[..]),
                "{what} {transport}\n{r}"
            );
        }
        let not_asked = q.clone().edns(Edns::new(1232));
        let r = server.query(&not_asked);
        assert_eq!(r.rcode(), want, "{what} without NSID\n{r}");
        assert!(
            r.opt.is_some() && nsid(&r).is_none(),
            "{what}: not asked\n{r}"
        );
        let r = server.query(&q);
        assert_eq!(r.rcode(), want, "{what} without EDNS\n{r}");
        assert!(r.opt.is_none(), "{what}: no OPT record without EDNS\n{r}");
    }
    // A payload in the query's NSID option (which should be empty) does not matter.
    let q = Query::new("www.example.com.", RecordType::A)
        .edns(Edns::new(1232).option(NSID, b"who?".to_vec()));
    assert_eq!(nsid(&server.query(&q)).as_deref(), Some(&b"ns-ams-7"[..]));
    // Neither does asking in a query that is FORMERR for another option.
    let q = Query::new("www.example.com.", RecordType::A)
        .edns(asking_nsid().option(ECS, ecs_option(1, 33, 0, &[192, 0, 2, 0, 0])));
    let r = server.query(&q);
    assert_eq!(r.rcode(), rcode::FORMERR, "{r}");
    assert_eq!(nsid(&r).as_deref(), Some(&b"ns-ams-7"[..]), "{r}");
}

/// An answer that fits in 512 bytes without the NSID is truncated with it: the NSID is
/// part of the response's size. Over TCP it all fits.
#[test]
fn nsid_counts_in_the_response_size() {
    let nsid_text = "n".repeat(128);
    let txt: String = (0..3)
        .map(|i| format!("fit IN TXT \"{i}{}\"\n", "x".repeat(119)))
        .collect();
    let server = Fixture::standard()
        .append("example.com", &txt)
        .server_key("identity = \"ns1\"")
        .server_key(&format!("nsid = \"{nsid_text}\""))
        .start();
    let plain = Query::new("fit.example.com.", RecordType::TXT).edns(Edns::new(512));
    let r = server.query(&plain);
    r.assert_answer(&plain);
    assert_eq!(
        r.answers.len(),
        3,
        "fits in 512 bytes without the NSID\n{r}"
    );
    assert!(
        r.bytes.len() <= 512 && r.bytes.len() + 4 + 128 > 512,
        "{}",
        r.bytes.len()
    );

    let asked =
        Query::new("fit.example.com.", RecordType::TXT).edns(Edns::new(512).option(NSID, vec![]));
    let r = server.query(&asked);
    assert!(r.tc, "the answer and the NSID do not fit in 512 bytes\n{r}");
    assert!(r.bytes.len() <= 512, "{} bytes\n{r}", r.bytes.len());
    assert_eq!(nsid(&r), Some(nsid_text.clone().into_bytes()), "{r}");

    let r = server.query_tcp(&asked);
    r.assert_answer(&asked);
    assert_eq!(r.answers.len(), 3, "{r}");
    assert_eq!(nsid(&r), Some(nsid_text.into_bytes()), "{r}");
}

#[test]
fn nsid_can_be_hex_text_or_off() {
    let rows: [(&str, Option<&[u8]>); 4] = [
        (
            "identity = \"ns1\"\nnsid = \"hex:00ff10\"",
            Some(&[0x00, 0xFF, 0x10]),
        ),
        ("identity = \"ns1\"\nnsid = false", None),
        ("identity = \"\"", None),
        (
            "identity = \"\"\nnsid = \"anycast-ams\"",
            Some(b"anycast-ams"),
        ),
    ];
    for (keys, want) in rows {
        let server = Fixture::standard().server_key(keys).start();
        let q = Query::new("www.example.com.", RecordType::A).edns(asking_nsid());
        let r = server.query(&q);
        r.assert_answer(&q);
        assert_eq!(nsid(&r).as_deref(), want, "{keys}\n{r}");
    }
}

#[test]
fn ch_txt_id_server_and_hostname_bind_return_the_identity() {
    let server = Fixture::standard()
        .server_key("identity = \"ns-ams-7.example.net\"")
        .start();
    for name in [
        "id.server.",
        "hostname.bind.",
        "ID.Server.",
        "HOSTNAME.BIND.",
    ] {
        for q in [ch_txt(name), ch_txt(name).edns(Edns::new(1232))] {
            let r = server.query(&q);
            assert_eq!(ch_answer(&r, &q), "ns-ams-7.example.net", "{name}");
            assert_eq!(r.opt.is_some(), q.edns.is_some(), "{name}\n{r}");
            assert_eq!(ede(&r), None, "no EDE on an answer\n{r}");
        }
    }
    let any = Query::new("id.server.", RecordType::ANY).qclass(CLASS_CH);
    assert_eq!(ch_answer(&server.query(&any), &any), "ns-ams-7.example.net");
    let tcp = ch_txt("hostname.bind.").rd(true);
    let r = server.query_tcp(&tcp);
    assert_eq!(ch_answer(&r, &tcp), "ns-ams-7.example.net");
    assert!(r.rd, "RD copied\n{r}");

    // The same names in class IN are names like any other: in none of our zones.
    let r = server.query(&Query::new("id.server.", RecordType::TXT).edns(Edns::new(1232)));
    assert_eq!(
        (r.rcode(), ede(&r)),
        (rcode::REFUSED, Some((20, String::new()))),
        "{r}"
    );

    // Everything else in class CH is refused, and the EDE says whether it is turned off
    // (18, Prohibited) or not something we serve at all (21, Not Supported).
    let rows = [
        (ch_txt("version.bind."), 18),
        (ch_txt("version.server."), 18),
        (Query::new("id.server.", RecordType::A).qclass(CLASS_CH), 21),
        (ch_txt("authors.bind."), 21),
        (ch_txt("www.id.server."), 21),
        (ch_txt("www.example.com."), 21),
    ];
    for (q, code) in rows {
        let r = server.query(&q.clone().edns(Edns::new(1232)));
        assert_eq!(r.rcode(), rcode::REFUSED, "{q:?}\n{r}");
        assert!(r.answers.is_empty() && !r.aa, "{r}");
        assert_eq!(ede(&r), Some((code, String::new())), "{q:?}\n{r}");
        let r = server.query(&q);
        assert_eq!(r.rcode(), rcode::REFUSED, "{q:?} without EDNS\n{r}");
        assert!(r.opt.is_none(), "no OPT, so no EDE, without EDNS\n{r}");
    }
}

#[test]
fn the_default_identity_is_the_host_name_and_empty_turns_it_off() {
    let host = host_name();
    let server = Fixture::standard().start();
    let q = ch_txt("id.server.").edns(asking_nsid());
    let r = server.query(&q);
    assert_eq!(ch_answer(&r, &q), host);
    assert_eq!(
        nsid(&r),
        Some(host.into_bytes()),
        "the NSID follows the identity\n{r}"
    );

    let server = Fixture::standard().server_key("identity = \"\"").start();
    for name in ["id.server.", "hostname.bind."] {
        let q = ch_txt(name).edns(asking_nsid());
        let r = server.query(&q);
        assert_eq!(r.rcode(), rcode::REFUSED, "{name}\n{r}");
        assert_eq!(
            ede(&r),
            Some((18, String::new())),
            "{name}: Prohibited\n{r}"
        );
        assert_eq!(nsid(&r), None, "{name}: no NSID either\n{r}");
    }
}

#[test]
fn version_bind_is_refused_by_default_and_answered_when_configured() {
    let q = ch_txt("version.bind.").edns(Edns::new(1232));
    let r = Fixture::standard().start().query(&q);
    assert_eq!(r.rcode(), rcode::REFUSED, "{r}");
    assert_eq!(ede(&r), Some((18, String::new())), "{r}");

    let server = Fixture::standard()
        .server_key("version = \"edge-2026.11\"")
        .start();
    for name in ["version.bind.", "version.server.", "VERSION.bind."] {
        let q = ch_txt(name);
        assert_eq!(ch_answer(&server.query(&q), &q), "edge-2026.11", "{name}");
    }
    let server = Fixture::standard().server_key("version = true").start();
    let q = ch_txt("version.server.");
    let own = format!("Meridian {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(ch_answer(&server.query(&q), &q), own);
}

#[test]
fn error_responses_say_why_in_an_extended_dns_error_only_with_edns() {
    let server = Fixture::standard().start();
    let www = || Query::new("www.example.com.", RecordType::A);
    let rows: Vec<(&str, Query, u16, u16, &str)> = vec![
        (
            "out of zone",
            Query::new("example.org.", RecordType::A),
            rcode::REFUSED,
            20,
            "",
        ),
        (
            "out of zone, RD",
            Query::new("www.example.org.", RecordType::A).rd(true),
            rcode::REFUSED,
            20,
            "",
        ),
        ("class HS", www().qclass(CLASS_HS), rcode::REFUSED, 21, ""),
        (
            "AXFR over UDP",
            Query::new("example.com.", RecordType::AXFR),
            rcode::REFUSED,
            21,
            "",
        ),
        (
            "IXFR",
            Query::new("example.com.", RecordType::IXFR),
            rcode::REFUSED,
            21,
            "",
        ),
        ("opcode STATUS", www().opcode(2), rcode::NOTIMP, 21, ""),
        (
            "MAILA",
            Query::new("example.com.", RecordType::Unknown(254)),
            rcode::NOTIMP,
            21,
            "",
        ),
        (
            "QTYPE 0",
            Query::new("www.example.com.", RecordType::ZERO),
            rcode::FORMERR,
            0,
            "QTYPE 0 or OPT in the question",
        ),
    ];
    for (what, q, want, code, text) in rows {
        let r = server.query(&q.clone().edns(Edns::new(1232)));
        assert_eq!(r.rcode(), want, "{what}\n{r}");
        assert_eq!(ede(&r), Some((code, text.to_string())), "{what}\n{r}");
        let r = server.query(&q);
        assert_eq!(r.rcode(), want, "{what} without EDNS\n{r}");
        assert!(r.opt.is_none(), "{what}: no OPT record, so no EDE\n{r}");
    }
    // FORMERR for a bad option of the OPT record names the option.
    let bad_ecs = ecs_option(1, 24, 0, &[192, 0, 2, 1]);
    let good_ecs = ecs_option(1, 24, 0, &[192, 0, 2]);
    let rows = [
        (
            "bad ECS",
            vec![(ECS, bad_ecs)],
            "malformed Client Subnet option",
        ),
        (
            "two ECS",
            vec![(ECS, good_ecs.clone()), (ECS, good_ecs)],
            "more than one Client Subnet option",
        ),
        (
            "7-byte COOKIE",
            vec![(10, vec![1; 7])],
            "malformed COOKIE option",
        ),
    ];
    for (what, options, text) in rows {
        let mut edns = Edns::new(1232);
        for (code, data) in options {
            edns = edns.option(code, data);
        }
        let r = server.query(&www().edns(edns));
        assert_eq!(r.rcode(), rcode::FORMERR, "{what}\n{r}");
        assert_eq!(ede(&r), Some((0, text.to_string())), "{what}\n{r}");
    }
    // Answers, negative answers and referrals carry none.
    for q in [
        www(),
        Query::new("nothere.example.com.", RecordType::A),
        Query::new("www.example.com.", RecordType::MX),
        Query::new("www.sub.example.com.", RecordType::A),
    ] {
        let r = server.query(&q.clone().edns(Edns::new(1232)));
        assert!(
            r.rcode() == rcode::NOERROR || r.rcode() == rcode::NXDOMAIN,
            "{r}"
        );
        assert_eq!(ede(&r), None, "{q:?}\n{r}");
    }
}

/// A query built and read by hickory-proto (another implementation's idea of the NSID
/// option and of class CH) gets the NSID and the CH identity.
#[test]
fn hickory_built_queries_get_the_nsid_and_the_ch_identity() {
    let server = Fixture::standard()
        .server_key("identity = \"ns-hickory\"")
        .start();
    let ask = |name: &str, qtype, class| {
        let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
        let mut q = HickoryQuery::query(Name::from_ascii(name).unwrap(), qtype);
        q.set_query_class(class);
        m.add_query(q);
        let mut edns = HickoryEdns::new();
        edns.set_max_payload(1232);
        edns.options_mut()
            .insert(EdnsOption::NSID(NSIDPayload::new(Vec::new()).unwrap()));
        m.set_edns(edns);
        let udp = server.udp();
        udp.send(&m.to_vec().unwrap());
        let (reply, _) = udp.recv_id(0x4242, Duration::from_secs(5));
        Message::from_vec(&reply.expect("a response")).expect("hickory reads it")
    };
    let nsid_of = |m: &Message| match m.edns.as_ref().and_then(|e| e.option(EdnsCode::NSID)) {
        Some(EdnsOption::NSID(p)) => Some(p.as_ref().to_vec()),
        _ => None,
    };

    let m = ask("www.example.com.", RecordType::A, DNSClass::IN);
    assert_eq!(m.answers.len(), 1, "{m:?}");
    assert_eq!(nsid_of(&m), Some(b"ns-hickory".to_vec()), "{m:?}");

    let m = ask("id.server.", RecordType::TXT, DNSClass::CH);
    assert_eq!(m.answers.len(), 1, "{m:?}");
    let rec = &m.answers[0];
    assert_eq!((rec.dns_class, rec.ttl), (DNSClass::CH, 0), "{m:?}");
    match &rec.data {
        RData::TXT(txt) => assert_eq!(txt.to_string(), "ns-hickory", "{m:?}"),
        other => panic!("want TXT, got {other:?}"),
    }
    assert_eq!(nsid_of(&m), Some(b"ns-hickory".to_vec()), "{m:?}");
}

#[test]
fn a_reload_applies_a_new_identity_nsid_and_version() {
    let server = Fixture::standard()
        .server_key("identity = \"ns-a\"")
        .file("fleet.token", &format!("{FLEET_TOKEN}\n"))
        .start();
    let id = ch_txt("id.server.").edns(asking_nsid());
    let r = server.query(&id);
    assert_eq!(ch_answer(&r, &id), "ns-a");
    assert_eq!(nsid(&r).as_deref(), Some(&b"ns-a"[..]));

    let config = server.dir().join("meridian.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let edited = text.replace(
        "identity = \"ns-a\"",
        "identity = \"ns-b\"\nversion = \"v2\"",
    );
    assert_ne!(text, edited);
    std::fs::write(&config, edited).unwrap();
    let reply = server.post("/v1/reload", None);
    assert_eq!(reply.status, 200, "{}", reply.body);

    let r = wait_for("the new identity", Duration::from_secs(5), || {
        let r = server.query(&id);
        (nsid(&r).as_deref() == Some(&b"ns-b"[..])).then_some(r)
    });
    assert_eq!(ch_answer(&r, &id), "ns-b");
    let v = ch_txt("version.bind.");
    assert_eq!(ch_answer(&server.query(&v), &v), "v2");
}

/// The largest error response: the longest question, Client Subnet with a /128, a COOKIE,
/// the longest NSID and the longest Extended DNS Error text still fit in 512 bytes.
#[test]
fn the_largest_error_response_fits_in_512_bytes() {
    let server = Fixture::standard()
        .server_key(&format!("nsid = \"hex:{}\"", "6e".repeat(128)))
        .start();
    // 3 × (1 + 63) + (1 + 61) + 1 = 255 octets on the wire, the most a name may have.
    let name = format!(
        "{}.{}.{}.{}.",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    let address = [
        0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    let edns = Edns::new(512)
        .option(ECS, ecs_option(2, 128, 0, &address))
        .option(10, vec![0xC0; 8])
        .option(NSID, vec![]);
    for qtype in [RecordType::ZERO, RecordType::A] {
        let q = Query::new(&name, qtype).edns(edns.clone());
        let r = server.query(&q);
        r.assert_echoes(&q);
        assert!(r.bytes.len() <= 512, "{} bytes\n{r}", r.bytes.len());
        let opt = r.opt.as_ref().unwrap();
        assert_eq!(opt.option(NSID).map(<[u8]>::len), Some(128), "{r}");
        assert!(opt.option(ECS).is_some() && opt.option(10).is_some(), "{r}");
        assert!(ede(&r).is_some(), "{r}");
    }
}

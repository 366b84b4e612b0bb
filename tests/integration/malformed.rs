//! Broken and unexpected queries: FORMERR, NOTIMP, silence for responses and runts, and a
//! server that keeps serving through all of it.

use crate::util::{
    Fixture, Prng, Query, Response, Server, TcpClient, encode_name, frame, header, is_closed, rcode,
};
use hickory_proto::rr::RecordType;
use std::time::Duration;

/// What the server must do with a packet.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Answer FORMERR with the packet's ID.
    Formerr,
    /// Too short to have an ID: no response, or FORMERR.
    NothingOrFormerr,
    /// Never answer (QR=1: it is a response, answering could loop).
    Nothing,
}

fn question(name: &str, qtype: u16) -> Vec<u8> {
    let mut b = encode_name(name);
    b.extend_from_slice(&qtype.to_be_bytes());
    b.extend_from_slice(&1u16.to_be_bytes());
    b
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const OPT: &[u8] = &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];

/// The malformed packets, each with a distinct ID (where it has one).
fn malformed_packets() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let www = question("www.example.com", 1);
    let long_name: Vec<u8> = {
        let label = "a".repeat(63);
        let name = [label.as_str(); 5].join(".") + ".example.com";
        let mut b = Vec::new();
        for l in name.split('.') {
            b.push(l.len() as u8);
            b.extend_from_slice(l.as_bytes());
        }
        b.extend_from_slice(&[0, 0, 1, 0, 1]);
        b
    };
    vec![
        (
            "qdcount 0",
            header(0x4d01, 0x0100, [0, 0, 0, 0]),
            Expect::Formerr,
        ),
        (
            "qdcount 2",
            cat(&[
                &header(0x4d02, 0, [2, 0, 0, 0]),
                &www,
                &question("mail.example.com", 1),
            ]),
            Expect::Formerr,
        ),
        (
            "qdcount 1, no question",
            header(0x4d03, 0, [1, 0, 0, 0]),
            Expect::Formerr,
        ),
        (
            "question without type and class",
            cat(&[
                &header(0x4d04, 0, [1, 0, 0, 0]),
                &encode_name("www.example.com"),
                &[0, 1],
            ]),
            Expect::Formerr,
        ),
        (
            "question cut inside a label",
            cat(&[&header(0x4d05, 0, [1, 0, 0, 0]), &[3, b'w', b'w']]),
            Expect::Formerr,
        ),
        (
            "compression pointer to itself",
            cat(&[&header(0x4d06, 0, [1, 0, 0, 0]), &[0xc0, 0x0c, 0, 1, 0, 1]]),
            Expect::Formerr,
        ),
        (
            "two compression pointers in a loop",
            cat(&[
                &header(0x4d07, 0, [1, 0, 0, 0]),
                &[0xc0, 0x0e, 0xc0, 0x0c, 0, 1, 0, 1],
            ]),
            Expect::Formerr,
        ),
        (
            "compression pointer past the end",
            cat(&[
                &header(0x4d08, 0, [1, 0, 0, 0]),
                &[3, b'w', b'w', b'w', 0xc0, 0xff, 0, 1, 0, 1],
            ]),
            Expect::Formerr,
        ),
        (
            "extended label type 0x40",
            cat(&[
                &header(0x4d09, 0, [1, 0, 0, 0]),
                &[0x41, b'x', 0, 0, 1, 0, 1],
            ]),
            Expect::Formerr,
        ),
        (
            "reserved label type 0x80",
            cat(&[
                &header(0x4d0a, 0, [1, 0, 0, 0]),
                &[0x81, b'x', 0, 0, 1, 0, 1],
            ]),
            Expect::Formerr,
        ),
        (
            "name longer than 255 bytes",
            cat(&[&header(0x4d0b, 0, [1, 0, 0, 0]), &long_name]),
            Expect::Formerr,
        ),
        (
            "garbage after the header",
            cat(&[&header(0x4d0c, 0, [1, 0, 0, 0]), &[0xff; 20]]),
            Expect::Formerr,
        ),
        (
            "ARCOUNT 1 with nothing after the question",
            cat(&[&header(0x4d0d, 0, [1, 0, 0, 1]), &www]),
            Expect::Formerr,
        ),
        (
            "two OPT records (RFC 6891 §6.1.1)",
            cat(&[&header(0x4d0e, 0, [1, 0, 0, 2]), &www, OPT, OPT]),
            Expect::Formerr,
        ),
        ("empty packet", vec![], Expect::NothingOrFormerr),
        ("one byte", vec![0x4d], Expect::NothingOrFormerr),
        (
            "11 bytes",
            header(0x4d0f, 0, [1, 0, 0, 0])[..11].to_vec(),
            Expect::NothingOrFormerr,
        ),
        (
            "QR=1, a good question",
            cat(&[&header(0x4d10, 0x8000, [1, 0, 0, 0]), &www]),
            Expect::Nothing,
        ),
        (
            "QR=1, header only",
            header(0x4d11, 0x8400, [0, 0, 0, 0]),
            Expect::Nothing,
        ),
        (
            "QR=1, garbage",
            cat(&[&header(0x4d12, 0x8000, [1, 0, 0, 0]), &[0xff; 7]]),
            Expect::Nothing,
        ),
        (
            "QR=1, FORMERR response",
            cat(&[&header(0x4d13, 0x8001, [1, 0, 0, 0]), &www]),
            Expect::Nothing,
        ),
    ]
}

fn check_replies(what: &str, packet: &[u8], expect: Expect, replies: &[Vec<u8>]) {
    let id = (packet.len() >= 2).then(|| u16::from_be_bytes([packet[0], packet[1]]));
    let parsed: Vec<Response> = replies
        .iter()
        .map(|d| Response::parse(d).unwrap_or_else(|e| panic!("{what}: bad reply {d:02x?}: {e}")))
        .collect();
    let shown: Vec<String> = parsed.iter().map(|r| r.to_string()).collect();
    match expect {
        Expect::Formerr => {
            assert_eq!(
                parsed.len(),
                1,
                "{what}: want one FORMERR reply, got {shown:#?}"
            );
            let r = &parsed[0];
            assert_eq!(Some(r.id), id, "{what}: ID\n{r}");
            assert!(r.qr, "{what}: QR\n{r}");
            assert_eq!(r.rcode(), rcode::FORMERR, "{what}: rcode\n{r}");
            assert!(r.answers.is_empty(), "{what}: answer\n{r}");
        }
        Expect::NothingOrFormerr => {
            for r in &parsed {
                assert_eq!(
                    r.rcode(),
                    rcode::FORMERR,
                    "{what}: only FORMERR may be sent\n{r}"
                );
            }
            assert!(parsed.len() <= 1, "{what}: {shown:#?}");
        }
        Expect::Nothing => assert!(
            parsed.is_empty(),
            "{what}: must not be answered, got {shown:#?}"
        ),
    }
}

#[test]
fn malformed_queries_get_formerr_and_responses_get_nothing() {
    let mut server = Fixture::standard().start();
    let udp = server.udp();
    for (what, packet, expect) in malformed_packets() {
        let replies = udp.replies_to(&packet, "www.example.com.");
        check_replies(what, &packet, expect, &replies);
    }
    server.assert_alive();
}

#[test]
fn unknown_opcodes_get_notimp() {
    let server = Fixture::standard().start();
    for opcode in [3, 7, 15] {
        let q = Query::new("www.example.com.", RecordType::A)
            .opcode(opcode)
            .rd(true);
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            assert_eq!(r.id, q.id, "{transport} opcode {opcode}\n{r}");
            assert!(r.qr, "{transport} opcode {opcode}: QR\n{r}");
            assert_eq!(r.opcode, opcode, "{transport}: opcode is copied\n{r}");
            assert_eq!(r.rcode(), rcode::NOTIMP, "{transport} opcode {opcode}\n{r}");
            assert!(r.answers.is_empty(), "{transport} opcode {opcode}\n{r}");
        }
    }
}

#[test]
fn server_survives_malformed_barrage_over_udp_and_tcp() {
    let mut server = Fixture::standard().start();
    let udp = server.udp();
    for _ in 0..20 {
        for (_, packet, _) in malformed_packets() {
            udp.send(&packet);
        }
    }
    // Every malformed packet framed over TCP on one connection: the server may answer
    // FORMERR or close, but must not crash.
    if let Ok(mut tcp) = TcpClient::connect(server.dns) {
        for (_, packet, _) in malformed_packets() {
            if tcp.send(&packet).is_err() {
                break;
            }
        }
    }
    assert_serving(&mut server);
}

#[test]
fn tcp_malformed_frames_get_formerr_or_close_and_server_keeps_serving() {
    let mut server = Fixture::standard().start();
    // (what, bytes, whether silence is allowed: only for frames too short to hold an ID)
    let rows: &[(&str, Vec<u8>, bool)] = &[
        ("zero-length frame", frame(&[]), true),
        ("5-byte frame", frame(&[1, 2, 3, 4, 5]), true),
        ("qdcount 0", frame(&header(0x5d01, 0, [0, 0, 0, 0])), false),
        (
            "pointer loop",
            frame(&cat(&[
                &header(0x5d02, 0, [1, 0, 0, 0]),
                &[0xc0, 0x0c, 0, 1, 0, 1],
            ])),
            false,
        ),
    ];
    for (what, bytes, silence_ok) in rows {
        let mut tcp = server.tcp();
        tcp.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        tcp.write_raw(bytes).unwrap();
        match tcp.recv() {
            Ok(reply) => {
                let r = Response::parse(&reply).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(r.rcode(), rcode::FORMERR, "{what}\n{r}");
            }
            Err(e) if is_closed(&e) => {}
            Err(e) => assert!(*silence_ok, "{what}: neither FORMERR nor closed: {e}"),
        }
    }
    assert_serving(&mut server);
}

/// 2000 packets from a seeded PRNG: half random bytes, half good queries with a few
/// bytes flipped. Every reply must be a well-formed response; then the server must still
/// answer.
#[test]
fn server_survives_2000_random_packets() {
    let mut server = Fixture::standard().start();
    let udp = server.udp();
    let mut rng = Prng::new(0x6d65_7269_6469_616e);
    let good = Query::new("www.example.com.", RecordType::A).to_wire();
    let mut replies = Vec::new();
    for i in 0..2000 {
        let packet = if i % 2 == 0 {
            let len = rng.below(300);
            rng.bytes(len)
        } else {
            let mut p = good.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(p.len());
                p[at] = rng.next_u64() as u8;
            }
            p
        };
        udp.send(&packet);
        // Drain now and then so our own socket buffer does not drop replies.
        if i % 50 == 49 {
            while let Some(d) = udp.recv(Duration::from_millis(1)) {
                replies.push(d);
            }
        }
    }
    while let Some(d) = udp.recv(Duration::from_millis(200)) {
        replies.push(d);
    }
    for d in &replies {
        assert!(d.len() >= 12, "reply shorter than a header: {d:02x?}");
        assert!(d[2] & 0x80 != 0, "reply without QR: {d:02x?}");
        // Garbage in, but never garbage out: hickory and our parser must accept it.
        Response::parse(d).unwrap_or_else(|e| panic!("malformed reply {d:02x?}: {e}"));
    }
    assert_serving(&mut server);
}

/// The process is up and answers over UDP and TCP.
fn assert_serving(server: &mut Server) {
    server.assert_alive();
    let q = Query::new("www.example.com.", RecordType::A);
    let udp = server.udp();
    // Replies to earlier packets may still be queued; `exchange` skips other IDs.
    udp.exchange(&q).assert_answer(&q);
    server.query_tcp(&q).assert_answer(&q);
    server.assert_alive();
}

//! TSIG against other implementations: queries dig and kdig signed and answers Knot gave
//! to them (`tests/data/tsig/`, with the recipe in its README). Our signer must make their
//! MACs and our verifiers accept them; then the two check each other on answers no other
//! implementation made (TC, errors). Every check runs at a fixed `now`.
//!
//! hickory-proto's TSIG is no stand-in: it needs its `dnssec-ring` feature, and a
//! dev-dependency with it would change how the tested binary parses zone files.

use super::*;
use crate::dns::respond::{QueryStats, Request, Transport, respond};
use crate::dns::wire;
use crate::snapshot::Snapshot;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// The vectors' secret: the bytes 0 to 31 (base64 below).
const SECRET_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_NAME: &str = "test-key.example.";

fn secret() -> Vec<u8> {
    (0u8..32).collect()
}

fn vector(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

const DIG_SHA256: &str = include_str!("../../../tests/data/tsig/query-dig-hmac-sha256.hex");
const DIG_SHA256_OLD: &str = include_str!("../../../tests/data/tsig/query-dig-hmac-sha256-old.hex");
const DIG_SHA256_128: &str = include_str!("../../../tests/data/tsig/query-dig-hmac-sha256-128.hex");
const KDIG_SHA512: &str = include_str!("../../../tests/data/tsig/query-kdig-hmac-sha512.hex");
const DIG_SHA1: &str = include_str!("../../../tests/data/tsig/query-dig-hmac-sha1.hex");
const KNOT_ANSWER: &str = include_str!("../../../tests/data/tsig/response-knot-hmac-sha256.hex");
const KNOT_BADTIME: &str = include_str!("../../../tests/data/tsig/response-knot-badtime.hex");
const KNOT_BADKEY: &str = include_str!("../../../tests/data/tsig/response-knot-badkey.hex");
const KNOT_ZONE: &str = include_str!("../../../tests/data/tsig/knot-example.com.zone");

fn key(name: &str, algorithm: Algorithm, secret: &[u8]) -> TsigKey {
    let mut owner = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        owner.push(label.len() as u8);
        owner.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    owner.push(0);
    TsigKey {
        name: name.to_owned(),
        owner: owner.into(),
        algorithm,
        hmac: hmac::Key::new(algorithm.hmac(), secret),
    }
}

/// The test key under every algorithm, as a server holding all four would have it.
fn keyring() -> Vec<TsigKey> {
    Algorithm::ALL
        .into_iter()
        .map(|a| key(KEY_NAME, a, &secret()))
        .collect()
}

/// Where `wire::parse` found the TSIG record, and the record.
fn tsig_of(msg: &[u8]) -> (usize, Record<'_>) {
    let at = wire::parse(msg).expect("parses").tsig.expect("signed") as usize;
    (at, read(msg, at).expect("a readable TSIG record"))
}

#[test]
fn queries_dig_and_kdig_signed_verify() {
    let keys = keyring();
    // (vector, algorithm, MAC octets sent)
    let rows = [
        (DIG_SHA256, Algorithm::HmacSha256, 32),
        (DIG_SHA256_128, Algorithm::HmacSha256, 16),
        (KDIG_SHA512, Algorithm::HmacSha512, 64),
        (DIG_SHA1, Algorithm::HmacSha1, 20),
    ];
    for (text, algorithm, mac_len) in rows {
        let msg = vector(text);
        let (at, record) = tsig_of(&msg);
        assert_eq!(record.owner(), b"\x08test-key\x07example\x00");
        assert_eq!((record.fudge, record.mac.len()), (300, mac_len));
        let v = verify(&keys, &msg, at, record.time_signed)
            .unwrap_or_else(|f| panic!("{}: {}", algorithm.name(), f.name()));
        assert_eq!(v.key.algorithm, algorithm);
        assert_eq!(v.mac, record.mac);
    }
}

#[test]
fn our_signer_makes_the_macs_dig_and_kdig_made() {
    for text in [DIG_SHA256, DIG_SHA256_128, KDIG_SHA512, DIG_SHA1] {
        let msg = vector(text);
        let (at, record) = tsig_of(&msg);
        let algorithm = Algorithm::from_wire(record.algorithm).unwrap();
        let mut ours = msg[..at].to_vec();
        let arcount = u16::from_be_bytes([ours[10], ours[11]]) - 1;
        ours[10..12].copy_from_slice(&arcount.to_be_bytes());
        let stamp = Stamp {
            time_signed: record.time_signed,
            fudge: record.fudge,
            error: 0,
            other: &[],
        };
        let mac = sign(&mut ours, &key(KEY_NAME, algorithm, &secret()), None, stamp);
        // dig's truncated MAC is the first half of the full one.
        assert_eq!(
            &mac.as_ref()[..record.mac.len()],
            record.mac,
            "{}",
            algorithm.name()
        );
        if record.mac.len() == algorithm.output_len() {
            assert_eq!(hex(&ours), hex(&msg), "{}", algorithm.name());
        }
    }
}

#[test]
fn knots_answer_verifies_as_the_answer_to_digs_query() {
    let query = vector(DIG_SHA256);
    let (_, request) = tsig_of(&query);
    let knot = vector(KNOT_ANSWER);
    let (at, t) = tsig_of_response(&knot);
    let k = key(KEY_NAME, Algorithm::HmacSha256, &secret());
    let check = |msg: &[u8], mac: &[u8], now: u64| match verify_response(&k, msg, at, mac, now) {
        Ok(_) => "ok",
        Err(f) => f.name(),
    };
    assert_eq!(check(&knot, request.mac, t), "ok");
    assert_eq!(check(&knot, request.mac, t + 301), "BADTIME");
    assert_eq!(check(&knot, &[0; 32], t), "BADSIG", "another request's MAC");
    let mut changed = knot.clone();
    changed[at - 20] ^= 1; // inside the answer's address
    assert_eq!(check(&changed, request.mac, t), "BADSIG");
    let other = key("other.example.", Algorithm::HmacSha256, &secret());
    assert!(matches!(
        verify_response(&other, &knot, at, request.mac, t),
        Err(Failure::Unsigned {
            error: ERROR_BADKEY,
            ..
        })
    ));
}

#[test]
fn each_failure_gets_its_answer() {
    let msg = vector(DIG_SHA256);
    let (at, record) = tsig_of(&msg);
    let t = record.time_signed;
    let sha256 = || key(KEY_NAME, Algorithm::HmacSha256, &secret());
    let error = |keys: &[TsigKey], msg: &[u8], now: u64| match verify(keys, msg, at, now) {
        Ok(_) => "ok",
        Err(f) => f.name(),
    };
    // Key: another name, or the name with another algorithm (RFC 8945 §5.2.1).
    assert_eq!(error(&[], &msg, t), "BADKEY");
    let other_name = key("other.example.", Algorithm::HmacSha256, &secret());
    assert_eq!(error(&[other_name], &msg, t), "BADKEY");
    let other_alg = key(KEY_NAME, Algorithm::HmacSha512, &secret());
    assert_eq!(error(&[other_alg], &msg, t), "BADKEY");
    // The name is matched without case.
    assert_eq!(
        error(
            &[key("Test-KEY.example", Algorithm::HmacSha256, &secret())],
            &msg,
            t
        ),
        "ok"
    );
    // MAC (§5.2.2): another secret, or a byte of the message changed.
    let wrong = key(KEY_NAME, Algorithm::HmacSha256, b"another secret");
    assert_eq!(error(&[wrong], &msg, t), "BADSIG");
    let mut changed = msg.clone();
    changed[13] ^= 0x20; // "www" → "Www": the MAC covers the name's case too
    assert_eq!(error(&[sha256()], &changed, t), "BADSIG");
    // Time (§5.2.3): Time Signed ± Fudge, both ends included.
    for (now, want) in [
        (t, "ok"),
        (t + 300, "ok"),
        (t - 300, "ok"),
        (t + 301, "BADTIME"),
        (t - 301, "BADTIME"),
        (0, "BADTIME"),
    ] {
        assert_eq!(
            error(&[sha256()], &msg, now),
            want,
            "now = t{:+}",
            now as i64 - t as i64
        );
    }
    // The MAC is checked before the time: a bad MAC out of time is BADSIG, not BADTIME.
    let wrong = key(KEY_NAME, Algorithm::HmacSha256, b"another secret");
    assert_eq!(error(&[wrong], &msg, t + 1000), "BADSIG");
}

/// `msg` with its TSIG record's MAC replaced by `mac` (the record re-encoded around it).
fn with_mac(msg: &[u8], mac: &[u8]) -> Vec<u8> {
    let (at, record) = tsig_of(msg);
    let mut out = msg[..at].to_vec();
    let arcount = u16::from_be_bytes([out[10], out[11]]) - 1;
    out[10..12].copy_from_slice(&arcount.to_be_bytes());
    let stamp = Stamp {
        time_signed: record.time_signed,
        fudge: record.fudge,
        error: 0,
        other: &[],
    };
    append(&mut out, record.owner(), record.algorithm, stamp, mac);
    out
}

#[test]
fn truncated_macs_follow_rfc_8945_5_2_2_1() {
    let msg = vector(DIG_SHA256);
    let (_, record) = tsig_of(&msg);
    let t = record.time_signed;
    let keys = [key(KEY_NAME, Algorithm::HmacSha256, &secret())];
    let full = record.mac.to_vec();
    let check = |mac: &[u8]| {
        let m = with_mac(&msg, mac);
        let (at, _) = tsig_of(&m);
        match verify(&keys, &m, at, t) {
            Ok(v) => format!("ok {}", v.mac.len()),
            Err(f) => f.name().to_owned(),
        }
    };
    assert_eq!(check(&full), "ok 32");
    // Half of SHA-256's 32 octets is the least accepted; the prefix must match.
    assert_eq!(check(&full[..16]), "ok 16");
    assert_eq!(check(&full[..20]), "ok 20");
    assert_eq!(check(&full[..15]), "FORMERR");
    assert_eq!(check(&[]), "FORMERR");
    let mut longer = full.clone();
    longer.push(0);
    assert_eq!(check(&longer), "FORMERR");
    let mut wrong_prefix = full[..16].to_vec();
    wrong_prefix[15] ^= 1;
    assert_eq!(check(&wrong_prefix), "BADSIG");
    // HMAC-SHA1's 20 octets: 10 is both half and the floor.
    let sha1 = vector(DIG_SHA1);
    let (_, r1) = tsig_of(&sha1);
    let keys1 = [key(KEY_NAME, Algorithm::HmacSha1, &secret())];
    for (len, want) in [(10, true), (9, false)] {
        let m = with_mac(&sha1, &r1.mac[..len]);
        let (at, _) = tsig_of(&m);
        let got = verify(&keys1, &m, at, r1.time_signed);
        assert_eq!(got.is_ok(), want, "{len}");
        if !want {
            assert!(matches!(got, Err(Failure::Malformed)));
        }
    }
}

#[test]
fn records_that_cannot_be_read_are_formerr() {
    let msg = vector(DIG_SHA256);
    let (at, _) = tsig_of(&msg);
    assert!(read(&msg, at).is_some());
    let class_in = {
        let mut m = msg.clone();
        let class_at = at + 18 + 2; // owner (18 octets), type
        m[class_at..class_at + 2].copy_from_slice(&[0, 1]);
        m
    };
    let mut trailing = msg.clone();
    trailing.push(0);
    let mut long_rdlength = msg.clone();
    long_rdlength[at + 18 + 9] += 1;
    let compressed_algorithm = {
        // The algorithm name as a pointer to the name at 12: not allowed (RFC 3597 §4).
        let mut m = msg[..at + 18 + 10].to_vec();
        let rdata = &msg[at + 18 + 10..];
        m.extend_from_slice(&[0xC0, 12]);
        m.extend_from_slice(&rdata[13..]);
        let rdlen = (rdata.len() - 13 + 2) as u16;
        m[at + 18 + 8..at + 18 + 10].copy_from_slice(&rdlen.to_be_bytes());
        m
    };
    for (what, m) in [
        ("class IN", class_in),
        ("a byte after the record", trailing),
        ("RDLENGTH past the end", long_rdlength),
        ("a compressed algorithm name", compressed_algorithm),
    ] {
        assert!(read(&m, at).is_none(), "{what}");
        assert!(
            matches!(verify(&keyring(), &m, at, 0), Err(Failure::Malformed)),
            "{what}"
        );
    }
    for i in 0..msg.len() {
        let _ = read(&msg[..i], at.min(i));
    }
}

#[test]
fn a_compressed_key_name_is_read_in_canonical_form() {
    // A query for test-key.example. whose TSIG owner points at the question name.
    let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(b"\x08TEST-key\x07example\x00\x00\x01\x00\x01");
    let key = key(KEY_NAME, Algorithm::HmacSha256, &secret());
    let stamp = Stamp {
        time_signed: 1_000,
        fudge: 300,
        error: 0,
        other: &[],
    };
    let mut signed = m.clone();
    sign(&mut signed, &key, None, stamp);
    let at = m.len();
    // Swap the owner (18 octets) for a pointer to offset 12.
    let mut compressed = signed[..at].to_vec();
    compressed.extend_from_slice(&[0xC0, 12]);
    compressed.extend_from_slice(&signed[at + 18..]);
    let record = read(&compressed, at).unwrap();
    assert_eq!(record.owner(), &*key.owner);
    assert!(verify(std::slice::from_ref(&key), &compressed, at, 1_000).is_ok());
    // A pointer forwards, or to itself, is refused.
    let mut looped = compressed.clone();
    looped[at + 1] = at as u8;
    assert!(read(&looped, at).is_none());
}

/// Meridian serving Knot's zone of the vectors with the vectors' key (hmac-sha256),
/// `big.example.com` with 40 TXT records, too many for 512 octets, and `mid.example.com`
/// with 9, whose answer (447 octets) fits in 512 but not with a TSIG record.
fn snapshot() -> Snapshot {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    let config = format!(
        "[server]\nzones_dir = \"zones\"\n[geoip]\nenabled = false\n\
         [tsig.\"{KEY_NAME}\"]\nsecret = \"{SECRET_B64}\"\n"
    );
    std::fs::write(dir.path().join("meridian.toml"), config).unwrap();
    let mut zone = KNOT_ZONE.to_owned();
    for i in 0..40 {
        zone.push_str(&format!("big TXT \"record number {i} of a large RRset\"\n"));
    }
    for i in 10..19 {
        zone.push_str(&format!("mid TXT \"record number {i} of a large RRset\"\n"));
    }
    std::fs::write(zones.join("example.com.zone"), zone).unwrap();
    match Snapshot::load(&dir.path().join("meridian.toml"), None) {
        Ok(snap) => snap,
        Err(e) => panic!("the test snapshot does not load: {e}"),
    }
}

fn answer(snap: &Snapshot, msg: &[u8], transport: Transport, now: u64) -> (Vec<u8>, bool) {
    let req = Request {
        transport,
        peer: "127.0.0.1".parse().unwrap(),
        now: now as u32,
        cookies: None,
    };
    let mut out = Vec::new();
    let reply = respond(snap, msg, &req, &mut out, &mut QueryStats::default()).expect("answered");
    (out, reply.signed)
}

#[test]
fn answers_are_byte_for_byte_those_knot_signed() {
    let snap = snapshot();
    // A signed answer: the MAC over the request's MAC, the answer and the variables.
    let knot = vector(KNOT_ANSWER);
    let (_, knot_tsig) = tsig_of_response(&knot);
    let (ours, signed) = answer(&snap, &vector(DIG_SHA256), Transport::Udp, knot_tsig);
    assert!(signed);
    assert_eq!(hex(&ours), hex(&knot), "NOERROR, signed");
    // BADTIME: signed, the request's time and fudge, the server's time in Other Data.
    let knot = vector(KNOT_BADTIME);
    let (_, now) = tsig_of_response(&knot);
    let other = read(&knot, tsig_of_response(&knot).0)
        .unwrap()
        .other
        .to_vec();
    let server_time = other.iter().fold(0u64, |t, &b| t << 8 | b as u64);
    assert_ne!(now, server_time, "Time Signed is the client's");
    let (ours, _) = answer(&snap, &vector(DIG_SHA256_OLD), Transport::Udp, server_time);
    assert_eq!(hex(&ours), hex(&knot), "BADTIME");
    // BADKEY: the key is hmac-sha256 only; unsigned, the request's fields echoed.
    let knot = vector(KNOT_BADKEY);
    let (ours, signed) = answer(&snap, &vector(DIG_SHA1), Transport::Udp, 0);
    assert!(signed, "carries a TSIG record");
    assert_eq!(hex(&ours), hex(&knot), "BADKEY");
}

/// The TSIG record of a response and its Time Signed.
fn tsig_of_response(msg: &[u8]) -> (usize, u64) {
    let mut query = msg.to_vec();
    query[2] &= 0x7F; // read as a query, so `wire::parse` looks for the TSIG record
    let at = match wire::parse(&query) {
        Ok(q) => q.tsig,
        Err(wire::QueryError::NotImp { tsig, .. }) => tsig,
        Err(e) => panic!("{e:?}"),
    };
    let at = at.expect("a TSIG record") as usize;
    (at, read(msg, at).unwrap().time_signed)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A query for `name` with `opcode`, signed with the test key at `time` by our signer
/// (which makes dig's MACs, see above), and its MAC.
fn signed_query(name: &str, qtype: RecordType, op: OpCode, time: u64) -> (Vec<u8>, Vec<u8>) {
    let mut m = Message::new(0x4242, MessageType::Query, op);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let mut wire = m.to_vec().unwrap();
    let stamp = Stamp {
        time_signed: time,
        fudge: 300,
        error: 0,
        other: &[],
    };
    let k = key(KEY_NAME, Algorithm::HmacSha256, &secret());
    let mac = sign(&mut wire, &k, None, stamp);
    (wire, mac.as_ref().to_vec())
}

/// `response` without its TSIG record, decoded by hickory-proto, once the record verified
/// as the answer to a request with `request_mac`, signed at `now`.
fn verified(response: &[u8], request_mac: &[u8], now: u64) -> Message {
    let (at, t) = tsig_of_response(response);
    assert_eq!(t, now, "signed at the server's time");
    let k = key(KEY_NAME, Algorithm::HmacSha256, &secret());
    if let Err(f) = verify_response(&k, response, at, request_mac, now) {
        panic!("the answer's TSIG fails: {}", f.name());
    }
    let mut unsigned = response[..at].to_vec();
    unsigned[11] -= 1;
    Message::from_vec(&unsigned).unwrap()
}

#[test]
fn every_answer_to_a_signed_query_is_signed() {
    let snap = snapshot();
    let now = 1_750_000_000;
    // (query name, type, opcode, transport, expected rcode, TC)
    let rows = [
        (
            "www.example.com.",
            RecordType::A,
            OpCode::Query,
            Transport::Udp,
            0,
            false,
        ),
        (
            "nowhere.example.com.",
            RecordType::A,
            OpCode::Query,
            Transport::Udp,
            3,
            false,
        ),
        (
            "www.example.org.",
            RecordType::A,
            OpCode::Query,
            Transport::Udp,
            5,
            false,
        ),
        (
            "example.com.",
            RecordType::AXFR,
            OpCode::Query,
            Transport::Tcp,
            5,
            false,
        ),
        // A NOTIFY for a zone that is no secondary zone here: NOTAUTH (`crate::secondary`).
        (
            "example.com.",
            RecordType::SOA,
            OpCode::Notify,
            Transport::Udp,
            9,
            false,
        ),
        // Too big for 512 octets: truncated to leave room for the TSIG record, and signed.
        (
            "big.example.com.",
            RecordType::TXT,
            OpCode::Query,
            Transport::Udp,
            0,
            true,
        ),
        (
            "big.example.com.",
            RecordType::TXT,
            OpCode::Query,
            Transport::Tcp,
            0,
            false,
        ),
        (
            "mid.example.com.",
            RecordType::TXT,
            OpCode::Query,
            Transport::Udp,
            0,
            true,
        ),
    ];
    for (name, qtype, op, transport, rcode, tc) in rows {
        let what = format!("{name} {qtype} {op:?} {transport:?}");
        let (query, mac) = signed_query(name, qtype, op, now - 10);
        let (out, signed) = answer(&snap, &query, transport, now);
        assert!(signed, "{what}");
        let parsed = verified(&out, &mac, now);
        assert_eq!(out[3] & 0x0F, rcode, "{what}");
        assert_eq!(out[2] & 0x02 != 0, tc, "{what}");
        if transport == Transport::Udp {
            assert!(out.len() <= 512, "{what}: {} octets", out.len());
        }
        if tc {
            assert!(parsed.answers.is_empty(), "{what}");
        } else if name.starts_with("big") {
            assert_eq!(parsed.answers.len(), 40, "{what}");
        }
    }
}

#[test]
fn an_unsigned_query_gets_an_unsigned_answer() {
    let snap = snapshot();
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("www.example.com.").unwrap(),
        RecordType::A,
    ));
    let (out, signed) = answer(&snap, &m.to_vec().unwrap(), Transport::Udp, 0);
    assert!(!signed);
    assert!(Message::from_vec(&out).unwrap().signature().is_none());
    // The answer that needs TC once signed fits whole without a signature.
    let mut m = Message::new(8, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("mid.example.com.").unwrap(),
        RecordType::TXT,
    ));
    let (out, _) = answer(&snap, &m.to_vec().unwrap(), Transport::Udp, 0);
    assert_eq!((out.len(), out[2] & 0x02), (447, 0));
}

#[test]
fn a_signed_query_with_an_unreadable_tsig_gets_formerr_without_tsig() {
    let snap = snapshot();
    let (mut query, _) = signed_query("www.example.com.", RecordType::A, OpCode::Query, 5);
    // The MAC size one octet short of the MAC: the record no longer adds up.
    let (at, _) = tsig_of(&query);
    let mac_size_at = at + 18 + 10 + 13 + 8;
    query[mac_size_at + 1] -= 1;
    let (out, signed) = answer(&snap, &query, Transport::Udp, 5);
    assert!(!signed);
    assert_eq!(out[3] & 0x0F, wire::RCODE_FORMERR);
    assert_eq!(&out[10..12], &[0, 0], "no TSIG record");
}

/// A signed transfer stream as our signer writes it (`sign`, then `sign_next`) checks out
/// message by message with `verify_response` and `verify_next`, also with an unsigned
/// message between two signed ones; a changed message, or a broken chain, does not.
#[test]
fn a_signed_stream_verifies_message_by_message() {
    let k = key(KEY_NAME, Algorithm::HmacSha256, &secret());
    let now = 1_700_000_000;
    let message = |n: u8| vec![0x12, 0x34, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0, n];
    let stamp = Stamp {
        time_signed: now,
        fudge: FUDGE,
        error: 0,
        other: &[],
    };
    let request_mac = [7u8; 32];
    let mut first = message(1);
    let mac1 = sign(&mut first, &k, Some(&request_mac), stamp);
    let unsigned = message(2);
    // The third message is signed over the second (unsigned) and itself.
    let mut third = message(3);
    let mut chained = unsigned.clone();
    chained.extend_from_slice(&third);
    let mut combined = chained.clone();
    sign_next(&mut combined, &k, mac1.as_ref(), now);
    third.extend_from_slice(&combined[chained.len()..]);
    // `sign_next` counted its record in the first header of the buffer: count it here.
    third[10..12].copy_from_slice(&[0, 1]);
    let first_at = 13;
    let v = verify_response(&k, &first, first_at, &request_mac, now).unwrap();
    assert_eq!(v.mac, mac1.as_ref());
    let v3 = verify_next(&k, &third, 13, v.mac, std::slice::from_ref(&unsigned), now).unwrap();
    assert_eq!(v3.mac.len(), 32);
    // Without the unsigned message, or with another prior MAC: BADSIG.
    assert!(matches!(
        verify_next(&k, &third, 13, v.mac, &[], now),
        Err(Failure::Unsigned {
            error: ERROR_BADSIG,
            ..
        })
    ));
    assert!(
        verify_next(
            &k,
            &third,
            13,
            &[0; 32],
            std::slice::from_ref(&unsigned),
            now
        )
        .is_err()
    );
    // Out of time: BADTIME.
    assert!(matches!(
        verify_next(
            &k,
            &third,
            13,
            v.mac,
            std::slice::from_ref(&unsigned),
            now + 1000
        ),
        Err(Failure::BadTime(_))
    ));
    // Another key: BADKEY.
    let other = key("other.example.", Algorithm::HmacSha256, &secret());
    assert!(matches!(
        verify_next(
            &other,
            &third,
            13,
            v.mac,
            std::slice::from_ref(&unsigned),
            now
        ),
        Err(Failure::Unsigned {
            error: ERROR_BADKEY,
            ..
        })
    ));
}

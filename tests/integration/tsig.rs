//! TSIG (RFC 8945) with the real binary. dig and kdig sign queries with a `[tsig.NAME]`
//! key and verify the signed answers, over UDP and TCP, truncated ones included; a wrong
//! secret gets NOTAUTH/BADSIG, an unknown key NOTAUTH/BADKEY, a stale signature
//! NOTAUTH/BADTIME. A query built and signed with hickory-proto's TSIG pieces (its
//! to-be-signed encoder, with ring's HMAC) is answered signed, checked the same way.
//! The dig and kdig tests say SKIPPED and pass when the tool is missing.

use crate::interop::installed;
use crate::util::{Fixture, REPLY_TIMEOUT, Run, Server, TcpClient, UdpClient};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::tsig::{
    TSIG, TsigAlgorithm, TsigError, make_tsig_record, message_tbs,
};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use std::process::Command;
use std::time::Duration;

/// The secret of both keys: the bytes 0 to 31 (that of `tests/data/tsig/`).
const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_SECRET: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
/// A query dig signed with `test-key.example.` long ago (`tests/data/tsig/README.md`).
const STALE_QUERY: &str = include_str!("../data/tsig/query-dig-hmac-sha256-old.hex");

/// The standard zones plus `big.example.com` (30 TXT records, more than 512 octets), and
/// two keys: `test-key.example.` (hmac-sha256, inline) and `sha512-key` (from a file).
fn signing_server() -> Server {
    let big: String = (1..=30)
        .map(|i| format!("big IN TXT \"record number {i} of a large RRset for truncation\"\n"))
        .collect();
    Fixture::standard()
        .append("example.com", &big)
        .file_mode("keys/sha512.key", &format!("{SECRET}\n"), 0o600)
        .tables(&format!(
            "[rrl]\nenabled = false\n\
             [tsig.\"test-key.example.\"]\nsecret = \"{SECRET}\"\n\
             [tsig.sha512-key]\nalgorithm = \"hmac-sha512\"\nsecret_file = \"keys/sha512.key\"\n"
        ))
        .start()
}

/// Runs a dig-like `tool` at `server` with `args`; its output.
fn run(tool: &str, server: &Server, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(tool);
    cmd.arg(format!("@{}", server.dns.ip()))
        .arg("-p")
        .arg(server.dns.port().to_string())
        .args(match tool {
            "kdig" => ["+retry=0", "+time=5"],
            _ => ["+tries=1", "+time=5"],
        })
        .args(args);
    let run = Run::bounded(cmd, dir.path(), Duration::from_secs(20));
    format!("{}{}", run.stdout, run.stderr)
}

/// True when the tool said the answer's TSIG did not verify (dig's and kdig's wordings).
fn unverified(out: &str) -> bool {
    [
        "Couldn't verify",
        "could not be validated",
        "failed to verify",
        "verify failure",
    ]
    .iter()
    .any(|w| out.contains(w))
}

/// The line of the TSIG pseudosection (dig and kdig print one record there).
fn tsig_line(out: &str) -> &str {
    let mut lines = out
        .lines()
        .skip_while(|l| !l.contains("TSIG PSEUDOSECTION"));
    lines.next();
    lines
        .find(|l| l.contains("TSIG"))
        .unwrap_or_else(|| panic!("no TSIG record in the answer:\n{out}"))
}

#[test]
fn dig_and_kdig_verify_the_signed_answers() {
    if !installed("dig") || !installed("kdig") {
        return;
    }
    let server = signing_server();
    let sha256 = format!("hmac-sha256:test-key.example.:{SECRET}");
    let sha512 = format!("hmac-sha512:sha512-key:{SECRET}");
    for (tool, key, transport) in [
        ("dig", &sha256, "+notcp"),
        ("dig", &sha256, "+tcp"),
        ("kdig", &sha512, "+notcp"),
        ("kdig", &sha512, "+tcp"),
    ] {
        let out = run(
            tool,
            &server,
            &["-y", key, transport, "www.example.com.", "A"],
        );
        let what = format!("{tool} {transport} {key}");
        assert!(!unverified(&out), "{what}:\n{out}");
        assert!(
            out.to_lowercase().contains("status: noerror"),
            "{what}:\n{out}"
        );
        assert!(out.contains("192.0.2.10"), "{what}:\n{out}");
        let line = tsig_line(&out);
        assert!(line.contains("NOERROR"), "{what}: {line}");
        let algorithm = key.split(':').next().unwrap();
        assert!(line.contains(&format!("{algorithm}.")), "{what}: {line}");
    }
}

#[test]
fn a_truncated_udp_answer_is_still_signed() {
    if !installed("dig") {
        return;
    }
    let server = signing_server();
    let key = format!("hmac-sha256:test-key.example.:{SECRET}");
    // +ignore: dig shows the truncated answer instead of retrying over TCP.
    let args = ["-y", &key, "+ignore", "+noedns", "big.example.com.", "TXT"];
    let out = run("dig", &server, &args);
    assert!(!unverified(&out), "{out}");
    assert!(out.contains("flags: qr aa tc"), "{out}");
    assert!(out.contains("ANSWER: 0"), "{out}");
    assert!(tsig_line(&out).contains("NOERROR"), "{out}");
    // Without +ignore, dig retries over TCP and gets all 30, signed.
    let out = run(
        "dig",
        &server,
        &["-y", &key, "+noedns", "big.example.com.", "TXT"],
    );
    assert!(!unverified(&out), "{out}");
    assert!(out.contains("ANSWER: 30"), "{out}");
}

#[test]
fn a_wrong_secret_gets_notauth_badsig() {
    if !installed("dig") {
        return;
    }
    let server = signing_server();
    let key = format!("hmac-sha256:test-key.example.:{OTHER_SECRET}");
    let out = run("dig", &server, &["-y", &key, "www.example.com.", "A"]);
    assert!(out.contains("status: NOTAUTH"), "{out}");
    assert!(out.contains("ANSWER: 0"), "{out}");
    assert!(!out.contains("192.0.2.10"), "{out}");
    // Unsigned (MAC size 0), the error in the record.
    let line = tsig_line(&out);
    assert!(
        line.contains(" 300 0 ") && line.contains("BADSIG"),
        "{line}"
    );
}

#[test]
fn an_unknown_key_gets_notauth_badkey() {
    if !installed("dig") {
        return;
    }
    let server = signing_server();
    // A name the server has no key for, and a name it has under another algorithm.
    for key in [
        format!("hmac-sha256:nobody.example.:{SECRET}"),
        format!("hmac-sha384:test-key.example.:{SECRET}"),
    ] {
        let out = run("dig", &server, &["-y", &key, "www.example.com.", "A"]);
        assert!(out.contains("status: NOTAUTH"), "{key}:\n{out}");
        let line = tsig_line(&out);
        assert!(
            line.contains(" 300 0 ") && line.contains("BADKEY"),
            "{key}: {line}"
        );
    }
}

/// A query for `name` signed at `time` with `test-key.example.`: hickory-proto encodes the
/// message and the TSIG variables, ring computes the HMAC. Returns it and its MAC.
fn hickory_signed_query(name: &str, time: u64) -> (Vec<u8>, Vec<u8>) {
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let key_name = Name::from_ascii("test-key.example.").unwrap();
    let stub = TSIG::new(
        TsigAlgorithm::HmacSha256,
        time,
        300,
        vec![],
        0x5151,
        None,
        vec![],
    );
    let tbs = message_tbs(&m, &stub, &key_name).unwrap();
    let mac = ring::hmac::sign(&hmac_key(), &tbs).as_ref().to_vec();
    m.signature = Some(Box::new(make_tsig_record(
        key_name,
        stub.set_mac(mac.clone()),
    )));
    (m.to_vec().unwrap(), mac)
}

fn hmac_key() -> ring::hmac::Key {
    let secret: Vec<u8> = (0u8..32).collect();
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret)
}

/// Checks the TSIG record ending `response` as the answer to a request whose MAC was
/// `request_mac` (RFC 8945 §4.3.1), with hickory-proto's encoding of the TSIG variables;
/// returns the record.
fn verify_answer(response: &[u8], request_mac: &[u8]) -> TSIG {
    let (name, tsig, encoded_len) = last_tsig(response);
    let mut unsigned = response[..response.len() - encoded_len].to_vec();
    let arcount = u16::from_be_bytes([unsigned[10], unsigned[11]]) - 1;
    unsigned[10..12].copy_from_slice(&arcount.to_be_bytes());
    let mut tbs = (request_mac.len() as u16).to_be_bytes().to_vec();
    tbs.extend_from_slice(request_mac);
    tbs.extend_from_slice(&unsigned);
    // A BinEncoder writes from the start of its buffer: the variables go in their own.
    let mut variables = Vec::new();
    tsig.emit_tsig_for_mac(&mut BinEncoder::new(&mut variables), &name)
        .unwrap();
    tbs.extend_from_slice(&variables);
    let want = ring::hmac::sign(&hmac_key(), &tbs);
    assert_eq!(tsig.mac, want.as_ref(), "the answer's MAC");
    tsig
}

/// The TSIG record ending `msg` as hickory-proto decodes it (without its DNSSEC feature
/// it is an additional record like others): key name, RDATA, encoded length.
fn last_tsig(msg: &[u8]) -> (Name, TSIG, usize) {
    let message = Message::from_vec(msg).expect("hickory-proto decodes the message");
    let record = message.additionals.last().expect("a TSIG record");
    let RData::TSIG(tsig) = &record.data else {
        panic!("the last record is no TSIG: {record:?}");
    };
    let mut encoded = Vec::new();
    record.emit(&mut BinEncoder::new(&mut encoded)).unwrap();
    (record.name.clone(), tsig.clone(), encoded.len())
}

/// The server's clock, as the answer to a signed query says it (its Time Signed): the
/// only clock these tests use.
fn server_time(server: &Server) -> u64 {
    let (query, mac) = hickory_signed_query("www.example.com.", 0);
    let udp = UdpClient::new(server.dns);
    udp.send(&query);
    let answer = udp.recv(REPLY_TIMEOUT).expect("an answer");
    let tsig = verify_answer(&answer, &mac);
    assert_eq!(tsig.error, Some(TsigError::BadTime));
    u64::from_be_bytes([
        0,
        0,
        tsig.other[0],
        tsig.other[1],
        tsig.other[2],
        tsig.other[3],
        tsig.other[4],
        tsig.other[5],
    ])
}

#[test]
fn a_hickory_signed_query_is_answered_signed_over_udp_and_tcp() {
    let server = signing_server();
    let now = server_time(&server);
    let (query, mac) = hickory_signed_query("www.example.com.", now);
    let udp = UdpClient::new(server.dns);
    udp.send(&query);
    let over_udp = udp.recv(REPLY_TIMEOUT).expect("an answer over UDP");
    let over_tcp = TcpClient::connect(server.dns)
        .and_then(|mut tcp| {
            tcp.send(&query)?;
            tcp.recv()
        })
        .expect("an answer over TCP");
    for (transport, answer) in [("UDP", over_udp), ("TCP", over_tcp)] {
        let tsig = verify_answer(&answer, &mac);
        assert_eq!(tsig.error, None, "{transport}");
        assert_eq!(tsig.oid, 0x5151, "{transport}");
        assert_eq!(answer[3] & 0x0F, 0, "{transport}: NOERROR");
        let m = Message::from_vec(&answer).unwrap();
        let addresses: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(m.additionals.len(), 1, "{transport}: the TSIG record alone");
        assert_eq!(addresses, ["192.0.2.10"], "{transport}");
    }
}

#[test]
fn a_stale_signature_gets_notauth_badtime_signed() {
    let server = signing_server();
    let query: Vec<u8> = (0..STALE_QUERY.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&STALE_QUERY[i..i + 2], 16).unwrap())
        .collect();
    let (_, request_tsig, _) = last_tsig(&query);
    let udp = UdpClient::new(server.dns);
    udp.send(&query);
    let answer = udp.recv(REPLY_TIMEOUT).expect("an answer");
    assert_eq!(answer[3] & 0x0F, 9, "NOTAUTH");
    // RFC 8945 §5.2.3: signed, with the request's time and fudge and the server's time.
    let tsig = verify_answer(&answer, &request_tsig.mac);
    assert_eq!(tsig.error, Some(TsigError::BadTime));
    assert_eq!(
        (tsig.time, tsig.fudge),
        (request_tsig.time, request_tsig.fudge)
    );
    assert_eq!(tsig.other.len(), 6);
    assert!(Message::from_vec(&answer).unwrap().answers.is_empty());
}

#[test]
fn check_refuses_a_secret_file_every_user_can_read() {
    let run = Fixture::standard()
        .file_mode("keys/open.key", &format!("{SECRET}\n"), 0o644)
        .tables("[rrl]\nenabled = false\n\n[tsig.xfr]\nsecret_file = \"keys/open.key\"\n")
        .check();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let config = run.dir().join("meridian.toml");
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("tsig.xfr.secret_file"))
        .unwrap_or_else(|| panic!("no error for the key file:\n{}", run.stderr));
    let text = std::fs::read_to_string(&config).unwrap();
    let at = text
        .lines()
        .position(|l| l.starts_with("secret_file"))
        .unwrap()
        + 1;
    assert!(
        line.starts_with(&format!("{}:{at}: ", config.display())),
        "{line}"
    );
    assert!(
        line.contains("readable or writable by every user (mode 0644)"),
        "{line}"
    );
}

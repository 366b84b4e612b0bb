//! DNS Cookies (RFC 7873, server cookies of RFC 9018) with hand-built COOKIE options:
//! fresh cookies, echo, a secret shared by two servers, rotation, BADCOOKIE, FORMERR, the
//! RRL exemption, and `dig +cookie` when dig is installed.

use crate::rrl::flood;
use crate::util::{Edns, Fixture, Query, Response, Run, Server, rcode};
use hickory_proto::rr::RecordType;
use std::process::Command;
use std::time::Duration;

const COOKIE: u16 = 10;
const BADCOOKIE: u16 = 23;
const SECRET_A: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const SECRET_B: &str = "445536bcd2513298075a5d379663c962";
const CLIENT: [u8; 8] = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];

/// A server with the standard zones whose cookie secret is `secret` (and `previous`).
fn server(secret: &str, previous: Option<&str>, rrl: bool) -> Server {
    let mut tables =
        format!("[rrl]\nenabled = {rrl}\n[cookies]\nsecret_file = \"cookie.secret\"\n");
    let mut f = Fixture::standard().file("cookie.secret", &format!("{secret}\n"));
    if let Some(old) = previous {
        tables.push_str("previous_secret_file = \"old.secret\"\n");
        f = f.file("old.secret", &format!("{old}\n"));
    }
    f.tables(&tables).start()
}

fn with_cookie(name: &str, cookie: &[u8]) -> Query {
    Query::new(name, RecordType::A).edns(Edns::new(1232).option(COOKIE, cookie.to_vec()))
}

fn cookie_of(r: &Response) -> Vec<u8> {
    r.opt
        .as_ref()
        .and_then(|o| o.option(COOKIE))
        .unwrap_or_else(|| panic!("no COOKIE in the response\n{r}"))
        .to_vec()
}

fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

/// Asks `server` with only a client cookie; returns the 24-byte cookie it sent back.
fn learn(server: &Server) -> Vec<u8> {
    let q = with_cookie("www.example.com.", &CLIENT);
    let r = server.query(&q);
    r.assert_answer(&q);
    cookie_of(&r)
}

#[test]
fn a_client_cookie_gets_an_rfc_9018_server_cookie_which_is_then_echoed() {
    let server = server(SECRET_A, None, false);
    let cookie = learn(&server);
    assert_eq!(cookie.len(), 24, "client cookie + 16-byte server cookie");
    assert_eq!(cookie[..8], CLIENT, "the client cookie is echoed");
    assert_eq!(cookie[8..12], [1, 0, 0, 0], "version 1, reserved 0");
    let stamp = u32::from_be_bytes(cookie[12..16].try_into().unwrap());
    assert!(stamp.abs_diff(now()) <= 5, "timestamp {stamp} is now");
    // Sent back, it is valid: answered, and echoed as it is (it is not old).
    let q = with_cookie("www.example.com.", &cookie);
    let r = server.query(&q);
    r.assert_answer(&q);
    assert_eq!(cookie_of(&r), cookie);
    // Over TCP too.
    let r = server.query_tcp(&q);
    r.assert_answer(&q);
    assert_eq!(cookie_of(&r), cookie);
}

#[test]
fn servers_sharing_a_secret_accept_each_others_cookies_and_rotation_keeps_old_ones() {
    let a = server(SECRET_A, None, false);
    let cookie = learn(&a);
    // Another server of the zone with the same secret: valid, echoed.
    let twin = server(SECRET_A, None, false);
    let q = with_cookie("www.example.com.", &cookie);
    let r = twin.query(&q);
    r.assert_answer(&q);
    assert_eq!(cookie_of(&r), cookie);
    // After a rotation (new secret, A's as the previous one): valid, and replaced by a
    // cookie made with the new secret, which that server then echoes.
    let rotated = server(SECRET_B, Some(SECRET_A), false);
    let r = rotated.query(&q);
    r.assert_answer(&q);
    let fresh = cookie_of(&r);
    assert_eq!(fresh[..8], CLIENT);
    assert_ne!(fresh, cookie, "a cookie of the old secret is replaced");
    let q2 = with_cookie("www.example.com.", &fresh);
    assert_eq!(cookie_of(&rotated.query(&q2)), fresh);
    // A server with another secret: BADCOOKIE over UDP, with a cookie to retry with.
    let stranger = server(SECRET_B, None, false);
    let r = stranger.query(&q);
    assert_eq!(r.rcode(), BADCOOKIE, "{r}");
    assert!(r.answers.is_empty(), "BADCOOKIE carries no answer\n{r}");
    let retry = cookie_of(&r);
    assert_eq!(retry[..8], CLIENT);
    let q3 = with_cookie("www.example.com.", &retry);
    stranger.query(&q3).assert_answer(&q3);
}

#[test]
fn invalid_cookies_get_badcookie_over_udp_an_answer_over_tcp_and_bad_lengths_formerr() {
    let server = server(SECRET_A, None, false);
    let mut cookie = learn(&server);
    cookie[23] ^= 1; // a forged hash
    let q = with_cookie("www.example.com.", &cookie);
    let r = server.query(&q);
    assert_eq!(r.rcode(), BADCOOKIE, "{r}");
    assert!(r.answers.is_empty());
    assert_ne!(cookie_of(&r), cookie, "a fresh cookie to retry with");
    // TCP proves the address: answered, with a fresh cookie.
    let r = server.query_tcp(&q);
    r.assert_answer(&q);
    assert_ne!(cookie_of(&r), cookie);
    // An expired one (stamped two hours ago, even if the hash were right) is refused too.
    let mut old = learn(&server);
    old[12..16].copy_from_slice(&(now() - 7200).to_be_bytes());
    assert_eq!(
        server.query(&with_cookie("www.example.com.", &old)).rcode(),
        BADCOOKIE
    );
    // Lengths RFC 7873 §5.2.2 calls malformed.
    for len in [7usize, 12, 41] {
        let r = server.query(&with_cookie("www.example.com.", &vec![1; len]));
        assert_eq!(r.rcode(), rcode::FORMERR, "COOKIE of {len} bytes\n{r}");
    }
    // A query without the option gets none back.
    let q = Query::new("www.example.com.", RecordType::A).edns(Edns::new(1232));
    let r = server.query(&q);
    assert!(r.opt.as_ref().unwrap().option(COOKIE).is_none(), "{r}");
}

#[test]
fn a_valid_server_cookie_exempts_a_client_from_rate_limiting() {
    let server = server(SECRET_A, None, true);
    let cookie = learn(&server);
    let queries: Vec<Query> = (0..300)
        .map(|_| with_cookie("www.example.com.", &cookie))
        .collect();
    let ids: Vec<u16> = queries.iter().map(|q| q.id).collect();
    let wire: Vec<Vec<u8>> = queries.iter().map(Query::to_wire).collect();
    // `flood` sends from a fresh socket: same address, and the cookie is bound to it.
    let f = flood(&server, &wire);
    assert_eq!(f.answered(&ids), 300, "a proven client is not limited");
    // The same flood with only a client cookie is limited.
    let queries: Vec<Query> = (0..300)
        .map(|_| with_cookie("www.example.com.", &CLIENT))
        .collect();
    let ids: Vec<u16> = queries.iter().map(|q| q.id).collect();
    let wire: Vec<Vec<u8>> = queries.iter().map(Query::to_wire).collect();
    let f = flood(&server, &wire);
    assert!(f.answered(&ids) <= 40, "{} answered", f.answered(&ids));
    // A slipped (truncated) reply still carries a server cookie to come back with.
    assert!(f.slipped(&ids) > 0);
    let slipped = ids.iter().filter_map(|id| f.replies.get(id)).find(|r| r.tc);
    assert_eq!(cookie_of(slipped.unwrap())[..8], CLIENT);
}

#[test]
fn dig_cookie_interoperates() {
    if Command::new("dig").arg("-v").output().is_err() {
        eprintln!("SKIPPED: dig is not installed (apt-get install bind9-dnsutils)");
        return;
    }
    let server = server(SECRET_A, None, false);
    let dig = |extra: &str| {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("dig");
        cmd.arg(format!("@{}", server.dns.ip()))
            .arg("-p")
            .arg(server.dns.port().to_string())
            .args(["www.example.com.", "A", "+norec", "+tries=1", "+time=5"])
            .arg(extra);
        let run = Run::bounded(cmd, dir.path(), Duration::from_secs(20));
        assert_eq!(run.status.code(), Some(0), "dig {extra}: {}", run.stderr);
        run.stdout
    };
    let out = dig("+cookie");
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("192.0.2.10"), "{out}");
    // dig checks that its client cookie came back and says "(good)".
    let line = out
        .lines()
        .find(|l| l.contains("COOKIE:"))
        .unwrap_or_else(|| panic!("no COOKIE in dig's output:\n{out}"));
    assert!(line.contains("(good)"), "{line}");
    let cookie = line
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert_eq!(cookie.len(), 48, "client + server cookie in hex: {line}");
    // dig sending the full cookie back: answered, and the same cookie echoed.
    let out = dig(&format!("+cookie={cookie}"));
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(
        out.contains(&cookie.to_lowercase()) || out.contains(&cookie),
        "{out}"
    );
    // A forged server cookie: BADCOOKIE, and dig retries with the fresh one it got.
    let forged = format!("{}0100000011111111aaaaaaaaaaaaaaaa", &cookie[..16]);
    let out = dig(&format!("+cookie={forged}"));
    assert!(out.contains("BADCOOKIE, retrying"), "{out}");
    assert!(out.contains("status: NOERROR"), "{out}");
}

#[test]
fn with_cookies_off_the_option_is_ignored() {
    let server = Fixture::standard()
        .tables("[rrl]\nenabled = false\n[cookies]\nenabled = false\n")
        .start();
    let mut bogus = CLIENT.to_vec();
    bogus.extend_from_slice(&[1, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8]);
    for cookie in [&CLIENT[..], &bogus[..]] {
        let q = with_cookie("www.example.com.", cookie);
        let r = server.query(&q);
        r.assert_answer(&q);
        assert!(r.opt.as_ref().unwrap().option(COOKIE).is_none(), "{r}");
    }
    assert!(
        !server.dir().join("cookie.secret").exists(),
        "no secret is made when cookies are off"
    );
}

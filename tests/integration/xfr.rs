//! Outgoing zone transfers with the real binary: a real NSD, and a real Knot, as the
//! secondary transfers
//! `example.com` (large enough for several TSIG-chained messages) and then answers every
//! static name as Meridian does; a reload that raises the serial sends NOTIFY, and NSD
//! transfers again and serves the change. dig transfers the zone with the allowed key
//! (load-balanced names as the static view, a drained region left out), and is refused
//! unsigned, from a source not allowed, and with an unknown key (NOTAUTH/BADKEY).
//! Says SKIPPED and passes where NSD, Knot or dig is missing (`.ci/run` installs them).

use crate::differential::nsd::{self, Nsd};
use crate::interop::installed;
use crate::util::{
    DEEP_EXAMPLE_COM, FLEET_TOKEN, Fixture, KNOTD, Query, REGIONS, Response, Run, Server,
    UdpClient, knot_log, sorted, start_knotd, wait_for,
};
use hickory_proto::rr::RecordType;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY: &str = "xfr-key.example.";

const SERVICES: &str = r#"
[services.lb]
ttl = 30
endpoints = [
  { region = "eu-west", address = "203.0.113.10" },
  { region = "eu-west", address = "2001:db8:e1::10" },
  { region = "us-east", address = "198.51.100.10" },
]
"#;

/// The standard zones with `lb.example.com` load-balanced, 1500 TXT records (about 150 KB:
/// more than one message), and `[transfer."example.com"]` for `KEY` from 127.0.0.1,
/// notifying `notify` (NSD's port) when given.
fn fixture(serial: u32, extra: &str, notify: Option<u16>) -> Fixture {
    let notify = notify.map_or(String::new(), |p| format!("notify = [\"127.0.0.1:{p}\"]\n"));
    let config = format!(
        "[server]\nregion = \"eu-west\"\ndns_listen = [\"127.0.0.1:0\"]\n\
         api_listen = \"127.0.0.1:0\"\nzones_dir = \"zones\"\nstate_dir = \"state\"\n\
         udp_workers = 1\n\n[fleet]\ntoken_file = \"fleet.token\"\nlocal_prober = false\n\n\
         {REGIONS}\n[rrl]\nenabled = false\n\
         [tsig.\"{KEY}\"]\nsecret = \"{SECRET}\"\n\
         [transfer.\"example.com\"]\nallow_keys = [\"{KEY}\"]\n\
         allow_networks = [\"127.0.0.1/32\"]\n{notify}\
         [transfer.\"deep.example.com\"]\nallow_keys = [\"{KEY}\"]\n{notify}"
    );
    Fixture::new()
        .zone("example.com", &zone(serial, extra))
        .zone("deep.example.com", DEEP_EXAMPLE_COM)
        .zone(
            "other.example.com",
            &DEEP_EXAMPLE_COM.replace("deep", "other"),
        )
        .config_text(&config)
        .file("fleet.token", &format!("{FLEET_TOKEN}\n"))
        .file("zones/example.com.toml", SERVICES)
}

/// `tests/data/zones/example.com.zone` with another serial, the bulk records and `extra`.
fn zone(serial: u32, extra: &str) -> String {
    let standard = include_str!("../data/zones/example.com.zone");
    let mut text = standard.replacen(
        "hostmaster.example.com. 1 7200",
        &format!("hostmaster.example.com. {serial} 7200"),
        1,
    );
    assert_ne!(
        text, standard,
        "the fixture's SOA changed; update this test"
    );
    for i in 0..1500 {
        text.push_str(&format!(
            "bulk{i} IN TXT \"bulk record {i} of a zone that needs several transfer messages\"\n"
        ));
    }
    text.push_str(extra);
    text
}

/// Runs dig at `server` with `args`; its stdout and stderr.
fn dig(server: &Server, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("dig");
    cmd.arg(format!("@{}", server.dns.ip()))
        .arg("-p")
        .arg(server.dns.port().to_string())
        .args(["+tries=1", "+time=5"])
        .args(args);
    let run = Run::bounded(cmd, dir.path(), Duration::from_secs(30));
    format!("{}{}", run.stdout, run.stderr)
}

/// The records of a dig transfer's output (comments and TSIG left out), one per line as
/// dig prints them, in the order received.
fn records(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty() && !l.contains("\tTSIG\t"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// dig's option to sign with `KEY`.
fn key_arg() -> String {
    format!("-yhmac-sha256:{KEY}:{SECRET}")
}

#[test]
fn dig_transfers_with_the_allowed_key_and_is_refused_otherwise() {
    if !installed("dig") {
        return;
    }
    let server = fixture(7, "", None).start();
    let key = key_arg();
    let out = dig(&server, &["example.com.", "AXFR", &key]);
    assert!(!out.contains("failed"), "{out}");
    assert!(out.contains("XFR size"), "{out}");
    // dig checks every message's TSIG and only warns when one does not verify.
    assert!(!out.contains("Couldn't verify"), "{out}");
    assert!(!out.contains("could not be validated"), "{out}");
    let got = records(&out);
    let soa =
        "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 7 7200 3600 1209600 300";
    assert_eq!(got.first().map(String::as_str), Some(soa), "{out}");
    assert_eq!(got.last().map(String::as_str), Some(soa), "{out}");
    assert_eq!(got.iter().filter(|r| r.contains(" SOA ")).count(), 2);
    // Several messages, each signed, chained on the one before (dig checks every one).
    let messages: usize = out
        .lines()
        .find_map(|l| l.split("messages ").nth(1))
        .and_then(|m| m.split(',').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no message count in {out}"));
    assert!(messages >= 2, "one message only: {out}");
    for want in [
        "www.example.com. 3600 IN A 192.0.2.10",
        "alias.example.com. 3600 IN CNAME www.example.com.",
        "*.wild.example.com. 3600 IN A 192.0.2.40",
        "ns.sub.example.com. 3600 IN A 192.0.2.50",
        "bulk1499.example.com. 3600 IN TXT \"bulk record 1499 of a zone that needs several transfer messages\"",
    ] {
        assert!(
            got.iter().any(|r| r == want),
            "{want} missing from {got:#?}"
        );
    }
    // deep.example.com's own records are its zone's, not this one's.
    assert!(
        !got.iter()
            .any(|r| r.starts_with("deep.example.com. ") && r.contains(" SOA "))
    );
    // The load-balanced name: every endpoint (none is checked, so all are up), TTL 30.
    let lb: BTreeSet<&str> = got
        .iter()
        .filter(|r| r.starts_with("lb.example.com. "))
        .map(String::as_str)
        .collect();
    let all = BTreeSet::from([
        "lb.example.com. 30 IN A 198.51.100.10",
        "lb.example.com. 30 IN A 203.0.113.10",
        "lb.example.com. 30 IN AAAA 2001:db8:e1::10",
    ]);
    assert_eq!(lb, all);
    // A drained region's endpoints leave the static view.
    let r = server.post("/v1/regions/us-east/drain", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let out = dig(&server, &["example.com.", "AXFR", &key]);
    let lb: BTreeSet<String> = records(&out)
        .into_iter()
        .filter(|r| r.starts_with("lb.example.com. "))
        .collect();
    assert_eq!(
        lb,
        BTreeSet::from([
            "lb.example.com. 30 IN A 203.0.113.10".to_string(),
            "lb.example.com. 30 IN AAAA 2001:db8:e1::10".to_string(),
        ])
    );
    // IXFR with our own serial: up to date, the SOA alone; with an older one, the whole zone.
    let out = dig(&server, &["example.com.", "IXFR=7", &key]);
    assert_eq!(records(&out), [soa], "{out}");
    let out = dig(&server, &["example.com.", "IXFR=6", &key]);
    assert!(records(&out).len() > 1500, "{out}");

    // Unsigned, and signed from a source the zone does not allow: REFUSED.
    let out = dig(&server, &["example.com.", "AXFR", "+comments"]);
    assert!(out.contains("status: REFUSED"), "{out}");
    assert!(records(&out).is_empty(), "{out}");
    let out = dig(
        &server,
        &["example.com.", "AXFR", "-b", "127.0.0.3", &key, "+comments"],
    );
    assert!(out.contains("status: REFUSED"), "{out}");
    assert!(records(&out).is_empty(), "{out}");
    // An unknown key: NOTAUTH with BADKEY.
    let bad = format!("-yhmac-sha256:other-key:{SECRET}");
    let out = dig(&server, &["example.com.", "AXFR", &bad, "+comments"]);
    assert!(out.contains("BADKEY"), "{out}");
    assert!(records(&out).is_empty(), "{out}");
    // A zone without a [transfer] table, even with the key: REFUSED.
    let out = dig(&server, &["other.example.com.", "AXFR", &key, "+comments"]);
    assert!(out.contains("status: REFUSED"), "{out}");
    // Over UDP a transfer is never served.
    let r = server.query(&Query::new("example.com.", RecordType::AXFR));
    assert_eq!(r.rcode(), 5);
}

/// IXFR from the journal: after reloads that change `deep.example.com` (no load-balanced
/// names), a client at an older serial gets the differences since (RFC 1995 §4), one
/// sequence per reload; a serial the journal does not know gets the whole zone.
#[test]
fn ixfr_sends_the_differences_of_recent_reloads() {
    if !installed("dig") {
        return;
    }
    let server = fixture(7, "", None).start();
    let key = key_arg();
    let deep = |serial: u32, extra: &str| {
        let text = DEEP_EXAMPLE_COM.replace(
            "deep.example.com. 7 7200",
            &format!("deep.example.com. {serial} 7200"),
        );
        assert_ne!(
            text, DEEP_EXAMPLE_COM,
            "the fixture's SOA changed; update this test"
        );
        text.replace("www            IN A   192.0.2.61\n", "") + extra
    };
    let soa = |serial: u32| {
        format!(
            "deep.example.com. 60 IN SOA ns1.deep.example.com. hostmaster.deep.example.com. {serial} 7200 3600 1209600 300"
        )
    };
    let path = server.dir().join("zones/deep.example.com.zone");
    let reload = |text: String, serial: u32| {
        std::fs::write(&path, text).unwrap();
        let r = server.post("/v1/reload", None);
        assert_eq!(r.status, 200, "{}", r.body);
        wait_for("the reload", Duration::from_secs(5), || {
            let r = server.query(&Query::new("deep.example.com.", RecordType::SOA));
            r.answers
                .first()
                .filter(|a| a.text().contains(&format!(" {serial} 7200 ")))
                .map(|_| ())
        });
    };
    // 7 → 8: www removed, new1 added; 8 → 9: new2 added.
    reload(deep(8, "new1 IN A 192.0.2.71\n"), 8);
    reload(deep(9, "new1 IN A 192.0.2.71\nnew2 IN TXT \"two\"\n"), 9);
    let out = dig(&server, &["deep.example.com.", "IXFR=7", &key]);
    assert!(!out.contains("failed"), "{out}");
    assert!(!out.contains("Couldn't verify"), "{out}");
    assert_eq!(
        records(&out),
        [
            soa(9),
            soa(7),
            "www.deep.example.com. 3600 IN A 192.0.2.61".to_string(),
            soa(8),
            "new1.deep.example.com. 3600 IN A 192.0.2.71".to_string(),
            soa(8),
            soa(9),
            "new2.deep.example.com. 3600 IN TXT \"two\"".to_string(),
            soa(9),
        ],
        "{out}"
    );
    let out = dig(&server, &["deep.example.com.", "IXFR=8", &key]);
    assert_eq!(
        records(&out),
        [
            soa(9),
            soa(8),
            soa(9),
            "new2.deep.example.com. 3600 IN TXT \"two\"".to_string(),
            soa(9),
        ],
        "{out}"
    );
    // A serial from before the journal: the whole zone, AXFR-style.
    let out = dig(&server, &["deep.example.com.", "IXFR=3", &key]);
    let got = records(&out);
    assert_eq!(got.first(), Some(&soa(9)), "{out}");
    assert_eq!(got.last(), Some(&soa(9)), "{out}");
    assert_eq!(got.len(), 6, "{out}");
    // A reload without a serial change keeps the journal.
    reload(deep(9, "new1 IN A 192.0.2.71\nnew2 IN TXT \"two\"\n"), 9);
    let out = dig(&server, &["deep.example.com.", "IXFR=8", &key]);
    assert_eq!(records(&out).len(), 5, "{out}");
}

/// The (name, type) of every record Meridian transfers of `example.com`, but those at or
/// below a cut and the load-balanced name, and of `deep.example.com`.
fn static_rrsets(server: &Server) -> BTreeSet<(String, RecordType)> {
    let out = dig(server, &["example.com.", "AXFR", &key_arg()]);
    let cuts = ["sub.example.com.", "deep.example.com."];
    let child = dig(server, &["deep.example.com.", "AXFR", &key_arg()]);
    let child: Vec<String> = records(&child).into_iter().skip(1).collect();
    assert!(child.len() >= 3, "{child:?}");
    records(&out)
        .iter()
        .filter_map(|r| {
            let mut f = r.split(' ');
            let name = f.next()?.to_string();
            let rtype: RecordType = f.nth(2)?.parse().ok()?;
            let below_cut = cuts
                .iter()
                .any(|c| name == *c || name.ends_with(&format!(".{c}")));
            (!below_cut && name != "lb.example.com.").then_some((name, rtype))
        })
        .chain(child.iter().filter_map(|r| {
            let mut f = r.split(' ');
            let name = f.next()?.to_string();
            Some((name, f.nth(2)?.parse().ok()?))
        }))
        .collect()
}

/// The records of `rtype` owned by `name` in the answer, sorted, and the rcode.
fn rrset(client: &UdpClient, name: &str, rtype: RecordType) -> (u16, Vec<String>) {
    let r: Response = client.exchange(&Query::new(name, rtype));
    let texts: Vec<String> = r
        .answers
        .iter()
        .filter(|a| a.is(name, rtype))
        .map(|a| a.text())
        .collect();
    (r.rcode(), sorted(&texts))
}

#[test]
fn nsd_as_secondary_transfers_with_tsig_serves_the_same_and_follows_notify() {
    if !nsd::installed() || !installed("dig") {
        return;
    }
    secondary_follows(|port, primary| {
        let conf = format!(
            "key:\n  name: \"{KEY}\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n\
             zone:\n  name: \"example.com\"\n  request-xfr: AXFR {0}@{1} {KEY}\n  \
             allow-notify: 127.0.0.1 {KEY}\n\
             zone:\n  name: \"deep.example.com\"\n  request-xfr: {0}@{1} {KEY}\n  \
             allow-notify: 127.0.0.1 {KEY}\n",
            primary.ip(),
            primary.port()
        );
        let nsd = Nsd::start_with(port, 1232, &conf, &[], "example.com.");
        (nsd.addr, Box::new(nsd))
    });
}

#[test]
fn knot_as_secondary_transfers_with_tsig_serves_the_same_and_follows_notify() {
    if !Path::new(KNOTD).exists() {
        eprintln!("SKIPPED: {KNOTD} is not installed (.ci/run installs Debian's knot)");
        return;
    }
    if !installed("dig") {
        return;
    }
    secondary_follows(|port, primary| {
        let knot = Knot::start(port, primary);
        (knot.addr, Box::new(knot))
    });
}

/// A secondary started by `start(port, primary)` (on 127.0.0.1:`port`, transferring from
/// Meridian at `primary` with `KEY`, accepting its NOTIFY signed with `KEY`) transfers the
/// zone, answers every static RRset as Meridian does, gives the load-balanced name as the
/// static view, and after a reload that raises the serial, serves the change (NOTIFY: its
/// own refresh timer, 7200 s, is far off).
fn secondary_follows(start: impl FnOnce(u16, SocketAddr) -> (SocketAddr, Box<dyn std::any::Any>)) {
    let port = nsd::free_port();
    let mut server = fixture(10, "", Some(port)).start();
    let (addr, secondary) = start(port, server.dns);
    let ours = UdpClient::new(server.dns);
    let theirs = UdpClient::new(addr);
    let serial = |c: &UdpClient| {
        let r = c.exchange(&Query::new("example.com.", RecordType::SOA));
        r.answers.first().map(|a| a.text())
    };
    let deep_serial = |c: &UdpClient| {
        let r = c.exchange(&Query::new("deep.example.com.", RecordType::SOA));
        r.answers.first().map(|a| a.text())
    };
    wait_for(
        "the secondary's first transfer",
        Duration::from_secs(20),
        || serial(&theirs).filter(|s| s.contains(" 10 7200 ")),
    );
    wait_for(
        "the first transfer of deep",
        Duration::from_secs(20),
        || deep_serial(&theirs).filter(|s| s.contains(" 7 7200 ")),
    );

    let rrsets = static_rrsets(&server);
    assert!(rrsets.len() > 1500, "{rrsets:?}");
    for (name, rtype) in &rrsets {
        let a = rrset(&ours, name, *rtype);
        let b = rrset(&theirs, name, *rtype);
        assert_eq!(a, b, "{name} {rtype}: Meridian, then the secondary");
        assert!(!a.1.is_empty(), "{name} {rtype}: no records");
    }
    // The load-balanced name, as the static view: every endpoint of its family.
    let (rcode, a) = rrset(&theirs, "lb.example.com.", RecordType::A);
    assert_eq!(rcode, 0);
    assert_eq!(
        a,
        [
            "lb.example.com. 30 A 198.51.100.10",
            "lb.example.com. 30 A 203.0.113.10"
        ]
    );

    let new_zone = zone(11, "added IN TXT \"after the reload\"\n");
    std::fs::write(server.dir().join("zones/example.com.zone"), new_zone).unwrap();
    // deep.example.com (no load-balanced names) goes as an IXFR of the difference.
    let new_deep = DEEP_EXAMPLE_COM.replace("deep.example.com. 7 7200", "deep.example.com. 8 7200")
        + "later IN A 192.0.2.62\n";
    std::fs::write(server.dir().join("zones/deep.example.com.zone"), new_deep).unwrap();
    // SAFETY: kill(2) on the server we started, by its PID.
    let rc = unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) };
    assert_eq!(rc, 0);
    wait_for(
        "the secondary's transfer after NOTIFY",
        Duration::from_secs(20),
        || serial(&theirs).filter(|s| s.contains(" 11 7200 ")),
    );
    wait_for(
        "the IXFR of deep after NOTIFY",
        Duration::from_secs(20),
        || deep_serial(&theirs).filter(|s| s.contains(" 8 7200 ")),
    );
    let later = rrset(&theirs, "later.deep.example.com.", RecordType::A);
    assert_eq!(
        later,
        rrset(&ours, "later.deep.example.com.", RecordType::A)
    );
    assert_eq!(later.1, ["later.deep.example.com. 3600 A 192.0.2.62"]);
    let www = rrset(&theirs, "www.deep.example.com.", RecordType::A);
    assert_eq!(www.1, ["www.deep.example.com. 3600 A 192.0.2.61"]);
    assert!(
        server.stderr().contains("IXFR begins zone=deep.example.com. peer=127.0.0.1 key=\"xfr-key.example.\" serial=8 up_to_date=false incremental=true"),
        "{}",
        server.stderr()
    );
    let added = rrset(&theirs, "added.example.com.", RecordType::TXT);
    assert_eq!(added, rrset(&ours, "added.example.com.", RecordType::TXT));
    assert_eq!(
        added.1,
        ["added.example.com. 3600 TXT \"after the reload\""]
    );
    assert!(
        server.stderr().contains("NOTIFY answered"),
        "{}",
        server.stderr()
    );
    server.assert_alive();
    drop(secondary);
}

/// A real Knot DNS on loopback as a secondary of Meridian, in the foreground as our child,
/// with its files in a scratch dir; stopped by PID on drop.
struct Knot {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Knot {
    fn start(port: u16, primary: SocketAddr) -> Knot {
        let dir = tempfile::Builder::new()
            .prefix("meridian-knot-")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        let conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: \"{d}\"\n\
             log:\n  - target: stderr\n    any: info\n\
             database:\n    storage: \"{d}\"\n\
             control:\n    listen: \"{d}/knot.sock\"\n\
             key:\n  - id: {KEY}\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
             remote:\n  - id: meridian\n    address: {}@{}\n    key: {KEY}\n\
             acl:\n  - id: notify\n    address: 127.0.0.1\n    key: {KEY}\n    action: notify\n\
             template:\n  - id: default\n    storage: \"{d}\"\n\
             zone:\n  - domain: example.com\n    master: meridian\n    acl: notify\n  - domain: deep.example.com\n    master: meridian\n    acl: notify\n",
            primary.ip(),
            primary.port()
        );
        std::fs::write(dir.path().join("knot.conf"), conf).unwrap();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let child = start_knotd(dir.path(), addr, "example.com.");
        Knot { child, addr, dir }
    }

    fn log(&self) -> String {
        knot_log(self.dir.path())
    }
}

impl Drop for Knot {
    /// SIGTERM to knotd (our child, by PID); SIGKILL if it has not exited in time.
    fn drop(&mut self) {
        crate::util::terminate(&mut self.child);
        if std::thread::panicking() {
            eprintln!("--- knotd ---\n{}", self.log());
        }
    }
}

/// At start-up each zone's secondaries get a NOTIFY (opcode 4, the zone's SOA in question
/// and answer, signed with the zone's key); an unanswered one is sent again, and the
/// answer to the retry is logged.
#[test]
fn notify_is_sent_at_start_signed_and_sent_again_until_answered() {
    use hickory_proto::op::{Message, OpCode};
    let secondary = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = secondary.local_addr().unwrap().port();
    let server = fixture(12, "", Some(port)).start();
    secondary
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut receive = || {
        let (len, from) = secondary.recv_from(&mut buf).expect("a NOTIFY");
        (
            Message::from_vec(&buf[..len]).expect("a DNS message"),
            from,
            buf[..len].to_vec(),
        )
    };
    // deep.example.com is notified too; look at example.com's.
    let (first, from) = loop {
        let (m, from, _) = receive();
        if m.queries[0].name().to_ascii() == "example.com." {
            break (m, from);
        }
    };
    assert_eq!(first.metadata.op_code, OpCode::Notify);
    assert!(first.metadata.authoritative);
    assert_eq!(first.queries[0].query_type(), RecordType::SOA);
    let hickory_proto::rr::RData::SOA(soa) = &first.answers[0].data else {
        panic!("no SOA in the answer: {first:?}");
    };
    assert_eq!(soa.serial, 12);
    let signed = first
        .signature
        .as_ref()
        .map(|r| r.name.to_ascii())
        .or_else(|| {
            let last = first.additionals.last()?;
            (last.record_type() == RecordType::TSIG).then(|| last.name.to_ascii())
        });
    assert_eq!(
        signed.as_deref(),
        Some(KEY),
        "signed with the zone's key: {first:?}"
    );
    // Not answered: the same NOTIFY comes again, and its answer is taken.
    let (again, raw) = loop {
        let (m, f, raw) = receive();
        if f == from && m.queries[0].name().to_ascii() == "example.com." {
            break (m, raw);
        }
    };
    assert_eq!(again.metadata.id, first.metadata.id);
    let mut reply = raw.clone();
    reply[2] |= 0x80; // QR
    let question_end = 12 + 13 + 4;
    reply.truncate(question_end);
    reply[6..12].fill(0);
    secondary.send_to(&reply, from).unwrap();
    wait_for("the answer logged", Duration::from_secs(5), || {
        server
            .stderr()
            .lines()
            .any(|l| {
                l.contains("NOTIFY answered")
                    && l.contains("zone=\"example.com.\"")
                    && l.contains("tries=2")
            })
            .then_some(())
    });
}

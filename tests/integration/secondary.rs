//! Meridian as a secondary, with a real Knot DNS as the hidden primary on loopback: the
//! zone comes by AXFR with TSIG and is answered like the primary answers it; a change at
//! the primary and its NOTIFY are followed by IXFR (from Knot's journal); a restart with
//! the primary stopped answers from `state_dir`; the copy expires per the SOA (SERVFAIL);
//! a wrong TSIG secret is refused and the old copy kept; a load-balanced name of
//! `zones/<origin>.toml` is Meridian's own in the pulled zone; the pulled zone is
//! transferred onward. NSD as the primary answers IXFR with the whole zone, which is taken as
//! such. A fake primary sends bad transfers (cut short, malformed, failing the zone checks):
//! each is refused and the old copy kept. Says SKIPPED and passes where knotd or nsd is missing.

use crate::differential::nsd::{Nsd, free_port};
use crate::util::{
    FLEET_TOKEN, Fixture, KNOTD, Query, REGIONS, Run, Server, UdpClient, knot_log, rcode, sorted,
    start_knotd, wait_for,
};
use hickory_proto::rr::RecordType;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const KNOTC: &str = "/usr/sbin/knotc";
const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const WRONG_SECRET: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
const KEY: &str = "secondary-key.example.";
/// How long a change may take to arrive (generous: transfers take milliseconds).
const FOLLOW: Duration = Duration::from_secs(30);

fn knot_installed() -> bool {
    let found = Path::new(KNOTD).exists() && Path::new(KNOTC).exists();
    if !found {
        eprintln!("SKIPPED: {KNOTD} is not installed (.ci/run installs Debian's knot)");
    }
    found
}

/// `example.net` at the primary: serial, SOA refresh and expire, and `extra` lines. `lb`
/// has a static address there; Meridian's services file decides it instead.
fn zone(serial: u32, refresh: u32, expire: u32, extra: &str) -> String {
    format!(
        "$ORIGIN example.net.\n$TTL 3600\n\
         @ IN SOA ns1.example.net. hostmaster.example.net. {serial} {refresh} 1 {expire} 300\n\
         @ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\nwww AAAA 2001:db8::10\n\
         @ MX 10 mail\nmail A 192.0.2.11\ntxt TXT \"pulled from the primary\"\n\
         alias CNAME www\nlb A 192.0.2.99\nsub NS ns.sub\nns.sub A 192.0.2.50\n\
         *.wild A 192.0.2.40\n{extra}"
    )
}

/// A real Knot DNS serving `example.net` on 127.0.0.1:`port` as a primary: transfers
/// allowed with `KEY` from 127.0.0.1, NOTIFY (signed with `KEY`) to `notify`, IXFR from
/// its journal of zone-file changes. Its own child, stopped by PID on drop.
struct KnotPrimary {
    child: Option<Child>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl KnotPrimary {
    fn start(port: u16, notify: u16, zone_text: &str) -> KnotPrimary {
        let dir = tempfile::Builder::new()
            .prefix("meridian-knot-primary-")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        let conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: \"{d}\"\n\
             log:\n  - target: stderr\n    any: info\n\
             database:\n    storage: \"{d}\"\n\
             control:\n    listen: \"{d}/knot.sock\"\n\
             key:\n  - id: {KEY}\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
             remote:\n  - id: meridian\n    address: 127.0.0.1@{notify}\n    key: {KEY}\n\
             acl:\n  - id: xfr\n    address: 127.0.0.1\n    key: {KEY}\n    action: transfer\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    \
             zonefile-load: difference\n    journal-content: changes\n\
             zone:\n  - domain: example.net\n    file: \"{d}/example.net.zone\"\n    \
             notify: meridian\n    acl: xfr\n"
        );
        std::fs::write(dir.path().join("knot.conf"), conf).unwrap();
        std::fs::write(dir.path().join("example.net.zone"), zone_text).unwrap();
        let mut knot = KnotPrimary {
            child: None,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        knot.run();
        knot
    }

    /// Starts knotd on its files and waits until it answers for the zone.
    fn run(&mut self) {
        self.child = Some(start_knotd(self.dir.path(), self.addr, "example.net."));
    }

    /// Stops knotd (SIGTERM by PID, then SIGKILL); its files stay for [`KnotPrimary::run`].
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::util::terminate(&mut child);
        }
    }

    /// Writes a new zone file and has Knot load it (it then sends NOTIFY).
    fn change(&self, zone_text: &str) {
        std::fs::write(self.dir.path().join("example.net.zone"), zone_text).unwrap();
        let mut cmd = Command::new(KNOTC);
        cmd.arg("-c")
            .arg(self.dir.path().join("knot.conf"))
            .args(["zone-reload", "example.net"]);
        let run = Run::bounded(cmd, self.dir.path(), Duration::from_secs(20));
        assert!(
            run.stdout.contains("OK") || run.stderr.is_empty(),
            "knotc: {} {}\n{}",
            run.stdout,
            run.stderr,
            self.log()
        );
    }

    fn log(&self) -> String {
        knot_log(self.dir.path())
    }
}

impl Drop for KnotPrimary {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- knotd (primary) ---\n{}", self.log());
        }
    }
}

/// Meridian on 127.0.0.1:`port` (fixed, so Knot can be told where to NOTIFY), secondary
/// for `example.net` from `primary` with `KEY` (`secret`), no zone file of its own,
/// `lb.example.net` load-balanced, and the zone transferable onward with `KEY`.
fn fixture(port: u16, primary: SocketAddr, secret: &str) -> Fixture {
    Fixture::new()
        .config_text(&config(port, primary, secret))
        .file("fleet.token", &format!("{FLEET_TOKEN}\n"))
        .file(
            "zones/example.net.toml",
            "[services.lb]\nttl = 30\nendpoints = [\n  { region = \"eu-west\", address = \"203.0.113.10\" },\n]\n",
        )
}

fn config(port: u16, primary: SocketAddr, secret: &str) -> String {
    format!(
        "[server]\nregion = \"eu-west\"\ndns_listen = [\"127.0.0.1:{port}\"]\n\
         api_listen = \"127.0.0.1:0\"\nzones_dir = \"zones\"\nstate_dir = \"state\"\n\
         udp_workers = 1\n\n[fleet]\ntoken_file = \"fleet.token\"\nlocal_prober = false\n\n\
         {REGIONS}\n[rrl]\nenabled = false\n\
         [tsig.\"{KEY}\"]\nsecret = \"{secret}\"\n\
         [secondary.\"example.net\"]\nprimaries = [\"{primary}\"]\nkey = \"{KEY}\"\n\
         [transfer.\"example.net\"]\nallow_keys = [\"{KEY}\"]\n"
    )
}

/// The serial of `example.net` as `client`'s server answers it, or its rcode.
fn serial(client: &UdpClient) -> Result<u32, u16> {
    let r = client.exchange(&Query::new("example.net.", RecordType::SOA));
    match r.answers.first().map(|a| &a.data) {
        Some(crate::util::Rdata::Soa(soa)) => Ok(soa.serial),
        _ => Err(r.rcode()),
    }
}

/// The rcode and sorted records of `name` `rtype`.
fn rrset(client: &UdpClient, name: &str, rtype: RecordType) -> (u16, Vec<String>) {
    let r = client.exchange(&Query::new(name, rtype));
    let texts: Vec<String> = r.answers.iter().map(|a| a.text()).collect();
    (r.rcode(), sorted(&texts))
}

/// Names of the zone asked of both servers; `lb` apart (ours is load-balanced).
const NAMES: &[(&str, RecordType)] = &[
    ("example.net.", RecordType::SOA),
    ("example.net.", RecordType::NS),
    ("example.net.", RecordType::MX),
    ("www.example.net.", RecordType::A),
    ("www.example.net.", RecordType::AAAA),
    ("txt.example.net.", RecordType::TXT),
    ("alias.example.net.", RecordType::A),
    ("x.wild.example.net.", RecordType::A),
    ("missing.example.net.", RecordType::A),
    ("www.example.net.", RecordType::TXT),
];

fn wait_serial(client: &UdpClient, want: u32, what: &str, server: &Server) {
    let deadline = Instant::now() + FOLLOW;
    loop {
        let got = serial(client);
        if got == Ok(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: serial {got:?}, not {want}\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn meridian_as_secondary_of_knot_transfers_follows_notify_survives_restart_and_expires() {
    if !knot_installed() {
        return;
    }
    let (knot_port, our_port) = (free_port(), free_port());
    let mut knot = KnotPrimary::start(
        knot_port,
        our_port,
        &zone(1, 3600, 3600, "old A 192.0.2.20\n"),
    );
    let server = fixture(our_port, knot.addr, SECRET).start();
    let ours = UdpClient::new(server.dns);
    let theirs = UdpClient::new(knot.addr);

    // The first transfer (AXFR: no copy yet), then every name answered as Knot does.
    wait_serial(&ours, 1, "the first transfer", &server);
    for (name, rtype) in NAMES {
        assert_eq!(
            rrset(&ours, name, *rtype),
            rrset(&theirs, name, *rtype),
            "{name} {rtype}: Meridian, then Knot"
        );
    }
    assert_eq!(
        rrset(&ours, "missing.example.net.", RecordType::A).0,
        rcode::NXDOMAIN
    );
    assert!(
        server.stderr().contains("AXFR done: whole zone"),
        "{}",
        server.stderr()
    );
    // The load-balanced name is Meridian's: the service's endpoint, not the primary's A.
    let (rc, lb) = rrset(&ours, "lb.example.net.", RecordType::A);
    assert_eq!(
        (rc, lb),
        (0, vec!["lb.example.net. 30 A 203.0.113.10".to_string()])
    );
    assert_eq!(
        rrset(&theirs, "lb.example.net.", RecordType::A).1,
        ["lb.example.net. 3600 A 192.0.2.99"]
    );
    // /v1/status has the zone's copy and when it was refreshed.
    let status = server.status();
    let copy = &status["secondaries"][0];
    assert_eq!(copy["zone"], "example.net.", "{status}");
    assert_eq!(copy["state"], "serving", "{status}");
    assert_eq!(copy["serial"], 1, "{status}");
    assert!(
        copy["refreshed"]
            .as_u64()
            .is_some_and(|r| r > 1_700_000_000),
        "{status}"
    );
    // A name outside every zone is still REFUSED.
    assert_eq!(
        rrset(&ours, "example.org.", RecordType::A).0,
        rcode::REFUSED
    );

    // A change at the primary: its NOTIFY (the refresh timer is an hour off) brings it,
    // as an IXFR of the difference from Knot's journal.
    knot.change(&zone(2, 3600, 3600, "new TXT \"after the change\"\n"));
    wait_serial(&ours, 2, "the IXFR after NOTIFY", &server);
    let log = server.stderr();
    assert!(log.contains("NOTIFY taken"), "{log}");
    assert!(log.contains("IXFR done: 1 changes"), "{log}");
    assert_eq!(
        rrset(&ours, "new.example.net.", RecordType::TXT).1,
        ["new.example.net. 3600 TXT \"after the change\""]
    );
    assert_eq!(
        rrset(&ours, "old.example.net.", RecordType::A).0,
        rcode::NXDOMAIN
    );
    for (name, rtype) in NAMES {
        assert_eq!(
            rrset(&ours, name, *rtype),
            rrset(&theirs, name, *rtype),
            "{name} {rtype}"
        );
    }

    // The pulled zone goes onward to our own secondaries, as a zone file's would.
    if crate::interop::installed("dig") {
        let mut cmd = Command::new("dig");
        cmd.args([
            "@127.0.0.1",
            "-p",
            &our_port.to_string(),
            "example.net.",
            "AXFR",
        ])
        .arg(format!("-yhmac-sha256:{KEY}:{SECRET}"));
        let run = Run::bounded(cmd, server.dir(), Duration::from_secs(20));
        assert!(run.stdout.contains("new.example.net."), "{}", run.stdout);
        let records: Vec<String> = run
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert!(
            records
                .iter()
                .any(|r| r == "lb.example.net. 30 IN A 203.0.113.10"),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains("192.0.2.99"), "{}", run.stdout);
    }

    // Restarted with the primary gone: the copy in state_dir answers at once.
    knot.stop();
    let dir = server.stop();
    assert!(
        dir.path()
            .join("state/secondary/example.net.zone")
            .is_file()
    );
    let mut server = Server::start_in(dir, None);
    let ours = UdpClient::new(server.dns);
    assert_eq!(serial(&ours), Ok(2));
    assert_eq!(
        rrset(&ours, "new.example.net.", RecordType::TXT).1,
        ["new.example.net. 3600 TXT \"after the change\""]
    );
    assert_eq!(
        rrset(&ours, "lb.example.net.", RecordType::A).1,
        ["lb.example.net. 30 A 203.0.113.10"]
    );

    // The primary back with a short SOA expire: the refresh after its NOTIFY takes it;
    // then the primary goes, and once the expire has passed the zone answers SERVFAIL.
    knot.run();
    knot.change(&zone(3, 3600, 4, ""));
    wait_serial(&ours, 3, "the transfer of the short-expire zone", &server);
    knot.stop();
    let deadline = Instant::now() + FOLLOW;
    while serial(&ours) != Err(rcode::SERVFAIL) {
        assert!(Instant::now() < deadline, "no expiry\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        rrset(&ours, "www.example.net.", RecordType::A).0,
        rcode::SERVFAIL
    );
    assert!(
        server.stderr().contains("zone expired"),
        "{}",
        server.stderr()
    );
    assert_eq!(server.status()["secondaries"][0]["state"], "expired");
    server.assert_alive();
}

#[test]
fn a_wrong_tsig_secret_is_refused_and_the_old_copy_kept() {
    if !knot_installed() {
        return;
    }
    let (knot_port, our_port) = (free_port(), free_port());
    let knot = KnotPrimary::start(knot_port, our_port, &zone(1, 1, 3600, ""));
    let server = fixture(our_port, knot.addr, SECRET).start();
    let ours = UdpClient::new(server.dns);
    wait_serial(&ours, 1, "the first transfer", &server);
    // Our key's secret changes (a slip in meridian.toml); the primary's zone changes.
    std::fs::write(
        server.dir().join("meridian.toml"),
        config(our_port, knot.addr, WRONG_SECRET),
    )
    .unwrap();
    let r = server.post("/v1/reload", None);
    assert_eq!(r.status, 200, "{}", r.body);
    knot.change(&zone(2, 1, 3600, "new A 192.0.2.30\n"));
    // Its NOTIFY no longer verifies (Knot gets BADSIG); the SOA refresh (every second) is
    // refused by Knot.
    wait_for("the refused refresh", FOLLOW, || {
        server
            .stderr()
            .contains("SOA query failed: the primary answered NOTAUTH (BADSIG")
            .then_some(())
    });
    wait_for("the NOTIFY that does not verify", FOLLOW, || {
        let log = knot.log();
        log.lines()
            .any(|l| l.contains("notify, outgoing") && l.contains("responded with error 'BADSIG'"))
            .then_some(())
    });
    assert_eq!(serial(&ours), Ok(1), "the old copy is kept");
    assert_eq!(
        rrset(&ours, "www.example.net.", RecordType::A).1,
        ["www.example.net. 3600 A 192.0.2.10"]
    );
    assert_eq!(
        rrset(&ours, "new.example.net.", RecordType::A).0,
        rcode::NXDOMAIN
    );
}

/// NSD as the primary (4.6 keeps no IXFR differences): the first copy by AXFR, and after a
/// change and its NOTIFY, the IXFR answered with the whole zone, taken as such.
#[test]
fn meridian_follows_nsd_as_primary_by_notify() {
    if !crate::differential::nsd::installed() {
        return;
    }
    let (nsd_port, our_port) = (free_port(), free_port());
    let tail = format!(
        "key:\n  name: \"{KEY}\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n\
         zone:\n  name: \"example.net\"\n  zonefile: \"example.net.zone\"\n  \
         provide-xfr: 127.0.0.1 {KEY}\n  notify: 127.0.0.1@{our_port} {KEY}\n"
    );
    let text = zone(1, 3600, 3600, "old A 192.0.2.20\n");
    let nsd = Nsd::start_with(
        nsd_port,
        1232,
        &tail,
        &[("example.net.zone", &text)],
        "example.net.",
    );
    let server = fixture(our_port, nsd.addr, SECRET).start();
    let ours = UdpClient::new(server.dns);
    let theirs = UdpClient::new(nsd.addr);
    wait_serial(&ours, 1, "the first transfer", &server);
    for (name, rtype) in NAMES {
        assert_eq!(
            rrset(&ours, name, *rtype),
            rrset(&theirs, name, *rtype),
            "{name} {rtype}: Meridian, then NSD"
        );
    }
    std::fs::write(
        nsd.file("example.net.zone"),
        zone(2, 3600, 3600, "new TXT \"after the change\"\n"),
    )
    .unwrap();
    nsd.reload();
    wait_serial(&ours, 2, "the transfer after NOTIFY", &server);
    // NSD 4.6 answers the IXFR in AXFR form: taken as the whole zone.
    assert!(
        server.stderr().contains("IXFR done: whole zone"),
        "{}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("NOTIFY taken"),
        "{}",
        server.stderr()
    );
    assert_eq!(
        rrset(&ours, "new.example.net.", RecordType::TXT).1,
        ["new.example.net. 3600 TXT \"after the change\""]
    );
    assert_eq!(
        rrset(&ours, "old.example.net.", RecordType::A).0,
        rcode::NXDOMAIN
    );
}

/// A name in uncompressed wire form.
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn wire_record(name: &str, rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut out = wire_name(name);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

fn wire_soa(serial: u32) -> Vec<u8> {
    let mut rdata = wire_name("ns1.example.net.");
    rdata.extend(wire_name("hostmaster.example.net."));
    for v in [serial, 1, 1, 3600, 300] {
        rdata.extend_from_slice(&v.to_be_bytes());
    }
    wire_record("example.net.", 6, &rdata)
}

/// What the fake primary sends for a serial: the zone's records between the SOAs, and
/// whether to end with the closing SOA.
fn fake_zone(serial: u32) -> (Vec<Vec<u8>>, bool) {
    let ns = wire_record("example.net.", 2, &wire_name("ns1.example.net."));
    let ns1 = wire_record("ns1.example.net.", 1, &[192, 0, 2, 1]);
    let www = wire_record("www.example.net.", 1, &[192, 0, 2, 10]);
    match serial {
        1 => (vec![ns, ns1, www], true),
        // Cut short: no closing SOA before the connection closes.
        2 => (vec![ns, ns1], false),
        // A record whose owner is a compression pointer forwards (malformed).
        3 => {
            let mut bad = vec![0xC0, 0xFF];
            bad.extend_from_slice(&wire_record(".", 1, &[192, 0, 2, 3])[1..]);
            (vec![ns, bad], true)
        }
        // A CNAME beside other data: fails the zone checks.
        _ => {
            let cname = wire_record("www.example.net.", 5, &wire_name("ns1.example.net."));
            (vec![ns, ns1, www, cname], true)
        }
    }
}

/// A primary in a thread on 127.0.0.1 that answers SOA queries with `serial` and transfers
/// with [`fake_zone`]; it ends with the test (its listener is non-blocking and polled).
fn fake_primary(
    serial: std::sync::Arc<std::sync::atomic::AtomicU32>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> SocketAddr {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut len = [0u8; 2];
            if conn.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if conn.read_exact(&mut q).is_err() {
                continue;
            }
            let qname_end = 12 + wire_name("example.net.").len();
            let qtype = u16::from_be_bytes([q[qname_end], q[qname_end + 1]]);
            let s = serial.load(Ordering::Relaxed);
            let mut records = vec![wire_soa(s)];
            if qtype != 6 {
                let (body, closed) = fake_zone(s);
                records.extend(body);
                if closed {
                    records.push(wire_soa(s));
                }
            }
            let mut msg = vec![q[0], q[1], 0x84, 0, 0, 1];
            msg.extend_from_slice(&(records.len() as u16).to_be_bytes());
            msg.extend_from_slice(&[0, 0, 0, 0]);
            msg.extend_from_slice(&q[12..qname_end + 4]);
            for r in records {
                msg.extend(r);
            }
            let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
            framed.extend(msg);
            let _ = conn.write_all(&framed);
        }
    });
    addr
}

/// Bad input from the primary (a stream cut short, a malformed record, a zone that fails
/// the zone checks) is refused with the reason logged, and the old copy keeps serving,
/// also after a restart.
#[test]
fn bad_transfers_keep_the_old_copy() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let serial = Arc::new(AtomicU32::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let primary = fake_primary(serial.clone(), stop.clone());
    let config = format!(
        "[server]\ndns_listen = [\"127.0.0.1:0\"]\napi_listen = \"127.0.0.1:0\"\n\
         zones_dir = \"zones\"\nstate_dir = \"state\"\nudp_workers = 1\n\
         [fleet]\ntoken_file = \"fleet.token\"\nlocal_prober = false\n\
         [secondary.\"example.net\"]\nprimaries = [\"{primary}\"]\n"
    );
    let server = Fixture::new()
        .config_text(&config)
        .file("fleet.token", &format!("{FLEET_TOKEN}\n"))
        .start();
    let ours = UdpClient::new(server.dns);
    wait_serial(&ours, 1, "the first transfer", &server);
    // The SOA says 1 s refresh: each bad serial is tried within a second or two.
    let reasons = [
        (
            2,
            "the primary closed the connection before the answer was complete",
        ),
        (3, "malformed message from the primary: bad owner name"),
        (4, "the zone fails the zone checks"),
    ];
    for (bad, why) in reasons {
        serial.store(bad, Ordering::Relaxed);
        wait_for(why, FOLLOW, || {
            server
                .stderr()
                .lines()
                .any(|l| {
                    l.contains("transfer failed")
                        && l.contains(why)
                        && l.contains("keeping serial 1")
                })
                .then_some(())
        });
        assert_eq!(serial_of(&ours), Ok(1), "serial {bad}");
        assert_eq!(
            rrset(&ours, "www.example.net.", RecordType::A).1,
            ["www.example.net. 3600 A 192.0.2.10"]
        );
    }
    stop.store(true, Ordering::Relaxed);
    let server = Server::start_in(server.stop(), None);
    assert_eq!(
        serial_of(&UdpClient::new(server.dns)),
        Ok(1),
        "after a restart"
    );
}

fn serial_of(client: &UdpClient) -> Result<u32, u16> {
    serial(client)
}

/// `check` names the line and key of each `[secondary]` error, and adds no follow-on
/// error for the zones directory that holds no zone file; a valid one lists the zone.
#[test]
fn check_reports_secondary_errors_with_line_and_key() {
    let bad = "[secondary.\"example.net\"]\nprimaries = [\"192.0.2.1\"]\nkey = \"nokey\"\n\
               refresh = 60\n";
    let run = Fixture::new().config_text(bad).check();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    for want in [
        "meridian.toml:2: secondary.\"example.net\".primaries[0]: \"192.0.2.1\" is not an ip:port address (like \"192.0.2.53:53\")",
        "meridian.toml:3: secondary.\"example.net\".key: no [tsig.nokey] table",
        "meridian.toml:4: secondary.\"example.net\".refresh: unknown key (known: primaries, key, allow_notify)",
    ] {
        assert!(run.stderr.contains(want), "{want}\nnot in\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("no *.zone file"), "{}", run.stderr);
    let good = "[secondary.\"example.net\"]\nprimaries = [\"192.0.2.1:53\"]\n";
    let run = Fixture::new().config_text(good).check();
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("example.net. secondary of 192.0.2.1:53 (no copy to serve yet)"),
        "{}",
        run.stdout
    );
}

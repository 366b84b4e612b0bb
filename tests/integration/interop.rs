//! Interoperability with other DNS software, where it is installed (`.ci/run` installs it):
//! Knot's `kdig` speaking DNS Cookies to Meridian, `dig` and `kdig` asking for the NSID,
//! the CH identity and reading Extended DNS Errors, and a real Unbound resolving through a
//! Meridian that rate-limits it. Each test says SKIPPED and passes when its tool is missing.

use crate::util::{Fixture, Query, Rdata, Run, Server, UdpClient, http, rcode};
use hickory_proto::rr::RecordType;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn installed(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: {tool} is not installed (.ci/run installs it)");
    }
    found
}

/// Meridian with RRL at its defaults and cookies on (secret from a file).
fn defended_server() -> Server {
    Fixture::standard()
        .file("cookie.secret", "000102030405060708090a0b0c0d0e0f\n")
        .tables("[rrl]\n[cookies]\nsecret_file = \"cookie.secret\"\n")
        .start()
}

fn kdig(server: &Server, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("kdig");
    cmd.arg(format!("@{}", server.dns.ip()))
        .arg("-p")
        .arg(server.dns.port().to_string())
        .args(["+norec", "+retry=0", "+time=5"])
        .args(args);
    let run = Run::bounded(cmd, dir.path(), Duration::from_secs(20));
    assert_eq!(run.status.code(), Some(0), "kdig {args:?}: {}", run.stderr);
    run.stdout
}

/// BIND's `dig` against `server`, with `args` after the server and port.
fn dig(server: &Server, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("dig");
    cmd.arg(format!("@{}", server.dns.ip()))
        .arg("-p")
        .arg(server.dns.port().to_string())
        .args(["+norec", "+tries=1", "+time=5"])
        .args(args);
    let run = Run::bounded(cmd, dir.path(), Duration::from_secs(20));
    assert_eq!(run.status.code(), Some(0), "dig {args:?}: {}", run.stderr);
    run.stdout
}

/// The lines of `out` that contain `word`.
fn lines_with<'a>(out: &'a str, word: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(word)).collect()
}

#[test]
fn dig_and_kdig_read_the_nsid_the_ch_identity_and_extended_errors() {
    let has_dig = installed("dig");
    let has_kdig = installed("kdig");
    if !has_dig && !has_kdig {
        return;
    }
    let server = Fixture::standard()
        .server_key("identity = \"ns-interop-1\"")
        .start();
    if has_dig {
        // dig 9.18 prints `; NSID: 6e 73 ... ("ns-interop-1")`.
        let out = dig(&server, &["+nsid", "www.example.com.", "A"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        let nsid = lines_with(&out, "NSID");
        assert!(
            nsid.len() == 1 && nsid[0].contains("(\"ns-interop-1\")"),
            "{out}"
        );
        let out = dig(&server, &["www.example.com.", "A"]);
        assert!(lines_with(&out, "NSID").is_empty(), "not asked: {out}");
        let out = dig(&server, &["CH", "TXT", "id.server."]);
        assert!(out.contains("status: NOERROR"), "{out}");
        let answer = lines_with(&out, "\"ns-interop-1\"");
        assert!(
            answer.len() == 1 && answer[0].starts_with("id.server.") && answer[0].contains("CH"),
            "{out}"
        );
        let out = dig(&server, &["example.org.", "A"]);
        assert!(out.contains("status: REFUSED"), "{out}");
        assert!(out.contains("EDE: 20 (Not Authoritative)"), "{out}");
        let out = dig(&server, &["+noedns", "example.org.", "A"]);
        assert!(
            out.contains("status: REFUSED") && !out.contains("EDE"),
            "{out}"
        );
    }
    if has_kdig {
        // kdig prints `;; NSID: 6E73... "ns-interop-1"`.
        let out = kdig(&server, &["+nsid", "www.example.com.", "A"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        let nsid = lines_with(&out, "NSID");
        assert!(
            nsid.len() == 1 && nsid[0].contains("\"ns-interop-1\""),
            "{out}"
        );
        let out = kdig(&server, &["-c", "CH", "hostname.bind.", "TXT"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(
            lines_with(&out, "\"ns-interop-1\"")
                .iter()
                .any(|l| l.starts_with("hostname.bind.")),
            "{out}"
        );
        // kdig sends no OPT record unless told to; without one there is no EDE.
        let out = kdig(&server, &["+edns", "-c", "CH", "version.bind.", "TXT"]);
        assert!(out.contains("status: REFUSED"), "{out}");
        assert!(out.contains("EDE: 18 (Prohibited)"), "{out}");
    }
}

/// The hex cookie of kdig's `;; COOKIE: <hex>` line.
fn kdig_cookie(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(";; COOKIE: "))
        .unwrap_or_else(|| panic!("no COOKIE line in kdig's output:\n{out}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn kdig_cookie_interoperates() {
    if !installed("kdig") {
        return;
    }
    let server = defended_server();
    // Only a client cookie: answered, with kdig's client cookie and a server cookie.
    let out = kdig(&server, &["+cookie", "www.example.com.", "A"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    let cookie = kdig_cookie(&out);
    assert_eq!(
        cookie.len(),
        48,
        "8-byte client + 16-byte server cookie: {out}"
    );
    // The whole cookie sent back: valid, answered, and echoed as it was (fresh enough).
    let out = kdig(
        &server,
        &[&format!("+cookie={cookie}"), "www.example.com.", "A"],
    );
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("192.0.2.10"), "{out}");
    assert_eq!(kdig_cookie(&out), cookie);
    // A forged server cookie: BADCOOKIE with a fresh, valid cookie for kdig's client part.
    let forged = format!("{}01000000{}", &cookie[..16], "0".repeat(24));
    let out = kdig(
        &server,
        &[
            &format!("+cookie={forged}"),
            "+nobadcookie",
            "www.example.com.",
            "A",
        ],
    );
    assert!(out.contains("status: BADCOOKIE"), "{out}");
    let fresh = kdig_cookie(&out);
    assert_eq!(fresh[..16], cookie[..16], "{out}");
    assert_ne!(fresh, forged);
    // kdig's own retry with the fresh cookie (its default) gets the answer.
    let out = kdig(
        &server,
        &[&format!("+cookie={forged}"), "www.example.com.", "A"],
    );
    assert!(out.contains("status: NOERROR"), "{out}");
}

/// A real Unbound on loopback, its one stub zone at Meridian; killed by PID on drop.
struct Unbound {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Unbound {
    /// Starts Unbound on a free port; when it exits before answering (another process
    /// took the port between our probe for it and Unbound's bind), again on another.
    fn start(upstream: SocketAddr) -> Unbound {
        let mut why = String::new();
        for _ in 0..3 {
            match Unbound::start_once(upstream) {
                Ok(unbound) => return unbound,
                Err(e) => why = e,
            }
        }
        panic!("{why}");
    }

    fn start_once(upstream: SocketAddr) -> Result<Unbound, String> {
        let dir = tempfile::tempdir().unwrap();
        // A free port, by asking the kernel for one (Unbound cannot be told port 0).
        let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = format!(
            "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  \
             chroot: \"\"\n  username: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  verbosity: 1\n  do-not-query-localhost: no\n  \
             module-config: \"iterator\"\n  access-control: 127.0.0.0/8 allow\n  \
             num-threads: 1\n  so-reuseport: no\n  qname-minimisation: no\n\
             stub-zone:\n  name: \"example.com\"\n  stub-addr: {ip}@{up}\n\
             remote-control:\n  control-enable: no\n",
            dir = dir.path().display(),
            ip = upstream.ip(),
            up = upstream.port(),
        );
        let path = dir.path().join("unbound.conf");
        std::fs::write(&path, conf).unwrap();
        let log = dir.path().join("unbound.log");
        let child = Command::new("unbound")
            .args(["-d", "-c"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut unbound = Unbound {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            _dir: dir,
        };
        let said = || std::fs::read_to_string(&log).unwrap_or_default();
        // Up once it answers (it reads no root hints: the stub zone is all it serves).
        let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let q = Query::new("www.example.com", RecordType::A).rd(true);
        let mut buf = [0u8; 512];
        // Up to a minute: a loaded machine starts it slowly (a readiness wait, not a bound
        // on anything the test measures).
        for _ in 0..400 {
            // Refused (ICMP) until it has bound its socket; then it answers.
            let _ = probe.send_to(&q.to_wire(), unbound.addr);
            if probe.recv_from(&mut buf).is_ok() {
                return Ok(unbound);
            }
            if let Ok(Some(status)) = unbound.child.try_wait() {
                return Err(format!(
                    "unbound exited ({status}) on {}: {}",
                    unbound.addr,
                    said()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "unbound did not start on {}: {}",
            unbound.addr,
            said()
        ))
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn unbound_resolves_every_name_through_rate_limiting() {
    if !installed("unbound") {
        return;
    }
    let server = defended_server();
    let unbound = Unbound::start(server.dns);
    // 100 different names under one wildcard share one RRL bucket (20/s): as fast as
    // Unbound asks, some of its queries are dropped and some slipped (TC) — and it still
    // resolves every one, retrying over TCP on TC and again after a drop.
    let client = UdpClient::new(unbound.addr);
    for i in 0..100 {
        let name = format!("n{i}.wild.example.com");
        let q = Query::new(&name, RecordType::A).rd(true);
        let r = client.exchange(&q);
        assert_eq!(r.rcode(), rcode::NOERROR, "{name}\n{r}");
        let addrs: Vec<_> = r.answers.iter().map(|a| a.data.clone()).collect();
        assert_eq!(
            addrs,
            [Rdata::A(Ipv4Addr::new(192, 0, 2, 40))],
            "{name}\n{r}"
        );
    }
    let metrics = http(server.api(), "GET", "/metrics", None, None).body;
    let limited: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("meridian_dns_rrl_limited_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(
        limited > 0,
        "the resolver was never limited: the test shows nothing\n{metrics}"
    );
}

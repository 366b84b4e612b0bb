//! DNSSEC validated end to end (issue 13 points 1 and 6): in a network namespace of its
//! own (only `lo`), a fake root zone `.` signed by BIND's `dnssec-signzone` and served by
//! NSD on 127.0.0.1:53 delegates `example.com` to Meridian on 127.0.0.2:53 with the DS
//! `meridian dnssec ds` prints; a real validating Unbound on 127.0.0.3:53 (root hints: the
//! fake root; trust anchor: its key; nothing else reachable) resolves through the chain.
//!
//! Asserted through Unbound: AD and the right data for a static name, a wildcard, a
//! nonexistent name, NODATA, an empty non-terminal, a CNAME to a load-balanced name and the
//! load-balanced name itself, before and after a failover (the local prober sees a real
//! backend stop); a wrong DS at the root gives SERVFAIL; BIND's `delv` and dnsviz agree;
//! a key rollover (pre-publish, DS swap at the root, switch, retire) validates at every
//! step. Each tool missing, or not being root, makes the test say SKIPPED (.ci/run installs
//! them; CI runs as root).

use crate::interop::installed;
use crate::util::{
    Backend, Edns, Fixture, Netns, Query, REGIONS, Rdata, Response, Run, Server, wait_for,
};
use hickory_proto::rr::RecordType;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Long enough for any tool on a loaded machine; only a hang reaches it.
const LIMIT: Duration = Duration::from_secs(120);
/// How long a daemon may take to answer its first query (a readiness wait, not a bound on
/// anything measured).
const READY: Duration = Duration::from_secs(60);
/// How long a failover may take on a busy machine (fall × interval when idle).
const SETTLE: Duration = Duration::from_secs(30);

const ROOT_NS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const CHILD_NS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const APP_EU: &str = "127.0.0.11";
const APP_US: &str = "127.0.0.12";
const NSD: &str = "/usr/sbin/nsd";
const UNBOUND: &str = "/usr/sbin/unbound";

/// The zone Meridian signs: one of each kind of answer the test asks for.
const LAB_ZONE: &str = "\
$ORIGIN example.com.
$TTL 300
@        IN SOA   ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@        IN NS    ns1.example.com.
ns1      IN A     127.0.0.2
www      IN A     192.0.2.10
www      IN AAAA  2001:db8::10
; only a.b exists: b.example.com is an empty non-terminal
a.b      IN A     192.0.2.30
*.wild   IN A     192.0.2.40
; a CNAME to the load-balanced name app (zones/example.com.toml)
alias    IN CNAME app.example.com.
";

/// `app`: failover from eu-west to us-east, each endpoint checked over TCP every second.
fn services(port: u16) -> String {
    format!(
        "[services.app]\nttl = 20\npolicy = \"failover\"\norder = [\"eu-west\", \"us-east\"]\n\
         check = {{ kind = \"tcp\", port = {port}, interval = \"1s\", timeout = \"500ms\", \
         rise = 2, fall = 2 }}\n\
         endpoints = [\n  {{ region = \"eu-west\", address = \"{APP_EU}\" }},\n  \
         {{ region = \"us-east\", address = \"{APP_US}\" }},\n]\n"
    )
}

fn meridian_config() -> String {
    format!(
        "[server]\nregion = \"eu-west\"\ndns_listen = [\"{CHILD_NS}:53\"]\n\
         api_listen = \"{CHILD_NS}:8053\"\nzones_dir = \"zones\"\nstate_dir = \"state\"\n\
         udp_workers = 1\n\n[fleet]\ntoken_file = \"fleet.token\"\nlocal_prober = true\n\n\
         [dnssec]\nkey_dir = \"keys\"\n\n{REGIONS}\n[rrl]\nenabled = false\n"
    )
}

/// Every tool the lab runs; says SKIPPED for each one missing.
fn tools_installed() -> bool {
    let mut ok = true;
    for tool in [NSD, UNBOUND] {
        if !Path::new(tool).exists() {
            eprintln!("SKIPPED: {tool} is not installed (.ci/run installs nsd and unbound)");
            ok = false;
        }
    }
    for tool in ["dnssec-keygen", "dnssec-signzone", "unbound-control"] {
        ok &= installed(tool);
    }
    ok
}

/// Runs `program args` in `dir` and panics unless it succeeds; gives its output.
fn run_ok(dir: &Path, program: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let run = Run::bounded(cmd, dir, LIMIT);
    assert!(
        run.status.success(),
        "{program} {args:?}: {}\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    run
}

fn meridian(dir: &Path, args: &[&str]) -> Run {
    run_ok(dir, env!("CARGO_BIN_EXE_meridian"), args)
}

/// A daemon of the lab (NSD, Unbound) run in the foreground as our child; killed by PID
/// and reaped on drop.
struct Daemon {
    what: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(what: &'static str, mut cmd: Command, log: PathBuf) -> Daemon {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        Daemon { what, child, log }
    }

    /// Waits until `addr` answers `q` (ICMP-refused until the daemon has bound it).
    fn wait_ready(&mut self, addr: SocketAddr, q: &Query) {
        let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + READY;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited at start: {status}\n{}", self.what, self.log());
            }
            let _ = probe.send_to(&q.to_wire(), addr);
            if probe.recv_from(&mut buf).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not answer on {addr}\n{}", self.what, self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.what, self.log());
        }
    }
}

/// The fake root: its key (made by `dnssec-keygen`), its zone signed by `dnssec-signzone`
/// with the delegation of `example.com` to Meridian and the DS records given, and NSD
/// serving it on 127.0.0.1:53.
struct Root {
    dir: tempfile::TempDir,
    netns: String,
    /// `. DNSKEY 257 3 13 ...`: the trust anchor.
    dnskey: String,
    nsd: Option<Daemon>,
}

impl Root {
    fn new(netns: &str) -> Root {
        let dir = tempfile::Builder::new()
            .prefix("meridian-lab-root-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let made = run_ok(
            dir.path(),
            "dnssec-keygen",
            &[
                "-q",
                "-a",
                "ECDSAP256SHA256",
                "-f",
                "KSK",
                "-K",
                "keys",
                ".",
            ],
        );
        let stem = made.stdout.trim().to_string();
        let key =
            std::fs::read_to_string(dir.path().join("keys").join(format!("{stem}.key"))).unwrap();
        let dnskey = key
            .lines()
            .find(|l| !l.starts_with(';') && l.contains("DNSKEY"))
            .expect("a DNSKEY line in the root's .key file")
            .to_string();
        Root {
            dir,
            netns: netns.to_string(),
            dnskey,
            nsd: None,
        }
    }

    /// Signs the root zone holding `ds` (the child's DS lines, `example.com. IN DS ...`)
    /// and (re)starts NSD on it.
    fn serve(&mut self, ds: &str) {
        self.nsd = None;
        let d = self.dir.path();
        let zone = format!(
            ". 300 IN SOA ns.root. hostmaster.root. {serial} 1800 900 604800 300\n\
             . 300 IN NS ns.root.\n\
             ns.root. 300 IN A {ROOT_NS}\n\
             example.com. 300 IN NS ns1.example.com.\n\
             ns1.example.com. 300 IN A {CHILD_NS}\n\
             {ds}\n",
            serial = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        );
        std::fs::write(d.join("root.zone"), zone).unwrap();
        run_ok(
            d,
            "dnssec-signzone",
            &[
                "-z",
                "-S",
                "-K",
                "keys",
                "-o",
                ".",
                "-f",
                "root.signed",
                "root.zone",
            ],
        );
        let conf = format!(
            "server:\n  ip-address: {ROOT_NS}@53\n  port: 53\n  do-ip6: no\n  \
             server-count: 1\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
             database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  \
             logfile: \"{d}/nsd.log\"\n  verbosity: 1\n  rrl-ratelimit: 0\n  \
             zonefiles-write: 0\n\
             remote-control:\n  control-enable: no\n\
             zone:\n  name: \".\"\n  zonefile: \"root.signed\"\n",
            d = d.display()
        );
        std::fs::write(d.join("nsd.conf"), conf).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns, NSD, "-d", "-c"])
            .arg(d.join("nsd.conf"))
            .current_dir(d);
        let mut nsd = Daemon::spawn("nsd (root)", cmd, d.join("nsd.stderr"));
        nsd.wait_ready(
            SocketAddr::from((ROOT_NS, 53)),
            &Query::new(".", RecordType::SOA),
        );
        self.nsd = Some(nsd);
    }
}

/// A validating Unbound on 127.0.0.3:53: root hints the fake root, trust anchor its key,
/// a control socket to empty its cache.
struct Resolver {
    dir: tempfile::TempDir,
    _daemon: Daemon,
    addr: SocketAddr,
}

impl Resolver {
    fn start(netns: &str, root: &Root) -> Resolver {
        let dir = tempfile::Builder::new()
            .prefix("meridian-lab-unbound-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("root.hints"),
            format!(". 300 IN NS ns.root.\nns.root. 300 IN A {ROOT_NS}\n"),
        )
        .unwrap();
        std::fs::write(d.join("root.key"), format!("{}\n", root.dnskey)).unwrap();
        let conf = format!(
            "server:\n  interface: {RESOLVER}@53\n  port: 53\n  do-daemonize: no\n  \
             chroot: \"\"\n  username: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  val-log-level: 2\n  \
             log-servfail: yes\n  do-ip6: no\n  do-not-query-localhost: no\n  \
             module-config: \"validator iterator\"\n  root-hints: \"{d}/root.hints\"\n  \
             trust-anchor-file: \"{d}/root.key\"\n  access-control: 127.0.0.0/8 allow\n  \
             num-threads: 1\n  so-reuseport: no\n  prefetch: no\n  serve-expired: no\n\
             remote-control:\n  control-enable: yes\n  control-interface: \"{d}/control.sock\"\n",
            d = d.display()
        );
        std::fs::write(d.join("unbound.conf"), conf).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns, UNBOUND, "-d", "-c"])
            .arg(d.join("unbound.conf"))
            .current_dir(d);
        let mut daemon = Daemon::spawn("unbound", cmd, d.join("unbound.stderr"));
        let addr = SocketAddr::from((RESOLVER, 53));
        daemon.wait_ready(addr, &Query::new(".", RecordType::SOA).rd(true));
        Resolver {
            dir,
            _daemon: daemon,
            addr,
        }
    }

    /// Empties every cache (records, messages, keys, infrastructure), so the next answer
    /// is resolved and validated afresh through the chain.
    fn flush(&self) {
        let conf = self.dir.path().join("unbound.conf");
        run_ok(
            self.dir.path(),
            "unbound-control",
            &["-c", conf.to_str().unwrap(), "reload"],
        );
    }

    /// Asks Unbound (RD, DO) and gives the response and whether AD is set.
    fn ask(&self, name: &str, qtype: RecordType) -> Answer {
        let q = Query::new(name, qtype)
            .rd(true)
            .edns(Edns::new(1232).dnssec_ok(true));
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = vec![0u8; 65535];
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            sock.send_to(&q.to_wire(), self.addr).unwrap();
            // Unbound may take a few round trips through the chain; keep listening.
            let wait = Instant::now() + Duration::from_secs(5);
            while Instant::now() < wait {
                let Ok((n, _)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == q.id {
                    let response = Response::parse(&buf[..n])
                        .unwrap_or_else(|e| panic!("bad response from unbound: {e}"));
                    return Answer::new(response);
                }
            }
        }
        panic!("no answer from unbound to {name} {qtype}");
    }
}

/// Unbound's answer, with the header's AD bit (the test client does not decode it).
struct Answer {
    response: Response,
    ad: bool,
}

impl Answer {
    fn new(response: Response) -> Answer {
        let ad = response.bytes[3] & 0x20 != 0;
        Answer { response, ad }
    }

    fn rcode(&self) -> u16 {
        self.response.rcode()
    }

    /// The answer section's RRsets other than RRSIG, as `name ttl TYPE data`, TTL left out.
    fn data(&self) -> Vec<String> {
        self.response
            .answers
            .iter()
            .filter(|r| r.rtype != RecordType::RRSIG)
            .map(|r| {
                let text = r.text();
                let mut f: Vec<&str> = text.split(' ').collect();
                f.remove(1);
                f.join(" ")
            })
            .collect()
    }

    /// How many RRSIGs cover `rtype` in the answer section.
    fn sigs_over(&self, rtype: RecordType) -> usize {
        self.response
            .answers
            .iter()
            .filter(|r| r.rtype == RecordType::RRSIG)
            .filter(|r| match &r.data {
                Rdata::Other(b) => {
                    b.len() >= 2 && u16::from_be_bytes([b[0], b[1]]) == u16::from(rtype)
                }
                _ => false,
            })
            .count()
    }

    /// Validated, with the expected answer data (and, for data, a signature over it).
    fn assert_secure(&self, what: &str, rcode: u16, data: &[&str]) {
        assert!(self.ad, "{what}: AD not set\n{}", self.response);
        assert_eq!(self.rcode(), rcode, "{what}\n{}", self.response);
        assert_eq!(self.data(), data, "{what}\n{}", self.response);
    }
}

/// The whole chain in a namespace: root, Meridian (signing `example.com`), Unbound.
struct Lab {
    netns: String,
    root: Root,
    server: Server,
    resolver: Resolver,
    /// The endpoints' health-check targets: stopping one fails `app` over.
    backends: Vec<Backend>,
}

impl Lab {
    /// Builds the chain; `ds` turns Meridian's DS lines into what the root publishes
    /// (the identity for a good chain).
    fn start(netns: &str, ds: impl Fn(&str) -> String) -> Lab {
        let backend_eu = Backend::http(APP_EU, 0, crate::util::Reply::Ok);
        let port = backend_eu.port();
        let backend_us = Backend::http(APP_US, port, crate::util::Reply::Ok);
        let dir = Fixture::new()
            .config_text(&meridian_config())
            .zone("example.com", LAB_ZONE)
            .file("fleet.token", "lab-fleet-token-0123456789\n")
            .file("zones/example.com.toml", &services(port))
            .write();
        let config = dir.path().join("meridian.toml");
        let config = config.to_str().unwrap();
        meridian(
            dir.path(),
            &["dnssec", "keygen", "example.com", "--config", config],
        );
        let printed = meridian(
            dir.path(),
            &["dnssec", "ds", "example.com", "--config", config],
        );
        let mut root = Root::new(netns);
        root.serve(&ds(&ds_lines(&printed.stdout)));
        let server = Server::start_in(dir, None);
        let resolver = Resolver::start(netns, &root);
        Lab {
            netns: netns.to_string(),
            root,
            server,
            resolver,
            backends: vec![backend_eu, backend_us],
        }
    }

    fn config(&self) -> String {
        self.server
            .dir()
            .join("meridian.toml")
            .to_str()
            .unwrap()
            .to_string()
    }

    /// Meridian's own answer for `app` (asked directly, not through Unbound).
    fn app_from_meridian(&self) -> Vec<String> {
        self.server.answer("app.example.com")
    }
}

/// The `IN DS` lines of `meridian dnssec ds`, one per line.
fn ds_lines(text: &str) -> String {
    text.lines()
        .filter(|l| l.contains(" IN DS "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A trust anchor file for `delv -a` (named.conf syntax) from `. DNSKEY F P A KEY`.
fn delv_anchor(dnskey: &str) -> String {
    let f: Vec<&str> = dnskey.split_whitespace().collect();
    let at = f.iter().position(|w| *w == "DNSKEY").expect("DNSKEY");
    format!(
        "trust-anchors {{\n  \"{}\" static-key {} {} {} \"{}\";\n}};\n",
        f[0],
        f[at + 1],
        f[at + 2],
        f[at + 3],
        f[at + 4..].concat()
    )
}

/// BIND's `delv` through Unbound, validating itself from the root's key: its verdict line.
fn delv(lab: &Lab, name: &str, qtype: &str) -> String {
    let anchor = lab.root.dir.path().join("delv.anchor");
    std::fs::write(&anchor, delv_anchor(&lab.root.dnskey)).unwrap();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.netns, "delv"])
        .arg(format!("@{RESOLVER}"))
        .arg("-a")
        .arg(&anchor)
        .args([name, qtype, "+nocrypto"]);
    let run = Run::bounded(cmd, lab.root.dir.path(), LIMIT);
    format!("{}{}", run.stdout, run.stderr)
}

/// Runs `body` in a network namespace of its own (given its name) when the chain's tools
/// are installed and the tests run as root; says why and does nothing otherwise.
fn in_chain_netns(purpose: &str, body: impl FnOnce(&str) + Send + 'static) {
    if !tools_installed() {
        return;
    }
    let Some(netns) = Netns::create(purpose) else {
        return;
    };
    let name = netns.name.clone();
    netns.run(move || body(&name));
}

#[test]
fn issue13_unbound_validates_every_kind_of_answer_meridian_signs() {
    in_chain_netns("chain", |name| {
        let mut lab = Lab::start(name, |ds| ds.to_string());
        wait_for("app answering eu-west", SETTLE, || {
            (lab.app_from_meridian() == [APP_EU]).then_some(())
        });
        let r = &lab.resolver;

        let a = r.ask("www.example.com", RecordType::A);
        a.assert_secure("static A", 0, &["www.example.com. A 192.0.2.10"]);
        assert_eq!(a.sigs_over(RecordType::A), 1, "{}", a.response);
        let a = r.ask("www.example.com", RecordType::AAAA);
        a.assert_secure("static AAAA", 0, &["www.example.com. AAAA 2001:db8::10"]);
        let a = r.ask("x1.wild.example.com", RecordType::A);
        a.assert_secure("wildcard", 0, &["x1.wild.example.com. A 192.0.2.40"]);
        let a = r.ask("www.example.com", RecordType::MX);
        a.assert_secure("NODATA", 0, &[]);
        let a = r.ask("b.example.com", RecordType::A);
        a.assert_secure("empty non-terminal", 0, &[]);
        // Compact denial (RFC 9824): a resolver that does not know NXNAME sees a proven
        // NODATA; one that does sees NXDOMAIN. Either way it is proven, and nothing exists.
        let a = r.ask("nothere.example.com", RecordType::A);
        assert!(
            a.ad && [0, 3].contains(&a.rcode()) && a.data().is_empty(),
            "nonexistent name\n{}",
            a.response
        );
        let a = r.ask("app.example.com", RecordType::A);
        a.assert_secure("load-balanced", 0, &["app.example.com. A 127.0.0.11"]);
        assert_eq!(a.sigs_over(RecordType::A), 1, "{}", a.response);
        let a = r.ask("alias.example.com", RecordType::A);
        a.assert_secure(
            "CNAME to load-balanced",
            0,
            &[
                "alias.example.com. CNAME app.example.com.",
                "app.example.com. A 127.0.0.11",
            ],
        );
        let a = r.ask("example.com", RecordType::DNSKEY);
        assert!(
            a.ad && a.sigs_over(RecordType::DNSKEY) >= 1,
            "{}",
            a.response
        );

        if installed("delv") {
            for (qname, qtype) in [("www.example.com", "A"), ("app.example.com", "A")] {
                let out = delv(&lab, qname, qtype);
                assert!(out.contains("; fully validated"), "delv {qname}: {out}");
            }
        }
        if installed("dnsviz") {
            dnsviz_finds_no_error(&lab);
        }

        // Failover: eu-west's backend stops; Meridian moves app to us-east, signed.
        lab.backends[0].stop();
        wait_for("app failing over to us-east", SETTLE, || {
            (lab.app_from_meridian() == [APP_US]).then_some(())
        });
        lab.resolver.flush();
        let a = lab.resolver.ask("app.example.com", RecordType::A);
        a.assert_secure("after failover", 0, &["app.example.com. A 127.0.0.12"]);
        assert_eq!(a.sigs_over(RecordType::A), 1, "{}", a.response);
        let a = lab.resolver.ask("alias.example.com", RecordType::A);
        a.assert_secure(
            "CNAME after failover",
            0,
            &[
                "alias.example.com. CNAME app.example.com.",
                "app.example.com. A 127.0.0.12",
            ],
        );
    });
}

/// Debian's dnsviz 0.9.4 asks for `pygraphviz.release`, which Debian's pygraphviz 1.7 no
/// longer has, so `grok` and `print` stop at once; this start-up hook gives it back
/// (loaded through PYTHONPATH for those two commands only).
const PYGRAPHVIZ_RELEASE_SHIM: &str = "\
import sys, types
try:
    import pygraphviz
    if not hasattr(pygraphviz, 'release'):
        release = types.ModuleType('pygraphviz.release')
        release.version = pygraphviz.__version__
        sys.modules['pygraphviz.release'] = release
        pygraphviz.release = release
except ImportError:
    pass
";

/// dnsviz probes the chain from the fake root (authoritative analysis) and finds no error
/// at any level: `grok -l error` lists none, `print` marks nothing bogus or wrong.
fn dnsviz_finds_no_error(lab: &Lab) {
    let d = lab.root.dir.path();
    std::fs::write(d.join("anchor.key"), format!("{}\n", lab.root.dnskey)).unwrap();
    std::fs::create_dir_all(d.join("pyshim")).unwrap();
    std::fs::write(d.join("pyshim/sitecustomize.py"), PYGRAPHVIZ_RELEASE_SHIM).unwrap();
    let mut probe = Command::new("ip");
    probe
        .args(["netns", "exec", &lab.netns, "dnsviz", "probe", "-A", "-4"])
        .args(["-x", &format!(".:ns.root.={ROOT_NS}")])
        .args([
            "-o",
            "probe.json",
            ".",
            "example.com",
            "www.example.com",
            "app.example.com",
        ]);
    let run = Run::bounded(probe, d, LIMIT);
    assert!(run.status.success(), "dnsviz probe: {}", run.stderr);
    // `grok` and `print` read the probe with the root's key as trust anchor.
    let analyse = |verb: &str| {
        let mut cmd = Command::new("dnsviz");
        cmd.env("PYTHONPATH", d.join("pyshim")).args([
            verb,
            "-P",
            "-t",
            "anchor.key",
            "-r",
            "probe.json",
        ]);
        Run::bounded(cmd, d, LIMIT)
    };
    let run = analyse("grok");
    assert!(run.status.success(), "dnsviz grok: {}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("dnsviz grok output is not JSON ({e}):\n{}", run.stdout));
    assert_eq!(
        report["example.com."]["delegation"]["status"], "SECURE",
        "dnsviz: the delegation from the root is not secure: {report:#}"
    );
    let text = report.to_string();
    for bad in [
        "\"errors\"",
        "\"BOGUS\"",
        "\"INSECURE\"",
        "\"INDETERMINATE\"",
    ] {
        assert!(!text.contains(bad), "dnsviz grok says {bad}: {report:#}");
    }
    let run = analyse("print");
    assert!(run.status.success(), "dnsviz print: {}", run.stderr);
    // `[.]` secure, `[-]` insecure, `[!]` error, `[?]` warning (dnsviz's legend).
    let out = &run.stdout;
    assert!(
        out.starts_with(". [.]")
            && out.contains("\nexample.com [.]")
            && !out.contains("[!]")
            && !out.contains("[-]"),
        "dnsviz print:\n{out}"
    );
}

#[test]
fn issue13_a_wrong_ds_at_the_root_makes_unbound_refuse_the_zone() {
    in_chain_netns("badds", |name| {
        // The DS names Meridian's key but its digest is wrong in the last hex digit.
        let lab = Lab::start(name, |ds| {
            ds.lines()
                .map(|l| {
                    let mut l = l.to_string();
                    let last = l.pop().unwrap();
                    l.push(if last == '0' { '1' } else { '0' });
                    l
                })
                .collect::<Vec<_>>()
                .join("\n")
        });
        let a = lab.resolver.ask("www.example.com", RecordType::A);
        assert_eq!(a.rcode(), 2, "a bogus zone is SERVFAIL\n{}", a.response);
        assert!(!a.ad && a.data().is_empty(), "{}", a.response);
        // The root itself still validates: the failure is the broken link, not the lab.
        let a = lab.resolver.ask(".", RecordType::SOA);
        assert!(a.ad && a.rcode() == 0, "{}", a.response);
        if installed("delv") {
            let out = delv(&lab, "www.example.com", "A");
            assert!(!out.contains("; fully validated"), "delv: {out}");
        }
    });
}

/// The key tag in an RRSIG's RDATA (type 2, algorithm 1, labels 1, TTL 4, two times 4 each).
fn rrsig_key_tag(rdata: &[u8]) -> u16 {
    u16::from_be_bytes([rdata[16], rdata[17]])
}

/// Meridian's own DO answer for `name qtype`: the key tags of the RRSIGs over `qtype` in
/// the answer section, sorted, and how many records of `qtype` there are.
fn signed_by(server: &Server, name: &str, qtype: RecordType) -> (Vec<u16>, usize) {
    let q = Query::new(name, qtype).edns(Edns::new(1232).dnssec_ok(true));
    let r = server.query(&q);
    let mut tags: Vec<u16> = r
        .answers
        .iter()
        .filter(|rec| rec.rtype == RecordType::RRSIG)
        .filter_map(|rec| match &rec.data {
            Rdata::Other(b) if u16::from_be_bytes([b[0], b[1]]) == u16::from(qtype) => {
                Some(rrsig_key_tag(b))
            }
            _ => None,
        })
        .collect();
    tags.sort();
    let count = r.answers.iter().filter(|rec| rec.rtype == qtype).count();
    (tags, count)
}

/// The tag of the key whose `.key` file `meridian dnssec keygen` printed first.
fn keygen_tag(printed: &str) -> (u16, String) {
    let public = printed.lines().next().expect("keygen prints the .key path");
    let stem = Path::new(public)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".key")
        .to_string();
    let tag = stem.rsplit('+').next().unwrap().parse().unwrap();
    (tag, stem)
}

/// The DS lines (of `meridian dnssec ds`) whose key tag is one of `tags`.
fn ds_for(lab: &Lab, tags: &[u16]) -> String {
    let config = lab.config();
    let printed = meridian(
        lab.server.dir(),
        &["dnssec", "ds", "example.com", "--config", &config],
    );
    let lines: Vec<&str> = printed
        .stdout
        .lines()
        .filter(|l| l.contains(" IN DS "))
        .filter(|l| {
            let tag: u16 = l.split_whitespace().nth(3).unwrap().parse().unwrap();
            tags.contains(&tag)
        })
        .collect();
    assert_eq!(
        lines.len(),
        tags.len(),
        "DS for {tags:?}:\n{}",
        printed.stdout
    );
    lines.join("\n")
}

/// `dnssec-settime -K KEY_DIR ARGS STEM` on one of Meridian's keys.
fn settime(lab: &Lab, stem: &str, args: &[&str]) {
    let keys = lab.server.dir().join("keys");
    let mut all = vec!["-K", keys.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push(stem);
    run_ok(lab.server.dir(), "dnssec-settime", &all);
}

/// SIGHUP, then waits until Meridian's DNSKEY RRset has `keys` keys signed by `by`.
fn reload_until(lab: &Lab, keys: usize, by: &[u16]) {
    // SAFETY: kill(2) on the PID of our own child.
    unsafe { libc::kill(lab.server.pid() as libc::pid_t, libc::SIGHUP) };
    wait_for(
        &format!("a DNSKEY RRset of {keys} keys signed by {by:?}"),
        SETTLE,
        || {
            let (tags, count) = signed_by(&lab.server, "example.com", RecordType::DNSKEY);
            (count == keys && tags == by).then_some(())
        },
    );
}

/// Unbound, its caches emptied, validates the static name, the load-balanced name and
/// the DNSKEY RRset.
fn validates(lab: &Lab, step: &str) {
    lab.resolver.flush();
    let a = lab.resolver.ask("www.example.com", RecordType::A);
    a.assert_secure(step, 0, &["www.example.com. A 192.0.2.10"]);
    let a = lab.resolver.ask("app.example.com", RecordType::A);
    a.assert_secure(step, 0, &["app.example.com. A 127.0.0.11"]);
    let a = lab.resolver.ask("example.com", RecordType::DNSKEY);
    assert!(a.ad && a.rcode() == 0, "{step}: DNSKEY\n{}", a.response);
}

/// The rollover of docs/reference.md §3.13 against the live server, a combined signing key
/// O replaced by N, with timing set in the past or future instead of waiting: Unbound
/// validates after every step.
#[test]
fn issue13_a_key_rollover_validates_at_every_step() {
    if !installed("dnssec-settime") {
        return;
    }
    in_chain_netns("roll", |name| {
        let mut lab = Lab::start(name, |ds| ds.to_string());
        wait_for("app answering eu-west", SETTLE, || {
            (lab.app_from_meridian() == [APP_EU]).then_some(())
        });
        let (old, _) = signed_by(&lab.server, "www.example.com", RecordType::A);
        assert_eq!(old.len(), 1, "one key signs at the start: {old:?}");
        let old = old[0];
        let old_stem = std::fs::read_dir(lab.server.dir().join("keys"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|n| n.ends_with(&format!("+{old:05}.key")))
            .expect("the old key's file")
            .trim_end_matches(".key")
            .to_string();
        validates(&lab, "start");

        // 1. Pre-publish: N is in the DNSKEY RRset, O still signs everything.
        let config = lab.config();
        let made = meridian(
            lab.server.dir(),
            &["dnssec", "keygen", "example.com", "--config", &config],
        );
        let (new, new_stem) = keygen_tag(&made.stdout);
        settime(&lab, &new_stem, &["-A", "+1d", "-P", "sync", "+1d"]);
        reload_until(&lab, 2, &[old]);
        assert_eq!(
            signed_by(&lab.server, "www.example.com", RecordType::A).0,
            [old]
        );
        validates(&lab, "N pre-published");

        // 2. New DS: the root publishes N's DS beside O's.
        let mut both = [old, new];
        both.sort();
        lab.root.serve(&ds_for(&lab, &both));
        validates(&lab, "both DS at the root");

        // 3. Switch: N signs from now on (its Activate in the past), O is inactive.
        settime(&lab, &new_stem, &["-A", "-1h"]);
        settime(&lab, &old_stem, &["-I", "-1h"]);
        reload_until(&lab, 2, &[new]);
        assert_eq!(
            signed_by(&lab.server, "www.example.com", RecordType::A).0,
            [new]
        );
        assert_eq!(
            signed_by(&lab.server, "app.example.com", RecordType::A).0,
            [new]
        );
        validates(&lab, "N signs");

        // 4. Retire: O's DS leaves the root, then O leaves the DNSKEY RRset.
        lab.root.serve(&ds_for(&lab, &[new]));
        validates(&lab, "only N's DS at the root");
        settime(&lab, &old_stem, &["-D", "-1h", "-D", "sync", "-1h"]);
        reload_until(&lab, 1, &[new]);
        validates(&lab, "O retired");
    });
}

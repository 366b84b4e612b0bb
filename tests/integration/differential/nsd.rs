//! A real NSD on loopback, serving the differential zones (or, as a secondary, the zones
//! it transfers: `tests/integration/xfr.rs`) from its own scratch dir, in
//! the foreground as our child; stopped by PID on drop.

use crate::util::{Query, STARTUP_TIMEOUT};
use hickory_proto::rr::RecordType;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `nsd` package installs the daemon (not on a normal user's PATH).
pub const NSD: &str = "/usr/sbin/nsd";

/// Whether NSD is installed; says SKIPPED when it is not.
pub fn installed() -> bool {
    let found = Path::new(NSD).exists();
    if !found {
        eprintln!("SKIPPED: {NSD} is not installed (.ci/run installs Debian's nsd)");
    }
    found
}

/// `NSD version 4.6.1`: the first line of `nsd -v`.
pub fn version() -> String {
    let out = Command::new(NSD).arg("-v").output().expect("nsd -v");
    // nsd prints its version on stderr.
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    text.lines().next().unwrap_or("nsd: no version").to_string()
}

pub struct Nsd {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nsd {
    /// Starts NSD on `zones` (origin, file text), advertising `edns_size`, and waits until
    /// it answers.
    pub fn start(zones: &[(&str, &str)], edns_size: u16) -> Nsd {
        let mut tail = String::new();
        let mut files = Vec::new();
        for (origin, text) in zones {
            tail.push_str(&format!(
                "zone:\n  name: \"{origin}\"\n  zonefile: \"{origin}.zone\"\n"
            ));
            files.push((format!("{origin}.zone"), *text));
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        Nsd::start_with(free_port(), edns_size, &tail, &files, zones[0].0)
    }

    /// Starts NSD on `port` with `tail` appended to its config (its `zone:` and `key:`
    /// clauses), the files `files` (name, text) in its scratch dir, and waits until it
    /// answers a query for `probe_zone` (SERVFAIL counts: a secondary before its transfer).
    pub fn start_with(
        port: u16,
        edns_size: u16,
        tail: &str,
        files: &[(&str, &str)],
        probe_zone: &str,
    ) -> Nsd {
        let dir = tempfile::Builder::new()
            .prefix("meridian-nsd-")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        // No database, control socket, privilege drop or rate limiting; no CH identity
        // or version; defaults otherwise (so not minimal-responses). Every file it writes
        // is in its scratch dir.
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  do-ip6: no\n  \
             server-count: 1\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
             database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  \
             logfile: \"{d}/nsd.log\"\n  verbosity: 2\n  hide-identity: yes\n  \
             hide-version: yes\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  \
             ipv4-edns-size: {edns_size}\n  zonefiles-write: 0\n\
             remote-control:\n  control-enable: no\n"
        );
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        conf.push_str(tail);
        let path = dir.path().join("nsd.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(NSD)
            .args(["-d", "-c"])
            .arg(&path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("nsd.stderr")).unwrap())
            .spawn()
            .expect("spawn nsd");
        let mut nsd = Nsd {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        // Up once it answers: refused (ICMP) until it has bound its socket.
        let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let q = Query::new(probe_zone, RecordType::SOA).to_wire();
        let mut buf = [0u8; 512];
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = nsd.child.try_wait().unwrap() {
                panic!("nsd exited at start: {status}\n{}", nsd.log());
            }
            let _ = probe.send_to(&q, nsd.addr);
            if probe.recv_from(&mut buf).is_ok() {
                return nsd;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nsd did not start on {}\n{}", nsd.addr, nsd.log());
    }

    /// A file in NSD's scratch dir (its zone files are there).
    pub fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// SIGHUP to NSD's main process (by PID): it reloads its changed zone files.
    pub fn reload(&self) {
        // SAFETY: kill(2) on the NSD we started, by its PID.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGHUP) };
        assert_eq!(rc, 0, "SIGHUP to nsd");
    }

    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "nsd.log:\n{}\nstderr:\n{}",
            read("nsd.log").unwrap_or_default(),
            read("nsd.stderr").unwrap_or_default()
        )
    }
}

impl Drop for Nsd {
    /// SIGTERM to NSD's main process, which stops its server and xfrd children and exits;
    /// SIGKILL (that PID only) if it has not within the start-up timeout.
    fn drop(&mut self) {
        crate::util::terminate(&mut self.child);
        if std::thread::panicking() {
            eprintln!("--- nsd ---\n{}", self.log());
        }
    }
}

/// A port free for both UDP and TCP on 127.0.0.1, by asking the kernel for one (NSD
/// cannot be given port 0 and report the port it got).
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

//! A real Knot DNS (Debian's `knotd`) as a test's own child: started on a scratch dir's
//! `knot.conf` with its stderr in `knot.stderr` there, up once it answers. The zone
//! transfer tests run it as a secondary of Meridian (`xfr.rs`) and as a primary
//! (`secondary.rs`); each writes its own config and stops it by PID (`terminate`).

use super::{Query, STARTUP_TIMEOUT};
use hickory_proto::rr::RecordType;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `knot` package installs the daemon.
pub const KNOTD: &str = "/usr/sbin/knotd";

/// Starts knotd on `dir/knot.conf` (stderr appended to `dir/knot.stderr`) and waits until
/// it answers an SOA query for `zone` on `addr`; panics with its log if it exits first or
/// does not answer within [`STARTUP_TIMEOUT`].
pub fn start_knotd(dir: &Path, addr: SocketAddr, zone: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("knot.stderr"))
        .unwrap();
    let mut child = Command::new(KNOTD)
        .arg("-c")
        .arg(dir.join("knot.conf"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn knotd");
    // Up once it answers: refused (ICMP) until it has bound its socket.
    let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let q = Query::new(zone, RecordType::SOA).to_wire();
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("knotd exited at start: {status}\n{}", knot_log(dir));
        }
        let _ = probe.send_to(&q, addr);
        if probe.recv_from(&mut buf).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    super::terminate(&mut child);
    panic!("knotd did not start on {addr}\n{}", knot_log(dir));
}

/// What knotd has written to `dir/knot.stderr`.
pub fn knot_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("knot.stderr")).unwrap_or_default()
}

//! Network namespaces for tests that need port 53 or a whole little DNS tree: `Netns`
//! creates one with only `lo` up (`ip netns add`), runs a test body on a thread that has
//! entered it (so every socket the body opens and every process it starts lives there),
//! and deletes it on drop, also when the body panics.

use super::*;

static NEXT_NETNS: AtomicU16 = AtomicU16::new(0);

/// A network namespace of this test process: `/run/netns/NAME`, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates a fresh namespace with `lo` up, or says SKIPPED (and gives `None`) when
    /// this process is not root or `ip netns` does not work here.
    pub fn create(purpose: &str) -> Option<Netns> {
        // SAFETY: geteuid(2) reads a number and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: network namespaces need root (CI runs the tests as root)");
            return None;
        }
        let n = NEXT_NETNS.fetch_add(1, Ordering::Relaxed);
        let name = format!("meridian-{purpose}-{}-{n}", std::process::id());
        let added = Command::new("ip")
            .args(["netns", "add", &name])
            .stderr(Stdio::piped())
            .output();
        match added {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                eprintln!(
                    "SKIPPED: `ip netns add {name}` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                return None;
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run `ip` ({e}; .ci/run installs iproute2)");
                return None;
            }
        }
        let ns = Netns { name };
        let up = ns.command("ip").args(["link", "set", "lo", "up"]).status();
        assert!(
            up.is_ok_and(|s| s.success()),
            "cannot bring lo up in {}",
            ns.name
        );
        Some(ns)
    }

    /// `ip netns exec NAME PROGRAM`: `ip` enters the namespace and then execs PROGRAM, so
    /// the child's PID is PROGRAM's own.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `body` on a thread inside the namespace and returns what it returns; a panic
    /// in `body` is re-raised here after the thread has ended.
    pub fn run<T: Send + 'static>(&self, body: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        let thread = std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            // SAFETY: setns(2) on a namespace file we hold open; it moves only this
            // thread (and the threads and processes it starts from now on).
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
            drop(file);
            body()
        });
        match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let deleted = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        if !deleted.is_ok_and(|s| s.success()) {
            eprintln!("could not delete network namespace {}", self.name);
        }
    }
}

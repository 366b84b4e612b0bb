//! Running the binary: finished runs of a command (`Run`), a running `meridian serve`
//! (`Server`) and `meridian probe` (`Probe`), each killed by PID and waited for on drop.

use super::*;

/// A finished run of the binary: exit status and output.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub dir: Option<tempfile::TempDir>,
}

impl Run {
    /// Runs `cmd` with cwd `dir`, output captured to files in `dir`; kills it (by PID)
    /// if it is still running after `limit`.
    pub fn bounded(mut cmd: Command, dir: &Path, limit: Duration) -> Run {
        let out_path = dir.join("run.stdout");
        let err_path = dir.join("run.stderr");
        let mut child = cmd
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap())
            .spawn()
            .expect("spawn meridian");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                panic!(
                    "meridian {:?} still running after {limit:?}; stderr:\n{}",
                    cmd.get_args().collect::<Vec<_>>(),
                    std::fs::read_to_string(&err_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            status,
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
            dir: None,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("run has a dir").path()
    }
}

/// A running `meridian serve`. Killed by PID, and waited for, on drop.
pub struct Server {
    child: Child,
    /// Removed (with the config, zones and stderr) when the server is dropped; taken by
    /// [`Server::stop`] to start again on the same files.
    dir: Option<tempfile::TempDir>,
    stderr_path: PathBuf,
    /// The DNS address (UDP and TCP) from the start-up line.
    pub dns: SocketAddr,
    /// Every `key=value` token of the start-up line.
    pub ready: Vec<(String, String)>,
}

impl Server {
    /// Starts `serve` on the files in `dir`, from cwd `cwd` (default: `dir`), and waits
    /// for `meridian ready dns=ADDR ...` on stdout.
    pub fn start_in(dir: tempfile::TempDir, cwd: Option<&Path>) -> Server {
        let stderr_path = dir.path().join("serve.stderr");
        let config = dir.path().join("meridian.toml");
        let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(cwd.unwrap_or(dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn meridian serve");
        let stdout = child.stdout.take().unwrap();
        let mut server = Server {
            child,
            dir: Some(dir),
            stderr_path,
            dns: "0.0.0.0:0".parse().unwrap(),
            ready: Vec::new(),
        };
        // A thread reads stdout to the end, so the child never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("meridian ready ") {
                    tx.send(line).ok();
                }
            }
        });
        let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let exited = server.child.try_wait().unwrap();
                panic!(
                    "no `meridian ready` line within {STARTUP_TIMEOUT:?} (exit: {exited:?}); stderr:\n{}",
                    server.stderr()
                );
            }
        };
        server.ready = parse_ready_line(&line);
        let dns = server
            .ready
            .iter()
            .find(|(k, _)| k == "dns")
            .unwrap_or_else(|| panic!("no dns= in start-up line {line:?}"));
        server.dns = dns
            .1
            .parse()
            .unwrap_or_else(|e| panic!("bad dns= in {line:?}: {e}"));
        assert!(server.dns.ip().is_loopback(), "{line:?}");
        assert_ne!(server.dns.port(), 0, "{line:?}");
        server
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The HTTP API address from the start-up line.
    pub fn api(&self) -> SocketAddr {
        let (_, addr) = self
            .ready
            .iter()
            .find(|(k, _)| k == "api")
            .unwrap_or_else(|| panic!("no api= in start-up line {:?}", self.ready));
        addr.parse()
            .unwrap_or_else(|e| panic!("bad api= {addr:?}: {e}"))
    }

    /// The child's PID, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temp dir holding the config, zones and state.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("server has its dir").path()
    }

    /// Stops the server (SIGTERM, then SIGKILL after [`STARTUP_TIMEOUT`]) and hands back
    /// its files, so a test can start it again on the same config and state_dir.
    pub fn stop(mut self) -> tempfile::TempDir {
        terminate(&mut self.child);
        let stderr = self.stderr();
        let dir = self.dir.take().expect("server has its dir");
        // The stderr file is kept in the dir, but a second start overwrites it.
        std::fs::write(dir.path().join("serve.stderr.previous"), stderr).ok();
        dir
    }

    /// Panics if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("meridian exited: {status}; stderr:\n{}", self.stderr());
        }
    }

    pub fn udp(&self) -> UdpClient {
        UdpClient::new(self.dns)
    }

    pub fn tcp(&self) -> TcpClient {
        TcpClient::connect(self.dns).expect("tcp connect")
    }

    /// One query over UDP from a fresh socket; panics if no response comes.
    pub fn query(&self, q: &Query) -> Response {
        self.udp().exchange(q)
    }

    /// One query over a fresh TCP connection; panics if no response comes.
    pub fn query_tcp(&self, q: &Query) -> Response {
        self.tcp().exchange(q)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `Child::kill` signals this child's PID only.
        self.child.kill().ok();
        self.child.wait().ok();
        if std::thread::panicking() {
            eprintln!("--- meridian serve stderr ---\n{}", self.stderr());
        }
    }
}

/// `meridian ready dns=127.0.0.1:5300 api=...` → `[("dns", "127.0.0.1:5300"), ...]`.
pub fn parse_ready_line(line: &str) -> Vec<(String, String)> {
    let rest = line
        .strip_prefix("meridian ready ")
        .unwrap_or_else(|| panic!("not a start-up line: {line:?}"));
    rest.split_whitespace()
        .map(|token| {
            let (k, v) = token
                .split_once('=')
                .unwrap_or_else(|| panic!("token {token:?} in {line:?} is not key=value"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A running `meridian probe`. Killed by PID, and waited for, on drop.
pub struct Probe {
    child: Child,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
    pub name: String,
}

impl Probe {
    /// Starts `meridian probe --region REGION --server http://API ... --token-file FILE
    /// --name NAME --source SOURCE` and waits for `meridian probe ready name=NAME`.
    pub fn start(
        name: &str,
        region: &str,
        servers: &[SocketAddr],
        token_file: &Path,
        source: Option<std::net::IpAddr>,
    ) -> Probe {
        Probe::start_with(name, region, servers, token_file, source, &[])
    }

    /// [`Probe::start`] with more arguments (e.g. `--lat`, `--lon`).
    pub fn start_with(
        name: &str,
        region: &str,
        servers: &[SocketAddr],
        token_file: &Path,
        source: Option<std::net::IpAddr>,
        more: &[&str],
    ) -> Probe {
        let dir = tempfile::Builder::new()
            .prefix("meridian-probe-")
            .tempdir()
            .expect("temp dir");
        let stderr_path = dir.path().join("probe.stderr");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
        cmd.arg("probe")
            .arg("--region")
            .arg(region)
            .arg("--token-file")
            .arg(token_file)
            .arg("--name")
            .arg(name);
        for server in servers {
            cmd.arg("--server").arg(format!("http://{server}"));
        }
        if let Some(source) = source {
            cmd.arg("--source").arg(source.to_string());
        }
        cmd.args(more);
        let mut child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn meridian probe");
        let stdout = child.stdout.take().unwrap();
        let mut probe = Probe {
            child,
            stderr_path,
            _dir: dir,
            name: name.to_string(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("meridian probe ready") {
                    tx.send(line).ok();
                }
            }
        });
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) => assert_eq!(line, format!("meridian probe ready name={name}")),
            Err(_) => {
                let exited = probe.child.try_wait().unwrap();
                panic!(
                    "no `meridian probe ready` line within {STARTUP_TIMEOUT:?} (exit: {exited:?}); stderr:\n{}",
                    probe.stderr()
                );
            }
        }
        probe
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Kills the prober (SIGKILL, its PID only) and waits for it.
    pub fn kill(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- meridian probe {} stderr ---\n{}",
                self.name,
                self.stderr()
            );
        }
    }
}

#[test]
fn ready_line_may_carry_more_tokens() {
    assert_eq!(
        parse_ready_line("meridian ready dns=127.0.0.1:5300 api=127.0.0.1:5380"),
        [
            ("dns".to_string(), "127.0.0.1:5300".to_string()),
            ("api".to_string(), "127.0.0.1:5380".to_string())
        ]
    );
}

/// Stops a child process of ours by PID: SIGTERM, then SIGKILL (that PID only) if it has
/// not exited within [`STARTUP_TIMEOUT`]; reaps it either way.
pub fn terminate(child: &mut std::process::Child) {
    // SAFETY: kill(2) on our own child's PID; no memory is involved.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

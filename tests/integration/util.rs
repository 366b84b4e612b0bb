//! The harness: writes a config and zones into a temp dir, runs the real `meridian` binary
//! on port 0, and speaks DNS to it over UDP and TCP on loopback.
//!
//! Queries are encoded by hand, so tests can also send broken ones. Responses are decoded by
//! hand, so header bits, section counts and the OPT record are checked as they are on the
//! wire, and every response is also cross-checked with hickory-proto's parser.

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long the server may take to print its start-up line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a response that must come may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to keep listening for a response that must not come, after a later query on
/// the same socket has been answered.
pub const SILENCE: Duration = Duration::from_millis(300);

/// The standard zone: one of everything (see the comments in the file).
pub const EXAMPLE_COM: &str = include_str!("../data/zones/example.com.zone");
/// A zone nested inside `example.com`, with SOA TTL 60 below its minimum 300.
pub const DEEP_EXAMPLE_COM: &str = include_str!("../data/zones/deep.example.com.zone");

pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const BADVERS: u16 = 16;
}

// ---------------------------------------------------------------------------------------
// Fixture: the files a test's server reads.

/// A config and zone files, written to a fresh temp dir by [`Fixture::write`].
#[derive(Clone, Default)]
pub struct Fixture {
    zones: Vec<(String, String)>,
    files: Vec<(String, String)>,
    server_keys: Vec<String>,
    config: Option<String>,
}

impl Fixture {
    pub fn new() -> Self {
        Self::default()
    }

    /// `example.com` and `deep.example.com` from `tests/data/zones/`.
    pub fn standard() -> Self {
        Self::new()
            .zone("example.com", EXAMPLE_COM)
            .zone("deep.example.com", DEEP_EXAMPLE_COM)
    }

    /// Adds `zones/<origin>.zone`.
    pub fn zone(mut self, origin: &str, text: &str) -> Self {
        self.zones.push((origin.to_string(), text.to_string()));
        self
    }

    /// Appends lines to a zone added before.
    pub fn append(mut self, origin: &str, lines: &str) -> Self {
        let zone = self
            .zones
            .iter_mut()
            .find(|(o, _)| o == origin)
            .unwrap_or_else(|| panic!("no zone {origin} to append to"));
        if !zone.1.ends_with('\n') {
            zone.1.push('\n');
        }
        zone.1.push_str(lines);
        self
    }

    /// Adds a line to `[server]`, e.g. `max_udp_payload = 1232`.
    pub fn server_key(mut self, line: &str) -> Self {
        self.server_keys.push(line.to_string());
        self
    }

    /// Replaces the whole `meridian.toml`.
    pub fn config_text(mut self, text: &str) -> Self {
        self.config = Some(text.to_string());
        self
    }

    /// Adds any other file, by path relative to the config's directory.
    pub fn file(mut self, rel: &str, text: &str) -> Self {
        self.files.push((rel.to_string(), text.to_string()));
        self
    }

    pub fn config(&self) -> String {
        if let Some(text) = &self.config {
            return text.clone();
        }
        let mut text = String::from(
            "[server]\ndns_listen = [\"127.0.0.1:0\"]\napi_listen = \"127.0.0.1:0\"\n\
             zones_dir = \"zones\"\nstate_dir = \"state\"\nudp_workers = 1\n",
        );
        for line in &self.server_keys {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Writes everything to a fresh temp dir; `{DIR}` in any file becomes its path.
    pub fn write(&self) -> tempfile::TempDir {
        let dir = tempfile::Builder::new()
            .prefix("meridian-itest-")
            .tempdir()
            .expect("temp dir");
        let subst = |text: &str| text.replace("{DIR}", &dir.path().display().to_string());
        std::fs::create_dir_all(dir.path().join("zones")).unwrap();
        std::fs::write(dir.path().join("meridian.toml"), subst(&self.config())).unwrap();
        for (origin, text) in &self.zones {
            let path = dir.path().join("zones").join(format!("{origin}.zone"));
            std::fs::write(path, subst(text)).unwrap();
        }
        for (rel, text) in &self.files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, subst(text)).unwrap();
        }
        dir
    }

    pub fn start(&self) -> Server {
        Server::start_in(self.write(), None)
    }

    /// Runs `meridian check --config <dir>/meridian.toml`.
    pub fn check(&self) -> Run {
        let dir = self.write();
        let config = dir.path().join("meridian.toml");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
        cmd.arg("check").arg("--config").arg(&config);
        let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
        Run {
            dir: Some(dir),
            ..run
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running the binary.

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
        // SAFETY: kill(2) on our own child's PID; no memory is involved.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                self.child.kill().ok();
                self.child.wait().ok();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

// ---------------------------------------------------------------------------------------
// HTTP: a minimal HTTP/1.1 client for the API (one request per connection).

/// A response from the HTTP API.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics (showing it) if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// Sends one request to `addr` with `Connection: close` and reads the whole response.
/// `token` goes in `Authorization: Bearer`; `body` is sent as JSON.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> HttpReply {
    let mut stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to the API at {addr}: {e}"));
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        req.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if method != "GET" {
        req.push_str("Content-Type: application/json\r\n");
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream
        .write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {path}: reading the response: {e}"));
    parse_http(&raw).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: bad HTTP response ({e}): {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_http(raw: &[u8]) -> Result<HttpReply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("bad chunk")?;
            let size_text = std::str::from_utf8(&rest[..nl]).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size).ok_or("short chunk")?);
            rest = rest.get(size + 2..).ok_or("short chunk")?;
        }
        body = out;
    }
    Ok(HttpReply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

// ---------------------------------------------------------------------------------------
// Queries.

static NEXT_ID: AtomicU16 = AtomicU16::new(0x1000);

/// A query, encoded by hand by [`Query::to_wire`].
#[derive(Clone, Debug)]
pub struct Query {
    pub id: u16,
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opcode: u8,
    pub rd: bool,
    pub edns: Option<Edns>,
}

impl Query {
    /// An IN query with a fresh ID, RD clear, no EDNS.
    pub fn new(name: &str, qtype: RecordType) -> Self {
        Query {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: name.to_string(),
            qtype: qtype.into(),
            qclass: 1,
            opcode: 0,
            rd: false,
            edns: None,
        }
    }

    pub fn id(mut self, id: u16) -> Self {
        self.id = id;
        self
    }

    pub fn rd(mut self, rd: bool) -> Self {
        self.rd = rd;
        self
    }

    pub fn opcode(mut self, opcode: u8) -> Self {
        self.opcode = opcode;
        self
    }

    pub fn edns(mut self, edns: Edns) -> Self {
        self.edns = Some(edns);
        self
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&self.id.to_be_bytes());
        b.push((self.opcode & 0x0f) << 3 | u8::from(self.rd));
        b.push(0);
        let arcount = u16::from(self.edns.is_some());
        for count in [1, 0, 0, arcount] {
            b.extend_from_slice(&count.to_be_bytes());
        }
        b.extend_from_slice(&encode_name(&self.name));
        b.extend_from_slice(&self.qtype.to_be_bytes());
        b.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some(edns) = &self.edns {
            b.extend_from_slice(&edns.to_wire());
        }
        b
    }
}

/// The OPT pseudo-record of a query.
#[derive(Clone, Debug)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Edns {
    pub fn new(payload: u16) -> Self {
        Edns {
            payload,
            version: 0,
            dnssec_ok: false,
            options: Vec::new(),
        }
    }

    pub fn version(mut self, version: u8) -> Self {
        self.version = version;
        self
    }

    pub fn dnssec_ok(mut self, on: bool) -> Self {
        self.dnssec_ok = on;
        self
    }

    pub fn option(mut self, code: u16, data: Vec<u8>) -> Self {
        self.options.push((code, data));
        self
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut rdata = Vec::new();
        for (code, data) in &self.options {
            rdata.extend_from_slice(&code.to_be_bytes());
            rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
            rdata.extend_from_slice(data);
        }
        let mut b = vec![0]; // root owner
        b.extend_from_slice(&41u16.to_be_bytes());
        b.extend_from_slice(&self.payload.to_be_bytes());
        b.push(0); // extended rcode
        b.push(self.version);
        b.extend_from_slice(&(if self.dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
        b.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        b.extend_from_slice(&rdata);
        b
    }
}

/// The EDNS option code of Client Subnet (RFC 7871).
pub const ECS: u16 = 8;

/// The raw data of an ECS option, exactly as given (so tests can break it).
pub fn ecs_option(family: u16, source: u8, scope: u8, address: &[u8]) -> Vec<u8> {
    let mut b = family.to_be_bytes().to_vec();
    b.push(source);
    b.push(scope);
    b.extend_from_slice(address);
    b
}

/// `"www.Example.com."` → wire labels, case kept.
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        assert!(label.len() < 64, "label too long: {label}");
        b.push(label.len() as u8);
        b.extend_from_slice(label.as_bytes());
    }
    b.push(0);
    b
}

/// A 12-byte header with the given fields, for hand-built malformed queries.
pub fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    b.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b
}

// ---------------------------------------------------------------------------------------
// Transports.

/// A UDP socket on loopback, connected to the server.
pub struct UdpClient {
    sock: UdpSocket,
}

impl UdpClient {
    pub fn new(server: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        sock.connect(server).expect("connect udp");
        UdpClient { sock }
    }

    pub fn send(&self, bytes: &[u8]) {
        self.sock.send(bytes).expect("udp send");
    }

    /// The next datagram, or `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; 65535];
        match self.sock.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                Some(buf)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("udp recv: {e}"),
        }
    }

    /// Reads until a datagram with this ID arrives (returned with every other datagram
    /// seen before it), or `timeout` passes.
    pub fn recv_id(&self, id: u16, timeout: Duration) -> (Option<Vec<u8>>, Vec<Vec<u8>>) {
        let deadline = Instant::now() + timeout;
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (None, others);
            }
            match self.recv(left) {
                Some(d) if d.len() >= 2 && u16::from_be_bytes([d[0], d[1]]) == id => {
                    return (Some(d), others);
                }
                Some(d) => others.push(d),
                None => return (None, others),
            }
        }
    }

    pub fn exchange(&self, q: &Query) -> Response {
        self.send(&q.to_wire());
        let (reply, _) = self.recv_id(q.id, REPLY_TIMEOUT);
        let reply = reply.unwrap_or_else(|| panic!("no UDP response to {q:?}"));
        Response::parse(&reply).unwrap_or_else(|e| panic!("bad response to {q:?}: {e}"))
    }

    /// Sends `bytes`, then a good query as a barrier, and returns every datagram that is
    /// not the barrier's response and arrives before it or within [`SILENCE`] after it.
    /// Panics if the barrier is not answered (the server died or hangs).
    pub fn replies_to(&self, bytes: &[u8], barrier_name: &str) -> Vec<Vec<u8>> {
        self.send(bytes);
        let barrier = Query::new(barrier_name, RecordType::A);
        self.send(&barrier.to_wire());
        let (reply, mut others) = self.recv_id(barrier.id, REPLY_TIMEOUT);
        assert!(
            reply.is_some(),
            "server did not answer a good query after {bytes:02x?}"
        );
        while let Some(d) = self.recv(SILENCE) {
            others.push(d);
        }
        others
    }
}

/// A TCP connection to the server; messages carry the 2-byte length prefix.
pub struct TcpClient {
    pub stream: TcpStream,
}

impl TcpClient {
    pub fn connect(server: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&server, REPLY_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(TcpClient { stream })
    }

    pub fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.stream.write_all(&frame(msg))
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// One length-prefixed message.
    pub fn recv(&mut self) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len)?;
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut msg)?;
        Ok(msg)
    }

    pub fn exchange(&mut self, q: &Query) -> Response {
        self.send(&q.to_wire())
            .unwrap_or_else(|e| panic!("tcp send {q:?}: {e}"));
        let reply = self
            .recv()
            .unwrap_or_else(|e| panic!("no TCP response to {q:?}: {e}"));
        let r = Response::parse(&reply).unwrap_or_else(|e| panic!("bad response to {q:?}: {e}"));
        assert_eq!(r.id, q.id, "TCP response ID\n{r}");
        r
    }

    /// Waits up to `limit` for the server to close the connection. `Ok(elapsed)` if it
    /// did (EOF or reset), `Err` if it stayed open or sent data.
    pub fn wait_closed(&mut self, limit: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        self.stream.set_read_timeout(Some(limit)).unwrap();
        let mut buf = [0u8; 512];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(start.elapsed()),
            Ok(n) => Err(format!("server sent {n} bytes instead of closing")),
            Err(e) if is_closed(&e) => Ok(start.elapsed()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(format!("still open after {limit:?}"))
            }
            Err(e) => Err(format!("read error {e}")),
        }
    }
}

/// Whether an I/O error means the peer closed or refused the connection.
pub fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::BrokenPipe
    )
}

pub fn frame(msg: &[u8]) -> Vec<u8> {
    let mut b = (msg.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(msg);
    b
}

// ---------------------------------------------------------------------------------------
// Responses, decoded by hand.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// As on the wire, case kept, with the trailing dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rdata {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// NS, CNAME, PTR.
    Name(String),
    Mx(u16, String),
    Soa(Soa),
    Txt(Vec<Vec<u8>>),
    Other(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// As on the wire, case kept, with the trailing dot.
    pub name: String,
    pub rtype: RecordType,
    pub class: u16,
    pub ttl: u32,
    pub data: Rdata,
}

impl Record {
    /// `"www.example.com. 3600 A 192.0.2.10"`, names lower-cased.
    pub fn text(&self) -> String {
        let class = if self.class == 1 {
            String::new()
        } else {
            format!("CLASS{} ", self.class)
        };
        let data = match &self.data {
            Rdata::A(a) => a.to_string(),
            Rdata::Aaaa(a) => a.to_string(),
            Rdata::Name(n) => n.to_ascii_lowercase(),
            Rdata::Mx(p, n) => format!("{p} {}", n.to_ascii_lowercase()),
            Rdata::Soa(s) => format!(
                "{} {} {} {} {} {} {}",
                s.mname.to_ascii_lowercase(),
                s.rname.to_ascii_lowercase(),
                s.serial,
                s.refresh,
                s.retry,
                s.expire,
                s.minimum
            ),
            Rdata::Txt(strings) => strings
                .iter()
                .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
                .collect::<Vec<_>>()
                .join(" "),
            Rdata::Other(b) => format!("\\# {} {b:02x?}", b.len()),
        };
        format!(
            "{} {} {class}{} {data}",
            self.name.to_ascii_lowercase(),
            self.ttl,
            self.rtype
        )
    }

    pub fn is(&self, name: &str, rtype: RecordType) -> bool {
        self.rtype == rtype && self.name.eq_ignore_ascii_case(name)
    }
}

/// The OPT pseudo-record of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub payload: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Opt {
    pub fn option(&self, code: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }
}

/// A response as it was on the wire.
#[derive(Clone, Debug)]
pub struct Response {
    pub bytes: Vec<u8>,
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    /// The 4 header bits; see [`Response::rcode`] for the full code.
    pub header_rcode: u8,
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT as written in the header.
    pub counts: [u16; 4],
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    /// The additional section without the OPT record.
    pub additional: Vec<Record>,
    pub opt: Option<Opt>,
}

impl Response {
    /// Decodes a whole response; the section counts must match the records present and
    /// no bytes may follow the last one. hickory-proto must accept it too.
    pub fn parse(bytes: &[u8]) -> Result<Response, String> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let id = r.u16()?;
        let flags = r.u16()?;
        let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        let mut questions = Vec::new();
        for _ in 0..counts[0] {
            questions.push(Question {
                name: r.name()?,
                qtype: r.u16()?,
                qclass: r.u16()?,
            });
        }
        let mut sections = [Vec::new(), Vec::new(), Vec::new()];
        let mut opt = None;
        for (i, section) in sections.iter_mut().enumerate() {
            for _ in 0..counts[i + 1] {
                match r.record()? {
                    Parsed::Record(rec) => section.push(rec),
                    Parsed::Opt(o) if i == 2 && opt.is_none() => opt = Some(o),
                    Parsed::Opt(_) => return Err("misplaced or second OPT record".into()),
                }
            }
        }
        if r.pos != bytes.len() {
            return Err(format!(
                "{} bytes after the last record",
                bytes.len() - r.pos
            ));
        }
        if let Err(e) = Message::from_vec(bytes) {
            return Err(format!(
                "hickory-proto rejects the response: {e}; bytes {bytes:02x?}"
            ));
        }
        let [answers, authority, additional] = sections;
        Ok(Response {
            bytes: bytes.to_vec(),
            id,
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0x0f) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            header_rcode: (flags & 0x000f) as u8,
            counts,
            questions,
            answers,
            authority,
            additional,
            opt,
        })
    }

    /// The full 12-bit rcode: header bits plus the OPT's extended bits.
    pub fn rcode(&self) -> u16 {
        let high = self.opt.as_ref().map_or(0, |o| o.ext_rcode as u16);
        high << 4 | self.header_rcode as u16
    }

    pub fn answer_texts(&self) -> Vec<String> {
        self.answers.iter().map(Record::text).collect()
    }

    pub fn authority_texts(&self) -> Vec<String> {
        self.authority.iter().map(Record::text).collect()
    }

    pub fn additional_texts(&self) -> Vec<String> {
        self.additional.iter().map(Record::text).collect()
    }

    /// Checks what every response must copy from its query: ID, QR set, opcode, RD, and
    /// the question exactly as sent (case included).
    pub fn assert_echoes(&self, q: &Query) {
        assert_eq!(self.id, q.id, "ID\n{self}");
        assert!(self.qr, "QR must be set\n{self}");
        assert_eq!(self.opcode, q.opcode, "opcode\n{self}");
        assert_eq!(self.rd, q.rd, "RD must be copied\n{self}");
        let expected = Question {
            name: wire_name(&q.name),
            qtype: q.qtype,
            qclass: q.qclass,
        };
        assert_eq!(self.questions, vec![expected], "question\n{self}");
    }

    /// An authoritative answer: NOERROR, AA, query echoed.
    pub fn assert_answer(&self, q: &Query) {
        self.assert_echoes(q);
        assert_eq!(self.rcode(), rcode::NOERROR, "rcode\n{self}");
        assert!(self.aa, "AA must be set\n{self}");
        assert!(!self.tc, "TC\n{self}");
    }
}

/// The name as [`Response::parse`] prints it: with one trailing dot.
pub fn wire_name(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// `texts` sorted, for comparing RRsets whose order is free.
pub fn sorted<S: AsRef<str>>(texts: &[S]) -> Vec<String> {
    let mut v: Vec<String> = texts.iter().map(|s| s.as_ref().to_string()).collect();
    v.sort();
    v
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags: Vec<&str> = [
            (self.qr, "qr"),
            (self.aa, "aa"),
            (self.tc, "tc"),
            (self.rd, "rd"),
            (self.ra, "ra"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        writeln!(
            f,
            ";; id {} opcode {} rcode {} flags [{}] counts {:?}, {} bytes",
            self.id,
            self.opcode,
            self.rcode(),
            flags.join(" "),
            self.counts,
            self.bytes.len()
        )?;
        if let Some(o) = &self.opt {
            writeln!(
                f,
                ";; OPT payload {} version {} ext_rcode {} do {} options {:02x?}",
                o.payload, o.version, o.ext_rcode, o.dnssec_ok, o.options
            )?;
        }
        for q in &self.questions {
            writeln!(
                f,
                ";; QUESTION {} {} class {}",
                q.name,
                RecordType::from(q.qtype),
                q.qclass
            )?;
        }
        for (title, records) in [
            ("ANSWER", &self.answers),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            for rec in records {
                writeln!(f, ";; {title} {}", rec.text())?;
            }
        }
        Ok(())
    }
}

enum Parsed {
    Record(Record),
    Opt(Opt),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(format!("message ends at {} inside a field", self.buf.len()));
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name at the cursor.
    fn name(&mut self) -> Result<String, String> {
        let (name, end) = read_name(self.buf, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    fn record(&mut self) -> Result<Parsed, String> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = self.u16()? as usize;
        let start = self.pos;
        let end = start + len;
        if end > self.buf.len() {
            return Err(format!("RDATA of {name} runs past the end"));
        }
        if rtype == 41 {
            if name != "." {
                return Err(format!("OPT owner {name} is not the root"));
            }
            let mut options = Vec::new();
            while self.pos < end {
                let code = self.u16()?;
                let olen = self.u16()? as usize;
                if self.pos + olen > end {
                    return Err("EDNS option runs past the OPT RDATA".into());
                }
                options.push((code, self.take(olen)?.to_vec()));
            }
            return Ok(Parsed::Opt(Opt {
                payload: class,
                ext_rcode: (ttl >> 24) as u8,
                version: (ttl >> 16) as u8,
                dnssec_ok: ttl & 0x8000 != 0,
                options,
            }));
        }
        let rtype = RecordType::from(rtype);
        let data = match rtype {
            RecordType::A if len == 4 => {
                let b = self.take(4)?;
                Rdata::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            RecordType::AAAA if len == 16 => {
                let b: [u8; 16] = self.take(16)?.try_into().unwrap();
                Rdata::Aaaa(Ipv6Addr::from(b))
            }
            RecordType::NS | RecordType::CNAME | RecordType::PTR => Rdata::Name(self.name()?),
            RecordType::MX => {
                let pref = self.u16()?;
                Rdata::Mx(pref, self.name()?)
            }
            RecordType::SOA => Rdata::Soa(Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.u32()?,
                refresh: self.u32()?,
                retry: self.u32()?,
                expire: self.u32()?,
                minimum: self.u32()?,
            }),
            RecordType::TXT => {
                let mut strings = Vec::new();
                while self.pos < end {
                    let n = self.u8()? as usize;
                    strings.push(self.take(n)?.to_vec());
                }
                Rdata::Txt(strings)
            }
            _ => Rdata::Other(self.take(len)?.to_vec()),
        };
        if self.pos != end {
            return Err(format!(
                "RDATA of {name} {rtype}: length {len} but {} bytes decoded",
                self.pos - start
            ));
        }
        Ok(Parsed::Record(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        }))
    }
}

/// Reads a name at `pos`, following compression pointers (backwards only, bounded).
/// Returns the name (case kept, trailing dot) and where the name ends at `pos`.
pub fn read_name(buf: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *buf.get(pos).ok_or("name runs past the end")? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                let end = end.unwrap_or(pos + 1);
                if name.is_empty() {
                    name.push('.');
                }
                if name.len() > 254 {
                    return Err(format!("name longer than 255 bytes: {name}"));
                }
                return Ok((name, end));
            }
            0x00 => {
                let label = buf
                    .get(pos + 1..pos + 1 + len)
                    .ok_or("label runs past the end")?;
                name.push_str(&String::from_utf8_lossy(label));
                name.push('.');
                pos += 1 + len;
            }
            0xc0 => {
                let lo = *buf.get(pos + 1).ok_or("pointer runs past the end")? as usize;
                let target = (len & 0x3f) << 8 | lo;
                if target >= pos {
                    return Err(format!("compression pointer at {pos} points forward"));
                }
                jumps += 1;
                if jumps > 64 {
                    return Err("compression loop".into());
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(format!("label type {len:#x} at {pos}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic bytes for the fuzz loop.

/// xorshift64*: a few lines, the same packets on every run.
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
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

// ---------------------------------------------------------------------------------------
// Fleet: health-check backends in the test process, and a server with load-balanced names.

/// What a [`Backend`] does with a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `200 OK`, body `ok`.
    Ok,
    /// This status code, body `ok`.
    Status(u16),
    /// `200 OK` with this body.
    Body(String),
    /// Accepts and never answers (until the backend is dropped, at most 10 s).
    Hang,
}

struct BackendShared {
    default: Mutex<Reply>,
    per_peer: Mutex<HashMap<IpAddr, Reply>>,
    /// Set on drop: hanging connections are released.
    closed: AtomicBool,
}

/// A tiny HTTP (or HTTPS, or plain TCP) server on one 127.0.0.x address: answers as told,
/// per peer address if told so. [`Backend::stop`] closes the listener, so connections are
/// refused; [`Backend::start`] binds the same address and port again.
pub struct Backend {
    pub addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    shared: Arc<BackendShared>,
    accept: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Backend {
    /// An HTTP backend on `ip:port` (port 0: any free port) answering `reply`.
    pub fn http(ip: &str, port: u16, reply: Reply) -> Backend {
        Backend::new(ip, port, reply, None)
    }

    /// An HTTPS backend presenting `tls`'s certificate.
    pub fn https(ip: &str, port: u16, reply: Reply, tls: Arc<rustls::ServerConfig>) -> Backend {
        Backend::new(ip, port, reply, Some(tls))
    }

    fn new(ip: &str, port: u16, reply: Reply, tls: Option<Arc<rustls::ServerConfig>>) -> Backend {
        let ip: IpAddr = ip.parse().expect("backend address");
        assert!(ip.is_loopback(), "backends live on loopback only: {ip}");
        let mut b = Backend {
            addr: SocketAddr::new(ip, port),
            tls,
            shared: Arc::new(BackendShared {
                default: Mutex::new(reply),
                per_peer: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
            }),
            accept: None,
        };
        b.start();
        b
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Answers `reply` to connections from `peer` (a prober's `--source`).
    pub fn set_reply_for(&self, peer: &str, reply: Reply) {
        let peer: IpAddr = peer.parse().unwrap();
        self.shared.per_peer.lock().unwrap().insert(peer, reply);
    }

    /// Drops every per-peer rule.
    pub fn clear_peer_rules(&self) {
        self.shared.per_peer.lock().unwrap().clear();
    }

    /// Binds the listener (again) and accepts in a thread.
    pub fn start(&mut self) {
        assert!(
            self.accept.is_none(),
            "backend {} already running",
            self.addr
        );
        let listener = std::net::TcpListener::bind(self.addr)
            .unwrap_or_else(|e| panic!("bind backend {}: {e}", self.addr));
        self.addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let shared = self.shared.clone();
            let tls = self.tls.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            let shared = shared.clone();
                            let tls = tls.clone();
                            std::thread::spawn(move || serve_backend(stream, peer, shared, tls));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                // The listener is dropped here: new connections are refused.
            })
        };
        self.accept = Some((stop, thread));
    }

    /// Closes the listener; returns once connections are refused.
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.accept.take() {
            stop.store(true, Ordering::Relaxed);
            thread.join().ok();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.stop();
    }
}

fn serve_backend(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<BackendShared>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
    stream.set_write_timeout(Some(Duration::from_secs(2))).ok();
    let reply = shared
        .per_peer
        .lock()
        .unwrap()
        .get(&peer.ip())
        .cloned()
        .unwrap_or_else(|| shared.default.lock().unwrap().clone());
    if reply == Reply::Hang {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until && !shared.closed.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        return;
    }
    match tls {
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut s = rustls::StreamOwned::new(conn, stream);
            answer_http(&mut s, &reply);
            s.conn.send_close_notify();
            s.flush().ok();
        }
        None => {
            let mut s = stream;
            answer_http(&mut s, &reply);
        }
    }
}

/// Reads the request head (a TCP check sends none and closes) and writes the reply.
fn answer_http(s: &mut (impl Read + Write), reply: &Reply) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let (code, body) = match reply {
        Reply::Ok => (200, "ok".to_string()),
        Reply::Status(code) => (*code, "ok".to_string()),
        Reply::Body(body) => (200, body.clone()),
        Reply::Hang => unreachable!(),
    };
    let text = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(text.as_bytes()).ok();
    s.flush().ok();
}

/// A self-signed certificate for `ip` (as an IP SAN), as a rustls server config: valid in
/// every way except that no prober trusts its issuer.
pub fn self_signed_tls(ip: &str) -> Arc<rustls::ServerConfig> {
    let ck = rcgen::generate_simple_self_signed(vec![ip.to_string(), "localhost".to_string()])
        .expect("rcgen");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .expect("server config");
    Arc::new(config)
}

/// The fleet token every fleet test writes to `fleet.token`.
pub const FLEET_TOKEN: &str = "itest-fleet-token-0123456789";

/// A server in region eu-west with regions eu-west, us-east and ap-south, the standard
/// `example.com` zone, `services` as `zones/example.com.toml`, and [`FLEET_TOKEN`].
pub fn fleet_fixture(local_prober: bool, services: &str) -> Fixture {
    let config = format!(
        "[server]\nregion = \"eu-west\"\ndns_listen = [\"127.0.0.1:0\"]\n\
         api_listen = \"127.0.0.1:0\"\nzones_dir = \"zones\"\nstate_dir = \"state\"\n\
         udp_workers = 1\n\n[fleet]\ntoken_file = \"fleet.token\"\nquorum = \"majority\"\n\
         local_prober = {local_prober}\n\n[regions.eu-west]\nlat = 53.35\nlon = -6.26\n\n\
         [regions.us-east]\nlat = 39.04\nlon = -77.49\n\n[regions.ap-south]\nlat = 19.08\n\
         lon = 72.88\n"
    );
    Fixture::new()
        .zone("example.com", EXAMPLE_COM)
        .config_text(&config)
        .file("fleet.token", &format!("{FLEET_TOKEN}\n"))
        .file("zones/example.com.toml", services)
}

/// Polls `f` every 50 ms until it gives `Some`, or panics after `limit` saying `what`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Server {
    /// `GET /v1/status` as JSON.
    pub fn status(&self) -> serde_json::Value {
        let r = http(self.api(), "GET", "/v1/status", None, None);
        assert_eq!(r.status, 200, "GET /v1/status: {}", r.body);
        r.json()
    }

    /// A request to the API carrying [`FLEET_TOKEN`].
    pub fn post(&self, path: &str, body: Option<&str>) -> HttpReply {
        http(self.api(), "POST", path, Some(FLEET_TOKEN), body)
    }

    /// The A records of `name` over UDP: the addresses, sorted, and the TTL of the first.
    /// NOERROR and AA are asserted.
    pub fn a_records(&self, name: &str) -> (Vec<Ipv4Addr>, Option<u32>) {
        let q = Query::new(name, RecordType::A);
        let r = self.query(&q);
        r.assert_answer(&q);
        let mut addrs: Vec<Ipv4Addr> = r
            .answers
            .iter()
            .filter_map(|rec| match rec.data {
                Rdata::A(a) => Some(a),
                _ => None,
            })
            .collect();
        addrs.sort();
        (addrs, r.answers.first().map(|rec| rec.ttl))
    }

    /// The A addresses of `name`, as strings, sorted.
    pub fn answer(&self, name: &str) -> Vec<String> {
        self.a_records(name)
            .0
            .iter()
            .map(|a| a.to_string())
            .collect()
    }
}

/// In a `/v1/status` document: the endpoint `address` of the service `name` (with or
/// without the trailing dot).
pub fn status_endpoint<'a>(
    status: &'a serde_json::Value,
    name: &str,
    address: &str,
) -> &'a serde_json::Value {
    let name = name.trim_end_matches('.');
    let service = status["services"]
        .as_array()
        .expect("services[]")
        .iter()
        .find(|s| s["name"].as_str().unwrap_or("").trim_end_matches('.') == name)
        .unwrap_or_else(|| panic!("no service {name} in status {status:#}"));
    service["endpoints"]
        .as_array()
        .expect("endpoints[]")
        .iter()
        .find(|e| e["address"] == address)
        .unwrap_or_else(|| panic!("no endpoint {address} of {name} in status {status:#}"))
}

/// The endpoint's `state` ("up", "down", "drained").
pub fn endpoint_state(status: &serde_json::Value, name: &str, address: &str) -> String {
    status_endpoint(status, name, address)["state"]
        .as_str()
        .expect("state")
        .to_string()
}

/// The endpoint's vote from `prober`, if it has one.
pub fn vote<'a>(
    status: &'a serde_json::Value,
    name: &str,
    address: &str,
    prober: &str,
) -> Option<&'a serde_json::Value> {
    status_endpoint(status, name, address)["votes"]
        .as_array()
        .expect("votes[]")
        .iter()
        .find(|v| v["prober"] == prober)
}

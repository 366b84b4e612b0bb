//! Fleet: health-check backends in the test process, and a server with load-balanced names.

use super::*;

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

/// A server in region eu-west with the shared test regions ([`REGIONS`]), the standard
/// `example.com` zone, `services` as `zones/example.com.toml`, and [`FLEET_TOKEN`].
pub fn fleet_fixture(local_prober: bool, services: &str) -> Fixture {
    fleet_fixture_with_quorum(local_prober, "\"majority\"", services)
}

/// [`fleet_fixture`] with `[fleet] quorum = QUORUM` (as written in TOML).
pub fn fleet_fixture_with_quorum(local_prober: bool, quorum: &str, services: &str) -> Fixture {
    let config = format!(
        "[server]\nregion = \"eu-west\"\ndns_listen = [\"127.0.0.1:0\"]\n\
         api_listen = \"127.0.0.1:0\"\nzones_dir = \"zones\"\nstate_dir = \"state\"\n\
         udp_workers = 1\n\n[fleet]\ntoken_file = \"fleet.token\"\nquorum = {quorum}\n\
         local_prober = {local_prober}\n\n{REGIONS}"
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

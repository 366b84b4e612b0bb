//! Checks against in-process servers on 127.0.0.1 (plain TCP, HTTP/1.1, HTTPS with a CA made
//! here). Each server stops when its handle drops; each test runs under a time bound.

use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::PrivatePkcs8KeyDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::*;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Not on this machine (TEST-NET-1): binding it fails. Never a destination.
const FOREIGN_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const SECOND_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Fails a test that runs longer than this, whatever it waits on.
async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), test)
        .await
        .expect("test ran past its time bound")
}

fn check(kind: CheckKind, port: u16) -> Check {
    Check {
        kind,
        port,
        path: "/healthz".to_owned(),
        host: None,
        insecure: false,
        expect: vec![(200, 399)],
        body: None,
        interval: Duration::from_secs(10),
        // Generous: only the timeout test waits for it.
        timeout: Duration::from_secs(5),
        recheck: Duration::from_secs(2),
        rise: 2,
        fall: 3,
    }
}

fn local(check: Check) -> Target {
    Target {
        address: LOCALHOST,
        check,
    }
}

fn down_reason(observation: &Observation) -> &str {
    match &observation.verdict {
        Verdict::Down(reason) => reason,
        other => panic!("expected Down, got {other:?}"),
    }
}

/// What a test server saw of one connection.
#[derive(Debug, Clone, Default)]
struct Seen {
    peer: Option<SocketAddr>,
    request_line: String,
    host: Option<String>,
    sni: Option<String>,
}

#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    /// Sleep before answering.
    delay: Duration,
    /// Sleep between the head and the body.
    body_delay: Duration,
    /// Close the connection without answering.
    hang_up: bool,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: b"fine".to_vec(),
            delay: Duration::ZERO,
            body_delay: Duration::ZERO,
            hang_up: false,
        }
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }
}

type Replies = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A server on 127.0.0.1; dropping it aborts its accept loop and, through the `JoinSet`
/// that loop owns, every connection task.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Accepts TCP connections and closes them at once.
    async fn tcp() -> Server {
        Server::start(None, None).await
    }

    async fn http(reply: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        Server::start(None, Some(Arc::new(reply))).await
    }

    async fn https(
        tls: Arc<rustls::ServerConfig>,
        reply: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::start(Some(TlsAcceptor::from(tls)), Some(Arc::new(reply))).await
    }

    async fn start(tls: Option<TlsAcceptor>, replies: Option<Replies>) -> Server {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let mut seen = Seen {
                    peer: Some(peer),
                    ..Seen::default()
                };
                let Some(replies) = replies.clone() else {
                    log.lock().unwrap().push(seen);
                    continue;
                };
                let (tls, log) = (tls.clone(), log.clone());
                connections.spawn(async move {
                    match tls {
                        None => exchange(stream, seen, &*replies, &log).await,
                        Some(acceptor) => {
                            // A client that rejects our certificate ends the handshake.
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            seen.sni = stream.get_ref().1.server_name().map(str::to_owned);
                            exchange(stream, seen, &*replies, &log).await;
                        }
                    }
                });
                // Reap finished connections so the set does not grow.
                while connections.try_join_next().is_some() {}
            }
        });
        Server { addr, seen, task }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Minimal HTTP/1.1: read the head, note the request line and Host, answer, close.
async fn exchange<S>(
    mut stream: S,
    mut seen: Seen,
    replies: &(dyn Fn(&Seen) -> Reply + Send + Sync),
    log: &Mutex<Vec<Seen>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    seen.request_line = lines.next().unwrap_or_default().to_owned();
    seen.host = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_owned());
    log.lock().unwrap().push(seen.clone());

    let reply = replies(&seen);
    tokio::time::sleep(reply.delay).await;
    if reply.hang_up {
        return;
    }
    let mut response = format!(
        "HTTP/1.1 {} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    // The client may stop reading early (body limit): write errors are expected then.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.flush().await;
    tokio::time::sleep(reply.body_delay).await;
    let _ = stream.write_all(&reply.body).await;
    let _ = stream.shutdown().await;
}

/// A port on 127.0.0.1 that was just listening and is now closed.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A test CA and a server certificate it signed, valid for `svc.test` only.
struct TestPki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Meridian test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["svc.test".to_owned()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "svc.test");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();

    let key = PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key.into())
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestPki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}

fn https(port: u16, host: Option<&str>) -> Target {
    local(Check {
        host: host.map(str::to_owned),
        ..check(CheckKind::Https, port)
    })
}

// --- tcp ---

#[tokio::test]
async fn tcp_connect_is_up_with_rtt() {
    bounded(async {
        let server = Server::tcp().await;
        let checker = Checker::new(None).unwrap();
        let observation = checker
            .check(&local(check(CheckKind::Tcp, server.port())))
            .await;
        assert_eq!(observation.verdict, Verdict::Up);
        assert!(observation.rtt.is_some());
    })
    .await;
}

#[tokio::test]
async fn tcp_refused_is_down() {
    bounded(async {
        let port = closed_port().await;
        let checker = Checker::new(None).unwrap();
        let observation = checker.check(&local(check(CheckKind::Tcp, port))).await;
        assert_eq!(down_reason(&observation), "connect: connection refused");
        assert_eq!(observation.rtt, None);
    })
    .await;
}

// --- http ---

#[tokio::test]
async fn http_200_is_up_and_sends_the_path_and_address_as_host() {
    bounded(async {
        let server = Server::http(|_| Reply::status(200)).await;
        let checker = Checker::new(None).unwrap();
        let observation = checker
            .check(&local(check(CheckKind::Http, server.port())))
            .await;
        assert_eq!(observation.verdict, Verdict::Up);
        assert!(observation.rtt.is_some());
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].request_line, "GET /healthz HTTP/1.1");
        assert_eq!(seen[0].host, Some(format!("127.0.0.1:{}", server.port())));
    })
    .await;
}

#[tokio::test]
async fn http_500_is_down_with_the_status() {
    bounded(async {
        let server = Server::http(|_| Reply::status(500)).await;
        let checker = Checker::new(None).unwrap();
        let observation = checker
            .check(&local(check(CheckKind::Http, server.port())))
            .await;
        assert_eq!(down_reason(&observation), "HTTP 500 (expected 200-399)");
        assert!(observation.rtt.is_some(), "the endpoint did answer");
    })
    .await;
}

#[tokio::test]
async fn http_404_is_up_when_expected() {
    bounded(async {
        let server = Server::http(|_| Reply::status(404)).await;
        let checker = Checker::new(None).unwrap();
        let mut target = local(check(CheckKind::Http, server.port()));
        let default = checker.check(&target).await;
        assert_eq!(down_reason(&default), "HTTP 404 (expected 200-399)");
        target.check.expect = vec![(404, 404)];
        assert_eq!(checker.check(&target).await.verdict, Verdict::Up);
        target.check.expect = vec![(200, 204), (301, 302)];
        let other = checker.check(&target).await;
        assert_eq!(down_reason(&other), "HTTP 404 (expected 200-204, 301-302)");
    })
    .await;
}

#[tokio::test]
async fn http_redirects_are_not_followed() {
    bounded(async {
        let server = Server::http(|_| Reply {
            headers: vec![("Location", "/elsewhere")],
            ..Reply::status(302)
        })
        .await;
        let checker = Checker::new(None).unwrap();
        let mut target = local(check(CheckKind::Http, server.port()));
        assert_eq!(checker.check(&target).await.verdict, Verdict::Up);
        target.check.expect = vec![(200, 200)];
        let observation = checker.check(&target).await;
        assert_eq!(down_reason(&observation), "HTTP 302 (expected 200)");
        let paths: Vec<String> = server.seen().into_iter().map(|s| s.request_line).collect();
        assert_eq!(paths, ["GET /healthz HTTP/1.1"; 2]);
    })
    .await;
}

#[tokio::test]
async fn http_body_substring_present_is_up_and_missing_is_down() {
    bounded(async {
        let server = Server::http(|_| Reply::status(200).body("status: ok\n")).await;
        let checker = Checker::new(None).unwrap();
        let mut target = local(check(CheckKind::Http, server.port()));
        target.check.body = Some("ok".to_owned());
        assert_eq!(checker.check(&target).await.verdict, Verdict::Up);
        target.check.body = Some("healthy".to_owned());
        let observation = checker.check(&target).await;
        assert_eq!(
            down_reason(&observation),
            r#"body does not contain "healthy""#
        );
    })
    .await;
}

#[tokio::test]
async fn http_body_is_searched_in_its_first_64_kib_only() {
    bounded(async {
        let mut late = vec![b'x'; BODY_LIMIT];
        late.extend_from_slice(b"ok");
        let mut early = vec![b'x'; BODY_LIMIT - 2];
        early.extend_from_slice(b"ok");
        early.extend_from_slice(&[b'x'; 1000]);
        let server = Server::http(move |seen| {
            let body = if seen.request_line.contains("/late") {
                &late
            } else {
                &early
            };
            Reply::status(200).body(body.clone())
        })
        .await;
        let checker = Checker::new(None).unwrap();
        let mut target = local(check(CheckKind::Http, server.port()));
        target.check.body = Some("ok".to_owned());
        assert_eq!(checker.check(&target).await.verdict, Verdict::Up);
        target.check.path = "/late".to_owned();
        let observation = checker.check(&target).await;
        assert_eq!(
            down_reason(&observation),
            r#"body does not contain "ok" in its first 64 KiB"#
        );
    })
    .await;
}

#[tokio::test]
async fn http_slow_server_is_down_after_the_timeout() {
    bounded(async {
        let server = Server::http(|_| Reply {
            delay: Duration::from_secs(60),
            ..Reply::status(200)
        })
        .await;
        let checker = Checker::new(None).unwrap();
        let mut target = local(check(CheckKind::Http, server.port()));
        target.check.timeout = Duration::from_millis(300);
        let start = Instant::now();
        let observation = checker.check(&target).await;
        assert_eq!(down_reason(&observation), "timeout after 300ms");
        assert_eq!(observation.rtt, None);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    })
    .await;
}

#[tokio::test]
async fn http_slow_body_is_down_after_the_timeout() {
    bounded(async {
        let server = Server::http(|_| Reply {
            body_delay: Duration::from_secs(60),
            ..Reply::status(200)
        })
        .await;
        let checker = Checker::new(None).unwrap();
        let mut target = local(check(CheckKind::Http, server.port()));
        target.check.timeout = Duration::from_millis(300);
        target.check.body = Some("fine".to_owned());
        let observation = checker.check(&target).await;
        assert_eq!(
            down_reason(&observation),
            "timeout after 300ms reading the body"
        );
        assert!(observation.rtt.is_some(), "the head did arrive");
        // Without a body to look for, the head is enough.
        target.check.body = None;
        assert_eq!(checker.check(&target).await.verdict, Verdict::Up);
    })
    .await;
}

#[tokio::test]
async fn http_refused_and_hang_up_are_down() {
    bounded(async {
        let checker = Checker::new(None).unwrap();
        let refused = checker
            .check(&local(check(CheckKind::Http, closed_port().await)))
            .await;
        assert_eq!(down_reason(&refused), "connect: connection refused");

        let server = Server::http(|_| Reply {
            hang_up: true,
            ..Reply::status(200)
        })
        .await;
        let observation = checker
            .check(&local(check(CheckKind::Http, server.port())))
            .await;
        let reason = down_reason(&observation);
        assert!(reason.starts_with("HTTP: "), "{reason}");
    })
    .await;
}

#[tokio::test]
async fn http_host_sets_the_host_header() {
    bounded(async {
        let server = Server::http(|seen| match seen.host.as_deref() {
            Some("svc.test") => Reply::status(200),
            _ => Reply::status(421),
        })
        .await;
        let checker = Checker::new(None).unwrap();
        let mut target = local(check(CheckKind::Http, server.port()));
        target.check.host = Some("svc.test".to_owned());
        assert_eq!(checker.check(&target).await.verdict, Verdict::Up);
        assert_eq!(server.seen()[0].host.as_deref(), Some("svc.test"));
    })
    .await;
}

// --- https ---

#[tokio::test]
async fn https_verified_against_an_injected_ca_is_up() {
    bounded(async {
        let pki = test_pki();
        let server = Server::https(pki.server.clone(), |_| Reply::status(200)).await;
        let checker = Checker::with_root_certificates(None, pki.ca_pem.as_bytes()).unwrap();
        let observation = checker.check(&https(server.port(), Some("svc.test"))).await;
        assert_eq!(observation.verdict, Verdict::Up);
        assert!(observation.rtt.is_some());
    })
    .await;
}

#[tokio::test]
async fn https_without_the_ca_is_down_with_the_tls_reason() {
    bounded(async {
        let pki = test_pki();
        let server = Server::https(pki.server.clone(), |_| Reply::status(200)).await;
        let checker = Checker::new(None).unwrap();
        let observation = checker.check(&https(server.port(), Some("svc.test"))).await;
        assert_eq!(
            down_reason(&observation),
            "TLS: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(observation.rtt, None);
        assert!(server.seen().iter().all(|s| s.request_line.is_empty()));
    })
    .await;
}

#[tokio::test]
async fn https_insecure_accepts_any_certificate() {
    bounded(async {
        let pki = test_pki();
        let server = Server::https(pki.server.clone(), |_| Reply::status(200)).await;
        let checker = Checker::new(None).unwrap();
        for host in [Some("svc.test"), None] {
            let mut target = https(server.port(), host);
            target.check.insecure = true;
            assert_eq!(
                checker.check(&target).await.verdict,
                Verdict::Up,
                "{host:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn https_host_sets_sni_host_header_and_the_verified_name() {
    bounded(async {
        let pki = test_pki();
        let server = Server::https(pki.server.clone(), |_| Reply::status(200)).await;
        let checker = Checker::with_root_certificates(None, pki.ca_pem.as_bytes()).unwrap();

        let named = checker.check(&https(server.port(), Some("svc.test"))).await;
        assert_eq!(named.verdict, Verdict::Up);
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].sni.as_deref(), Some("svc.test"));
        assert_eq!(seen[0].host.as_deref(), Some("svc.test"));
        assert_eq!(seen[0].peer.map(|p| p.ip()), Some(LOCALHOST));

        // Without `host` the certificate must be valid for 127.0.0.1, and it is not.
        let by_address = checker.check(&https(server.port(), None)).await;
        let reason = down_reason(&by_address);
        assert!(
            reason.starts_with("TLS: invalid peer certificate: ") && reason.contains("svc.test"),
            "{reason}"
        );
    })
    .await;
}

// --- source address ---

#[tokio::test]
async fn source_address_is_where_probes_come_from() {
    bounded(async {
        let tcp = Server::tcp().await;
        let http = Server::http(|_| Reply::status(200)).await;
        let checker = Checker::new(Some(SECOND_LOOPBACK)).unwrap();
        let up = checker
            .check(&local(check(CheckKind::Tcp, tcp.port())))
            .await;
        assert_eq!(up.verdict, Verdict::Up);
        let up = checker
            .check(&local(check(CheckKind::Http, http.port())))
            .await;
        assert_eq!(up.verdict, Verdict::Up);
        for server in [&tcp, &http] {
            let peers: Vec<_> = server.seen().iter().map(|s| s.peer.unwrap().ip()).collect();
            assert_eq!(peers, [SECOND_LOOPBACK]);
        }
    })
    .await;
}

#[tokio::test]
async fn unbindable_source_address_is_no_vote_for_every_kind() {
    bounded(async {
        let pki = test_pki();
        let tcp = Server::tcp().await;
        let http = Server::http(|_| Reply::status(200)).await;
        let tls = Server::https(pki.server.clone(), |_| Reply::status(200)).await;
        let checker =
            Checker::with_root_certificates(Some(FOREIGN_SOURCE), pki.ca_pem.as_bytes()).unwrap();
        let targets = [
            local(check(CheckKind::Tcp, tcp.port())),
            local(check(CheckKind::Http, http.port())),
            https(tls.port(), Some("svc.test")),
        ];
        for target in &targets {
            let observation = checker.check(target).await;
            assert_eq!(
                observation.verdict,
                Verdict::NoVote(
                    "cannot bind source address 192.0.2.1: cannot assign requested address"
                        .to_owned()
                ),
                "{:?}",
                target.check.kind
            );
            assert_eq!(observation.rtt, None);
        }
        for server in [&tcp, &http, &tls] {
            assert!(server.seen().is_empty(), "nothing may reach a server");
        }
    })
    .await;
}

#[tokio::test]
async fn source_of_the_other_address_family_is_no_vote() {
    bounded(async {
        // Decided before any socket is opened: nothing is sent to ::1.
        let checker = Checker::new(Some(LOCALHOST)).unwrap();
        for kind in [CheckKind::Tcp, CheckKind::Http, CheckKind::Https] {
            let target = Target {
                address: IpAddr::V6(Ipv6Addr::LOCALHOST),
                check: check(kind, 9),
            };
            let observation = checker.check(&target).await;
            assert!(
                matches!(&observation.verdict, Verdict::NoVote(r) if r.contains("families differ")),
                "{observation:?}"
            );
        }
    })
    .await;
}

// --- pieces ---

#[test]
fn checks_can_run_on_spawned_tasks() {
    fn send<T: Send>(_: &T) {}
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Checker>();
    let checker = Checker::new(None).unwrap();
    let target = local(check(CheckKind::Https, 443));
    // Built, never polled: nothing is sent.
    send(&checker.check(&target));
}

#[test]
fn request_urls_put_ipv6_in_brackets_and_the_host_name_in_the_url() {
    let v6: IpAddr = "2001:db8::10".parse().unwrap();
    let target = |host: Option<&str>| Target {
        address: v6,
        check: Check {
            host: host.map(str::to_owned),
            ..check(CheckKind::Https, 8443)
        },
    };

    let plain = HttpRequest::new(&target(None)).unwrap();
    assert_eq!(plain.url.as_str(), "https://[2001:db8::10]:8443/healthz");
    assert_eq!(plain.host_header, None);

    let named = HttpRequest::new(&target(Some("WWW.Example.com"))).unwrap();
    assert_eq!(named.url.as_str(), "https://www.example.com:8443/healthz");
    assert_eq!(named.dial_host, "www.example.com");
    assert_eq!(named.host_header.unwrap(), "WWW.Example.com");

    let address_host = HttpRequest::new(&target(Some("2001:db8::99"))).unwrap();
    assert_eq!(
        address_host.url.as_str(),
        "https://[2001:db8::10]:8443/healthz"
    );
    assert_eq!(address_host.host_header.unwrap(), "[2001:db8::99]");

    let http_v4 = HttpRequest::new(&Target {
        address: LOCALHOST,
        check: check(CheckKind::Http, 80),
    })
    .unwrap();
    assert_eq!(http_v4.url.as_str(), "http://127.0.0.1/healthz");

    let disguised = HttpRequest::new(&target(Some("0x7f.1"))).unwrap_err();
    assert!(
        disguised.contains("reads as the address 127.0.0.1"),
        "{disguised}"
    );
}

#[tokio::test]
async fn dial_resolver_answers_each_task_with_its_own_endpoint() {
    let resolve = |name: &str| {
        let name: Name = name.parse().unwrap();
        async move {
            DialResolver
                .resolve(name)
                .await
                .map(Iterator::collect::<Vec<_>>)
        }
    };
    let dial = |address: [u8; 4]| Dial {
        host: "svc.test".to_owned(),
        address: IpAddr::from(address),
    };
    // Two checks of one host name in flight at once, each with its own endpoint.
    let (a, b) = tokio::join!(
        DIAL.scope(dial([192, 0, 2, 10]), resolve("svc.test")),
        DIAL.scope(dial([192, 0, 2, 20]), resolve("SVC.test")),
    );
    assert_eq!(a.unwrap(), [SocketAddr::from(([192, 0, 2, 10], 0))]);
    assert_eq!(b.unwrap(), [SocketAddr::from(([192, 0, 2, 20], 0))]);

    let other = DIAL
        .scope(dial([192, 0, 2, 10]), resolve("other.test"))
        .await;
    assert!(other.is_err());
    let outside = resolve("svc.test").await;
    assert!(
        outside
            .unwrap_err()
            .to_string()
            .contains("no endpoint address")
    );
}

#[test]
fn reasons_read_like_plain_words() {
    let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
    assert_eq!(os_text(&refused), "connection refused");
    assert_eq!(
        io_verdict(&refused, "connect: ", None),
        Verdict::Down("connect: connection refused".to_owned())
    );
    let no_files = io::Error::from_raw_os_error(libc::EMFILE);
    assert!(matches!(
        io_verdict(&no_files, "connect: ", None),
        Verdict::NoVote(_)
    ));
    assert_eq!(status_ranges(&[(200, 399), (404, 404)]), "200-399, 404");
}

#[test]
fn root_certificates_must_be_pem_certificates() {
    assert!(Checker::with_root_certificates(None, b"\n").is_ok());
    let err = Checker::with_root_certificates(None, b"not a certificate").unwrap_err();
    assert!(matches!(err, CheckerError::RootCertificates(_)), "{err}");
}

#[test]
fn a_reported_load_is_a_number_from_the_header_or_a_json_body() {
    // (header text, load)
    let rows = [
        ("0.73", Some(0.73)),
        (" 1.5 ", Some(1.5)),
        ("-1", Some(0.0)),
        ("99", Some(MAX_LOAD)),
        ("high", None),
        ("NaN", None),
    ];
    for (text, want) in rows {
        assert_eq!(parse_load(text), want, "{text:?}");
    }
    assert_eq!(json_load(br#"{"status": "ok", "load": 0.42}"#), Some(0.42));
    assert_eq!(json_load(br#"{"load": "0.42"}"#), None);
    assert_eq!(json_load(br#"[0.42]"#), None);
    assert_eq!(json_load(b"load: 0.42"), None);
}

#[tokio::test]
async fn http_load_comes_from_the_header_else_a_json_body_whatever_the_status() {
    bounded(async {
        let server = Server::http(|seen| match seen.request_line.split(' ').nth(1) {
            Some("/header") => {
                let mut r = Reply::status(200);
                r.headers = vec![("X-Meridian-Load", "0.73")];
                r
            }
            Some("/json") => {
                let mut r = Reply::status(200).body(r#"{"status": "ok", "load": 0.42}"#);
                r.headers = vec![("Content-Type", "application/json")];
                r
            }
            Some("/overloaded") => {
                let mut r = Reply::status(503);
                r.headers = vec![("X-Meridian-Load", "1.5")];
                r
            }
            _ => Reply::status(200).body(r#"{"load": 0.9}"#),
        })
        .await;
        let checker = Checker::new(None).unwrap();
        // (path, verdict up, load)
        let rows = [
            ("/header", true, Some(0.73)),
            ("/json", true, Some(0.42)),
            ("/overloaded", false, Some(1.5)),
            // Not declared JSON: the body is not read for a load.
            ("/plain", true, None),
        ];
        for (path, up, load) in rows {
            let mut target = local(check(CheckKind::Http, server.port()));
            target.check.path = path.into();
            let obs = checker.check(&target).await;
            assert_eq!(obs.verdict == Verdict::Up, up, "{path}: {obs:?}");
            assert_eq!(obs.load, load, "{path}");
        }
    })
    .await;
}

//! One health check of one endpoint (TCP connect, or an HTTP/HTTPS GET) → an [`Observation`].
//!
//! A [`Checker`] is built once per prober and holds its HTTP clients. Every check opens a
//! fresh connection, since "can we connect" is part of what is checked. A fault on the
//! prober's own side (cannot bind `--source`, out of sockets) is `NoVote`, never `Down`.
//! Nothing here schedules, retries, counts rise/fall or logs above debug.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HOST, HeaderValue};
use reqwest::{Client, Response, Url};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpSocket;
use tokio::time::{Instant, timeout_at};

use crate::config::{Check, CheckKind};

/// How much of a response body is searched for `check.body`: enough for any health page,
/// and a bound on what a misbehaving endpoint can make a prober read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What to check: one endpoint address with its service's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub address: IpAddr,
    pub check: Check,
}

/// One prober's judgement of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Up,
    /// The endpoint failed; the reason is for operators ("HTTP 500 (expected 200-399)",
    /// "connect: connection refused", "timeout after 2s", "TLS: invalid peer certificate: …").
    Down(String),
    /// The prober could not judge because of a fault on its own side. Counting it as
    /// `Down` would let one broken prober fail a healthy region over.
    NoVote(String),
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub verdict: Verdict,
    /// Time until the endpoint answered: the TCP connection for `tcp`, the response
    /// headers for `http`/`https`. `None` when it did not answer (refused, timeout, TLS
    /// failure) or when there is no vote.
    pub rtt: Option<Duration>,
    /// The load the endpoint reported in its answer (`http`/`https` only): the
    /// [`LOAD_HEADER`] header, else a top-level `"load"` number of a JSON body. 0.0 is
    /// idle, 1.0 full; clamped to 0..=[`MAX_LOAD`].
    pub load: Option<f64>,
}

/// The response header an endpoint reports its load in: `X-Meridian-Load: 0.73`.
pub const LOAD_HEADER: &str = "x-meridian-load";
/// Highest load taken from an endpoint (anything above counts as this).
pub const MAX_LOAD: f64 = 10.0;

impl Observation {
    fn up(rtt: Duration) -> Observation {
        Observation {
            verdict: Verdict::Up,
            rtt: Some(rtt),
            load: None,
        }
    }

    fn down(reason: impl Into<String>) -> Observation {
        Observation::from_verdict(Verdict::Down(reason.into()))
    }

    fn no_vote(reason: impl Into<String>) -> Observation {
        Observation::from_verdict(Verdict::NoVote(reason.into()))
    }

    fn from_verdict(verdict: Verdict) -> Observation {
        Observation {
            verdict,
            rtt: None,
            load: None,
        }
    }
}

/// A reported load as a number in 0..=[`MAX_LOAD`]; `None` when it is not a number.
pub fn parse_load(text: &str) -> Option<f64> {
    let v: f64 = text.trim().parse().ok()?;
    v.is_finite().then(|| v.clamp(0.0, MAX_LOAD))
}

/// A [`Checker`] that cannot be built: a start-up error of the prober.
#[derive(Debug, thiserror::Error)]
pub enum CheckerError {
    #[error("extra root certificates: {0}")]
    RootCertificates(String),
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client setup: {0}")]
    Client(#[from] reqwest::Error),
}

/// Runs checks; built once per prober and shared by all its checks (`check` takes `&self`).
#[derive(Debug, Clone)]
pub struct Checker {
    /// Every probe's socket is bound to this local address (`--source`).
    source: Option<IpAddr>,
    /// Certificates verified against the webpki roots plus any injected ones.
    verified: Client,
    /// `insecure = true`: any certificate is accepted (handshake signatures still checked).
    insecure: Client,
}

impl Checker {
    /// A checker whose probes leave from `source` (any local address when `None`), trusting
    /// the bundled webpki root certificates.
    pub fn new(source: Option<IpAddr>) -> Result<Checker, CheckerError> {
        Checker::with_root_certificates(source, &[])
    }

    /// Like [`Checker::new`], also trusting the PEM certificates in `pem` (a private CA;
    /// tests use one made by rcgen). Non-certificate PEM sections are ignored.
    pub fn with_root_certificates(
        source: Option<IpAddr>,
        pem: &[u8],
    ) -> Result<Checker, CheckerError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| CheckerError::RootCertificates(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| CheckerError::RootCertificates(e.to_string()))?;
            added += 1;
        }
        if added == 0 && !pem.iter().all(u8::is_ascii_whitespace) {
            let message = "no CERTIFICATE section found in the PEM text".to_owned();
            return Err(CheckerError::RootCertificates(message));
        }

        let verified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let insecure = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        Ok(Checker {
            source,
            verified: http_client(source, verified)?,
            insecure: http_client(source, insecure)?,
        })
    }

    /// Checks `target` once, within `target.check.timeout` in all.
    pub async fn check(&self, target: &Target) -> Observation {
        let deadline = Instant::now() + target.check.timeout;
        let observation = match self.source {
            Some(source) if source.is_ipv4() != target.address.is_ipv4() => {
                Observation::no_vote(format!(
                    "source address {source} cannot reach {}: the address families differ",
                    target.address
                ))
            }
            _ => match target.check.kind {
                CheckKind::Tcp => self.tcp(target, deadline).await,
                CheckKind::Http | CheckKind::Https => self.http(target, deadline).await,
            },
        };
        tracing::debug!(
            address = %target.address,
            port = target.check.port,
            kind = ?target.check.kind,
            verdict = ?observation.verdict,
            rtt = ?observation.rtt,
            "check"
        );
        observation
    }

    async fn tcp(&self, target: &Target, deadline: Instant) -> Observation {
        let socket = match target.address {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        };
        let socket = match socket {
            Ok(socket) => socket,
            Err(e) => {
                return Observation::no_vote(format!("cannot open a socket: {}", os_text(&e)));
            }
        };
        if let Some(source) = self.source
            && let Err(e) = socket.bind(SocketAddr::new(source, 0))
        {
            return Observation::no_vote(bind_failure(source, &e));
        }
        let start = Instant::now();
        let peer = SocketAddr::new(target.address, target.check.port);
        match timeout_at(deadline, socket.connect(peer)).await {
            Ok(Ok(stream)) => {
                let rtt = start.elapsed();
                drop(stream);
                Observation::up(rtt)
            }
            Ok(Err(e)) => Observation::from_verdict(io_verdict(&e, "connect: ", self.source)),
            Err(_) => Observation::down(timed_out(&target.check, "")),
        }
    }

    async fn http(&self, target: &Target, deadline: Instant) -> Observation {
        let check = &target.check;
        let request = match HttpRequest::new(target) {
            Ok(request) => request,
            Err(reason) => return Observation::no_vote(reason),
        };
        let client = match check.kind {
            CheckKind::Https if check.insecure => &self.insecure,
            _ => &self.verified,
        };
        let mut builder = client.get(request.url);
        if let Some(host) = request.host_header {
            builder = builder.header(HOST, host);
        }
        let dial = Dial {
            host: request.dial_host,
            address: target.address,
        };
        let exchange = async {
            let start = Instant::now();
            let response = match timeout_at(deadline, builder.send()).await {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    let phase = if e.is_connect() {
                        "connect: "
                    } else {
                        "HTTP: "
                    };
                    return Observation::from_verdict(request_verdict(&e, phase, self.source));
                }
                Err(_) => return Observation::down(timed_out(check, "")),
            };
            let rtt = Some(start.elapsed());
            let (verdict, load) = judge(check, response, deadline).await;
            Observation { verdict, rtt, load }
        };
        DIAL.scope(dial, exchange).await
    }
}

/// One reqwest client; `tls` decides how certificates are checked.
fn http_client(source: Option<IpAddr>, mut tls: ClientConfig) -> Result<Client, reqwest::Error> {
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Each check must see the endpoint's current certificate, and a session ticket from one
    // endpoint must not be offered to another endpoint of the same host name.
    tls.resumption = rustls::client::Resumption::disabled();
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        // No pool: a fresh connection per check, never one opened to another address
        // under the same host name. It also keeps the connect inside the calling task,
        // which `DialResolver` relies on.
        .pool_max_idle_per_host(0)
        .http1_only()
        .local_address(source)
        .dns_resolver(DialResolver)
        .user_agent(concat!("meridian-prober/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .build()
}

/// Status, then (if asked) the body, of a response that arrived; with the load the
/// endpoint reported, if any (read whatever the verdict: an overloaded endpoint may answer
/// 503 and say so).
async fn judge(check: &Check, response: Response, deadline: Instant) -> (Verdict, Option<f64>) {
    let header_load = response
        .headers()
        .get(LOAD_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_load);
    let json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("application/json"));
    let status = response.status().as_u16();
    if !check
        .expect
        .iter()
        .any(|&(low, high)| (low..=high).contains(&status))
    {
        let verdict = Verdict::Down(format!(
            "HTTP {status} (expected {})",
            status_ranges(&check.expect)
        ));
        return (verdict, header_load);
    }
    if check.body.is_none() && json && header_load.is_none() {
        // The load may be in the body: `{"load": 0.73, ...}`.
        let body = timeout_at(deadline, read_prefix(response)).await;
        let load = match body {
            Ok(Ok(body)) => json_load(&body),
            _ => None,
        };
        return (Verdict::Up, load);
    }
    (
        body_verdict(check, response, deadline, status).await,
        header_load,
    )
}

/// The top-level `"load"` number of a JSON body, if it has one.
fn json_load(body: &[u8]) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let load = value.get("load")?.as_f64()?;
    load.is_finite().then(|| load.clamp(0.0, MAX_LOAD))
}

/// The first [`BODY_LIMIT`] bytes of a body.
async fn read_prefix(mut response: Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let take = chunk.len().min(BODY_LIMIT - body.len());
        body.extend_from_slice(&chunk[..take]);
        if body.len() == BODY_LIMIT {
            break;
        }
    }
    Ok(body)
}

/// An answer of an expected status: up, unless `check.body` is not in the body.
async fn body_verdict(
    check: &Check,
    response: Response,
    deadline: Instant,
    status: u16,
) -> Verdict {
    let Some(needle) = &check.body else {
        return Verdict::Up;
    };
    match timeout_at(deadline, find_in_body(response, needle.as_bytes())).await {
        Ok(Ok(BodySearch::Found)) => Verdict::Up,
        Ok(Ok(BodySearch::Missing)) => Verdict::Down(format!("body does not contain {needle:?}")),
        Ok(Ok(BodySearch::MissingInPrefix)) => Verdict::Down(format!(
            "body does not contain {needle:?} in its first {} KiB",
            BODY_LIMIT / 1024
        )),
        Ok(Err(e)) => {
            let phase = format!("HTTP {status}: reading the body: ");
            request_verdict(&e, &phase, None)
        }
        Err(_) => Verdict::Down(timed_out(check, " reading the body")),
    }
}

enum BodySearch {
    Found,
    Missing,
    /// Not in the first [`BODY_LIMIT`] bytes; the rest was not read.
    MissingInPrefix,
}

async fn find_in_body(mut response: Response, needle: &[u8]) -> Result<BodySearch, reqwest::Error> {
    if needle.is_empty() {
        return Ok(BodySearch::Found);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        // Only the new bytes, and the needle's length less one before them, can hold a
        // match that was not there before.
        let from = body.len().saturating_sub(needle.len() - 1);
        let take = chunk.len().min(BODY_LIMIT - body.len());
        body.extend_from_slice(&chunk[..take]);
        if body[from..].windows(needle.len()).any(|w| w == needle) {
            return Ok(BodySearch::Found);
        }
        if body.len() == BODY_LIMIT {
            return Ok(BodySearch::MissingInPrefix);
        }
    }
    Ok(BodySearch::Missing)
}

/// `200-399, 404`
fn status_ranges(expect: &[(u16, u16)]) -> String {
    let ranges: Vec<String> = expect
        .iter()
        .map(|&(low, high)| {
            if low == high {
                low.to_string()
            } else {
                format!("{low}-{high}")
            }
        })
        .collect();
    ranges.join(", ")
}

fn timed_out(check: &Check, during: &str) -> String {
    format!(
        "timeout after {}{during}",
        humantime::format_duration(check.timeout)
    )
}

/// What to send for one HTTP(S) target.
#[derive(Debug)]
struct HttpRequest {
    /// `{scheme}://{host or address}:{port}{path}`; the host name, when there is one, is
    /// what TLS sends as SNI and verifies the certificate against.
    url: Url,
    /// The name [`DialResolver`] will be asked for (the URL's host, as normalised by the URL
    /// parser); an address in the URL is dialled without asking.
    dial_host: String,
    /// Set when `check.host` is: sent verbatim.
    host_header: Option<HeaderValue>,
}

impl HttpRequest {
    fn new(target: &Target) -> Result<HttpRequest, String> {
        let check = &target.check;
        let scheme = match check.kind {
            CheckKind::Https => "https",
            CheckKind::Http | CheckKind::Tcp => "http",
        };
        // SocketAddr puts IPv6 addresses in brackets, as URLs want them.
        let endpoint = SocketAddr::new(target.address, check.port);
        let (authority, host_header) = match check.host.as_deref() {
            None => (endpoint.to_string(), None),
            Some(host) => match host_address(host) {
                // A host that is an address cannot name the endpoint in the URL (it would
                // be dialled instead of the endpoint): it goes in the Host header only, and
                // TLS verifies the certificate for the endpoint's address.
                Some(IpAddr::V6(v6)) => (endpoint.to_string(), Some(format!("[{v6}]"))),
                Some(IpAddr::V4(_)) => (endpoint.to_string(), Some(host.to_owned())),
                None => (format!("{host}:{}", check.port), Some(host.to_owned())),
            },
        };
        let text = format!("{scheme}://{authority}{}", check.path);
        let url = Url::parse(&text)
            .map_err(|e| format!("cannot build a request URL from {text:?}: {e}"))?;
        let dial_host = url.host_str().unwrap_or_default().to_owned();
        if let Some(host) = check.host.as_deref()
            && host_address(host).is_none()
            && host_address(&dial_host).is_some()
        {
            // The URL parser read the name as an address ("0x7f.1"): refuse rather than
            // dial something other than the endpoint.
            return Err(format!(
                "host {host:?} reads as the address {dial_host}; write the address itself"
            ));
        }
        let host_header = match host_header {
            None => None,
            Some(host) => Some(
                HeaderValue::from_str(&host)
                    .map_err(|_| format!("host {host:?} cannot be sent as a Host header"))?,
            ),
        };
        Ok(HttpRequest {
            url,
            dial_host,
            host_header,
        })
    }
}

/// `host` as an address: `192.0.2.1`, `2001:db8::1` or `[2001:db8::1]`.
fn host_address(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    host.parse().ok()
}

tokio::task_local! {
    /// The endpoint that the request being sent from this task must reach.
    static DIAL: Dial;
}

#[derive(Debug, Clone)]
struct Dial {
    host: String,
    address: IpAddr,
}

/// reqwest's resolver for `check.host` names: answers with the endpoint address of the
/// request being sent from the calling task ([`DIAL`]), never with DNS.
///
/// The URL must carry the host name, because reqwest takes SNI and the name it verifies
/// the certificate against from it; but one name (`www.example.com`) fronts many
/// endpoints. A static `resolve(host, addr)` would need a client per (host, address);
/// this lets two clients serve every target. It works because the pool is off, so hyper
/// connects inside the request future rather than in a background task. Should that ever
/// change, the lookup finds no `DIAL` and the check says NoVote, never a wrong Up or Down
/// (the `host` tests catch it).
#[derive(Debug, Clone, Copy)]
struct DialResolver;

impl Resolve for DialResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = DIAL
            .try_with(|dial| {
                dial.host
                    .eq_ignore_ascii_case(name.as_str())
                    .then_some(dial.address)
            })
            .ok()
            .flatten();
        let result = match found {
            Some(address) => {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::new(address, 0)));
                Ok(addrs)
            }
            None => Err(Box::new(NoDialAddress(name.as_str().to_owned()))
                as Box<dyn StdError + Send + Sync>),
        };
        Box::pin(std::future::ready(result))
    }
}

/// [`DialResolver`] was asked for a name outside a check of that name: a bug of ours.
#[derive(Debug)]
struct NoDialAddress(String);

impl fmt::Display for NoDialAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no endpoint address for {:?} in this task", self.0)
    }
}

impl StdError for NoDialAddress {}

/// `insecure = true`: accepts any certificate for any name, but still checks that the
/// server holds the key of the certificate it sent.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A failed reqwest request → Down with what went wrong (`phase` first, except for TLS),
/// or NoVote when it was our side.
fn request_verdict(err: &reqwest::Error, phase: &str, source: Option<IpAddr>) -> Verdict {
    let mut tls = None;
    let mut os = None;
    let mut innermost: &dyn StdError = err;
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(missing) = e.downcast_ref::<NoDialAddress>() {
            return Verdict::NoVote(format!("internal: {missing}"));
        }
        if let Some(e) = e.downcast_ref::<rustls::Error>() {
            tls.get_or_insert(e);
        }
        innermost = e;
        next = match e.downcast_ref::<io::Error>() {
            Some(io_err) => {
                if io_err.raw_os_error().is_some() {
                    os.get_or_insert(io_err);
                }
                // `io::Error::source` skips the error it wraps, so step into it directly
                // (tokio-rustls wraps `rustls::Error` this way).
                io_err
                    .get_ref()
                    .map(|inner| inner as &(dyn StdError + 'static))
            }
            None => e.source(),
        };
    }
    if let Some(e) = tls {
        return Verdict::Down(format!("TLS: {e}"));
    }
    if let Some(e) = os {
        return io_verdict(e, phase, source);
    }
    if err.is_builder() {
        return Verdict::NoVote(format!("cannot build the request: {innermost}"));
    }
    Verdict::Down(format!("{phase}{innermost}"))
}

/// A socket error → Down for the endpoint's side (refused, reset, unreachable), NoVote for
/// ours (no local address or port, out of descriptors or memory, blocked locally).
fn io_verdict(err: &io::Error, phase: &str, source: Option<IpAddr>) -> Verdict {
    match err.raw_os_error() {
        Some(libc::EADDRNOTAVAIL | libc::EADDRINUSE) => Verdict::NoVote(match source {
            Some(source) => bind_failure(source, err),
            None => format!("no local address or port available: {}", os_text(err)),
        }),
        Some(
            libc::EMFILE
            | libc::ENFILE
            | libc::ENOBUFS
            | libc::ENOMEM
            | libc::EACCES
            | libc::EPERM
            | libc::EAFNOSUPPORT,
        ) => Verdict::NoVote(format!("local fault: {}", os_text(err))),
        _ => Verdict::Down(format!("{phase}{}", os_text(err))),
    }
}

fn bind_failure(source: IpAddr, err: &io::Error) -> String {
    format!("cannot bind source address {source}: {}", os_text(err))
}

/// "connection refused" rather than "Connection refused (os error 111)".
fn os_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match (err.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => &text[..at],
        _ => &text[..],
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;

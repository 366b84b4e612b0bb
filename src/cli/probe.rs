//! `meridian probe`: one prober of the fleet, run anywhere. Fetches its targets from every
//! server it is given (the union), checks them from `--source` if given, and reports every
//! vote to every server. It checks from a *viewpoint*, any name: a serving region or not.
//!
//! A server that is down does not stop it. A server that refuses it at start (wrong
//! token, not a fleet API, a TLS certificate it does not trust) does: exit 1 with the
//! reason, before the ready line. `https://` servers are verified against the bundled
//! webpki roots and the certificates in `--ca-file`.
//! Refusals later are logged as errors by the sink, at most once a minute per server.

use crate::health::check::Checker;
use crate::health::prober::{HttpSink, Prober, ServerError, fetch_list, fetch_targets};
use crate::health::store::valid_name;
use anyhow::Context;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How often the target lists are fetched again (picks up reloads).
const REFRESH: Duration = Duration::from_secs(5);
/// How long an idle connection to a server is kept for the next request.
const IDLE_CONNECTION: Duration = Duration::from_secs(5);

pub struct ProbeArgs<'a> {
    pub region: &'a str,
    pub servers: &'a [String],
    pub token_file: &'a Path,
    pub name: Option<&'a str>,
    pub source: Option<IpAddr>,
    /// Where the viewpoint is (lat, lon in degrees), for `policy = "latency"`; `None`: at
    /// the `[regions]` entry named like the viewpoint, if the servers have one.
    pub coordinates: Option<(f64, f64)>,
    /// PEM file of CA certificates trusted for `https://` servers, besides the webpki roots.
    pub ca_file: Option<&'a Path>,
}

/// The client for the servers' APIs: rustls, trusting the webpki roots and `ca_file`.
pub(crate) fn api_client(ca_file: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("--ca-file {}", path.display()))?;
        anyhow::ensure!(
            !certs.is_empty(),
            "--ca-file {}: no CERTIFICATE section in the file",
            path.display()
        );
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("--ca-file {}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder()
        .no_proxy()
        // Below the servers' default api_header_timeout (10 s), which also closes idle
        // keep-alive connections: a pooled connection is dropped here before the server
        // closes it under a request.
        .pool_idle_timeout(IDLE_CONNECTION)
        .tls_backend_preconfigured(tls)
        .build()?)
}

pub fn run(args: ProbeArgs<'_>) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(!args.servers.is_empty(), "give at least one --server URL");
    let token = std::fs::read_to_string(args.token_file)
        .with_context(|| format!("reading the fleet token {}", args.token_file.display()))?
        .trim()
        .to_string();
    anyhow::ensure!(
        valid_name(args.region),
        "--region {:?}: a viewpoint name is 1 to 64 characters of [A-Za-z0-9._:-]",
        args.region
    );
    let name = match args.name {
        Some(n) => n.to_string(),
        None => format!("{}-{}", args.region, std::process::id()),
    };
    anyhow::ensure!(
        valid_name(&name),
        "--name {name:?}: a prober name is 1 to 64 characters of [A-Za-z0-9._:-]"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let checker = Checker::new(args.source).map_err(|e| anyhow::anyhow!("{e}"))?;
        let client = api_client(args.ca_file)?;
        let servers: Vec<String> = args.servers.to_vec();
        // Ask every server once before starting: a wrong token is the operator's mistake
        // to hear about now, not a prober that runs and counts for nothing.
        for server in &servers {
            match fetch_list(&client, server, &token).await {
                Ok(targets) => {
                    tracing::info!(%server, targets = targets.len(), "server takes this prober")
                }
                Err(e @ (ServerError::Refused { .. } | ServerError::Untrusted(_))) => anyhow::bail!(
                    "{server} {e}{}; not starting (token from {})",
                    e.hint(),
                    args.token_file.display()
                ),
                Err(e) => tracing::warn!(%server, "cannot fetch targets yet: {e}"),
            }
        }
        let (tx, rx) = tokio::sync::watch::channel(Arc::new(Vec::new()));
        tokio::spawn(fetch_targets(
            client.clone(),
            servers.clone(),
            token.clone(),
            REFRESH,
            tx,
        ));
        let prober = Prober {
            name: name.clone(),
            region: args.region.to_string(),
            coordinates: args.coordinates,
            checker: Arc::new(checker),
        };
        tracing::info!(%name, viewpoint = args.region, servers = servers.join(", "), "prober started");
        println!("meridian probe ready name={name}");
        use std::io::Write;
        std::io::stdout().flush()?;
        let run = prober.run(rx, HttpSink::new(client, servers, token));
        tokio::select! {
            _ = run => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

//! The socket side of `api_listen`: a bounded accept loop, optional TLS, and hyper's
//! HTTP/1 server with a header read timeout, around the axum router.
//!
//! At most `max_connections` connections are open at once: past it the loop stops
//! accepting, so newcomers wait in the kernel's listen queue instead of taking file
//! descriptors that DNS over TCP needs. At most `max_connections_per_source` come from one
//! address: past it a new one is closed at once, so one client cannot fill the cap alone.
//! A TLS handshake and every request head (including the wait on an idle keep-alive
//! connection) must finish within `header_timeout`; bodies are bounded by the router
//! (`api_body_timeout`).

use crate::config::ApiServerConfig;
use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// Reads the PEM certificate chain and private key `api_tls_cert` and `api_tls_key` name.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("server.api_tls_cert {}", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "server.api_tls_cert {}: no CERTIFICATE section in the file",
        cert.display()
    );
    let key_der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("server.api_tls_key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| {
            format!(
                "server.api_tls_cert {} and server.api_tls_key {} do not make a certificate",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What the listener did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Closed at accept: their address already had `max_connections_per_source`.
    pub over_source_cap: AtomicU64,
    /// Closed for sending no request head (or no TLS handshake) in `header_timeout`.
    pub timed_out: AtomicU64,
}

/// Counts one open connection; uncounted on drop.
struct Open(Arc<ConnectionStats>);

impl Open {
    fn new(stats: &Arc<ConnectionStats>) -> Open {
        stats.open.fetch_add(1, Ordering::Relaxed);
        Open(stats.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Connections open per source address; an entry goes when its last connection does.
type Sources = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One connection counted against its source; uncounted on drop.
struct SourceSlot {
    sources: Sources,
    ip: IpAddr,
}

impl SourceSlot {
    fn take(sources: &Sources, ip: IpAddr, cap: usize) -> Option<SourceSlot> {
        let mut map = sources.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            sources: sources.clone(),
            ip,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until the runtime ends.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ApiServerConfig,
    tls: Option<TlsAcceptor>,
    stats: Arc<ConnectionStats>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let sources: Sources = Arc::default();
    let mut accept_error_logged: Option<tokio::time::Instant> = None;
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: wait rather than spin, and say so
                // at most once a minute.
                let now = tokio::time::Instant::now();
                if accept_error_logged.is_none_or(|t| now - t >= Duration::from_secs(60)) {
                    tracing::warn!("HTTP API: cannot accept: {e}");
                    accept_error_logged = Some(now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = SourceSlot::take(&sources, peer.ip(), limits.max_connections_per_source)
        else {
            stats.over_source_cap.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "HTTP API: too many connections from this address; closed");
            continue;
        };
        let open = Open::new(&stats);
        let service = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let stats = open.0.clone();
            let _held = (permit, slot, open);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let result = match tls {
                None => http.serve_connection(TokioIo::new(stream), service).await,
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            http.serve_connection(TokioIo::new(stream), service).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "HTTP API: TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            stats.timed_out.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%peer, "HTTP API: TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = result {
                if e.is_timeout() {
                    stats.timed_out.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(%peer, "HTTP API connection: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_slots_are_capped_and_given_back() {
        let sources: Sources = Arc::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = SourceSlot::take(&sources, a, 2).unwrap();
        let second = SourceSlot::take(&sources, a, 2).unwrap();
        assert!(
            SourceSlot::take(&sources, a, 2).is_none(),
            "a is at its cap"
        );
        let other = SourceSlot::take(&sources, b, 2);
        assert!(other.is_some(), "b has its own count");
        drop(first);
        assert!(
            SourceSlot::take(&sources, a, 2).is_some(),
            "a slot came back"
        );
        drop((second, other));
        assert!(
            sources.lock().unwrap().is_empty(),
            "no entry without a connection"
        );
    }
}

//! DNS over TCP (RFC 7766): length-prefixed messages, several per connection.
//!
//! Queries on one connection are answered in the order they arrive; responses are
//! gathered and written together while more queries are already buffered (pipelining),
//! at most `max_queued_replies` (or 64 KiB) at a time, so a client that pipelines without
//! reading cannot make the server hold more. Every write must finish within the write
//! timeout, so a client that never reads its replies is dropped instead of holding its
//! slot; a connection idle longer than the idle timeout is closed.
//!
//! Each source address may hold `max_connections_per_source` connections. At the global
//! cap a newcomer is admitted by closing the connection that has waited longest for its
//! next query (RFC 7766 §6.2.3); only when every connection is busy is it refused. The
//! registry of connections is locked at accept and close only, never per query.
//!
//! A zone transfer (`xfr.rs`) is written here, message by message, each within the write
//! timeout; queries queued behind it wait for it to end.

use super::cookie::Secrets;
use super::respond::{QueryStats, Request, Transport, respond};
use super::stats::Totals;
use crate::snapshot::Live;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Replies gathered beyond this many bytes are written before reading on.
const MAX_PENDING_BYTES: usize = 64 * 1024;

/// Limits every connection shares.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_source: usize,
    pub write_timeout: Duration,
    pub max_queued_replies: usize,
}

/// What the accept loop knows of one open connection.
struct ConnState {
    /// Milliseconds since the listener started, at the last query or reply.
    last_active: AtomicU64,
    /// Between reading a query's length and writing its reply.
    busy: AtomicBool,
    /// Chosen to make room for a newcomer.
    evicted: AtomicBool,
    close: Notify,
}

#[derive(Default)]
struct Registry {
    conns: HashMap<u64, (IpAddr, Arc<ConnState>)>,
    per_source: HashMap<IpAddr, usize>,
    next_id: u64,
}

impl Registry {
    fn remove(&mut self, id: u64) {
        if let Some((peer, _)) = self.conns.remove(&id)
            && let Some(n) = self.per_source.get_mut(&peer)
        {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&peer);
            }
        }
    }

    /// Asks the connection idle longest to close; false when every one is busy.
    fn evict_idle(&self) -> bool {
        let victim = self
            .conns
            .values()
            .filter(|(_, c)| !c.busy.load(Ordering::Relaxed) && !c.evicted.load(Ordering::Relaxed))
            .min_by_key(|(_, c)| c.last_active.load(Ordering::Relaxed));
        match victim {
            Some((_, c)) => {
                c.evicted.store(true, Ordering::Relaxed);
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Open connections, not counting those already asked to close.
    fn open(&self) -> usize {
        self.conns
            .values()
            .filter(|(_, c)| !c.evicted.load(Ordering::Relaxed))
            .count()
    }
}

/// Accepts connections on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    live: Arc<Live>,
    limits: TcpLimits,
    cookies: Option<Arc<Secrets>>,
    totals: Arc<Mutex<Totals>>,
) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let epoch = Instant::now();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("tcp accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (id, state) = {
            let mut reg = registry.lock().unwrap_or_else(|e| e.into_inner());
            let from_peer = reg.per_source.get(&peer.ip()).copied().unwrap_or(0);
            if from_peer >= limits.max_connections_per_source {
                tracing::debug!(%peer, "tcp: {from_peer} connections from this source; closing");
                continue;
            }
            if reg.open() >= limits.max_connections && !reg.evict_idle() {
                tracing::debug!(%peer, "tcp connection cap of {} reached, none idle; closing", limits.max_connections);
                continue;
            }
            let id = reg.next_id;
            reg.next_id += 1;
            let state = Arc::new(ConnState {
                last_active: AtomicU64::new(epoch.elapsed().as_millis() as u64),
                busy: AtomicBool::new(false),
                evicted: AtomicBool::new(false),
                close: Notify::new(),
            });
            reg.conns.insert(id, (peer.ip(), state.clone()));
            *reg.per_source.entry(peer.ip()).or_insert(0) += 1;
            (id, state)
        };
        let live = live.clone();
        let totals = totals.clone();
        let registry = registry.clone();
        let cookies = cookies.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let conn = Conn {
                peer: peer.ip(),
                live: &live,
                limits,
                cookies: cookies.as_deref(),
                totals: &totals,
                state: &state,
                epoch,
            };
            if let Err(e) = conn.run(stream).await {
                tracing::debug!(%peer, "tcp connection: {e}");
            }
            registry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        });
    }
}

struct Conn<'a> {
    peer: IpAddr,
    live: &'a Live,
    limits: TcpLimits,
    cookies: Option<&'a Secrets>,
    totals: &'a Mutex<Totals>,
    state: &'a ConnState,
    epoch: Instant,
}

impl Conn<'_> {
    fn touch(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.state.last_active.store(now, Ordering::Relaxed);
    }

    async fn run(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut writer) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut query = Vec::with_capacity(512);
        let mut out = Vec::with_capacity(4096);
        let mut pending = Vec::with_capacity(4096);
        let mut queued = 0;
        let mut stats = QueryStats::default();
        let idle = self.limits.idle_timeout;
        loop {
            self.state.busy.store(false, Ordering::Relaxed);
            let len = tokio::select! {
                r = tokio::time::timeout(idle, reader.read_u16()) => match r {
                    Ok(Ok(len)) => len as usize,
                    Ok(Err(_)) | Err(_) => break, // closed by the client, or idle too long
                },
                _ = self.state.close.notified() => break, // room made for a newcomer
            };
            self.state.busy.store(true, Ordering::Relaxed);
            query.resize(len, 0);
            match tokio::time::timeout(idle, reader.read_exact(&mut query)).await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => break,
            }
            self.touch();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as u32);
            let req = Request {
                transport: Transport::Tcp,
                peer: self.peer,
                now,
                cookies: self.cookies,
            };
            if super::xfr::is_transfer(&query) {
                let snapshot = self.live.load_full();
                if let Some(mut transfer) = super::xfr::start(&snapshot, &query, &req) {
                    if !pending.is_empty() {
                        self.write(&mut writer, &pending).await?;
                        pending.clear();
                        queued = 0;
                    }
                    while transfer.next(&mut out) {
                        if out.len() > u16::MAX as usize {
                            // One record and the TSIG record do not fit in a message:
                            // close, so the client does not wait for the rest.
                            let why = format!(
                                "zone transfer of {} stopped: a record too large for a message",
                                transfer.zone()
                            );
                            tracing::warn!("{why}");
                            return Err(std::io::Error::other(why));
                        }
                        pending.extend_from_slice(&(out.len() as u16).to_be_bytes());
                        pending.extend_from_slice(&out);
                        self.write(&mut writer, &pending).await?;
                        pending.clear();
                    }
                    tracing::info!(zone = transfer.zone(), peer = %self.peer, records = transfer.records, messages = transfer.messages, "zone transfer sent");
                    continue;
                }
            }
            let answered = {
                let snapshot = self.live.load();
                let answered = respond(&snapshot, &query, &req, &mut out, &mut stats);
                stats.flush(&snapshot, self.totals);
                answered.is_some()
            };
            if answered {
                pending.extend_from_slice(&(out.len() as u16).to_be_bytes());
                pending.extend_from_slice(&out);
                queued += 1;
            }
            let full =
                queued >= self.limits.max_queued_replies || pending.len() >= MAX_PENDING_BYTES;
            if !pending.is_empty() && (full || reader.buffer().is_empty()) {
                self.write(&mut writer, &pending).await?;
                pending.clear();
                queued = 0;
            }
        }
        if !pending.is_empty() {
            self.write(&mut writer, &pending).await?;
        }
        Ok(())
    }

    /// Writes `bytes` within the write timeout, or fails (and the connection closes).
    async fn write(
        &self,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        match tokio::time::timeout(self.limits.write_timeout, writer.write_all(bytes)).await {
            Ok(r) => {
                self.touch();
                r
            }
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "replies not read within {:?}; closing",
                    self.limits.write_timeout
                ),
            )),
        }
    }
}

//! DNS over TCP (RFC 7766): length-prefixed messages, several per connection.
//!
//! Queries on one connection are answered in the order they arrive; responses are
//! batched into one write while more queries are already buffered (pipelining).
//!
//! The limits, and what they do not do:
//! - Each read (a length prefix, then the message) must finish within the idle timeout,
//!   or the connection is closed. A client that sends a query more often than that keeps
//!   its connection for as long as it likes.
//! - Writes have no timeout: a client that stops reading its responses keeps its
//!   connection (and its slot) until it goes away.
//! - Past `max_connections`, new connections are closed at accept. That bounds the
//!   sockets and memory TCP takes; it does not shield clients from each other: a flood of
//!   idle connections fills every slot for up to the idle timeout each, and newcomers are
//!   refused meanwhile (no per-client limit, no eviction of the idlest). UDP is not
//!   affected.

use super::respond::{QueryStats, Transport, respond};
use super::stats::Totals;
use crate::snapshot::Live;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Limits every connection shares.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Accepts connections on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    live: Arc<Live>,
    limits: TcpLimits,
    totals: Arc<Mutex<Totals>>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
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
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "tcp connection cap of {} reached; closing", limits.max_connections);
            drop(stream);
            continue;
        };
        let live = live.clone();
        let totals = totals.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            if let Err(e) = connection(stream, peer.ip(), &live, limits.idle_timeout, &totals).await
            {
                tracing::debug!(%peer, "tcp connection: {e}");
            }
            drop(permit);
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: std::net::IpAddr,
    live: &Live,
    idle: Duration,
    totals: &Mutex<Totals>,
) -> std::io::Result<()> {
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut writer = BufWriter::new(write);
    let mut query = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut stats = QueryStats::default();
    loop {
        let len = match tokio::time::timeout(idle, reader.read_u16()).await {
            Ok(Ok(len)) => len as usize,
            Ok(Err(_)) | Err(_) => break, // closed by the client, or idle too long
        };
        query.resize(len, 0);
        match tokio::time::timeout(idle, reader.read_exact(&mut query)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => break,
        }
        let answered = {
            let snapshot = live.load();
            let answered = respond(
                &snapshot,
                &query,
                Transport::Tcp,
                peer,
                &mut out,
                &mut stats,
            );
            stats.flush(&snapshot, totals);
            answered
        };
        if answered {
            writer.write_all(&(out.len() as u16).to_be_bytes()).await?;
            writer.write_all(&out).await?;
        }
        if reader.buffer().is_empty() {
            writer.flush().await?;
        }
    }
    writer.flush().await?;
    Ok(())
}

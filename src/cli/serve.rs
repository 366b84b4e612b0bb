//! `meridian serve`: load config and zones, bind every socket, start the DNS workers,
//! then reload on SIGHUP and stop on SIGTERM/SIGINT.
//!
//! Prints one line on stdout once every socket is bound:
//! `meridian ready dns=ADDR [dns=ADDR ...]` (tests and scripts read the ports from it).

use crate::config::Config;
use crate::dns::{tcp, udp};
use crate::snapshot::{Live, Snapshot};
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let snapshot = match Snapshot::load(config_path, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("meridian: not starting: the configuration has errors");
            return Ok(ExitCode::FAILURE);
        }
    };
    let config = snapshot.config.clone();
    for z in snapshot.zones.zones() {
        tracing::info!(zone = %z.origin, serial = z.serial, records = z.record_count, file = %z.file.display(), "zone loaded");
    }
    let live = Arc::new(Live::from_pointee(snapshot));

    let workers = match config.server.udp_workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut bound = Vec::new();
    let mut tcp_listeners = Vec::new();
    for &addr in &config.server.dns_listen {
        let (udp_sockets, tcp_listener) =
            bind_dns(addr, workers).with_context(|| format!("binding DNS on {addr}"))?;
        bound.push(udp_sockets[0].local_addr()?);
        for (i, socket) in udp_sockets.into_iter().enumerate() {
            udp::spawn_worker(format!("udp-{}-{i}", bound.len() - 1), socket, live.clone())?;
        }
        tcp_listeners.push(tcp_listener);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("control")
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let limits = tcp::TcpLimits {
            idle_timeout: config.server.tcp_idle_timeout,
            max_connections: config.server.tcp_max_connections,
        };
        for listener in tcp_listeners {
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tokio::spawn(tcp::serve(listener, live.clone(), limits));
        }
        let addrs: Vec<String> = bound.iter().map(|a| format!("dns={a}")).collect();
        tracing::info!(
            "serving DNS on {} (UDP and TCP, {workers} UDP workers each)",
            bound
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut stdout = std::io::stdout();
        writeln!(stdout, "meridian ready {}", addrs.join(" "))?;
        stdout.flush()?;
        signals(config_path, &live, &config).await
    })
}

/// Binds `workers` UDP sockets and one TCP listener on the same address and port. With
/// port 0, the kernel's choice for UDP is taken for TCP too (retrying if TCP has it in use).
fn bind_dns(
    addr: SocketAddr,
    workers: usize,
) -> anyhow::Result<(Vec<std::net::UdpSocket>, std::net::TcpListener)> {
    for _ in 0..20 {
        let first = udp::bind(addr)?;
        let port_addr = first.local_addr()?;
        let tcp = match bind_tcp(port_addr) {
            Ok(t) => t,
            Err(e) if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e.into()),
        };
        let mut sockets = vec![first];
        for _ in 1..workers {
            sockets.push(udp::bind(port_addr)?);
        }
        return Ok((sockets, tcp));
    }
    anyhow::bail!("no port free for both UDP and TCP")
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// How often the geolocation database file is checked for replacement.
const GEO_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Reloads on SIGHUP (an invalid new config is refused and the old one keeps serving);
/// returns on SIGTERM or SIGINT.
async fn signals(
    config_path: &Path,
    live: &Arc<Live>,
    started: &Config,
) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // A replaced geolocation database is picked up without a SIGHUP.
    let mut geo_watch = tokio::time::interval(GEO_WATCH_INTERVAL);
    geo_watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = hup.recv() => reload(config_path, live, started).await,
            _ = geo_watch.tick() => {
                if crate::snapshot::geo_changed(&live.load()) {
                    tracing::info!("geolocation database changed on disk; reloading");
                    reload(config_path, live, started).await;
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("stopping");
    Ok(ExitCode::SUCCESS)
}

async fn reload(config_path: &Path, live: &Arc<Live>, started: &Config) {
    let path = config_path.to_path_buf();
    let previous = live.load_full();
    let loaded = tokio::task::spawn_blocking(move || Snapshot::load(&path, Some(&previous))).await;
    match loaded {
        Ok(Ok(snapshot)) => {
            if snapshot.config.server.dns_listen != started.server.dns_listen {
                tracing::warn!("server.dns_listen changed: it takes effect at the next restart");
            }
            let zones = snapshot.zones.zones().len();
            live.store(Arc::new(snapshot));
            tracing::info!(zones, "reloaded");
        }
        Ok(Err(e)) => {
            tracing::error!("reload refused, still serving the previous configuration:\n{e}")
        }
        Err(e) => tracing::error!("reload failed: {e}"),
    }
}

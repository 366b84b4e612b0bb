//! `meridian serve`: load everything, open `state_dir` and put its drains and last health
//! into the snapshot, bind every socket, then run the DNS workers (their own threads), and
//! on a separate control runtime the TCP listener, the control task, the HTTP API and the
//! local prober, and the secondary zones' task (`crate::secondary`). Reloads on SIGHUP; stops on SIGTERM/SIGINT. The API is served by
//! `api::listener` (TLS when `api_tls_cert`/`api_tls_key` are set, header and body
//! timeouts, connection caps); those settings, like every listener's, take effect on a
//! restart, not a reload.
//!
//! Prints one line on stdout once every socket is bound:
//! `meridian ready dns=ADDR [dns=ADDR ...] api=ADDR` (tests and scripts read ports from it).
//! No socket answers before the saved health is in the snapshot, so the first answer,
//! before or after that line, already applies it.

use crate::api::{self, ApiState};
use crate::control::{Control, ControlHandle};
use crate::dns::stats::StatsRegistry;
use crate::dns::{tcp, udp};
use crate::health::store::HealthStore;
use crate::snapshot::{Live, Snapshot};
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// How often the geolocation database file is checked for replacement.
const GEO_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

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
    if let Some(g) = &snapshot.geo {
        tracing::info!(database = %g.db.path.display(), kind = %g.db.database_type, records = g.db.records(), "geolocation loaded");
    }
    tracing::info!(
        services = snapshot.services.len(),
        regions = config.regions.len(),
        "load-balanced names loaded"
    );
    let token = fleet_token(&config.fleet.token_file)
        .with_context(|| format!("fleet token {}", config.fleet.token_file.display()))?;
    let cookies = if config.limits.cookies.enabled {
        let secrets =
            crate::dns::cookie::load(&config.limits.cookies).context("[cookies] secret")?;
        Some(Arc::new(secrets))
    } else {
        None
    };
    let udp_options = udp::UdpOptions {
        rrl: config.limits.rrl.enabled.then(|| config.limits.rrl.clone()),
        cookies: cookies.clone(),
    };
    let live = Arc::new(Live::from_pointee(snapshot));
    let (store, warning) = HealthStore::open(&config.server.state_dir);
    if let Some(w) = warning {
        tracing::error!("{w}");
    }
    // Judges the saved states and drains into `live` now, before any worker can answer.
    let control = Control::new(store, live.clone());
    let stats = Arc::new(StatsRegistry::default());

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
            udp::spawn_worker(
                format!("udp-{}-{i}", bound.len() - 1),
                socket,
                live.clone(),
                udp_options.clone(),
                stats.slot(),
            )?;
        }
        tcp_listeners.push(tcp_listener);
    }
    let api_tls = match &config.server.api.tls {
        Some((cert, key)) => Some(api::listener::tls_acceptor(cert, key)?),
        None => None,
    };
    let api_listener = std::net::TcpListener::bind(config.server.api_listen)
        .with_context(|| format!("binding the HTTP API on {}", config.server.api_listen))?;
    let api_addr = api_listener.local_addr()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("control")
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // Handlers first: until they exist, SIGHUP's default action would end the process.
        let signals = Signals::new()?;
        let control = control.spawn();
        let limits = tcp::TcpLimits {
            idle_timeout: config.server.tcp_idle_timeout,
            max_connections: config.server.tcp_max_connections,
            max_connections_per_source: config.limits.tcp.max_connections_per_source,
            write_timeout: config.limits.tcp.write_timeout,
            max_queued_replies: config.limits.tcp.max_queued_replies,
        };
        for listener in tcp_listeners {
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tokio::spawn(tcp::serve(
                listener,
                live.clone(),
                limits,
                cookies.clone(),
                stats.slot(),
            ));
        }
        api_listener.set_nonblocking(true)?;
        let api_listener = tokio::net::TcpListener::from_std(api_listener)?;
        let mut state = ApiState::new(
            control.clone(),
            stats.clone(),
            token,
            config_path.to_path_buf(),
        );
        state.body_timeout = config.server.api.body_timeout;
        let scheme = if api_tls.is_some() { "https" } else { "http" };
        let connections = state.connections.clone();
        tokio::spawn(api::listener::serve(
            api_listener,
            api::router(state),
            config.server.api.clone(),
            api_tls,
            connections,
        ));
        if config.fleet.local_prober {
            crate::health::prober::spawn_local(
                &config.server.region,
                control.targets(),
                control.clone(),
            )?;
        }
        let addrs: Vec<String> = bound.iter().map(|a| format!("dns={a}")).collect();
        tracing::info!(
            "serving DNS on {} (UDP and TCP, {workers} UDP workers each); HTTP API on {scheme}://{api_addr}",
            bound
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut stdout = std::io::stdout();
        writeln!(stdout, "meridian ready {} api={api_addr}", addrs.join(" "))?;
        stdout.flush()?;
        // What the load freed goes back to the system once the server answers: the trim
        // walks the whole heap (≈ 50 ms after 100,000 services), time the first answer
        // need not wait for.
        tokio::task::spawn_blocking(crate::snapshot::return_freed_memory);
        crate::dns::notify::at_start(&live.load());
        crate::secondary::spawn(control.clone(), config_path.to_path_buf());
        tokio::spawn(resign(live.clone()));
        let code = signals.run(config_path, &control).await;
        control.stop().await;
        code
    })
}

/// Replaces the signatures of each signed zone before they expire
/// (`dnssec::Signing::resign_due`, on a blocking thread: a large zone takes seconds),
/// waking at the earliest due time and at least once a minute, for reloaded snapshots.
async fn resign(live: Arc<Live>) {
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    loop {
        let wait = resign_due(&live, unix_now()).await;
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
}

/// Re-signs what is due at `now` in the live snapshot; the seconds until the next look.
/// The snapshot is let go before the caller sleeps: held across the sleep, a snapshot a
/// reload replaced would stay in memory (a million-record zone: its whole size again)
/// for up to a minute, and be freed then on the control runtime instead of by `retire`.
async fn resign_due(live: &Live, now: u64) -> u64 {
    const AT_MOST: u64 = 60;
    let snap = live.load_full();
    match snap.signing.next_refresh() {
        Some(at) if at <= now => {
            let _ = tokio::task::spawn_blocking(move || snap.signing.resign_due(now)).await;
            // Still due: re-signing failed (logged); try again in a minute.
            let due = live
                .load()
                .signing
                .next_refresh()
                .is_some_and(|at| at <= now);
            if due { AT_MOST } else { 0 }
        }
        Some(at) => (at - now).min(AT_MOST),
        None => AT_MOST,
    }
}

/// Reads the fleet's shared secret; when the file does not exist, makes a random one
/// (mode 0600) so a first `serve` works, and says where it is.
fn fleet_token(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim().to_string();
            anyhow::ensure!(
                token.len() >= 16,
                "the token must be at least 16 characters"
            );
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Read;
            use std::os::unix::fs::OpenOptionsExt;
            let mut bytes = [0u8; 24];
            std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            writeln!(f, "{token}")?;
            tracing::warn!(
                "{} did not exist: wrote a new random fleet token there; give it to every prober",
                path.display()
            );
            Ok(token)
        }
        Err(e) => Err(e.into()),
    }
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

/// The signals `serve` handles.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Reloads on SIGHUP (an invalid new config is refused and the old one keeps serving)
    /// and when the geolocation database file is replaced; returns on SIGTERM or SIGINT.
    async fn run(
        mut self,
        config_path: &Path,
        control: &ControlHandle,
    ) -> anyhow::Result<ExitCode> {
        let mut geo_watch = tokio::time::interval(GEO_WATCH_INTERVAL);
        geo_watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.hup.recv() => {
                    let _ = control.reload(config_path).await;
                }
                _ = geo_watch.tick() => {
                    if crate::snapshot::geo_changed(&control.live().load()) {
                        tracing::info!("geolocation database changed on disk; reloading");
                        let _ = control.reload(config_path).await;
                    }
                }
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
            }
        }
        tracing::info!("stopping");
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::tests::Fixture;

    #[tokio::test(start_paused = true)]
    async fn the_resign_task_holds_no_snapshot_while_it_waits() {
        let dir = Fixture::write();
        let path = Fixture::config_path(dir.path());
        let live = Arc::new(Live::from_pointee(Snapshot::load(&path, None).unwrap()));
        let task = tokio::spawn(resign(live.clone()));
        // The task looks at once, then waits up to a minute.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let old = live.load_full();
        live.store(Arc::new(Snapshot::load(&path, None).unwrap()));
        assert_eq!(Arc::strong_count(&old), 1, "replaced, still held");
        // After its next look it holds none either.
        tokio::time::sleep(std::time::Duration::from_secs(61)).await;
        let old = live.load_full();
        live.store(Arc::new(Snapshot::load(&path, None).unwrap()));
        assert_eq!(Arc::strong_count(&old), 1, "replaced, still held");
        task.abort();
    }
}

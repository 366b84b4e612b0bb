//! The `meridian` binary: parses the command line, sets up logging, runs a command,
//! and turns its result into an exit code. All logic lives in the library.
//!
//! Logging: `MERIDIAN_LOG` (tracing's filter syntax) is checked at start, and a bad one is
//! an error; events go to stderr one per line, coloured only on a terminal.

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// `meridian --version`: the crate version and the git commit it was built from
/// (`unknown` outside a git checkout; see `build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MERIDIAN_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "meridian",
    version = VERSION,
    about = "Authoritative GeoDNS load balancer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS (UDP and TCP) for every zone in zones_dir.
    Serve {
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
    },
    /// Show how a load-balanced name is answered for a client, step by step.
    Explain {
        /// The name, e.g. www.example.com
        name: String,
        /// A or AAAA.
        #[arg(long = "type", default_value = "A")]
        qtype: String,
        /// The client: an address, or a network as sent in EDNS Client Subnet (IP/PREFIX).
        #[arg(long)]
        client: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Ask a running server's HTTP API (live health), e.g. http://127.0.0.1:5380.
        /// Without it: the config here and the health saved in its state_dir.
        #[arg(long)]
        server: Option<String>,
        /// With an https:// --server: PEM certificates to trust besides the webpki roots
        /// (e.g. the CA that signed the API's certificate).
        #[arg(long, requires = "server")]
        ca_file: Option<PathBuf>,
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
    },
    /// Run one prober of the fleet: check the servers' targets, report to every server.
    Probe {
        /// The viewpoint this prober checks from: any name (1 to 64 of [A-Za-z0-9._:-]),
        /// e.g. a serving region or a place that serves nothing, like `paris-isp2`.
        #[arg(long, visible_alias = "viewpoint", value_name = "VIEWPOINT")]
        region: String,
        /// A server's HTTP API, e.g. http://127.0.0.1:5380 (repeat for every server).
        #[arg(long = "server", required = true)]
        servers: Vec<String>,
        /// File holding the fleet's bearer token.
        #[arg(long)]
        token_file: PathBuf,
        /// This prober's name, unique in the fleet (default: VIEWPOINT-PID).
        #[arg(long)]
        name: Option<String>,
        /// Local address to check from.
        #[arg(long)]
        source: Option<std::net::IpAddr>,
        /// The viewpoint's latitude in degrees (with --lon), for policy "latency"
        /// (default: the [regions] entry named like the viewpoint, on the servers).
        #[arg(long, requires = "lon", allow_hyphen_values = true, value_parser = latitude)]
        lat: Option<f64>,
        /// The viewpoint's longitude in degrees (with --lat).
        #[arg(long, requires = "lat", allow_hyphen_values = true, value_parser = longitude)]
        lon: Option<f64>,
        /// PEM file of CA certificates to trust for https:// servers (besides the
        /// bundled webpki roots).
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Validate the configuration and every zone, as `serve` would load them.
    Check {
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
    },
    /// DNSSEC keys: make one, print the DS for the parent zone.
    Dnssec {
        #[command(subcommand)]
        command: DnssecCommand,
    },
    /// The Docker lab's stand-in backend (deploy/lab/): HTTP 200 and a TCP greeting.
    #[command(hide = true)]
    LabBackend {
        /// Name given in every answer.
        #[arg(long)]
        name: String,
        /// Address for the HTTP listener, e.g. 0.0.0.0:8080.
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// Address for the TCP listener, e.g. 0.0.0.0:9000.
        #[arg(long)]
        tcp: Option<std::net::SocketAddr>,
        /// Load to report in HTTP answers (X-Meridian-Load), e.g. 0.8.
        #[arg(long, value_parser = meridian::cli::backend::parse_load_arg)]
        load: Option<f64>,
        /// File holding the load to report, read for every request (over --load).
        #[arg(long)]
        load_file: Option<PathBuf>,
        /// Hold HTTP answers to peers at ADDR back by MS milliseconds (repeatable).
        #[arg(long = "delay", value_name = "ADDR=MS", value_parser = meridian::cli::backend::parse_delay)]
        delays: Vec<(std::net::IpAddr, u64)>,
        /// File of lines `ADDR MS`, read for every request (over --delay).
        #[arg(long)]
        delay_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DnssecCommand {
    /// Make a combined signing key (flags 257) for ZONE in the key directory.
    Keygen {
        /// The zone, e.g. example.com
        zone: String,
        /// ecdsap256sha256 (13) or ed25519 (15).
        #[arg(long, default_value = "ecdsap256sha256")]
        algorithm: String,
        /// Key directory (default: [dnssec] key_dir of the config file).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
    },
    /// Print the DS (SHA-256) and DNSKEY of ZONE's keys, for the registrar.
    Ds {
        /// The zone, e.g. example.com
        zone: String,
        /// Key directory (default: [dnssec] key_dir of the config file).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
    },
}

/// `--lat`: degrees in -90..=90.
fn latitude(text: &str) -> Result<f64, String> {
    degrees(text, 90.0)
}

/// `--lon`: degrees in -180..=180.
fn longitude(text: &str) -> Result<f64, String> {
    degrees(text, 180.0)
}

fn degrees(text: &str, max: f64) -> Result<f64, String> {
    let v: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if v.is_finite() && v.abs() <= max {
        Ok(v)
    } else {
        Err(format!("{v} is outside -{max}..={max}"))
    }
}

/// The filter when `MERIDIAN_LOG` is unset or empty: our own events from info up, other
/// crates' warnings and errors.
const DEFAULT_LOG: &str = "warn,meridian=info";

/// Crates whose events are per-connection noise for an operator (an API client hanging
/// up, a probed endpoint's bad certificate, which the check already reports). Off unless
/// `MERIDIAN_LOG` names them, e.g. `MERIDIAN_LOG=info,hyper=debug`.
const QUIET_CRATES: [&str; 8] = [
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "axum",
    "tower",
    "tower_http",
];

/// The log filter for `MERIDIAN_LOG` (`None` when unset), or why it is not one.
fn log_filter(var: Option<&str>) -> Result<EnvFilter, String> {
    let given = var.map(str::trim).filter(|v| !v.is_empty());
    let mut directives = given.unwrap_or(DEFAULT_LOG).to_string();
    for quiet in QUIET_CRATES {
        let named = directives.split(',').any(|d| {
            d.trim()
                .split(['=', '['])
                .next()
                .is_some_and(|target| target == quiet || target.starts_with(&format!("{quiet}::")))
        });
        if !named {
            directives.push_str(&format!(",{quiet}=off"));
        }
    }
    match given {
        Some(text) => EnvFilter::builder().parse(&directives).map_err(|e| {
            format!(
                "MERIDIAN_LOG={text:?} is not a log filter: {e} \
                 (expected comma-separated [target=]level with levels error, warn, info, debug, \
                 trace or off, e.g. MERIDIAN_LOG=info or MERIDIAN_LOG=meridian=debug,warn)"
            )
        }),
        None => Ok(EnvFilter::new(directives)),
    }
}

/// Writes each log event as one line: newlines inside a message (a reload refusal lists
/// one error per line) become ` | `, so every line of the log is one event.
struct OneLine;

impl<'a> MakeWriter<'a> for OneLine {
    type Writer = OneLine;

    fn make_writer(&'a self) -> OneLine {
        OneLine
    }
}

impl std::io::Write for OneLine {
    /// The fmt layer hands over a whole formatted event in one `write_all`.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        let mut line = Vec::with_capacity(buf.len() + 8);
        for &b in body {
            match b {
                b'\n' => line.extend_from_slice(b" | "),
                b'\r' => {}
                _ => line.push(b),
            }
        }
        line.push(b'\n');
        std::io::stderr().lock().write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn main() -> ExitCode {
    let var = std::env::var("MERIDIAN_LOG").ok();
    let filter = match log_filter(var.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_writer(OneLine)
        .init();
    let cli = Cli::parse();
    // HTTPS (probes, `probe` and `explain --server`) uses rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if matches!(
        cli.command,
        Command::Check { .. } | Command::Explain { .. } | Command::Dnssec { .. }
    ) {
        // Rust ignores SIGPIPE, so `meridian check | head -1` would panic in `println!`
        // once `head` has gone. These commands only print: let the signal end them
        // quietly, as it ends `cat`. `serve` and `probe` keep ignoring it (sockets).
        // SAFETY: signal(2) with SIG_DFL, before any other thread is started.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match cli.command {
        Command::Serve { config } => meridian::cli::serve::run(&config),
        Command::Check { config } => meridian::cli::check::run(&config),
        Command::Dnssec { command } => match command {
            DnssecCommand::Keygen {
                zone,
                algorithm,
                dir,
                config,
            } => meridian::cli::dnssec::keygen(&zone, &algorithm, dir.as_deref(), &config),
            DnssecCommand::Ds { zone, dir, config } => {
                meridian::cli::dnssec::ds(&zone, dir.as_deref(), &config)
            }
        },
        Command::LabBackend {
            name,
            http,
            tcp,
            load,
            load_file,
            delays,
            delay_file,
        } => meridian::cli::backend::run(
            &name,
            http,
            tcp,
            meridian::cli::backend::Behaviour {
                load,
                load_file,
                delays,
                delay_file,
            },
        ),
        Command::Probe {
            region,
            servers,
            token_file,
            name,
            source,
            lat,
            lon,
            ca_file,
        } => meridian::cli::probe::run(meridian::cli::probe::ProbeArgs {
            region: &region,
            servers: &servers,
            token_file: &token_file,
            name: name.as_deref(),
            source,
            coordinates: lat.zip(lon),
            ca_file: ca_file.as_deref(),
        }),
        Command::Explain {
            name,
            qtype,
            client,
            json,
            server,
            ca_file,
            config,
        } => meridian::cli::explain::run(
            &config,
            &name,
            &qtype,
            &client,
            json,
            server.as_deref(),
            ca_file.as_deref(),
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("meridian: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn library_noise_is_off_unless_named() {
        // (MERIDIAN_LOG, directive expected in the filter, directive that must not be)
        let rows = [
            (None, "meridian=info", "hyper=debug"),
            (None, "hyper=off", "meridian=debug"),
            (Some("debug"), "rustls=off", "rustls=debug"),
            (Some("debug,hyper=trace"), "hyper=trace", "hyper=off"),
            (Some("info,h2::codec=debug"), "h2::codec=debug", "h2=off"),
            (Some("info"), "h2=off", "reqwest=info"),
        ];
        for (var, has, lacks) in rows {
            let filter = log_filter(var).unwrap().to_string();
            let directives: Vec<&str> = filter.split(',').collect();
            assert!(directives.contains(&has), "{var:?}: {filter}");
            assert!(!directives.contains(&lacks), "{var:?}: {filter}");
        }
        assert!(log_filter(Some("meridian=loud")).is_err());
    }
}

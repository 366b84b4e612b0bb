//! The `meridian` binary: parses the command line, sets up logging, runs a command,
//! and turns its result into an exit code. All logic lives in the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "meridian",
    version,
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
        #[arg(long)]
        server: Option<String>,
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
    },
    /// Run one prober of the fleet: check the servers' targets, report to every server.
    Probe {
        /// The region this prober checks from (one of the servers' regions).
        #[arg(long)]
        region: String,
        /// A server's HTTP API, e.g. http://127.0.0.1:5380 (repeat for every server).
        #[arg(long = "server", required = true)]
        servers: Vec<String>,
        /// File holding the fleet's bearer token.
        #[arg(long)]
        token_file: PathBuf,
        /// This prober's name, unique in the fleet (default: REGION-PID).
        #[arg(long)]
        name: Option<String>,
        /// Local address to check from.
        #[arg(long)]
        source: Option<std::net::IpAddr>,
    },
    /// Validate the configuration and every zone, as `serve` would load them.
    Check {
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MERIDIAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // HTTPS (probes, `probe` and `explain --server`) uses rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::Serve { config } => meridian::cli::serve::run(&config),
        Command::Check { config } => meridian::cli::check::run(&config),
        Command::Probe {
            region,
            servers,
            token_file,
            name,
            source,
        } => meridian::cli::probe::run(meridian::cli::probe::ProbeArgs {
            region: &region,
            servers: &servers,
            token_file: &token_file,
            name: name.as_deref(),
            source,
        }),
        Command::Explain {
            name,
            qtype,
            client,
            json,
            server,
            config,
        } => meridian::cli::explain::run(&config, &name, &qtype, &client, json, server.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("meridian: {e:#}");
            ExitCode::FAILURE
        }
    }
}

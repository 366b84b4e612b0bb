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
        /// Configuration file.
        #[arg(long, default_value = "meridian.toml")]
        config: PathBuf,
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
    let result = match cli.command {
        Command::Serve { config } => meridian::cli::serve::run(&config),
        Command::Check { config } => meridian::cli::check::run(&config),
        Command::Explain {
            name,
            qtype,
            client,
            json,
            config,
        } => meridian::cli::explain::run(&config, &name, &qtype, &client, json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("meridian: {e:#}");
            ExitCode::FAILURE
        }
    }
}

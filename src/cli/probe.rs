//! `meridian probe`: one prober of the fleet, run anywhere. Fetches its targets from every
//! server it is given (the union), checks them from `--source` if given, and reports every
//! vote to every server. A server that is down does not stop it.

use crate::health::check::Checker;
use crate::health::prober::{HttpSink, Prober, fetch_targets};
use anyhow::Context;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How often the target lists are fetched again (picks up reloads).
const REFRESH: Duration = Duration::from_secs(5);

pub struct ProbeArgs<'a> {
    pub region: &'a str,
    pub servers: &'a [String],
    pub token_file: &'a Path,
    pub name: Option<&'a str>,
    pub source: Option<IpAddr>,
}

pub fn run(args: ProbeArgs<'_>) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(!args.servers.is_empty(), "give at least one --server URL");
    let token = std::fs::read_to_string(args.token_file)
        .with_context(|| format!("reading the fleet token {}", args.token_file.display()))?
        .trim()
        .to_string();
    let name = match args.name {
        Some(n) => n.to_string(),
        None => format!("{}-{}", args.region, std::process::id()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let checker = Checker::new(args.source).map_err(|e| anyhow::anyhow!("{e}"))?;
        let client = reqwest::Client::builder().no_proxy().build()?;
        let servers: Vec<String> = args.servers.to_vec();
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
            checker: Arc::new(checker),
        };
        tracing::info!(%name, region = args.region, servers = servers.join(", "), "prober started");
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

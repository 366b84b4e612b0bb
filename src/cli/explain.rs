//! `meridian explain`: the decision for one name and client, as the server would make it.
//!
//! Without `--server` it loads the snapshot `serve` builds and the health `serve` last
//! saved in `state_dir/health.json` (read only: judged states and drains), or every
//! endpoint up when none is saved; the explanation says which. With `--server URL` it asks
//! the running server, which uses its live health (over HTTPS: the webpki roots and the
//! certificates in `--ca-file` are trusted, as by `probe`).

use crate::explain::{explain, parse_client};
use crate::health::store::HealthStore;
use crate::route::Family;
use crate::snapshot::Snapshot;
use anyhow::bail;
use std::path::Path;
use std::process::ExitCode;

pub fn run(
    config_path: &Path,
    name: &str,
    qtype: &str,
    client: &str,
    json: bool,
    server: Option<&str>,
    ca_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let family = match qtype.to_ascii_uppercase().as_str() {
        "A" => Family::V4,
        "AAAA" => Family::V6,
        other => bail!("--type {other}: only A and AAAA are load-balanced"),
    };
    let (addr, prefix) = parse_client(client).map_err(|e| anyhow::anyhow!("--{e}"))?;
    if let Some(server) = server {
        return ask_server(server, ca_file, name, qtype, client, json);
    }
    let snapshot = match Snapshot::load(config_path, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let (snapshot, health) = with_saved_health(snapshot);
    let mut explanation = explain(&snapshot, name, family, addr, prefix)?;
    explanation.health = health;
    print(&explanation, json)
}

/// The snapshot with the health `serve` saved in its `state_dir` (never written here),
/// and a line saying which health that is.
fn with_saved_health(snapshot: Snapshot) -> (Snapshot, String) {
    let dir = &snapshot.config.server.state_dir;
    let path = dir.join("health.json");
    let modified = match std::fs::metadata(&path).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let none = format!(
                "none saved ({} does not exist), all endpoints assumed up",
                path.display()
            );
            return (snapshot, none);
        }
        Err(e) => {
            let bad = format!("{}: {e}; all endpoints assumed up", path.display());
            return (snapshot, bad);
        }
    };
    let mut store = match HealthStore::read_only(dir) {
        Ok(store) => store,
        Err(e) => return (snapshot, format!("{e}; all endpoints assumed up")),
    };
    let config = &snapshot.config;
    store.configure_targets(
        &snapshot.services,
        snapshot.targets.clone(),
        config.fleet.quorum,
    );
    let table = store.table(&snapshot.services, &config.regions, &Default::default());
    let said = format!(
        "saved in {} at {}",
        path.display(),
        humantime::format_rfc3339_seconds(modified)
    );
    (snapshot.with_health(table), said)
}

/// Prints text or JSON; a closed stdout (`| head`) is not an error.
fn print(explanation: &crate::explain::Explanation, json: bool) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let text = if json {
        serde_json::to_string_pretty(explanation)?
    } else {
        explanation.to_string()
    };
    match writeln!(std::io::stdout(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Asks a running server (its live health) instead of loading the config here.
fn ask_server(
    server: &str,
    ca_file: Option<&Path>,
    name: &str,
    qtype: &str,
    client: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let url = format!("{}/v1/explain", server.trim_end_matches('/'));
        let response = crate::cli::probe::api_client(ca_file)?
            .get(&url)
            .query(&[("name", name), ("type", qtype), ("client", client)])
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await?;
        let status = response.status();
        let body: Vec<u8> = response.bytes().await?.to_vec();
        if !status.is_success() {
            let reason = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            bail!("{url}: {status}: {reason}");
        }
        let explanation: crate::explain::Explanation = serde_json::from_slice(&body)?;
        print(&explanation, json)
    })
}

//! `meridian explain`: the decision for one name and client, as the server would make it.
//! Loads the same snapshot `serve` builds (health: every endpoint up, as before any check).

use crate::explain::{explain, parse_client};
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
) -> anyhow::Result<ExitCode> {
    let family = match qtype.to_ascii_uppercase().as_str() {
        "A" => Family::V4,
        "AAAA" => Family::V6,
        other => bail!("--type {other}: only A and AAAA are load-balanced"),
    };
    let (addr, prefix) = parse_client(client).map_err(|e| anyhow::anyhow!("--{e}"))?;
    if let Some(server) = server {
        return ask_server(server, name, qtype, client, json);
    }
    let snapshot = match Snapshot::load(config_path, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let explanation = explain(&snapshot, name, family, addr, prefix)?;
    print(&explanation, json)
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
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()?
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

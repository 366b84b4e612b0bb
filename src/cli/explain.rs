//! `meridian explain`: the decision for one name and client, as the server would make it.
//! Loads the same snapshot `serve` builds (health: every endpoint up, as before any check).

use crate::route::Family;
use crate::route::explain::explain;
use crate::snapshot::Snapshot;
use anyhow::{Context, bail};
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

pub fn run(
    config_path: &Path,
    name: &str,
    qtype: &str,
    client: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let family = match qtype.to_ascii_uppercase().as_str() {
        "A" => Family::V4,
        "AAAA" => Family::V6,
        other => bail!("--type {other}: only A and AAAA are load-balanced"),
    };
    let (addr, prefix) = parse_client(client)?;
    let snapshot = match Snapshot::load(config_path, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let explanation = explain(&snapshot, name, family, addr, prefix)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&explanation)?);
    } else {
        println!("{explanation}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `IP` or `IP/PREFIX`.
pub fn parse_client(s: &str) -> anyhow::Result<(IpAddr, u8)> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = ip
        .parse()
        .with_context(|| format!("--client {s}: not an IP address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => bail!("--client {s}: prefix must be 0..={max}"),
        },
    };
    Ok((addr, prefix))
}

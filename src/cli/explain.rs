//! `meridian explain`: the decision for one name and client, as the server would make it.
//! Loads the same snapshot `serve` builds (health: every endpoint up, as before any check).

use crate::route::Family;
use crate::route::explain::{explain, parse_client};
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
) -> anyhow::Result<ExitCode> {
    let family = match qtype.to_ascii_uppercase().as_str() {
        "A" => Family::V4,
        "AAAA" => Family::V6,
        other => bail!("--type {other}: only A and AAAA are load-balanced"),
    };
    let (addr, prefix) = parse_client(client).map_err(|e| anyhow::anyhow!("--{e}"))?;
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

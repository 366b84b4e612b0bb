//! `meridian check`: load everything `serve` would load, with the same loader, and report
//! every error with file, line and key; opens no socket. Exit 0 valid, 1 invalid.

use crate::snapshot::Snapshot;
use std::path::Path;
use std::process::ExitCode;

pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    match Snapshot::load(config_path, None) {
        Ok(snapshot) => {
            let zones = snapshot.zones.zones();
            let records: usize = zones.iter().map(|z| z.record_count).sum();
            println!(
                "{}: ok ({} zones, {records} records, {} load-balanced names, {} regions)",
                config_path.display(),
                zones.len(),
                snapshot.services.len(),
                snapshot.config.regions.len()
            );
            for z in zones {
                println!(
                    "  {} serial {} ({} records, {})",
                    z.origin,
                    z.serial,
                    z.record_count,
                    z.file.display()
                );
            }
            for s in &snapshot.config.secondary {
                let served = zones.iter().any(|z| z.origin == s.zone);
                let primaries: Vec<String> = s.primaries.iter().map(ToString::to_string).collect();
                println!(
                    "  {} secondary of {} ({})",
                    s.zone,
                    primaries.join(", "),
                    if served {
                        "copy in state_dir"
                    } else {
                        "no copy to serve yet"
                    }
                );
            }
            for s in snapshot.services.iter() {
                println!(
                    "  {} {} endpoints ({}:{})",
                    s.name,
                    s.endpoints.len(),
                    s.file.display(),
                    s.line
                );
            }
            match &snapshot.geo {
                Some(g) => println!(
                    "  geolocation: {} ({}, {} records)",
                    g.db.path.display(),
                    g.db.database_type,
                    g.db.records()
                ),
                None => println!("  geolocation: off"),
            }
            println!("  {}", identity_line(&snapshot.config.identity));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `identity: "ns1"; nsid: "ns1"; version: off`, in the config's own notation.
fn identity_line(identity: &crate::config::IdentityConfig) -> String {
    let text = |t: Option<&str>| t.map_or_else(|| "off".to_string(), |t| format!("{t:?}"));
    let nsid = match identity.nsid.as_deref() {
        None => "off".to_string(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(t) if !t.chars().any(char::is_control) && !t.starts_with("hex:") => {
                format!("{t:?}")
            }
            _ => format!(
                "\"hex:{}\"",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        },
    };
    format!(
        "identity: {}; nsid: {nsid}; version: {}",
        text(identity.name.as_deref()),
        text(identity.version.as_deref())
    )
}

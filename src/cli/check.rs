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
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

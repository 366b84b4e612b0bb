//! `meridian dnssec keygen` and `meridian dnssec ds`: make a zone key in the key
//! directory, and print the DS (and DNSKEY) records the parent zone needs.
//!
//! The key directory is `--dir`, else `[dnssec] key_dir` of the config file. The work is
//! in `dnssec::key` and `dnssec::apex`; this file finds the directory and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::dnssec::{self, Algorithm, apex, canon};

/// The key directory: `--dir`, else the config file's `[dnssec] key_dir`.
fn key_dir(dir: Option<&Path>, config: &Path) -> anyhow::Result<PathBuf> {
    if let Some(dir) = dir {
        return Ok(dir.to_path_buf());
    }
    match crate::config::load(config) {
        Ok(config) => Ok(config.dnssec.key_dir),
        Err(errors) => bail!(
            "{errors}\n(the key directory is [dnssec] key_dir in {}; or give --dir DIR)",
            config.display()
        ),
    }
}

fn zone_name(zone: &str) -> anyhow::Result<Vec<u8>> {
    canon::name_from_text(zone).with_context(|| format!("{zone:?} is not a zone name"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `keygen`: a new combined signing key (flags 257) for `zone`; prints the two files.
pub fn keygen(
    zone: &str,
    algorithm: &str,
    dir: Option<&Path>,
    config: &Path,
) -> anyhow::Result<ExitCode> {
    let Some(algorithm) = Algorithm::from_name(algorithm) else {
        bail!("--algorithm {algorithm:?}: expected ecdsap256sha256 (13) or ed25519 (15)");
    };
    let zone = zone_name(zone)?;
    let dir = key_dir(dir, config)?;
    // A new key whose tag another key of the zone already has gets made again, so no
    // two keys of a zone share a file name (or a tag, which validators would try both of).
    let prefix = format!("K{}+", canon::name_to_text(&zone)).to_ascii_lowercase();
    let taken: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .map(|n| n.to_ascii_lowercase())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    for _ in 0..16 {
        let key = dnssec::generate(&zone, algorithm, now())?;
        let tag = format!("+{:05}.", key.tag());
        if taken.iter().any(|n| n.contains(&tag)) {
            continue;
        }
        let (private, public) = dnssec::write_key(&dir, &key)?;
        println!("{}", public.display());
        println!("{}", private.display());
        return Ok(ExitCode::SUCCESS);
    }
    bail!("no free key tag after 16 tries in {}", dir.display())
}

/// `ds`: for every key of `zone` with the SEP flag (what the parent's DS names), a
/// comment with its tag and state, its DS (SHA-256) and its DNSKEY.
pub fn ds(zone: &str, dir: Option<&Path>, config: &Path) -> anyhow::Result<ExitCode> {
    let zone = zone_name(zone)?;
    let dir = key_dir(dir, config)?;
    let keys = match dnssec::load_zone_keys(&dir, &zone) {
        Ok(keys) => keys,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let now = now();
    let mut printed = 0;
    for key in keys.iter().filter(|k| k.is_sep()) {
        let state = match (key.timing.is_published(now), key.timing.is_active(now)) {
            (true, true) => "published, signing",
            (true, false) => "published, not signing",
            (false, _) => "not published",
        };
        println!(
            "; key {} ({}, flags {}): {state}; {}",
            key.tag(),
            key.algorithm().mnemonic(),
            key.flags(),
            key.path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        println!("{}", apex::ds_record_text(key));
        println!("{}", key.dnskey_text());
        printed += 1;
    }
    if printed == 0 {
        bail!(
            "{}: no key of {} has the SEP flag (257), so none goes in the parent's DS",
            dir.display(),
            canon::name_to_text(&zone)
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! Which zones `serve` signs: those with keys in `[dnssec] key_dir`, each loaded and
//! signed when a snapshot is built ([`load_signing`]); the [`Signing`] it makes is shared
//! by every snapshot made from that load (health changes do not re-sign).
//!
//! A zone with no key file is served unsigned; a key file that does not load, or a zone
//! whose keys are none of them active, is an error naming the file, and the load fails.

use std::path::Path;
use std::sync::Arc;

use super::canon;
use super::key::{KeyError, load_zone_keys};
use super::zone::{Policy, SignedZone};
use crate::config::Config;
use crate::zone::Zones;

/// The signed zones of a load, by zone index (`None`: unsigned).
#[derive(Debug, Default)]
pub struct Signing {
    zones: Vec<Option<Arc<SignedZone>>>,
}

impl Signing {
    /// The signed zone of zone index `zone`, if it is signed.
    #[inline]
    pub fn zone(&self, zone: u32) -> Option<&SignedZone> {
        self.zones.get(zone as usize)?.as_deref()
    }

    /// Every signed zone.
    pub fn signed(&self) -> impl Iterator<Item = &SignedZone> {
        self.zones.iter().flatten().map(|z| &**z)
    }

    /// When the earliest re-sign is due (`None`: nothing is signed).
    pub fn next_refresh(&self) -> Option<u64> {
        self.signed().map(SignedZone::refresh_at).min()
    }

    /// Re-signs every zone whose signatures are due at `now`; errors are logged (the old
    /// signatures serve, and answers are signed per query until they are replaced).
    pub fn resign_due(&self, now: u64) {
        for zone in self.signed() {
            if now >= zone.refresh_at() {
                let started = std::time::Instant::now();
                match zone.resign(now) {
                    Ok(()) => tracing::info!(
                        zone = %canon::name_to_text(&zone.apex),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "re-signed the zone"
                    ),
                    Err(e) => tracing::error!(
                        zone = %canon::name_to_text(&zone.apex),
                        "cannot re-sign the zone: {e}"
                    ),
                }
            }
        }
    }
}

/// Whether `dir` holds any `.private` key file of `zone` (lower-case wire form).
fn has_key_files(dir: &Path, zone: &[u8]) -> bool {
    let prefix = format!("K{}+", canon::name_to_text(zone)).to_ascii_lowercase();
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.to_ascii_lowercase().starts_with(&prefix) && n.ends_with(".private")
            })
        })
    })
}

/// Loads the keys of every zone that has some in `config.dnssec.key_dir` and signs
/// the zone at `now`. `balanced` gives the load-balanced names (lower-case wire form)
/// of the services by index.
pub fn load_signing(
    config: &Config,
    zones: &Zones,
    balanced: &[Box<[u8]>],
    now: u64,
) -> Result<Signing, Vec<KeyError>> {
    let dir = &config.dnssec.key_dir;
    if !dir.is_dir() {
        return Ok(Signing::default());
    }
    let policy = Policy {
        validity: config.dnssec.validity,
        refresh_secs: config.dnssec.refresh.as_secs(),
    };
    let mut errors = Vec::new();
    let mut signed = Vec::with_capacity(zones.zones().len());
    for zone in zones.zones() {
        let apex = crate::answer::name_key(&zone.origin);
        if !has_key_files(dir, &apex) {
            signed.push(None);
            continue;
        }
        let keys = match load_zone_keys(dir, &apex) {
            Ok(keys) => keys,
            Err(e) => {
                errors.extend(e);
                signed.push(None);
                continue;
            }
        };
        let names: Vec<Box<[u8]>> = zone
            .records
            .balanced
            .iter()
            .filter_map(|&s| balanced.get(s as usize).cloned())
            .collect();
        let records = &zone.records;
        match SignedZone::new(
            &apex,
            &records.soa,
            &records.wire(),
            &names,
            keys,
            policy,
            now,
        ) {
            Ok(z) => signed.push(Some(Arc::new(z))),
            Err(e) => {
                errors.push(KeyError {
                    file: Some(dir.clone()),
                    line: None,
                    message: format!("cannot sign {}: {e}", zone.origin_text),
                });
                signed.push(None);
            }
        }
    }
    if errors.is_empty() {
        Ok(Signing { zones: signed })
    } else {
        Err(errors)
    }
}

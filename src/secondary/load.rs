//! The secondary zones' copies for a snapshot: each saved copy in `state_dir` read by the
//! master-file reader, as a zone file is, and handed to the zone build with the files'.
//!
//! A copy is left out (its zone then answers SERVFAIL) when there is none yet, when it
//! has expired, or when it does not build with the zone's load-balanced names; each is
//! logged, none fails the load: the rest of the server keeps serving. The A and AAAA
//! records the primary has at a load-balanced name are dropped: `zones/<origin>.toml`
//! decides those names, as it does in a zone file (where such records are an error).

use super::store;
use crate::config::{Config, NamedService};
use crate::zone::master::SourceRecord;
use hickory_proto::rr::{Name, RecordType};
use std::path::PathBuf;

/// A zone's records as the zone build takes them: file, origin, records.
pub type Parsed = (PathBuf, Name, Vec<SourceRecord>);

/// The copies to serve, and the secondary zones without one. `origins` are every zone's
/// (files' and secondaries'): a load-balanced name belongs to the most specific.
pub fn copies(
    config: &Config,
    origins: &[Name],
    names: &[NamedService],
) -> (Vec<Parsed>, Vec<Name>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let state_dir = &config.server.state_dir;
    let mut served = Vec::new();
    let mut missing = Vec::new();
    for s in &config.secondary {
        let file = store::zone_file(state_dir, &s.zone);
        let Some(saved) = store::saved(state_dir, &s.zone) else {
            tracing::info!(zone = %s.zone, "secondary zone has no copy yet: SERVFAIL until its first transfer");
            missing.push(s.zone.clone());
            continue;
        };
        if now >= saved.expires {
            tracing::warn!(zone = %s.zone, serial = saved.serial, expired = saved.expires, "secondary zone's copy has expired: SERVFAIL until a refresh succeeds");
            missing.push(s.zone.clone());
            continue;
        }
        let records = match crate::zone::master::parse_file(&file, &s.zone) {
            Ok(r) => r,
            Err(errors) => {
                let first = errors.first().map(ToString::to_string).unwrap_or_default();
                tracing::error!(zone = %s.zone, "secondary zone's copy cannot be read ({first}); SERVFAIL until the next transfer");
                missing.push(s.zone.clone());
                continue;
            }
        };
        let balanced =
            crate::snapshot::balanced_names(names, origins, |zone| zone == Some(&s.zone));
        let records: Vec<SourceRecord> = records
            .into_iter()
            .filter(|r| {
                let address = matches!(r.rdata.record_type(), RecordType::A | RecordType::AAAA);
                !(address && balanced.iter().any(|b| b.name == r.name))
            })
            .collect();
        let parsed = (file, s.zone.clone(), records);
        match crate::zone::build_zones(vec![parsed.clone()], &balanced) {
            Ok(_) => served.push(parsed),
            Err(e) => {
                let texts: Vec<String> = e.0.iter().take(3).map(ToString::to_string).collect();
                tracing::error!(zone = %s.zone, "secondary zone's copy does not build with zones/{}toml: {}; SERVFAIL for it", s.zone, texts.join("; "));
                missing.push(s.zone.clone());
            }
        }
    }
    (served, missing)
}

//! The server's health record: every prober's latest vote per target, the judged states,
//! and the operator's drains; turned into a [`HealthTable`] for the next snapshot.
//!
//! Owned by one task (the control task, `crate::control`): no lock. Time comes in as
//! arguments (`now` on the monotonic clock), never read here. Judged states and drains
//! are saved to `state_dir/health.json` (write, then rename) so a restart keeps them; a
//! failed save is returned to the caller, who decides whom to tell.

use super::fleet::{MAX_REPORTS_PER_BATCH, ReportBatch, TargetSpec, targets_of};
use super::quorum::{Judgement, Vote, judge};
use super::{HealthTable, ServiceHealth};
use crate::config::{Quorum, Region, Service};
use crate::route::EndpointState;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// TTL while a state is changing: never below this (seconds).
pub const MIN_CHANGING_TTL: u32 = 5;

/// What survives a restart.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    #[serde(default)]
    states: BTreeMap<String, bool>,
    #[serde(default)]
    drains: BTreeSet<String>,
}

/// A prober the server has heard from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProberInfo {
    pub region: String,
    /// When its last batch arrived, on the monotonic clock (ages are measured from it).
    pub last_report: Instant,
    /// The same moment on the wall clock, only for showing to people.
    pub last_report_wall: SystemTime,
    pub reports: u64,
}

/// Why a report batch was refused; nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("prober name must be 1 to 64 characters of [A-Za-z0-9._:-]")]
    BadProber,
    #[error("viewpoint {0:?}: must be 1 to 64 characters of [A-Za-z0-9._:-]")]
    BadViewpoint(String),
    #[error("{0} reports in one batch; at most {MAX_REPORTS_PER_BATCH}")]
    TooMany(usize),
    #[error("report {0}: reason longer than 1024 bytes")]
    LongReason(usize),
    #[error("report {0}: target {1:?} appears twice")]
    Duplicate(usize, String),
}

/// `state_dir/health.json` could not be written; what it should hold is still in memory.
#[derive(Debug, thiserror::Error)]
#[error("cannot save {}: {source}", path.display())]
pub struct SaveError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// A prober or viewpoint name: 1 to 64 characters of [A-Za-z0-9._:-].
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
}

/// Upper bounds (seconds) of the check latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 10] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Check latency as probers report it, cumulative since start (a Prometheus histogram).
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram {
    /// Observations at or below each bound of [`LATENCY_BUCKETS`].
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    pub count: u64,
    pub sum_secs: f64,
}

/// The fleet's view of every target, as this server judges it.
#[derive(Debug)]
pub struct HealthStore {
    path: PathBuf,
    quorum: Quorum,
    targets: BTreeMap<String, (TargetSpec, Vec<(usize, usize)>)>,
    votes: BTreeMap<String, BTreeMap<String, Vote>>,
    judged: BTreeMap<String, Judgement>,
    saved: Saved,
    pub probers: BTreeMap<String, ProberInfo>,
    pub latency: LatencyHistogram,
}

impl HealthStore {
    /// Opens the store, loading what the last run saved (a missing file is a fresh start;
    /// an unreadable one is reported and ignored, so the server still starts).
    pub fn open(state_dir: &Path) -> (HealthStore, Option<String>) {
        let path = state_dir.join("health.json");
        let (saved, warning) = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(s) => (s, None),
                Err(e) => (
                    Saved::default(),
                    Some(format!("{}: ignored: {e}", path.display())),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Saved::default(), None),
            Err(e) => (
                Saved::default(),
                Some(format!("{}: ignored: {e}", path.display())),
            ),
        };
        let store = HealthStore {
            path,
            quorum: Quorum::Majority,
            targets: BTreeMap::new(),
            votes: BTreeMap::new(),
            judged: BTreeMap::new(),
            saved,
            probers: BTreeMap::new(),
            latency: LatencyHistogram::default(),
        };
        (store, warning)
    }

    /// Takes the services and settings of a new snapshot; votes for targets that remain
    /// are kept.
    pub fn configure(&mut self, services: &[Service], _regions: &[Region], quorum: Quorum) {
        self.quorum = quorum;
        self.targets = targets_of(services);
        self.votes.retain(|id, _| self.targets.contains_key(id));
        self.judged.retain(|id, _| self.targets.contains_key(id));
    }

    pub fn targets(&self) -> impl Iterator<Item = &TargetSpec> {
        self.targets.values().map(|(spec, _)| spec)
    }

    /// Records a batch received at `now` (monotonic) / `wall` (for display), stamped with
    /// the server's clock (probers' clocks may drift). Returns (accepted, ignored): reports
    /// on targets this server does not have are ignored (a prober may still be on an
    /// older target list).
    pub fn apply(
        &mut self,
        batch: &ReportBatch,
        now: Instant,
        wall: SystemTime,
    ) -> Result<(usize, usize), BatchError> {
        let p = &batch.prober;
        if !valid_name(p) {
            return Err(BatchError::BadProber);
        }
        // A viewpoint is where a prober checks from; it need not be a serving region.
        if !valid_name(&batch.region) {
            return Err(BatchError::BadViewpoint(batch.region.clone()));
        }
        if batch.reports.len() > MAX_REPORTS_PER_BATCH {
            return Err(BatchError::TooMany(batch.reports.len()));
        }
        let mut seen = BTreeSet::new();
        for (i, r) in batch.reports.iter().enumerate() {
            if r.reason.len() > 1024 {
                return Err(BatchError::LongReason(i));
            }
            if !seen.insert(&r.target) {
                return Err(BatchError::Duplicate(i, r.target.clone()));
            }
        }
        let mut accepted = 0;
        for r in &batch.reports {
            if !self.targets.contains_key(&r.target) {
                continue;
            }
            if let Some(rtt) = r.rtt_ms {
                let secs = rtt as f64 / 1000.0;
                self.latency.count += 1;
                self.latency.sum_secs += secs;
                for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                    if secs <= *bound {
                        self.latency.buckets[i] += 1;
                    }
                }
            }
            let vote = Vote {
                up: r.up,
                at: now,
                changing: r.changing,
                rtt_ms: r.rtt_ms,
                reason: r.reason.clone(),
            };
            self.votes
                .entry(r.target.clone())
                .or_default()
                .insert(p.clone(), vote);
            accepted += 1;
        }
        let info = self.probers.entry(p.clone()).or_insert(ProberInfo {
            region: batch.region.clone(),
            last_report: now,
            last_report_wall: wall,
            reports: 0,
        });
        info.region = batch.region.clone();
        info.last_report = now;
        info.last_report_wall = wall;
        info.reports += accepted as u64;
        Ok((accepted, batch.reports.len() - accepted))
    }

    /// Judges every target at `now`; true when any state or TTL cap changed.
    pub fn judge_all(&mut self, now: Instant) -> bool {
        let mut changed = false;
        let empty = BTreeMap::new();
        for (id, (spec, _)) in &self.targets {
            let votes = self.votes.get(id).unwrap_or(&empty);
            let last = self
                .judged
                .get(id)
                .map(|j| j.up)
                .or_else(|| self.saved.states.get(id).copied());
            let interval = Duration::from_millis(spec.interval_ms);
            let j = judge(votes, last, self.quorum, now, interval);
            let before = self.judged.insert(id.clone(), j);
            if before.map(|b| (b.up, b.unsettled)) != Some((j.up, j.unsettled)) {
                changed = true;
            }
            if last != Some(j.up) && (j.fresh > 0 || last.is_some()) {
                self.saved.states.insert(id.clone(), j.up);
            }
        }
        changed
    }

    /// The judged state of a target (`None` before any vote and any saved state).
    pub fn judgement(&self, id: &str) -> Option<&Judgement> {
        self.judged.get(id)
    }

    pub fn votes(&self, id: &str) -> Option<&BTreeMap<String, Vote>> {
        self.votes.get(id)
    }

    pub fn drains(&self) -> &BTreeSet<String> {
        &self.saved.drains
    }

    /// Drains (or undrains) a region; true when it changed.
    pub fn set_drain(&mut self, region: &str, drained: bool) -> bool {
        if drained {
            self.saved.drains.insert(region.to_string())
        } else {
            self.saved.drains.remove(region)
        }
    }

    /// The table the DNS path reads for `services`.
    pub fn table(&self, services: &[Service], regions: &[Region]) -> HealthTable {
        let mut per_endpoint: BTreeMap<(usize, usize), (&str, &TargetSpec)> = BTreeMap::new();
        for (id, (spec, uses)) in &self.targets {
            for &u in uses {
                per_endpoint.insert(u, (id.as_str(), spec));
            }
        }
        let services = services
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let mut ttl_cap: Option<u32> = None;
                let endpoints = s
                    .endpoints
                    .iter()
                    .enumerate()
                    .map(|(ei, e)| {
                        if self.saved.drains.contains(&regions[e.region].name) {
                            return EndpointState::Drained;
                        }
                        let Some((id, spec)) = per_endpoint.get(&(si, ei)) else {
                            return EndpointState::Up; // no check: counts as up
                        };
                        let up = match self.judged.get(*id) {
                            Some(j) => {
                                if j.unsettled {
                                    let cap =
                                        ((spec.interval_ms / 1000) as u32).max(MIN_CHANGING_TTL);
                                    ttl_cap = Some(ttl_cap.map_or(cap, |c| c.min(cap)));
                                }
                                j.up
                            }
                            None => self.saved.states.get(*id).copied().unwrap_or(true),
                        };
                        if up {
                            EndpointState::Up
                        } else {
                            EndpointState::Down
                        }
                    })
                    .collect();
                ServiceHealth { endpoints, ttl_cap }
            })
            .collect();
        HealthTable::from_services(services)
    }

    /// Writes the judged states and drains (atomically: temp file, then rename).
    pub fn save(&self) -> Result<(), SaveError> {
        let write = || {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = self.path.with_extension("json.tmp");
            let text = serde_json::to_vec_pretty(&self.saved).map_err(std::io::Error::other)?;
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|source| SaveError {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::health::fleet::Report;
    use hickory_proto::rr::Name;

    const CONFIG: &str = "[server]\nregion = \"eu-west\"\n[regions.eu-west]\nlat = 53.35\nlon = -6.26\n[regions.us-east]\nlat = 39.04\nlon = -77.49\n";
    const SERVICES: &str = r#"
[services.www]
check = { kind = "tcp", port = 80, interval = "5s" }
endpoints = [
  { region = "eu-west", address = "192.0.2.1" },
  { region = "us-east", address = "192.0.2.2" },
]
[services.api]
check = { kind = "tcp", port = 80, interval = "5s" }
endpoints = [{ region = "us-east", address = "192.0.2.2" }]
[services.plain]
endpoints = [{ region = "us-east", address = "192.0.2.3" }]
"#;

    fn setup(dir: &Path) -> (HealthStore, config::Config, Vec<config::Service>) {
        let config = config::parse(CONFIG, Path::new("meridian.toml")).unwrap();
        let origin = Name::from_ascii("example.com.").unwrap();
        let services =
            config::parse_services(SERVICES, Path::new("example.com.toml"), &origin, &config)
                .unwrap();
        let (mut store, warning) = HealthStore::open(dir);
        assert!(warning.is_none());
        store.configure(&services, &config.regions, config.fleet.quorum);
        (store, config, services)
    }

    fn batch(prober: &str, reports: &[(&str, bool)]) -> ReportBatch {
        ReportBatch {
            prober: prober.into(),
            region: "eu-west".into(),
            reports: reports
                .iter()
                .map(|(t, up)| Report {
                    target: t.to_string(),
                    up: *up,
                    changing: false,
                    rtt_ms: Some(3),
                    reason: String::new(),
                })
                .collect(),
        }
    }

    fn states(
        store: &HealthStore,
        config: &config::Config,
        services: &[config::Service],
    ) -> Vec<Vec<EndpointState>> {
        let t = store.table(services, &config.regions);
        (0..services.len())
            .map(|i| t.service(i).endpoints.to_vec())
            .collect()
    }

    #[test]
    fn shared_targets_quorum_drains_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, config, services) = setup(dir.path());
        let ids: Vec<String> = store.targets().map(|t| t.id.clone()).collect();
        // 192.0.2.2:80 is named by two services: one target.
        assert_eq!(
            ids,
            [
                "tcp://192.0.2.1:80#timeout=2000ms",
                "tcp://192.0.2.2:80#timeout=2000ms"
            ]
        );
        use EndpointState::*;
        assert_eq!(
            states(&store, &config, &services),
            [vec![Up, Up], vec![Up], vec![Up]],
            "healthy before any check"
        );

        let b = &ids[1];
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH;
        let secs = Duration::from_secs;
        store.apply(&batch("p1", &[(b, false)]), now, wall).unwrap();
        store.judge_all(now);
        // One of one fresh vote says down: majority of 1.
        assert_eq!(
            states(&store, &config, &services),
            [vec![Up, Down], vec![Down], vec![Up]]
        );
        store.apply(&batch("p2", &[(b, true)]), now, wall).unwrap();
        store.apply(&batch("p3", &[(b, true)]), now, wall).unwrap();
        store.judge_all(now);
        assert_eq!(states(&store, &config, &services)[1], vec![Up]);
        // p2 and p3 go quiet: their votes go stale, p1's fresh "down" decides.
        store
            .apply(&batch("p1", &[(b, false)]), now + secs(20), wall)
            .unwrap();
        store.judge_all(now + secs(20));
        assert_eq!(states(&store, &config, &services)[1], vec![Down]);

        assert!(store.set_drain("eu-west", true));
        assert_eq!(states(&store, &config, &services)[0], vec![Drained, Down]);
        store.save().unwrap();

        // A restart keeps the drain and the last state, before any new vote.
        let (mut again, config, services) = setup(dir.path());
        again.judge_all(now + secs(60));
        assert_eq!(
            states(&again, &config, &services),
            [vec![Drained, Down], vec![Down], vec![Up]]
        );
    }

    #[test]
    fn bad_batches_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _, _) = setup(dir.path());
        let (now, wall) = (Instant::now(), SystemTime::UNIX_EPOCH);
        let id = store.targets().next().unwrap().id.clone();
        let mut bad_viewpoint = batch("p1", &[(&id, false)]);
        bad_viewpoint.region = "mars base!".into();
        assert!(matches!(
            store.apply(&bad_viewpoint, now, wall),
            Err(BatchError::BadViewpoint(..))
        ));
        assert_eq!(
            store.apply(&batch("bad name!", &[(&id, false)]), now, wall),
            Err(BatchError::BadProber)
        );
        let dup = batch("p1", &[(&id, false), (&id, true)]);
        assert!(matches!(
            store.apply(&dup, now, wall),
            Err(BatchError::Duplicate(1, _))
        ));
        assert!(store.votes(&id).is_none());
        // Unknown targets are ignored, the rest applied.
        assert_eq!(
            store.apply(&batch("p1", &[(&id, true), ("tcp://x", true)]), now, wall),
            Ok((1, 1))
        );
    }
}

//! The server's health record: every prober's latest vote per target, the judged states,
//! and the operator's drains; turned into a [`HealthTable`] for the next snapshot.
//!
//! Owned by one task (the control task, `crate::control`): no lock. Time comes in as
//! arguments (`now` on the monotonic clock), never read here. Judged states and drains
//! are saved to `state_dir/health.json` durably (a temp file written and fsynced, renamed
//! over it, the directory fsynced) so a restart keeps them; a failed save is returned to
//! the caller, who decides whom to tell.
//!
//! A `health.json` that cannot be read or parsed (corrupt, truncated, empty) is never
//! dropped: it is renamed to `health.json.corrupt-<UTC time>` and the store starts empty.
//! The server never writes or removes that copy; the problem shows in `/v1/status` and
//! `/metrics` until the operator moves or deletes it. If it cannot be renamed, it stays
//! where it is and every save is refused (nothing overwrites it) until it is gone.
//! Probers not heard from for [`HealthStore::forget_after`] are forgotten with their votes.

use super::fleet::{HealthTargets, MAX_REPORTS_PER_BATCH, ReportBatch, TargetSpec, targets_of};
use super::quorum::{Judgement, Vote, judge};
use super::{HealthTable, ServiceHealth};
use crate::config::{Policy, Position, Quorum, Region, Service};
use crate::route::{EndpointState, RegionRtt, ViewpointRanking, order_by_rtt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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

/// What was wrong with `health.json` at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFileProblem {
    /// What was wrong, naming the file.
    pub error: String,
    /// Where the bad file was kept aside; `None` when it could not be moved and still
    /// sits at `health.json` (then every save is refused while it is there).
    pub kept: Option<PathBuf>,
}

/// Probers are forgotten after this long without a batch, or ten check intervals of the
/// slowest target, whichever is longer.
pub const FORGET_PROBERS_AFTER: Duration = Duration::from_secs(3600);

/// A prober the server has heard from.
#[derive(Debug, Clone, PartialEq)]
pub struct ProberInfo {
    pub region: String,
    /// The coordinates its last batch gave for its viewpoint, if any.
    pub coordinates: Option<(f64, f64)>,
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
    #[error("lat and lon: want both or neither, lat in -90..=90 and lon in -180..=180")]
    BadCoordinates,
    #[error("report {0}: srtt_ms and load must be numbers of at least 0")]
    BadMeasurement(usize),
    #[error("report {0}: reason longer than 1024 bytes")]
    LongReason(usize),
    #[error("report {0}: target {1:?} appears twice")]
    Duplicate(usize, String),
    #[error("{MAX_PROBERS} probers already report here; a new name is taken once one is forgotten")]
    TooManyProbers,
}

/// Most probers the store keeps at once (names come from requests).
pub const MAX_PROBERS: usize = 4096;

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
    /// Shared with the snapshot that named them (worked out while its zones were built).
    targets: Arc<HealthTargets>,
    votes: BTreeMap<String, BTreeMap<String, Vote>>,
    judged: BTreeMap<String, Judgement>,
    saved: Saved,
    pub probers: BTreeMap<String, ProberInfo>,
    pub latency: LatencyHistogram,
    /// Set when `health.json` was bad at start.
    problem: Option<StateFileProblem>,
    /// What the fresh votes measured, per target, as of the last [`HealthStore::judge_all`].
    measured: BTreeMap<String, Measured>,
    /// `measured` changed since [`HealthStore::take_measured_changed`] was last called.
    measured_changed: bool,
    /// Targets of `policy = "latency"` services: only their RTTs are kept in `measured`,
    /// so a fleet that routes by nothing measured builds no table per report.
    latency_targets: BTreeSet<String>,
}

/// What the fresh votes on one target measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// Viewpoint → the mean smoothed RTT (ms) of its probers that sent one.
    pub rtt_ms: BTreeMap<String, f64>,
    /// The mean smoothed load of the probers that saw one.
    pub load: Option<f64>,
}

/// Viewpoints closer than this many degrees (in latitude and longitude) are one place:
/// their RTTs are averaged and clients go to them together.
const SAME_PLACE_DEGREES: f64 = 0.01;

impl HealthStore {
    /// Opens the store, loading what the last run saved: a missing file is a fresh start;
    /// a bad one is kept aside (see the module comment) and reported in the warning, and
    /// the store starts empty so the server still starts. `wall` names the kept copy.
    pub fn open(state_dir: &Path) -> (HealthStore, Option<String>) {
        HealthStore::open_at(state_dir, SystemTime::now())
    }

    /// An empty store (no targets, votes or probers yet) over `saved`, saving to `path`.
    fn with_saved(path: PathBuf, saved: Saved, problem: Option<StateFileProblem>) -> HealthStore {
        HealthStore {
            path,
            quorum: Quorum::Majority,
            targets: Arc::default(),
            votes: BTreeMap::new(),
            judged: BTreeMap::new(),
            saved,
            probers: BTreeMap::new(),
            latency: LatencyHistogram::default(),
            problem,
            measured: BTreeMap::new(),
            measured_changed: false,
            latency_targets: BTreeSet::new(),
        }
    }

    /// The state saved in `state_dir`, for a reader beside a running server (`explain`):
    /// nothing is written, moved or kept aside; a bad file is only an `Err` naming it.
    pub fn read_only(state_dir: &Path) -> Result<HealthStore, String> {
        let path = state_dir.join("health.json");
        let saved = read_saved(&path)?.unwrap_or_default();
        Ok(HealthStore::with_saved(path, saved, None))
    }

    /// [`HealthStore::open`] at wall-clock time `wall`.
    pub fn open_at(state_dir: &Path, wall: SystemTime) -> (HealthStore, Option<String>) {
        let path = state_dir.join("health.json");
        let bad = read_saved(&path);
        let (saved, problem) = match bad {
            Ok(saved) => (saved.unwrap_or_default(), None),
            Err(error) => (Saved::default(), Some(set_aside(&path, error, wall))),
        };
        let warning = problem.as_ref().map(|p| match &p.kept {
            Some(kept) => format!(
                "{}; kept as {} (never overwritten; remove it once looked at); \
                 starting with no saved drains or health",
                p.error,
                kept.display()
            ),
            None => format!(
                "{}; it could not be moved aside, so it stays and nothing is saved over it \
                 until it is removed; starting with no saved drains or health",
                p.error
            ),
        });
        let store = HealthStore::with_saved(path, saved, problem);
        (store, warning)
    }

    /// What was wrong with `health.json` at start, while the operator has not acted on
    /// it (the kept copy, or the bad file left in place, still exists).
    pub fn state_file_problem(&self) -> Option<&StateFileProblem> {
        let p = self.problem.as_ref()?;
        let still_there = match &p.kept {
            Some(kept) => kept.exists(),
            None => self.path.exists(),
        };
        still_there.then_some(p)
    }

    /// Takes the services and settings of a new snapshot; votes for targets that remain
    /// are kept.
    pub fn configure(&mut self, services: &[Service], _regions: &[Region], quorum: Quorum) {
        self.configure_targets(services, Arc::new(targets_of(services)), quorum);
    }

    /// [`HealthStore::configure`] with the services' targets already worked out
    /// (`Snapshot::targets`, which is `targets_of(services)`).
    pub fn configure_targets(
        &mut self,
        services: &[Service],
        targets: Arc<HealthTargets>,
        quorum: Quorum,
    ) {
        self.quorum = quorum;
        self.targets = targets;
        self.latency_targets = self
            .targets
            .iter()
            .filter(|(_, (_, uses))| {
                uses.iter()
                    .any(|&(si, _)| matches!(services[si].policy, Policy::Latency { .. }))
            })
            .map(|(id, _)| id.clone())
            .collect();
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
        if !self.probers.contains_key(p) && self.probers.len() >= MAX_PROBERS {
            return Err(BatchError::TooManyProbers);
        }
        if batch.reports.len() > MAX_REPORTS_PER_BATCH {
            return Err(BatchError::TooMany(batch.reports.len()));
        }
        let coordinates = match (batch.lat, batch.lon) {
            (None, None) => None,
            (Some(lat), Some(lon)) if lat.abs() <= 90.0 && lon.abs() <= 180.0 => Some((lat, lon)),
            _ => return Err(BatchError::BadCoordinates),
        };
        let mut seen = BTreeSet::new();
        for (i, r) in batch.reports.iter().enumerate() {
            let bad = |v: Option<f64>| v.is_some_and(|v| !(v.is_finite() && v >= 0.0));
            if bad(r.srtt_ms) || bad(r.load) {
                return Err(BatchError::BadMeasurement(i));
            }
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
                viewpoint: batch.region.clone(),
                at: now,
                changing: r.changing,
                rtt_ms: r.rtt_ms,
                srtt_ms: r.srtt_ms,
                load: r.load,
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
            coordinates,
            last_report: now,
            last_report_wall: wall,
            reports: 0,
        });
        info.region = batch.region.clone();
        info.coordinates = coordinates;
        info.last_report = now;
        info.last_report_wall = wall;
        info.reports += accepted as u64;
        Ok((accepted, batch.reports.len() - accepted))
    }

    /// Judges every target at `now`; true when any state or TTL cap changed.
    pub fn judge_all(&mut self, now: Instant) -> bool {
        let mut changed = false;
        let empty = BTreeMap::new();
        // `judged` and `targets` are both sorted by id: walked side by side, the judged
        // map is rebuilt from sorted entries, with no search per target.
        let mut before_all = std::mem::take(&mut self.judged).into_iter().peekable();
        let mut judged = Vec::with_capacity(self.targets.len());
        for (id, (spec, _)) in self.targets.iter() {
            while let Some(other) = before_all.next_if(|(k, _)| k < id) {
                judged.push(other);
            }
            let before = before_all.next_if(|(k, _)| k == id).map(|(_, j)| j);
            let votes = self.votes.get(id).unwrap_or(&empty);
            let last = before
                .map(|j| j.up)
                .or_else(|| self.saved.states.get(id).copied());
            let interval = Duration::from_millis(spec.interval_ms);
            let j = judge(votes, last, self.quorum, now, interval);
            if before.map(|b| (b.up, b.unsettled)) != Some((j.up, j.unsettled)) {
                changed = true;
            }
            if last != Some(j.up) && (j.fresh > 0 || last.is_some()) {
                self.saved.states.insert(id.clone(), j.up);
            }
            judged.push((id.clone(), j));
        }
        judged.extend(before_all);
        self.judged = judged.into_iter().collect();
        let measured = self.measure(now);
        if measured != self.measured {
            self.measured = measured;
            self.measured_changed = true;
        }
        changed
    }

    /// Whether what the probers measured (RTTs, loads) changed since the last call: the
    /// caller then builds a table and publishes it if it differs enough (no state to
    /// save: measurements are not kept across restarts).
    pub fn take_measured_changed(&mut self) -> bool {
        std::mem::take(&mut self.measured_changed)
    }

    /// What the fresh votes on each target measured at `now`.
    fn measure(&self, now: Instant) -> BTreeMap<String, Measured> {
        let mut out = BTreeMap::new();
        for (id, (spec, _)) in self.targets.iter() {
            let Some(votes) = self.votes.get(id) else {
                continue;
            };
            let interval = Duration::from_millis(spec.interval_ms);
            let by_rtt = self.latency_targets.contains(id);
            let mut rtt: BTreeMap<&str, (f64, u32)> = BTreeMap::new();
            let (mut load_sum, mut loads) = (0.0, 0u32);
            for v in votes.values().filter(|v| v.is_fresh(now, interval)) {
                if let Some(ms) = v.srtt_ms.filter(|_| by_rtt) {
                    let e = rtt.entry(v.viewpoint.as_str()).or_default();
                    e.0 += ms;
                    e.1 += 1;
                }
                if let Some(l) = v.load {
                    load_sum += l;
                    loads += 1;
                }
            }
            if rtt.is_empty() && loads == 0 {
                continue;
            }
            let m = Measured {
                rtt_ms: rtt
                    .into_iter()
                    .map(|(v, (sum, n))| (v.to_owned(), sum / n as f64))
                    .collect(),
                load: (loads > 0).then(|| load_sum / loads as f64),
            };
            out.insert(id.clone(), m);
        }
        out
    }

    /// What the fresh votes on target `id` measured, as of the last judgement.
    pub fn measured(&self, id: &str) -> Option<&Measured> {
        self.measured.get(id)
    }

    /// Where each viewpoint is: the coordinates its probers last sent, else the
    /// `[regions]` entry of its name; viewpoints with neither are left out.
    pub fn viewpoint_places(&self, regions: &[Region]) -> BTreeMap<String, (f64, f64)> {
        let mut out = BTreeMap::new();
        for p in self.probers.values() {
            let place = p.coordinates.or_else(|| {
                regions
                    .iter()
                    .find(|r| r.name == p.region)
                    .map(|r| (r.lat, r.lon))
            });
            if let Some(place) = place {
                out.insert(p.region.clone(), place);
            }
        }
        out
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

    /// The table the DNS path reads for `services`. `previous` is the table published
    /// last for the same services (an empty one after a reload that changed them): each
    /// latency viewpoint's earlier choice is held against flapping from it.
    pub fn table(
        &self,
        services: &[Service],
        regions: &[Region],
        previous: &HealthTable,
    ) -> HealthTable {
        let places = self.viewpoint_places(regions);
        // The target of each (service, endpoint), in one flat list: endpoint `ei` of
        // service `si` at `first[si] + ei` (a map keyed by the pair costs a search per
        // endpoint, which shows at 100,000 services).
        let mut first = Vec::with_capacity(services.len() + 1);
        let mut count = 0;
        for s in services {
            first.push(count);
            count += s.endpoints.len();
        }
        first.push(count);
        // With each target, its judgement: `targets` and `judged` are both sorted by id,
        // so they are walked side by side rather than searched per endpoint.
        let mut slots: Vec<Option<(&str, &TargetSpec, Option<&Judgement>)>> = vec![None; count];
        let mut judged = self.judged.iter().peekable();
        for (id, (spec, uses)) in self.targets.iter() {
            while judged.next_if(|(k, _)| *k < id).is_some() {}
            let judgement = judged.next_if(|(k, _)| *k == id).map(|(_, j)| j);
            for &(si, ei) in uses {
                if let Some(slot) = first
                    .get(si)
                    .map(|f| f + ei)
                    .filter(|&at| at < first.get(si + 1).copied().unwrap_or(0))
                    .and_then(|at| slots.get_mut(at))
                {
                    *slot = Some((id.as_str(), spec, judgement));
                }
            }
        }
        let per_endpoint = |si: usize, ei: usize| slots[first[si] + ei];
        let drained: Vec<bool> = regions
            .iter()
            .map(|r| self.saved.drains.contains(&r.name))
            .collect();
        let services = services
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let mut ttl_cap: Option<u32> = None;
                let endpoints: Vec<EndpointState> = s
                    .endpoints
                    .iter()
                    .enumerate()
                    .map(|(ei, e)| {
                        if drained[e.region] {
                            return EndpointState::Drained;
                        }
                        let Some((id, spec, judgement)) = per_endpoint(si, ei) else {
                            return EndpointState::Up; // no check: counts as up
                        };
                        let up = match judgement {
                            Some(j) => {
                                if j.unsettled {
                                    let cap =
                                        ((spec.interval_ms / 1000) as u32).max(MIN_CHANGING_TTL);
                                    ttl_cap = Some(ttl_cap.map_or(cap, |c| c.min(cap)));
                                }
                                j.up
                            }
                            None => self.saved.states.get(id).copied().unwrap_or(true),
                        };
                        if up {
                            EndpointState::Up
                        } else {
                            EndpointState::Down
                        }
                    })
                    .collect();
                let target = |ei: usize| per_endpoint(si, ei).map(|(id, _, _)| id);
                let capacity_factors = self.capacity_factors(s, &target);
                let viewpoints = match s.policy {
                    Policy::Latency { switch } => {
                        let before = previous.service_health(si).map(|h| &h.viewpoints[..]);
                        let rtt = |ei: usize, viewpoint: &str| {
                            let m = self.measured.get(target(ei)?)?;
                            m.rtt_ms.get(viewpoint).copied()
                        };
                        rank_viewpoints(s, &endpoints, &places, &rtt, before, switch)
                    }
                    _ => Vec::new(),
                };
                ServiceHealth {
                    endpoints,
                    ttl_cap,
                    capacity_factors,
                    viewpoints,
                }
            })
            .collect();
        HealthTable::from_services(services)
    }

    /// Each endpoint's effective capacity ÷ capacity from its measured load (empty when
    /// all are 1, or the service ignores load).
    fn capacity_factors<'s>(
        &'s self,
        s: &Service,
        target: &dyn Fn(usize) -> Option<&'s str>,
    ) -> Vec<f64> {
        let Some(shed) = s.shed_load else {
            return Vec::new();
        };
        let factors: Vec<f64> = (0..s.endpoints.len())
            .map(|ei| {
                target(ei)
                    .and_then(|id| self.measured.get(id))
                    .and_then(|m| m.load)
                    .map_or(1.0, |load| shed.factor(load))
            })
            .collect();
        if factors.iter().all(|f| *f == 1.0) {
            Vec::new()
        } else {
            factors
        }
    }

    /// Writes the judged states and drains durably: a temp file, written and fsynced,
    /// renamed over `health.json`, then the directory fsynced. Refused while a bad
    /// `health.json` that could not be moved aside is still in place.
    pub fn save(&self) -> Result<(), SaveError> {
        let write = || {
            if let Some(p) = &self.problem
                && p.kept.is_none()
                && self.path.exists()
            {
                return Err(std::io::Error::other(format!(
                    "it holds a bad state file kept for the operator ({}); remove it to \
                     allow saving",
                    p.error
                )));
            }
            use std::io::Write;
            let dir = self.path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let tmp = self.path.with_extension("json.tmp");
            let text = serde_json::to_vec_pretty(&self.saved).map_err(std::io::Error::other)?;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &self.path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|source| SaveError {
            path: self.path.clone(),
            source,
        })
    }

    /// How long a prober may stay silent before it is forgotten: [`FORGET_PROBERS_AFTER`]
    /// or ten intervals of the slowest target, whichever is longer.
    pub fn forget_after(&self) -> Duration {
        let slowest = self
            .targets
            .values()
            .map(|(spec, _)| spec.interval_ms)
            .max()
            .unwrap_or(0);
        FORGET_PROBERS_AFTER.max(Duration::from_millis(slowest.saturating_mul(10)))
    }

    /// Forgets the probers not heard from for [`HealthStore::forget_after`] at `now`, and
    /// their votes; returns their names.
    pub fn forget_quiet_probers(&mut self, now: Instant) -> Vec<String> {
        let after = self.forget_after();
        let quiet: Vec<String> = self
            .probers
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_report) >= after)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &quiet {
            self.probers.remove(name);
            for votes in self.votes.values_mut() {
                votes.remove(name);
            }
        }
        self.votes.retain(|_, votes| !votes.is_empty());
        quiet
    }
}

/// `policy = "latency"`: one ranking per place that has viewpoints (`places`: viewpoint →
/// coordinates), in order of name. A region's RTT from a place is the lowest over its up
/// endpoints of capacity > 0 of the mean smoothed RTT the place's viewpoints measured
/// (`rtt(endpoint, viewpoint)`). The region chosen first before (in `previous`, the same
/// place by name) is held by [`order_by_rtt`]. Places that measured nothing are left out.
fn rank_viewpoints(
    s: &Service,
    states: &[EndpointState],
    places: &BTreeMap<String, (f64, f64)>,
    rtt: &dyn Fn(usize, &str) -> Option<f64>,
    previous: Option<&[ViewpointRanking]>,
    switch: crate::config::LatencySwitch,
) -> Vec<ViewpointRanking> {
    // Group viewpoints at the same place (sorted by name, so the grouping is stable).
    let mut groups: Vec<(Vec<&str>, (f64, f64))> = Vec::new();
    for (name, &(lat, lon)) in places {
        let same = |g: &(Vec<&str>, (f64, f64))| {
            (g.1.0 - lat).abs() < SAME_PLACE_DEGREES && (g.1.1 - lon).abs() < SAME_PLACE_DEGREES
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.0.push(name),
            None => groups.push((vec![name], (lat, lon))),
        }
    }
    let mut out = Vec::new();
    for (names, (lat, lon)) in groups {
        let mut measured: Vec<RegionRtt> = Vec::new();
        for (ei, e) in s.endpoints.iter().enumerate() {
            if states[ei] != EndpointState::Up || e.capacity == 0 {
                continue;
            }
            let seen: Vec<f64> = names.iter().filter_map(|v| rtt(ei, v)).collect();
            if seen.is_empty() {
                continue;
            }
            let ms = seen.iter().sum::<f64>() / seen.len() as f64;
            match measured.iter_mut().find(|r| r.region == e.region) {
                Some(r) => r.rtt_ms = r.rtt_ms.min(ms),
                None => measured.push(RegionRtt {
                    region: e.region,
                    rtt_ms: ms,
                }),
            }
        }
        if measured.is_empty() {
            continue;
        }
        let name = names.join("+");
        let held = previous
            .and_then(|p| p.iter().find(|v| v.name == name))
            .and_then(|v| v.regions.first())
            .map(|r| r.region);
        out.push(ViewpointRanking {
            regions: order_by_rtt(&measured, held, switch),
            name,
            lat,
            lon,
            position: Position::of(lat, lon),
        });
    }
    out
}

/// Moves a bad `path` to `path.corrupt-<UTC time>` (a free name), or leaves it if it cannot.
/// The saved state in `path`: `None` when there is no file, `Err` naming the file when it
/// cannot be read or is not a saved state (empty, truncated, corrupt).
fn read_saved(path: &Path) -> Result<Option<Saved>, String> {
    match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
            Ok(saved) => Ok(Some(saved)),
            Err(e) if bytes.iter().all(u8::is_ascii_whitespace) => {
                Err(format!("{}: empty ({e})", path.display()))
            }
            Err(e) => Err(format!("{}: not a saved health state: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
    }
}

fn set_aside(path: &Path, error: String, wall: SystemTime) -> StateFileProblem {
    let stamp: String = humantime::format_rfc3339_seconds(wall)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = format!("{}.corrupt-{stamp}", path.display());
    let kept = (0..100)
        .map(|i| {
            PathBuf::from(if i == 0 {
                base.clone()
            } else {
                format!("{base}-{i}")
            })
        })
        .find(|p| !p.exists());
    let kept = kept.and_then(|kept| match std::fs::rename(path, &kept) {
        Ok(()) => Some(kept),
        Err(e) => {
            tracing::error!(
                "{}: cannot keep it aside as {}: {e}",
                path.display(),
                kept.display()
            );
            None
        }
    });
    StateFileProblem { error, kept }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::health::fleet::Report;
    use hickory_proto::rr::Name;

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
        let config = crate::fixtures::config();
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
            lat: None,
            lon: None,
            reports: reports
                .iter()
                .map(|(t, up)| Report {
                    target: t.to_string(),
                    up: *up,
                    changing: false,
                    rtt_ms: Some(3),
                    srtt_ms: None,
                    load: None,
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
        let t = store.table(services, &config.regions, &HealthTable::default());
        (0..services.len())
            .map(|i| t.service(i).endpoints.to_vec())
            .collect()
    }

    #[test]
    fn with_quorum_regions_a_batch_counts_for_its_viewpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, config, services) = setup(dir.path());
        store.configure(&services, &config.regions, Quorum::Regions);
        let a = store.targets().next().unwrap().id.clone();
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH;
        // Four probers at the eu-west viewpoint say down; one each at two others say up.
        for p in ["eu1", "eu2", "eu3", "eu4"] {
            store.apply(&batch(p, &[(&a, false)]), now, wall).unwrap();
        }
        for (p, view) in [("us1", "us-east"), ("tokyo1", "tokyo-isp2")] {
            let mut b = batch(p, &[(&a, true)]);
            b.region = view.into();
            store.apply(&b, now, wall).unwrap();
        }
        store.judge_all(now);
        use EndpointState::*;
        assert_eq!(states(&store, &config, &services)[0], vec![Up, Up]);
        // By prober majority, the crowd at one viewpoint would have decided.
        store.configure(&services, &config.regions, Quorum::Majority);
        store.judge_all(now);
        assert_eq!(states(&store, &config, &services)[0], vec![Down, Up]);
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

    /// Issue 15: viewpoints rank regions by their probers' smoothed RTTs, hold the choice
    /// they published last against a small gain, and shed capacity by reported load.
    #[test]
    fn latency_viewpoints_hold_their_choice_and_load_shrinks_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::fixtures::config();
        let origin = Name::from_ascii("example.com.").unwrap();
        let text = r#"
[services.www]
policy = "latency"
check = { kind = "tcp", port = 80, interval = "5s" }
endpoints = [
  { region = "eu-west", address = "192.0.2.1" },
  { region = "us-east", address = "192.0.2.2" },
]
"#;
        let services =
            config::parse_services(text, Path::new("example.com.toml"), &origin, &config).unwrap();
        let (mut store, _) = HealthStore::open(dir.path());
        store.configure(&services, &config.regions, Quorum::Majority);
        let ids: Vec<String> = store.targets().map(|t| t.id.clone()).collect();
        let (eu, us) = (&ids[0], &ids[1]);
        let (now, wall) = (Instant::now(), SystemTime::UNIX_EPOCH);
        // One prober at the eu-west viewpoint (placed by its region entry), one at a
        // place of its own; (eu, us) smoothed RTTs and us's load.
        let send = |store: &mut HealthStore,
                    prober: &str,
                    view: &str,
                    at: Option<(f64, f64)>,
                    rtt: (f64, f64),
                    load: Option<f64>| {
            let mut b = batch(prober, &[(eu, true), (us, true)]);
            b.region = view.into();
            (b.lat, b.lon) = at.unzip();
            b.reports[0].srtt_ms = Some(rtt.0);
            b.reports[1].srtt_ms = Some(rtt.1);
            b.reports[1].load = load;
            store.apply(&b, now, wall).unwrap();
            store.judge_all(now);
        };
        let first = |t: &HealthTable, view: &str| -> (String, Vec<f64>) {
            let v = t
                .service(0)
                .viewpoints
                .iter()
                .find(|v| v.name == view)
                .cloned()
                .unwrap();
            let rtts = v.regions.iter().map(|r| r.rtt_ms).collect();
            (config.regions[v.regions[0].region].name.clone(), rtts)
        };
        send(&mut store, "p1", "eu-west", None, (30.0, 80.0), None);
        send(
            &mut store,
            "p2",
            "nyc",
            Some((40.7, -74.0)),
            (80.0, 10.0),
            Some(0.2),
        );
        assert!(store.take_measured_changed());
        let t1 = store.table(&services, &config.regions, &HealthTable::default());
        assert_eq!(first(&t1, "eu-west"), ("eu-west".into(), vec![30.0, 80.0]));
        assert_eq!(first(&t1, "nyc").0, "us-east");
        let v = &t1.service(0).viewpoints[0];
        assert_eq!(
            (v.lat, v.lon),
            (53.35, -6.26),
            "placed at its region's entry"
        );
        assert!(
            t1.service(0).capacity_factors.is_empty(),
            "load 0.2 sheds nothing"
        );

        // us-east gets 5 ms faster than eu-west from eu-west: held. 40 ms faster: moved.
        send(&mut store, "p1", "eu-west", None, (30.0, 25.0), None);
        let t2 = store.table(&services, &config.regions, &t1);
        assert_eq!(first(&t2, "eu-west").0, "eu-west", "held");
        assert!(t1.differs(&t2), "the RTTs shown moved by more than 5 %");
        let fresh = store.table(&services, &config.regions, &HealthTable::default());
        assert_eq!(
            first(&fresh, "eu-west").0,
            "us-east",
            "without a previous choice"
        );
        send(&mut store, "p1", "eu-west", None, (50.0, 10.0), None);
        let t3 = store.table(&services, &config.regions, &t2);
        assert_eq!(first(&t3, "eu-west").0, "us-east", "moved");

        // us-east reports load 0.9 (defaults 0.7 to 0.95): about a fifth of its capacity.
        send(
            &mut store,
            "p2",
            "nyc",
            Some((40.7, -74.0)),
            (80.0, 10.0),
            Some(0.9),
        );
        let t4 = store.table(&services, &config.regions, &t3);
        let f = t4.service(0).capacity_factor(1);
        assert!((f - (1.0 - 0.8 * 0.99)).abs() < 1e-9, "{f}");
        assert_eq!(t4.service(0).capacity_factor(0), 1.0);
        assert!(t3.differs(&t4));
        // Nothing new: the same table, and no new snapshot.
        assert!(
            !store.take_measured_changed()
                || !t4.differs(&store.table(&services, &config.regions, &t4))
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
        // Past MAX_PROBERS names, a new one is refused; known ones still report.
        for i in 0..MAX_PROBERS {
            store
                .apply(&batch(&format!("p{i}"), &[]), now, wall)
                .unwrap();
        }
        assert_eq!(
            store.apply(&batch("one-too-many", &[]), now, wall),
            Err(BatchError::TooManyProbers)
        );
        // Unknown targets are ignored, the rest applied.
        assert_eq!(
            store.apply(&batch("p1", &[(&id, true), ("tcp://x", true)]), now, wall),
            Ok((1, 1))
        );
    }

    #[test]
    fn a_bad_state_file_is_kept_aside_byte_for_byte_and_never_overwritten() {
        // Issue 10, point 10: (what health.json held, what the warning says).
        let rows: [(&[u8], &str); 3] = [
            (b"{\"states\": {\"tcp://x\": tr", "not a saved health state"),
            (b"", "empty"),
            (b"\x00\xff garbage \x01", "not a saved health state"),
        ];
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for (bytes, says) in rows {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("health.json");
            std::fs::write(&path, bytes).unwrap();
            let (store, warning) = HealthStore::open_at(dir.path(), wall);
            let warning = warning.expect("a warning");
            assert!(warning.contains(says), "{warning}");
            let kept = dir.path().join("health.json.corrupt-20270115T080000Z");
            assert!(warning.contains(&kept.display().to_string()), "{warning}");
            assert_eq!(std::fs::read(&kept).unwrap(), bytes, "kept byte for byte");
            assert!(store.drains().is_empty(), "starts empty");
            let problem = store.state_file_problem().expect("shown");
            assert_eq!(problem.kept.as_deref(), Some(kept.as_path()));
            // Saving writes a fresh health.json; the kept copy is untouched.
            store.save().unwrap();
            assert_eq!(std::fs::read(&kept).unwrap(), bytes);
            // A second bad start in the same second keeps both copies.
            std::fs::write(&path, b"again").unwrap();
            let (again, _) = HealthStore::open_at(dir.path(), wall);
            let second = dir.path().join("health.json.corrupt-20270115T080000Z-1");
            assert_eq!(std::fs::read(&second).unwrap(), b"again");
            assert_eq!(std::fs::read(&kept).unwrap(), bytes);
            // The operator acts by removing the kept copy: the warning goes.
            std::fs::remove_file(&second).unwrap();
            assert!(again.state_file_problem().is_none());
        }
    }
}

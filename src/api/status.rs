//! `GET /v1/status`: zones, regions, services and their endpoints with health, what
//! each prober last said about each endpoint (and how long ago), and the viewpoints the
//! probers check from with the probers at each.
//!
//! A viewpoint is any name a prober reports from; it need not be a serving region.

use super::ApiState;
use crate::control::{self, Stopped};
use crate::health::fleet::target_id;
use crate::route::EndpointState;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub region: String,
    pub zones: Vec<ZoneStatus>,
    pub regions: Vec<RegionStatus>,
    pub services: Vec<ServiceStatus>,
    pub viewpoints: Vec<ViewpointStatus>,
    pub probers: Vec<ProberStatus>,
    /// Set when `state_dir/health.json` was bad at start, until the operator removes the
    /// kept copy (or the bad file, when it could not be moved).
    pub state_file: Option<StateFileStatus>,
}

/// A bad state file found at start.
#[derive(Debug, Clone, Serialize)]
pub struct StateFileStatus {
    pub error: String,
    /// Where it was kept aside; `None` when it could not be moved and blocks saving.
    pub kept_as: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZoneStatus {
    pub origin: String,
    pub serial: u32,
    pub records: usize,
    pub file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionStatus {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub drained: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub ttl: u32,
    /// The TTL answers carry now (shorter while a state is changing).
    pub ttl_now: u32,
    pub checked: bool,
    pub endpoints: Vec<EndpointStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    pub address: IpAddr,
    pub region: String,
    pub capacity: u32,
    /// up, down or drained: what the DNS answers use.
    pub state: &'static str,
    pub target: Option<String>,
    pub votes: Vec<VoteStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VoteStatus {
    pub prober: String,
    pub up: bool,
    pub age_ms: u64,
    pub fresh: bool,
    pub rtt_ms: Option<u32>,
    pub reason: String,
}

/// Where probers check from, and who checks from there.
#[derive(Debug, Clone, Serialize)]
pub struct ViewpointStatus {
    pub name: String,
    /// Also one of the configured serving regions.
    pub region: bool,
    /// The probers last heard from this viewpoint, by name.
    pub probers: Vec<String>,
}

/// Every prober the server has heard from: accepted, refused, or both.
#[derive(Debug, Clone, Serialize)]
pub struct ProberStatus {
    pub name: String,
    /// The viewpoint of its latest batch.
    pub viewpoint: String,
    /// Since its last accepted batch; `None` when none was ever accepted.
    pub last_report_age_ms: Option<u64>,
    /// Reports (votes) accepted.
    pub reports: u64,
    /// Batches refused as invalid (those without the token are counted in `/metrics`
    /// only: their prober name is not to be believed).
    pub refused: u64,
}

/// Builds the status from the live snapshot, the health task's record and the refused
/// batches.
pub async fn status(state: &ApiState) -> Result<Status, Stopped> {
    let health = &state.health;
    let refused = state.refusals.probers();
    let snap = health.live().load_full();
    let snap2 = snap.clone();
    health
        .inspect(move |store| {
            let now = control::now();
            let snap = snap2;
            let regions = &snap.config.regions;
            let services = snap
                .services
                .iter()
                .enumerate()
                .map(|(si, s)| {
                    let h = snap.health.service(si);
                    let endpoints = s
                        .endpoints
                        .iter()
                        .zip(h.endpoints)
                        .map(|(e, state)| {
                            let target = s.check.as_ref().map(|c| target_id(e.address, c));
                            let interval = s
                                .check
                                .as_ref()
                                .map_or(0, |c| c.interval.as_millis() as u64);
                            let votes = target
                                .as_deref()
                                .and_then(|t| store.votes(t))
                                .map(|votes| {
                                    votes
                                        .iter()
                                        .map(|(p, v)| VoteStatus {
                                            prober: p.clone(),
                                            up: v.up,
                                            age_ms: v.age(now).as_millis() as u64,
                                            fresh: v.is_fresh(
                                                now,
                                                std::time::Duration::from_millis(interval),
                                            ),
                                            rtt_ms: v.rtt_ms,
                                            reason: v.reason.clone(),
                                        })
                                        .collect()
                                })
                                .unwrap_or_default();
                            EndpointStatus {
                                address: e.address,
                                region: regions[e.region].name.clone(),
                                capacity: e.capacity,
                                state: match state {
                                    EndpointState::Up => "up",
                                    EndpointState::Down => "down",
                                    EndpointState::Drained => "drained",
                                },
                                target,
                                votes,
                            }
                        })
                        .collect();
                    ServiceStatus {
                        name: s.name.to_ascii(),
                        ttl: s.ttl,
                        ttl_now: h.ttl_cap.map_or(s.ttl, |c| c.min(s.ttl)),
                        checked: s.check.is_some(),
                        endpoints,
                    }
                })
                .collect();
            Status {
                region: snap.config.server.region.clone(),
                zones: snap
                    .zones
                    .zones()
                    .iter()
                    .map(|z| ZoneStatus {
                        origin: z.origin.to_ascii(),
                        serial: z.serial,
                        records: z.record_count,
                        file: z.file.display().to_string(),
                    })
                    .collect(),
                regions: regions
                    .iter()
                    .map(|r| RegionStatus {
                        name: r.name.clone(),
                        lat: r.lat,
                        lon: r.lon,
                        drained: store.drains().contains(&r.name),
                    })
                    .collect(),
                services,
                viewpoints: Vec::new(),
                probers: Vec::new(),
                state_file: store.state_file_problem().map(|p| StateFileStatus {
                    error: p.error.clone(),
                    kept_as: p.kept.as_ref().map(|k| k.display().to_string()),
                }),
            }
            .with_probers(store, refused, now)
        })
        .await
}

impl Status {
    /// Fills in `probers` and `viewpoints` from the store's probers and the refused ones.
    fn with_probers(
        mut self,
        store: &crate::health::store::HealthStore,
        refused: BTreeMap<String, super::metrics::RefusedProber>,
        now: std::time::Instant,
    ) -> Status {
        let mut probers: BTreeMap<String, ProberStatus> = store
            .probers
            .iter()
            .map(|(name, p)| {
                let status = ProberStatus {
                    name: name.clone(),
                    viewpoint: p.region.clone(),
                    last_report_age_ms: Some(
                        now.saturating_duration_since(p.last_report).as_millis() as u64,
                    ),
                    reports: p.reports,
                    refused: 0,
                };
                (name.clone(), status)
            })
            .collect();
        let forget_after = store.forget_after();
        let refused = refused
            .into_iter()
            .filter(|(_, r)| now.saturating_duration_since(r.last) < forget_after);
        for (name, r) in refused {
            let p = probers.entry(name.clone()).or_insert_with(|| ProberStatus {
                name,
                viewpoint: r.viewpoint,
                last_report_age_ms: None,
                reports: 0,
                refused: 0,
            });
            p.refused = r.refused;
        }
        let mut viewpoints: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for p in probers.values().filter(|p| !p.viewpoint.is_empty()) {
            viewpoints
                .entry(p.viewpoint.as_str())
                .or_default()
                .push(p.name.clone());
        }
        self.viewpoints = viewpoints
            .into_iter()
            .map(|(name, probers)| ViewpointStatus {
                name: name.to_string(),
                region: self.regions.iter().any(|r| r.name == name),
                probers,
            })
            .collect();
        self.probers = probers.into_values().collect();
        self
    }
}

//! `GET /v1/status`: zones, regions, services and their endpoints with health, what
//! each prober last said about each endpoint (and how long ago), and the viewpoints the
//! probers check from with the probers at each.
//!
//! A viewpoint is any name a prober reports from; it need not be a serving region.
//!
//! For the console it also sums things up: each region's health over its endpoints and
//! the load-balanced answers that chose it (the DNS workers' counters, as in `/metrics`),
//! each name's pools (its endpoints by region, with healthy capacity) and whether it is
//! failing open, and the recent health events (`control::events`).

use super::ApiState;
use crate::config::OnAllDown;
use crate::control::events::{Event, describe_all_down, state_name};
use crate::control::{self, Stopped};
use crate::health::fleet::target_id;
use crate::route::{self, EndpointState, Family};
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
    /// The recent health events, newest first (at most `control::events::KEEP`).
    pub events: Vec<EventStatus>,
    /// Every `[secondary.ZONE]`: its copy and when it was last refreshed.
    pub secondaries: Vec<SecondaryStatus>,
}

/// A secondary zone ([`crate::secondary`]), from its saved timers in `state_dir`.
#[derive(Debug, Clone, Serialize)]
pub struct SecondaryStatus {
    pub zone: String,
    pub primaries: Vec<String>,
    /// `serving`, `pending` (no copy yet) or `expired` (or a copy that does not load).
    pub state: &'static str,
    /// The copy's serial; `None` without one.
    pub serial: Option<u32>,
    /// Seconds since the epoch of the last successful refresh, and of the expiry.
    pub refreshed: Option<u64>,
    pub expires: Option<u64>,
}

/// What `state_dir` says of each secondary zone of `snap`.
fn secondaries(snap: &crate::snapshot::Snapshot) -> Vec<SecondaryStatus> {
    snap.config
        .secondary
        .iter()
        .map(|s| {
            let saved = crate::secondary::store::saved(&snap.config.server.state_dir, &s.zone);
            let served = snap.zones.zones().iter().any(|z| z.origin == s.zone);
            SecondaryStatus {
                zone: s.zone.to_ascii(),
                primaries: s.primaries.iter().map(ToString::to_string).collect(),
                state: match (served, saved) {
                    (true, _) => "serving",
                    (false, None) => "pending",
                    (false, Some(_)) => "expired",
                },
                serial: saved.map(|t| t.serial),
                refreshed: saved.map(|t| t.refreshed),
                expires: saved.map(|t| t.expires),
            }
        })
        .collect()
}

/// One entry of the event log, with its age.
#[derive(Debug, Clone, Serialize)]
pub struct EventStatus {
    #[serde(flatten)]
    pub event: Event,
    pub age_ms: u64,
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
    /// Over the region's endpoints of every name: `drained`, `up` (all up), `down` (none
    /// up), `degraded` (some up), or `none` (no endpoint).
    pub health: &'static str,
    /// Endpoints in the region, of every name, and how many of them are up.
    pub endpoints: usize,
    pub endpoints_up: usize,
    /// Load-balanced answers that chose this region since the server started.
    pub answers: u64,
}

/// One name's endpoints in one region.
#[derive(Debug, Clone, Serialize)]
pub struct PoolStatus {
    pub region: String,
    pub endpoints: usize,
    pub endpoints_up: usize,
    /// Capacity of the endpoints that are up, and of all of them.
    pub healthy_capacity: u64,
    /// `healthy_capacity` less what reported load sheds (`shed_load`): what spill-over
    /// uses.
    pub effective_capacity: f64,
    pub total_capacity: u64,
    /// This name's answers that chose this region since the server started.
    pub answers: u64,
}

/// Clients that a name has nothing healthy for.
#[derive(Debug, Clone, Serialize)]
pub struct AllDownStatus {
    /// `A` or `AAAA`.
    pub family: &'static str,
    /// `null`: every client asking for that type; else the line of the route whose
    /// clients are affected.
    pub route_line: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub ttl: u32,
    /// The TTL answers carry now (shorter while a state is changing).
    pub ttl_now: u32,
    pub checked: bool,
    pub endpoints: Vec<EndpointStatus>,
    /// The endpoints by region, in the order regions are defined.
    pub pools: Vec<PoolStatus>,
    /// `all` (fail open), `nodata` or `fallback` (the fallback addresses answer).
    pub on_all_down: &'static str,
    /// Who has nothing healthy to be answered with; empty when all is well.
    pub all_down: Vec<AllDownStatus>,
    /// `all_down` is not empty and `on_all_down` is `all`: some clients are answered with
    /// endpoints that are not healthy.
    pub failing_open: bool,
    /// `all_down` in words, empty when all is well.
    pub all_down_text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    pub address: IpAddr,
    pub region: String,
    pub capacity: u32,
    /// `capacity` × its load factor (`shed_load`): what the answers use while it is up.
    pub effective_capacity: f64,
    /// The load its probers last saw it report (mean of the fresh votes), if any.
    pub load: Option<f64>,
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
    /// The prober's last raw result differs from `up`: it is counting toward `rise` or
    /// `fall` (and re-checking quickly, when toward `fall`).
    pub changing: bool,
    pub rtt_ms: Option<u32>,
    /// The prober's smoothed RTT (ms), what `policy = "latency"` ranks by.
    pub srtt_ms: Option<f64>,
    /// The load the endpoint reported to this prober (smoothed).
    pub load: Option<f64>,
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
    let answers = state.stats.sum().by_choice;
    let events = health.events.clone();
    let snap = health.live().load_full();
    let secondaries = secondaries(&snap);
    let snap2 = snap.clone();
    health
        .inspect(move |store| {
            let now = control::now();
            let snap = snap2;
            let regions = &snap.config.regions;
            let services: Vec<ServiceStatus> = snap
                .services
                .iter()
                .enumerate()
                .map(|(si, s)| {
                    let h = snap.health.service(si);
                    let name = s.name.to_ascii();
                    let answers = answers.get(&name);
                    let mut pools: Vec<PoolStatus> = Vec::new();
                    for (ei, (e, state)) in s.endpoints.iter().zip(h.endpoints).enumerate() {
                        let region = &regions[e.region].name;
                        let i = match pools.iter().position(|p| p.region == *region) {
                            Some(i) => i,
                            None => {
                                pools.push(PoolStatus {
                                    region: region.clone(),
                                    endpoints: 0,
                                    endpoints_up: 0,
                                    healthy_capacity: 0,
                                    effective_capacity: 0.0,
                                    total_capacity: 0,
                                    answers: answers
                                        .and_then(|a| a.get(region))
                                        .copied()
                                        .unwrap_or(0),
                                });
                                pools.len() - 1
                            }
                        };
                        let p = &mut pools[i];
                        p.endpoints += 1;
                        p.total_capacity += e.capacity as u64;
                        if *state == EndpointState::Up {
                            p.endpoints_up += 1;
                            p.healthy_capacity += e.capacity as u64;
                            p.effective_capacity += e.capacity as f64 * h.capacity_factor(ei);
                        }
                    }
                    pools.sort_by_key(|p| regions.iter().position(|r| r.name == p.region));
                    let down = route::all_down(s, &h);
                    let all_down = down
                        .iter()
                        .map(|(family, r)| AllDownStatus {
                            family: match family {
                                Family::V4 => "A",
                                Family::V6 => "AAAA",
                            },
                            route_line: r.map(|i| s.routes[i].line),
                        })
                        .collect::<Vec<_>>();
                    for p in pools.iter_mut() {
                        p.effective_capacity = (p.effective_capacity * 100.0).round() / 100.0;
                    }
                    let endpoints = s
                        .endpoints
                        .iter()
                        .zip(h.endpoints)
                        .enumerate()
                        .map(|(ei, (e, state))| {
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
                                            changing: v.changing,
                                            rtt_ms: v.rtt_ms,
                                            srtt_ms: v.srtt_ms,
                                            load: v.load,
                                            reason: v.reason.clone(),
                                        })
                                        .collect()
                                })
                                .unwrap_or_default();
                            EndpointStatus {
                                address: e.address,
                                region: regions[e.region].name.clone(),
                                capacity: e.capacity,
                                effective_capacity: (e.capacity as f64
                                    * h.capacity_factor(ei)
                                    * 100.0)
                                    .round()
                                    / 100.0,
                                load: target
                                    .as_deref()
                                    .and_then(|t| store.measured(t))
                                    .and_then(|m| m.load),
                                state: state_name(*state),
                                target,
                                votes,
                            }
                        })
                        .collect();
                    ServiceStatus {
                        name,
                        ttl: s.ttl,
                        ttl_now: h.ttl_cap.map_or(s.ttl, |c| c.min(s.ttl)),
                        checked: s.check.is_some(),
                        endpoints,
                        pools,
                        on_all_down: s.on_all_down.word(),
                        failing_open: !all_down.is_empty()
                            && s.on_all_down == OnAllDown::AllEndpoints,
                        all_down_text: describe_all_down(s, &down),
                        all_down,
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
                    .map(|r| {
                        let drained = store.drains().contains(&r.name);
                        let pools = services
                            .iter()
                            .flat_map(|s: &ServiceStatus| &s.pools)
                            .filter(|p| p.region == r.name);
                        let (mut endpoints, mut endpoints_up, mut answers) = (0, 0, 0);
                        for p in pools {
                            endpoints += p.endpoints;
                            endpoints_up += p.endpoints_up;
                            answers += p.answers;
                        }
                        RegionStatus {
                            name: r.name.clone(),
                            lat: r.lat,
                            lon: r.lon,
                            drained,
                            health: match (drained, endpoints, endpoints_up) {
                                (true, _, _) => "drained",
                                (false, 0, _) => "none",
                                (false, n, up) if up == n => "up",
                                (false, _, 0) => "down",
                                _ => "degraded",
                            },
                            endpoints,
                            endpoints_up,
                            answers,
                        }
                    })
                    .collect(),
                events: {
                    let log = events.lock().unwrap_or_else(|e| e.into_inner());
                    log.iter()
                        .rev()
                        .map(|e| EventStatus {
                            event: e.clone(),
                            age_ms: now.saturating_duration_since(e.at).as_millis() as u64,
                        })
                        .collect()
                },
                services,
                viewpoints: Vec::new(),
                probers: Vec::new(),
                state_file: store.state_file_problem().map(|p| StateFileStatus {
                    error: p.error.clone(),
                    kept_as: p.kept.as_ref().map(|k| k.display().to_string()),
                }),
                secondaries,
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

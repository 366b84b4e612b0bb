//! `GET /v1/status`: zones, regions, services and their endpoints with health, and what
//! each prober last said about each endpoint (and how long ago).

use crate::control::{self, ControlHandle as HealthHandle, Stopped};
use crate::health::fleet::target_id;
use crate::route::EndpointState;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub region: String,
    pub zones: Vec<ZoneStatus>,
    pub regions: Vec<RegionStatus>,
    pub services: Vec<ServiceStatus>,
    pub probers: Vec<ProberStatus>,
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

#[derive(Debug, Clone, Serialize)]
pub struct ProberStatus {
    pub name: String,
    pub region: String,
    pub last_report_age_ms: u64,
    pub reports: u64,
}

/// Builds the status from the live snapshot and the health task's record.
pub async fn status(health: &HealthHandle) -> Result<Status, Stopped> {
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
                probers: store
                    .probers
                    .iter()
                    .map(|(name, p)| ProberStatus {
                        name: name.clone(),
                        region: p.region.clone(),
                        last_report_age_ms: now.saturating_duration_since(p.last_report).as_millis()
                            as u64,
                        reports: p.reports,
                    })
                    .collect(),
            }
        })
        .await
}

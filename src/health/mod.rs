//! Health: checks, the prober fleet, quorum, and the table the DNS path reads.
//!
//! `check.rs` runs one probe → `Observation`; `prober.rs` schedules probes and sends
//! reports; `fleet.rs` is the wire format between probers and servers; `quorum.rs` turns
//! votes into states (pure); `store.rs` keeps votes, states and drains and builds the
//! [`HealthTable`]. This module judges; it does not know snapshots: `crate::control` owns
//! the store and swaps the table into the live snapshot, where `route::decide` reads a
//! [`Health`] view of it.

pub mod check;
pub mod fleet;
pub mod prober;
pub mod quorum;
pub mod store;

use crate::config::Service;
use crate::route::{EndpointState, Health, ViewpointRanking};

/// Health of every service's endpoints, indexed like the snapshot's services.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthTable {
    services: Vec<ServiceHealth>,
}

/// One service's endpoint states (same order as `service.endpoints`) and TTL cap.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceHealth {
    pub endpoints: Vec<EndpointState>,
    pub ttl_cap: Option<u32>,
    /// Effective capacity ÷ capacity per endpoint (reported load, `shed_load`); empty
    /// when no endpoint sheds any.
    pub capacity_factors: Vec<f64>,
    /// `policy = "latency"`: each viewpoint's ranking of the regions.
    pub viewpoints: Vec<ViewpointRanking>,
}

/// A capacity factor that moved less than this is not worth a new snapshot.
const FACTOR_STEP: f64 = 0.01;
/// An RTT shown for a viewpoint that moved less than this many ms, or this fraction of
/// itself, is not worth a new snapshot (the order it gives is compared exactly).
const RTT_STEP_MS: f64 = 1.0;
const RTT_STEP_FRACTION: f64 = 0.05;

impl ServiceHealth {
    /// Whether answers or what `explain` shows would change enough to publish `new`: any
    /// state, TTL cap, viewpoint or region order; a capacity factor by a percent; a
    /// shown RTT by a millisecond and 5 %. Smaller drifts stay unpublished, so steady
    /// measurements do not swap a snapshot per report.
    fn differs(&self, new: &ServiceHealth) -> bool {
        if self.endpoints != new.endpoints || self.ttl_cap != new.ttl_cap {
            return true;
        }
        let factor = |f: &[f64], i: usize| f.get(i).copied().unwrap_or(1.0);
        let n = self.endpoints.len();
        if (0..n).any(|i| {
            (factor(&self.capacity_factors, i) - factor(&new.capacity_factors, i)).abs()
                >= FACTOR_STEP
        }) {
            return true;
        }
        if self.viewpoints.len() != new.viewpoints.len() {
            return true;
        }
        self.viewpoints.iter().zip(&new.viewpoints).any(|(a, b)| {
            a.name != b.name
                || a.position != b.position
                || a.regions.len() != b.regions.len()
                || a.regions.iter().zip(&b.regions).any(|(x, y)| {
                    let d = (x.rtt_ms - y.rtt_ms).abs();
                    x.region != y.region
                        || (d >= RTT_STEP_MS && d >= RTT_STEP_FRACTION * x.rtt_ms.max(y.rtt_ms))
                })
        })
    }
}

impl HealthTable {
    /// Every endpoint up: the state before any check has run.
    pub fn all_up(services: &[Service]) -> HealthTable {
        HealthTable {
            services: services
                .iter()
                .map(|s| ServiceHealth {
                    endpoints: vec![EndpointState::Up; s.endpoints.len()],
                    ..ServiceHealth::default()
                })
                .collect(),
        }
    }

    pub fn from_services(services: Vec<ServiceHealth>) -> HealthTable {
        HealthTable { services }
    }

    /// Sets one endpoint's state (tests build tables this way).
    #[cfg(test)]
    pub fn set(&mut self, service: usize, endpoint: usize, state: EndpointState) {
        self.services[service].endpoints[endpoint] = state;
    }

    /// Sets one endpoint's capacity factor (tests build tables this way).
    #[cfg(test)]
    pub fn set_capacity_factor(&mut self, service: usize, endpoint: usize, factor: f64) {
        let s = &mut self.services[service];
        s.capacity_factors.resize(s.endpoints.len(), 1.0);
        s.capacity_factors[endpoint] = factor;
    }

    /// Sets one service's viewpoint rankings (tests build tables this way).
    #[cfg(test)]
    pub fn set_viewpoints(&mut self, service: usize, viewpoints: Vec<ViewpointRanking>) {
        self.services[service].viewpoints = viewpoints;
    }

    pub fn service(&self, service: usize) -> Health<'_> {
        let s = &self.services[service];
        Health {
            endpoints: &s.endpoints,
            ttl_cap: s.ttl_cap,
            capacity_factors: &s.capacity_factors,
            viewpoints: &s.viewpoints,
        }
    }

    /// One service's health as stored (`None` past the end).
    pub fn service_health(&self, service: usize) -> Option<&ServiceHealth> {
        self.services.get(service)
    }

    /// Whether publishing `new` in place of `self` is worth a new snapshot (see
    /// [`ServiceHealth::differs`]).
    pub fn differs(&self, new: &HealthTable) -> bool {
        self.services.len() != new.services.len()
            || self
                .services
                .iter()
                .zip(&new.services)
                .any(|(a, b)| a.differs(b))
    }
}

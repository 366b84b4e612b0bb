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
use crate::route::{EndpointState, Health};

/// Health of every service's endpoints, indexed like the snapshot's services.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthTable {
    services: Vec<ServiceHealth>,
}

/// One service's endpoint states (same order as `service.endpoints`) and TTL cap.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceHealth {
    pub endpoints: Vec<EndpointState>,
    pub ttl_cap: Option<u32>,
}

impl HealthTable {
    /// Every endpoint up: the state before any check has run.
    pub fn all_up(services: &[Service]) -> HealthTable {
        HealthTable {
            services: services
                .iter()
                .map(|s| ServiceHealth {
                    endpoints: vec![EndpointState::Up; s.endpoints.len()],
                    ttl_cap: None,
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

    pub fn service(&self, service: usize) -> Health<'_> {
        let s = &self.services[service];
        Health {
            endpoints: &s.endpoints,
            ttl_cap: s.ttl_cap,
        }
    }
}

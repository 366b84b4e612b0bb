//! Meridian: an authoritative DNS server and global load balancer (GeoDNS).
//!
//! # Layout
//! - `config`: `meridian.toml` → validated [`config::Config`]; errors name file, line and key.
//! - `answer`: pre-encoded response sections ([`answer::Answer`]), written by `zone`, read by `dns`.
//! - `zone`: RFC 1035 master files → immutable [`zone::Zones`] with precomputed answers.
//! - `dnssec`: zone keys and their files, RRSIG signing and checking, DNSKEY/CDS/DS records.
//! - `geo`: a MaxMind-format database → [`geo::Location`] of an address.
//! - `route`: the decision: `route::decide` picks the addresses of a load-balanced name.
//! - `explain`: `route::decide` with a trace, for one name and client, as text or JSON.
//! - `health`: checks, probers, quorum and the [`health::HealthTable`] the DNS path reads.
//! - `control`: the control task: reports, reloads, drains → the one writer of [`snapshot::Live`].
//! - `dns`: the wire protocol: query parsing, response rendering, UDP and TCP listeners.
//! - `secondary`: zones pulled from a primary (AXFR/IXFR, SOA timers, NOTIFY), kept in `state_dir`.
//! - `snapshot`: [`snapshot::Snapshot`] (everything a query reads) and [`snapshot::Live`], its atomic swap.
//! - `api`: the HTTP API (status, explain, reload, drains, fleet reports, metrics, status page).
//! - `slots`: the hash table of the load's big look-ups (names, answers): tags the caller's keys.
//! - `cli`: the commands (`serve`, `check`, `explain`, `probe`, and the Docker lab's hidden
//!   `lab-backend`): build the pieces and start them.

pub mod answer;
pub mod api;
pub mod cli;
pub mod config;
pub mod control;
pub mod dns;
pub mod dnssec;
pub mod explain;
#[cfg(test)]
mod fixtures;
pub mod geo;
pub mod health;
pub mod route;
pub mod secondary;
pub mod slots;
pub mod snapshot;
pub mod zone;

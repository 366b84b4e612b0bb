//! Meridian: an authoritative DNS server and global load balancer (GeoDNS).
//!
//! # Layout
//! - `config`: `meridian.toml` → validated [`config::Config`]; errors name file, line and key.
//! - `zone`: RFC 1035 master files → immutable [`zone::Zones`] with precomputed answers.
//! - `dns`: the wire protocol: query parsing, response rendering, UDP and TCP listeners.
//! - `snapshot`: [`snapshot::Snapshot`] (everything a query reads) and [`snapshot::Live`], its atomic swap.
//! - `cli`: the `serve` and `check` commands: builds the pieces and starts them.

pub mod cli;
pub mod config;
pub mod dns;
pub mod snapshot;
pub mod zone;

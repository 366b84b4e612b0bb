//! Server settings and load-balanced names: `meridian.toml` → validated [`Config`], and
//! `zones/<origin>.toml` → validated [`Service`]s.
//!
//! `raw.rs` holds the serde shapes as written; `compile.rs` checks `meridian.toml` and
//! resolves paths; `services.rs` checks the services files and resolves region names.
//! Errors name file, line and key, and every error is reported, not just the first.
//! Nothing here opens sockets or runs per query.

mod compile;
mod limits;
mod raw;
mod services;

pub use compile::{
    Config, ConfigError, ConfigErrors, FleetConfig, GeoFields, GeoipConfig, Quorum, Region,
    ServerConfig, load, parse,
};
pub use limits::{CookiesConfig, Limits, RrlConfig, TcpAbuseLimits};
pub use services::{
    Check, CheckKind, Endpoint, OnAllDown, Policy, Route, Service, load_services, parse_services,
};

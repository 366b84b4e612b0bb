//! Server settings and load-balanced names: `meridian.toml` → validated [`Config`], and
//! `zones/<origin>.toml` → validated [`Service`]s.
//!
//! `raw.rs` holds the serde shapes as written; `compile.rs` checks `meridian.toml` and
//! resolves paths; `services/` checks the services files and resolves region names;
//! `diagnostics.rs` is the error machinery both share. Errors name file, line and key, and
//! every error is reported, not just the first. Nothing here opens sockets or runs per query.

mod compile;
mod diagnostics;
mod limits;
mod raw;
mod services;

pub use compile::{
    ApiServerConfig, Compiled, Config, FleetConfig, GeoDatabase, GeoFields, GeoipConfig, Position,
    Quorum, Region, ServerConfig, UnsureRegions, compile, compile_file, load, parse,
};
pub use diagnostics::{ConfigError, ConfigErrors};
pub use limits::{CookiesConfig, Limits, RrlConfig, TcpAbuseLimits};
pub use services::{
    Check, CheckKind, CheckedServices, Endpoint, NamedService, OnAllDown, Policy, Route, Service,
    check_services, load_services, parse_services,
};

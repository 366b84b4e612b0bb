//! Server settings and load-balanced names: `meridian.toml` → validated [`Config`], and
//! `zones/<origin>.toml` → validated [`Service`]s.
//!
//! `raw.rs` holds the serde shapes as written; `compile.rs` checks `meridian.toml` and
//! resolves paths; `services/` checks the services files and resolves region names;
//! `limits.rs`, `identity.rs`, `tsig.rs`, `transfer.rs` and `secondary.rs` check parts of `meridian.toml` that travel as one
//! value (`tsig.rs` also reads the keys' secret files); `diagnostics.rs` is the error
//! machinery all share. Errors name file, line and key, and
//! every error is reported, not just the first. Nothing here opens sockets or runs per query.

mod compile;
mod diagnostics;
mod identity;
mod limits;
mod raw;
mod secondary;
mod services;
mod transfer;
mod tsig;

pub use compile::{
    ApiServerConfig, Compiled, Config, DnssecConfig, FleetConfig, GeoDatabase, GeoFields,
    GeoipConfig, Position, Quorum, Region, ServerConfig, UnsureRegions, compile, compile_file,
    load, parse,
};
pub use diagnostics::{ConfigError, ConfigErrors};
pub use identity::{IdentityConfig, MAX_NSID, host_name};
pub use limits::{CookiesConfig, Limits, RrlConfig, TcpAbuseLimits};
pub use secondary::SecondaryConfig;
pub use services::{
    Check, CheckKind, CheckedServices, Endpoint, LatencySwitch, NamedService, OnAllDown, Policy,
    Route, Service, ShedLoad, check_services, load_services, parse_services,
};
pub use transfer::TransferConfig;
pub use tsig::TsigKey;

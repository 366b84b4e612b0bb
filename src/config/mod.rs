//! Server settings: `meridian.toml` → validated [`Config`].
//!
//! `raw.rs` holds the serde shapes as written; `compile.rs` checks them and resolves paths.
//! Errors name file, line and key, and every error is reported, not just the first.
//! Nothing here opens sockets or runs per query.

mod compile;
mod raw;

pub use compile::{
    Config, ConfigError, ConfigErrors, FleetConfig, GeoipConfig, Quorum, Region, ServerConfig,
    load, parse,
};

//! Test fixtures shared by the unit tests: the regions every test config uses, read from
//! `tests/data/regions.toml` (the integration tests read the same file), and a server
//! config made of them. Compiled only for tests.

use crate::config::{self, Config};
use std::path::Path;

/// `[regions.*]` tables: eu-west (index 0), us-east (1), us-west, sa-east, ap-southeast,
/// ap-northeast, ap-south, in that order.
pub const REGIONS: &str = include_str!("../tests/data/regions.toml");

/// `[server] region = "eu-west"` and [`REGIONS`], as a config text.
pub fn config_text() -> String {
    format!("[server]\nregion = \"eu-west\"\n{REGIONS}")
}

/// [`config_text`], parsed as `meridian.toml`.
pub fn config() -> Config {
    config::parse(&config_text(), Path::new("meridian.toml")).expect("the fixture config parses")
}

/// [`config`], and `services` (a services file's text) read as `zones/example.com.toml`.
pub fn config_and_services(services: &str) -> (Config, Vec<config::Service>) {
    let config = config();
    let origin = hickory_proto::rr::Name::from_ascii("example.com.").unwrap();
    let services = config::parse_services(
        services,
        Path::new("zones/example.com.toml"),
        &origin,
        &config,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (config, services)
}

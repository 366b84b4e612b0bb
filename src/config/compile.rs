//! Raw config → validated [`Config`] (placeholder until the real loader lands).
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub server: ServerConfig,
    pub geoip: GeoipConfig,
    pub fleet: FleetConfig,
    pub regions: Vec<Region>,
}
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub region: String,
    pub dns_listen: Vec<SocketAddr>,
    pub api_listen: SocketAddr,
    pub zones_dir: PathBuf,
    pub state_dir: PathBuf,
    pub udp_workers: usize,
    pub max_udp_payload: u16,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
}
#[derive(Debug, Clone)]
pub struct GeoipConfig {
    pub database: Option<PathBuf>,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    Majority,
    All,
    Any,
    AtLeast(u32),
}
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub token_file: PathBuf,
    pub quorum: Quorum,
    pub local_prober: bool,
}
#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(Config {
        path: path.to_path_buf(),
        server: ServerConfig {
            region: String::new(),
            dns_listen: vec!["127.0.0.1:5300".parse().unwrap()],
            api_listen: "127.0.0.1:5380".parse().unwrap(),
            zones_dir: base.join("zones"),
            state_dir: base.join("state"),
            udp_workers: 0,
            max_udp_payload: 1232,
            tcp_idle_timeout: Duration::from_secs(10),
            tcp_max_connections: 1024,
        },
        geoip: GeoipConfig { database: None },
        fleet: FleetConfig { token_file: base.join("fleet.token"), quorum: Quorum::Majority, local_prober: true },
        regions: vec![],
    })
}

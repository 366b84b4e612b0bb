//! Everything one query reads, as one immutable value, and the atomic swap that replaces it.
//!
//! A reload builds a whole new [`Snapshot`] (all endpoints up; the control task attaches
//! the judged health before storing it in [`Live`]). DNS workers load the current one once
//! per batch and never wait for a lock held by slow work. Config and health live in the
//! same snapshot, so an answer never mixes a new config with old health.

use crate::config::{Config, Service};
use crate::geo::{GeoDb, Location};
use crate::health::HealthTable;
use crate::zone::{BalancedName, Zones};
use arc_swap::ArcSwap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

/// Config, zones, services, geolocation and health as of one load; never mutated.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<Config>,
    pub zones: Arc<Zones>,
    /// Load-balanced names, indexed as `zone::Found::Balanced::service`.
    pub services: Arc<[Service]>,
    /// Each service's name as text, made once (per-query counters are filed under it).
    pub service_names: Arc<[String]>,
    pub geo: Option<Arc<GeoFile>>,
    pub health: Arc<HealthTable>,
}

/// An opened geolocation database and the file's modification time when it was read.
#[derive(Debug)]
pub struct GeoFile {
    pub db: GeoDb,
    pub modified: Option<SystemTime>,
    pub fields: crate::config::GeoFields,
}

/// The answer swap: queries load it; only the control task (`crate::control`) stores a
/// new one, after a reload or a change of health.
pub type Live = ArcSwap<Snapshot>;

impl Snapshot {
    /// Loads the config file and everything it names; errors name file, line and key.
    /// `previous` lends its geolocation database when the file has not changed.
    pub fn load(config_path: &Path, previous: Option<&Snapshot>) -> Result<Snapshot, LoadError> {
        let config = crate::config::load(config_path).map_err(LoadError::Config)?;
        let origins: Vec<_> = Zones::files_in(&config.server.zones_dir)
            .map_err(LoadError::Zones)?
            .into_iter()
            .map(|(_, origin)| origin)
            .collect();
        let services = crate::config::load_services(&config, &origins);
        let balanced: Vec<BalancedName> = match &services {
            Ok(services) => services
                .iter()
                .enumerate()
                .map(|(i, s)| BalancedName {
                    name: s.name.clone(),
                    service: i as u32,
                    file: s.file.clone(),
                    line: s.line,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let zones = Zones::load_dir(&config.server.zones_dir, &balanced);
        let services = match (services, zones) {
            (Ok(s), Ok(z)) => (s, z),
            (Err(s), Ok(_)) => return Err(LoadError::Config(s)),
            (Ok(_), Err(z)) => return Err(LoadError::Zones(z)),
            (Err(s), Err(z)) => return Err(LoadError::Both(s, z)),
        };
        let (services, zones) = services;
        let geo = match &config.geoip.database {
            None => None,
            Some(path) => Some(open_geo(path, &config.geoip.fields, previous)?),
        };
        let health = HealthTable::all_up(&services);
        let service_names = services.iter().map(|s| s.name.to_ascii()).collect();
        Ok(Snapshot {
            config: Arc::new(config),
            zones: Arc::new(zones),
            services: services.into(),
            service_names,
            geo,
            health: Arc::new(health),
        })
    }

    /// The same snapshot with another health table (the control task's swap).
    pub fn with_health(&self, health: HealthTable) -> Snapshot {
        Snapshot {
            config: self.config.clone(),
            zones: self.zones.clone(),
            services: self.services.clone(),
            service_names: self.service_names.clone(),
            geo: self.geo.clone(),
            health: Arc::new(health),
        }
    }

    /// Where an address is; unknown when no database is configured.
    pub fn locate(&self, addr: IpAddr) -> Location {
        match &self.geo {
            Some(g) => g.db.locate(addr),
            None => Location::unknown(0),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Opens the database, or reuses the previous snapshot's when the file is unchanged.
fn open_geo(
    path: &Path,
    fields: &crate::config::GeoFields,
    previous: Option<&Snapshot>,
) -> Result<Arc<GeoFile>, LoadError> {
    let now = modified(path);
    if let Some(prev) = previous.and_then(|p| p.geo.as_ref())
        && prev.db.path == path
        && prev.fields == *fields
        && prev.modified == now
        && now.is_some()
    {
        return Ok(prev.clone());
    }
    let db = GeoDb::open(path, fields).map_err(LoadError::Geo)?;
    Ok(Arc::new(GeoFile {
        db,
        modified: now,
        fields: fields.clone(),
    }))
}

/// True when the configured database file changed since `snapshot` read it.
pub fn geo_changed(snapshot: &Snapshot) -> bool {
    match (&snapshot.config.geoip.database, &snapshot.geo) {
        (Some(path), Some(g)) => modified(path) != g.modified,
        _ => false,
    }
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Config(crate::config::ConfigErrors),
    #[error("{0}")]
    Zones(crate::zone::ZoneErrors),
    #[error("{0}\n{1}")]
    Both(crate::config::ConfigErrors, crate::zone::ZoneErrors),
    #[error("{0}")]
    Geo(crate::geo::GeoError),
}

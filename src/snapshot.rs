//! Everything one query reads, as one immutable value, and the atomic swap that replaces it.
//!
//! A reload builds a whole new [`Snapshot`] and stores it in [`Live`]; DNS workers load
//! the current one once per batch and never wait for a lock held by slow work.

use crate::config::Config;
use crate::zone::Zones;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// Config and zones as of one load; never mutated after it is built.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<Config>,
    pub zones: Arc<Zones>,
}

/// The snapshot queries are answered from.
pub type Live = ArcSwap<Snapshot>;

impl Snapshot {
    /// Loads the config file and every zone it names; the errors name file, line and key.
    pub fn load(config_path: &std::path::Path) -> Result<Snapshot, LoadError> {
        let config = crate::config::load(config_path).map_err(LoadError::Config)?;
        let zones = Zones::load_dir(&config.server.zones_dir).map_err(LoadError::Zones)?;
        Ok(Snapshot {
            config: Arc::new(config),
            zones: Arc::new(zones),
        })
    }
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Config(crate::config::ConfigErrors),
    #[error("{0}")]
    Zones(crate::zone::ZoneErrors),
}

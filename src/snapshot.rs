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
#[derive(Debug)]
pub enum LoadError {
    Config(crate::config::ConfigErrors),
    Zones(crate::zone::ZoneErrors),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Config(errors) => {
                for (i, e) in errors.0.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{}:", e.file.display())?;
                    if let Some(line) = e.line {
                        write!(f, "{line}:")?;
                    }
                    write!(f, " {}: {}", e.key, e.message)?;
                }
                Ok(())
            }
            LoadError::Zones(errors) => write!(f, "{errors}"),
        }
    }
}

impl std::error::Error for LoadError {}

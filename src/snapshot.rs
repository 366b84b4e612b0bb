//! Everything one query reads, as one immutable value, and the atomic swap that replaces it.
//!
//! A reload builds a whole new [`Snapshot`] (all endpoints up; the control task attaches
//! the judged health before storing it in [`Live`]). DNS workers load the current one once
//! per batch and never wait for a lock held by slow work. Config and health live in the
//! same snapshot, so an answer never mixes a new config with old health.

use crate::config::{Config, GeoDatabase, Service};
use crate::geo::{GeoDb, GeoError, Location};
use crate::health::HealthTable;
use crate::health::fleet::HealthTargets;
use crate::zone::{BalancedName, ReadZone, ZoneError, Zones};
use arc_swap::ArcSwap;
use hickory_proto::rr::Name;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

/// Config, zones, services, geolocation and health as of one load; never mutated.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<Config>,
    pub zones: Arc<Zones>,
    /// Load-balanced names, indexed as `zone::Found::Balanced::service`. A `Vec` rather
    /// than a slice: `Arc<[T]>` from the loaded `Vec` would copy it (50 MB at 100,000
    /// services, page faults and all, on the way to the first answer).
    pub services: Arc<Vec<Service>>,
    /// Each service's name as text, made once (per-query counters are filed under it).
    pub service_names: Arc<[String]>,
    /// The health checks the services name (`health::fleet::targets_of`), for the health
    /// store: worked out beside the zone build, where it costs no time to the first answer.
    pub targets: Arc<HealthTargets>,
    pub geo: Option<Arc<GeoFile>>,
    pub health: Arc<HealthTable>,
    /// The zones signed with keys from `[dnssec] key_dir`, and their signatures
    /// (`crate::dnssec::load`); shared by the snapshots of one load.
    pub signing: Arc<crate::dnssec::Signing>,
    /// Unique to this snapshot (from 1): a new config or a new health table is a new
    /// generation, which is what per-thread memos of decisions are keyed by.
    pub generation: u64,
}

/// The generation of the next snapshot made (see `Snapshot::generation`).
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
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
    /// Every file is checked before failing, so the error lists every problem at once.
    /// `previous` lends its geolocation database when the file has not changed.
    pub fn load(config_path: &Path, previous: Option<&Snapshot>) -> Result<Snapshot, LoadError> {
        let started = Instant::now();
        let (config, services, mut zones, geo, of_services) = load_parts(config_path, previous)?;
        if let Some(p) = previous {
            zones.carry_journal(&p.zones);
        }
        for t in &config.transfer {
            // A secondary zone without a copy yet (or expired) is logged by `secondary`.
            let secondary = config.secondary.iter().any(|s| s.zone == t.zone);
            if !secondary && !zones.zones().iter().any(|z| z.origin == t.zone) {
                tracing::warn!(zone = %t.zone, "[transfer] names a zone that is not served; ignored");
            }
        }
        let health = HealthTable::all_up(&services);
        // Only signing needs the names in wire form; without a key directory it is skipped.
        let balanced: Vec<Box<[u8]>> = if config.dnssec.key_dir.is_dir() {
            services
                .iter()
                .map(|s| crate::answer::name_key(&s.name))
                .collect()
        } else {
            Vec::new()
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signing =
            crate::dnssec::load_signing(&config, &zones, &balanced, now).map_err(|e| {
                LoadError {
                    dnssec: e,
                    ..LoadError::default()
                }
            })?;
        tracing::debug!(ms = started.elapsed().as_millis(), "snapshot loaded");
        Ok(Snapshot {
            config: Arc::new(config),
            zones: Arc::new(zones),
            services: services.into(),
            service_names: of_services.names,
            targets: Arc::new(of_services.targets),
            geo,
            health: Arc::new(health),
            signing: Arc::new(signing),
            generation: next_generation(),
        })
    }

    /// The same snapshot with another health table (the control task's swap).
    pub fn with_health(&self, health: HealthTable) -> Snapshot {
        Snapshot {
            config: self.config.clone(),
            zones: self.zones.clone(),
            services: self.services.clone(),
            service_names: self.service_names.clone(),
            targets: self.targets.clone(),
            geo: self.geo.clone(),
            health: Arc::new(health),
            signing: self.signing.clone(),
            generation: next_generation(),
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

/// Config, services, zones and geolocation, each checked even when an earlier one has
/// errors; an error that only follows from another (a region `meridian.toml` failed to
/// define, a zone file that failed to parse) is left out.
type Parts = (
    Config,
    Vec<Service>,
    Zones,
    Option<Arc<GeoFile>>,
    OfServices,
);

/// What the snapshot keeps about the services beside the services themselves, made from
/// them on a thread of its own while the zones are read and built.
struct OfServices {
    names: Arc<[String]>,
    targets: HealthTargets,
}

impl OfServices {
    fn new(services: &[Service]) -> OfServices {
        OfServices {
            names: services.iter().map(|s| s.name.to_ascii()).collect(),
            targets: crate::health::fleet::targets_of(services),
        }
    }
}

fn load_parts(config_path: &Path, previous: Option<&Snapshot>) -> Result<Parts, LoadError> {
    let started = Instant::now();
    let compiled = crate::config::compile_file(config_path);
    tracing::debug!(ms = started.elapsed().as_millis(), "configuration compiled");
    let config = compiled.config;
    let mut errors = LoadError {
        config: compiled.errors,
        ..LoadError::default()
    };
    // A [secondary] table with errors may be what the zones directory is for.
    let secondary_errors = errors
        .config
        .iter()
        .any(|e| e.key.starts_with("secondary."));
    // The geolocation database is decoded on its own thread meanwhile: it needs nothing
    // from the zones, and takes a fixed ~0.1 s.
    let (found, geo) = std::thread::scope(|scope| {
        let geo = scope.spawn(|| {
            let started = Instant::now();
            let geo = open_geo(&config, previous);
            tracing::debug!(
                ms = started.elapsed().as_millis(),
                "geolocation database read"
            );
            geo
        });
        // Where zones_dir is unknown, its files are elsewhere: looking would only add noise.
        let found = compiled
            .zones_dir_known
            .then(|| {
                let zones = &mut errors.zones;
                load_zones(&config, &compiled.unsure_regions, secondary_errors, zones)
            })
            .flatten();
        let geo = geo.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (found, geo)
    });
    errors.zones.sort_by(|a, b| a.at().cmp(&b.at()));
    let geo = match geo {
        Ok(geo) => geo,
        Err(e) => {
            errors.geo = Some(e);
            None
        }
    };
    match found {
        Some((services, zones, of_services)) if errors.is_empty() => {
            warn_if_unlocatable(&config, &services);
            Ok((config, services, zones, geo, of_services))
        }
        _ => Err(errors),
    }
}

/// The load-balanced names, each with its service's index, whose zone (the deepest of
/// `origins` holding the name, `None` when none does) `keep` accepts.
pub(crate) fn balanced_names(
    names: &[crate::config::NamedService],
    origins: &[Name],
    keep: impl Fn(Option<&Name>) -> bool,
) -> Vec<BalancedName> {
    names
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            let zone = origins
                .iter()
                .filter(|o| o.zone_of(&n.name))
                .max_by_key(|o| o.num_labels());
            keep(zone)
        })
        .map(|(i, n)| BalancedName {
            name: n.name.clone(),
            service: i as u32,
            file: n.file.clone(),
            line: n.line,
        })
        .collect()
}

/// The services files and zone files of `config.server.zones_dir`, every one checked and
/// every problem added to `errors`; `None` when the zones could not be built.
fn load_zones(
    config: &Config,
    unsure: &crate::config::UnsureRegions,
    secondary_errors: bool,
    errors: &mut Vec<FileError>,
) -> Option<(Vec<Service>, Zones, OfServices)> {
    let files = match Zones::files_in(&config.server.zones_dir) {
        Ok(files) => files,
        // A server of secondary zones alone needs no zone file.
        Err(_)
            if (secondary_errors || !config.secondary.is_empty())
                && no_zone_files(&config.server.zones_dir) =>
        {
            Vec::new()
        }
        Err(e) => {
            errors.extend(e.0.into_iter().map(FileError::Zone));
            return None;
        }
    };
    let mut origins: Vec<Name> = files.iter().map(|(_, o)| o.clone()).collect();
    for s in &config.secondary {
        if let Some((file, _)) = files.iter().find(|(_, o)| *o == s.zone) {
            errors.push(FileError::Zone(crate::zone::ZoneError::file(
                file,
                format!(
                    "{} is also a [secondary] zone in {}: remove the file or the table",
                    s.zone,
                    config.path.display()
                ),
            )));
        } else {
            origins.push(s.zone.clone());
        }
    }
    let started = Instant::now();
    let mut checked = crate::config::check_services(config, &origins, unsure);
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        services = checked.services.len(),
        "services files checked"
    );
    let services_checked = checked.errors.is_empty();
    errors.extend(
        std::mem::take(&mut checked.errors)
            .into_iter()
            .map(FileError::Config),
    );
    let found = std::thread::scope(|scope| {
        // Beside the zones (with 100,000 services, the balanced names' answers are most of
        // their build) rather than after them. A load with errors needs none of it.
        let of_services = services_checked.then(|| {
            scope.spawn(|| {
                let started = Instant::now();
                let of = OfServices::new(&checked.services);
                tracing::debug!(ms = started.elapsed().as_millis(), "health targets listed");
                of
            })
        });
        let started = Instant::now();
        let zones = build_zones(config, &files, &origins, &checked.names, errors);
        tracing::debug!(ms = started.elapsed().as_millis(), "zones built");
        let of_services =
            of_services.map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        Some((zones?, of_services?))
    });
    let (zones, of_services) = found?;
    Some((checked.services, zones, of_services))
}

/// The zones of `files` and of the secondary copies on disk, with the load-balanced
/// `names` in them; every problem is added to `errors`.
fn build_zones(
    config: &Config,
    files: &[(PathBuf, Name)],
    origins: &[Name],
    names: &[crate::config::NamedService],
    errors: &mut Vec<FileError>,
) -> Option<Zones> {
    let mut parsed = Vec::new();
    let mut failed = Vec::new();
    for ((_, origin), read) in files.iter().zip(read_zone_files(files)) {
        match read {
            Ok(read) => parsed.push(read),
            Err(e) => {
                errors.extend(e.into_iter().map(FileError::Zone));
                failed.push(origin.clone());
            }
        }
    }
    let (pulled, unavailable) = crate::secondary::load::copies(config, origins, names);
    parsed.extend(
        pulled
            .into_iter()
            .map(|(file, origin, records)| ReadZone::from_records(&file, &origin, records)),
    );
    failed.extend(unavailable);
    // A name whose zone file failed to parse is left out: that zone's errors are already
    // reported, and "in none of the zones served" would only follow from them. Names of
    // services with errors stay in, so CNAMEs to them are no follow-on errors either.
    let balanced = balanced_names(names, origins, |zone| {
        zone.is_none_or(|z| !failed.contains(z))
    });
    // Records are kept for transfers and for signing (with a key directory, which says
    // per zone whether it is signed: all zones keep theirs then).
    let signing = config.dnssec.key_dir.is_dir();
    let keeps_records =
        |origin: &Name| signing || config.transfer.iter().any(|t| t.zone == *origin);
    match crate::zone::build_read_zones(parsed, &balanced, &keeps_records) {
        Ok(zones) => Some(zones),
        Err(e) => {
            errors.extend(e.0.into_iter().map(FileError::Zone));
            None
        }
    }
}

/// Reads every zone file, on as many threads as there are cores (zones are independent
/// until `build_read_zones`): 10,000 small zones load in about half the wall time on two
/// cores. The results are in the order of `files`, so errors are too.
fn read_zone_files(files: &[(PathBuf, Name)]) -> Vec<Result<ReadZone, Vec<ZoneError>>> {
    let read = |(file, origin): &(PathBuf, Name)| ReadZone::from_file(file, origin);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    if threads <= 1 {
        return files.iter().map(read).collect();
    }
    // Each thread takes the next unread file, so one big zone does not hold up the rest.
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<ReadZone, Vec<ZoneError>>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    // Sized for a fair share: a read zone is a few hundred bytes, and
                    // 10,000 of them copied at every doubling showed in the load.
                    let mut mine = Vec::with_capacity(files.len() / threads + 1);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break mine };
                        mine.push((i, read(f)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// `dir` can be read and holds no `*.zone` file.
fn no_zone_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        !entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "zone"))
    })
}

/// With geolocation off, says loudly which services route by where the client is.
fn warn_if_unlocatable(config: &Config, services: &[Service]) {
    if config.geoip.database != GeoDatabase::Off {
        return;
    }
    let by_location: Vec<String> = services
        .iter()
        .filter(|s| {
            s.policy.by_location()
                || s.routes
                    .iter()
                    .any(|r| !r.countries.is_empty() || !r.continents.is_empty())
        })
        .map(|s| s.name.to_ascii())
        .collect();
    if !by_location.is_empty() {
        tracing::warn!(
            "geolocation is off ([geoip] in {}): clients of {} cannot be located; they get \
             each service's unknown_location regions, or all regions weighted by capacity",
            config.path.display(),
            by_location.join(", ")
        );
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Opens the configured database (`None` when geolocation is off), or reuses the previous
/// snapshot's when it is the same: the shipped one, or a file that has not changed.
fn open_geo(
    config: &Config,
    previous: Option<&Snapshot>,
) -> Result<Option<Arc<GeoFile>>, GeoError> {
    let fields = &config.geoip.fields;
    let prev = previous
        .and_then(|p| p.geo.as_ref())
        .filter(|g| g.fields == *fields);
    let (db, now) = match &config.geoip.database {
        GeoDatabase::Off => return Ok(None),
        GeoDatabase::Shipped => {
            if let Some(prev) = prev.filter(|g| g.db.shipped) {
                return Ok(Some(prev.clone()));
            }
            (GeoDb::shipped(fields)?, None)
        }
        GeoDatabase::File(path) => {
            let now = modified(path);
            if let Some(prev) = prev
                && !prev.db.shipped
                && prev.db.path == *path
                && prev.modified == now
                && now.is_some()
            {
                return Ok(Some(prev.clone()));
            }
            (GeoDb::open(path, fields)?, now)
        }
    };
    Ok(Some(Arc::new(GeoFile {
        db,
        modified: now,
        fields: fields.clone(),
    })))
}

/// True when the configured database file changed since `snapshot` read it.
pub fn geo_changed(snapshot: &Snapshot) -> bool {
    match (&snapshot.config.geoip.database, &snapshot.geo) {
        (GeoDatabase::File(path), Some(g)) => modified(path) != g.modified,
        _ => false,
    }
}

/// An error in `meridian.toml`'s zones directory: a zone file's, or a services file's.
#[derive(Debug)]
pub enum FileError {
    Zone(crate::zone::ZoneError),
    Config(crate::config::ConfigError),
}

impl FileError {
    /// File, then line (0 for the file as a whole), for sorting.
    fn at(&self) -> (&Path, usize) {
        match self {
            FileError::Zone(e) => (&e.file, e.line),
            FileError::Config(e) => (&e.file, e.line.unwrap_or(0)),
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Zone(e) => e.fmt(f),
            FileError::Config(e) => e.fmt(f),
        }
    }
}

/// Why a snapshot could not be built: every problem found, `meridian.toml`'s first, then
/// the zones directory's by file and line, then the geolocation database's.
#[derive(Debug, Default)]
pub struct LoadError {
    pub config: Vec<crate::config::ConfigError>,
    pub zones: Vec<FileError>,
    pub geo: Option<GeoError>,
    /// Key files that do not load, zones that cannot be signed (`[dnssec] key_dir`).
    pub dnssec: Vec<crate::dnssec::KeyError>,
}

impl LoadError {
    fn is_empty(&self) -> bool {
        self.config.is_empty()
            && self.zones.is_empty()
            && self.geo.is_none()
            && self.dnssec.is_empty()
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = self.config.iter().map(|e| e as &dyn std::fmt::Display);
        let zones = self.zones.iter().map(|e| e as &dyn std::fmt::Display);
        let geo = self.geo.iter().map(|e| e as &dyn std::fmt::Display);
        let dnssec = self.dnssec.iter().map(|e| e as &dyn std::fmt::Display);
        for (i, e) in config.chain(zones).chain(geo).chain(dnssec).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Milliseconds since `step`, which then starts the next step: for the debug log of how
/// long each step of a load took.
pub(crate) fn lap(step: &mut Instant) -> u128 {
    let ms = step.elapsed().as_millis();
    *step = Instant::now();
    ms
}

/// Gives the memory freed since the last call back to the system. A load frees far more
/// than it keeps (the TOML trees of a services file, the text of every zone, the records
/// before encoding): glibc's malloc keeps those chunks for reuse, and the process would
/// go on holding them, three times the snapshot's size for 100,000 services. Called after
/// the first load (once the server answers) and after each reload is published.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims malloc's own heap; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_files_read_on_many_threads_come_back_in_file_order_with_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for i in 0..40 {
            let origin = Name::from_ascii(format!("z{i:02}.test.")).unwrap();
            let file = dir.path().join(format!("z{i:02}.test.zone"));
            // Every seventh file has a bad record on line 3.
            let bad = if i % 7 == 3 {
                "www IN A 300.1.1.1\n"
            } else {
                ""
            };
            std::fs::write(
                &file,
                format!("@ 3600 IN SOA ns1 host {i} 7200 3600 1209600 300\n@ IN NS ns1\n{bad}"),
            )
            .unwrap();
            files.push((file, origin));
        }
        let read = read_zone_files(&files);
        assert_eq!(read.len(), files.len());
        for (i, ((file, _), r)) in files.iter().zip(read).enumerate() {
            match r {
                Ok(_) => assert_ne!(i % 7, 3, "{}", file.display()),
                Err(e) => {
                    assert_eq!(i % 7, 3, "{}", file.display());
                    assert_eq!((&e[0].file, e[0].line), (file, 3));
                }
            }
        }
    }
}

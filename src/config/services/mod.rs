//! Load-balanced names: `zones/<origin>.toml` → validated [`Service`]s, one file per zone.
//!
//! This file holds the validated types and the entry points; `parse.rs` turns single values
//! (names, regions, countries, addresses) into typed ones, `fast.rs` reads a service's
//! parsed tree into its raw struct without serde when it can, and `check.rs` walks a
//! file's tables and reports every problem as a [`ConfigError`] naming file, line and key.
//! Service names are relative to the zone (`www`, `api.eu`, `@` for the apex). Nothing here
//! probes, resolves host names or runs per query.

mod check;
mod fast;
mod parse;
mod scan;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use ipnet::IpNet;

use super::compile::{Config, UnsureRegions};
use super::diagnostics::{Checker, ConfigError, ConfigErrors, parse_toml, prune_keys, sorted};
use super::raw::SERVICES_FILE_KEYS;
use check::ServiceChecker;
#[cfg(test)]
use parse::name_salt;
use parse::{label_count, relative_text, service_key};

/// A load-balanced name: answered from its endpoints by the routing decision, not from the
/// zone file.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Fully qualified. The case is kept as written (`Name` compares without case).
    pub name: Name,
    /// The zone it belongs to: the entry of `origins` given to [`load_services`].
    pub origin: Name,
    /// Where `[services.NAME]` is written, for `explain`, the status page and errors: one
    /// path shared by every service of the file.
    pub file: Arc<Path>,
    /// 1-based.
    pub line: usize,
    /// Short (default 30 s) so clients move soon after a region fails.
    pub ttl: u32,
    /// Addresses per answer; 1..=16.
    pub max_answers: usize,
    pub policy: Policy,
    /// `None`: never probed, and its endpoints count as up (drains still apply).
    pub check: Option<Check>,
    /// Never empty; no address is listed twice.
    pub endpoints: Vec<Endpoint>,
    /// In file order: the first route that matches the client wins.
    pub routes: Vec<Route>,
    pub on_all_down: OnAllDown,
    /// Regions (indices into `Config.regions`) for clients that cannot be located.
    /// Empty: weighted by capacity over all regions, since no region is nearer than another.
    pub unknown_location: Vec<usize>,
    /// A region keeps `healthy fraction × overprovision` of its traffic (capped at all of
    /// it); the rest spills to the next region. 1.0 (the default) moves exactly the share
    /// of capacity that was lost; 1.4 is Envoy's default, which rides out small losses.
    pub overprovision: f64,
    /// Seeds the per-network hash, so services spread independently of each other.
    pub salt: u64,
    /// `policy = "nearest"`: (region index, bias) for the regions given one, each once,
    /// bias in -99..=99 and not 0. A region's distance from the client counts as
    /// `distance × (1 − bias/100)` (Route 53's geoproximity bias): a positive bias draws
    /// clients from farther away, a negative one sends its own clients elsewhere sooner.
    pub bias: Vec<(usize, i32)>,
    /// How reported load shrinks an endpoint's effective capacity (`shed_load`); `None`:
    /// reported load is ignored (`shed_load = false`).
    pub shed_load: Option<ShedLoad>,
}

/// `shed_load = { low = L, high = H }` (NS1's shed_load): an endpoint reporting a load at
/// or below `low` keeps its whole capacity; between `low` and `high` its effective
/// capacity shrinks linearly, down to [`ShedLoad::FLOOR`] of it at `high` and above. So
/// spill-over moves its traffic while it still answers, not once it fails its checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShedLoad {
    pub low: f64,
    pub high: f64,
}

impl Default for ShedLoad {
    fn default() -> Self {
        ShedLoad {
            low: 0.7,
            high: 0.95,
        }
    }
}

impl ShedLoad {
    /// The fraction of capacity an endpoint at `high` load keeps: not 0, so that when
    /// every endpoint is that loaded they still share the traffic by capacity rather than
    /// every candidate counting as down.
    pub const FLOOR: f64 = 0.01;

    /// Effective capacity ÷ capacity at `load`: 1 up to `low`, then linearly down to
    /// [`ShedLoad::FLOOR`] at `high`.
    pub fn factor(&self, load: f64) -> f64 {
        if !load.is_finite() || load <= self.low {
            return 1.0;
        }
        if load >= self.high || self.high <= self.low {
            return Self::FLOOR;
        }
        let t = (load - self.low) / (self.high - self.low);
        1.0 - t * (1.0 - Self::FLOOR)
    }
}

/// `policy = "latency"`: when the region a viewpoint measured fastest may take over from
/// the one it chose before. Both must hold, so that neither jitter on a short path
/// (a few ms, a large percentage) nor on a long one (a small percentage, many ms) flips
/// answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySwitch {
    /// The new region's smoothed RTT is at least this much lower, in percent of the
    /// current one's.
    pub percent: u32,
    /// ... and at least this many milliseconds lower.
    pub ms: u32,
}

impl Default for LatencySwitch {
    fn default() -> Self {
        LatencySwitch {
            percent: 20,
            ms: 10,
        }
    }
}

impl Service {
    /// The bias of `region` (0 when none is given).
    pub fn bias_of(&self, region: usize) -> i32 {
        self.bias
            .iter()
            .find(|(r, _)| *r == region)
            .map_or(0, |(_, b)| *b)
    }
}

/// How regions are ranked for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// By great-circle distance from the client (the default).
    Nearest,
    /// A fixed order of regions (indices into `Config.regions`): non-empty, each once.
    Failover { order: Vec<usize> },
    /// By capacity alone, wherever the client is.
    Weighted,
    /// By the smoothed RTT that the client's nearest viewpoint measured to each region,
    /// held by `switch` against flapping; like `Nearest` where there is no measurement.
    Latency { switch: LatencySwitch },
}

impl Policy {
    /// The word that selects it in a services file.
    pub fn word(&self) -> &'static str {
        match self {
            Policy::Nearest => "nearest",
            Policy::Failover { .. } => "failover",
            Policy::Weighted => "weighted",
            Policy::Latency { .. } => "latency",
        }
    }

    /// Ranks by where the client is (so geolocation matters).
    pub fn by_location(&self) -> bool {
        matches!(self, Policy::Nearest | Policy::Latency { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Index into `Config.regions`.
    pub region: usize,
    pub address: IpAddr,
    /// Relative weight within the service. 0 is allowed: drained by config, still probed
    /// and shown, never answered.
    pub capacity: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    Http,
    Https,
    Tcp,
}

/// How a prober checks each endpoint of a service (a *target* is endpoint + check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub kind: CheckKind,
    pub port: u16,
    /// HTTP(S) request path; starts with `/`. `/` for tcp, where it is unused.
    pub path: String,
    /// HTTP(S) `Host` header, and SNI for https; `None`: the endpoint's address.
    pub host: Option<String>,
    /// https only: skip certificate verification.
    pub insecure: bool,
    /// Inclusive ranges of HTTP status codes that count as up; `[(200, 399)]` by default.
    pub expect: Vec<(u16, u16)>,
    /// HTTP(S): a substring the response body must contain.
    pub body: Option<String>,
    /// 1 s ..= 1 h; 5 s by default.
    pub interval: Duration,
    /// Shorter than `interval`. Default 2 s, or half the interval when that is shorter, so
    /// that `interval = "1s"` alone is valid.
    pub timeout: Duration,
    /// After a failed check, the next one runs this soon (not a whole `interval` later),
    /// until `fall` failures in a row make the endpoint down or a check passes again, so a
    /// dead endpoint leaves the answers in about `(fall - 1) × recheck`. Recovery is not
    /// hurried: `rise` counts checks at the normal interval. 100 ms ..= `interval`;
    /// [`Check::default_recheck`] by default.
    pub recheck: Duration,
    /// Consecutive successes before a down endpoint counts as up.
    pub rise: u32,
    /// Consecutive failures before an up endpoint counts as down.
    pub fall: u32,
}

impl Check {
    /// `recheck` when none is written: a fifth of the interval (1 s for the default 5 s),
    /// at least 250 ms, so short intervals do not turn into a storm of checks.
    pub fn default_recheck(interval: Duration) -> Duration {
        (interval / 5).max(Duration::from_millis(250)).min(interval)
    }
}

/// `[[services.NAME.route]]`: clients that match any of the countries, continents or
/// networks are sent to `regions` instead of the policy's ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// ISO 3166-1 alpha-2, upper case (`*b"AU"`).
    pub countries: Vec<[u8; 2]>,
    /// One of AF AN AS EU NA OC SA, the codes MaxMind databases use.
    pub continents: Vec<[u8; 2]>,
    /// No host bits set.
    pub networks: Vec<IpNet>,
    /// Indices into `Config.regions`: non-empty, each once.
    pub regions: Vec<usize>,
    /// Where `[[services.NAME.route]]` (or the inline table) is written.
    pub line: usize,
}

/// What to answer when no endpoint of the service is healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnAllDown {
    /// Fail open (`"all"`, the default): the checks may be what is broken.
    AllEndpoints,
    /// `"nodata"`: an empty answer.
    NoData,
    /// `{ fallback = [...] }`: these addresses instead (those of the family asked; none of
    /// it: NODATA), like Cloudflare's fallback pool: a static site or a "back soon" page
    /// that is not checked. 1..=16 addresses, each once, unicast.
    Fallback(Vec<IpAddr>),
    /// `{ cname = "backup.example.net." }`: a CNAME to this absolute name instead, for A
    /// and AAAA alike (a fallback pool elsewhere, found by its own name). Not at a zone
    /// apex, and not to the service's own name.
    Cname(Name),
}

impl OnAllDown {
    /// The word `/v1/status` and the status console use.
    pub fn word(&self) -> &'static str {
        match self {
            OnAllDown::AllEndpoints => "all",
            OnAllDown::NoData => "nodata",
            OnAllDown::Fallback(_) | OnAllDown::Cname(_) => "fallback",
        }
    }
}

/// A service's name and where it is written, known even when the service has errors, so
/// that the zone build can treat the name as load-balanced (no follow-on errors there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedService {
    pub name: Name,
    pub file: Arc<Path>,
    /// 1-based.
    pub line: usize,
}

/// Every services file checked: the services that passed, the names of all (see
/// [`NamedService`]) and every error, in file order.
#[derive(Debug, Default)]
pub struct CheckedServices {
    /// Only complete when `errors` is empty.
    pub services: Vec<Service>,
    pub names: Vec<NamedService>,
    pub errors: Vec<ConfigError>,
}

/// Loads `zones_dir/*.toml` in sorted file order; the result is in file order, then service
/// order. `origins` are the zones that have a `.zone` file: a `.toml` without one is an error
/// naming the file, and so is a service whose name lies in another of `origins` (a nested
/// zone with its own files).
pub fn load_services(config: &Config, origins: &[Name]) -> Result<Vec<Service>, ConfigErrors> {
    let checked = check_services(config, origins, &UnsureRegions::default());
    if checked.errors.is_empty() {
        Ok(checked.services)
    } else {
        Err(ConfigErrors(checked.errors))
    }
}

/// [`load_services`] without stopping: every file is checked and every error kept. A region
/// name in `unsure` is not reported as unknown (`meridian.toml` failed to define it).
pub fn check_services(
    config: &Config,
    origins: &[Name],
    unsure: &UnsureRegions,
) -> CheckedServices {
    let mut checked = CheckedServices::default();
    let dir = &config.server.zones_dir;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            let message = format!("cannot read zones directory: {e}");
            checked.errors.push(file_error(dir, message));
            return checked;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();

    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let Some(origin) = zone_named(stem, origins) else {
            let message = format!(
                "no zone file {stem}.zone beside it: services are added to the zone of the same name"
            );
            checked.errors.push(file_error(&file, message));
            continue;
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                checked
                    .errors
                    .push(file_error(&file, format!("cannot read: {e}")));
                continue;
            }
        };
        let mut file_check = check_file(&text, &file, origin, config, unsure);
        let nested: Vec<ConfigError> = file_check
            .services
            .iter()
            .filter_map(|s| in_nested_zone(s, origins))
            .collect();
        file_check.errors.extend(nested);
        take_all(&mut checked.services, file_check.services);
        take_all(&mut checked.names, file_check.names);
        checked.errors.extend(sorted(file_check.errors));
    }
    checked
}

/// Appends `more` to `all`, taking `more` as it is when `all` is empty (a services file of
/// 100,000 names is not copied again).
fn take_all<T>(all: &mut Vec<T>, mut more: Vec<T>) {
    if all.is_empty() {
        *all = more;
    } else {
        all.append(&mut more);
    }
}

/// Validates the services file `text` of the zone `origin`; `path` names it in errors.
pub fn parse_services(
    text: &str,
    path: &Path,
    origin: &Name,
    config: &Config,
) -> Result<Vec<Service>, ConfigErrors> {
    let checked = check_file(text, path, origin, config, &UnsureRegions::default());
    if checked.errors.is_empty() {
        Ok(checked.services)
    } else {
        Err(ConfigErrors(sorted(checked.errors)))
    }
}

/// A services file at least this long is checked in parts, on every core.
const PARALLEL_BYTES: usize = 1 << 20;
/// About this much of the file is parsed at a time, per thread.
const PART_BYTES: usize = 256 << 10;

/// Checks one services file; after a TOML syntax error only the syntax is reported. A big
/// file is checked in parts, on the machine's cores, when that gives the same result
/// ([`check_in_parts`]): faster, and its parsed tree is never all in memory at once.
fn check_file(
    text: &str,
    path: &Path,
    origin: &Name,
    config: &Config,
    unsure: &UnsureRegions,
) -> CheckedServices {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if text.len() >= PARALLEL_BYTES
        && let Some(checked) =
            check_in_parts(text, path, origin, config, unsure, threads, PART_BYTES)
    {
        return checked;
    }
    check_whole(text, path, origin, config, unsure)
}

/// Where `text` may be cut into independent parts: the offsets of the lines that open a
/// `[services.NAME]` table ([`opens_service`]), when every line that starts with `[`
/// starts with `[services.` or `[[services.` and nothing but comments comes before the
/// first. `None`
/// otherwise (a `[services]` header, keys at the top, an array of tables of another name:
/// the file is checked whole).
fn cut_points(text: &str) -> Option<Vec<usize>> {
    let bytes = text.as_bytes();
    let mut cuts = Vec::new();
    let mut offset = 0;
    // Line by line, each found by a vectorised search for its newline: this runs on one
    // core before the parts are checked on all of them (1.5 million lines for 100,000
    // services).
    while offset < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[offset..]).map_or(bytes.len(), |i| offset + i + 1);
        let line = &text[offset..end];
        let first = line.bytes().find(|b| !b.is_ascii_whitespace());
        if first == Some(b'[') {
            if opens_service(line) {
                cuts.push(offset);
            } else if !line.starts_with("[services.") && !line.starts_with("[[services.") {
                return None;
            }
        } else if cuts.is_empty() && first.is_some_and(|b| b != b'#') {
            return None;
        }
        offset = end;
    }
    Some(cuts)
}

/// `[services.NAME]` with a bare NAME (no dot, no quotes), alone on its line but for a
/// comment: where a part may start. (`[services.NAME.check]` and the like stay with the
/// part they fall in.)
fn opens_service(line: &str) -> bool {
    let Some((name, after)) = line
        .strip_prefix("[services.")
        .and_then(|rest| rest.split_once(']'))
    else {
        return false;
    };
    let after = after.trim();
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && (after.is_empty() || after.starts_with('#'))
}

/// [`check_whole`] on pieces of `text` of about [`PART_BYTES`] each, cut at
/// `[services.NAME]` lines ([`cut_points`]), on `threads` threads (each takes a run of
/// pieces, one after the other, so only a few pieces' parsed trees exist at a time), with
/// the lines of each piece's services moved to where they are in the file. Each piece is
/// valid TOML on its own exactly when the whole is (a string or array left open at a cut
/// is a syntax error in the piece before it) and means the same, as long as no two pieces
/// name the same service (checked). Any error, in any piece, gives `None`: the whole file
/// is then checked on one thread, so messages (which may cite other lines) are exactly
/// those of [`check_whole`].
fn check_in_parts(
    text: &str,
    path: &Path,
    origin: &Name,
    config: &Config,
    unsure: &UnsureRegions,
    threads: usize,
    part_bytes: usize,
) -> Option<CheckedServices> {
    let cuts = cut_points(text)?;
    let mut starts = vec![*cuts.first()?];
    for &c in &cuts {
        if c >= starts.last()? + part_bytes.max(1) {
            starts.push(c);
        }
    }
    let ends: Vec<usize> = starts[1..].iter().copied().chain([text.len()]).collect();
    let pieces: Vec<&str> = starts
        .iter()
        .zip(&ends)
        .map(|(&s, &e)| &text[s..e])
        .collect();
    let per_thread = pieces.len().div_ceil(threads.max(1));
    let checked: Vec<Vec<(CheckedServices, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces
            .chunks(per_thread)
            .map(|run| {
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(run.len());
                    for piece in run {
                        let checked = check_whole(piece, path, origin, config, unsure);
                        let failed = !checked.errors.is_empty();
                        // Its lines, counted here on every core rather than after.
                        let lines = memchr::memchr_iter(b'\n', piece.as_bytes()).count();
                        out.push((checked, lines));
                        if failed {
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let checked: Vec<(CheckedServices, usize)> = checked.into_iter().flatten().collect();
    if checked.len() != pieces.len() || checked.iter().any(|(c, _)| !c.errors.is_empty()) {
        return None;
    }
    let total = |of: fn(&CheckedServices) -> usize| checked.iter().map(|(c, _)| of(c)).sum();
    let mut all = CheckedServices {
        services: Vec::with_capacity(total(|c| c.services.len())),
        names: Vec::with_capacity(total(|c| c.names.len())),
        errors: Vec::new(),
    };
    let mut seen =
        rustc_hash::FxHashSet::with_capacity_and_hasher(all.names.capacity(), Default::default());
    // Lines before the piece: its line 1 is the file's line `before + 1`. The pieces
    // follow each other from the first cut, which only comments and blank lines precede.
    let mut before = memchr::memchr_iter(b'\n', &text.as_bytes()[..starts[0]]).count();
    for (mut part, lines) in checked {
        for s in &mut part.services {
            s.line += before;
            for r in &mut s.routes {
                r.line += before;
            }
        }
        for n in &mut part.names {
            n.line += before;
            if !seen.insert(n.name.clone()) {
                return None;
            }
        }
        all.services.append(&mut part.services);
        all.names.append(&mut part.names);
        before += lines;
    }
    Some(all)
}

/// [`check_file`] on one thread: read by [`scan`] when the file is in the subset it reads
/// and has no errors, else (and so for every message) by the full TOML parser.
fn check_whole(
    text: &str,
    path: &Path,
    origin: &Name,
    config: &Config,
    unsure: &UnsureRegions,
) -> CheckedServices {
    check_scanned(text, path, origin, config, unsure)
        .unwrap_or_else(|| check_parsed(text, path, origin, config, unsure))
}

/// [`check_whole`] by [`scan`]: `None` when the file is not in the subset it reads, or
/// when any check fails (the full parser then words the messages).
fn check_scanned(
    text: &str,
    path: &Path,
    origin: &Name,
    config: &Config,
    unsure: &UnsureRegions,
) -> Option<CheckedServices> {
    let scanned = scan::services(text)?;
    let mut check = ServiceChecker {
        check: Checker::new(path, text),
        file: Arc::from(path),
        config,
        unsure,
        origin,
        names: Vec::with_capacity(scanned.len()),
    };
    let services = check.scanned(scanned);
    if !check.check.errors.is_empty() {
        return None;
    }
    Some(CheckedServices {
        services,
        names: check.names,
        errors: Vec::new(),
    })
}

/// [`check_whole`] by the full TOML parser, which reads all of TOML and words every error.
fn check_parsed(
    text: &str,
    path: &Path,
    origin: &Name,
    config: &Config,
    unsure: &UnsureRegions,
) -> CheckedServices {
    let mut check = ServiceChecker {
        check: Checker::new(path, text),
        file: Arc::from(path),
        config,
        unsure,
        origin,
        names: Vec::new(),
    };
    let services = match parse_toml(&mut check.check, text) {
        Ok(root) => {
            let mut root = root.into_inner();
            prune_keys(&mut check.check, &mut root, "", SERVICES_FILE_KEYS);
            match root.remove("services") {
                Some(services) => check.services(services),
                None => Vec::new(),
            }
        }
        // The recovered tree is a guess; checking it would report noise.
        Err(_) => Vec::new(),
    };
    CheckedServices {
        services,
        names: check.names,
        errors: check.check.errors,
    }
}

/// The origin among `origins` that the file name stem `example.com` stands for.
fn zone_named<'a>(stem: &str, origins: &'a [Name]) -> Option<&'a Name> {
    let name = Name::from_ascii(stem)
        .and_then(|n| n.append_domain(&Name::root()))
        .ok()?;
    origins.iter().find(|o| **o == name)
}

/// An error if `service` lies inside a more specific zone of `origins` than its own: that
/// zone answers for it, so the service belongs in that zone's file.
fn in_nested_zone(service: &Service, origins: &[Name]) -> Option<ConfigError> {
    let inner = origins
        .iter()
        .filter(|o| label_count(o) > label_count(&service.origin))
        .filter(|o| service.origin.zone_of(o) && o.zone_of(&service.name))
        .max_by_key(|o| label_count(o))?;
    let zone = inner.to_ascii();
    Some(ConfigError {
        file: service.file.to_path_buf(),
        line: Some(service.line),
        key: service_key(&relative_text(&service.name, &service.origin)),
        message: format!(
            "{} is in the zone {zone}, which has its own zone file: define it in {}.toml",
            service.name.to_ascii(),
            zone.trim_end_matches('.')
        ),
    })
}

fn file_error(file: &Path, message: String) -> ConfigError {
    ConfigError {
        file: file.to_path_buf(),
        line: None,
        key: String::new(),
        message,
    }
}

#[cfg(test)]
mod tests;

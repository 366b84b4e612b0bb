//! `meridian.toml` text → validated [`Config`]: defaults, range checks, cross-checks, paths.
//!
//! Every problem becomes a [`ConfigError`] naming file, line and key, and all of them are
//! reported together (only a TOML syntax error stops before the checks).
//! Relative paths resolve against the config file's directory. No sockets are opened and
//! no file other than the config itself is read: `check` and `serve` share this code.

use std::fmt;
use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw::{RawConfig, RawFleet, RawGeoip, RawQuorum, RawRegion, RawServer, known_keys};

/// A validated `meridian.toml`. Paths are already resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file itself, as given (reload reads it again).
    pub path: PathBuf,
    pub server: ServerConfig,
    pub geoip: GeoipConfig,
    pub fleet: FleetConfig,
    /// In file order: it is the order operators read, and the tie-break order.
    pub regions: Vec<Region>,
    /// `[rrl]`, `[cookies]` and the TCP abuse limits.
    pub limits: super::limits::Limits,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The region this server runs in; `""` only when no regions are defined.
    pub region: String,
    /// Non-empty, no duplicates; each address is served on UDP and TCP.
    pub dns_listen: Vec<SocketAddr>,
    pub api_listen: SocketAddr,
    pub zones_dir: PathBuf,
    pub state_dir: PathBuf,
    /// 0 = one worker per CPU core.
    pub udp_workers: usize,
    /// EDNS UDP payload size we accept and advertise (512..=4096; 1232 avoids fragmentation).
    pub max_udp_payload: u16,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct GeoipConfig {
    /// `None`: no database, every client is "unknown location".
    pub database: Option<PathBuf>,
    /// Field paths tried before the known layouts (GeoIP2, DB-IP, IPinfo): each a list of
    /// map keys, with a number meaning an array index (`subdivisions.0.iso_code`).
    pub fields: GeoFields,
}

/// Where a record keeps what we need, when the layout is not one we know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoFields {
    pub country: Option<Vec<String>>,
    pub continent: Option<Vec<String>>,
    pub latitude: Option<Vec<String>>,
    pub longitude: Option<Vec<String>>,
}

/// How many fresh probers must agree before an endpoint changes state.
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
    /// `[a-z0-9-]{1,63}`: it appears in URLs, metrics labels and zone files.
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

/// One problem in a config file. Displays as `FILE:LINE: KEY: MESSAGE`; `LINE:` is left out
/// when unknown, and `KEY:` when the problem is not tied to a key (a syntax error, an
/// unreadable file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    /// Dotted path as an operator would write it, e.g. `server.dns_listen[1]`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, "{line}:")?;
        }
        if !self.key.is_empty() {
            write!(f, " {}:", self.key)?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one load, in file order. Never empty when returned as an error.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:5300";
const DEFAULT_API_LISTEN: &str = "127.0.0.1:5380";
const DEFAULT_ZONES_DIR: &str = "zones";
const DEFAULT_STATE_DIR: &str = "state";
const DEFAULT_UDP_WORKERS: i64 = 0;
const DEFAULT_MAX_UDP_PAYLOAD: i64 = 1232;
const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TCP_MAX_CONNECTIONS: i64 = 1024;
const DEFAULT_TOKEN_FILE: &str = "fleet.token";

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        }])
    })?;
    parse(&text, path)
}

/// Validates config `text`; `path` names the file in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let mut check = Checker::new(path, text);

    let (mut root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // The recovered tree is a guess; checking it would report noise.
        for e in &syntax_errors {
            check.error(e.span(), "", e.message());
        }
        return Err(check.finish());
    }

    // serde's `deny_unknown_fields` stops at the first unknown key; find them all first.
    prune_unknown_keys(&mut check, root.get_mut());

    let tree = root.get_ref().clone();
    let raw = match RawConfig::deserialize(toml::de::Deserializer::from(root)) {
        Ok(raw) => raw,
        Err(e) => {
            // A value of the wrong type: the shape is unknown from here, so stop.
            let key = e
                .span()
                .and_then(|span| key_at(&tree, &span, ""))
                .unwrap_or_default();
            check.error(e.span(), key, in_toml_words(e.message()));
            return Err(check.finish());
        }
    };

    let config = check.config(raw);
    if check.errors.is_empty() {
        Ok(config)
    } else {
        Err(check.finish())
    }
}

/// serde names Rust types in its messages ("expected i64"); an operator writes TOML.
/// A message this does not recognise is passed through as it is.
pub(super) fn in_toml_words(message: &str) -> String {
    const WORDS: [(&str, &str); 4] = [
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a map", "expected a table"),
        ("expected a sequence", "expected an array"),
    ];
    let mut message = message.to_owned();
    for (rust, toml) in WORDS {
        message = message.replace(rust, toml);
    }
    message
}

/// Reports and removes keys that the raw structs do not know, in every table.
/// The section names below mirror `RawConfig`'s fields; a section missing here still has
/// its unknown keys caught by `deny_unknown_fields`, only one at a time.
fn prune_unknown_keys(check: &mut Checker, root: &mut DeTable) {
    prune_table::<RawConfig>(check, root, "");
    for (section, value) in root.iter_mut() {
        let prefix = format!("{}.", section.get_ref());
        let DeValue::Table(table) = value.get_mut() else {
            continue;
        };
        match section.get_ref().as_ref() {
            "server" => prune_table::<RawServer>(check, table, &prefix),
            "geoip" => prune_table::<RawGeoip>(check, table, &prefix),
            "fleet" => prune_table::<RawFleet>(check, table, &prefix),
            "rrl" => prune_table::<super::limits::RawRrl>(check, table, &prefix),
            "cookies" => prune_table::<super::limits::RawCookies>(check, table, &prefix),
            "regions" => {
                for (name, region) in table.iter_mut() {
                    if let DeValue::Table(region) = region.get_mut() {
                        let prefix = format!("{prefix}{}.", name.get_ref());
                        prune_table::<RawRegion>(check, region, &prefix);
                    }
                }
            }
            _ => {}
        }
    }
}

pub(super) fn prune_table<'de, T: Deserialize<'de>>(
    check: &mut Checker,
    table: &mut DeTable,
    prefix: &str,
) {
    prune_keys(check, table, prefix, known_keys::<T>());
}

/// Reports and removes the keys of `table` that are not in `known`.
pub(super) fn prune_keys(check: &mut Checker, table: &mut DeTable, prefix: &str, known: &[&str]) {
    let mut unknown = Vec::new();
    for key in table.keys() {
        let name: &str = key.get_ref();
        if !known.contains(&name) {
            let message = format!("unknown key (known: {})", known.join(", "));
            check.error(Some(key.span()), format!("{prefix}{name}"), message);
            unknown.push(name.to_owned());
        }
    }
    for name in &unknown {
        table.remove(name.as_str());
    }
}

/// The dotted key whose key or value covers `span`, searching nested tables and arrays.
fn key_at(table: &DeTable, span: &Range<usize>, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let path = format!("{prefix}{}", key.get_ref());
        // Exactly this value (e.g. a whole `[[regions]]` array) rather than a part of it.
        if key.span() == *span || value.span() == *span {
            return Some(path);
        }
        if let Some(found) = key_in_value(value, span, &path) {
            return Some(found);
        }
        if covers(&key.span(), span) || covers(&value.span(), span) {
            return Some(path);
        }
    }
    None
}

pub(super) fn key_in_value(
    value: &Spanned<DeValue>,
    span: &Range<usize>,
    path: &str,
) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => key_at(table, span, &format!("{path}.")),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let path = format!("{path}[{i}]");
            key_in_value(item, span, &path).or_else(|| covers(&item.span(), span).then_some(path))
        }),
        _ => None,
    }
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// Collects errors while turning a [`RawConfig`] into a [`Config`] (and, in `services.rs`,
/// a services file into services). Each check records its problem and returns a stand-in
/// value, so later checks still run.
pub(super) struct Checker<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) errors: Vec<ConfigError>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str) -> Checker<'a> {
        Checker {
            file,
            text,
            errors: Vec::new(),
        }
    }

    pub(super) fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let line = span.map(|span| line_of(self.text, span.start));
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    pub(super) fn finish(mut self) -> ConfigErrors {
        // Stable: errors on one line keep the order they were found in.
        self.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        ConfigErrors(self.errors)
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let regions = self.regions(raw.regions.unwrap_or_default());
        let mut raw_server = raw.server.unwrap_or_default();
        let limits = self.limits(
            raw.rrl.unwrap_or_default(),
            raw.cookies.unwrap_or_default(),
            &mut raw_server,
        );
        let server = self.server(raw_server, &regions);
        let geoip = self.geoip(raw.geoip.unwrap_or_default());
        let fleet = self.fleet(raw.fleet.unwrap_or_default());
        Config {
            path: self.file.to_path_buf(),
            server,
            geoip,
            fleet,
            regions,
            limits,
        }
    }

    fn server(&mut self, raw: RawServer, regions: &[Region]) -> ServerConfig {
        let region = self.server_region(raw.region, regions);
        let dns_listen = match raw.dns_listen {
            Some(list) => self.dns_listen(list),
            None => vec![DEFAULT_DNS_LISTEN.parse().expect("valid default")],
        };
        let api_listen = match raw.api_listen {
            Some(ref addr) => self.socket_addr(addr, "server.api_listen"),
            None => Some(DEFAULT_API_LISTEN.parse().expect("valid default")),
        };
        if let Some(api) = api_listen
            && api.port() != 0
            && let Some(i) = dns_listen.iter().position(|dns| *dns == api)
        {
            let span = raw.api_listen.as_ref().map(Spanned::span);
            let message = format!("{api} is also server.dns_listen[{i}], where DNS listens on TCP");
            self.error(span, "server.api_listen", message);
        }
        ServerConfig {
            region,
            dns_listen,
            api_listen: api_listen
                .unwrap_or_else(|| DEFAULT_API_LISTEN.parse().expect("valid default")),
            zones_dir: self.path(raw.zones_dir, "server.zones_dir", DEFAULT_ZONES_DIR),
            state_dir: self.path(raw.state_dir, "server.state_dir", DEFAULT_STATE_DIR),
            // The casts are lossless: `int` returns a value inside the range it was given.
            udp_workers: self.int(
                raw.udp_workers,
                "server.udp_workers",
                DEFAULT_UDP_WORKERS,
                0..=256,
            ) as usize,
            max_udp_payload: self.int(
                raw.max_udp_payload,
                "server.max_udp_payload",
                DEFAULT_MAX_UDP_PAYLOAD,
                512..=4096,
            ) as u16,
            tcp_idle_timeout: self.duration(
                raw.tcp_idle_timeout,
                "server.tcp_idle_timeout",
                DEFAULT_TCP_IDLE_TIMEOUT,
            ),
            // Saturates only where usize is narrower than i64; the limit is then "no limit".
            tcp_max_connections: usize::try_from(self.int(
                raw.tcp_max_connections,
                "server.tcp_max_connections",
                DEFAULT_TCP_MAX_CONNECTIONS,
                1..=i64::MAX,
            ))
            .unwrap_or(usize::MAX),
        }
    }

    fn server_region(&mut self, raw: Option<Spanned<String>>, regions: &[Region]) -> String {
        let span = raw.as_ref().map(Spanned::span);
        let name = raw.map(Spanned::into_inner).unwrap_or_default();
        let known = regions
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if name.is_empty() {
            if !regions.is_empty() {
                let message = format!("required when [regions] are defined (known: {known})");
                self.error(span, "server.region", message);
            }
        } else if !regions.iter().any(|r| r.name == name) {
            let message = if regions.is_empty() {
                format!("unknown region {name:?} (no [regions.NAME] tables are defined)")
            } else {
                format!("unknown region {name:?} (known: {known})")
            };
            self.error(span, "server.region", message);
        }
        name
    }

    fn dns_listen(&mut self, list: Spanned<Vec<Spanned<String>>>) -> Vec<SocketAddr> {
        if list.get_ref().is_empty() {
            self.error(
                Some(list.span()),
                "server.dns_listen",
                "must list at least one ip:port",
            );
        }
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for (i, text) in list.get_ref().iter().enumerate() {
            let key = format!("server.dns_listen[{i}]");
            let Some(addr) = self.socket_addr(text, &key) else {
                continue;
            };
            // Port 0 asks the kernel for a fresh port on each bind, so it never collides.
            if let Some(first) = addrs.iter().position(|a| *a == addr && a.port() != 0) {
                self.error(
                    Some(text.span()),
                    key,
                    format!("{addr} is listed twice (also dns_listen[{first}])"),
                );
            }
            addrs.push(addr);
        }
        addrs
    }

    fn socket_addr(&mut self, text: &Spanned<String>, key: &str) -> Option<SocketAddr> {
        match text.get_ref().parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                let message = format!(
                    r#"{:?} is not an ip:port address (like "127.0.0.1:53" or "[::1]:53")"#,
                    text.get_ref()
                );
                self.error(Some(text.span()), key, message);
                None
            }
        }
    }

    fn geoip(&mut self, raw: RawGeoip) -> GeoipConfig {
        let database = raw
            .database
            .map(|db| self.path(Some(db), "geoip.database", ""));
        let mut field = |value: Option<Spanned<String>>, key: &str| {
            let value = value?;
            let parts: Vec<String> = value.get_ref().split('.').map(str::to_owned).collect();
            if parts.iter().any(|p| p.is_empty()) {
                let message = format!(
                    "{:?} is not a dotted path like \"location.latitude\"",
                    value.get_ref()
                );
                self.error(Some(value.span()), key, message);
                return None;
            }
            Some(parts)
        };
        let fields = GeoFields {
            country: field(raw.country_field, "geoip.country_field"),
            continent: field(raw.continent_field, "geoip.continent_field"),
            latitude: field(raw.latitude_field, "geoip.latitude_field"),
            longitude: field(raw.longitude_field, "geoip.longitude_field"),
        };
        GeoipConfig { database, fields }
    }

    fn fleet(&mut self, raw: RawFleet) -> FleetConfig {
        FleetConfig {
            token_file: self.path(raw.token_file, "fleet.token_file", DEFAULT_TOKEN_FILE),
            quorum: raw.quorum.map_or(Quorum::Majority, |q| self.quorum(q)),
            local_prober: raw.local_prober.unwrap_or(true),
        }
    }

    fn quorum(&mut self, raw: Spanned<RawQuorum>) -> Quorum {
        let span = Some(raw.span());
        match raw.into_inner() {
            RawQuorum::Word(word) => match word.as_str() {
                "majority" => Quorum::Majority,
                "all" => Quorum::All,
                "any" => Quorum::Any,
                _ => {
                    let message = format!(
                        r#"{word:?} is not a quorum (use "majority", "all", "any" or a number >= 1)"#
                    );
                    self.error(span, "fleet.quorum", message);
                    Quorum::Majority
                }
            },
            RawQuorum::Count(n) if n < 1 => {
                self.error(span, "fleet.quorum", format!("{n} is below the minimum 1"));
                Quorum::Majority
            }
            RawQuorum::Count(n) => match u32::try_from(n) {
                Ok(n) => Quorum::AtLeast(n),
                Err(_) => {
                    self.error(
                        span,
                        "fleet.quorum",
                        format!("{n} is above the maximum {}", u32::MAX),
                    );
                    Quorum::Majority
                }
            },
        }
    }

    fn regions(&mut self, raw: indexmap::IndexMap<Spanned<String>, RawRegion>) -> Vec<Region> {
        let mut regions = Vec::with_capacity(raw.len());
        for (name, region) in raw {
            let prefix = format!("regions.{}", name.get_ref());
            if !is_region_name(name.get_ref()) {
                let message = format!(
                    "invalid region name {:?}: use 1 to 63 of a-z, 0-9 and -",
                    name.get_ref()
                );
                self.error(Some(name.span()), prefix.clone(), message);
            }
            let lat = self.coordinate(region.lat, &name, &format!("{prefix}.lat"), 90.0);
            let lon = self.coordinate(region.lon, &name, &format!("{prefix}.lon"), 180.0);
            regions.push(Region {
                name: name.into_inner(),
                lat,
                lon,
            });
        }
        regions
    }

    fn coordinate(
        &mut self,
        raw: Option<Spanned<f64>>,
        region: &Spanned<String>,
        key: &str,
        limit: f64,
    ) -> f64 {
        let Some(value) = raw else {
            self.error(
                Some(region.span()),
                key,
                "missing (every region needs lat and lon)",
            );
            return 0.0;
        };
        let v = *value.get_ref();
        if !(-limit..=limit).contains(&v) {
            self.error(
                Some(value.span()),
                key,
                format!("{v:?} is outside -{limit}..={limit}"),
            );
            return 0.0;
        }
        v
    }

    /// An integer in `range`, or `default` when absent (or out of range, after an error).
    pub(super) fn int(
        &mut self,
        raw: Option<Spanned<i64>>,
        key: &str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> i64 {
        let Some(value) = raw else { return default };
        let v = *value.get_ref();
        if v < *range.start() {
            self.error(
                Some(value.span()),
                key,
                format!("{v} is below the minimum {}", range.start()),
            );
            default
        } else if v > *range.end() {
            self.error(
                Some(value.span()),
                key,
                format!("{v} is above the maximum {}", range.end()),
            );
            default
        } else {
            v
        }
    }

    fn duration(&mut self, raw: Option<Spanned<String>>, key: &str, default: Duration) -> Duration {
        raw.and_then(|text| self.parse_duration(&text, key))
            .unwrap_or(default)
    }

    /// A duration greater than 0 written like `"500ms"`, `"10s"` or `"2m"`; `None` after an error.
    pub(super) fn parse_duration(&mut self, text: &Spanned<String>, key: &str) -> Option<Duration> {
        match humantime::parse_duration(text.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.error(
                    Some(text.span()),
                    key,
                    format!("{:?} must be greater than 0", text.get_ref()),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                let message = format!(
                    r#"{:?} is not a duration like "500ms", "10s" or "2m" ({e})"#,
                    text.get_ref()
                );
                self.error(Some(text.span()), key, message);
                None
            }
        }
    }

    /// A path from the file (or `default`), resolved against the config file's directory.
    pub(super) fn path(
        &mut self,
        raw: Option<Spanned<String>>,
        key: &str,
        default: &str,
    ) -> PathBuf {
        let text = match &raw {
            Some(text) if text.get_ref().is_empty() => {
                self.error(Some(text.span()), key, "must not be empty");
                default
            }
            Some(text) => text.get_ref().as_str(),
            None => default,
        };
        self.file.parent().unwrap_or(Path::new("")).join(text)
    }
}

fn is_region_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// 1-based line of byte `offset` in `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

#[cfg(test)]
mod tests;

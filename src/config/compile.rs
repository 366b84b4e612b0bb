//! `meridian.toml` text → validated [`Config`]: defaults, range checks, cross-checks, paths.
//!
//! Every problem becomes a [`ConfigError`] (see `diagnostics.rs`) and all of them are
//! reported together; [`compile`] also says which parts of the result are stand-ins, so
//! the rest of a load reports no follow-on errors. Relative paths resolve against the
//! config file's directory. No sockets are opened, and no other file is read but the TSIG
//! keys' secret files (`tsig.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostics::{
    Checker, ConfigError, ConfigErrors, deserialize_refusing, parse_toml, prune_table,
};
use super::raw::{RawConfig, RawFleet, RawGeoip, RawQuorum, RawRegion, RawServer};

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
    /// `[server] identity`, `nsid`, `version`: what the server says about itself.
    pub identity: super::identity::IdentityConfig,
    /// `[tsig.NAME]`, in file order: the keys signed queries and zone transfers use.
    pub tsig: Vec<super::TsigKey>,
    /// `[transfer.ZONE]`: who may transfer which zone, and whom to notify.
    pub transfer: Vec<super::TransferConfig>,
    /// `[secondary.ZONE]`: the zones pulled from a primary.
    pub secondary: Vec<super::SecondaryConfig>,
    /// `[dnssec]`: where the zone keys are.
    pub dnssec: DnssecConfig,
}

/// `[dnssec]`: the key commands and `serve` read it; a zone with keys in `key_dir` is
/// signed by `serve` (`crate::dnssec::zone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnssecConfig {
    /// Where `K<zone>.+<alg>+<tag>.key`/`.private` files are (default `keys`).
    pub key_dir: PathBuf,
    /// Signature lifetime, backdate and jitter.
    pub validity: crate::dnssec::Validity,
    /// A signature is replaced this long before it expires; shorter than `validity`.
    /// It should exceed every TTL served, so that no cache holds an expired signature.
    pub refresh: Duration,
}

/// `[dnssec] refresh` by default: a week before the 14 days of validity end.
const DEFAULT_DNSSEC_REFRESH: Duration = Duration::from_secs(7 * 86400);

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
    pub api: ApiServerConfig,
}

/// How `api_listen` is served: TLS, timeouts and connection caps (`[server] api_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiServerConfig {
    /// PEM certificate chain and private key: both set (TLS) or neither (plain HTTP).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Connections open at once; past it, new ones wait in the listen queue.
    pub max_connections: usize,
    /// Connections open at once from one address; past it, new ones are closed at once.
    pub max_connections_per_source: usize,
    /// A request head (and a TLS handshake) must arrive within this, or the connection
    /// is closed; an idle keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// A request body must arrive whole within this (408 otherwise).
    pub body_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct GeoipConfig {
    pub database: GeoDatabase,
    /// Field paths tried before the known layouts (GeoIP2, DB-IP, IPinfo): each a list of
    /// map keys, with a number meaning an array index (`subdivisions.0.iso_code`).
    pub fields: GeoFields,
}

/// Which geolocation database locates clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeoDatabase {
    /// `[geoip]` or its `database` left out: the database built into the binary, so a lone
    /// binary or a container locates clients with no file beside it.
    Shipped,
    /// `database = "PATH"`: that file (resolved), re-read when it is replaced.
    File(PathBuf),
    /// `database = ""` or `enabled = false`: no geolocation; every client is
    /// "unknown location" (a service's `unknown_location`, else weighted by capacity).
    Off,
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
    /// More than half of the fresh votes.
    Majority,
    /// More than half of the viewpoints, each by the majority of its own fresh votes
    /// (Cloudflare's majority of majorities): a viewpoint with many probers counts once,
    /// so it cannot outvote the others.
    Regions,
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
    /// `lat`, `lon` as a point on the unit sphere, made once here so that ranking regions
    /// by distance costs no trigonometry per query.
    pub position: Position,
}

/// A place as a point on the unit sphere (x towards 0°N 0°E, z towards the North Pole).
/// The straight-line (chord) distance between two of them grows with their great-circle
/// distance, so it orders places by distance exactly as the haversine does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position([f64; 3]);

impl Position {
    /// The point at latitude `lat`, longitude `lon` (degrees).
    pub fn of(lat: f64, lon: f64) -> Position {
        let (sin_lat, cos_lat) = lat.to_radians().sin_cos();
        let (sin_lon, cos_lon) = lon.to_radians().sin_cos();
        Position([cos_lat * cos_lon, cos_lat * sin_lon, sin_lat])
    }

    /// The squared chord distance to `other` (0 to 4): the nearer, the smaller.
    pub fn chord_squared(&self, other: &Position) -> f64 {
        let [a, b, c] = self.0;
        let [x, y, z] = other.0;
        (a - x) * (a - x) + (b - y) * (b - y) + (c - z) * (c - z)
    }
}

const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:5300";
const DEFAULT_API_LISTEN: &str = "127.0.0.1:5380";
const DEFAULT_ZONES_DIR: &str = "zones";
const DEFAULT_STATE_DIR: &str = "state";
const DEFAULT_UDP_WORKERS: i64 = 0;
const DEFAULT_MAX_UDP_PAYLOAD: i64 = 1232;
const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TCP_MAX_CONNECTIONS: i64 = 1024;
const DEFAULT_TOKEN_FILE: &str = "fleet.token";
const DEFAULT_KEY_DIR: &str = "keys";
const DEFAULT_API_MAX_CONNECTIONS: i64 = 256;
const DEFAULT_API_MAX_CONNECTIONS_PER_SOURCE: i64 = 32;
const DEFAULT_API_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_API_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A `meridian.toml` as far as it could be checked: the config (with stand-ins where a
/// value was refused), every error, and which parts the rest of a load may rely on.
#[derive(Debug)]
pub struct Compiled {
    pub config: Config,
    /// In line order; empty when the file is valid.
    pub errors: Vec<ConfigError>,
    /// False when `server.zones_dir` was refused or could not be read: the zones and
    /// services are elsewhere, so looking for them would only report follow-on errors.
    pub zones_dir_known: bool,
    /// Region names that services may use without an "unknown region" error although
    /// `config.regions` lacks them: their definition had an error, already reported.
    pub unsure_regions: UnsureRegions,
}

/// Regions `meridian.toml` meant to define but could not (see [`Compiled`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsureRegions {
    /// The `[regions]` table itself is unreadable: any name may be meant.
    pub all: bool,
    pub names: Vec<String>,
}

impl UnsureRegions {
    pub fn contains(&self, name: &str) -> bool {
        self.all || self.names.iter().any(|n| n == name)
    }
}

impl Compiled {
    pub fn into_result(self) -> Result<Config, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(self.config)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    compile_file(path).into_result()
}

/// Validates config `text`; `path` names the file in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    compile(text, path).into_result()
}

/// Reads and checks the config file at `path`; never stops at the first error.
pub fn compile_file(path: &Path) -> Compiled {
    match std::fs::read_to_string(path) {
        Ok(text) => compile(&text, path),
        Err(e) => {
            let mut compiled = compile("", path);
            compiled.errors = vec![ConfigError {
                file: path.to_path_buf(),
                line: None,
                key: String::new(),
                message: format!("cannot read: {e}"),
            }];
            compiled.zones_dir_known = false;
            compiled.unsure_regions.all = true;
            compiled
        }
    }
}

/// Checks config `text`, reporting every problem; see [`Compiled`].
pub fn compile(text: &str, path: &Path) -> Compiled {
    let mut check = Checker::new(path, text);
    let mut root = match parse_toml(&mut check, text) {
        Ok(root) => root,
        Err(guess) => return after_syntax_errors(check, guess.get_ref()),
    };
    // serde's `deny_unknown_fields` stops at the first unknown key; find them all first.
    prune_unknown_keys(&mut check, root.get_mut());
    let raw: RawConfig = deserialize_refusing(&mut check, root).unwrap_or_default();
    let config = check.config(raw);
    let unsure_regions = UnsureRegions {
        all: check.refused("regions"),
        names: refused_regions(&check),
    };
    let zones_dir_known = !check.refused("server.zones_dir");
    Compiled {
        config,
        errors: check.finish().0,
        zones_dir_known,
        unsure_regions,
    }
}

/// Regions whose whole table was refused (`[regions] eu-west = 5`).
fn refused_regions(check: &Checker) -> Vec<String> {
    check
        .refused_keys()
        .iter()
        .filter_map(|k| k.strip_prefix("regions."))
        .filter(|name| !name.contains('.'))
        .map(str::to_owned)
        .collect()
}

/// After a syntax error the tree is a guess, so no value of it is checked; only where the
/// zones are is taken from it, so that they are still checked. Every region is unsure.
fn after_syntax_errors(check: Checker, guess: &DeTable) -> Compiled {
    let (file, text) = (check.file, check.text);
    let errors = check.finish().0;
    let written = guess
        .get("server")
        .and_then(|s| match s.get_ref() {
            DeValue::Table(t) => t.get("zones_dir"),
            _ => None,
        })
        .map(|v| match v.get_ref() {
            DeValue::String(s) if !s.is_empty() => Some(Spanned::new(v.span(), s.to_string())),
            _ => None,
        });
    // Known when the guess holds a usable value, or when no error line mentions the key.
    let zones_dir_known = match &written {
        Some(value) => value.is_some(),
        None => !errors.iter().filter_map(|e| e.line).any(|n| {
            text.lines()
                .nth(n - 1)
                .is_some_and(|l| l.contains("zones_dir"))
        }),
    };
    let mut stand_in = Checker::new(file, "");
    let raw = RawConfig {
        server: Some(RawServer {
            zones_dir: written.flatten(),
            ..RawServer::default()
        }),
        ..RawConfig::default()
    };
    let config = stand_in.config(raw);
    Compiled {
        config,
        errors,
        zones_dir_known,
        unsure_regions: UnsureRegions {
            all: true,
            names: Vec::new(),
        },
    }
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
            "dnssec" => prune_table::<super::raw::RawDnssec>(check, table, &prefix),
            "tsig" => {
                for (name, key) in table.iter_mut() {
                    if let DeValue::Table(key) = key.get_mut() {
                        let prefix = format!("{prefix}{}.", super::tsig::table_key(name.get_ref()));
                        prune_table::<super::tsig::RawTsigKey>(check, key, &prefix);
                    }
                }
            }
            "transfer" => {
                for (zone, t) in table.iter_mut() {
                    if let DeValue::Table(t) = t.get_mut() {
                        let prefix = format!("{prefix}{}.", super::tsig::table_key(zone.get_ref()));
                        prune_table::<super::transfer::RawTransfer>(check, t, &prefix);
                    }
                }
            }
            "secondary" => {
                for (zone, t) in table.iter_mut() {
                    if let DeValue::Table(t) = t.get_mut() {
                        let prefix = format!("{prefix}{}.", super::tsig::table_key(zone.get_ref()));
                        prune_table::<super::secondary::RawSecondary>(check, t, &prefix);
                    }
                }
            }
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

/// The `[server] api_*` keys as written.
struct ApiRaw {
    tls_cert: Option<Spanned<String>>,
    tls_key: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
    max_connections_per_source: Option<Spanned<i64>>,
    header_timeout: Option<Spanned<String>>,
    body_timeout: Option<Spanned<String>>,
}

/// The checks of `meridian.toml`'s tables, on the shared [`Checker`].
impl Checker<'_> {
    fn config(&mut self, raw: RawConfig) -> Config {
        let regions = self.regions(raw.regions.unwrap_or_default());
        let mut raw_server = raw.server.unwrap_or_default();
        let limits = self.limits(
            raw.rrl.unwrap_or_default(),
            raw.cookies.unwrap_or_default(),
            &mut raw_server,
        );
        let identity = self.identity(&mut raw_server);
        let server = self.server(raw_server, &regions);
        let geoip = self.geoip(raw.geoip.unwrap_or_default());
        let fleet = self.fleet(raw.fleet.unwrap_or_default());
        let tsig = self.tsig_keys(raw.tsig.unwrap_or_default());
        let transfer = self.transfers(raw.transfer.unwrap_or_default(), &tsig);
        let secondary = self.secondaries(raw.secondary.unwrap_or_default(), &tsig);
        let dnssec = self.dnssec(raw.dnssec.unwrap_or_default());
        Config {
            path: self.file.to_path_buf(),
            server,
            geoip,
            fleet,
            regions,
            limits,
            identity,
            tsig,
            transfer,
            secondary,
            dnssec,
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
            api: self.api_server(ApiRaw {
                tls_cert: raw.api_tls_cert,
                tls_key: raw.api_tls_key,
                max_connections: raw.api_max_connections,
                max_connections_per_source: raw.api_max_connections_per_source,
                header_timeout: raw.api_header_timeout,
                body_timeout: raw.api_body_timeout,
            }),
        }
    }

    fn api_server(&mut self, raw: ApiRaw) -> ApiServerConfig {
        let tls = match (raw.tls_cert, raw.tls_key) {
            (Some(cert), Some(key)) => Some((
                self.path(Some(cert), "server.api_tls_cert", ""),
                self.path(Some(key), "server.api_tls_key", ""),
            )),
            (None, None) => None,
            (Some(cert), None) => {
                let message = "needs server.api_tls_key too (the certificate's private key)";
                self.error(Some(cert.span()), "server.api_tls_cert", message);
                None
            }
            (None, Some(key)) => {
                let message = "needs server.api_tls_cert too (the certificate chain)";
                self.error(Some(key.span()), "server.api_tls_key", message);
                None
            }
        };
        let mut count = |raw, key, default| {
            usize::try_from(self.int(raw, key, default, 1..=1_000_000)).unwrap_or(usize::MAX)
        };
        let max_connections = count(
            raw.max_connections,
            "server.api_max_connections",
            DEFAULT_API_MAX_CONNECTIONS,
        );
        let max_connections_per_source = count(
            raw.max_connections_per_source,
            "server.api_max_connections_per_source",
            DEFAULT_API_MAX_CONNECTIONS_PER_SOURCE,
        );
        ApiServerConfig {
            tls,
            max_connections,
            max_connections_per_source,
            header_timeout: self.duration(
                raw.header_timeout,
                "server.api_header_timeout",
                DEFAULT_API_HEADER_TIMEOUT,
            ),
            body_timeout: self.duration(
                raw.body_timeout,
                "server.api_body_timeout",
                DEFAULT_API_BODY_TIMEOUT,
            ),
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
        let unsure = self.refused("regions") || self.refused(&format!("regions.{name}"));
        if name.is_empty() {
            if !regions.is_empty() && !self.refused("server.region") {
                let message = format!("required when [regions] are defined (known: {known})");
                self.error(span, "server.region", message);
            }
        } else if !unsure && !regions.iter().any(|r| r.name == name) {
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
        let database = self.geo_database(raw.database, raw.enabled);
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

    /// Left out: the shipped database. `database = ""` or `enabled = false`: off.
    fn geo_database(
        &mut self,
        database: Option<Spanned<String>>,
        enabled: Option<Spanned<bool>>,
    ) -> GeoDatabase {
        let enabled_value = enabled.as_ref().map(|e| *e.get_ref());
        match (database, enabled_value) {
            (Some(path), Some(false)) if !path.get_ref().is_empty() => {
                let message = format!(
                    "{:?} is set, but geoip.enabled = false: remove one of the two",
                    path.get_ref()
                );
                self.error(Some(path.span()), "geoip.database", message);
                GeoDatabase::Off
            }
            (_, Some(false)) => GeoDatabase::Off,
            (Some(path), enabled) if path.get_ref().is_empty() => {
                if enabled == Some(true) {
                    let message = r#"is "" (off), but geoip.enabled = true: leave database out for the shipped one, or give a path"#;
                    self.error(Some(path.span()), "geoip.database", message);
                }
                GeoDatabase::Off
            }
            (Some(path), _) => GeoDatabase::File(self.path(Some(path), "geoip.database", "")),
            (None, _) => GeoDatabase::Shipped,
        }
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
                "regions" => Quorum::Regions,
                "all" => Quorum::All,
                "any" => Quorum::Any,
                _ => {
                    let message = format!(
                        r#"{word:?} is not a quorum (use "majority", "regions", "all", "any" or a number >= 1)"#
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
                position: Position::of(lat, lon),
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
            if self.refused(key) {
                return 0.0;
            }
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

    /// `[dnssec]`: the key directory and the signature times, `refresh` checked against
    /// `validity` (the error names `refresh`'s line).
    fn dnssec(&mut self, raw: super::raw::RawDnssec) -> DnssecConfig {
        let defaults = crate::dnssec::Validity::default();
        let key_dir = self.path(raw.key_dir, "dnssec.key_dir", DEFAULT_KEY_DIR);
        let validity = self.duration(raw.validity, "dnssec.validity", defaults.validity);
        let backdate = self.duration_or_zero(raw.backdate, "dnssec.backdate", defaults.backdate);
        let jitter_written = raw.jitter.is_some();
        let jitter = self.duration_or_zero(raw.jitter, "dnssec.jitter", defaults.jitter);
        let refresh_span = raw.refresh.as_ref().map(|r| r.span());
        let refresh = match raw.refresh {
            Some(text) => self.parse_duration(&text, "dnssec.refresh"),
            // Half the validity when only the validity is written.
            None if validity != defaults.validity => Some(validity / 2),
            None => Some(DEFAULT_DNSSEC_REFRESH),
        };
        let refresh = match refresh {
            Some(r) if r >= validity => {
                self.error(
                    refresh_span,
                    "dnssec.refresh",
                    format!(
                        "refresh ({}) must be shorter than validity ({})",
                        humantime::format_duration(r),
                        humantime::format_duration(validity)
                    ),
                );
                validity / 2
            }
            Some(r) => r,
            None => validity / 2,
        };
        // Unwritten, the jitter is at most a quarter of the time between refresh and expiry.
        let jitter = if jitter_written {
            jitter
        } else {
            jitter.min(validity.saturating_sub(refresh) / 4)
        };
        if jitter >= validity.saturating_sub(refresh) && !jitter.is_zero() {
            self.error(
                None,
                "dnssec.jitter",
                format!(
                    "jitter ({}) must be shorter than validity minus refresh ({})",
                    humantime::format_duration(jitter),
                    humantime::format_duration(validity.saturating_sub(refresh))
                ),
            );
        }
        DnssecConfig {
            key_dir,
            validity: crate::dnssec::Validity {
                validity,
                backdate,
                jitter,
            },
            refresh,
        }
    }

    /// A duration that may be 0 (`"0s"`), else as [`Self::duration`].
    fn duration_or_zero(
        &mut self,
        raw: Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Duration {
        match raw {
            Some(text) if humantime::parse_duration(text.get_ref()).is_ok_and(|d| d.is_zero()) => {
                Duration::ZERO
            }
            raw => self.duration(raw, key, default),
        }
    }

    fn duration(&mut self, raw: Option<Spanned<String>>, key: &str, default: Duration) -> Duration {
        raw.and_then(|text| self.parse_duration(&text, key))
            .unwrap_or(default)
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
                self.refuse(key);
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

#[cfg(test)]
mod tests;

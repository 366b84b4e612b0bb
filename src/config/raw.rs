//! serde shapes of `meridian.toml` and `zones/<origin>.toml` exactly as written: every key
//! optional, no defaults, no checks.
//!
//! Values that `compile.rs` and `services/` check keep their `Spanned` position so errors
//! can name a line. Integers stay `i64` (what TOML holds) so a range error says "above the
//! maximum", not "expected u16". Nothing here validates, resolves names or knows defaults.

use compact_str::CompactString;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::cell::Cell;
use std::fmt;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawConfig {
    pub server: Option<RawServer>,
    pub geoip: Option<RawGeoip>,
    pub fleet: Option<RawFleet>,
    /// File order matters (`Config.regions` keeps it), hence `IndexMap`.
    pub regions: Option<IndexMap<Spanned<String>, RawRegion>>,
    pub rrl: Option<super::limits::RawRrl>,
    pub cookies: Option<super::limits::RawCookies>,
    /// `[tsig.NAME]`, in file order.
    pub tsig: Option<IndexMap<Spanned<String>, super::tsig::RawTsigKey>>,
    /// `[transfer.ZONE]`, in file order.
    pub transfer: Option<IndexMap<Spanned<String>, super::transfer::RawTransfer>>,
    /// `[secondary.ZONE]`, in file order.
    pub secondary: Option<IndexMap<Spanned<String>, super::secondary::RawSecondary>>,
    pub dnssec: Option<RawDnssec>,
}

/// `[dnssec]`: where the zone keys are (`meridian dnssec keygen`, `ds`) and how long
/// `serve`'s signatures last.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawDnssec {
    pub key_dir: Option<Spanned<String>>,
    pub validity: Option<Spanned<String>>,
    pub refresh: Option<Spanned<String>>,
    pub backdate: Option<Spanned<String>>,
    pub jitter: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawServer {
    pub region: Option<Spanned<String>>,
    pub dns_listen: Option<Spanned<Vec<Spanned<String>>>>,
    pub api_listen: Option<Spanned<String>>,
    pub zones_dir: Option<Spanned<String>>,
    pub state_dir: Option<Spanned<String>>,
    pub udp_workers: Option<Spanned<i64>>,
    pub max_udp_payload: Option<Spanned<i64>>,
    pub tcp_idle_timeout: Option<Spanned<String>>,
    pub tcp_max_connections: Option<Spanned<i64>>,
    /// Checked in `limits.rs`.
    pub tcp_max_connections_per_source: Option<Spanned<i64>>,
    pub tcp_write_timeout: Option<Spanned<String>>,
    pub tcp_max_queued_replies: Option<Spanned<i64>>,
    /// The HTTP API's own limits and TLS (`ApiServerConfig`).
    pub api_tls_cert: Option<Spanned<String>>,
    pub api_tls_key: Option<Spanned<String>>,
    pub api_max_connections: Option<Spanned<i64>>,
    pub api_max_connections_per_source: Option<Spanned<i64>>,
    pub api_header_timeout: Option<Spanned<String>>,
    pub api_body_timeout: Option<Spanned<String>>,
    /// What the server says about itself; checked in `identity.rs`.
    pub identity: Option<Spanned<String>>,
    pub nsid: Option<Spanned<RawSwitch>>,
    pub version: Option<Spanned<RawSwitch>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawGeoip {
    /// Left out: the shipped database; `""`: off.
    pub database: Option<Spanned<String>>,
    /// `false`: off, the same as `database = ""`.
    pub enabled: Option<Spanned<bool>>,
    /// Dotted paths into the database's records, for layouts we do not know.
    pub country_field: Option<Spanned<String>>,
    pub continent_field: Option<Spanned<String>>,
    pub latitude_field: Option<Spanned<String>>,
    pub longitude_field: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawFleet {
    pub token_file: Option<Spanned<String>>,
    pub quorum: Option<Spanned<RawQuorum>>,
    pub local_prober: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawRegion {
    pub lat: Option<Spanned<f64>>,
    pub lon: Option<Spanned<f64>>,
}

/// `quorum` is a word (`"majority"`, ...) or a count of probers; which word is valid is
/// decided in `compile.rs`. A hand-written visitor rather than `#[serde(untagged)]`, whose
/// error ("did not match any variant") would tell the operator nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum RawQuorum {
    Word(String),
    Count(i64),
}

impl<'de> Deserialize<'de> for RawQuorum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuorumVisitor;
        impl Visitor<'_> for QuorumVisitor {
            type Value = RawQuorum;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#""majority", "regions", "all", "any" or a number of probers"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawQuorum, E> {
                Ok(RawQuorum::Word(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawQuorum, E> {
                Ok(RawQuorum::Count(v))
            }
        }
        deserializer.deserialize_any(QuorumVisitor)
    }
}

/// `on_all_down`: a word (`"all"`, `"nodata"`), `{ fallback = [ADDRESSES] }` or
/// `{ cname = "NAME." }`. A
/// hand-written visitor, like [`RawQuorum`], so a wrong type gets a useful message.
#[derive(Debug, Clone, PartialEq)]
pub enum RawOnAllDown {
    Word(String),
    Fallback(RawFallback),
}

/// `on_all_down = { fallback = [...] }`. Inside the inline table values carry no spans:
/// errors point at `on_all_down`, which is one line.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    pub fallback: Option<Vec<String>>,
    /// `on_all_down = { cname = "backup.example.net." }`.
    pub cname: Option<String>,
}

impl<'de> Deserialize<'de> for RawOnAllDown {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OnAllDownVisitor;
        impl<'de> Visitor<'de> for OnAllDownVisitor {
            type Value = RawOnAllDown;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#""all", "nodata", { fallback = [addresses] } or { cname = "name." }"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawOnAllDown, E> {
                Ok(RawOnAllDown::Word(v.to_owned()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawOnAllDown, A::Error> {
                RawFallback::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawOnAllDown::Fallback)
            }
        }
        deserializer.deserialize_any(OnAllDownVisitor)
    }
}

/// `true`, `false` or a text (`nsid`, `version`). A hand-written visitor, like
/// [`RawQuorum`], so a wrong type gets a useful message.
#[derive(Debug, Clone, PartialEq)]
pub enum RawSwitch {
    Flag(bool),
    Text(String),
}

impl<'de> Deserialize<'de> for RawSwitch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SwitchVisitor;
        impl Visitor<'_> for SwitchVisitor {
            type Value = RawSwitch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or a text")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawSwitch, E> {
                Ok(RawSwitch::Flag(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSwitch, E> {
                Ok(RawSwitch::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(SwitchVisitor)
    }
}

/// The top-level keys of `zones/<origin>.toml`. There is no struct for the whole file:
/// `services/check.rs` deserializes each `[services.NAME]` on its own, so that a value of the
/// wrong type in one service does not hide the problems of the others.
pub const SERVICES_FILE_KEYS: &[&str] = &["services"];

/// One `[services.NAME]` table of `zones/<origin>.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawService {
    pub ttl: Option<Spanned<i64>>,
    pub max_answers: Option<Spanned<i64>>,
    pub policy: Option<Spanned<String>>,
    /// Region names, for `policy = "failover"` only.
    pub order: Option<Spanned<Vec<Spanned<String>>>>,
    pub check: Option<Spanned<RawCheck>>,
    pub endpoints: Option<Spanned<Vec<Spanned<RawEndpoint>>>>,
    /// `[[services.NAME.route]]`, singular as written.
    pub route: Option<Vec<Spanned<RawRoute>>>,
    pub on_all_down: Option<Spanned<RawOnAllDown>>,
    pub unknown_location: Option<Spanned<Vec<Spanned<String>>>>,
    /// Share a partly healthy region keeps: healthy fraction × this (Envoy's factor).
    pub overprovision: Option<Spanned<f64>>,
    /// Region name → geoproximity bias, -99..=99, for `policy = "nearest"` only.
    pub bias: Option<Spanned<indexmap::IndexMap<Spanned<String>, Spanned<i64>>>>,
    /// `{ switch_percent = P, switch_ms = M }`, for `policy = "latency"` only.
    pub latency: Option<Spanned<RawLatency>>,
    /// `false`, or `{ low = L, high = H }`: load watermarks.
    pub shed_load: Option<Spanned<RawShedLoad>>,
}

/// `latency = { ... }`. Inside the inline table values carry no spans: errors point at
/// `latency`, which is one line.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatency {
    pub switch_percent: Option<i64>,
    pub switch_ms: Option<i64>,
}

/// `shed_load = false` or `shed_load = { low = 0.7, high = 0.95 }`. A hand-written
/// visitor, like [`RawOnAllDown`], so a wrong type gets a useful message.
#[derive(Debug, Clone, PartialEq)]
pub enum RawShedLoad {
    Flag(bool),
    Watermarks(RawWatermarks),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatermarks {
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl<'de> Deserialize<'de> for RawShedLoad {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShedLoadVisitor;
        impl<'de> Visitor<'de> for ShedLoadVisitor {
            type Value = RawShedLoad;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or { low = 0.7, high = 0.95 }")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawShedLoad, E> {
                Ok(RawShedLoad::Flag(v))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawShedLoad, A::Error> {
                RawWatermarks::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawShedLoad::Watermarks)
            }
        }
        deserializer.deserialize_any(ShedLoadVisitor)
    }
}

/// `check = { ... }` or `[services.NAME.check]`: one table whatever the kind, so a key
/// that does not apply to the kind (`path` on tcp) can be named in an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawCheck {
    pub kind: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub path: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub insecure: Option<Spanned<bool>>,
    pub expect: Option<Spanned<Vec<Spanned<RawStatus>>>>,
    pub body: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    /// The short interval between checks while counting toward `fall`.
    pub recheck: Option<Spanned<String>>,
    pub rise: Option<Spanned<i64>>,
    pub fall: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawEndpoint {
    // Inline strings: a file of 100,000 services has most of a million endpoints, and a
    // region name or an address fits in one (an allocation each was a tenth of a load).
    pub region: Option<Spanned<CompactString>>,
    pub address: Option<Spanned<CompactString>>,
    pub capacity: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawRoute {
    pub countries: Option<Spanned<Vec<Spanned<String>>>>,
    pub continents: Option<Spanned<Vec<Spanned<String>>>>,
    pub networks: Option<Spanned<Vec<Spanned<String>>>>,
    pub regions: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One item of `expect`: a status code (`204`) or a range written as a string (`"200-299"`).
/// A hand-written visitor, like [`RawQuorum`], so a wrong type gets a useful message.
#[derive(Debug, Clone, PartialEq)]
pub enum RawStatus {
    Code(i64),
    Range(String),
}

impl<'de> Deserialize<'de> for RawStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = RawStatus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a status code like 200 or a range like "200-299""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawStatus, E> {
                Ok(RawStatus::Range(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawStatus, E> {
                Ok(RawStatus::Code(v))
            }
        }
        deserializer.deserialize_any(StatusVisitor)
    }
}

/// The keys a `#[derive(Deserialize)]` struct accepts, asked of serde itself.
///
/// `diagnostics.rs` uses this to report every unknown key at once (serde's
/// `deny_unknown_fields` stops at the first), without a second hand-kept key list
/// that could drift from the structs above.
pub fn known_keys<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let seen = Cell::new(None);
    let _ = T::deserialize(KeyLister { seen: &seen });
    seen.get().unwrap_or(&[])
}

/// A deserializer that records the field list serde hands to `deserialize_struct`, then stops.
struct KeyLister<'a> {
    seen: &'a Cell<Option<&'static [&'static str]>>,
}

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("listing keys")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for KeyLister<'_> {
    type Error = Stop;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.seen.set(Some(fields));
        Err(Stop)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_come_from_the_structs() {
        assert_eq!(
            known_keys::<RawConfig>(),
            [
                "server",
                "geoip",
                "fleet",
                "regions",
                "rrl",
                "cookies",
                "tsig",
                "transfer",
                "secondary",
                "dnssec"
            ]
        );
        assert_eq!(known_keys::<RawRegion>(), ["lat", "lon"]);
        assert_eq!(
            known_keys::<RawFleet>(),
            ["token_file", "quorum", "local_prober"]
        );
        assert_eq!(
            known_keys::<RawGeoip>(),
            [
                "database",
                "enabled",
                "country_field",
                "continent_field",
                "latitude_field",
                "longitude_field"
            ]
        );
        assert_eq!(known_keys::<RawServer>().len(), 21);
        assert!(known_keys::<String>().is_empty());
        assert_eq!(
            known_keys::<RawService>(),
            [
                "ttl",
                "max_answers",
                "policy",
                "order",
                "check",
                "endpoints",
                "route",
                "on_all_down",
                "unknown_location",
                "overprovision",
                "bias",
                "latency",
                "shed_load"
            ]
        );
        assert_eq!(
            known_keys::<RawEndpoint>(),
            ["region", "address", "capacity"]
        );
        assert_eq!(
            known_keys::<RawRoute>(),
            ["countries", "continents", "networks", "regions"]
        );
        assert_eq!(known_keys::<RawCheck>().len(), 12);
    }
}

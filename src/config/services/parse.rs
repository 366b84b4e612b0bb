//! Single values of a services file → typed values, or the reason they are refused:
//! service names, region names, countries, continents, networks, addresses, status ranges.
//!
//! Pure functions of the text (and the config, for regions); the caller adds file, line
//! and key to the message.

use std::net::IpAddr;

use hickory_proto::rr::Name;
use ipnet::IpNet;

use super::super::compile::{Config, UnsureRegions};

pub(super) const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// ISO 3166-1 alpha-2 (249 codes), plus XK (Kosovo), which geolocation databases use.
/// Checked so that a typo such as "UK" is an error rather than a route that never matches.
pub(super) const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
    BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
    DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP \
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI \
    KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP \
    MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM \
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX \
    SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU \
    WF WS YE YT ZA ZM ZW XK";

pub(super) fn label_count(name: &Name) -> usize {
    name.iter().count()
}

/// `name` written relative to `origin` (`@` for the origin itself).
pub(super) fn relative_text(name: &Name, origin: &Name) -> String {
    let own = label_count(name).saturating_sub(label_count(origin));
    if own == 0 {
        return "@".to_owned();
    }
    name.iter()
        .take(own)
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(".")
}

/// The key of a service as an operator would write it: `services.www`, `services."api.eu"`.
pub(super) fn service_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare {
        format!("services.{name}")
    } else {
        format!("services.{name:?}")
    }
}

/// The fully qualified name for the service key `text` in the zone `origin`, or why not.
pub(super) fn service_name(text: &str, origin: &Name) -> Result<Name, String> {
    // Only for messages: made when there is one.
    let zone = || origin.to_ascii();
    if text == "@" {
        return Ok(origin.clone());
    }
    if text.is_empty() {
        return Err(r#"empty name (write "@" for the zone's apex)"#.to_owned());
    }
    if text.contains('*') {
        return Err(format!(
            "{text:?}: a wildcard cannot be load-balanced; list each name"
        ));
    }
    if text.ends_with('.') {
        let relative = Name::from_ascii(text)
            .ok()
            .filter(|n| origin.zone_of(n))
            .map(|n| relative_text(&n, origin));
        return Err(match relative {
            Some(relative) => format!(
                "{text:?} is absolute; names here are relative to the zone {}: write {relative:?}",
                zone()
            ),
            None => format!(
                "{text:?} is absolute and not in the zone {}; names here are relative to it",
                zone()
            ),
        });
    }
    for label in text.split('.') {
        if label.is_empty() {
            return Err(format!("{text:?} has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!(
                "{text:?}: the label {label:?} is longer than 63 bytes"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "{text:?} is not a DNS name: use labels of letters, digits, '-' and '_' \
                 separated by '.', or \"@\" for the apex"
            ));
        }
    }
    Name::from_ascii(text)
        .and_then(|n| n.append_domain(origin))
        .map_err(|_| format!("{text:?} in the zone {} is longer than 255 bytes", zone()))
}

/// A region name → its index in `config.regions`, or the error listing the known ones.
/// A name in `unsure` (its definition in `meridian.toml` failed, and that was reported)
/// gives an empty message: refused, but not reported again.
pub(super) fn region_index(
    config: &Config,
    unsure: &UnsureRegions,
    name: &str,
) -> Result<usize, String> {
    match config.regions.iter().position(|r| r.name == name) {
        Some(i) => Ok(i),
        None if unsure.contains(name) => Err(String::new()),
        None => Err(format!(
            "unknown region {name:?} ({})",
            known_regions(config)
        )),
    }
}

/// `known: eu-west, us-east`, for messages about a region name.
pub(super) fn known_regions(config: &Config) -> String {
    if config.regions.is_empty() {
        return format!(
            "no [regions.NAME] tables are defined in {}",
            config.path.display()
        );
    }
    let known = config
        .regions
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    format!("known: {known}")
}

pub(super) fn country(text: &str) -> Result<[u8; 2], String> {
    let upper = text.to_ascii_uppercase();
    if upper.len() == 2 && COUNTRIES.split(' ').any(|c| c == upper) {
        let b = upper.as_bytes();
        return Ok([b[0], b[1]]);
    }
    if upper == "UK" {
        return Err(r#""UK" is not an ISO 3166 country code (the United Kingdom is "GB")"#.into());
    }
    Err(format!(
        r#"{text:?} is not an ISO 3166-1 alpha-2 country code (like "AU" or "NZ")"#
    ))
}

pub(super) fn continent(text: &str) -> Result<[u8; 2], String> {
    let upper = text.to_ascii_uppercase();
    if CONTINENTS.contains(&upper.as_str()) {
        let b = upper.as_bytes();
        return Ok([b[0], b[1]]);
    }
    Err(format!(
        "{text:?} is not a continent code (known: {})",
        CONTINENTS.join(", ")
    ))
}

pub(super) fn network(text: &str) -> Result<IpNet, String> {
    let net: IpNet = text.parse().map_err(|_| {
        format!(r#"{text:?} is not a network like "10.0.0.0/8" or "2001:db8::/32""#)
    })?;
    if net.trunc() != net {
        return Err(format!(
            "{text:?} has host bits set (did you mean \"{}\"?)",
            net.trunc()
        ));
    }
    Ok(net)
}

pub(super) fn address(text: &str) -> Result<IpAddr, String> {
    let addr: IpAddr = text.parse().map_err(|_| {
        format!(r#"{text:?} is not an IP address (like "203.0.113.10" or "2001:db8::10")"#)
    })?;
    let broadcast = matches!(addr, IpAddr::V4(v4) if v4.is_broadcast());
    if addr.is_unspecified() || addr.is_multicast() || broadcast {
        return Err(format!("{addr} is not a unicast address"));
    }
    Ok(addr)
}

/// `"200-299"` (or `"204"`) → the two ends, not yet range-checked.
pub(super) fn status_range(text: &str) -> Option<(i64, i64)> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    Some((low.trim().parse().ok()?, high.trim().parse().ok()?))
}

/// FNV-1a of the lower-case name: stable across restarts and builds.
pub(super) fn name_salt(name: &Name) -> u64 {
    name.to_ascii()
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
}

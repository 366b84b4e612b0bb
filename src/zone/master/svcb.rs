//! SVCB and HTTPS (RFC 9460): priority, target and SvcParams, every key by name
//! (`mandatory`, `alpn`, `no-default-alpn`, `port`, `ipv4hint`, `ech`, `ipv6hint`,
//! `dohpath` of RFC 9461, `ohttp` of RFC 9540) or as `keyNNNNN`.
//!
//! Params are written sorted by key (§2.2), and the rules of §8 and §7.1.1 are checked:
//! no key twice, every mandatory key present, `alpn` with `no-default-alpn`.

use super::Fail;
use super::fields::{Fields, bad, name_field, u16_field};
use super::lexer::Token;
use super::names::unescape;
use data_encoding::BASE64;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

const KEYS: &[(&str, u16)] = &[
    ("mandatory", 0),
    ("alpn", 1),
    ("no-default-alpn", 2),
    ("port", 3),
    ("ipv4hint", 4),
    ("ech", 5),
    ("ipv6hint", 6),
    ("dohpath", 7),
    ("ohttp", 8),
];

/// A key's number from its name or `keyNNNNN`.
fn key_number(name: &str) -> Option<u16> {
    if let Some(&(_, n)) = KEYS.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        return Some(n);
    }
    let digits = name.strip_prefix("key")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None; // RFC 9460 §2.1: without leading zeros
    }
    digits.parse::<u16>().ok().filter(|&n| n != 65535)
}

fn key_name(key: u16) -> String {
    match KEYS.iter().find(|(_, n)| *n == key) {
        Some((name, _)) => name.to_string(),
        None => format!("key{key}"),
    }
}

/// Splits a value-list (RFC 9460 Appendix A.1): items are separated by commas; `\,`
/// and `\\` stand for a comma and a backslash inside an item.
fn value_list(value: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => {
                if let (Some(&next), Some(item)) = (bytes.next(), items.last_mut()) {
                    item.push(next);
                }
            }
            b',' => items.push(Vec::new()),
            _ => {
                if let Some(item) = items.last_mut() {
                    item.push(b);
                }
            }
        }
    }
    items
}

pub(super) fn svcb(fields: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    u16_field(fields, "priority", out)?;
    name_field(fields, "target name", out)?;
    let mut params: BTreeMap<u16, (Vec<u8>, &Token)> = BTreeMap::new();
    let mut mandatory: Vec<u16> = Vec::new();
    for t in fields.rest("SvcParams", true)? {
        const WHAT: &str = "SvcParam";
        if t.quoted {
            return Err(bad(t, WHAT, "a SvcParam is key=value, not a quoted string"));
        }
        let (key_text, value) = match t.text.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (t.text, None),
        };
        let key = key_number(key_text).ok_or_else(|| bad(t, WHAT, "unknown SvcParam key"))?;
        let value = match value {
            Some(v) => {
                let inner = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                Some(unescape(inner).map_err(|m| bad(t, WHAT, m))?)
            }
            None => None,
        };
        let name = key_name(key);
        let need_value = |v: Option<Vec<u8>>| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| bad(t, WHAT, format!("{name} needs a value")))
        };
        let wire = if key_text.starts_with("key") && key_number(key_text).is_some() {
            // keyNNNNN: the value is the wire form itself (RFC 9460 §2.1).
            value.unwrap_or_default()
        } else {
            match key {
                0 => {
                    let mut keys = Vec::new();
                    for item in value_list(&need_value(value)?) {
                        let item = String::from_utf8(item).unwrap_or_default();
                        let k = key_number(&item)
                            .ok_or_else(|| bad(t, WHAT, format!("unknown key {item:?}")))?;
                        if k == 0 {
                            return Err(bad(t, WHAT, "mandatory cannot list itself"));
                        }
                        keys.push(k);
                    }
                    keys.sort_unstable();
                    if keys.windows(2).any(|w| w[0] == w[1]) {
                        return Err(bad(t, WHAT, "mandatory lists a key twice"));
                    }
                    mandatory = keys.clone();
                    keys.iter().flat_map(|k| k.to_be_bytes()).collect()
                }
                1 => {
                    let mut wire = Vec::new();
                    for id in value_list(&need_value(value)?) {
                        if id.is_empty() || id.len() > 255 {
                            return Err(bad(t, WHAT, "an alpn-id is 1 to 255 bytes"));
                        }
                        wire.push(id.len() as u8);
                        wire.extend_from_slice(&id);
                    }
                    wire
                }
                2 | 8 => {
                    if value.is_some() {
                        return Err(bad(t, WHAT, format!("{name} takes no value")));
                    }
                    Vec::new()
                }
                3 => {
                    let v = need_value(value)?;
                    let text = String::from_utf8(v).unwrap_or_default();
                    let port = text
                        .parse::<u16>()
                        .ok()
                        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| bad(t, WHAT, "port is not a number 0-65535"))?;
                    port.to_be_bytes().to_vec()
                }
                4 | 6 => {
                    let mut wire = Vec::new();
                    for item in value_list(&need_value(value)?) {
                        let text = String::from_utf8(item).unwrap_or_default();
                        if key == 4 {
                            let a = Ipv4Addr::from_str(&text).map_err(|_| {
                                bad(t, WHAT, format!("{text:?} is not an IPv4 address"))
                            })?;
                            wire.extend_from_slice(&a.octets());
                        } else {
                            let a = Ipv6Addr::from_str(&text).map_err(|_| {
                                bad(t, WHAT, format!("{text:?} is not an IPv6 address"))
                            })?;
                            wire.extend_from_slice(&a.octets());
                        }
                    }
                    wire
                }
                5 => BASE64
                    .decode(&need_value(value)?)
                    .map_err(|e| bad(t, WHAT, format!("ech is not base64 ({e})")))?,
                7 => {
                    let v = need_value(value)?;
                    if std::str::from_utf8(&v).is_err() {
                        return Err(bad(t, WHAT, "dohpath must be UTF-8 (RFC 9461 §5)"));
                    }
                    v
                }
                _ => value.unwrap_or_default(),
            }
        };
        if wire.len() > usize::from(u16::MAX) {
            return Err(bad(t, WHAT, "value longer than 65535 bytes"));
        }
        if params.insert(key, (wire, t)).is_some() {
            return Err(bad(t, WHAT, format!("{name} is given twice")));
        }
    }
    for key in &mandatory {
        if !params.contains_key(key) {
            let t = params[&0].1;
            return Err(bad(
                t,
                "SvcParam",
                format!("mandatory key {} is not in the record", key_name(*key)),
            ));
        }
    }
    if let Some((_, t)) = params.get(&2)
        && !params.contains_key(&1)
    {
        return Err(bad(t, "SvcParam", "no-default-alpn needs alpn too"));
    }
    for (key, (wire, _)) in params {
        out.extend_from_slice(&key.to_be_bytes());
        out.extend_from_slice(&(wire.len() as u16).to_be_bytes());
        out.extend_from_slice(&wire);
    }
    Ok(())
}

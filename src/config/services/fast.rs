//! The parsed tree of one `[services.NAME]` straight into [`RawService`], without serde,
//! for the values services files are written with: integers, strings, booleans, lists of
//! strings, the endpoint, check and route tables. Anything else (a value of another
//! type, an `on_all_down`, `bias`, `overprovision` or `expect`) gives `None`, and serde
//! reads that service as before, with its messages. A file of 100,000 services spends
//! less than half the time here that serde's pass over the spanned values takes.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::super::raw::{RawCheck, RawEndpoint, RawRoute, RawService};

type Value<'t> = Spanned<DeValue<'t>>;

fn int(v: &Value) -> Option<Spanned<i64>> {
    match v.get_ref() {
        DeValue::Integer(i) => {
            let n = i64::from_str_radix(i.as_str(), i.radix()).ok()?;
            Some(Spanned::new(v.span(), n))
        }
        _ => None,
    }
}

fn string<S: for<'s> From<&'s str>>(v: &Value) -> Option<Spanned<S>> {
    match v.get_ref() {
        DeValue::String(s) => Some(Spanned::new(v.span(), S::from(s.as_ref()))),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<Spanned<bool>> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(Spanned::new(v.span(), *b)),
        _ => None,
    }
}

fn strings(v: &Value) -> Option<Spanned<Vec<Spanned<String>>>> {
    match v.get_ref() {
        DeValue::Array(items) => {
            let list = items.iter().map(string).collect::<Option<Vec<_>>>()?;
            Some(Spanned::new(v.span(), list))
        }
        _ => None,
    }
}

fn table<'a, 't>(v: &'a Value<'t>) -> Option<&'a DeTable<'t>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => None,
    }
}

fn tables<'a, 't>(v: &'a Value<'t>) -> Option<&'a [Value<'t>]> {
    match v.get_ref() {
        DeValue::Array(items) => Some(items),
        _ => None,
    }
}

fn key<'a>(k: &'a Spanned<Cow<'_, str>>) -> &'a str {
    k.get_ref()
}

/// `value` (a service's table, unknown keys already removed) as serde would read it, or
/// `None` when it holds something only serde reads.
pub(super) fn raw_service(value: &Value) -> Option<RawService> {
    let mut raw = RawService::default();
    for (k, v) in table(value)? {
        match key(k) {
            "ttl" => raw.ttl = Some(int(v)?),
            "max_answers" => raw.max_answers = Some(int(v)?),
            "policy" => raw.policy = Some(string(v)?),
            "order" => raw.order = Some(strings(v)?),
            "unknown_location" => raw.unknown_location = Some(strings(v)?),
            "check" => raw.check = Some(Spanned::new(v.span(), check(table(v)?)?)),
            "endpoints" => {
                let list = tables(v)?
                    .iter()
                    .map(|e| Some(Spanned::new(e.span(), endpoint(table(e)?)?)))
                    .collect::<Option<Vec<_>>>()?;
                raw.endpoints = Some(Spanned::new(v.span(), list));
            }
            "route" => {
                let list = tables(v)?
                    .iter()
                    .map(|r| Some(Spanned::new(r.span(), route(table(r)?)?)))
                    .collect::<Option<Vec<_>>>()?;
                raw.route = Some(list);
            }
            _ => return None,
        }
    }
    Some(raw)
}

fn endpoint(t: &DeTable) -> Option<RawEndpoint> {
    let mut raw = RawEndpoint::default();
    for (k, v) in t {
        match key(k) {
            "region" => raw.region = Some(string(v)?),
            "address" => raw.address = Some(string(v)?),
            "capacity" => raw.capacity = Some(int(v)?),
            _ => return None,
        }
    }
    Some(raw)
}

fn route(t: &DeTable) -> Option<RawRoute> {
    let mut raw = RawRoute::default();
    for (k, v) in t {
        match key(k) {
            "countries" => raw.countries = Some(strings(v)?),
            "continents" => raw.continents = Some(strings(v)?),
            "networks" => raw.networks = Some(strings(v)?),
            "regions" => raw.regions = Some(strings(v)?),
            _ => return None,
        }
    }
    Some(raw)
}

fn check(t: &DeTable) -> Option<RawCheck> {
    let mut raw = RawCheck::default();
    for (k, v) in t {
        match key(k) {
            "kind" => raw.kind = Some(string(v)?),
            "port" => raw.port = Some(int(v)?),
            "path" => raw.path = Some(string(v)?),
            "host" => raw.host = Some(string(v)?),
            "insecure" => raw.insecure = Some(boolean(v)?),
            "body" => raw.body = Some(string(v)?),
            "interval" => raw.interval = Some(string(v)?),
            "timeout" => raw.timeout = Some(string(v)?),
            "recheck" => raw.recheck = Some(string(v)?),
            "rise" => raw.rise = Some(int(v)?),
            "fall" => raw.fall = Some(int(v)?),
            _ => return None,
        }
    }
    Some(raw)
}

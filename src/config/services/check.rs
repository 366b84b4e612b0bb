//! The checks of one services file: each `[services.NAME]` table → a [`Service`], every
//! problem recorded with its line and key.
//!
//! Each check records its problem and returns a stand-in, so later checks still run; a
//! value of the wrong type stops only the service it is in.

use compact_str::CompactString;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use indexmap::IndexMap;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::super::compile::{Config, UnsureRegions};
use super::super::diagnostics::{Checker, in_toml_words, key_in_value, prune_table};
use super::super::raw::known_keys;
use super::super::raw::{
    RawCheck, RawEndpoint, RawFallback, RawLatency, RawOnAllDown, RawRoute, RawService,
    RawShedLoad, RawStatus, RawWatermarks,
};
use super::fast;
use super::parse::{
    address, continent, country, known_regions, name_salt, network, region_index, service_key,
    service_name, status_range,
};
use super::scan::ScannedService;
use super::{
    Check, CheckKind, Endpoint, LatencySwitch, NamedService, OnAllDown, Policy, Route, Service,
    ShedLoad,
};

const DEFAULT_TTL: i64 = 30;
const DEFAULT_MAX_ANSWERS: i64 = 1;
const DEFAULT_CAPACITY: i64 = 100;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
const MIN_RECHECK: Duration = Duration::from_millis(100);
const DEFAULT_RISE: i64 = 2;
const DEFAULT_FALL: i64 = 3;
const DEFAULT_EXPECT: (u16, u16) = (200, 399);

/// Most fallback addresses: one answer's worth.
const MAX_FALLBACK: usize = crate::route::MAX_ANSWERS;

const POLICIES: &str = "nearest, failover, weighted, latency";
const CHECK_KINDS: &str = "http, https, tcp";

/// Collects errors while turning one services file into [`Service`]s; like `compile.rs`,
/// each check records its problem and returns a stand-in, so later checks still run.
pub(super) struct ServiceChecker<'a> {
    pub(super) check: Checker<'a>,
    /// `check.file`, shared by every service and name of the file.
    pub(super) file: Arc<Path>,
    pub(super) config: &'a Config,
    pub(super) unsure: &'a UnsureRegions,
    pub(super) origin: &'a Name,
    /// Every service with a valid name, also those with errors (see [`NamedService`]).
    pub(super) names: Vec<NamedService>,
}

type RawList = Spanned<Vec<Spanned<String>>>;

impl<'a> ServiceChecker<'a> {
    fn error(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        self.check.error(Some(span), key, message);
    }

    /// The `services` table: each service is checked on its own, so a value of the wrong
    /// type stops only the service it is in.
    pub(super) fn services(&mut self, value: Spanned<DeValue>) -> Vec<Service> {
        let span = value.span();
        let table = match value.into_inner() {
            DeValue::Table(table) => table,
            other => {
                // Let serde word the type error, as it does for meridian.toml.
                let value = ValueDeserializer::from(Spanned::new(span.clone(), other));
                let message = match IndexMap::<String, IgnoredAny>::deserialize(value) {
                    Err(e) => in_toml_words(e.message()),
                    Ok(_) => "expected a table".to_owned(),
                };
                self.error(span, "services", message);
                return Vec::new();
            }
        };
        let mut services = Vec::new();
        // Name → (key as written, line) of the names seen so far, for duplicates. (hickory's
        // `Name` hashes and compares ignoring case, as DNS does.)
        let mut seen: FxHashMap<Name, (CompactString, usize)> = FxHashMap::default();
        // The file parsed again, once, at the first value of the wrong type: its message
        // names the key by searching the tree, which deserializing consumed (keeping a
        // copy of every service's tree for the rare error costs more than this).
        let mut reparsed: Option<Spanned<DeTable<'a>>> = None;
        for (written, mut value) in table {
            let text: &str = written.get_ref();
            let (key, line, name) = self.name(text, written.span(), &mut seen);
            self.prune(&mut value, &key);
            let fast = fast::raw_service(&value);
            let raw = match fast.map_or_else(
                || RawService::deserialize(ValueDeserializer::from(value)),
                Ok,
            ) {
                Ok(raw) => raw,
                Err(e) => {
                    let span = e.span().unwrap_or_else(|| written.span());
                    let text_all: &'a str = self.check.text;
                    let root =
                        reparsed.get_or_insert_with(|| DeTable::parse_recoverable(text_all).0);
                    let tree = match root.get_ref().get("services").map(|v| v.get_ref()) {
                        Some(DeValue::Table(t)) => t.get(text),
                        _ => None,
                    };
                    let at = tree
                        .and_then(|tree| key_in_value(tree, &span, &key))
                        .unwrap_or(key);
                    self.error(span, at, in_toml_words(e.message()));
                    continue;
                }
            };
            let service = self.service(raw, name.clone(), line, written.span(), &key);
            if name.is_some() {
                services.push(service);
            }
        }
        services
    }

    /// The services read by [`scan`](super::scan), checked as [`Self::services`] checks
    /// the parsed tree: the same names, lines and checks, with no tree in between.
    pub(super) fn scanned(&mut self, scanned: Vec<ScannedService>) -> Vec<Service> {
        let mut services = Vec::with_capacity(scanned.len());
        let mut seen: FxHashMap<Name, (CompactString, usize)> =
            FxHashMap::with_capacity_and_hasher(scanned.len(), Default::default());
        for ScannedService { name, span, raw } in scanned {
            let (key, line, name) = self.name(&name, span.clone(), &mut seen);
            let service = self.service(raw, name.clone(), line, span, &key);
            if name.is_some() {
                services.push(service);
            }
        }
        services
    }

    /// The service key `text` written at `span`: its key for messages, its line and its
    /// name (`None`, reported, when invalid or the same as an earlier one's).
    fn name(
        &mut self,
        text: &str,
        span: Range<usize>,
        seen: &mut FxHashMap<Name, (CompactString, usize)>,
    ) -> (String, usize, Option<Name>) {
        let key = service_key(text);
        let line = self.check.line(span.start);
        let name = match service_name(text, self.origin) {
            Ok(name) => Some(name),
            Err(message) => {
                self.error(span.clone(), key.clone(), message);
                None
            }
        };
        if let Some(name) = &name {
            if let Some((first, first_line)) = seen.get(name) {
                let message = format!(
                    "{text:?} is the same name as {first:?} on line {first_line} (DNS names ignore case)"
                );
                self.error(span, key.clone(), message);
            } else {
                seen.insert(name.clone(), (CompactString::from(text), line));
                self.names.push(NamedService {
                    name: name.clone(),
                    file: self.file.clone(),
                    line,
                });
            }
        }
        (key, line, name)
    }

    /// Reports and removes unknown keys in a service and the tables inside it.
    fn prune(&mut self, service: &mut Spanned<DeValue>, key: &str) {
        let DeValue::Table(table) = service.get_mut() else {
            return;
        };
        if has_unknown::<RawService>(table) {
            prune_table::<RawService>(&mut self.check, table, &format!("{key}."));
        }
        if let Some(check) = table.get_mut("check")
            && let DeValue::Table(check) = check.get_mut()
            && has_unknown::<RawCheck>(check)
        {
            prune_table::<RawCheck>(&mut self.check, check, &format!("{key}.check."));
        }
        type Prune = fn(&mut Checker, &mut DeTable, &str);
        for (field, unknown, prune) in [
            (
                "endpoints",
                has_unknown::<RawEndpoint> as fn(&DeTable) -> bool,
                prune_table::<RawEndpoint> as Prune,
            ),
            ("route", has_unknown::<RawRoute>, prune_table::<RawRoute>),
        ] {
            if let Some(list) = table.get_mut(field)
                && let DeValue::Array(items) = list.get_mut()
            {
                for (i, item) in items.iter_mut().enumerate() {
                    if let DeValue::Table(item) = item.get_mut()
                        && unknown(item)
                    {
                        prune(&mut self.check, item, &format!("{key}.{field}[{i}]."));
                    }
                }
            }
        }
    }

    /// `name` is `None` when it was invalid (already reported); the rest is still checked.
    fn service(
        &mut self,
        raw: RawService,
        name: Option<Name>,
        line: usize,
        at: Range<usize>,
        key: &str,
    ) -> Service {
        // The casts are lossless: `int` returns a value inside the range it was given.
        let ttl = self.int(raw.ttl, || format!("{key}.ttl"), DEFAULT_TTL, 1..=86_400) as u32;
        let max_answers = self.int(
            raw.max_answers,
            || format!("{key}.max_answers"),
            DEFAULT_MAX_ANSWERS,
            1..=16,
        ) as usize;
        let mut policy = self.policy(raw.policy, raw.order, key);
        if let Some(latency) = raw.latency {
            let switch = self.latency_switch(latency, &policy, key);
            if let Policy::Latency { switch: s } = &mut policy {
                *s = switch;
            }
        }
        let shed_load = match raw.shed_load {
            None => Some(ShedLoad::default()),
            Some(value) => self.shed_load(value, &format!("{key}.shed_load")),
        };
        let check = raw
            .check
            .map(|check| self.health_check(check, &format!("{key}.check")));
        let endpoints = self.endpoints(raw.endpoints, at, key);
        let routes = raw
            .route
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, route)| self.route(route, &format!("{key}.route[{i}]")))
            .collect();
        let on_all_down = match raw.on_all_down {
            None => OnAllDown::AllEndpoints,
            Some(value) => self.on_all_down(value, name.as_ref(), &format!("{key}.on_all_down")),
        };
        let unknown_location = match &raw.unknown_location {
            Some(list) => self.regions(list, &format!("{key}.unknown_location")),
            None => Vec::new(),
        };
        let overprovision = match &raw.overprovision {
            None => 1.0,
            Some(v) if (1.0..=10.0).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                let message = format!("{} is outside 1.0..=10.0", v.get_ref());
                self.error(v.span(), format!("{key}.overprovision"), message);
                1.0
            }
        };
        let bias = match raw.bias {
            Some(bias) => self.bias(bias, &policy, &endpoints, key),
            None => Vec::new(),
        };
        let name = name.unwrap_or_else(|| self.origin.clone());
        let salt = name_salt(&name);
        Service {
            name,
            overprovision,
            salt,
            origin: self.origin.clone(),
            file: self.file.clone(),
            line,
            ttl,
            max_answers,
            policy,
            check,
            endpoints,
            routes,
            on_all_down,
            unknown_location,
            bias,
            shed_load,
        }
    }

    /// `latency = { switch_percent = P, switch_ms = M }`: only with `policy = "latency"`;
    /// P in 0..=100, M in 0..=10000, each defaulting to [`LatencySwitch::default`].
    fn latency_switch(
        &mut self,
        value: Spanned<RawLatency>,
        policy: &Policy,
        key: &str,
    ) -> LatencySwitch {
        let span = value.span();
        let key = format!("{key}.latency");
        if !matches!(policy, Policy::Latency { .. }) {
            let message = format!(
                r#"applies only to policy "latency" (policy is {:?})"#,
                policy.word()
            );
            self.error(span, key, message);
            return LatencySwitch::default();
        }
        let raw = value.into_inner();
        let default = LatencySwitch::default();
        let mut bounded = |v: Option<i64>, name: &str, fallback: u32, max: i64| match v {
            None => fallback,
            Some(v) if (0..=max).contains(&v) => v as u32,
            Some(v) => {
                let message = format!("{name} = {v} is outside 0..={max}");
                self.error(span.clone(), key.clone(), message);
                fallback
            }
        };
        LatencySwitch {
            percent: bounded(raw.switch_percent, "switch_percent", default.percent, 100),
            ms: bounded(raw.switch_ms, "switch_ms", default.ms, 10_000),
        }
    }

    /// `shed_load = true | false | { low = L, high = H }`, 0 <= L < H <= 10.
    fn shed_load(&mut self, value: Spanned<RawShedLoad>, key: &str) -> Option<ShedLoad> {
        let span = value.span();
        let default = ShedLoad::default();
        match value.into_inner() {
            RawShedLoad::Flag(false) => None,
            RawShedLoad::Flag(true) => Some(default),
            RawShedLoad::Watermarks(RawWatermarks { low, high }) => {
                let low = low.unwrap_or(default.low);
                let high = high.unwrap_or(default.high.max(low));
                let max = crate::health::check::MAX_LOAD;
                if !(low.is_finite() && high.is_finite() && 0.0 <= low && low < high && high <= max)
                {
                    let message = format!(
                        "low = {low}, high = {high}: want 0 <= low < high <= {max} (loads as endpoints report them: 0.0 idle, 1.0 full)"
                    );
                    self.error(span, key, message);
                    return Some(default);
                }
                Some(ShedLoad { low, high })
            }
        }
    }

    /// `"all"`, `"nodata"`, `{ fallback = [ADDRESSES] }` or `{ cname = "NAME." }`; `service`
    /// is the service's name (`None` when it was invalid).
    fn on_all_down(
        &mut self,
        value: Spanned<RawOnAllDown>,
        service: Option<&Name>,
        key: &str,
    ) -> OnAllDown {
        let span = value.span();
        match value.into_inner() {
            RawOnAllDown::Word(word) => match word.as_str() {
                "all" => OnAllDown::AllEndpoints,
                "nodata" => OnAllDown::NoData,
                other => {
                    let message = format!(
                        "unknown value {other:?} (known: all, nodata, {{ fallback = [addresses] }}, {{ cname = \"name.\" }})"
                    );
                    self.error(span, key, message);
                    OnAllDown::AllEndpoints
                }
            },
            RawOnAllDown::Fallback(RawFallback {
                fallback: None,
                cname: None,
            }) => {
                let message = r#"missing fallback or cname (like { fallback = ["192.0.2.10"] })"#;
                self.error(span, format!("{key}.fallback"), message);
                OnAllDown::AllEndpoints
            }
            RawOnAllDown::Fallback(RawFallback {
                fallback: Some(_),
                cname: Some(_),
            }) => {
                let message = "give fallback or cname, not both";
                self.error(span, format!("{key}.cname"), message);
                OnAllDown::AllEndpoints
            }
            RawOnAllDown::Fallback(RawFallback {
                fallback: None,
                cname: Some(text),
            }) => {
                let key = format!("{key}.cname");
                let target = Name::from_ascii(&text).ok().filter(|n| n.is_fqdn());
                let problem = match (&target, service) {
                    (None, _) => Some(format!(
                        r#"{text:?} is not an absolute domain name (like "backup.example.net.")"#
                    )),
                    (_, None) => None,
                    (Some(_), Some(name)) if name == self.origin => Some(
                        "a CNAME cannot be at the zone's apex, where the SOA and NS are".to_owned(),
                    ),
                    (Some(t), Some(name)) if t == name => {
                        Some(format!("{text:?} is the service's own name"))
                    }
                    _ => None,
                };
                match (problem, target) {
                    (Some(message), _) => {
                        self.error(span, key, message);
                        OnAllDown::AllEndpoints
                    }
                    (None, Some(t)) => OnAllDown::Cname(t),
                    (None, None) => OnAllDown::AllEndpoints,
                }
            }
            RawOnAllDown::Fallback(RawFallback {
                fallback: Some(list),
                cname: None,
            }) => {
                let key = format!("{key}.fallback");
                if list.is_empty() || list.len() > MAX_FALLBACK {
                    let message = format!("must list 1 to {MAX_FALLBACK} addresses");
                    self.error(span, key, message);
                    return OnAllDown::AllEndpoints;
                }
                let mut addrs: Vec<IpAddr> = Vec::new();
                let mut ok = true;
                for (i, text) in list.iter().enumerate() {
                    let at = format!("{key}[{i}]");
                    match address(text) {
                        Ok(a) if addrs.contains(&a) => {
                            self.error(span.clone(), at, format!("{a} is listed twice"));
                            ok = false;
                        }
                        Ok(a) => addrs.push(a),
                        Err(message) => {
                            self.error(span.clone(), at, message);
                            ok = false;
                        }
                    }
                }
                if ok {
                    OnAllDown::Fallback(addrs)
                } else {
                    OnAllDown::AllEndpoints
                }
            }
        }
    }

    /// `bias = { REGION = N, ... }`: each a region of the service's endpoints, N in
    /// -99..=99; only for `policy = "nearest"`, the one ranking by distance.
    fn bias(
        &mut self,
        raw: Spanned<indexmap::IndexMap<Spanned<String>, Spanned<i64>>>,
        policy: &Policy,
        endpoints: &[Endpoint],
        key: &str,
    ) -> Vec<(usize, i32)> {
        let key = format!("{key}.bias");
        if *policy != Policy::Nearest {
            let word = policy.word();
            let message = format!(
                r#"applies only to policy "nearest", which ranks regions by distance (policy is {word:?})"#
            );
            self.error(raw.span(), key, message);
            return Vec::new();
        }
        let (config, unsure) = (self.config, self.unsure);
        let mut out = Vec::new();
        for (region, value) in raw.into_inner() {
            let at = format!("{key}.{}", region.get_ref());
            let index = self.one(&region, || at.clone(), |n| region_index(config, unsure, n));
            let bias = self.int(Some(value), || at.clone(), 0, -99..=99) as i32;
            let Some(index) = index else { continue };
            if !endpoints.iter().any(|e| e.region == index) {
                let message = format!(
                    "no endpoint of this service is in {:?}, so its bias would change nothing",
                    region.get_ref()
                );
                self.error(region.span(), at, message);
                continue;
            }
            if bias != 0 {
                out.push((index, bias));
            }
        }
        out
    }

    fn policy(
        &mut self,
        raw: Option<Spanned<String>>,
        order: Option<RawList>,
        key: &str,
    ) -> Policy {
        let order_key = || format!("{key}.order");
        let word = raw.as_ref().map_or("nearest", |p| p.get_ref().as_str());
        let policy = match word {
            "nearest" => Some(Policy::Nearest),
            "failover" => Some(Policy::Failover { order: Vec::new() }),
            "weighted" => Some(Policy::Weighted),
            "latency" => Some(Policy::Latency {
                switch: LatencySwitch::default(),
            }),
            _ => None,
        };
        match (policy, &raw, order) {
            (None, Some(written), order) => {
                let message = format!("unknown policy {word:?} (known: {POLICIES})");
                self.error(written.span(), format!("{key}.policy"), message);
                // Still check the regions, so their typos show up in the same run.
                if let Some(order) = order {
                    self.required_regions(&order, &order_key());
                }
                Policy::Nearest
            }
            (Some(Policy::Failover { .. }), _, Some(order)) => Policy::Failover {
                order: self.required_regions(&order, &order_key()),
            },
            (Some(Policy::Failover { .. }), Some(written), None) => {
                let message =
                    r#"required when policy is "failover": the regions in the order to try them"#;
                self.error(written.span(), order_key(), message);
                Policy::Failover { order: Vec::new() }
            }
            (Some(policy), _, Some(order)) => {
                let message = format!(r#"applies only to policy "failover" (policy is {word:?})"#);
                self.error(order.span(), order_key(), message);
                policy
            }
            (Some(policy), _, None) => policy,
            (None, None, _) => unreachable!("the default policy is known"),
        }
    }

    fn health_check(&mut self, raw: Spanned<RawCheck>, key: &str) -> Check {
        let at = raw.span();
        let raw = raw.into_inner();
        let kind = match &raw.kind {
            None => {
                let message = format!("missing (known: {CHECK_KINDS})");
                self.error(at.clone(), format!("{key}.kind"), message);
                None
            }
            Some(kind) => match kind.get_ref().as_str() {
                "http" => Some(CheckKind::Http),
                "https" => Some(CheckKind::Https),
                "tcp" => Some(CheckKind::Tcp),
                other => {
                    let message = format!("unknown check kind {other:?} (known: {CHECK_KINDS})");
                    self.error(kind.span(), format!("{key}.kind"), message);
                    None
                }
            },
        };
        let port = match raw.port {
            None => {
                self.error(at, format!("{key}.port"), "missing (1..=65535)");
                0
            }
            Some(port) => self.int(Some(port), || format!("{key}.port"), 0, 1..=65535) as u16,
        };

        // Keys that do not apply to the kind are errors, not ignored: the operator expected
        // them to do something. With the kind unknown, they are left alone.
        let mut applies = |field: &str, span: Option<Range<usize>>, only: &[CheckKind]| -> bool {
            let Some(kind) = kind else { return true };
            match span {
                Some(span) if !only.contains(&kind) => {
                    let kinds = if only.len() == 1 {
                        "https checks"
                    } else {
                        "http and https checks"
                    };
                    let message = format!(
                        "applies only to {kinds} (kind is {:?})",
                        raw.kind.as_ref().map_or("", |k| k.get_ref().as_str())
                    );
                    self.error(span, format!("{key}.{field}"), message);
                    false
                }
                _ => true,
            }
        };
        let http = [CheckKind::Http, CheckKind::Https];
        let path_applies = applies("path", raw.path.as_ref().map(Spanned::span), &http);
        let host_applies = applies("host", raw.host.as_ref().map(Spanned::span), &http);
        let expect_applies = applies("expect", raw.expect.as_ref().map(Spanned::span), &http);
        let body_applies = applies("body", raw.body.as_ref().map(Spanned::span), &http);
        let insecure_applies = applies(
            "insecure",
            raw.insecure.as_ref().map(Spanned::span),
            &[CheckKind::Https],
        );

        let path = match raw.path.filter(|_| path_applies) {
            Some(path) => self.request_path(path, &format!("{key}.path")),
            None => "/".to_owned(),
        };
        let host = raw
            .host
            .filter(|_| host_applies)
            .and_then(|host| self.host(host, &format!("{key}.host")));
        let expect = match raw.expect.filter(|_| expect_applies) {
            Some(list) => self.expect(list, &format!("{key}.expect")),
            None => vec![DEFAULT_EXPECT],
        };
        let body = raw.body.filter(|_| body_applies).and_then(|body| {
            if body.get_ref().is_empty() {
                let message = "must not be empty (leave body out to accept any body)";
                self.error(body.span(), format!("{key}.body"), message);
                None
            } else {
                Some(body.into_inner())
            }
        });
        let insecure = raw
            .insecure
            .filter(|_| insecure_applies)
            .is_some_and(Spanned::into_inner);

        let interval = raw.interval.as_ref().and_then(|text| {
            let key = format!("{key}.interval");
            let d = self.check.parse_duration(text, &key)?;
            let limit = if d < MIN_INTERVAL {
                format!(
                    "below the minimum {}",
                    humantime::format_duration(MIN_INTERVAL)
                )
            } else if d > MAX_INTERVAL {
                format!(
                    "above the maximum {}",
                    humantime::format_duration(MAX_INTERVAL)
                )
            } else {
                return Some(d);
            };
            self.error(text.span(), key, format!("{:?} is {limit}", text.get_ref()));
            None
        });
        let interval_written = raw.interval.is_some();
        let interval_ok = interval.is_some() || !interval_written;
        let interval = interval.unwrap_or(DEFAULT_INTERVAL);
        let default_timeout = DEFAULT_TIMEOUT.min(interval / 2);
        let timeout = match &raw.timeout {
            None => default_timeout,
            Some(text) => {
                let key = format!("{key}.timeout");
                match self.check.parse_duration(text, &key) {
                    Some(d) if interval_ok && d >= interval => {
                        let message = format!(
                            "{:?} must be shorter than the interval ({})",
                            text.get_ref(),
                            humantime::format_duration(interval)
                        );
                        self.error(text.span(), key, message);
                        default_timeout
                    }
                    Some(d) => d,
                    None => default_timeout,
                }
            }
        };
        let recheck = raw
            .recheck
            .as_ref()
            .and_then(|text| {
                let key = format!("{key}.recheck");
                let d = self.check.parse_duration(text, &key)?;
                let limit = if d < MIN_RECHECK {
                    format!(
                        "is below the minimum {}",
                        humantime::format_duration(MIN_RECHECK)
                    )
                } else if interval_ok && d > interval {
                    format!(
                        "must not be longer than the interval ({})",
                        humantime::format_duration(interval)
                    )
                } else {
                    return Some(d);
                };
                self.error(text.span(), key, format!("{:?} {limit}", text.get_ref()));
                None
            })
            .unwrap_or_else(|| Check::default_recheck(interval));
        Check {
            kind: kind.unwrap_or(CheckKind::Tcp),
            recheck,
            port,
            path,
            host,
            insecure,
            expect,
            body,
            interval,
            timeout,
            rise: self.int(raw.rise, || format!("{key}.rise"), DEFAULT_RISE, 1..=100) as u32,
            fall: self.int(raw.fall, || format!("{key}.fall"), DEFAULT_FALL, 1..=100) as u32,
        }
    }

    fn request_path(&mut self, path: Spanned<String>, key: &str) -> String {
        let text = path.get_ref();
        let problem = if !text.starts_with('/') {
            format!(r#"{text:?} must start with "/""#)
        } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            format!("{text:?} must not contain spaces or control characters")
        } else {
            return path.into_inner();
        };
        self.error(path.span(), key, problem);
        "/".to_owned()
    }

    fn host(&mut self, host: Spanned<String>, key: &str) -> Option<String> {
        let text = host.get_ref();
        // A bare name: it becomes the URL's host, the Host header and the TLS SNI, so a
        // port, a path or an address would silently mean something else.
        let bad = text.is_empty()
            || text.parse::<IpAddr>().is_ok()
            || text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/:@?#[]".contains(c));
        if bad {
            let message = format!(r#"{text:?} is not a host name (like "www.example.com")"#);
            self.error(host.span(), key, message);
            return None;
        }
        Some(host.into_inner())
    }

    fn expect(&mut self, list: Spanned<Vec<Spanned<RawStatus>>>, key: &str) -> Vec<(u16, u16)> {
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                key,
                "must list at least one status code or range",
            );
            return vec![DEFAULT_EXPECT];
        }
        let mut ranges = Vec::new();
        for (i, item) in list.get_ref().iter().enumerate() {
            let key = format!("{key}[{i}]");
            let (low, high) = match item.get_ref() {
                RawStatus::Code(code) => (*code, *code),
                RawStatus::Range(text) => match status_range(text) {
                    Some(range) => range,
                    None => {
                        let message =
                            format!(r#"{text:?} is not a status code or range like "200-299""#);
                        self.error(item.span(), key, message);
                        continue;
                    }
                },
            };
            if let Some(code) = [low, high].into_iter().find(|c| !(100..=599).contains(c)) {
                self.error(item.span(), key, format!("{code} is outside 100..=599"));
            } else if low > high {
                let message = format!("{low}-{high} is empty ({low} is above {high})");
                self.error(item.span(), key, message);
            } else {
                // Lossless: both are inside 100..=599.
                ranges.push((low as u16, high as u16));
            }
        }
        ranges
    }

    fn endpoints(
        &mut self,
        raw: Option<Spanned<Vec<Spanned<RawEndpoint>>>>,
        service: Range<usize>,
        service_key: &str,
    ) -> Vec<Endpoint> {
        // Made only for a message: a file of 100,000 services has as many good lists.
        let key = format_args!("{service_key}.endpoints");
        let Some(list) = raw else {
            self.error(
                service,
                key.to_string(),
                "missing (a service needs at least one endpoint)",
            );
            return Vec::new();
        };
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                key.to_string(),
                "must list at least one endpoint",
            );
        }
        let (config, unsure) = (self.config, self.unsure);
        let mut endpoints = Vec::with_capacity(list.get_ref().len());
        // Address → index as written of the addresses seen so far, for duplicates.
        let mut seen = SeenAddresses::default();
        for (i, item) in list.into_inner().into_iter().enumerate() {
            let at = item.span();
            let raw = item.into_inner();
            let region = match &raw.region {
                None => {
                    let message = format!("missing ({})", known_regions(config));
                    self.error(at.clone(), format!("{key}[{i}].region"), message);
                    None
                }
                Some(name) => self.one(
                    name,
                    || format!("{key}[{i}].region"),
                    |n| region_index(config, unsure, n),
                ),
            };
            let address = match &raw.address {
                None => {
                    self.error(
                        at,
                        format!("{key}[{i}].address"),
                        "missing (an IPv4 or IPv6 address)",
                    );
                    None
                }
                Some(text) => {
                    let addr = self.one(text, || format!("{key}[{i}].address"), address);
                    match addr.and_then(|a| seen.get(a).map(|first| (a, first))) {
                        Some((addr, first)) => {
                            let message =
                                format!("{addr} is listed twice (also endpoints[{first}])");
                            self.error(text.span(), format!("{key}[{i}].address"), message);
                            None
                        }
                        None => {
                            if let Some(addr) = addr {
                                seen.insert(addr, i);
                            }
                            addr
                        }
                    }
                }
            };
            let capacity = self.int(
                raw.capacity,
                || format!("{key}[{i}].capacity"),
                DEFAULT_CAPACITY,
                0..=1_000_000,
            ) as u32;
            if let (Some(region), Some(address)) = (region, address) {
                endpoints.push(Endpoint {
                    region,
                    address,
                    capacity,
                });
            }
        }
        endpoints
    }

    fn route(&mut self, raw: Spanned<RawRoute>, key: &str) -> Route {
        let at = raw.span();
        let line = self.check.line(at.start);
        let raw = raw.into_inner();
        let written =
            |list: &Option<RawList>| list.as_ref().is_some_and(|l| !l.get_ref().is_empty());
        if !written(&raw.countries) && !written(&raw.continents) && !written(&raw.networks) {
            let message = "matches no client: give countries, continents or networks";
            self.error(at.clone(), key, message);
        }
        let countries = self.list(raw.countries.as_ref(), &format!("{key}.countries"), country);
        let continents = self.list(
            raw.continents.as_ref(),
            &format!("{key}.continents"),
            continent,
        );
        let networks = self.list(raw.networks.as_ref(), &format!("{key}.networks"), network);
        let regions_key = format!("{key}.regions");
        let regions = match &raw.regions {
            Some(list) => self.required_regions(list, &regions_key),
            None => {
                let message = "missing (the regions to send matching clients to)";
                self.error(at, regions_key, message);
                Vec::new()
            }
        };
        Route {
            countries,
            continents,
            networks,
            regions,
            line,
        }
    }

    /// Region names → indices; the list must not be empty.
    fn required_regions(&mut self, list: &RawList, key: &str) -> Vec<usize> {
        if list.get_ref().is_empty() {
            self.error(list.span(), key, "must list at least one region");
        }
        self.regions(list, key)
    }

    /// Region names → indices, each defined and listed once.
    fn regions(&mut self, list: &RawList, key: &str) -> Vec<usize> {
        let config = self.config;
        let unsure = self.unsure;
        self.list(Some(list), key, |name| region_index(config, unsure, name))
    }

    /// Each item of `list` through `parse`, reporting bad items and items listed twice.
    fn list<T: PartialEq>(
        &mut self,
        list: Option<&RawList>,
        key: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let Some(list) = list else { return Vec::new() };
        let field = key.rsplit('.').next().unwrap_or(key);
        let mut values: Vec<T> = Vec::new();
        let mut firsts: Vec<usize> = Vec::new();
        for (i, item) in list.get_ref().iter().enumerate() {
            let item_key = || format!("{key}[{i}]");
            let Some(value) = self.one(item, item_key, &parse) else {
                continue;
            };
            if let Some(seen) = values.iter().position(|v| *v == value) {
                let message = format!(
                    "{:?} is listed twice (also {field}[{}])",
                    item.get_ref(),
                    firsts[seen]
                );
                self.error(item.span(), item_key(), message);
            } else {
                values.push(value);
                firsts.push(i);
            }
        }
        values
    }

    /// `text` through `parse`, reporting the error at its span (an empty message: refused,
    /// but already reported elsewhere).
    fn one<T, S: AsRef<str>>(
        &mut self,
        text: &Spanned<S>,
        key: impl FnOnce() -> String,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(text.get_ref().as_ref()) {
            Ok(value) => Some(value),
            Err(message) => {
                if !message.is_empty() {
                    self.error(text.span(), key(), message);
                }
                None
            }
        }
    }

    /// [`Checker::int`], with the key made only when there is something to report (a
    /// file of 100,000 services has as many values in range).
    fn int(
        &mut self,
        raw: Option<Spanned<i64>>,
        key: impl FnOnce() -> String,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> i64 {
        match &raw {
            None => default,
            Some(v) if range.contains(v.get_ref()) => *v.get_ref(),
            Some(_) => self.check.int(raw, &key(), default, range),
        }
    }
}

/// True when `table` has a key the struct `T` does not accept (checked before anything
/// is formatted for the message: most tables have none).
fn has_unknown<'de, T: Deserialize<'de>>(table: &DeTable) -> bool {
    let known = known_keys::<T>();
    table.keys().any(|k| !known.contains(&k.get_ref().as_ref()))
}

/// The addresses of a service's endpoints seen so far, each with the index it is written
/// at: a list searched in turn while it is short (most services have a few endpoints, and
/// a hash map per service cost more than the search), a hash map beyond.
#[derive(Default)]
struct SeenAddresses {
    few: Vec<(IpAddr, usize)>,
    many: FxHashMap<IpAddr, usize>,
}

impl SeenAddresses {
    const FEW: usize = 16;

    fn get(&self, address: IpAddr) -> Option<usize> {
        match self.few.iter().find(|(a, _)| *a == address) {
            Some(&(_, at)) => Some(at),
            None => self.many.get(&address).copied(),
        }
    }

    /// Notes `address`, not seen yet, at index `at`.
    fn insert(&mut self, address: IpAddr, at: usize) {
        if self.few.len() < Self::FEW {
            self.few.push((address, at));
        } else {
            self.many.entry(address).or_insert(at);
        }
    }
}

//! What probers and servers say to each other: targets out, reports in (JSON over HTTP).
//!
//! A *target* is one endpoint address with one check; endpoints of several services that
//! share address and check are one target, checked once per interval. Its `id` is a
//! readable, stable string built from everything that changes the result of the check.

use crate::config::{Check, CheckKind, Service};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// `GET /v1/fleet/targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetList {
    pub targets: Vec<TargetSpec>,
}

/// One target as a prober needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSpec {
    pub id: String,
    pub address: IpAddr,
    pub kind: String,
    pub port: u16,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub expect: Vec<(u16, u16)>,
    #[serde(default)]
    pub body: Option<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// The short interval between checks while counting toward `fall`. 0 (what a server
    /// from before `recheck` sends): [`Check::default_recheck`] of the interval.
    #[serde(default)]
    pub recheck_ms: u64,
    pub rise: u32,
    pub fall: u32,
}

/// `POST /v1/fleet/reports`: one prober's latest results.
///
/// Fields added later (`lat`, `lon`, and a report's `srtt_ms` and `load`) are optional
/// both ways: a batch without them is what older probers send and is taken as before,
/// and a prober leaves them out when it has nothing to say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBatch {
    /// The prober's name, unique in the fleet.
    pub prober: String,
    /// The viewpoint it probes from: any name (1 to 64 of [A-Za-z0-9._:-]), a serving
    /// region or not. Called `region` on the wire, as before viewpoints had their name.
    pub region: String,
    /// Where the viewpoint is (degrees), when the prober was told (`probe --lat/--lon`).
    /// Without them a server places the viewpoint at the `[regions]` entry of its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    pub reports: Vec<Report>,
}

/// One target's vote from one prober.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub target: String,
    pub up: bool,
    /// Counting toward rise or fall: the vote may flip soon.
    #[serde(default)]
    pub changing: bool,
    /// The last check's round trip.
    #[serde(default)]
    pub rtt_ms: Option<u32>,
    /// The prober's smoothed round trip to the target (milliseconds, an EWMA of the checks
    /// that answered with [`RTT_ALPHA`]); what `policy = "latency"` ranks by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtt_ms: Option<f64>,
    /// The load the endpoint reports in its health-check answer (0.0 idle, 1.0 full),
    /// smoothed with [`LOAD_ALPHA`]; absent when it reports none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    #[serde(default)]
    pub reason: String,
}

/// Weight of the newest round trip in a prober's smoothed RTT: `srtt += α (rtt − srtt)`.
/// 0.3 follows a lasting change within a few checks (half of a step in two, 90 % in
/// seven) while one slow answer moves it by less than a third.
pub const RTT_ALPHA: f64 = 0.3;
/// Weight of the newest reported load in its smoothed value (as for [`RTT_ALPHA`]).
pub const LOAD_ALPHA: f64 = 0.3;

/// One step of an exponentially weighted moving average: `None` starts at `sample`.
pub fn ewma(previous: Option<f64>, sample: f64, alpha: f64) -> f64 {
    match previous {
        Some(p) if p.is_finite() => p + alpha * (sample - p),
        _ => sample,
    }
}

/// Most reports one batch may carry.
pub const MAX_REPORTS_PER_BATCH: usize = 20_000;

impl TargetSpec {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.max(100))
    }

    /// How soon a check follows a failed one while counting toward `fall`.
    pub fn recheck(&self) -> Duration {
        match self.recheck_ms {
            0 => Check::default_recheck(self.interval()),
            ms => Duration::from_millis(ms.max(100)).min(self.interval()),
        }
    }

    /// The check as `config::Check` (for the prober's checker).
    pub fn check(&self) -> Option<Check> {
        let kind = match self.kind.as_str() {
            "http" => CheckKind::Http,
            "https" => CheckKind::Https,
            "tcp" => CheckKind::Tcp,
            _ => return None,
        };
        Some(Check {
            kind,
            port: self.port,
            path: self.path.clone(),
            host: self.host.clone(),
            insecure: self.insecure,
            expect: self.expect.clone(),
            body: self.body.clone(),
            interval: Duration::from_millis(self.interval_ms),
            timeout: Duration::from_millis(self.timeout_ms),
            recheck: self.recheck(),
            rise: self.rise,
            fall: self.fall,
        })
    }
}

fn kind_name(kind: &CheckKind) -> &'static str {
    match kind {
        CheckKind::Http => "http",
        CheckKind::Https => "https",
        CheckKind::Tcp => "tcp",
    }
}

/// The stable id of (address, check): what a prober reports against.
pub fn target_id(address: IpAddr, check: &Check) -> String {
    CheckIds::new(check).id(address)
}

/// [`target_id`] for many addresses under one check: the part after the address is
/// written once, so each id costs one allocation (100,000 services have ~250,000).
struct CheckIds<'c> {
    check: &'c Check,
    /// `{path}?{query}#timeout={ms}ms` (TCP: `#timeout={ms}ms`).
    after_port: String,
}

impl<'c> CheckIds<'c> {
    fn new(check: &'c Check) -> CheckIds<'c> {
        use std::fmt::Write;
        let mut after_port = String::new();
        if check.kind != CheckKind::Tcp {
            after_port.push_str(&check.path);
            let mut sep = '?';
            let mut query = |after_port: &mut String| {
                after_port.push(sep);
                sep = '&';
            };
            if let Some(h) = &check.host {
                query(&mut after_port);
                let _ = write!(after_port, "host={h}");
            }
            if check.insecure {
                query(&mut after_port);
                after_port.push_str("insecure");
            }
            if check.expect != [(200, 399)] {
                query(&mut after_port);
                after_port.push_str("expect=");
                for (i, (a, b)) in check.expect.iter().enumerate() {
                    if i > 0 {
                        after_port.push(',');
                    }
                    let _ = if a == b {
                        write!(after_port, "{a}")
                    } else {
                        write!(after_port, "{a}-{b}")
                    };
                }
            }
            if let Some(b) = &check.body {
                query(&mut after_port);
                let _ = write!(after_port, "body={b:?}");
            }
        }
        let _ = write!(after_port, "#timeout={}ms", check.timeout.as_millis());
        CheckIds { check, after_port }
    }

    fn id(&self, address: IpAddr) -> String {
        // "https://[" + the longest IPv6 text + "]:65535".
        let mut id = String::with_capacity(57 + self.after_port.len());
        self.write_id(address, &mut id);
        id
    }

    /// [`CheckIds::id`], appended to `id`.
    fn write_id(&self, address: IpAddr, id: &mut String) {
        let kind = kind_name(&self.check.kind);
        id.push_str(kind);
        id.push_str("://");
        match address {
            // By hand: `Display` of an address costs more than the rest of the id (a
            // file of 100,000 services has a quarter of a million of them).
            IpAddr::V4(a) => {
                for (i, octet) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        id.push('.');
                    }
                    push_decimal(id, octet.into());
                }
            }
            IpAddr::V6(a) => {
                use std::fmt::Write;
                let _ = write!(id, "[{a}]");
            }
        }
        id.push(':');
        push_decimal(id, self.check.port.into());
        id.push_str(&self.after_port);
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
}

/// The first 32 bytes of an id (zero-padded), ordered as the ids are: where two prefixes
/// differ, so do their ids, the same way round; where they are equal, the ids decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct IdPrefix(u128, u128);

impl IdPrefix {
    fn of(id: &str) -> IdPrefix {
        let mut bytes = [0u8; 32];
        let n = id.len().min(32);
        bytes[..n].copy_from_slice(&id.as_bytes()[..n]);
        let half =
            |at: usize| u128::from_be_bytes(bytes[at..at + 16].try_into().expect("16 bytes"));
        IdPrefix(half(0), half(16))
    }
}

/// A target and the (service, endpoint) pairs it decides.
pub type TargetUses = (TargetSpec, Vec<(usize, usize)>);

/// Every target of a set of services by id, with the (service, endpoint) pairs it decides.
pub type HealthTargets = BTreeMap<String, TargetUses>;

/// Every target of a set of services, with the (service, endpoint) pairs it decides.
/// Shared targets take the shortest interval (and recheck) of the services naming them.
pub fn targets_of(services: &[Service]) -> HealthTargets {
    // Grouped by id as they come, in service and endpoint order (so each target's pairs
    // are in that order, and its settings are those of the first service naming it), then
    // the targets sorted once: a search per endpoint in a hash map, not a sort of every
    // (id, service, endpoint) (services share targets, so the ids were compared whole).
    let mut by_id: FxHashMap<String, usize> = FxHashMap::default();
    let mut grouped: Vec<(IdPrefix, TargetUses)> = Vec::new();
    let mut id = String::new();
    for (si, s) in services.iter().enumerate() {
        let Some(check) = &s.check else { continue };
        let ids = CheckIds::new(check);
        let interval_ms = check.interval.as_millis() as u64;
        let recheck_ms = check.recheck.as_millis() as u64;
        for (ei, e) in s.endpoints.iter().enumerate() {
            id.clear();
            ids.write_id(e.address, &mut id);
            if let Some(&at) = by_id.get(id.as_str()) {
                let (spec, uses) = &mut grouped[at].1;
                spec.interval_ms = spec.interval_ms.min(interval_ms);
                spec.recheck_ms = spec.recheck_ms.min(recheck_ms);
                uses.push((si, ei));
                continue;
            }
            by_id.insert(id.clone(), grouped.len());
            let spec = TargetSpec {
                id: id.clone(),
                address: e.address,
                kind: kind_name(&check.kind).into(),
                port: check.port,
                path: check.path.clone(),
                host: check.host.clone(),
                insecure: check.insecure,
                expect: check.expect.clone(),
                body: check.body.clone(),
                interval_ms,
                timeout_ms: check.timeout.as_millis() as u64,
                recheck_ms,
                rise: check.rise,
                fall: check.fall,
            };
            grouped.push((IdPrefix::of(&id), (spec, vec![(si, ei)])));
        }
    }
    drop(by_id);
    // The prefix decides almost every comparison without reading the strings; the map is
    // then built from sorted entries in one pass.
    grouped.sort_unstable_by(|(a, (x, _)), (b, (y, _))| a.cmp(b).then_with(|| x.id.cmp(&y.id)));
    grouped
        .into_iter()
        .map(|(_, (spec, uses))| (spec.id.clone(), (spec, uses)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_targets_are_one_with_every_use_and_the_shortest_intervals() {
        let (_, services) = crate::fixtures::config_and_services(
            r#"
[services.a]
check = { kind = "http", port = 80, path = "/h", interval = "30s", recheck = "5s" }
endpoints = [
  { region = "eu-west", address = "192.0.2.9" },
  { region = "us-east", address = "192.0.2.10" },
]
[services.b]
endpoints = [{ region = "eu-west", address = "192.0.2.9" }]
[services.c]
check = { kind = "http", port = 80, path = "/h", interval = "10s", recheck = "8s" }
endpoints = [
  { region = "us-east", address = "198.51.100.1" },
  { region = "eu-west", address = "192.0.2.9" },
]
[services.d]
check = { kind = "tcp", port = 80 }
endpoints = [{ region = "eu-west", address = "192.0.2.9" }]
"#,
        );
        let targets = targets_of(&services);
        let ids: Vec<&str> = targets.keys().map(String::as_str).collect();
        let http = |a: &str| format!("http://{a}:80/h#timeout=2000ms");
        assert_eq!(
            ids,
            [
                http("192.0.2.10"),
                http("192.0.2.9"),
                http("198.51.100.1"),
                "tcp://192.0.2.9:80#timeout=2000ms".to_string(),
            ]
        );
        for (id, (spec, _)) in &targets {
            assert_eq!(*id, spec.id);
        }
        // a's first endpoint and c's second: one target, both uses in service order, the
        // shorter interval and recheck of the two; b has no check, d another kind.
        let (spec, uses) = &targets[&http("192.0.2.9")];
        assert_eq!(*uses, [(0, 0), (2, 1)]);
        assert_eq!((spec.interval_ms, spec.recheck_ms), (10_000, 5_000));
        assert_eq!(spec.address, "192.0.2.9".parse::<IpAddr>().unwrap());
        assert_eq!(targets[&http("192.0.2.10")].1, [(0, 1)]);
        assert_eq!(targets["tcp://192.0.2.9:80#timeout=2000ms"].1, [(3, 0)]);
    }

    #[test]
    fn id_prefixes_order_ids_as_the_ids_do() {
        // Ids that differ in the first byte, the 16th, the 32nd, only after the prefix,
        // in length only, and by a byte below and above any ASCII one.
        let ids = [
            "http://192.0.2.1:80/healthz#timeout=2000ms",
            "http://192.0.2.10:80/healthz#timeout=2000ms",
            "http://192.0.2.1:80/healthz#timeout=2000ms&x",
            "http://192.0.2.1:80/healthz#timeout=1000ms",
            "http://192.0.2.1:80/healthz#timeoutX",
            "http://192.0.2.1:80/healthz#timeou",
            "http://192.0.2.1:80/healthz#timeou\u{0}",
            "http://192.0.2.1:80/healthz#timeou\u{e9}",
            "http://192.0.2.1",
            "http://192.0.2.",
            "https://[2001:db8::1]:443/",
            "tcp://198.51.100.7:25#timeout=5000ms",
            "",
            "a",
            "a\u{0}",
        ];
        let mut by_string: Vec<&str> = ids.to_vec();
        by_string.sort_unstable();
        let mut by_prefix: Vec<(IdPrefix, &str)> =
            ids.iter().map(|id| (IdPrefix::of(id), *id)).collect();
        by_prefix.sort_unstable();
        let by_prefix: Vec<&str> = by_prefix.into_iter().map(|(_, id)| id).collect();
        assert_eq!(by_prefix, by_string);
        // Where two prefixes differ, they alone give the ids' order.
        for a in ids {
            for b in ids {
                let (pa, pb) = (IdPrefix::of(a), IdPrefix::of(b));
                if pa != pb {
                    assert_eq!(pa.cmp(&pb), a.cmp(b), "{a:?} vs {b:?}");
                }
            }
        }
    }

    fn http_check() -> Check {
        Check {
            kind: CheckKind::Https,
            port: 443,
            path: "/healthz".into(),
            host: Some("www.example.com".into()),
            insecure: true,
            expect: vec![(200, 200), (300, 399)],
            body: Some("ok".into()),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            recheck: Duration::from_secs(1),
            rise: 2,
            fall: 3,
        }
    }

    #[test]
    fn target_ids_read_as_the_reference_writes_them() {
        let v6: IpAddr = "2001:db8::10".parse().unwrap();
        assert_eq!(
            target_id(v6, &http_check()),
            "https://[2001:db8::10]:443/healthz?host=www.example.com&insecure\
             &expect=200,300-399&body=\"ok\"#timeout=2000ms"
        );
        let plain = Check {
            kind: CheckKind::Http,
            port: 8001,
            path: "/".into(),
            host: None,
            insecure: false,
            expect: vec![(200, 399)],
            body: None,
            ..http_check()
        };
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            target_id(v4, &plain),
            "http://127.0.0.1:8001/#timeout=2000ms"
        );
        let tcp = Check {
            kind: CheckKind::Tcp,
            port: 80,
            ..http_check()
        };
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(target_id(v4, &tcp), "tcp://192.0.2.1:80#timeout=2000ms");
    }

    #[test]
    fn ipv4_ids_spell_addresses_and_ports_as_display_does() {
        let tcp = Check {
            kind: CheckKind::Tcp,
            ..http_check()
        };
        for (address, port) in [
            ("0.0.0.0", 1),
            ("255.255.255.255", 65535),
            ("10.0.100.9", 10),
            ("198.51.100.200", 8080),
        ] {
            let check = Check {
                port,
                ..tcp.clone()
            };
            let a: std::net::Ipv4Addr = address.parse().unwrap();
            assert_eq!(
                target_id(IpAddr::V4(a), &check),
                format!("tcp://{a}:{port}#timeout=2000ms")
            );
        }
    }

    #[test]
    fn ewma_starts_at_the_first_sample_and_moves_alpha_of_the_way() {
        // (previous, sample, smoothed)
        let rows = [
            (None, 40.0, 40.0),
            (Some(40.0), 40.0, 40.0),
            (Some(100.0), 0.0, 70.0),
            (Some(10.0), 20.0, 13.0),
            (Some(f64::NAN), 5.0, 5.0),
        ];
        for (previous, sample, want) in rows {
            let got = ewma(previous, sample, RTT_ALPHA);
            assert!((got - want).abs() < 1e-9, "{previous:?} + {sample}: {got}");
        }
        // A step from 150 to 30 ms: half-way after two checks, within 10 % after seven.
        let mut srtt = Some(150.0);
        let mut after = Vec::new();
        for _ in 0..7 {
            srtt = Some(ewma(srtt, 30.0, RTT_ALPHA));
            after.push(srtt.unwrap());
        }
        assert!(after[1] < 90.0 && after[0] > 90.0, "{after:?}");
        assert!(
            after[6] - 30.0 < 12.0 && after[5] - 30.0 > 12.0,
            "{after:?}"
        );
    }

    #[test]
    fn batches_without_the_new_fields_are_still_taken() {
        let old =
            r#"{"prober":"p1","region":"eu-west","reports":[{"target":"t","up":true,"rtt_ms":3}]}"#;
        let b: ReportBatch = serde_json::from_str(old).unwrap();
        assert_eq!((b.lat, b.lon), (None, None));
        assert_eq!((b.reports[0].srtt_ms, b.reports[0].load), (None, None));
        // And a batch with nothing new to say is sent as before.
        assert!(!serde_json::to_string(&b).unwrap().contains("srtt"));
        let new = r#"{"prober":"p1","region":"x","lat":1.5,"lon":-2.0,"reports":[{"target":"t","up":true,"srtt_ms":12.5,"load":0.73}]}"#;
        let b: ReportBatch = serde_json::from_str(new).unwrap();
        assert_eq!((b.lat, b.lon), (Some(1.5), Some(-2.0)));
        assert_eq!(
            (b.reports[0].srtt_ms, b.reports[0].load),
            (Some(12.5), Some(0.73))
        );
    }
}

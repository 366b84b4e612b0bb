//! `GET /metrics`: the Prometheus text format (version 0.0.4), encoded by
//! `prometheus-client`, so every family has its HELP and TYPE right above its samples.
//!
//! Nothing is counted here per query: a scrape sums the DNS workers' counters
//! (`dns::stats`), reads health, votes and probers from the health task, and encodes what
//! it found as one [`Collector`]. Refused fleet reports are counted by [`count_refusals`],
//! a layer on `POST /v1/fleet/reports`, so the handler stays as it is.

use super::{ApiState, MAX_BODY, status};
use crate::dns::stats::{RCODES, Totals};
use crate::health::store::{FORGET_PROBERS_AFTER, LATENCY_BUCKETS, LatencyHistogram, valid_name};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a report batch was refused, as `/metrics` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no token, or the wrong one.
    Unauthorized,
    /// Any other 4xx but 429: not a batch, a bad name, a duplicate target, too large.
    Invalid,
    /// 429: more batches than the server takes per second.
    RateLimited,
}

impl Refusal {
    const ALL: [Refusal; 3] = [
        Refusal::Unauthorized,
        Refusal::Invalid,
        Refusal::RateLimited,
    ];

    fn label(self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Invalid => "invalid",
            Refusal::RateLimited => "rate_limited",
        }
    }

    /// The refusal an answer's status says, if it is one.
    pub fn of(status: StatusCode) -> Option<Refusal> {
        match status {
            StatusCode::UNAUTHORIZED => Some(Refusal::Unauthorized),
            StatusCode::TOO_MANY_REQUESTS => Some(Refusal::RateLimited),
            s if s.is_client_error() => Some(Refusal::Invalid),
            _ => None,
        }
    }
}

/// Most probers whose refusals are counted by name; past it only the totals by reason
/// grow (names come from requests, so memory must not).
const MAX_REFUSED_PROBERS: usize = 1024;

/// A prober some of whose batches were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedProber {
    /// The viewpoint its last refused batch named (empty when that was not a name).
    pub viewpoint: String,
    pub refused: u64,
    /// When its last batch was refused, on the control plane's clock: a name refused
    /// for longer than probers are kept is forgotten like them.
    pub last: std::time::Instant,
}

/// Refused report batches since start: by reason, and by prober for the batches that
/// came with the fleet token (an unauthorized body's name is not to be believed).
#[derive(Debug, Default)]
pub struct Refusals {
    by_reason: [AtomicU64; 3],
    by_prober: Mutex<BTreeMap<String, RefusedProber>>,
}

impl Refusals {
    /// Counts one refusal; `batch` is (prober, viewpoint) when it is to be named.
    pub fn count(&self, why: Refusal, batch: Option<(&str, &str)>) {
        self.by_reason[why as usize].fetch_add(1, Ordering::Relaxed);
        let Some((prober, viewpoint)) = batch else {
            return;
        };
        if !valid_name(prober) {
            return;
        }
        let viewpoint = if valid_name(viewpoint) { viewpoint } else { "" };
        let now = crate::control::now();
        let mut by_prober = self.by_prober.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = by_prober.get_mut(prober) {
            p.refused += 1;
            p.last = now;
            if p.viewpoint != viewpoint {
                p.viewpoint = viewpoint.to_string();
            }
            return;
        }
        if by_prober.len() >= MAX_REFUSED_PROBERS {
            by_prober.retain(|_, p| now.saturating_duration_since(p.last) < FORGET_PROBERS_AFTER);
        }
        if by_prober.len() < MAX_REFUSED_PROBERS {
            by_prober.insert(
                prober.to_string(),
                RefusedProber {
                    viewpoint: viewpoint.to_string(),
                    refused: 1,
                    last: now,
                },
            );
        }
    }

    pub fn total(&self, why: Refusal) -> u64 {
        self.by_reason[why as usize].load(Ordering::Relaxed)
    }

    /// Refusals by prober name.
    pub fn probers(&self) -> BTreeMap<String, RefusedProber> {
        self.by_prober
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Who sent a batch, read from a refused body (the rest of it is not looked at).
#[derive(serde::Deserialize)]
struct Sender {
    prober: String,
    #[serde(default)]
    region: String,
}

/// Layer on `POST /v1/fleet/reports`: counts every refused batch by reason, and by prober
/// when the batch carried the token but was not valid. Batches without the token never
/// get here (`require_token` answers them from their headers and counts them), nor do
/// bodies too large or too slow (`read_body` counts those as invalid).
pub async fn count_refusals(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            state.refusals.count(Refusal::Invalid, None);
            let reason = format!("cannot read the report batch (at most {MAX_BODY} bytes): {e}");
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                axum::Json(serde_json::json!({ "error": reason })),
            )
                .into_response();
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if let Some(why) = Refusal::of(response.status()) {
        let sender = match why {
            Refusal::Invalid => serde_json::from_slice::<Sender>(&bytes).ok(),
            Refusal::Unauthorized | Refusal::RateLimited => None,
        };
        state.refusals.count(
            why,
            sender
                .as_ref()
                .map(|s| (s.prober.as_str(), s.region.as_str())),
        );
    }
    response
}

fn rcode_name(rcode: usize) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => "OTHER",
    }
}

/// Labels as the encoder takes them.
type Labels = Vec<(&'static str, String)>;

/// Everything one scrape shows, taken before encoding starts.
#[derive(Debug)]
struct Scrape {
    totals: Totals,
    status: super::Status,
    latency: LatencyHistogram,
    reloads: [u64; 2],
    refused: [u64; 3],
    /// API connections: open now, closed over the per-source cap, timed out.
    connections: [u64; 3],
}

/// One family of counters; nothing at all when it has no sample.
fn counters(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: &[(Labels, u64)],
) -> fmt::Result {
    if rows.is_empty() {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, n) in rows {
        family
            .encode_family(labels)?
            .encode_counter::<NoLabelSet, u64, u64>(n, None)?;
    }
    Ok(())
}

/// One family of gauges; nothing at all when it has no sample.
fn gauges<V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: &[(Labels, V)],
) -> fmt::Result {
    if rows.is_empty() {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        family.encode_family(labels)?.encode_gauge(v)?;
    }
    Ok(())
}

fn endpoint_labels(service: &str, address: &std::net::IpAddr, region: &str) -> Labels {
    vec![
        ("service", service.to_string()),
        ("address", address.to_string()),
        ("region", region.to_string()),
    ]
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let t = &self.totals;
        // Rcodes without a name of their own are summed under OTHER: one series each.
        let mut responses: Vec<(Labels, u64)> = Vec::new();
        let zones = t
            .by_zone
            .iter()
            .map(|(zone, row)| (zone.as_str(), row))
            .chain(std::iter::once(("", &t.unzoned)));
        for (zone, row) in zones {
            let mut by_name: BTreeMap<&str, u64> = BTreeMap::new();
            for (rcode, &n) in row.iter().enumerate().take(RCODES) {
                if n > 0 {
                    *by_name.entry(rcode_name(rcode)).or_default() += n;
                }
            }
            for (rcode, n) in by_name {
                responses.push((
                    vec![("zone", zone.to_string()), ("rcode", rcode.to_string())],
                    n,
                ));
            }
        }
        counters(
            &mut enc,
            "meridian_dns_responses",
            "DNS responses sent, by zone (empty: no zone) and rcode.",
            &responses,
        )?;
        let choices: Vec<(Labels, u64)> = t
            .by_choice
            .iter()
            .flat_map(|(service, regions)| {
                regions.iter().map(move |(region, &n)| {
                    (
                        vec![("service", service.clone()), ("region", region.clone())],
                        n,
                    )
                })
            })
            .collect();
        counters(
            &mut enc,
            "meridian_dns_balanced_answers",
            "Load-balanced answers by service and chosen region.",
            &choices,
        )?;
        counters(
            &mut enc,
            "meridian_dns_truncated",
            "UDP responses sent with TC set.",
            &[(Vec::new(), t.truncated)],
        )?;
        counters(
            &mut enc,
            "meridian_dns_dropped",
            "Packets not answered (runts, responses).",
            &[(Vec::new(), t.dropped)],
        )?;
        counters(
            &mut enc,
            "meridian_dns_rrl_limited",
            "UDP responses response rate limiting held back: dropped, or slipped (sent truncated).",
            &[
                (vec![("action", "dropped".to_string())], t.rrl_dropped),
                (vec![("action", "slipped".to_string())], t.rrl_slipped),
            ],
        )?;

        let mut up = Vec::new();
        let mut drained = Vec::new();
        let mut votes = Vec::new();
        for s in &self.status.services {
            for e in &s.endpoints {
                let labels = endpoint_labels(&s.name, &e.address, &e.region);
                up.push((labels.clone(), i64::from(e.state == "up")));
                drained.push((labels.clone(), i64::from(e.state == "drained")));
                for v in &e.votes {
                    let mut labels = labels.clone();
                    labels.push(("prober", v.prober.clone()));
                    labels.push(("up", v.up.to_string()));
                    votes.push((labels, v.age_ms as f64 / 1000.0));
                }
            }
        }
        gauges(
            &mut enc,
            "meridian_endpoint_up",
            "Endpoint health as answers use it (1 up, 0 down or drained).",
            &up,
        )?;
        gauges(
            &mut enc,
            "meridian_endpoint_drained",
            "1 when the endpoint's region is drained.",
            &drained,
        )?;
        gauges(
            &mut enc,
            "meridian_prober_vote_age_seconds",
            "Age of each prober's latest vote on each endpoint.",
            &votes,
        )?;

        let l = &self.latency;
        // The store keeps cumulative counts; the encoder wants each bucket's own.
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len() + 1);
        let mut below = 0;
        for (bound, &cumulative) in LATENCY_BUCKETS.iter().zip(&l.buckets) {
            buckets.push((*bound, cumulative.saturating_sub(below)));
            below = cumulative;
        }
        buckets.push((f64::INFINITY, l.count.saturating_sub(below)));
        enc.encode_descriptor(
            "meridian_check_latency_seconds",
            "Health check latency as the probers report it.",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(l.sum_secs, l.count, &buckets, None)?;

        let last_report: Vec<(Labels, f64)> = self
            .status
            .probers
            .iter()
            .filter_map(|p| {
                let age = p.last_report_age_ms?;
                let labels = vec![
                    ("prober", p.name.clone()),
                    ("viewpoint", p.viewpoint.clone()),
                ];
                Some((labels, age as f64 / 1000.0))
            })
            .collect();
        gauges(
            &mut enc,
            "meridian_prober_last_report_age_seconds",
            "Time since each prober's last accepted report, by prober and viewpoint.",
            &last_report,
        )?;
        let refused: Vec<(Labels, u64)> = Refusal::ALL
            .iter()
            .map(|r| {
                (
                    vec![("reason", r.label().to_string())],
                    self.refused[*r as usize],
                )
            })
            .collect();
        counters(
            &mut enc,
            "meridian_fleet_reports_refused",
            "Report batches refused, by reason (unauthorized, invalid, rate_limited).",
            &refused,
        )?;
        gauges(
            &mut enc,
            "meridian_api_connections",
            "HTTP API connections open now.",
            &[(Vec::new(), self.connections[0] as i64)],
        )?;
        let closed = [
            ("source_cap", self.connections[1]),
            ("timeout", self.connections[2]),
        ]
        .map(|(reason, n)| (vec![("reason", reason.to_string())], n));
        counters(
            &mut enc,
            "meridian_api_connections_closed",
            "HTTP API connections closed by the server: over the per-source cap at accept, \
             or no request head (or TLS handshake) within api_header_timeout.",
            &closed,
        )?;
        gauges(
            &mut enc,
            "meridian_state_file_corrupt",
            "1 while the state file found bad at start is kept aside for the operator.",
            &[(Vec::new(), i64::from(self.status.state_file.is_some()))],
        )?;
        let reloads = [("ok", self.reloads[0]), ("refused", self.reloads[1])]
            .map(|(result, n)| (vec![("result", result.to_string())], n));
        counters(
            &mut enc,
            "meridian_reloads",
            "Configuration reloads by result.",
            &reloads,
        )
    }
}

/// Encodes a scrape, each family at once with its HELP and TYPE.
fn encode(scrape: Scrape) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

pub async fn metrics(State(state): State<ApiState>) -> Result<Response, super::ApiError> {
    let status = status(&state).await?;
    let latency = state.health.inspect(|store| store.latency.clone()).await?;
    let scrape = Scrape {
        totals: state.stats.sum(),
        status,
        latency,
        reloads: [0, 1].map(|i| state.health.reloads[i].load(Ordering::Relaxed)),
        refused: Refusal::ALL.map(|r| state.refusals.total(r)),
        connections: {
            let c = &state.connections;
            [&c.open, &c.over_source_cap, &c.timed_out].map(|n| n.load(Ordering::Relaxed))
        },
    };
    let out = encode(scrape)
        .map_err(|_| super::ApiError::Internal("cannot encode the metrics".into()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_by_status_and_by_prober() {
        // (status, counted as)
        let rows = [
            (200, None),
            (401, Some(Refusal::Unauthorized)),
            (429, Some(Refusal::RateLimited)),
            (400, Some(Refusal::Invalid)),
            (413, Some(Refusal::Invalid)),
            (500, None),
        ];
        for (code, want) in rows {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(Refusal::of(status), want, "{code}");
        }

        let r = Refusals::default();
        r.count(Refusal::Unauthorized, None);
        r.count(Refusal::Invalid, Some(("p1", "paris-isp2")));
        r.count(Refusal::Invalid, Some(("p1", "not a name!")));
        r.count(Refusal::Invalid, Some(("bad name!", "eu-west")));
        assert_eq!(r.total(Refusal::Unauthorized), 1);
        assert_eq!(r.total(Refusal::Invalid), 3);
        assert_eq!(r.total(Refusal::RateLimited), 0);
        let probers = r.probers();
        assert_eq!(probers.keys().collect::<Vec<_>>(), ["p1"]);
        assert_eq!(
            (probers["p1"].viewpoint.as_str(), probers["p1"].refused),
            ("", 2)
        );

        // Names come from requests: past the cap only the totals grow.
        for i in 0..MAX_REFUSED_PROBERS + 10 {
            r.count(Refusal::Invalid, Some((&format!("p{i}"), "x")));
        }
        assert_eq!(r.probers().len(), MAX_REFUSED_PROBERS);
        assert_eq!(
            r.total(Refusal::Invalid),
            3 + MAX_REFUSED_PROBERS as u64 + 10
        );
    }
}

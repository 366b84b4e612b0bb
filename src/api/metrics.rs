//! `GET /metrics`: Prometheus text format (version 0.0.4).
//!
//! Queries by zone and rcode and balanced answers by region (summed from the DNS workers'
//! counters), endpoint health, prober vote age, check latency, reloads.

use super::{ApiError, ApiState, status};
use crate::dns::stats::RCODES;
use crate::health::store::LATENCY_BUCKETS;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::atomic::Ordering;

fn rcode_name(rcode: usize) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        16 => "BADVERS",
        _ => "OTHER",
    }
}

/// Escapes a label value (backslash, quote, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn metrics(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let totals = state.stats.sum();
    let status = status(&state.health).await?;
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# HELP meridian_dns_responses_total DNS responses sent, by zone (empty: no zone) and rcode."
    );
    let _ = writeln!(w, "# TYPE meridian_dns_responses_total counter");
    for (zone, row) in &totals.by_zone {
        for (rcode, &n) in row.iter().enumerate().take(RCODES) {
            if n > 0 {
                let _ = writeln!(
                    w,
                    "meridian_dns_responses_total{{zone=\"{}\",rcode=\"{}\"}} {n}",
                    esc(zone),
                    rcode_name(rcode)
                );
            }
        }
    }
    for (rcode, &n) in totals.unzoned.iter().enumerate() {
        if n > 0 {
            let _ = writeln!(
                w,
                "meridian_dns_responses_total{{zone=\"\",rcode=\"{}\"}} {n}",
                rcode_name(rcode)
            );
        }
    }
    let _ = writeln!(
        w,
        "# HELP meridian_dns_balanced_answers_total Load-balanced answers by service and chosen region."
    );
    let _ = writeln!(w, "# TYPE meridian_dns_balanced_answers_total counter");
    for (service, region, n) in totals
        .by_choice
        .iter()
        .flat_map(|(s, r)| r.iter().map(move |(r, n)| (s, r, n)))
    {
        let _ = writeln!(
            w,
            "meridian_dns_balanced_answers_total{{service=\"{}\",region=\"{}\"}} {n}",
            esc(service),
            esc(region)
        );
    }
    let _ = writeln!(
        w,
        "# HELP meridian_dns_truncated_total UDP responses sent with TC set."
    );
    let _ = writeln!(w, "# TYPE meridian_dns_truncated_total counter");
    let _ = writeln!(w, "meridian_dns_truncated_total {}", totals.truncated);
    let _ = writeln!(
        w,
        "# HELP meridian_dns_dropped_total Packets not answered (runts, responses)."
    );
    let _ = writeln!(w, "# TYPE meridian_dns_dropped_total counter");
    let _ = writeln!(w, "meridian_dns_dropped_total {}", totals.dropped);

    let _ = writeln!(
        w,
        "# HELP meridian_endpoint_up Endpoint health as answers use it (1 up, 0 down or drained)."
    );
    let _ = writeln!(w, "# TYPE meridian_endpoint_up gauge");
    let _ = writeln!(
        w,
        "# HELP meridian_endpoint_drained 1 when the endpoint's region is drained."
    );
    let _ = writeln!(w, "# TYPE meridian_endpoint_drained gauge");
    let mut votes = String::new();
    for s in &status.services {
        for e in &s.endpoints {
            let labels = format!(
                "service=\"{}\",address=\"{}\",region=\"{}\"",
                esc(&s.name),
                e.address,
                esc(&e.region)
            );
            let _ = writeln!(
                w,
                "meridian_endpoint_up{{{labels}}} {}",
                (e.state == "up") as u8
            );
            let _ = writeln!(
                w,
                "meridian_endpoint_drained{{{labels}}} {}",
                (e.state == "drained") as u8
            );
            for v in &e.votes {
                let _ = writeln!(
                    votes,
                    "meridian_prober_vote_age_seconds{{{labels},prober=\"{}\",up=\"{}\"}} {:.3}",
                    esc(&v.prober),
                    v.up,
                    v.age_ms as f64 / 1000.0
                );
            }
        }
    }
    let _ = writeln!(
        w,
        "# HELP meridian_prober_vote_age_seconds Age of each prober's latest vote on each endpoint."
    );
    let _ = writeln!(w, "# TYPE meridian_prober_vote_age_seconds gauge");
    w.push_str(&votes);
    let latency = state.health.inspect(|store| store.latency.clone()).await?;
    let _ = writeln!(
        w,
        "# HELP meridian_check_latency_seconds Health check latency as the probers report it."
    );
    let _ = writeln!(w, "# TYPE meridian_check_latency_seconds histogram");
    for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
        let _ = writeln!(
            w,
            "meridian_check_latency_seconds_bucket{{le=\"{b}\"}} {}",
            latency.buckets[i]
        );
    }
    let _ = writeln!(
        w,
        "meridian_check_latency_seconds_bucket{{le=\"+Inf\"}} {}",
        latency.count
    );
    let _ = writeln!(
        w,
        "meridian_check_latency_seconds_sum {:.6}",
        latency.sum_secs
    );
    let _ = writeln!(w, "meridian_check_latency_seconds_count {}", latency.count);
    let _ = writeln!(
        w,
        "# HELP meridian_prober_last_report_age_seconds Time since each prober last reported."
    );
    let _ = writeln!(w, "# TYPE meridian_prober_last_report_age_seconds gauge");
    for p in &status.probers {
        let _ = writeln!(
            w,
            "meridian_prober_last_report_age_seconds{{prober=\"{}\",region=\"{}\"}} {:.3}",
            esc(&p.name),
            esc(&p.region),
            p.last_report_age_ms as f64 / 1000.0
        );
    }
    let _ = writeln!(
        w,
        "# HELP meridian_reloads_total Configuration reloads by result."
    );
    let _ = writeln!(w, "# TYPE meridian_reloads_total counter");
    let _ = writeln!(
        w,
        "meridian_reloads_total{{result=\"ok\"}} {}",
        state.health.reloads[0].load(Ordering::Relaxed)
    );
    let _ = writeln!(
        w,
        "meridian_reloads_total{{result=\"refused\"}} {}",
        state.health.reloads[1].load(Ordering::Relaxed)
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

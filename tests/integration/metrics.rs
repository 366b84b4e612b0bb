//! `/metrics` read the way Prometheus reads it: the whole exposition goes through a strict
//! text-format parser (`openmetrics-parser`, which refuses a family split from its HELP
//! and TYPE), then counts are compared before and after queries and reports we send.
//!
//! No prober runs here (`local_prober = false`); addresses are 127.0.40.x.

use crate::util::{FLEET_TOKEN, Query, Server, fleet_fixture, http, status_endpoint, wait_for};
use hickory_proto::rr::RecordType;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use std::time::Duration;

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;

const APP: &str = "app.example.com";

/// A failover service `app` over eu-west and us-east, checked over TCP port 9 (never
/// probed: there is no prober).
const APP_SERVICE: &str = "[services.app]\nttl = 20\npolicy = \"failover\"\n\
     order = [\"eu-west\", \"us-east\"]\n\
     check = { kind = \"tcp\", port = 9, interval = \"1s\", timeout = \"500ms\" }\n\
     endpoints = [\n  { region = \"eu-west\", address = \"127.0.40.11\" },\n  \
     { region = \"us-east\", address = \"127.0.40.12\" },\n]\n";

/// GET /metrics, parsed; panics with the text if the parser refuses it.
fn scrape(server: &Server) -> Exposition {
    let r = http(server.api(), "GET", "/metrics", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.headers
    );
    openmetrics_parser::prometheus::parse_prometheus(&r.body)
        .unwrap_or_else(|e| panic!("not valid Prometheus text ({e:?}):\n{}", r.body))
}

/// The sum of `family`'s samples whose labels include all of `labels` (0 when none).
fn value(expo: &Exposition, family: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(f) = expo.families.get(family) else {
        return 0.0;
    };
    f.iter_samples()
        .filter(|s| {
            let set = s.get_labelset().expect("labels");
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|s| match &s.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            other => panic!("{family}: not a single value: {other:?}"),
        })
        .sum()
}

/// Every family is typed (none untyped) and documented.
fn assert_typed_and_documented(expo: &Exposition) {
    for (name, f) in &expo.families {
        assert_ne!(f.family_type, PrometheusType::Unknown, "{name} is untyped");
        assert!(!f.help.trim().is_empty(), "{name} has no HELP");
    }
}

fn latency(expo: &Exposition) -> openmetrics_parser::HistogramValue {
    let f = &expo.families["meridian_check_latency_seconds"];
    assert_eq!(f.family_type, PrometheusType::Histogram);
    let sample = f.iter_samples().next().expect("one histogram");
    match &sample.value {
        PrometheusValue::Histogram(h) => h.clone(),
        other => panic!("not a histogram: {other:?}"),
    }
}

#[test]
fn metrics_are_valid_prometheus_text_and_count_what_was_sent() {
    let server = fleet_fixture(false, APP_SERVICE).start();
    let before = scrape(&server);
    assert_typed_and_documented(&before);
    let noerror = [("zone", "example.com."), ("rcode", "NOERROR")];
    let nxdomain = [("zone", "example.com."), ("rcode", "NXDOMAIN")];
    let balanced = [("service", "app.example.com."), ("region", "eu-west")];
    let ok_before = value(&before, "meridian_dns_responses_total", &noerror);
    let nx_before = value(&before, "meridian_dns_responses_total", &nxdomain);
    let bal_before = value(&before, "meridian_dns_balanced_answers_total", &balanced);

    const BALANCED: usize = 7;
    const MISSING: usize = 3;
    for _ in 0..BALANCED {
        assert_eq!(server.answer(APP), ["127.0.40.11"]);
    }
    for i in 0..MISSING {
        let q = Query::new(&format!("nothing-{i}.example.com"), RecordType::A);
        assert_eq!(server.query(&q).rcode(), 3, "NXDOMAIN");
    }
    // One vote (rtt 3 ms), one batch without the token, one that is not a batch.
    let target = status_endpoint(&server.status(), APP, "127.0.40.11")["target"]
        .as_str()
        .unwrap()
        .to_string();
    let vote = serde_json::json!({
        "prober": "p1", "region": "eu-west",
        "reports": [{ "target": target, "up": true, "changing": false, "rtt_ms": 3, "reason": "" }],
    })
    .to_string();
    let r = server.post("/v1/fleet/reports", Some(&vote));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        server.api(),
        "POST",
        "/v1/fleet/reports",
        Some("wrong-token-wrong-token"),
        Some(&vote),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    let r = http(
        server.api(),
        "POST",
        "/v1/fleet/reports",
        Some(FLEET_TOKEN),
        Some("{\"prober\": \"p1\", \"region\": \"eu-west\", \"reports\": 7}"),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // Workers add their counts once per batch: wait until they show, then they must be
    // exactly what was sent.
    let after = wait_for("the queries in /metrics", Duration::from_secs(5), || {
        let m = scrape(&server);
        let ok = value(&m, "meridian_dns_responses_total", &noerror) - ok_before;
        let nx = value(&m, "meridian_dns_responses_total", &nxdomain) - nx_before;
        (ok >= BALANCED as f64 && nx >= MISSING as f64).then_some(m)
    });
    assert_typed_and_documented(&after);
    for family in [
        "meridian_dns_responses_total",
        "meridian_dns_balanced_answers_total",
        "meridian_dns_truncated_total",
        "meridian_dns_dropped_total",
        "meridian_endpoint_up",
        "meridian_endpoint_drained",
        "meridian_prober_vote_age_seconds",
        "meridian_check_latency_seconds",
        "meridian_prober_last_report_age_seconds",
        "meridian_fleet_reports_refused_total",
        "meridian_reloads_total",
    ] {
        assert!(
            after.families.contains_key(family),
            "{family} missing; families: {:?}",
            after.families.keys().collect::<Vec<_>>()
        );
    }
    assert_eq!(
        value(&after, "meridian_dns_responses_total", &noerror) - ok_before,
        BALANCED as f64
    );
    assert_eq!(
        value(&after, "meridian_dns_responses_total", &nxdomain) - nx_before,
        MISSING as f64
    );
    assert_eq!(
        value(&after, "meridian_dns_balanced_answers_total", &balanced) - bal_before,
        BALANCED as f64
    );
    assert_eq!(value(&after, "meridian_dns_truncated_total", &[]), 0.0);
    let eu = [("address", "127.0.40.11"), ("region", "eu-west")];
    assert_eq!(value(&after, "meridian_endpoint_up", &eu), 1.0);
    assert_eq!(value(&after, "meridian_endpoint_drained", &eu), 0.0);
    let age = value(
        &after,
        "meridian_prober_vote_age_seconds",
        &[("address", "127.0.40.11"), ("prober", "p1")],
    );
    assert!((0.0..10.0).contains(&age), "vote age {age}");
    let last = value(
        &after,
        "meridian_prober_last_report_age_seconds",
        &[("prober", "p1"), ("viewpoint", "eu-west")],
    );
    assert!((0.0..10.0).contains(&last), "last report age {last}");
    // The one vote's 3 ms: above 2.5 ms, at or below 5 ms.
    let h = latency(&after);
    assert_eq!(h.count, Some(1));
    assert!(
        (h.sum.as_ref().unwrap().as_f64() - 0.003).abs() < 1e-9,
        "{h:?}"
    );
    let bucket = |le: f64| {
        h.buckets
            .iter()
            .find(|b| b.upper_bound == le)
            .unwrap_or_else(|| panic!("no bucket le={le}: {h:?}"))
            .count
            .as_f64()
    };
    assert_eq!(bucket(0.0025), 0.0);
    assert_eq!(bucket(0.005), 1.0);
    assert_eq!(bucket(f64::INFINITY), 1.0);
    let refused = |reason: &str| {
        value(
            &after,
            "meridian_fleet_reports_refused_total",
            &[("reason", reason)],
        )
    };
    assert_eq!(refused("unauthorized"), 1.0);
    assert_eq!(refused("invalid"), 1.0);
    assert_eq!(refused("rate_limited"), 0.0);
    assert_eq!(
        value(&after, "meridian_reloads_total", &[("result", "ok")]),
        0.0
    );
    // The invalid batch carried the token: its prober's refusal shows in the status.
    let status = server.status();
    let p1 = status["probers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "p1")
        .unwrap_or_else(|| panic!("no p1: {status:#}"));
    assert_eq!(p1["refused"], 1, "{p1}");
    assert_eq!(p1["reports"], 1, "{p1}");
}

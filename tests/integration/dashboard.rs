//! `deploy/grafana-dashboard.json` against a real server's `/metrics`: every metric a
//! panel, annotation or variable queries is one the server exports, every label a query
//! groups or filters by is one those metrics carry, every legend names a label the query
//! keeps, and the panels an operator looks for first are there.
//!
//! No prober runs here; endpoint addresses are 127.0.71.x (never probed).

use crate::util::{Server, fleet_fixture, http, status_endpoint, wait_for};
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;

const APP: &str = "app.example.com";

const APP_SERVICE: &str = "[services.app]\nttl = 20\npolicy = \"failover\"\n\
     order = [\"eu-west\", \"us-east\"]\n\
     check = { kind = \"tcp\", port = 9, interval = \"1s\", timeout = \"500ms\" }\n\
     endpoints = [\n  { region = \"eu-west\", address = \"127.0.71.11\" },\n  \
     { region = \"us-east\", address = \"127.0.71.12\" },\n]\n";

/// Labels Prometheus adds to every series it scrapes.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

fn dashboard() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana-dashboard.json");
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
}

/// One PromQL query of the dashboard and the legend it is drawn with.
struct Query {
    what: String,
    expr: String,
    legend: String,
}

/// Every query: panel targets, annotations and template variables.
fn queries(dash: &serde_json::Value) -> Vec<Query> {
    let mut out = Vec::new();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(Query {
                what: format!("panel {:?}", panel["title"]),
                expr: text(&target["expr"]),
                legend: text(&target["legendFormat"]),
            });
        }
    }
    for a in dash["annotations"]["list"].as_array().expect("annotations") {
        if a.get("expr").is_some() {
            out.push(Query {
                what: format!("annotation {:?}", a["name"]),
                expr: text(&a["expr"]),
                legend: String::new(),
            });
        }
    }
    for v in dash["templating"]["list"].as_array().expect("templating") {
        if v["type"] == "query" {
            out.push(Query {
                what: format!("variable {:?}", v["name"]),
                expr: text(&v["query"]["query"]),
                legend: String::new(),
            });
        }
    }
    out
}

/// The `meridian_*` metric names in a query.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("meridian_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// Label names in `by (...)`/`without (...)` groupings, and in `{...}` matchers.
fn label_names(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut grouped = BTreeSet::new();
    for keyword in ["by (", "without ("] {
        for (i, _) in expr.match_indices(keyword) {
            let list = &expr[i + keyword.len()..];
            let list = &list[..list.find(')').expect("closed grouping")];
            grouped.extend(list.split(',').map(|l| l.trim().to_string()));
        }
    }
    let mut matched = BTreeSet::new();
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("closed matcher") + open;
        for matcher in rest[open + 1..close].split(',') {
            let name = matcher.split(['=', '!']).next().unwrap().trim();
            if !name.is_empty() {
                matched.insert(name.to_string());
            }
        }
        rest = &rest[close + 1..];
    }
    // `label_values(metric, label)` in a variable names a label too.
    if let Some(args) = expr.strip_prefix("label_values(")
        && let Some((_, label)) = args.trim_end_matches(')').split_once(',')
    {
        matched.insert(label.trim().to_string());
    }
    (grouped, matched)
}

/// Metric name as Prometheus stores it → the label names its samples carry.
fn exported(expo: &Exposition) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (family, f) in &expo.families {
        let labels: BTreeSet<String> = f.get_label_names().iter().map(|l| l.to_string()).collect();
        if f.family_type == PrometheusType::Histogram {
            let mut bucket = labels.clone();
            bucket.insert("le".to_string());
            out.insert(format!("{family}_bucket"), bucket);
            out.insert(format!("{family}_sum"), labels.clone());
            out.insert(format!("{family}_count"), labels);
        } else {
            out.insert(family.clone(), labels);
        }
    }
    out
}

/// A server whose `/metrics` has a sample in every family: a zone and a balanced name
/// answered, a vote with a round-trip time, a prober's accepted batch.
fn busy_server() -> Server {
    let server = fleet_fixture(false, APP_SERVICE).start();
    assert_eq!(server.answer(APP), ["127.0.71.11"]);
    let target = status_endpoint(&server.status(), APP, "127.0.71.11")["target"]
        .as_str()
        .unwrap()
        .to_string();
    let vote = serde_json::json!({
        "prober": "p1", "region": "eu-west",
        "reports": [{ "target": target, "up": true, "rtt_ms": 4 }],
    })
    .to_string();
    let r = server.post("/v1/fleet/reports", Some(&vote));
    assert_eq!(r.status, 200, "{}", r.body);
    server
}

fn scrape(server: &Server) -> Exposition {
    let r = http(server.api(), "GET", "/metrics", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    openmetrics_parser::prometheus::parse_prometheus(&r.body)
        .unwrap_or_else(|e| panic!("not valid Prometheus text ({e:?}):\n{}", r.body))
}

#[test]
fn every_metric_and_label_the_dashboard_queries_is_one_the_server_exports() {
    let server = busy_server();
    // Workers add their counts once per batch: wait for the balanced answer to show.
    let expo = wait_for("the answer in /metrics", Duration::from_secs(5), || {
        let expo = scrape(&server);
        expo.families
            .contains_key("meridian_dns_balanced_answers_total")
            .then_some(expo)
    });
    let exported = exported(&expo);
    let dash = dashboard();
    let queries = queries(&dash);
    assert!(queries.len() >= 10, "{} queries", queries.len());
    for q in &queries {
        let names = metric_names(&q.expr);
        assert!(
            !names.is_empty(),
            "{}: queries no Meridian metric: {}",
            q.what,
            q.expr
        );
        let mut carried: BTreeSet<&str> = TARGET_LABELS.into_iter().collect();
        for name in &names {
            let labels = exported.get(name).unwrap_or_else(|| {
                panic!(
                    "{}: {name} is not in /metrics (exported: {:?})",
                    q.what,
                    exported.keys().collect::<Vec<_>>()
                )
            });
            carried.extend(labels.iter().map(String::as_str));
        }
        let (grouped, matched) = label_names(&q.expr);
        for label in grouped.iter().chain(&matched) {
            assert!(
                carried.contains(label.as_str()),
                "{}: label {label:?} is on none of {names:?}: {}",
                q.what,
                q.expr
            );
        }
        // A legend `{{label}}` must name a label the query keeps.
        for part in q.legend.split("{{").skip(1) {
            let label = part.split("}}").next().unwrap().trim();
            assert!(
                grouped.contains(label),
                "{}: legend {{{{{label}}}}} is not kept by {}",
                q.what,
                q.expr
            );
        }
    }
    // What an operator looks for first (the list): each is drawn.
    let exprs: Vec<&str> = queries.iter().map(|q| q.expr.as_str()).collect();
    let drawn = |needle: &str, grouping: &str| {
        exprs
            .iter()
            .any(|e| e.contains(needle) && e.contains(grouping))
    };
    for (metric, grouping) in [
        ("meridian_dns_responses_total", "by (rcode)"),
        ("meridian_dns_balanced_answers_total", "region"),
        ("meridian_endpoint_up", "address"),
        ("meridian_prober_last_report_age_seconds", "prober"),
        ("meridian_prober_vote_age_seconds", "prober"),
        ("meridian_dns_rrl_limited_total", "by (action)"),
        ("meridian_reloads_total", "result"),
    ] {
        assert!(
            drawn(metric, grouping),
            "no panel draws {metric} {grouping}"
        );
    }
}

#[test]
fn the_dashboard_imports_into_any_grafana_with_a_prometheus_source() {
    let dash = dashboard();
    // Importable: the data source is a variable (chosen at import), never a fixed uid.
    let input = &dash["__inputs"][0];
    assert_eq!(input["pluginId"], "prometheus", "{input}");
    let mut panels = 0;
    for panel in dash["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        panels += 1;
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for t in panel["targets"].as_array().unwrap() {
            assert_eq!(
                t["datasource"]["uid"], "${datasource}",
                "{}",
                panel["title"]
            );
        }
        assert!(
            panel["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{} has no description",
            panel["title"]
        );
    }
    assert!(panels >= 10, "{panels} panels");
    let ids: BTreeSet<u64> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        dash["panels"].as_array().unwrap().len(),
        "panel ids repeat"
    );
}

#[test]
fn the_query_reader_finds_metrics_and_labels() {
    let expr = "sum by (service, region) (rate(meridian_dns_balanced_answers_total\
                {instance=~\"$instance\", up!=\"x\"}[$__rate_interval])) / meridian_endpoint_up";
    assert_eq!(
        metric_names(expr).into_iter().collect::<Vec<_>>(),
        [
            "meridian_dns_balanced_answers_total",
            "meridian_endpoint_up"
        ]
    );
    let (grouped, matched) = label_names(expr);
    assert_eq!(
        grouped.into_iter().collect::<Vec<_>>(),
        ["region", "service"]
    );
    assert_eq!(matched.into_iter().collect::<Vec<_>>(), ["instance", "up"]);
}

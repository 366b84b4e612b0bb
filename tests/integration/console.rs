//! What the status console (`GET /`) shows, from a running server: each region's health
//! and share of answers, each name's pools with healthy capacity, the failing-open
//! warning, and the recent health events, in `/v1/status` and in the page's own copy.
//! (The page itself is drawn and clicked in Chromium by `tests/console/`.)
//!
//! No prober runs here: votes are posted by hand. Addresses are 127.0.92.x.

use crate::util::{FLEET_TOKEN, Server, fleet_fixture, http, status_endpoint, wait_for};
use std::time::Duration;

const APP: &str = "app.example.com";

/// `app`, failover eu-west (two endpoints, capacities 100 and 50) → us-east; checked
/// over TCP port 9 (never probed: there is no prober).
const APP_SERVICE: &str = "[services.app]\nttl = 20\npolicy = \"failover\"\n\
     order = [\"eu-west\", \"us-east\"]\n\
     check = { kind = \"tcp\", port = 9, interval = \"1s\", timeout = \"500ms\", rise = 1, fall = 1 }\n\
     endpoints = [\n  { region = \"eu-west\", address = \"127.0.92.11\", capacity = 100 },\n  \
     { region = \"eu-west\", address = \"127.0.92.12\", capacity = 50 },\n  \
     { region = \"us-east\", address = \"127.0.92.13\" },\n]\n";

fn down(server: &Server, address: &str) {
    let status = server.status();
    let target = status_endpoint(&status, APP, address)["target"]
        .as_str()
        .unwrap()
        .to_string();
    let batch = serde_json::json!({
        "prober": "p1",
        "region": "eu-west",
        "reports": [{ "target": target, "up": false, "changing": false, "rtt_ms": null,
                      "reason": "connect: connection refused" }],
    });
    let r = http(
        server.api(),
        "POST",
        "/v1/fleet/reports",
        Some(FLEET_TOKEN),
        Some(&batch.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn region<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no region {name}: {status:#}"))
}

fn pool<'a>(status: &'a serde_json::Value, region: &str) -> &'a serde_json::Value {
    status["services"][0]["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["region"] == region)
        .unwrap_or_else(|| panic!("no pool {region}: {status:#}"))
}

/// The newest event's message, once one of `kind` is the newest.
fn newest_event(server: &Server, kind: &str) -> String {
    wait_for(&format!("a {kind} event"), Duration::from_secs(5), || {
        let status = server.status();
        let e = &status["events"][0];
        (e["kind"] == kind).then(|| e["message"].as_str().unwrap().to_string())
    })
}

#[test]
fn status_shows_region_health_shares_pools_failing_open_and_events() {
    let server = fleet_fixture(false, APP_SERVICE).start();
    let status = server.status();
    assert_eq!(
        status["events"],
        serde_json::json!([]),
        "nothing changed yet"
    );
    let eu = region(&status, "eu-west");
    assert_eq!(
        (&eu["health"], &eu["endpoints"], &eu["endpoints_up"]),
        (&"up".into(), &2.into(), &2.into())
    );
    assert_eq!(region(&status, "us-west")["health"], "none", "no endpoint");
    assert_eq!(pool(&status, "eu-west")["healthy_capacity"], 150);
    assert_eq!(status["services"][0]["failing_open"], false);

    // Answers are counted for the region they chose.
    for _ in 0..5 {
        assert_eq!(server.answer(APP), ["127.0.92.11"]);
    }
    wait_for("5 answers counted", Duration::from_secs(5), || {
        let status = server.status();
        (region(&status, "eu-west")["answers"] == 5 && pool(&status, "eu-west")["answers"] == 5)
            .then_some(())
    });
    assert_eq!(region(&server.status(), "us-east")["answers"], 0);

    // One eu-west endpoint down: the region is degraded, its pool has 50 of 150 healthy,
    // and the event says what the prober said.
    down(&server, "127.0.92.11");
    let message = newest_event(&server, "endpoint");
    assert_eq!(
        message,
        "app.example.com. 127.0.92.11 in eu-west: up → down (p1: connect: connection refused)"
    );
    let status = server.status();
    assert_eq!(region(&status, "eu-west")["health"], "degraded");
    let eu = pool(&status, "eu-west");
    assert_eq!(
        (
            &eu["healthy_capacity"],
            &eu["total_capacity"],
            &eu["endpoints_up"]
        ),
        (&50.into(), &150.into(), &1.into())
    );

    // Everything down: the name fails open, as the answers show, and the console says so.
    down(&server, "127.0.92.12");
    down(&server, "127.0.92.13");
    let message = newest_event(&server, "failing_open");
    assert!(message.contains("A for every client"), "{message}");
    let status = server.status();
    let app = &status["services"][0];
    assert_eq!(app["failing_open"], true, "{app:#}");
    assert_eq!(
        app["all_down"],
        serde_json::json!([{ "family": "A", "route_line": null }])
    );
    assert_eq!(region(&status, "eu-west")["health"], "down");
    let mut answer = server.answer(APP);
    answer.sort();
    assert_eq!(answer, ["127.0.92.11", "127.0.92.12", "127.0.92.13"]);

    // A drain: newest first, and the region shows it.
    let r = server.post("/v1/regions/us-east/drain", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let status = server.status();
    let kinds: Vec<&str> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "endpoint",
            "drain",
            "failing_open",
            "endpoint",
            "endpoint",
            "endpoint"
        ]
    );
    assert_eq!(region(&status, "us-east")["health"], "drained");
    let ages: Vec<u64> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["age_ms"].as_u64().unwrap())
        .collect();
    assert!(ages.windows(2).all(|w| w[0] <= w[1]), "{ages:?}");

    // The page carries the same facts for its first drawing.
    let page = http(server.api(), "GET", "/", None, None);
    assert_eq!(page.status, 200);
    let carried = page.page_status();
    assert_eq!(carried["services"][0]["failing_open"], true);
    assert_eq!(carried["events"][0]["kind"], "endpoint");
    assert_eq!(region(&carried, "us-east")["drained"], true);
}

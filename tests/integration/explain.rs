//! `meridian explain` without `--server`: the health `serve` saved in `state_dir` decides,
//! and the explanation says which health it used.
//!
//! No prober runs (`local_prober = false`): the test drains a region and posts a "down"
//! vote by hand, stops the server, then explains from the saved file.

use crate::util::{Run, STARTUP_TIMEOUT, Server, fleet_fixture, status_endpoint, wait_for};
use std::path::Path;
use std::time::Duration;

const APP: &str = "app.example.com";

/// A failover service over eu-west, us-east, ap-south at 127.0.41.11/12/13 (never probed).
const SERVICE: &str = "[services.app]\npolicy = \"failover\"\n\
    order = [\"eu-west\", \"us-east\", \"ap-south\"]\n\
    check = { kind = \"tcp\", port = 9, interval = \"1s\", timeout = \"500ms\" }\n\
    endpoints = [\n  { region = \"eu-west\", address = \"127.0.41.11\" },\n  \
    { region = \"us-east\", address = \"127.0.41.12\" },\n  \
    { region = \"ap-south\", address = \"127.0.41.13\" },\n]\n";

/// Runs `meridian explain app.example.com --client 192.0.2.1 [extra]` on the config in `dir`.
fn explain(dir: &Path, extra: &[&str]) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.args(["explain", APP, "--client", "192.0.2.1", "--config"])
        .arg(dir.join("meridian.toml"))
        .args(extra);
    let run = Run::bounded(cmd, dir, STARTUP_TIMEOUT);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

/// The line of `text` that mentions `what`.
fn line<'a>(text: &'a str, what: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in\n{text}"))
}

#[test]
fn explain_without_server_uses_the_saved_health_and_says_so() {
    let dir = fleet_fixture(false, SERVICE).write();
    // Nothing saved yet: all up, and it says so.
    let out = explain(dir.path(), &[]).stdout;
    assert!(line(&out, "health:").contains("none saved"), "{out}");
    assert!(line(&out, "answer:").contains("127.0.41.11"), "{out}");

    // The server drains eu-west and hears that us-east is down; it saves both on stop.
    let server = Server::start_in(dir, None);
    let r = server.post("/v1/regions/eu-west/drain", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let status = server.status();
    let target = status_endpoint(&status, APP, "127.0.41.12")["target"]
        .as_str()
        .expect("a checked endpoint has a target")
        .to_string();
    let batch = serde_json::json!({
        "prober": "p1",
        "region": "us-east",
        "reports": [{ "target": target, "up": false, "changing": false, "rtt_ms": 3, "reason": "test says down" }],
    })
    .to_string();
    let r = server.post("/v1/fleet/reports", Some(&batch));
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for("ap-south to answer", Duration::from_secs(5), || {
        (server.answer(APP) == ["127.0.41.13"]).then_some(())
    });
    let dir = server.stop();
    let saved = dir.path().join("state/health.json");
    let before = std::fs::read(&saved).expect("state/health.json after a stop");

    // Explained from the saved file, with no server running.
    let out = explain(dir.path(), &[]).stdout;
    let health = line(&out, "health:");
    assert!(health.contains("saved in"), "{out}");
    assert!(health.contains("health.json at 20"), "{out}");
    assert!(
        line(&out, "127.0.41.11 capacity").contains(" drained"),
        "{out}"
    );
    assert!(
        line(&out, "127.0.41.12 capacity").contains(" down"),
        "{out}"
    );
    assert!(line(&out, "answer:").contains("127.0.41.13"), "{out}");

    let json: serde_json::Value =
        serde_json::from_str(&explain(dir.path(), &["--json"]).stdout).unwrap();
    let health = json["health"].as_str().unwrap_or_default();
    assert!(health.starts_with("saved in "), "{json:#}");
    assert_eq!(
        json["answer"],
        serde_json::json!(["127.0.41.13"]),
        "{json:#}"
    );
    // Read only: the file is as the server left it.
    assert_eq!(std::fs::read(&saved).unwrap(), before);
}

#[test]
fn explain_leaves_a_corrupt_state_file_where_it_is() {
    // explain runs beside a server: it must not move the server's file aside as a
    // starting server would (the server keeps a bad file for the operator to look at).
    let dir = fleet_fixture(false, SERVICE).write();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let saved = state.join("health.json");
    std::fs::write(&saved, b"{\"states\": {\"trunc").unwrap();
    let out = explain(dir.path(), &[]).stdout;
    let health = line(&out, "health:");
    assert!(
        health.contains("not a saved health state") && health.contains("all endpoints assumed up"),
        "{health}"
    );
    assert_eq!(
        line(&out, "answer:").split_whitespace().nth(1),
        Some("127.0.41.11")
    );
    assert_eq!(std::fs::read(&saved).unwrap(), b"{\"states\": {\"trunc");
    let names: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["health.json"], "nothing kept aside or added");
}

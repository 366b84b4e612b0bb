//! Health checks and the prober fleet, end to end: real HTTP, HTTPS and TCP backends on
//! 127.0.0.x in this process, the real `serve` and `probe` binaries, answers read over DNS.
//!
//! Every test uses its own block of loopback addresses (127.0.N.x), so backends of tests
//! running in parallel never meet. Checks run every second with a 500 ms timeout,
//! `rise = 2` and `fall = 2`.
//!
//! How fast things move (failover within fall × interval, votes stale after three
//! intervals, a partition moving nothing over time) is proved under a paused clock in
//! `control::tests` and `health::prober::tests`. Here the bounds are generous: they catch
//! a failover that never happens, not one that is a little slow on a busy machine.

use crate::util::{
    Backend, Probe, Reply, Server, endpoint_state, fleet_fixture, fleet_fixture_with_quorum,
    self_signed_tls, vote, wait_for,
};
use crate::util::{Query, Rdata};
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(1);
const RISE: u32 = 2;
const FALL: u32 = 2;
/// How long a test waits for something that takes a few intervals when the machine is idle.
const SETTLE: Duration = Duration::from_secs(30);

/// A failover service `name` (eu-west first, then us-east) checked with `check` (the
/// fields after `kind`, e.g. `kind = "http", port = 80`).
fn service(name: &str, check: &str, eu: &str, us: &str) -> String {
    format!(
        "[services.{name}]\nttl = 20\npolicy = \"failover\"\norder = [\"eu-west\", \"us-east\"]\n\
         check = {{ {check}, interval = \"1s\", timeout = \"500ms\", rise = {RISE}, fall = {FALL} }}\n\
         endpoints = [\n  {{ region = \"eu-west\", address = \"{eu}\" }},\n  \
         {{ region = \"us-east\", address = \"{us}\" }},\n]\n\n"
    )
}

fn http_check(port: u16) -> String {
    format!("kind = \"http\", port = {port}, path = \"/healthz\"")
}

/// Waits until `prober` has a fresh vote on every (service, address).
fn wait_for_votes(server: &Server, prober: &str, endpoints: &[(&str, &str)]) {
    wait_for(
        &format!("{prober}'s fresh votes on {endpoints:?}"),
        SETTLE,
        || {
            let status = server.status();
            endpoints
                .iter()
                .all(|(name, addr)| {
                    vote(&status, name, addr, prober).is_some_and(|v| v["fresh"] == true)
                })
                .then_some(())
        },
    );
}

/// Polls the answer for `name` every 50 ms until it is `want`; returns how long that took
/// from `since`. Any answer other than `before` or `want` on the way fails the test.
fn time_until_answer(
    server: &Server,
    name: &str,
    before: &[&str],
    want: &[&str],
    since: Instant,
) -> Duration {
    let deadline = since + SETTLE;
    loop {
        let got = server.answer(name);
        if got == want {
            return since.elapsed();
        }
        assert_eq!(got, before, "{name}: an answer neither before nor after");
        assert!(
            Instant::now() < deadline,
            "{name} still answers {got:?} after {SETTLE:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The one real failover: the local prober sees real backends stop and start again.
#[test]
fn a_stopped_backend_fails_over_and_comes_back_after_rise() {
    let mut app_eu = Backend::http("127.0.1.11", 0, Reply::Ok);
    let _app_us = Backend::http("127.0.1.12", app_eu.port(), Reply::Ok);
    let mut db_eu = Backend::http("127.0.1.13", 0, Reply::Ok);
    let _db_us = Backend::http("127.0.1.14", db_eu.port(), Reply::Ok);
    let services = service(
        "app",
        &http_check(app_eu.port()),
        "127.0.1.11",
        "127.0.1.12",
    ) + &service(
        "db",
        &format!("kind = \"tcp\", port = {}", db_eu.port()),
        "127.0.1.13",
        "127.0.1.14",
    );
    let server = fleet_fixture(true, &services).start();
    let local = "local-eu-west";
    wait_for_votes(
        &server,
        local,
        &[
            ("app.example.com", "127.0.1.11"),
            ("app.example.com", "127.0.1.12"),
            ("db.example.com", "127.0.1.13"),
            ("db.example.com", "127.0.1.14"),
        ],
    );
    assert_eq!(server.answer("app.example.com"), ["127.0.1.11"]);
    assert_eq!(server.answer("db.example.com"), ["127.0.1.13"]);

    // eu-west's backends stop: connections are refused from now on.
    app_eu.stop();
    db_eu.stop();
    // Each fails the test if the answer has not moved within SETTLE (30 s; `fall` × the
    // interval when idle).
    let stopped = Instant::now();
    for (name, before, after) in [
        ("app.example.com", "127.0.1.11", "127.0.1.12"),
        ("db.example.com", "127.0.1.13", "127.0.1.14"),
    ] {
        time_until_answer(&server, name, &[before], &[after], stopped);
    }
    let status = server.status();
    for (name, addr) in [
        ("app.example.com", "127.0.1.11"),
        ("db.example.com", "127.0.1.13"),
    ] {
        assert_eq!(endpoint_state(&status, name, addr), "down", "{name} {addr}");
        let v = vote(&status, name, addr, local).unwrap();
        assert_eq!(v["up"], false, "{v}");
        let reason = v["reason"].as_str().unwrap();
        assert!(reason.contains("refused"), "{name}: reason {reason:?}");
    }
    assert_eq!(
        endpoint_state(&status, "app.example.com", "127.0.1.12"),
        "up"
    );

    // They come back: traffic returns after `rise` good checks, not at the first one.
    app_eu.start();
    db_eu.start();
    let started = Instant::now();
    let app = time_until_answer(
        &server,
        "app.example.com",
        &["127.0.1.12"],
        &["127.0.1.11"],
        started,
    );
    let db = time_until_answer(
        &server,
        "db.example.com",
        &["127.0.1.14"],
        &["127.0.1.13"],
        started,
    );
    let at_least = INTERVAL * (RISE - 1) - Duration::from_millis(100);
    for (what, took) in [("http", app), ("tcp", db)] {
        // A lower bound only: a slow machine makes it later, never earlier.
        assert!(
            took >= at_least,
            "{what}: traffic came back after {took:?}, before rise = {RISE} checks could pass"
        );
    }
}

/// Point 4 of issue 15 with the defaults (interval 5 s, timeout 2 s, fall 3, rise 2, so
/// recheck 1 s): a backend that stops leaves the answers two re-checks after the first
/// failed check, and comes back only after `rise` checks at the normal interval. The
/// times are printed (run with `--nocapture`); the schedule itself is asserted under a
/// paused clock in `health::prober::tests`.
#[test]
fn with_default_checks_a_stopped_backend_is_rechecked_and_leaves_the_answers_fast() {
    let mut eu = Backend::http("127.0.80.11", 0, Reply::Ok);
    let _us = Backend::http("127.0.80.12", eu.port(), Reply::Ok);
    let services = format!(
        "[services.app]\nttl = 20\npolicy = \"failover\"\norder = [\"eu-west\", \"us-east\"]\n\
         check = {{ {} }}\nendpoints = [\n  {{ region = \"eu-west\", address = \"127.0.80.11\" }},\n  \
         {{ region = \"us-east\", address = \"127.0.80.12\" }},\n]\n",
        http_check(eu.port())
    );
    let server = fleet_fixture(true, &services).start();
    let local = "local-eu-west";
    let name = "app.example.com";
    let (eu_addr, us_addr) = ("127.0.80.11", "127.0.80.12");
    wait_for_votes(&server, local, &[(name, eu_addr), (name, us_addr)]);
    assert_eq!(server.answer(name), [eu_addr]);

    eu.stop();
    let stopped = Instant::now();
    // Until the answer moves: when the local prober's first failed check shows (its vote
    // still up, but changing; sent at once), and when the answer leaves eu-west.
    let mut first_failure: Option<Instant> = None;
    let moved = loop {
        let status = server.status();
        let v = vote(&status, name, eu_addr, local).expect("a vote on eu-west");
        if first_failure.is_none() && (v["changing"] == true || v["up"] == false) {
            first_failure = Some(Instant::now());
        }
        let got = server.answer(name);
        if got == [us_addr] {
            break Instant::now();
        }
        assert_eq!(got, [eu_addr], "an answer neither before nor after");
        assert!(
            stopped.elapsed() < SETTLE,
            "{name} still answers {got:?} {SETTLE:?} after its backend stopped"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let first_failure = first_failure.expect("the first failed check showed in the vote");
    let status = server.status();
    assert_eq!(endpoint_state(&status, name, eu_addr), "down");
    let v = vote(&status, name, eu_addr, local).unwrap();
    assert_eq!(v["up"], false, "{v}");
    assert!(v["reason"].as_str().unwrap().contains("refused"), "{v}");
    eprintln!(
        "detection with defaults: backend stopped -> first failed check seen {:?}; \
         first failed check -> answer moved {:?}; stopped -> moved {:?}",
        first_failure - stopped,
        moved - first_failure,
        moved - stopped,
    );

    // Back: `rise = 2` passing checks at the normal 5 s interval, so at least one whole
    // interval passes (re-checks would have made it one second).
    eu.start();
    let started = Instant::now();
    let back = time_until_answer(&server, name, &[us_addr], &[eu_addr], started);
    eprintln!("recovery with defaults: backend started -> answer back {back:?}");
    let default_interval = Duration::from_secs(5);
    assert!(
        back >= default_interval - Duration::from_millis(100),
        "traffic came back after {back:?}, before rise = 2 checks at the interval could pass"
    );
}

#[test]
fn every_kind_of_check_failure_counts_as_down() {
    // eu-west endpoints fail, each in its own way; us-east endpoints are healthy.
    let s500 = Backend::http("127.0.2.11", 0, Reply::Status(500));
    let _s500_us = Backend::http("127.0.2.31", s500.port(), Reply::Ok);
    let body = Backend::http("127.0.2.12", 0, Reply::Body("sick".into()));
    let _body_us = Backend::http("127.0.2.32", body.port(), Reply::Body("all healthy".into()));
    let hang = Backend::http("127.0.2.13", 0, Reply::Hang);
    let _hang_us = Backend::http("127.0.2.33", hang.port(), Reply::Ok);
    // Nothing listens on 127.0.2.14 and 127.0.2.15 at these ports: refused.
    let refused_us = Backend::http("127.0.2.34", 0, Reply::Ok);
    let tcp_us = Backend::http("127.0.2.35", 0, Reply::Ok);
    // A self-signed certificate that names the endpoint: only its issuer is unknown.
    let tls = Backend::https("127.0.2.16", 0, Reply::Ok, self_signed_tls("127.0.2.16"));

    let services = service("s500", &http_check(s500.port()), "127.0.2.11", "127.0.2.31")
        + &service(
            "body",
            &format!("{}, body = \"healthy\"", http_check(body.port())),
            "127.0.2.12",
            "127.0.2.32",
        )
        + &service("hang", &http_check(hang.port()), "127.0.2.13", "127.0.2.33")
        + &service(
            "refused",
            &http_check(refused_us.port()),
            "127.0.2.14",
            "127.0.2.34",
        )
        + &service(
            "tcp",
            &format!("kind = \"tcp\", port = {}", tcp_us.port()),
            "127.0.2.15",
            "127.0.2.35",
        )
        + &format!(
            "[services.tls]\nttl = 20\non_all_down = \"nodata\"\n\
             check = {{ kind = \"https\", port = {port}, path = \"/healthz\", interval = \"1s\", timeout = \"500ms\", rise = 2, fall = 2 }}\n\
             endpoints = [{{ region = \"eu-west\", address = \"127.0.2.16\" }}]\n\n\
             [services.tls-insecure]\nttl = 20\non_all_down = \"nodata\"\n\
             check = {{ kind = \"https\", port = {port}, path = \"/healthz\", insecure = true, interval = \"1s\", timeout = \"500ms\", rise = 2, fall = 2 }}\n\
             endpoints = [{{ region = \"eu-west\", address = \"127.0.2.16\" }}]\n",
            port = tls.port()
        );
    let server = fleet_fixture(true, &services).start();

    // (service, failing endpoint, healthy endpoint, what the reason must say)
    let rows = [
        ("s500", "127.0.2.11", Some("127.0.2.31"), "HTTP 500"),
        ("body", "127.0.2.12", Some("127.0.2.32"), "body"),
        ("hang", "127.0.2.13", Some("127.0.2.33"), "timeout"),
        ("refused", "127.0.2.14", Some("127.0.2.34"), "refused"),
        ("tcp", "127.0.2.15", Some("127.0.2.35"), "refused"),
        ("tls", "127.0.2.16", None, "certificate"),
    ];
    let status = wait_for("every failing endpoint down", SETTLE, || {
        let status = server.status();
        rows.iter()
            .all(|(name, addr, _, _)| {
                endpoint_state(&status, &format!("{name}.example.com"), addr) == "down"
            })
            .then_some(status)
    });
    for (name, addr, healthy, reason_has) in rows {
        let fqdn = format!("{name}.example.com");
        let v = vote(&status, &fqdn, addr, "local-eu-west").expect("local vote");
        assert_eq!(v["up"], false, "{fqdn} {addr}: {v}");
        let reason = v["reason"].as_str().unwrap();
        assert!(
            reason.contains(reason_has),
            "{fqdn}: reason {reason:?} should say {reason_has:?}"
        );
        match healthy {
            Some(healthy) => {
                assert_eq!(endpoint_state(&status, &fqdn, healthy), "up", "{fqdn}");
                assert_eq!(server.answer(&fqdn), [healthy], "{fqdn} fails over");
            }
            None => assert_eq!(
                server.answer(&fqdn),
                Vec::<String>::new(),
                "{fqdn}: on_all_down = nodata"
            ),
        }
    }
    // The same TLS backend is healthy when the certificate is not verified: it is the
    // certificate, and nothing else, that made `tls` down.
    assert_eq!(
        endpoint_state(&status, "tls-insecure.example.com", "127.0.2.16"),
        "up"
    );
    let v = vote(
        &status,
        "tls-insecure.example.com",
        "127.0.2.16",
        "local-eu-west",
    )
    .expect("local vote");
    assert_eq!(v["up"], true, "{v}");
    assert_eq!(server.answer("tls-insecure.example.com"), ["127.0.2.16"]);
}

/// Two external probers: p1 from 127.0.N.21 (eu-west), p2 from 127.0.N.22 (us-east).
fn two_probers(server: &Server, n: u8) -> Vec<Probe> {
    let token = server.dir().join("fleet.token");
    ["eu-west", "us-east"]
        .iter()
        .enumerate()
        .map(|(i, region)| {
            let source = format!("127.0.{n}.{}", 21 + i).parse().unwrap();
            Probe::start(
                &format!("p{}", i + 1),
                region,
                &[server.api()],
                &token,
                Some(source),
            )
        })
        .collect()
}

/// The real `probe` binary: fetches targets, checks from `--source`, reports over HTTP.
/// One prober's broken path to eu-west shows in its votes, and moves no answer.
#[test]
fn a_remote_probers_partition_shows_in_its_votes_and_moves_nothing() {
    let eu = Backend::http("127.0.0.11", 0, Reply::Ok);
    let _us = Backend::http("127.0.0.12", eu.port(), Reply::Ok);
    let services = service("app", &http_check(eu.port()), "127.0.0.11", "127.0.0.12");
    let server = fleet_fixture(false, &services).start();
    let _probers = two_probers(&server, 0);
    let name = "app.example.com";
    // Both probers have voted up first: with fast re-checks, a prober whose path is
    // broken from the start could vote down (a majority of one) before the other's
    // first report arrives.
    wait_for_votes(&server, "p1", &[(name, "127.0.0.11")]);
    wait_for_votes(&server, "p2", &[(name, "127.0.0.11")]);
    // p1's network to eu-west breaks: from its source address it sees HTTP 500.
    eu.set_reply_for("127.0.0.21", Reply::Status(500));
    let status = wait_for("p1's down vote and p2's up vote on eu-west", SETTLE, || {
        let status = server.status();
        let p1 = vote(&status, name, "127.0.0.11", "p1")?;
        let p2 = vote(&status, name, "127.0.0.11", "p2")?;
        (p1["up"] == false && p1["fresh"] == true && p2["up"] == true && p2["fresh"] == true)
            .then_some(status)
    });
    let p1 = vote(&status, name, "127.0.0.11", "p1").unwrap();
    let reason = p1["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 500"), "p1's reason {reason:?}");
    let p1_us = vote(&status, name, "127.0.0.12", "p1").expect("p1 checks us-east too");
    assert_eq!(p1_us["up"], true, "{p1_us}");
    // One of two fresh votes is no majority: eu-west keeps its state and the answer, with
    // a short TTL while the votes disagree.
    assert_eq!(endpoint_state(&status, name, "127.0.0.11"), "up");
    let (addrs, ttl) = server.a_records(name);
    assert_eq!(addrs, ["127.0.0.11".parse::<std::net::Ipv4Addr>().unwrap()]);
    assert!(ttl.is_some_and(|t| (5..20).contains(&t)), "TTL {ttl:?}");

    // The path heals: p1 says up again, the votes agree, and the full TTL is back.
    eu.clear_peer_rules();
    wait_for("p1's vote on eu-west up again", SETTLE, || {
        let status = server.status();
        (vote(&status, name, "127.0.0.11", "p1")?["up"] == true).then_some(())
    });
    wait_for("the service TTL once the votes agree", SETTLE, || {
        (server.a_records(name).1 == Some(20)).then_some(())
    });
    assert_eq!(server.answer(name), ["127.0.0.11"]);
}

/// `on_all_down = { fallback = [...] }` (issue 15 point 6): real backends stop, the local
/// prober sees it, and the fallback addresses answer, over UDP and to dig; `explain` and
/// `/v1/status` say why; a backend back means its own address again.
#[test]
fn with_every_endpoint_down_the_fallback_addresses_answer() {
    let mut eu = Backend::http("127.0.81.11", 0, Reply::Ok);
    let mut us = Backend::http("127.0.81.12", eu.port(), Reply::Ok);
    let fallback = ["192.0.2.80", "192.0.2.81"];
    let services = service("app", &http_check(eu.port()), "127.0.81.11", "127.0.81.12")
        .replace(
            "ttl = 20\n",
            "ttl = 20\non_all_down = { fallback = [\"192.0.2.80\", \"2001:db8::80\", \"192.0.2.81\"] }\n",
        );
    let server = fleet_fixture(true, &services).start();
    let name = "app.example.com";
    wait_for_votes(
        &server,
        "local-eu-west",
        &[(name, "127.0.81.11"), (name, "127.0.81.12")],
    );
    assert_eq!(server.answer(name), ["127.0.81.11"]);

    // eu-west goes: us-east answers, not the fallback.
    eu.stop();
    time_until_answer(
        &server,
        name,
        &["127.0.81.11"],
        &["127.0.81.12"],
        Instant::now(),
    );
    // us-east goes too: the fallback's IPv4 addresses, both (not `max_answers`).
    us.stop();
    time_until_answer(&server, name, &["127.0.81.12"], &fallback, Instant::now());
    let (_, ttl) = server.a_records(name);
    assert!(ttl.is_some_and(|t| t <= 20), "{ttl:?}");

    let status = server.status();
    for addr in ["127.0.81.11", "127.0.81.12"] {
        assert_eq!(endpoint_state(&status, name, addr), "down");
    }
    let svc = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "app.example.com.")
        .unwrap();
    assert_eq!(svc["on_all_down"], "fallback", "{svc}");
    assert_eq!(svc["failing_open"], false, "{svc}");

    let reply = crate::util::http(
        server.api(),
        "GET",
        "/v1/explain?name=app.example.com&client=192.0.2.1",
        None,
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let e: serde_json::Value = reply.json();
    assert_eq!(e["all_down"], true, "{e}");
    assert_eq!(e["on_all_down"], "fallback", "{e}");
    assert_eq!(
        e["fallback"],
        serde_json::json!(["192.0.2.80", "2001:db8::80", "192.0.2.81"])
    );
    assert_eq!(e["answer"], serde_json::json!(["192.0.2.80", "192.0.2.81"]));

    // dig sees an ordinary authoritative answer.
    if std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED (dig part): dig is not installed (apt-get install bind9-dnsutils)");
    } else {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new("dig");
        cmd.arg(format!("@{}", server.dns.ip()))
            .arg("-p")
            .arg(server.dns.port().to_string())
            .args([&format!("{name}."), "A", "+norec", "+tries=1", "+time=5"]);
        let run = crate::util::Run::bounded(cmd, dir.path(), Duration::from_secs(20));
        let out = run.stdout;
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(out.contains(" aa"), "authoritative: {out}");
        for a in fallback {
            let record = out
                .lines()
                .any(|l| l.starts_with(&format!("{name}.")) && l.ends_with(a));
            assert!(record, "no A {a} in dig's answer:\n{out}");
        }
    }

    // us-east back (after `rise` checks): its own address again, not the fallback.
    us.start();
    time_until_answer(&server, name, &fallback, &["127.0.81.12"], Instant::now());
}

/// `[fleet] quorum = "regions"` (issue 15 point 5) against `"majority"`, with the same five
/// real probers reporting to both servers: three at viewpoint eu-west, whose path to the
/// eu-west backend is broken (HTTP 500 to their source addresses), one each at us-east and
/// ap-south. By prober majority the crowd wins (3 of 5: down, traffic moves); by regions
/// it is one viewpoint of three, and nothing moves.
#[test]
fn by_regions_a_crowd_of_probers_at_one_viewpoint_cannot_fail_an_endpoint() {
    let eu = Backend::http("127.0.82.11", 0, Reply::Ok);
    let _us = Backend::http("127.0.82.12", eu.port(), Reply::Ok);
    let services = service("app", &http_check(eu.port()), "127.0.82.11", "127.0.82.12");
    let by_regions = fleet_fixture_with_quorum(false, "\"regions\"", &services).start();
    let by_majority = fleet_fixture_with_quorum(false, "\"majority\"", &services).start();
    let probers = [
        ("eu1", "eu-west"),
        ("eu2", "eu-west"),
        ("eu3", "eu-west"),
        ("us1", "us-east"),
        ("ap1", "ap-south"),
    ];
    for (i, (_, viewpoint)) in probers.iter().enumerate() {
        if *viewpoint == "eu-west" {
            eu.set_reply_for(&format!("127.0.82.{}", 21 + i), Reply::Status(500));
        }
    }
    let token = by_regions.dir().join("fleet.token");
    let _running: Vec<Probe> = probers
        .iter()
        .enumerate()
        .map(|(i, (name, viewpoint))| {
            let source = format!("127.0.82.{}", 21 + i).parse().unwrap();
            Probe::start(
                name,
                viewpoint,
                &[by_regions.api(), by_majority.api()],
                &token,
                Some(source),
            )
        })
        .collect();
    let name = "app.example.com";
    for server in [&by_regions, &by_majority] {
        wait_for("every prober's settled vote on eu-west", SETTLE, || {
            let status = server.status();
            probers
                .iter()
                .all(|(p, viewpoint)| {
                    vote(&status, name, "127.0.82.11", p)
                        .is_some_and(|v| v["fresh"] == true && v["up"] == (*viewpoint != "eu-west"))
                })
                .then_some(())
        });
    }
    let status = by_majority.status();
    assert_eq!(endpoint_state(&status, name, "127.0.82.11"), "down");
    time_until_answer(
        &by_majority,
        name,
        &["127.0.82.11"],
        &["127.0.82.12"],
        Instant::now(),
    );
    let status = by_regions.status();
    assert_eq!(endpoint_state(&status, name, "127.0.82.11"), "up");
    assert_eq!(by_regions.answer(name), ["127.0.82.11"]);
}

/// `on_all_down = { cname = ... }`: with every endpoint down the answer is an
/// authoritative CNAME to the fallback name, as dig and our own parser see it; `explain`
/// says so.
#[test]
fn with_every_endpoint_down_a_fallback_cname_answers() {
    let mut eu = Backend::http("127.0.83.11", 0, Reply::Ok);
    let services = format!(
        "[services.app]\nttl = 20\non_all_down = {{ cname = \"backup.example.net.\" }}\n\
         check = {{ {}, interval = \"1s\", timeout = \"500ms\", rise = 2, fall = 2 }}\n\
         endpoints = [{{ region = \"eu-west\", address = \"127.0.83.11\" }}]\n",
        http_check(eu.port())
    );
    let server = fleet_fixture(true, &services).start();
    let name = "app.example.com";
    wait_for_votes(&server, "local-eu-west", &[(name, "127.0.83.11")]);
    assert_eq!(server.answer(name), ["127.0.83.11"]);
    eu.stop();
    let cname_of = |rtype: RecordType| {
        let q = Query::new(name, rtype);
        let r = server.query(&q);
        assert_eq!(r.rcode(), crate::util::rcode::NOERROR);
        r.answers
            .iter()
            .find(|rec| rec.rtype == RecordType::CNAME)
            .map(|rec| (rec.name.clone(), rec.data.clone(), r.aa, r.answers.len()))
    };
    let (owner, data, aa, count) =
        wait_for("the fallback CNAME", SETTLE, || cname_of(RecordType::A));
    assert_eq!(owner, "app.example.com.");
    assert_eq!(data, Rdata::Name("backup.example.net.".into()));
    assert!(aa);
    assert_eq!(count, 1, "the CNAME alone");
    // No IPv6 endpoint: AAAA is NODATA, as while healthy (the fallback stands in for
    // endpoints that are down, not for a family the service never had).
    assert!(cname_of(RecordType::AAAA).is_none());

    let reply = crate::util::http(
        server.api(),
        "GET",
        "/v1/explain?name=app.example.com&client=192.0.2.1",
        None,
        None,
    );
    let e: serde_json::Value = reply.json();
    assert_eq!(e["answer_cname"], "backup.example.net.", "{e}");
    assert_eq!(e["fallback_cname"], "backup.example.net.", "{e}");

    if std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED (dig part): dig is not installed (apt-get install bind9-dnsutils)");
    } else {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new("dig");
        cmd.arg(format!("@{}", server.dns.ip()))
            .arg("-p")
            .arg(server.dns.port().to_string())
            .args([&format!("{name}."), "A", "+norec", "+tries=1", "+time=5"]);
        let out = crate::util::Run::bounded(cmd, dir.path(), Duration::from_secs(20)).stdout;
        assert!(out.contains("status: NOERROR"), "{out}");
        let line = out
            .lines()
            .find(|l| l.starts_with("app.example.com.") && l.contains("CNAME"))
            .unwrap_or_else(|| panic!("no CNAME in dig's answer:\n{out}"));
        assert!(line.ends_with("backup.example.net."), "{line}");
    }
}

//! `policy = "latency"` and load feedback (issue 15, points 1 to 3), end to end: the real
//! `serve`, real `meridian probe` processes bound to their own source addresses, and real
//! `meridian lab-backend` backends that hold each answer back by a delay chosen by the
//! peer's address and report a load, both read from files the test rewrites.
//!
//! Nothing here bounds a time: every change is waited for by polling with a generous
//! deadline (the EWMA and hold are proved exactly in unit tests).

use crate::util::{
    ECS, Edns, Probe, Query, Rdata, STARTUP_TIMEOUT, Server, fleet_fixture, http, status_endpoint,
    vote, wait_for,
};
use hickory_proto::rr::RecordType;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Long enough for several check intervals on a busy machine.
const SETTLE: Duration = Duration::from_secs(60);

/// A running `meridian lab-backend --http ADDR --delay-file F --load-file F`, stopped by
/// PID on drop.
struct LabBackend {
    child: Child,
    addr: SocketAddr,
    delays: PathBuf,
    load: PathBuf,
}

impl LabBackend {
    fn start(dir: &Path, name: &str, addr: SocketAddr) -> LabBackend {
        let delays = dir.join(format!("{name}.delays"));
        let load = dir.join(format!("{name}.load"));
        std::fs::write(&delays, "").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .arg("lab-backend")
            .args(["--name", name, "--http", &addr.to_string()])
            .arg("--delay-file")
            .arg(&delays)
            .arg("--load-file")
            .arg(&load)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn meridian lab-backend");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                tx.send(line).ok();
            }
        });
        let mut backend = LabBackend {
            child,
            addr,
            delays,
            load,
        };
        let line = rx.recv_timeout(STARTUP_TIMEOUT).expect("lab-backend ready");
        let http = line
            .split_whitespace()
            .find_map(|t| t.strip_prefix("http="))
            .expect("http= in the ready line");
        backend.addr = http.parse().unwrap();
        backend
    }

    /// Answers to `peer` wait `ms` from now on (one line per peer).
    fn set_delays(&self, rows: &[(&str, u64)]) {
        let text: String = rows.iter().map(|(p, ms)| format!("{p} {ms}\n")).collect();
        write_atomically(&self.delays, &text);
    }

    fn set_load(&self, load: f64) {
        write_atomically(&self.load, &format!("{load}\n"));
    }
}

impl Drop for LabBackend {
    fn drop(&mut self) {
        crate::util::terminate(&mut self.child);
    }
}

/// Written beside and renamed over, so the backend never reads half a file.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A free port on `ip`.
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The A addresses answered to a client in `network/24` (ECS), sorted.
fn answer_for(server: &Server, name: &str, network: &str) -> Vec<String> {
    let addr: IpAddr = network.parse().unwrap();
    let IpAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let option = crate::util::ecs_option(1, 24, 0, &v4.octets()[..3]);
    let q = Query::new(name, RecordType::A).edns(Edns::new(1232).option(ECS, option));
    let r = server.query(&q);
    r.assert_answer(&q);
    let mut out: Vec<String> = r
        .answers
        .iter()
        .filter_map(|rec| match rec.data {
            Rdata::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// `prober`'s smoothed RTT to `address` of `name`, as `/v1/status` shows it.
fn srtt(server: &Server, name: &str, address: &str, prober: &str) -> Option<f64> {
    vote(&server.status(), name, address, prober)?["srtt_ms"].as_f64()
}

// Clients the built-in database places in London and in Tokyo (see tests/integration/geo.rs).
const LONDON: &str = "212.58.244.0";
const TOKYO: &str = "13.112.0.0";

/// Two endpoints, one in us-east (Ashburn) and one in us-west (San Jose); two viewpoints,
/// `eu-west` (placed by its `[regions]` entry, Dublin) probing from 127.0.110.2 and
/// `tokyo-isp` (placed by `--lat/--lon`) probing from 127.0.110.3. By distance London
/// would get us-east and Tokyo us-west; the injected delays say the opposite, and the
/// answers follow the delays. Then a small gain of the other endpoint moves nothing, and a
/// large one moves London's answer.
#[test]
fn latency_policy_follows_each_viewpoints_measured_rtt_and_holds_against_small_changes() {
    let (east, west) = ("127.0.110.11", "127.0.110.12");
    let (eu_probe, tokyo_probe) = ("127.0.110.2", "127.0.110.3");
    let port = free_port(east);
    let dir = tempfile::tempdir().unwrap();
    let b_east = LabBackend::start(
        dir.path(),
        "east",
        format!("{east}:{port}").parse().unwrap(),
    );
    let b_west = LabBackend::start(
        dir.path(),
        "west",
        format!("{west}:{port}").parse().unwrap(),
    );
    // eu-west measures us-west fast and us-east slow; tokyo-isp the other way round.
    b_east.set_delays(&[(eu_probe, 150), (tokyo_probe, 30)]);
    b_west.set_delays(&[(eu_probe, 30), (tokyo_probe, 150)]);

    let services = format!(
        "[services.lat]\nttl = 20\npolicy = \"latency\"\n\
         check = {{ kind = \"http\", port = {port}, path = \"/\", interval = \"1s\", \
         timeout = \"900ms\", rise = 1, fall = 2 }}\n\
         endpoints = [\n  {{ region = \"us-east\", address = \"{east}\" }},\n  \
         {{ region = \"us-west\", address = \"{west}\" }},\n]\n"
    );
    let server = fleet_fixture(false, &services).start();
    let name = "lat.example.com";
    let token = server.dir().join("fleet.token");

    // Before any RTT: like `nearest`.
    assert_eq!(
        answer_for(&server, name, LONDON),
        [east],
        "London, no RTT yet"
    );
    assert_eq!(
        answer_for(&server, name, TOKYO),
        [west],
        "Tokyo, no RTT yet"
    );

    let _eu = Probe::start(
        "p-eu",
        "eu-west",
        &[server.api()],
        &token,
        Some(eu_probe.parse().unwrap()),
    );
    let _tokyo = Probe::start_with(
        "p-tokyo",
        "tokyo-isp",
        &[server.api()],
        &token,
        Some(tokyo_probe.parse().unwrap()),
        &["--lat", "35.68", "--lon", "139.69"],
    );

    // Each client gets what its nearest viewpoint measured fastest.
    wait_for(
        "London answered from us-west (fast from eu-west)",
        SETTLE,
        || (answer_for(&server, name, LONDON) == [west]).then_some(()),
    );
    wait_for(
        "Tokyo answered from us-east (fast from tokyo-isp)",
        SETTLE,
        || (answer_for(&server, name, TOKYO) == [east]).then_some(()),
    );

    // /v1/explain shows the viewpoint and the RTTs that decided (once both are measured).
    let e = wait_for(
        "eu-west's RTTs to both regions in /v1/explain",
        SETTLE,
        || {
            let r = http(
                server.api(),
                "GET",
                &format!("/v1/explain?name={name}&client={LONDON}/24"),
                None,
                None,
            );
            assert_eq!(r.status, 200, "{}", r.body);
            let e = r.json();
            (e["viewpoint"]["regions"].as_array().map_or(0, |r| r.len()) == 2).then_some(e)
        },
    );
    assert_eq!(e["ranking"], "latency", "{e:#}");
    assert_eq!(e["viewpoint"]["name"], "eu-west", "{e:#}");
    let ranked = e["viewpoint"]["regions"].as_array().unwrap();
    assert_eq!(ranked[0][0], "us-west", "{e:#}");
    let (fast, slow) = (
        ranked[0][1].as_f64().unwrap(),
        ranked[1][1].as_f64().unwrap(),
    );
    assert!(fast >= 30.0 && slow >= 150.0 && fast < slow, "{e:#}");
    eprintln!("eu-west measured: us-west {fast:.1} ms, us-east {slow:.1} ms");

    // A small gain: us-east becomes 5 ms (under 20 % and 10 ms) faster than us-west from
    // eu-west. Once eu-west's smoothed RTT has settled there, London still gets us-west.
    b_east.set_delays(&[(eu_probe, 25), (tokyo_probe, 30)]);
    let (settled, west_ms) = wait_for(
        "eu-west's smoothed RTT to us-east to settle",
        SETTLE,
        || {
            let (e, w) = (
                srtt(&server, name, east, "p-eu")?,
                srtt(&server, name, west, "p-eu")?,
            );
            (e < w - 3.5).then_some((e, w))
        },
    );
    eprintln!("after the small change: us-east {settled:.1} ms, us-west {west_ms:.1} ms");
    assert!(settled < west_ms, "us-east is now the faster one");
    for _ in 0..3 {
        // Several checks later (each poll takes a status and an answer), still held.
        let _ = wait_for("another eu-west report", SETTLE, || {
            srtt(&server, name, east, "p-eu").filter(|ms| (*ms - settled).abs() > 0.0)
        });
        assert_eq!(
            answer_for(&server, name, LONDON),
            [west],
            "a small gain moved London"
        );
    }

    // A large one: us-west slows to 150 ms from eu-west; London moves to us-east. Tokyo,
    // whose viewpoint saw nothing change, stays.
    b_west.set_delays(&[(eu_probe, 150), (tokyo_probe, 150)]);
    wait_for("London moved to us-east", SETTLE, || {
        (answer_for(&server, name, LONDON) == [east]).then_some(())
    });
    eprintln!(
        "after the large change, London moved at: us-east {:.1} ms, us-west {:.1} ms",
        srtt(&server, name, east, "p-eu").unwrap_or(f64::NAN),
        srtt(&server, name, west, "p-eu").unwrap_or(f64::NAN)
    );
    assert_eq!(answer_for(&server, name, TOKYO), [east]);
}

/// An endpoint that reports a high load loses share to spill-over, and gets it back when
/// its load falls: 200 client networks that all rank us-east first (the unknown-location
/// list, with geolocation off), counted by answer.
#[test]
fn a_backend_reporting_high_load_loses_share_to_spill_over() {
    let (east, west) = ("127.0.111.11", "127.0.111.12");
    let port = free_port(east);
    let dir = tempfile::tempdir().unwrap();
    let b_east = LabBackend::start(
        dir.path(),
        "east",
        format!("{east}:{port}").parse().unwrap(),
    );
    let _b_west = LabBackend::start(
        dir.path(),
        "west",
        format!("{west}:{port}").parse().unwrap(),
    );
    b_east.set_load(0.2);
    let services = format!(
        "[services.load]\nttl = 20\nunknown_location = [\"us-east\", \"us-west\"]\n\
         shed_load = {{ low = 0.7, high = 0.95 }}\n\
         check = {{ kind = \"http\", port = {port}, path = \"/\", interval = \"1s\", \
         timeout = \"900ms\", rise = 1, fall = 2 }}\n\
         endpoints = [\n  {{ region = \"us-east\", address = \"{east}\" }},\n  \
         {{ region = \"us-west\", address = \"{west}\" }},\n]\n"
    );
    let fixture = fleet_fixture(false, &services);
    let config = fixture.config();
    let server = fixture
        .config_text(&config.replace("[fleet]", "[geoip]\ndatabase = \"\"\n\n[fleet]"))
        .start();
    let name = "load.example.com";
    let token = server.dir().join("fleet.token");
    let _probe = Probe::start(
        "p-load",
        "eu-west",
        &[server.api()],
        &token,
        Some("127.0.111.2".parse().unwrap()),
    );

    let count_east = || {
        (0..200)
            .filter(|i| {
                answer_for(&server, name, &format!("10.{}.{}.0", i / 100, i % 100)) == [east]
            })
            .count()
    };
    wait_for("a load vote on us-east", SETTLE, || {
        let s = server.status();
        status_endpoint(&s, name, east)["load"]
            .as_f64()
            .filter(|l| *l < 0.3)
    });
    let calm = count_east();
    eprintln!("load 0.2: us-east answers {calm} of 200 networks");
    assert_eq!(calm, 200, "a calm us-east keeps every network");

    // Load 0.9: effective capacity 100 × (1 − 0.2/0.25 × 0.99) ≈ 21; the rest spills.
    b_east.set_load(0.9);
    let effective = wait_for("us-east's effective capacity to shrink", SETTLE, || {
        let s = server.status();
        status_endpoint(&s, name, east)["effective_capacity"]
            .as_f64()
            .filter(|c| *c < 22.0)
    });
    let loaded = count_east();
    eprintln!("load 0.9: effective capacity {effective:.1}, us-east answers {loaded} of 200");
    assert!(
        (20..=70).contains(&loaded),
        "{loaded} of 200 networks kept by a loaded us-east"
    );

    // Load 0.5 again: everything comes back.
    b_east.set_load(0.5);
    wait_for("us-east's whole capacity back", SETTLE, || {
        let s = server.status();
        (status_endpoint(&s, name, east)["effective_capacity"].as_f64() == Some(100.0))
            .then_some(())
    });
    assert_eq!(count_east(), 200);
}

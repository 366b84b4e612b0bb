//! Probers are viewpoints: `meridian probe --region NAME` checks from any named place,
//! serving region or not, and a prober the servers refuse says so loudly.
//!
//! Real `serve` and `probe` binaries; HTTP backends and a fake refusing server in this
//! process. Addresses are 127.0.41.x and 127.0.42.x.

use crate::util::{
    Backend, FLEET_TOKEN, Probe, Reply, Run, STARTUP_TIMEOUT, fleet_fixture, http, wait_for,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A failover service `app` (eu-west, then us-east) with an HTTP check on `port`.
fn app_service(eu: &str, us: &str, port: u16) -> String {
    format!(
        "[services.app]\nttl = 20\npolicy = \"failover\"\norder = [\"eu-west\", \"us-east\"]\n\
         check = {{ kind = \"http\", port = {port}, path = \"/healthz\", interval = \"1s\", \
         timeout = \"500ms\", rise = 2, fall = 2 }}\n\
         endpoints = [\n  {{ region = \"eu-west\", address = \"{eu}\" }},\n  \
         {{ region = \"us-east\", address = \"{us}\" }},\n]\n"
    )
}

fn token_file(dir: &std::path::Path, token: &str) -> std::path::PathBuf {
    let path = dir.join("fleet.token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

#[test]
fn a_probe_with_a_wrong_token_exits_at_once_saying_why() {
    let server = fleet_fixture(false, &app_service("127.0.41.1", "127.0.41.2", 9)).start();
    let dir = tempfile::tempdir().unwrap();
    let wrong = token_file(dir.path(), "not-the-fleet-token-at-all");
    let url = format!("http://{}", server.api());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.args([
        "probe", "--region", "eu-west", "--name", "p-wrong", "--server",
    ])
    .arg(&url)
    .arg("--token-file")
    .arg(&wrong);
    let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
    assert_eq!(run.status.code(), Some(1), "stderr:\n{}", run.stderr);
    assert!(
        !run.stdout.contains("ready"),
        "it must not say it is ready: {}",
        run.stdout
    );
    for needle in [url.as_str(), "401", "token", "not starting"] {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            run.stderr
        );
    }
}

#[test]
fn a_prober_at_a_viewpoint_that_is_no_region_votes_and_is_listed() {
    // eu-west's endpoint fails its check; only the prober at paris-isp2 can see it.
    let eu = Backend::http("127.0.41.11", 0, Reply::Status(503));
    let _us = Backend::http("127.0.41.12", eu.port(), Reply::Ok);
    let server =
        fleet_fixture(false, &app_service("127.0.41.11", "127.0.41.12", eu.port())).start();
    assert_eq!(server.answer("app.example.com"), ["127.0.41.11"]);
    let token = token_file(server.dir(), FLEET_TOKEN);
    let _probe = Probe::start("vp-paris", "paris-isp2", &[server.api()], &token, None);

    // Its votes count: the answer moves to us-east.
    wait_for(
        "paris-isp2's votes to move the answer",
        Duration::from_secs(10),
        || (server.answer("app.example.com") == ["127.0.41.12"]).then_some(()),
    );
    let status = server.status();
    let viewpoint = status["viewpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "paris-isp2")
        .unwrap_or_else(|| panic!("no viewpoint paris-isp2: {status:#}"));
    assert_eq!(viewpoint["region"], false, "{viewpoint}");
    assert_eq!(viewpoint["probers"], serde_json::json!(["vp-paris"]));
    let prober = status["probers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "vp-paris")
        .unwrap_or_else(|| panic!("no prober vp-paris: {status:#}"));
    assert_eq!(prober["viewpoint"], "paris-isp2");
    assert_eq!(prober["refused"], 0);
    assert!(prober["reports"].as_u64().unwrap() >= 2, "{prober}");
    assert!(
        prober["last_report_age_ms"].as_u64().unwrap() < 10_000,
        "{prober}"
    );

    // The console carries the same viewpoints and probers.
    let page = http(server.api(), "GET", "/", None, None);
    assert_eq!(page.status, 200);
    let carried = page.page_status();
    assert_eq!(carried["viewpoints"], status["viewpoints"], "{carried:#}");
    assert!(
        carried["probers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "vp-paris" && p["viewpoint"] == "paris-isp2"),
        "{carried:#}"
    );
}

/// A stand-in server: gives out one target (TCP to a closed port, so votes are "down"
/// and batches go out) and refuses every report batch with 400 and a reason. Counts the
/// batches it refused.
struct RefusingServer {
    addr: SocketAddr,
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const TARGETS: &str = r#"{"targets":[{"id":"tcp://127.0.42.11:9#timeout=500ms","address":"127.0.42.11","kind":"tcp","port":9,"interval_ms":1000,"timeout_ms":500,"rise":1,"fall":1}]}"#;
const REASON: &str = "report batch refused: the test says no";

impl RefusingServer {
    fn start() -> RefusingServer {
        let listener = TcpListener::bind("127.0.42.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let refused = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (refused.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => Self::answer(stream, &r),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RefusingServer {
            addr,
            refused,
            stop,
            thread: Some(thread),
        }
    }

    fn answer(stream: TcpStream, refused: &AtomicUsize) {
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let (status, body) = if request_line.starts_with("GET /v1/fleet/targets") {
            ("200 OK", TARGETS.to_string())
        } else {
            refused.fetch_add(1, Ordering::Relaxed);
            (
                "400 Bad Request",
                serde_json::json!({ "error": REASON }).to_string(),
            )
        };
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

impl Drop for RefusingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn refused_report_batches_are_one_error_a_minute_naming_server_status_and_reason() {
    let fake = RefusingServer::start();
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), FLEET_TOKEN);
    let probe = Probe::start("p-refused", "lisbon", &[fake.addr], &token, None);
    // Several batches refused...
    wait_for("three refused batches", Duration::from_secs(10), || {
        (fake.refused.load(Ordering::Relaxed) >= 3).then_some(())
    });
    // ...and one error about them, naming the server, the status and the reason.
    let stderr = probe.stderr();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains(REASON))
        .collect();
    assert_eq!(errors.len(), 1, "one error a minute:\n{stderr}");
    let url = format!("http://{}", fake.addr);
    for needle in [url.as_str(), "400"] {
        assert!(
            errors[0].contains(needle),
            "{needle:?} not in {}",
            errors[0]
        );
    }
}

//! The Docker lab's pieces that need no Docker (`tests/lab/lab_test.py` runs the lab
//! itself): its stand-in backend (`meridian lab-backend`) over real sockets, its server
//! configs and the image's default config as `check` reads them, and the shipped
//! geodata sending the README's London, California and Tokyo subnets to their regions.

use crate::util::{Run, STARTUP_TIMEOUT};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `meridian lab-backend`, killed by PID and waited for on drop.
struct Backend {
    child: Child,
    http: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start_backend(args: &[&str]) -> Backend {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .arg("lab-backend")
        .args(args)
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
    let mut backend = Backend {
        child,
        http: None,
        tcp: None,
    };
    let line = rx
        .recv_timeout(STARTUP_TIMEOUT)
        .expect("a ready line from lab-backend");
    assert!(
        line.starts_with("meridian lab-backend ready name="),
        "{line}"
    );
    for token in line.split_whitespace() {
        if let Some(v) = token.strip_prefix("http=") {
            backend.http = v.parse().ok();
        }
        if let Some(v) = token.strip_prefix("tcp=") {
            backend.tcp = v.parse().ok();
        }
    }
    backend
}

fn read_all(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn lab_backend_answers_every_http_request_200_and_greets_tcp_clients() {
    let backend = start_backend(&[
        "--name",
        "eu-west",
        "--http",
        "127.0.0.1:0",
        "--tcp",
        "127.0.0.1:0",
    ]);
    let http = backend.http.expect("bound http= address");
    assert_ne!(http.port(), 0);
    for path in ["/", "/healthz?x=1"] {
        let mut stream = TcpStream::connect(http).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: lab\r\n\r\n").unwrap();
        let reply = read_all(stream);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply:?}");
        assert!(reply.ends_with("\r\n\r\nbackend eu-west\n"), "{reply:?}");
        assert!(reply.contains("Content-Length: 16\r\n"), "{reply:?}");
    }
    let tcp = backend.tcp.expect("bound tcp= address");
    assert_eq!(read_all(TcpStream::connect(tcp).unwrap()), "eu-west\n");
}

#[test]
fn lab_backend_with_only_tcp_has_no_http_listener() {
    let backend = start_backend(&["--name", "ap", "--tcp", "127.0.0.1:0"]);
    assert_eq!(backend.http, None);
    assert_eq!(
        read_all(TcpStream::connect(backend.tcp.unwrap()).unwrap()),
        "ap\n"
    );
}

#[test]
fn lab_backend_without_a_listener_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.args(["lab-backend", "--name", "x"]);
    let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("--http ADDR, --tcp ADDR"),
        "{}",
        run.stderr
    );
}

/// Copies `from` (a directory) into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// deploy/lab/ in a temp dir, with state_dir moved into it (the lab's is a volume path),
/// so that `explain` reads no health from this machine.
fn lab_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("deploy/lab"), dir.path());
    for server in ["server-1.toml", "server-2.toml"] {
        let path = dir.path().join(server);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("state_dir = \"/var/lib/meridian\""), "{text}");
        let text = text.replace("state_dir = \"/var/lib/meridian\"", "state_dir = \"state\"");
        std::fs::write(&path, text).unwrap();
    }
    dir
}

fn meridian(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.args(args);
    Run::bounded(cmd, dir, STARTUP_TIMEOUT)
}

#[test]
fn the_lab_servers_configs_pass_check_with_three_regions_and_both_names() {
    let dir = lab_copy();
    for server in ["server-1.toml", "server-2.toml"] {
        let run = meridian(dir.path(), &["check", "--config", server]);
        assert_eq!(run.status.code(), Some(0), "{server}: {}", run.stderr);
        assert!(
            run.stdout
                .contains(": ok (1 zones, 7 records, 2 load-balanced names, 3 regions)"),
            "{server}: {}",
            run.stdout
        );
    }
}

#[test]
fn the_lab_sends_london_california_and_tokyo_to_their_regions_backends() {
    // The subnets of README.md's lab section and tests/lab/lab_test.py; the addresses
    // of deploy/lab/zones/lab.example.toml (backend-eu, backend-us, backend-ap).
    let dir = lab_copy();
    let rows = [
        ("81.2.69.0/24", "172.30.1.10"),
        ("13.52.0.0/24", "172.30.2.10"),
        ("52.68.0.0/24", "172.30.3.10"),
    ];
    for server in ["server-1.toml", "server-2.toml"] {
        for name in ["www.lab.example", "tcp.lab.example"] {
            for (subnet, address) in rows {
                let run = meridian(
                    dir.path(),
                    &[
                        "explain", name, "--client", subnet, "--json", "--config", server,
                    ],
                );
                assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
                let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
                assert_eq!(
                    json["answer"],
                    serde_json::json!([address]),
                    "{server} {name} {subnet}: {json:#}"
                );
            }
        }
    }
}

#[test]
fn the_images_default_config_passes_check_with_the_shipped_zones() {
    // As the Dockerfile lays it out: /etc/meridian/meridian.toml and zones/ beside it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("deploy/image/meridian.toml"),
        dir.path().join("meridian.toml"),
    )
    .unwrap();
    copy_dir(&repo().join("zones"), &dir.path().join("zones"));
    let run = meridian(dir.path(), &["check", "--config", "meridian.toml"]);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(
        run.stdout.starts_with("meridian.toml: ok ("),
        "{}",
        run.stdout
    );
}

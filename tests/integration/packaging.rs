//! What an operator installs: `meridian --version` with the commit, the production config
//! in `deploy/` as `check` sees it, and the systemd unit and sysusers file as systemd's own
//! tools read them (SKIPPED where `systemd-analyze` is missing). Nothing here binds port 53:
//! `check` opens no socket.

use crate::util::{Run, STARTUP_TIMEOUT};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root (the crate's directory).
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

#[test]
fn version_names_the_crate_version_and_the_commit_it_was_built_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.arg("--version");
    let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
    assert!(run.status.success(), "{}", run.stderr);
    // build.rs says where the commit came from; the test finds it again on its own.
    let commit = match env!("MERIDIAN_COMMIT_FROM") {
        "git" => git(&["rev-parse", "--short", "HEAD"]).expect("a git checkout"),
        "env" => {
            eprintln!("note: built with MERIDIAN_COMMIT set; its value is not checked");
            env!("MERIDIAN_COMMIT").to_string()
        }
        _ => "unknown".to_string(),
    };
    assert_eq!(
        run.stdout,
        format!("meridian {} (commit {commit})\n", env!("CARGO_PKG_VERSION"))
    );
    if env!("MERIDIAN_COMMIT_FROM") == "git" {
        assert!(
            commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit:?}"
        );
    }
}

/// `deploy/production.toml` as `meridian.toml` in a fresh directory, with the repository's
/// shipped `zones/` beside it (as the install steps copy them to `/etc/meridian`).
fn production_install() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("meridian-itest-prod-")
        .tempdir()
        .unwrap();
    std::fs::copy(
        repo().join("deploy/production.toml"),
        dir.path().join("meridian.toml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    for entry in std::fs::read_dir(repo().join("zones")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.path().join("zones").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    dir
}

#[test]
fn the_production_config_passes_check_with_the_shipped_zones() {
    let dir = production_install();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.args(["check", "--config"])
        .arg(dir.path().join("meridian.toml"));
    let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
    assert_eq!(run.status.code(), Some(0), "stderr:\n{}", run.stderr);
    let first = run.stdout.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!(
            "{}: ok (",
            dir.path().join("meridian.toml").display()
        )) && first.ends_with(" 6 regions)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("geolocation: built-in geodata/meridian-city.mmdb"),
        "{}",
        run.stdout
    );
}

/// `[table] key` of a TOML document.
fn key<'a>(doc: &'a toml::Table, table: &str, key: &str) -> &'a toml::Value {
    doc.get(table)
        .and_then(|t| t.get(key))
        .unwrap_or_else(|| panic!("no {table}.{key}"))
}

#[test]
fn the_production_config_serves_port_53_everywhere_and_writes_only_the_state_directory() {
    let text = std::fs::read_to_string(repo().join("deploy/production.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let listen: Vec<&str> = key(&doc, "server", "dns_listen")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listen, ["0.0.0.0:53", "[::]:53"]);
    let api: std::net::SocketAddr = key(&doc, "server", "api_listen")
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        api.ip().is_loopback(),
        "the API is not public by default: {api}"
    );
    // Every file the server writes must be where the unit lets it write.
    let state = unit_state_dir();
    for (table, k) in [
        ("server", "state_dir"),
        ("fleet", "token_file"),
        ("cookies", "secret_file"),
    ] {
        let path = PathBuf::from(key(&doc, table, k).as_str().unwrap());
        assert!(
            path.starts_with(&state),
            "{table}.{k} = {path:?} is outside the unit's StateDirectory {state:?}"
        );
    }
    // And the unit starts the server on the config path the install steps use.
    let unit = std::fs::read_to_string(repo().join("deploy/meridian.service")).unwrap();
    assert!(
        unit.lines()
            .any(|l| l
                == "ExecStart=/usr/local/bin/meridian serve --config /etc/meridian/meridian.toml"),
        "{unit}"
    );
    assert!(unit.lines().any(|l| l == "ConfigurationDirectory=meridian"));
}

/// `/var/lib/` + the unit's `StateDirectory=`.
fn unit_state_dir() -> PathBuf {
    let unit = std::fs::read_to_string(repo().join("deploy/meridian.service")).unwrap();
    let name = unit
        .lines()
        .find_map(|l| l.strip_prefix("StateDirectory="))
        .expect("StateDirectory= in the unit");
    Path::new("/var/lib").join(name)
}

fn systemd_analyze() -> bool {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian: systemd)");
    }
    found
}

/// The unit, with the binary path pointed at the one under test (verify wants it to exist),
/// written to `dir`.
fn unit_for_test(dir: &Path) -> PathBuf {
    let unit = std::fs::read_to_string(repo().join("deploy/meridian.service")).unwrap();
    let path = dir.join("meridian.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/meridian", env!("CARGO_BIN_EXE_meridian")),
    )
    .unwrap();
    path
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if !systemd_analyze() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("meridian.service"),
        "warnings about the unit: {stderr}"
    );
    // The exposure score systemd computes from the sandboxing options, 0 (locked down) to
    // 10: at most 2.0 ("OK"); dropping any large group of options pushes it over.
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exposure above 2.0:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Overall exposure level"), "{stdout}");
}

#[test]
fn the_sysusers_file_makes_the_meridian_system_user() {
    let out = Command::new("systemd-sysusers")
        .args(["--dry-run", "--root"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg(repo().join("deploy/meridian.sysusers"))
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED: systemd-sysusers is not installed (Debian: systemd)");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Creating user 'meridian'"), "{stderr}");
}

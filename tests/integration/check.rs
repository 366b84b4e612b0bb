//! `meridian check`: exit 0 for a valid config, 1 otherwise, with `FILE:LINE: reason` on
//! stderr; and `serve` refuses to start on what `check` rejects.

use crate::util::{Fixture, Run, STARTUP_TIMEOUT};
use std::path::Path;
use std::process::Command;

/// A valid zone; rows below break one line of it and keep the numbering.
const ZONE_LINES: [&str; 8] = [
    "$ORIGIN example.com.",
    "$TTL 3600",
    "@ 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",
    "@ IN NS ns1.example.com.",
    "ns1 IN A 192.0.2.1",
    "ftp IN A 192.0.2.21",
    "www IN A 192.0.2.10",
    "mail IN A 192.0.2.25",
];

/// `ZONE_LINES` with 1-based line `n` replaced.
fn zone_with(replacements: &[(usize, &str)]) -> String {
    let mut lines: Vec<&str> = ZONE_LINES.to_vec();
    for &(n, text) in replacements {
        lines[n - 1] = text;
    }
    lines.join("\n") + "\n"
}

/// Zones broken at one record: (what, the zone text, the line the error must name).
fn broken_records() -> Vec<(&'static str, String, usize)> {
    vec![
        (
            "record outside the origin",
            zone_with(&[(7, "www.other.org. IN A 192.0.2.7")]),
            7,
        ),
        (
            "IPv4 address out of range",
            zone_with(&[(7, "www IN A 300.1.1.1")]),
            7,
        ),
        (
            "unknown record type",
            zone_with(&[(7, "www IN BOGUS 1")]),
            7,
        ),
        ("A record without data", zone_with(&[(7, "www IN A")]), 7),
    ]
}

/// Zones missing something at the apex, so no one line is at fault.
fn broken_apexes() -> Vec<(&'static str, String)> {
    vec![
        ("zone without SOA", zone_with(&[(3, "; no SOA here")])),
        (
            "zone without NS at the apex",
            zone_with(&[(4, "; no NS here")]),
        ),
    ]
}

/// The line number in the first `PATH:LINE: reason` of `stderr`, if there is one with a
/// non-empty reason.
fn error_line(stderr: &str, path: &Path) -> Option<usize> {
    let prefix = format!("{}:", path.display());
    stderr.lines().find_map(|line| {
        let rest = &line[line.find(&prefix)? + prefix.len()..];
        let (number, reason) = rest.split_once(':')?;
        let n = number.parse().ok()?;
        (!reason.trim().is_empty()).then_some(n)
    })
}

/// Every line number named for `path` in `stderr`.
fn error_lines(stderr: &str, path: &Path) -> Vec<usize> {
    let mut lines: Vec<usize> = stderr
        .lines()
        .filter_map(|line| error_line(line, path))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

#[test]
fn check_accepts_valid_config_and_zones() {
    for fixture in [
        Fixture::standard(),
        Fixture::new().zone("example.com", &zone_with(&[])),
    ] {
        let run = fixture.check();
        assert_eq!(run.status.code(), Some(0), "stderr:\n{}", run.stderr);
    }
}

/// Runs `check` on each zone; returns one message per row that did not exit 1 with
/// `ZONEFILE:LINE: reason` on stderr (and the right line, where one is given).
fn check_failures(rows: Vec<(&'static str, String, Option<usize>)>) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, zone, line) in rows {
        let run = Fixture::new().zone("example.com", &zone).check();
        let path = run.dir().join("zones").join("example.com.zone");
        let named = error_line(&run.stderr, &path);
        let ok =
            run.status.code() == Some(1) && named.is_some() && (line.is_none() || named == line);
        if !ok {
            failures.push(format!(
                "{what}: want exit 1 and `{}:{}: reason`; got {:?} and stderr:\n{}",
                path.display(),
                line.map_or("LINE".to_string(), |l| l.to_string()),
                run.status.code(),
                run.stderr
            ));
        }
    }
    failures
}

#[test]
fn check_rejects_broken_record_naming_file_and_line() {
    let rows = broken_records()
        .into_iter()
        .map(|(what, zone, line)| (what, zone, Some(line)))
        .collect();
    let failures = check_failures(rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_rejects_zone_without_soa_or_apex_ns_naming_file_and_line() {
    let rows = broken_apexes()
        .into_iter()
        .map(|(what, zone)| (what, zone, None))
        .collect();
    let failures = check_failures(rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// STYLE §4: `check` reports every error, not just the first.
#[test]
fn check_reports_every_error_in_every_zone() {
    let bad_example = zone_with(&[
        (6, "ftp IN A 300.1.1.1"),
        (8, "mail IN AAAA not-an-address"),
    ]);
    let bad_net = zone_with(&[(1, "$ORIGIN example.net."), (7, "www IN A 1.2.3")])
        .replace("example.com.", "example.net.");
    let run = Fixture::new()
        .zone("example.com", &bad_example)
        .zone("example.net", &bad_net)
        .check();
    assert_eq!(run.status.code(), Some(1), "stderr:\n{}", run.stderr);
    let com = run.dir().join("zones").join("example.com.zone");
    let net = run.dir().join("zones").join("example.net.zone");
    assert_eq!(
        error_lines(&run.stderr, &com),
        [6, 8],
        "stderr:\n{}",
        run.stderr
    );
    assert_eq!(
        error_lines(&run.stderr, &net),
        [7],
        "stderr:\n{}",
        run.stderr
    );
}

#[test]
fn check_rejects_broken_config_naming_file_and_line() {
    let base = Fixture::new().zone("example.com", &zone_with(&[])).config();
    // (what, config text, line of the error)
    let rows = [
        (
            "TOML syntax error",
            base.replace("udp_workers = 1", "udp_workers = = 1"),
            6,
        ),
        ("unknown key", base.replace("zones_dir", "zones_dirr"), 4),
        (
            "wrong value type",
            base.replace("udp_workers = 1", "udp_workers = \"many\""),
            6,
        ),
    ];
    for (what, config, line) in rows {
        let run = Fixture::new()
            .zone("example.com", &zone_with(&[]))
            .config_text(&config)
            .check();
        let path = run.dir().join("meridian.toml");
        assert_eq!(
            run.status.code(),
            Some(1),
            "{what}: exit code; stderr:\n{}",
            run.stderr
        );
        assert_eq!(
            error_line(&run.stderr, &path),
            Some(line),
            "{what}: want `{}:{line}: reason`; stderr:\n{}",
            path.display(),
            run.stderr
        );
    }
}

#[test]
fn serve_refuses_to_start_with_a_broken_zone() {
    let zones = broken_records()
        .into_iter()
        .map(|(what, zone, _)| (what, zone))
        .chain(broken_apexes());
    for (what, zone) in zones {
        let dir = Fixture::new().zone("example.com", &zone).write();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
        cmd.arg("serve")
            .arg("--config")
            .arg(dir.path().join("meridian.toml"));
        let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
        assert!(
            !run.status.success(),
            "{what}: serve exited 0; stderr:\n{}",
            run.stderr
        );
        assert!(
            !run.stdout.contains("meridian ready"),
            "{what}: serve said it was ready:\n{}",
            run.stdout
        );
        assert!(
            run.stderr.contains("example.com.zone"),
            "{what}: stderr does not say which zone is broken:\n{}",
            run.stderr
        );
    }
}

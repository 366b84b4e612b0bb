//! `meridian check`: exit 0 for a valid config, 1 otherwise, with `FILE:LINE: reason` on
//! stderr; every error of the whole configuration in one run, duplicates named by key, no
//! follow-on errors; and `serve` refuses to start on what `check` rejects.

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

/// `lines` with each 1-based line `n` of `replacements` replaced, as a file's text.
fn with_lines(lines: &[&str], replacements: &[(usize, &str)]) -> String {
    let mut lines = lines.to_vec();
    for &(n, text) in replacements {
        lines[n - 1] = text;
    }
    lines.join("\n") + "\n"
}

/// Runs `check` on a config, `example.com`'s zone and its services file, asserts that it
/// fails (exit 1), and returns stderr's lines with the temp dir taken out, and stderr.
fn failed_check(what: &str, config: &str, zone: &str, services: &str) -> (Vec<String>, String) {
    let run = Fixture::new()
        .config_text(config)
        .zone("example.com", zone)
        .file("zones/example.com.toml", services)
        .check();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{what}: stderr:\n{}",
        run.stderr
    );
    (relative_lines(&run.stderr, run.dir()), run.stderr)
}

/// `ZONE_LINES` with 1-based line `n` replaced.
fn zone_with(replacements: &[(usize, &str)]) -> String {
    with_lines(&ZONE_LINES, replacements)
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

/// The `identity:` line says what `id.server.`, the NSID and `version.bind.` give; a bad
/// value is an error naming the file, line and key.
#[test]
fn check_shows_the_identity_and_names_a_bad_one() {
    let rows = [
        (
            "identity = \"ns1\"",
            "  identity: \"ns1\"; nsid: \"ns1\"; version: off",
        ),
        (
            "identity = \"\"\nnsid = \"hex:00ff\"\nversion = \"v9\"",
            "  identity: off; nsid: \"hex:00ff\"; version: \"v9\"",
        ),
    ];
    for (keys, want) in rows {
        let run = Fixture::standard().server_key(keys).check();
        assert_eq!(run.status.code(), Some(0), "stderr:\n{}", run.stderr);
        assert!(
            run.stdout.lines().any(|l| l == want),
            "want {want:?} in:\n{}",
            run.stdout
        );
    }
    let run = Fixture::standard()
        .server_key("identity = \"\"\nnsid = true")
        .check();
    assert_eq!(run.status.code(), Some(1), "stdout:\n{}", run.stdout);
    let path = run.dir().join("meridian.toml");
    let want = format!(
        "{}:8: server.nsid: true sends server.identity",
        path.display()
    );
    assert!(
        run.stderr.contains(&want),
        "want {want:?} in:\n{}",
        run.stderr
    );
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

/// A valid config with regions eu-west and us-east, line by line (rows change lines of it).
const CONFIG_LINES: [&str; 17] = [
    "[server]",
    "region = \"eu-west\"",
    "dns_listen = [\"127.0.0.1:0\"]",
    "api_listen = \"127.0.0.1:0\"",
    "zones_dir = \"zones\"",
    "state_dir = \"state\"",
    "udp_workers = 1",
    "[geoip]",
    "database = \"\"",
    "[fleet]",
    "local_prober = false",
    "[regions.eu-west]",
    "lat = 53.35",
    "lon = -6.26",
    "[regions.us-east]",
    "lat = 39.04",
    "lon = -77.49",
];

/// `CONFIG_LINES` with 1-based line `n` replaced.
fn config_with(replacements: &[(usize, &str)]) -> String {
    with_lines(&CONFIG_LINES, replacements)
}

/// `zones/example.com.toml`: `lb` in eu-west and us-east; line 2 is `ttl`.
fn services_with_ttl(ttl: &str) -> String {
    format!(
        "[services.lb]\nttl = {ttl}\nendpoints = [\n  {{ region = \"eu-west\", address = \"192.0.2.10\" }},\n  \
         {{ region = \"us-east\", address = \"192.0.2.20\" }},\n]\n"
    )
}

/// `example.net.zone`, valid.
fn net_zone(replacements: &[(usize, &str)]) -> String {
    let mut lines = vec![(1, "$ORIGIN example.net.")];
    lines.extend_from_slice(replacements);
    zone_with(&lines).replace("example.com.", "example.net.")
}

/// stderr's lines with the fixture's directory taken out of the paths.
fn relative_lines(stderr: &str, dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    stderr
        .lines()
        .map(|l| l.replace(&prefix, ""))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Each of `want` is the start of one line of `got`, in order, and nothing else is there.
fn assert_lines_start_with(got: &[String], want: &[&str], stderr: &str) {
    assert_eq!(
        got.len(),
        want.len(),
        "want {want:#?}\ngot stderr:\n{stderr}"
    );
    for (line, start) in got.iter().zip(want) {
        assert!(
            line.starts_with(start),
            "want {start:?}, got {line:?}\nstderr:\n{stderr}"
        );
    }
}

/// Issue 9: one run names every error of meridian.toml, both zone files and both services
/// files (and the geolocation database), each as FILE:LINE: KEY: reason, and nothing else.
#[test]
fn check_reports_every_error_of_the_whole_configuration_at_once() {
    let config = config_with(&[
        (7, "udp_workers = \"many\""),
        (9, "database = \"nowhere.mmdb\""),
        (16, "lat = 100"),
    ]);
    let net_services = "[services.lb]\nendpoints = [\n  { region = \"us-east\", address = \"192.0.2.30\" },\n  \
                        { region = \"eu-wset\", address = \"192.0.2.31\" },\n]\n";
    let run = Fixture::new()
        .config_text(&config)
        .zone("example.com", &zone_with(&[(6, "ftp IN A 300.1.1.1")]))
        .file("zones/example.com.toml", &services_with_ttl("0"))
        .zone("example.net", &net_zone(&[(7, "www IN A 1.2.3")]))
        .file("zones/example.net.toml", net_services)
        .check();
    assert_eq!(run.status.code(), Some(1), "stderr:\n{}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout:\n{}", run.stdout);
    let got = relative_lines(&run.stderr, run.dir());
    assert_lines_start_with(
        &got,
        &[
            "meridian.toml:7: server.udp_workers: invalid type: string \"many\"",
            "meridian.toml:16: regions.us-east.lat: 100.0 is outside -90..=90",
            "zones/example.com.toml:2: services.lb.ttl: 0 is below the minimum 1",
            "zones/example.com.zone:6: ",
            "zones/example.net.toml:4: services.lb.endpoints[1].region: unknown region \"eu-wset\"",
            "zones/example.net.zone:7: ",
            "nowhere.mmdb: cannot open geolocation database",
        ],
        &run.stderr,
    );
}

/// Duplicates name the key (TOML duplicate keys, services, regions, endpoint addresses).
#[test]
fn check_names_the_key_of_a_duplicate() {
    let lb_twice = format!("{}[services.lb]\nttl = 60\n", services_with_ttl("30"));
    let lb_cases = services_with_ttl("30") + &services_with_ttl("60").replace("lb", "LB");
    let address_twice = services_with_ttl("30").replace("192.0.2.20", "192.0.2.10");
    let server_key_twice = config_with(&[(7, "udp_workers = 1\nzones_dir = \"zones\"")]);
    let region_twice = config_with(&[(15, "[regions.eu-west]")]);
    // (what, meridian.toml, zones/example.com.toml, the one error)
    let rows = [
        (
            "a region defined twice",
            region_twice,
            services_with_ttl("30"),
            "meridian.toml:15: regions.eu-west: duplicate key (first defined on line 12)",
        ),
        (
            "a server key written twice",
            server_key_twice,
            services_with_ttl("30"),
            "meridian.toml:8: server.zones_dir: duplicate key (first defined on line 5)",
        ),
        (
            "a service defined twice",
            config_with(&[]),
            lb_twice,
            "zones/example.com.toml:7: services.lb: duplicate key (first defined on line 1)",
        ),
        (
            "a service defined twice in another case",
            config_with(&[]),
            lb_cases,
            "zones/example.com.toml:7: services.LB: \"LB\" is the same name as \"lb\" on line 1",
        ),
        (
            "an endpoint address listed twice",
            config_with(&[]),
            address_twice,
            "zones/example.com.toml:5: services.lb.endpoints[1].address: 192.0.2.10 is listed twice",
        ),
    ];
    for (what, config, services, want) in rows {
        let (got, stderr) = failed_check(what, &config, &zone_with(&[]), &services);
        assert_lines_start_with(&got, &[want], &stderr);
    }
}

/// An error is reported where it is written, not again in everything that depends on it.
#[test]
fn check_reports_no_follow_on_errors() {
    let uses_us_east = services_with_ttl("30");
    // (what, meridian.toml, example.com.zone, example.com.toml, every error)
    let rows: Vec<(&str, String, String, String, Vec<&str>)> = vec![
        (
            "a region whose table has an error, used by a service",
            config_with(&[(16, "lat = \"north\"")]),
            zone_with(&[]),
            uses_us_east.clone(),
            vec!["meridian.toml:16: regions.us-east.lat: invalid type: string \"north\""],
        ),
        (
            "a region that is not a table, used by a service and by server.region",
            config_with(&[(2, "region = \"us-east\""), (15, "[regions]\nus-east = 5")])
                .replace("lat = 39.04\nlon = -77.49\n", ""),
            zone_with(&[]),
            uses_us_east.clone(),
            vec!["meridian.toml:16: regions.us-east: invalid type: integer `5`, expected a table"],
        ),
        (
            "a syntax error in meridian.toml: the services are still checked, but not their regions",
            config_with(&[(14, "lon = = -6.26")]),
            zone_with(&[]),
            services_with_ttl("0"),
            vec![
                "meridian.toml:14: ",
                "zones/example.com.toml:2: services.lb.ttl: 0 is below the minimum 1",
            ],
        ),
        (
            "a zone file that does not parse: its services file is still checked",
            config_with(&[]),
            zone_with(&[(7, "www IN A")]),
            services_with_ttl("0"),
            vec![
                "zones/example.com.toml:2: services.lb.ttl: 0 is below the minimum 1",
                "zones/example.com.zone:7: ",
            ],
        ),
        (
            "a zones_dir of the wrong type: its files are not looked for",
            config_with(&[(5, "zones_dir = 5")]),
            zone_with(&[]),
            services_with_ttl("0"),
            vec!["meridian.toml:5: server.zones_dir: invalid type: integer `5`"],
        ),
    ];
    for (what, config, zone, services, want) in rows {
        let (got, stderr) = failed_check(what, &config, &zone, &services);
        assert_eq!(got.len(), want.len(), "{what}: stderr:\n{stderr}");
        assert_lines_start_with(&got, &want, &stderr);
    }
}

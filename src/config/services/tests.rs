//! Unit tests for the `zones/<origin>.toml` loader: the SPEC's example, every default, names,
//! and each error's line and key. Inline files, then rows of input → expected value or error.

use super::*;
use crate::config::parse;

const FILE: &str = "zones/example.com.toml";

/// Regions eu-west (0) and us-east (1).
fn config() -> Config {
    let text = "[server]\nregion = \"eu-west\"\n\
                [regions.eu-west]\nlat = 53.35\nlon = -6.26\n\
                [regions.us-east]\nlat = 39.04\nlon = -77.49\n";
    parse(text, Path::new("meridian.toml")).unwrap()
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn parse_at(text: &str) -> Result<Vec<Service>, ConfigErrors> {
    parse_services(text, Path::new(FILE), &name("example.com."), &config())
}

fn ok(text: &str) -> Vec<Service> {
    match parse_at(text) {
        Ok(services) => services,
        Err(e) => panic!("expected valid services, got:\n{e}\n--- text ---\n{text}"),
    }
}

fn one(text: &str) -> Service {
    let mut services = ok(text);
    assert_eq!(services.len(), 1, "{text}");
    services.remove(0)
}

fn errors(text: &str) -> Vec<String> {
    match parse_at(text) {
        Ok(services) => panic!("expected errors, got {services:#?}\n--- text ---\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// A valid `[services.www]` on lines 1-2; `extra` starts on line 3.
fn www(extra: &str) -> String {
    format!(
        "[services.www]\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.1\" }}]\n{extra}"
    )
}

/// `www` with a check: `check` is the inline table's body, on line 3.
fn www_check(check: &str) -> String {
    www(&format!("check = {{ {check} }}\n"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn spec_example_parses_into_the_expected_services() {
    let text = r#"# Load-balanced names of example.com.
[services.www]                    # www.example.com.; "@" is the apex
ttl = 30
max_answers = 2
policy = "nearest"
check = { kind = "http", port = 80, path = "/healthz", interval = "5s", timeout = "2s", rise = 2, fall = 3 }
endpoints = [
  { region = "eu-west", address = "203.0.113.10", capacity = 100 },
  { region = "eu-west", address = "2001:db8::10", capacity = 100 },
  { region = "us-east", address = "198.51.100.10", capacity = 200 },
]
on_all_down = "nodata"
unknown_location = ["us-east"]

[[services.www.route]]
countries = ["AU", "nz"]
continents = ["oc"]
regions = ["us-east"]

[[services.www.route]]
networks = ["10.0.0.0/8", "2001:db8:1::/48"]
regions = ["eu-west", "us-east"]

[services."@"]
policy = "failover"
order = ["us-east", "eu-west"]
check = { kind = "https", port = 443, host = "example.com", insecure = true, expect = [200, "300-302"], body = "ok" }
endpoints = [
  { region = "us-east", address = "198.51.100.20" },
  { region = "eu-west", address = "203.0.113.20", capacity = 0 },
]

[services.API]
policy = "weighted"
check = { kind = "tcp", port = 5432, interval = "1m", timeout = "10s", rise = 1, fall = 100 }
endpoints = [{ region = "eu-west", address = "192.0.2.7", capacity = 1000000 }]
"#;
    let file = PathBuf::from(FILE);
    let expected = vec![
        Service {
            name: name("www.example.com."),
            overprovision: 1.0,
            salt: super::name_salt(&name("www.example.com.")),
            bias: Vec::new(),
            shed_load: Some(crate::config::ShedLoad::default()),
            origin: name("example.com."),
            file: file.clone().into(),
            line: 2,
            ttl: 30,
            max_answers: 2,
            policy: Policy::Nearest,
            check: Some(Check {
                kind: CheckKind::Http,
                port: 80,
                path: "/healthz".into(),
                host: None,
                insecure: false,
                expect: vec![(200, 399)],
                body: None,
                interval: secs(5),
                timeout: secs(2),
                recheck: secs(1),
                rise: 2,
                fall: 3,
            }),
            endpoints: vec![
                Endpoint {
                    region: 0,
                    address: ip("203.0.113.10"),
                    capacity: 100,
                },
                Endpoint {
                    region: 0,
                    address: ip("2001:db8::10"),
                    capacity: 100,
                },
                Endpoint {
                    region: 1,
                    address: ip("198.51.100.10"),
                    capacity: 200,
                },
            ],
            routes: vec![
                Route {
                    countries: vec![*b"AU", *b"NZ"],
                    continents: vec![*b"OC"],
                    networks: vec![],
                    regions: vec![1],
                    line: 15,
                },
                Route {
                    countries: vec![],
                    continents: vec![],
                    networks: vec![
                        "10.0.0.0/8".parse().unwrap(),
                        "2001:db8:1::/48".parse().unwrap(),
                    ],
                    regions: vec![0, 1],
                    line: 20,
                },
            ],
            on_all_down: OnAllDown::NoData,
            unknown_location: vec![1],
        },
        Service {
            name: name("example.com."),
            overprovision: 1.0,
            salt: super::name_salt(&name("example.com.")),
            bias: Vec::new(),
            shed_load: Some(crate::config::ShedLoad::default()),
            origin: name("example.com."),
            file: file.clone().into(),
            line: 24,
            ttl: 30,
            max_answers: 1,
            policy: Policy::Failover { order: vec![1, 0] },
            check: Some(Check {
                kind: CheckKind::Https,
                port: 443,
                path: "/".into(),
                host: Some("example.com".into()),
                insecure: true,
                expect: vec![(200, 200), (300, 302)],
                body: Some("ok".into()),
                interval: secs(5),
                timeout: secs(2),
                recheck: secs(1),
                rise: 2,
                fall: 3,
            }),
            endpoints: vec![
                Endpoint {
                    region: 1,
                    address: ip("198.51.100.20"),
                    capacity: 100,
                },
                Endpoint {
                    region: 0,
                    address: ip("203.0.113.20"),
                    capacity: 0,
                },
            ],
            routes: vec![],
            on_all_down: OnAllDown::AllEndpoints,
            unknown_location: vec![],
        },
        Service {
            name: name("API.example.com."),
            overprovision: 1.0,
            salt: super::name_salt(&name("API.example.com.")),
            bias: Vec::new(),
            shed_load: Some(crate::config::ShedLoad::default()),
            origin: name("example.com."),
            file: file.into(),
            line: 33,
            ttl: 30,
            max_answers: 1,
            policy: Policy::Weighted,
            check: Some(Check {
                kind: CheckKind::Tcp,
                port: 5432,
                path: "/".into(),
                host: None,
                insecure: false,
                expect: vec![(200, 399)],
                body: None,
                interval: secs(60),
                timeout: secs(10),
                recheck: secs(12),
                rise: 1,
                fall: 100,
            }),
            endpoints: vec![Endpoint {
                region: 0,
                address: ip("192.0.2.7"),
                capacity: 1_000_000,
            }],
            routes: vec![],
            on_all_down: OnAllDown::AllEndpoints,
            unknown_location: vec![],
        },
    ];
    let services = ok(text);
    assert_eq!(services, expected);
    // `Name` compares without case; the written case is kept.
    assert_eq!(services[2].name.to_ascii(), "API.example.com.");
}

#[test]
fn every_default() {
    let s = one(&www(""));
    assert_eq!(s.name.to_ascii(), "www.example.com.");
    assert_eq!((&*s.file, s.line), (Path::new(FILE), 1));
    assert_eq!(s.ttl, 30);
    assert_eq!(s.max_answers, 1);
    assert_eq!(s.policy, Policy::Nearest);
    assert_eq!(s.check, None);
    assert_eq!(
        s.endpoints,
        [Endpoint {
            region: 0,
            address: ip("192.0.2.1"),
            capacity: 100
        }]
    );
    assert_eq!(s.routes, []);
    assert_eq!(s.on_all_down, OnAllDown::AllEndpoints);
    assert_eq!(s.unknown_location, Vec::<usize>::new());

    // (check as written, kind) → the defaults of every other check key.
    for (check, kind) in [
        ("kind = \"http\", port = 80", CheckKind::Http),
        ("kind = \"https\", port = 443", CheckKind::Https),
        ("kind = \"tcp\", port = 22", CheckKind::Tcp),
    ] {
        let c = one(&www_check(check)).check.unwrap();
        assert_eq!(c.kind, kind);
        assert_eq!(c.path, "/");
        assert_eq!(c.host, None);
        assert!(!c.insecure);
        assert_eq!(c.expect, [(200, 399)]);
        assert_eq!(c.body, None);
        assert_eq!(c.interval, secs(5));
        assert_eq!(c.timeout, secs(2));
        assert_eq!(c.recheck, secs(1));
        assert_eq!((c.rise, c.fall), (2, 3));
    }

    // Empty optional lists are the same as leaving them out.
    let s = one(&www("unknown_location = []\n"));
    assert!(s.unknown_location.is_empty());
    assert_eq!(
        one(&www("on_all_down = \"all\"\n")).on_all_down,
        OnAllDown::AllEndpoints
    );
    assert_eq!(
        one(&www(
            "on_all_down = { fallback = [\"192.0.2.10\", \"2001:db8::10\"] }\n"
        ))
        .on_all_down,
        OnAllDown::Fallback(vec![ip("192.0.2.10"), ip("2001:db8::10")])
    );
    assert_eq!(
        one(&www("on_all_down = { cname = \"Backup.example.NET.\" }\n")).on_all_down,
        OnAllDown::Cname(name("backup.example.net."))
    );
}

#[test]
fn empty_files_have_no_services() {
    for text in ["", "# nothing yet\n", "[services]\n"] {
        assert_eq!(ok(text), [], "{text:?}");
    }
}

#[test]
fn service_names() {
    // (name as written in `[services.NAME]`, the FQDN) — case kept, `@` is the apex.
    let good = [
        ("www", "www.example.com."),
        ("WwW", "WwW.example.com."),
        ("\"@\"", "example.com."),
        ("\"api.eu\"", "api.eu.example.com."),
        ("_svc", "_svc.example.com."),
        ("a-1", "a-1.example.com."),
        ("123", "123.example.com."),
    ];
    for (written, fqdn) in good {
        let text = format!(
            "[services.{written}]\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.1\" }}]\n"
        );
        assert_eq!(one(&text).name.to_ascii(), fqdn, "{written}");
    }

    let long = "a".repeat(64);
    let wild = "a wildcard cannot be load-balanced; list each name";
    let absolute = "is absolute; names here are relative to the zone example.com.: write";
    let not_dns = "is not a DNS name: use labels of letters, digits, '-' and '_' separated by '.', \
                   or \"@\" for the apex";
    // (name as written, its key in errors, the message)
    let bad = [
        (
            "\"*\"".to_owned(),
            "services.\"*\"".to_owned(),
            format!("\"*\": {wild}"),
        ),
        (
            "\"*.www\"".into(),
            "services.\"*.www\"".into(),
            format!("\"*.www\": {wild}"),
        ),
        (
            "\"www.example.com.\"".into(),
            "services.\"www.example.com.\"".into(),
            format!("\"www.example.com.\" {absolute} \"www\""),
        ),
        (
            "\"WWW.Example.COM.\"".into(),
            "services.\"WWW.Example.COM.\"".into(),
            format!("\"WWW.Example.COM.\" {absolute} \"WWW\""),
        ),
        (
            "\"example.com.\"".into(),
            "services.\"example.com.\"".into(),
            format!("\"example.com.\" {absolute} \"@\""),
        ),
        (
            "\"www.example.org.\"".into(),
            "services.\"www.example.org.\"".into(),
            "\"www.example.org.\" is absolute and not in the zone example.com.; \
             names here are relative to it"
                .into(),
        ),
        (
            "\"\"".into(),
            "services.\"\"".into(),
            "empty name (write \"@\" for the zone's apex)".into(),
        ),
        (
            "\"a..b\"".into(),
            "services.\"a..b\"".into(),
            "\"a..b\" has an empty label".into(),
        ),
        (
            "\".www\"".into(),
            "services.\".www\"".into(),
            "\".www\" has an empty label".into(),
        ),
        (
            "\"w w\"".into(),
            "services.\"w w\"".into(),
            format!("\"w w\" {not_dns}"),
        ),
        (
            "\"www.@\"".into(),
            "services.\"www.@\"".into(),
            format!("\"www.@\" {not_dns}"),
        ),
        (
            "\"é\"".into(),
            "services.\"é\"".into(),
            format!("\"é\" {not_dns}"),
        ),
        (
            long.clone(),
            format!("services.{long}"),
            format!("\"{long}\": the label \"{long}\" is longer than 63 bytes"),
        ),
    ];
    for (written, key, message) in bad {
        let text = format!(
            "[services.{written}]\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.1\" }}]\n"
        );
        assert_eq!(
            errors(&text),
            [format!("{FILE}:1: {key}: {message}")],
            "{written}"
        );
    }

    // 255 bytes at most, with the origin.
    let labels = vec!["a".repeat(60); 4].join(".");
    let text = format!(
        "[services.\"{labels}\"]\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.1\" }}]\n"
    );
    assert_eq!(
        errors(&text),
        [format!(
            "{FILE}:1: services.\"{labels}\": \"{labels}\" in the zone example.com. is longer than 255 bytes"
        )]
    );
}

#[test]
fn two_names_that_differ_only_in_case_are_one_name() {
    let text = "[services.www]\n\
                endpoints = [{ region = \"eu-west\", address = \"192.0.2.1\" }]\n\
                [services.api]\n\
                endpoints = [{ region = \"eu-west\", address = \"192.0.2.2\" }]\n\
                [services.WWW]\n\
                endpoints = [{ region = \"eu-west\", address = \"192.0.2.3\" }]\n";
    assert_eq!(
        errors(text),
        [format!(
            "{FILE}:5: services.WWW: \"WWW\" is the same name as \"www\" on line 1 (DNS names ignore case)"
        )]
    );
}

#[test]
fn the_style_guide_example_error() {
    let text = r#"# example.com: load-balanced names
[services.www]
ttl = 30
max_answers = 2
policy = "nearest"

check = { kind = "http", port = 80, path = "/healthz" }
on_all_down = "all"

# Dublin first, then Virginia.
endpoints = [
  { region = "eu-west", address = "203.0.113.10" },
  { region = "eu-west", address = "2001:db8::10" },
  { region = "eu-wset", address = "198.51.100.10", capacity = 200 },
]
"#;
    assert_eq!(
        errors(text),
        [
            "zones/example.com.toml:14: services.www.endpoints[2].region: unknown region \"eu-wset\" (known: eu-west, us-east)"
        ]
    );
}

/// `[services.www]` with 20 endpoints, 192.0.2.0 to .19 but for endpoint `at`, which
/// repeats endpoint `repeats`'s address.
fn twenty_endpoints(at: usize, repeats: usize) -> String {
    let endpoints: String = (0..20)
        .map(|i| if i == at { repeats } else { i })
        .map(|i| format!("  {{ region = \"eu-west\", address = \"192.0.2.{i}\" }},\n"))
        .collect();
    format!("[services.www]\nendpoints = [\n{endpoints}]\n")
}

#[test]
fn each_error_names_line_and_key() {
    // (text, the one expected error without the `FILE:` prefix)
    let rows: Vec<(String, &str)> = vec![
        // Service keys.
        (www("ttl = 0\n"), "3: services.www.ttl: 0 is below the minimum 1"),
        (www("ttl = 86401\n"), "3: services.www.ttl: 86401 is above the maximum 86400"),
        (www("max_answers = 0\n"), "3: services.www.max_answers: 0 is below the minimum 1"),
        (www("max_answers = 17\n"), "3: services.www.max_answers: 17 is above the maximum 16"),
        (
            www("policy = \"closest\"\n"),
            "3: services.www.policy: unknown policy \"closest\" (known: nearest, failover, weighted, latency)",
        ),
        (
            www("policy = \"failover\"\n"),
            "3: services.www.order: required when policy is \"failover\": the regions in the order to try them",
        ),
        (
            www("policy = \"weighted\"\norder = [\"eu-west\"]\n"),
            "4: services.www.order: applies only to policy \"failover\" (policy is \"weighted\")",
        ),
        (
            www("order = [\"eu-west\"]\n"),
            "3: services.www.order: applies only to policy \"failover\" (policy is \"nearest\")",
        ),
        (
            www("policy = \"failover\"\norder = []\n"),
            "4: services.www.order: must list at least one region",
        ),
        (
            www("policy = \"failover\"\norder = [\"eu-west\", \"us-east\", \"eu-west\"]\n"),
            "4: services.www.order[2]: \"eu-west\" is listed twice (also order[0])",
        ),
        (
            www("policy = \"failover\"\norder = [\"us-east\", \"EU-West\"]\n"),
            "4: services.www.order[1]: unknown region \"EU-West\" (known: eu-west, us-east)",
        ),
        (
            www("bias = { eu-west = 100 }\n"),
            "3: services.www.bias.eu-west: 100 is above the maximum 99",
        ),
        (
            www("bias = { eu-west = -100 }\n"),
            "3: services.www.bias.eu-west: -100 is below the minimum -99",
        ),
        (
            www("bias = { eu-wset = 10 }\n"),
            "3: services.www.bias.eu-wset: unknown region \"eu-wset\" (known: eu-west, us-east)",
        ),
        (
            www("bias = { us-east = 10 }\n"),
            "3: services.www.bias.us-east: no endpoint of this service is in \"us-east\", so its bias would change nothing",
        ),
        (
            www("policy = \"failover\"\norder = [\"eu-west\"]\nbias = { eu-west = 10 }\n"),
            "5: services.www.bias: applies only to policy \"nearest\", which ranks regions by distance (policy is \"failover\")",
        ),
        (
            www("bias = { eu-west = \"10\" }\n"),
            "3: services.www.bias.eu-west: invalid type: string \"10\", expected an integer",
        ),
        (
            www("latency = { switch_ms = 5 }\n"),
            "3: services.www.latency: applies only to policy \"latency\" (policy is \"nearest\")",
        ),
        (
            www("policy = \"latency\"\nlatency = { switch_percent = 101 }\n"),
            "4: services.www.latency: switch_percent = 101 is outside 0..=100",
        ),
        (
            www("shed_load = { low = 0.9, high = 0.5 }\n"),
            "3: services.www.shed_load: low = 0.9, high = 0.5: want 0 <= low < high <= 10 (loads as endpoints report them: 0.0 idle, 1.0 full)",
        ),
        (
            www("on_all_down = \"servfail\"\n"),
            "3: services.www.on_all_down: unknown value \"servfail\" (known: all, nodata, { fallback = [addresses] }, { cname = \"name.\" })",
        ),
        (
            www("on_all_down = { fallback = [] }\n"),
            "3: services.www.on_all_down.fallback: must list 1 to 16 addresses",
        ),
        (
            www("on_all_down = {}\n"),
            "3: services.www.on_all_down.fallback: missing fallback or cname (like { fallback = [\"192.0.2.10\"] })",
        ),
        (
            www("on_all_down = { fallback = [\"192.0.2.10\", \"192.0.2.300\"] }\n"),
            "3: services.www.on_all_down.fallback[1]: \"192.0.2.300\" is not an IP address (like \"203.0.113.10\" or \"2001:db8::10\")",
        ),
        (
            www("on_all_down = { fallback = [\"192.0.2.10\", \"192.0.2.10\"] }\n"),
            "3: services.www.on_all_down.fallback[1]: 192.0.2.10 is listed twice",
        ),
        (
            www("on_all_down = { fallback = [\"0.0.0.0\"] }\n"),
            "3: services.www.on_all_down.fallback[0]: 0.0.0.0 is not a unicast address",
        ),
        (
            www("on_all_down = { fallback = [\"192.0.2.10\"], cname = \"x.example.net.\" }\n"),
            "3: services.www.on_all_down.cname: give fallback or cname, not both",
        ),
        (
            www("on_all_down = { cname = \"backup\" }\n"),
            "3: services.www.on_all_down.cname: \"backup\" is not an absolute domain name (like \"backup.example.net.\")",
        ),
        (
            www("on_all_down = { cname = \"www.example.com.\" }\n"),
            "3: services.www.on_all_down.cname: \"www.example.com.\" is the service's own name",
        ),
        (
            "[services.\"@\"]\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\" }]\n\
             on_all_down = { cname = \"backup.example.net.\" }\n".into(),
            "3: services.\"@\".on_all_down.cname: a CNAME cannot be at the zone's apex, where the SOA and NS are",
        ),
        (
            www("on_all_down = { cnam = \"x.example.net.\" }\n"),
            "3: services.www.on_all_down.cnam: unknown field `cnam`, expected `fallback` or `cname`",
        ),
        (
            www("on_all_down = 5\n"),
            "3: services.www.on_all_down: invalid type: integer `5`, expected \"all\", \"nodata\", { fallback = [addresses] } or { cname = \"name.\" }",
        ),
        (
            www("unknown_location = [\"mars\"]\n"),
            "3: services.www.unknown_location[0]: unknown region \"mars\" (known: eu-west, us-east)",
        ),
        (
            www("unknown_location = [\"us-east\", \"us-east\"]\n"),
            "3: services.www.unknown_location[1]: \"us-east\" is listed twice (also unknown_location[0])",
        ),
        // Endpoints.
        (
            "\n[services.www]\nttl = 5\n".into(),
            "2: services.www.endpoints: missing (a service needs at least one endpoint)",
        ),
        (
            "[services.www]\nendpoints = []\n".into(),
            "2: services.www.endpoints: must list at least one endpoint",
        ),
        (
            "[services.www]\nendpoints = [\n  { address = \"192.0.2.1\" },\n]\n".into(),
            "3: services.www.endpoints[0].region: missing (known: eu-west, us-east)",
        ),
        (
            "[services.www]\nendpoints = [\n  { region = \"eu-west\" },\n]\n".into(),
            "3: services.www.endpoints[0].address: missing (an IPv4 or IPv6 address)",
        ),
        (
            "[services.www]\nendpoints = [\n  { region = \"eu-west\", address = \"203.0.113.300\" },\n]\n".into(),
            "3: services.www.endpoints[0].address: \"203.0.113.300\" is not an IP address (like \"203.0.113.10\" or \"2001:db8::10\")",
        ),
        (
            "[services.www]\nendpoints = [{ region = \"eu-west\", address = \"www.example.net\" }]\n".into(),
            "2: services.www.endpoints[0].address: \"www.example.net\" is not an IP address (like \"203.0.113.10\" or \"2001:db8::10\")",
        ),
        (
            "[services.www]\nendpoints = [{ region = \"eu-west\", address = \"0.0.0.0\" }]\n".into(),
            "2: services.www.endpoints[0].address: 0.0.0.0 is not a unicast address",
        ),
        (
            "[services.www]\nendpoints = [{ region = \"eu-west\", address = \"ff02::1\" }]\n".into(),
            "2: services.www.endpoints[0].address: ff02::1 is not a unicast address",
        ),
        (
            "[services.www]\nendpoints = [\n  { region = \"eu-west\", address = \"2001:db8::10\" },\n  \
             { region = \"us-east\", address = \"192.0.2.1\" },\n  { region = \"us-east\", address = \"2001:DB8:0::10\" },\n]\n"
                .into(),
            "5: services.www.endpoints[2].address: 2001:db8::10 is listed twice (also endpoints[0])",
        ),
        (
            // Past the first 16 endpoints, a duplicate of an early one ...
            twenty_endpoints(18, 3),
            "21: services.www.endpoints[18].address: 192.0.2.3 is listed twice (also endpoints[3])",
        ),
        (
            // ... and of a late one.
            twenty_endpoints(19, 17),
            "22: services.www.endpoints[19].address: 192.0.2.17 is listed twice (also endpoints[17])",
        ),
        (
            "[services.www]\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\", capacity = -1 }]\n".into(),
            "2: services.www.endpoints[0].capacity: -1 is below the minimum 0",
        ),
        (
            "[services.www]\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\", capacity = 1000001 }]\n".into(),
            "2: services.www.endpoints[0].capacity: 1000001 is above the maximum 1000000",
        ),
        (
            "[[services.www.endpoints]]\nregion = \"eu-west\"\naddress = \"192.0.2.1\"\n\
             [[services.www.endpoints]]\nregion = \"us-west\"\naddress = \"192.0.2.2\"\n"
                .into(),
            "5: services.www.endpoints[1].region: unknown region \"us-west\" (known: eu-west, us-east)",
        ),
        // Checks.
        (www_check("port = 80"), "3: services.www.check.kind: missing (known: http, https, tcp)"),
        (
            www_check("kind = \"icmp\", port = 80"),
            "3: services.www.check.kind: unknown check kind \"icmp\" (known: http, https, tcp)",
        ),
        (www_check("kind = \"http\""), "3: services.www.check.port: missing (1..=65535)"),
        (
            www_check("kind = \"tcp\", port = 0"),
            "3: services.www.check.port: 0 is below the minimum 1",
        ),
        (
            www_check("kind = \"tcp\", port = 65536"),
            "3: services.www.check.port: 65536 is above the maximum 65535",
        ),
        (
            www_check("kind = \"http\", port = 80, path = \"healthz\""),
            "3: services.www.check.path: \"healthz\" must start with \"/\"",
        ),
        (
            www_check("kind = \"http\", port = 80, path = \"/health z\""),
            "3: services.www.check.path: \"/health z\" must not contain spaces or control characters",
        ),
        (
            www_check("kind = \"https\", port = 443, host = \"\""),
            "3: services.www.check.host: \"\" is not a host name (like \"www.example.com\")",
        ),
        (
            www_check("kind = \"https\", port = 443, host = \"a b\""),
            "3: services.www.check.host: \"a b\" is not a host name (like \"www.example.com\")",
        ),
        (
            www_check("kind = \"https\", port = 443, host = \"svc.test:8443\""),
            "3: services.www.check.host: \"svc.test:8443\" is not a host name (like \"www.example.com\")",
        ),
        (
            www_check("kind = \"http\", port = 80, host = \"192.0.2.1\""),
            "3: services.www.check.host: \"192.0.2.1\" is not a host name (like \"www.example.com\")",
        ),
        (
            www_check("kind = \"http\", port = 80, body = \"\""),
            "3: services.www.check.body: must not be empty (leave body out to accept any body)",
        ),
        (
            www_check("kind = \"http\", port = 80, expect = []"),
            "3: services.www.check.expect: must list at least one status code or range",
        ),
        (
            www_check("kind = \"http\", port = 80, expect = [200, 99]"),
            "3: services.www.check.expect[1]: 99 is outside 100..=599",
        ),
        (
            www_check("kind = \"http\", port = 80, expect = [\"200-600\"]"),
            "3: services.www.check.expect[0]: 600 is outside 100..=599",
        ),
        (
            www_check("kind = \"http\", port = 80, expect = [\"2xx\"]"),
            "3: services.www.check.expect[0]: \"2xx\" is not a status code or range like \"200-299\"",
        ),
        (
            www_check("kind = \"http\", port = 80, expect = [\"299-200\"]"),
            "3: services.www.check.expect[0]: 299-200 is empty (299 is above 200)",
        ),
        (
            www_check("kind = \"tcp\", port = 22, interval = \"500ms\""),
            "3: services.www.check.interval: \"500ms\" is below the minimum 1s",
        ),
        (
            www_check("kind = \"tcp\", port = 22, interval = \"2h\""),
            "3: services.www.check.interval: \"2h\" is above the maximum 1h",
        ),
        (
            www_check("kind = \"tcp\", port = 22, interval = \"0s\""),
            "3: services.www.check.interval: \"0s\" must be greater than 0",
        ),
        (
            www_check("kind = \"tcp\", port = 22, interval = \"soon\""),
            "3: services.www.check.interval: \"soon\" is not a duration like \"500ms\", \"10s\" or \"2m\" (expected number at 0)",
        ),
        (
            www_check("kind = \"tcp\", port = 22, timeout = \"5s\""),
            "3: services.www.check.timeout: \"5s\" must be shorter than the interval (5s)",
        ),
        (
            www_check("kind = \"tcp\", port = 22, interval = \"10s\", timeout = \"1m\""),
            "3: services.www.check.timeout: \"1m\" must be shorter than the interval (10s)",
        ),
        (
            www_check("kind = \"tcp\", port = 22, timeout = \"0ms\""),
            "3: services.www.check.timeout: \"0ms\" must be greater than 0",
        ),
        (
            www_check("kind = \"tcp\", port = 22, recheck = \"50ms\""),
            "3: services.www.check.recheck: \"50ms\" is below the minimum 100ms",
        ),
        (
            www_check("kind = \"tcp\", port = 22, interval = \"2s\", recheck = \"3s\""),
            "3: services.www.check.recheck: \"3s\" must not be longer than the interval (2s)",
        ),
        (
            www_check("kind = \"tcp\", port = 22, recheck = \"0s\""),
            "3: services.www.check.recheck: \"0s\" must be greater than 0",
        ),
        (
            www_check("kind = \"tcp\", port = 22, rise = 0"),
            "3: services.www.check.rise: 0 is below the minimum 1",
        ),
        (
            www_check("kind = \"tcp\", port = 22, fall = 101"),
            "3: services.www.check.fall: 101 is above the maximum 100",
        ),
        // Routes.
        (
            www("[[services.www.route]]\nregions = [\"us-east\"]\n"),
            "3: services.www.route[0]: matches no client: give countries, continents or networks",
        ),
        (
            www("[[services.www.route]]\ncountries = []\nregions = [\"us-east\"]\n"),
            "3: services.www.route[0]: matches no client: give countries, continents or networks",
        ),
        (
            www("[[services.www.route]]\ncountries = [\"AU\"]\n"),
            "3: services.www.route[0].regions: missing (the regions to send matching clients to)",
        ),
        (
            www("[[services.www.route]]\ncountries = [\"AU\"]\nregions = []\n"),
            "5: services.www.route[0].regions: must list at least one region",
        ),
        (
            www("[[services.www.route]]\ncountries = [\"AU\"]\nregions = [\"ap-south\"]\n"),
            "5: services.www.route[0].regions[0]: unknown region \"ap-south\" (known: eu-west, us-east)",
        ),
        (
            www("[[services.www.route]]\ncountries = [\"UK\"]\nregions = [\"eu-west\"]\n"),
            "4: services.www.route[0].countries[0]: \"UK\" is not an ISO 3166 country code (the United Kingdom is \"GB\")",
        ),
        (
            www("[[services.www.route]]\ncountries = [\"GB\", \"USA\"]\nregions = [\"eu-west\"]\n"),
            "4: services.www.route[0].countries[1]: \"USA\" is not an ISO 3166-1 alpha-2 country code (like \"AU\" or \"NZ\")",
        ),
        (
            www("[[services.www.route]]\ncountries = [\"au\", \"AU\"]\nregions = [\"eu-west\"]\n"),
            "4: services.www.route[0].countries[1]: \"AU\" is listed twice (also countries[0])",
        ),
        (
            www("[[services.www.route]]\ncontinents = [\"EUR\"]\nregions = [\"eu-west\"]\n"),
            "4: services.www.route[0].continents[0]: \"EUR\" is not a continent code (known: AF, AN, AS, EU, NA, OC, SA)",
        ),
        (
            www("[[services.www.route]]\nnetworks = [\"10.0.0.1/8\"]\nregions = [\"eu-west\"]\n"),
            "4: services.www.route[0].networks[0]: \"10.0.0.1/8\" has host bits set (did you mean \"10.0.0.0/8\"?)",
        ),
        (
            www("[[services.www.route]]\nnetworks = [\"2001:db8::1/32\"]\nregions = [\"eu-west\"]\n"),
            "4: services.www.route[0].networks[0]: \"2001:db8::1/32\" has host bits set (did you mean \"2001:db8::/32\"?)",
        ),
        (
            www("[[services.www.route]]\nnetworks = [\"10.0.0.0\"]\nregions = [\"eu-west\"]\n"),
            "4: services.www.route[0].networks[0]: \"10.0.0.0\" is not a network like \"10.0.0.0/8\" or \"2001:db8::/32\"",
        ),
        (
            www("[[services.www.route]]\ncountries = [\"AU\"]\nregions = [\"eu-west\"]\n\
                 [[services.www.route]]\nnetworks = [\"10.0.0.0/8\"]\nregions = [\"us-east\", \"us-east\"]\n"),
            "8: services.www.route[1].regions[1]: \"us-east\" is listed twice (also regions[0])",
        ),
        // The file as a whole.
        ("[service.www]\nttl = 5\n".into(), "1: service: unknown key (known: services)"),
        ("services = 5\n".into(), "1: services: invalid type: integer `5`, expected a table"),
        ("[services]\nwww = 5\n".into(), "2: services.www: invalid type: integer `5`, expected a table"),
        // Wrong types stop the service they are in; the error still has line and key.
        (www("ttl = \"30\"\n"), "3: services.www.ttl: invalid type: string \"30\", expected an integer"),
        (
            "[services.www]\nendpoints = \"192.0.2.1\"\n".into(),
            "2: services.www.endpoints: invalid type: string \"192.0.2.1\", expected an array",
        ),
        (
            "[services.www]\nendpoints = [{ region = \"eu-west\", address = 3232235521 }]\n".into(),
            "2: services.www.endpoints[0].address: invalid type: integer `3232235521`, expected a string",
        ),
        (
            www("check = \"http\"\n"),
            "3: services.www.check: invalid type: string \"http\", expected a table",
        ),
        (
            www_check("kind = \"http\", port = 80, expect = [200, true]"),
            "3: services.www.check.expect[1]: invalid type: boolean `true`, expected a status code like 200 or a range like \"200-299\"",
        ),
        (
            www_check("kind = \"tcp\", port = 22, interval = 5"),
            "3: services.www.check.interval: invalid type: integer `5`, expected a string",
        ),
        (
            www("route = { countries = [\"AU\"] }\n"),
            "3: services.www.route: invalid type: map, expected an array",
        ),
        // Syntax errors: no key to name, but a line.
        (www("ttl = \n"), "3: string values must be quoted, expected literal string"),
    ];
    for (text, expected) in &rows {
        assert_eq!(
            errors(text),
            [format!("{FILE}:{expected}")],
            "--- text ---\n{text}"
        );
    }
}

#[test]
fn an_unknown_policy_still_has_its_order_checked() {
    assert_eq!(
        errors(&www("policy = \"random\"\norder = [\"mars\"]\n")),
        [
            format!(
                "{FILE}:3: services.www.policy: unknown policy \"random\" (known: nearest, failover, weighted, latency)"
            ),
            format!(
                "{FILE}:4: services.www.order[0]: unknown region \"mars\" (known: eu-west, us-east)"
            ),
        ]
    );
}

#[test]
fn check_keys_must_apply_to_the_kind() {
    // (check as written, the keys named in errors)
    let rows: &[(&str, &[&str])] = &[
        ("kind = \"tcp\", port = 22, path = \"/\"", &["path"]),
        ("kind = \"tcp\", port = 22, host = \"a.example\"", &["host"]),
        ("kind = \"tcp\", port = 22, expect = [200]", &["expect"]),
        ("kind = \"tcp\", port = 22, body = \"ok\"", &["body"]),
        ("kind = \"tcp\", port = 22, insecure = false", &["insecure"]),
        ("kind = \"http\", port = 80, insecure = true", &["insecure"]),
        (
            "kind = \"tcp\", port = 22, path = \"x\", host = \"\", expect = [1], body = \"\", insecure = true",
            &["path", "host", "expect", "body", "insecure"],
        ),
    ];
    for (check, keys) in rows {
        let e = parse_at(&www_check(check)).unwrap_err();
        let named: Vec<_> = e.0.iter().map(|e| e.key.as_str()).collect();
        let expected: Vec<_> = keys
            .iter()
            .map(|k| format!("services.www.check.{k}"))
            .collect();
        assert_eq!(named, expected, "{check}");
        // Only the "does not apply" error: the value itself is not checked as well.
        for e in &e.0 {
            assert!(e.message.starts_with("applies only to "), "{check}: {e}");
            assert_eq!(e.line, Some(3));
        }
    }
    assert_eq!(
        errors(&www_check("kind = \"tcp\", port = 22, path = \"/\"")),
        [format!(
            "{FILE}:3: services.www.check.path: applies only to http and https checks (kind is \"tcp\")"
        )]
    );
    assert_eq!(
        errors(&www_check("kind = \"http\", port = 80, insecure = true")),
        [format!(
            "{FILE}:3: services.www.check.insecure: applies only to https checks (kind is \"http\")"
        )]
    );
    // Everything that applies to https.
    let c = one(&www_check(
        "kind = \"https\", port = 8443, path = \"/ready?full=1\", host = \"api.example.com\", \
         insecure = true, expect = [204], body = \"OK\"",
    ))
    .check
    .unwrap();
    assert_eq!(
        (
            c.path.as_str(),
            c.host.as_deref(),
            c.insecure,
            c.expect.as_slice(),
            c.body.as_deref()
        ),
        (
            "/ready?full=1",
            Some("api.example.com"),
            true,
            &[(204, 204)][..],
            Some("OK")
        )
    );
}

#[test]
fn expect_forms() {
    let rows: &[(&str, &[(u16, u16)])] = &[
        ("[200]", &[(200, 200)]),
        ("[200, 204]", &[(200, 200), (204, 204)]),
        ("[\"200-299\", 301]", &[(200, 299), (301, 301)]),
        ("[\"204\"]", &[(204, 204)]),
        ("[\"100-599\"]", &[(100, 599)]),
        ("[\"200 - 299\"]", &[(200, 299)]),
    ];
    for (written, expected) in rows {
        let c = one(&www_check(&format!(
            "kind = \"http\", port = 80, expect = {written}"
        )));
        assert_eq!(c.check.unwrap().expect, *expected, "{written}");
    }
}

#[test]
fn bias_is_kept_per_region_and_zero_is_no_bias() {
    let two = "[services.www]\nendpoints = [\n  { region = \"eu-west\", address = \"192.0.2.1\" },\n  \
         { region = \"us-east\", address = \"192.0.2.2\" },\n]\n";
    let s = one(&format!("{two}bias = {{ us-east = -25, eu-west = 40 }}\n"));
    // Region indices: eu-west 0, us-east 1.
    assert_eq!(s.bias, [(1, -25), (0, 40)]);
    assert_eq!((s.bias_of(0), s.bias_of(1)), (40, -25));
    let s = one(&format!("{two}bias = {{ us-east = 0, eu-west = 10 }}\n"));
    assert_eq!(s.bias, [(0, 10)]);
    assert_eq!(s.bias_of(1), 0);
}

#[test]
fn recheck_is_a_fifth_of_the_interval_unless_written() {
    let ms = Duration::from_millis;
    // (interval, recheck as written, expected recheck)
    let rows = [
        (None, None, secs(1)),
        (Some("1s"), None, ms(250)),
        (Some("1m"), None, secs(12)),
        (Some("2s"), None, ms(400)),
        (None, Some("300ms"), ms(300)),
        (Some("2s"), Some("2s"), secs(2)),
    ];
    for (interval, recheck, want) in rows {
        let mut check = "kind = \"tcp\", port = 22".to_owned();
        if let Some(i) = interval {
            check += &format!(", interval = {i:?}");
        }
        if let Some(r) = recheck {
            check += &format!(", recheck = {r:?}");
        }
        let c = one(&www_check(&check)).check.unwrap();
        assert_eq!(c.recheck, want, "{check}");
    }
}

#[test]
fn check_durations() {
    // (interval, timeout as written, expected interval and timeout)
    let rows = [
        (None, None, secs(5), secs(2)),
        (
            Some("1s"),
            Some("999ms"),
            secs(1),
            Duration::from_millis(999),
        ),
        (Some("1h"), Some("59m"), secs(3600), secs(59 * 60)),
        (Some("1m 30s"), None, secs(90), secs(2)),
        (None, Some("4s"), secs(5), secs(4)),
        // The default timeout is never as long as a short interval: half of it instead.
        (Some("1s"), None, secs(1), Duration::from_millis(500)),
        (Some("3s"), None, secs(3), Duration::from_millis(1500)),
    ];
    for (interval, timeout, want_interval, want_timeout) in rows {
        let mut check = "kind = \"tcp\", port = 22".to_owned();
        if let Some(i) = interval {
            check += &format!(", interval = {i:?}");
        }
        if let Some(t) = timeout {
            check += &format!(", timeout = {t:?}");
        }
        let c = one(&www_check(&check)).check.unwrap();
        assert_eq!(
            (c.interval, c.timeout),
            (want_interval, want_timeout),
            "{check}"
        );
    }
    // A bad interval is reported once; the timeout is not also compared with a stand-in.
    assert_eq!(
        errors(&www_check(
            "kind = \"tcp\", port = 22, interval = \"2h\", timeout = \"10s\""
        )),
        [format!(
            "{FILE}:3: services.www.check.interval: \"2h\" is above the maximum 1h"
        )]
    );
}

#[test]
fn route_forms() {
    let text = www("[[services.www.route]]\n\
         countries = [\"au\", \"Nz\", \"XK\"]\n\
         continents = [\"eu\", \"AN\"]\n\
         networks = [\"192.0.2.0/24\", \"2001:db8::/32\", \"0.0.0.0/0\", \"198.51.100.7/32\"]\n\
         regions = [\"us-east\", \"eu-west\"]\n");
    let s = one(&text);
    assert_eq!(
        s.routes,
        [Route {
            countries: vec![*b"AU", *b"NZ", *b"XK"],
            continents: vec![*b"EU", *b"AN"],
            networks: [
                "192.0.2.0/24",
                "2001:db8::/32",
                "0.0.0.0/0",
                "198.51.100.7/32"
            ]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect(),
            regions: vec![1, 0],
            line: 3,
        }]
    );
    // Inline tables work too, and keep their own line.
    let text = www(
        "route = [\n  { countries = [\"AU\"], regions = [\"us-east\"] },\n  { continents = [\"SA\"], regions = [\"us-east\"] },\n]\n",
    );
    let lines: Vec<_> = one(&text).routes.iter().map(|r| r.line).collect();
    assert_eq!(lines, [4, 5]);
}

#[test]
fn all_errors_are_reported_together_in_file_order() {
    let text = r#"[services.www]
ttl = 0
policy = "closest"
check = { kind = "tcp", port = 22, path = "/", colour = "blue" }
endpoints = [
  { region = "eu-wset", address = "192.0.2.1" },
  { region = "eu-west", address = "192.0.2.1" },
]

[services.api]
endpoints = [{ region = "us-east", address = "nope" }]
[[services.api.route]]
regions = ["eu-west"]

[services."*"]
max_answers = "two"

[services.WWW]
endpoints = []
"#;
    let e = parse_at(text).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{FILE}:2: services.www.ttl: 0 is below the minimum 1
{FILE}:3: services.www.policy: unknown policy \"closest\" (known: nearest, failover, weighted, latency)
{FILE}:4: services.www.check.colour: unknown key (known: kind, port, path, host, insecure, expect, body, interval, timeout, recheck, rise, fall)
{FILE}:4: services.www.check.path: applies only to http and https checks (kind is \"tcp\")
{FILE}:6: services.www.endpoints[0].region: unknown region \"eu-wset\" (known: eu-west, us-east)
{FILE}:7: services.www.endpoints[1].address: 192.0.2.1 is listed twice (also endpoints[0])
{FILE}:11: services.api.endpoints[0].address: \"nope\" is not an IP address (like \"203.0.113.10\" or \"2001:db8::10\")
{FILE}:12: services.api.route[0]: matches no client: give countries, continents or networks
{FILE}:15: services.\"*\": \"*\": a wildcard cannot be load-balanced; list each name
{FILE}:16: services.\"*\".max_answers: invalid type: string \"two\", expected an integer
{FILE}:18: services.WWW: \"WWW\" is the same name as \"www\" on line 1 (DNS names ignore case)
{FILE}:19: services.WWW.endpoints: must list at least one endpoint"
        )
    );
}

#[test]
fn unknown_keys_are_caught_in_every_table() {
    let endpoint = "region = \"eu-west\", address = \"192.0.2.1\"";
    // (text, expected key, line): one row per table that takes keys, in each way of writing it.
    let rows = [
        ("zone = \"example.com.\"\n".to_owned(), "zone", 1),
        (www("ttl_secs = 30\n"), "services.www.ttl_secs", 3),
        (
            format!("services.www.endpoints = [{{ {endpoint} }}]\nservices.www.weight = 1\n"),
            "services.www.weight",
            2,
        ),
        (www("[services.www.extra]\nx = 1\n"), "services.www.extra", 3),
        (www_check("kind = \"tcp\", port = 22, retries = 3"), "services.www.check.retries", 3),
        (
            www("[services.www.check]\nkind = \"tcp\"\nport = 22\n\nretries = 3\n"),
            "services.www.check.retries",
            7,
        ),
        (
            format!("[services.www]\nendpoints = [{{ {endpoint}, weight = 5 }}]\n"),
            "services.www.endpoints[0].weight",
            2,
        ),
        (
            "[[services.www.endpoints]]\nregion = \"eu-west\"\naddress = \"192.0.2.1\"\n\
             [[services.www.endpoints]]\nregion = \"eu-west\"\naddress = \"192.0.2.2\"\nweight = 1\n"
                .to_owned(),
            "services.www.endpoints[1].weight",
            7,
        ),
        (
            www("[[services.www.route]]\ncountries = [\"AU\"]\nregions = [\"eu-west\"]\ncountry = \"NZ\"\n"),
            "services.www.route[0].country",
            6,
        ),
        (
            www("route = [{ countries = [\"AU\"], regions = [\"eu-west\"], asn = 13335 }]\n"),
            "services.www.route[0].asn",
            3,
        ),
    ];
    for (text, key, line) in &rows {
        let e = parse_at(text).unwrap_err();
        assert_eq!(e.0.len(), 1, "{text}: {e}");
        assert!(e.0[0].message.starts_with("unknown key (known: "), "{e}");
        assert_eq!(
            (e.0[0].key.as_str(), e.0[0].line),
            (*key, Some(*line)),
            "{text}"
        );
    }
    // The message lists the known keys of that table.
    let known = [
        (
            www("ttl_secs = 30\n"),
            "ttl, max_answers, policy, order, check, endpoints, route, on_all_down, unknown_location, overprovision, bias, latency, shed_load",
        ),
        (
            format!("[services.www]\nendpoints = [{{ {endpoint}, weight = 5 }}]\n"),
            "region, address, capacity",
        ),
        (
            www(
                "[[services.www.route]]\ncountries = [\"AU\"]\nregions = [\"eu-west\"]\ncountry = \"NZ\"\n",
            ),
            "countries, continents, networks, regions",
        ),
        ("zone = 1\n".to_owned(), "services"),
    ];
    for (text, keys) in &known {
        let e = parse_at(text).unwrap_err();
        assert!(e.0[0].message.ends_with(&format!("(known: {keys})")), "{e}");
    }
    // Several unknown keys in several tables are all reported, not only the first.
    let e = parse_at(&www(
        "a = 1\nb = 2\ncheck = { kind = \"tcp\", port = 22, c = 3 }\n[[services.www.route]]\nd = 4\ncountries = [\"AU\"]\nregions = [\"eu-west\"]\n",
    ))
    .unwrap_err();
    let keys: Vec<_> = e.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "services.www.a",
            "services.www.b",
            "services.www.check.c",
            "services.www.route[0].d"
        ]
    );
}

#[test]
fn a_type_error_stops_only_its_own_service() {
    let text = "[services.www]\nttl = \"30\"\nmax_answers = 99\n\
                [services.api]\nendpoints = [{ region = \"mars\", address = \"192.0.2.1\" }]\n";
    assert_eq!(
        errors(text),
        [
            format!("{FILE}:2: services.www.ttl: invalid type: string \"30\", expected an integer"),
            format!(
                "{FILE}:5: services.api.endpoints[0].region: unknown region \"mars\" (known: eu-west, us-east)"
            ),
        ]
    );
}

#[test]
fn services_keep_file_order() {
    let text = "[services.zz]\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\" }]\n\
                [services.\"@\"]\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\" }]\n\
                [services.aa]\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\" }]\n";
    let names: Vec<_> = ok(text).iter().map(|s| s.name.to_ascii()).collect();
    assert_eq!(
        names,
        ["zz.example.com.", "example.com.", "aa.example.com."]
    );
}

#[test]
fn no_regions_defined_is_named_in_the_error() {
    let config = parse("", Path::new("conf/meridian.toml")).unwrap();
    let e = parse_services(&www(""), Path::new(FILE), &name("example.com."), &config).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{FILE}:2: services.www.endpoints[0].region: unknown region \"eu-west\" \
             (no [regions.NAME] tables are defined in conf/meridian.toml)"
        )
    );
}

/// A zones directory under the system temp dir, removed on drop.
struct ZonesDir(PathBuf);

impl ZonesDir {
    fn new(test: &str, files: &[(&str, &str)]) -> ZonesDir {
        let dir =
            std::env::temp_dir().join(format!("meridian-services-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        ZonesDir(dir)
    }

    fn config(&self) -> Config {
        let text = format!(
            "[server]\nregion = \"eu-west\"\nzones_dir = {:?}\n\
             [regions.eu-west]\nlat = 1\nlon = 1\n[regions.us-east]\nlat = 2\nlon = 2\n",
            self.0.display().to_string()
        );
        parse(&text, Path::new("meridian.toml")).unwrap()
    }
}

impl Drop for ZonesDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn service_at(address: &str) -> String {
    format!("endpoints = [{{ region = \"eu-west\", address = \"{address}\" }}]\n")
}

#[test]
fn load_reads_every_toml_file_in_sorted_order() {
    let dir = ZonesDir::new(
        "sorted",
        &[
            ("example.com.zone", ""),
            ("a.example.zone", ""),
            ("b.example.zone", ""),
            (
                "example.com.toml",
                &format!(
                    "[services.www]\n{}[services.\"@\"]\n{}",
                    service_at("192.0.2.1"),
                    service_at("192.0.2.2")
                ),
            ),
            (
                "a.example.toml",
                &format!("[services.api]\n{}", service_at("192.0.2.3")),
            ),
            ("notes.txt", "not a services file"),
        ],
    );
    std::fs::create_dir(dir.0.join("old.toml")).unwrap();
    // The zone loader's spelling of the origin is the one kept.
    let origins = [name("Example.COM."), name("a.example."), name("b.example.")];
    let services = load_services(&dir.config(), &origins).unwrap();
    let found: Vec<_> = services
        .iter()
        .map(|s| {
            (
                s.name.to_ascii(),
                s.origin.to_ascii(),
                s.file.to_path_buf(),
                s.line,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "api.a.example.".into(),
                "a.example.".into(),
                dir.0.join("a.example.toml"),
                1
            ),
            (
                "www.Example.COM.".into(),
                "Example.COM.".into(),
                dir.0.join("example.com.toml"),
                1
            ),
            (
                "Example.COM.".into(),
                "Example.COM.".into(),
                dir.0.join("example.com.toml"),
                3
            ),
        ]
    );
    // No .toml at all: no services.
    let empty = ZonesDir::new("empty", &[("example.com.zone", "")]);
    assert_eq!(
        load_services(&empty.config(), &[name("example.com.")]).unwrap(),
        []
    );
}

#[test]
fn load_reports_a_toml_without_its_zone_and_every_file_s_errors() {
    let dir = ZonesDir::new(
        "orphan",
        &[
            ("example.com.zone", ""),
            ("example.com.toml", "[services.www]\nttl = 0\n"),
            (
                "example.org.toml",
                &format!("[services.www]\n{}", service_at("192.0.2.1")),
            ),
            ("zzz.example.toml", "this is not toml"),
        ],
    );
    let e = load_services(&dir.config(), &[name("example.com.")]).unwrap_err();
    let d = dir.0.display();
    assert_eq!(
        e.to_string(),
        format!(
            "{d}/example.com.toml:1: services.www.endpoints: missing (a service needs at least one endpoint)
{d}/example.com.toml:2: services.www.ttl: 0 is below the minimum 1
{d}/example.org.toml: no zone file example.org.zone beside it: services are added to the zone of the same name
{d}/zzz.example.toml: no zone file zzz.example.zone beside it: services are added to the zone of the same name"
        )
    );
}

#[test]
fn load_refuses_a_service_inside_a_nested_zone() {
    let dir = ZonesDir::new(
        "nested",
        &[
            ("example.com.zone", ""),
            ("eu.example.com.zone", ""),
            (
                "example.com.toml",
                &format!(
                    "[services.www]\n{}[services.\"api.eu\"]\n{}[services.eu]\n{}",
                    service_at("192.0.2.1"),
                    service_at("192.0.2.2"),
                    service_at("192.0.2.3")
                ),
            ),
        ],
    );
    let origins = [name("example.com."), name("eu.example.com.")];
    let e = load_services(&dir.config(), &origins).unwrap_err();
    let d = dir.0.display();
    assert_eq!(
        e.to_string(),
        format!(
            "{d}/example.com.toml:3: services.\"api.eu\": api.eu.example.com. is in the zone eu.example.com., \
             which has its own zone file: define it in eu.example.com.toml
{d}/example.com.toml:5: services.eu: eu.example.com. is in the zone eu.example.com., \
             which has its own zone file: define it in eu.example.com.toml"
        )
    );
}

#[test]
fn load_names_a_missing_zones_dir() {
    let dir = ZonesDir::new("missing", &[]);
    let config = dir.config();
    drop(dir);
    let e = load_services(&config, &[]).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!((e.0[0].line, e.0[0].key.as_str()), (None, ""));
    assert!(
        e.0[0].message.starts_with("cannot read zones directory: "),
        "{e}"
    );
    assert_eq!(e.0[0].file, config.server.zones_dir);
}

#[test]
fn regions_meridian_toml_failed_to_define_are_not_reported_again() {
    let text = "[services.www]\nendpoints = [\n  { region = \"ap-south\", address = \"192.0.2.1\" },\n  \
                { region = \"nowhere\", address = \"192.0.2.2\" },\n]\n\
                unknown_location = [\"ap-south\"]\n";
    let origin = name("example.com.");
    let unsure = UnsureRegions {
        all: false,
        names: vec!["ap-south".into()],
    };
    let checked = check_file(text, Path::new(FILE), &origin, &config(), &unsure);
    let got: Vec<String> = checked.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [format!(
            "{FILE}:4: services.www.endpoints[1].region: unknown region \"nowhere\" (known: eu-west, us-east)"
        )]
    );
    // With the whole [regions] table unreadable, no region name is reported.
    let all = UnsureRegions {
        all: true,
        names: Vec::new(),
    };
    let checked = check_file(text, Path::new(FILE), &origin, &config(), &all);
    assert!(checked.errors.is_empty(), "{:?}", checked.errors);
}

#[test]
fn every_validly_named_service_is_named_even_with_errors() {
    // The zone build needs the names, so a CNAME to `api` is no follow-on error there.
    let text = "[services.www]\nendpoints = \"many\"\n\
                [services.api]\nttl = 0\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\" }]\n\
                [\"services\".\"bad name!\"]\nendpoints = []\n";
    let origin = name("example.com.");
    let checked = check_file(
        text,
        Path::new(FILE),
        &origin,
        &config(),
        &UnsureRegions::default(),
    );
    let names: Vec<(String, usize)> = checked
        .names
        .iter()
        .map(|n| (n.name.to_ascii(), n.line))
        .collect();
    assert_eq!(
        names,
        [
            ("www.example.com.".to_owned(), 1),
            ("api.example.com.".to_owned(), 3)
        ]
    );
    assert_eq!(checked.errors.len(), 4, "{:?}", checked.errors);
}

#[test]
fn a_services_table_defined_twice_is_one_error_naming_it() {
    let text = format!("{}ttl = 60\n[services.www]\nttl = 30\n", www(""));
    assert_eq!(
        errors(&text),
        [format!(
            "{FILE}:4: services.www: duplicate key (first defined on line 1)"
        )]
    );
}

#[test]
fn latency_policy_and_shed_load_keys() {
    let s = one(&www(
        "policy = \"latency\"\nlatency = { switch_percent = 30, switch_ms = 5 }\nshed_load = { low = 0.5, high = 0.8 }\n",
    ));
    assert_eq!(
        s.policy,
        Policy::Latency {
            switch: crate::config::LatencySwitch { percent: 30, ms: 5 }
        }
    );
    assert_eq!(
        s.shed_load,
        Some(crate::config::ShedLoad {
            low: 0.5,
            high: 0.8
        })
    );
    // Defaults: 20 % and 10 ms; load shed between 0.7 and 0.95; `false` turns it off.
    let s = one(&www("policy = \"latency\"\n"));
    assert_eq!(
        s.policy,
        Policy::Latency {
            switch: crate::config::LatencySwitch {
                percent: 20,
                ms: 10
            }
        }
    );
    assert_eq!(
        s.shed_load,
        Some(crate::config::ShedLoad {
            low: 0.7,
            high: 0.95
        })
    );
    assert_eq!(one(&www("shed_load = false\n")).shed_load, None);
}

#[test]
fn shed_load_shrinks_capacity_linearly_between_the_watermarks() {
    let shed = crate::config::ShedLoad {
        low: 0.6,
        high: 1.0,
    };
    // (reported load, capacity factor)
    let rows = [
        (0.0, 1.0),
        (0.6, 1.0),
        (0.7, 1.0 - 0.25 * 0.99),
        (0.8, 1.0 - 0.5 * 0.99),
        (0.9, 1.0 - 0.75 * 0.99),
        (1.0, 0.01),
        (3.0, 0.01),
        (f64::NAN, 1.0),
    ];
    for (load, want) in rows {
        let got = shed.factor(load);
        assert!((got - want).abs() < 1e-9, "load {load}: {got}, want {want}");
    }
}

/// `n` services in the shapes the scale benchmark writes: inline endpoints, some with a
/// check, a route or a `[services.NAME.check]` table, comments and blank lines between.
fn many(n: usize) -> String {
    let mut text = String::from("# load-balanced names\n\n");
    for i in 0..n {
        text.push_str(&format!("[services.s{i}]\nttl = {}\n", 10 + i % 50));
        if i % 3 == 0 {
            text.push_str("max_answers = 2\nunknown_location = [\"us-east\"]\n");
        }
        text.push_str(&format!(
            "endpoints = [\n  {{ region = \"eu-west\", address = \"192.0.2.{}\" }},\n  \
             {{ region = \"us-east\", address = \"198.51.100.{}\", capacity = 50 }},\n]\n",
            i % 250 + 1,
            i % 250 + 1
        ));
        if i % 7 == 0 {
            text.push_str(
                "[[services.s{i}.route]]\ncontinents = [\"EU\"]\nregions = [\"eu-west\"]\n"
                    .replace("{i}", &i.to_string())
                    .as_str(),
            );
        }
        if i % 11 == 0 {
            text.push_str(&format!(
                "[services.s{i}.check]\nkind = \"http\"\nport = 80 # the web port\n"
            ));
        }
        text.push('\n');
    }
    text
}

fn check_both(text: &str, parts: usize) -> (CheckedServices, Option<CheckedServices>) {
    let (config, origin) = (config(), name("example.com."));
    let unsure = UnsureRegions::default();
    let path = Path::new(FILE);
    let whole = check_whole(text, path, &origin, &config, &unsure);
    // `parts` threads, pieces of about a `parts`th of the file (or as small as they go).
    let piece = text.len() / parts;
    let in_parts = check_in_parts(text, path, &origin, &config, &unsure, parts, piece);
    (whole, in_parts)
}

#[test]
fn a_file_checked_in_parts_gives_what_it_gives_whole() {
    let text = many(400);
    for parts in [2, 3, 7] {
        let (whole, in_parts) = check_both(&text, parts);
        assert!(whole.errors.is_empty(), "{:?}", whole.errors);
        let in_parts = in_parts.expect("cut into parts");
        assert_eq!(in_parts.services, whole.services, "{parts} parts");
        assert_eq!(in_parts.names, whole.names, "{parts} parts");
        assert_eq!(whole.services.len(), 400);
    }
    // Two threads, each taking many pieces (one per service) in turn.
    let (config, origin) = (config(), name("example.com."));
    let unsure = UnsureRegions::default();
    let small = check_in_parts(&text, Path::new(FILE), &origin, &config, &unsure, 2, 1);
    let (whole, _) = check_both(&text, 2);
    assert_eq!(small.expect("cut into pieces").services, whole.services);
    // The lines are the file's: s399 opens the last `[services.s399]`.
    let (whole, _) = check_both(&text, 2);
    let at = text.find("[services.s399]\n").unwrap();
    let line = 1 + text[..at].matches('\n').count();
    assert_eq!(whole.services[399].line, line);
    let route = whole.services[399].routes[0].line;
    assert_eq!(
        route,
        1 + text[..text.find("[[services.s399.route]]").unwrap()]
            .matches('\n')
            .count()
    );
}

#[test]
fn a_file_is_checked_whole_when_its_parts_could_differ() {
    let base = many(40);
    // A service defined again in another part, a table of one service after another's,
    // a `[services]` header, keys before the first table, an error anywhere.
    let cases = [
        format!(
            "{base}[services.s1]\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.9\" }}]\n"
        ),
        format!("{base}[services.s2.check]\nkind = \"tcp\"\nport = 81\n"),
        format!(
            "{base}[services.S3]\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.9\" }}]\n"
        ),
        format!("[services]\n{base}"),
        format!("ttl = 3\n{base}"),
        format!(
            "{base}[services.bad]\nttl = 0\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.9\" }}]\n"
        ),
        format!(
            "{base}[services.str]\nendpoints = [{{ region = \"eu-west\", address = \"192.0.2.9\" }}]\ncheck = {{ kind = \"http\", port = 80, body = \"\"\"\n[services.x]\n\"\"\" }}\n"
        ),
    ];
    for (i, text) in cases.iter().enumerate() {
        // Enough parts that every `[services.NAME]` line starts one.
        let (whole, in_parts) = check_both(text, 1000);
        assert!(
            in_parts.is_none(),
            "case {i} cut although: {:?}",
            whole.errors
        );
        // With fewer, a cut may miss the problem: then it changes nothing.
        for parts in 2..6 {
            if let (whole, Some(in_parts)) = check_both(text, parts) {
                assert!(whole.errors.is_empty(), "case {i}, {parts} parts");
                assert_eq!(in_parts.services, whole.services, "case {i}, {parts} parts");
            }
        }
    }
    // Some are valid TOML and valid services, some not: `parse_services` says so.
    for i in [0, 2, 4, 5] {
        assert!(!errors(&cases[i]).is_empty(), "case {i}");
    }
    for (i, n) in [(1, 40), (3, 40), (6, 41)] {
        assert_eq!(ok(&cases[i]).len(), n, "case {i}");
    }
}

/// Each `[services.NAME]` of `text` read by `fast.rs` and by serde, as debug text (the
/// spans included); `None` where `fast.rs` leaves it to serde.
fn read_both(text: &str) -> Vec<(Option<String>, String)> {
    use serde::Deserialize;
    let root = toml::de::DeTable::parse(text).unwrap().into_inner();
    let services = match root.get("services").map(|v| v.get_ref()) {
        Some(toml::de::DeValue::Table(t)) => t.clone(),
        _ => panic!("no services"),
    };
    services
        .into_iter()
        .map(|(_, v)| {
            let fast = super::fast::raw_service(&v).map(|r| format!("{r:?}"));
            let serde =
                crate::config::raw::RawService::deserialize(toml::de::ValueDeserializer::from(v))
                    .unwrap();
            (fast, format!("{serde:?}"))
        })
        .collect()
}

#[test]
fn services_read_without_serde_are_read_as_serde_reads_them() {
    let text = format!(
        "{}{}",
        many(30),
        r#"
[services.all-keys]
ttl = 0x1E
max_answers = +2
policy = 'failover'
order = ["us-east", "eu-west"]
unknown_location = []
[services.all-keys.check]
kind = "https"
port = 443
path = "/h"
host = "h.example.com"
insecure = true
body = """ok"""
interval = "10s"
timeout = "1s"
recheck = "2s"
rise = 1
fall = 5
[[services.all-keys.endpoints]]
region = "eu-west"
address = "192.0.2.1"
[[services.all-keys.route]]
countries = ["GB"]
networks = ["192.0.2.0/24"]
regions = ["eu-west"]
"#
    );
    let read = read_both(&text);
    assert_eq!(read.len(), 31);
    for (fast, serde) in &read {
        assert_eq!(fast.as_deref(), Some(serde.as_str()));
    }
    // What only serde reads (and words the errors of).
    for extra in [
        "on_all_down = \"nodata\"\n",
        "bias = { eu-west = 10 }\n",
        "overprovision = 1.4\n",
        "check = { kind = \"http\", port = 80, expect = [200] }\n",
        "ttl = 3.5\n",
        "ttl = \"30\"\n",
        "endpoints = \"eu-west\"\n",
    ] {
        let text = format!("[services.x]\n{extra}");
        let root = toml::de::DeTable::parse(&text).unwrap().into_inner();
        let x = match root.get("services").map(|v| v.get_ref()) {
            Some(toml::de::DeValue::Table(t)) => t.get("x").unwrap().clone(),
            _ => unreachable!(),
        };
        assert!(super::fast::raw_service(&x).is_none(), "{extra}");
    }
}

/// The services of `text` read by `scan.rs`, and by the full parser and serde, each as
/// (key, span of the key, debug text of the raw table with its spans); `None` where
/// `scan.rs` leaves the file to the full parser.
fn scanned_and_parsed(text: &str) -> (Option<Vec<String>>, Vec<String>) {
    use serde::Deserialize;
    let scanned = super::scan::services(text).map(|list| {
        list.into_iter()
            .map(|s| format!("{:?} {:?} {:?}", s.name, s.span, s.raw))
            .collect()
    });
    let root = toml::de::DeTable::parse(text).unwrap().into_inner();
    let services = match root.get("services").map(|v| v.get_ref()) {
        Some(toml::de::DeValue::Table(t)) => t.clone(),
        _ => Default::default(),
    };
    let parsed = services
        .into_iter()
        .map(|(k, v)| {
            let raw =
                crate::config::raw::RawService::deserialize(toml::de::ValueDeserializer::from(v))
                    .unwrap();
            format!("{:?} {:?} {raw:?}", k.get_ref(), k.span())
        })
        .collect();
    (scanned, parsed)
}

/// Odd but valid ways to write services that `scan.rs` reads itself.
const ODD_BUT_VALID: &[&str] = &[
    // Comments everywhere, blank lines, tabs, CRLF line ends.
    "# top\r\n\r\n[services.www]\t# the web\r\nttl = 30 # seconds\r\n\tendpoints = [ # list\r\n  # one\r\n  { region = \"eu-west\", address = \"192.0.2.1\" } , # first\r\n\r\n  {region=\"us-east\",address=\"198.51.100.1\",capacity=5}\r\n]\r\n",
    // Quoted keys in headers and tables, literal strings, escapes, blanks around dots.
    "[ services . \"api.eu\" ]\n\"ttl\" = +45\n'max_answers' = 1_6\npolicy = 'failover'\norder = ['us-east', \"eu-west\",]\nendpoints = [{ \"region\" = \"eu-west\", address = '192.0.2.2' }]\ncheck = { kind = \"https\", port = 8_080, path = \"/a\\\"b\\\\c\", host = \"h.example.com\", insecure = false, expect = [200, \"300-302\"], body = 'ok\\n' }\n",
    // `[services.NAME.check]` and `[[services.NAME.route]]` tables, an inline route list.
    "[services.a]\nendpoints = [\n{ region = \"eu-west\", address = \"192.0.2.3\" },\n]\n[services.a.check]\nkind = \"tcp\"\nport = 443\nrise = 1\nfall = 5\ninterval = \"10s\"\ntimeout = \"1s\"\nrecheck = \"2s\"\n[[services.a.route]]\ncountries = [\"GB\", \"ie\"]\nregions = [\"eu-west\"]\n[[services.a.route]] # another\nnetworks = [\"192.0.2.0/24\"]\ncontinents = []\nregions = [\"us-east\"]\n\n[services.b]\nunknown_location = [\n  \"us-east\", # comment in an array\n]\nroute = [{ continents = [\"EU\"], regions = [\"eu-west\"] }, {networks=[\"2001:db8::/32\"],regions=[\"us-east\"]}]\nendpoints = [{ region = \"us-east\", address = \"2001:db8::1\" }]\n",
    // Nothing but comments, or nothing at all.
    "# no services yet\n",
    "",
];

#[test]
fn scanned_services_are_read_as_the_full_parser_reads_them() {
    let bench_like = many(60);
    for (i, text) in ODD_BUT_VALID
        .iter()
        .copied()
        .chain([bench_like.as_str()])
        .enumerate()
    {
        let (scanned, parsed) = scanned_and_parsed(text);
        let scanned = scanned.unwrap_or_else(|| panic!("case {i} not scanned:\n{text}"));
        assert_eq!(scanned, parsed, "case {i}");
        // And so the checked services, names and lines are the same either way.
        let (config, origin) = (config(), name("example.com."));
        let unsure = UnsureRegions::default();
        let path = Path::new(FILE);
        let fast = check_scanned(text, path, &origin, &config, &unsure)
            .unwrap_or_else(|| panic!("case {i} refused by the checks"));
        let full = check_parsed(text, path, &origin, &config, &unsure);
        assert!(full.errors.is_empty(), "case {i}: {:?}", full.errors);
        assert_eq!(fast.services, full.services, "case {i}");
        assert_eq!(fast.names, full.names, "case {i}");
    }
    assert_eq!(ok(ODD_BUT_VALID[2]).len(), 2);
    assert_eq!(ok(&bench_like).len(), 60);
}

#[test]
fn what_scan_does_not_read_goes_to_the_full_parser_with_the_same_result() {
    let endpoint = "endpoints = [{ region = \"eu-west\", address = \"192.0.2.1\" }]\n";
    // Valid TOML and valid services, in forms only the full parser reads.
    let valid = [
        format!("[services.x]\nttl = 0x1E\n{endpoint}"),
        format!("[services.x]\npolicy = \"\"\"nearest\"\"\"\n{endpoint}"),
        format!("[services.x]\non_all_down = \"nodata\"\n{endpoint}"),
        format!("[services.x]\noverprovision = 1.5\n{endpoint}"),
        format!("[services.x]\ncheck.kind = \"tcp\"\ncheck.port = 80\n{endpoint}"),
        format!("[services]\nx.ttl = 30\nx.{endpoint}"),
        format!("[services.x]\npolicy = \"n\\u0065arest\"\n{endpoint}"),
    ];
    for (i, text) in valid.iter().enumerate() {
        assert!(
            super::scan::services(text).is_none(),
            "valid case {i} scanned"
        );
        assert_eq!(ok(text).len(), 1, "valid case {i}");
    }
    // Invalid TOML, or TOML the checks refuse: never read by scan.rs, or refused by the
    // checks after it, so the messages are the full parser's.
    let invalid = [
        format!("[services.x]\nttl = 030\n{endpoint}"),
        format!("[services.x]\nttl = 1__0\n{endpoint}"),
        format!("[services.x]\nttl = 3_\n{endpoint}"),
        format!("[services.x]\nttl = 99999999999999999999\n{endpoint}"),
        format!("[services.x]\nttl = 30 31\n{endpoint}"),
        format!("[services.x]\nttl = 30\nttl = 31\n{endpoint}"),
        format!("[services.x]\npolicy = \"a\\qb\"\n{endpoint}"),
        format!("[services.x]\npolicy = \"open\n{endpoint}"),
        format!("[services.x] # \u{7}bell\n{endpoint}"),
        format!("[services.x]\nttl = 30\r{endpoint}"),
        format!("[services.x]\n{endpoint}[services.x]\nttl = 3\n"),
        format!("[services.x]\nttl = \"30\"\n{endpoint}"),
        format!("[services.x]\ntll = 30\n{endpoint}"),
        format!("[services.x]\nttl = 0\n{endpoint}"),
        "[services.x]\nendpoints = [{ region = \"eu-wset\", address = \"192.0.2.1\" }]\n"
            .to_string(),
        "[services.x]\nendpoints = [{ region = \"eu-west\" address = \"192.0.2.1\" }]\n"
            .to_string(),
        "[services.x]\nendpoints = [{ region = \"eu-west\", address = \"192.0.2.1\"\n".to_string(),
        format!("[services.x]\n{endpoint}[services.X]\n{endpoint}"),
        format!("[services.x.y]\n{endpoint}"),
        format!("ttl = 30\n[services.x]\n{endpoint}"),
    ];
    let (config, origin) = (config(), name("example.com."));
    let unsure = UnsureRegions::default();
    let path = Path::new(FILE);
    for (i, text) in invalid.iter().enumerate() {
        assert!(
            check_scanned(text, path, &origin, &config, &unsure).is_none(),
            "invalid case {i} accepted"
        );
        let full = check_parsed(text, path, &origin, &config, &unsure);
        assert!(!full.errors.is_empty(), "invalid case {i} has no errors");
        assert_eq!(
            errors(text),
            full.errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            "invalid case {i}"
        );
    }
}

/// Every text made from valid files by deleting, doubling or replacing one byte: when
/// `scan.rs` and the checks accept it, the full parser reads the same services from it.
#[test]
fn scan_never_accepts_what_the_full_parser_reads_otherwise() {
    let (config, origin) = (config(), name("example.com."));
    let unsure = UnsureRegions::default();
    let path = Path::new(FILE);
    let mut accepted = 0;
    for base in ODD_BUT_VALID.iter().copied().chain([many(3).as_str()]) {
        let bytes = base.as_bytes();
        for at in 0..bytes.len() {
            for edit in 0..6u8 {
                let mut b = bytes.to_vec();
                match edit {
                    0 => drop(b.remove(at)),
                    1 => b.insert(at, bytes[at]),
                    _ => b[at] = [b'"', b'\n', b'0', b'#'][usize::from(edit - 2)],
                }
                let Ok(text) = String::from_utf8(b) else {
                    continue;
                };
                let Some(fast) = check_scanned(&text, path, &origin, &config, &unsure) else {
                    continue;
                };
                accepted += 1;
                let full = check_parsed(&text, path, &origin, &config, &unsure);
                assert!(full.errors.is_empty(), "{text:?}: {:?}", full.errors);
                assert_eq!(fast.services, full.services, "{text:?}");
                assert_eq!(fast.names, full.names, "{text:?}");
            }
        }
    }
    // Many edits keep a valid file (a comment changed, a digit, a blank line).
    assert!(accepted > 100, "{accepted}");
}

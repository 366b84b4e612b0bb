//! Geo routing over the wire: ECS queries for clients in different places get their
//! nearest region, with the scope of the database network that located them; `explain`
//! tells why; `check` names file and key for a bad service.

use crate::util::*;
use hickory_proto::rr::RecordType;
use std::net::IpAddr;
use std::process::Command;

/// Regions on five continents, one endpoint each (and one IPv6 endpoint in eu-west).
const SERVICES: &str = r#"
[services.lb]
ttl = 30
endpoints = [
  { region = "eu-west",      address = "203.0.113.10" },
  { region = "eu-west",      address = "2001:db8:e1::10" },
  { region = "us-east",      address = "198.51.100.10" },
  { region = "us-west",      address = "198.51.100.20" },
  { region = "sa-east",      address = "203.0.113.50" },
  { region = "ap-southeast", address = "203.0.113.30" },
  { region = "ap-northeast", address = "203.0.113.40" },
]
"#;

fn config(database: &str) -> String {
    format!(
        r#"[server]
region = "eu-west"
dns_listen = ["127.0.0.1:0"]
api_listen = "127.0.0.1:0"
zones_dir = "zones"
state_dir = "state"
udp_workers = 1
[geoip]
database = "{database}"
[fleet]
local_prober = false
{REGIONS}"#
    )
}

fn data(file: &str) -> String {
    format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn shipped_database() -> String {
    format!("{}/geodata/meridian-city.mmdb", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(database: &str) -> Fixture {
    Fixture::new()
        .config_text(&config(database))
        .zone("example.com", EXAMPLE_COM)
        .file("zones/example.com.toml", SERVICES)
}

/// Queries `name` with ECS `client/prefix`; returns the addresses and the ECS scope.
fn ask(
    server: &Server,
    name: &str,
    qtype: RecordType,
    client: &str,
    prefix: u8,
) -> (Vec<String>, u8) {
    let addr: IpAddr = client.parse().unwrap();
    let (family, bytes) = match addr {
        IpAddr::V4(a) => (1, a.octets().to_vec()),
        IpAddr::V6(a) => (2, a.octets().to_vec()),
    };
    let len = (prefix as usize).div_ceil(8);
    let option = ecs_option(family, prefix, 0, &bytes[..len]);
    let q = Query::new(name, qtype).edns(Edns::new(1232).option(ECS, option));
    let r = server.query(&q);
    assert_eq!(r.rcode(), rcode::NOERROR, "{name} for {client}/{prefix}");
    assert!(r.aa, "balanced answers are authoritative");
    let ecs = r
        .opt
        .as_ref()
        .and_then(|o| o.option(ECS))
        .expect("ECS echoed")
        .to_vec();
    assert_eq!(
        &ecs[..3],
        &[0, family as u8, prefix],
        "family and source prefix echoed"
    );
    assert_eq!(&ecs[4..], &bytes[..len], "address echoed");
    let addrs = r
        .answers
        .iter()
        .map(|rec| rec.text().rsplit(' ').next().unwrap().to_string())
        .collect();
    (addrs, ecs[3])
}

#[test]
fn ecs_clients_get_their_nearest_region_with_the_database_scope() {
    let server = fixture(&data("meridian-test-city.mmdb")).start();
    // The fixture database: 192.0.2.0/24 California, 198.51.100.0/24 New York,
    // 203.0.113.0/24 Sydney, 2001:db8::/32 London (see tests/data/README.md).
    let rows: &[(&str, u8, &str, u8)] = &[
        ("192.0.2.0", 24, "198.51.100.20", 24),
        ("198.51.100.0", 24, "198.51.100.10", 24),
        ("203.0.113.0", 24, "203.0.113.30", 24),
        ("2001:db8:1234::", 48, "203.0.113.10", 32),
    ];
    for (client, prefix, want, scope) in rows {
        let (addrs, got_scope) = ask(&server, "lb.example.com", RecordType::A, client, *prefix);
        assert_eq!(addrs, vec![want.to_string()], "{client}/{prefix}");
        assert_eq!(got_scope, *scope, "scope for {client}/{prefix}");
    }
    // A shorter client prefix caps the scope.
    let (_, scope) = ask(&server, "lb.example.com", RecordType::A, "192.0.0.0", 16);
    assert!(scope <= 16, "{scope}");
    // AAAA: only eu-west has IPv6.
    let (addrs, _) = ask(&server, "lb.example.com", RecordType::AAAA, "192.0.2.0", 24);
    assert_eq!(addrs, vec!["2001:db8:e1::10"]);
    // A static name does not depend on the client: scope 0.
    let (_, scope) = ask(&server, "mail.example.com", RecordType::A, "192.0.2.0", 24);
    assert_eq!(scope, 0);
}

#[test]
fn the_same_network_gets_the_same_answer() {
    let server = fixture(&data("meridian-test-city.mmdb")).start();
    let first = ask(&server, "lb.example.com", RecordType::A, "198.51.100.0", 24);
    for _ in 0..20 {
        assert_eq!(
            ask(&server, "lb.example.com", RecordType::A, "198.51.100.0", 24),
            first
        );
    }
}

/// Real resolver networks in five cities, as the shipped database places them.
#[test]
fn shipped_database_sends_five_cities_to_their_nearest_regions() {
    let server = fixture(&shipped_database()).start();
    let rows: &[(&str, &str, &str)] = &[
        ("california", CALIFORNIA, "198.51.100.20"),
        ("new york", NEW_YORK, "198.51.100.10"),
        ("london", LONDON, "203.0.113.10"),
        ("sydney", SYDNEY, "203.0.113.30"),
        ("tokyo", TOKYO, "203.0.113.40"),
    ];
    for (city, client, want) in rows {
        let (addrs, scope) = ask(&server, "lb.example.com", RecordType::A, client, 24);
        assert_eq!(addrs, vec![want.to_string()], "{city} ({client}/24)");
        assert!(scope > 0 && scope <= 24, "{city}: scope {scope}");
    }
}

// Networks whose location in the shipped database is the named city (see
// geodata/verify.py, which checks the same addresses).
const CALIFORNIA: &str = "8.8.8.0"; // Mountain View
const NEW_YORK: &str = "173.52.0.0";
const LONDON: &str = "212.58.244.0";
const SYDNEY: &str = "13.54.0.0";
const TOKYO: &str = "13.112.0.0";

#[test]
fn explain_names_the_location_ranking_and_answer() {
    let dir = fixture(&data("meridian-test-city.mmdb")).write();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.arg("explain")
        .arg("lb.example.com")
        .arg("--client")
        .arg("203.0.113.7/24")
        .arg("--config")
        .arg(dir.path().join("meridian.toml"));
    let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
    assert!(run.status.success(), "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.contains("AU"), "{out}");
    assert!(out.contains("ranking:   distance"), "{out}");
    let picked = out
        .lines()
        .find(|l| l.contains("<- picked"))
        .unwrap_or_default();
    assert!(picked.contains("ap-southeast"), "{out}");
    assert!(out.contains("answer:    203.0.113.30"), "{out}");
    assert!(out.contains("ecs scope: /24"), "{out}");
}

#[test]
fn check_names_file_line_and_key_of_a_bad_service() {
    let bad = SERVICES.replace("\"us-west\"", "\"us-wset\"");
    let run = fixture(&data("meridian-test-city.mmdb"))
        .file("zones/example.com.toml", &bad)
        .check();
    assert!(!run.status.success());
    assert!(
        run.stderr.contains(
            "example.com.toml:8: services.lb.endpoints[3].region: unknown region \"us-wset\""
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_cname_to_a_load_balanced_name_is_followed_with_the_decision() {
    let server = fixture(&data("meridian-test-city.mmdb"))
        .append("example.com", "alias-lb 60 IN CNAME lb\n")
        .start();
    let q = Query::new("alias-lb.example.com", RecordType::A)
        .edns(Edns::new(1232).option(ECS, ecs_option(1, 24, 0, &[203, 0, 113])));
    let r = server.query(&q);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.aa);
    assert_eq!(
        r.answer_texts(),
        [
            "alias-lb.example.com. 60 CNAME lb.example.com.",
            "lb.example.com. 30 A 203.0.113.30"
        ]
    );
    let ecs = r.opt.as_ref().and_then(|o| o.option(ECS)).unwrap().to_vec();
    assert_eq!(ecs[3], 24, "the scope of the decision");
    // Other types at the alias are the plain chain.
    let r = server.query(&Query::new("alias-lb.example.com", RecordType::TXT));
    assert_eq!(
        r.answer_texts(),
        ["alias-lb.example.com. 60 CNAME lb.example.com."]
    );
}

#[test]
fn a_replaced_database_file_is_picked_up_without_a_restart() {
    // The server reads its own copy of the fixture database, which the test then replaces.
    let dir = fixture("{DIR}/geo.mmdb").write();
    std::fs::copy(data("meridian-test-city.mmdb"), dir.path().join("geo.mmdb")).unwrap();
    let server = Server::start_in(dir, None);
    let country = || {
        let reply = http(
            server.api(),
            "GET",
            "/v1/explain?name=lb.example.com&client=192.0.2.1",
            None,
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        v["location"]["country"].as_str().map(str::to_owned)
    };
    assert_eq!(country().as_deref(), Some("US"));
    // MaxMind's test database has no data for 192.0.2.0/24. Replace by rename, as
    // database updaters do.
    let tmp = server.dir().join("geo.mmdb.new");
    std::fs::copy(data("maxmind/GeoIP2-City-Test.mmdb"), &tmp).unwrap();
    std::fs::rename(&tmp, server.dir().join("geo.mmdb")).unwrap();
    wait_for(
        "the new database",
        std::time::Duration::from_secs(15),
        || country().is_none().then_some(()),
    );
}

#[test]
fn explain_server_asks_the_running_server() {
    let server = fixture(&data("meridian-test-city.mmdb")).start();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.args([
        "explain",
        "lb.example.com",
        "--type",
        "AAAA",
        "--client",
        "2001:db8:1234::/48",
        "--server",
    ])
    .arg(format!("http://{}", server.api()));
    let run = Run::bounded(cmd, server.dir(), STARTUP_TIMEOUT);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("name:      lb.example.com. AAAA"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("GB, EU"), "{}", run.stdout);
    // The server's own health, and it says so.
    assert!(
        run.stdout
            .contains("health:    live: the server's current view"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("answer:    2001:db8:e1::10"),
        "{}",
        run.stdout
    );
    // A static name is refused with the server's reason.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    cmd.args([
        "explain",
        "mail.example.com",
        "--client",
        "192.0.2.1",
        "--server",
    ])
    .arg(format!("http://{}", server.api()));
    let run = Run::bounded(cmd, server.dir(), STARTUP_TIMEOUT);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("is not load-balanced"),
        "{}",
        run.stderr
    );
}

#[test]
fn metrics_count_responses_by_zone_and_rcode_and_answers_by_region() {
    let server = fixture(&data("meridian-test-city.mmdb")).start();
    for _ in 0..3 {
        ask(&server, "lb.example.com", RecordType::A, "203.0.113.0", 24);
    }
    server.query(&Query::new("nope.example.com", RecordType::A));
    server.query(&Query::new("example.org", RecordType::A));
    // Workers add their counts once per batch; a batch ends with each reply.
    let body = wait_for("the counters", std::time::Duration::from_secs(5), || {
        let body = http(server.api(), "GET", "/metrics", None, None).body;
        body.contains("meridian_dns_balanced_answers_total{service=\"lb.example.com.\",region=\"ap-southeast\"} 3")
            .then_some(body)
    });
    assert!(
        body.contains("meridian_dns_responses_total{zone=\"example.com.\",rcode=\"NOERROR\"} 3"),
        "{body}"
    );
    assert!(
        body.contains("meridian_dns_responses_total{zone=\"example.com.\",rcode=\"NXDOMAIN\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("meridian_dns_responses_total{zone=\"\",rcode=\"REFUSED\"} 1"),
        "{body}"
    );
}

/// `config` without its `[geoip]` table.
fn config_without_geoip() -> String {
    config("X").replace("[geoip]\ndatabase = \"X\"\n", "")
}

/// Issue 9: with no `[geoip]`, the database built into the binary locates clients, with no
/// geodata/ beside the config or the working directory.
#[test]
fn without_geoip_the_built_in_database_locates_clients() {
    let dir = Fixture::new()
        .config_text(&config_without_geoip())
        .zone("example.com", EXAMPLE_COM)
        .file("zones/example.com.toml", SERVICES)
        .write();
    assert!(!dir.path().join("geodata").exists());
    let server = Server::start_in(dir, None);
    for (city, client, want) in [
        ("tokyo", TOKYO, "203.0.113.40"),
        ("london", LONDON, "203.0.113.10"),
    ] {
        let (addrs, scope) = ask(&server, "lb.example.com", RecordType::A, client, 24);
        assert_eq!(addrs, vec![want.to_string()], "{city} ({client}/24)");
        assert!(scope > 0 && scope <= 24, "{city}: scope {scope}");
    }
}

/// Issue 9: `database = ""` turns geolocation off; `check` and `serve` say so on stderr,
/// naming the service, and clients get the service's unknown_location.
#[test]
fn database_off_warns_and_answers_by_unknown_location() {
    let services = SERVICES.replace("ttl = 30\n", "ttl = 30\nunknown_location = [\"us-west\"]\n");
    let fixture = fixture("").file("zones/example.com.toml", &services);
    let warned = |stderr: &str| {
        stderr.lines().any(|l| {
            l.contains("WARN") && l.contains("lb.example.com.") && l.contains("cannot be located")
        })
    };
    let run = fixture.check();
    assert_eq!(run.status.code(), Some(0), "stderr:\n{}", run.stderr);
    assert!(warned(&run.stderr), "stderr:\n{}", run.stderr);
    assert!(
        run.stdout.contains("geolocation: off"),
        "stdout:\n{}",
        run.stdout
    );

    let server = fixture.start();
    assert!(warned(&server.stderr()), "stderr:\n{}", server.stderr());
    for (city, client) in [("tokyo", TOKYO), ("london", LONDON)] {
        let (addrs, scope) = ask(&server, "lb.example.com", RecordType::A, client, 24);
        assert_eq!(addrs, vec!["198.51.100.20".to_string()], "{city}");
        assert_eq!(scope, 0, "{city}: one answer for every client");
    }
}

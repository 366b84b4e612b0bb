//! The decision, table-driven: inline config, then client → answer, scope, shares.

use super::*;
use crate::config::{self, Config, Service};
use crate::geo::{CoordinatesFrom, Location};
use hickory_proto::rr::Name;
use std::collections::BTreeMap;
use std::path::Path;

use crate::fixtures::config_and_services as setup;

/// Endpoint states of each service, as the health table would hold them (route knows no
/// health module).
struct HealthTable(Vec<Vec<EndpointState>>);

impl HealthTable {
    fn all_up(services: &[Service]) -> HealthTable {
        HealthTable(
            services
                .iter()
                .map(|s| vec![EndpointState::Up; s.endpoints.len()])
                .collect(),
        )
    }
    fn set(&mut self, service: usize, endpoint: usize, state: EndpointState) {
        self.0[service][endpoint] = state;
    }
    fn service(&self, service: usize) -> Health<'_> {
        Health {
            endpoints: &self.0[service],
            ttl_cap: None,
            capacity_factors: &[],
            viewpoints: &[],
        }
    }
}

fn at(country: &str, continent: &str, lat: f64, lon: f64, prefix: u8) -> Location {
    let b = |s: &str| [s.as_bytes()[0], s.as_bytes()[1]];
    Location {
        country: Some(b(country)),
        continent: Some(b(continent)),
        coordinates: Some((lat, lon)),
        position: Some(crate::config::Position::of(lat, lon)),
        coordinates_from: CoordinatesFrom::Record,
        network_prefix: prefix,
    }
}

fn london() -> Location {
    at("GB", "EU", 51.51, -0.13, 20)
}
fn new_york() -> Location {
    at("US", "NA", 40.71, -74.01, 18)
}
fn california() -> Location {
    at("US", "NA", 37.77, -122.42, 16)
}
fn sydney() -> Location {
    at("AU", "OC", -33.87, 151.21, 22)
}
fn perth() -> Location {
    at("AU", "OC", -31.95, 115.86, 22)
}
fn tokyo() -> Location {
    at("JP", "AS", 35.68, 139.69, 19)
}

fn ask(
    config: &Config,
    svc: &Service,
    health: &HealthTable,
    addr: &str,
    loc: &Location,
    family: Family,
) -> Decision {
    let addr: IpAddr = addr.parse().unwrap();
    let client = Client {
        addr,
        source_prefix: if addr.is_ipv4() { 24 } else { 56 },
        location: loc,
    };
    decide(
        svc,
        &config.regions,
        &client,
        &health.service(0),
        family,
        None,
    )
}

fn addrs(d: &Decision) -> Vec<String> {
    d.addresses().map(|a| a.to_string()).collect()
}

const FIVE_REGIONS: &str = r#"
[services.www]
endpoints = [
  { region = "eu-west", address = "203.0.113.1" },
  { region = "us-east", address = "198.51.100.1" },
  { region = "us-west", address = "198.51.100.2" },
  { region = "ap-southeast", address = "203.0.113.2" },
  { region = "ap-northeast", address = "203.0.113.3" },
  { region = "eu-west", address = "2001:db8::1" },
]
"#;

#[test]
fn nearest_region_by_great_circle_distance() {
    let (config, services) = setup(FIVE_REGIONS);
    let health = HealthTable::all_up(&services);
    let rows: &[(&str, Location, &str, u8)] = &[
        ("192.0.2.1", london(), "203.0.113.1", 20),
        ("192.0.2.1", new_york(), "198.51.100.1", 18),
        ("192.0.2.1", california(), "198.51.100.2", 16),
        ("192.0.2.1", sydney(), "203.0.113.2", 22),
        ("192.0.2.1", perth(), "203.0.113.2", 22),
        ("192.0.2.1", tokyo(), "203.0.113.3", 19),
    ];
    for (client, loc, want, scope) in rows {
        let d = ask(&config, &services[0], &health, client, loc, Family::V4);
        assert_eq!(addrs(&d), vec![want.to_string()], "{loc:?}");
        // One endpoint per region: only the database network decided it.
        assert_eq!(d.scope, *scope, "{loc:?}");
        assert_eq!(d.ttl, 30);
    }
    // AAAA: only eu-west has IPv6, so everyone gets it; the answer still depends on
    // nothing finer than the location.
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &tokyo(),
        Family::V6,
    );
    assert_eq!(addrs(&d), vec!["2001:db8::1"]);
}

/// Share of `n` client /24s answered from each address.
fn shares(
    config: &Config,
    svc: &Service,
    health: &HealthTable,
    loc: &Location,
    n: u32,
) -> BTreeMap<String, f64> {
    let mut counts = BTreeMap::new();
    for i in 0..n {
        let addr = format!("10.{}.{}.7", (i >> 8) & 0xFF, i & 0xFF);
        let d = ask(config, svc, health, &addr, loc, Family::V4);
        for a in addrs(&d) {
            *counts.entry(a).or_insert(0.0) += 1.0 / n as f64;
        }
    }
    counts
}

fn close(got: &BTreeMap<String, f64>, want: &[(&str, f64)]) {
    for (addr, share) in want {
        let g = got.get(*addr).copied().unwrap_or(0.0);
        assert!(
            (g - share).abs() < 0.025,
            "{addr}: got {g:.3}, want {share:.3} (all: {got:?})"
        );
    }
    assert_eq!(
        got.len(),
        want.iter().filter(|w| w.1 > 0.0).count(),
        "{got:?}"
    );
}

const SPILL: &str = r#"
[services.www]
endpoints = [
  { region = "us-east", address = "198.51.100.1", capacity = 100 },
  { region = "us-east", address = "198.51.100.2", capacity = 100 },
  { region = "us-west", address = "198.51.100.3", capacity = 100 },
  { region = "eu-west", address = "203.0.113.1", capacity = 100 },
]
"#;

#[test]
fn lost_capacity_spills_to_the_next_regions_in_proportion() {
    let (config, services) = setup(SPILL);
    let svc = &services[0];
    let mut health = HealthTable::all_up(&services);
    // All healthy: New York stays in us-east, split by capacity between its endpoints.
    close(
        &shares(&config, svc, &health, &new_york(), 4000),
        &[("198.51.100.1", 0.5), ("198.51.100.2", 0.5)],
    );
    // Half of us-east down: the half it lost goes to the next region (us-west), not all.
    health.set(0, 1, EndpointState::Down);
    close(
        &shares(&config, svc, &health, &new_york(), 4000),
        &[("198.51.100.1", 0.5), ("198.51.100.3", 0.5)],
    );
    // us-west also down: the lost share goes one further, to eu-west.
    health.set(0, 2, EndpointState::Down);
    close(
        &shares(&config, svc, &health, &new_york(), 4000),
        &[("198.51.100.1", 0.5), ("203.0.113.1", 0.5)],
    );
    // Drained counts as no capacity, like down.
    let mut drained = HealthTable::all_up(&services);
    drained.set(0, 0, EndpointState::Drained);
    drained.set(0, 1, EndpointState::Drained);
    close(
        &shares(&config, svc, &drained, &new_york(), 1000),
        &[("198.51.100.3", 1.0)],
    );
}

#[test]
fn overprovisioning_absorbs_small_losses_like_envoy_priorities() {
    let (config, services) =
        setup(&SPILL.replace("[services.www]", "[services.www]\noverprovision = 1.4"));
    let mut health = HealthTable::all_up(&services);
    health.set(0, 1, EndpointState::Down);
    // 50 % healthy × 1.4 = 70 % stays; 30 % spills.
    close(
        &shares(&config, &services[0], &health, &new_york(), 4000),
        &[("198.51.100.1", 0.7), ("198.51.100.3", 0.3)],
    );
}

#[test]
fn weighted_policy_shares_follow_capacity() {
    let (config, services) = setup(
        r#"
[services.www]
policy = "weighted"
endpoints = [
  { region = "us-east", address = "198.51.100.1", capacity = 300 },
  { region = "eu-west", address = "203.0.113.1", capacity = 100 },
]
"#,
    );
    let health = HealthTable::all_up(&services);
    close(
        &shares(&config, &services[0], &health, &london(), 4000),
        &[("198.51.100.1", 0.75), ("203.0.113.1", 0.25)],
    );
    // The answer depends on the /24 only, not on where the client is.
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &london(),
        Family::V4,
    );
    assert_eq!(d.scope, 24);
}

#[test]
fn failover_follows_the_fixed_order() {
    let (config, services) = setup(
        r#"
[services.www]
policy = "failover"
order = ["us-west", "eu-west"]
endpoints = [
  { region = "eu-west", address = "203.0.113.1" },
  { region = "us-west", address = "198.51.100.3" },
]
"#,
    );
    let mut health = HealthTable::all_up(&services);
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &london(),
        Family::V4,
    );
    assert_eq!(addrs(&d), vec!["198.51.100.3"]);
    assert_eq!(
        d.scope, 0,
        "a failover answer does not depend on the client"
    );
    health.set(0, 1, EndpointState::Down);
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &california(),
        Family::V4,
    );
    assert_eq!(addrs(&d), vec!["203.0.113.1"]);
}

#[test]
fn routes_override_by_country_continent_and_network() {
    let (config, services) = setup(
        r#"
[services.www]
endpoints = [
  { region = "eu-west", address = "203.0.113.1" },
  { region = "us-east", address = "198.51.100.1" },
  { region = "ap-southeast", address = "203.0.113.2" },
]
[[services.www.route]]
networks = ["10.1.0.0/16"]
regions = ["ap-southeast"]
[[services.www.route]]
countries = ["JP"]
regions = ["us-east"]
[[services.www.route]]
continents = ["EU"]
regions = ["eu-west"]
"#,
    );
    let health = HealthTable::all_up(&services);
    let svc = &services[0];
    let rows: &[(&str, Location, &str)] = &[
        ("10.1.2.3", london(), "203.0.113.2"), // network wins (first match)
        ("192.0.2.1", tokyo(), "198.51.100.1"), // country
        ("192.0.2.1", at("IS", "EU", 64.1, -21.9, 16), "203.0.113.1"),
        ("192.0.2.1", sydney(), "203.0.113.2"), // no route: nearest
    ];
    for (client, loc, want) in rows {
        assert_eq!(
            addrs(&ask(&config, svc, &health, client, loc, Family::V4)),
            vec![want.to_string()],
            "{client} {loc:?}"
        );
    }
    // A network route makes the scope at least its prefix; outside it, enough bits to stay out.
    assert_eq!(
        ask(&config, svc, &health, "10.1.2.3", &london(), Family::V4).scope,
        20
    );
    let outside = ask(&config, svc, &health, "10.2.0.1", &sydney(), Family::V4);
    assert!(outside.scope >= 15, "{}", outside.scope);
}

#[test]
fn all_down_fails_open_or_answers_nodata() {
    let (config, services) = setup(SPILL);
    let mut health = HealthTable::all_up(&services);
    for i in 0..4 {
        health.set(0, i, EndpointState::Down);
    }
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &london(),
        Family::V4,
    );
    assert_eq!(
        addrs(&d),
        vec![
            "198.51.100.1",
            "198.51.100.2",
            "198.51.100.3",
            "203.0.113.1"
        ]
    );
    let (config, services) =
        setup(&SPILL.replace("[services.www]", "[services.www]\non_all_down = \"nodata\""));
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &london(),
        Family::V4,
    );
    assert!(d.is_empty());
}

/// `all_down` names what would fail open: the whole family when nothing of it is up,
/// else each route whose regions have none up; an address family without endpoints is
/// never down.
#[test]
fn all_down_names_the_families_and_routes_with_nothing_healthy() {
    let (_, services) = setup(
        r#"
[services.www]
endpoints = [
  { region = "eu-west", address = "203.0.113.1" },
  { region = "us-east", address = "198.51.100.1" },
  { region = "us-east", address = "2001:db8::1" },
]
[[services.www.route]]
continents = ["NA"]
regions = ["us-east"]
[[services.www.route]]
continents = ["AS"]
regions = ["ap-southeast"]
"#,
    );
    let svc = &services[0];
    let mut health = HealthTable::all_up(&services);
    assert_eq!(all_down(svc, &health.service(0)), vec![]);
    // us-east's IPv4 endpoint down: the NA route has no healthy IPv4; the AS route has no
    // endpoint at all (nothing to fail open with), and eu-west still serves the rest.
    health.set(0, 1, EndpointState::Down);
    assert_eq!(
        all_down(svc, &health.service(0)),
        vec![(Family::V4, Some(0))]
    );
    // eu-west drained as well: every IPv4 client; IPv6 is still up.
    health.set(0, 0, EndpointState::Drained);
    assert_eq!(all_down(svc, &health.service(0)), vec![(Family::V4, None)]);
    health.set(0, 2, EndpointState::Down);
    assert_eq!(
        all_down(svc, &health.service(0)),
        vec![(Family::V4, None), (Family::V6, None)]
    );
}

#[test]
fn max_answers_picks_distinct_endpoints_and_fills_from_the_next_region() {
    let (config, services) =
        setup(&SPILL.replace("[services.www]", "[services.www]\nmax_answers = 3"));
    let health = HealthTable::all_up(&services);
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &new_york(),
        Family::V4,
    );
    let mut got = addrs(&d);
    got.sort();
    assert_eq!(got, vec!["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
}

#[test]
fn same_network_same_answer_and_scope_says_so() {
    let (config, services) = setup(SPILL);
    let health = HealthTable::all_up(&services);
    let svc = &services[0];
    let first = ask(&config, svc, &health, "192.0.2.1", &new_york(), Family::V4);
    for host in 2..=254 {
        let d = ask(
            &config,
            svc,
            &health,
            &format!("192.0.2.{host}"),
            &new_york(),
            Family::V4,
        );
        assert_eq!(d, first, "192.0.2.{host}");
    }
    // Two endpoints in the region, one answer: the pick depends on the /24.
    assert_eq!(first.scope, 24);
    // Never longer than what the client sent.
    let loc = new_york();
    let client = Client {
        addr: "192.0.0.0".parse().unwrap(),
        source_prefix: 16,
        location: &loc,
    };
    assert_eq!(
        decide(
            svc,
            &config.regions,
            &client,
            &health.service(0),
            Family::V4,
            None
        )
        .scope,
        16
    );
}

#[test]
fn unknown_location_uses_the_configured_regions_else_weighted() {
    let (config, services) = setup(&FIVE_REGIONS.replace(
        "[services.www]",
        "[services.www]\nunknown_location = [\"us-west\"]",
    ));
    let health = HealthTable::all_up(&services);
    let nowhere = Location::unknown(8);
    let d = ask(
        &config,
        &services[0],
        &health,
        "10.0.0.1",
        &nowhere,
        Family::V4,
    );
    assert_eq!(addrs(&d), vec!["198.51.100.2"]);
    assert_eq!(d.scope, 8);
    let (config, services) = setup(FIVE_REGIONS);
    let got = shares(&config, &services[0], &health, &nowhere, 5000);
    for a in [
        "203.0.113.1",
        "198.51.100.1",
        "198.51.100.2",
        "203.0.113.2",
        "203.0.113.3",
    ] {
        assert!((got[a] - 0.2).abs() < 0.025, "{got:?}");
    }
}

#[test]
fn explain_trace_records_the_steps() {
    let (config, services) = setup(SPILL);
    let mut health = HealthTable::all_up(&services);
    health.set(0, 1, EndpointState::Down);
    let loc = new_york();
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        source_prefix: 24,
        location: &loc,
    };
    let mut trace = Trace::default();
    let d = decide(
        &services[0],
        &config.regions,
        &client,
        &health.service(0),
        Family::V4,
        Some(&mut trace),
    );
    assert_eq!(trace.ranking, "distance");
    let names: Vec<&str> = trace
        .regions
        .iter()
        .map(|r| config.regions[r.region].name.as_str())
        .collect();
    assert_eq!(names, ["us-east", "us-west", "eu-west"]);
    assert_eq!(
        (
            trace.regions[0].healthy_capacity,
            trace.regions[0].total_capacity
        ),
        (100, 200)
    );
    assert!((trace.regions[0].share - 0.5).abs() < 1e-9);
    assert!((trace.regions[1].share - 0.5).abs() < 1e-9);
    assert_eq!(trace.regions[2].share, 0.0);
    assert_eq!(trace.hash_network, Some(("192.0.2.0".parse().unwrap(), 24)));
    assert!(!d.is_empty());
    // The walk: regions before the picked one passed the network on because its first
    // choice there is down; the picked one kept it on its first choice.
    let picked = trace
        .regions
        .iter()
        .position(|r| Some(r.region) == trace.picked_region)
        .unwrap();
    for r in &trace.regions[..picked] {
        assert_eq!(r.outcome, Outcome::PassedOn);
        assert_eq!(r.first_choice, Some("198.51.100.2".parse().unwrap()));
    }
    assert_eq!(trace.regions[picked].outcome, Outcome::FirstChoiceUp);
    assert_eq!(
        trace.regions[picked].first_choice,
        d.addresses().next(),
        "answered on its first choice"
    );
    assert!((trace.regions[0].keep - 0.5).abs() < 1e-9);
}

// Minimal disruption: each client network ranks the endpoints by rendezvous hashing, so a
// change of health moves only the networks it must. Measured over NETWORKS synthetic /24s.

const NETWORKS: u32 = 16384;

/// The first address answered to each of NETWORKS client /24s.
fn picks(config: &Config, svc: &Service, health: &HealthTable, loc: &Location) -> Vec<String> {
    (0..NETWORKS)
        .map(|i| {
            let addr = format!("10.{}.{}.7", (i >> 8) & 0xFF, i & 0xFF);
            let d = ask(config, svc, health, &addr, loc, Family::V4);
            d.addresses()
                .next()
                .map(|a| a.to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// Of the networks whose pick in `before` satisfies `from`, the fraction whose pick in
/// `after` satisfies `to`.
fn fraction(
    before: &[String],
    after: &[String],
    from: impl Fn(&str) -> bool,
    to: impl Fn(&str, &str) -> bool,
) -> f64 {
    let (mut n, mut hit) = (0, 0);
    for (b, a) in before.iter().zip(after) {
        if from(b) {
            n += 1;
            hit += to(b, a) as u32;
        }
    }
    assert!(n > 0, "no network matched");
    hit as f64 / n as f64
}

const FOUR: &str = r#"
[services.www]
endpoints = [
  { region = "us-east", address = "198.51.100.1" },
  { region = "us-east", address = "198.51.100.2" },
  { region = "us-east", address = "198.51.100.3" },
  { region = "us-east", address = "198.51.100.4" },
]
"#;

#[test]
fn one_of_four_failing_moves_only_its_own_networks() {
    let (config, services) = setup(FOUR);
    let svc = &services[0];
    let all_up = HealthTable::all_up(&services);
    let before = picks(&config, svc, &all_up, &new_york());
    for failed in 0..4 {
        let gone = svc.endpoints[failed].address.to_string();
        let mut health = HealthTable::all_up(&services);
        health.set(0, failed, EndpointState::Down);
        let after = picks(&config, svc, &health, &new_york());
        let others_moved = fraction(&before, &after, |b| b != gone, |b, a| a != b);
        eprintln!(
            "{gone} down: {:.4} of the others' networks moved",
            others_moved
        );
        assert!(others_moved < 0.02, "{gone}: {others_moved}");
        // Its own networks spread evenly over the three left.
        for (i, e) in svc
            .endpoints
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != failed)
        {
            let to_e = fraction(
                &before,
                &after,
                |b| b == gone,
                |_, a| a == e.address.to_string(),
            );
            eprintln!("  {gone}'s networks to {}: {to_e:.4}", e.address);
            assert!((to_e - 1.0 / 3.0).abs() < 0.05, "{gone} -> #{i}: {to_e}");
        }
        assert!(after.iter().all(|a| *a != gone));
        // (c) Recovery: every network back on exactly its earlier pick.
        assert_eq!(
            picks(&config, svc, &all_up, &new_york()),
            before,
            "{gone} back"
        );
    }
}

#[test]
fn config_order_does_not_reshuffle_the_networks() {
    let (config, services) = setup(FOUR);
    let reversed: String = {
        let mut lines: Vec<&str> = FOUR.lines().collect();
        lines[3..7].reverse();
        lines.join("\n")
    };
    let (_, reordered) = setup(&reversed);
    assert_ne!(services[0].endpoints[0], reordered[0].endpoints[0]);
    let health = HealthTable::all_up(&services);
    assert_eq!(
        picks(&config, &services[0], &health, &new_york()),
        picks(&config, &reordered[0], &health, &new_york())
    );
}

#[test]
fn a_region_losing_an_endpoint_spills_only_that_endpoints_networks() {
    // (overprovision, share of the lost endpoint's networks that leave us-east)
    let rows: &[(f64, f64)] = &[(1.0, 1.0), (1.4, 0.6)];
    for &(overprovision, leave) in rows {
        let (config, services) = setup(&SPILL.replace(
            "[services.www]",
            &format!("[services.www]\noverprovision = {overprovision}"),
        ));
        let svc = &services[0];
        let all_up = HealthTable::all_up(&services);
        let before = picks(&config, svc, &all_up, &new_york());
        let (kept, lost) = ("198.51.100.1", "198.51.100.2");
        let mut health = HealthTable::all_up(&services);
        health.set(0, 1, EndpointState::Down);
        let after = picks(&config, svc, &health, &new_york());
        let kept_moved = fraction(&before, &after, |b| b == kept, |b, a| a != b);
        let lost_left = fraction(&before, &after, |b| b == lost, |_, a| a == "198.51.100.3");
        let lost_stayed = fraction(&before, &after, |b| b == lost, |_, a| a == kept);
        eprintln!(
            "overprovision {overprovision}: {kept_moved:.4} of {kept}'s networks moved, \
             {lost_left:.4} of {lost}'s spilled to us-west, {lost_stayed:.4} stayed on {kept}"
        );
        assert!(kept_moved < 0.02, "{overprovision}: {kept_moved}");
        assert!(
            (lost_left - leave).abs() < 0.03,
            "{overprovision}: {lost_left}"
        );
        assert!((lost_left + lost_stayed - 1.0).abs() < 1e-9);
        // us-west down too: only the networks it had taken over go one further.
        health.set(0, 2, EndpointState::Down);
        let further = picks(&config, svc, &health, &new_york());
        let moved = fraction(&after, &further, |b| b != "198.51.100.3", |b, a| a != b);
        assert!(moved < 0.02, "{overprovision}: {moved}");
        assert!(further.iter().all(|a| a != "198.51.100.3"));
        // (c) Recovery, in any order: every network back on exactly its earlier pick.
        health.set(0, 1, EndpointState::Up);
        health.set(0, 2, EndpointState::Up);
        assert_eq!(picks(&config, svc, &health, &new_york()), before);
    }
}

#[test]
fn weighted_shares_hold_and_a_failure_moves_only_its_networks() {
    let (config, services) = setup(
        r#"
[services.www]
endpoints = [
  { region = "us-east", address = "198.51.100.1", capacity = 10 },
  { region = "us-east", address = "198.51.100.2", capacity = 20 },
  { region = "us-east", address = "198.51.100.3", capacity = 30 },
  { region = "us-east", address = "198.51.100.4", capacity = 40 },
]
"#,
    );
    let svc = &services[0];
    let mut health = HealthTable::all_up(&services);
    let got = shares(&config, svc, &health, &new_york(), NETWORKS);
    close(
        &got,
        &[
            ("198.51.100.1", 0.1),
            ("198.51.100.2", 0.2),
            ("198.51.100.3", 0.3),
            ("198.51.100.4", 0.4),
        ],
    );
    let before = picks(&config, svc, &health, &new_york());
    health.set(0, 3, EndpointState::Down);
    close(
        &shares(&config, svc, &health, &new_york(), NETWORKS),
        &[
            ("198.51.100.1", 1.0 / 6.0),
            ("198.51.100.2", 2.0 / 6.0),
            ("198.51.100.3", 3.0 / 6.0),
        ],
    );
    let after = picks(&config, svc, &health, &new_york());
    let moved = fraction(&before, &after, |b| b != "198.51.100.4", |b, a| a != b);
    assert!(moved < 0.02, "{moved}");
}

#[test]
fn max_answers_takes_the_top_of_the_same_ranking() {
    let (config, services) = setup(FOUR);
    let (_, three) = setup(&FOUR.replace("[services.www]", "[services.www]\nmax_answers = 3"));
    let mut health = HealthTable::all_up(&services);
    health.set(0, 2, EndpointState::Down);
    for i in 0..2000u32 {
        let addr = format!("10.{}.{}.7", i >> 8, i & 0xFF);
        let one = ask(
            &config,
            &services[0],
            &health,
            &addr,
            &new_york(),
            Family::V4,
        );
        let top = ask(&config, &three[0], &health, &addr, &new_york(), Family::V4);
        let top = addrs(&top);
        assert_eq!(top.len(), 3);
        assert_eq!(top[0], addrs(&one)[0], "{addr}");
        assert!(!top.contains(&"198.51.100.3".to_string()));
    }
}

// Issue 11: regions are ranked by the chord between points precomputed on the unit
// sphere, not by a haversine per region and query. The order must stay the great-circle
// order, nearest first, for clients anywhere.

/// A config with `regions` (name r0, r1, ... in this order) and a service with one
/// endpoint in each (198.51.100.1 in r0, ...) answering up to 16 of them.
fn spread_regions(regions: &[(f64, f64)]) -> (Config, Vec<Service>) {
    let mut text = String::from("[server]\nregion = \"r0\"\n");
    let mut endpoints = String::new();
    for (i, (lat, lon)) in regions.iter().enumerate() {
        text += &format!("[regions.r{i}]\nlat = {lat}\nlon = {lon}\n");
        endpoints += &format!(
            "  {{ region = \"r{i}\", address = \"198.51.100.{}\" }},\n",
            i + 1
        );
    }
    let config = config::parse(&text, Path::new("meridian.toml")).unwrap_or_else(|e| panic!("{e}"));
    let origin = Name::from_ascii("example.com.").unwrap();
    let services = format!("[services.www]\nmax_answers = 16\nendpoints = [\n{endpoints}]\n");
    let services = config::parse_services(
        &services,
        Path::new("zones/example.com.toml"),
        &origin,
        &config,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (config, services)
}

#[test]
fn distance_ranking_is_the_great_circle_order_for_clients_anywhere() {
    // 45 regions: a coarse grid over the globe, the poles, both sides of the antimeridian
    // and two at one place (the tie goes to the first in the file).
    let mut regions: Vec<(f64, f64)> = vec![(90.0, 0.0), (-90.0, 0.0), (10.0, 180.0)];
    for lat in [-60.0, -25.0, 0.0, 25.0, 60.0] {
        for lon in [-179.5, -130.0, -75.0, -20.0, 35.0, 90.0, 145.0, 179.5] {
            regions.push((lat, lon));
        }
    }
    regions.push((53.35, -6.26));
    regions.push((53.35, -6.26));
    let (config, services) = spread_regions(&regions);
    let health = HealthTable::all_up(&services);
    let mut clients = 0;
    for i in 0..60 {
        for j in 0..40 {
            // Off the grid's symmetry lines, so that no two regions are equally near.
            let (lat, lon) = (-89.7 + 2.99 * i as f64, -179.9 + 8.997 * j as f64);
            let loc = at("ZZ", "EU", lat, lon, 24);
            let d = ask(
                &config,
                &services[0],
                &health,
                "192.0.2.1",
                &loc,
                Family::V4,
            );
            let mut by_haversine: Vec<usize> = (0..regions.len()).collect();
            by_haversine.sort_by(|&a, &b| {
                let da = distance_km(lat, lon, regions[a].0, regions[a].1);
                let db = distance_km(lat, lon, regions[b].0, regions[b].1);
                da.total_cmp(&db).then(a.cmp(&b))
            });
            let want: Vec<String> = by_haversine[..16]
                .iter()
                .map(|r| format!("198.51.100.{}", r + 1))
                .collect();
            assert_eq!(addrs(&d), want, "client at {lat}, {lon}");
            clients += 1;
        }
    }
    assert_eq!(clients, 2400);
    // The last two regions share a place: the first of them ranks first, next to it.
    let loc = at("IE", "EU", 53.0, -6.0, 24);
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &loc,
        Family::V4,
    );
    assert_eq!(addrs(&d)[..2], ["198.51.100.44", "198.51.100.45"]);
}

#[test]
fn explain_still_shows_each_regions_great_circle_distance() {
    let (config, services) = setup(FIVE_REGIONS);
    let health = HealthTable::all_up(&services);
    let loc = london();
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        source_prefix: 24,
        location: &loc,
    };
    let mut trace = Trace::default();
    decide(
        &services[0],
        &config.regions,
        &client,
        &health.service(0),
        Family::V4,
        Some(&mut trace),
    );
    assert_eq!(trace.regions.len(), 5);
    for r in &trace.regions {
        let region = &config.regions[r.region];
        let want = distance_km(51.51, -0.13, region.lat, region.lon);
        assert_eq!(r.distance_km, Some(want), "{}", region.name);
    }
    let names: Vec<&str> = trace
        .regions
        .iter()
        .map(|r| config.regions[r.region].name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "eu-west",
            "us-east",
            "us-west",
            "ap-northeast",
            "ap-southeast"
        ]
    );
}

#[test]
fn a_reloaded_config_ranks_by_the_regions_new_places() {
    let (config, services) = setup(FIVE_REGIONS);
    let health = HealthTable::all_up(&services);
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &london(),
        Family::V4,
    );
    assert_eq!(addrs(&d), ["203.0.113.1"], "eu-west, in Dublin");
    // The same services after a reload that moved eu-west to Perth: London's nearest is
    // now us-east.
    let moved = crate::fixtures::config_text()
        .replace("lat = 53.35\nlon = -6.26", "lat = -31.95\nlon = 115.86");
    assert_ne!(moved, crate::fixtures::config_text());
    let config = config::parse(&moved, Path::new("meridian.toml")).unwrap();
    let origin = Name::from_ascii("example.com.").unwrap();
    let services = config::parse_services(
        FIVE_REGIONS,
        Path::new("zones/example.com.toml"),
        &origin,
        &config,
    )
    .unwrap();
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &london(),
        Family::V4,
    );
    assert_eq!(addrs(&d), ["198.51.100.1"], "us-east");
}

fn chicago() -> Location {
    at("US", "NA", 41.88, -87.63, 18)
}

/// us-east and us-west, each biased as given.
fn two_coasts(east: i32, west: i32) -> String {
    format!(
        "[services.www]\nendpoints = [\n  {{ region = \"us-east\", address = \"198.51.100.1\" }},\n  \
         {{ region = \"us-west\", address = \"198.51.100.2\" }},\n]\n\
         bias = {{ us-east = {east}, us-west = {west} }}\n"
    )
}

#[test]
fn bias_scales_the_distance_and_moves_clients_across_the_boundary() {
    let (config, _) = setup(&two_coasts(0, 0));
    let region = |name: &str| config.regions.iter().find(|r| r.name == name).unwrap();
    let loc = chicago();
    let (lat, lon) = loc.coordinates.unwrap();
    let km = |name: &str| distance_km(lat, lon, region(name).lat, region(name).lon);
    let (east, west) = (km("us-east"), km("us-west"));
    // Chicago is 913 km from Ashburn and 2,958 km from San Jose.
    assert!(east < 1000.0 && west > 2900.0, "{east} {west}");
    // us-west wins once west × (1 − b/100) < east: from b = 70 (69.1 exactly).
    let threshold = 100.0 * (1.0 - east / west);
    assert!((69.0..70.0).contains(&threshold), "{threshold}");
    let west_from = threshold.ceil() as i32;
    // (bias of us-east, of us-west) → where Chicago goes.
    let rows = [
        ((0, 0), "198.51.100.1"),
        ((0, west_from - 1), "198.51.100.1"),
        ((0, west_from), "198.51.100.2"),
        ((0, 99), "198.51.100.2"),
        // A negative bias pushes a region's own clients away: 913 × 1.99 is still
        // nearer than 2958, but with us-west at +40 (1775 km) it is not.
        ((-99, 0), "198.51.100.1"),
        ((-99, 40), "198.51.100.2"),
        ((-50, 40), "198.51.100.1"),
        // Both pulled equally: the ratio, and so the answer, is unchanged.
        ((60, 60), "198.51.100.1"),
    ];
    for ((b_east, b_west), want) in rows {
        let (config, services) = setup(&two_coasts(b_east, b_west));
        let health = HealthTable::all_up(&services);
        let d = ask(
            &config,
            &services[0],
            &health,
            "192.0.2.1",
            &loc,
            Family::V4,
        );
        assert_eq!(addrs(&d), [want], "bias us-east {b_east}, us-west {b_west}");
        // The formula, independently: effective = distance × (1 − bias/100).
        let eff = |d: f64, b: i32| d * (1.0 - b as f64 / 100.0);
        let nearer_east = eff(east, b_east) < eff(west, b_west);
        assert_eq!(want == "198.51.100.1", nearer_east, "{b_east} {b_west}");
    }
}

#[test]
fn a_biased_region_spills_like_any_other_and_the_trace_shows_the_effective_distance() {
    let (config, services) = setup(&two_coasts(0, 80));
    let mut health = HealthTable::all_up(&services);
    let loc = chicago();
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        source_prefix: 24,
        location: &loc,
    };
    let mut trace = Trace::default();
    let d = decide(
        &services[0],
        &config.regions,
        &client,
        &health.service(0),
        Family::V4,
        Some(&mut trace),
    );
    assert_eq!(addrs(&d), ["198.51.100.2"]);
    let names: Vec<&str> = trace
        .regions
        .iter()
        .map(|r| config.regions[r.region].name.as_str())
        .collect();
    assert_eq!(names, ["us-west", "us-east"]);
    let west = &trace.regions[0];
    assert_eq!(west.bias, 80);
    let (dist, eff) = (west.distance_km.unwrap(), west.effective_km.unwrap());
    assert!((eff - dist * 0.2).abs() < 1e-6, "{dist} {eff}");
    let east = &trace.regions[1];
    assert_eq!(east.bias, 0);
    assert_eq!(east.effective_km, east.distance_km);

    // The biased region down: Chicago falls back to us-east, the next by effective distance.
    health.set(0, 1, EndpointState::Down);
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &loc,
        Family::V4,
    );
    assert_eq!(addrs(&d), ["198.51.100.1"]);
}

#[test]
fn with_every_candidate_down_the_fallback_answers_its_addresses_of_the_family() {
    let (config, services) = setup(&SPILL.replace(
        "[services.www]",
        "[services.www]\nttl = 45\nmax_answers = 1\n\
         on_all_down = { fallback = [\"192.0.2.80\", \"192.0.2.81\", \"2001:db8::80\"] }",
    ));
    let svc = &services[0];
    let mut health = HealthTable::all_up(&services);
    // Healthy: the fallback plays no part.
    let d = ask(&config, svc, &health, "192.0.2.1", &london(), Family::V4);
    assert_eq!(addrs(&d), ["203.0.113.1"]);
    // One region left: still no fallback.
    for e in 0..3 {
        health.set(0, e, EndpointState::Down);
    }
    let d = ask(&config, svc, &health, "192.0.2.1", &new_york(), Family::V4);
    assert_eq!(addrs(&d), ["203.0.113.1"]);
    // Everything down (one drained): the fallback's IPv4 addresses, all of them
    // (not `max_answers`), in the order written, with the service's TTL.
    health.set(0, 3, EndpointState::Drained);
    let mut trace = Trace::default();
    let loc = new_york();
    let client = Client {
        addr: "192.0.2.1".parse().unwrap(),
        source_prefix: 24,
        location: &loc,
    };
    let d = decide(
        svc,
        &config.regions,
        &client,
        &health.service(0),
        Family::V4,
        Some(&mut trace),
    );
    assert_eq!(addrs(&d), ["192.0.2.80", "192.0.2.81"]);
    assert_eq!(d.ttl, 45);
    assert!(trace.all_down);
    assert_eq!(d.region, None);
    // For AAAA no region has an endpoint: NODATA, as before (the fallback is for a
    // service that is down, not for a family it never had).
    let d = ask(&config, svc, &health, "192.0.2.1", &london(), Family::V6);
    assert!(d.is_empty());
}

#[test]
fn a_fallback_of_the_other_family_only_is_nodata() {
    let (config, services) = setup(&SPILL.replace(
        "[services.www]",
        "[services.www]\non_all_down = { fallback = [\"2001:db8::80\"] }",
    ));
    let mut health = HealthTable::all_up(&services);
    for e in 0..4 {
        health.set(0, e, EndpointState::Down);
    }
    let d = ask(
        &config,
        &services[0],
        &health,
        "192.0.2.1",
        &london(),
        Family::V4,
    );
    assert!(d.is_empty());
}

#[test]
fn with_every_candidate_down_a_fallback_cname_is_the_answer() {
    let (config, services) = setup(&SPILL.replace(
        "[services.www]",
        "[services.www]\non_all_down = { cname = \"backup.example.net.\" }",
    ));
    let svc = &services[0];
    let mut health = HealthTable::all_up(&services);
    let d = ask(&config, svc, &health, "192.0.2.1", &london(), Family::V4);
    assert!(!d.cname);
    assert_eq!(addrs(&d), ["203.0.113.1"]);
    for e in 0..4 {
        health.set(0, e, EndpointState::Down);
    }
    let d = ask(&config, svc, &health, "192.0.2.1", &london(), Family::V4);
    assert!(d.cname && d.is_empty(), "{d:?}");
    assert_eq!(d.ttl, 30);
}

// Issue 15: `policy = "latency"` and load feedback.

const LATENCY: &str = r#"
[services.www]
policy = "latency"
endpoints = [
  { region = "us-east", address = "198.51.100.1" },
  { region = "us-west", address = "198.51.100.2" },
  { region = "eu-west", address = "203.0.113.1" },
]
"#;

fn region_of(config: &Config, name: &str) -> usize {
    config.regions.iter().position(|r| r.name == name).unwrap()
}

/// A viewpoint at (lat, lon) that measured `rtts` (region name, ms), in that order (the
/// first is its choice).
fn viewpoint(
    config: &Config,
    name: &str,
    lat: f64,
    lon: f64,
    rtts: &[(&str, f64)],
) -> ViewpointRanking {
    ViewpointRanking {
        name: name.into(),
        lat,
        lon,
        position: Position::of(lat, lon),
        regions: rtts
            .iter()
            .map(|(r, ms)| RegionRtt {
                region: region_of(config, r),
                rtt_ms: *ms,
            })
            .collect(),
    }
}

fn decide_with(
    config: &Config,
    svc: &Service,
    health: &Health<'_>,
    addr: &str,
    loc: &Location,
    trace: Option<&mut Trace>,
) -> Decision {
    let addr: IpAddr = addr.parse().unwrap();
    let client = Client {
        addr,
        source_prefix: 24,
        location: loc,
    };
    decide(svc, &config.regions, &client, health, Family::V4, trace)
}

#[test]
fn latency_ranks_by_the_nearest_viewpoints_rtt_and_falls_back_to_distance() {
    let (config, services) = setup(LATENCY);
    let svc = &services[0];
    let up = vec![EndpointState::Up; 3];
    // A viewpoint in Dublin finds us-west fastest; one in Tokyo finds eu-west fastest
    // (whatever the map says: these are measurements).
    let views = vec![
        viewpoint(
            &config,
            "dublin",
            53.35,
            -6.26,
            &[("us-west", 40.0), ("us-east", 90.0)],
        ),
        viewpoint(
            &config,
            "tokyo",
            35.68,
            139.69,
            &[("eu-west", 20.0), ("us-west", 60.0)],
        ),
    ];
    let health = Health {
        endpoints: &up,
        ttl_cap: None,
        capacity_factors: &[],
        viewpoints: &views,
    };
    let none = Health {
        viewpoints: &[],
        ..health
    };
    // (client location, health, answer, ranking)
    let rows: &[(Location, &Health, &str, &str)] = &[
        (london(), &health, "198.51.100.2", "latency"),
        (tokyo(), &health, "203.0.113.1", "latency"),
        // Sydney is nearer Tokyo's viewpoint.
        (sydney(), &health, "203.0.113.1", "latency"),
        // No RTT data: as `nearest`.
        (london(), &none, "203.0.113.1", "distance"),
        (california(), &none, "198.51.100.2", "distance"),
    ];
    for (loc, h, want, ranking) in rows {
        let mut trace = Trace::default();
        let d = decide_with(&config, svc, h, "192.0.2.1", loc, Some(&mut trace));
        assert_eq!(addrs(&d), vec![want.to_string()], "{loc:?}");
        assert_eq!(trace.ranking, *ranking, "{loc:?}");
        assert_eq!(d.scope, loc.network_prefix, "only the location decided");
    }
    // The trace names the viewpoint and each region's RTT; the region no viewpoint
    // measured comes last, by distance.
    let mut trace = Trace::default();
    decide_with(
        &config,
        svc,
        &health,
        "192.0.2.1",
        &london(),
        Some(&mut trace),
    );
    assert_eq!(trace.viewpoint, Some(0));
    let order: Vec<(&str, Option<f64>)> = trace
        .regions
        .iter()
        .map(|r| (config.regions[r.region].name.as_str(), r.rtt_ms))
        .collect();
    assert_eq!(
        order,
        [
            ("us-west", Some(40.0)),
            ("us-east", Some(90.0)),
            ("eu-west", None)
        ]
    );
}

#[test]
fn latency_keeps_spill_over_and_minimal_disruption_of_nearest() {
    let (config, services) = setup(LATENCY);
    let svc = &services[0];
    let views = vec![viewpoint(
        &config,
        "dublin",
        53.35,
        -6.26,
        &[("us-west", 40.0), ("us-east", 90.0)],
    )];
    let mut states = vec![EndpointState::Up; 3];
    let health = |states: &[EndpointState]| -> Vec<String> {
        let h = Health {
            endpoints: states,
            ttl_cap: None,
            capacity_factors: &[],
            viewpoints: &views,
        };
        addrs(&decide_with(&config, svc, &h, "192.0.2.1", &london(), None))
    };
    assert_eq!(health(&states), ["198.51.100.2"]);
    // The fastest region's endpoint is down: its traffic spills to the next by RTT.
    states[1] = EndpointState::Down;
    assert_eq!(health(&states), ["198.51.100.1"]);
    states[1] = EndpointState::Up;
    assert_eq!(
        health(&states),
        ["198.51.100.2"],
        "back to its earlier pick"
    );
}

#[test]
fn order_by_rtt_holds_the_previous_choice_within_the_switch_threshold() {
    let switch = LatencySwitch {
        percent: 20,
        ms: 10,
    };
    let r = |region: usize, rtt_ms: f64| RegionRtt { region, rtt_ms };
    // (measured, previous choice, first after)
    let rows: &[(&[RegionRtt], Option<usize>, usize)] = &[
        // No previous choice: the fastest.
        (&[r(0, 50.0), r(1, 30.0)], None, 1),
        // Held: 1 is 5 ms (10 %) faster than 0.
        (&[r(0, 50.0), r(1, 45.0)], Some(0), 0),
        // Held: 15 ms faster but only 10 % of 150 ms.
        (&[r(0, 150.0), r(1, 135.0)], Some(0), 0),
        // Held: 50 % faster but only 4 ms.
        (&[r(0, 8.0), r(1, 4.0)], Some(0), 0),
        // Switched: 30 ms and 30 %.
        (&[r(0, 100.0), r(1, 70.0)], Some(0), 1),
        // Exactly at both thresholds: switched.
        (&[r(0, 50.0), r(1, 40.0)], Some(0), 1),
        // The previous choice has no measurement any more (down): the fastest.
        (&[r(1, 70.0), r(2, 90.0)], Some(0), 1),
        // Ties go to the lower region index.
        (&[r(2, 30.0), r(1, 30.0)], None, 1),
    ];
    for (measured, previous, want) in rows {
        let out = order_by_rtt(measured, *previous, switch);
        assert_eq!(out[0].region, *want, "{measured:?} previous {previous:?}");
        assert_eq!(out.len(), measured.len());
        // The rest by RTT.
        assert!(out[1..].windows(2).all(|w| w[0].rtt_ms <= w[1].rtt_ms));
    }
}

#[test]
fn a_loaded_endpoint_sheds_its_share_to_the_next_region() {
    let (config, services) = setup(
        r#"
[services.www]
unknown_location = ["us-east", "us-west"]
endpoints = [
  { region = "us-east", address = "198.51.100.1" },
  { region = "us-west", address = "198.51.100.2" },
]
"#,
    );
    let svc = &services[0];
    let up = vec![EndpointState::Up; 2];
    let nowhere = Location::unknown(8);
    let kept_by_east = |factor: f64| -> Vec<bool> {
        let factors = [factor, 1.0];
        let h = Health {
            endpoints: &up,
            ttl_cap: None,
            capacity_factors: &factors,
            viewpoints: &[],
        };
        (0..2000)
            .map(|i| {
                let client = format!("10.{}.{}.1", i / 250, i % 250);
                addrs(&decide_with(&config, svc, &h, &client, &nowhere, None)) == ["198.51.100.1"]
            })
            .collect()
    };
    let full = kept_by_east(1.0);
    assert!(full.iter().all(|k| *k));
    // (load factor, share kept, within)
    for (factor, want) in [(0.75, 0.75), (0.5, 0.5), (0.2, 0.2), (0.01, 0.01)] {
        let kept = kept_by_east(factor);
        let share = kept.iter().filter(|k| **k).count() as f64 / kept.len() as f64;
        assert!(
            (share - want).abs() < 0.04,
            "factor {factor}: share {share}"
        );
    }
    // As load grows, only networks leave: none that had left comes back.
    let (half, fifth) = (kept_by_east(0.5), kept_by_east(0.2));
    assert!(half.iter().zip(&fifth).all(|(h, f)| *h || !*f));
}

#[test]
fn weighted_shares_by_effective_capacity() {
    let (config, services) = setup(
        r#"
[services.www]
policy = "weighted"
endpoints = [
  { region = "us-east", address = "198.51.100.1" },
  { region = "us-west", address = "198.51.100.2" },
]
"#,
    );
    let up = vec![EndpointState::Up; 2];
    let factors = [0.25, 1.0];
    let h = Health {
        endpoints: &up,
        ttl_cap: None,
        capacity_factors: &factors,
        viewpoints: &[],
    };
    let east = (0..2000)
        .filter(|i| {
            let client = format!("10.{}.{}.1", i / 250, i % 250);
            addrs(&decide_with(
                &config,
                &services[0],
                &h,
                &client,
                &london(),
                None,
            )) == ["198.51.100.1"]
        })
        .count();
    // 25 : 100 → a fifth.
    assert!((east as f64 / 2000.0 - 0.2).abs() < 0.04, "{east}");
}

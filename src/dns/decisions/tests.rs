//! The decision memo: keys, when a decision may be reused, and the per-thread table.

use super::*;
use crate::config::Config;
use crate::fixtures::config_and_services as setup;
use crate::geo::CoordinatesFrom;
use crate::route::{Client, EndpointState, Health, decide};

const TWO_REGIONS: &str = r#"
[services.www]
max_answers = 2
endpoints = [
  { region = "eu-west", address = "192.0.2.1" },
  { region = "eu-west", address = "192.0.2.2" },
  { region = "eu-west", address = "192.0.2.3" },
  { region = "us-east", address = "198.51.100.1" },
  { region = "us-east", address = "198.51.100.2" },
]
"#;

fn located(prefix: u8) -> Location {
    Location {
        country: Some(*b"GB"),
        continent: Some(*b"EU"),
        coordinates: Some((51.51, -0.13)),
        position: Some(crate::config::Position::of(51.51, -0.13)),
        coordinates_from: CoordinatesFrom::Record,
        network_prefix: prefix,
    }
}

fn decide_at(
    config: &Config,
    svc: &Service,
    addr: &str,
    source_prefix: u8,
    loc: &Location,
) -> Decision {
    let up = vec![EndpointState::Up; svc.endpoints.len()];
    let client = Client {
        addr: addr.parse().unwrap(),
        source_prefix,
        location: loc,
    };
    let health = Health {
        endpoints: &up,
        ttl_cap: None,
        capacity_factors: &[],
        viewpoints: &[],
    };
    decide(svc, &config.regions, &client, &health, Family::V4, None)
}

fn key(generation: u64, addr: &str, source_prefix: u8) -> Key {
    Key::new(
        generation,
        0,
        Family::V4,
        addr.parse().unwrap(),
        source_prefix,
    )
}

#[test]
fn the_key_is_the_hashed_network_or_the_shorter_ecs_prefix() {
    let k = key(1, "192.0.2.77", 32);
    assert_eq!((k.prefix, k.network()), (24, 0xC000_0200));
    assert_eq!(key(1, "192.0.2.77", 32), key(1, "192.0.2.1", 32));
    assert_ne!(key(1, "192.0.2.77", 32), key(1, "192.0.3.77", 32));
    // A /20 from ECS: the key is the /20, and it differs from the same /20 sent as /24.
    let k = key(1, "192.0.16.0", 20);
    assert_eq!((k.prefix, k.network()), (20, 0xC000_1000));
    assert_ne!(key(1, "192.0.16.0", 20), key(1, "192.0.16.0", 24));
    let k = Key::new(1, 0, Family::V6, "2001:db8:1:abcd::9".parse().unwrap(), 64);
    assert_eq!(k.prefix, 56);
    assert_eq!(
        k.network(),
        u128::from("2001:db8:1:ab00::".parse::<std::net::Ipv6Addr>().unwrap())
    );
    // Source prefix 0: nothing of the address is in the key.
    assert_eq!(key(1, "192.0.2.1", 0).network(), 0);
    // The family asked, the service and the generation are part of it.
    let a = "192.0.2.1".parse().unwrap();
    assert_ne!(
        Key::new(1, 0, Family::V4, a, 32),
        Key::new(1, 0, Family::V6, a, 32)
    );
    assert_ne!(
        Key::new(1, 0, Family::V4, a, 32),
        Key::new(1, 1, Family::V4, a, 32)
    );
    assert_ne!(
        Key::new(1, 0, Family::V4, a, 32),
        Key::new(2, 0, Family::V4, a, 32)
    );
}

#[test]
fn a_decision_is_reused_only_when_no_finer_bit_took_part() {
    let (_, services) = setup(TWO_REGIONS);
    let svc = &services[0];
    // Located by a /20 that covers the /24: reusable; by a /26 inside it: not.
    assert!(reusable(svc, &located(20), 24));
    assert!(reusable(svc, &located(24), 24));
    assert!(!reusable(svc, &located(26), 24));
    // Resolver's own address with ECS source prefix 0: the key holds no bit of it.
    assert!(!reusable(svc, &located(16), 0));

    let routed = format!(
        "{TWO_REGIONS}[[services.www.route]]\nnetworks = [\"203.0.113.0/28\"]\nregions = [\"us-east\"]\n"
    );
    let (_, services) = setup(&routed);
    assert!(!reusable(&services[0], &located(20), 24));
    let routed = routed.replace("203.0.113.0/28", "203.0.112.0/23");
    let (_, services) = setup(&routed);
    assert!(reusable(&services[0], &located(20), 24));
}

#[test]
fn every_address_of_a_reusable_key_gets_the_same_decision() {
    // What makes the memo exact: for a reusable key, the decision of any address in the
    // key network equals the remembered one.
    let routed = format!(
        "{TWO_REGIONS}[[services.www.route]]\nnetworks = [\"192.0.0.0/22\"]\nregions = [\"us-east\"]\n"
    );
    for text in [TWO_REGIONS.to_owned(), routed] {
        let (config, services) = setup(&text);
        let svc = &services[0];
        let loc = located(20);
        for net in 0..64u32 {
            let base = 0xC000_0000u32 | net << 8;
            let first = std::net::Ipv4Addr::from(base).to_string();
            assert!(reusable(svc, &loc, key(1, &first, 32).prefix));
            let want = decide_at(&config, svc, &first, 32, &loc);
            for host in [1u32, 77, 128, 255] {
                let addr = std::net::Ipv4Addr::from(base | host).to_string();
                assert_eq!(key(1, &addr, 32), key(1, &first, 32));
                assert_eq!(decide_at(&config, svc, &addr, 32, &loc), want, "{addr}");
            }
        }
    }
}

#[test]
fn the_table_gives_back_what_was_put_for_the_same_key_only() {
    let (config, services) = setup(TWO_REGIONS);
    let svc = &services[0];
    let d = decide_at(&config, svc, "192.0.2.1", 32, &located(20));
    let k = key(1_000_001, "192.0.2.1", 32);
    assert_eq!(get(&k), None);
    put(k, d);
    assert_eq!(get(&k), Some(d));
    assert_eq!(get(&key(1_000_001, "192.0.2.200", 32)), Some(d));
    // Another snapshot (new config or new health): a miss.
    assert_eq!(get(&key(1_000_002, "192.0.2.1", 32)), None);
    assert_eq!(get(&key(1_000_001, "192.0.3.1", 32)), None);
    assert_eq!(get(&key(1_000_001, "192.0.2.1", 24)), None);
}

#[test]
fn the_table_stays_bounded_and_keeps_recent_entries() {
    let (config, services) = setup(TWO_REGIONS);
    let d = decide_at(&config, &services[0], "192.0.2.1", 32, &located(20));
    for i in 0..(SETS * WAYS * 3) as u32 {
        let addr = std::net::Ipv4Addr::from(0x0A00_0000 | i << 8).to_string();
        put(key(2_000_000, &addr, 32), d);
    }
    assert!(held() <= SETS * WAYS);
    // The last one put is still there.
    let last = std::net::Ipv4Addr::from(0x0A00_0000 | ((SETS * WAYS * 3 - 1) as u32) << 8);
    assert_eq!(get(&key(2_000_000, &last.to_string(), 32)), Some(d));
}

/// `n` keys of generation `generation` that fall in one set of the table.
fn keys_of_one_set(generation: u64, n: usize) -> Vec<Key> {
    let first = key(generation, "10.0.0.1", 32);
    let mut out = vec![first];
    for i in 1u32.. {
        let addr = std::net::Ipv4Addr::from(0x0A00_0000 | i << 8).to_string();
        let k = key(generation, &addr, 32);
        if k.set() == first.set() {
            out.push(k);
            if out.len() == n {
                return out;
            }
        }
    }
    unreachable!()
}

#[test]
fn networks_of_one_set_asking_in_turn_all_stay() {
    // With two ways, three networks of a set asking one after the other each pushed out
    // the next one to ask: every query missed.
    let (config, services) = setup(TWO_REGIONS);
    let d = decide_at(&config, &services[0], "192.0.2.1", 32, &located(20));
    let keys = keys_of_one_set(3_000_000, WAYS);
    for k in &keys {
        put(*k, d);
    }
    for _ in 0..3 {
        for k in &keys {
            assert_eq!(get(k), Some(d), "{k:?}");
        }
    }
}

#[test]
fn a_full_set_replaces_its_least_recently_used_entry() {
    let (config, services) = setup(TWO_REGIONS);
    let d = decide_at(&config, &services[0], "192.0.2.1", 32, &located(20));
    let keys = keys_of_one_set(4_000_000, WAYS + 1);
    for k in &keys[..WAYS] {
        put(*k, d);
    }
    // The first is asked again: the second is now the least recently used.
    assert_eq!(get(&keys[0]), Some(d));
    put(keys[WAYS], d);
    assert_eq!(get(&keys[1]), None);
    for k in [keys[0]].iter().chain(&keys[2..]) {
        assert_eq!(get(k), Some(d), "{k:?}");
    }
}

#[test]
fn an_answer_of_more_addresses_than_an_entry_holds_is_not_remembered() {
    let text = TWO_REGIONS.replace("max_answers = 2", "max_answers = 5");
    let (config, services) = setup(&text);
    let d = decide_at(&config, &services[0], "192.0.2.1", 32, &located(20));
    assert_eq!(d.addresses().count(), 5);
    let k = key(5_000_000, "192.0.2.1", 32);
    put(k, d);
    assert_eq!(get(&k), None);
    // Up to REMEMBERED, every part comes back.
    let text = TWO_REGIONS.replace("max_answers = 2", "max_answers = 4");
    let (config, services) = setup(&text);
    let d = decide_at(&config, &services[0], "192.0.2.1", 32, &located(20));
    assert_eq!(d.addresses().count(), REMEMBERED);
    put(k, d);
    assert_eq!(get(&k), Some(d));
}

#[test]
fn the_table_takes_under_two_megabytes_per_thread() {
    let bytes = std::mem::size_of::<[Entry; WAYS]>() * SETS;
    eprintln!("{bytes} bytes, {} an entry", std::mem::size_of::<Entry>());
    assert!(bytes <= 2_000_000, "{bytes}");
}

//! Tests of the signature cache: hits and misses by distinct RRset, refresh before
//! expiry as the clock moves, TTLs, and both bounds.

use std::time::Duration;

use super::*;
use crate::dnssec::canon::name_from_text;
use crate::dnssec::key::{Algorithm, generate};
use crate::dnssec::sign::verify_rrsig;

const DAY: u64 = 86400;
const T0: u64 = 1_800_000_000;

fn config() -> CacheConfig {
    CacheConfig {
        max_entries: 100,
        max_bytes: 1 << 20,
        refresh_margin: DAY,
        validity: Validity {
            validity: Duration::from_secs(7 * DAY),
            backdate: Duration::from_secs(3600),
            jitter: Duration::from_secs(3600),
        },
    }
}

fn name(text: &str) -> Vec<u8> {
    name_from_text(text).unwrap()
}

fn rrsig_times(rrsig: &[u8]) -> (u32, u32, u32) {
    let be = |i: usize| u32::from_be_bytes([rrsig[i], rrsig[i + 1], rrsig[i + 2], rrsig[i + 3]]);
    (be(4), be(8), be(12))
}

#[test]
fn a_distinct_rrset_is_signed_once_in_any_order_and_case() {
    let zone = name("example.com.");
    let key = generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap();
    let mut cache = SigCache::new(config());
    let owner = name("www.example.com.");
    let a: &[u8] = &[192, 0, 2, 1];
    let b: &[u8] = &[198, 51, 100, 7];
    let first = cache
        .get_or_sign(&[&key], &owner, 1, 1, 60, &[a, b], T0)
        .unwrap();
    let mut upper = owner.clone();
    upper[1] = b'W';
    let again = cache
        .get_or_sign(&[&key], &upper, 1, 1, 60, &[b, a, a], T0 + 10)
        .unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(cache.stats().misses, 1);
    // Another RDATA set, another TTL, another type: each its own entry.
    cache
        .get_or_sign(&[&key], &owner, 1, 1, 60, &[a], T0)
        .unwrap();
    cache
        .get_or_sign(&[&key], &owner, 1, 1, 30, &[a, b], T0)
        .unwrap();
    cache
        .get_or_sign(
            &[&key],
            &owner,
            28,
            1,
            60,
            &[&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
            T0,
        )
        .unwrap();
    assert_eq!(cache.len(), 4);
    assert_eq!(cache.stats().misses, 4);
    // What is cached verifies, with Original TTL = the RRset's TTL.
    let dnskey = key.dnskey_rdata();
    verify_rrsig(&dnskey, &owner, 1, 1, &[a, b], &first.rrsigs[0], T0).unwrap();
    assert_eq!(rrsig_times(&first.rrsigs[0]).0, 60);
}

#[test]
fn a_signed_answer_is_never_served_expired() {
    let zone = name("example.com.");
    let key = generate(&zone, Algorithm::Ed25519, 0).unwrap();
    let dnskey = key.dnskey_rdata();
    let mut cache = SigCache::new(config());
    let owner = name("geo.example.com.");
    let a: &[u8] = &[192, 0, 2, 1];
    let mut signed_at = Vec::new();
    let mut last: Option<Arc<Signatures>> = None;
    // Two months, an hour at a time: every answer verifies at the time it is served,
    // with more than the margin left, and its TTL never passes the expiration.
    let mut now = T0;
    while now < T0 + 60 * DAY {
        let sigs = cache
            .get_or_sign(&[&key], &owner, 1, 1, 300, &[a], now)
            .unwrap();
        verify_rrsig(&dnskey, &owner, 1, 1, &[a], &sigs.rrsigs[0], now).unwrap();
        assert!(
            sigs.expiration > now + DAY,
            "served within the margin at {now}"
        );
        assert!(now + u64::from(sigs.served_ttl(now)) <= sigs.expiration);
        assert!(sigs.served_ttl(now) <= 300);
        if last.as_ref().is_none_or(|l| !Arc::ptr_eq(l, &sigs)) {
            signed_at.push(now);
        }
        last = Some(sigs);
        now += 3600;
    }
    // Re-signed about every 6 days (7 of validity less a day of margin), not per query.
    assert!((10..=12).contains(&signed_at.len()), "{signed_at:?}");
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().refreshes as usize, signed_at.len() - 1);
}

#[test]
fn served_ttl_is_capped_by_the_rrset_ttl_and_the_expiration() {
    let s = Signatures {
        rrsigs: vec![],
        expiration: T0 + 100,
        ttl: 300,
    };
    assert_eq!(s.served_ttl(T0), 100);
    assert_eq!(s.served_ttl(T0 - 1000), 300);
    assert_eq!(s.served_ttl(T0 + 200), 0);
}

#[test]
fn a_margin_longer_than_the_validity_means_no_caching() {
    let zone = name("example.com.");
    let key = generate(&zone, Algorithm::Ed25519, 0).unwrap();
    let mut c = config();
    c.refresh_margin = 30 * DAY;
    let mut cache = SigCache::new(c);
    let a: &[u8] = &[192, 0, 2, 1];
    for _ in 0..3 {
        cache
            .get_or_sign(&[&key], &zone, 1, 1, 60, &[a], T0)
            .unwrap();
    }
    assert!(cache.is_empty());
    assert_eq!(cache.stats().misses, 3);
}

#[test]
fn bounded_by_entries_with_clock_eviction() {
    let zone = name("example.com.");
    let key = generate(&zone, Algorithm::Ed25519, 0).unwrap();
    let mut c = config();
    c.max_entries = 4;
    let mut cache = SigCache::new(c);
    let rd = |i: u8| [192, 0, 2, i];
    let hot = rd(0);
    cache
        .get_or_sign(&[&key], &zone, 1, 1, 60, &[&hot], T0)
        .unwrap();
    for i in 1..50u8 {
        // The hot RRset is asked between every new one: CLOCK keeps it.
        cache
            .get_or_sign(&[&key], &zone, 1, 1, 60, &[&hot], T0)
            .unwrap();
        cache
            .get_or_sign(&[&key], &zone, 1, 1, 60, &[&rd(i)], T0)
            .unwrap();
        assert!(cache.len() <= 4);
    }
    assert_eq!(cache.stats().misses, 50, "the hot RRset was signed once");
    assert_eq!(cache.stats().evictions, 46);
}

#[test]
fn bounded_by_bytes() {
    let zone = name("example.com.");
    let key = generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap();
    let mut c = config();
    c.max_bytes = 1000;
    let mut cache = SigCache::new(c);
    for i in 0..40u8 {
        cache
            .get_or_sign(&[&key], &zone, 1, 1, 60, &[&[192, 0, 2, i]], T0)
            .unwrap();
        assert!(cache.bytes() <= 1000, "{} octets", cache.bytes());
    }
    assert!(cache.len() >= 2 && cache.len() < 40, "{}", cache.len());
    // An RRset larger than the whole budget is signed but not kept.
    let big = vec![7u8; 2000];
    let before = cache.len();
    cache
        .get_or_sign(&[&key], &zone, 16, 1, 60, &[&big], T0)
        .unwrap();
    assert_eq!(cache.len(), before);
}

#[test]
fn two_keys_give_two_signatures_that_verify() {
    let zone = name("example.com.");
    let k1 = generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap();
    let k2 = generate(&zone, Algorithm::Ed25519, 0).unwrap();
    let mut cache = SigCache::new(config());
    let a: &[u8] = &[192, 0, 2, 1];
    let sigs = cache
        .get_or_sign(&[&k1, &k2], &zone, 1, 1, 60, &[a], T0)
        .unwrap();
    assert_eq!(sigs.rrsigs.len(), 2);
    verify_rrsig(&k1.dnskey_rdata(), &zone, 1, 1, &[a], &sigs.rrsigs[0], T0).unwrap();
    verify_rrsig(&k2.dnskey_rdata(), &zone, 1, 1, &[a], &sigs.rrsigs[1], T0).unwrap();
}

#[test]
fn keys_compare_whole_not_by_hash() {
    let owner = name("www.example.com.");
    let k1 = RrsetKey::new(&owner, 1, 1, 60, &[&[192, 0, 2, 1]]).unwrap();
    let k2 = RrsetKey::new(&owner, 1, 1, 60, &[&[192, 0, 2, 2]]).unwrap();
    assert_ne!(k1, k2);
    assert_ne!(k1.hash128(), k2.hash128());
    assert_eq!(k1.owner(), &owner[..]);
    assert_eq!(k1.rdatas(), vec![&[192u8, 0, 2, 1][..]]);
    assert_eq!(k1.ttl(), 60);
}

#[test]
fn signatures_by_keys_that_no_longer_sign_are_a_miss() {
    // A key rollover: the same RRset, cached with the old key's signature, must be signed
    // again by the new key (and by both while both sign), never served with the old one.
    let zone = name("example.com.");
    let old = generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap();
    let new = generate(&zone, Algorithm::Ed25519, 0).unwrap();
    let mut cache = SigCache::new(config());
    let owner = name("app.example.com.");
    let a: &[u8] = &[192, 0, 2, 1];
    let by_old = cache
        .get_or_sign(&[&old], &owner, 1, 1, 60, &[a], T0)
        .unwrap();
    let by_new = cache
        .get_or_sign(&[&new], &owner, 1, 1, 60, &[a], T0 + 1)
        .unwrap();
    assert!(!Arc::ptr_eq(&by_old, &by_new));
    assert_eq!(by_new.rrsigs.len(), 1);
    assert_eq!(by_new.rrsigs[0][2], Algorithm::Ed25519.number());
    assert_eq!(
        u16::from_be_bytes([by_new.rrsigs[0][16], by_new.rrsigs[0][17]]),
        new.tag()
    );
    let by_both = cache
        .get_or_sign(&[&old, &new], &owner, 1, 1, 60, &[a], T0 + 2)
        .unwrap();
    assert_eq!(by_both.rrsigs.len(), 2);
    // The same keys again: a hit.
    let again = cache
        .get_or_sign(&[&old, &new], &owner, 1, 1, 60, &[a], T0 + 3)
        .unwrap();
    assert!(Arc::ptr_eq(&by_both, &again));
    assert_eq!(cache.stats().misses, 3);
    assert_eq!(cache.stats().hits, 1);
}

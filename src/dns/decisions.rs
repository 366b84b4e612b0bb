//! A per-thread memo of whole route decisions, so a client network that asks again for
//! the same load-balanced name gets its answer without a geolocation lookup or a ranking.
//!
//! [`route::decide`](crate::route::decide) is a pure function of the snapshot (service,
//! regions, health), the client's address bits, its ECS source prefix and the family
//! asked. An entry is keyed by the snapshot's generation (a new config *or* a new health
//! table is a new snapshot, so any change makes every older entry a miss), the service,
//! the family, the source prefix and the client network: the address cut to
//! [`key_prefix`] bits (its /24 or /56, or the ECS prefix when shorter), the same network
//! the decision hashes. A decision is only remembered when nothing finer than that
//! network took part in it ([`reusable`]): the database network that located the client
//! covers it, and every network of the service's routes is no longer than it. So a hit
//! gives exactly what `decide` would.
//!
//! Each thread keeps a fixed table ([`SETS`] sets of [`WAYS`] entries, allocated on its
//! first use): no lock, no allocation per query.

use crate::config::Service;
use crate::geo::Location;
use crate::route::{Decision, Family, HASH_PREFIX_V4, HASH_PREFIX_V6};
use std::cell::RefCell;
use std::net::IpAddr;

/// Sets of [`WAYS`] entries per thread (336 bytes an entry: 1.3 MiB).
pub const SETS: usize = 2048;
pub const WAYS: usize = 2;

/// What a decision is remembered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The snapshot's generation (from 1; 0 marks an empty entry).
    pub generation: u64,
    pub service: u32,
    /// The client network: the address's first `prefix` bits (the rest cleared).
    pub network: u128,
    pub prefix: u8,
    pub source_prefix: u8,
    pub v4: bool,
    pub v6_asked: bool,
}

/// The bits of the client address a remembered decision may depend on: its /24 or /56
/// (the network the decision hashes), or fewer when the ECS source prefix is shorter.
pub fn key_prefix(addr: IpAddr, source_prefix: u8) -> u8 {
    let hashed = if addr.is_ipv4() {
        HASH_PREFIX_V4
    } else {
        HASH_PREFIX_V6
    };
    hashed.min(source_prefix)
}

impl Key {
    pub fn new(
        generation: u64,
        service: usize,
        family: Family,
        addr: IpAddr,
        source_prefix: u8,
    ) -> Key {
        let prefix = key_prefix(addr, source_prefix);
        let (bits, width) = match addr {
            IpAddr::V4(a) => (u32::from(a) as u128, 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        let cut = width - prefix as u32;
        let network = if cut >= 128 { 0 } else { bits >> cut << cut };
        Key {
            generation,
            service: service as u32,
            network,
            prefix,
            source_prefix,
            v4: addr.is_ipv4(),
            v6_asked: family == Family::V6,
        }
    }

    fn set(&self) -> usize {
        let mut h = self.generation.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= (self.service as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        h ^= (self.network as u64) ^ ((self.network >> 64) as u64).rotate_left(29);
        h ^= (self.source_prefix as u64) << 40
            | (self.v4 as u64) << 48
            | (self.v6_asked as u64) << 49;
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - SETS.trailing_zeros())) as usize
    }
}

/// True when the decision `service` made for a client at `location` depended on no bit of
/// the address beyond the key's `prefix`, so that every client of the key network (with
/// the same source prefix) gets the same one: the database network that located it
/// covers the key network, and each route network is no longer than it (whether such a
/// network holds the address, and how much of it the address shares, is then decided
/// by the key's bits).
pub fn reusable(service: &Service, location: &Location, prefix: u8) -> bool {
    location.network_prefix <= prefix
        && service
            .routes
            .iter()
            .flat_map(|r| &r.networks)
            .all(|n| n.prefix_len() <= prefix)
}

#[derive(Clone, Copy)]
struct Entry {
    key: Key,
    decision: Decision,
}

thread_local! {
    static TABLE: RefCell<Vec<[Option<Entry>; WAYS]>> = const { RefCell::new(Vec::new()) };
}

/// What this thread remembers for `key`.
pub fn get(key: &Key) -> Option<Decision> {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let set = t.get_mut(key.set())?;
        let way = set
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| e.key == *key))?;
        // Most recently used first: the other way is the one to replace.
        set[..=way].rotate_right(1);
        set[0].map(|e| e.decision)
    })
}

/// Remembers `decision` for `key` in place of the least recently used entry of its set.
/// The caller has checked [`reusable`].
pub fn put(key: Key, decision: Decision) {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_empty() {
            t.resize(SETS, [None; WAYS]);
        }
        let set = &mut t[key.set()];
        set.rotate_right(1);
        set[0] = Some(Entry { key, decision });
    })
}

/// Entries this thread holds (for tests: the table stays bounded).
#[cfg(test)]
pub fn held() -> usize {
    TABLE.with(|t| t.borrow().iter().flatten().flatten().count())
}

#[cfg(test)]
mod tests;

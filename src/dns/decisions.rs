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
//! first use): no lock, no allocation per query. Four ways a set, replaced least recently
//! used first by a per-thread clock, so a few thousand client networks asking in turn all
//! stay (with two ways, the networks of a set holding three or more missed every time:
//! a third of the benchmark's 2,396). An entry holds at most [`REMEMBERED`] addresses;
//! larger answers are decided every time.

use crate::config::Service;
use crate::geo::Location;
use crate::route::{Decision, Family, HASH_PREFIX_V4, HASH_PREFIX_V6};
use std::cell::RefCell;
use std::net::IpAddr;

/// Sets of [`WAYS`] entries per thread (112 bytes an entry: 1.8 MiB).
pub const SETS: usize = 4096;
pub const WAYS: usize = 4;
/// Most addresses a remembered decision holds (answers of `max_answers` up to this).
pub const REMEMBERED: usize = 4;

/// What a decision is remembered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Key {
    /// The snapshot's generation (from 1; 0 marks an empty entry).
    pub generation: u64,
    pub service: u32,
    /// The client network: the address's first `prefix` bits (the rest cleared), as two
    /// halves (high, low) so that an entry needs no 16-byte alignment.
    pub network: [u64; 2],
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
            network: [(network >> 64) as u64, network as u64],
            prefix,
            source_prefix,
            v4: addr.is_ipv4(),
            v6_asked: family == Family::V6,
        }
    }

    /// The client network's bits.
    pub fn network(&self) -> u128 {
        (self.network[0] as u128) << 64 | self.network[1] as u128
    }

    fn set(&self) -> usize {
        let mut h = self.generation.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= (self.service as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        h ^= self.network[1] ^ self.network[0].rotate_left(29);
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

/// A remembered decision: its parts, the addresses inline.
#[derive(Clone, Copy, Default)]
struct Entry {
    key: Key,
    /// The thread's clock when the entry was last put or found (the least is replaced).
    used: u32,
    ttl: u32,
    addrs: [Option<IpAddr>; REMEMBERED],
    /// The region drawn + 1 (0: none).
    region: u16,
    scope: u8,
    cname: bool,
}

impl Entry {
    fn decision(&self) -> Decision {
        let n = self.addrs.iter().take_while(|a| a.is_some()).count();
        let mut addrs = [IpAddr::from([0u8; 4]); REMEMBERED];
        for (slot, a) in addrs.iter_mut().zip(self.addrs.iter().flatten()) {
            *slot = *a;
        }
        let region = self.region.checked_sub(1).map(usize::from);
        Decision::from_parts(&addrs[..n], self.ttl, self.scope, region, self.cname)
    }
}

struct Table {
    sets: Vec<[Entry; WAYS]>,
    clock: u32,
}

thread_local! {
    static TABLE: RefCell<Table> = const { RefCell::new(Table { sets: Vec::new(), clock: 0 }) };
}

/// What this thread remembers for `key`.
pub fn get(key: &Key) -> Option<Decision> {
    TABLE.with(|t| {
        let t = &mut *t.borrow_mut();
        let set = t.sets.get_mut(key.set())?;
        let e = set.iter_mut().find(|e| e.key == *key)?;
        t.clock = t.clock.wrapping_add(1);
        e.used = t.clock;
        Some(e.decision())
    })
}

/// Remembers `decision` for `key` in place of the least recently used entry of its set
/// (nothing when it holds more than [`REMEMBERED`] addresses or its region does not fit
/// the entry). The caller has checked [`reusable`].
pub fn put(key: Key, decision: Decision) {
    let Some(region) = decision
        .region
        .map_or(Some(0), |r| u16::try_from(r + 1).ok())
    else {
        return;
    };
    if decision.len() > REMEMBERED {
        return;
    }
    TABLE.with(|t| {
        let t = &mut *t.borrow_mut();
        if t.sets.is_empty() {
            t.sets.resize(SETS, [Entry::default(); WAYS]);
        }
        t.clock = t.clock.wrapping_add(1);
        let clock = t.clock;
        let set = &mut t.sets[key.set()];
        // The same key again, else an empty way, else the least recently used.
        let way = set
            .iter()
            .position(|e| e.key == key)
            .or_else(|| set.iter().position(|e| e.key.generation == 0))
            .unwrap_or_else(|| {
                (0..WAYS)
                    .max_by_key(|&w| clock.wrapping_sub(set[w].used))
                    .unwrap_or(0)
            });
        let mut addrs = [None; REMEMBERED];
        for (slot, a) in addrs.iter_mut().zip(decision.addresses()) {
            *slot = Some(a);
        }
        set[way] = Entry {
            key,
            used: clock,
            ttl: decision.ttl,
            addrs,
            region,
            scope: decision.scope,
            cname: decision.cname,
        };
    })
}

/// Entries this thread holds (for tests: the table stays bounded).
#[cfg(test)]
pub fn held() -> usize {
    TABLE.with(|t| {
        t.borrow()
            .sets
            .iter()
            .flatten()
            .filter(|e| e.key.generation != 0)
            .count()
    })
}

#[cfg(test)]
mod tests;

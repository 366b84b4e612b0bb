//! A per-thread memo of recent database walks, by client network.
//!
//! Resolvers send the same ECS networks (/24, /56) again and again, and walking the
//! database tree for each costs a cache miss per level. Each thread keeps a fixed table
//! ([`SETS`] sets of [`WAYS`] entries, allocated on its first lookup) of the record the
//! walk found for a network. An entry is made only when the database network that matched
//! covers the whole key network, so a hit gives exactly what the walk would. Entries name
//! the database they came from: a new database makes every older entry a miss.

use std::cell::RefCell;
use std::net::IpAddr;

/// Sets of [`WAYS`] entries per thread (16 bytes an entry: 256 KiB). A network maps to
/// one set; the most recently walked or found entries of a set are kept.
pub const SETS: usize = 8192;
pub const WAYS: usize = 2;
/// The network an entry stands for: an IPv4 /24 or an IPv6 /56, the ECS source prefixes
/// resolvers send (RFC 7871 §11.1).
pub const KEY_PREFIX_V4: u8 = 24;
pub const KEY_PREFIX_V6: u8 = 56;

/// What one walk found: the record (an index into the database's decoded records, or
/// [`NO_RECORD`]) and the prefix length of the database network (or gap) that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walked {
    pub record: u32,
    pub prefix: u8,
}

/// `Walked::record` for an address the database has no data for.
pub const NO_RECORD: u32 = u32::MAX;

/// A client network, as the memo knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The /24 or /56 bits.
    network: u64,
    /// IPv4 or IPv6 (the same bits of each are different networks).
    v4: bool,
}

/// The low 56 bits of [`Entry::network`] hold the key network; the top 8 the prefix.
const NETWORK_BITS: u64 = (1 << 56) - 1;

#[derive(Clone, Copy, Default)]
struct Entry {
    /// Key network | matched prefix << 56.
    network: u64,
    /// The database the entry came from << 1 | 1 for IPv4; 0 = empty (databases are
    /// numbered from 1).
    tag: u32,
    record: u32,
}

thread_local! {
    static TABLE: RefCell<Vec<[Entry; WAYS]>> = const { RefCell::new(Vec::new()) };
}

/// The key network of `addr` and its prefix length.
pub fn key(addr: IpAddr) -> (Key, u8) {
    match addr {
        IpAddr::V4(a) => {
            let network = (u32::from(a) >> (32 - KEY_PREFIX_V4)) as u64;
            (Key { network, v4: true }, KEY_PREFIX_V4)
        }
        IpAddr::V6(a) => {
            let network = (u128::from(a) >> (128 - KEY_PREFIX_V6)) as u64;
            (Key { network, v4: false }, KEY_PREFIX_V6)
        }
    }
}

fn tag(db: u32, key: Key) -> u32 {
    (db << 1) | key.v4 as u32
}

fn set(key: Key) -> usize {
    // Fibonacci hashing: neighbouring networks land far apart.
    let h = (key.network ^ ((key.v4 as u64) << 63)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - SETS.trailing_zeros())) as usize
}

/// What this thread remembers of `key` in database `db`.
pub fn get(db: u32, key: Key) -> Option<Walked> {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let set = t.get_mut(set(key))?;
        let tag = tag(db, key);
        let way = set
            .iter()
            .position(|e| e.tag == tag && e.network & NETWORK_BITS == key.network)?;
        // Most recently used first: the other way is the one to replace.
        set[..=way].rotate_right(1);
        let e = set[0];
        Some(Walked {
            record: e.record,
            prefix: (e.network >> 56) as u8,
        })
    })
}

/// Remembers what the walk found for `key` in database `db`, in place of the least
/// recently used entry of its set. `walked.prefix` must be at most the key's.
pub fn put(db: u32, key: Key, walked: Walked) {
    debug_assert!(walked.prefix <= KEY_PREFIX_V6);
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_empty() {
            t.resize(SETS, [Entry::default(); WAYS]);
        }
        let set = &mut t[set(key)];
        set.rotate_right(1);
        set[0] = Entry {
            network: key.network | (walked.prefix as u64) << 56,
            tag: tag(db, key),
            record: walked.record,
        };
    })
}

/// Entries this thread holds for database `db` (for tests: the table stays bounded).
#[cfg(test)]
pub fn held(db: u32) -> usize {
    TABLE.with(|t| {
        t.borrow()
            .iter()
            .flatten()
            .filter(|e| e.tag >> 1 == db)
            .count()
    })
}

/// Entries this thread's table has room for.
#[cfg(test)]
pub fn capacity() -> usize {
    TABLE.with(|t| t.borrow().len() * WAYS)
}

//! A bounded cache of the RRSIGs of load-balanced answers (issue 13 point 2): a geo or
//! failover answer is one of a few distinct RRsets, each signed once and then served
//! from here until it must be refreshed.
//!
//! Key: the distinct RRset — owner (lower case), type, class, TTL (it is the RRSIG's
//! Original TTL) and the RDATAs in canonical form and order — kept whole in each entry.
//! The index is a 128-bit hash of it, and a hit compares the stored key with the asked
//! one, so a hash collision costs a re-sign, never a wrong signature.
//!
//! Value: the RRSIG RDATAs (one per signing key), their expiration, and the refresh
//! time, expiration minus the margin: at or after it the entry is a miss and is signed
//! again, so a signed answer is never served with an expired signature (nor one about to
//! expire while it sits in caches downstream: the margin should exceed the TTLs served).
//!
//! Bounds: entries and bytes (keys and signatures). Eviction: CLOCK (second chance), an
//! approximation of LRU with one bit per entry set on a hit and no list to update.
//!
//! Not `Sync` on purpose: one cache per query thread (a thread-local or one owned by
//! each worker), so the query path takes no lock and shares no cache line; the cost is
//! that a hot RRset is signed once per thread, a handful of signatures per refresh period.
//! The clock is the caller's (`now`, seconds since 1970), so tests move it.

use std::collections::HashMap;
use std::sync::Arc;

use super::DnssecError;
use super::canon;
use super::key::ZoneKey;
use super::sign::{SignatureTimes, Validity, sign_rrset};

/// A distinct RRset in canonical form, encoded into one buffer: owner, type, class, TTL,
/// then each canonical RDATA with its length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RrsetKey {
    bytes: Vec<u8>,
    owner_len: usize,
    rrtype: u16,
    class: u16,
    ttl: u32,
}

impl RrsetKey {
    /// The key of an RRset given as [`sign_rrset`] takes it (owner and RDATAs in any case
    /// and order; duplicates count once).
    pub fn new(
        owner: &[u8],
        rrtype: u16,
        class: u16,
        ttl: u32,
        rdatas: &[&[u8]],
    ) -> Result<RrsetKey, DnssecError> {
        if rdatas.is_empty() || rdatas.len() > usize::from(u16::MAX) {
            return Err(DnssecError::RrsetSize);
        }
        let owner = canon::canonical_name(owner)?;
        let set = canon::canonical_rrset(rrtype, rdatas)?;
        let mut bytes =
            Vec::with_capacity(owner.len() + 8 + set.iter().map(|r| r.len() + 2).sum::<usize>());
        bytes.extend_from_slice(&owner);
        bytes.extend_from_slice(&rrtype.to_be_bytes());
        bytes.extend_from_slice(&class.to_be_bytes());
        bytes.extend_from_slice(&ttl.to_be_bytes());
        for r in &set {
            let Ok(len) = u16::try_from(r.len()) else {
                return Err(DnssecError::BadRdata(rrtype, "longer than 65535 octets"));
            };
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(r);
        }
        Ok(RrsetKey {
            bytes,
            owner_len: owner.len(),
            rrtype,
            class,
            ttl,
        })
    }

    /// The owner, lower case.
    pub fn owner(&self) -> &[u8] {
        &self.bytes[..self.owner_len]
    }

    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The canonical RDATAs, in canonical order.
    pub fn rdatas(&self) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut pos = self.owner_len + 8;
        while pos < self.bytes.len() {
            let len = usize::from(u16::from_be_bytes([self.bytes[pos], self.bytes[pos + 1]]));
            out.push(&self.bytes[pos + 2..pos + 2 + len]);
            pos += 2 + len;
        }
        out
    }

    /// 128 bits of hash (two FNV-1a 64 with different bases), for the index only.
    fn hash128(&self) -> u128 {
        let mut a: u64 = 0xcbf2_9ce4_8422_2325;
        let mut b: u64 = 0x6c62_272e_07bb_0142;
        for &byte in &self.bytes {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte))
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(5);
        }
        (u128::from(a) << 64) | u128::from(b)
    }
}

/// The signatures of one RRset, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures {
    /// RRSIG RDATAs, one per key, in the order of the keys given.
    pub rrsigs: Vec<Vec<u8>>,
    /// The earliest expiration among them (seconds since 1970).
    pub expiration: u64,
    /// The RRset's TTL, which is every RRSIG's Original TTL.
    pub ttl: u32,
}

impl Signatures {
    /// The TTL to serve the RRSIGs with at `now`: the RRset's TTL, never more, and never
    /// past the expiration (RFC 4034 §3: a resolver must not keep them beyond it).
    pub fn served_ttl(&self, now: u64) -> u32 {
        let left = self.expiration.saturating_sub(now);
        u64::from(self.ttl).min(left) as u32
    }
}

/// Whether `sigs` are the signatures of exactly `keys`, in order: each RRSIG names its
/// key by algorithm (RDATA octet 2) and key tag (octets 16–17). After a key rollover the
/// same RRset is cached with the old key's signatures; they are then a miss, and the
/// RRset is signed again by the keys that sign now.
fn signed_by(sigs: &Signatures, keys: &[&ZoneKey]) -> bool {
    sigs.rrsigs.len() == keys.len()
        && sigs.rrsigs.iter().zip(keys).all(|(rrsig, key)| {
            rrsig.len() >= 18
                && rrsig[2] == key.algorithm().number()
                && u16::from_be_bytes([rrsig[16], rrsig[17]]) == key.tag()
        })
}

/// The cache's limits and signing policy.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    pub max_entries: usize,
    /// Keys plus signatures, in octets.
    pub max_bytes: usize,
    /// Re-sign this long before expiration (seconds).
    pub refresh_margin: u64,
    pub validity: Validity,
}

struct Entry {
    key: RrsetKey,
    hash: u128,
    sigs: Arc<Signatures>,
    refresh_at: u64,
    referenced: bool,
    bytes: usize,
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Misses for an entry that was present but due for refresh.
    pub refreshes: u64,
    pub evictions: u64,
}

/// See the module comment. One per query thread.
pub struct SigCache {
    config: CacheConfig,
    slots: Vec<Option<Entry>>,
    index: HashMap<u128, usize>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
    stats: CacheStats,
}

impl SigCache {
    pub fn new(config: CacheConfig) -> SigCache {
        SigCache {
            config,
            slots: Vec::new(),
            index: HashMap::new(),
            free: Vec::new(),
            hand: 0,
            bytes: 0,
            stats: CacheStats::default(),
        }
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Octets held (keys and signatures).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The cached signatures of `key` if they need no refresh at `now`.
    pub fn get(&mut self, key: &RrsetKey, now: u64) -> Option<Arc<Signatures>> {
        let hash = key.hash128();
        let slot = *self.index.get(&hash)?;
        let entry = self.slots[slot].as_mut().expect("indexed slot is full");
        if entry.key != *key || now >= entry.refresh_at {
            return None;
        }
        entry.referenced = true;
        Some(entry.sigs.clone())
    }

    /// The signatures of the RRset (owner, type, class, TTL, RDATAs as [`sign_rrset`]
    /// takes them) by every key in `keys`, from the cache or signed now and cached.
    #[allow(clippy::too_many_arguments)]
    pub fn get_or_sign(
        &mut self,
        keys: &[&ZoneKey],
        owner: &[u8],
        rrtype: u16,
        class: u16,
        ttl: u32,
        rdatas: &[&[u8]],
        now: u64,
    ) -> Result<Arc<Signatures>, DnssecError> {
        let key = RrsetKey::new(owner, rrtype, class, ttl, rdatas)?;
        if let Some(sigs) = self.get(&key, now)
            && signed_by(&sigs, keys)
        {
            self.stats.hits += 1;
            return Ok(sigs);
        }
        self.stats.misses += 1;
        let times = SignatureTimes::for_rrset(now, &self.config.validity, key.owner(), rrtype);
        let expiration = now + u64::from(times.remaining(now));
        let canonical = key.rdatas();
        let mut rrsigs = Vec::with_capacity(keys.len());
        for k in keys {
            rrsigs.push(sign_rrset(
                k,
                key.owner(),
                rrtype,
                class,
                ttl,
                &canonical,
                times.inception,
                times.expiration,
            )?);
        }
        let sigs = Arc::new(Signatures {
            rrsigs,
            expiration,
            ttl,
        });
        let refresh_at = expiration.saturating_sub(self.config.refresh_margin);
        if refresh_at > now {
            self.insert(key, sigs.clone(), refresh_at);
        }
        Ok(sigs)
    }

    fn insert(&mut self, key: RrsetKey, sigs: Arc<Signatures>, refresh_at: u64) {
        let hash = key.hash128();
        let bytes = key.bytes.len()
            + sigs.rrsigs.iter().map(Vec::len).sum::<usize>()
            + std::mem::size_of::<Entry>();
        if bytes > self.config.max_bytes || self.config.max_entries == 0 {
            return;
        }
        if let Some(slot) = self.index.remove(&hash) {
            // The same RRset due for refresh, or a colliding one: replaced either way.
            self.stats.refreshes += 1;
            self.remove_slot(slot);
        }
        while self.index.len() >= self.config.max_entries
            || self.bytes + bytes > self.config.max_bytes
        {
            self.evict_one();
        }
        let entry = Entry {
            key,
            hash,
            sigs,
            refresh_at,
            referenced: false,
            bytes,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(entry);
                s
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.index.insert(hash, slot);
        self.bytes += bytes;
    }

    fn remove_slot(&mut self, slot: usize) {
        if let Some(e) = self.slots[slot].take() {
            self.bytes -= e.bytes;
            self.free.push(slot);
        }
    }

    /// CLOCK: sweep from the hand, clearing reference bits, and evict the first entry
    /// found unreferenced.
    fn evict_one(&mut self) {
        let n = self.slots.len();
        for _ in 0..2 * n + 1 {
            let slot = self.hand % n;
            self.hand = (slot + 1) % n;
            if let Some(e) = self.slots[slot].as_mut() {
                if e.referenced {
                    e.referenced = false;
                } else {
                    let hash = e.hash;
                    self.index.remove(&hash);
                    self.remove_slot(slot);
                    self.stats.evictions += 1;
                    return;
                }
            }
        }
        unreachable!("evict_one called on an empty cache");
    }
}

#[cfg(test)]
mod tests;

//! A zone as `serve` signs it: its keys, what each name owns (for denial of existence),
//! and the signatures of every static authoritative RRset, made at load on all cores and
//! replaced, before they expire, by [`SignedZone::resign`] (the serve timer calls it).
//!
//! Input: the zone's records as a transfer sends them (`zone::ZoneRecords`), the names
//! of its load-balanced services and its keys. Not signed: glue (names below a cut) and
//! the NS at a cut; the DS at a cut is signed. The signatures live behind an `ArcSwap`,
//! so a re-sign replaces them without a new snapshot and queries never wait for it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use super::DnssecError;
use super::apex::{ApexRecords, apex_records, signing_keys};
use super::cache::Signatures;
use super::canon::{self, rtype};
use super::key::ZoneKey;
use super::sign::{SignatureTimes, Validity, sign_rrset};

const CLASS_IN: u16 = 1;

/// How signatures are made and when they are replaced (`[dnssec]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub validity: Validity,
    /// Replace a signature this many seconds before it expires.
    pub refresh_secs: u64,
}

/// Bumped on every re-sign anywhere: per-thread memos of signed answers are dropped when
/// it moves (one relaxed load per signed query; it is written a few times a week).
pub static RESIGN_EPOCH: AtomicU64 = AtomicU64::new(0);

/// An RRset's TTL and RDATAs (wire form, as in the zone).
pub type RdataSet = (u32, Vec<Box<[u8]>>);

/// One record as `parse_record` reads it: owner, type, TTL, RDATA, and its length.
type WireRecord<'a> = (&'a [u8], u16, u32, &'a [u8], usize);

/// What one name of the zone owns.
#[derive(Debug, Clone, Default)]
pub struct NameInfo {
    /// The authoritative types it owns, sorted (at a cut: NS, and DS if there is one).
    pub types: Vec<u16>,
    /// A delegation point (NS, not the apex).
    pub cut: bool,
    /// A load-balanced name: A and AAAA are decided per query.
    pub balanced: bool,
}

impl NameInfo {
    /// An empty non-terminal: owns nothing, exists because names below it do.
    pub fn is_empty_non_terminal(&self) -> bool {
        self.types.is_empty() && !self.balanced
    }

    /// The types an NSEC at this name lists for a query of `qtype` that found no data
    /// (the NSEC's own RRSIG and NSEC are added by `denial`): what it owns, A and AAAA
    /// when load-balanced, never `qtype` itself.
    pub fn types_without(&self, qtype: u16) -> Vec<u16> {
        let mut types = self.types.clone();
        if self.balanced {
            types.extend([1, 28]);
        }
        types.retain(|&t| t != qtype);
        types.sort_unstable();
        types.dedup();
        types
    }
}

/// One static RRset's signatures, with its RDATAs (canonical, in order, each with a
/// 2-octet length) to check that an answer's RRset is the one signed.
#[derive(Debug)]
pub struct StoredSig {
    pub rdata_key: Box<[u8]>,
    pub sigs: Arc<Signatures>,
}

/// The signatures of one signing pass, and the key RRsets they cover.
#[derive(Debug)]
pub struct SigStore {
    /// (owner lower-case wire form, type) → signatures.
    pub sigs: HashMap<(Box<[u8]>, u16), StoredSig>,
    /// The DNSKEY, CDS and CDNSKEY RRsets published at the time of the pass.
    pub apex: ApexRecords,
    /// When the first signature of this pass is due for replacement.
    pub refresh_at: u64,
}

/// A static RRset to sign: owner (lower case), type, TTL, RDATAs as in the zone.
#[derive(Debug, Clone)]
struct StaticRrset {
    owner: Box<[u8]>,
    rtype: u16,
    ttl: u32,
    rdatas: Vec<Box<[u8]>>,
}

/// See the module comment.
pub struct SignedZone {
    /// The apex, lower-case wire form.
    pub apex: Box<[u8]>,
    keys: Vec<ZoneKey>,
    pub policy: Policy,
    /// Every authoritative name, delegation points and empty non-terminals included.
    pub names: HashMap<Box<[u8]>, NameInfo>,
    /// TTL of the DNSKEY, CDS and CDNSKEY RRsets: the SOA's.
    pub apex_ttl: u32,
    /// TTL of NSEC records: min(SOA TTL, SOA MINIMUM) (RFC 9077).
    pub negative_ttl: u32,
    /// The SOA's TTL and RDATA, for the negative answers this pass writes itself.
    pub soa: (u32, Box<[u8]>),
    /// The DS RRset (TTL, RDATAs) of each secure delegation, for referrals and DS queries.
    pub ds_sets: HashMap<Box<[u8]>, RdataSet>,
    rrsets: Vec<StaticRrset>,
    store: ArcSwap<SigStore>,
}

impl std::fmt::Debug for SignedZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedZone")
            .field("apex", &canon::name_to_text(&self.apex))
            .field("keys", &self.keys)
            .field("rrsets", &self.rrsets.len())
            .finish()
    }
}

/// Why a zone cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneSignError {
    #[error("no key of {zone} is active now (check the Activate and Inactive times)")]
    NoActiveKey { zone: String },
    #[error("{owner} type {rtype}: {error}")]
    Record {
        owner: String,
        rtype: u16,
        error: DnssecError,
    },
    #[error("the zone's records do not parse: {0}")]
    Records(&'static str),
}

/// One uncompressed wire record: owner, type, TTL, RDATA.
fn parse_record(data: &[u8]) -> Option<WireRecord<'_>> {
    let mut pos = 0;
    loop {
        let len = usize::from(*data.get(pos)?);
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    let owner = &data[..pos];
    let head = data.get(pos..pos + 10)?;
    let rtype = u16::from_be_bytes([head[0], head[1]]);
    let ttl = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let rdlen = usize::from(u16::from_be_bytes([head[8], head[9]]));
    let rdata = data.get(pos + 10..pos + 10 + rdlen)?;
    Some((owner, rtype, ttl, rdata, pos + 10 + rdlen))
}

/// The parent of a wire name (`None` for the root).
pub fn parent(name: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*name.first()?);
    (len != 0).then(|| &name[1 + len..])
}

/// The canonical RDATAs of an RRset in order, each with a 2-octet length.
pub fn rdata_key(rtype: u16, rdatas: &[&[u8]]) -> Result<Vec<u8>, DnssecError> {
    let set = canon::canonical_rrset(rtype, rdatas)?;
    let mut out = Vec::with_capacity(set.iter().map(|r| r.len() + 2).sum());
    for r in &set {
        out.extend_from_slice(&(r.len() as u16).to_be_bytes());
        out.extend_from_slice(r);
    }
    Ok(out)
}

impl SignedZone {
    /// Builds the zone's name table and signs every static authoritative RRset at `now`.
    /// `soa` and `records` are `ZoneRecords`' (uncompressed wire records); `balanced` the
    /// load-balanced names in the zone (lower-case wire form).
    pub fn new(
        apex: &[u8],
        soa: &[u8],
        records: &[u8],
        balanced: &[Box<[u8]>],
        keys: Vec<ZoneKey>,
        policy: Policy,
        now: u64,
    ) -> Result<SignedZone, ZoneSignError> {
        let apex: Box<[u8]> = apex.to_ascii_lowercase().into();
        let zone_text = canon::name_to_text(&apex);
        if signing_keys(&keys, now).is_empty() {
            return Err(ZoneSignError::NoActiveKey { zone: zone_text });
        }
        let Some((_, _, soa_ttl, soa_rdata, _)) = parse_record(soa) else {
            return Err(ZoneSignError::Records("the SOA record"));
        };
        let minimum = soa_rdata
            .len()
            .checked_sub(4)
            .map(|at| u32::from_be_bytes(soa_rdata[at..].try_into().expect("4 octets")))
            .unwrap_or(soa_ttl);
        // Group the records into RRsets; find the cuts.
        let mut sets: HashMap<(Box<[u8]>, u16), RdataSet> = HashMap::new();
        let mut order: Vec<(Box<[u8]>, u16)> = Vec::new();
        let mut cuts: HashSet<Box<[u8]>> = HashSet::new();
        let mut pos = 0;
        let all = [soa, records];
        for data in all {
            pos = 0;
            while pos < data.len() {
                let Some((owner, rt, ttl, rdata, len)) = parse_record(&data[pos..]) else {
                    return Err(ZoneSignError::Records("a record runs past the end"));
                };
                pos += len;
                let owner: Box<[u8]> = owner.to_ascii_lowercase().into();
                if rt == rtype::NS && *owner != *apex {
                    cuts.insert(owner.clone());
                }
                let key = (owner, rt);
                let entry = sets.entry(key.clone()).or_insert_with(|| {
                    order.push(key);
                    (ttl, Vec::new())
                });
                entry.0 = entry.0.min(ttl);
                entry.1.push(rdata.into());
            }
        }
        let _ = pos;
        let below_cut = |name: &[u8]| {
            let mut n = parent(name);
            while let Some(p) = n {
                if p.len() < apex.len() {
                    break;
                }
                if cuts.contains(p) {
                    return true;
                }
                n = parent(p);
            }
            false
        };
        let mut names: HashMap<Box<[u8]>, NameInfo> = HashMap::new();
        let mut rrsets = Vec::new();
        let mut ds_sets = HashMap::new();
        for key in order {
            let (owner, rt) = &key;
            let is_cut = cuts.contains(owner);
            let authoritative = !below_cut(owner) && (!is_cut || *rt == rtype::DS);
            if !below_cut(owner) {
                let info = names.entry(owner.clone()).or_default();
                info.cut |= is_cut;
                if authoritative || *rt == rtype::NS {
                    info.types.push(*rt);
                }
            }
            if authoritative && !matches!(*rt, rtype::RRSIG | rtype::NSEC) {
                let (ttl, rdatas) = sets.remove(&key).expect("grouped above");
                if is_cut {
                    ds_sets.insert(owner.clone(), (ttl, rdatas.clone()));
                }
                rrsets.push(StaticRrset {
                    owner: owner.clone(),
                    rtype: *rt,
                    ttl,
                    rdatas,
                });
            }
        }
        for name in balanced {
            if canon::is_at_or_below(name, &apex).unwrap_or(false) && !below_cut(name) {
                names.entry(name.clone()).or_default().balanced = true;
            }
        }
        // Empty non-terminals: every ancestor between a name and the apex.
        let owners: Vec<Box<[u8]>> = names.keys().cloned().collect();
        for owner in owners {
            let mut n = parent(&owner);
            while let Some(p) = n {
                if p.len() < apex.len() {
                    break;
                }
                names.entry(p.into()).or_default();
                n = parent(p);
            }
        }
        let apex_info = names.entry(apex.clone()).or_default();
        apex_info.types.push(rtype::DNSKEY);
        let published = apex_records(&keys, now);
        if !published.cds.is_empty() {
            apex_info.types.extend([rtype::CDS, rtype::CDNSKEY]);
        }
        for info in names.values_mut() {
            info.types.sort_unstable();
            info.types.dedup();
        }
        let mut zone = SignedZone {
            apex,
            keys,
            policy,
            names,
            apex_ttl: soa_ttl,
            negative_ttl: soa_ttl.min(minimum),
            soa: (soa_ttl, soa_rdata.into()),
            ds_sets,
            rrsets,
            store: ArcSwap::from_pointee(SigStore {
                sigs: HashMap::new(),
                apex: ApexRecords::default(),
                refresh_at: 0,
            }),
        };
        let store = zone.sign_all(now)?;
        zone.store = ArcSwap::from_pointee(store);
        Ok(zone)
    }

    /// The keys that sign at `now` (none: the zone's answers go out unsigned).
    pub fn signing_keys(&self, now: u64) -> Vec<&ZoneKey> {
        signing_keys(&self.keys, now)
    }

    /// The current signatures.
    pub fn store(&self) -> arc_swap::Guard<Arc<SigStore>> {
        self.store.load()
    }

    /// When the next re-sign is due.
    pub fn refresh_at(&self) -> u64 {
        self.store.load().refresh_at
    }

    /// Signs every static RRset again at `now` and publishes the result; the old
    /// signatures serve until the swap.
    pub fn resign(&self, now: u64) -> Result<(), ZoneSignError> {
        let store = self.sign_all(now)?;
        self.store.store(Arc::new(store));
        RESIGN_EPOCH.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The name's entry, lower-case wire form.
    pub fn name(&self, name: &[u8]) -> Option<&NameInfo> {
        self.names.get(name)
    }

    /// Whether `name` is below a delegation point of this zone (glue or a child's data).
    pub fn below_cut(&self, name: &[u8]) -> bool {
        let mut n = parent(name);
        while let Some(p) = n {
            if p.len() < self.apex.len() {
                break;
            }
            if self.names.get(p).is_some_and(|i| i.cut) {
                return true;
            }
            n = parent(p);
        }
        false
    }

    fn sign_all(&self, now: u64) -> Result<SigStore, ZoneSignError> {
        let keys = signing_keys(&self.keys, now);
        if keys.is_empty() {
            return Err(ZoneSignError::NoActiveKey {
                zone: canon::name_to_text(&self.apex),
            });
        }
        let apex = apex_records(&self.keys, now);
        let mut jobs: Vec<StaticRrset> = self.rrsets.clone();
        for (rt, set) in [
            (rtype::DNSKEY, &apex.dnskey),
            (rtype::CDS, &apex.cds),
            (rtype::CDNSKEY, &apex.cdnskey),
        ] {
            if !set.is_empty() {
                jobs.push(StaticRrset {
                    owner: self.apex.clone(),
                    rtype: rt,
                    ttl: self.apex_ttl,
                    rdatas: set.iter().map(|r| r.clone().into_boxed_slice()).collect(),
                });
            }
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(jobs.len() / 64 + 1);
        let chunk = jobs.len().div_ceil(threads.max(1)).max(1);
        let policy = self.policy;
        let keys = &keys;
        let results: Vec<Result<Vec<_>, ZoneSignError>> = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .chunks(chunk)
                .map(|part| s.spawn(move || sign_part(part, keys, &policy, now)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a signing thread panicked"))
                .collect()
        });
        let mut sigs = HashMap::with_capacity(jobs.len());
        let mut refresh_at = u64::MAX;
        for part in results {
            for (key, stored) in part? {
                refresh_at =
                    refresh_at.min(stored.sigs.expiration.saturating_sub(policy.refresh_secs));
                sigs.insert(key, stored);
            }
        }
        Ok(SigStore {
            sigs,
            apex,
            refresh_at,
        })
    }
}

type Signed = ((Box<[u8]>, u16), StoredSig);

fn sign_part(
    part: &[StaticRrset],
    keys: &[&ZoneKey],
    policy: &Policy,
    now: u64,
) -> Result<Vec<Signed>, ZoneSignError> {
    let mut out = Vec::with_capacity(part.len());
    for set in part {
        let rdatas: Vec<&[u8]> = set.rdatas.iter().map(|r| &**r).collect();
        let (sigs, key) = sign_one(keys, &set.owner, set.rtype, set.ttl, &rdatas, policy, now)
            .map_err(|error| ZoneSignError::Record {
                owner: canon::name_to_text(&set.owner),
                rtype: set.rtype,
                error,
            })?;
        out.push((
            (set.owner.clone(), set.rtype),
            StoredSig {
                rdata_key: key.into(),
                sigs: Arc::new(sigs),
            },
        ));
    }
    Ok(out)
}

/// Signs one RRset with every key; returns the signatures and the RRset's rdata key.
pub fn sign_one(
    keys: &[&ZoneKey],
    owner: &[u8],
    rt: u16,
    ttl: u32,
    rdatas: &[&[u8]],
    policy: &Policy,
    now: u64,
) -> Result<(Signatures, Vec<u8>), DnssecError> {
    let times = SignatureTimes::for_rrset(now, &policy.validity, owner, rt);
    let expiration = now + u64::from(times.remaining(now));
    let mut rrsigs = Vec::with_capacity(keys.len());
    for k in keys {
        rrsigs.push(sign_rrset(
            k,
            owner,
            rt,
            CLASS_IN,
            ttl,
            rdatas,
            times.inception,
            times.expiration,
        )?);
    }
    let key = rdata_key(rt, rdatas)?;
    Ok((
        Signatures {
            rrsigs,
            expiration,
            ttl,
        },
        key,
    ))
}

#[cfg(test)]
pub(crate) mod tests;

//! The signing pass of a response: the responder renders a signed zone's answer as it
//! would unsigned (without a size limit), and [`sign_response`] rewrites it with DNSSEC:
//! RRSIGs after each authoritative RRset, the NSEC of compact denial (RFC 9824) for
//! NXDOMAIN, NODATA and empty non-terminals, the covering NSEC of a wildcard answer, the
//! DS or the NSEC that proves its absence in a referral, the DNSKEY, CDS and CDNSKEY
//! RRsets at the apex, then the size limit, keeping every RRset whole with its RRSIGs
//! (TC when an answer or authority RRset does not fit).
//!
//! Signatures: static RRsets from the zone's store (signed at load), the rest (load-
//! balanced addresses, wildcard expansions of dynamic data, NSECs) from a per-thread
//! [`SigCache`]. Each signed response is kept in a per-thread memo keyed by the
//! unsigned response, so a hot answer costs one hash lookup and a copy; an entry lives
//! only while every signature in it has more than its refresh margin and its TTL left,
//! and the memo is dropped when the snapshot or the signatures change. No lock is taken.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustc_hash::FxHashMap;

use super::cache::{CacheConfig, SigCache, Signatures};
use super::canon::rtype;
use super::denial::{self, EDNS_CO, EDNS_DO, NameState};
use super::zone::{Policy, RESIGN_EPOCH, SignedZone, parent, rdata_key};

const TYPE_ANY: u16 = 255;
const TYPE_OPT: u16 = 41;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const RCODE_NXDOMAIN: u8 = 3;

/// What the query asked and what bounds the response.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// The query name as sent (any case), uncompressed.
    pub qname: &'a [u8],
    pub qtype: u16,
    /// DO: add RRSIGs and NSECs. Without it only the apex key RRsets are added.
    pub dnssec_ok: bool,
    /// CO (RFC 9824): NXDOMAIN stays NXDOMAIN, and CO is echoed.
    pub compact_ok: bool,
    /// The transport's size limit.
    pub max: usize,
    /// Seconds since 1970.
    pub now: u64,
    /// The snapshot's generation (the memo is per generation).
    pub generation: u64,
}

/// Memo bounds: entries and octets (keys and responses) per thread.
const MEMO_ENTRIES: usize = 8192;
const MEMO_BYTES: usize = 8 << 20;
/// Per-thread signature cache bounds.
const CACHE_ENTRIES: usize = 16384;
const CACHE_BYTES: usize = 16 << 20;

struct MemoEntry {
    /// The signed response from octet 2 (after the ID) up to the OPT record.
    signed: Box<[u8]>,
    /// Its rcode.
    rcode: u8,
    valid_until: u64,
}

#[derive(Default)]
struct ThreadState {
    generation: u64,
    epoch: u64,
    memo: FxHashMap<Box<[u8]>, MemoEntry>,
    memo_bytes: usize,
    cache: Option<(Policy, SigCache)>,
    key: Vec<u8>,
    unsigned: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

/// Counters of this thread's signing pass (for tests and the benchmark).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    pub memo_entries: usize,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

/// This thread's counters.
pub fn thread_stats() -> PassStats {
    STATE.with(|s| {
        let s = s.borrow();
        let c = s.cache.as_ref().map(|(_, c)| c.stats()).unwrap_or_default();
        PassStats {
            memo_entries: s.memo.len(),
            cache_hits: c.hits,
            cache_misses: c.misses,
        }
    })
}

/// Rewrites the response in `out` (rendered for `zone` without a size limit; its OPT
/// record, if any, starts at `opt_start`, 0 for none) as the signed response. Returns the
/// response code sent. A response it cannot read is left as it is.
pub fn sign_response(
    zone: &SignedZone,
    asked: &Asked<'_>,
    out: &mut Vec<u8>,
    opt_start: usize,
) -> u8 {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let state = &mut *state;
        let epoch = RESIGN_EPOCH.load(Ordering::Relaxed);
        if state.generation != asked.generation || state.epoch != epoch {
            state.memo.clear();
            state.memo_bytes = 0;
            // A new snapshot may bring other signing keys (a reload in a key rollover):
            // the memo's signed answers go; the signature cache stays, as it checks the
            // signers of each entry against the keys that sign now (`SigCache::get_or_sign`).
            state.generation = asked.generation;
            state.epoch = epoch;
        }
        let body_end = if opt_start == 0 { out.len() } else { opt_start };
        let qend = 12 + asked.qname.len() + 4;
        if out.len() < qend || body_end < qend {
            return out.get(3).map_or(0, |b| b & 0xF);
        }
        // The memo key: the unsigned response without its ID and OPT, the question's name
        // lower-cased, then the flags and the limit.
        state.key.clear();
        state.key.extend_from_slice(&out[2..body_end]);
        state.key[10..10 + asked.qname.len()].make_ascii_lowercase();
        state
            .key
            .push(u8::from(asked.dnssec_ok) | u8::from(asked.compact_ok) << 1);
        state
            .key
            .extend_from_slice(&(asked.max.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        state.unsigned.clear();
        state.unsigned.extend_from_slice(out);
        let opt: &[u8] = if opt_start == 0 {
            &[]
        } else {
            &state.unsigned[opt_start..]
        };
        if let Some(entry) = state.memo.get(&state.key[..])
            && asked.now < entry.valid_until
        {
            out.truncate(2);
            out.extend_from_slice(&entry.signed);
            // The question as asked (its case), over the memo's.
            out[12..qend].copy_from_slice(&state.unsigned[12..qend]);
            push_opt(out, opt, asked);
            return entry.rcode;
        }
        let policy = zone.policy;
        if state.cache.as_ref().is_none_or(|(p, _)| *p != policy) {
            let config = CacheConfig {
                max_entries: CACHE_ENTRIES,
                max_bytes: CACHE_BYTES,
                refresh_margin: policy.refresh_secs,
                validity: policy.validity,
            };
            state.cache = Some((policy, SigCache::new(config)));
        }
        let cache = &mut state.cache.as_mut().expect("made above").1;
        let Some(parsed) = parse(&state.unsigned[..body_end], qend) else {
            return out[3] & 0xF;
        };
        let mut pass = Pass {
            zone,
            asked,
            cache,
            keys: zone.signing_keys(asked.now),
            store: zone.store(),
            valid_until: u64::MAX,
        };
        if pass.keys.is_empty() {
            return out[3] & 0xF;
        }
        let plan = pass.plan(parsed);
        out.clear();
        let rcode = plan.write(&state.unsigned[..qend], opt.len(), asked, out);
        let valid_until = pass.valid_until;
        if valid_until > asked.now {
            let bytes = state.key.len() + out.len();
            if state.memo.len() >= MEMO_ENTRIES || state.memo_bytes + bytes > MEMO_BYTES {
                state.memo.clear();
                state.memo_bytes = 0;
            }
            state.memo_bytes += bytes;
            state.memo.insert(
                state.key[..].into(),
                MemoEntry {
                    signed: out[2..].into(),
                    rcode,
                    valid_until,
                },
            );
        }
        push_opt(out, opt, asked);
        rcode
    })
}

/// Appends the query's OPT record as rendered, with CO set when the query had DO and CO
/// (RFC 9824 §5.1: every signed response to such a query says so).
fn push_opt(out: &mut Vec<u8>, opt: &[u8], asked: &Asked<'_>) {
    let at = out.len();
    out.extend_from_slice(opt);
    if asked.dnssec_ok && asked.compact_ok && opt.len() >= 11 {
        out[at + 7] |= (EDNS_CO >> 8) as u8;
    }
}

/// One RRset of the unsigned response, names uncompressed.
#[derive(Debug, Clone)]
struct Rrset {
    owner: Vec<u8>,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdatas: Vec<Vec<u8>>,
}

struct Parsed {
    flags: u16,
    /// Answer, authority, additional (without OPT).
    sections: [Vec<Rrset>; 3],
}

/// Reads the possibly compressed name at `pos`: the name uncompressed, and where the
/// record goes on.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut name = Vec::with_capacity(64);
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(pos)?;
        if len & 0xC0 == 0xC0 {
            let ptr = usize::from(u16::from_be_bytes([len, *msg.get(pos + 1)?]) & 0x3FFF);
            end.get_or_insert(pos + 2);
            hops += 1;
            if hops > 64 || ptr >= pos {
                return None;
            }
            pos = ptr;
            continue;
        }
        let len = usize::from(len);
        name.extend_from_slice(msg.get(pos..pos + 1 + len)?);
        if len == 0 {
            return Some((name, end.unwrap_or(pos + 1)));
        }
        if name.len() > 255 {
            return None;
        }
        pos += 1 + len;
    }
}

/// Where the names are in an RDATA of the types Meridian may compress: (octets before
/// the first name, how many names, octets after them).
fn name_layout(rt: u16) -> Option<(usize, usize, usize)> {
    Some(match rt {
        rtype::NS | rtype::CNAME | rtype::PTR | rtype::DNAME => (0, 1, 0),
        rtype::MX => (2, 1, 0),
        rtype::SRV => (6, 1, 0),
        rtype::SOA => (0, 2, 20),
        _ => return None,
    })
}

/// The RDATA at `msg[at..at + len]` with its names uncompressed.
fn read_rdata(msg: &[u8], at: usize, len: usize, rt: u16) -> Option<Vec<u8>> {
    let raw = msg.get(at..at + len)?;
    let Some((head, names, tail)) = name_layout(rt) else {
        return Some(raw.to_vec());
    };
    let mut out = raw.get(..head)?.to_vec();
    let mut pos = at + head;
    for _ in 0..names {
        let (name, next) = read_name(msg, pos)?;
        out.extend_from_slice(&name);
        pos = next;
    }
    out.extend_from_slice(msg.get(pos..pos + tail)?);
    (pos + tail == at + len).then_some(out)
}

fn parse(msg: &[u8], qend: usize) -> Option<Parsed> {
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let counts = [
        u16::from_be_bytes([msg[6], msg[7]]),
        u16::from_be_bytes([msg[8], msg[9]]),
        u16::from_be_bytes([msg[10], msg[11]]),
    ];
    let mut pos = qend;
    let mut sections: [Vec<Rrset>; 3] = Default::default();
    for (i, &count) in counts.iter().enumerate() {
        for _ in 0..count {
            if pos >= msg.len() {
                break; // The OPT record (not in this slice).
            }
            let (owner, at) = read_name(msg, pos)?;
            let head = msg.get(at..at + 10)?;
            let rt = u16::from_be_bytes([head[0], head[1]]);
            let class = u16::from_be_bytes([head[2], head[3]]);
            let ttl = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            let len = usize::from(u16::from_be_bytes([head[8], head[9]]));
            let rdata = read_rdata(msg, at + 10, len, rt)?;
            pos = at + 10 + len;
            if rt == TYPE_OPT {
                continue;
            }
            let section = &mut sections[i];
            match section.last_mut() {
                Some(last)
                    if last.rtype == rt
                        && last.class == class
                        && last.owner.eq_ignore_ascii_case(&owner) =>
                {
                    last.ttl = last.ttl.min(ttl);
                    last.rdatas.push(rdata);
                }
                _ => section.push(Rrset {
                    owner,
                    rtype: rt,
                    class,
                    ttl,
                    rdatas: vec![rdata],
                }),
            }
        }
    }
    Some(Parsed { flags, sections })
}

/// One RRset to write, with its signatures (none: unsigned, e.g. glue).
struct Block {
    set: Rrset,
    sigs: Option<Arc<Signatures>>,
}

/// RRsets that go out as rendered, without RRSIGs.
fn unsigned(sets: Vec<Rrset>) -> Vec<Block> {
    sets.into_iter()
        .map(|set| Block { set, sigs: None })
        .collect()
}

/// The signed response to write.
struct Plan {
    flags: u16,
    rcode: u8,
    sections: [Vec<Block>; 3],
}

struct Pass<'a, 'z> {
    zone: &'z SignedZone,
    asked: &'a Asked<'a>,
    cache: &'a mut SigCache,
    keys: Vec<&'z super::key::ZoneKey>,
    store: arc_swap::Guard<Arc<super::zone::SigStore>>,
    /// Until when the signed response may be served again from the memo.
    valid_until: u64,
}

impl Pass<'_, '_> {
    /// The signatures of `set`, signed as owned by `signed_owner` (the wildcard for an
    /// expansion): from the store when it holds this exact RRset and is fresh, else
    /// from the cache (signed now on a miss).
    fn signatures(&mut self, set: &Rrset, signed_owner: &[u8]) -> Option<Arc<Signatures>> {
        let now = self.asked.now;
        let refresh = self.zone.policy.refresh_secs;
        let rdatas: Vec<&[u8]> = set.rdatas.iter().map(Vec::as_slice).collect();
        let key = (
            signed_owner.to_ascii_lowercase().into_boxed_slice(),
            set.rtype,
        );
        let stored = self.store.sigs.get(&key).filter(|s| {
            now < s.sigs.expiration.saturating_sub(refresh)
                && rdata_key(set.rtype, &rdatas).is_ok_and(|k| *k == *s.rdata_key)
        });
        let sigs = match stored {
            Some(s) => s.sigs.clone(),
            None => self
                .cache
                .get_or_sign(
                    &self.keys,
                    signed_owner,
                    set.rtype,
                    set.class,
                    set.ttl,
                    &rdatas,
                    now,
                )
                .ok()?,
        };
        let ttl = u64::from(set.ttl.min(sigs.ttl));
        let until = sigs
            .expiration
            .saturating_sub(refresh)
            .min(sigs.expiration.saturating_sub(ttl));
        self.valid_until = self.valid_until.min(until);
        Some(sigs)
    }

    /// The owner a validator checks `set`'s signature under, or `None` for data this
    /// zone does not sign here: outside it, glue, the NS of a cut.
    fn signer_owner(&self, set: &Rrset) -> Option<Vec<u8>> {
        let owner = set.owner.to_ascii_lowercase();
        if !super::canon::is_at_or_below(&owner, &self.zone.apex).unwrap_or(false)
            || self.zone.below_cut(&owner)
            || set.class != 1
            || matches!(set.rtype, rtype::RRSIG | rtype::NSEC)
        {
            return None;
        }
        match self.zone.name(&owner) {
            Some(info) if info.cut && set.rtype != rtype::DS => None,
            Some(_) => Some(owner),
            None => self.wildcard_of(&owner),
        }
    }

    /// The wildcard that synthesizes `name` (which does not exist): `*.` + its closest
    /// encloser, when the zone has it.
    fn wildcard_of(&self, name: &[u8]) -> Option<Vec<u8>> {
        let mut n = parent(name);
        while let Some(p) = n {
            if p.len() < self.zone.apex.len() {
                return None;
            }
            if let Some(info) = self.zone.name(p) {
                if info.cut {
                    return None;
                }
                let mut wild = vec![1, b'*'];
                wild.extend_from_slice(p);
                return self.zone.name(&wild).map(|_| wild);
            }
            n = parent(p);
        }
        None
    }

    fn signed(&mut self, set: Rrset) -> Block {
        let sigs = if self.asked.dnssec_ok {
            self.signer_owner(&set)
                .and_then(|owner| self.signatures(&set, &owner))
        } else {
            None
        };
        Block { set, sigs }
    }

    /// The NSEC of `denial` for `name`, signed.
    fn nsec(&mut self, name: &[u8], state: NameState<'_>) -> Option<(u8, Block)> {
        let flags = EDNS_DO | if self.asked.compact_ok { EDNS_CO } else { 0 };
        let d = denial::deny(name, &self.zone.apex, state, Some(flags)).ok()?;
        let nsec = d.nsec?;
        let set = Rrset {
            rdatas: vec![nsec.rdata()],
            owner: nsec.owner,
            rtype: rtype::NSEC,
            class: 1,
            ttl: self.zone.negative_ttl,
        };
        let sigs = self.signatures(&set, &set.owner.clone());
        Some((d.rcode, Block { set, sigs }))
    }

    fn soa_block(&mut self) -> Block {
        let set = Rrset {
            owner: self.zone.apex.to_vec(),
            rtype: rtype::SOA,
            class: 1,
            ttl: self.zone.negative_ttl,
            rdatas: vec![self.zone.soa.1.to_vec()],
        };
        self.signed(set)
    }

    fn plan(&mut self, parsed: Parsed) -> Plan {
        let asked = self.asked;
        let qname = asked.qname.to_ascii_lowercase();
        let [answer, authority, additional] = parsed.sections;
        let mut flags = parsed.flags & !(FLAG_TC | 0xF);
        let mut rcode = (parsed.flags & 0xF) as u8;
        let mut out: [Vec<Block>; 3] = Default::default();
        let apex = &self.zone.apex;

        // The apex key RRsets: served from the keys, whatever the zone file holds.
        let key_set = match asked.qtype {
            rtype::DNSKEY => Some(&self.store.apex.dnskey),
            rtype::CDS => Some(&self.store.apex.cds),
            rtype::CDNSKEY => Some(&self.store.apex.cdnskey),
            _ => None,
        };
        if *qname == **apex
            && let Some(set) = key_set.filter(|s| !s.is_empty())
        {
            let set = Rrset {
                owner: asked.qname.to_vec(),
                rtype: asked.qtype,
                class: 1,
                ttl: self.zone.apex_ttl,
                rdatas: set.clone(),
            };
            let block = self.signed(set);
            out[0].push(block);
            return Plan {
                flags: flags | FLAG_AA,
                rcode: 0,
                sections: out,
            };
        }
        if !asked.dnssec_ok {
            // Only the key RRsets differ without DO; the rest goes out as rendered.
            for (i, section) in [answer, authority, additional].into_iter().enumerate() {
                out[i] = unsigned(section);
            }
            return Plan {
                flags,
                rcode,
                sections: out,
            };
        }

        // A DS query at a delegation point: the parent's answer, DS or its absence.
        if asked.qtype == rtype::DS && self.zone.name(&qname).is_some_and(|i| i.cut) {
            flags |= FLAG_AA;
            if let Some((ttl, rdatas)) = self.zone.ds_sets.get(&qname[..]) {
                let set = Rrset {
                    owner: asked.qname.to_vec(),
                    rtype: rtype::DS,
                    class: 1,
                    ttl: *ttl,
                    rdatas: rdatas.iter().map(|r| r.to_vec()).collect(),
                };
                let block = self.signed(set);
                out[0].push(block);
            } else {
                let soa = self.soa_block();
                out[1].push(soa);
                let types = self.zone.name(&qname).map(|i| i.types.clone());
                let types = types.unwrap_or_default();
                if let Some((_, nsec)) =
                    self.nsec(&qname, NameState::InsecureDelegation { types: &types })
                {
                    out[1].push(nsec);
                }
            }
            return Plan {
                flags,
                rcode: 0,
                sections: out,
            };
        }

        // A referral: the NS of the cut, then its DS or the NSEC proving there is none.
        let cut = authority
            .iter()
            .find(|s| s.rtype == rtype::NS && !s.owner.eq_ignore_ascii_case(apex))
            .map(|s| s.owner.to_ascii_lowercase());
        if answer.is_empty()
            && parsed.flags & FLAG_AA == 0
            && let Some(cut) = cut.filter(|c| self.zone.name(c).is_some_and(|i| i.cut))
        {
            for set in authority {
                out[1].push(Block { set, sigs: None });
            }
            if let Some((ttl, rdatas)) = self.zone.ds_sets.get(&cut[..]) {
                let set = Rrset {
                    owner: cut.clone(),
                    rtype: rtype::DS,
                    class: 1,
                    ttl: *ttl,
                    rdatas: rdatas.iter().map(|r| r.to_vec()).collect(),
                };
                let block = self.signed(set);
                out[1].push(block);
            } else {
                let types = self.zone.name(&cut).map(|i| i.types.clone());
                let types = types.unwrap_or_default();
                if let Some((_, nsec)) =
                    self.nsec(&cut, NameState::InsecureDelegation { types: &types })
                {
                    out[1].push(nsec);
                }
            }
            out[2] = unsigned(additional);
            return Plan {
                flags,
                rcode,
                sections: out,
            };
        }

        // Answers: each RRset signed; wildcard expansions need their proof.
        let mut target = qname.clone();
        let mut wildcards: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut answered = false;
        for set in answer {
            let owner = set.owner.to_ascii_lowercase();
            if owner == target {
                if set.rtype == asked.qtype || asked.qtype == TYPE_ANY {
                    answered = true;
                }
                if set.rtype == rtype::CNAME
                    && asked.qtype != rtype::CNAME
                    && let Some(t) = set.rdatas.first()
                {
                    target = t.to_ascii_lowercase();
                }
            }
            if self.zone.name(&owner).is_none()
                && let Some(wild) = self.signer_owner(&set).filter(|w| *w != owner)
                && !wildcards.iter().any(|(o, _)| *o == owner)
            {
                wildcards.push((owner, wild));
            }
            let block = self.signed(set);
            out[0].push(block);
        }
        for set in authority {
            let block = self.signed(set);
            out[1].push(block);
        }
        let in_zone = super::canon::is_at_or_below(&target, apex).unwrap_or(false)
            && !self.zone.below_cut(&target);
        if in_zone && parsed.flags & FLAG_AA != 0 {
            if rcode == RCODE_NXDOMAIN {
                if let Some((code, nsec)) = self.nsec(&target, NameState::NotFound) {
                    rcode = code;
                    out[1].push(nsec);
                }
            } else if rcode == 0 && !answered {
                let info = self.zone.name(&target).cloned();
                let denied = match info {
                    Some(i) if i.cut => {
                        let types = i.types.clone();
                        self.nsec(&target, NameState::InsecureDelegation { types: &types })
                    }
                    Some(i) if i.is_empty_non_terminal() => {
                        self.nsec(&target, NameState::EmptyNonTerminal)
                    }
                    Some(i) => {
                        let types = i.types_without(asked.qtype);
                        self.nsec(&target, NameState::NoData { types: &types })
                    }
                    None => match self.wildcard_of(&target) {
                        Some(wild) => {
                            let types = self
                                .zone
                                .name(&wild)
                                .map(|i| i.types_without(asked.qtype))
                                .unwrap_or_default();
                            self.nsec(
                                &target,
                                NameState::WildcardNoData {
                                    wildcard: &wild,
                                    types: &types,
                                },
                            )
                        }
                        None => None,
                    },
                };
                if let Some((_, nsec)) = denied {
                    out[1].push(nsec);
                }
            }
        }
        for (owner, wild) in wildcards {
            if let Some((_, nsec)) =
                self.nsec(&owner, NameState::WildcardAnswer { wildcard: &wild })
            {
                out[1].push(nsec);
            }
        }
        for set in additional {
            let block = self.signed(set);
            out[2].push(block);
        }
        Plan {
            flags,
            rcode,
            sections: out,
        }
    }
}

/// Writes names with compression (RFC 1035 §4.1.4) against the names already written.
struct Names {
    /// (lower-case suffix, its offset in the message).
    known: Vec<(Vec<u8>, u16)>,
}

impl Names {
    fn write(&mut self, out: &mut Vec<u8>, name: &[u8]) {
        let mut pos = 0;
        while pos < name.len() && name[pos] != 0 {
            let suffix = &name[pos..];
            if let Some((_, at)) = self
                .known
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(suffix))
            {
                out.extend_from_slice(&(0xC000 | at).to_be_bytes());
                return;
            }
            if out.len() < 0x3FFF {
                self.known
                    .push((suffix.to_ascii_lowercase(), out.len() as u16));
            }
            let len = usize::from(name[pos]);
            out.extend_from_slice(&name[pos..pos + 1 + len]);
            pos += 1 + len;
        }
        out.push(0);
    }

    /// An RDATA, its names compressed for the RFC 1035 types that allow it.
    fn rdata(&mut self, out: &mut Vec<u8>, rt: u16, rdata: &[u8]) {
        let compress = matches!(
            rt,
            rtype::NS | rtype::CNAME | rtype::PTR | rtype::MX | rtype::SOA
        );
        let Some((head, count, _)) = name_layout(rt).filter(|_| compress) else {
            out.extend_from_slice(rdata);
            return;
        };
        out.extend_from_slice(&rdata[..head]);
        let mut pos = head;
        for _ in 0..count {
            let end = pos + name_len(&rdata[pos..]);
            self.write(out, &rdata[pos..end]);
            pos = end;
        }
        out.extend_from_slice(&rdata[pos..]);
    }
}

fn name_len(name: &[u8]) -> usize {
    let mut pos = 0;
    while pos < name.len() && name[pos] != 0 {
        pos += 1 + usize::from(name[pos]);
    }
    pos + 1
}

fn record(
    out: &mut Vec<u8>,
    names: &mut Names,
    owner: &[u8],
    rt: u16,
    class: u16,
    ttl: u32,
    rdata: &[u8],
) {
    names.write(out, owner);
    out.extend_from_slice(&rt.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    names.rdata(out, rt, rdata);
    let len = (out.len() - len_at - 2) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}

impl Plan {
    /// Writes header, question (`question` is the unsigned response up to the question's
    /// end), the sections (each RRset whole with its RRSIGs, within `asked.max` less the
    /// OPT's `opt_len`), and counts the OPT in ARCOUNT. Returns the rcode.
    fn write(&self, question: &[u8], opt_len: usize, asked: &Asked<'_>, out: &mut Vec<u8>) -> u8 {
        out.extend_from_slice(&question[..12]);
        out.extend_from_slice(&question[12..]);
        let mut names = Names { known: Vec::new() };
        let qname_end = question.len() - 4;
        let mut pos = 12;
        while pos < qname_end && question[pos] != 0 {
            names
                .known
                .push((question[pos..qname_end].to_ascii_lowercase(), pos as u16));
            pos += 1 + usize::from(question[pos]);
        }
        let limit = asked.max.saturating_sub(opt_len);
        let mut counts = [0u16; 3];
        let mut truncated = false;
        'sections: for (i, section) in self.sections.iter().enumerate() {
            for block in section {
                let start = out.len();
                let known = names.known.len();
                let set = &block.set;
                for rdata in &set.rdatas {
                    record(
                        out, &mut names, &set.owner, set.rtype, set.class, set.ttl, rdata,
                    );
                }
                let mut n = set.rdatas.len();
                if let Some(sigs) = &block.sigs {
                    let ttl = set.ttl.min(sigs.served_ttl(asked.now));
                    for sig in &sigs.rrsigs {
                        record(
                            out,
                            &mut names,
                            &set.owner,
                            rtype::RRSIG,
                            set.class,
                            ttl,
                            sig,
                        );
                    }
                    n += sigs.rrsigs.len();
                }
                if out.len() > limit {
                    out.truncate(start);
                    names.known.truncate(known);
                    // Additional data may go; a missing answer or authority set is TC.
                    truncated |= i < 2;
                    break 'sections;
                }
                counts[i] += n as u16;
            }
        }
        let mut flags = self.flags | u16::from(self.rcode);
        if truncated {
            flags |= FLAG_TC;
        }
        out[2..4].copy_from_slice(&flags.to_be_bytes());
        out[6..8].copy_from_slice(&counts[0].to_be_bytes());
        out[8..10].copy_from_slice(&counts[1].to_be_bytes());
        let ar = counts[2] + u16::from(opt_len > 0);
        out[10..12].copy_from_slice(&ar.to_be_bytes());
        self.rcode
    }
}

#[cfg(test)]
mod tests;

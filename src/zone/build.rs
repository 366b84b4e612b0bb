//! Checked zones → answers: every answer a zone gives, encoded once as wire bytes.
//!
//! Per name, resolves what an authoritative server answers (RFC 1034 §4.3.2, RFC 2308,
//! RFC 4592, RFC 8482): the data, CNAME chains inside the zone, NODATA and NXDOMAIN with
//! the SOA, referrals with glue (also at the end of a CNAME chain), the DNAME record for
//! the names below a DNAME (whose CNAME the responder synthesises per query). The zone
//! rules themselves are checked first, in `check.rs`.

use super::check::{NameData, RRset, ZoneData, ancestors, check_zones, group, in_zone};
use super::index::NameIndex;
use super::master::SourceRecord;
use super::wire;
use super::{
    BalancedChain, BalancedName, Dname, Extra, Node, ReadZone, Typed, TypedAnswers, Zone,
    ZoneError, ZoneErrors, Zones,
};
use crate::answer::{AnswerBuf, AnswerId, EncodeError, Interner, Owner, Section, Writer, name_key};
use hickory_proto::rr::{Name, RData, RecordType};
use std::collections::HashMap;
use std::path::PathBuf;

const RCODE_NOERROR: u8 = 0;
const RCODE_NXDOMAIN: u8 = 3;
/// Longest CNAME chain followed inside a zone.
const MAX_CNAME_CHAIN: usize = 8;

/// What a name resolves to inside one zone, at load time.
enum Found<'a> {
    /// The name exists (maybe as an empty non-terminal).
    Exact(&'a NameData),
    /// Synthesised from `*.<closest encloser>`.
    Wildcard(&'a NameData),
    NxDomain,
    /// Below the DNAME of this name (RFC 6672): redirected to the same labels under the
    /// DNAME's target.
    BelowDname(&'a [u8], &'a NameData),
    /// At or below a zone cut: not ours to answer.
    Delegated,
    Outside,
}

/// Where a CNAME chain reached a load-balanced name: its service and the name's key.
type BalancedEnd = (u32, Vec<u8>);

impl ZoneData {
    fn origin_len(&self) -> usize {
        self.origin_key.len()
    }

    /// A record type no name of the zone holds, to build the answer for every such type
    /// with: the highest private-use one (RFC 6895 §3.1) that is free, or failing those the
    /// highest free type below.
    fn absent_type(&self) -> u16 {
        (1..=65534u16)
            .rev()
            .find(|t| !self.types.contains(t))
            .expect("a zone holds fewer than 65,534 types")
    }

    /// The highest cut at or above `key` (excluding the apex), if any.
    fn cut_of<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
        if self.cuts.is_empty() {
            return None;
        }
        let mut found = None;
        if self.cuts.contains(key) {
            found = Some(key);
        }
        for a in ancestors(key, self.origin_len()) {
            if self.cuts.contains(a) {
                found = Some(a);
            }
        }
        found
    }

    /// Whether the name whose key is `key` is inside the zone (as `Name::zone_of`).
    fn holds(&self, key: &[u8]) -> bool {
        in_zone(key, &self.origin_key)
    }

    /// What the name whose key is `key` resolves to.
    fn find(&self, key: &[u8]) -> Found<'_> {
        if !self.holds(key) {
            return Found::Outside;
        }
        if self.cut_of(key).is_some() {
            return Found::Delegated;
        }
        if let Some(n) = self.names.get(key) {
            return Found::Exact(n);
        }
        for a in ancestors(key, self.origin_len()) {
            if let Some((a, n)) = self.names.get_key_value(a) {
                if n.get(RecordType::DNAME).is_some() {
                    return Found::BelowDname(a, n);
                }
                let mut wild = b"\x01*".to_vec();
                wild.extend_from_slice(a);
                return match self.names.get(wild.as_slice()) {
                    Some(w) => Found::Wildcard(w),
                    None => Found::NxDomain,
                };
            }
        }
        Found::NxDomain
    }

    /// A and AAAA records of the name whose key is `key`, usable as additional data
    /// (glue included).
    fn addresses(&self, key: &[u8]) -> Option<&NameData> {
        if !self.holds(key) {
            return None;
        }
        self.names.get(key)
    }

    fn soa_authority(&self, w: &mut Writer) -> Result<(), EncodeError> {
        let RData::SOA(soa) = &self.soa else {
            unreachable!("checked at load")
        };
        let [apex, mname, rname] = &self.soa_names;
        w.soa_rrset(
            Section::Authority,
            apex,
            self.negative_ttl,
            [mname, rname],
            soa,
            true,
        )
    }

    /// Additional-section addresses for the names an NS, MX, SRV, MB, MD, MF or KX
    /// RRset points at (RFC 1035 §3.3, RFC 2782, RFC 2230 §3), and for RT also the
    /// target's X25 and ISDN records (RFC 1183 §3.3).
    fn additional(&self, w: &mut Writer, set: &RRset) -> Result<(), EncodeError> {
        const ADDRESSES: &[RecordType] = &[RecordType::A, RecordType::AAAA];
        const RT_EXTRA: &[RecordType] = &[
            RecordType::A,
            RecordType::AAAA,
            RecordType::Unknown(19),
            RecordType::Unknown(20),
        ];
        // Where the name starts in the data (RFC 1035 §3.3.9, §3.3.11; RFC 2782; RFC
        // 2230; RFC 1183 §3.3).
        let (skip, types) = match u16::from(set.rtype) {
            2 | 3 | 4 | 7 => (0, ADDRESSES),
            15 | 36 => (2, ADDRESSES),
            33 => (6, ADDRESSES),
            21 => (2, RT_EXTRA),
            _ => return Ok(()),
        };
        for rd in set.rdatas.iter() {
            let mut buf = [0; 256];
            let Some(target) = rd.get(skip..) else {
                continue;
            };
            let Some(key) = wire::key_of(target, &mut buf) else {
                continue;
            };
            if let Some(n) = self.addresses(key) {
                for &t in types {
                    if let Some(s) = n.get(t) {
                        w.rrset(
                            Section::Additional,
                            Owner::Wire(target),
                            t,
                            s.ttl,
                            s.rdatas.iter(),
                            false,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The answer to `qtype` at `node`, whose name (the query name) has the key `model`.
    fn answer(&self, model: &[u8], node: &NameData, qtype: u16) -> Result<AnswerBuf, EncodeError> {
        let (w, rcode) = self.answer_writer(model, node, qtype)?;
        w.finish(rcode, true)
    }

    /// [`ZoneData::answer`] in the arena.
    fn intern_answer(
        &self,
        interner: &mut Interner,
        model: &[u8],
        node: &NameData,
        qtype: u16,
    ) -> Result<AnswerId, EncodeError> {
        let (w, rcode) = self.answer_writer(model, node, qtype)?;
        interner.intern_writer(w, rcode, true)
    }

    /// The answer to `qtype` at `node`, written but not finished, and its rcode.
    fn answer_writer(
        &self,
        model: &[u8],
        node: &NameData,
        qtype: u16,
    ) -> Result<(Writer, u8), EncodeError> {
        // The DNSSEC records beside a CNAME (check.rs) are answered as themselves.
        if let Some(cname) = node.get(RecordType::CNAME)
            && qtype != u16::from(RecordType::CNAME)
            && node.get(RecordType::from(qtype)).is_none()
        {
            if qtype == u16::from(RecordType::ANY) {
                // RFC 1034 §4.3.2 step 3a: ANY matches the CNAME itself; nothing is chased.
                return Ok((cname_alone(model, cname)?, RCODE_NOERROR));
            }
            let (w, rcode, _) = self.cname_chain(model, cname, qtype, &mut None)?;
            return Ok((w, rcode));
        }
        let mut w = Writer::for_key(model);
        let set = if qtype == u16::from(RecordType::ANY) {
            // RFC 8482 §4.2: answer ANY with one RRset, not all of them.
            node.rrsets
                .iter()
                .find(|s| s.rtype != RecordType::SOA)
                .or(node.rrsets.first())
        } else {
            node.get(RecordType::from(qtype))
        };
        match set {
            Some(set) => {
                w.rrset(
                    Section::Answer,
                    Owner::Qname,
                    set.rtype,
                    set.ttl,
                    set.rdatas.iter(),
                    true,
                )?;
                self.additional(&mut w, set)?;
            }
            None => self.soa_authority(&mut w)?,
        }
        Ok((w, RCODE_NOERROR))
    }

    /// Where the CNAME chain that starts at `node` ends with a name's data or NODATA, if it
    /// does: `Some(None)` when it ends otherwise (NXDOMAIN, a referral, outside the zone),
    /// `None` when `node` holds no CNAME.
    fn chain_end(
        &self,
        model: &[u8],
        node: &NameData,
    ) -> Result<Option<Option<&NameData>>, EncodeError> {
        let Some(cname) = node.get(RecordType::CNAME) else {
            return Ok(None);
        };
        let mut last = None;
        self.cname_chain(model, cname, self.absent_type(), &mut last)?;
        Ok(Some(last))
    }

    /// The query name's CNAME, then the chain it starts, written for `qtype`: the writer,
    /// the rcode, and the load-balanced name where an address query stopped. `last` is
    /// set to the name the chain ended at with that name's own data or NODATA, if it did.
    fn cname_chain<'s>(
        &'s self,
        model: &[u8],
        cname: &RRset,
        qtype: u16,
        last: &mut Option<&'s NameData>,
    ) -> Result<(Writer, u8, Option<BalancedEnd>), EncodeError> {
        let mut w = cname_alone(model, cname)?;
        let (rcode, end) = self.chase(&mut w, model, cname.rdatas.first(), qtype, last)?;
        Ok((w, rcode, end))
    }

    /// Follows a CNAME chain from `target` (a wire name, as written) inside the zone,
    /// writing each step; returns the rcode, and the load-balanced name (with its service)
    /// where an address query stopped. Only the end depends on `qtype` (`last`: the name
    /// answered with its data or NODATA), and a DS query at a cut, and address queries at
    /// a load-balanced name.
    fn chase<'s>(
        &'s self,
        w: &mut Writer,
        start: &[u8],
        target: &[u8],
        qtype: u16,
        last: &mut Option<&'s NameData>,
    ) -> Result<(u8, Option<BalancedEnd>), EncodeError> {
        // The name looked up at each step, as written: a CNAME's target, or the name a
        // DNAME made of it.
        let mut name = [0u8; 255];
        let Some(mut len) = wire::name_len(target) else {
            return Ok((RCODE_NOERROR, None));
        };
        name[..len].copy_from_slice(&target[..len]);
        // RFC 1034 §3.6.2: stop at a loop; each CNAME appears once. The keys seen, one
        // after the other in one buffer, each ending where the next starts.
        let mut seen: Vec<u8> = Vec::with_capacity(4 * start.len());
        let mut ends = [0usize; MAX_CNAME_CHAIN + 1];
        seen.extend_from_slice(start);
        ends[0] = seen.len();
        let mut buf = [0; 256];
        for step in 0..MAX_CNAME_CHAIN {
            let target = &name[..len];
            let key = wire::key_of(target, &mut buf).expect("a whole name");
            let mut from = 0;
            for &end in &ends[..=step] {
                if seen[from..end] == *key {
                    return Ok((RCODE_NOERROR, None));
                }
                from = end;
            }
            seen.extend_from_slice(key);
            ends[step + 1] = seen.len();
            let node = match self.find(key) {
                // A load-balanced target is decided per query (see `balanced_chain`).
                Found::Exact(_) if is_address_type(qtype) && self.balanced.contains_key(key) => {
                    return Ok((RCODE_NOERROR, Some((self.balanced[key], key.to_vec()))));
                }
                Found::Exact(n) | Found::Wildcard(n) => n,
                Found::NxDomain => {
                    self.soa_authority(w)?;
                    return Ok((RCODE_NXDOMAIN, None));
                }
                Found::Delegated => {
                    let cut = self.cut_of(key).expect("a delegated name has a cut");
                    if qtype == u16::from(RecordType::DS) && cut == key {
                        // DS at the cut is the parent side's data (RFC 4035 §3.1.4.1),
                        // as for a DS query for the cut itself.
                        self.rrset_or_nodata(w, target, &self.names[cut], qtype)?;
                    } else {
                        // RFC 1034 §4.3.2 step 3b: the chain ends with the referral.
                        self.delegation(w, cut)?;
                    }
                    return Ok((RCODE_NOERROR, None));
                }
                Found::BelowDname(owner_key, owner) => {
                    // RFC 6672 §3.2: the DNAME, the CNAME it synthesises for the target,
                    // then the lookup goes on from the new name.
                    match self.through_dname(w, owner_key, owner, target)? {
                        Some(next) => {
                            len = next.len();
                            name[..len].copy_from_slice(&next);
                            continue;
                        }
                        None => return Ok((RCODE_NOERROR, None)),
                    }
                }
                Found::Outside => return Ok((RCODE_NOERROR, None)),
            };
            if let Some(cname) = node.get(RecordType::CNAME) {
                w.rrset(
                    Section::Answer,
                    Owner::Wire(target),
                    RecordType::CNAME,
                    cname.ttl,
                    cname.rdatas.iter(),
                    true,
                )?;
                let next = cname.rdatas.first();
                let Some(next_len) = wire::name_len(next) else {
                    return Ok((RCODE_NOERROR, None));
                };
                len = next_len;
                name[..len].copy_from_slice(&next[..len]);
                continue;
            }
            *last = Some(node);
            self.rrset_or_nodata(w, target, node, qtype)?;
            return Ok((RCODE_NOERROR, None));
        }
        Ok((RCODE_NOERROR, None)) // a loop or a long chain: the resolver follows the rest
    }

    /// The end of a chain at `target` (whose data is `node`): its `qtype` RRset with the
    /// additional addresses, or, without one, the SOA of a NODATA answer.
    fn rrset_or_nodata(
        &self,
        w: &mut Writer,
        target: &[u8],
        node: &NameData,
        qtype: u16,
    ) -> Result<(), EncodeError> {
        match node.get(RecordType::from(qtype)) {
            Some(set) => {
                w.rrset(
                    Section::Answer,
                    Owner::Wire(target),
                    set.rtype,
                    set.ttl,
                    set.rdatas.iter(),
                    true,
                )?;
                self.additional(w, set)
            }
            None => self.soa_authority(w),
        }
    }

    /// A chain's `target` (a wire name) below the DNAME owned by `owner`: writes the DNAME
    /// and the CNAME it synthesises, and returns the name the lookup goes on from; `None`
    /// when that name would be longer than 255 octets (the chain stops, as a resolver
    /// would).
    fn through_dname(
        &self,
        w: &mut Writer,
        owner_key: &[u8],
        owner: &NameData,
        target: &[u8],
    ) -> Result<Option<Vec<u8>>, EncodeError> {
        let set = owner.get(RecordType::DNAME).expect("a DNAME owner");
        let owner_name = self
            .names
            .written(owner_key)
            .expect("a DNAME owner has records");
        let dname_target = set.rdatas.first();
        let Some(target_len) = wire::name_len(dname_target) else {
            return Ok(None);
        };
        write_dname(w, owner_name, set)?;
        // The labels before the owner (a leading `*` among them) go before the target.
        let kept = target.len().saturating_sub(owner_name.len());
        if kept + target_len > 255 {
            return Ok(None);
        }
        let next = [&target[..kept], &dname_target[..target_len]].concat();
        w.rrset(
            Section::Answer,
            Owner::Wire(target),
            RecordType::CNAME,
            set.ttl,
            [&next[..]],
            true,
        )?;
        Ok(Some(next))
    }

    /// For a CNAME whose chain ends at a load-balanced name: the chain as an answer, the
    /// service, and where the last target's name stands in it (the owner of the addresses
    /// the decision adds per query).
    fn balanced_chain(
        &self,
        model: &[u8],
        node: &NameData,
    ) -> Result<Option<BalancedChain>, EncodeError> {
        let Some(cname) = node.get(RecordType::CNAME) else {
            return Ok(None);
        };
        let a = u16::from(RecordType::A);
        let (w, _, end) = self.cname_chain(model, cname, a, &mut None)?;
        let Some((service, key)) = end else {
            return Ok(None);
        };
        let Some(owner) = w.key_offset(&key) else {
            return Ok(None);
        };
        Ok(Some(BalancedChain {
            service,
            answer: w.finish(RCODE_NOERROR, true)?,
            owner,
        }))
    }

    /// The DNAME at `node`, encoded for the names below it, if it has one.
    fn dname(&self, key: &[u8], node: &NameData) -> Result<Option<Dname>, EncodeError> {
        let Some(set) = node.get(RecordType::DNAME) else {
            return Ok(None);
        };
        let owner = self.names.written(key).expect("a DNAME owner has records");
        let target: Box<[u8]> = set.rdatas.first().into();
        let mut w = Writer::for_key(&wildcard_model(key));
        write_dname(&mut w, owner, set)?;
        Ok(Some(Dname {
            answer: w.finish(RCODE_NOERROR, true)?,
            target,
            ttl: set.ttl,
        }))
    }

    /// The referral for names at or below the cut `cut`, encoded against `*.<cut>`, in
    /// the arena.
    fn intern_referral(
        &self,
        interner: &mut Interner,
        cut: &[u8],
    ) -> Result<AnswerId, EncodeError> {
        let mut w = Writer::for_key(&wildcard_model(cut));
        self.delegation(&mut w, cut)?;
        interner.intern_writer(w, RCODE_NOERROR, false)
    }

    /// The cut's NS RRset in the authority section and its glue in the additional one.
    fn delegation(&self, w: &mut Writer, cut: &[u8]) -> Result<(), EncodeError> {
        let node = &self.names[cut];
        let cut_name = self.names.written(cut).expect("a cut has records");
        let ns = node.get(RecordType::NS).expect("a cut has NS");
        w.rrset(
            Section::Authority,
            Owner::Wire(cut_name),
            RecordType::NS,
            ns.ttl,
            ns.rdatas.iter(),
            true,
        )?;
        for target in ns.rdatas.iter() {
            let mut buf = [0; 256];
            let Some(key) = wire::key_of(target, &mut buf) else {
                continue;
            };
            if let Some(n) = self.addresses(key) {
                // Glue for a name inside the delegated zone is required (RFC 9471).
                let in_domain = in_zone(key, cut);
                for t in [RecordType::A, RecordType::AAAA] {
                    if let Some(s) = n.get(t) {
                        w.rrset(
                            Section::Additional,
                            Owner::Wire(target),
                            t,
                            s.ttl,
                            s.rdatas.iter(),
                            in_domain,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_address_type(qtype: u16) -> bool {
    qtype == u16::from(RecordType::A)
        || qtype == u16::from(RecordType::AAAA)
        || qtype == u16::from(RecordType::ANY)
}

/// Checks and encodes every zone; the result answers queries for all of them.
pub fn build_zones(
    parsed: Vec<(PathBuf, Name, Vec<SourceRecord>)>,
    balanced: &[BalancedName],
) -> Result<Zones, ZoneErrors> {
    let read = parsed
        .into_iter()
        .map(|(file, origin, records)| ReadZone(group(&file, &origin, records)))
        .collect();
    build_read_zones(read, balanced, &|_| true)
}

/// Like [`build_zones`], for zones read with [`ReadZone::from_file`]. `keeps_records`
/// tells the zones that keep every record (`ZoneRecords::complete`): those that may
/// be transferred or signed.
pub fn build_read_zones(
    read: Vec<ReadZone>,
    balanced: &[BalancedName],
    keeps_records: &dyn Fn(&Name) -> bool,
) -> Result<Zones, ZoneErrors> {
    let data = check_zones(read.into_iter().map(|r| r.0).collect(), balanced)?;
    // The most specific zone owns a name: an origin → zone map to decide it.
    let origins: HashMap<Box<[u8]>, usize> = data
        .iter()
        .enumerate()
        .map(|(i, z)| (name_key(&z.origin), i))
        .collect();
    let single = data.len() == 1;
    let owner_of = |key: &[u8]| -> Option<usize> {
        if single {
            return Some(0); // every name of a zone is inside its origin (check.rs)
        }
        if let Some(&i) = origins.get(key) {
            return Some(i);
        }
        ancestors(key, 1).find_map(|a| origins.get(a).copied())
    };

    let mut zones = Vec::new();
    // Room for every name at once: the index is not grown (and rehashed) a score of
    // times, nor left with up to twice the room it needs.
    let names: usize = data.iter().map(|z| z.names.len()).sum();
    let key_bytes: usize = data.iter().map(|z| z.names.key_bytes()).sum();
    let mut out = Built {
        index: NameIndex::with_capacity(names, key_bytes),
        // Room for one distinct answer a name before the table of answers grows.
        interner: Interner::with_capacity(names),
        ..Built::default()
    };
    let mut failures = Vec::new();
    for (zi, z) in data.iter().enumerate() {
        let RData::SOA(soa) = &z.soa else {
            unreachable!()
        };
        let encoded = parent_ds(&data, zi, &origins)
            .and_then(|ds| encode_zone(z, zi as u32, &owner_of, ds, &mut out))
            .map(|nx| {
                (
                    nx,
                    super::transfer::zone_records(z, keeps_records(&z.origin)),
                )
            });
        match encoded {
            Ok((nxdomain, records)) => zones.push(Zone {
                origin: z.origin.clone(),
                origin_text: z.origin.to_ascii(),
                file: z.file.clone(),
                serial: soa.serial,
                record_count: z.record_count,
                records,
                nxdomain,
            }),
            Err(e) => failures.push(ZoneError::file(
                &z.file,
                format!("cannot encode an answer: {e}"),
            )),
        }
    }
    // The checked input goes only now: dropped zone by zone, its memory lay between the
    // parts built meanwhile, and the heap could not give it back (10,000 small zones
    // served in 73 MB instead of 27).
    drop(data);
    if !failures.is_empty() {
        return Err(ZoneErrors(failures));
    }
    let Built {
        mut nodes,
        mut typed,
        extras,
        balanced,
        mut index,
        interner,
    } = out;
    nodes.shrink_to_fit();
    typed.shrink_to_fit();
    index.shrink();
    Ok(Zones {
        zones,
        arena: interner.finish(),
        nodes,
        typed,
        extras,
        balanced,
        index,
    })
}

/// What `encode_zone` adds to, zone after zone.
#[derive(Default)]
struct Built {
    nodes: Vec<Node>,
    typed: TypedAnswers,
    extras: rustc_hash::FxHashMap<u32, Extra>,
    balanced: rustc_hash::FxHashMap<u32, u32>,
    index: NameIndex,
    interner: Interner,
}

/// With the zone above `data[zi]` served too and delegating to it: the parent's answer
/// to DS at the child's apex, which a server of both zones gives (RFC 4035 §3.1.4.1).
fn parent_ds(
    data: &[ZoneData],
    zi: usize,
    origins: &HashMap<Box<[u8]>, usize>,
) -> Result<Option<AnswerBuf>, EncodeError> {
    let child = &data[zi];
    let key = &child.origin_key[..];
    let Some(parent) = ancestors(key, 1).find_map(|a| origins.get(a).map(|&i| &data[i])) else {
        return Ok(None);
    };
    if !parent.cuts.contains(key) {
        return Ok(None);
    }
    let node = &parent.names[key];
    parent
        .answer(key, node, u16::from(RecordType::DS))
        .map(Some)
}

/// Encodes one zone's nodes into `out`; returns the zone's NXDOMAIN answer.
/// `apex_ds` is the parent's answer to DS at the apex, when the parent is served too.
fn encode_zone(
    z: &ZoneData,
    zi: u32,
    owner_of: &dyn Fn(&[u8]) -> Option<usize>,
    apex_ds: Option<AnswerBuf>,
    out: &mut Built,
) -> Result<AnswerId, EncodeError> {
    let Built {
        nodes,
        typed,
        extras,
        balanced,
        index,
        interner,
    } = out;
    nodes.reserve(z.names.len());
    let apex_ds = apex_ds.map(|ds| interner.intern(&ds)).transpose()?;
    let mut w = Writer::for_key(&wildcard_model(&z.origin_key));
    z.soa_authority(&mut w)?;
    let nxdomain = interner.intern_writer(w, RCODE_NXDOMAIN, true)?;

    let absent = z.absent_type();
    let mut referrals: rustc_hash::FxHashMap<&[u8], AnswerId> = Default::default();
    // One node per name, and about an answer per type and one more (ANY) per name:
    // reserved once rather than doubled (and copied) a score of times on a big zone.
    nodes.reserve(z.names.len());
    typed.reserve(z.names.values().map(|n| n.rrsets.len() + 1).sum());
    let mut scratch: Vec<Typed> = Vec::new();
    let mut qtypes: Vec<u16> = Vec::new();
    // NODATA (the SOA alone) comes out as the same bytes for every name below the apex
    // that is not at or below the SOA's own names (whose suffixes its names would point
    // at): encoded once for all of them.
    let RData::SOA(soa) = &z.soa else {
        unreachable!("checked at load")
    };
    let (mname, rname) = (name_key(&soa.mname), name_key(&soa.rname));
    let plain_nodata = |key: &[u8]| {
        key.len() > z.origin_key.len() && !in_zone(key, &mname) && !in_zone(key, &rname)
    };
    let mut shared_nodata: Option<AnswerId> = None;
    // Each wildcard `*.<name>` gets the node right after its name's, which is how a
    // [`Node::WILDCARD`] finds it, with no search (RFC 4592 synthesis).
    let ours = |key: &[u8]| owner_of(key) == Some(zi as usize);
    let wild_parents: rustc_hash::FxHashSet<&[u8]> = z
        .names
        .keys()
        .filter(|k| k.starts_with(b"\x01*") && ours(k))
        .map(|k| &k[2..])
        .collect();
    let mut names = z.names.iter();
    let mut wild_next: Option<(&[u8], &NameData)> = None;
    loop {
        let (key, node, wild_child) = match wild_next.take() {
            Some((key, node)) => (key, node, false),
            None => {
                let Some((key, node)) = names.next() else {
                    break;
                };
                if !ours(key) {
                    continue; // a more specific zone of ours owns this name
                }
                if wild_parents.is_empty() {
                    (key, node, false)
                } else if key.starts_with(b"\x01*") && wild_parents.contains(&key[2..]) {
                    continue; // numbered right after its parent
                } else if wild_parents.contains(key) {
                    let child = [&b"\x01*"[..], key].concat();
                    wild_next = z.names.get_key_value(&child[..]);
                    (key, node, wild_next.is_some())
                } else {
                    (key, node, false)
                }
            }
        };
        let mut built = if let Some(cut) = z.cut_of(key) {
            let referral = match referrals.get(cut) {
                Some(&r) => r,
                None => {
                    let r = z.intern_referral(interner, cut)?;
                    referrals.insert(cut, r);
                    r
                }
            };
            let typed_at = typed.len() as u32;
            if cut == key {
                // DS is the parent side's data (RFC 4035 §3.1.4.1): answer it here.
                let ds = u16::from(RecordType::DS);
                typed.extend(&[Typed {
                    qtype: ds,
                    answer: z.intern_answer(interner, key, node, ds)?,
                }]);
            }
            Node {
                zone: zi,
                typed_at,
                typed_len: (typed.len() as u32 - typed_at) as u16,
                flags: Node::DELEGATED,
                other: referral,
            }
        } else {
            // The types answered at this name, in order, each once (a sorted vector: a set
            // would cost its allocations at every name).
            qtypes.clear();
            qtypes.extend(node.rrsets.iter().map(|s| u16::from(s.rtype)));
            qtypes.push(u16::from(RecordType::ANY));
            if node.get(RecordType::CNAME).is_some() {
                qtypes.extend(z.types.iter().copied());
                // A and AAAA may end at a load-balanced name; DS at a cut is answered
                // from this side of it, where other types get the referral.
                qtypes.extend([RecordType::A, RecordType::AAAA, RecordType::DS].map(u16::from));
            }
            qtypes.sort_unstable();
            qtypes.dedup();
            // Any type the zone never holds: the same as a type this name lacks.
            let other = match shared_nodata {
                Some(nodata) if node.get(RecordType::CNAME).is_none() && plain_nodata(key) => {
                    debug_assert_eq!(nodata, z.intern_answer(interner, key, node, absent)?);
                    nodata
                }
                _ => {
                    let answer = z.intern_answer(interner, key, node, absent)?;
                    if node.get(RecordType::CNAME).is_none() && plain_nodata(key) {
                        shared_nodata = Some(answer);
                    }
                    answer
                }
            };
            // ANY is answered with one RRset (RFC 8482 §4.2): the answer to its type, or
            // at a name without records NODATA; at a CNAME owner it is the CNAME alone.
            let any = u16::from(RecordType::ANY);
            let any_as = match node.get(RecordType::CNAME) {
                Some(_) => None,
                None => Some(
                    node.rrsets
                        .iter()
                        .find(|s| s.rtype != RecordType::SOA)
                        .or(node.rrsets.first())
                        .map(|s| u16::from(s.rtype)),
                ),
            };
            // At a CNAME owner, a type that neither it nor the chain's end holds gets what
            // every absent type gets; only A, AAAA, ANY and DS take other ways.
            let end = z.chain_end(key, node)?;
            let same_as_other = |t: u16| {
                let rt = RecordType::from(t);
                end.is_some_and(|end| {
                    !matches!(t, 1 | 5 | 28 | 43 | 255)
                        && node.get(rt).is_none()
                        && end.is_none_or(|n| n.get(rt).is_none())
                })
            };
            // This node's answers, sorted by type, then added to `typed`.
            let answers = &mut scratch;
            answers.clear();
            for &t in &qtypes {
                if t == any && any_as.is_some() {
                    continue;
                }
                let answer = match same_as_other(t) {
                    true => other,
                    false => z.intern_answer(interner, key, node, t)?,
                };
                answers.push(Typed { qtype: t, answer });
            }
            let find = |answers: &[Typed], t: u16| answers.binary_search_by_key(&t, |a| a.qtype);
            if let Some(same) = any_as {
                let answer = match same {
                    Some(t) => answers[find(answers, t).expect("a type of the name")].answer,
                    None => other,
                };
                let i = find(answers, any).unwrap_err();
                answers.insert(i, Typed { qtype: any, answer });
            }
            if let Some(ds) = apex_ds.filter(|_| key[..] == z.origin_key[..]) {
                let ds_type = u16::from(RecordType::DS);
                match find(answers, ds_type) {
                    Ok(i) => answers[i].answer = ds,
                    Err(i) => answers.insert(
                        i,
                        Typed {
                            qtype: ds_type,
                            answer: ds,
                        },
                    ),
                }
            }
            let typed_at = typed.len();
            typed.extend(answers);
            let chain = z.balanced_chain(key, node)?;
            let dname = z.dname(key, node)?;
            let mut flags = 0;
            if chain.is_some() || dname.is_some() {
                extras.insert(nodes.len() as u32, Extra { chain, dname });
                flags |= Node::EXTRA;
            }
            if let Some(&service) = z.balanced.get(key) {
                balanced.insert(nodes.len() as u32, service);
                flags |= Node::BALANCED;
            }
            Node {
                zone: zi,
                typed_at: typed_at as u32,
                typed_len: (typed.len() - typed_at) as u16,
                flags,
                other,
            }
        };
        if wild_child {
            built.flags |= Node::WILDCARD;
        }
        index.push(key);
        nodes.push(built);
    }
    Ok(nxdomain)
}

/// The DNAME RRset `set` of `owner` in the answer section (it holds one record).
fn write_dname(w: &mut Writer, owner: &[u8], set: &RRset) -> Result<(), EncodeError> {
    w.rrset(
        Section::Answer,
        Owner::Wire(owner),
        RecordType::DNAME,
        set.ttl,
        [set.rdatas.first()],
        true,
    )
}

/// The key of `*.<name>` for the name whose key is `key`, to encode answers shared by the
/// names below it against; the name itself when that would be longer than 255 octets.
fn wildcard_model(key: &[u8]) -> Vec<u8> {
    match key.len() + 2 <= 255 {
        true => [&b"\x01*"[..], key].concat(),
        false => key.to_vec(),
    }
}

/// An answer that starts with the query name's CNAME: the start of every chain, and the
/// whole answer to ANY at a CNAME owner.
fn cname_alone(model: &[u8], cname: &RRset) -> Result<Writer, EncodeError> {
    let mut w = Writer::for_key(model);
    w.rrset(
        Section::Answer,
        Owner::Qname,
        RecordType::CNAME,
        cname.ttl,
        cname.rdatas.iter(),
        true,
    )?;
    Ok(w)
}

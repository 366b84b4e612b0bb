//! Records read from master files → checked zones with every answer encoded.
//!
//! Checks what makes a zone servable (one SOA and NS at the apex, every name inside the
//! origin, CNAME alone at its name) and reports each problem with its file and line. Then,
//! per name, it resolves what an authoritative server answers (RFC 1034 §4.3.2, RFC 2308,
//! RFC 4592, RFC 8482): the data, CNAME chains inside the zone, NODATA and NXDOMAIN with
//! the SOA, referrals with glue, and encodes each answer once as wire bytes.

use super::master::SourceRecord;
use super::{BalancedChain, BalancedName, Node, Zone, ZoneError, ZoneErrors, Zones};
use crate::answer::{Answer, EncodeError, Owner, Section, Writer, name_key};
use hickory_proto::rr::{Name, RData, RecordType};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const RCODE_NOERROR: u8 = 0;
const RCODE_NXDOMAIN: u8 = 3;
/// Longest CNAME chain followed inside a zone.
const MAX_CNAME_CHAIN: usize = 8;

/// All records of one type at one name.
#[derive(Debug)]
struct RRset {
    rtype: RecordType,
    ttl: u32,
    rdatas: Vec<RData>,
}

/// One name of a zone as written: its records, or none for an empty non-terminal.
#[derive(Debug, Default)]
struct NameData {
    name: Option<Name>,
    rrsets: Vec<RRset>,
}

impl NameData {
    fn get(&self, t: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == t)
    }
}

/// What a name resolves to inside one zone, at load time.
enum Found<'a> {
    /// The name exists (maybe as an empty non-terminal).
    Exact(&'a NameData),
    /// Synthesised from `*.<closest encloser>`.
    Wildcard(&'a NameData),
    NxDomain,
    /// At or below a zone cut: not ours to answer.
    Delegated,
    Outside,
}

/// Where a CNAME chain reached a load-balanced name: its service and the name.
type BalancedEnd = (u32, Name);

/// File and line a record was read from.
type SourcePlace = (PathBuf, usize);

/// One zone's names, checked, before encoding.
struct ZoneData {
    origin: Name,
    origin_key: Box<[u8]>,
    file: PathBuf,
    names: BTreeMap<Box<[u8]>, NameData>,
    /// Keys of names that are zone cuts (NS below the apex).
    cuts: BTreeSet<Box<[u8]>>,
    soa: RData,
    negative_ttl: u32,
    record_count: usize,
    /// Every record type present in the zone: the types a CNAME chain is resolved for.
    types: BTreeSet<u16>,
    /// Load-balanced names → service index.
    balanced: BTreeMap<Box<[u8]>, u32>,
}

/// Lower-case wire keys of a name's ancestors up to (and including) `origin`, nearest first.
fn ancestors(key: &[u8], origin_len: usize) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if key.len() - pos <= origin_len {
            return None;
        }
        pos += 1 + key[pos] as usize;
        Some(&key[pos..])
    })
}

impl ZoneData {
    fn origin_len(&self) -> usize {
        self.origin_key.len()
    }

    /// The highest cut at or above `key` (excluding the apex), if any.
    fn cut_of<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
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

    fn find(&self, name: &Name) -> Found<'_> {
        if !self.origin.zone_of(name) {
            return Found::Outside;
        }
        let key = name_key(name);
        if self.cut_of(&key).is_some() {
            return Found::Delegated;
        }
        if let Some(n) = self.names.get(&key) {
            return Found::Exact(n);
        }
        for a in ancestors(&key, self.origin_len()) {
            if self.names.contains_key(a) {
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

    /// A and AAAA records of `target` usable as additional data (glue included).
    fn addresses(&self, target: &Name) -> Option<&NameData> {
        if !self.origin.zone_of(target) {
            return None;
        }
        self.names.get(&name_key(target))
    }

    fn soa_authority(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.rrset(
            Section::Authority,
            Owner::Name(&self.origin),
            RecordType::SOA,
            self.negative_ttl,
            [&self.soa],
            true,
        )
    }

    /// Additional-section addresses for the names an NS, MX or SRV RRset points at.
    fn additional(&self, w: &mut Writer, set: &RRset) -> Result<(), EncodeError> {
        for rd in &set.rdatas {
            let target = match rd {
                RData::NS(ns) => &ns.0,
                RData::MX(mx) => &mx.exchange,
                RData::SRV(srv) => &srv.target,
                _ => continue,
            };
            if let Some(n) = self.addresses(target) {
                for t in [RecordType::A, RecordType::AAAA] {
                    if let Some(s) = n.get(t) {
                        w.rrset(
                            Section::Additional,
                            Owner::Name(target),
                            t,
                            s.ttl,
                            &s.rdatas,
                            false,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The answer to `qtype` at `node`, whose name is the query name.
    fn answer(&self, model: &Name, node: &NameData, qtype: u16) -> Result<Answer, EncodeError> {
        if let Some(cname) = node.get(RecordType::CNAME)
            && qtype != u16::from(RecordType::CNAME)
        {
            let (w, rcode, _) = self.cname_chain(model, cname, qtype)?;
            return w.finish(rcode, true);
        }
        let mut w = Writer::new(model);
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
                    &set.rdatas,
                    true,
                )?;
                self.additional(&mut w, set)?;
            }
            None => self.soa_authority(&mut w)?,
        }
        w.finish(RCODE_NOERROR, true)
    }

    /// The query name's CNAME, then the chain it starts, written for `qtype`: the writer,
    /// the rcode, and the load-balanced name where an address query stopped.
    fn cname_chain(
        &self,
        model: &Name,
        cname: &RRset,
        qtype: u16,
    ) -> Result<(Writer, u8, Option<BalancedEnd>), EncodeError> {
        let mut w = Writer::new(model);
        w.rrset(
            Section::Answer,
            Owner::Qname,
            RecordType::CNAME,
            cname.ttl,
            &cname.rdatas,
            true,
        )?;
        let RData::CNAME(target) = &cname.rdatas[0] else {
            unreachable!("checked at load")
        };
        let (rcode, end) = self.chase(&mut w, model, &target.0, qtype)?;
        Ok((w, rcode, end))
    }

    /// Follows a CNAME chain from `target` inside the zone, writing each step; returns the
    /// rcode, and the load-balanced name (with its service) where an address query stopped.
    fn chase(
        &self,
        w: &mut Writer,
        start: &Name,
        target: &Name,
        qtype: u16,
    ) -> Result<(u8, Option<BalancedEnd>), EncodeError> {
        let mut target = target.clone();
        // RFC 1034 §3.6.2: stop at a loop; each CNAME appears once.
        let mut seen = vec![name_key(start)];
        for _ in 0..MAX_CNAME_CHAIN {
            let key = name_key(&target);
            if seen.contains(&key) {
                return Ok((RCODE_NOERROR, None));
            }
            seen.push(key.clone());
            let node = match self.find(&target) {
                // A load-balanced target is decided per query (see `balanced_chain`).
                Found::Exact(_) if is_address_type(qtype) && self.balanced.contains_key(&key) => {
                    return Ok((RCODE_NOERROR, Some((self.balanced[&key], target))));
                }
                Found::Exact(n) | Found::Wildcard(n) => n,
                Found::NxDomain => {
                    self.soa_authority(w)?;
                    return Ok((RCODE_NXDOMAIN, None));
                }
                Found::Delegated | Found::Outside => return Ok((RCODE_NOERROR, None)),
            };
            if let Some(cname) = node.get(RecordType::CNAME) {
                w.rrset(
                    Section::Answer,
                    Owner::Name(&target),
                    RecordType::CNAME,
                    cname.ttl,
                    &cname.rdatas,
                    true,
                )?;
                let RData::CNAME(next) = &cname.rdatas[0] else {
                    unreachable!("checked at load")
                };
                target = next.0.clone();
                continue;
            }
            match node.get(RecordType::from(qtype)) {
                Some(set) => {
                    w.rrset(
                        Section::Answer,
                        Owner::Name(&target),
                        set.rtype,
                        set.ttl,
                        &set.rdatas,
                        true,
                    )?;
                    self.additional(w, set)?;
                }
                None => self.soa_authority(w)?,
            }
            return Ok((RCODE_NOERROR, None));
        }
        Ok((RCODE_NOERROR, None)) // a loop or a long chain: the resolver follows the rest
    }

    /// For a CNAME whose chain ends at a load-balanced name: the chain as an answer, the
    /// service, and where the last target's name stands in it (the owner of the addresses
    /// the decision adds per query).
    fn balanced_chain(
        &self,
        model: &Name,
        node: &NameData,
    ) -> Result<Option<BalancedChain>, EncodeError> {
        let Some(cname) = node.get(RecordType::CNAME) else {
            return Ok(None);
        };
        let (w, _, end) = self.cname_chain(model, cname, u16::from(RecordType::A))?;
        let Some((service, name)) = end else {
            return Ok(None);
        };
        let Some(owner) = w.name_offset(&name) else {
            return Ok(None);
        };
        Ok(Some(BalancedChain {
            service,
            answer: w.finish(RCODE_NOERROR, true)?,
            owner,
        }))
    }

    /// The referral for names at or below the cut `cut`, encoded against `*.<cut>`.
    fn referral(&self, cut: &[u8]) -> Result<Answer, EncodeError> {
        let node = &self.names[cut];
        let cut_name = node.name.clone().expect("a cut has records");
        let model = Name::from_ascii("*")
            .unwrap()
            .append_domain(&cut_name)
            .unwrap_or(cut_name.clone());
        let ns = node.get(RecordType::NS).expect("a cut has NS");
        let mut w = Writer::new(&model);
        w.rrset(
            Section::Authority,
            Owner::Name(&cut_name),
            RecordType::NS,
            ns.ttl,
            &ns.rdatas,
            true,
        )?;
        for rd in &ns.rdatas {
            let RData::NS(target) = rd else { continue };
            if let Some(n) = self.addresses(&target.0) {
                // Glue for a name inside the delegated zone is required (RFC 9471).
                let in_domain = cut_name.zone_of(&target.0);
                for t in [RecordType::A, RecordType::AAAA] {
                    if let Some(s) = n.get(t) {
                        w.rrset(
                            Section::Additional,
                            Owner::Name(&target.0),
                            t,
                            s.ttl,
                            &s.rdatas,
                            in_domain,
                        )?;
                    }
                }
            }
        }
        w.finish(RCODE_NOERROR, false)
    }
}

fn is_address_type(qtype: u16) -> bool {
    qtype == u16::from(RecordType::A)
        || qtype == u16::from(RecordType::AAAA)
        || qtype == u16::from(RecordType::ANY)
}

/// Checks one zone's records and groups them by name.
fn check_zone(
    file: &Path,
    origin: &Name,
    records: Vec<SourceRecord>,
    balanced_here: &[&BalancedName],
    errors: &mut Vec<ZoneError>,
) -> Option<ZoneData> {
    let at = |r: &SourceRecord, message: String| ZoneError {
        file: r.file.to_path_buf(),
        line: r.line,
        message,
    };
    let whole = |line: usize, message: String| ZoneError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let origin_key = name_key(origin);
    let mut names: BTreeMap<Box<[u8]>, NameData> = BTreeMap::new();
    let mut soa: Option<(RData, u32, usize)> = None;
    let mut record_count = 0;
    let mut types = BTreeSet::new();
    let before = errors.len();
    // Where each RRset was first written, for messages about conflicts.
    let mut first_line: HashMap<(Box<[u8]>, RecordType), SourcePlace> = HashMap::new();

    for r in &records {
        if !origin.zone_of(&r.name) {
            errors.push(at(r, format!("{} is outside the zone {origin}", r.name)));
            continue;
        }
        let rtype = r.rdata.record_type();
        let key = name_key(&r.name);
        if rtype == RecordType::SOA {
            if key != origin_key {
                errors.push(at(
                    r,
                    format!("SOA record at {} is not at the zone apex {origin}", r.name),
                ));
                continue;
            }
            if soa.is_some() {
                errors.push(at(
                    r,
                    format!("second SOA record for {origin}: a zone has exactly one"),
                ));
                continue;
            }
            soa = Some((r.rdata.clone(), r.ttl, r.line));
        }
        if matches!(
            rtype,
            RecordType::OPT | RecordType::ANY | RecordType::AXFR | RecordType::IXFR
        ) {
            errors.push(at(
                r,
                format!("{rtype} is not a record type that can be stored in a zone"),
            ));
            continue;
        }
        let node = names.entry(key.clone()).or_default();
        if node.name.is_none() {
            node.name = Some(r.name.clone());
        }
        match node.rrsets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) => {
                if set.rdatas.contains(&r.rdata) {
                    continue; // a duplicate record is one record (RFC 2181 §5)
                }
                if rtype == RecordType::CNAME {
                    let (f, l) = &first_line[&(key.clone(), rtype)];
                    errors.push(at(
                        r,
                        format!(
                            "second CNAME at {} (first at {}:{l}): a name has at most one",
                            r.name,
                            f.display()
                        ),
                    ));
                    continue;
                }
                if set.ttl != r.ttl {
                    tracing::warn!(file = %r.file.display(), line = r.line, "TTL {} differs from the RRset's {}; using {}", r.ttl, set.ttl, set.ttl.min(r.ttl));
                    set.ttl = set.ttl.min(r.ttl);
                }
                set.rdatas.push(r.rdata.clone());
            }
            None => {
                first_line.insert((key.clone(), rtype), (r.file.to_path_buf(), r.line));
                node.rrsets.push(RRset {
                    rtype,
                    ttl: r.ttl,
                    rdatas: vec![r.rdata.clone()],
                });
            }
        }
        types.insert(u16::from(rtype));
        record_count += 1;
    }

    // CNAME and other data (RFC 1034 §3.6.2; RFC 2181 §10.1).
    for r in &records {
        let key = name_key(&r.name);
        if let Some(node) = names.get(&key)
            && r.rdata.record_type() == RecordType::CNAME
            && node.rrsets.len() > 1
        {
            let others: Vec<String> = node
                .rrsets
                .iter()
                .filter(|s| s.rtype != RecordType::CNAME)
                .map(|s| s.rtype.to_string())
                .collect();
            errors.push(at(
                r,
                format!(
                    "CNAME at {} next to other data ({}): a CNAME must stand alone",
                    r.name,
                    others.join(", ")
                ),
            ));
        }
    }

    // A missing record has no line of its own: name the first record (or line 1).
    let first_record_line = records.first().map_or(1, |r| r.line);
    let Some((soa, soa_ttl, soa_line)) = soa else {
        errors.push(whole(
            first_record_line,
            format!("no SOA record at the apex of {origin}"),
        ));
        return None;
    };
    if names
        .get(&origin_key)
        .and_then(|n| n.get(RecordType::NS))
        .is_none()
    {
        errors.push(whole(
            soa_line,
            format!("no NS records at the apex of {origin}"),
        ));
    }
    if errors.len() > before {
        return None;
    }

    // Load-balanced names: their addresses come from the service, not from records.
    let mut balanced = BTreeMap::new();
    for b in balanced_here {
        let key = name_key(&b.name);
        if let Some(node) = names.get(&key) {
            for t in [RecordType::A, RecordType::AAAA, RecordType::CNAME] {
                if node.get(t).is_some() {
                    let (f, l) = &first_line[&(key.clone(), t)];
                    errors.push(ZoneError {
                        file: b.file.clone(),
                        line: b.line,
                        message: format!(
                            "{} is load-balanced, but {}:{l} gives it static {t} records; remove them from the zone file",
                            b.name,
                            f.display()
                        ),
                    });
                }
            }
        }
        let node = names.entry(key.clone()).or_default();
        if node.name.is_none() {
            node.name = Some(b.name.clone());
        }
        balanced.insert(key, b.service);
    }
    if errors.len() > before {
        return None;
    }

    // Empty non-terminals: every ancestor of a name, up to the origin, exists.
    let keys: Vec<Box<[u8]>> = names.keys().cloned().collect();
    for k in &keys {
        for a in ancestors(k, origin_key.len()) {
            names.entry(a.into()).or_default();
        }
    }
    let cuts: BTreeSet<Box<[u8]>> = names
        .iter()
        .filter(|(k, n)| **k != origin_key && n.get(RecordType::NS).is_some())
        .map(|(k, _)| k.clone())
        .collect();
    for b in balanced_here {
        let key = name_key(&b.name);
        if let Some(cut) = ancestors(&key, origin_key.len())
            .chain([&key[..]])
            .find(|a| cuts.contains(*a))
        {
            errors.push(ZoneError {
                file: b.file.clone(),
                line: b.line,
                message: format!(
                    "{} is load-balanced, but it is at or below the delegation {}",
                    b.name,
                    key_to_name(cut)
                ),
            });
        }
    }
    if errors.len() > before {
        return None;
    }
    let RData::SOA(s) = &soa else { unreachable!() };
    let negative_ttl = soa_ttl.min(s.minimum);
    Some(ZoneData {
        origin: origin.clone(),
        origin_key,
        file: file.to_path_buf(),
        names,
        cuts,
        soa,
        negative_ttl,
        record_count,
        types,
        balanced,
    })
}

/// Checks and encodes every zone; the result answers queries for all of them.
pub fn build_zones(
    parsed: Vec<(PathBuf, Name, Vec<SourceRecord>)>,
    balanced: &[BalancedName],
) -> Result<Zones, ZoneErrors> {
    let mut errors = Vec::new();
    let mut data = Vec::new();
    // Each balanced name belongs to the most specific zone that contains it.
    let zone_of = |b: &BalancedName| {
        parsed
            .iter()
            .filter(|(_, origin, _)| origin.zone_of(&b.name))
            .max_by_key(|(_, origin, _)| origin.num_labels())
            .map(|(_, origin, _)| origin.clone())
    };
    let owners: Vec<Option<Name>> = balanced.iter().map(zone_of).collect();
    for (b, owner) in balanced.iter().zip(&owners) {
        if owner.is_none() {
            errors.push(ZoneError {
                file: b.file.clone(),
                line: b.line,
                message: format!("{} is in none of the zones served", b.name),
            });
        }
    }
    for (file, origin, records) in parsed {
        let here: Vec<&BalancedName> = balanced
            .iter()
            .zip(&owners)
            .filter(|(_, o)| o.as_ref() == Some(&origin))
            .map(|(b, _)| b)
            .collect();
        if let Some(z) = check_zone(&file, &origin, records, &here, &mut errors) {
            data.push(z);
        }
    }
    if !errors.is_empty() {
        return Err(ZoneErrors(errors));
    }
    // The most specific zone owns a name: an origin → zone map to decide it.
    let origins: HashMap<Box<[u8]>, usize> = data
        .iter()
        .enumerate()
        .map(|(i, z)| (name_key(&z.origin), i))
        .collect();
    let owner_of = |key: &[u8]| -> Option<usize> {
        if let Some(&i) = origins.get(key) {
            return Some(i);
        }
        ancestors(key, 1).find_map(|a| origins.get(a).copied())
    };

    let mut zones = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
    let mut failures = Vec::new();
    for (zi, z) in data.iter().enumerate() {
        let RData::SOA(soa) = &z.soa else {
            unreachable!()
        };
        let encoded = encode_zone(z, zi as u32, &owner_of, &mut nodes, &mut index);
        match encoded {
            Ok(nxdomain) => zones.push(Zone {
                origin: z.origin.clone(),
                origin_text: z.origin.to_ascii(),
                file: z.file.clone(),
                serial: soa.serial,
                record_count: z.record_count,
                nxdomain,
            }),
            Err(e) => failures.push(ZoneError {
                file: z.file.clone(),
                line: 0,
                message: format!("cannot encode an answer: {e}"),
            }),
        }
    }
    if !failures.is_empty() {
        return Err(ZoneErrors(failures));
    }
    Ok(Zones {
        zones,
        nodes,
        index,
    })
}

/// Encodes one zone's nodes into `nodes`/`index`; returns the zone's NXDOMAIN answer.
fn encode_zone(
    z: &ZoneData,
    zi: u32,
    owner_of: &dyn Fn(&[u8]) -> Option<usize>,
    nodes: &mut Vec<Node>,
    index: &mut FxHashMap<Box<[u8]>, u32>,
) -> Result<Answer, EncodeError> {
    let star = Name::from_ascii("*").unwrap();
    let nx_model = star
        .clone()
        .append_domain(&z.origin)
        .unwrap_or(z.origin.clone());
    let mut w = Writer::new(&nx_model);
    z.soa_authority(&mut w)?;
    let nxdomain = w.finish(RCODE_NXDOMAIN, true)?;

    let mut referrals: HashMap<&[u8], Answer> = HashMap::new();
    let first = nodes.len();
    for (key, node) in &z.names {
        if owner_of(key) != Some(zi as usize) {
            continue; // a more specific zone of ours owns this name
        }
        let model = match &node.name {
            Some(n) => n.clone(),
            None => key_to_name(key),
        };
        let built = if let Some(cut) = z.cut_of(key) {
            let referral = match referrals.get(cut) {
                Some(r) => r.clone(),
                None => {
                    let r = z.referral(cut)?;
                    referrals.insert(cut, r.clone());
                    r
                }
            };
            let mut answers = Vec::new();
            if cut == &key[..] {
                // DS is the parent side's data (RFC 4035 §3.1.4.1): answer it here.
                answers.push((
                    u16::from(RecordType::DS),
                    z.answer(&model, node, u16::from(RecordType::DS))?,
                ));
            }
            Node {
                zone: zi,
                answers: answers.into(),
                other: referral,
                delegated: true,
                wildcard: None,
                balanced: None,
                chain: None,
            }
        } else {
            let mut qtypes: BTreeSet<u16> =
                node.rrsets.iter().map(|s| u16::from(s.rtype)).collect();
            qtypes.insert(u16::from(RecordType::ANY));
            if node.get(RecordType::CNAME).is_some() {
                qtypes.extend(z.types.iter().copied());
                qtypes.extend([u16::from(RecordType::A), u16::from(RecordType::AAAA)]);
            }
            let mut answers = Vec::with_capacity(qtypes.len());
            for t in qtypes {
                answers.push((t, z.answer(&model, node, t)?));
            }
            // Any type the zone never holds: the same as a type this name lacks.
            let other = z.answer(&model, node, 65280)?;
            Node {
                zone: zi,
                answers: answers.into(),
                other,
                delegated: false,
                wildcard: None,
                balanced: z.balanced.get(key).copied(),
                chain: z.balanced_chain(&model, node)?.map(Box::new),
            }
        };
        index.insert(key.clone(), nodes.len() as u32);
        nodes.push(built);
    }
    // Link each name to its wildcard child.
    for key in z.names.keys() {
        let mut wild = b"\x01*".to_vec();
        wild.extend_from_slice(key);
        if let (Some(&parent), Some(&child)) = (index.get(&key[..]), index.get(wild.as_slice()))
            && parent as usize >= first
        {
            nodes[parent as usize].wildcard = Some(child);
        }
    }
    Ok(nxdomain)
}

/// A name from its lower-case wire key (for empty non-terminals, which have no written form).
fn key_to_name(key: &[u8]) -> Name {
    let mut labels = Vec::new();
    let mut pos = 0;
    while pos < key.len() && key[pos] != 0 {
        let len = key[pos] as usize;
        labels.push(&key[pos + 1..pos + 1 + len]);
        pos += 1 + len;
    }
    Name::from_labels(labels).unwrap_or_else(|_| Name::root())
}

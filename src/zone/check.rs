//! Zone checks: records read from master files → one checked [`ZoneData`] per zone.
//!
//! What makes a zone servable: one SOA and NS at the apex, every name inside the origin,
//! CNAME alone at its name, nothing below a DNAME, load-balanced names without static
//! addresses and not below a delegation or a DNAME. Every problem is reported with its file and line; nothing is encoded here.

use super::master::SourceRecord;
use super::{BalancedName, ZoneError, ZoneErrors};
use crate::answer::name_key;
use hickory_proto::rr::{Name, RData, RecordType};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// All records of one type at one name.
#[derive(Debug)]
pub(super) struct RRset {
    pub(super) rtype: RecordType,
    pub(super) ttl: u32,
    pub(super) rdatas: Vec<RData>,
    /// Where its first record was written, for messages about conflicts.
    pub(super) first: SourcePlace,
}

/// One name of a zone as written: its records, or none for an empty non-terminal.
#[derive(Debug, Default)]
pub(super) struct NameData {
    pub(super) name: Option<Name>,
    pub(super) rrsets: Vec<RRset>,
}

impl NameData {
    pub(super) fn get(&self, t: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == t)
    }
}

/// File and line a record was read from.
type SourcePlace = (Arc<Path>, usize);

/// One zone's names, checked, before encoding.
pub(super) struct ZoneData {
    pub(super) origin: Name,
    pub(super) origin_key: Box<[u8]>,
    pub(super) file: PathBuf,
    pub(super) names: BTreeMap<Box<[u8]>, NameData>,
    /// Keys of names that are zone cuts (NS below the apex).
    pub(super) cuts: rustc_hash::FxHashSet<Box<[u8]>>,
    pub(super) soa: RData,
    pub(super) negative_ttl: u32,
    pub(super) record_count: usize,
    /// Every record type present in the zone: the types a CNAME chain is resolved for.
    pub(super) types: BTreeSet<u16>,
    /// Load-balanced names → service index.
    pub(super) balanced: BTreeMap<Box<[u8]>, u32>,
}

/// Lower-case wire keys of a name's ancestors up to (and including) `origin`, nearest first.
pub(super) fn ancestors(key: &[u8], origin_len: usize) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if key.len() - pos <= origin_len {
            return None;
        }
        pos += 1 + key[pos] as usize;
        Some(&key[pos..])
    })
}

/// Checks every zone and gives each load-balanced name to the zone that owns it; reports
/// every problem in every zone.
pub(super) fn check_zones(
    parsed: Vec<(PathBuf, Name, Vec<SourceRecord>)>,
    balanced: &[BalancedName],
) -> Result<Vec<ZoneData>, ZoneErrors> {
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
            errors.push(ZoneError::at(
                &b.file,
                b.line,
                format!("{} is in none of the zones served", b.name),
            ));
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
    Ok(data)
}

/// Checks one zone's records and groups them by name.
fn check_zone(
    file: &Path,
    origin: &Name,
    records: Vec<SourceRecord>,
    balanced_here: &[&BalancedName],
    errors: &mut Vec<ZoneError>,
) -> Option<ZoneData> {
    let at = |r: &SourceRecord, message: String| ZoneError::at(&r.file, r.line, message);
    let whole = |line: usize, message: String| ZoneError::at(file, line, message);
    let origin_key = name_key(origin);
    let mut names: BTreeMap<Box<[u8]>, NameData> = BTreeMap::new();
    let mut soa: Option<(RData, u32, usize)> = None;
    let mut record_count = 0;
    let mut types = BTreeSet::new();
    let before = errors.len();
    let mut has_dname = false;

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
        has_dname |= rtype == RecordType::DNAME;
        // Records of a name mostly come together: most find their name in the map.
        let node = match names.get_mut(&key) {
            Some(node) => node,
            None => names.entry(key).or_default(),
        };
        if node.name.is_none() {
            node.name = Some(r.name.clone());
        }
        match node.rrsets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) => {
                if set.rdatas.contains(&r.rdata) {
                    continue; // a duplicate record is one record (RFC 2181 §5)
                }
                if rtype == RecordType::CNAME {
                    let (f, l) = &set.first;
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
                node.rrsets.push(RRset {
                    rtype,
                    ttl: r.ttl,
                    rdatas: vec![r.rdata.clone()],
                    first: (r.file.clone(), r.line),
                });
            }
        }
        types.insert(u16::from(rtype));
        record_count += 1;
    }

    // RFC 5155 §7.2.8: a name holding only NSEC3 records (and their signatures), with
    // nothing below it, is answered as if they did not exist: NXDOMAIN, as NSD does.
    let has_nsec3 = types.contains(&50);
    let below: BTreeSet<&[u8]> = names
        .keys()
        .filter(|_| has_nsec3)
        .flat_map(|k| ancestors(k, origin_key.len()))
        .collect();
    let nsec3_only: Vec<Box<[u8]>> = names
        .iter()
        .filter(|_| has_nsec3)
        .filter(|(k, n)| {
            !below.contains(&k[..])
                && n.rrsets.iter().any(|s| u16::from(s.rtype) == 50)
                && n.rrsets
                    .iter()
                    .all(|s| matches!(u16::from(s.rtype), 46 | 50))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in nsec3_only {
        names.remove(&key);
    }

    // CNAME and other data (RFC 1034 §3.6.2; RFC 2181 §10.1), except the DNSSEC records
    // that sign it and prove what exists (RFC 4035 §2.5, §2.3; SIG, NXT, KEY of RFC 2535).
    let beside_cname =
        |t: RecordType| t == RecordType::CNAME || matches!(u16::from(t), 24 | 25 | 30 | 46 | 47);
    for r in &records {
        if r.rdata.record_type() != RecordType::CNAME {
            continue;
        }
        let key = name_key(&r.name);
        if let Some(node) = names.get(&key)
            && node.rrsets.iter().any(|s| !beside_cname(s.rtype))
        {
            let others: Vec<String> = node
                .rrsets
                .iter()
                .filter(|s| !beside_cname(s.rtype))
                .map(|s| super::master::type_mnemonic(s.rtype))
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

    // A DNAME owner has no descendants (RFC 6672 §2.4), and one DNAME at most.
    for r in records.iter().filter(|_| has_dname) {
        let key = name_key(&r.name);
        if r.rdata.record_type() == RecordType::DNAME
            && names
                .get(&key)
                .and_then(|n| n.get(RecordType::DNAME))
                .is_some_and(|s| s.rdatas.len() > 1 && s.rdatas[0] != r.rdata)
        {
            let (f, l) = &names[&key].get(RecordType::DNAME).expect("a DNAME").first;
            errors.push(at(
                r,
                format!(
                    "second DNAME at {} (first at {}:{l}): a name has at most one",
                    r.name,
                    f.display()
                ),
            ));
        }
        if let Some(above) = ancestors(&key, origin_key.len()).find(|a| {
            names
                .get(*a)
                .is_some_and(|n| n.get(RecordType::DNAME).is_some())
        }) {
            let (f, l) = &names[above].get(RecordType::DNAME).expect("a DNAME").first;
            errors.push(at(
                r,
                format!(
                    "{} is below the DNAME at {} ({}:{l}): a DNAME owner has no descendants",
                    r.name,
                    key_to_name(above),
                    f.display()
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
        if let Some(above) = ancestors(&key, origin_key.len()).find(|a| {
            names
                .get(*a)
                .is_some_and(|n| n.get(RecordType::DNAME).is_some())
        }) {
            errors.push(ZoneError::at(
                &b.file,
                b.line,
                format!(
                    "{} is load-balanced, but it is below the DNAME at {}: a DNAME owner has no descendants",
                    b.name,
                    key_to_name(above)
                ),
            ));
        }
        if let Some(node) = names.get(&key) {
            for t in [RecordType::A, RecordType::AAAA, RecordType::CNAME] {
                if node.get(t).is_some() {
                    let (f, l) = &node.get(t).expect("an RRset").first;
                    errors.push(ZoneError::at(
                        &b.file,
                        b.line,
                        format!(
                            "{} is load-balanced, but {}:{l} gives it static {t} records; remove them from the zone file",
                            b.name,
                            f.display()
                        ),
                    ));
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
    let mut missing: BTreeSet<&[u8]> = BTreeSet::new();
    for k in names.keys() {
        for a in ancestors(k, origin_key.len()) {
            if names.contains_key(a) || !missing.insert(a) {
                break; // its ancestors are there or on the list already
            }
        }
    }
    let missing: Vec<Box<[u8]>> = missing.into_iter().map(Box::from).collect();
    for a in missing {
        names.insert(a, NameData::default());
    }
    let cuts: rustc_hash::FxHashSet<Box<[u8]>> = names
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
            errors.push(ZoneError::at(
                &b.file,
                b.line,
                format!(
                    "{} is load-balanced, but it is at or below the delegation {}",
                    b.name,
                    key_to_name(cut)
                ),
            ));
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

/// A name from its lower-case wire key (for empty non-terminals, which have no written form).
pub(super) fn key_to_name(key: &[u8]) -> Name {
    let mut labels = Vec::new();
    let mut pos = 0;
    while pos < key.len() && key[pos] != 0 {
        let len = key[pos] as usize;
        labels.push(&key[pos + 1..pos + 1 + len]);
        pos += 1 + len;
    }
    Name::from_labels(labels).unwrap_or_else(|_| Name::root())
}

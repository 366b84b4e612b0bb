//! Zone checks: records read from master files → one checked [`ZoneData`] per zone.
//!
//! What makes a zone servable: one SOA and NS at the apex, every name inside the origin,
//! CNAME alone at its name, nothing below a DNAME, load-balanced names without static
//! addresses and not below a delegation or a DNAME. Every problem is reported with its file and line; nothing is encoded here.

use super::index::NameIndex;
use super::master::SourceRecord;
use super::names::Names;
use super::wire::{self, Rdatas};
use super::{BalancedName, ZoneError, ZoneErrors};
use crate::answer::{WireName, name_key, name_key_in};
use hickory_proto::rr::{Name, RData, RecordType};
use rustc_hash::FxHashSet;
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
    /// Its records' data in wire form, as written ([`super::wire`]).
    pub(super) rdatas: Rdatas,
    /// Where its first record was written, for messages about conflicts.
    pub(super) first: Written,
}

/// One name of a zone as written: its records, or none for an empty non-terminal.
#[derive(Debug, Default)]
pub(super) struct NameData {
    /// Whether the name is written in the zone (it has records, or is load-balanced):
    /// not an empty non-terminal. Its written form is `Names::written`.
    pub(super) written: bool,
    /// Most names hold one (a host's A): inline, without an allocation.
    pub(super) rrsets: smallvec::SmallVec<[RRset; 1]>,
}

impl NameData {
    pub(super) fn get(&self, t: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == t)
    }
}

/// Where a record was written: a file of the zone's (`Grouping::files`) and a line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Written {
    file: u32,
    line: u32,
}

/// One zone's names, checked, before encoding.
pub(super) struct ZoneData {
    pub(super) origin: Name,
    pub(super) origin_key: Box<[u8]>,
    pub(super) file: PathBuf,
    pub(super) names: Names,
    /// Keys of names that are zone cuts (NS below the apex).
    pub(super) cuts: rustc_hash::FxHashSet<Box<[u8]>>,
    pub(super) soa: RData,
    /// The apex and the SOA's two names in wire form, for the SOA of every negative
    /// answer.
    pub(super) soa_names: [WireName; 3],
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

/// Whether the name whose lower-case wire key is `key` is in the zone whose origin's key
/// is `origin_key`: the origin's key ends it, at a label (as `Name::zone_of` compares,
/// without walking the labels of both names).
pub(super) fn in_zone(key: &[u8], origin_key: &[u8]) -> bool {
    match ancestors(key, origin_key.len()).last() {
        Some(suffix) => suffix == origin_key,
        None => key == origin_key,
    }
}

/// Checks every zone and gives each load-balanced name to the zone that owns it; reports
/// every problem in every zone.
pub(super) fn check_zones(
    zones: Vec<Grouping>,
    balanced: &[BalancedName],
) -> Result<Vec<ZoneData>, ZoneErrors> {
    let mut errors = Vec::new();
    let mut data = Vec::new();
    // Each balanced name belongs to the most specific zone that contains it.
    let zone_of = |b: &BalancedName| {
        zones
            .iter()
            .filter(|z| z.origin.zone_of(&b.name))
            .max_by_key(|z| z.origin.num_labels())
            .map(|z| z.origin.clone())
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
    for zone in zones {
        let here: Vec<&BalancedName> = balanced
            .iter()
            .zip(&owners)
            .filter(|(_, o)| o.as_ref() == Some(&zone.origin))
            .map(|(b, _)| b)
            .collect();
        if let Some(z) = zone.finish(&here, &mut errors) {
            data.push(z);
        }
    }
    if !errors.is_empty() {
        return Err(ZoneErrors(errors));
    }
    Ok(data)
}

/// One zone's records, checked one by one and grouped by name.
pub(super) fn group(file: &Path, origin: &Name, records: Vec<SourceRecord>) -> Grouping {
    let mut grouping = Grouping::new(file, origin);
    for r in records {
        grouping.add(r);
    }
    grouping
}

/// Where one record was written, kept while a zone is read for the checks that look at
/// every record once all are in (CNAME beside other data, the DNAME rules): a few bytes
/// instead of the record, which is grouped into its name and dropped as it is read.
#[derive(Clone, Copy)]
struct Place {
    /// The number of the record's name in `Grouping::seqs`, or `SKIPPED | i` for
    /// `Grouping::skipped[i]`.
    name: u32,
    line: u32,
    /// Index into `Grouping::files`.
    file: u32,
    rtype: RecordType,
    /// A DNAME whose data differs from the first DNAME at its name.
    second_dname: bool,
}

/// Marks a `Place::name` as an index into `Grouping::skipped`.
const SKIPPED: u32 = 1 << 31;

/// One zone being read: each record is checked and grouped into its name as it comes
/// ([`Grouping::add`]); the checks that need the whole zone run in [`Grouping::finish`].
pub(super) struct Grouping {
    origin: Name,
    origin_key: Box<[u8]>,
    file: PathBuf,
    /// Each name's key → its number, the index of its data in `names`, in the order the
    /// names were first written: a hash while the records come, one sort in
    /// [`Grouping::finish`] (a tree of boxed keys compared at every record cost more).
    seqs: NameIndex,
    /// The zone's names in the order they were first written.
    names: Vec<NameData>,
    /// Each name's wire form as its first record wrote it, where `seqs` has its key.
    cased: Vec<u8>,
    soa: Option<(RData, u32, usize)>,
    record_count: usize,
    types: BTreeSet<u16>,
    has_dname: bool,
    /// Every record inside the zone, in file order.
    places: Vec<Place>,
    /// The files records came from (`$INCLUDE`s), in order of their first record.
    files: Vec<Arc<Path>>,
    /// Keys of records inside the zone that were refused before joining a name.
    skipped: Vec<Box<[u8]>>,
    first_line: Option<usize>,
    errors: Vec<ZoneError>,
    /// The record being added, in wire form.
    wire: Vec<u8>,
    /// The number of the name of the record added last.
    last: Option<u32>,
}

impl Grouping {
    pub(super) fn new(file: &Path, origin: &Name) -> Grouping {
        Grouping::for_bytes(file, origin, 0)
    }

    /// A grouping for a zone whose text is about `bytes` long: its table of names is
    /// sized for that at once, not doubled and rehashed a score of times while the
    /// records come. A name takes about 90 bytes of the benchmark's mixed zone; sized for
    /// one in 64, only a far denser file grows it (once or twice).
    pub(super) fn for_bytes(file: &Path, origin: &Name, bytes: u64) -> Grouping {
        const BYTES_PER_NAME: u64 = 64;
        let names = (bytes / BYTES_PER_NAME).min(1 << 24) as usize;
        Grouping {
            origin: origin.clone(),
            origin_key: name_key(origin),
            file: file.to_path_buf(),
            seqs: NameIndex::with_capacity(names, 0),
            names: Vec::new(),
            cased: Vec::new(),
            soa: None,
            record_count: 0,
            types: BTreeSet::new(),
            has_dname: false,
            places: Vec::new(),
            files: Vec::new(),
            skipped: Vec::new(),
            first_line: None,
            errors: Vec::new(),
            wire: Vec::new(),
            last: None,
        }
    }

    fn file_index(&mut self, file: &Arc<Path>) -> u32 {
        match self
            .files
            .iter()
            .rposition(|f| Arc::ptr_eq(f, file) || f == file)
        {
            Some(i) => i as u32,
            None => {
                self.files.push(file.clone());
                (self.files.len() - 1) as u32
            }
        }
    }

    /// Checks one record and adds it to its name.
    pub(super) fn add(&mut self, r: SourceRecord) {
        let at = |r: &SourceRecord, message: String| ZoneError::at(&r.file, r.line, message);
        self.first_line.get_or_insert(r.line);
        let mut buf = [0; 256];
        let key = name_key_in(&r.name, &mut buf);
        if !in_zone(key, &self.origin_key) {
            let e = at(
                &r,
                format!("{} is outside the zone {}", r.name, self.origin),
            );
            self.errors.push(e);
            return;
        }
        let rtype = r.rdata.record_type();
        let file = self.file_index(&r.file);
        let mut place = Place {
            name: 0,
            line: r.line as u32,
            file,
            rtype,
            second_dname: false,
        };
        let mut skip = |this: &mut Grouping, key: Box<[u8]>, error: ZoneError| {
            this.errors.push(error);
            place.name = SKIPPED | this.skipped.len() as u32;
            this.skipped.push(key);
            this.places.push(place);
        };
        if rtype == RecordType::SOA {
            if *key != *self.origin_key {
                let e = at(
                    &r,
                    format!(
                        "SOA record at {} is not at the zone apex {}",
                        r.name, self.origin
                    ),
                );
                return skip(self, key.into(), e);
            }
            if self.soa.is_some() {
                let e = at(
                    &r,
                    format!(
                        "second SOA record for {}: a zone has exactly one",
                        self.origin
                    ),
                );
                return skip(self, key.into(), e);
            }
            self.soa = Some((r.rdata.clone(), r.ttl, r.line));
        }
        if matches!(
            rtype,
            RecordType::OPT | RecordType::ANY | RecordType::AXFR | RecordType::IXFR
        ) {
            let e = at(
                &r,
                format!("{rtype} is not a record type that can be stored in a zone"),
            );
            return skip(self, key.into(), e);
        }
        self.wire.clear();
        if let Err(e) = wire::push_rdata(&mut self.wire, &r.rdata) {
            let e = at(&r, format!("cannot encode its {rtype} record data: {e}"));
            return skip(self, key.into(), e);
        }
        if self.wire.len() > usize::from(u16::MAX) {
            let e = at(
                &r,
                format!(
                    "{rtype} record data of {} octets: a record holds at most 65,535",
                    self.wire.len()
                ),
            );
            return skip(self, key.into(), e);
        }
        self.has_dname |= rtype == RecordType::DNAME;
        // A name's records mostly follow one another: the last name's number is
        // tried first, without a look-up.
        let seq = match self.last.filter(|&s| self.seqs.key(s) == key) {
            Some(seq) => seq,
            None => match self.seqs.get(key) {
                Some(seq) => seq,
                None => {
                    self.names.push(NameData::default());
                    super::wire::push_name(&mut self.cased, &r.name);
                    self.seqs.push(key)
                }
            },
        };
        self.last = Some(seq);
        let node = &mut self.names[seq as usize];
        place.name = seq;
        let SourceRecord {
            name,
            ttl,
            rdata: _,
            file,
            line,
        } = r;
        let rdata = &self.wire[..];
        match node.rrsets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) => {
                place.second_dname = rtype == RecordType::DNAME
                    && !wire::same_rdata(u16::from(rtype), set.rdatas.first(), rdata);
                self.places.push(place);
                if set.rdatas.contains(rtype, rdata) {
                    return; // a duplicate record is one record (RFC 2181 §5)
                }
                if rtype == RecordType::CNAME {
                    let (f, l) = (&self.files[set.first.file as usize], set.first.line);
                    self.errors.push(ZoneError::at(
                        &file,
                        line,
                        format!(
                            "second CNAME at {name} (first at {}:{l}): a name has at most one",
                            f.display()
                        ),
                    ));
                    return;
                }
                if set.ttl != ttl {
                    tracing::warn!(file = %file.display(), line, "TTL {ttl} differs from the RRset's {}; using {}", set.ttl, set.ttl.min(ttl));
                    set.ttl = set.ttl.min(ttl);
                }
                set.rdatas.push(rdata);
            }
            None => {
                // A type joins the zone's types with its first RRset.
                self.types.insert(u16::from(rtype));
                self.places.push(place);
                node.rrsets.push(RRset {
                    rtype,
                    ttl,
                    rdatas: Rdatas::one(rdata),
                    first: Written {
                        file: place.file,
                        line: place.line,
                    },
                });
            }
        }
        node.written = true;
        self.record_count += 1;
    }

    /// The checks that need the whole zone; the zone, or `None` with its problems added
    /// to `errors` (those of [`Grouping::add`] first).
    pub(super) fn finish(
        self,
        balanced_here: &[&BalancedName],
        errors: &mut Vec<ZoneError>,
    ) -> Option<ZoneData> {
        let before = errors.len();
        let Grouping {
            origin,
            origin_key,
            file,
            mut seqs,
            names: mut data,
            mut cased,
            soa,
            record_count,
            types,
            has_dname,
            places,
            files,
            skipped,
            first_line,
            errors: found,
            wire: _,
            last: _,
        } = self;
        errors.extend(found);
        let origin = &origin;
        let file = file.as_path();
        let whole = |line: usize, message: String| ZoneError::at(file, line, message);
        // Until the names are sorted (below), a name is found by its number in `seqs`.
        fn get<'d>(seqs: &NameIndex, data: &'d [NameData], key: &[u8]) -> Option<&'d NameData> {
            seqs.get(key).map(|i| &data[i as usize])
        }
        {
            let (seqs, data) = (&seqs, &data[..]);
            let key_of = |p: &Place| -> &[u8] {
                match p.name & SKIPPED {
                    0 => seqs.key(p.name),
                    _ => &skipped[(p.name & !SKIPPED) as usize],
                }
            };
            let cased = &cased;
            let display = |p: &Place| match data.get(p.name as usize) {
                Some(n) if n.written && p.name & SKIPPED == 0 => {
                    key_to_name(&cased[seqs.span(p.name)])
                }
                _ => key_to_name(key_of(p)),
            };
            let at = |p: &Place, message: String| {
                ZoneError::at(&files[p.file as usize], p.line as usize, message)
            };

            // CNAME and other data (RFC 1034 §3.6.2; RFC 2181 §10.1), except the DNSSEC
            // records that sign it and prove what exists (RFC 4035 §2.5, §2.3; SIG, NXT,
            // KEY of RFC 2535).
            let beside_cname = |t: RecordType| {
                t == RecordType::CNAME || matches!(u16::from(t), 24 | 25 | 30 | 46 | 47)
            };
            for p in places.iter().filter(|p| p.rtype == RecordType::CNAME) {
                let key = key_of(p);
                if let Some(node) = get(seqs, data, key)
                    && node.rrsets.iter().any(|s| !beside_cname(s.rtype))
                {
                    let others: Vec<String> = node
                        .rrsets
                        .iter()
                        .filter(|s| !beside_cname(s.rtype))
                        .map(|s| super::master::type_mnemonic(s.rtype))
                        .collect();
                    errors.push(at(
                        p,
                        format!(
                            "CNAME at {} next to other data ({}): a CNAME must stand alone",
                            display(p),
                            others.join(", ")
                        ),
                    ));
                }
            }

            // A DNAME owner has no descendants (RFC 6672 §2.4), and one DNAME at most.
            let dname_at = |key: &[u8]| {
                get(seqs, data, key)
                    .and_then(|n| n.get(RecordType::DNAME))
                    .map(|s| (&files[s.first.file as usize], s.first.line))
            };
            for p in places.iter().filter(|_| has_dname) {
                let key = key_of(p);
                if p.second_dname {
                    let (f, l) = dname_at(key).expect("a DNAME");
                    errors.push(at(
                        p,
                        format!(
                            "second DNAME at {} (first at {}:{l}): a name has at most one",
                            display(p),
                            f.display()
                        ),
                    ));
                }
                if let Some((above, (f, l))) = ancestors(key, origin_key.len())
                    .find_map(|a| dname_at(a).map(|first| (a, first)))
                {
                    errors.push(at(
                        p,
                        format!(
                            "{} is below the DNAME at {} ({}:{l}): a DNAME owner has no descendants",
                            display(p),
                            key_to_name(above),
                            f.display()
                        ),
                    ));
                }
            }
        }
        drop(places);

        // RFC 5155 §7.2.8: a name holding only NSEC3 records (and their signatures), with
        // nothing below it, is answered as if they did not exist: NXDOMAIN, as NSD does.
        // (No such name holds a CNAME or DNAME: the checks above see the same names.)
        let mut gone: FxHashSet<u32> = FxHashSet::default();
        if types.contains(&50) {
            let below: BTreeSet<&[u8]> = (0..seqs.len())
                .flat_map(|i| ancestors(seqs.key(i), origin_key.len()))
                .collect();
            gone = (0..seqs.len())
                .filter(|&i| {
                    let n = &data[i as usize];
                    !below.contains(seqs.key(i))
                        && n.rrsets.iter().any(|s| u16::from(s.rtype) == 50)
                        && n.rrsets
                            .iter()
                            .all(|s| matches!(u16::from(s.rtype), 46 | 50))
                })
                .collect();
        }

        // A missing record has no line of its own: name the first record (or line 1).
        let first_record_line = first_line.unwrap_or(1);
        let Some((soa, soa_ttl, soa_line)) = soa else {
            errors.push(whole(
                first_record_line,
                format!("no SOA record at the apex of {origin}"),
            ));
            return None;
        };
        if get(&seqs, &data, &origin_key)
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
        // Most are names the file does not have, which join it here.
        let mut balanced: Vec<(Box<[u8]>, u32)> = Vec::with_capacity(balanced_here.len());
        for b in balanced_here {
            let key = name_key(&b.name);
            if let Some(above) = ancestors(&key, origin_key.len())
                .filter(|_| has_dname)
                .find(|a| get(&seqs, &data, a).is_some_and(|n| n.get(RecordType::DNAME).is_some()))
            {
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
            let seq = match seqs.get(&key) {
                // In place of a name of NSEC3 records only (as if they did not exist).
                Some(seq) if gone.remove(&seq) => {
                    data[seq as usize] = NameData::default();
                    seq
                }
                Some(seq) => {
                    let node = &mut data[seq as usize];
                    for t in [RecordType::A, RecordType::AAAA, RecordType::CNAME] {
                        if let Some(set) = node.get(t) {
                            let (f, l) = (&files[set.first.file as usize], set.first.line);
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
                    seq
                }
                None => {
                    data.push(NameData::default());
                    super::wire::push_name(&mut cased, &b.name);
                    seqs.push(&key)
                }
            };
            let node = &mut data[seq as usize];
            if !node.written {
                node.written = true;
                let mut written = Vec::new();
                super::wire::push_name(&mut written, &b.name);
                cased[seqs.span(seq)].copy_from_slice(&written);
            }
            balanced.push((key, b.service));
        }
        if errors.len() > before {
            return None;
        }
        // Sorted, then built in one pass (what `collect` does with sorted keys); stably, so
        // of two services of one name the later wins, as it did by inserting.
        balanced.sort_by(|a, b| a.0.cmp(&b.0));
        let balanced: BTreeMap<Box<[u8]>, u32> = balanced.into_iter().collect();

        // Empty non-terminals: every ancestor of a name, up to the origin, exists.
        let mut buf = [0u8; 256];
        for i in 0..seqs.len() {
            if gone.contains(&i) {
                continue;
            }
            let key = seqs.key(i);
            buf[..key.len()].copy_from_slice(key);
            let key = &buf[..key.len()];
            for a in ancestors(key, origin_key.len()) {
                match seqs.get(a) {
                    Some(j) if !gone.contains(&j) => break, // it and its ancestors are there
                    Some(j) => {
                        gone.remove(&j); // a name of NSEC3 records only, with a name below
                        data[j as usize] = NameData::default();
                    }
                    None => {
                        data.push(NameData::default());
                        cased.extend_from_slice(a);
                        seqs.push(a);
                    }
                }
            }
        }

        let names = Names::new(seqs, cased, data, gone);

        let cuts: rustc_hash::FxHashSet<Box<[u8]>> = names
            .iter()
            .filter(|(k, n)| **k != *origin_key && n.get(RecordType::NS).is_some())
            .map(|(k, _)| k.into())
            .collect();
        for b in balanced_here.iter().filter(|_| !cuts.is_empty()) {
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
        let soa_names = [origin, &s.mname, &s.rname].map(WireName::new);
        Some(ZoneData {
            origin: origin.clone(),
            origin_key,
            file: file.to_path_buf(),
            names,
            cuts,
            soa,
            soa_names,
            negative_ttl,
            record_count,
            types,
            balanced,
        })
    }
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

//! A zone's records as a zone transfer sends them (RFC 5936): encoded once at load.
//!
//! Answers are precomputed per query name and type and keep no record list; a transfer
//! needs every record once. [`ZoneRecords`] holds them as uncompressed wire records (owner,
//! type, class, TTL, RDATA) in one buffer, the SOA apart since it opens and closes the
//! transfer, plus the services of the zone's load-balanced names, whose addresses are
//! decided when the transfer runs. The cost is about the zone's size on the wire.
//!
//! [`Zones::carry_journal`] keeps, across reloads, what changed between serials
//! ([`Delta`]s, at most [`JOURNAL_LEN`] per zone) so IXFR (RFC 1995) can send differences.
//! Zones with load-balanced names keep none: their addresses are not records of a serial.

use super::check::ZoneData;
use super::{Zone, Zones};
use crate::answer::EncodeError;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

const CLASS_IN: u16 = 1;

/// One zone's records for a transfer.
#[derive(Debug, Default)]
pub struct ZoneRecords {
    /// The SOA record, in wire form.
    pub soa: Box<[u8]>,
    /// Every other record, in wire form, one after the other, in canonical name order.
    pub records: Box<[u8]>,
    /// The services (indices into the snapshot's) of the zone's load-balanced names.
    pub balanced: Box<[u32]>,
    /// The changes of the last reloads that raised the serial, oldest first, each to the
    /// serial of the next; the last ends at this zone's serial.
    pub journal: Vec<Arc<Delta>>,
}

/// The reloads whose changes a zone remembers for IXFR.
pub const JOURNAL_LEN: usize = 16;

/// What one reload changed in a zone: RFC 1995's difference sequence, in wire records.
#[derive(Debug)]
pub struct Delta {
    pub from_serial: u32,
    /// The SOA before and after.
    pub from_soa: Box<[u8]>,
    pub to_soa: Box<[u8]>,
    pub removed: Box<[u8]>,
    pub added: Box<[u8]>,
}

/// The wire records of `data`, one at a time.
pub fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let len = record_len(data.get(pos..)?)?;
        let r = &data[pos..pos + len];
        pos += len;
        Some(r)
    })
}

fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}

impl Zones {
    /// Carries each zone's journal over from `previous` (the zones served before a
    /// reload), adding what changed when the serial went up; a serial that went down or
    /// jumped too far (RFC 1982) starts the journal afresh.
    pub fn carry_journal(&mut self, previous: &Zones) {
        // By origin: with 10,000 zones, a search of the list per zone is 10⁸ comparisons.
        let by_origin: FxHashMap<&Name, &Zone> =
            previous.zones.iter().map(|z| (&z.origin, z)).collect();
        for zone in &mut self.zones {
            let Some(&old) = by_origin.get(&zone.origin) else {
                continue;
            };
            if !zone.records.balanced.is_empty() || !old.records.balanced.is_empty() {
                continue;
            }
            if old.serial == zone.serial {
                zone.records.journal = old.records.journal.clone();
            } else if serial_lt(old.serial, zone.serial) {
                let mut journal = old.records.journal.clone();
                journal.push(Arc::new(delta(old, zone)));
                let excess = journal.len().saturating_sub(JOURNAL_LEN);
                journal.drain(..excess);
                zone.records.journal = journal;
            }
        }
    }
}

/// The records of `old` that `new` lacks, and those it adds, each in its zone's order.
///
/// Both zones list their records owner by owner, owners in the order of their lower-case
/// wire names (`check::ZoneData::names`), so one walk over both finds the differences
/// without a set of a million records: only the records of an owner whose records
/// differ are compared one by one. Should an owner ever come out of order, the walk
/// gives way to comparing record sets, which needs no order.
fn delta(old: &Zone, new: &Zone) -> Delta {
    let (removed, added) = merge_difference(&old.records.records, &new.records.records)
        .unwrap_or_else(|| set_difference(&old.records.records, &new.records.records));
    Delta {
        from_serial: old.serial,
        from_soa: old.records.soa.clone(),
        to_soa: new.records.soa.clone(),
        removed: removed.into(),
        added: added.into(),
    }
}

/// The wire records of `old` missing from `new`, and of `new` missing from `old`, found
/// by walking both owner by owner; `None` when an owner is out of order on either side.
fn merge_difference(old: &[u8], new: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut removed = Vec::new();
    let mut added = Vec::new();
    let mut old_runs = owner_runs(old).peekable();
    let mut new_runs = owner_runs(new).peekable();
    let (mut last_old, mut last_new): (&[u8], &[u8]) = (&[], &[]);
    loop {
        let order = match (old_runs.peek(), new_runs.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((o, _)), Some((n, _))) => owner_cmp(o, n),
        };
        if order.is_le() {
            let (owner, _) = old_runs.peek()?;
            if !last_old.is_empty() && owner_cmp(last_old, owner).is_ge() {
                return None;
            }
            last_old = owner;
        }
        if order.is_ge() {
            let (owner, _) = new_runs.peek()?;
            if !last_new.is_empty() && owner_cmp(last_new, owner).is_ge() {
                return None;
            }
            last_new = owner;
        }
        match order {
            std::cmp::Ordering::Less => removed.extend_from_slice(old_runs.next()?.1),
            std::cmp::Ordering::Greater => added.extend_from_slice(new_runs.next()?.1),
            std::cmp::Ordering::Equal => {
                let (_, before) = old_runs.next()?;
                let (_, after) = new_runs.next()?;
                if before != after {
                    run_difference(before, after, &mut removed, &mut added);
                }
            }
        }
    }
    Some((removed, added))
}

/// The records of one owner that `before` has and `after` lacks (to `removed`), and the
/// other way round (to `added`), each in its run's order.
fn run_difference(before: &[u8], after: &[u8], removed: &mut Vec<u8>, added: &mut Vec<u8>) {
    let mut sorted_before: Vec<&[u8]> = split(before).collect();
    let mut sorted_after: Vec<&[u8]> = split(after).collect();
    sorted_before.sort_unstable();
    sorted_after.sort_unstable();
    for r in split(before).filter(|r| sorted_after.binary_search(r).is_err()) {
        removed.extend_from_slice(r);
    }
    for r in split(after).filter(|r| sorted_before.binary_search(r).is_err()) {
        added.extend_from_slice(r);
    }
}

/// The records of `data` as runs of one owner each: the owner's wire name (as written)
/// and the run's bytes.
fn owner_runs(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let first = data.get(pos..)?;
        let owner = &first[..owner_len(first)?];
        let start = pos;
        while let Some(len) = data.get(pos..).and_then(record_len) {
            if !data[pos..].starts_with(owner) {
                break;
            }
            pos += len;
        }
        // A malformed record (never written by `push_record`) ends the walk.
        (pos > start).then(|| (owner, &data[start..pos]))
    })
}

/// The length of the wire name `record` starts with (its owner), root label included.
fn owner_len(record: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let l = *record.get(pos)? as usize;
        pos += 1 + l;
        if l == 0 {
            return (pos <= record.len()).then_some(pos);
        }
    }
}

/// Owners in the order of their lower-case wire forms. Label lengths (at most 63) are no
/// letters, so lowering the whole wire name lowers just its labels.
fn owner_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match a.iter().zip(b).find(|(x, y)| !x.eq_ignore_ascii_case(y)) {
        Some((x, y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
        None => a.len().cmp(&b.len()),
    }
}

/// [`merge_difference`] by record sets, whatever the order.
fn set_difference(old: &[u8], new: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let before: FxHashSet<&[u8]> = split(old).collect();
    let after: FxHashSet<&[u8]> = split(new).collect();
    let removed = split(old).filter(|r| !after.contains(r)).flatten();
    let added = split(new).filter(|r| !before.contains(r)).flatten();
    (removed.copied().collect(), added.copied().collect())
}

/// The length of the uncompressed wire record that `data` starts with.
pub fn record_len(data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let l = *data.get(pos)? as usize;
        pos += 1 + l;
        if l == 0 {
            break;
        }
    }
    let rdlen = u16::from_be_bytes([*data.get(pos + 8)?, *data.get(pos + 9)?]) as usize;
    let end = pos + 10 + rdlen;
    (end <= data.len()).then_some(end)
}

/// Appends one uncompressed wire record.
pub fn push_record(out: &mut Vec<u8>, owner: &Name, rtype: u16, ttl: u32, rdata: &[u8]) {
    push_name(out, owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// A name in wire form, uncompressed, in the case it was written.
pub fn push_name(out: &mut Vec<u8>, name: &Name) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// `rdata` in uncompressed wire form, in `bytes` (cleared first: one buffer for a zone).
fn rdata_wire<'b>(rdata: &RData, bytes: &'b mut Vec<u8>) -> Result<&'b [u8], EncodeError> {
    bytes.clear();
    let mut enc = BinEncoder::new(bytes);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    rdata
        .emit(&mut enc)
        .map_err(|e| EncodeError::Rdata(e.to_string()))?;
    Ok(bytes)
}

/// Encodes every record of a checked zone.
pub(super) fn zone_records(z: &ZoneData) -> Result<ZoneRecords, EncodeError> {
    let mut soa = Vec::new();
    let mut records = Vec::new();
    let mut wire = Vec::new();
    for (key, node) in &z.names {
        let Some(name) = &node.name else { continue };
        for set in &node.rrsets {
            let out = if set.rtype == RecordType::SOA && *key == z.origin_key {
                &mut soa
            } else {
                &mut records
            };
            for rd in &set.rdatas {
                let rdata = rdata_wire(rd, &mut wire)?;
                push_record(out, name, u16::from(set.rtype), set.ttl, rdata);
            }
        }
    }
    Ok(ZoneRecords {
        soa: soa.into(),
        records: records.into(),
        balanced: z.balanced.values().copied().collect(),
        journal: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(records: &[(&str, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (owner, ttl) in records {
            let owner = Name::from_ascii(owner).unwrap();
            push_record(&mut out, &owner, 1, *ttl, &[192, 0, 2, 1]);
        }
        out
    }

    #[test]
    fn owners_out_of_order_give_way_to_record_sets() {
        let old = wire(&[("b.example.", 60), ("a.example.", 60)]);
        let new = wire(&[("a.example.", 60), ("c.example.", 60)]);
        assert!(merge_difference(&old, &new).is_none());
        // One owner in two runs is out of order too.
        let split_owner = wire(&[("a.example.", 60), ("b.example.", 60), ("a.example.", 61)]);
        assert!(merge_difference(&split_owner, &new).is_none());
        let (removed, added) = set_difference(&old, &new);
        assert_eq!(removed, wire(&[("b.example.", 60)]));
        assert_eq!(added, wire(&[("c.example.", 60)]));
    }

    #[test]
    fn owners_compare_without_case_as_the_zone_orders_them() {
        let key = |s: &str| {
            let mut out = Vec::new();
            push_name(&mut out, &Name::from_ascii(s).unwrap());
            out
        };
        use std::cmp::Ordering::*;
        assert_eq!(
            owner_cmp(&key("Host.example."), &key("host.example.")),
            Equal
        );
        assert_eq!(owner_cmp(&key("a.example."), &key("B.example.")), Less);
        // A shorter first label sorts first: its length byte is smaller.
        assert_eq!(owner_cmp(&key("zz.example."), &key("aaa.example.")), Less);
        assert_eq!(owner_cmp(&key("example."), &key("example.com.")), Less);
    }
}

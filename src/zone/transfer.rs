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
use rustc_hash::FxHashSet;
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

impl ZoneRecords {
    /// The records after the SOA, one wire record at a time.
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        split(&self.records)
    }
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
        for zone in &mut self.zones {
            let Some(old) = previous.zones.iter().find(|z| z.origin == zone.origin) else {
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

/// The records of `old` that `new` lacks, and those it adds.
fn delta(old: &Zone, new: &Zone) -> Delta {
    let before: FxHashSet<&[u8]> = old.records.iter().collect();
    let after: FxHashSet<&[u8]> = new.records.iter().collect();
    let removed: Vec<u8> = old
        .records
        .iter()
        .filter(|r| !after.contains(r))
        .flatten()
        .copied()
        .collect();
    let added: Vec<u8> = new
        .records
        .iter()
        .filter(|r| !before.contains(r))
        .flatten()
        .copied()
        .collect();
    Delta {
        from_serial: old.serial,
        from_soa: old.records.soa.clone(),
        to_soa: new.records.soa.clone(),
        removed: removed.into(),
        added: added.into(),
    }
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

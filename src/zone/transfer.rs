//! A zone's records as a zone transfer sends them (RFC 5936): encoded once at load.
//!
//! Answers are precomputed per query name and type and keep no record list; a transfer
//! needs every record once. [`ZoneRecords`] holds them as uncompressed wire records (owner,
//! type, class, TTL, RDATA) in one buffer, the SOA apart since it opens and closes the
//! transfer, plus the services of the zone's load-balanced names, whose addresses are
//! decided when the transfer runs. The cost is about the zone's size on the wire.

use super::check::ZoneData;
use crate::answer::EncodeError;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

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

fn rdata_wire(rdata: &RData) -> Result<Vec<u8>, EncodeError> {
    let mut bytes = Vec::new();
    let mut enc = BinEncoder::new(&mut bytes);
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
    for (key, node) in &z.names {
        let Some(name) = &node.name else { continue };
        for set in &node.rrsets {
            let out = if set.rtype == RecordType::SOA && *key == z.origin_key {
                &mut soa
            } else {
                &mut records
            };
            for rd in &set.rdatas {
                push_record(out, name, u16::from(set.rtype), set.ttl, &rdata_wire(rd)?);
            }
        }
    }
    Ok(ZoneRecords {
        soa: soa.into(),
        records: records.into(),
        balanced: z.balanced.values().copied().collect(),
    })
}

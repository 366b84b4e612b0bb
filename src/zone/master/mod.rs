//! Reader for RFC 1035 master (zone) files. It turns zone text into records that
//! remember the file and line they were written on, and reports every problem it
//! finds with file and line. It only reads: it must not judge zone-level rules
//! (SOA present, names inside the zone, CNAME conflicts), which a later stage
//! checks, and it must never panic, whatever the input.
//!
//! `lexer.rs` cuts text into entries, `reader.rs` follows directives (`generate.rs` expands
//! `$GENERATE`) and fills in owner, TTL and class, `rdata.rs` parses record data, `names.rs` domain names and escapes.
//! `types.rs` is the table of the types Meridian encodes itself, with their fields in
//! `fields.rs` and the odd ones in `loc.rs` (LOC, APL) and `svcb.rs` (SVCB, HTTPS).

mod fields;
mod generate;
mod lexer;
mod loc;
mod names;
mod rdata;
mod reader;
mod svcb;
mod types;

use crate::zone::ZoneError;
use hickory_proto::rr::{Name, RData};
use std::path::Path;
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// RFC 2181 §8: a TTL is an unsigned number between 0 and 2^31 - 1.
const MAX_TTL: u32 = i32::MAX as u32;

/// (line, message) of a problem in the file being read.
type Fail = (usize, String);

/// One resource record as read from a master file, with where it was written.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub name: Name,
    pub ttl: u32,
    pub rdata: RData,
    pub file: Arc<Path>,
    pub line: usize,
}

/// The mnemonic of a record type as zone files write it (`RP`, `LOC`), or `TYPEnnn`.
pub fn type_mnemonic(record_type: hickory_proto::rr::RecordType) -> String {
    rdata::type_name(record_type)
}

/// Reads the master file at `path`; `origin` (an FQDN) is the initial `$ORIGIN`.
pub fn parse_file(path: &Path, origin: &Name) -> Result<Vec<SourceRecord>, Vec<ZoneError>> {
    let mut records = Vec::new();
    read_file(path, origin, &mut |r| records.push(r))?;
    Ok(records)
}

/// Reads the master file at `path` like [`parse_file`], but hands each record to `sink`
/// as it is read instead of collecting them: a big zone is never held as a record list.
/// On errors, what `sink` was given is incomplete and is to be thrown away.
pub fn read_file(
    path: &Path,
    origin: &Name,
    sink: &mut dyn FnMut(SourceRecord),
) -> Result<(), Vec<ZoneError>> {
    read_text(&read_source(path)?, path, origin, sink)
}

/// The text of the master file at `path`, the first step of [`read_file`]: a regular
/// file of at most 1 GiB, in UTF-8.
pub fn read_source(path: &Path) -> Result<String, Vec<ZoneError>> {
    reader::read_source(path, reader::MAX_ZONE_BYTES)
        .map_err(|(line, message)| vec![ZoneError::at(path, line, message)])
}

/// Reads `text`, the contents of the master file `path` ([`read_source`]), handing each
/// record to `sink` like [`read_file`].
pub fn read_text(
    text: &str,
    path: &Path,
    origin: &Name,
    sink: &mut dyn FnMut(SourceRecord),
) -> Result<(), Vec<ZoneError>> {
    let mut origin = origin.clone();
    origin.set_fqdn(true);
    reader::read(text, path, origin, sink)
}

/// Reads master-file `text`. `path` names it in errors and records, and relative
/// `$INCLUDE` files are looked up in its directory.
pub fn parse_str(
    text: &str,
    path: &Path,
    origin: &Name,
) -> Result<Vec<SourceRecord>, Vec<ZoneError>> {
    let mut origin = origin.clone();
    origin.set_fqdn(true);
    let mut records = Vec::new();
    reader::read(text, path, origin, &mut |r| records.push(r))?;
    Ok(records)
}

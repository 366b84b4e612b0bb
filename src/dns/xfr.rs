//! Outgoing zone transfers over TCP: AXFR (RFC 5936), and IXFR (RFC 1995) answered with
//! the whole zone.
//!
//! `tcp.rs` asks [`is_transfer`] of each query (a look at the question's type, nothing
//! more) and hands a transfer to [`start`], which checks it against the zone's
//! `[transfer.ZONE]` table; every query it declines, including a transfer from a client
//! not allowed, goes to `respond.rs` as before, which refuses it. A [`Transfer`] then
//! writes one message at a time, up to 64 KiB each: the SOA, every record of the zone, the
//! load-balanced names as a static view (their healthy endpoints' addresses, or all of
//! them when none is healthy, at the service's TTL), and the SOA again. A signed request
//! gets every message signed, each chained on the MAC of the one before (RFC 8945 §5.3.1).
//! IXFR (RFC 1995): a client whose serial is ours gets our SOA alone (up to date); one
//! whose serial is in the zone's journal (`zone::Delta`, the changes of recent reloads)
//! gets the differences since; any other the full zone in AXFR form (§4). UDP never
//! comes here.

use super::respond::Request;
use super::tsig;
use super::wire::{self, FLAG_AA, FLAG_QR, FLAG_RD};
use crate::answer::name_key;
use crate::route::EndpointState;
use crate::snapshot::Snapshot;
use crate::zone::{At, Delta, Record, push_record, record_len};
use std::net::IpAddr;
use std::sync::Arc;

const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const CLASS_IN: u16 = 1;
/// An OPT record without options, advertising this payload size.
const OPT_PAYLOAD: u16 = 1232;
const OPT_LEN: usize = 11;

/// Whether `msg` asks for a zone transfer: a query (QR clear, opcode QUERY) whose one
/// question has type AXFR or IXFR. Reads a few header and question octets only.
pub fn is_transfer(msg: &[u8]) -> bool {
    if msg.len() < 12 || msg[2] & 0xF8 != 0 || msg[4..6] != [0, 1] {
        return false;
    }
    let mut pos = 12;
    while let Some(&len) = msg.get(pos) {
        if len == 0 {
            let qtype = msg
                .get(pos + 1..pos + 3)
                .map(|t| u16::from_be_bytes([t[0], t[1]]));
            return matches!(qtype, Some(TYPE_AXFR | TYPE_IXFR));
        }
        if len & 0xC0 != 0 {
            return false;
        }
        pos += 1 + len as usize;
    }
    false
}

/// Where a transfer is in its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    FirstSoa,
    /// The zone's records from this one on.
    Records(At),
    Extra(usize),
    LastSoa,
    Done,
}

/// A zone transfer under way: [`Transfer::next`] writes its messages one by one.
pub struct Transfer {
    snap: Arc<Snapshot>,
    zone: usize,
    id: u16,
    flags: u16,
    question: Vec<u8>,
    edns: bool,
    /// The key (index into `Config.tsig`) and the MAC the next message chains on.
    signing: Option<(usize, Vec<u8>)>,
    /// The request's time (seconds since the epoch): the first message's Time Signed.
    now: u64,
    /// Sent after the first SOA: the load-balanced names' addresses (after the zone's
    /// records), or for an incremental IXFR the difference sequences (instead of them).
    extra: Vec<u8>,
    incremental: bool,
    stage: Stage,
    first: bool,
    /// Records written so far.
    pub records: usize,
    pub messages: usize,
}

/// The transfer `msg` asks for, when `[transfer.ZONE]` allows it to `req.peer`; `None`
/// for every query `respond` should answer instead (with REFUSED, for a transfer).
pub fn start(snap: &Arc<Snapshot>, msg: &[u8], req: &Request<'_>) -> Option<Transfer> {
    let q = wire::parse(msg).ok()?;
    if !matches!(q.qtype, TYPE_AXFR | TYPE_IXFR) || q.qclass != CLASS_IN {
        return None;
    }
    if q.edns.is_some_and(|e| e.version > 0) {
        return None;
    }
    let signer = match q.tsig {
        Some(at) => Some(tsig::verify(&snap.config.tsig, msg, at as usize, req.now as u64).ok()?),
        None => None,
    };
    let key = signer.map(|s| {
        snap.config
            .tsig
            .iter()
            .position(|k| std::ptr::eq(k, s.key))
            .expect("the key is one of the config's")
    });
    let zone = snap
        .zones
        .zones()
        .iter()
        .position(|z| *name_key(&z.origin) == *q.key())?;
    let z = &snap.zones.zones()[zone];
    let kind = if q.qtype == TYPE_AXFR { "AXFR" } else { "IXFR" };
    let key_name = key.map_or("", |k| snap.config.tsig[k].name.as_str());
    let allowed = snap
        .config
        .transfer
        .iter()
        .find(|t| t.zone == z.origin)
        .is_some_and(|t| t.allows(req.peer, key));
    if !allowed {
        tracing::info!(zone = %z.origin_text, peer = %req.peer, key = key_name, "{kind} refused: not allowed by [transfer]");
        return None;
    }
    let client = (q.qtype == TYPE_IXFR)
        .then(|| ixfr_serial(msg, 12 + q.question.len()))
        .flatten();
    let up_to_date = client.is_some_and(|s| !serial_lt(s, z.serial));
    let differences = client
        .filter(|_| !up_to_date)
        .and_then(|s| differences(&z.records.journal, s));
    let incremental = differences.is_some();
    tracing::info!(zone = %z.origin_text, peer = %req.peer, key = key_name, serial = z.serial, up_to_date, incremental, "{kind} begins");
    let extra = match differences {
        _ if up_to_date => Vec::new(),
        Some(d) => d,
        None => balanced_records(snap, &z.records.balanced),
    };
    Some(Transfer {
        snap: snap.clone(),
        zone,
        id: q.id,
        flags: FLAG_QR | FLAG_AA | (q.flags & FLAG_RD),
        question: q.question.to_vec(),
        edns: q.edns.is_some(),
        signing: key.zip(signer.map(|s| s.mac.to_vec())),
        now: req.now as u64,
        extra,
        incremental,
        stage: if up_to_date {
            Stage::LastSoa
        } else {
            Stage::FirstSoa
        },
        first: true,
        records: 0,
        messages: 0,
    })
}

/// The static view of load-balanced names: the addresses of each service's healthy
/// endpoints (up, capacity above 0), or of all its endpoints when none is, at its TTL.
fn balanced_records(snap: &Snapshot, services: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    for &s in services {
        let service = &snap.services[s as usize];
        let health = snap.health.service(s as usize);
        let healthy = |i: usize| {
            health.endpoints.get(i) == Some(&EndpointState::Up) && service.endpoints[i].capacity > 0
        };
        let any = (0..service.endpoints.len()).any(healthy);
        let mut addrs: Vec<IpAddr> = (0..service.endpoints.len())
            .filter(|&i| !any || healthy(i))
            .map(|i| service.endpoints[i].address)
            .collect();
        addrs.sort();
        addrs.dedup();
        for a in addrs {
            match a {
                IpAddr::V4(v4) => {
                    push_record(&mut out, &service.name, TYPE_A, service.ttl, &v4.octets())
                }
                IpAddr::V6(v6) => push_record(
                    &mut out,
                    &service.name,
                    TYPE_AAAA,
                    service.ttl,
                    &v6.octets(),
                ),
            }
        }
    }
    out
}

/// RFC 1995 §4's difference sequences from serial `from` to the zone's: for each reload
/// since, the old SOA, the records removed, the new SOA, the records added. `None` when
/// the journal does not reach back to `from`.
fn differences(journal: &[Arc<Delta>], from: u32) -> Option<Vec<u8>> {
    let start = journal.iter().position(|d| d.from_serial == from)?;
    let mut out = Vec::new();
    for d in &journal[start..] {
        out.extend_from_slice(&d.from_soa);
        out.extend_from_slice(&d.removed);
        out.extend_from_slice(&d.to_soa);
        out.extend_from_slice(&d.added);
    }
    Some(out)
}

/// The serial of the SOA an IXFR query carries in its authority section (RFC 1995 §3).
fn ixfr_serial(msg: &[u8], question_end: usize) -> Option<u32> {
    if u16::from_be_bytes([msg[8], msg[9]]) == 0 {
        return None;
    }
    let pos = wire::skip_name(msg, question_end)?;
    if u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]) != TYPE_SOA {
        return None;
    }
    let rdata = pos + 10;
    let after_names = wire::skip_name(msg, wire::skip_name(msg, rdata)?)?;
    let s = msg.get(after_names..after_names + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// `a` is before `b` in serial number arithmetic (RFC 1982).
pub fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}

/// A record to send: in wire form, or as the zone stores it.
enum Item<'a> {
    Wire(&'a [u8]),
    Stored(Record<'a>),
}

/// The length of the next wire record of `data` from `pos`.
fn next_len(data: &[u8], pos: usize) -> Option<usize> {
    record_len(data.get(pos..)?)
}

impl Transfer {
    /// Writes the next message into `out`; false when the transfer is complete.
    pub fn next(&mut self, out: &mut Vec<u8>) -> bool {
        if self.stage == Stage::Done {
            return false;
        }
        out.clear();
        let snap = self.snap.clone();
        let z = &snap.zones.zones()[self.zone];
        let soa = &z.records.soa;
        let room = self
            .signing
            .as_ref()
            .map_or(0, |(k, _)| tsig::reserve(&snap.config.tsig[*k]))
            + if self.edns { OPT_LEN } else { 0 };
        let limit = u16::MAX as usize - room;
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend_from_slice(&[0, self.first as u8, 0, 0, 0, 0, 0, 0]);
        if self.first {
            out.extend_from_slice(&self.question);
        }
        let mut count: u16 = 0;
        loop {
            let (record, next): (Item, Stage) = match self.stage {
                Stage::FirstSoa if self.incremental => (Item::Wire(soa), Stage::Extra(0)),
                Stage::FirstSoa => (Item::Wire(soa), Stage::Records(At::default())),
                Stage::Records(at) => match z.records.next(at) {
                    Some((record, next)) => (Item::Stored(record), Stage::Records(next)),
                    None => {
                        self.stage = Stage::Extra(0);
                        continue;
                    }
                },
                Stage::Extra(pos) => match next_len(&self.extra, pos) {
                    Some(len) => (
                        Item::Wire(&self.extra[pos..pos + len]),
                        Stage::Extra(pos + len),
                    ),
                    None => {
                        self.stage = Stage::LastSoa;
                        continue;
                    }
                },
                Stage::LastSoa => (Item::Wire(soa), Stage::Done),
                Stage::Done => break,
            };
            let len = match record {
                Item::Wire(r) => r.len(),
                Item::Stored(r) => r.wire_len(),
            };
            if count > 0 && out.len() + len > limit {
                break;
            }
            match record {
                Item::Wire(r) => out.extend_from_slice(r),
                Item::Stored(r) => r.write(out),
            }
            count += 1;
            self.stage = next;
        }
        out[6..8].copy_from_slice(&count.to_be_bytes());
        if self.edns {
            out.extend_from_slice(&[0, 0, 41]);
            out.extend_from_slice(&OPT_PAYLOAD.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            out[11] = 1;
        }
        if let Some((k, mac)) = &mut self.signing {
            let key = &snap.config.tsig[*k];
            let tag = if self.first {
                let stamp = tsig::Stamp {
                    time_signed: self.now,
                    fudge: tsig::FUDGE,
                    error: 0,
                    other: &[],
                };
                tsig::sign(out, key, Some(mac), stamp)
            } else {
                // A long transfer's later messages carry the time they are signed at.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(self.now, |d| d.as_secs());
                tsig::sign_next(out, key, mac, now.max(self.now))
            };
            *mac = tag.as_ref().to_vec();
        }
        self.first = false;
        self.records += count as usize;
        self.messages += 1;
        true
    }

    /// The zone's origin, for logs.
    pub fn zone(&self) -> &str {
        &self.snap.zones.zones()[self.zone].origin_text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `example.com.` of `qtype`, with `authority` appended (NSCOUNT 1 then).
    fn query(qtype: u16, authority: &[u8]) -> Vec<u8> {
        let mut m = vec![
            0x12,
            0x34,
            0,
            0,
            0,
            1,
            0,
            0,
            0,
            (!authority.is_empty()) as u8,
            0,
            0,
        ];
        m.extend_from_slice(b"\x07example\x03com\x00");
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(authority);
        m
    }

    #[test]
    fn only_axfr_and_ixfr_queries_are_transfers() {
        assert!(is_transfer(&query(TYPE_AXFR, &[])));
        assert!(is_transfer(&query(TYPE_IXFR, &[])));
        assert!(!is_transfer(&query(TYPE_SOA, &[])));
        assert!(!is_transfer(&query(TYPE_A, &[])));
        let mut response = query(TYPE_AXFR, &[]);
        response[2] |= 0x80;
        assert!(!is_transfer(&response));
        let mut notify = query(TYPE_AXFR, &[]);
        notify[2] |= 4 << 3;
        assert!(!is_transfer(&notify));
        let mut two = query(TYPE_AXFR, &[]);
        two[5] = 2;
        assert!(!is_transfer(&two));
        let q = query(TYPE_AXFR, &[]);
        assert!(!is_transfer(&q[..q.len() - 4]));
        assert!(!is_transfer(&[0; 11]));
    }

    #[test]
    fn ixfr_reads_the_serial_of_the_authority_soa() {
        let mut soa = vec![0xC0, 12, 0, 6, 0, 1, 0, 0, 0, 0];
        let rdata = [
            b"\x02ns\xC0\x0C".as_slice(),
            b"\x00",
            &[0, 0, 0, 42],
            &[0; 16],
        ]
        .concat();
        soa.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        soa.extend_from_slice(&rdata);
        let q = query(TYPE_IXFR, &soa);
        assert_eq!(ixfr_serial(&q, 12 + 13 + 4), Some(42));
        assert_eq!(ixfr_serial(&query(TYPE_IXFR, &[]), 12 + 13 + 4), None);
        assert_eq!(ixfr_serial(&q[..q.len() - 18], 12 + 13 + 4), None);
    }

    #[test]
    fn serials_compare_in_rfc_1982_arithmetic() {
        assert!(serial_lt(1, 2));
        assert!(!serial_lt(2, 2));
        assert!(!serial_lt(3, 2));
        assert!(serial_lt(u32::MAX, 0));
        assert!(serial_lt(u32::MAX - 5, 10));
        assert!(!serial_lt(10, u32::MAX - 5));
    }
}

//! One query in, one response out: the same code for UDP and TCP.
//!
//! Parses the query, finds the pre-encoded answer in the snapshot's zones, and writes
//! header, copied question, answer sections and OPT into the caller's buffer. It sizes the
//! response for the transport (TC without splitting an RRset) and never allocates once the
//! buffer has grown. No logging here above debug; counts go into [`QueryStats`].

pub use super::stats::QueryStats;
use super::wire::{self, Edns, Query, QueryError};
use crate::answer::{Answer, QNAME_OFFSET, address_record};
use crate::route::{self, Client, Decision, Family};
use crate::snapshot::Snapshot;
use crate::zone::Found;
use std::net::IpAddr;

/// How the response travels, which bounds its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

const TYPE_AXFR: u16 = 252;
const TYPE_IXFR: u16 = 251;
const TYPE_MAILB: u16 = 253;
const TYPE_MAILA: u16 = 254;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;
/// Size of an OPT record without options.
const OPT_LEN: usize = 11;

/// Writes the response to `msg` into `out`; returns false when no response is due.
pub fn respond(
    snap: &Snapshot,
    msg: &[u8],
    transport: Transport,
    peer: IpAddr,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) -> bool {
    out.clear();
    let payload = snap.config.server.max_udp_payload.max(512);
    let q = match wire::parse(msg) {
        Ok(q) => q,
        Err(QueryError::Drop) => {
            stats.dropped += 1;
            return false;
        }
        Err(QueryError::FormErr { question_end, edns }) => {
            let rcode = wire::RCODE_FORMERR as u16;
            error_response(msg, question_end, rcode, edns, payload, out);
            stats.unzoned(rcode);
            return true;
        }
        Err(QueryError::NotImp { question_end, edns }) => {
            let rcode = wire::RCODE_NOTIMP as u16;
            error_response(msg, question_end, rcode, edns, payload, out);
            stats.unzoned(rcode);
            return true;
        }
    };
    let question_end = Some((12 + q.question.len()) as u16);
    let refuse = |out: &mut Vec<u8>, rcode: u8, stats: &mut QueryStats| {
        error_response(msg, question_end, rcode as u16, q.edns, payload, out);
        stats.unzoned(rcode as u16);
        true
    };
    if let Some(e) = q.edns
        && e.version > 0
    {
        error_response(msg, question_end, wire::RCODE_BADVERS, q.edns, payload, out);
        stats.unzoned(wire::RCODE_BADVERS);
        return true;
    }
    match q.qtype {
        0 | wire::TYPE_OPT => return refuse(out, wire::RCODE_FORMERR, stats),
        TYPE_AXFR | TYPE_IXFR => return refuse(out, wire::RCODE_REFUSED, stats),
        TYPE_MAILA | TYPE_MAILB => return refuse(out, wire::RCODE_NOTIMP, stats),
        _ => {}
    }
    if q.qclass != CLASS_IN && q.qclass != CLASS_ANY {
        return refuse(out, wire::RCODE_REFUSED, stats);
    }
    let Some((zone, found)) = snap.zones.lookup(q.key(), q.qtype) else {
        return refuse(out, wire::RCODE_REFUSED, stats);
    };
    let max = match transport {
        Transport::Tcp => u16::MAX as usize,
        Transport::Udp => match q.edns {
            Some(e) => e.udp_payload.clamp(512, payload) as usize,
            None => 512,
        },
    };
    let rcode = match found {
        Found::Answer(answer) => {
            render(&q, answer, 0, max, payload, out, stats);
            answer.rcode
        }
        Found::Balanced {
            service,
            nodata,
            chain,
        } => {
            let decision = decide_for(snap, &q, service as usize, peer);
            if let Some(region) = decision.region {
                stats.choice(service, region);
            }
            if decision.is_empty() {
                render(&q, nodata, decision.scope, max, payload, out, stats);
                nodata.rcode
            } else {
                render_addresses(&q, chain, &decision, max, payload, out, stats);
                0
            }
        }
    };
    stats.zone(zone, rcode as u16);
    true
}

/// Locates the client (ECS, else the resolver) and runs the route decision.
pub fn decide_for(snap: &Snapshot, q: &Query<'_>, service: usize, peer: IpAddr) -> Decision {
    let full = |a: IpAddr| if a.is_ipv4() { 32 } else { 128 };
    let (addr, source_prefix) = match q.edns.and_then(|e| e.client_subnet) {
        // Source prefix 0: the client asks us not to use its subnet (RFC 7871 §7.1.2).
        Some(c) if c.source_prefix == 0 => (peer, 0),
        Some(c) => (c.ip(), c.source_prefix),
        None => (peer, full(peer)),
    };
    let location = snap.locate(addr);
    let client = Client {
        addr,
        source_prefix,
        location: &location,
    };
    let family = if q.qtype == TYPE_AAAA {
        Family::V6
    } else {
        Family::V4
    };
    route::decide(
        &snap.services[service],
        &snap.config.regions,
        &client,
        &snap.health.service(service),
        family,
        None,
    )
}

/// Writes an authoritative answer holding the decision's addresses, after the CNAME chain
/// that led to the load-balanced name if there is one (TC with no answer when it does not
/// all fit).
fn render_addresses(
    q: &Query<'_>,
    chain: Option<(&Answer, u16)>,
    decision: &Decision,
    max: usize,
    payload: u16,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) {
    let records: usize = decision
        .addresses()
        .map(|a| if a.is_ipv4() { 16 } else { 28 })
        .sum();
    let (chain_body, chain_count, owner): (&[u8], u16, u16) = match chain {
        Some((c, owner)) => (&c.body, c.counts()[0], owner),
        None => (&[], 0, QNAME_OFFSET as u16),
    };
    let truncated = 12 + q.question.len() + chain_body.len() + records + opt_len(q) > max;
    let mut flags = wire::FLAG_QR | wire::FLAG_AA | (q.flags & (wire::FLAG_RD | wire::FLAG_CD));
    let count = if truncated {
        flags |= wire::FLAG_TC;
        stats.truncated += 1;
        0
    } else {
        chain_count + decision.addresses().count() as u16
    };
    header(out, q.id, flags, 1, [count, 0, q.edns.is_some() as u16]);
    out.extend_from_slice(q.question);
    if !truncated {
        // The chain was encoded for this exact name: no pointer needs moving.
        out.extend_from_slice(chain_body);
        for a in decision.addresses() {
            address_record(out, owner, decision.ttl, a);
        }
    }
    if let Some(e) = q.edns {
        opt(out, payload, 0, e, decision.scope);
    }
}

/// Size of the OPT record the response to `q` carries (0 without EDNS).
fn opt_len(q: &Query<'_>) -> usize {
    q.edns.map_or(0, |e| {
        OPT_LEN + e.client_subnet.map_or(0, |c| 8 + c.addr_len as usize)
    })
}

/// Writes header, question, the answer's sections (cut to fit `max`) and OPT.
fn render(
    q: &Query<'_>,
    answer: &Answer,
    ecs_scope: u8,
    max: usize,
    payload: u16,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) {
    let fixed = 12 + q.question.len() + opt_len(q);
    let room = max.saturating_sub(fixed);
    let (end, counts, truncated) = answer.fit(room);
    let mut flags =
        wire::FLAG_QR | (q.flags & (wire::FLAG_RD | wire::FLAG_CD)) | answer.rcode as u16;
    if answer.authoritative {
        flags |= wire::FLAG_AA;
    }
    if truncated {
        flags |= wire::FLAG_TC;
        stats.truncated += 1;
    }
    let arcount = counts[2] + q.edns.is_some() as u16;
    header(out, q.id, flags, 1, [counts[0], counts[1], arcount]);
    out.extend_from_slice(q.question);
    let delta = q.qname.len() as isize - answer.model_qname_len as isize;
    answer.write_body(out, end, delta);
    if let Some(e) = q.edns {
        opt(out, payload, 0, e, ecs_scope);
    }
}

fn header(out: &mut Vec<u8>, id: u16, flags: u16, qdcount: u16, counts: [u16; 3]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&qdcount.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

/// An OPT record advertising our payload size; echoes ECS with the given scope (RFC 7871 §7.2.1).
fn opt(out: &mut Vec<u8>, payload: u16, extended_rcode: u16, e: Edns, ecs_scope: u8) {
    out.push(0); // root owner
    out.extend_from_slice(&wire::TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&payload.to_be_bytes());
    out.push((extended_rcode >> 4) as u8);
    out.push(0); // version 0
    out.push(if e.dnssec_ok { 0x80 } else { 0 });
    out.push(0);
    match e.client_subnet {
        Some(c) => {
            let len = 4 + c.addr_len as u16;
            out.extend_from_slice(&(4 + len).to_be_bytes());
            out.extend_from_slice(&wire::OPT_ECS.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&c.family.to_be_bytes());
            out.push(c.source_prefix);
            out.push(ecs_scope.min(c.source_prefix));
            out.extend_from_slice(&c.addr[..c.addr_len as usize]);
        }
        None => out.extend_from_slice(&0u16.to_be_bytes()),
    }
}

/// An answerless response with `rcode` (extended rcodes go into OPT).
fn error_response(
    msg: &[u8],
    question_end: Option<u16>,
    rcode: u16,
    edns: Option<Edns>,
    payload: u16,
    out: &mut Vec<u8>,
) {
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let query_flags = u16::from_be_bytes([msg[2], msg[3]]);
    let flags =
        wire::FLAG_QR | (query_flags & (0x7800 | wire::FLAG_RD | wire::FLAG_CD)) | (rcode & 0xF);
    let qd = question_end.is_some() as u16;
    header(out, id, flags, qd, [0, 0, edns.is_some() as u16]);
    if let Some(end) = question_end {
        out.extend_from_slice(&msg[12..end as usize]);
    }
    if let Some(e) = edns {
        opt(out, payload, rcode, e, 0);
    }
}

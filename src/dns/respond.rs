//! One query in, one response out: the same code for UDP and TCP.
//!
//! Parses the query, finds the pre-encoded answer in the snapshot's zones, and writes
//! header, copied question, answer sections and OPT into the caller's buffer. It sizes the
//! response for the transport (TC without splitting an RRset) and never allocates once the
//! buffer has grown. No logging here above debug; counts go into [`QueryStats`]. A NOTIFY
//! (opcode 4) is answered here too, and handed to `crate::secondary` when it is taken.
//!
//! DNS Cookies are checked here (RFC 7873 §5.2): a query with only a client cookie is
//! answered with a fresh server cookie; a valid server cookie is echoed (or refreshed
//! after half an hour) and marks the client as proven, which exempts it from RRL; an
//! invalid or expired one gets BADCOOKIE and a fresh cookie over UDP, and a normal answer
//! with a fresh cookie over TCP, where the address is proven anyway. The [`Reply`] says
//! how the caller's rate limiter should count the response.
//!
//! The server's identity (RFC 4892, RFC 5001): CH TXT `id.server.` and `hostname.bind.`
//! (and `version.server.`, `version.bind.` when configured) are answered from the config;
//! a query carrying an NSID option gets ours in every response's OPT. Error responses to
//! queries with EDNS say why in an Extended DNS Error (RFC 8914).
//!
//! A query signed with TSIG (RFC 8945) is checked first (`tsig.rs`): one that fails gets
//! NOTAUTH with BADKEY, BADSIG or BADTIME; one that passes is answered as any other, in
//! the room its TSIG record leaves, and the answer is signed with the same key.

use super::cookie::{self, Secrets};
use super::decisions;
use super::rrl::{Class, ResponseKey};
pub use super::stats::QueryStats;
use super::tsig;
use super::wire::{self, Ede, Edns, Query, QueryError};
use crate::answer::{Answer, QNAME_OFFSET, address_record};
use crate::config::IdentityConfig;
use crate::route::{self, Client, Decision, Family};
use crate::snapshot::Snapshot;
use crate::zone::{Dname, Found, Zones};
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
const TYPE_CNAME: u16 = 5;
const TYPE_TXT: u16 = 16;
const TYPE_ANY: u16 = 255;
const TYPE_DNSKEY: u16 = 48;
const TYPE_CDS: u16 = 59;
const TYPE_CDNSKEY: u16 = 60;
/// The name a DNAME makes is longer than 255 octets (RFC 6672 §2.2).
const RCODE_YXDOMAIN: u8 = 6;
const CLASS_IN: u16 = 1;
const CLASS_CH: u16 = 3;
const CLASS_ANY: u16 = 255;
/// Size of an OPT record without options.
const OPT_LEN: usize = 11;
/// Size of the COOKIE option we send: code, length, client and server cookie.
const COOKIE_OPT_LEN: usize = 4 + 24;

/// Who asked, over what, and when.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub transport: Transport,
    pub peer: IpAddr,
    /// Seconds since the epoch (cookie timestamps, TSIG times), read once per batch.
    pub now: u32,
    /// The cookie secrets; `None` when cookies are off (the option is then ignored).
    pub cookies: Option<&'a Secrets>,
}

/// What the caller needs to know about the response written to `out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// How rate limiting counts this response.
    pub key: ResponseKey,
    /// The query carried a valid server cookie: its source address is proven.
    pub proven: bool,
    /// Where the response was counted in [`QueryStats`]: zone (`None`: no zone) and rcode.
    pub counted: (Option<u32>, u16),
    /// End of the question in `out` (12 when there is none).
    pub question_end: u16,
    /// Start of the OPT record in `out`, 0 when there is none.
    pub opt_start: u16,
    /// The response ends with a TSIG record: a slipped copy would no longer verify.
    pub signed: bool,
}

/// The response cookie and what the query's cookie proved.
#[derive(Clone, Copy)]
struct Cookie {
    /// Client cookie | server cookie, as sent back.
    out: [u8; 24],
    verdict: cookie::Verdict,
}

const ERROR_KEY: ResponseKey = ResponseKey {
    class: Class::Error,
    name: 0,
    qtype: 0,
    subnet: 0,
};

/// Writes the response to `msg` into `out`; `None` when no response is due.
pub fn respond(
    snap: &Snapshot,
    msg: &[u8],
    req: &Request<'_>,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) -> Option<Reply> {
    out.clear();
    let parsed = wire::parse(msg);
    let tsig_at = match &parsed {
        Ok(q) => q.tsig,
        Err(QueryError::NotImp { tsig, .. }) => *tsig,
        Err(_) => None,
    };
    if let Err(QueryError::NotImp {
        question_end: Some(question_end),
        edns,
        ..
    }) = parsed
        && (msg[2] >> 3) & 0xF == OPCODE_NOTIFY
    {
        return Some(notify(
            snap,
            msg,
            &parsed,
            question_end,
            edns,
            tsig_at,
            req,
            out,
            stats,
        ));
    }
    let Some(at) = tsig_at else {
        return answer(snap, msg, &parsed, req, 0, out, stats);
    };
    match tsig::verify(&snap.config.tsig, msg, at as usize, req.now as u64) {
        Ok(signer) => {
            let room = tsig::reserve(signer.key);
            let reply = answer(snap, msg, &parsed, req, room, out, stats)?;
            let stamp = tsig::Stamp {
                time_signed: req.now as u64,
                fudge: tsig::FUDGE,
                error: 0,
                other: &[],
            };
            tsig::sign(out, signer.key, Some(signer.mac), stamp);
            Some(Reply {
                signed: true,
                ..reply
            })
        }
        Err(failure) => Some(refuse_signed(snap, msg, &parsed, failure, req, out, stats)),
    }
}

const OPCODE_NOTIFY: u8 = 4;

/// The answer to a NOTIFY (RFC 1996 §3.7): NOERROR, authoritative, the question copied, for
/// a secondary zone from one of its `allow_notify` sources with its key (the zone is then
/// checked at once, `crate::secondary`); NOTAUTH for a zone we are no secondary for,
/// REFUSED from anyone else. A signed NOTIFY gets a signed answer; a bad signature the
/// TSIG error, as any query.
#[allow(clippy::too_many_arguments)]
fn notify(
    snap: &Snapshot,
    msg: &[u8],
    parsed: &Result<Query<'_>, QueryError>,
    question_end: u16,
    edns: Option<Edns>,
    tsig_at: Option<u16>,
    req: &Request<'_>,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) -> Reply {
    let signer = match tsig_at {
        Some(at) => match tsig::verify(&snap.config.tsig, msg, at as usize, req.now as u64) {
            Ok(signer) => Some(signer),
            Err(failure) => {
                tracing::debug!(peer = %req.peer, error = failure.name(), "NOTIFY refused: its TSIG does not verify");
                return refuse_signed(snap, msg, parsed, failure, req, out, stats);
            }
        },
        None => None,
    };
    let key_index = signer.map(|s| {
        snap.config
            .tsig
            .iter()
            .position(|k| std::ptr::eq(k, s.key))
            .expect("the key is one of the config's")
    });
    let qend = question_end as usize;
    let qname: Vec<u8> = msg[12..qend - 4].to_ascii_lowercase();
    let qtype = u16::from_be_bytes([msg[qend - 4], msg[qend - 3]]);
    let rcode = match crate::secondary::take_notify(snap, &qname, qtype, req.peer, key_index) {
        Ok(()) => 0,
        Err(rcode) => rcode,
    };
    let opt = OptOut {
        payload: snap.config.server.max_udp_payload.max(512),
        ecs_scope: 0,
        cookie: edns.as_ref().and_then(|e| cookie_for(e, req)),
        nsid: snap.config.identity.nsid.as_deref(),
        ede: None,
    };
    error_response(msg, Some(question_end), rcode as u16, edns, opt, out);
    if rcode == 0 {
        out[2] |= (wire::FLAG_AA >> 8) as u8;
    }
    let opt_start = opt_start(out, edns, &opt);
    if let Some(signer) = signer {
        let stamp = tsig::Stamp {
            time_signed: req.now as u64,
            fudge: tsig::FUDGE,
            error: 0,
            other: &[],
        };
        tsig::sign(out, signer.key, Some(signer.mac), stamp);
    }
    stats.unzoned(rcode as u16);
    Reply {
        key: ERROR_KEY,
        proven: false,
        counted: (None, rcode as u16),
        question_end,
        opt_start,
        signed: signer.is_some(),
    }
}

/// The response to a signed query whose TSIG failed (RFC 8945 §5.2): FORMERR without TSIG
/// when the record cannot be read; else NOTAUTH with the TSIG error, unsigned for BADKEY
/// and BADSIG (§5.3.2), signed for BADTIME, with the server's time in Other Data (§5.2.3).
fn refuse_signed(
    snap: &Snapshot,
    msg: &[u8],
    parsed: &Result<Query<'_>, QueryError>,
    failure: tsig::Failure<'_>,
    req: &Request<'_>,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) -> Reply {
    let (question_end, edns) = match parsed {
        Ok(q) => (Some((12 + q.question.len()) as u16), q.edns),
        Err(QueryError::NotImp {
            question_end, edns, ..
        })
        | Err(QueryError::FormErr { question_end, edns }) => (*question_end, *edns),
        Err(QueryError::Drop) => (None, None),
    };
    let opt = OptOut {
        payload: snap.config.server.max_udp_payload.max(512),
        ecs_scope: 0,
        cookie: edns.as_ref().and_then(|e| cookie_for(e, req)),
        nsid: snap.config.identity.nsid.as_deref(),
        ede: None,
    };
    let rcode = match failure {
        tsig::Failure::Malformed => wire::RCODE_FORMERR,
        _ => tsig::RCODE_NOTAUTH,
    };
    error_response(msg, question_end, rcode as u16, edns, opt, out);
    let opt_start = opt_start(out, edns, &opt);
    match failure {
        tsig::Failure::Malformed => {}
        tsig::Failure::Unsigned { error, start } => tsig::append_unsigned(out, msg, start, error),
        tsig::Failure::BadTime(signer) => {
            let now = (req.now as u64).to_be_bytes();
            let stamp = tsig::Stamp {
                time_signed: signer.time_signed,
                fudge: signer.fudge,
                error: tsig::ERROR_BADTIME,
                other: &now[2..],
            };
            tsig::sign(out, signer.key, Some(signer.mac), stamp);
        }
    }
    tracing::debug!(peer = %req.peer, error = failure.name(), "TSIG check failed");
    stats.unzoned(rcode as u16);
    Reply {
        key: ERROR_KEY,
        proven: false,
        counted: (None, rcode as u16),
        question_end: question_end.unwrap_or(12),
        opt_start,
        signed: rcode == tsig::RCODE_NOTAUTH,
    }
}

/// The response to a parsed query, leaving `room` octets free at the end of the transport's
/// limit (for a TSIG record). `parsed` is borrowed: moving a `Query` (300 octets) would
/// cost the unsigned path more than the TSIG check does.
fn answer(
    snap: &Snapshot,
    msg: &[u8],
    parsed: &Result<Query<'_>, QueryError>,
    req: &Request<'_>,
    room: usize,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) -> Option<Reply> {
    let payload = snap.config.server.max_udp_payload.max(512);
    let nsid = snap.config.identity.nsid.as_deref();
    let error_opt = |cookie, ede| OptOut {
        payload,
        ecs_scope: 0,
        cookie,
        nsid,
        ede,
    };
    let reply = |question_end: Option<u16>, out: &Vec<u8>, edns, opt: &OptOut, rcode| Reply {
        key: ERROR_KEY,
        proven: false,
        counted: (None, rcode),
        question_end: question_end.unwrap_or(12),
        opt_start: opt_start(out, edns, opt),
        signed: false,
    };
    let q = match parsed {
        Ok(q) => q,
        &Err(QueryError::Drop) => {
            stats.dropped += 1;
            return None;
        }
        &Err(QueryError::FormErr { question_end, edns }) => {
            let rcode = wire::RCODE_FORMERR as u16;
            let opt = error_opt(None, edns.and_then(|e| e.malformed).map(|m| m.ede()));
            error_response(msg, question_end, rcode, edns, opt, out);
            stats.unzoned(rcode);
            return Some(reply(question_end, out, edns, &opt, rcode));
        }
        &Err(QueryError::NotImp {
            question_end, edns, ..
        }) => {
            let rcode = wire::RCODE_NOTIMP as u16;
            let cookie = edns.as_ref().and_then(|e| cookie_for(e, req));
            let opt = error_opt(cookie, Some(Ede::NOT_SUPPORTED));
            error_response(msg, question_end, rcode, edns, opt, out);
            stats.unzoned(rcode);
            return Some(reply(question_end, out, edns, &opt, rcode));
        }
    };
    let question_end = Some((12 + q.question.len()) as u16);
    let cookie = q.edns.as_ref().and_then(|e| cookie_for(e, req));
    let refuse = |out: &mut Vec<u8>, rcode: u16, ede, stats: &mut QueryStats| {
        let opt = error_opt(cookie, ede);
        error_response(msg, question_end, rcode, q.edns, opt, out);
        stats.unzoned(rcode);
        Some(reply(question_end, out, q.edns, &opt, rcode))
    };
    if let Some(e) = q.edns
        && e.version > 0
    {
        // The query's options mean nothing at a version we do not know: no NSID either.
        let e = wire::Edns { nsid: false, ..e };
        let opt = error_opt(cookie, None);
        let rcode = wire::RCODE_BADVERS;
        error_response(msg, question_end, rcode, Some(e), opt, out);
        stats.unzoned(rcode);
        return Some(reply(question_end, out, Some(e), &opt, rcode));
    }
    let proven = matches!(
        cookie.map(|c| c.verdict),
        Some(cookie::Verdict::Valid { .. })
    );
    if req.transport == Transport::Udp
        && cookie.is_some_and(|c| c.verdict == cookie::Verdict::Invalid)
    {
        // RFC 7873 §5.2.3 and §5.4: no answer, a fresh cookie to retry with.
        return refuse(out, wire::RCODE_BADCOOKIE, None, stats);
    }
    let refuse = |out: &mut Vec<u8>, rcode: u8, ede: Ede, stats: &mut QueryStats| {
        refuse(out, rcode as u16, Some(ede), stats).map(|r| Reply { proven, ..r })
    };
    match q.qtype {
        0 | wire::TYPE_OPT => {
            const NOT_A_QUERY: Ede = Ede::other("QTYPE 0 or OPT in the question");
            return refuse(out, wire::RCODE_FORMERR, NOT_A_QUERY, stats);
        }
        // Transfers allowed by `[transfer.ZONE]` never come here (`xfr.rs`, TCP only):
        // over UDP it is an operation we lack; over TCP, a client not allowed.
        TYPE_AXFR | TYPE_IXFR => {
            let ede = match req.transport {
                Transport::Udp => Ede::NOT_SUPPORTED,
                Transport::Tcp => Ede::PROHIBITED,
            };
            return refuse(out, wire::RCODE_REFUSED, ede, stats);
        }
        TYPE_MAILA | TYPE_MAILB => {
            return refuse(out, wire::RCODE_NOTIMP, Ede::NOT_SUPPORTED, stats);
        }
        _ => {}
    }
    let opt = OptOut {
        payload,
        ecs_scope: 0,
        cookie,
        nsid,
        ede: None,
    };
    if q.qclass == CLASS_CH {
        return match chaos_text(&snap.config.identity, q.key(), q.qtype) {
            Ok(text) => {
                render_chaos(q, text, opt, out);
                stats.unzoned(0);
                let key = ResponseKey {
                    class: Class::Answer,
                    name: text.as_ptr() as usize,
                    qtype: q.qtype,
                    subnet: 0,
                };
                Some(Reply {
                    key,
                    proven,
                    counted: (None, 0),
                    question_end: (12 + q.question.len()) as u16,
                    opt_start: opt_start(out, q.edns, &opt),
                    signed: false,
                })
            }
            Err(ede) => refuse(out, wire::RCODE_REFUSED, ede, stats),
        };
    }
    if q.qclass != CLASS_IN && q.qclass != CLASS_ANY {
        return refuse(out, wire::RCODE_REFUSED, Ede::NOT_SUPPORTED, stats);
    }
    let Some((zone, found)) = snap.zones.lookup(q.key(), q.qtype) else {
        // A secondary zone without a copy to serve (`crate::secondary`): ours, not ready.
        if crate::secondary::unavailable(&snap.config, q.key()) {
            return refuse(out, wire::RCODE_SERVFAIL, Ede::NOT_READY, stats);
        }
        return refuse(out, wire::RCODE_REFUSED, Ede::NOT_AUTHORITATIVE, stats);
    };
    let max = match req.transport {
        Transport::Tcp => u16::MAX as usize,
        Transport::Udp => match &q.edns {
            Some(e) => e.udp_payload.clamp(512, payload) as usize,
            None => 512,
        },
    }
    .saturating_sub(room);
    // A signed zone's answer is rendered whole, then signed and cut to `max` (RRsets
    // whole with their RRSIGs): with DO, and for the apex key types without it.
    // The flags first: a query without DO pays two tests, not a zone lookup.
    let wants_signing = q.edns.as_ref().is_some_and(|e| e.dnssec_ok)
        || matches!(q.qtype, TYPE_DNSKEY | TYPE_CDS | TYPE_CDNSKEY);
    let signer = if wants_signing {
        snap.signing.zone(zone)
    } else {
        None
    };
    let render_max = if signer.is_some() {
        u16::MAX as usize
    } else {
        max
    };
    let (rcode, key) = match found {
        Found::Answer(answer) => {
            render(q, &answer, render_max, opt, out, stats);
            (answer.rcode(), answer_key(q, &answer))
        }
        Found::Dname { dname, owner_len } => {
            let at = (dname, owner_len as usize);
            let rcode = render_dname(&snap.zones, q, at, render_max, opt, out, stats);
            let key = ResponseKey {
                class: Class::Answer,
                name: dname as *const Dname as usize,
                qtype: q.qtype,
                subnet: 0,
            };
            (rcode, key)
        }
        Found::Balanced {
            service,
            nodata,
            chain,
        } => {
            let decision = decide_for(snap, q, service as usize, req.peer);
            if let Some(region) = decision.region {
                stats.choice(service, region);
            }
            let opt = OptOut {
                ecs_scope: decision.scope,
                ..opt
            };
            let cname = match &snap.services[service as usize].on_all_down {
                crate::config::OnAllDown::Cname(target) if decision.cname => Some(target),
                _ => None,
            };
            // Decided answers are limited per name, type and client subnet.
            let decided = ResponseKey {
                class: Class::Answer,
                name: nodata.site,
                qtype: q.qtype,
                subnet: subnet_key(q, decision.scope),
            };
            if let Some(target) = cname {
                render_cname(q, chain, target, decision.ttl, render_max, opt, out, stats);
                (0, decided)
            } else if decision.is_empty() {
                render(q, &nodata, render_max, opt, out, stats);
                (nodata.rcode(), answer_key(q, &nodata))
            } else {
                render_addresses(q, chain, &decision, render_max, opt, out, stats);
                (0, decided)
            }
        }
    };
    let rcode = match signer {
        Some(signed) => sign(signed, snap, q, req, max, opt_start(out, q.edns, &opt), out),
        None => rcode,
    };
    stats.zone(zone, rcode as u16);
    Some(Reply {
        key,
        proven,
        counted: (Some(zone), rcode as u16),
        question_end: (12 + q.question.len()) as u16,
        opt_start: opt_start(out, q.edns, &opt),
        signed: false,
    })
}

/// The signing pass over the answer rendered in `out` (`crate::dnssec::respond`); its
/// rcode. Kept out of `answer` so that the unsigned path's code stays as it was.
#[inline(never)]
fn sign(
    signed: &crate::dnssec::zone::SignedZone,
    snap: &Snapshot,
    q: &Query<'_>,
    req: &Request<'_>,
    max: usize,
    opt_at: u16,
    out: &mut Vec<u8>,
) -> u8 {
    let asked = crate::dnssec::respond::Asked {
        qname: q.qname,
        qtype: q.qtype,
        dnssec_ok: q.edns.as_ref().is_some_and(|e| e.dnssec_ok),
        compact_ok: q.edns.as_ref().is_some_and(|e| e.compact_ok),
        max,
        now: u64::from(req.now),
        generation: snap.generation,
    };
    crate::dnssec::respond::sign_response(signed, &asked, out, opt_at as usize)
}

/// Where the OPT record `opt` wrote starts in `out` (it is always last); 0 without one.
fn opt_start(out: &[u8], edns: Option<Edns>, opt: &OptOut<'_>) -> u16 {
    let Some(e) = edns else { return 0 };
    out.len().saturating_sub(opt_size(&e, opt)) as u16
}

/// The CH names we answer (RFC 4892 §2 and the older BIND names), lower-cased, as on the wire.
const ID_SERVER: &[u8] = b"\x02id\x06server\x00";
const HOSTNAME_BIND: &[u8] = b"\x08hostname\x04bind\x00";
const VERSION_SERVER: &[u8] = b"\x07version\x06server\x00";
const VERSION_BIND: &[u8] = b"\x07version\x04bind\x00";

/// The TXT a CH query (lower-cased name `key`) is answered with, or the Extended DNS Error
/// of its REFUSED: "Prohibited" for a name the operator turned off, "Not Supported" for
/// every other name and type (as NSD does).
fn chaos_text<'a>(identity: &'a IdentityConfig, key: &[u8], qtype: u16) -> Result<&'a str, Ede> {
    let text = match key {
        ID_SERVER | HOSTNAME_BIND => &identity.name,
        VERSION_SERVER | VERSION_BIND => &identity.version,
        _ => return Err(Ede::NOT_SUPPORTED),
    };
    if qtype != TYPE_TXT && qtype != TYPE_ANY {
        return Err(Ede::NOT_SUPPORTED);
    }
    text.as_deref().ok_or(Ede::PROHIBITED)
}

/// Writes the answer to a CH TXT query: one TXT record, class CH, TTL 0, and no AA, as NSD
/// and Knot answer it (these names are not in any zone; TTL 0 keeps them out of caches).
/// It always fits in 512 bytes: a 15-byte name, a text of at most 255 bytes, and the
/// largest OPT record (see `Ede::MAX_TEXT`).
fn render_chaos(q: &Query<'_>, text: &str, opt_out: OptOut<'_>, out: &mut Vec<u8>) {
    let flags = wire::FLAG_QR | (q.flags & (wire::FLAG_RD | wire::FLAG_CD));
    header(out, q.id, flags, 1, [1, 0, q.edns.is_some() as u16]);
    out.extend_from_slice(q.question);
    out.extend_from_slice(&(0xC000 | QNAME_OFFSET as u16).to_be_bytes());
    out.extend_from_slice(&TYPE_TXT.to_be_bytes());
    out.extend_from_slice(&CLASS_CH.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(1 + text.len() as u16).to_be_bytes());
    out.push(text.len() as u8);
    out.extend_from_slice(text.as_bytes());
    if let Some(e) = q.edns {
        opt(out, 0, e, opt_out);
    }
}

/// The cookie to send back for a query's OPT, when cookies are on and it has one.
fn cookie_for(e: &Edns, req: &Request<'_>) -> Option<Cookie> {
    let secrets = req.cookies?;
    let c = e.cookie.as_ref()?;
    let verdict = cookie::check(secrets, c, req.peer, req.now);
    let mut out = [0u8; 24];
    out[..8].copy_from_slice(&c.client);
    if verdict == (cookie::Verdict::Valid { refresh: false }) {
        out[8..].copy_from_slice(c.server());
    } else {
        let fresh = cookie::server_cookie(&secrets.current, &c.client, req.peer, req.now);
        out[8..].copy_from_slice(&fresh);
    }
    Some(Cookie { out, verdict })
}

/// The rate-limiting identity of a pre-encoded answer: the answer itself, so every name
/// an NXDOMAIN or a wildcard covers shares its zone's or wildcard's bucket.
fn answer_key(q: &Query<'_>, answer: &Answer<'_>) -> ResponseKey {
    let counts = answer.counts();
    let (class, qtype) = if answer.rcode() == wire::RCODE_NXDOMAIN {
        (Class::NxDomain, 0)
    } else if counts[0] > 0 {
        (Class::Answer, q.qtype)
    } else if !answer.authoritative() {
        (Class::Referral, 0)
    } else {
        (Class::NoData, q.qtype)
    };
    ResponseKey {
        class,
        name: answer.site,
        qtype,
        subnet: 0,
    }
}

/// The client subnet an answer was tailored to (its ECS scope), folded into 64 bits.
fn subnet_key(q: &Query<'_>, scope: u8) -> u64 {
    let Some(c) = q.edns.and_then(|e| e.client_subnet) else {
        return 0;
    };
    let bits = scope.min(c.source_prefix) as u32;
    if bits == 0 {
        return 0;
    }
    let mut a = u128::from_be_bytes(c.addr);
    a &= u128::MAX << (128 - bits);
    let folded = (a >> 64) as u64 ^ a as u64;
    folded ^ ((bits as u64) << 56) ^ c.family as u64
}

/// Rewrites the response in `out` as a slipped one (RRL): header and question, TC=1, no
/// records, the OPT record kept (its cookie lets the client come back proven).
pub fn slip(out: &mut Vec<u8>, reply: &Reply) {
    let q_end = reply.question_end as usize;
    if out.len() < 12 || q_end > out.len() {
        return;
    }
    let has_opt = reply.opt_start as usize >= q_end && reply.opt_start != 0;
    if has_opt {
        let opt = reply.opt_start as usize;
        out.copy_within(opt.., q_end);
        out.truncate(q_end + (out.len() - opt));
    } else {
        out.truncate(q_end);
    }
    out[2] |= (wire::FLAG_TC >> 8) as u8;
    out[6..10].fill(0);
    out[10..12].copy_from_slice(&(has_opt as u16).to_be_bytes());
}

/// What the OPT record of a response carries besides the payload size.
#[derive(Clone, Copy)]
struct OptOut<'a> {
    payload: u16,
    ecs_scope: u8,
    cookie: Option<Cookie>,
    /// Our NSID, sent when the query asks for it.
    nsid: Option<&'a [u8]>,
    /// Why an error response is one.
    ede: Option<Ede>,
}

/// Locates the client (ECS, else the resolver) and runs the route decision, or takes the
/// decision this thread made for the same client network in this snapshot ([`decisions`]).
pub fn decide_for(snap: &Snapshot, q: &Query<'_>, service: usize, peer: IpAddr) -> Decision {
    let full = |a: IpAddr| if a.is_ipv4() { 32 } else { 128 };
    let (addr, source_prefix) = match q.edns.and_then(|e| e.client_subnet) {
        // Source prefix 0: the client asks us not to use its subnet (RFC 7871 §7.1.2).
        Some(c) if c.source_prefix == 0 => (peer, 0),
        Some(c) => (c.ip(), c.source_prefix),
        None => (peer, full(peer)),
    };
    let family = if q.qtype == TYPE_AAAA {
        Family::V6
    } else {
        Family::V4
    };
    let key = decisions::Key::new(snap.generation, service, family, addr, source_prefix);
    if let Some(decision) = decisions::get(&key) {
        return decision;
    }
    let location = snap.locate(addr);
    let client = Client {
        addr,
        source_prefix,
        location: &location,
    };
    let svc = &snap.services[service];
    let decision = route::decide(
        svc,
        &snap.config.regions,
        &client,
        &snap.health.service(service),
        family,
        None,
    );
    if decisions::reusable(svc, &location, key.prefix) {
        decisions::put(key, decision);
    }
    decision
}

/// Writes an authoritative answer holding the decision's addresses, after the CNAME chain
/// that led to the load-balanced name if there is one (TC with no answer when it does not
/// all fit).
fn render_addresses(
    q: &Query<'_>,
    chain: Option<(Answer<'_>, u16)>,
    decision: &Decision,
    max: usize,
    opt_out: OptOut<'_>,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) {
    let records: usize = decision
        .addresses()
        .map(|a| if a.is_ipv4() { 16 } else { 28 })
        .sum();
    let (chain_body, chain_count, owner): (&[u8], u16, u16) = match chain {
        Some((c, owner)) => (c.body(), c.counts()[0], owner),
        None => (&[], 0, QNAME_OFFSET as u16),
    };
    let truncated = 12 + q.question.len() + chain_body.len() + records + opt_len(q, &opt_out) > max;
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
        opt(out, 0, e, opt_out);
    }
}

/// Writes an authoritative answer holding the fallback CNAME of a service whose endpoints
/// are all down (`on_all_down = { cname = ... }`), after the CNAME chain that led to the
/// service if there is one; the resolver follows the target itself. Encoded per query,
/// the target uncompressed (it is rare: only while everything is down).
#[allow(clippy::too_many_arguments)]
fn render_cname(
    q: &Query<'_>,
    chain: Option<(Answer<'_>, u16)>,
    target: &hickory_proto::rr::Name,
    ttl: u32,
    max: usize,
    opt_out: OptOut<'_>,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) {
    let mut wire = [0u8; 255];
    let mut len = 0;
    for label in target.iter() {
        wire[len] = label.len() as u8;
        wire[len + 1..len + 1 + label.len()].copy_from_slice(label);
        len += 1 + label.len();
    }
    len += 1; // the root label (already 0)
    let (chain_body, chain_count, owner): (&[u8], u16, u16) = match chain {
        Some((c, owner)) => (c.body(), c.counts()[0], owner),
        None => (&[], 0, QNAME_OFFSET as u16),
    };
    let record = 12 + len;
    let truncated = 12 + q.question.len() + chain_body.len() + record + opt_len(q, &opt_out) > max;
    let mut flags = wire::FLAG_QR | wire::FLAG_AA | (q.flags & (wire::FLAG_RD | wire::FLAG_CD));
    let count = if truncated {
        flags |= wire::FLAG_TC;
        stats.truncated += 1;
        0
    } else {
        chain_count + 1
    };
    header(out, q.id, flags, 1, [count, 0, q.edns.is_some() as u16]);
    out.extend_from_slice(q.question);
    if !truncated {
        out.extend_from_slice(chain_body);
        out.extend_from_slice(&(0xC000 | owner).to_be_bytes());
        out.extend_from_slice(&[0, 5, 0, 1]);
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&wire[..len]);
    }
    if let Some(e) = q.edns {
        opt(out, 0, e, opt_out);
    }
}

/// Writes the answer for a name below a DNAME (RFC 6672 §3.1): the DNAME, then the CNAME
/// from the query name to the name with the DNAME's owner (`owner_len` octets) replaced by
/// its target, with the DNAME's TTL; YXDOMAIN with the DNAME alone when that name would be
/// longer than 255 octets. When the new name is one of ours with a pre-encoded answer, that
/// answer follows, its pointers moved onto the new name: the query restarts there for
/// every qtype but CNAME, which the synthesised CNAME answers (RFC 6672 §3.2; Knot and
/// NSD alike). Built per query into `out`, without allocating; returns the rcode.
fn render_dname(
    zones: &Zones,
    q: &Query<'_>,
    (dname, owner_len): (&Dname, usize),
    max: usize,
    opt_out: OptOut<'_>,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) -> u8 {
    let prefix = &q.qname[..q.qname.len() - owner_len];
    let synthesised = prefix.len() + dname.target.len();
    let too_long = synthesised > 255;
    let cname_len = if too_long { 0 } else { 12 + synthesised };
    let dname_answer = dname.answer.answer();
    let body = dname_answer.body();
    let size = 12 + q.question.len() + body.len() + cname_len + opt_len(q, &opt_out);
    let truncated = size > max;
    // The synthesised name's answer, when it is ours and pre-encoded.
    let mut key = [0u8; 255];
    let chased = (!too_long && !truncated && q.qtype != TYPE_CNAME)
        .then(|| {
            key[..prefix.len()].copy_from_slice(&q.qname_lower[..prefix.len()]);
            for (d, s) in key[prefix.len()..synthesised]
                .iter_mut()
                .zip(dname.target.iter())
            {
                *d = s.to_ascii_lowercase();
            }
            match zones.lookup(&key[..synthesised], q.qtype) {
                Some((_, Found::Answer(a))) => Some(a),
                _ => None,
            }
        })
        .flatten();
    let (chase_end, chase_counts, chase_truncated) =
        chased.map_or((0, [0; 3], false), |a| a.fit(max.saturating_sub(size)));
    let rcode = match chased {
        _ if too_long => RCODE_YXDOMAIN,
        Some(a) => a.rcode(),
        None => 0,
    };
    let mut flags =
        wire::FLAG_QR | wire::FLAG_AA | (q.flags & (wire::FLAG_RD | wire::FLAG_CD)) | rcode as u16;
    let counts = if truncated {
        [0; 3]
    } else {
        let [a, n, ad] = chase_counts;
        [1 + !too_long as u16 + a, n, ad]
    };
    if truncated || chase_truncated {
        flags |= wire::FLAG_TC;
        stats.truncated += 1;
    }
    header(
        out,
        q.id,
        flags,
        1,
        [counts[0], counts[1], counts[2] + q.edns.is_some() as u16],
    );
    out.extend_from_slice(q.question);
    if !truncated {
        let delta = q.qname.len() as isize - dname_answer.model_qname_len() as isize;
        dname_answer.write_body(out, body.len(), delta);
        if !too_long {
            out.extend_from_slice(&(0xC000 | QNAME_OFFSET as u16).to_be_bytes());
            out.extend_from_slice(&TYPE_CNAME.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&dname.ttl.to_be_bytes());
            out.extend_from_slice(&(synthesised as u16).to_be_bytes());
            let name_at = out.len();
            out.extend_from_slice(prefix);
            out.extend_from_slice(&dname.target);
            if let Some(a) = chased
                && !a.write_body_at(out, chase_end, name_at, synthesised)
            {
                // Out of pointer range: the resolver follows the CNAME itself.
                out[6..12].copy_from_slice(&[0, 2, 0, 0, 0, q.edns.is_some() as u8]);
                out[3] &= 0xF0;
                out[2] &= !((wire::FLAG_TC >> 8) as u8);
            }
        }
    }
    if let Some(e) = q.edns {
        opt(out, 0, e, opt_out);
    }
    out[3] & 0x0F
}

/// Size of the OPT record the response to `q` carries (0 without EDNS).
fn opt_len(q: &Query<'_>, opt_out: &OptOut<'_>) -> usize {
    q.edns.map_or(0, |e| opt_size(&e, opt_out))
}

/// Size of the OPT record `opt` writes for a query's OPT `e`.
fn opt_size(e: &Edns, o: &OptOut<'_>) -> usize {
    OPT_LEN
        + e.client_subnet.map_or(0, |c| 8 + c.addr_len as usize)
        + o.cookie.map_or(0, |_| COOKIE_OPT_LEN)
        + o.nsid.filter(|_| e.nsid).map_or(0, |n| 4 + n.len())
        + o.ede.map_or(0, |d| d.option_len())
}

/// Writes header, question, the answer's sections (cut to fit `max`) and OPT.
fn render(
    q: &Query<'_>,
    answer: &Answer<'_>,
    max: usize,
    opt_out: OptOut<'_>,
    out: &mut Vec<u8>,
    stats: &mut QueryStats,
) {
    let fixed = 12 + q.question.len() + opt_len(q, &opt_out);
    let room = max.saturating_sub(fixed);
    let (end, counts, truncated) = answer.fit(room);
    let mut flags =
        wire::FLAG_QR | (q.flags & (wire::FLAG_RD | wire::FLAG_CD)) | answer.rcode() as u16;
    if answer.authoritative() {
        flags |= wire::FLAG_AA;
    }
    if truncated {
        flags |= wire::FLAG_TC;
        stats.truncated += 1;
    }
    let arcount = counts[2] + q.edns.is_some() as u16;
    header(out, q.id, flags, 1, [counts[0], counts[1], arcount]);
    out.extend_from_slice(q.question);
    let delta = q.qname.len() as isize - answer.model_qname_len() as isize;
    answer.write_body(out, end, delta);
    if let Some(e) = q.edns {
        opt(out, 0, e, opt_out);
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

/// An OPT record advertising our payload size; echoes ECS with the given scope (RFC 7871
/// §7.2.1), carries our COOKIE when there is one, our NSID when the query asked for it
/// (RFC 5001 §2.1), and the Extended DNS Error of an error response.
fn opt(out: &mut Vec<u8>, extended_rcode: u16, e: Edns, o: OptOut<'_>) {
    out.push(0); // root owner
    out.extend_from_slice(&wire::TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&o.payload.to_be_bytes());
    out.push((extended_rcode >> 4) as u8);
    out.push(0); // version 0
    out.push(if e.dnssec_ok { 0x80 } else { 0 });
    out.push(0);
    let rdlen_at = out.len();
    out.extend_from_slice(&0u16.to_be_bytes());
    if let Some(c) = e.client_subnet {
        let len = 4 + c.addr_len as u16;
        out.extend_from_slice(&wire::OPT_ECS.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&c.family.to_be_bytes());
        out.push(c.source_prefix);
        out.push(o.ecs_scope.min(c.source_prefix));
        out.extend_from_slice(&c.addr[..c.addr_len as usize]);
    }
    if let Some(c) = o.cookie {
        out.extend_from_slice(&wire::OPT_COOKIE.to_be_bytes());
        out.extend_from_slice(&24u16.to_be_bytes());
        out.extend_from_slice(&c.out);
    }
    if e.nsid
        && let Some(id) = o.nsid
    {
        wire::write_nsid(out, id);
    }
    if let Some(ede) = o.ede {
        ede.write(out);
    }
    let rdlen = (out.len() - rdlen_at - 2) as u16;
    out[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
}

/// An answerless response with `rcode` (extended rcodes go into OPT).
fn error_response(
    msg: &[u8],
    question_end: Option<u16>,
    rcode: u16,
    edns: Option<Edns>,
    opt_out: OptOut<'_>,
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
        opt(out, rcode, e, opt_out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: Option<&str>, version: Option<&str>) -> IdentityConfig {
        IdentityConfig {
            name: name.map(Into::into),
            nsid: None,
            version: version.map(Into::into),
        }
    }

    #[test]
    fn chaos_names_are_answered_refused_or_not_supported() {
        let on = identity(Some("ns1"), Some("9.9"));
        let off = identity(None, None);
        // Config, lower-cased name, type, then the TXT or the EDE of the REFUSED.
        type Row<'a> = (&'a IdentityConfig, &'a [u8], u16, Result<&'a str, Ede>);
        let rows: &[Row] = &[
            (&on, ID_SERVER, TYPE_TXT, Ok("ns1")),
            (&on, HOSTNAME_BIND, TYPE_ANY, Ok("ns1")),
            (&on, VERSION_SERVER, TYPE_TXT, Ok("9.9")),
            (&on, VERSION_BIND, TYPE_TXT, Ok("9.9")),
            (&on, ID_SERVER, 1, Err(Ede::NOT_SUPPORTED)),
            (
                &on,
                b"\x07authors\x04bind\x00",
                TYPE_TXT,
                Err(Ede::NOT_SUPPORTED),
            ),
            (
                &on,
                b"\x02id\x06server\x03com\x00",
                TYPE_TXT,
                Err(Ede::NOT_SUPPORTED),
            ),
            (&off, ID_SERVER, TYPE_TXT, Err(Ede::PROHIBITED)),
            (&off, VERSION_BIND, TYPE_ANY, Err(Ede::PROHIBITED)),
            (&off, VERSION_BIND, 1, Err(Ede::NOT_SUPPORTED)),
        ];
        for &(id, key, qtype, want) in rows {
            assert_eq!(chaos_text(id, key, qtype), want, "{key:?} type {qtype}");
        }
    }

    /// `opt_size` is what `opt` writes, for every mix of options: RRL's slip finds the OPT
    /// record by it, and truncation counts on it.
    #[test]
    fn opt_size_is_what_opt_writes() {
        let ecs = wire::ClientSubnet {
            family: 2,
            source_prefix: 56,
            scope_prefix: 0,
            addr: [0x20; 16],
            addr_len: 7,
        };
        let cookie = Cookie {
            out: [7; 24],
            verdict: cookie::Verdict::Valid { refresh: false },
        };
        for asks_nsid in [false, true] {
            for client_subnet in [None, Some(ecs)] {
                for cookie in [None, Some(cookie)] {
                    for nsid in [None, Some(&b"ns1.example"[..])] {
                        for ede in [None, Some(Ede::NOT_SUPPORTED), Some(Ede::other("why"))] {
                            let e = Edns {
                                udp_payload: 1232,
                                version: 0,
                                dnssec_ok: true,
                                compact_ok: false,
                                client_subnet,
                                cookie: None,
                                nsid: asks_nsid,
                                malformed: None,
                            };
                            let o = OptOut {
                                payload: 1232,
                                ecs_scope: 0,
                                cookie,
                                nsid,
                                ede,
                            };
                            let mut out = vec![1, 2, 3];
                            opt(&mut out, 0, e, o);
                            assert_eq!(out.len() - 3, opt_size(&e, &o));
                            assert_eq!(opt_start(&out, Some(e), &o), 3);
                            let rdlen = u16::from_be_bytes([out[12], out[13]]) as usize;
                            assert_eq!(rdlen, out.len() - 14, "RDLENGTH covers the options");
                            let sent_nsid = out.windows(4).any(|w| w == [0, 3, 0, 11]);
                            assert_eq!(sent_nsid, asks_nsid && nsid.is_some());
                        }
                    }
                }
            }
        }
    }
}

//! The deliberate differences between Meridian and NSD: what differs, why Meridian's
//! answer is right (with its RFC), and a reconciler that, when exactly that difference is
//! present, makes NSD's normalised response agree with Meridian's in that respect only.
//! Whatever still differs afterwards fails the test.
//!
//! An entry that matches no query fails the test, so the list cannot outlive what it
//! excuses. (A known Meridian bug may be listed for a while as `BUG: fix pending`, so the
//! rest of the comparison still runs; none is listed now.)

use super::normal::{Answer, Normal, Probe, Rr};
use hickory_proto::rr::RecordType;

/// Which server an entry asks another query (e.g. the same one over TCP, where nothing is
/// cut for size).
#[derive(Clone, Copy, Debug)]
pub enum Peer {
    Meridian,
    Nsd,
}

/// Asks a server another query.
pub type Ask<'a> = dyn FnMut(Peer, &Probe) -> Normal + 'a;

pub struct Deliberate {
    pub what: &'static str,
    pub why: &'static str,
    /// `(query, meridian, nsd, ask)`: reconciles `nsd` and returns true when this
    /// difference was there.
    pub reconcile: fn(&Probe, &Answer, &mut Answer, &mut Ask<'_>) -> bool,
}

const FORMERR: u16 = 1;
const NOTIMP: u16 = 4;
const REFUSED: u16 = 5;
const BADVERS: u16 = 16;

/// In order: header bits first, then whole-response entries, then sections.
pub const ALLOWLIST: &[Deliberate] = &[
    Deliberate {
        what: "CD is copied into the response; NSD (and Knot) clear it",
        why: "RFC 4035 §3: a security-aware name server MUST copy the CD bit from a query \
              into the corresponding response (§3.1.6 then says an authoritative response \
              SHOULD clear it, which NSD and Knot follow); resolvers disregard CD in \
              responses (§4.6), so either is safe. Meridian's reference (3.1) promises the copy",
        reconcile: cd_copied,
    },
    Deliberate {
        what: "BADVERS keeps the query's DO bit; NSD clears it",
        why: "RFC 3225 §3: the DO bit of the query MUST be copied in the response",
        reconcile: do_kept_in_badvers,
    },
    Deliberate {
        what: "QTYPE 0 or OPT is FORMERR; NSD looks the name up",
        why: "TYPE 0 is reserved (RFC 6895 §3.1) and OPT is a pseudo-record of the \
              additional section only (RFC 6891 §6.1.1): no question can ask for data of \
              either",
        reconcile: meta_qtype_formerr,
    },
    Deliberate {
        what: "MAILA and MAILB are NOTIMP; NSD (and Knot) look them up as ordinary types \
               (NODATA)",
        why: "they ask for the obsolete MD/MF and experimental MB/MG/MR records together \
              (RFC 1035 §3.2.3), a kind of query Meridian does not implement: NOTIMP \
              (RFC 1035 §4.1.1) says so, where NODATA would claim there are none",
        reconcile: mail_qtype_notimp,
    },
    Deliberate {
        what: "AXFR and IXFR that no [transfer.ZONE] allows (here: none, and over UDP \
               never) are REFUSED (EDE 21 over UDP, 18 over TCP); NSD says NOTAUTH, or \
               NOTIMP for AXFR on UDP",
        why: "a transfer the server will not give is refused by policy (RFC 5936 §2.2.1 \
              keeps NOTAUTH for a zone the server is not authoritative for; AXFR over UDP is \
              undefined, §4.2); EDE 21 Not Supported or 18 Prohibited says why (RFC 8914 \
              §4.22, §4.19). Allowed transfers are tested in tests/integration/xfr.rs",
        reconcile: transfer_refused,
    },
    Deliberate {
        what: "QCLASS * is answered as class IN, with AA and the SOA of negative answers; \
               NSD clears AA and leaves the SOA out",
        why: "QCLASS * matches any class (RFC 1035 §3.2.5) and Meridian holds only class \
              IN, so its IN answer is the whole, authoritative answer; a negative answer \
              carries the SOA for caching (RFC 2308 §3). Knot answers as Meridian does",
        reconcile: qclass_any_as_in,
    },
    Deliberate {
        what: "QTYPE NSEC3 at a CNAME owner gets the CNAME; NSD answers NODATA",
        why: "RFC 1034 §4.3.2 step 3a follows the CNAME for every QTYPE but CNAME; NSD \
              special-cases NSEC3 even in an unsigned zone (RFC 5155 §7.2.8 is about NSEC3 \
              owner names in signed zones)",
        reconcile: nsec3_follows_cname,
    },
    Deliberate {
        what: "a CNAME chain ends where its target leaves the query's zone; NSD continues \
               in another zone it serves (or its child zone instead of the referral)",
        why: "only the first CNAME of an answer is authoritative (RFC 2181 §5.4.1) and \
              resolvers ask for the target again, from the servers of the target's zone; \
              RFC 1034 §4.3.2 step 3a allows either",
        reconcile: chain_stays_in_zone,
    },
    Deliberate {
        what: "ANY is answered with a different single RRset than NSD's",
        why: "RFC 8482 §4.1: one RRset of the name, the responder's choice; Meridian's is the \
              first written other than the SOA, NSD prefers A, AAAA, SOA, MX, PTR. Checked \
              by asking NSD for the type Meridian chose: that response must equal Meridian's",
        reconcile: any_is_one_rrset,
    },
    Deliberate {
        what: "a referral whose in-bailiwick glue does not all fit sets TC; NSD (4.6) \
               sends what fits without TC",
        why: "RFC 9471 §3: if message size constraints prevent the inclusion of all glue \
              records for in-domain name servers, the server MUST set the TC flag. Which \
              glue fits is checked against NSD's whole referral over TCP",
        reconcile: referral_glue_truncated,
    },
    Deliberate {
        what: "additional records that do not fit are dropped differently",
        why: "additional data is optional and dropped without TC when it does not fit \
              (RFC 2181 §9); which records stay is the server's choice. Both sets must be \
              part of NSD's whole additional section over TCP",
        reconcile: additional_dropped_to_fit,
    },
    Deliberate {
        what: "positive answers carry no NS in authority and none of their addresses; NSD \
               (without minimal-responses) adds the zone's NS RRset and their addresses",
        why: "optional data (RFC 1034 §6.2.1 shows answers with an empty authority section; \
              RFC 2181 §5.4.1 ranks it below the answer); leaving it out keeps answers small \
              (NSD's own minimal-responses does the same). Meridian's additional records \
              must still be NSD's",
        reconcile: no_authority_ns_in_answers,
    },
];

/// The zones both servers serve, most specific first.
const ZONES: [&str; 2] = ["child.example.com.", "example.com."];

/// The zone a (lower-case, absolute) name is in, if any.
fn zone_of(name: &str) -> Option<&'static str> {
    ZONES
        .iter()
        .copied()
        .find(|z| name == *z || name.ends_with(&format!(".{z}")))
}

/// The CNAME of `answer` whose target owns no record of `answer`: where a chain stopped.
fn chain_end(answer: &[Rr]) -> Option<&Rr> {
    answer
        .iter()
        .filter(|r| r.is(RecordType::CNAME))
        .find(|c| !answer.iter().any(|r| r.owner == c.data))
}

/// Whether every record of `a` is in `b` (both sorted).
fn subset(a: &[Rr], b: &[Rr]) -> bool {
    a.iter().all(|r| b.contains(r))
}

/// The records of `b` not in `a`.
fn minus<'a>(b: &'a [Rr], a: &[Rr]) -> Vec<&'a Rr> {
    b.iter().filter(|r| !a.contains(r)).collect()
}

/// Takes Meridian's response whole when `differs` (for entries where Meridian answers with
/// an error or a shorter answer by design, so nothing else can be compared).
fn adopt(differs: bool, ours: &Answer, theirs: &mut Answer) -> bool {
    let differs = differs && ours != theirs;
    if differs {
        *theirs = ours.clone();
    }
    differs
}

fn no_records(a: &Answer) -> bool {
    a.answer.is_empty() && a.authority.is_empty() && a.additional.is_empty()
}

fn cd_copied(p: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    let differs = p.cd && ours.cd && !theirs.cd;
    theirs.cd |= differs;
    differs
}

fn do_kept_in_badvers(p: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    let asked = p.edns.is_some_and(|e| e.dnssec_ok);
    let badvers = ours.rcode == BADVERS && theirs.rcode == BADVERS;
    match (&ours.edns, &mut theirs.edns) {
        (Some(o), Some(t)) if badvers && o.dnssec_ok == asked && t.dnssec_ok != asked => {
            t.dnssec_ok = asked;
            true
        }
        _ => false,
    }
}

fn meta_qtype_formerr(p: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    let applies = matches!(p.qtype, 0 | 41) && ours.rcode == FORMERR && no_records(ours);
    adopt(applies, ours, theirs)
}

fn mail_qtype_notimp(p: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    let applies = matches!(p.qtype, 253 | 254) && ours.rcode == NOTIMP && no_records(ours);
    adopt(applies, ours, theirs)
}

fn transfer_refused(p: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    let applies = matches!(p.qtype, 251 | 252) && ours.rcode == REFUSED && no_records(ours);
    adopt(applies, ours, theirs)
}

fn qclass_any_as_in(p: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    if p.qclass != 255 || ours.rcode != theirs.rcode {
        return false;
    }
    let mut differs = false;
    if ours.aa && !theirs.aa {
        theirs.aa = true;
        differs = true;
    }
    let soa: Vec<Rr> = ours
        .authority
        .iter()
        .filter(|r| r.is(RecordType::SOA))
        .cloned()
        .collect();
    if !soa.is_empty() && !theirs.authority.iter().any(|r| r.is(RecordType::SOA)) {
        theirs.authority.extend(soa);
        theirs.authority.sort();
        differs = true;
    }
    differs
}

fn nsec3_follows_cname(p: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    let applies = p.qtype == u16::from(RecordType::NSEC3)
        && theirs.answer.is_empty()
        && ours.answer.iter().any(|r| r.is(RecordType::CNAME));
    adopt(applies, ours, theirs)
}

fn chain_stays_in_zone(_: &Probe, ours: &Answer, theirs: &mut Answer, _: &mut Ask<'_>) -> bool {
    let applies = ours.rcode == 0
        && chain_end(&ours.answer).is_some_and(|end| {
            zone_of(&end.owner) != zone_of(&end.data) && subset(&ours.answer, &theirs.answer)
        });
    adopt(applies, ours, theirs)
}

/// The one RRset (owner, type) an ANY answer holds besides a DNAME/CNAME chain to it.
fn one_rrset(answer: &[Rr]) -> Option<(&str, u16)> {
    let mut sets = answer
        .iter()
        .filter(|r| !r.is(RecordType::CNAME) && !r.is(RecordType::DNAME))
        .map(|r| (r.owner.as_str(), r.rtype));
    let first = sets.next()?;
    sets.all(|s| s == first).then_some(first)
}

fn any_is_one_rrset(p: &Probe, ours: &Answer, theirs: &mut Answer, ask: &mut Ask<'_>) -> bool {
    if p.qtype != 255 || ours.rcode != 0 || theirs.rcode != 0 {
        return false;
    }
    let (Some((owner, chosen)), Some((their_owner, their_type))) =
        (one_rrset(&ours.answer), one_rrset(&theirs.answer))
    else {
        return false;
    };
    if owner != their_owner || chosen == their_type {
        return false;
    }
    let again = Probe {
        qtype: chosen,
        ..p.clone()
    };
    let Normal::Answer(a) = ask(Peer::Nsd, &again) else {
        return false;
    };
    theirs.rcode = a.rcode;
    theirs.aa = a.aa;
    theirs.tc = a.tc;
    theirs.answer = a.answer;
    theirs.authority = a.authority;
    theirs.additional = a.additional;
    true
}

/// `peer`'s response to the same query over TCP, where nothing is cut for size.
fn whole(peer: Peer, p: &Probe, ask: &mut Ask<'_>) -> Option<Answer> {
    let again = Probe {
        tcp: true,
        ..p.clone()
    };
    match ask(peer, &again) {
        Normal::Answer(a) if !a.tc => Some(*a),
        _ => None,
    }
}

fn referral_glue_truncated(
    p: &Probe,
    ours: &Answer,
    theirs: &mut Answer,
    ask: &mut Ask<'_>,
) -> bool {
    let referral = |a: &Answer| !a.aa && a.authority.iter().any(|r| r.is(RecordType::NS));
    let applies = !p.tcp
        && ours.tc
        && !theirs.tc
        && referral(ours)
        && referral(theirs)
        && ours.authority == theirs.authority
        && ours.answer == theirs.answer;
    if !applies {
        return false;
    }
    let Some(full) = whole(Peer::Nsd, p, ask) else {
        return false;
    };
    if !subset(&ours.additional, &full.additional)
        || !subset(&theirs.additional, &full.additional)
        || ours.additional == full.additional
    {
        return false;
    }
    theirs.tc = true;
    theirs.additional = ours.additional.clone();
    true
}

fn additional_dropped_to_fit(
    p: &Probe,
    ours: &Answer,
    theirs: &mut Answer,
    ask: &mut Ask<'_>,
) -> bool {
    let applies = !p.tcp
        && !ours.tc
        && !theirs.tc
        && ours.rcode == theirs.rcode
        && ours.answer == theirs.answer
        && ours.additional != theirs.additional;
    if !applies {
        return false;
    }
    let (Some(our_whole), Some(their_whole)) =
        (whole(Peer::Meridian, p, ask), whole(Peer::Nsd, p, ask))
    else {
        return false;
    };
    // Each server kept part of its own whole additional section, at least one of them
    // cut it, and Meridian kept only records NSD has too.
    let kept = |a: &Answer, w: &Answer| subset(&a.additional, &w.additional);
    let cut = |a: &Answer, w: &Answer| a.additional != w.additional;
    if !(kept(ours, &our_whole)
        && kept(theirs, &their_whole)
        && (cut(ours, &our_whole) || cut(theirs, &their_whole))
        && subset(&ours.additional, &their_whole.additional))
    {
        return false;
    }
    theirs.additional = ours.additional.clone();
    true
}

fn no_authority_ns_in_answers(
    _: &Probe,
    ours: &Answer,
    theirs: &mut Answer,
    _: &mut Ask<'_>,
) -> bool {
    if !theirs.aa || theirs.rcode != 0 || theirs.answer.is_empty() {
        return false;
    }
    let extra = minus(&theirs.authority, &ours.authority);
    let Some(apex) = extra.first().map(|r| r.owner.as_str()) else {
        return false;
    };
    let zone_ns = extra
        .iter()
        .all(|r| r.is(RecordType::NS) && r.owner == apex && zone_of(apex) == Some(apex));
    let targets: Vec<&str> = extra.iter().map(|r| r.data.as_str()).collect();
    let addresses = minus(&theirs.additional, &ours.additional).iter().all(|r| {
        (r.is(RecordType::A) || r.is(RecordType::AAAA)) && targets.contains(&r.owner.as_str())
    });
    let applies = zone_ns
        && addresses
        && subset(&ours.authority, &theirs.authority)
        && subset(&ours.additional, &theirs.additional);
    if applies {
        theirs.authority = ours.authority.clone();
        theirs.additional = ours.additional.clone();
    }
    applies
}

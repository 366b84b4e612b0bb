//! Denial of existence for an online signer: compact answers (RFC 9824) and the minimally
//! covering NSEC of RFC 4470 where a name must really be proven absent (wildcard answers).
//!
//! Pure: the caller says what the zone holds at the query name ([`NameState`]) and which
//! EDNS flags the client sent; [`deny`] returns the response code, whether to set the CO
//! flag, and the one NSEC RRset to sign (with `sign::sign_rrset`) and put in the
//! authority section. No zone lookup happens here.
//!
//! The rules (RFC 9824 §3, §5; RFC 4035 §3.1.3, §3.1.4.1):
//! - nonexistent name: NOERROR and an NSEC at the query name, next name `\000.qname`,
//!   types RRSIG NSEC NXNAME; when the client set CO (with DO): rcode NXDOMAIN;
//! - every signed response to a query with DO and CO sets CO (RFC 9824 §5.1);
//! - existing name, type absent (NODATA): NSEC at the name, the types it holds + RRSIG NSEC;
//! - empty non-terminal: NSEC at the name with RRSIG NSEC only;
//! - insecure delegation (NS, no DS), for a DS query or a referral: NSEC at the cut with
//!   NS RRSIG NSEC and no DS, which proves the child is unsigned;
//! - answer synthesized from a wildcard and signed as such: an NSEC that covers the next
//!   closer name only (owner its immediate predecessor, next its immediate successor at
//!   the same level), so a validator can tell the exact name does not exist and finds the
//!   wildcard's parent as closest encloser;
//! - wildcard NODATA is given the compact answer of a NODATA at the query name with the
//!   wildcard's types (what exists at the query name through the wildcard).
//!
//! Without DO (or without EDNS) nothing is signed: NXDOMAIN stays NXDOMAIN.

use super::DnssecError;
use super::canon::{self, rtype};

/// The NXNAME meta-type (RFC 9824 §2), only ever in an NSEC type bitmap.
pub const NXNAME: u16 = 128;
/// EDNS header flag DO, "DNSSEC OK" (RFC 3225), as in the OPT record's TTL low 16 bits.
pub const EDNS_DO: u16 = 0x8000;
/// EDNS header flag CO, "Compact Answers OK" (RFC 9824 §5.1): bit 1, the one after DO.
pub const EDNS_CO: u16 = 0x4000;
/// Response codes the rules choose between.
pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const NXDOMAIN: u8 = 3;

/// What the zone holds at the query name, as the zone lookup found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameState<'a> {
    /// No such name, no wildcard matches, no delegation above it.
    NotFound,
    /// The name owns these types; the query type is not among them (NODATA).
    NoData { types: &'a [u16] },
    /// The name owns nothing but has names below it.
    EmptyNonTerminal,
    /// The name is a delegation point with NS and no DS (the query is for DS, or the
    /// answer is a referral). `types` are the authoritative types at the cut (NS; DS
    /// would make it secure and is refused).
    InsecureDelegation { types: &'a [u16] },
    /// The answer was synthesized from `wildcard` (`*.closest-encloser`, wire form) and
    /// its RRSIG has the wildcard's Labels count: the exact name must be proven absent.
    WildcardAnswer { wildcard: &'a [u8] },
    /// `wildcard` matches but does not own the query type; `types` are what it owns.
    WildcardNoData {
        wildcard: &'a [u8],
        types: &'a [u16],
    },
}

/// One NSEC record to sign and serve: owner, Next Domain Name, the types of its bitmap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nsec {
    /// Wire form, lower case.
    pub owner: Vec<u8>,
    /// Wire form, lower case.
    pub next: Vec<u8>,
    /// Sorted, no duplicates; always includes RRSIG and NSEC.
    pub types: Vec<u16>,
}

impl Nsec {
    /// The NSEC RDATA (RFC 4034 §4.1): next name uncompressed, then the type bitmaps.
    pub fn rdata(&self) -> Vec<u8> {
        let mut out = self.next.clone();
        out.extend_from_slice(&canon::type_bitmaps(&self.types));
        out
    }
}

/// What a negative (or wildcard) answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// NOERROR or NXDOMAIN.
    pub rcode: u8,
    /// Set the CO flag in the response's EDNS header: the query had DO and CO.
    pub co: bool,
    /// The NSEC for the authority section (with its RRSIG); `None` without DO.
    pub nsec: Option<Nsec>,
}

/// The response code for an explicit query of type NXNAME: FORMERR (RFC 9824 §3.5).
pub fn nxname_query_rcode(qtype: u16) -> Option<u8> {
    (qtype == NXNAME).then_some(FORMERR)
}

/// The denial for `qname` in the zone at `apex` (wire forms, any case), given what the
/// zone holds there and the client's EDNS header flags (`None`: no OPT record).
/// The NSEC's TTL is the caller's: the SOA's negative TTL, min(SOA TTL, MINIMUM) (RFC 9077).
pub fn deny(
    qname: &[u8],
    apex: &[u8],
    state: NameState<'_>,
    edns_flags: Option<u16>,
) -> Result<Denial, DnssecError> {
    if !canon::is_at_or_below(qname, apex)? {
        return Err(DnssecError::OutsideZone);
    }
    let flags = edns_flags.unwrap_or(0);
    let dnssec = edns_flags.is_some() && flags & EDNS_DO != 0;
    let qname = canon::canonical_name(qname)?;
    if !dnssec {
        let rcode = if state == NameState::NotFound {
            NXDOMAIN
        } else {
            NOERROR
        };
        return Ok(Denial {
            rcode,
            co: false,
            nsec: None,
        });
    }
    let at_qname = |types: &[u16]| -> Result<Nsec, DnssecError> {
        Ok(Nsec {
            next: successor_below(&qname)?,
            owner: qname.clone(),
            types: with_nsec_types(types),
        })
    };
    let co = flags & EDNS_CO != 0;
    let denial = |nsec| Denial {
        rcode: NOERROR,
        co,
        nsec: Some(nsec),
    };
    Ok(match state {
        NameState::NotFound => Denial {
            rcode: if co { NXDOMAIN } else { NOERROR },
            co,
            nsec: Some(at_qname(&[NXNAME])?),
        },
        NameState::NoData { types } | NameState::WildcardNoData { types, .. } => {
            denial(at_qname(types)?)
        }
        NameState::EmptyNonTerminal => denial(at_qname(&[])?),
        NameState::InsecureDelegation { types } => {
            // Validators take NS without DS and SOA as the proof (Unbound's
            // val_nsec_proves_insecuredelegation reads it so): a cut is not an apex.
            if types.contains(&rtype::DS)
                || types.contains(&rtype::SOA)
                || !types.contains(&rtype::NS)
            {
                return Err(DnssecError::BadRdata(
                    rtype::NSEC,
                    "an insecure delegation has NS, and neither DS nor SOA",
                ));
            }
            denial(at_qname(types)?)
        }
        NameState::WildcardAnswer { wildcard } => denial(wildcard_proof(&qname, wildcard)?),
    })
}

/// The types of an NSEC's bitmap: the given ones plus RRSIG and NSEC, sorted, unique.
fn with_nsec_types(types: &[u16]) -> Vec<u16> {
    let mut all = types.to_vec();
    all.extend([rtype::RRSIG, rtype::NSEC]);
    all.sort_unstable();
    all.dedup();
    all
}

/// `\000.name`: the first name after `name` in canonical order (RFC 4034 §6.1), which is
/// below it. Refused when `name` is already 254 octets or more.
pub fn successor_below(name: &[u8]) -> Result<Vec<u8>, DnssecError> {
    if name.len() + 2 > 255 {
        return Err(DnssecError::BadName("too long for a successor name"));
    }
    let mut out = vec![1, 0];
    out.extend_from_slice(name);
    Ok(out)
}

/// The RFC 4470 NSEC for an answer synthesized from `wildcard`: it covers the next closer
/// name (the ancestor of `qname` one label below the closest encloser, the wildcard's
/// parent) and all of its subtree, and nothing else. Owner: the greatest name before the
/// next closer name that is not below it (its first label decremented, then filled out
/// with `\255` octets and labels to 255 octets, RFC 4471 §3.1.3); next: the first label
/// with `\000` appended. Both share only the closest encloser with `qname`.
fn wildcard_proof(qname: &[u8], wildcard: &[u8]) -> Result<Nsec, DnssecError> {
    let wild = canon::canonical_name(wildcard)?;
    let wild_labels = canon::labels(&wild)?;
    if wild_labels.first() != Some(&&b"*"[..]) {
        return Err(DnssecError::BadName("a wildcard owner starts with `*`"));
    }
    let encloser = &wild[2..];
    let q_labels = canon::labels(qname)?;
    let e_count = wild_labels.len() - 1;
    if !canon::is_at_or_below(qname, encloser)? || q_labels.len() <= e_count {
        return Err(DnssecError::BadName(
            "the query name is not below the wildcard's parent",
        ));
    }
    let first = q_labels[q_labels.len() - e_count - 1];
    let next = {
        if first.len() >= 63 {
            return Err(DnssecError::BadName("next closer label too long to extend"));
        }
        let mut n = vec![first.len() as u8 + 1];
        n.extend_from_slice(first);
        n.push(0);
        n.extend_from_slice(encloser);
        n
    };
    // The greatest label below `first` at the same level: drop a trailing \000, or
    // decrement the last octet and fill up with \255. Names compare without case, so a
    // decrement that lands on an upper-case letter goes on down to `@`.
    let max_label = 63.min(255 - encloser.len() - 1);
    let mut label = first.to_vec();
    match label.last().copied() {
        Some(0) => {
            label.pop();
        }
        Some(b) => {
            let mut d = b - 1;
            if d.is_ascii_uppercase() {
                d = b'@';
            }
            *label.last_mut().expect("non-empty") = d;
            label.resize(max_label.max(label.len()), 0xff);
        }
        None => unreachable!("labels are non-empty"),
    }
    if label.is_empty() {
        // `\000.encloser`: its predecessor is the encloser itself, which owns real data.
        return Err(DnssecError::BadName(
            "no predecessor name below the encloser",
        ));
    }
    // Then the greatest descendants: 63-octet \255 labels nearest the root, a shorter
    // one leftmost, up to 255 octets in all.
    let mut room = 255 - encloser.len() - 1 - label.len();
    let mut lengths = Vec::new();
    while room >= 2 {
        let len = (room - 1).min(63);
        lengths.push(len);
        room -= len + 1;
    }
    let mut owner = Vec::with_capacity(255);
    for &len in lengths.iter().rev() {
        owner.push(len as u8);
        owner.extend(std::iter::repeat_n(0xff, len));
    }
    owner.push(label.len() as u8);
    owner.extend_from_slice(&label);
    owner.extend_from_slice(encloser);
    Ok(Nsec {
        owner: canon::canonical_name(&owner)?,
        next,
        types: with_nsec_types(&[]),
    })
}

#[cfg(test)]
mod tests;

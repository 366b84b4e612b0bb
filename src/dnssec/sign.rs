//! RRSIGs: the RDATA of a signature over one RRset (RFC 4034 §3, RFC 4035 §2.2), the
//! validity window it states, and the check of a signature against a DNSKEY.
//!
//! `sign_rrset` is the one signing step, called at zone load and per query alike; it
//! takes the times from the caller ([`SignatureTimes`]), so it reads no clock.

use std::cmp::Ordering;
use std::time::Duration;

use super::DnssecError;
use super::canon;
use super::key::{Algorithm, ZoneKey, key_tag};

/// How long signatures are valid and how their windows are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// From signing to expiration (before the jitter moves the window back).
    pub validity: Duration,
    /// Inception is set this far before the signing time, for validators whose clock is
    /// behind ours.
    pub backdate: Duration,
    /// Up to this much more is taken off both inception and expiration, chosen per RRset
    /// by the caller's `spread` value, so that signatures made in one pass (a zone load)
    /// do not all expire, and need re-signing, in the same second.
    pub jitter: Duration,
}

impl Default for Validity {
    /// 14 days, an hour back for skewed clocks, up to an hour of jitter: the values
    /// Knot DNS and BIND's defaults are near, and far longer than any TTL we serve.
    fn default() -> Validity {
        Validity {
            validity: Duration::from_secs(14 * 86400),
            backdate: Duration::from_secs(3600),
            jitter: Duration::from_secs(3600),
        }
    }
}

/// An RRSIG's Signature Inception and Expiration: seconds since 1970 modulo 2^32, compared
/// in serial number arithmetic (RFC 4034 §3.1.5, RFC 1982), so they work past 2106.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureTimes {
    pub inception: u32,
    pub expiration: u32,
}

impl SignatureTimes {
    /// The window of a signature made at `now` (seconds since 1970): inception `backdate`
    /// before now, expiration `validity` after it, both moved back by the same jitter,
    /// `spread % (jitter + 1)` seconds. Give `spread` a hash of the owner and type: every
    /// RRset gets its own offset, the same at every load.
    pub fn at(now: u64, validity: &Validity, spread: u64) -> SignatureTimes {
        let jitter = spread % (validity.jitter.as_secs() + 1);
        let inception = now
            .saturating_sub(validity.backdate.as_secs())
            .saturating_sub(jitter);
        let expiration = now
            .saturating_add(validity.validity.as_secs())
            .saturating_sub(jitter);
        SignatureTimes {
            inception: inception as u32,
            expiration: expiration as u32,
        }
    }

    /// [`SignatureTimes::at`] with the spread taken from the RRset's owner (without case)
    /// and type: the same window offset for that RRset at every load and on every server
    /// (FNV-1a, fixed: it must not change between versions either).
    pub fn for_rrset(now: u64, validity: &Validity, owner: &[u8], rrtype: u16) -> SignatureTimes {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in owner
            .iter()
            .map(u8::to_ascii_lowercase)
            .chain(rrtype.to_be_bytes())
        {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        SignatureTimes::at(now, validity, hash)
    }

    /// Whether `now` is inside the window, bounds included (RFC 4035 §5.3.1).
    pub fn covers(&self, now: u64) -> bool {
        let now = now as u32;
        serial_cmp(self.inception, now) != Ordering::Greater
            && serial_cmp(now, self.expiration) != Ordering::Greater
    }

    /// Seconds from `now` until expiration; 0 when it has passed. A caller re-signs when
    /// this falls below its refresh margin.
    pub fn remaining(&self, now: u64) -> u32 {
        let diff = self.expiration.wrapping_sub(now as u32);
        if (diff as i32) < 0 { 0 } else { diff }
    }
}

/// RFC 1982 comparison of two 32-bit serial numbers (`Equal` also for the undefined case
/// of numbers exactly 2^31 apart, which no window of ours spans).
fn serial_cmp(a: u32, b: u32) -> Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

/// The RRSIG RDATA (RFC 4034 §3.1) of `key`'s signature over one RRset: the owner (any
/// case; a wildcard owner such as `*.example.com.` is signed as such, and its Labels
/// field leaves out the `*`), type, class, the TTL that becomes Original TTL, and the
/// RDATAs in any order and case (uncompressed wire form). The RRset is put in canonical
/// form and order first (RFC 4034 §6). The signer's name is the key's zone.
#[allow(clippy::too_many_arguments)]
pub fn sign_rrset(
    key: &ZoneKey,
    owner: &[u8],
    rrtype: u16,
    class: u16,
    ttl: u32,
    rdatas: &[&[u8]],
    inception: u32,
    expiration: u32,
) -> Result<Vec<u8>, DnssecError> {
    if !canon::is_at_or_below(owner, key.zone())? {
        return Err(DnssecError::OutsideZone);
    }
    let head = RrsigHead {
        type_covered: rrtype,
        algorithm: key.algorithm().number(),
        labels: canon::rrsig_label_count(owner)?,
        original_ttl: ttl,
        times: SignatureTimes {
            inception,
            expiration,
        },
        key_tag: key.tag(),
        signer: key.zone(),
    };
    let mut rdata = head.encode();
    let signed = signed_data(&rdata, owner, rrtype, class, ttl, rdatas)?;
    rdata.extend_from_slice(&key.sign(&signed));
    Ok(rdata)
}

/// The fields of an RRSIG before its signature.
struct RrsigHead<'a> {
    type_covered: u16,
    algorithm: u8,
    labels: u8,
    original_ttl: u32,
    times: SignatureTimes,
    key_tag: u16,
    /// Lower-case wire form.
    signer: &'a [u8],
}

impl RrsigHead<'_> {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(18 + self.signer.len() + 64);
        out.extend_from_slice(&self.type_covered.to_be_bytes());
        out.push(self.algorithm);
        out.push(self.labels);
        out.extend_from_slice(&self.original_ttl.to_be_bytes());
        out.extend_from_slice(&self.times.expiration.to_be_bytes());
        out.extend_from_slice(&self.times.inception.to_be_bytes());
        out.extend_from_slice(&self.key_tag.to_be_bytes());
        out.extend_from_slice(self.signer);
        out
    }
}

/// What is signed (RFC 4034 §3.1.8.1): the RRSIG RDATA without its signature, then every
/// record of the RRset in canonical form and order, each with the original TTL.
fn signed_data(
    rrsig_head: &[u8],
    owner: &[u8],
    rrtype: u16,
    class: u16,
    ttl: u32,
    rdatas: &[&[u8]],
) -> Result<Vec<u8>, DnssecError> {
    if rdatas.is_empty() || rdatas.len() > usize::from(u16::MAX) {
        return Err(DnssecError::RrsetSize);
    }
    let owner = canon::canonical_name(owner)?;
    let set = canon::canonical_rrset(rrtype, rdatas)?;
    let size: usize = set.iter().map(|r| owner.len() + 10 + r.len()).sum();
    let mut out = Vec::with_capacity(rrsig_head.len() + size);
    out.extend_from_slice(rrsig_head);
    for rdata in &set {
        let Ok(len) = u16::try_from(rdata.len()) else {
            return Err(DnssecError::BadRdata(rrtype, "longer than 65535 octets"));
        };
        out.extend_from_slice(&owner);
        out.extend_from_slice(&rrtype.to_be_bytes());
        out.extend_from_slice(&class.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(rdata);
    }
    Ok(out)
}

/// Why a signature does not validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("RRSIG RDATA is malformed")]
    MalformedRrsig,
    #[error("DNSKEY RDATA is malformed, not a zone key, or not protocol 3")]
    MalformedDnskey,
    #[error("the RRSIG covers another type")]
    TypeCovered,
    #[error("the RRSIG's algorithm or key tag is not the DNSKEY's")]
    KeyMismatch,
    #[error("the algorithm is not one Meridian implements (13, 15)")]
    UnsupportedAlgorithm,
    #[error("the owner is not at or below the signer's name")]
    SignerName,
    #[error("the Labels field is larger than the owner's label count")]
    Labels,
    #[error("now is outside the signature's validity window")]
    Expired,
    #[error("the signature does not match")]
    BadSignature,
    #[error("{0}")]
    Input(DnssecError),
}

impl From<DnssecError> for VerifyError {
    fn from(e: DnssecError) -> VerifyError {
        VerifyError::Input(e)
    }
}

/// Checks an RRSIG over one RRset against a DNSKEY, as a validator would (RFC 4035 §5.3):
/// type covered, algorithm and key tag, the signer's name, the Labels field (a smaller
/// count means the RRset was expanded from a wildcard, whose owner is then signed), the
/// validity window at `now` (seconds since 1970), and the signature, computed with the
/// Original TTL. The owner of the DNSKEY is the RRSIG's signer.
pub fn verify_rrsig(
    dnskey: &[u8],
    owner: &[u8],
    rrtype: u16,
    class: u16,
    rdatas: &[&[u8]],
    rrsig: &[u8],
    now: u64,
) -> Result<(), VerifyError> {
    if rrsig.len() < 19 {
        return Err(VerifyError::MalformedRrsig);
    }
    let type_covered = u16::from_be_bytes([rrsig[0], rrsig[1]]);
    let algorithm = rrsig[2];
    let labels = rrsig[3];
    let original_ttl = u32::from_be_bytes([rrsig[4], rrsig[5], rrsig[6], rrsig[7]]);
    let times = SignatureTimes {
        expiration: u32::from_be_bytes([rrsig[8], rrsig[9], rrsig[10], rrsig[11]]),
        inception: u32::from_be_bytes([rrsig[12], rrsig[13], rrsig[14], rrsig[15]]),
    };
    let tag = u16::from_be_bytes([rrsig[16], rrsig[17]]);
    let signer_end = 18 + signer_len(&rrsig[18..]).ok_or(VerifyError::MalformedRrsig)?;
    let signer = &rrsig[18..signer_end];
    let signature = &rrsig[signer_end..];

    if dnskey.len() < 4 || dnskey[0] & 1 == 0 || dnskey[2] != 3 {
        return Err(VerifyError::MalformedDnskey);
    }
    if type_covered != rrtype {
        return Err(VerifyError::TypeCovered);
    }
    if algorithm != dnskey[3] || tag != key_tag(dnskey) {
        return Err(VerifyError::KeyMismatch);
    }
    let Some(alg) = Algorithm::from_number(algorithm) else {
        return Err(VerifyError::UnsupportedAlgorithm);
    };
    if !canon::is_at_or_below(owner, signer)? {
        return Err(VerifyError::SignerName);
    }
    let owner_labels = canon::labels(owner)?;
    let owner_count = canon::rrsig_label_count(owner)?;
    let signed_owner = match labels.cmp(&owner_count) {
        Ordering::Greater => return Err(VerifyError::Labels),
        Ordering::Equal => owner.to_vec(),
        // Expanded from a wildcard: the signature is over `*.` and the last `labels` labels.
        Ordering::Less => {
            let mut wild = vec![1, b'*'];
            for label in &owner_labels[owner_labels.len() - usize::from(labels)..] {
                wild.push(label.len() as u8);
                wild.extend_from_slice(label);
            }
            wild.push(0);
            wild
        }
    };
    if !times.covers(now) {
        return Err(VerifyError::Expired);
    }
    let mut head = rrsig[..18].to_vec();
    head.extend(signer.iter().map(u8::to_ascii_lowercase));
    let data = signed_data(&head, &signed_owner, rrtype, class, original_ttl, rdatas)?;
    alg.verify(&dnskey[4..], &data, signature)
        .map_err(|_| VerifyError::BadSignature)
}

/// The length of the uncompressed name at the start of `data`.
fn signer_len(data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let len = usize::from(*data.get(pos)?);
        if len == 0 {
            return Some(pos + 1);
        }
        if len > 63 {
            return None;
        }
        pos += 1 + len;
    }
}

#[cfg(test)]
mod tests;

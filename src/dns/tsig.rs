//! TSIG (RFC 8945): checks the signature of a signed message and signs the answer.
//!
//! [`verify`] reads the TSIG record `wire::parse` found last in a query and checks key,
//! MAC and time (§5.2), [`verify_response`] the same for the answer to a query we signed
//! (§5.3), and [`verify_next`] each later message of a signed transfer (§5.3.1); [`sign`] appends a TSIG record signing a message (a response with the request's
//! MAC first, §4.3), [`append_unsigned`] the MAC-less record of a BADKEY or BADSIG answer
//! (§5.3.2). The keys are the `[tsig.NAME]` tables ([`TsigKey`]), the one key store for
//! queries and zone transfers. MACs are computed over slices of the message and small
//! stack buffers: nothing is allocated, and a query without TSIG never comes here.

use crate::config::TsigKey;
use ring::hmac;
use subtle::ConstantTimeEq;

/// The header rcode of every TSIG error (RFC 8945 §5.2).
pub const RCODE_NOTAUTH: u8 = 9;
/// TSIG error codes, in the record's Error field (RFC 8945 §3).
pub const ERROR_BADSIG: u16 = 16;
pub const ERROR_BADKEY: u16 = 17;
pub const ERROR_BADTIME: u16 = 18;
/// The fudge of the records we sign: the 300 s RFC 8945 §10 recommends.
pub const FUDGE: u16 = 300;
const TYPE_TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;

/// The MAC algorithms of RFC 8945 §6 that Meridian implements (HMAC-MD5, deprecated there,
/// is not: a key configured with it is refused, a query signed with it gets BADKEY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// In the order they are suggested: the recommended one first, the legacy one last.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
        Algorithm::HmacSha1,
    ];

    /// The name as written in `meridian.toml` and by `dig -y`: the wire name's one label.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm name of the TSIG record, in wire format (RFC 8945 §6, Table 3).
    pub fn wire_name(self) -> &'static [u8] {
        match self {
            Algorithm::HmacSha1 => b"\x09hmac-sha1\x00",
            Algorithm::HmacSha256 => b"\x0bhmac-sha256\x00",
            Algorithm::HmacSha384 => b"\x0bhmac-sha384\x00",
            Algorithm::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    /// Octets of a full MAC.
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::HmacSha1 => 20,
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }

    pub fn hmac(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// A name as an operator writes it: case ignored, a final dot allowed.
    pub fn from_name(text: &str) -> Option<Algorithm> {
        let text = text.strip_suffix('.').unwrap_or(text);
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text))
    }

    /// The algorithm a TSIG record names (in wire format, case ignored).
    fn from_wire(name: &[u8]) -> Option<Algorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.wire_name().eq_ignore_ascii_case(name))
    }
}

/// A TSIG record as read from a message (RFC 8945 §4.2).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The key name, decompressed and lowercased: its canonical form (§4.3.3).
    owner: [u8; 255],
    owner_len: u8,
    pub class: u16,
    pub ttl: u32,
    /// As sent (it may not be compressed, RFC 3597 §4).
    pub algorithm: &'a [u8],
    /// Seconds since the epoch, 48 bits.
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: &'a [u8],
    pub original_id: u16,
    pub error: u16,
    pub other: &'a [u8],
}

impl Record<'_> {
    /// The key name in canonical wire format.
    pub fn owner(&self) -> &[u8] {
        &self.owner[..self.owner_len as usize]
    }
}

/// Reads the TSIG record at `start`, which must end the message; `None` when it cannot be
/// interpreted (RFC 8945 §5.2: FORMERR).
pub fn read(msg: &[u8], start: usize) -> Option<Record<'_>> {
    if start < 12 {
        return None;
    }
    let mut owner = [0u8; 255];
    let (owner_len, pos) = canonical_name(msg, start, &mut owner)?;
    let fixed = msg.get(pos..pos + 10)?;
    let field = |at: usize| u16::from_be_bytes([fixed[at], fixed[at + 1]]);
    if field(0) != TYPE_TSIG || field(2) != CLASS_ANY {
        return None;
    }
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdata = msg.get(pos + 10..)?;
    // Nothing may follow the record: it would not be covered by the MAC.
    if rdata.len() != field(8) as usize {
        return None;
    }
    let mut r = Reader {
        data: rdata,
        pos: 0,
    };
    let algorithm = r.name()?;
    let time = r.take(6)?;
    let time_signed = time.iter().fold(0u64, |t, &b| t << 8 | b as u64);
    let fudge = r.u16()?;
    let mac_len = r.u16()? as usize;
    let mac = r.take(mac_len)?;
    let original_id = r.u16()?;
    let error = r.u16()?;
    let other_len = r.u16()? as usize;
    let other = r.take(other_len)?;
    (r.pos == rdata.len()).then_some(Record {
        owner,
        owner_len,
        class: CLASS_ANY,
        ttl,
        algorithm,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.data.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(bytes)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// An uncompressed name of at most 255 octets.
    fn name(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        loop {
            let len = *self.data.get(self.pos)? as usize;
            if len & 0xC0 != 0 {
                return None;
            }
            self.take(1 + len)?;
            if self.pos - start > 255 {
                return None;
            }
            if len == 0 {
                return Some(&self.data[start..self.pos]);
            }
        }
    }
}

/// Copies the name at `pos` (compression pointers followed) into `out`, lowercased;
/// returns its length and where the name ends in the message.
fn canonical_name(msg: &[u8], mut pos: usize, out: &mut [u8; 255]) -> Option<(u8, usize)> {
    let mut len = 0;
    let mut end = None;
    // Each pointer must point backwards, so a loop cannot go on forever.
    let mut limit = pos;
    loop {
        let label = *msg.get(pos)? as usize;
        match label & 0xC0 {
            0x00 => {
                let bytes = msg.get(pos..pos + 1 + label)?;
                if len + bytes.len() > 255 {
                    return None;
                }
                for (d, s) in out[len..].iter_mut().zip(bytes) {
                    *d = s.to_ascii_lowercase();
                }
                len += bytes.len();
                pos += 1 + label;
                if label == 0 {
                    return Some((len as u8, end.unwrap_or(pos)));
                }
            }
            0xC0 => {
                let target = (u16::from_be_bytes([msg[pos], *msg.get(pos + 1)?]) & 0x3FFF) as usize;
                end.get_or_insert(pos + 2);
                if target >= limit {
                    return None;
                }
                limit = target;
                pos = target;
            }
            _ => return None,
        }
    }
}

/// A request whose TSIG checked out: what signing its answer needs.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    pub key: &'a TsigKey,
    /// The request's MAC as sent (truncated, if it was): the answer's digest starts with it.
    pub mac: &'a [u8],
    pub time_signed: u64,
    pub fudge: u16,
}

/// Why a signed request is not answered normally (RFC 8945 §5.2).
#[derive(Debug, Clone, Copy)]
pub enum Failure<'a> {
    /// FORMERR, without TSIG: the record cannot be read, or its MAC is longer than the
    /// algorithm's or shorter than the larger of 10 octets and half of it (§5.2.2.1).
    Malformed,
    /// NOTAUTH with BADKEY (no key of that name and algorithm, §5.2.1) or BADSIG (the MAC
    /// does not match, §5.2.2), answered with an unsigned copy of the record
    /// ([`append_unsigned`]), which is at `start` of the request.
    Unsigned { error: u16, start: usize },
    /// NOTAUTH with BADTIME: the MAC is right but the time is outside Time Signed ± Fudge
    /// (§5.2.3); the answer is signed, with the server's time.
    BadTime(Verified<'a>),
}

impl Failure<'_> {
    /// What the failure is answered with, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Failure::Malformed => "FORMERR",
            Failure::Unsigned {
                error: ERROR_BADKEY,
                ..
            } => "BADKEY",
            Failure::Unsigned { .. } => "BADSIG",
            Failure::BadTime(_) => "BADTIME",
        }
    }
}

/// Checks the TSIG record at `start` of `msg` against `keys` at `now` (seconds since the
/// epoch), in the order of RFC 8945 §5.2: key, MAC, time. A truncated MAC is accepted
/// wherever §5.2.2.1 allows one, so BADTRUNC is never the answer.
pub fn verify<'a>(
    keys: &'a [TsigKey],
    msg: &'a [u8],
    start: usize,
    now: u64,
) -> Result<Verified<'a>, Failure<'a>> {
    check(
        msg,
        start,
        now,
        Covered::Whole { prior_mac: None },
        |record| {
            let algorithm = Algorithm::from_wire(record.algorithm)?;
            keys.iter()
                .find(|k| k.algorithm == algorithm && *k.owner == *record.owner())
        },
    )
}

/// Checks the TSIG record at `start` of `msg`, the answer to a request we signed with `key`
/// whose MAC was `request_mac` (RFC 8945 §5.3, §4.3.1), at `now`.
pub fn verify_response<'a>(
    key: &'a TsigKey,
    msg: &'a [u8],
    start: usize,
    request_mac: &[u8],
    now: u64,
) -> Result<Verified<'a>, Failure<'a>> {
    check(
        msg,
        start,
        now,
        Covered::Whole {
            prior_mac: Some(request_mac),
        },
        |record| {
            let same = Algorithm::from_wire(record.algorithm) == Some(key.algorithm)
                && *key.owner == *record.owner();
            same.then_some(key)
        },
    )
}

/// Checks the TSIG record at `start` of `msg`, a later message of a multi-message answer
/// to a request we signed with `key` (a zone transfer, RFC 8945 §5.3.1): the digest covers
/// `prior_mac` (the last signed message's), the messages received unsigned since
/// (`unsigned`, whole), this message without its TSIG record, and the timers only.
pub fn verify_next<'a>(
    key: &'a TsigKey,
    msg: &'a [u8],
    start: usize,
    prior_mac: &[u8],
    unsigned: &[Vec<u8>],
    now: u64,
) -> Result<Verified<'a>, Failure<'a>> {
    let covered = Covered::Next {
        prior_mac,
        unsigned,
    };
    check(msg, start, now, covered, |record| {
        let same = Algorithm::from_wire(record.algorithm) == Some(key.algorithm)
            && *key.owner == *record.owner();
        same.then_some(key)
    })
}

/// What a MAC covers besides the message itself (RFC 8945 §4.3).
#[derive(Clone, Copy)]
enum Covered<'m> {
    /// A request (no prior MAC) or the first answer to one (the request's MAC), then all
    /// the TSIG variables.
    Whole { prior_mac: Option<&'m [u8]> },
    /// A later message of a multi-message answer (§5.3.1): the last signed message's MAC
    /// and the messages received unsigned since before it, the timers only after it.
    Next {
        prior_mac: &'m [u8],
        unsigned: &'m [Vec<u8>],
    },
}

/// Reads and checks a TSIG record; `find` gives the key it names, if it is ours.
fn check<'a>(
    msg: &'a [u8],
    start: usize,
    now: u64,
    covered: Covered<'_>,
    find: impl FnOnce(&Record<'a>) -> Option<&'a TsigKey>,
) -> Result<Verified<'a>, Failure<'a>> {
    let record = read(msg, start).ok_or(Failure::Malformed)?;
    let key = find(&record).ok_or(Failure::Unsigned {
        error: ERROR_BADKEY,
        start,
    })?;
    let full = key.algorithm.output_len();
    let sent = record.mac.len();
    if sent > full || sent < (full / 2).max(10) {
        return Err(Failure::Malformed);
    }
    let mut ctx = hmac::Context::with_key(&key.hmac);
    let (prior_mac, unsigned) = match covered {
        Covered::Whole { prior_mac } => (prior_mac, &[][..]),
        Covered::Next {
            prior_mac,
            unsigned,
        } => (Some(prior_mac), unsigned),
    };
    if let Some(mac) = prior_mac {
        ctx.update(&(mac.len() as u16).to_be_bytes());
        ctx.update(mac);
    }
    for m in unsigned {
        ctx.update(m);
    }
    // §4.3.2: the message before the TSIG record was added, with the Original ID.
    let mut header = [0u8; 12];
    header.copy_from_slice(&msg[..12]);
    header[..2].copy_from_slice(&record.original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([header[10], header[11]]).saturating_sub(1);
    header[10..].copy_from_slice(&arcount.to_be_bytes());
    ctx.update(&header);
    ctx.update(&msg[12..start]);
    if let Covered::Next { .. } = covered {
        ctx.update(&timers(record.time_signed, record.fudge));
        return finish(key, &record, start, now, ctx);
    }
    let variables = Variables {
        owner: record.owner(),
        class: record.class,
        ttl: record.ttl,
        // The canonical form: the same name, lowercase.
        algorithm: key.algorithm.wire_name(),
        time_signed: record.time_signed,
        fudge: record.fudge,
        error: record.error,
        other: record.other,
    };
    variables.digest(&mut ctx);
    finish(key, &record, start, now, ctx)
}

/// Compares the MAC `ctx` computed with the record's (in constant time, over the octets
/// sent), then checks the time: BADSIG, then BADTIME (§5.2.3: only a good MAC gets a
/// signed BADTIME).
fn finish<'a>(
    key: &'a TsigKey,
    record: &Record<'a>,
    start: usize,
    now: u64,
    ctx: hmac::Context,
) -> Result<Verified<'a>, Failure<'a>> {
    let tag = ctx.sign();
    if !bool::from(tag.as_ref()[..record.mac.len()].ct_eq(record.mac)) {
        return Err(Failure::Unsigned {
            error: ERROR_BADSIG,
            start,
        });
    }
    let verified = Verified {
        key,
        mac: record.mac,
        time_signed: record.time_signed,
        fudge: record.fudge,
    };
    if now.abs_diff(record.time_signed) > record.fudge as u64 {
        return Err(Failure::BadTime(verified));
    }
    Ok(verified)
}

/// The TSIG variables of RFC 8945 §4.3.3, digested after the message.
struct Variables<'a> {
    owner: &'a [u8],
    class: u16,
    ttl: u32,
    algorithm: &'a [u8],
    time_signed: u64,
    fudge: u16,
    error: u16,
    other: &'a [u8],
}

impl Variables<'_> {
    fn digest(&self, ctx: &mut hmac::Context) {
        ctx.update(self.owner);
        let mut fixed = [0u8; 6];
        fixed[..2].copy_from_slice(&self.class.to_be_bytes());
        fixed[2..].copy_from_slice(&self.ttl.to_be_bytes());
        ctx.update(&fixed);
        ctx.update(self.algorithm);
        ctx.update(&timers(self.time_signed, self.fudge));
        let mut tail = [0u8; 4];
        tail[..2].copy_from_slice(&self.error.to_be_bytes());
        tail[2..].copy_from_slice(&(self.other.len() as u16).to_be_bytes());
        ctx.update(&tail);
        ctx.update(self.other);
    }
}

/// Time Signed (48 bits) and Fudge, as on the wire.
fn timers(time_signed: u64, fudge: u16) -> [u8; 8] {
    let mut t = [0u8; 8];
    t[..6].copy_from_slice(&time_signed.to_be_bytes()[2..]);
    t[6..].copy_from_slice(&fudge.to_be_bytes());
    t
}

/// What a TSIG record we write says besides key and MAC.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub time_signed: u64,
    pub fudge: u16,
    pub error: u16,
    pub other: &'a [u8],
}

/// The octets the TSIG record signing with `key` adds to a message, so the rest can be
/// cut to leave room for it.
pub fn reserve(key: &TsigKey) -> usize {
    key.owner.len() + 10 + key.algorithm.wire_name().len() + 16 + key.algorithm.output_len()
}

/// Signs the message in `out` with `key` and appends the TSIG record (RFC 8945 §4.3):
/// the digest covers `prior_mac` (the request's, for a response: §4.3.1), the message
/// and the TSIG variables. Returns the MAC: the answer to a signed request is checked with
/// it ([`verify_response`]), and the next message of a stream chains on it (§5.3.1).
pub fn sign(
    out: &mut Vec<u8>,
    key: &TsigKey,
    prior_mac: Option<&[u8]>,
    stamp: Stamp<'_>,
) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(&key.hmac);
    if let Some(mac) = prior_mac {
        ctx.update(&(mac.len() as u16).to_be_bytes());
        ctx.update(mac);
    }
    ctx.update(out);
    let variables = Variables {
        owner: &key.owner,
        class: CLASS_ANY,
        ttl: 0,
        algorithm: key.algorithm.wire_name(),
        time_signed: stamp.time_signed,
        fudge: stamp.fudge,
        error: stamp.error,
        other: stamp.other,
    };
    variables.digest(&mut ctx);
    let tag = ctx.sign();
    append(
        out,
        &key.owner,
        key.algorithm.wire_name(),
        stamp,
        tag.as_ref(),
    );
    tag
}

/// Signs a later message of a multi-message answer (a zone transfer, RFC 8945 §5.3.1) and
/// appends its TSIG record: the digest covers the previous message's MAC, this message
/// and the timers only (Time Signed, Fudge). Returns the MAC the next message chains on.
pub fn sign_next(
    out: &mut Vec<u8>,
    key: &TsigKey,
    prior_mac: &[u8],
    time_signed: u64,
) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(&key.hmac);
    ctx.update(&(prior_mac.len() as u16).to_be_bytes());
    ctx.update(prior_mac);
    ctx.update(out);
    ctx.update(&timers(time_signed, FUDGE));
    let tag = ctx.sign();
    let stamp = Stamp {
        time_signed,
        fudge: FUDGE,
        error: 0,
        other: &[],
    };
    append(
        out,
        &key.owner,
        key.algorithm.wire_name(),
        stamp,
        tag.as_ref(),
    );
    tag
}

/// Appends the unsigned TSIG record of a BADKEY or BADSIG answer (RFC 8945 §5.3.2) to the
/// request `msg` whose TSIG record is at `start`: the request's key name, algorithm, Time
/// Signed and Fudge, `error`, and no MAC. Nothing when that record cannot be read.
pub fn append_unsigned(out: &mut Vec<u8>, msg: &[u8], start: usize, error: u16) {
    let Some(request) = read(msg, start) else {
        return;
    };
    let stamp = Stamp {
        time_signed: request.time_signed,
        fudge: request.fudge,
        error,
        other: &[],
    };
    append(out, request.owner(), request.algorithm, stamp, &[]);
}

/// Appends a TSIG record to the message in `out` and counts it in ARCOUNT. Its Original
/// ID is the message's own ID.
fn append(out: &mut Vec<u8>, owner: &[u8], algorithm: &[u8], stamp: Stamp<'_>, mac: &[u8]) {
    let id = [out[0], out[1]];
    let arcount = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&arcount.to_be_bytes());
    out.extend_from_slice(owner);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = algorithm.len() + 16 + mac.len() + stamp.other.len();
    out.extend_from_slice(&(rdlen as u16).to_be_bytes());
    out.extend_from_slice(algorithm);
    out.extend_from_slice(&timers(stamp.time_signed, stamp.fudge));
    out.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    out.extend_from_slice(mac);
    out.extend_from_slice(&id);
    out.extend_from_slice(&stamp.error.to_be_bytes());
    out.extend_from_slice(&(stamp.other.len() as u16).to_be_bytes());
    out.extend_from_slice(stamp.other);
}

#[cfg(test)]
mod tests;

//! Reading the primary's answers: a DNS response → its header, its answer records in
//! uncompressed wire form (owner, type, class, TTL, RDATA, as `zone::push_record` writes
//! them), and where its TSIG record starts.
//!
//! Names are decompressed in owners and in the RDATA of the types whose names may be
//! compressed (RFC 1035 §3.3 and RFC 3597 §4: NS, SOA, MX and the like, and RP, AFSDB,
//! RT, PX, NAPTR, SRV, KX); other RDATA is kept as sent. Bad input gives an error that
//! says what is wrong, never a panic.

const TYPE_TSIG: u16 = 250;

/// One response of the primary, read.
#[derive(Debug)]
pub struct Response {
    pub id: u16,
    pub flags: u16,
    pub rcode: u8,
    /// The answer section, one uncompressed wire record each.
    pub answers: Vec<Vec<u8>>,
    /// Offset of the TSIG record (the last of the additional section), if there is one.
    pub tsig: Option<usize>,
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed message from the primary: {0}")]
pub struct Malformed(pub &'static str);

/// Reads a response; `Err` when it is not one or cannot be parsed.
pub fn read(msg: &[u8]) -> Result<Response, Malformed> {
    if msg.len() < 12 {
        return Err(Malformed("shorter than a header"));
    }
    let u16_at = |p: usize| u16::from_be_bytes([msg[p], msg[p + 1]]);
    let flags = u16_at(2);
    if flags & 0x8000 == 0 {
        return Err(Malformed("not a response (QR clear)"));
    }
    let counts = [u16_at(4), u16_at(6), u16_at(8), u16_at(10)];
    let mut pos = 12;
    for _ in 0..counts[0] {
        let (_, end) = name(msg, pos).ok_or(Malformed("bad question name"))?;
        pos = end + 4;
        if pos > msg.len() {
            return Err(Malformed("question cut short"));
        }
    }
    let mut answers = Vec::with_capacity(counts[1] as usize);
    let mut tsig = None;
    let total = counts[1] as usize + counts[2] as usize + counts[3] as usize;
    for i in 0..total {
        let start = pos;
        let (owner, end) = name(msg, pos).ok_or(Malformed("bad owner name"))?;
        let fixed = msg
            .get(end..end + 10)
            .ok_or(Malformed("record cut short"))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let rdata_at = end + 10;
        let rdata_end = rdata_at + rdlen;
        if rdata_end > msg.len() {
            return Err(Malformed("record data cut short"));
        }
        pos = rdata_end;
        if rtype == TYPE_TSIG {
            if i + 1 != total {
                return Err(Malformed("a TSIG record that is not the last"));
            }
            tsig = Some(start);
            continue;
        }
        if i >= counts[1] as usize {
            continue;
        }
        let rdata = rdata(msg, rtype, rdata_at, rdata_end)?;
        let mut r = owner;
        r.extend_from_slice(&fixed[..8]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(&rdata);
        answers.push(r);
    }
    if pos != msg.len() {
        return Err(Malformed("octets after the last record"));
    }
    Ok(Response {
        id: u16_at(0),
        flags,
        rcode: (flags & 0xF) as u8,
        answers,
        tsig,
    })
}

/// The parts of a record's RDATA: names (decompressed) and octets (kept).
#[derive(Clone, Copy)]
enum Part {
    Name,
    Octets(usize),
    /// A character string (one length octet, then that many).
    Text,
}

use Part::{Name as N, Octets as O, Text as S};

/// Where the types that may carry compressed names have them; `None` for the others.
fn layout(rtype: u16) -> Option<&'static [Part]> {
    Some(match rtype {
        2..=5 | 7..=9 | 12 | 39 => &[N],
        6 => &[N, N, O(20)],
        14 | 17 => &[N, N],
        15 | 18 | 21 | 36 => &[O(2), N],
        26 => &[O(2), N, N],
        33 => &[O(6), N],
        35 => &[O(4), S, S, S, N],
        _ => return None,
    })
}

fn rdata(msg: &[u8], rtype: u16, start: usize, end: usize) -> Result<Vec<u8>, Malformed> {
    let Some(parts) = layout(rtype) else {
        return Ok(msg[start..end].to_vec());
    };
    let mut out = Vec::with_capacity(end - start + 16);
    let mut pos = start;
    for part in parts {
        match *part {
            Part::Name => {
                let (n, after) = name(msg, pos).ok_or(Malformed("bad name in record data"))?;
                if after > end {
                    return Err(Malformed("a name runs past its record data"));
                }
                out.extend_from_slice(&n);
                pos = after;
            }
            Part::Octets(k) => {
                let b = msg.get(pos..pos + k).filter(|_| pos + k <= end);
                out.extend_from_slice(b.ok_or(Malformed("record data cut short"))?);
                pos += k;
            }
            Part::Text => {
                let len = *msg.get(pos).ok_or(Malformed("record data cut short"))? as usize;
                let b = msg.get(pos..pos + 1 + len).filter(|_| pos + 1 + len <= end);
                out.extend_from_slice(b.ok_or(Malformed("record data cut short"))?);
                pos += 1 + len;
            }
        }
    }
    if pos != end {
        return Err(Malformed("octets left over in record data"));
    }
    Ok(out)
}

/// The name at `pos`, decompressed (case kept), and where it ends in the message.
/// Pointers must point backwards, so following them ends.
fn name(msg: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(32);
    let mut end = None;
    let mut limit = pos;
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xC0 {
            0 => {
                let label = msg.get(pos..pos + 1 + len)?;
                out.extend_from_slice(label);
                if out.len() > 255 {
                    return None;
                }
                pos += 1 + len;
                if len == 0 {
                    return Some((out, end.unwrap_or(pos)));
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

/// The parts of an uncompressed wire record: owner, type, TTL, RDATA.
pub fn fields(record: &[u8]) -> Option<(&[u8], u16, u32, &[u8])> {
    let mut pos = 0;
    loop {
        let l = *record.get(pos)? as usize;
        pos += 1 + l;
        if l == 0 {
            break;
        }
    }
    let f = record.get(pos..pos + 10)?;
    let rtype = u16::from_be_bytes([f[0], f[1]]);
    let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
    Some((&record[..pos], rtype, ttl, record.get(pos + 10..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response with one question (example.com SOA) and `answers` (wire, compressed
    /// against the question's name at offset 12).
    fn response(answers: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![
            0x12,
            0x34,
            0x84,
            0x00,
            0,
            1,
            0,
            answers.len() as u8,
            0,
            0,
            0,
            0,
        ];
        m.extend_from_slice(b"\x07example\x03com\x00\x00\x06\x00\x01");
        for a in answers {
            m.extend_from_slice(a);
        }
        m
    }

    #[test]
    fn names_are_decompressed_in_owners_and_known_rdata() {
        // www.example.com MX 10 mail.example.com, both compressed; then an unknown type
        // whose data looks like a pointer and is kept as sent.
        let mx: &[u8] =
            b"\x03www\xC0\x0C\x00\x0F\x00\x01\x00\x00\x0E\x10\x00\x09\x00\x0A\x04mail\xC0\x0C";
        let other: &[u8] = b"\xC0\x0C\xFF\x00\x00\x01\x00\x00\x00\x3C\x00\x02\xC0\x0C";
        let r = read(&response(&[mx, other])).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.rcode, 0);
        assert_eq!(r.tsig, None);
        let want_mx = b"\x03www\x07example\x03com\x00\x00\x0F\x00\x01\x00\x00\x0E\x10\x00\x14\x00\x0A\x04mail\x07example\x03com\x00";
        assert_eq!(r.answers[0], want_mx);
        let (owner, rtype, ttl, rdata) = fields(&r.answers[1]).unwrap();
        assert_eq!(owner, b"\x07example\x03com\x00");
        assert_eq!((rtype, ttl), (0xFF00, 60));
        assert_eq!(rdata, b"\xC0\x0C");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let good: &[u8] = b"\xC0\x0C\x00\x01\x00\x01\x00\x00\x00\x3C\x00\x04\xC0\x00\x02\x01";
        assert!(read(&response(&[good])).is_ok());
        let forward: &[u8] = b"\xC0\x30\x00\x01\x00\x01\x00\x00\x00\x3C\x00\x04\xC0\x00\x02\x01";
        let short_data: &[u8] = b"\xC0\x0C\x00\x01\x00\x01\x00\x00\x00\x3C\x00\x08\xC0\x00";
        let bad_ns: &[u8] = b"\xC0\x0C\x00\x02\x00\x01\x00\x00\x00\x3C\x00\x03\x01a\x00\x00";
        for bad in [forward, short_data, bad_ns] {
            assert!(read(&response(&[bad])).is_err(), "{bad:?}");
        }
        let mut query = response(&[good]);
        query[2] = 0;
        assert_eq!(
            read(&query).unwrap_err(),
            Malformed("not a response (QR clear)")
        );
        let mut extra = response(&[good]);
        extra.push(0);
        assert!(read(&extra).is_err());
        assert!(read(&[0x80; 11]).is_err());
        // Every prefix of a good message fails cleanly.
        let m = response(&[good]);
        for n in 0..m.len() {
            let mut cut = m[..n].to_vec();
            if cut.len() >= 12 {
                cut[2] |= 0x80;
            }
            let _ = read(&cut);
        }
    }
}

//! Query parsing: header, question, EDNS(0) OPT, Client Subnet, COOKIE and NSID, straight
//! from the bytes, and where a TSIG record is (`tsig.rs` reads and checks it); and the EDNS
//! options a response adds (NSID, Extended DNS Errors).
//!
//! Bytes in, a borrowed [`Query`] out; nothing is allocated. Errors are small `Copy`
//! values that say which response to send (FORMERR, NOTIMP) or that none is due.

/// DNS header flag bits (second and third byte, as one u16).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_CD: u16 = 0x0010;

pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;
pub const RCODE_REFUSED: u8 = 5;
/// Extended rcode 16 (RFC 6891): upper 8 bits in the OPT TTL = 1, header rcode 0.
pub const RCODE_BADVERS: u16 = 16;

pub const TYPE_OPT: u16 = 41;
pub const OPT_NSID: u16 = 3;
/// RFC 8945: only ever the last record of the additional section.
pub const TYPE_TSIG: u16 = 250;
pub const OPT_ECS: u16 = 8;
pub const OPT_COOKIE: u16 = 10;
pub const OPT_EDE: u16 = 15;
/// Extended rcode 23 (RFC 7873): header rcode 7, upper bits 1 in the OPT TTL.
pub const RCODE_BADCOOKIE: u16 = 23;

pub use super::cookie::CookieOpt;

/// EDNS Client Subnet as sent by the resolver (RFC 7871).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    pub family: u16,
    pub source_prefix: u8,
    pub scope_prefix: u8,
    /// Address bytes as sent (only the first `addr_len` are meaningful).
    pub addr: [u8; 16],
    pub addr_len: u8,
}

impl ClientSubnet {
    pub fn ip(&self) -> std::net::IpAddr {
        if self.family == 1 {
            let mut b = [0u8; 4];
            b.copy_from_slice(&self.addr[..4]);
            std::net::IpAddr::from(b)
        } else {
            std::net::IpAddr::from(self.addr)
        }
    }
}

/// The query's OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub udp_payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// CO, "Compact Answers OK" (RFC 9824 §5.1), the EDNS flag after DO.
    pub compact_ok: bool,
    pub client_subnet: Option<ClientSubnet>,
    /// The first COOKIE option (RFC 7873 §5.2: later ones are ignored).
    pub cookie: Option<CookieOpt>,
    /// The query carries an NSID option: it asks for our NSID (RFC 5001 §2.1; a payload,
    /// which a query should not have, is ignored).
    pub nsid: bool,
    /// Which option made the query FORMERR, when one did (said in the response's EDE).
    pub malformed: Option<Malformed>,
}

/// An option that makes a query FORMERR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// RFC 7871 §7.1.2: a wrong family, prefix or address length.
    ClientSubnet,
    /// RFC 7871 §7.1.1: at most one per query.
    RepeatedClientSubnet,
    /// RFC 7873 §5.2.2: a length other than 8 or 16..=40.
    Cookie,
}

impl Malformed {
    /// The Extended DNS Error saying so.
    pub fn ede(self) -> Ede {
        // Constants, so `Ede::other` checks the texts' length at compile time.
        const CLIENT_SUBNET: Ede = Ede::other("malformed Client Subnet option");
        const REPEATED: Ede = Ede::other("more than one Client Subnet option");
        const COOKIE: Ede = Ede::other("malformed COOKIE option");
        match self {
            Malformed::ClientSubnet => CLIENT_SUBNET,
            Malformed::RepeatedClientSubnet => REPEATED,
            Malformed::Cookie => COOKIE,
        }
    }
}

/// An Extended DNS Error (RFC 8914): an INFO-CODE and a fixed EXTRA-TEXT, so a response
/// writes it from static bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ede {
    pub code: u16,
    /// Empty for the codes that say it all; never longer than [`Ede::MAX_TEXT`].
    pub text: &'static str,
}

impl Ede {
    /// The longest EXTRA-TEXT we send: with the longest question, Client Subnet, COOKIE and
    /// the longest NSID, an error response still fits in 512 bytes.
    pub const MAX_TEXT: usize = 40;
    /// §4.19, code 18 "Prohibited": refused by the operator's choice (a CH name turned off).
    pub const PROHIBITED: Ede = Ede { code: 18, text: "" };
    /// §4.21, code 20 "Not Authoritative": a name in none of our zones; we do not recurse.
    pub const NOT_AUTHORITATIVE: Ede = Ede { code: 20, text: "" };
    /// §4.22, code 21 "Not Supported": an opcode, type, class or CH name we do not serve.
    pub const NOT_SUPPORTED: Ede = Ede { code: 21, text: "" };
    /// §4.15, code 14 "Not Ready": a secondary zone not transferred yet, or expired.
    pub const NOT_READY: Ede = Ede { code: 14, text: "" };

    /// §4.1, code 0 "Other Error", with EXTRA-TEXT saying what it is. Use it in a
    /// constant, so the length is checked when compiling.
    pub const fn other(text: &'static str) -> Ede {
        assert!(text.len() <= Ede::MAX_TEXT);
        Ede { code: 0, text }
    }

    /// Bytes of the option: code, length, INFO-CODE, EXTRA-TEXT.
    pub fn option_len(&self) -> usize {
        6 + self.text.len()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&OPT_EDE.to_be_bytes());
        out.extend_from_slice(&(2 + self.text.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.code.to_be_bytes());
        out.extend_from_slice(self.text.as_bytes());
    }
}

/// Writes an NSID option (RFC 5001 §2.3) carrying `payload`; it takes `4 + payload.len()`.
pub fn write_nsid(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&OPT_NSID.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
}

/// A parsed query. `qname` is as received (its case is echoed); `qname_lower` is the lookup key.
#[derive(Debug)]
pub struct Query<'a> {
    pub id: u16,
    pub flags: u16,
    pub qname: &'a [u8],
    pub qname_lower: [u8; 255],
    pub qtype: u16,
    pub qclass: u16,
    /// The question section as received: name, type and class.
    pub question: &'a [u8],
    pub edns: Option<Edns>,
    /// Offset of the TSIG record, the last of the message, when there is one.
    pub tsig: Option<u16>,
}

impl Query<'_> {
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }
    pub fn key(&self) -> &[u8] {
        &self.qname_lower[..self.qname.len()]
    }
}

/// Why a query gets no normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// Not worth a response: shorter than a header, or itself a response.
    Drop,
    /// FORMERR; `question_end` is set when the question parsed, so it can be echoed,
    /// `edns` when the OPT record did.
    FormErr {
        question_end: Option<u16>,
        edns: Option<Edns>,
    },
    /// NOTIMP for an opcode other than QUERY; `edns` when the OPT record parsed, `tsig`
    /// the offset of the TSIG record when the records parsed and one is last.
    NotImp {
        question_end: Option<u16>,
        edns: Option<Edns>,
        tsig: Option<u16>,
    },
}

/// Reads a name without compression (a query's question must not use it); returns its end.
fn name_end(msg: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    loop {
        let len = *msg.get(pos)? as usize;
        if len == 0 {
            pos += 1;
            break;
        }
        if len & 0xC0 != 0 {
            return None;
        }
        pos += 1 + len;
        if pos - start > 254 {
            return None;
        }
    }
    (pos <= msg.len() && pos - start <= 255).then_some(pos)
}

/// Skips a name that may be compressed (records in the other sections).
pub(crate) fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xC0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + len,
            0xC0 => return (pos + 2 <= msg.len()).then_some(pos + 2),
            _ => return None,
        }
    }
}

fn u16_at(msg: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]))
}

pub fn parse(msg: &[u8]) -> Result<Query<'_>, QueryError> {
    if msg.len() < 12 {
        return Err(QueryError::Drop);
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    if flags & FLAG_QR != 0 {
        return Err(QueryError::Drop);
    }
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    let nscount = u16::from_be_bytes([msg[8], msg[9]]);
    let arcount = u16::from_be_bytes([msg[10], msg[11]]);
    let opcode = (flags >> 11) & 0xF;

    let question = if qdcount == 1 {
        name_end(msg, 12).and_then(|end| (end + 4 <= msg.len()).then_some(end))
    } else {
        None
    };
    let Some(qname_end) = question else {
        // No usable question: the OPT record, if one can still be found, is kept in the
        // error response (RFC 6891 §7).
        let records = skip_questions(msg, qdcount)
            .map(|pos| scan_records(msg, pos, ancount, nscount, arcount));
        let (edns, tsig) = match records {
            Some(Ok(found)) => found,
            Some(Err(edns)) => (edns, None),
            None => (None, None),
        };
        return Err(if opcode != 0 {
            QueryError::NotImp {
                question_end: None,
                edns,
                tsig,
            }
        } else {
            QueryError::FormErr {
                question_end: None,
                edns,
            }
        });
    };
    let question_end = qname_end + 4;
    let (edns, tsig) =
        scan_records(msg, question_end, ancount, nscount, arcount).map_err(|edns| {
            QueryError::FormErr {
                question_end: Some(question_end as u16),
                edns,
            }
        })?;
    if opcode != 0 {
        return Err(QueryError::NotImp {
            question_end: Some(question_end as u16),
            edns,
            tsig,
        });
    }

    let mut query = Query {
        id,
        flags,
        qname: &msg[12..qname_end],
        qname_lower: [0; 255],
        qtype: u16::from_be_bytes([msg[qname_end], msg[qname_end + 1]]),
        qclass: u16::from_be_bytes([msg[qname_end + 2], msg[qname_end + 3]]),
        question: &msg[12..question_end],
        edns,
        tsig,
    };
    for (d, s) in query.qname_lower.iter_mut().zip(query.qname) {
        *d = s.to_ascii_lowercase();
    }
    // Label-length bytes are < 64, so lowercasing them is a no-op: the key is exact.
    Ok(query)
}

/// Skips `qdcount` questions, whose names may even be compressed: where the records start.
fn skip_questions(msg: &[u8], qdcount: u16) -> Option<usize> {
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = skip_name(msg, pos)? + 4;
        if pos > msg.len() {
            return None;
        }
    }
    Some(pos)
}

/// Skips the answer and authority records from `pos`, reads the OPT record of the
/// additional section and notes where a TSIG record starts. `Err` means FORMERR and
/// carries the OPT record as far as it was read, so the error response can still carry
/// one. A TSIG record anywhere but last is FORMERR (RFC 8945 §5.2), which also refuses a
/// second one.
fn scan_records(
    msg: &[u8],
    mut pos: usize,
    ancount: u16,
    nscount: u16,
    arcount: u16,
) -> Result<(Option<Edns>, Option<u16>), Option<Edns>> {
    for _ in 0..(ancount as u32 + nscount as u32) {
        let after_name = skip_name(msg, pos).ok_or(None)?;
        if u16_at(msg, after_name) == Some(TYPE_TSIG) {
            return Err(None);
        }
        pos = skip_rr(msg, pos).ok_or(None)?;
    }
    let mut edns = None;
    let mut tsig = None;
    for i in 0..arcount {
        let name_start = pos;
        let after_name = skip_name(msg, pos).ok_or(edns)?;
        let rtype = u16_at(msg, after_name).ok_or(edns)?;
        if rtype != TYPE_OPT {
            if rtype == TYPE_TSIG {
                if i + 1 != arcount {
                    return Err(edns);
                }
                tsig = Some(name_start as u16);
            }
            pos = skip_rr(msg, name_start).ok_or(edns)?;
            continue;
        }
        if edns.is_some() || after_name != name_start + 1 || msg[name_start] != 0 {
            return Err(edns); // RFC 6891 §6.1.1: one OPT, owner root
        }
        if after_name + 10 > msg.len() {
            return Err(None);
        }
        let udp_payload = u16_at(msg, after_name + 2).unwrap_or(0);
        let version = msg[after_name + 5];
        let dnssec_ok = msg[after_name + 6] & 0x80 != 0;
        let compact_ok = msg[after_name + 6] & 0x40 != 0;
        let rdlen = u16_at(msg, after_name + 8).unwrap_or(0) as usize;
        let rdata_start = after_name + 10;
        let rdata_end = rdata_start + rdlen;
        if rdata_end > msg.len() {
            return Err(None);
        }
        let mut e = Edns {
            udp_payload,
            version,
            dnssec_ok,
            compact_ok,
            client_subnet: None,
            cookie: None,
            nsid: false,
            malformed: None,
        };
        let mut opt = rdata_start;
        while opt < rdata_end {
            let head = u16_at(msg, opt).zip(u16_at(msg, opt + 2));
            let (code, len) = head.ok_or(Some(e))?;
            let len = len as usize;
            let data = msg
                .get(opt + 4..opt + 4 + len)
                .filter(|_| opt + 4 + len <= rdata_end);
            let data = data.ok_or(Some(e))?;
            let bad = |why| {
                Some(Edns {
                    malformed: Some(why),
                    ..e
                })
            };
            if code == OPT_ECS {
                if e.client_subnet.is_some() {
                    return Err(bad(Malformed::RepeatedClientSubnet));
                }
                e.client_subnet = Some(parse_ecs(data).ok_or(bad(Malformed::ClientSubnet))?);
            } else if code == OPT_COOKIE && e.cookie.is_none() {
                // A length other than 8 or 16..=40 is FORMERR (RFC 7873 §5.2.2).
                e.cookie = Some(CookieOpt::parse(data).ok_or(bad(Malformed::Cookie))?);
            } else if code == OPT_NSID {
                e.nsid = true;
            }
            opt += 4 + len;
        }
        edns = Some(e);
        pos = rdata_end;
    }
    Ok((edns, tsig))
}

fn skip_rr(msg: &[u8], pos: usize) -> Option<usize> {
    let p = skip_name(msg, pos)?;
    let rdlen = u16_at(msg, p + 8)? as usize;
    let end = p + 10 + rdlen;
    (end <= msg.len()).then_some(end)
}

/// RFC 7871 §6: family 1 or 2, source prefix within the family, exactly
/// ceil(prefix/8) address bytes, no bits set beyond the prefix.
fn parse_ecs(data: &[u8]) -> Option<ClientSubnet> {
    if data.len() < 4 {
        return None;
    }
    let family = u16::from_be_bytes([data[0], data[1]]);
    let source_prefix = data[2];
    let scope_prefix = data[3];
    let max = match family {
        1 => 32,
        2 => 128,
        _ => return None,
    };
    if source_prefix > max {
        return None;
    }
    let addr = &data[4..];
    let want = source_prefix.div_ceil(8) as usize;
    if addr.len() != want {
        return None;
    }
    if !source_prefix.is_multiple_of(8) {
        let mask = 0xFFu8 >> (source_prefix % 8);
        if addr[want - 1] & mask != 0 {
            return None;
        }
    }
    let mut ecs = ClientSubnet {
        family,
        source_prefix,
        scope_prefix,
        addr: [0; 16],
        addr_len: want as u8,
    };
    ecs.addr[..want].copy_from_slice(addr);
    Some(ecs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], extra_ar: &[u8], arcount: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&arcount.to_be_bytes());
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(extra_ar);
        m
    }

    fn opt(options: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0];
        o.extend_from_slice(&(options.len() as u16).to_be_bytes());
        o.extend_from_slice(options);
        o
    }

    fn ecs(family: u16, prefix: u8, addr: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 8];
        o.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
        o.extend_from_slice(&family.to_be_bytes());
        o.extend_from_slice(&[prefix, 0]);
        o.extend_from_slice(addr);
        o
    }

    const WWW: &[u8] = b"\x03WwW\x07example\x03com\x00";

    #[test]
    fn parses_question_and_lowercases_the_key() {
        let m = query(WWW, &[], 0);
        let q = parse(&m).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.qname, WWW);
        assert_eq!(q.key(), b"\x03www\x07example\x03com\x00");
        assert_eq!((q.qtype, q.qclass), (1, 1));
        assert!(q.edns.is_none());
    }

    #[test]
    fn parses_edns_and_ecs() {
        let m = query(WWW, &opt(&ecs(1, 24, &[192, 0, 2])), 1);
        let e = parse(&m).unwrap().edns.unwrap();
        assert_eq!((e.udp_payload, e.version, e.dnssec_ok), (1232, 0, true));
        let c = e.client_subnet.unwrap();
        assert_eq!((c.family, c.source_prefix), (1, 24));
        assert_eq!(c.ip(), "192.0.2.0".parse::<std::net::IpAddr>().unwrap());
    }

    #[test]
    fn rejects_bad_ecs() {
        let cases: &[(&str, Vec<u8>)] = &[
            ("unknown family", ecs(3, 8, &[1])),
            ("v4 prefix 33", ecs(1, 33, &[1, 2, 3, 4, 5])),
            ("v6 prefix 129", ecs(2, 129, &[0; 17])),
            ("too many bytes", ecs(1, 16, &[192, 0, 2, 0])),
            ("too few bytes", ecs(1, 24, &[192, 0])),
            (
                "v6 bits beyond /52",
                ecs(2, 52, &[0x20, 1, 0xd, 0xb8, 0, 0, 1]),
            ),
            ("bit beyond /23", ecs(1, 23, &[192, 0, 3])),
        ];
        for (what, o) in cases {
            let m = query(WWW, &opt(o), 1);
            assert!(
                matches!(
                    parse(&m),
                    Err(QueryError::FormErr {
                        question_end: Some(_),
                        ..
                    })
                ),
                "{what}"
            );
        }
    }

    #[test]
    fn parses_cookie_and_refuses_bad_lengths() {
        let mut o = vec![0, 10, 0, 24];
        o.extend_from_slice(&[0xAB; 24]);
        let c = parse(&query(WWW, &opt(&o), 1))
            .unwrap()
            .edns
            .unwrap()
            .cookie;
        let c = c.unwrap();
        assert_eq!((c.client, c.server()), ([0xAB; 8], &[0xAB; 16][..]));
        for len in [0u8, 7, 12, 41] {
            let mut o = vec![0, 10, 0, len];
            o.extend(std::iter::repeat_n(1, len as usize));
            let m = query(WWW, &opt(&o), 1);
            let r = parse(&m);
            assert!(
                matches!(r, Err(QueryError::FormErr { edns: Some(_), .. })),
                "{len}: {r:?}"
            );
        }
    }

    #[test]
    fn unknown_option_is_ignored() {
        let m = query(WWW, &opt(&[0xFD, 0xE9, 0, 2, 1, 2]), 1);
        assert!(parse(&m).unwrap().edns.unwrap().client_subnet.is_none());
    }

    #[test]
    fn malformed_queries() {
        assert_eq!(parse(&[0; 11]).unwrap_err(), QueryError::Drop);
        let mut resp = query(WWW, &[], 0);
        resp[2] |= 0x80;
        assert_eq!(parse(&resp).unwrap_err(), QueryError::Drop);
        let mut no_q = query(WWW, &[], 0);
        no_q[5] = 0;
        assert!(matches!(
            parse(&no_q),
            Err(QueryError::FormErr {
                question_end: None,
                ..
            })
        ));
        let compressed = query(b"\x03www\xC0\x0C", &[], 0);
        assert!(matches!(
            parse(&compressed),
            Err(QueryError::FormErr { .. })
        ));
        let truncated = &query(WWW, &[], 0)[..20];
        assert!(matches!(parse(truncated), Err(QueryError::FormErr { .. })));
        let two_opts = query(WWW, &[opt(&[]), opt(&[])].concat(), 2);
        assert!(matches!(parse(&two_opts), Err(QueryError::FormErr { .. })));
        let mut notimp = query(WWW, &[], 0);
        notimp[2] |= 2 << 3;
        assert!(matches!(
            parse(&notimp),
            Err(QueryError::NotImp {
                question_end: Some(_),
                edns: None,
                tsig: None
            })
        ));
    }

    #[test]
    fn formerr_keeps_the_opt_record_it_found() {
        let edns_of = |m: &[u8]| match parse(m) {
            Err(QueryError::FormErr { edns, .. }) => edns,
            other => panic!("want FORMERR, got {other:?}"),
        };
        // No question at all, the OPT right after the header.
        let mut no_q = vec![0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 1];
        no_q.extend_from_slice(&opt(&[]));
        assert_eq!(edns_of(&no_q).map(|e| e.udp_payload), Some(1232));
        // A compressed question name, then a valid OPT.
        let compressed = query(b"\x03www\xC0\x0C", &opt(&[]), 1);
        assert!(edns_of(&compressed).is_some());
        // Two questions, then the OPT.
        let mut two = query(WWW, &[], 0);
        two[5] = 2;
        two[11] = 1;
        two.extend_from_slice(WWW);
        two.extend_from_slice(&[0, 1, 0, 1]);
        two.extend_from_slice(&opt(&[]));
        assert!(edns_of(&two).is_some());
        // A second OPT: FORMERR with the first one.
        let two_opts = query(WWW, &[opt(&[]), opt(&[])].concat(), 2);
        assert!(edns_of(&two_opts).is_some());
        // A broken record after the OPT.
        let mut after = opt(&[]);
        after.extend_from_slice(&[0, 0, 1, 0]);
        assert!(edns_of(&query(WWW, &after, 2)).is_some());
        // Without an OPT there is none to keep.
        let mut bare = query(WWW, &[], 0);
        bare[5] = 0;
        assert!(edns_of(&bare).is_none());
        // A truncated OPT is not one.
        let cut = query(WWW, &opt(&[])[..8], 1);
        assert!(edns_of(&cut).is_none());
    }

    #[test]
    fn notimp_without_question_keeps_the_opt_record() {
        let mut m = vec![0x12, 0x34, 0x01 | (2 << 3), 0x00, 0, 0, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(&opt(&[]));
        assert!(matches!(
            parse(&m),
            Err(QueryError::NotImp {
                question_end: None,
                edns: Some(_),
                tsig: None
            })
        ));
    }

    /// A TSIG record as far as `parse` looks at it: owner, type, class, TTL, empty RDATA.
    const TSIG: &[u8] = b"\x03key\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x00";

    #[test]
    fn a_tsig_record_is_found_only_last() {
        // Last, after the OPT record: its offset is noted.
        let m = query(WWW, &[opt(&[]), TSIG.to_vec()].concat(), 2);
        let q = parse(&m).unwrap();
        assert_eq!(q.tsig, Some((m.len() - TSIG.len()) as u16));
        assert!(q.edns.is_some());
        assert_eq!(parse(&query(WWW, &[], 0)).unwrap().tsig, None);
        // RFC 8945 §5.2: anywhere else, or twice, is FORMERR.
        let cases: &[(&str, Vec<u8>, u16)] = &[
            ("before the OPT", [TSIG.to_vec(), opt(&[])].concat(), 2),
            ("twice", [TSIG, TSIG].concat(), 2),
        ];
        for (what, extra, arcount) in cases {
            let m = query(WWW, extra, *arcount);
            let r = parse(&m);
            assert!(
                matches!(r, Err(QueryError::FormErr { .. })),
                "{what}: {r:?}"
            );
        }
        let mut in_answer = query(WWW, TSIG, 0);
        in_answer[7] = 1; // ANCOUNT 1
        assert!(matches!(parse(&in_answer), Err(QueryError::FormErr { .. })));
        // A NOTIMP still says where the TSIG is, so it can be checked and the answer signed.
        let mut notify = query(WWW, TSIG, 1);
        notify[2] |= 4 << 3;
        assert!(matches!(
            parse(&notify),
            Err(QueryError::NotImp { tsig: Some(_), .. })
        ));
    }

    #[test]
    fn an_nsid_option_asks_for_ours_whatever_its_payload() {
        let asks = |options: &[u8]| parse(&query(WWW, &opt(options), 1)).unwrap().edns.unwrap();
        assert!(!asks(&[]).nsid, "no option, no NSID");
        assert!(
            asks(&[0, 3, 0, 0]).nsid,
            "the empty NSID option of RFC 5001 §2.1"
        );
        assert!(asks(&[0, 3, 0, 2, 0xAB, 0xCD]).nsid, "a payload is ignored");
        let with_ecs = [ecs(1, 24, &[192, 0, 2]), vec![0, 3, 0, 0]].concat();
        let e = asks(&with_ecs);
        assert!(e.nsid && e.client_subnet.is_some());
        assert!(parse(&query(WWW, &[], 0)).unwrap().edns.is_none());
    }

    #[test]
    fn formerr_says_which_option_was_malformed() {
        let malformed = |options: &[u8]| match parse(&query(WWW, &opt(options), 1)) {
            Err(QueryError::FormErr { edns: Some(e), .. }) => e.malformed,
            other => panic!("want FORMERR with the OPT record, got {other:?}"),
        };
        let bad_ecs = ecs(1, 33, &[1, 2, 3, 4, 5]);
        assert_eq!(malformed(&bad_ecs), Some(Malformed::ClientSubnet));
        let two = [ecs(1, 24, &[192, 0, 2]), ecs(1, 24, &[192, 0, 2])].concat();
        assert_eq!(malformed(&two), Some(Malformed::RepeatedClientSubnet));
        assert_eq!(
            malformed(&[0, 10, 0, 7, 1, 2, 3, 4, 5, 6, 7]),
            Some(Malformed::Cookie)
        );
        // The NSID request read before the bad option still counts.
        let nsid_then_bad = [vec![0, 3, 0, 0], bad_ecs].concat();
        match parse(&query(WWW, &opt(&nsid_then_bad), 1)) {
            Err(QueryError::FormErr { edns: Some(e), .. }) => assert!(e.nsid),
            other => panic!("{other:?}"),
        }
        // A second OPT record is no option's fault.
        match parse(&query(WWW, &[opt(&[]), opt(&[])].concat(), 2)) {
            Err(QueryError::FormErr { edns: Some(e), .. }) => assert_eq!(e.malformed, None),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(&query(WWW, &opt(&[]), 1))
                .unwrap()
                .edns
                .unwrap()
                .malformed,
            None
        );
    }

    #[test]
    fn ede_and_nsid_options_are_encoded_as_rfc_8914_and_5001_say() {
        let mut out = vec![0xEE];
        Ede::NOT_AUTHORITATIVE.write(&mut out);
        assert_eq!(out, [0xEE, 0, 15, 0, 2, 0, 20]);
        assert_eq!(Ede::NOT_AUTHORITATIVE.option_len(), 6);
        let mut out = Vec::new();
        Ede::other("abc").write(&mut out);
        assert_eq!(out, [0, 15, 0, 5, 0, 0, b'a', b'b', b'c']);
        assert_eq!(Ede::other("abc").option_len(), out.len());
        let codes = [Ede::PROHIBITED, Ede::NOT_AUTHORITATIVE, Ede::NOT_SUPPORTED];
        assert_eq!(codes.map(|e| e.code), [18, 20, 21]);
        for m in [
            Malformed::ClientSubnet,
            Malformed::RepeatedClientSubnet,
            Malformed::Cookie,
        ] {
            let e = m.ede();
            assert_eq!(e.code, 0, "{m:?}: Other Error");
            assert!(!e.text.is_empty() && e.text.len() <= Ede::MAX_TEXT, "{m:?}");
        }
        let mut out = Vec::new();
        write_nsid(&mut out, b"ns1");
        assert_eq!(out, [0, 3, 0, 3, b'n', b's', b'1']);
    }

    #[test]
    fn never_panics_on_prefixes_of_a_valid_query() {
        let m = query(WWW, &opt(&ecs(2, 56, &[0x20, 1, 0xd, 0xb8, 0, 0, 0])), 1);
        for i in 0..m.len() {
            let _ = parse(&m[..i]);
        }
    }
}

//! Record data as a zone holds it from its reading on: uncompressed wire form, names in
//! the case they were written. One encoding at the read, then plain bytes for the checks
//! (duplicates), the answers (`answer::Writer` compresses the names it may) and the
//! records kept for transfers, where hickory's `RData` (184 bytes a record, and an
//! encoding at each use) was held for the whole build.

use crate::answer::EncodeError;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

/// A name in wire form, uncompressed, in the case it was written.
pub fn push_name(out: &mut Vec<u8>, name: &Name) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// Appends `rdata` in uncompressed wire form to `bytes`. The common types are written
/// here; hickory's encoder, which costs about a thousand instructions a record, gets
/// the rest.
pub fn push_rdata(bytes: &mut Vec<u8>, rdata: &RData) -> Result<(), EncodeError> {
    match rdata {
        RData::A(a) => bytes.extend_from_slice(&a.0.octets()),
        RData::AAAA(a) => bytes.extend_from_slice(&a.0.octets()),
        RData::CNAME(n) => push_name(bytes, &n.0),
        RData::NS(n) => push_name(bytes, &n.0),
        RData::PTR(n) => push_name(bytes, &n.0),
        RData::MX(mx) => {
            bytes.extend_from_slice(&mx.preference.to_be_bytes());
            push_name(bytes, &mx.exchange);
        }
        RData::SOA(soa) => {
            push_name(bytes, &soa.mname);
            push_name(bytes, &soa.rname);
            let (refresh, retry, expire) = (soa.refresh, soa.retry, soa.expire);
            for n in [
                soa.serial,
                refresh as u32,
                retry as u32,
                expire as u32,
                soa.minimum,
            ] {
                bytes.extend_from_slice(&n.to_be_bytes());
            }
        }
        RData::TXT(txt) => {
            for part in txt.txt_data.iter() {
                // The reader keeps each string to 255 octets; longer is hickory's error.
                let Ok(len) = u8::try_from(part.len()) else {
                    return push_encoded(bytes, rdata);
                };
                bytes.push(len);
                bytes.extend_from_slice(part);
            }
        }
        RData::SRV(srv) => {
            for n in [srv.priority, srv.weight, srv.port] {
                bytes.extend_from_slice(&n.to_be_bytes());
            }
            push_name(bytes, &srv.target);
        }
        RData::Unknown { rdata, .. } => bytes.extend_from_slice(&rdata.anything),
        other => push_encoded(bytes, other)?,
    }
    Ok(())
}

/// [`push_rdata`] by hickory's encoder.
fn push_encoded(bytes: &mut Vec<u8>, rdata: &RData) -> Result<(), EncodeError> {
    let mut enc = BinEncoder::new(bytes);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    rdata
        .emit(&mut enc)
        .map_err(|e| EncodeError::Rdata(e.to_string()))
}

pub use crate::answer::wire_name_len as name_len;

/// The lower-case key of the wire name `wire` starts with, in `buf`; `None` when it does
/// not start with one.
pub fn key_of<'b>(wire: &[u8], buf: &'b mut [u8; 256]) -> Option<&'b [u8]> {
    let len = name_len(wire)?;
    for (d, s) in buf[..len].iter_mut().zip(&wire[..len]) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..len])
}

/// Where the name sits in the data of a type whose data holds domain names that DNS
/// compares without case (RFC 4034 §6.2): octets before the first name, and how many
/// names follow one another there; `None` for the other types, compared octet by octet.
fn names_at(rtype: u16) -> Option<(usize, usize)> {
    match rtype {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME; ANAME
        2..=5 | 7..=9 | 12 | 39 | 65305 => Some((0, 1)),
        // SOA, MINFO, RP
        6 | 14 | 17 => Some((0, 2)),
        // MX, AFSDB, RT, KX
        15 | 18 | 21 | 36 => Some((2, 1)),
        // SRV
        33 => Some((6, 1)),
        _ => None,
    }
}

/// Whether two records of type `rtype` hold the same data: their names compared without
/// case (as hickory's `RData` compared them), everything else octet by octet.
pub fn same_rdata(rtype: u16, a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let Some((skip, names)) = names_at(rtype) else {
        return a == b;
    };
    if a.len() < skip || a[..skip] != b[..skip] {
        return false;
    }
    let mut pos = skip;
    for _ in 0..names {
        match (name_len(&a[pos..]), name_len(&b[pos..])) {
            (Some(la), Some(lb)) if la == lb => {
                if !a[pos..pos + la].eq_ignore_ascii_case(&b[pos..pos + la]) {
                    return false;
                }
                pos += la;
            }
            _ => return a == b,
        }
    }
    a[pos..] == b[pos..]
}

/// The records of one RRset: each record's data after its length (two octets, big-endian),
/// one after the other in one buffer; inline up to 16 octets (one or two A records, the
/// most common RRsets), which costs no more room than a `Vec`.
#[derive(Debug, Default, Clone)]
pub struct Rdatas(smallvec::SmallVec<[u8; 16]>);

impl Rdatas {
    /// One record of `rdata` (at most 65,535 octets, which the caller checks).
    pub fn one(rdata: &[u8]) -> Rdatas {
        let mut data = smallvec::SmallVec::with_capacity(2 + rdata.len());
        data.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        data.extend_from_slice(rdata);
        Rdatas(data)
    }

    pub fn push(&mut self, rdata: &[u8]) {
        self.0
            .extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.0.extend_from_slice(rdata);
    }

    /// Each record's data, in the order they were added.
    pub fn iter(&self) -> RdataIter<'_> {
        RdataIter(&self.0)
    }

    /// The first record's data (an RRset has one at least).
    pub fn first(&self) -> &[u8] {
        self.iter().next().unwrap_or_default()
    }

    /// Whether `rdata` is one of the records, compared as [`same_rdata`] does.
    pub fn contains(&self, rtype: RecordType, rdata: &[u8]) -> bool {
        let code = u16::from(rtype);
        self.iter().any(|r| same_rdata(code, r, rdata))
    }
}

/// The records of an [`Rdatas`], one by one.
#[derive(Clone)]
pub struct RdataIter<'a>(&'a [u8]);

impl<'a> Iterator for RdataIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let [a, b, rest @ ..] = self.0 else {
            return None;
        };
        let len = u16::from_be_bytes([*a, *b]) as usize;
        let (rdata, rest) = rest.split_at(len.min(rest.len()));
        self.0 = rest;
        Some(rdata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        push_name(&mut out, &Name::from_ascii(text).unwrap());
        out
    }

    #[test]
    fn records_come_back_in_order_with_their_lengths() {
        let mut set = Rdatas::one(&[192, 0, 2, 1]);
        set.push(&[]);
        set.push(&vec![7; 300]);
        let all: Vec<&[u8]> = set.iter().collect();
        assert_eq!(all, [&[192, 0, 2, 1][..], &[][..], &[7; 300][..]]);
        assert_eq!(set.first(), &[192, 0, 2, 1]);
        assert!(set.contains(RecordType::A, &[7; 300]));
        assert!(!set.contains(RecordType::A, &[192, 0, 2, 2]));
    }

    #[test]
    fn names_in_data_are_compared_without_case_and_the_rest_exactly() {
        let cname = |n: &str| name(n);
        assert!(same_rdata(
            5,
            &cname("Www.Example."),
            &cname("www.example.")
        ));
        assert!(!same_rdata(
            5,
            &cname("www.example."),
            &cname("wwx.example.")
        ));
        let mx = |pref: u16, n: &str| [&pref.to_be_bytes()[..], &name(n)].concat();
        assert!(same_rdata(
            15,
            &mx(10, "Mail.example."),
            &mx(10, "mail.EXAMPLE.")
        ));
        // A preference of 0x41 and one of 0x61 differ, though they are 'A' and 'a'.
        assert!(!same_rdata(15, &mx(0x41, "mail."), &mx(0x61, "mail.")));
        let soa = |m: &str, serial: u32| {
            [
                name(m),
                name("host.example."),
                serial.to_be_bytes().to_vec(),
            ]
            .concat()
        };
        assert!(same_rdata(
            6,
            &soa("NS1.example.", 1),
            &soa("ns1.example.", 1)
        ));
        assert!(!same_rdata(
            6,
            &soa("ns1.example.", 1),
            &soa("ns1.example.", 2)
        ));
        // TXT holds text, not names: its case counts.
        assert!(!same_rdata(16, b"\x03Abc", b"\x03abc"));
    }

    #[test]
    fn a_name_is_measured_only_when_it_is_whole_and_short_enough() {
        assert_eq!(name_len(&name("a.example.")), Some(11));
        assert_eq!(name_len(b"\0rest"), Some(1));
        assert_eq!(name_len(b"\x03ab"), None);
        assert_eq!(name_len(b"\xc0\x0c"), None);
        let long = [&[63u8][..], &[b'x'; 63]].concat().repeat(4);
        assert_eq!(name_len(&[&long[..], &[0]].concat()), None);
        let mut buf = [0; 256];
        assert_eq!(
            key_of(&name("WWW.Example."), &mut buf),
            Some(&name("www.example.")[..])
        );
    }

    #[test]
    fn common_types_are_written_as_hickory_writes_them() {
        use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, NULL, PTR, SOA, SRV, TXT};
        let name = |s: &str| Name::from_ascii(s).unwrap();
        let cases = [
            RData::A(A::new(192, 0, 2, 7)),
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            RData::CNAME(CNAME(name("Www.Example."))),
            RData::NS(NS(name("ns1.example."))),
            RData::PTR(PTR(name("host.example."))),
            RData::MX(MX::new(10, name("Mail.example."))),
            RData::MX(MX::new(0, Name::root())),
            RData::Unknown {
                code: RecordType::Unknown(39),
                rdata: NULL::with(vec![3, b'c', b'o', b'm', 0]),
            },
            RData::SOA(SOA::new(
                name("Ns1.example."),
                name("host\\.master.example."),
                4_294_967_295,
                3600,
                -1,
                i32::MAX,
                300,
            )),
            RData::TXT(TXT::new(vec![
                "v=spf1 -all".into(),
                String::new(),
                "x".repeat(255),
            ])),
            RData::TXT(TXT::new(vec![])),
            RData::SRV(SRV::new(10, 60, 5060, name("Sip.Example."))),
        ];
        for rdata in &cases {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            push_rdata(&mut fast, rdata).unwrap();
            push_encoded(&mut slow, rdata).unwrap();
            assert_eq!(fast, slow, "{rdata:?}");
        }
    }
}

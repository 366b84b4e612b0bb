//! The canonical forms DNSSEC signs and orders by (RFC 4034 §6, RFC 6840 §5.1): names as
//! uncompressed lower-case wire labels, RDATA with its embedded names lower-cased for the
//! types that list them, RRsets sorted by canonical RDATA, names in canonical order.
//!
//! Pure functions over wire bytes; no allocation beyond the canonical copies they return.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::DnssecError;

/// Type codes used here and in `sign.rs`/`apex.rs`.
pub mod rtype {
    pub const NS: u16 = 2;
    pub const MD: u16 = 3;
    pub const MF: u16 = 4;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MB: u16 = 7;
    pub const MG: u16 = 8;
    pub const MR: u16 = 9;
    pub const PTR: u16 = 12;
    pub const MINFO: u16 = 14;
    pub const MX: u16 = 15;
    pub const RP: u16 = 17;
    pub const AFSDB: u16 = 18;
    pub const RT: u16 = 21;
    pub const SIG: u16 = 24;
    pub const PX: u16 = 26;
    pub const NXT: u16 = 30;
    pub const SRV: u16 = 33;
    pub const NAPTR: u16 = 35;
    pub const KX: u16 = 36;
    pub const A6: u16 = 38;
    pub const DNAME: u16 = 39;
    pub const DS: u16 = 43;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const DNSKEY: u16 = 48;
    pub const CDS: u16 = 59;
    pub const CDNSKEY: u16 = 60;
}

/// The labels of an uncompressed wire-format name, checked: every label at most 63
/// octets, the whole name at most 255, ending with the root label and nothing after it.
pub fn labels(name: &[u8]) -> Result<Vec<&[u8]>, DnssecError> {
    let (labels, used) = read_name(name, 0)?;
    if used != name.len() {
        return Err(DnssecError::BadName("octets after the root label"));
    }
    Ok(labels)
}

/// Reads the uncompressed name that starts at `at` in `data`: its labels (without the
/// root) and the offset just past it. Compression pointers are refused: what is signed
/// is always written out in full.
fn read_name(data: &[u8], at: usize) -> Result<(Vec<&[u8]>, usize), DnssecError> {
    let mut labels = Vec::new();
    let mut pos = at;
    loop {
        let Some(&len) = data.get(pos) else {
            return Err(DnssecError::BadName("ends before the root label"));
        };
        let len = usize::from(len);
        if len == 0 {
            pos += 1;
            break;
        }
        if len > 63 {
            return Err(DnssecError::BadName(
                "a label longer than 63 octets, or a compression pointer",
            ));
        }
        let Some(label) = data.get(pos + 1..pos + 1 + len) else {
            return Err(DnssecError::BadName("a label runs past the end"));
        };
        labels.push(label);
        pos += 1 + len;
    }
    if pos - at > 255 {
        return Err(DnssecError::BadName("longer than 255 octets"));
    }
    Ok((labels, pos))
}

/// The wire form of a name given in text (`example.com`, `example.com.`, `.` for the
/// root; escapes as in master files), lower-cased.
pub fn name_from_text(text: &str) -> Result<Vec<u8>, DnssecError> {
    let name = hickory_proto::rr::Name::from_ascii(text)
        .map_err(|_| DnssecError::BadName("not a domain name"))?;
    let mut wire = Vec::with_capacity(text.len() + 2);
    for label in name.iter() {
        wire.push(label.len() as u8);
        wire.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    if wire.len() > 255 {
        return Err(DnssecError::BadName("longer than 255 octets"));
    }
    Ok(wire)
}

/// A wire-format name in master-file text, with a trailing dot; `.` for the root.
/// Octets outside letters, digits, `-` and `_` (and `*` as a whole label) are escaped.
pub fn name_to_text(name: &[u8]) -> String {
    let Ok(labels) = labels(name) else {
        return "<invalid name>".to_string();
    };
    if labels.is_empty() {
        return ".".to_string();
    }
    let mut text = String::with_capacity(name.len() + 1);
    for label in labels {
        if label == b"*" {
            text.push('*');
        } else {
            for &b in label {
                match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => text.push(b as char),
                    b'.' | b'\\' | b'(' | b')' | b';' | b'"' | b'@' | b'$' => {
                        text.push('\\');
                        text.push(b as char)
                    }
                    _ => text.push_str(&format!("\\{b:03}")),
                }
            }
        }
        text.push('.');
    }
    text
}

/// `name` lower-cased (ASCII letters only, as DNS compares names), checked.
pub fn canonical_name(name: &[u8]) -> Result<Vec<u8>, DnssecError> {
    labels(name)?;
    Ok(lower(name))
}

/// Whether `name` is `zone` or below it (labels compared without case).
pub fn is_at_or_below(name: &[u8], zone: &[u8]) -> Result<bool, DnssecError> {
    let name = labels(name)?;
    let zone = labels(zone)?;
    Ok(name.len() >= zone.len()
        && name
            .iter()
            .rev()
            .zip(zone.iter().rev())
            .all(|(a, b)| a.eq_ignore_ascii_case(b)))
}

/// ASCII lower-casing of wire octets; the length octets (at most 63) are never letters.
fn lower(wire: &[u8]) -> Vec<u8> {
    wire.iter().map(u8::to_ascii_lowercase).collect()
}

/// The RRSIG Labels field for an owner (RFC 4034 §3.1.3): its labels, without the root
/// and without a leading `*` label, so a validator can tell a wildcard expansion.
pub fn rrsig_label_count(owner: &[u8]) -> Result<u8, DnssecError> {
    let labels = labels(owner)?;
    let wildcard = labels.first().is_some_and(|l| *l == b"*");
    Ok((labels.len() - usize::from(wildcard)) as u8)
}

/// Where the domain names sit in a type's RDATA, for the types whose embedded names are
/// lower-cased in canonical form: RFC 4034 §6.2 item 3, less NSEC (RFC 6840 §5.1).
/// HINFO is in that list but holds no name. `None`: the RDATA is taken as it is.
enum NameLayout {
    /// Names one after another from the start (NS, CNAME, PTR, MINFO, RP, ...).
    Names(usize),
    /// A fixed prefix of octets, then names (MX: 2, SRV: 6, PX: 2 then two names).
    After(usize, usize),
    /// SOA: two names, then 20 octets.
    Soa,
    /// NAPTR: 4 octets, three character-strings, then one name.
    Naptr,
    /// RRSIG and SIG: 18 octets, the signer's name, then the signature.
    Sig,
    /// A6: a prefix length, address suffix octets, then a prefix name when the length > 0.
    A6,
}

fn name_layout(rtype: u16) -> Option<NameLayout> {
    use rtype::*;
    Some(match rtype {
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME => NameLayout::Names(1),
        MINFO | RP => NameLayout::Names(2),
        MX | AFSDB | RT | KX => NameLayout::After(2, 1),
        PX => NameLayout::After(2, 2),
        SRV => NameLayout::After(6, 1),
        SOA => NameLayout::Soa,
        NAPTR => NameLayout::Naptr,
        SIG | RRSIG => NameLayout::Sig,
        A6 => NameLayout::A6,
        // NXT is in RFC 4034's list; its next name comes first.
        NXT => NameLayout::After(0, 1),
        _ => return None,
    })
}

/// The canonical form of one RDATA of type `rtype` (uncompressed, as on the wire): the
/// same octets with the embedded domain names lower-cased where RFC 4034 §6.2 says so.
/// An RDATA whose names do not parse is an error, not signed as it is.
pub fn canonical_rdata(rtype: u16, rdata: &[u8]) -> Result<Cow<'_, [u8]>, DnssecError> {
    let Some(layout) = name_layout(rtype) else {
        return Ok(Cow::Borrowed(rdata));
    };
    // (start of the names, how many, whether anything may follow the last name)
    let (start, count, tail) = match layout {
        NameLayout::Names(n) => (0, n, false),
        NameLayout::After(prefix, n) => (prefix, n, false),
        NameLayout::Soa => (0, 2, true),
        NameLayout::Sig => (18, 1, true),
        NameLayout::Naptr => {
            let mut pos = 4;
            for _ in 0..3 {
                let Some(&len) = rdata.get(pos) else {
                    return Err(DnssecError::BadRdata(
                        rtype,
                        "NAPTR strings run past the end",
                    ));
                };
                pos += 1 + usize::from(len);
            }
            (pos, 1, false)
        }
        NameLayout::A6 => {
            let Some(&prefix_len) = rdata.first() else {
                return Err(DnssecError::BadRdata(rtype, "empty"));
            };
            if prefix_len > 128 {
                return Err(DnssecError::BadRdata(rtype, "prefix length above 128"));
            }
            let suffix = (128 - usize::from(prefix_len)).div_ceil(8);
            if prefix_len == 0 {
                return Ok(Cow::Borrowed(rdata));
            }
            (1 + suffix, 1, false)
        }
    };
    if rdata.len() < start {
        return Err(DnssecError::BadRdata(
            rtype,
            "shorter than its fixed fields",
        ));
    }
    let mut pos = start;
    for _ in 0..count {
        let (_, end) = read_name(rdata, pos).map_err(|e| match e {
            DnssecError::BadName(why) => DnssecError::BadRdata(rtype, why),
            other => other,
        })?;
        pos = end;
    }
    if !tail && pos != rdata.len() {
        return Err(DnssecError::BadRdata(rtype, "octets after its last name"));
    }
    if rtype == rtype::SOA && rdata.len() != pos + 20 {
        return Err(DnssecError::BadRdata(
            rtype,
            "not 20 octets after the names",
        ));
    }
    if rdata[start..pos].iter().any(u8::is_ascii_uppercase) {
        let mut out = rdata.to_vec();
        out[start..pos].make_ascii_lowercase();
        Ok(Cow::Owned(out))
    } else {
        Ok(Cow::Borrowed(rdata))
    }
}

/// The RDATAs of one RRset in canonical form and order (RFC 4034 §6.3): each canonical,
/// sorted as octet strings (a shorter prefix first), duplicates dropped (RFC 2181 §5).
pub fn canonical_rrset<'a>(
    rtype: u16,
    rdatas: &[&'a [u8]],
) -> Result<Vec<Cow<'a, [u8]>>, DnssecError> {
    let mut set = rdatas
        .iter()
        .map(|r| canonical_rdata(rtype, r))
        .collect::<Result<Vec<_>, _>>()?;
    set.sort_unstable();
    set.dedup();
    Ok(set)
}

/// Canonical DNS name order (RFC 4034 §6.1): compare label by label from the root, each
/// label as lower-cased octets (shorter first when one is a prefix); fewer labels first
/// when one name is a suffix of the other. This is the order of an NSEC chain.
pub fn canonical_name_cmp(a: &[u8], b: &[u8]) -> Result<Ordering, DnssecError> {
    let a = labels(a)?;
    let b = labels(b)?;
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        let order = x
            .iter()
            .map(u8::to_ascii_lowercase)
            .cmp(y.iter().map(u8::to_ascii_lowercase));
        if order != Ordering::Equal {
            return Ok(order);
        }
    }
    Ok(a.len().cmp(&b.len()))
}

/// The NSEC/NSEC3 type bit maps field (RFC 4034 §4.1.2) for a set of types: one window
/// per 256 types in use, each with as many bitmap octets as its highest type needs.
pub fn type_bitmaps(types: &[u16]) -> Vec<u8> {
    let mut sorted = types.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let window = (sorted[i] >> 8) as u8;
        let mut bitmap = [0u8; 32];
        let mut used = 0;
        while i < sorted.len() && (sorted[i] >> 8) as u8 == window {
            let low = (sorted[i] & 0xff) as usize;
            bitmap[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(&bitmap[..used]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in text
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    #[test]
    fn label_counts_leave_out_the_root_and_a_leading_wildcard() {
        // (owner, RRSIG Labels) as RFC 4034 §3.1.3 and its examples give them
        let rows = [
            (".", 0),
            ("com.", 1),
            ("example.com.", 2),
            ("www.example.com.", 3),
            ("*.example.com.", 2),
            ("*.a.example.com.", 3),
            // a `*` that is not the leftmost label is an ordinary label
            ("a.*.example.com.", 4),
        ];
        for (owner, count) in rows {
            assert_eq!(rrsig_label_count(&wire(owner)).unwrap(), count, "{owner}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(labels(&[3, b'c', b'o', b'm', 0]).is_ok());
        assert!(labels(&[3, b'c', b'o']).is_err(), "truncated label");
        assert!(labels(&[3, b'c', b'o', b'm']).is_err(), "no root label");
        assert!(labels(&[0xc0, 12]).is_err(), "compression pointer");
        assert!(labels(&[0, 0]).is_err(), "octets after the root");
        let long: Vec<u8> = std::iter::repeat_n([63u8; 64], 4)
            .flat_map(|l| {
                let mut l = l.to_vec();
                l[0] = 63;
                l
            })
            .chain([0])
            .collect();
        assert!(labels(&long).is_err(), "257 octets");
        assert_eq!(
            name_from_text("WWW.Example.COM").unwrap(),
            wire("www.example.com")
        );
        assert_eq!(name_from_text(".").unwrap(), vec![0]);
        assert_eq!(name_to_text(&wire("www.example.com")), "www.example.com.");
        assert_eq!(name_to_text(&[0]), ".");
        assert_eq!(name_to_text(&[3, b'a', b'.', b' ', 0]), "a\\.\\032.");
    }

    #[test]
    fn canonical_rdata_lowercases_only_the_listed_names() {
        let ns = wire("NS1.Example.COM");
        assert_eq!(
            canonical_rdata(rtype::NS, &ns).unwrap().as_ref(),
            wire("ns1.example.com")
        );
        // MX: preference, then the exchange
        let mut mx = vec![0, 10];
        mx.extend(wire("Mail.Example.com"));
        let mut want = vec![0, 10];
        want.extend(wire("mail.example.com"));
        assert_eq!(canonical_rdata(rtype::MX, &mx).unwrap().as_ref(), want);
        // SRV: the letters in the fixed part are numbers and stay
        let mut srv = vec![0, b'A', 0, b'B', 0x01, 0xbb];
        srv.extend(wire("SIP.example.com"));
        let canon = canonical_rdata(rtype::SRV, &srv).unwrap();
        assert_eq!(&canon[..6], &[0, b'A', 0, b'B', 0x01, 0xbb]);
        assert_eq!(&canon[6..], wire("sip.example.com"));
        // SOA: both names, not the 20 octets after
        let mut soa = wire("NS1.example.com");
        soa.extend(wire("Host.example.com"));
        soa.extend([b'A'; 20]);
        let canon = canonical_rdata(rtype::SOA, &soa).unwrap();
        assert!(canon.ends_with(&[b'A'; 20]));
        assert!(!canon[..canon.len() - 20].iter().any(u8::is_ascii_uppercase));
        // NSEC (RFC 6840 §5.1), TXT, and types outside the list: unchanged
        let mut nsec = wire("Next.Example.com");
        nsec.extend(type_bitmaps(&[1]));
        assert_eq!(canonical_rdata(rtype::NSEC, &nsec).unwrap().as_ref(), nsec);
        let txt = b"\x05Hello".to_vec();
        assert_eq!(canonical_rdata(16, &txt).unwrap().as_ref(), txt);
        // NAPTR: the strings keep their case, the replacement name does not
        let mut naptr = vec![0, 1, 0, 2, 1, b'U', 7];
        naptr.extend(b"E2U+sip");
        naptr.push(0);
        naptr.extend(wire("SIP.Example.com"));
        let canon = canonical_rdata(rtype::NAPTR, &naptr).unwrap();
        assert_eq!(&canon[..15], &naptr[..15]);
        assert_eq!(&canon[15..], wire("sip.example.com"));
        // malformed: a name running past the end, octets after the name
        assert!(canonical_rdata(rtype::CNAME, &[3, b'a', b'b']).is_err());
        let mut extra = wire("a.example");
        extra.push(1);
        assert!(canonical_rdata(rtype::CNAME, &extra).is_err());
        assert!(canonical_rdata(rtype::SOA, &wire("a.example")).is_err());
    }

    /// Our canonical RDATA agrees with hickory-proto's canonical encoder (a second
    /// implementation of RFC 4034 §6.2), from the same records encoded uncompressed in
    /// the case written, as the zone code encodes them.
    #[test]
    fn canonical_rdata_agrees_with_hickory() {
        use hickory_proto::rr::RData;
        use hickory_proto::rr::rdata::{CNAME, MX, NAPTR, NS, PTR, SOA, SRV, TXT};
        use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
        let n = |t: &str| hickory_proto::rr::Name::from_ascii(t).unwrap();
        let rows: Vec<(u16, RData)> = vec![
            (rtype::NS, RData::NS(NS(n("NS1.Example.COM.")))),
            (rtype::CNAME, RData::CNAME(CNAME(n("WWW.Example.com.")))),
            (rtype::PTR, RData::PTR(PTR(n("Host.EXAMPLE.")))),
            (rtype::MX, RData::MX(MX::new(10, n("Mail.Example.com.")))),
            (
                rtype::SOA,
                RData::SOA(SOA::new(
                    n("NS1.Ex.com."),
                    n("Host.Master.ex.com."),
                    1,
                    2,
                    3,
                    4,
                    5,
                )),
            ),
            (
                rtype::SRV,
                RData::SRV(SRV::new(0, 5, 5060, n("SIP.Example.com."))),
            ),
            (
                rtype::NAPTR,
                RData::NAPTR(NAPTR::new(
                    1,
                    2,
                    b"U".to_vec().into(),
                    b"E2U+SIP".to_vec().into(),
                    b"".to_vec().into(),
                    n("SIP.Example.com."),
                )),
            ),
            (16, RData::TXT(TXT::new(vec!["Mixed Case".to_string()]))),
        ];
        for (t, rdata) in rows {
            let mut written = Vec::new();
            let mut enc = BinEncoder::new(&mut written);
            enc.set_name_encoding(NameEncoding::Uncompressed);
            rdata.emit(&mut enc).unwrap();
            let mut canonical = Vec::new();
            let mut enc = BinEncoder::new(&mut canonical);
            enc.set_canonical_form(true);
            rdata.emit(&mut enc).unwrap();
            assert_eq!(
                canonical_rdata(t, &written).unwrap().as_ref(),
                canonical,
                "type {t}"
            );
        }
    }

    #[test]
    fn rrsets_sort_as_octet_strings_and_lose_duplicates() {
        let a: &[u8] = &[192, 0, 2, 10];
        let b: &[u8] = &[192, 0, 2, 9];
        let c: &[u8] = &[10, 0, 0, 1];
        let set = canonical_rrset(1, &[a, b, a, c]).unwrap();
        let got: Vec<&[u8]> = set.iter().map(|r| r.as_ref()).collect();
        assert_eq!(got, vec![c, b, a]);
        // a prefix sorts first ("absence of an octet sorts before a zero octet")
        let short: &[u8] = b"\x01a";
        let long: &[u8] = b"\x01a\x00";
        let set = canonical_rrset(16, &[long, short]).unwrap();
        assert_eq!(set[0].as_ref(), short);
        // case-only differences in names are the same record once canonical
        let x = wire("NS.example");
        let y = wire("ns.example");
        assert_eq!(canonical_rrset(rtype::NS, &[&x, &y]).unwrap().len(), 1);
    }

    #[test]
    fn canonical_name_order_is_rfc4034s_example() {
        // RFC 4034 §6.1's example, in order
        let ordered = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\u{1}.z.example.",
            "*.z.example.",
            "\u{80}.z.example.",
        ];
        let names: Vec<Vec<u8>> = ordered
            .iter()
            .map(|t| match *t {
                "\u{1}.z.example." => {
                    let mut w = vec![1, 1];
                    w.extend(wire("z.example"));
                    w
                }
                "\u{80}.z.example." => {
                    let mut w = vec![1, 0x80];
                    w.extend(wire("z.example"));
                    w
                }
                _ => wire(t),
            })
            .collect();
        for pair in names.windows(2) {
            assert_eq!(
                canonical_name_cmp(&pair[0], &pair[1]).unwrap(),
                Ordering::Less,
                "{} < {}",
                name_to_text(&pair[0]),
                name_to_text(&pair[1])
            );
        }
        assert_eq!(
            canonical_name_cmp(&wire("A.example"), &wire("a.EXAMPLE")).unwrap(),
            Ordering::Equal
        );
    }

    #[test]
    fn type_bitmaps_match_rfc4034s_example() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234
        let got = type_bitmaps(&[1, 15, 46, 47, 1234]);
        let mut want = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        want.extend([0u8; 26]);
        want.push(0x20);
        assert_eq!(got, want);
        assert!(type_bitmaps(&[]).is_empty());
    }
}

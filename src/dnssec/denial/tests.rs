//! Tests of the compact denial rules: one per kind of answer, the NSEC signed and
//! verified, and its RDATA read back by hickory-proto's own NSEC parser.

use std::cmp::Ordering;

use super::*;
use crate::dnssec::canon::{canonical_name_cmp, name_to_text, rtype};
use crate::dnssec::key::{Algorithm, generate};
use crate::dnssec::sign::{sign_rrset, verify_rrsig};

const A: u16 = 1;
const AAAA: u16 = 28;
const DO: Option<u16> = Some(EDNS_DO);
const DO_CO: Option<u16> = Some(EDNS_DO | EDNS_CO);

/// Wire form of a dotted name, absolute, where `\\000` stands for a zero octet (the
/// master-file escape, which `name_from_text` does not take).
fn name(text: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in text.trim_end_matches('.').split('.') {
        let label = label.replace("\\000", "\0");
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    canon::labels(&wire).unwrap();
    wire
}

fn apex() -> Vec<u8> {
    name("example.com.")
}

fn nsec_of(qname: &str, state: NameState<'_>, flags: Option<u16>) -> (Denial, Nsec) {
    let d = deny(&name(qname), &apex(), state, flags).unwrap();
    let nsec = d.nsec.clone().expect("an NSEC with DO");
    (d, nsec)
}

#[test]
fn nxdomain_is_a_nodata_at_the_name_with_nxname() {
    let (d, nsec) = nsec_of("nope.example.com.", NameState::NotFound, DO);
    assert_eq!((d.rcode, d.co), (NOERROR, false));
    assert_eq!(nsec.owner, name("nope.example.com."));
    assert_eq!(nsec.next, name("\\000.nope.example.com."));
    assert_eq!(nsec.types, vec![rtype::RRSIG, rtype::NSEC, NXNAME]);
    // RDATA: next name, window 0 (RRSIG 46, NSEC 47: octet 5, bits 1 and 0), window 0 has
    // 6 octets; NXNAME 128 is window 0 octet 16, bit 0x80.
    let rdata = nsec.rdata();
    let bitmap = &rdata[nsec.next.len()..];
    assert_eq!(bitmap[0], 0);
    assert_eq!(bitmap[1], 17);
    assert_eq!(bitmap[2 + 5], 0x03);
    assert_eq!(bitmap[2 + 16], 0x80);
}

#[test]
fn the_co_flag_brings_back_the_nxdomain_rcode() {
    let (d, nsec) = nsec_of("nope.example.com.", NameState::NotFound, DO_CO);
    assert_eq!((d.rcode, d.co), (NXDOMAIN, true));
    assert!(nsec.types.contains(&NXNAME));
}

#[test]
fn without_do_nothing_is_signed_and_nxdomain_stays() {
    for flags in [None, Some(0), Some(EDNS_CO)] {
        let d = deny(
            &name("nope.example.com."),
            &apex(),
            NameState::NotFound,
            flags,
        )
        .unwrap();
        assert_eq!(
            d,
            Denial {
                rcode: NXDOMAIN,
                co: false,
                nsec: None
            },
            "{flags:?}"
        );
        let d = deny(
            &name("www.example.com."),
            &apex(),
            NameState::NoData { types: &[A] },
            flags,
        )
        .unwrap();
        assert_eq!(
            d,
            Denial {
                rcode: NOERROR,
                co: false,
                nsec: None
            }
        );
    }
}

#[test]
fn nodata_lists_the_types_the_name_has() {
    let (d, nsec) = nsec_of(
        "WWW.Example.COM.",
        NameState::NoData {
            types: &[AAAA, A, A],
        },
        DO_CO,
    );
    // CO is echoed, and changes no rcode for a name that exists.
    assert_eq!((d.rcode, d.co), (NOERROR, true));
    assert_eq!(nsec.owner, name("www.example.com."));
    assert_eq!(nsec.next, name("\\000.www.example.com."));
    assert_eq!(nsec.types, vec![A, AAAA, rtype::RRSIG, rtype::NSEC]);
}

#[test]
fn empty_non_terminal_has_only_rrsig_and_nsec() {
    let (d, nsec) = nsec_of("b.example.com.", NameState::EmptyNonTerminal, DO_CO);
    assert_eq!((d.rcode, d.co), (NOERROR, true));
    assert_eq!(nsec.types, vec![rtype::RRSIG, rtype::NSEC]);
    assert!(!nsec.types.contains(&NXNAME));
}

#[test]
fn insecure_delegation_proves_no_ds() {
    let (d, nsec) = nsec_of(
        "sub.example.com.",
        NameState::InsecureDelegation {
            types: &[rtype::NS],
        },
        DO,
    );
    assert_eq!(d.rcode, NOERROR);
    assert_eq!(nsec.owner, name("sub.example.com."));
    assert_eq!(nsec.types, vec![rtype::NS, rtype::RRSIG, rtype::NSEC]);
    assert!(!nsec.types.contains(&rtype::DS));
    for types in [
        &[rtype::NS, rtype::DS][..],
        &[A][..],
        &[rtype::NS, rtype::SOA][..],
    ] {
        let e = deny(
            &name("sub.example.com."),
            &apex(),
            NameState::InsecureDelegation { types },
            DO,
        );
        assert!(e.is_err(), "{types:?}");
    }
}

#[test]
fn names_outside_the_zone_and_nxname_queries_are_refused() {
    assert_eq!(
        deny(&name("www.example.net."), &apex(), NameState::NotFound, DO),
        Err(DnssecError::OutsideZone)
    );
    assert_eq!(nxname_query_rcode(NXNAME), Some(FORMERR));
    assert_eq!(nxname_query_rcode(A), None);
}

/// Labels shared from the root.
fn shared_labels(a: &[u8], b: &[u8]) -> usize {
    let a = canon::labels(a).unwrap();
    let b = canon::labels(b).unwrap();
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count()
}

#[test]
fn wildcard_answer_covers_the_next_closer_name_only() {
    let wild = name("*.example.com.");
    // Names that may exist around `host`: the proof must not cover any of them.
    let neighbours = [
        "hosa.example.com.",
        "hos.example.com.",
        "x.hos.example.com.",
        "hosszzz.example.com.",
        "deep.deeper.hoss.example.com.",
        "host0.example.com.",
        "host-.example.com.",
        "hostA.example.com.",
        "example.com.",
        "a.example.com.",
        "z.example.com.",
    ];
    for qname in [
        "host.example.com.",
        "a.b.host.example.com.",
        "HOST.example.com.",
    ] {
        let (d, nsec) = nsec_of(qname, NameState::WildcardAnswer { wildcard: &wild }, DO_CO);
        assert_eq!((d.rcode, d.co), (NOERROR, true));
        let q = canon::canonical_name(&name(qname)).unwrap();
        assert_eq!(canonical_name_cmp(&nsec.owner, &q).unwrap(), Ordering::Less);
        assert_eq!(canonical_name_cmp(&q, &nsec.next).unwrap(), Ordering::Less);
        assert_eq!(nsec.next, name("host\\000.example.com."));
        assert!(nsec.owner.len() <= 255);
        // The closest encloser a validator derives is the wildcard's parent.
        assert_eq!(
            shared_labels(&nsec.owner, &q),
            2,
            "{}",
            name_to_text(&nsec.owner)
        );
        assert_eq!(shared_labels(&nsec.next, &q), 2);
        assert_eq!(nsec.types, vec![rtype::RRSIG, rtype::NSEC]);
        for n in neighbours {
            let n = name(n);
            let inside = canonical_name_cmp(&nsec.owner, &n).unwrap() == Ordering::Less
                && canonical_name_cmp(&n, &nsec.next).unwrap() == Ordering::Less;
            assert!(!inside, "{} covered", name_to_text(&n));
        }
    }
}

#[test]
fn wildcard_predecessor_edge_cases() {
    let wild = name("*.example.com.");
    let state = NameState::WildcardAnswer { wildcard: &wild };
    // `[` minus one is `Z`, which sorts as `z`: the owner must use `@` instead.
    let (_, nsec) = nsec_of("[.example.com.", state, DO);
    let q = name("[.example.com.");
    assert_eq!(canonical_name_cmp(&nsec.owner, &q).unwrap(), Ordering::Less);
    assert_eq!(
        canonical_name_cmp(&name("@.example.com."), &nsec.owner).unwrap(),
        Ordering::Less
    );
    assert_eq!(canon::labels(&nsec.owner).unwrap().len(), 6);
    // A trailing \000 is dropped: `a` filled out with \255 labels is just before `a\000`.
    let (_, nsec) = nsec_of("a\\000.example.com.", state, DO);
    assert_eq!(
        canonical_name_cmp(&name("b.a.example.com."), &nsec.owner).unwrap(),
        Ordering::Less
    );
    assert_eq!(
        canonical_name_cmp(&nsec.owner, &name("a\\000.example.com.")).unwrap(),
        Ordering::Less
    );
    // `\000` has no predecessor below the encloser; a name not below the wildcard's
    // parent is refused too.
    assert!(deny(&name("\\000.example.com."), &apex(), state, DO).is_err());
    let other = name("*.b.example.com.");
    let state = NameState::WildcardAnswer { wildcard: &other };
    assert!(deny(&name("x.example.com."), &apex(), state, DO).is_err());
    assert!(deny(&name("b.example.com."), &apex(), state, DO).is_err());
}

#[test]
fn wildcard_nodata_is_a_nodata_at_the_query_name() {
    let wild = name("*.example.com.");
    let (d, nsec) = nsec_of(
        "host.example.com.",
        NameState::WildcardNoData {
            wildcard: &wild,
            types: &[A],
        },
        DO,
    );
    assert_eq!(d.rcode, NOERROR);
    assert_eq!(nsec.owner, name("host.example.com."));
    assert_eq!(nsec.types, vec![A, rtype::RRSIG, rtype::NSEC]);
}

/// Every kind of NSEC, for both algorithms, signed and checked as a validator would.
#[test]
fn every_nsec_signs_and_verifies() {
    let zone = apex();
    let wild = name("*.example.com.");
    let cases: Vec<(&str, NameState<'_>)> = vec![
        ("nope.example.com.", NameState::NotFound),
        ("www.example.com.", NameState::NoData { types: &[A] }),
        ("b.example.com.", NameState::EmptyNonTerminal),
        (
            "sub.example.com.",
            NameState::InsecureDelegation {
                types: &[rtype::NS],
            },
        ),
        (
            "host.example.com.",
            NameState::WildcardAnswer { wildcard: &wild },
        ),
    ];
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = generate(&zone, alg, 0).unwrap();
        let dnskey = key.dnskey_rdata();
        for (qname, state) in &cases {
            let (_, nsec) = nsec_of(qname, *state, DO);
            let rdata = nsec.rdata();
            let rrsig = sign_rrset(
                &key,
                &nsec.owner,
                rtype::NSEC,
                1,
                300,
                &[&rdata],
                1000,
                2_000_000_000,
            )
            .unwrap();
            verify_rrsig(
                &dnskey,
                &nsec.owner,
                rtype::NSEC,
                1,
                &[&rdata],
                &rrsig,
                5000,
            )
            .unwrap_or_else(|e| panic!("{qname}: {e}"));
        }
    }
}

/// Type numbers from a type bitmaps field, decoded here independently of the encoder:
/// windows in order, each 1 to 32 octets, no trailing data.
fn decode_bitmaps(mut data: &[u8]) -> Vec<u16> {
    let mut types = Vec::new();
    let mut last_window = None;
    while !data.is_empty() {
        let (window, len) = (data[0], usize::from(data[1]));
        assert!((1..=32).contains(&len), "window length {len}");
        assert!(last_window < Some(window), "windows out of order");
        last_window = Some(window);
        for (i, &octet) in data[2..2 + len].iter().enumerate() {
            for bit in 0..8 {
                if octet & (0x80 >> bit) != 0 {
                    types.push(u16::from(window) << 8 | (i * 8 + bit) as u16);
                }
            }
        }
        assert_ne!(data[1 + len], 0, "a window's last octet is not zero");
        data = &data[2 + len..];
    }
    types
}

/// Each NSEC as a whole record read by hickory-proto (owner, type, TTL; hickory-proto is
/// built without its DNSSEC features here, so the RDATA comes back as opaque octets),
/// its next name read by hickory-proto's name decoder to the last octet, and the type
/// bitmaps decoded independently of `canon::type_bitmaps`.
#[test]
fn nsec_rdata_parses_with_hickory() {
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

    let wild = name("*.example.com.");
    let cases: Vec<(&str, NameState<'_>, Vec<u16>)> = vec![
        ("nope.example.com.", NameState::NotFound, vec![46, 47, 128]),
        (
            "www.example.com.",
            NameState::NoData { types: &[A, AAAA] },
            vec![1, 28, 46, 47],
        ),
        ("b.example.com.", NameState::EmptyNonTerminal, vec![46, 47]),
        (
            "sub.example.com.",
            NameState::InsecureDelegation {
                types: &[rtype::NS],
            },
            vec![2, 46, 47],
        ),
        (
            "host.example.com.",
            NameState::WildcardAnswer { wildcard: &wild },
            vec![46, 47],
        ),
    ];
    for (qname, state, types) in cases {
        let (_, nsec) = nsec_of(qname, state, DO);
        let rdata = nsec.rdata();
        let mut wire = nsec.owner.clone();
        wire.extend_from_slice(&rtype::NSEC.to_be_bytes());
        wire.extend_from_slice(&1u16.to_be_bytes());
        wire.extend_from_slice(&300u32.to_be_bytes());
        wire.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        wire.extend_from_slice(&rdata);
        let mut decoder = BinDecoder::new(&wire);
        let record = Record::<RData>::read(&mut decoder).unwrap();
        assert!(decoder.is_empty(), "{qname}: octets left after the record");
        assert_eq!(record.record_type(), RecordType::NSEC);
        assert_eq!(record.ttl, 300);
        let owner = Name::from_labels(canon::labels(&nsec.owner).unwrap()).unwrap();
        assert_eq!(record.name, owner, "{qname}");

        let mut decoder = BinDecoder::new(&rdata);
        let next = Name::read(&mut decoder).unwrap();
        let next_labels: Vec<&[u8]> = next.iter().collect();
        assert_eq!(next_labels, canon::labels(&nsec.next).unwrap(), "{qname}");
        let consumed = rdata.len() - decoder.len();
        assert_eq!(consumed, nsec.next.len());
        assert_eq!(decode_bitmaps(&rdata[consumed..]), types, "{qname}");
    }
}

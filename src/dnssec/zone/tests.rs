use super::*;
use crate::dnssec::key::{Algorithm, generate};
use crate::dnssec::sign::verify_rrsig;

const T0: u64 = 1_800_000_000;

fn name(text: &str) -> Vec<u8> {
    canon::name_from_text(text).unwrap()
}

fn record(out: &mut Vec<u8>, owner: &str, rt: u16, ttl: u32, rdata: &[u8]) {
    out.extend_from_slice(&name(owner));
    out.extend_from_slice(&rt.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

pub(crate) fn soa() -> Vec<u8> {
    let mut rdata = name("ns1.example.com");
    rdata.extend(name("hostmaster.example.com"));
    for v in [1u32, 7200, 3600, 1209600, 300] {
        rdata.extend(v.to_be_bytes());
    }
    let mut out = Vec::new();
    record(&mut out, "example.com", rtype::SOA, 3600, &rdata);
    out
}

/// www A, a.b A (b is an empty non-terminal), *.wild A, an insecure cut `sub` with
/// glue, a secure cut `secure` with DS.
pub(crate) fn records() -> Vec<u8> {
    let mut out = Vec::new();
    record(
        &mut out,
        "example.com",
        rtype::NS,
        3600,
        &name("ns1.example.com"),
    );
    record(&mut out, "www.example.com", 1, 3600, &[192, 0, 2, 10]);
    record(&mut out, "a.b.example.com", 1, 3600, &[192, 0, 2, 30]);
    record(&mut out, "*.wild.example.com", 1, 3600, &[192, 0, 2, 40]);
    record(
        &mut out,
        "sub.example.com",
        rtype::NS,
        3600,
        &name("ns.sub.example.com"),
    );
    record(&mut out, "ns.sub.example.com", 1, 3600, &[192, 0, 2, 50]);
    record(
        &mut out,
        "secure.example.com",
        rtype::NS,
        3600,
        &name("ns.other.net"),
    );
    record(
        &mut out,
        "secure.example.com",
        rtype::DS,
        3600,
        &[0x30, 0x39, 13, 2, 1, 2, 3],
    );
    out
}

pub(crate) fn policy() -> Policy {
    Policy {
        validity: Validity {
            validity: std::time::Duration::from_secs(10000),
            backdate: std::time::Duration::from_secs(10),
            jitter: std::time::Duration::ZERO,
        },
        refresh_secs: 4000,
    }
}

pub(crate) fn signed_zone() -> SignedZone {
    let key = generate(&name("example.com"), Algorithm::EcdsaP256Sha256, T0 - 100).unwrap();
    let balanced = [name("app.example.com").into_boxed_slice()];
    SignedZone::new(
        &name("example.com"),
        &soa(),
        &records(),
        &balanced,
        vec![key],
        policy(),
        T0,
    )
    .unwrap()
}

#[test]
fn names_know_cuts_empty_non_terminals_and_leave_glue_out() {
    let z = signed_zone();
    // (name, exists, cut, empty non-terminal, types)
    let rows: &[(&str, bool, bool, bool, &[u16])] = &[
        (
            "example.com",
            true,
            false,
            false,
            &[
                rtype::NS,
                rtype::SOA,
                rtype::DNSKEY,
                rtype::CDS,
                rtype::CDNSKEY,
            ],
        ),
        ("www.example.com", true, false, false, &[1]),
        ("b.example.com", true, false, true, &[]),
        ("wild.example.com", true, false, true, &[]),
        ("*.wild.example.com", true, false, false, &[1]),
        ("sub.example.com", true, true, false, &[rtype::NS]),
        (
            "secure.example.com",
            true,
            true,
            false,
            &[rtype::NS, rtype::DS],
        ),
        ("ns.sub.example.com", false, false, false, &[]),
        ("app.example.com", true, false, false, &[]),
        ("nope.example.com", false, false, false, &[]),
    ];
    for &(text, exists, cut, ent, types) in rows {
        let info = z.name(&name(text));
        assert_eq!(info.is_some(), exists, "{text}");
        if let Some(i) = info {
            let mut want = types.to_vec();
            want.sort_unstable();
            assert_eq!(
                (i.cut, i.is_empty_non_terminal(), &i.types[..]),
                (cut, ent, &want[..]),
                "{text}"
            );
        }
    }
    assert!(z.below_cut(&name("ns.sub.example.com")));
    assert!(!z.below_cut(&name("sub.example.com")));
    assert_eq!(
        z.name(&name("app.example.com")).unwrap().types_without(28),
        [1]
    );
}

#[test]
fn static_rrsets_are_signed_at_load_but_not_glue_nor_the_ns_of_a_cut() {
    let z = signed_zone();
    let store = z.store();
    let dnskey = store.apex.dnskey[0].clone();
    let signed = |owner: &str, rt: u16| store.sigs.get(&(name(owner).into_boxed_slice(), rt));
    for (owner, rt, rdata) in [
        ("www.example.com", 1, vec![192, 0, 2, 10]),
        ("*.wild.example.com", 1, vec![192, 0, 2, 40]),
        (
            "secure.example.com",
            rtype::DS,
            vec![0x30, 0x39, 13, 2, 1, 2, 3],
        ),
        ("example.com", rtype::DNSKEY, dnskey.clone()),
    ] {
        let s = signed(owner, rt).unwrap_or_else(|| panic!("{owner} {rt} unsigned"));
        let rrsig = &s.sigs.rrsigs[0];
        let ttl = s.sigs.ttl;
        assert_eq!(ttl, 3600);
        let verified = verify_rrsig(&dnskey, &name(owner), rt, 1, &[&rdata], rrsig, T0);
        assert_eq!(verified, Ok(()), "{owner} {rt}");
    }
    assert!(signed("sub.example.com", rtype::NS).is_none());
    assert!(signed("ns.sub.example.com", 1).is_none());
    assert_eq!(store.refresh_at, T0 + 10000 - 4000);
}

#[test]
fn resign_moves_the_window_with_the_clock() {
    let z = signed_zone();
    let before = z.refresh_at();
    let later = T0 + 7000;
    z.resign(later).unwrap();
    assert_eq!(z.refresh_at(), later + 10000 - 4000);
    assert!(z.refresh_at() > before);
    let store = z.store();
    let s = &store.sigs[&(name("www.example.com").into_boxed_slice(), 1)];
    assert_eq!(s.sigs.expiration, later + 10000);
}

#[test]
fn a_zone_whose_keys_are_not_active_is_refused() {
    let mut key = generate(&name("example.com"), Algorithm::EcdsaP256Sha256, T0).unwrap();
    key.timing.inactive = Some(T0 - 1);
    let err = SignedZone::new(
        &name("example.com"),
        &soa(),
        &records(),
        &[],
        vec![key],
        policy(),
        T0,
    )
    .unwrap_err();
    assert!(matches!(err, ZoneSignError::NoActiveKey { .. }), "{err}");
}

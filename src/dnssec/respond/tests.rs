use super::*;
use crate::dnssec::canon;
use crate::dnssec::sign::{SignatureTimes, verify_rrsig};
use crate::dnssec::zone::tests::signed_zone;

const T0: u64 = 1_800_000_000;

/// An unsigned response as the responder renders it: QR AA, the question, the answer
/// records (owner a pointer to the question) and no OPT.
fn unsigned(qname: &str, qtype: u16, rcode: u8, answers: &[(u16, &[u8])]) -> (Vec<u8>, Vec<u8>) {
    let qwire = canon::name_from_text(qname).unwrap();
    let mut out = vec![
        0x12,
        0x34,
        0x84,
        rcode,
        0,
        1,
        0,
        answers.len() as u8,
        0,
        0,
        0,
        0,
    ];
    out.extend_from_slice(&qwire);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    for (rt, rdata) in answers {
        out.extend_from_slice(&[0xC0, 12]);
        out.extend_from_slice(&rt.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    (out, qwire)
}

fn asked(qname: &[u8], qtype: u16, now: u64) -> Asked<'_> {
    Asked {
        qname,
        qtype,
        dnssec_ok: true,
        compact_ok: false,
        max: 1232,
        now,
        generation: 1,
    }
}

/// The RRSIGs of a signed response: (type covered, RRSIG RDATA, TTL), and the records
/// they cover, (type, RDATA), read with the pass's own parser.
fn records(msg: &[u8], qend: usize) -> Vec<Rrset> {
    let p = parse(msg, qend).unwrap();
    p.sections.into_iter().flatten().collect()
}

#[test]
fn an_answer_gets_the_static_signature_and_is_memoized() {
    let zone = signed_zone();
    let (mut out, q) = unsigned("www.example.com", 1, 0, &[(1, &[192, 0, 2, 10])]);
    let qend = out.len() - 16;
    let entries = thread_stats().memo_entries;
    let rcode = sign_response(&zone, &asked(&q, 1, T0), &mut out, 0);
    assert_eq!(rcode, 0);
    assert_eq!(thread_stats().memo_entries, entries + 1, "kept in the memo");
    let sets = records(&out, qend);
    assert_eq!(sets.len(), 2, "A and RRSIG");
    let dnskey = zone.store().apex.dnskey[0].clone();
    let rrsig = &sets[1].rdatas[0];
    assert_eq!(
        verify_rrsig(&dnskey, &q, 1, 1, &[&[192, 0, 2, 10]], rrsig, T0),
        Ok(())
    );
    // The same signature as the store's: nothing was signed per query.
    let stored = &zone.store().sigs[&(q.clone().into_boxed_slice(), 1)];
    assert_eq!(*rrsig, stored.sigs.rrsigs[0]);
    // Again, in another case and ID: from the memo, the question as asked.
    let (mut again, _) = unsigned("WWW.example.com", 1, 0, &[(1, &[192, 0, 2, 10])]);
    again[0] = 0x99;
    let upper = canon::name_from_text("WWW.example.com").unwrap();
    let mut upper_wire = upper.clone();
    upper_wire[1..4].copy_from_slice(b"WWW");
    again[12..12 + upper_wire.len()].copy_from_slice(&upper_wire);
    let before = thread_stats().memo_entries;
    sign_response(&zone, &asked(&upper_wire, 1, T0 + 1), &mut again, 0);
    assert_eq!(
        thread_stats().memo_entries,
        before,
        "a memo hit adds nothing"
    );
    assert_eq!(again[0], 0x99);
    assert_eq!(&again[13..16], b"WWW");
    let qlen = upper_wire.len();
    assert_eq!(again[2..12], out[2..12], "same header");
    assert_eq!(again[12 + qlen..], out[12 + qlen..], "same records");
}

/// The clock moves past the store's refresh time with no re-sign (a late timer): the
/// query path signs afresh, and no answer carries a signature outside its window.
#[test]
fn a_signature_past_its_refresh_time_is_never_served() {
    let zone = signed_zone();
    let dnskey = zone.store().apex.dnskey[0].clone();
    let stored = zone.store().sigs[&(
        canon::name_from_text("www.example.com")
            .unwrap()
            .into_boxed_slice(),
        1,
    )]
        .sigs
        .clone();
    // Validity 10000 s, refresh 4000 s: from T0 + 6000 the stored signature is not used.
    for now in [T0, T0 + 5999, T0 + 6000, T0 + 9999, T0 + 10000, T0 + 50000] {
        let (mut out, q) = unsigned("www.example.com", 1, 0, &[(1, &[192, 0, 2, 10])]);
        let qend = out.len() - 16;
        sign_response(&zone, &asked(&q, 1, now), &mut out, 0);
        let sets = records(&out, qend);
        let rrsig = &sets[1].rdatas[0];
        assert_eq!(
            verify_rrsig(&dnskey, &q, 1, 1, &[&[192, 0, 2, 10]], rrsig, now),
            Ok(()),
            "at T0 + {}",
            now - T0
        );
        let times = SignatureTimes {
            expiration: u32::from_be_bytes(rrsig[8..12].try_into().unwrap()),
            inception: u32::from_be_bytes(rrsig[12..16].try_into().unwrap()),
        };
        assert!(
            u64::from(times.remaining(now)) >= 4000,
            "at T0 + {}",
            now - T0
        );
        assert!(sets[1].ttl <= times.remaining(now));
        assert_eq!(
            *rrsig == stored.rrsigs[0],
            now < T0 + 6000,
            "at T0 + {}",
            now - T0
        );
    }
}

#[test]
fn nxdomain_becomes_compact_unless_co() {
    let zone = signed_zone();
    for (co, want) in [(false, 0), (true, RCODE_NXDOMAIN)] {
        let (mut out, q) = unsigned("nope.example.com", 1, RCODE_NXDOMAIN, &[]);
        let qend = out.len();
        let a = Asked {
            compact_ok: co,
            ..asked(&q, 1, T0)
        };
        assert_eq!(sign_response(&zone, &a, &mut out, 0), want);
        assert_eq!(out[3] & 0xF, want);
        let sets = records(&out, qend);
        let types: Vec<u16> = sets.iter().map(|s| s.rtype).collect();
        // (The responder's SOA is not in this hand-made response; the NSEC is added.)
        assert_eq!(types, [rtype::NSEC, rtype::RRSIG], "CO {co}");
        assert_eq!(sets[0].owner, q);
        assert_eq!(sets[0].ttl, 300, "the negative TTL");
    }
}

#[test]
fn without_do_only_the_key_rrsets_are_added() {
    let zone = signed_zone();
    let (mut out, q) = unsigned("www.example.com", 1, 0, &[(1, &[192, 0, 2, 10])]);
    let original = out.clone();
    let a = Asked {
        dnssec_ok: false,
        ..asked(&q, 1, T0)
    };
    sign_response(&zone, &a, &mut out, 0);
    assert_eq!(out, original);
    let (mut out, q) = unsigned("example.com", rtype::DNSKEY, 0, &[]);
    let qend = out.len();
    let a = Asked {
        dnssec_ok: false,
        ..asked(&q, rtype::DNSKEY, T0)
    };
    sign_response(&zone, &a, &mut out, 0);
    let sets = records(&out, qend);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].rtype, rtype::DNSKEY);
    assert_eq!(sets[0].rdatas, zone.store().apex.dnskey);
}

#[test]
fn a_set_that_does_not_fit_with_its_rrsig_is_left_out_with_tc() {
    let zone = signed_zone();
    let (mut out, q) = unsigned("www.example.com", 1, 0, &[(1, &[192, 0, 2, 10])]);
    let unsigned_len = out.len();
    let a = Asked {
        max: unsigned_len + 40,
        ..asked(&q, 1, T0)
    };
    sign_response(&zone, &a, &mut out, 0);
    assert_eq!(out.len(), unsigned_len - 16, "header and question only");
    assert_ne!(u16::from_be_bytes([out[2], out[3]]) & FLAG_TC, 0);
    assert_eq!(&out[6..12], &[0; 6]);
}

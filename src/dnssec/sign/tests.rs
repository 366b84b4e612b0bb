//! The signing core against the RFCs' published examples, and our own signatures
//! checked back: canonical order, case, wildcards, Original TTL, times, tampering.

use super::*;
use crate::dnssec::canon::name_from_text;
use crate::dnssec::key::{generate, tests::key_from_bind};
use data_encoding::BASE64;

const A: u16 = 1;
const MX: u16 = 15;
const IN: u16 = 1;

fn name(text: &str) -> Vec<u8> {
    name_from_text(text).unwrap()
}

/// A wire name keeping the case of `text` (name_from_text lower-cases).
fn cased(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in text.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

#[test]
fn rfc6605_p256_example_verifies() {
    // RFC 6605 §6.1: www.example.net. A 192.0.2.1 signed by example.net.'s key 55648.
    let dnskey_b64 =
        "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==";
    let mut dnskey = vec![0x01, 0x01, 3, 13];
    dnskey.extend(BASE64.decode(dnskey_b64.as_bytes()).unwrap());
    assert_eq!(key_tag(&dnskey), 55648);
    let mut rrsig = vec![0, 1, 13, 3, 0, 0, 0x0e, 0x10];
    rrsig.extend(1_284_026_679u32.to_be_bytes());
    rrsig.extend(1_281_607_479u32.to_be_bytes());
    rrsig.extend(55648u16.to_be_bytes());
    rrsig.extend(name("example.net."));
    let sig =
        "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==";
    rrsig.extend(BASE64.decode(sig.as_bytes()).unwrap());
    let owner = name("www.example.net.");
    let a: &[u8] = &[192, 0, 2, 1];
    let now = 1_281_607_479 + 10;
    assert_eq!(
        verify_rrsig(&dnskey, &owner, A, IN, &[a], &rrsig, now),
        Ok(())
    );
    // owner case does not matter; another address, time or type does
    let upper = cased("WWW.Example.NET.");
    assert_eq!(
        verify_rrsig(&dnskey, &upper, A, IN, &[a], &rrsig, now),
        Ok(())
    );
    let b: &[u8] = &[192, 0, 2, 2];
    assert_eq!(
        verify_rrsig(&dnskey, &owner, A, IN, &[b], &rrsig, now),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        verify_rrsig(&dnskey, &owner, A, IN, &[a], &rrsig, 1_284_026_680),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        verify_rrsig(&dnskey, &owner, 28, IN, &[a], &rrsig, now),
        Err(VerifyError::TypeCovered)
    );
    // signing the same RRset with the RFC's private key verifies under the RFC's DNSKEY
    let key = key_from_bind(
        "example.net.",
        "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n",
        &format!("example.net. 3600 IN DNSKEY 257 3 13 {dnskey_b64}"),
    );
    assert_eq!(key.dnskey_rdata(), dnskey);
    let ours = sign_rrset(
        &key,
        &owner,
        A,
        IN,
        3600,
        &[a],
        1_281_607_479,
        1_284_026_679,
    )
    .unwrap();
    assert_eq!(ours.len(), rrsig.len(), "same fields, 64-octet r||s");
    assert_eq!(ours[..rrsig.len() - 64], rrsig[..rrsig.len() - 64]);
    assert_eq!(
        verify_rrsig(&dnskey, &owner, A, IN, &[a], &ours, now),
        Ok(())
    );
}

#[test]
fn rfc8080_ed25519_example_is_reproduced_byte_for_byte() {
    // RFC 8080 §6.1: example.com. MX 10 mail.example.com., key 3613. Ed25519 signatures
    // are deterministic, so ours must be the RFC's exactly.
    let key = key_from_bind(
        "example.com.",
        "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n",
        "example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
    );
    assert_eq!(key.tag(), 3613);
    let mut mx = vec![0, 10];
    mx.extend(name("mail.example.com."));
    let owner = name("example.com.");
    let rrsig = sign_rrset(
        &key,
        &owner,
        MX,
        IN,
        3600,
        &[&mx],
        1_438_207_200,
        1_440_021_600,
    )
    .unwrap();
    let sig = &rrsig[rrsig.len() - 64..];
    assert_eq!(
        BASE64.encode(sig),
        "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="
    );
    let dnskey = key.dnskey_rdata();
    assert_eq!(
        verify_rrsig(&dnskey, &owner, MX, IN, &[&mx], &rrsig, 1_438_207_200),
        Ok(())
    );
}

#[test]
fn rrsig_fields_follow_rfc4034() {
    let zone = name("Example.COM.");
    let key = generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap();
    let owner = cased("WWW.Example.COM.");
    let a: &[u8] = &[192, 0, 2, 1];
    let rrsig = sign_rrset(&key, &owner, A, IN, 300, &[a], 100, 200).unwrap();
    let mut head = vec![0, 1, 13, 3];
    head.extend(300u32.to_be_bytes());
    head.extend(200u32.to_be_bytes()); // expiration before inception on the wire
    head.extend(100u32.to_be_bytes());
    head.extend(key.tag().to_be_bytes());
    head.extend(name("example.com.")); // the signer's name in lower case
    assert_eq!(&rrsig[..head.len()], head.as_slice());
    assert_eq!(rrsig.len(), head.len() + 64);
}

#[test]
fn own_signatures_verify_in_any_order_and_case() {
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let zone = name("example.com.");
        let key = generate(&zone, alg, 0).unwrap();
        let dnskey = key.dnskey_rdata();
        let owner = name("www.example.com.");
        let (a, b, c): (&[u8], &[u8], &[u8]) =
            (&[192, 0, 2, 3], &[192, 0, 2, 1], &[198, 51, 100, 7]);
        let rrsig = sign_rrset(&key, &owner, A, IN, 60, &[a, b, c], 1000, 5000).unwrap();
        // the validator sees the records in another order, a duplicate, the owner in caps
        let caps = cased("WWW.EXAMPLE.COM.");
        assert_eq!(
            verify_rrsig(&dnskey, &caps, A, IN, &[c, a, b, a], &rrsig, 2000),
            Ok(()),
            "{alg:?}"
        );
        // one record fewer, or a changed RRSIG field, fails
        assert_eq!(
            verify_rrsig(&dnskey, &owner, A, IN, &[a, b], &rrsig, 2000),
            Err(VerifyError::BadSignature)
        );
        let mut ttl_changed = rrsig.clone();
        ttl_changed[7] ^= 1;
        assert_eq!(
            verify_rrsig(&dnskey, &owner, A, IN, &[a, b, c], &ttl_changed, 2000),
            Err(VerifyError::BadSignature)
        );
        // names inside RDATA are signed lower-cased (NS)
        let ns_upper = cased("NS1.Example.COM.");
        let ns_lower = name("ns1.example.com.");
        let rrsig = sign_rrset(&key, &zone, 2, IN, 3600, &[&ns_upper], 1000, 5000).unwrap();
        assert_eq!(
            verify_rrsig(&dnskey, &zone, 2, IN, &[&ns_lower], &rrsig, 2000),
            Ok(())
        );
        // another key of the same zone does not verify it (its tag differs, or its key)
        let other = generate(&zone, alg, 0).unwrap().dnskey_rdata();
        assert!(verify_rrsig(&other, &zone, 2, IN, &[&ns_lower], &rrsig, 2000).is_err());
    }
}

#[test]
fn wildcard_signatures_count_labels_without_the_star_and_verify_when_expanded() {
    let zone = name("example.com.");
    let key = generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap();
    let dnskey = key.dnskey_rdata();
    let wild = name("*.w.example.com.");
    let a: &[u8] = &[203, 0, 113, 5];
    let rrsig = sign_rrset(&key, &wild, A, IN, 300, &[a], 1000, 5000).unwrap();
    assert_eq!(rrsig[3], 3, "Labels leaves out the *");
    // as the validator sees an answer synthesized for two names under the wildcard
    for expanded in ["x.w.example.com.", "a.b.w.example.com."] {
        assert_eq!(
            verify_rrsig(&dnskey, &name(expanded), A, IN, &[a], &rrsig, 2000),
            Ok(()),
            "{expanded}"
        );
    }
    // not under the wildcard's parent: the reconstructed owner differs
    assert_eq!(
        verify_rrsig(
            &dnskey,
            &name("x.v.example.com."),
            A,
            IN,
            &[a],
            &rrsig,
            2000
        ),
        Err(VerifyError::BadSignature)
    );
    // fewer labels than the RRSIG claims
    assert_eq!(
        verify_rrsig(&dnskey, &name("example.com."), A, IN, &[a], &rrsig, 2000),
        Err(VerifyError::Labels)
    );
}

#[test]
fn signing_refuses_what_it_cannot_sign() {
    let zone = name("example.com.");
    let key = generate(&zone, Algorithm::Ed25519, 0).unwrap();
    let a: &[u8] = &[192, 0, 2, 1];
    assert_eq!(
        sign_rrset(&key, &name("example.net."), A, IN, 60, &[a], 0, 1),
        Err(DnssecError::OutsideZone)
    );
    assert_eq!(
        sign_rrset(&key, &zone, A, IN, 60, &[], 0, 1),
        Err(DnssecError::RrsetSize)
    );
    assert!(matches!(
        sign_rrset(&key, &zone, 5, IN, 60, &[&[3, b'a']], 0, 1),
        Err(DnssecError::BadRdata(5, _))
    ));
    assert!(matches!(
        sign_rrset(&key, &[3, b'c', b'o', b'm'], A, IN, 60, &[a], 0, 1),
        Err(DnssecError::BadName(_))
    ));
}

#[test]
fn signature_times_backdate_jitter_and_wrap() {
    let v = Validity {
        validity: Duration::from_secs(1000),
        backdate: Duration::from_secs(100),
        jitter: Duration::from_secs(10),
    };
    // (now, spread, inception, expiration)
    let rows = [
        (10_000u64, 0u64, 9_900u32, 11_000u32),
        (10_000, 3, 9_897, 10_997),
        (10_000, 10, 9_890, 10_990),
        (10_000, 11, 9_900, 11_000), // spread wraps at jitter + 1
        (50, 5, 0, 1_045),           // no inception before 1970
    ];
    for (now, spread, inception, expiration) in rows {
        let t = SignatureTimes::at(now, &v, spread);
        assert_eq!(
            (t.inception, t.expiration),
            (inception, expiration),
            "{now} {spread}"
        );
        assert!(t.covers(now));
    }
    let t = SignatureTimes::at(10_000, &v, 0);
    assert!(t.covers(9_900) && t.covers(11_000), "bounds included");
    assert!(!t.covers(9_899) && !t.covers(11_001));
    assert_eq!(t.remaining(10_000), 1_000);
    assert_eq!(t.remaining(11_500), 0);
    // past 2106 the 32-bit fields wrap and serial arithmetic still orders them
    let late = (1u64 << 32) - 50;
    let t = SignatureTimes::at(late, &v, 0);
    assert!(t.expiration < t.inception, "wrapped");
    assert!(t.covers(late) && t.covers(late + 900));
    assert!(!t.covers(late + 1_001));
    assert_eq!(t.remaining(late), 1_000);
    // the defaults: two weeks, an hour back
    let d = SignatureTimes::at(1_800_000_000, &Validity::default(), 0);
    assert_eq!(d.expiration - d.inception, 14 * 86400 + 3600);
}

#[test]
fn each_rrset_keeps_its_own_jitter() {
    let v = Validity::default();
    let now = 1_800_000_000;
    let www = name("www.example.com.");
    let t = SignatureTimes::for_rrset(now, &v, &www, A);
    // the same for the same RRset, whatever the case of its owner
    assert_eq!(
        t,
        SignatureTimes::for_rrset(now, &v, &cased("WWW.Example.com."), A)
    );
    // within the window the jitter allows
    let earliest = now - 3600 - 3600;
    assert!((earliest..=now - 3600).contains(&u64::from(t.inception)));
    assert_eq!(t.expiration - t.inception, 14 * 86400 + 3600);
    // RRsets signed in one pass spread over the jitter: 100 names, many distinct offsets
    let mut offsets: Vec<u32> = (0..100)
        .map(|i| {
            let owner = name(&format!("host{i}.example.com."));
            SignatureTimes::for_rrset(now, &v, &owner, A).inception
        })
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    assert!(offsets.len() > 90, "{} distinct of 100", offsets.len());
}

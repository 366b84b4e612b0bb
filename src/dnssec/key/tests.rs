//! Key files: the RFCs' example keys, writing and reading back, and every refusal naming
//! its file (and line) and what is wrong.

use super::*;
use crate::dnssec::apex::{ds_rdata, ds_text};
use std::os::unix::fs::PermissionsExt;

/// A key from the text of a BIND `.private` file and `.key` record (tests only).
pub(crate) fn key_from_bind(zone: &str, private: &str, public: &str) -> ZoneKey {
    let zone = canon::name_from_text(zone).unwrap();
    let path = Path::new("test.private");
    let p = parse_private(path, private).unwrap();
    let k = parse_public(path, public, &zone).unwrap();
    let alg = Algorithm::from_number(k.algorithm).unwrap();
    ZoneKey::from_parts(zone, alg, k.flags, k.key, p.key).unwrap()
}

fn zone() -> Vec<u8> {
    canon::name_from_text("example.com.").unwrap()
}

fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn rfc_example_keys_give_the_rfcs_tags_and_ds() {
    // (zone, .private, .key, DS) from RFC 6605 §6.1 and RFC 8080 §6.1
    let rows = [
        (
            "example.net.",
            "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n",
            "example.net. 3600 IN DNSKEY 257 3 13 ( GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA== )",
            "55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17",
        ),
        (
            "example.com.",
            "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n",
            "example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
            "3613 15 2 3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B",
        ),
    ];
    for (zone, private, public, ds) in rows {
        let key = key_from_bind(zone, private, public);
        assert_eq!(
            ds_text(&ds_rdata(key.zone(), &key.dnskey_rdata())),
            ds,
            "{zone}"
        );
        assert!(key.is_sep());
    }
}

/// BIND's dnssec-keygen writes an ECDSA private key as the integer it is, without
/// leading zero octets: a key whose scalar starts with a zero octet is 31 octets in its
/// file, and it is still the same key (a CI run met one).
#[test]
fn an_ecdsa_private_key_written_without_its_leading_zero_octet_is_read() {
    let zone = zone();
    let key = (0..20_000)
        .map(|_| generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap())
        .find(|k| k.private[0] == 0)
        .expect("one P-256 scalar in 256 starts with a zero octet");
    let short = &key.private[1..];
    let text = format!(
        "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: {}\n",
        data_encoding::BASE64.encode(short)
    );
    let p = parse_private(Path::new("short.private"), &text).unwrap();
    assert_eq!(p.key.len(), 31);
    let read = ZoneKey::from_parts(zone, key.algorithm, key.flags, key.public.clone(), p.key)
        .expect("the short private key is the same key");
    assert_eq!(read.private, key.private);
    assert_eq!(read.tag, key.tag);
}

#[test]
fn a_private_key_that_is_not_the_dnskeys_is_refused() {
    let zone = zone();
    let path = Path::new("test.private");
    let p = parse_private(
        path,
        "Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n",
    )
    .unwrap();
    let other = generate(&zone, Algorithm::EcdsaP256Sha256, 0).unwrap();
    let err = ZoneKey::from_parts(
        zone,
        Algorithm::EcdsaP256Sha256,
        257,
        other.public.clone(),
        p.key,
    )
    .unwrap_err();
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn generated_keys_are_written_and_read_back() {
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let dir = private_dir();
        let keys_dir = dir.path().join("keys");
        let now = 1_800_000_000;
        let key = generate(&zone(), alg, now).unwrap();
        assert_eq!(key.flags(), 257);
        let (private, public) = write_key(&keys_dir, &key).unwrap();
        assert_eq!(mode(&keys_dir), 0o700, "created private");
        assert_eq!(mode(&private), 0o600);
        assert_eq!(mode(&public), 0o644);
        let name = private.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(
            name,
            format!("Kexample.com.+{:03}+{:05}.private", alg.number(), key.tag())
        );
        let text = fs::read_to_string(&public).unwrap();
        assert!(
            text.ends_with(&format!("{}\n", key.dnskey_text())),
            "{text}"
        );
        assert!(
            fs::read_to_string(&private)
                .unwrap()
                .contains("Created: 20270115080000\n")
        );
        // no temporary file is left behind
        assert_eq!(fs::read_dir(&keys_dir).unwrap().count(), 2);

        let loaded = load_zone_keys(&keys_dir, &zone()).unwrap();
        assert_eq!(loaded.len(), 1);
        let back = &loaded[0];
        assert_eq!(back.dnskey_rdata(), key.dnskey_rdata());
        assert_eq!(back.timing, KeyTiming::all_at(now));
        assert_eq!(back.path.as_deref(), Some(private.as_path()));
        // the loaded key signs what the generated key's DNSKEY verifies
        let sig = back.sign(b"data");
        alg.verify(&key.dnskey_rdata()[4..], b"data", &sig).unwrap();
        // never overwritten
        let err = write_key(&keys_dir, &key).unwrap_err();
        assert!(
            err.to_string().contains("already exists; not overwritten"),
            "{err}"
        );
        assert!(
            format!("{back:?}").contains("tag"),
            "Debug prints no private key"
        );
        assert!(!format!("{back:?}").contains(&BASE64.encode(&key.private)));
    }
}

#[test]
fn unsafe_directories_and_files_are_refused() {
    let dir = private_dir();
    let key = generate(&zone(), Algorithm::EcdsaP256Sha256, 0).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o770)).unwrap();
    let err = write_key(dir.path(), &key).unwrap_err();
    assert_eq!(err.file.as_deref(), Some(dir.path()));
    assert!(
        err.message
            .contains("writable by group or others (mode 0770)"),
        "{err}"
    );
    assert!(load_zone_keys(dir.path(), &zone()).is_err());
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
    let (private, _) = write_key(dir.path(), &key).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o644)).unwrap();
    let errs = load_zone_keys(dir.path(), &zone()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].file.as_deref(), Some(private.as_path()));
    assert!(
        errs[0].message.contains("open to others (mode 0644)"),
        "{}",
        errs[0]
    );
    fs::set_permissions(&private, fs::Permissions::from_mode(0o640)).unwrap();
    assert!(
        load_zone_keys(dir.path(), &zone()).is_ok(),
        "group-readable is allowed"
    );
}

#[test]
fn broken_key_files_are_reported_with_file_and_line() {
    let dir = private_dir();
    let key = generate(&zone(), Algorithm::EcdsaP256Sha256, 0).unwrap();
    let (private, public) = write_key(dir.path(), &key).unwrap();
    let good_private = fs::read_to_string(&private).unwrap();
    let good_public = fs::read_to_string(&public).unwrap();
    let file = |p: &Path| p.display().to_string();
    // (private text, public text, expected error text)
    let rows = [
        (
            good_private.replace("PrivateKey: ", "PrivateKey: !"),
            good_public.clone(),
            format!("{}:3: PrivateKey is not base64", file(&private)),
        ),
        (
            good_private.replace(
                "Algorithm: 13 (ECDSAP256SHA256)",
                "Algorithm: 8 (RSASHA256)",
            ),
            good_public.clone(),
            format!(
                "{}:2: algorithm 8 (RSASHA256) is not supported; Meridian signs with 13 \
                 (ECDSAP256SHA256) or 15 (ED25519)",
                file(&private)
            ),
        ),
        (
            good_private.replace("Created: ", "Created: 2027"),
            good_public.clone(),
            format!("{}:4: Created: \"2027", file(&private)),
        ),
        (
            good_private.replace("Private-key-format: v1.3\n", ""),
            good_public.clone(),
            format!("{}: no Private-key-format line", file(&private)),
        ),
        (
            good_private.clone(),
            good_public.replace("example.com. IN", "example.net. IN"),
            format!("{}:", file(&public)),
        ),
        (
            good_private.clone(),
            good_public.replace(" 257 3 13 ", " 256 3 13 "),
            format!("{}: the DNSKEY's key tag is", file(&public)),
        ),
        (
            good_private.clone(),
            good_public.replace(" 257 3 13 ", " 257 3 15 "),
            format!("{}: the DNSKEY's algorithm is 15", file(&public)),
        ),
    ];
    for (private_text, public_text, want) in rows {
        fs::write(&private, &private_text).unwrap();
        fs::write(&public, &public_text).unwrap();
        let errs = load_zone_keys(dir.path(), &zone()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].to_string().starts_with(&want),
            "{} (wanted {want})",
            errs[0]
        );
    }
    fs::remove_file(&public).unwrap();
    fs::write(&private, &good_private).unwrap();
    let errs = load_zone_keys(dir.path(), &zone()).unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with(&format!("{}: cannot read", file(&public)))
    );
    // no key at all
    let empty = private_dir();
    let errs = load_zone_keys(empty.path(), &zone()).unwrap_err();
    assert!(
        errs[0].message.contains("no key for example.com."),
        "{}",
        errs[0]
    );
}

#[test]
fn bind_times_and_names() {
    // (YYYYMMDDHHMMSS, seconds since 1970)
    let rows = [
        ("19700101000000", 0),
        ("20000229120000", 951_825_600),
        ("20270115080000", 1_800_000_000),
        ("21060207062815", 4_294_967_295),
    ];
    for (text, t) in rows {
        assert_eq!(parse_time(text), Some(t), "{text}");
        assert_eq!(format_time(t), text);
    }
    for bad in [
        "2027011508000",
        "20271315080000",
        "2027011508000x",
        "19691231235959",
    ] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
    assert_eq!(
        Algorithm::from_name("ecdsap256sha256"),
        Some(Algorithm::EcdsaP256Sha256)
    );
    assert_eq!(Algorithm::from_name("ED25519"), Some(Algorithm::Ed25519));
    assert_eq!(Algorithm::from_name("15"), Some(Algorithm::Ed25519));
    assert_eq!(Algorithm::from_name("rsasha256"), None);
    assert_eq!(
        parse_file_name("Kexample.com.+013+01234.private"),
        Some((13, 1234))
    );
    assert_eq!(parse_file_name("K.+015+65535.private"), Some((15, 65535)));
    assert_eq!(parse_file_name("example.com.+013+1.private"), None);
}

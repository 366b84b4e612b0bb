//! DNSSEC keys and signatures against BIND's and ldns's tools (issue 13 points 1-3):
//! `meridian dnssec keygen` and `ds` as an operator runs them; keys made by BIND's
//! `dnssec-keygen` read by Meridian; and a small zone signed by Meridian's signing core,
//! written as a master file, accepted by BIND's `dnssec-verify` and ldns's
//! `ldns-verify-zone`. Each tool missing makes its part say SKIPPED (.ci/run installs
//! bind9-utils and ldnsutils).

use crate::util::Run;
use meridian::dnssec::{self, Algorithm, ZoneKey, apex, canon, sign};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Long enough for any of these tools on a loaded machine; only a hang would reach it.
const LIMIT: Duration = Duration::from_secs(120);

fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("-h")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: {tool} is not installed (.ci/run installs bind9-utils and ldnsutils)");
    }
    found
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args);
    Run::bounded(cmd, dir, LIMIT)
}

fn meridian(dir: &Path, args: &[&str]) -> Run {
    run(dir, env!("CARGO_BIN_EXE_meridian"), args)
}

fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("meridian-dnssec-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `IN DS` lines of some output, e.g. `ds`'s or `dnssec-dsfromkey`'s.
fn ds_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains(" IN DS "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines
}

#[test]
fn issue13_keygen_writes_safe_key_files_and_ds_prints_the_registrars_record() {
    let dir = private_dir();
    let config = dir.path().join("meridian.toml");
    std::fs::write(&config, "[dnssec]\nkey_dir = \"zone-keys\"\n").unwrap();
    let config_arg = config.to_str().unwrap();

    let made = meridian(
        dir.path(),
        &["dnssec", "keygen", "example.com", "--config", config_arg],
    );
    assert!(made.status.success(), "{}", made.stderr);
    let files: Vec<PathBuf> = made.stdout.lines().map(PathBuf::from).collect();
    assert_eq!(files.len(), 2, "{}", made.stdout);
    let key_dir = dir.path().join("zone-keys");
    assert_eq!(mode(&key_dir), 0o700);
    let (public, private) = (&files[0], &files[1]);
    assert!(public.starts_with(&key_dir) && private.starts_with(&key_dir));
    let name = public.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("Kexample.com.+013+") && name.ends_with(".key"),
        "{name}"
    );
    assert_eq!(mode(private), 0o600);
    assert_eq!(mode(public), 0o644);
    let dnskey_line = std::fs::read_to_string(public).unwrap();
    assert!(
        dnskey_line.contains("example.com. IN DNSKEY 257 3 13 "),
        "{dnskey_line}"
    );

    let ed = meridian(
        dir.path(),
        &[
            "dnssec",
            "keygen",
            "example.com.",
            "--algorithm",
            "ed25519",
            "--config",
            config_arg,
        ],
    );
    assert!(ed.status.success(), "{}", ed.stderr);
    assert!(ed.stdout.contains("Kexample.com.+015+"), "{}", ed.stdout);

    let ds = meridian(
        dir.path(),
        &["dnssec", "ds", "example.com", "--config", config_arg],
    );
    assert!(ds.status.success(), "{}", ds.stderr);
    let ours = ds_lines(&ds.stdout);
    assert_eq!(ours.len(), 2, "{}", ds.stdout);
    assert_eq!(
        ds.stdout.matches(" IN DNSKEY 257 3 ").count(),
        2,
        "{}",
        ds.stdout
    );
    for line in &ours {
        // example.com. IN DS TAG ALG 2 <64 hex digits>
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[..3], ["example.com.", "IN", "DS"]);
        assert!(
            ["13", "15"].contains(&f[4]) && f[5] == "2" && f[6].len() == 64,
            "{line}"
        );
    }
    // BIND computes the same DS from our .key files
    if have("dnssec-dsfromkey") {
        let mut bind = Vec::new();
        for entry in std::fs::read_dir(&key_dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "key") {
                let out = run(
                    dir.path(),
                    "dnssec-dsfromkey",
                    &["-2", path.to_str().unwrap()],
                );
                assert!(out.status.success(), "{}", out.stderr);
                bind.extend(ds_lines(&out.stdout));
            }
        }
        bind.sort();
        assert_eq!(ours, bind);
    }

    // BIND's dnssec-signzone signs with Meridian's keys, and the result verifies
    if have("dnssec-signzone") && have("dnssec-verify") {
        let zone = dir.path().join("example.com.zone");
        std::fs::write(
            &zone,
            "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300\n\
             example.com. 300 IN NS ns1.example.com.\n\
             ns1.example.com. 300 IN A 192.0.2.53\n",
        )
        .unwrap();
        let signed = dir.path().join("example.com.signed");
        let (kd, z, out) = (
            key_dir.to_str().unwrap(),
            zone.to_str().unwrap(),
            signed.to_str().unwrap(),
        );
        let sign = run(
            dir.path(),
            "dnssec-signzone",
            &["-z", "-S", "-K", kd, "-o", "example.com", "-f", out, z],
        );
        assert!(sign.status.success(), "{}\n{}", sign.stdout, sign.stderr);
        let verify = run(
            dir.path(),
            "dnssec-verify",
            &["-z", "-o", "example.com", out],
        );
        assert!(
            verify.status.success(),
            "{}\n{}",
            verify.stdout,
            verify.stderr
        );
        let text = std::fs::read_to_string(&signed).unwrap();
        assert!(
            text.contains("RRSIG\tSOA 13 2 ") || text.contains("RRSIG SOA 13 2 "),
            "{text}"
        );
    }

    // BIND's dnssec-settime edits Meridian's files, and Meridian reads what it wrote:
    // the Ed25519 key pre-published (signing in 3 days), as for a rollover
    if have("dnssec-settime") {
        let stem = ed.stdout.lines().next().unwrap().trim_end_matches(".key");
        let stem = Path::new(stem).file_name().unwrap().to_str().unwrap();
        let kd = key_dir.to_str().unwrap();
        let out = run(dir.path(), "dnssec-settime", &["-A", "+3d", "-K", kd, stem]);
        assert!(out.status.success(), "{}", out.stderr);
        let ds = meridian(
            dir.path(),
            &["dnssec", "ds", "example.com", "--config", config_arg],
        );
        assert!(ds.status.success(), "{}", ds.stderr);
        let tag: u16 = stem.rsplit('+').next().unwrap().parse().unwrap();
        assert!(
            ds.stdout.contains(&format!(
                "; key {tag} (ED25519, flags 257): published, not signing;"
            )),
            "{}",
            ds.stdout
        );
        assert_eq!(mode(&key_dir.join(format!("{stem}.private"))), 0o600);
    }

    // refusals name the file and what is wrong
    let none = meridian(
        dir.path(),
        &["dnssec", "ds", "example.org", "--config", config_arg],
    );
    assert!(!none.status.success());
    assert!(
        none.stderr.contains("zone-keys: no key for example.org."),
        "{}",
        none.stderr
    );
    let bad = meridian(
        dir.path(),
        &[
            "dnssec",
            "keygen",
            "example.com",
            "--algorithm",
            "rsasha256",
            "--config",
            config_arg,
        ],
    );
    assert!(!bad.status.success());
    assert!(
        bad.stderr
            .contains("expected ecdsap256sha256 (13) or ed25519 (15)"),
        "{}",
        bad.stderr
    );
    std::fs::set_permissions(&key_dir, std::fs::Permissions::from_mode(0o775)).unwrap();
    let open = meridian(
        dir.path(),
        &["dnssec", "keygen", "example.com", "--config", config_arg],
    );
    assert!(!open.status.success());
    assert!(
        open.stderr
            .contains("zone-keys: the key directory is writable by group or others (mode 0775)"),
        "{}",
        open.stderr
    );
    std::fs::set_permissions(&key_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let leaky = meridian(
        dir.path(),
        &[
            "dnssec",
            "ds",
            "example.com",
            "--dir",
            key_dir.to_str().unwrap(),
        ],
    );
    assert!(!leaky.status.success());
    assert!(
        leaky.stderr.contains(&format!(
            "{}: the private key is open to others (mode 0644); `chmod 600` it",
            private.display()
        )),
        "{}",
        leaky.stderr
    );
}

// ---- a small zone, signed by Meridian's core and written out as a master file ----

const IN: u16 = 1;
const SOA_MINIMUM: u32 = 300;

/// One record as the signer gets it: owner (wire, any case), type, TTL, RDATA (wire).
struct Rr {
    owner: Vec<u8>,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

/// A wire name keeping the case written (the signer must lower-case it itself).
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

fn rr(owner: &str, rtype: u16, ttl: u32, rdata: Vec<u8>) -> Rr {
    Rr {
        owner: wire(owner),
        rtype,
        ttl,
        rdata,
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The zone's records: mixed-case owners and names in RDATA, an RRset given out of
/// order, a wildcard, a CNAME, SRV and TXT, two empty non-terminals.
fn test_zone() -> Vec<Rr> {
    let soa_fixed: Vec<u8> = [2026120101u32, 3600, 600, 86400, SOA_MINIMUM]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    vec![
        rr(
            "example.com.",
            6,
            3600,
            cat(&[
                &wire("NS1.Example.com."),
                &wire("hostmaster.example.com."),
                &soa_fixed,
            ]),
        ),
        rr("example.com.", 2, 3600, wire("NS1.Example.COM.")),
        rr("example.com.", 2, 3600, wire("ns2.example.net.")),
        rr(
            "example.com.",
            15,
            3600,
            cat(&[&[0, 10], &wire("Mail.example.com.")]),
        ),
        rr("example.com.", 16, 3600, b"\x0bv=spf1 -all".to_vec()),
        rr("ns1.example.com.", 1, 3600, vec![192, 0, 2, 53]),
        rr("mail.example.com.", 1, 3600, vec![192, 0, 2, 25]),
        rr("WWW.Example.com.", 1, 300, vec![198, 51, 100, 1]),
        rr("www.example.com.", 1, 300, vec![192, 0, 2, 10]),
        rr("www.EXAMPLE.com.", 1, 300, vec![192, 0, 2, 9]),
        rr(
            "www.example.com.",
            28,
            300,
            vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        ),
        rr("alias.example.com.", 5, 300, wire("www.Example.com.")),
        rr("*.wild.example.com.", 1, 60, vec![203, 0, 113, 7]),
        rr(
            "_sip._udp.example.com.",
            33,
            300,
            cat(&[&[0, 0, 0, 5, 0x13, 0xc4], &wire("Mail.example.com.")]),
        ),
    ]
}

fn type_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        46 => "RRSIG".into(),
        47 => "NSEC".into(),
        48 => "DNSKEY".into(),
        59 => "CDS".into(),
        60 => "CDNSKEY".into(),
        _ => format!("TYPE{t}"),
    }
}

/// One record in RFC 3597 generic form, so the validator reads exactly our octets.
fn generic_line(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> String {
    format!(
        "{} {ttl} IN {} \\# {} {}",
        canon::name_to_text(owner),
        type_name(rtype),
        rdata.len(),
        data_encoding::HEXUPPER.encode(rdata)
    )
}

/// The zone with the keys' DNSKEY, CDS and CDNSKEY at the apex, a minimal NSEC chain
/// (made here; Meridian's own denial is later work), every authoritative RRset signed
/// by every key, as master-file text. Checks each RRSIG with `verify_rrsig` on the way.
fn signed_zone(keys: &[ZoneKey], now: u64) -> String {
    let origin = wire("example.com.");
    let mut records = test_zone();
    let apex_sets = apex::apex_records(keys, now);
    for (rtype, set) in [
        (48, &apex_sets.dnskey),
        (59, &apex_sets.cds),
        (60, &apex_sets.cdnskey),
    ] {
        for rdata in set {
            records.push(Rr {
                owner: origin.clone(),
                rtype,
                ttl: 3600,
                rdata: rdata.clone(),
            });
        }
    }
    // RRsets by (lower-case owner, type); the first spelling of an owner is kept.
    // (owner as first written, TTL, RDATAs)
    type Set = (Vec<u8>, u32, Vec<Vec<u8>>);
    let mut sets: BTreeMap<(Vec<u8>, u16), Set> = BTreeMap::new();
    for r in records {
        let key = (canon::canonical_name(&r.owner).unwrap(), r.rtype);
        let entry = sets
            .entry(key)
            .or_insert_with(|| (r.owner.clone(), r.ttl, Vec::new()));
        entry.2.push(r.rdata);
    }
    // the NSEC chain, in canonical order, wrapping to the apex
    let mut owners: Vec<Vec<u8>> = sets.keys().map(|(o, _)| o.clone()).collect();
    owners.dedup();
    owners.sort_by(|a, b| canon::canonical_name_cmp(a, b).unwrap());
    for (i, owner) in owners.iter().enumerate() {
        let next = &owners[(i + 1) % owners.len()];
        let mut types: Vec<u16> = sets
            .keys()
            .filter(|(o, _)| o == owner)
            .map(|(_, t)| *t)
            .collect();
        types.extend([46, 47]);
        let rdata = cat(&[next, &canon::type_bitmaps(&types)]);
        sets.insert(
            (owner.clone(), 47),
            (owner.clone(), SOA_MINIMUM, vec![rdata]),
        );
    }
    let validity = sign::Validity::default();
    let mut text = String::new();
    for ((_, rtype), (owner, ttl, rdatas)) in &sets {
        for rdata in rdatas {
            text.push_str(&generic_line(owner, *rtype, *ttl, rdata));
            text.push('\n');
        }
        let refs: Vec<&[u8]> = rdatas.iter().map(Vec::as_slice).collect();
        for key in apex::signing_keys(keys, now) {
            let times = sign::SignatureTimes::for_rrset(now, &validity, owner, *rtype);
            let rrsig = dnssec::sign_rrset(
                key,
                owner,
                *rtype,
                IN,
                *ttl,
                &refs,
                times.inception,
                times.expiration,
            )
            .unwrap();
            dnssec::verify_rrsig(&key.dnskey_rdata(), owner, *rtype, IN, &refs, &rrsig, now)
                .unwrap();
            text.push_str(&generic_line(owner, 46, *ttl, &rrsig));
            text.push('\n');
        }
    }
    text
}

/// Runs both validators on the zone file; `None` for each tool that is missing.
/// BIND's `-z`: one combined key signs everything, so the KSK flag is not a role.
fn validate(dir: &Path, zone_file: &Path) -> Vec<(&'static str, Run)> {
    let file = zone_file.to_str().unwrap();
    let mut results = Vec::new();
    if have("dnssec-verify") {
        results.push((
            "dnssec-verify",
            run(dir, "dnssec-verify", &["-z", "-o", "example.com", file]),
        ));
    }
    if have("ldns-verify-zone") {
        results.push(("ldns-verify-zone", run(dir, "ldns-verify-zone", &[file])));
    }
    results
}

/// Checks that both tools accept the zone; with `tamper`, also that each refuses it once
/// one signature octet is changed (only for a zone with one signature per RRset: a
/// validator rightly accepts an RRset that has another good signature).
fn assert_valid(dir: &Path, text: &str, what: &str, tamper: bool) {
    let zone_file = dir.join(format!("{what}.zone"));
    std::fs::write(&zone_file, text).unwrap();
    for (tool, out) in validate(dir, &zone_file) {
        assert!(
            out.status.success(),
            "{tool} refused {what}:\n{}\n{}\n--- zone ---\n{text}",
            out.stdout,
            out.stderr
        );
        eprintln!("{tool} accepts {what}");
    }
    if !tamper {
        return;
    }
    // the checks can fail: one changed signature octet is refused by each tool
    let mut broken: Vec<String> = text.lines().map(str::to_string).collect();
    let at = broken
        .iter()
        .position(|l| l.contains(" IN RRSIG "))
        .unwrap();
    let line = &mut broken[at];
    let last = line.pop().unwrap();
    line.push(if last == '0' { '1' } else { '0' });
    let zone_file = dir.join(format!("{what}-broken.zone"));
    std::fs::write(&zone_file, broken.join("\n") + "\n").unwrap();
    for (tool, out) in validate(dir, &zone_file) {
        assert!(
            !out.status.success(),
            "{tool} accepted a changed signature in {what}"
        );
    }
}

#[test]
fn issue13_zones_signed_by_meridian_validate_in_bind_and_ldns() {
    let now = now();
    let dir = private_dir();
    let origin = canon::name_from_text("example.com.").unwrap();
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = dnssec::generate(&origin, alg, now - 60).unwrap();
        let text = signed_zone(&[key], now);
        assert_valid(dir.path(), &text, alg.mnemonic(), true);
    }
    // both at once, as during an algorithm rollover
    let keys = [
        dnssec::generate(&origin, Algorithm::EcdsaP256Sha256, now - 60).unwrap(),
        dnssec::generate(&origin, Algorithm::Ed25519, now - 60).unwrap(),
    ];
    assert_valid(
        dir.path(),
        &signed_zone(&keys, now),
        "two-algorithms",
        false,
    );
}

#[test]
fn issue13_keys_made_by_bind_dnssec_keygen_are_read_and_sign() {
    if !have("dnssec-keygen") {
        return;
    }
    let dir = private_dir();
    let key_dir = dir.path().join("keys");
    std::fs::create_dir(&key_dir).unwrap();
    std::fs::set_permissions(&key_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let kd = key_dir.to_str().unwrap();
    for alg in ["ECDSAP256SHA256", "ED25519"] {
        let out = run(
            dir.path(),
            "dnssec-keygen",
            &["-q", "-K", kd, "-a", alg, "-f", "KSK", "example.com"],
        );
        assert!(out.status.success(), "{}", out.stderr);
    }
    // BIND times its keys from when it made them; sign from a second after that.
    let now = now() + 1;
    let origin = canon::name_from_text("example.com.").unwrap();
    let keys = dnssec::load_zone_keys(&key_dir, &origin).unwrap();
    assert_eq!(keys.len(), 2);
    let mut algs: Vec<u8> = keys.iter().map(|k| k.algorithm().number()).collect();
    algs.sort();
    assert_eq!(algs, [13, 15]);
    for key in &keys {
        assert!(key.is_sep() && key.timing.is_active(now), "{key:?}");
    }
    // our DS is BIND's
    let ds = meridian(dir.path(), &["dnssec", "ds", "example.com", "--dir", kd]);
    assert!(ds.status.success(), "{}", ds.stderr);
    if have("dnssec-dsfromkey") {
        let mut bind_lines = Vec::new();
        for key in &keys {
            let file = key.path.as_ref().unwrap().with_extension("key");
            let out = run(
                dir.path(),
                "dnssec-dsfromkey",
                &["-2", file.to_str().unwrap()],
            );
            assert!(out.status.success(), "{}", out.stderr);
            bind_lines.extend(ds_lines(&out.stdout));
        }
        bind_lines.sort();
        assert_eq!(ds_lines(&ds.stdout), bind_lines);
    }
    // and a zone signed with BIND's keys by Meridian validates
    assert_valid(dir.path(), &signed_zone(&keys, now), "bind-keys", false);
}

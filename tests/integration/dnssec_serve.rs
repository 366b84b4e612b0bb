//! `serve` signs online (issue 13 points 2-5): the real binary with keys made by
//! `meridian dnssec keygen`, queried with DO over UDP and TCP; every RRSIG in every answer
//! is checked against the DNSKEY RRset the server publishes (itself checked against the
//! key file), with `meridian::dnssec::sign::verify_rrsig`.
//!
//! The zone is the standard `example.com` plus a secure delegation (`secure`, with a DS),
//! a load-balanced service `app` (failover eu-west → us-east) and `toapp CNAME app`.

use crate::util::{EXAMPLE_COM, Edns, Fixture, Query, Response, Server, fleet_fixture, rcode};
use hickory_proto::rr::RecordType;
use meridian::dnssec::sign::{SignatureTimes, verify_rrsig};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const RRSIG: u16 = 46;
const NSEC: u16 = 47;
const DNSKEY: u16 = 48;
const NXNAME: u16 = 128;

const SERVICES: &str = "[services.app]\nttl = 20\npolicy = \"failover\"\n\
    order = [\"eu-west\", \"us-east\"]\n\
    check = { kind = \"tcp\", port = 9, interval = \"1s\", timeout = \"500ms\", rise = 2, fall = 2 }\n\
    endpoints = [\n  { region = \"eu-west\", address = \"127.0.9.11\" },\n  \
    { region = \"us-east\", address = \"127.0.9.12\" },\n]\n";

const EXTRA: &str = "secure IN NS ns.secure.example.com.\n\
    secure IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n\
    ns.secure IN A 192.0.2.70\n\
    toapp IN CNAME app\n\
    big IN TXT \"one of five strings long enough that the signed set needs more than 512\"\n\
    big IN TXT \"two of five strings long enough that the signed set needs more than 512\"\n\
    big IN TXT \"three of five strings long enough that the signed set needs more than 51\"\n\
    big IN TXT \"four of five strings long enough that the signed set needs more than 512\"\n\
    big IN TXT \"five of five strings long enough that the signed set needs more than 512\"\n";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn fixture(dnssec: &str) -> Fixture {
    let f = fleet_fixture(false, SERVICES);
    let config = f
        .config()
        .replace("[rrl]", &format!("[dnssec]\n{dnssec}\n[rrl]"));
    f.config_text(&config)
        .zone("example.com", &format!("{EXAMPLE_COM}\n{EXTRA}"))
}

/// Starts the fixture's server after `meridian dnssec keygen example.com` made its key;
/// returns the server and the key's DNSKEY RDATA as the `.key` file states it.
fn start_signed(f: &Fixture) -> (Server, Vec<u8>) {
    let dir = f.write();
    let config = dir.path().join("meridian.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["dnssec", "keygen", "example.com", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_file = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with(".key"))
        .unwrap()
        .to_string();
    let text = std::fs::read_to_string(key_file).unwrap();
    let line = text.lines().find(|l| l.contains("DNSKEY")).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let at = fields.iter().position(|f| *f == "DNSKEY").unwrap();
    let flags: u16 = fields[at + 1].parse().unwrap();
    let mut rdata = flags.to_be_bytes().to_vec();
    rdata.push(fields[at + 2].parse().unwrap());
    rdata.push(fields[at + 3].parse().unwrap());
    let b64: String = fields[at + 4..].concat();
    rdata.extend(data_encoding::BASE64.decode(b64.as_bytes()).unwrap());
    (Server::start_in(dir, None), rdata)
}

/// One record, names uncompressed and lower-cased (owner and RDATA names of the types
/// that carry them here).
#[derive(Debug, Clone)]
struct Rr {
    owner: Vec<u8>,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

fn name_at(msg: &[u8], mut pos: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut end = None;
    loop {
        let len = msg[pos];
        if len & 0xC0 == 0xC0 {
            end.get_or_insert(pos + 2);
            pos = usize::from(u16::from_be_bytes([len, msg[pos + 1]]) & 0x3FFF);
            continue;
        }
        out.extend_from_slice(&msg[pos..pos + 1 + usize::from(len)]);
        if len == 0 {
            return (out.to_ascii_lowercase(), end.unwrap_or(pos + 1));
        }
        pos += 1 + usize::from(len);
    }
}

/// The answer, authority and additional sections (OPT left out).
fn sections(msg: &[u8]) -> [Vec<Rr>; 3] {
    let counts = [6, 8, 10].map(|i| u16::from_be_bytes([msg[i], msg[i + 1]]));
    let (_, mut pos) = name_at(msg, 12);
    pos += 4;
    let mut out: [Vec<Rr>; 3] = Default::default();
    for (i, &n) in counts.iter().enumerate() {
        for _ in 0..n {
            let (owner, at) = name_at(msg, pos);
            let rtype = u16::from_be_bytes([msg[at], msg[at + 1]]);
            let ttl = u32::from_be_bytes(msg[at + 4..at + 8].try_into().unwrap());
            let len = usize::from(u16::from_be_bytes([msg[at + 8], msg[at + 9]]));
            let start = at + 10;
            let rdata = match rtype {
                2 | 5 => name_at(msg, start).0,
                15 => {
                    let mut r = msg[start..start + 2].to_vec();
                    r.extend(name_at(msg, start + 2).0);
                    r
                }
                6 => {
                    let (m, next) = name_at(msg, start);
                    let (r, next) = name_at(msg, next);
                    [m, r, msg[next..next + 20].to_vec()].concat()
                }
                _ => msg[start..start + len].to_vec(),
            };
            pos = start + len;
            if rtype != 41 {
                out[i].push(Rr {
                    owner,
                    rtype,
                    ttl,
                    rdata,
                });
            }
        }
    }
    out
}

/// Checks every RRSIG of the answer and authority sections against `dnskey` at `at`
/// (seconds since 1970), and that every RRset there but a referral's NS has one with a
/// TTL no larger than the RRset's. Returns the (owner, type) pairs signed, per section.
fn verify(r: &Response, dnskey: &[u8], at: u64) -> [Vec<(Vec<u8>, u16)>; 2] {
    let s = sections(&r.bytes);
    let mut signed: [Vec<(Vec<u8>, u16)>; 2] = Default::default();
    for (i, section) in s[..2].iter().enumerate() {
        for sig in section.iter().filter(|x| x.rtype == RRSIG) {
            let covered = u16::from_be_bytes([sig.rdata[0], sig.rdata[1]]);
            let set: Vec<&Rr> = section
                .iter()
                .filter(|x| x.rtype == covered && x.owner == sig.owner)
                .collect();
            assert!(!set.is_empty(), "an RRSIG without its RRset\n{r}");
            let rdatas: Vec<&[u8]> = set.iter().map(|x| x.rdata.as_slice()).collect();
            let result = verify_rrsig(dnskey, &sig.owner, covered, 1, &rdatas, &sig.rdata, at);
            assert_eq!(result, Ok(()), "type {covered} RRSIG does not verify\n{r}");
            assert!(sig.ttl <= set[0].ttl, "RRSIG TTL above the RRset's\n{r}");
            signed[i].push((sig.owner.clone(), covered));
        }
        for x in section.iter().filter(|x| x.rtype != RRSIG) {
            let referral_ns = x.rtype == 2 && !r.aa;
            assert!(
                referral_ns || signed[i].contains(&(x.owner.clone(), x.rtype)),
                "type {} at {:?} unsigned\n{r}",
                x.rtype,
                String::from_utf8_lossy(&x.owner)
            );
        }
    }
    signed
}

fn do_query(name: &str, qtype: RecordType) -> Query {
    Query::new(name, qtype).edns(Edns::new(1232).dnssec_ok(true))
}

/// The NSEC of the authority section: owner, next name, types.
fn nsec_of(r: &Response) -> Option<(Vec<u8>, Vec<u16>)> {
    let s = sections(&r.bytes);
    let n = s[1].iter().find(|x| x.rtype == NSEC)?;
    let (next, end) = name_at(&n.rdata, 0);
    let _ = next;
    let mut types = Vec::new();
    let mut pos = end;
    while pos + 2 <= n.rdata.len() {
        let window = u16::from(n.rdata[pos]);
        let len = usize::from(n.rdata[pos + 1]);
        for (i, &b) in n.rdata[pos + 2..pos + 2 + len].iter().enumerate() {
            for bit in 0..8 {
                if b & (0x80 >> bit) != 0 {
                    types.push(window * 256 + (i * 8 + bit) as u16);
                }
            }
        }
        pos += 2 + len;
    }
    Some((n.owner.clone(), types))
}

/// The answer section without its RRSIGs, as text.
fn addresses(r: &Response) -> Vec<String> {
    r.answer_texts()
        .into_iter()
        .filter(|t| !t.contains(" RRSIG "))
        .collect()
}

fn wire(name: &str) -> Vec<u8> {
    crate::util::encode_name(name)
}

#[test]
fn issue13_signed_answers_validate_for_every_kind_of_answer() {
    let (server, key) = start_signed(&fixture(""));
    // The DNSKEY RRset: the key file's key, self-signed.
    let r = server.query(&do_query("example.com.", RecordType::DNSKEY));
    let s = sections(&r.bytes);
    let keys: Vec<&Rr> = s[0].iter().filter(|x| x.rtype == DNSKEY).collect();
    assert_eq!(keys.len(), 1, "{r}");
    assert_eq!(keys[0].rdata, key, "the DNSKEY is the key file's\n{r}");
    verify(&r, &key, now());

    // (name, type, rcode, answer types, NSEC owner and the types it must and must not list)
    type Row<'a> = (
        &'a str,
        RecordType,
        u16,
        &'a [u16],
        Option<(&'a str, &'a [u16], &'a [u16])>,
    );
    let rows: &[Row] = &[
        (
            "www.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[1],
            None,
        ),
        (
            "multi.example.com.",
            RecordType::MX,
            rcode::NOERROR,
            &[15],
            None,
        ),
        (
            "alias.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[5, 1],
            None,
        ),
        // Compact denial: NOERROR, an NSEC at the name with NXNAME.
        (
            "nope.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[],
            Some(("nope.example.com.", &[NXNAME, NSEC, RRSIG], &[1])),
        ),
        // NODATA: the name's types, not the one asked.
        (
            "www.example.com.",
            RecordType::MX,
            rcode::NOERROR,
            &[],
            Some(("www.example.com.", &[1, 28, NSEC, RRSIG], &[15, NXNAME])),
        ),
        // An empty non-terminal: no type but the NSEC's own.
        (
            "b.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[],
            Some(("b.example.com.", &[NSEC, RRSIG], &[1, NXNAME])),
        ),
        // Wildcard NODATA: the wildcard's types at the query name.
        (
            "x.wild.example.com.",
            RecordType::AAAA,
            rcode::NOERROR,
            &[],
            Some(("x.wild.example.com.", &[1, NSEC, RRSIG], &[28, NXNAME])),
        ),
        // DS absent at an insecure delegation: NS and no DS at the cut.
        (
            "sub.example.com.",
            RecordType::DS,
            rcode::NOERROR,
            &[],
            Some(("sub.example.com.", &[2, NSEC, RRSIG], &[43])),
        ),
        (
            "secure.example.com.",
            RecordType::DS,
            rcode::NOERROR,
            &[43],
            None,
        ),
        // Load-balanced, straight and through a CNAME.
        (
            "app.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[1],
            None,
        ),
        (
            "toapp.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[5, 1],
            None,
        ),
        // Load-balanced NODATA (no IPv6 endpoint): the NSEC lists A, not AAAA.
        (
            "app.example.com.",
            RecordType::AAAA,
            rcode::NOERROR,
            &[],
            Some(("app.example.com.", &[1, NSEC, RRSIG], &[28])),
        ),
    ];
    for &(name, qtype, want_rcode, answer, nsec) in rows {
        let q = do_query(name, qtype);
        for (transport, r) in [("udp", server.query(&q)), ("tcp", server.query_tcp(&q))] {
            let what = format!("{transport} {name} {qtype}");
            assert_eq!(r.rcode(), want_rcode, "{what}\n{r}");
            assert!(r.aa, "{what}\n{r}");
            assert!(
                r.opt.as_ref().is_some_and(|o| o.dnssec_ok),
                "{what}: DO echoed\n{r}"
            );
            let signed = verify(&r, &key, now());
            let types: Vec<u16> = sections(&r.bytes)[0]
                .iter()
                .filter(|x| x.rtype != RRSIG)
                .map(|x| x.rtype)
                .collect();
            let mut distinct = types.clone();
            distinct.dedup();
            assert_eq!(distinct, answer, "{what}: answer types\n{r}");
            assert_eq!(
                signed[0].len(),
                answer.len(),
                "{what}: each answer RRset signed\n{r}"
            );
            match nsec {
                None => assert!(
                    nsec_of(&r).is_none() || name.contains("wild"),
                    "{what}\n{r}"
                ),
                Some((owner, has, lacks)) => {
                    let (at, types) = nsec_of(&r).unwrap_or_else(|| panic!("{what}: no NSEC\n{r}"));
                    assert_eq!(at, wire(owner), "{what}: NSEC owner\n{r}");
                    for t in has {
                        assert!(types.contains(t), "{what}: NSEC lacks type {t}\n{r}");
                    }
                    for t in lacks {
                        assert!(!types.contains(t), "{what}: NSEC lists type {t}\n{r}");
                    }
                    let soa = sections(&r.bytes)[1].iter().any(|x| x.rtype == 6);
                    assert!(soa, "{what}: SOA in the negative answer\n{r}");
                }
            }
        }
    }
}

#[test]
fn issue13_nxdomain_with_co_referrals_wildcards_and_truncation() {
    let (server, key) = start_signed(&fixture(""));
    // CO set: NXDOMAIN stays NXDOMAIN, and CO is echoed (RFC 9824 §5.1).
    let q = Query::new("nope.example.com.", RecordType::A)
        .edns(Edns::new(1232).dnssec_ok(true).compact_ok(true));
    let r = server.query(&q);
    assert_eq!(r.rcode(), rcode::NXDOMAIN, "{r}");
    verify(&r, &key, now());
    let opt_flags = |r: &Response| {
        let b = &r.bytes;
        // The OPT is last; its flags are octets 7-8 of the record (after owner, type, size, ercode, version).
        let at = b.len()
            - 11
            - r.opt
                .as_ref()
                .unwrap()
                .options
                .iter()
                .map(|(_, d)| 4 + d.len())
                .sum::<usize>();
        u16::from_be_bytes([b[at + 7], b[at + 8]])
    };
    assert_eq!(opt_flags(&r) & 0xC000, 0xC000, "DO and CO echoed\n{r}");
    let r = server.query(&do_query("nope.example.com.", RecordType::A));
    assert_eq!(opt_flags(&r) & 0x4000, 0, "no CO without CO\n{r}");

    // Wildcard answer: signed as the wildcard (Labels 3 for a 4-label name), with an
    // NSEC covering the query name.
    let r = server.query(&do_query("x.wild.example.com.", RecordType::A));
    verify(&r, &key, now());
    let s = sections(&r.bytes);
    let sig = s[0].iter().find(|x| x.rtype == RRSIG).unwrap();
    assert_eq!(sig.rdata[3], 3, "Labels of *.wild.example.com\n{r}");
    let (owner, _) = nsec_of(&r).expect("a wildcard answer proves the name absent");
    assert!(owner.ends_with(&wire("wild.example.com.")), "{r}");

    // Insecure referral: NS unsigned, NSEC at the cut (NS, no DS), glue unsigned.
    let r = server.query(&do_query("www.sub.example.com.", RecordType::A));
    assert!(!r.aa, "{r}");
    verify(&r, &key, now());
    let (owner, types) = nsec_of(&r).expect("insecure referral proves no DS");
    assert_eq!(owner, wire("sub.example.com."));
    assert!(types.contains(&2) && !types.contains(&43), "{types:?}");
    assert!(!r.additional.is_empty(), "glue kept\n{r}");
    // Secure referral: DS and its RRSIG.
    let r = server.query(&do_query("www.secure.example.com.", RecordType::A));
    let signed = verify(&r, &key, now());
    assert!(
        signed[1].contains(&(wire("secure.example.com."), 43)),
        "{r}"
    );

    // Truncation over UDP keeps every RRset with its RRSIGs: `big` fits 512 octets
    // unsigned, not with its RRSIG, so it is left out and TC set; TCP has it all. The
    // other way round, the unsigned answer fits and has no TC.
    let unsigned =
        server.query(&Query::new("big.example.com.", RecordType::TXT).edns(Edns::new(512)));
    assert!(!unsigned.tc && unsigned.answers.len() == 5, "{unsigned}");
    let q = Query::new("big.example.com.", RecordType::TXT).edns(Edns::new(512).dnssec_ok(true));
    let udp = server.query(&q);
    let tcp = server.query_tcp(&q);
    assert!(udp.tc, "{udp}");
    assert!(udp.bytes.len() <= 512, "{udp}");
    assert!(udp.answers.is_empty(), "no RRset without its RRSIG\n{udp}");
    assert!(udp.opt.is_some(), "{udp}");
    let all = verify(&tcp, &key, now());
    assert!(
        !tcp.tc && all[0].len() == 1 && tcp.answers.len() == 6,
        "{tcp}"
    );
}

#[test]
fn issue13_balanced_answers_are_signed_after_a_failover_and_ecs_is_kept() {
    let (server, key) = start_signed(&fixture(""));
    let ecs = crate::util::ecs_option(1, 24, 0, &[192, 0, 2]);
    let q = Query::new("app.example.com.", RecordType::A).edns(
        Edns::new(1232)
            .dnssec_ok(true)
            .option(crate::util::ECS, ecs),
    );
    let before = server.query(&q);
    verify(&before, &key, now());
    assert_eq!(
        addresses(&before),
        ["app.example.com. 20 A 127.0.9.11"],
        "{before}"
    );
    assert!(
        before
            .opt
            .as_ref()
            .unwrap()
            .option(crate::util::ECS)
            .is_some(),
        "{before}"
    );
    // Asked again: the same signature (served from the cache, not signed again; ECDSA
    // signatures differ each time they are made).
    let again = server.query(&q);
    let sig = |r: &Response| {
        sections(&r.bytes)[0]
            .iter()
            .find(|x| x.rtype == RRSIG)
            .unwrap()
            .rdata
            .clone()
    };
    assert_eq!(sig(&before), sig(&again));
    // Drain eu-west: the answer moves to us-east and its signature follows it.
    let r = server.post("/v1/regions/eu-west/drain", None);
    assert_eq!(r.status, 200, "{}", r.body);
    crate::util::wait_for("the failover", Duration::from_secs(5), || {
        let r = server.query(&q);
        (addresses(&r) == ["app.example.com. 20 A 127.0.9.12"]).then_some(r)
    });
    let after = server.query(&q);
    verify(&after, &key, now());
    assert_ne!(sig(&before), sig(&after));
    let chain = server.query(&do_query("toapp.example.com.", RecordType::A));
    let signed = verify(&chain, &key, now());
    assert_eq!(
        signed[0].len(),
        2,
        "the CNAME and the address signed\n{chain}"
    );
}

#[test]
fn issue13_without_do_answers_are_byte_for_byte_unsigned() {
    let unsigned = fixture("").start();
    let (signed, _) = start_signed(&fixture(""));
    let rows: &[(&str, RecordType, Option<Edns>)] = &[
        ("www.example.com.", RecordType::A, None),
        ("www.example.com.", RecordType::A, Some(Edns::new(1232))),
        ("nope.example.com.", RecordType::A, Some(Edns::new(1232))),
        ("www.example.com.", RecordType::MX, None),
        ("x.wild.example.com.", RecordType::A, None),
        ("www.sub.example.com.", RecordType::A, Some(Edns::new(1232))),
        ("app.example.com.", RecordType::A, None),
        ("multi.example.com.", RecordType::ANY, None),
    ];
    for (name, qtype, edns) in rows {
        let mut q = Query::new(name, *qtype).id(0x4242);
        if let Some(e) = edns {
            q = q.edns(e.clone());
        }
        let a = unsigned.query(&q);
        let b = signed.query(&q);
        assert_eq!(
            a.bytes, b.bytes,
            "{name} {qtype}\nunsigned:\n{a}\nsigned:\n{b}"
        );
    }
}

#[test]
fn issue13_signatures_are_replaced_before_they_expire() {
    // 8 s of validity, replaced 4 s before expiry: within 10 s the server re-signs at
    // least once, and no answer ever carries a signature outside its window.
    let (server, key) = start_signed(&fixture(
        "validity = \"8s\"\nrefresh = \"4s\"\nbackdate = \"0s\"\njitter = \"0s\"",
    ));
    let mut expirations = Vec::new();
    for _ in 0..20 {
        for name in ["www.example.com.", "app.example.com."] {
            let r = server.query(&do_query(name, RecordType::A));
            let at = now();
            verify(&r, &key, at);
            let s = sections(&r.bytes);
            let sig = s[0].iter().find(|x| x.rtype == RRSIG).unwrap();
            let times = SignatureTimes {
                expiration: u32::from_be_bytes(sig.rdata[8..12].try_into().unwrap()),
                inception: u32::from_be_bytes(sig.rdata[12..16].try_into().unwrap()),
            };
            assert!(
                times.covers(at),
                "{name}: expired or not yet valid at {at}\n{r}"
            );
            assert!(
                sig.ttl <= times.remaining(at),
                "{name}: RRSIG TTL past expiry\n{r}"
            );
            expirations.push(times.expiration);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    expirations.sort_unstable();
    expirations.dedup();
    assert!(expirations.len() >= 2, "never re-signed: {expirations:?}");
}

#[test]
fn issue13_a_bad_key_file_is_an_error_naming_it() {
    let f = fixture("");
    let dir = f.write();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    let private = keys.join("Kexample.com.+013+00001.private");
    std::fs::write(
        &private,
        "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\n",
    )
    .unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "--config"])
        .arg(dir.path().join("meridian.toml"))
        .output()
        .unwrap();
    let stderr =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("Kexample.com.+013+00001"), "{stderr}");
}

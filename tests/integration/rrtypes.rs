//! Every record type a BIND or NSD zone file may hold loads and is served
//! (`tests/data/zones/every-type.example.org.zone`; the differential test checks the same
//! records against NSD byte for byte): the types BIND reads and NSD does not, byte for
//! byte here; DNSSEC records beside a CNAME; NSEC3 owner names; and bad values reported
//! with file, line and field by `meridian check`; `$GENERATE`; and BIND's `dig` reading
//! every answer (where it is installed: `.ci/run` installs it; SKIPPED otherwise).

use crate::util::{Edns, Fixture, Query, REPLY_TIMEOUT, Run, Server, rcode};
use hickory_proto::rr::RecordType;
use std::collections::BTreeMap;

const EVERY_TYPE: &str = include_str!("../data/zones/every-type.example.org.zone");

fn server() -> Server {
    Fixture::new().zone("example.org", EVERY_TYPE).start()
}

/// (owner, type) → how many records the zone file gives it, read from its one-line
/// records (`owner IN TYPE data`).
fn records_in_file() -> BTreeMap<(String, String), usize> {
    let mut count = BTreeMap::new();
    for line in EVERY_TYPE.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with([';', '$', ' ']) || words.len() < 3 || words[1] != "IN" {
            continue;
        }
        let owner = match words[0] {
            "@" => "example.org.".to_string(),
            label => format!("{label}.example.org."),
        };
        *count.entry((owner, words[2].to_string())).or_default() += 1;
    }
    count
}

fn rtype(mnemonic: &str) -> RecordType {
    let known: &[(&str, u16)] = &[
        ("MD", 3),
        ("MF", 4),
        ("MB", 7),
        ("MG", 8),
        ("MR", 9),
        ("WKS", 11),
        ("MINFO", 14),
        ("RP", 17),
        ("AFSDB", 18),
        ("X25", 19),
        ("ISDN", 20),
        ("RT", 21),
        ("NSAP", 22),
        ("NSAP-PTR", 23),
        ("PX", 26),
        ("GPOS", 27),
        ("LOC", 29),
        ("NXT", 30),
        ("EID", 31),
        ("NIMLOC", 32),
        ("ATMA", 34),
        ("A6", 38),
        ("SINK", 40),
        ("KX", 36),
        ("APL", 42),
        ("IPSECKEY", 45),
        ("DHCID", 49),
        ("HIP", 55),
        ("NINFO", 56),
        ("RKEY", 57),
        ("TALINK", 58),
        ("ZONEMD", 63),
        ("SPF", 99),
        ("NID", 104),
        ("L32", 105),
        ("L64", 106),
        ("LP", 107),
        ("EUI48", 108),
        ("EUI64", 109),
        ("URI", 256),
        ("AVC", 258),
        ("DOA", 259),
        ("AMTRELAY", 260),
        ("RESINFO", 261),
        ("WALLET", 262),
        ("TA", 32768),
        ("DLV", 32769),
        ("TYPE17", 17),
    ];
    match known.iter().find(|(m, _)| *m == mnemonic) {
        Some(&(_, code)) => RecordType::from(code),
        None => mnemonic
            .parse()
            .unwrap_or_else(|_| panic!("type {mnemonic}")),
    }
}

#[test]
fn every_record_of_every_type_is_served() {
    let server = server();
    let expected = records_in_file();
    assert!(expected.len() > 55, "{expected:?}");
    for ((owner, mnemonic), count) in &expected {
        let qtype = rtype(mnemonic);
        if mnemonic == "SIG" {
            continue; // hickory refuses SIG in an answer: read raw in the test below
        }
        let r = server.query(&Query::new(owner, qtype).edns(Edns::new(4096)));
        assert!(r.aa, "{owner} {mnemonic}");
        if mnemonic == "NSEC3" {
            // NSEC3 owner names are answered as if they did not exist (RFC 5155 §7.2.8).
            assert_eq!(r.rcode(), rcode::NXDOMAIN, "{owner} {mnemonic}");
            continue;
        }
        assert_eq!(r.rcode(), rcode::NOERROR, "{owner} {mnemonic}");
        let got = r.answers.iter().filter(|a| a.is(owner, qtype)).count();
        assert_eq!(got, *count, "{owner} {mnemonic}: {:?}", r.answers);
    }
}

#[test]
fn types_bind_reads_and_nsd_does_not_are_served_as_written() {
    let server = server();
    let cs = |s: &str| [&[s.len() as u8][..], s.as_bytes()].concat();
    let rows: &[(&str, u16, Vec<u8>)] = &[
        (
            "gpos",
            27,
            [cs("-32.6882"), cs("116.8652"), cs("10.0")].concat(),
        ),
        ("nsap-ptr", 23, b"\x04host\x07example\x03net\x00".to_vec()),
        ("avc", 258, cs("app-name:WOMBAT")),
        (
            "sig",
            24,
            [
                &[0, 1, 5, 3, 0, 1, 0x51, 0x80][..],
                &1_048_354_263u32.to_be_bytes(),
                &1_045_762_263u32.to_be_bytes(),
                &[0, 1, 0, 0],
            ]
            .concat(),
        ),
        (
            "dlv",
            32769,
            [
                &[0, 1, 8, 1][..],
                &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef].repeat(2),
                &[0x01, 0x23, 0x45, 0x67],
            ]
            .concat(),
        ),
        ("nokey", 25, vec![0xc0, 0, 3, 8]),
        ("hinfo-at", 13, [cs("x"), cs("@")].concat()),
        // key3 is port: its value written as wire bytes, 443.
        ("https-generic", 65, vec![0, 2, 0, 0, 3, 0, 2, 1, 0xbb]),
        // Case in the data is kept (the owner's case is the query's).
        (
            "rp-case",
            17,
            b"\x05Louie\x07Trantor\x03UMD\x03edu\x00\x00".to_vec(),
        ),
        ("generic", 17, vec![1, b'a', 0, 0]),
    ];
    // Read raw: hickory, which the test client decodes with, refuses SIG in an answer.
    let udp = server.udp();
    for (id, (label, code, want)) in rows.iter().enumerate() {
        let owner = format!("{label}.example.org.");
        let id = id as u16 + 1;
        udp.send(&Query::new(&owner, RecordType::from(*code)).id(id).to_wire());
        let (reply, _) = udp.recv_id(id, REPLY_TIMEOUT);
        let reply = reply.unwrap_or_else(|| panic!("{owner}: no reply"));
        assert_eq!(
            &reply[6..12],
            &[0, 1, 0, 0, 0, 0],
            "{owner}: one answer only"
        );
        // The one record's data ends the message, after its length.
        let mut tail = (want.len() as u16).to_be_bytes().to_vec();
        tail.extend_from_slice(want);
        assert!(
            reply.ends_with(&tail),
            "{owner} type {code}: {reply:02x?} does not end with {tail:02x?}"
        );
    }
}

#[test]
fn dnssec_records_beside_a_cname_are_answered_as_themselves() {
    let server = Fixture::new()
        .zone(
            "example.org",
            &format!(
                "{EVERY_TYPE}\
                 alias IN CNAME ns1\n\
                 alias IN RRSIG CNAME 8 3 3600 20300101000000 20200101000000 1 example.org. AA==\n\
                 alias IN NSEC ns1.example.org. CNAME RRSIG NSEC\n"
            ),
        )
        .start();
    let owner = "alias.example.org.";
    for (qtype, want) in [
        (RecordType::RRSIG, RecordType::RRSIG),
        (RecordType::NSEC, RecordType::NSEC),
        (RecordType::CNAME, RecordType::CNAME),
    ] {
        let r = server.query(&Query::new(owner, qtype));
        assert_eq!(r.answers.len(), 1, "{qtype}: {:?}", r.answers);
        assert!(r.answers[0].is(owner, want), "{qtype}: {:?}", r.answers);
    }
    // Other types follow the CNAME.
    let r = server.query(&Query::new(owner, RecordType::A));
    let got: Vec<String> = r.answers.iter().map(|a| a.text()).collect();
    assert_eq!(
        got,
        [
            "alias.example.org. 3600 CNAME ns1.example.org.",
            "ns1.example.org. 3600 A 192.0.2.1"
        ]
    );
    // A CNAME beside other data is still refused.
    let run = Fixture::new()
        .zone(
            "example.org",
            &format!("{EVERY_TYPE}alias IN CNAME ns1\nalias IN LOC 1 N 1 E 0\n"),
        )
        .check();
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("next to other data (LOC)") || run.stdout.contains("(LOC)"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn bad_values_are_reported_with_file_line_and_field() {
    let zone = format!(
        "{EVERY_TYPE}\
         bad1 IN EUI48 00-00-5e-00-53\n\
         bad2 IN LOC 91 N 0 E 0\n\
         bad3 IN SVCB 1 . mandatory=alpn\n\
         bad4 IN DS 1 8 2 ( abcd\n\
                           xyz )\n"
    );
    let first_bad = EVERY_TYPE.lines().count() + 1;
    let run = Fixture::new().zone("example.org", &zone).check();
    assert!(!run.status.success());
    let output = format!("{}{}", run.stdout, run.stderr);
    let file = "example.org.zone";
    for (line, message) in [
        (
            first_bad,
            "bad EUI48 record data \"00-00-5e-00-53\": address \"00-00-5e-00-53\": is not of the form xx-xx-xx-xx-xx-xx",
        ),
        (
            first_bad + 1,
            "bad LOC record data \"91 N 0 E 0\": latitude",
        ),
        (
            first_bad + 2,
            "SvcParam \"mandatory=alpn\": mandatory key alpn is not in the record",
        ),
        (first_bad + 4, "digest \"xyz\": is not hex"),
    ] {
        let want = format!("{file}:{line}: ");
        assert!(
            output
                .lines()
                .any(|l| l.contains(&want) && l.contains(message)),
            "no {want}…{message} in:\n{output}"
        );
    }
}

#[test]
fn generate_makes_records_as_bind_does() {
    let server = Fixture::new()
        .zone(
            "example.org",
            &format!(
                "{EVERY_TYPE}\
                 $GENERATE 1-3 host$ A 192.0.2.$\n\
                 $GENERATE 10-11 ${{0,5,n}}.v6 AAAA 2001:db8::${{0,4,x}}\n"
            ),
        )
        .start();
    for (qname, qtype, want) in [
        (
            "host2.example.org.",
            RecordType::A,
            "host2.example.org. 3600 A 192.0.2.2",
        ),
        (
            "a.0.0.v6.example.org.",
            RecordType::AAAA,
            "a.0.0.v6.example.org. 3600 AAAA 2001:db8::a",
        ),
        (
            "b.0.0.v6.example.org.",
            RecordType::AAAA,
            "b.0.0.v6.example.org. 3600 AAAA 2001:db8::b",
        ),
    ] {
        let r = server.query(&Query::new(qname, qtype));
        let got: Vec<String> = r.answers.iter().map(|a| a.text()).collect();
        assert_eq!(got, [want], "{qname}");
    }
    let r = server.query(&Query::new("host4.example.org.", RecordType::A));
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
}

#[test]
fn bind_reads_every_answer() {
    // BIND's dig decodes each answer with BIND's own wire parsers, which check each
    // type's layout (SVCB key order, LOC version, DS digest lengths, ...).
    if !crate::interop::installed("dig") {
        return;
    }
    let server = server();
    for ((owner, mnemonic), count) in records_in_file() {
        if mnemonic == "NSEC3" {
            continue; // answered NXDOMAIN (RFC 5155 §7.2.8)
        }
        let code = u16::from(rtype(&mnemonic));
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new("dig");
        cmd.arg(format!("@{}", server.dns.ip()))
            .arg("-p")
            .arg(server.dns.port().to_string())
            .args(["+norec", "+tries=1", "+time=5", "+short"])
            .arg(&owner)
            .arg(format!("TYPE{code}"));
        let run = Run::bounded(cmd, dir.path(), std::time::Duration::from_secs(20));
        assert_eq!(
            run.status.code(),
            Some(0),
            "dig {owner} {mnemonic}: {}",
            run.stderr
        );
        let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.is_empty()).collect();
        assert!(
            lines.iter().all(|l| !l.starts_with(";;")),
            "dig {owner} {mnemonic}:\n{}",
            run.stdout
        );
        assert_eq!(
            lines.len(),
            count,
            "dig {owner} {mnemonic}:\n{}",
            run.stdout
        );
    }
}

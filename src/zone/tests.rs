//! Zone answers, table-driven: records in, then query → rcode, AA, sections.

use super::master::SourceRecord;
use super::*;
use crate::answer::render_for_test;
use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};
use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

pub(super) fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// Builds records from `owner ttl TYPE rdata` lines (absolute names only).
pub(super) fn records(lines: &[&str]) -> Vec<SourceRecord> {
    let file: Arc<Path> = Arc::from(Path::new("test.zone"));
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut parts = l.splitn(4, ' ');
            let owner = name(parts.next().unwrap());
            let ttl: u32 = parts.next().unwrap().parse().unwrap();
            let rtype = RecordType::from_str(parts.next().unwrap()).unwrap();
            let rdata = RData::try_from_str(rtype, parts.next().unwrap()).unwrap();
            SourceRecord {
                name: owner,
                ttl,
                rdata,
                file: file.clone(),
                line: i + 1,
            }
        })
        .collect()
}

pub(super) const EXAMPLE: &[&str] = &[
    "example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",
    "example.com. 3600 NS ns1.example.com.",
    "example.com. 300 MX 10 mail.example.com.",
    "ns1.example.com. 300 A 192.0.2.53",
    "mail.example.com. 300 A 192.0.2.25",
    "www.example.com. 300 A 192.0.2.10",
    "www.example.com. 300 A 192.0.2.11",
    "www.example.com. 300 AAAA 2001:db8::10",
    "www.example.com. 300 TXT \"hello\"",
    "a.b.example.com. 300 A 192.0.2.12",
    "alias.example.com. 60 CNAME chain.example.com.",
    "chain.example.com. 60 CNAME www.example.com.",
    "dangling.example.com. 60 CNAME nowhere.example.com.",
    "away.example.com. 60 CNAME www.example.org.",
    "*.wild.example.com. 120 A 192.0.2.99",
    "*.wild.example.com. 120 TXT \"wild\"",
    "real.wild.example.com. 120 A 192.0.2.98",
    "*.cw.example.com. 120 CNAME www.example.com.",
    "sub.example.com. 86400 NS ns.sub.example.com.",
    "sub.example.com. 86400 NS ns1.example.com.",
    "ns.sub.example.com. 86400 A 192.0.2.77",
    "deep.example.com. 3600 NS ns1.example.com.",
];

const DEEP: &[&str] = &[
    "deep.example.com. 60 SOA ns1.example.com. h.example.com. 7 7200 3600 1209600 300",
    "deep.example.com. 60 NS ns1.example.com.",
    "www.deep.example.com. 60 A 192.0.2.200",
];

fn zones() -> Zones {
    build_zones(
        vec![
            (
                "example.com.zone".into(),
                name("example.com."),
                records(EXAMPLE),
            ),
            (
                "deep.example.com.zone".into(),
                name("deep.example.com."),
                records(DEEP),
            ),
        ],
        &[],
    )
    .unwrap()
}

/// `example.com.` alone, from `lines`.
fn example_zone(lines: &[&str]) -> Zones {
    example_zone_with(lines, &[])
}

/// `example.com.` alone, from `lines`, with the load-balanced names `balanced`.
fn example_zone_with(lines: &[&str], balanced: &[BalancedName]) -> Zones {
    let zone = (
        "example.com.zone".into(),
        name("example.com."),
        records(lines),
    );
    build_zones(vec![zone], balanced).unwrap()
}

fn ask(zones: &Zones, qname: &str, qtype: RecordType) -> Option<Message> {
    let n = name(qname);
    let (_, Found::Answer(answer)) =
        zones.lookup(&crate::answer::name_key(&n), u16::from(qtype))?
    else {
        panic!("{qname} is load-balanced");
    };
    Some(Message::from_vec(&render_for_test(answer, &n, u16::from(qtype))).unwrap())
}

/// rcode, AA, answer (name type), authority types, additional names.
fn summary(m: &Message) -> (u16, bool, Vec<String>, Vec<String>, usize) {
    (
        u16::from(m.metadata.response_code),
        m.metadata.authoritative,
        m.answers
            .iter()
            .map(|r| format!("{} {}", r.name, r.record_type()))
            .collect(),
        m.authorities
            .iter()
            .map(|r| format!("{} {} {}", r.name, r.record_type(), r.ttl))
            .collect(),
        m.additionals.len(),
    )
}

#[test]
fn answers_by_rfc_1034_rules() {
    let z = zones();
    use RecordType::*;
    let soa = "example.com. SOA 300".to_string();
    // query name, type → rcode, AA, answer, authority, number of additional records
    type Row<'a> = (
        &'a str,
        RecordType,
        u16,
        bool,
        Vec<&'a str>,
        Vec<String>,
        usize,
    );
    let rows: Vec<Row> = vec![
        (
            "www.example.com.",
            A,
            0,
            true,
            vec!["www.example.com. A"; 2],
            vec![],
            0,
        ),
        (
            "WWW.Example.COM.",
            AAAA,
            0,
            true,
            vec!["WWW.Example.COM. AAAA"],
            vec![],
            0,
        ),
        (
            "www.example.com.",
            MX,
            0,
            true,
            vec![],
            vec![soa.clone()],
            0,
        ),
        (
            "nope.example.com.",
            A,
            3,
            true,
            vec![],
            vec![soa.clone()],
            0,
        ),
        ("b.example.com.", A, 0, true, vec![], vec![soa.clone()], 0),
        ("x.b.example.com.", A, 3, true, vec![], vec![soa.clone()], 0),
        (
            "example.com.",
            MX,
            0,
            true,
            vec!["example.com. MX"],
            vec![],
            1,
        ),
        (
            "example.com.",
            NS,
            0,
            true,
            vec!["example.com. NS"],
            vec![],
            1,
        ),
        (
            "alias.example.com.",
            A,
            0,
            true,
            vec![
                "alias.example.com. CNAME",
                "chain.example.com. CNAME",
                "www.example.com. A",
                "www.example.com. A",
            ],
            vec![],
            0,
        ),
        (
            "alias.example.com.",
            CNAME,
            0,
            true,
            vec!["alias.example.com. CNAME"],
            vec![],
            0,
        ),
        (
            "alias.example.com.",
            MX,
            0,
            true,
            vec!["alias.example.com. CNAME", "chain.example.com. CNAME"],
            vec![soa.clone()],
            0,
        ),
        (
            "alias.example.com.",
            SRV,
            0,
            true,
            vec!["alias.example.com. CNAME", "chain.example.com. CNAME"],
            vec![soa.clone()],
            0,
        ),
        (
            "dangling.example.com.",
            A,
            3,
            true,
            vec!["dangling.example.com. CNAME"],
            vec![soa.clone()],
            0,
        ),
        (
            "away.example.com.",
            A,
            0,
            true,
            vec!["away.example.com. CNAME"],
            vec![],
            0,
        ),
        (
            "x.wild.example.com.",
            A,
            0,
            true,
            vec!["x.wild.example.com. A"],
            vec![],
            0,
        ),
        (
            "a.very.long.name.under.wild.example.com.",
            TXT,
            0,
            true,
            vec!["a.very.long.name.under.wild.example.com. TXT"],
            vec![],
            0,
        ),
        (
            "x.wild.example.com.",
            AAAA,
            0,
            true,
            vec![],
            vec![soa.clone()],
            0,
        ),
        (
            "real.wild.example.com.",
            TXT,
            0,
            true,
            vec![],
            vec![soa.clone()],
            0,
        ),
        (
            "wild.example.com.",
            A,
            0,
            true,
            vec![],
            vec![soa.clone()],
            0,
        ),
        (
            "q.cw.example.com.",
            A,
            0,
            true,
            vec![
                "q.cw.example.com. CNAME",
                "www.example.com. A",
                "www.example.com. A",
            ],
            vec![],
            0,
        ),
        (
            "sub.example.com.",
            A,
            0,
            false,
            vec![],
            vec!["sub.example.com. NS 86400".into(); 2],
            2,
        ),
        (
            "sub.example.com.",
            NS,
            0,
            false,
            vec![],
            vec!["sub.example.com. NS 86400".into(); 2],
            2,
        ),
        (
            "x.y.sub.example.com.",
            A,
            0,
            false,
            vec![],
            vec!["sub.example.com. NS 86400".into(); 2],
            2,
        ),
        (
            "ns.sub.example.com.",
            A,
            0,
            false,
            vec![],
            vec!["sub.example.com. NS 86400".into(); 2],
            2,
        ),
        (
            "sub.example.com.",
            DS,
            0,
            true,
            vec![],
            vec![soa.clone()],
            0,
        ),
        (
            "www.deep.example.com.",
            A,
            0,
            true,
            vec!["www.deep.example.com. A"],
            vec![],
            0,
        ),
        (
            "nope.deep.example.com.",
            A,
            3,
            true,
            vec![],
            vec!["deep.example.com. SOA 60".into()],
            0,
        ),
        (
            "deep.example.com.",
            NS,
            0,
            true,
            vec!["deep.example.com. NS"],
            vec![],
            0,
        ),
    ];
    for (qname, qtype, rcode, aa, answer, authority, additional) in rows {
        let m = ask(&z, qname, qtype).unwrap_or_else(|| panic!("{qname} refused"));
        let want = (
            rcode,
            aa,
            answer.iter().map(|s| s.to_string()).collect(),
            authority,
            additional,
        );
        assert_eq!(summary(&m), want, "{qname} {qtype}");
    }
}

#[test]
fn names_outside_every_zone_are_refused() {
    let z = zones();
    assert!(ask(&z, "example.org.", RecordType::A).is_none());
    assert!(ask(&z, "com.", RecordType::A).is_none());
    assert!(ask(&z, ".", RecordType::NS).is_none());
}

#[test]
fn any_gets_one_rrset() {
    let z = zones();
    let m = ask(&z, "www.example.com.", RecordType::ANY).unwrap();
    let types: std::collections::BTreeSet<_> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types.len(), 1, "{types:?}");
}

#[test]
fn any_at_a_cname_owner_is_the_cname_alone() {
    let z = zones();
    // query name → the one CNAME record answered, NOERROR, AA, nothing else.
    for (qname, owner) in [
        ("alias.example.com.", "alias.example.com."),
        ("dangling.example.com.", "dangling.example.com."),
        ("away.example.com.", "away.example.com."),
        ("x.cw.example.com.", "x.cw.example.com."),
    ] {
        let m = ask(&z, qname, RecordType::ANY).unwrap();
        let want = (0, true, vec![format!("{owner} CNAME")], vec![], 0);
        assert_eq!(summary(&m), want, "{qname}");
        assert_eq!(
            m.answers[0].ttl,
            if qname.contains("cw") { 120 } else { 60 }
        );
    }
    // Other types still follow the chain.
    let m = ask(&z, "dangling.example.com.", RecordType::A).unwrap();
    assert_eq!(u16::from(m.metadata.response_code), 3);
}

#[test]
fn any_at_a_cname_to_a_load_balanced_name_is_not_decided() {
    let mut lines = EXAMPLE.to_vec();
    lines.push("alias-lb.example.com. 60 CNAME lb.example.com.");
    let balanced = [BalancedName {
        name: name("lb.example.com."),
        service: 0,
        file: std::path::Path::new("example.com.toml").into(),
        line: 1,
    }];
    let z = example_zone_with(&lines, &balanced);
    let key = crate::answer::name_key(&name("alias-lb.example.com."));
    let found = |t: RecordType| z.lookup(&key, u16::from(t)).unwrap().1;
    assert!(matches!(found(RecordType::A), Found::Balanced { .. }));
    assert!(matches!(found(RecordType::AAAA), Found::Balanced { .. }));
    let m = ask(&z, "alias-lb.example.com.", RecordType::ANY).unwrap();
    let want = (
        0,
        true,
        vec!["alias-lb.example.com. CNAME".to_string()],
        vec![],
        0,
    );
    assert_eq!(summary(&m), want);
}

#[test]
fn a_cname_chain_into_a_delegation_ends_with_the_referral() {
    let mut lines = EXAMPLE.to_vec();
    lines.extend([
        "tosub.example.com. 60 CNAME host.sub.example.com.",
        "tosub2.example.com. 60 CNAME tosub.example.com.",
        "tocut.example.com. 60 CNAME sub.example.com.",
        "*.wsub.example.com. 60 CNAME host.sub.example.com.",
    ]);
    let z = example_zone(&lines);
    let ns = "sub.example.com. NS 86400".to_string();
    let rows: &[(&str, &[&str])] = &[
        ("tosub.example.com.", &["tosub.example.com. CNAME"]),
        (
            "tosub2.example.com.",
            &["tosub2.example.com. CNAME", "tosub.example.com. CNAME"],
        ),
        ("tocut.example.com.", &["tocut.example.com. CNAME"]),
        ("x.wsub.example.com.", &["x.wsub.example.com. CNAME"]),
    ];
    for (qname, answer) in rows {
        for qtype in [RecordType::A, RecordType::TXT] {
            let m = ask(&z, qname, qtype).unwrap();
            let answer = answer.iter().map(|s| s.to_string()).collect();
            // NOERROR, AA (the CNAMEs are ours), the cut's NS, the addresses of both servers.
            let want = (0, true, answer, vec![ns.clone(), ns.clone()], 2);
            assert_eq!(summary(&m), want, "{qname} {qtype}");
            let glue: Vec<String> = m.additionals.iter().map(|r| r.name.to_string()).collect();
            assert_eq!(glue, ["ns.sub.example.com.", "ns1.example.com."], "{qname}");
        }
    }
}

const DNAME_ZONE: &str = "\
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.53
dn 120 DNAME example.net.
dn A 192.0.2.7
here DNAME www.example.com.
www A 192.0.2.10
";

fn dname_zones(text: &str) -> Result<Zones, ZoneErrors> {
    let origin = name("example.com.");
    let records = master::parse_str(text, Path::new("test.zone"), &origin).unwrap();
    build_zones(vec![("test.zone".into(), origin, records)], &[])
}

#[test]
fn names_below_a_dname_find_it_and_the_owner_answers_as_data() {
    let z = dname_zones(DNAME_ZONE).unwrap();
    let owner = crate::answer::name_key(&name("dn.example.com.")).len();
    for qname in ["foo.dn.example.com.", "a.b.c.dn.example.com."] {
        let key = crate::answer::name_key(&name(qname));
        let Some((_, Found::Dname { dname, owner_len })) = z.lookup(&key, 1) else {
            panic!("{qname}: not the DNAME");
        };
        assert_eq!(owner_len as usize, owner, "{qname}");
        assert_eq!(&dname.target[..], b"\x07example\x03net\x00");
        assert_eq!(dname.ttl, 120);
        // The DNAME record is relocated to the query name's suffix.
        let m =
            Message::from_vec(&render_for_test(dname.answer.answer(), &name(qname), 1)).unwrap();
        assert_eq!(
            summary(&m),
            (0, true, vec!["dn.example.com. DNAME".into()], vec![], 0)
        );
        assert_eq!(m.answers[0].ttl, 120);
    }
    // At the owner: the DNAME as data, other types as usual.
    let m = ask(&z, "dn.example.com.", RecordType::DNAME).unwrap();
    assert_eq!(summary(&m).2, ["dn.example.com. DNAME"]);
    let m = ask(&z, "dn.example.com.", RecordType::A).unwrap();
    assert_eq!(summary(&m).2, ["dn.example.com. A"]);
    let m = ask(&z, "dn.example.com.", RecordType::TXT).unwrap();
    assert_eq!(
        summary(&m),
        (0, true, vec![], vec!["example.com. SOA 300".into()], 0)
    );
}

#[test]
fn a_cname_chain_into_a_dname_goes_on_through_it() {
    let text = format!(
        "{DNAME_ZONE}in DNAME example.com.\nc CNAME x.dn\nc2 CNAME www.in\nc3 CNAME nx.in\n"
    );
    let z = dname_zones(&text).unwrap();
    // RFC 6672 §3.2: the DNAME, then the CNAME synthesised for the target, then the rest.
    let m = ask(&z, "c.example.com.", RecordType::A).unwrap();
    let chain = [
        "c.example.com. CNAME",
        "dn.example.com. DNAME",
        "x.dn.example.com. CNAME",
    ];
    assert_eq!(
        summary(&m),
        (0, true, chain.map(String::from).into(), vec![], 0)
    );
    let RData::CNAME(synthesised) = &m.answers[2].data else {
        panic!("not a CNAME: {:?}", m.answers[2]);
    };
    assert_eq!(synthesised.0, name("x.example.net."));
    assert_eq!(
        m.answers[2].ttl, 120,
        "the synthesised CNAME has the DNAME's TTL"
    );
    // Back into the zone: the chain ends at the data, or at NXDOMAIN with the SOA.
    let m = ask(&z, "c2.example.com.", RecordType::A).unwrap();
    let chain = [
        "c2.example.com. CNAME",
        "in.example.com. DNAME",
        "www.in.example.com. CNAME",
        "www.example.com. A",
    ];
    assert_eq!(
        summary(&m),
        (0, true, chain.map(String::from).into(), vec![], 0)
    );
    // A literal `*` label in the target is kept.
    let z2 = dname_zones(&format!("{DNAME_ZONE}c4 CNAME *.dn\n")).unwrap();
    let m = ask(&z2, "c4.example.com.", RecordType::A).unwrap();
    let RData::CNAME(synthesised) = &m.answers[2].data else {
        panic!("not a CNAME: {:?}", m.answers[2]);
    };
    assert_eq!(synthesised.0, name("*.example.net."));
    let m = ask(&z, "c3.example.com.", RecordType::A).unwrap();
    let s = summary(&m);
    assert_eq!(
        (s.0, s.2.len(), &s.3[..]),
        (3, 3, &["example.com. SOA 300".to_string()][..])
    );
}

#[test]
fn a_type_the_zone_holds_nowhere_else_is_not_the_answer_to_missing_types() {
    // Missing types share one answer, built for a type the zone does not hold: a
    // private-use type that the zone does hold must not become that answer.
    let text = format!("{DNAME_ZONE}p TYPE65280 \\# 1 01\np TYPE65534 \\# 1 02\nq CNAME p\n");
    let z = dname_zones(&text).unwrap();
    for (qname, qtype) in [
        ("p.example.com.", 16),
        ("p.example.com.", 65000),
        ("q.example.com.", 99),
    ] {
        let n = name(qname);
        let (_, Found::Answer(answer)) = z.lookup(&crate::answer::name_key(&n), qtype).unwrap()
        else {
            panic!("{qname}: not an answer");
        };
        let m = Message::from_vec(&render_for_test(answer, &n, qtype)).unwrap();
        let data: Vec<u16> = m
            .answers
            .iter()
            .map(|r| u16::from(r.record_type()))
            .filter(|&t| t != u16::from(RecordType::CNAME))
            .collect();
        assert!(data.is_empty(), "{qname} type {qtype}: {data:?}");
        assert_eq!(
            summary(&m).3,
            ["example.com. SOA 300"],
            "{qname} type {qtype}: NODATA"
        );
    }
    let m = ask(&z, "p.example.com.", RecordType::Unknown(65280)).unwrap();
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::Unknown(65280)]);
}

#[test]
fn ds_at_a_cut_comes_from_the_parent_side() {
    let z = zones();
    // The child zone is served here too: its apex answers DS from the parent (RFC 4035
    // §3.1.4.1), a NODATA with the parent's SOA; other types from the child.
    let m = ask(&z, "deep.example.com.", RecordType::DS).unwrap();
    assert_eq!(
        summary(&m),
        (0, true, vec![], vec!["example.com. SOA 300".into()], 0)
    );
    let m = ask(&z, "deep.example.com.", RecordType::NS).unwrap();
    assert_eq!(summary(&m).2, ["deep.example.com. NS"]);
    let m = ask(&z, "deep.example.com.", RecordType::TXT).unwrap();
    assert_eq!(summary(&m).3, ["deep.example.com. SOA 60"]);
    // A CNAME chain that reaches a cut: DS there is answered as for a DS query, other
    // types get the referral.
    let mut lines = EXAMPLE.to_vec();
    lines.push("tocut.example.com. 60 CNAME sub.example.com.");
    let z = example_zone(&lines);
    let m = ask(&z, "tocut.example.com.", RecordType::DS).unwrap();
    assert_eq!(
        summary(&m),
        (
            0,
            true,
            vec!["tocut.example.com. CNAME".into()],
            vec!["example.com. SOA 300".into()],
            0
        )
    );
    let m = ask(&z, "tocut.example.com.", RecordType::A).unwrap();
    assert_eq!(summary(&m).3.len(), 2, "the referral's NS RRset");
}

#[test]
fn data_below_a_dname_is_refused_with_file_and_line() {
    let err = dname_zones(&format!("{DNAME_ZONE}x.dn A 192.0.2.1\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "test.zone:9: x.dn.example.com. is below the DNAME at dn.example.com. (test.zone:5): \
         a DNAME owner has no descendants"
    );
    let err = dname_zones(&format!("{DNAME_ZONE}dn DNAME example.org.\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "test.zone:9: second DNAME at dn.example.com. (first at test.zone:5): a name has at most one"
    );
}

#[test]
fn a_load_balanced_name_below_a_dname_is_refused() {
    let origin = name("example.com.");
    let records = master::parse_str(DNAME_ZONE, Path::new("test.zone"), &origin).unwrap();
    let balanced = [BalancedName {
        name: name("lb.dn.example.com."),
        service: 0,
        file: std::path::Path::new("example.com.toml").into(),
        line: 4,
    }];
    let err = build_zones(vec![("test.zone".into(), origin, records)], &balanced).unwrap_err();
    assert_eq!(
        err.to_string(),
        "example.com.toml:4: lb.dn.example.com. is load-balanced, but it is below the DNAME at \
         dn.example.com.: a DNAME owner has no descendants"
    );
}

/// `example.com` with SOA serial `serial` and `more` lines, built alone.
fn serial_zone(serial: u32, more: &str) -> Zones {
    let text = format!(
        "$ORIGIN example.com.\n@ 3600 IN SOA ns1 host {serial} 7200 3600 1209600 300\n\
         @ IN NS ns1\nns1 IN A 192.0.2.1\n{more}"
    );
    dname_zones(&text).unwrap()
}

/// The records of a delta section as `owner TYPE` pairs, sorted.
fn owners(data: &[u8]) -> Vec<String> {
    transfer::split(data)
        .map(|r| {
            let mut pos = 0;
            while r[pos] != 0 {
                pos += 1 + r[pos] as usize;
            }
            let owner = key_to_text(&r[..=pos]);
            format!("{owner} {}", u16::from_be_bytes([r[pos + 1], r[pos + 2]]))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn key_to_text(wire: &[u8]) -> String {
    let mut out = String::new();
    let mut pos = 0;
    while wire[pos] != 0 {
        let l = wire[pos] as usize;
        out.push_str(std::str::from_utf8(&wire[pos + 1..pos + 1 + l]).unwrap());
        out.push('.');
        pos += 1 + l;
    }
    out
}

#[test]
fn the_journal_keeps_what_each_raised_serial_changed() {
    let v1 = serial_zone(1, "www IN A 192.0.2.10\nold IN TXT \"x\"\n");
    assert!(v1.zones[0].records.journal.is_empty());
    let mut v2 = serial_zone(2, "www 60 IN A 192.0.2.10\nnew IN A 192.0.2.20\n");
    v2.carry_journal(&v1);
    let [d] = &v2.zones[0].records.journal[..] else {
        panic!("one delta")
    };
    assert_eq!(d.from_serial, 1);
    // A changed TTL is a removal and an addition.
    assert_eq!(
        owners(&d.removed),
        ["old.example.com. 16", "www.example.com. 1"]
    );
    assert_eq!(
        owners(&d.added),
        ["new.example.com. 1", "www.example.com. 1"]
    );
    assert_eq!(*d.from_soa, *v1.zones[0].records.soa);
    assert_eq!(*d.to_soa, *v2.zones[0].records.soa);
    // The same serial keeps the journal; a lower one empties it.
    let mut same = serial_zone(2, "www 60 IN A 192.0.2.10\nnew IN A 192.0.2.20\n");
    same.carry_journal(&v2);
    assert_eq!(same.zones[0].records.journal.len(), 1);
    let mut lower = serial_zone(1, "");
    lower.carry_journal(&same);
    assert!(lower.zones[0].records.journal.is_empty());
    // At most JOURNAL_LEN deltas, the oldest dropped first.
    let mut previous = v2;
    for serial in 3..(3 + JOURNAL_LEN as u32 + 2) {
        let mut next = serial_zone(serial, &format!("s{serial} IN A 192.0.2.30\n"));
        next.carry_journal(&previous);
        previous = next;
    }
    let journal = &previous.zones[0].records.journal;
    assert_eq!(journal.len(), JOURNAL_LEN);
    assert_eq!(journal[0].from_serial, 4);
    assert!(
        journal
            .windows(2)
            .all(|w| w[0].from_serial + 1 == w[1].from_serial)
    );
}

/// What a reload's delta held before it was found by one walk over both zones: every
/// record of one side whose exact bytes the other lacks, in that side's order.
fn delta_by_record_sets(old: &Zone, new: &Zone) -> (Vec<u8>, Vec<u8>) {
    let (old, new) = (old.records.wire(), new.records.wire());
    let before: std::collections::HashSet<&[u8]> = transfer::split(&old).collect();
    let after: std::collections::HashSet<&[u8]> = transfer::split(&new).collect();
    let removed = transfer::split(&old).filter(|r| !after.contains(r));
    let added = transfer::split(&new).filter(|r| !before.contains(r));
    (
        removed.flatten().copied().collect(),
        added.flatten().copied().collect(),
    )
}

#[test]
fn a_reloads_delta_is_what_comparing_record_sets_gives() {
    // Owners before, between and after the old ones; a name that went away; a changed
    // TTL; an owner whose case changed; an RRset that grew and one that shrank; a name
    // with many records; a new type at an old name; names below and beside each other.
    let mut big_old = String::new();
    let mut big_new = String::new();
    for i in 0..40 {
        big_old.push_str(&format!("many IN TXT \"t{i}\"\n"));
        if i % 7 != 3 {
            big_new.push_str(&format!("many IN TXT \"t{i}\"\n"));
        }
    }
    big_new.push_str("many IN TXT \"t99\"\n");
    let old_text = format!(
        "b IN A 192.0.2.2\nc IN A 192.0.2.3\nc IN A 192.0.2.4\nd IN A 192.0.2.5\n\
         gone IN TXT \"x\"\nHost IN A 192.0.2.6\nttl 60 IN A 192.0.2.7\nx.y 3600 IN A 192.0.2.8\n\
         y IN MX 10 c\nshrink IN A 192.0.2.9\nshrink IN A 192.0.2.10\n{big_old}"
    );
    let new_text = format!(
        "a IN A 192.0.2.1\nb IN A 192.0.2.2\nbb IN AAAA 2001:db8::1\nc IN A 192.0.2.3\n\
         c IN A 192.0.2.4\nc IN A 192.0.2.11\nd IN A 192.0.2.5\nd IN TXT \"new\"\n\
         host IN A 192.0.2.6\nttl 120 IN A 192.0.2.7\nx.y 3600 IN A 192.0.2.8\ny IN MX 10 c\n\
         shrink IN A 192.0.2.10\nzz IN A 192.0.2.12\n{big_new}"
    );
    let v1 = serial_zone(1, &old_text);
    let mut v2 = serial_zone(2, &new_text);
    v2.carry_journal(&v1);
    let [d] = &v2.zones[0].records.journal[..] else {
        panic!("one delta")
    };
    let (removed, added) = delta_by_record_sets(&v1.zones[0], &v2.zones[0]);
    assert_eq!(*d.removed, *removed);
    assert_eq!(*d.added, *added);
    assert_eq!(
        owners(&d.removed),
        [
            "Host.example.com. 1",
            "gone.example.com. 16",
            "many.example.com. 16",
            "shrink.example.com. 1",
            "ttl.example.com. 1",
        ]
    );
    assert_eq!(transfer::split(&d.removed).count(), 1 + 1 + 6 + 1 + 1);
    assert_eq!(
        transfer::split(&d.added).count(),
        1 + 1 + 1 + 1 + 1 + 1 + 1 + 1
    );
    // Nothing changed but the serial: an empty delta.
    let mut v3 = serial_zone(3, &new_text);
    v3.carry_journal(&v2);
    let last = v3.zones[0].records.journal.last().unwrap();
    assert!(last.removed.is_empty() && last.added.is_empty());
}

#[test]
fn load_balanced_names_join_the_zone_however_many_there_are() {
    // A few names beside the zone's are inserted one by one; many are merged in at once
    // (check.rs, `add_names`): both ways, every one is decided, keeps what the zone file
    // gives it, and makes its empty ancestors exist.
    for count in [2u32, 300] {
        let mut lines = EXAMPLE.to_vec();
        lines.push("lb0.example.com. 300 TXT \"static beside the service\"");
        let mut balanced: Vec<BalancedName> = (0..count)
            .map(|i| BalancedName {
                name: name(&format!("lb{i}.pool.example.com.")),
                service: i,
                file: std::path::Path::new("example.com.toml").into(),
                line: i as usize + 1,
            })
            .collect();
        balanced[0].name = name("lb0.example.com.");
        // Given in reverse order: the zone's order is its own.
        balanced.reverse();
        let z = example_zone_with(&lines, &balanced);
        for b in &balanced {
            let key = crate::answer::name_key(&b.name);
            let Some((_, Found::Balanced { service, .. })) = z.lookup(&key, 1) else {
                panic!("{} ({count} names) is not load-balanced", b.name);
            };
            assert_eq!(service, b.service, "{}", b.name);
        }
        let txt = ask(&z, "lb0.example.com.", RecordType::TXT).unwrap();
        assert_eq!(txt.answers.len(), 1, "{count} names: {txt:?}");
        // pool.example.com. has no records: an empty non-terminal, NODATA not NXDOMAIN.
        let pool = ask(&z, "pool.example.com.", RecordType::A).unwrap();
        assert_eq!(u16::from(pool.metadata.response_code), 0, "{count} names");
        assert!(pool.answers.is_empty());
        let absent = ask(&z, &format!("lb{count}.pool.example.com."), RecordType::A).unwrap();
        assert_eq!(u16::from(absent.metadata.response_code), 3, "{count} names");
        // The zone's own names are all still there.
        let www = ask(&z, "www.example.com.", RecordType::A).unwrap();
        assert_eq!(www.answers.len(), 2, "{count} names");
    }
}

#[test]
fn every_wildcard_answers_below_its_own_parent() {
    // A wildcard's node is numbered right after its parent's (build.rs): at the apex,
    // under a name with records, under an empty non-terminal, and two side by side.
    let mut lines = EXAMPLE.to_vec();
    lines.extend([
        "*.example.com. 300 A 192.0.2.200",
        "*.e.n.t.example.com. 300 A 192.0.2.201",
        "*.mail.example.com. 300 A 192.0.2.202",
        "*.www.example.com. 300 A 192.0.2.203",
    ]);
    let z = example_zone(&lines);
    for (qname, want) in [
        ("anything.example.com.", "192.0.2.200"),
        ("x.nothing.example.com.", "192.0.2.200"),
        ("x.e.n.t.example.com.", "192.0.2.201"),
        ("x.mail.example.com.", "192.0.2.202"),
        ("deep.x.www.example.com.", "192.0.2.203"),
        ("x.wild.example.com.", "192.0.2.99"),
    ] {
        let m = ask(&z, qname, RecordType::A).unwrap();
        let got: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(got, [want], "{qname}");
        assert_eq!(m.answers[0].name, name(qname), "{qname}");
    }
    // The names themselves keep their own answers.
    let m = ask(&z, "mail.example.com.", RecordType::A).unwrap();
    assert_eq!(m.answers[0].data.to_string(), "192.0.2.25");
    // t.example.com. exists (an empty non-terminal) and has no wildcard: a name below it
    // is NXDOMAIN, not the apex wildcard's (RFC 4592 §2.2.1); it is NODATA itself.
    let m = ask(&z, "x.y.t.example.com.", RecordType::A).unwrap();
    assert_eq!(u16::from(m.metadata.response_code), 3);
    let m = ask(&z, "n.t.example.com.", RecordType::A).unwrap();
    assert_eq!(u16::from(m.metadata.response_code), 0);
    assert!(m.answers.is_empty(), "{m:?}");
}

#[test]
fn a_zone_nobody_may_transfer_keeps_its_soa_but_no_records_and_answers_the_same() {
    let text = |serial: u32| {
        format!(
            "$ORIGIN example.com.\n@ 3600 IN SOA ns1 host {serial} 7200 3600 1209600 300\n\
             @ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.10\n"
        )
    };
    let build = |serial: u32, keep: bool| {
        let origin = name("example.com.");
        let records = master::parse_str(&text(serial), Path::new("t.zone"), &origin).unwrap();
        let read = ReadZone::from_records(Path::new("t.zone"), &origin, records);
        build_read_zones(vec![read], &[], &|_| keep).unwrap()
    };
    let (kept, lean) = (build(1, true), build(1, false));
    let (k, l) = (&kept.zones[0].records, &lean.zones[0].records);
    assert!(k.complete && !l.complete);
    assert_eq!(k.iter().count(), 3); // NS, and the two A records
    assert_eq!(l.iter().count(), 0);
    assert_eq!(*k.soa, *l.soa);
    for (qname, qtype) in [
        ("www.example.com.", RecordType::A),
        ("example.com.", RecordType::SOA),
        ("nx.example.com.", RecordType::A),
    ] {
        assert_eq!(
            ask(&kept, qname, qtype).map(|m| m.to_vec().unwrap()),
            ask(&lean, qname, qtype).map(|m| m.to_vec().unwrap()),
            "{qname} {qtype}"
        );
    }
    // No journal grows from records it does not have.
    let mut next = build(2, false);
    next.carry_journal(&lean);
    assert!(next.zones[0].records.journal.is_empty());
    let mut next = build(2, true);
    next.carry_journal(&kept);
    assert_eq!(next.zones[0].records.journal.len(), 1);
}

#[test]
fn the_zones_directory_lists_files_and_links_to_files_but_not_directories() {
    let dir = tempfile::tempdir().unwrap();
    let zone = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
    std::fs::write(dir.path().join("b.test.zone"), zone).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a zone").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("real.zone"), zone).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("real.zone"),
        dir.path().join("a.test.zone"),
    )
    .unwrap();
    // A directory, and a link to one, named like zones: not zone files.
    std::fs::create_dir(dir.path().join("c.test.zone")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("d.test.zone")).unwrap();
    // A link to nothing is left out too (reading it would fail).
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("e.test.zone")).unwrap();
    let found: Vec<String> = Zones::files_in(dir.path())
        .unwrap()
        .into_iter()
        .map(|(file, origin)| {
            assert_eq!(file.parent(), Some(dir.path()));
            origin.to_ascii()
        })
        .collect();
    assert_eq!(found, ["a.test.", "b.test."]);
}

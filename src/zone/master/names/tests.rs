//! Name tests, through the reader: owner names as written (escapes, case, origin) and limits.
//! Helpers and fixtures are in `master/tests.rs`.

use crate::zone::master::tests::*;
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::Ipv6Addr;

#[test]
fn owner_names() {
    let text = "$TTL 60
@ A 192.0.2.1
www A 192.0.2.2
  A 192.0.2.3
\tAAAA 2001:db8::1
other.org. A 192.0.2.4
WWW.Mixed.Case A 192.0.2.5
*.wild A 192.0.2.6
a\\.b A 192.0.2.7
\\065bc A 192.0.2.8
_sip._tcp TXT x
0/26.2.0.192.in-addr.arpa. PTR host
sp\\032ace A 192.0.2.9
";
    let records = ok(text);
    let names: Vec<String> = records[..10].iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(
        names,
        [
            "example.com.",
            "www.example.com.",
            "www.example.com.",
            "www.example.com.",
            "other.org.",
            "WWW.Mixed.Case.example.com.",
            "*.wild.example.com.",
            "a\\.b.example.com.",
            "Abc.example.com.",
            "_sip._tcp.example.com.",
        ]
    );
    // Case is kept exactly.
    assert!(records[5].name.eq_case(
        &Name::from_labels(vec![&b"WWW"[..], b"Mixed", b"Case", b"example", b"com"]).unwrap()
    ));
    assert!(
        !records[5]
            .name
            .eq_case(&name("www.mixed.case.example.com."))
    );
    assert_eq!(records[7].name.iter().next(), Some(&b"a.b"[..]));
    assert_eq!(
        records[8].name.iter().next(),
        Some(&b"Abc"[..]),
        "\\DDD is decimal"
    );
    // Any byte may be in a label: '/' as written (RFC 2317), space by escape.
    let labels = |n: &Name| n.iter().map(<[u8]>::to_vec).collect::<Vec<_>>();
    assert_eq!(
        labels(&records[10].name),
        [&b"0/26"[..], b"2", b"0", b"192", b"in-addr", b"arpa"]
    );
    assert_eq!(
        labels(&records[11].name),
        [&b"sp ace"[..], b"example", b"com"]
    );
    assert_eq!(records[3].rdata.record_type(), RecordType::AAAA);
    assert_eq!(
        records[3].rdata,
        RData::AAAA(AAAA("2001:db8::1".parse::<Ipv6Addr>().unwrap()))
    );
}

#[test]
fn name_length_limits() {
    let label63 = "a".repeat(63);
    one(&format!("$TTL 1\n{label63} A 192.0.2.1\n"));
    let (_, message) = one_error(&format!("$TTL 1\n{label63}b A 192.0.2.1\n"));
    assert!(message.contains("63"), "{message}");
    // 4 * 64 = 256 bytes of labels: too long on its own.
    let long = [label63.as_str(); 4].join(".") + ".";
    let (_, message) = one_error(&format!("$TTL 1\n{long} A 192.0.2.1\n"));
    assert!(message.contains("255"), "{message}");
    // Short enough alone, too long with the origin.
    let almost = [label63.as_str(); 3].join(".") + "." + &"b".repeat(60);
    let (_, message) = one_error(&format!("$TTL 1\n{almost} A 192.0.2.1\n"));
    assert!(message.contains("once the origin"), "{message}");
}

//! Record-data tests, through the reader: every type's text form, generic data, TXT escapes.
//! Helpers and fixtures are in `master/tests.rs`.

use crate::zone::master::tests::*;
use hickory_proto::rr::rdata::{A, CNAME, NS, NULL, PTR};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use std::net::Ipv4Addr;

fn txt_strings(rdata: &RData) -> Vec<Vec<u8>> {
    match rdata {
        RData::TXT(txt) => txt.txt_data.iter().map(|s| s.to_vec()).collect(),
        other => panic!("not TXT: {other:?}"),
    }
}

#[test]
fn record_types() {
    let text = "$TTL 60
lower a 192.0.2.1
numbered TYPE1 192.0.2.2
generic-a A \\# 4 C0000203
generic-type TYPE65400 \\# 3 ab CDef
empty TYPE65401 \\# 0
split TYPE65402 \\# 4 ( 0102
                        0304 )
caa CAA 0 issue \"letsencrypt.org\"
hinfo HINFO \"DEC 2060\" TOPS20
https HTTPS 1 . alpn=\"h2,h3\"
caa2 CAA 0 issue \"\\108etsencrypt.org\"
caa3 CAA 0 issue \\108etsencrypt.org
hinfo2 HINFO \"say \\\"hi\\\"\" @
";
    let records = ok(text);
    assert_eq!(records[0].rdata, RData::A(A(Ipv4Addr::new(192, 0, 2, 1))));
    assert_eq!(records[1].rdata, RData::A(A(Ipv4Addr::new(192, 0, 2, 2))));
    assert_eq!(records[2].rdata, RData::A(A(Ipv4Addr::new(192, 0, 2, 3))));
    assert_eq!(
        records[3].rdata,
        RData::Unknown {
            code: RecordType::Unknown(65400),
            rdata: NULL::with(vec![0xab, 0xcd, 0xef])
        }
    );
    assert_eq!(
        records[4].rdata,
        RData::Unknown {
            code: RecordType::Unknown(65401),
            rdata: NULL::new()
        }
    );
    assert_eq!(
        records[5].rdata,
        RData::Unknown {
            code: RecordType::Unknown(65402),
            rdata: NULL::with(vec![1, 2, 3, 4])
        }
    );
    assert_eq!(records[5].line, 7);
    // Types of the table are kept as wire bytes (types/tests.rs tests each one).
    let caa = b"\x00\x05issueletsencrypt.org";
    assert_eq!(wire(&records[6].rdata), (RecordType::CAA, caa.to_vec()));
    assert_eq!(
        wire(&records[7].rdata),
        (RecordType::HINFO, b"\x08DEC 2060\x06TOPS20".to_vec())
    );
    assert_eq!(
        wire(&records[8].rdata),
        (
            RecordType::HTTPS,
            b"\x00\x01\x00\x00\x01\x00\x06\x02h2\x02h3".to_vec()
        )
    );
    // \DDD is decimal in quoted and bare words alike.
    assert_eq!(records[9].rdata, records[6].rdata);
    assert_eq!(records[10].rdata, records[6].rdata);
    // A bare @ in a string is the character, as BIND reads it (NSD refuses it).
    assert_eq!(
        wire(&records[11].rdata),
        (RecordType::HINFO, b"\x08say \"hi\"\x01@".to_vec())
    );
}

/// The type and wire bytes of data kept as wire bytes.
fn wire(rdata: &RData) -> (RecordType, Vec<u8>) {
    match rdata {
        RData::Unknown { code, rdata } => (*code, rdata.anything.clone()),
        other => panic!("not kept as wire bytes: {other:?}"),
    }
}

#[test]
fn relative_names_in_rdata_get_the_origin() {
    let text = "$TTL 60
ns NS ns1
mx MX 10 mail
mx2 MX 20 mail.other.org.
mx3 MX 30 @
cn CNAME www
cn2 CNAME @
_sip._tcp SRV 0 5 5060 sipserver
ptr PTR Host.Sub
naptr NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp
svc SVCB 1 svc-target port=8443
dn DNAME other
soa SOA ns1.other.org. hostmaster 1 2 3 4 5
upper CNAME WWW.Example.NET.
";
    let records = ok(text);
    let expect_name = |rdata: &RData| -> Name {
        match rdata {
            RData::NS(NS(n)) | RData::CNAME(CNAME(n)) | RData::PTR(PTR(n)) => n.clone(),
            RData::MX(mx) => mx.exchange.clone(),
            RData::SRV(srv) => srv.target.clone(),
            RData::SOA(soa) => soa.rname.clone(),
            RData::Unknown { code, rdata } if *code == RecordType::DNAME => {
                Name::read(&mut BinDecoder::new(&rdata.anything)).unwrap()
            }
            // NAPTR's replacement follows 2 + 2 + 3 strings; SVCB's target its priority.
            RData::Unknown { code, rdata } if *code == RecordType::NAPTR => {
                let mut at = 4;
                for _ in 0..3 {
                    at += 1 + usize::from(rdata.anything[at]);
                }
                Name::read(&mut BinDecoder::new(&rdata.anything[at..])).unwrap()
            }
            RData::Unknown { code, rdata } if *code == RecordType::SVCB => {
                Name::read(&mut BinDecoder::new(&rdata.anything[2..])).unwrap()
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    let got: Vec<String> = records
        .iter()
        .map(|r| {
            let n = expect_name(&r.rdata);
            assert!(n.is_fqdn(), "{n:?}");
            n.to_ascii()
        })
        .collect();
    assert_eq!(
        got,
        [
            "ns1.example.com.",
            "mail.example.com.",
            "mail.other.org.",
            "example.com.",
            "www.example.com.",
            "example.com.",
            "sipserver.example.com.",
            "Host.Sub.example.com.",
            "_sip._udp.example.com.",
            "svc-target.example.com.",
            "other.example.com.",
            "hostmaster.example.com.",
            "WWW.Example.NET.",
        ]
    );
    let RData::MX(mx) = &records[1].rdata else {
        panic!()
    };
    assert_eq!(mx.preference, 10);
    let RData::SRV(srv) = &records[6].rdata else {
        panic!()
    };
    assert_eq!((srv.priority, srv.weight, srv.port), (0, 5, 5060));
    let RData::SOA(soa) = &records[11].rdata else {
        panic!()
    };
    assert_eq!(soa.mname.to_ascii(), "ns1.other.org.");
    // Case inside rdata names is kept too.
    let RData::CNAME(CNAME(upper)) = &records[12].rdata else {
        panic!()
    };
    assert!(upper.eq_case(&Name::from_labels(vec![&b"WWW"[..], b"Example", b"NET"]).unwrap()));
    // DNAME is hickory's wire-form Unknown with an uncompressed name.
    assert_eq!(
        records[10].rdata,
        RData::Unknown {
            code: RecordType::DNAME,
            rdata: NULL::with(b"\x05other\x07example\x03com\x00".to_vec())
        }
    );
}

#[test]
fn generic_dname_is_stored_like_text_dname() {
    let records = ok(
        "$TTL 60\na DNAME b.example.org.\nc TYPE39 \\# 15 01 62 07 6578616d706c65 03 6f7267 00\n",
    );
    assert_eq!(records[0].rdata, records[1].rdata);
}

#[test]
fn txt_strings_and_escapes() {
    let cases: &[(&str, &[&[u8]])] = &[
        (r#"TXT "hello world""#, &[b"hello world"]),
        (r#"TXT "a" "b c" d"#, &[b"a", b"b c", b"d"]),
        (r#"TXT "say \"hi\"""#, &[b"say \"hi\""]),
        (r#"TXT "back\\slash""#, &[b"back\\slash"]),
        (r#"TXT "\065\066C""#, &[b"ABC"]),
        (r#"TXT "\255\000""#, &[b"\xff\x00"]),
        (r#"TXT "semi;colon" ; comment"#, &[b"semi;colon"]),
        (r#"TXT """#, &[b""]),
        (r#"TXT "(not a paren)""#, &[b"(not a paren)"]),
        (r#"TXT unquoted\032word"#, &[b"unquoted word"]),
        (
            r#"TXT "v=spf1 include:_spf.example.net ~all""#,
            &[b"v=spf1 include:_spf.example.net ~all"],
        ),
        ("TXT \"caf\u{e9}\"", &["caf\u{e9}".as_bytes()]),
        ("TXT ( \"one\"\n  \"two\" )", &[b"one", b"two"]),
    ];
    for (rdata, want) in cases {
        let record = one(&format!("$TTL 60\nt {rdata}\n"));
        let want: Vec<Vec<u8>> = want.iter().map(|s| s.to_vec()).collect();
        assert_eq!(txt_strings(&record.rdata), want, "{rdata}");
    }
    let long = "x".repeat(255);
    let record = one(&format!("$TTL 60\nt TXT \"{long}\" {long}\n"));
    assert_eq!(txt_strings(&record.rdata).len(), 2);
}

#[test]
fn errors_inside_multiline_soa_name_the_bad_line() {
    let text = "$TTL 1h
@ IN SOA ns1 hostmaster (
        2024010101
        7200
        36x0
        1209600
        300 )
";
    assert_eq!(one_error(text).0, 5);
    // A bad name on a continuation line is reported there.
    let text = "$TTL 1h\n@ IN SOA ns1 (\n   host..master 1 2 3 4 5 )\n";
    let (line, message) = one_error(text);
    assert_eq!(line, 3);
    assert!(message.contains("empty label"), "{message}");
    // Wrong field count, too many: the first extra field.
    let text = "$TTL 1h\n@ SOA ns1 hm (\n 1 2 3 4 5\n 6 )\n";
    assert_eq!(one_error(text).0, 4);
    // hickory's own errors name the line the record starts on.
    let text = "$TTL 1h\n; x\n\nwww MX (\n  99999\n  mail )\n";
    let (line, message) = one_error(text);
    assert_eq!(line, 4);
    assert!(
        message.starts_with("bad MX record data \"99999 mail\": "),
        "{message}"
    );
    // Unclosed '(' names the line it opened on.
    let text = "$TTL 1h\n@ SOA ns1 hm (\n 1 2 3 4 5\n\nfoo A 192.0.2.1\n";
    let (line, message) = one_error(text);
    assert_eq!(line, 2);
    assert!(message.contains("never closed"), "{message}");
}

#[test]
fn caa_tags_are_letters_and_digits() {
    // Found by fuzz/ (zone target): a CAA tag `HIcFO"`, which DNS clients (and RFC 8659
    // §4.1: letters and digits) refuse, is refused here, naming the tag.
    let text = "$TTL 1h\ncaa CAA 0 HIcFO\" Na.example\"\n";
    let (line, message) = one_error(text);
    assert_eq!(line, 2);
    assert!(message.starts_with("bad CAA record data"), "{message}");
    assert!(message.contains("tag \"HIcFO"), "{message}");
    assert!(message.contains("letters and digits"), "{message}");
    // A valid tag still reads.
    let caa = one("$TTL 1h\ncaa CAA 0 issue \"ca.example\"\n");
    assert_eq!(caa.rdata.record_type(), RecordType::CAA);
}

#[test]
fn bad_address_and_number_fields_are_reported_with_file_and_line() {
    // (record, the whole message): A, AAAA, MX and SRV are built without hickory's text
    // parser when written plainly, and bad data still gets hickory's words.
    let cases: &[(&str, &str)] = &[
        (
            "www A 1.2.3",
            "bad A record data \"1.2.3\": network address parse error: invalid IPv4 address syntax",
        ),
        (
            "www A 01.2.3.4",
            "bad A record data \"01.2.3.4\": network address parse error: invalid IPv4 address syntax",
        ),
        (
            "www AAAA 1.2.3.4",
            "bad AAAA record data \"1.2.3.4\": network address parse error: invalid IPv6 address syntax",
        ),
        (
            "www AAAA 2001:db8:::1",
            "bad AAAA record data \"2001:db8:::1\": network address parse error: invalid IPv6 address syntax",
        ),
        (
            "www MX 65536 mail",
            "bad MX record data \"65536 mail\": error parsing number: number too large to fit in target type",
        ),
        (
            "www MX -1 mail",
            "bad MX record data \"-1 mail\": error parsing number: invalid digit found in string",
        ),
        (
            "www MX 99999 mail..x",
            "bad MX record data \"99999 mail..x\": bad name \"mail..x\": empty label",
        ),
        (
            "www SRV 10 60 70000 sip",
            "bad SRV record data \"10 60 70000 sip\": error parsing number: number too large to fit in target type",
        ),
        (
            "www SRV 10 x 5060 sip",
            "bad SRV record data \"10 x 5060 sip\": error parsing number: invalid digit found in string",
        ),
        (
            "www SRV 10 60 5060 sip..",
            "bad SRV record data \"10 60 5060 sip..\": bad name \"sip..\": empty label",
        ),
        (
            "www SRV 0 0 0 \"sip\"",
            "bad SRV record data \"0 0 0 \"sip\"\": bad name \"\"sip\"\": a domain name cannot be a quoted string",
        ),
    ];
    for (record, message) in cases {
        let errors = parse(&format!("$TTL 60\n; comment\n{record}\n")).unwrap_err();
        assert_eq!(errors.len(), 1, "{record}: {errors:#?}");
        assert_eq!(
            errors[0].to_string(),
            format!("zones/example.com.zone:3: {message}"),
            "{record}"
        );
    }
}

#[test]
fn plain_and_quoted_fields_read_the_same() {
    // A quoted or escaped field goes through hickory's text parser; the same data written
    // plainly is built directly: both must give the same record, names with their case.
    let pairs: &[(&str, &str)] = &[
        ("A 192.0.2.1", "A \"192.0.2.1\""),
        ("A 192.0.2.1", "A \\049\\057\\050.0.2.1"),
        ("AAAA 2001:DB8::1", "AAAA \"2001:db8::1\""),
        ("AAAA ::ffff:192.0.2.1", "AAAA \"::ffff:c000:201\""),
        ("MX 010 Mail.Example.NET.", "MX \"10\" Mail.Example.NET."),
        ("MX 10 Mail", "MX +10 Mail"),
        ("MX 65535 @", "MX \"65535\" @"),
        ("SRV 0 5 65535 Sip", "SRV \"0\" +5 \"65535\" Sip"),
        ("SRV 1 2 3 .", "SRV \"1\" \"2\" \"3\" ."),
        (
            "SOA Ns1 Host.Master 4294967295 3600 60 2147483647 0300",
            "SOA Ns1 Host.Master 4294967295 1h 1m 2147483647 5m",
        ),
    ];
    for (plain, other) in pairs {
        let a = one(&format!("$TTL 60\nwww {plain}\n"));
        let b = one(&format!("$TTL 60\nwww {other}\n"));
        assert_eq!(a.rdata, b.rdata, "{plain} / {other}");
        let names = |r: &RData| match r {
            RData::MX(mx) => vec![mx.exchange.clone()],
            RData::SRV(srv) => vec![srv.target.clone()],
            RData::SOA(soa) => vec![soa.mname.clone(), soa.rname.clone()],
            _ => vec![],
        };
        for (x, y) in names(&a.rdata).iter().zip(&names(&b.rdata)) {
            assert!(x.eq_case(y), "{plain} / {other}: {x} / {y}");
        }
    }
    let mx = one("$TTL 60\nwww MX 010 Mail\n");
    match mx.rdata {
        RData::MX(mx) => {
            assert_eq!(mx.preference, 10);
            assert!(mx.exchange.eq_case(&name("Mail.example.com.")));
        }
        other => panic!("not MX: {other:?}"),
    }
    let srv = one("$TTL 60\nwww SRV 1 2 3 Sip.Example.ORG.\n");
    match srv.rdata {
        RData::SRV(srv) => {
            assert_eq!((srv.priority, srv.weight, srv.port), (1, 2, 3));
            assert!(srv.target.eq_case(&name("Sip.Example.ORG.")));
        }
        other => panic!("not SRV: {other:?}"),
    }
}

#[test]
fn common_types_are_not_in_the_table() {
    // The common types skip the search of `types.rs`'s table: none may be in it.
    for (name, record_type) in super::COMMON {
        assert_eq!(super::types::code_of(name), None, "{name}");
        assert!(!super::types::knows(u16::from(record_type)), "{name}");
        assert_eq!(super::common_type(name), Some(u16::from(record_type)));
    }
}

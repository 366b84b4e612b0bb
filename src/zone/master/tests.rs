use super::reader::MAX_ERRORS;
use super::*;
use crate::zone::ZoneError;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, HTTPS, NS, NULL, PTR};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

const ZONE: &str = "zones/example.com.zone";

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn origin() -> Name {
    name("example.com.")
}

fn parse(text: &str) -> Result<Vec<SourceRecord>, Vec<ZoneError>> {
    parse_str(text, Path::new(ZONE), &origin())
}

fn ok(text: &str) -> Vec<SourceRecord> {
    match parse(text) {
        Ok(records) => records,
        Err(errors) => panic!("unexpected errors: {errors:#?}"),
    }
}

fn errors(text: &str) -> Vec<(usize, String)> {
    match parse(text) {
        Ok(records) => panic!("expected errors, got {records:#?}"),
        Err(errors) => errors.into_iter().map(|e| (e.line, e.message)).collect(),
    }
}

fn one_error(text: &str) -> (usize, String) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

fn one(text: &str) -> SourceRecord {
    let records = ok(text);
    assert_eq!(records.len(), 1, "{records:#?}");
    records.into_iter().next().unwrap()
}

fn txt_strings(rdata: &RData) -> Vec<Vec<u8>> {
    match rdata {
        RData::TXT(txt) => txt.txt_data.iter().map(|s| s.to_vec()).collect(),
        other => panic!("not TXT: {other:?}"),
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "meridian-master-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, relative: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SOA_ZONE: &str = "\
$TTL 1h
@   IN  SOA ns1 hostmaster (
        2024010101 ; serial
        7200       ; refresh
        3600       ; retry
        1209600    ; expire
        300 )      ; minimum
    IN  NS  ns1
    IN  NS  ns2.example.net.
ns1     A   192.0.2.1
www 300 A   192.0.2.2
";

#[test]
fn reads_records_in_order_with_lines() {
    let records = ok(SOA_ZONE);
    let summary: Vec<(String, RecordType, u32, usize)> = records
        .iter()
        .map(|r| (r.name.to_ascii(), r.rdata.record_type(), r.ttl, r.line))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("example.com.".to_string(), RecordType::SOA, 3600, 2),
            ("example.com.".to_string(), RecordType::NS, 3600, 8),
            ("example.com.".to_string(), RecordType::NS, 3600, 9),
            ("ns1.example.com.".to_string(), RecordType::A, 3600, 10),
            ("www.example.com.".to_string(), RecordType::A, 300, 11),
        ]
    );
    for record in &records {
        assert_eq!(&*record.file, Path::new(ZONE));
        assert!(record.name.is_fqdn());
    }
    let RData::SOA(soa) = &records[0].rdata else {
        panic!("not SOA")
    };
    assert_eq!(soa.mname, name("ns1.example.com."));
    assert_eq!(soa.rname, name("hostmaster.example.com."));
    assert!(soa.mname.is_fqdn() && soa.rname.is_fqdn());
    assert_eq!(
        (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
        (2024010101, 7200, 3600, 1209600, 300)
    );
    assert_eq!(records[1].rdata, RData::NS(NS(name("ns1.example.com."))));
    assert_eq!(records[2].rdata, RData::NS(NS(name("ns2.example.net."))));
    assert_eq!(records[4].rdata, RData::A(A(Ipv4Addr::new(192, 0, 2, 2))));
}

#[test]
fn comments_blank_lines_and_crlf() {
    let lf = "; header comment\n\n$TTL 60\n\nwww A 192.0.2.1 ; trailing\n   \n\
              \t; indented comment\nmail A 192.0.2.2";
    let crlf = lf.replace('\n', "\r\n");
    for text in [lf.to_string(), crlf] {
        let records = ok(&text);
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].line, records[1].line), (5, 8));
        assert_eq!(records[1].name, name("mail.example.com."));
        assert_eq!(records[1].rdata, RData::A(A(Ipv4Addr::new(192, 0, 2, 2))));
    }
}

#[test]
fn crlf_soa_in_parentheses() {
    let records = ok(&SOA_ZONE.replace('\n', "\r\n"));
    assert_eq!(records.len(), 5);
    assert_eq!(records[0].line, 2);
    assert_eq!(records[4].line, 11);
}

#[test]
fn byte_order_mark_is_skipped() {
    let record = one("\u{feff}$TTL 60\nwww A 192.0.2.1\n");
    assert_eq!(record.line, 2);
}

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
fn origin_directive() {
    let text = "$TTL 60
$ORIGIN sub
www A 192.0.2.1
@ A 192.0.2.2
$ORIGIN other.org.
www A 192.0.2.3
$origin deeper
x CNAME y
";
    let records = ok(text);
    let names: Vec<String> = records.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(
        names,
        [
            "www.sub.example.com.",
            "sub.example.com.",
            "www.other.org.",
            "x.deeper.other.org."
        ]
    );
    assert_eq!(
        records[3].rdata,
        RData::CNAME(CNAME(name("y.deeper.other.org.")))
    );
}

#[test]
fn ttl_defaults() {
    // (zone text, TTLs of its records)
    let cases: &[(&str, &[u32])] = &[
        // $TTL with units, explicit TTLs win.
        (
            "$TTL 1h30m\na A 192.0.2.1\nb 10 A 192.0.2.1\nc A 192.0.2.1\n",
            &[5400, 10, 5400],
        ),
        // No $TTL: the previous record's TTL (RFC 1035).
        (
            "a 20 A 192.0.2.1\nb A 192.0.2.1\nc 1w A 192.0.2.1\nd A 192.0.2.1\n",
            &[20, 20, 604800, 604800],
        ),
        // No $TTL, no earlier TTL: the SOA takes its minimum and passes it on.
        ("@ SOA ns hm 1 2 3 4 1d\nb A 192.0.2.1\n", &[86400, 86400]),
        // $TTL later overrides the previous-record rule.
        ("a 20 A 192.0.2.1\n$TTL 99\nb A 192.0.2.1\n", &[20, 99]),
        // TTL and class in either order, class in any case, CLASS1 is IN.
        (
            "a 30 IN A 192.0.2.1\nb IN 31 A 192.0.2.1\n\
             c in 32 a 192.0.2.1\nd CLASS1 33 A 192.0.2.1\n",
            &[30, 31, 32, 33],
        ),
        ("a 2147483647 A 192.0.2.1\n", &[2147483647]),
        ("$TTL 0\na A 192.0.2.1\n", &[0]),
    ];
    for (text, ttls) in cases {
        let got: Vec<u32> = ok(text).iter().map(|r| r.ttl).collect();
        assert_eq!(&got, ttls, "{text}");
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
    let RData::CAA(caa) = &records[6].rdata else {
        panic!("not CAA: {:?}", records[6].rdata)
    };
    assert_eq!(caa.tag, "issue");
    let RData::HINFO(hinfo) = &records[7].rdata else {
        panic!("not HINFO")
    };
    assert_eq!(&*hinfo.cpu, b"DEC 2060");
    assert_eq!(&*hinfo.os, b"TOPS20");
    let RData::HTTPS(HTTPS(svcb)) = &records[8].rdata else {
        panic!("not HTTPS")
    };
    assert_eq!(svcb.svc_priority, 1);
    assert_eq!(svcb.target_name, Name::root());
    assert_eq!(svcb.svc_params.len(), 1);
    // \DDD is decimal in quoted and bare words alike.
    assert_eq!(records[9].rdata, records[6].rdata);
    assert_eq!(records[10].rdata, records[6].rdata);
    let RData::HINFO(hinfo) = &records[11].rdata else {
        panic!("not HINFO")
    };
    assert_eq!(&*hinfo.cpu, b"say \"hi\"");
    assert_eq!(&*hinfo.os, b"example.com.", "a bare @ is the origin");
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
            RData::NAPTR(naptr) => naptr.replacement.clone(),
            RData::SVCB(svcb) => svcb.target_name.clone(),
            RData::SOA(soa) => soa.rname.clone(),
            RData::Unknown { code, rdata } if *code == RecordType::DNAME => {
                Name::read(&mut BinDecoder::new(&rdata.anything)).unwrap()
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
fn includes() {
    let dir = TempDir::new();
    let main = dir.write(
        "zones/main.zone",
        "$TTL 60
www A 192.0.2.1
$INCLUDE sub/hosts.inc
  A 192.0.2.9
$INCLUDE \"sub/hosts.inc\" other.org.
$INCLUDE sub/hosts.inc inner
after A 192.0.2.10
",
    );
    dir.write(
        "zones/sub/hosts.inc",
        "; included
host A 192.0.2.2
$ORIGIN changed.test.
leak A 192.0.2.3
",
    );
    let records = parse_file(&main, &origin()).unwrap();
    let got: Vec<(String, String, usize)> = records
        .iter()
        .map(|r| {
            (
                r.name.to_ascii(),
                r.file.file_name().unwrap().to_string_lossy().into_owned(),
                r.line,
            )
        })
        .collect();
    let s = |name: &str, file: &str, line| (name.to_string(), file.to_string(), line);
    assert_eq!(
        got,
        [
            s("www.example.com.", "main.zone", 2),
            s("host.example.com.", "hosts.inc", 2),
            s("leak.changed.test.", "hosts.inc", 4),
            // The included file's $ORIGIN does not leak back, nor does its owner.
            s("www.example.com.", "main.zone", 4),
            s("host.other.org.", "hosts.inc", 2),
            s("leak.changed.test.", "hosts.inc", 4),
            s("host.inner.example.com.", "hosts.inc", 2),
            s("leak.changed.test.", "hosts.inc", 4),
            s("after.example.com.", "main.zone", 7),
        ]
    );
    assert_eq!(
        &*records[1].file,
        dir.0.join("zones/sub/hosts.inc").as_path()
    );
}

#[test]
fn include_errors_name_the_included_file() {
    let dir = TempDir::new();
    let main = dir.write(
        "main.zone",
        "$TTL 60\n$INCLUDE bad.inc\nok A 192.0.2.1\n$INCLUDE missing.inc\n",
    );
    dir.write("bad.inc", "good A 192.0.2.1\n\n\nbad A 300.1.1.1\n");
    let errors = parse_file(&main, &origin()).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].file, dir.0.join("bad.inc"));
    assert_eq!(errors[0].line, 4);
    assert!(
        errors[0]
            .message
            .starts_with("bad A record data \"300.1.1.1\": "),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[1].file, main);
    assert_eq!(errors[1].line, 4);
    assert!(
        errors[1].message.contains("missing.inc"),
        "{}",
        errors[1].message
    );
}

#[test]
fn include_cycles_and_depth() {
    let dir = TempDir::new();
    let a = dir.write("a.zone", "$TTL 60\na A 192.0.2.1\n$INCLUDE b.zone\n");
    dir.write("b.zone", "b A 192.0.2.2\n\n$INCLUDE a.zone\n");
    let errors = parse_file(&a, &origin()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        (errors[0].file.clone(), errors[0].line),
        (dir.0.join("b.zone"), 3)
    );
    assert!(errors[0].message.contains("loop"), "{}", errors[0].message);

    let selfish = dir.write("self.zone", "$INCLUDE self.zone\n");
    let errors = parse_file(&selfish, &origin()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("loop"));

    // A chain of 20 files: the 17th nested $INCLUDE is refused.
    for i in 0..20 {
        dir.write(
            &format!("chain{i}.zone"),
            format!("$TTL 60\nc{i} A 192.0.2.1\n$INCLUDE chain{}.zone\n", i + 1),
        );
    }
    let errors = parse_file(&dir.0.join("chain0.zone"), &origin()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].file, dir.0.join("chain16.zone"));
    assert_eq!(errors[0].line, 3);
    assert!(
        errors[0].message.contains("nested"),
        "{}",
        errors[0].message
    );
}

#[test]
fn relative_include_from_parse_str_uses_path_directory() {
    let dir = TempDir::new();
    dir.write("inc/part.inc", "p A 192.0.2.1\n");
    let main = dir.0.join("inc/virtual.zone");
    let records = parse_str("$TTL 5\n$INCLUDE part.inc\n", &main, &origin()).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(&*records[0].file, dir.0.join("inc/part.inc").as_path());
}

#[test]
fn errors_with_lines() {
    // (zone text, line of the one error, text the message contains)
    let cases: &[(&str, usize, &str)] = &[
        (
            "$TTL 60\nwww A 300.1.1.1\n",
            2,
            "bad A record data \"300.1.1.1\": ",
        ),
        ("$TTL 60\n\n\nx AAAA 1.2.3.4\n", 4, "bad AAAA record data"),
        ("www A 192.0.2.1\n", 1, "no TTL and no $TTL"),
        ("$TTL 60\n  A 192.0.2.1\n", 2, "no previous owner"),
        (
            "$TTL 60\nwww CH A 192.0.2.1\n",
            2,
            "class CH is not supported",
        ),
        ("$TTL 60\nwww HS TXT x\n", 2, "class HS"),
        (
            "$TTL 60\nwww 2147483648 A 192.0.2.1\n",
            2,
            "above the maximum 2147483647",
        ),
        ("$TTL 4294967296\n", 1, "bad TTL"),
        ("$TTL 3000000000\n", 1, "above the maximum"),
        ("$TTL 60\nwww 1x A 192.0.2.1\n", 2, "bad TTL \"1x\""),
        ("$TTL 60\nwww 5 6 A 192.0.2.1\n", 2, "second TTL"),
        ("$TTL 60\nwww IN IN A 192.0.2.1\n", 2, "second class"),
        ("$TTL 60\nwww\n", 2, "missing record type"),
        ("$TTL 60\nwww 60 IN\n", 2, "missing record type"),
        ("$TTL 60\nwww FOO 1\n", 2, "unknown record type \"FOO\""),
        ("$TTL 60\nwww LOC 1\n", 2, "TYPEnnn"),
        ("$TTL 60\nwww ANY 1\n", 2, "class ANY"),
        ("$TTL 60\nwww IN ANY 1\n", 2, "query or meta type"),
        ("$TTL 60\nwww TYPE255 \\# 0\n", 2, "query or meta type"),
        ("$TTL 60\nwww TYPE41 \\# 0\n", 2, "query or meta type"),
        ("$TTL 60\nwww TYPE70000 \\# 0\n", 2, "unknown record type"),
        ("$TTL 60\nwww TYPE65400 abc\n", 2, "RFC 3597"),
        ("$TTL 60\nwww TYPE65400 \\# 2 abcdef\n", 2, "does not match"),
        (
            "$TTL 60\nwww TYPE65400 \\# 2 abc\n",
            2,
            "odd number of hex digits",
        ),
        ("$TTL 60\nwww TYPE65400 \\# 1 zz\n", 2, "not hex"),
        ("$TTL 60\nwww TYPE65400 \\#\n", 2, "length"),
        (
            "$TTL 60\nwww TYPE65400 \\# x\n",
            2,
            "bad generic data length",
        ),
        ("$TTL 60\nwww A \\# 3 010203\n", 2, "data is not valid A"),
        ("$TTL 60\nwww CNAME a b\n", 2, "expected 1 field, found 2"),
        ("$TTL 60\nwww MX 10\n", 2, "expected 2 fields, found 1"),
        (
            "$TTL 60\nwww MX x mail\n",
            2,
            "bad MX record data \"x mail\"",
        ),
        ("$TTL 60\nwww A\n", 2, "expected 1 field, found 0"),
        ("$TTL 60\nwww TXT\n", 2, "at least one string"),
        ("$TTL 60\nwww TXT \"\\300\"\n", 2, "above 255"),
        ("$TTL 60\nwww TXT \"\\12x\"\n", 2, "three digits"),
        ("$TTL 60\nwww NULL 00\n", 2, "bad NULL record data"),
        ("$TTL 60\nwww DS 1 2 3 abcd\n", 2, "bad DS record data"),
        ("$TTL 60\nwww CAA 0 issue \"\\200\"\n", 2, "not UTF-8"),
        ("$TTL 60\na..b A 192.0.2.1\n", 2, "empty label"),
        ("$TTL 60\na\\256 A 192.0.2.1\n", 2, "above 255"),
        ("$TTL 60\na\\1 A 192.0.2.1\n", 2, "three digits"),
        (
            "$TTL 60\nwww CNAME a..b\n",
            2,
            "bad name \"a..b\": empty label",
        ),
        ("$TTL 60\ncaf\u{e9} A 192.0.2.1\n", 2, "non-ASCII"),
        ("$TTL 60\n\"quoted\" A 192.0.2.1\n", 2, "quoted"),
        (
            "$GENERATE 1-10 host$ A 192.0.2.$\n",
            1,
            "unsupported directive $GENERATE",
        ),
        ("$FOO bar\n", 1, "$FOO"),
        ("$ORIGIN\n", 1, "$ORIGIN needs a value"),
        ("$ORIGIN a.\n\n b A 192.0.2.1\n", 3, "no previous owner"),
        ("$ORIGIN a. b.\n", 1, "takes one value"),
        ("$ORIGIN a..b\n", 1, "empty label"),
        ("$INCLUDE\n", 1, "$INCLUDE takes"),
        (
            "$INCLUDE /nonexistent/meridian/x.inc\n",
            1,
            "cannot read included file",
        ),
        (
            "$TTL 60\nwww TXT \"open\nnext A 192.0.2.1\n",
            2,
            "not closed",
        ),
        ("$TTL 60\nwww A 192.0.2.1 )\n", 2, "')' without"),
        ("$TTL 60\n\nwww TXT ( a\n ( b )\n", 4, "nested"),
    ];
    for (text, line, needle) in cases {
        let errors = errors(text);
        assert_eq!(errors.len(), 1, "{text:?}: {errors:#?}");
        let (got_line, message) = &errors[0];
        assert_eq!(got_line, line, "{text:?}: {message}");
        assert!(
            message.contains(needle),
            "{text:?}: {message:?} lacks {needle:?}"
        );
    }
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
fn collects_all_errors_and_keeps_going() {
    let text = "$TTL 60
a A 192.0.2.1
b A 300.0.0.1
c A 192.0.2.3
d BOGUS 1
  A 192.0.2.5
e A 192.0.2.6 extra
";
    let errors = errors(text);
    let lines: Vec<usize> = errors.iter().map(|e| e.0).collect();
    assert_eq!(lines, [3, 5, 7], "{errors:#?}");
}

#[test]
fn bad_owner_does_not_cascade_to_continuation_lines() {
    let text = "$TTL 60\na..b A 192.0.2.1\n  A 192.0.2.2\n  A 300.0.0.0\n";
    let errors = errors(text);
    let lines: Vec<usize> = errors.iter().map(|e| e.0).collect();
    assert_eq!(lines, [2, 4], "{errors:#?}");
}

#[test]
fn stops_after_too_many_errors() {
    let text: String = (0..150).map(|i| format!("h{i} 60 A 999.0.0.1\n")).collect();
    let errors = errors(&text);
    assert_eq!(errors.len(), MAX_ERRORS + 1);
    assert!(errors.last().unwrap().1.contains("too many errors"));
    assert_eq!(errors[MAX_ERRORS - 1].0, MAX_ERRORS);
}

#[test]
fn error_display_and_file() {
    let errors = parse("$TTL 60\n\n\n\n\n\n\n\n\n\n\nwww A 300.1.1.1\n").unwrap_err();
    let shown = errors[0].to_string();
    assert!(
        shown.starts_with("zones/example.com.zone:12: bad A record data \"300.1.1.1\": "),
        "{shown}"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(errors[0].clone());
    assert_eq!(boxed.to_string(), shown);
}

#[test]
fn parse_file_reports_unreadable_and_non_utf8_files() {
    let dir = TempDir::new();
    let missing = dir.0.join("missing.zone");
    let errors = parse_file(&missing, &origin()).unwrap_err();
    assert_eq!((errors.len(), errors[0].line), (1, 0));
    assert_eq!(errors[0].file, missing);

    let latin1 = dir.write(
        "latin1.zone",
        b"$TTL 60\nok A 192.0.2.1\nt TXT \"caf\xe9\"\n",
    );
    let errors = parse_file(&latin1, &origin()).unwrap_err();
    assert_eq!(errors[0].line, 3);
    assert!(errors[0].message.contains("UTF-8"));

    // The same in an included file names that file.
    let main = dir.write("main.zone", "$INCLUDE latin1.zone\n");
    let errors = parse_file(&main, &origin()).unwrap_err();
    assert_eq!((errors[0].file.clone(), errors[0].line), (latin1, 3));
}

/// Small deterministic PRNG (xorshift) for the no-panic tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

const RICH_ZONE: &str = "$TTL 1h30m
$ORIGIN example.com.
@ IN SOA ns1 hostmaster ( 1 2 3 4 5 ) ; c
  IN NS ns1
  IN MX 10 mail
www 300 IN A 192.0.2.1
_sip._tcp SRV 0 5 5060 sip
t TXT \"a \\\"b\\\" \\065\" c ( d
  e )
h HTTPS 1 . alpn=\"h2\"
n NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp
g TYPE65400 \\# 2 abcd
d DNAME x
c CAA 0 issue \"ca.example\"
";

#[test]
fn never_panics_on_junk() {
    let path = Path::new("/nonexistent/meridian/fuzz.zone");
    // Every prefix of a rich zone, cut at every char boundary.
    for (i, _) in RICH_ZONE.char_indices() {
        let _ = parse_str(&RICH_ZONE[..i], path, &origin());
    }
    // Random text built from the characters that matter to the reader.
    let pieces: &[&str] = &[
        " ",
        " ",
        "\t",
        "\n",
        "\n",
        "\r\n",
        "\r",
        ";",
        "(",
        ")",
        "\"",
        "\\",
        "\\0",
        "\\255",
        "@",
        "$",
        "$TTL",
        "$ORIGIN",
        "$INCLUDE",
        ".",
        "..",
        "a",
        "Www",
        "*",
        "1",
        "65535",
        "4294967296",
        "1h",
        "IN",
        "CH",
        "A",
        "AAAA",
        "NS",
        "MX",
        "SOA",
        "TXT",
        "SRV",
        "CNAME",
        "DNAME",
        "PTR",
        "NAPTR",
        "SVCB",
        "HTTPS",
        "CAA",
        "HINFO",
        "SSHFP",
        "TLSA",
        "CSYNC",
        "OPENPGPKEY",
        "CERT",
        "NULL",
        "TYPE65400",
        "TYPE0",
        "\\#",
        "0",
        "4",
        "ab",
        "zz",
        "192.0.2.1",
        "::1",
        "alpn=h2",
        "=",
        ",",
        "\u{e9}",
        "\u{0}",
        "\u{7f}",
        "\u{feff}",
        "xn--",
        "\\.",
        "ns1.",
        "key65535=\"",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let count = (rng.next() % 40) as usize;
        let text: String = (0..count).map(|_| *rng.pick(pieces)).collect();
        let _ = parse_str(&text, path, &origin());
    }
    // Random generic data for every type hickory decodes.
    let types = [
        "A",
        "AAAA",
        "NS",
        "CNAME",
        "SOA",
        "MX",
        "TXT",
        "SRV",
        "NAPTR",
        "SVCB",
        "HTTPS",
        "CAA",
        "HINFO",
        "SSHFP",
        "TLSA",
        "CSYNC",
        "OPENPGPKEY",
        "CERT",
        "NULL",
        "PTR",
        "ANAME",
        "DNAME",
        "SMIMEA",
        "TYPE65400",
        "DS",
        "DNSKEY",
        "RRSIG",
        "NSEC",
        "NSEC3",
        "KEY",
        "SIG",
    ];
    for _ in 0..4000 {
        let len = (rng.next() % 24) as usize;
        let hex: String = (0..len)
            .map(|_| format!("{:02x}", rng.next() as u8))
            .collect();
        let record_type = rng.pick(&types);
        let text = format!("$TTL 1\nx {record_type} \\# {len} {hex}\n");
        let _ = parse_str(&text, path, &origin());
    }
    // Random text rdata for every type hickory parses.
    let words = [
        "0",
        "1",
        "255",
        "65536",
        "-1",
        "issue",
        "iodef",
        "\"\"",
        "\"x y\"",
        "a",
        ".",
        "@",
        "ff",
        "alpn=h2",
        "mandatory=alpn",
        "ipv4hint=1.2.3.4",
        "port=x",
        "ech=AAA",
        "key65535",
        "\\#",
        "http://x",
        "A",
        "NS",
        "dGVzdA==",
        "2001:db8::",
        "1.2.3.4",
    ];
    for _ in 0..4000 {
        let record_type = rng.pick(&types);
        let count = (rng.next() % 8) as usize;
        let rdata: Vec<&str> = (0..count).map(|_| *rng.pick(&words)).collect();
        let text = format!("$TTL 1\nx {record_type} {}\n", rdata.join(" "));
        let _ = parse_str(&text, path, &origin());
    }
}

//! Reader tests as a whole: the helpers and fixtures the per-file tests share, the
//! table of one-error inputs (any stage) and the no-panic fuzzing.

use super::*;

pub(super) const ZONE: &str = "zones/example.com.zone";

pub(super) fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

pub(super) fn origin() -> Name {
    name("example.com.")
}

pub(super) fn parse(text: &str) -> Result<Vec<SourceRecord>, Vec<ZoneError>> {
    parse_str(text, Path::new(ZONE), &origin())
}

pub(super) fn ok(text: &str) -> Vec<SourceRecord> {
    match parse(text) {
        Ok(records) => records,
        Err(errors) => panic!("unexpected errors: {errors:#?}"),
    }
}

pub(super) fn errors(text: &str) -> Vec<(usize, String)> {
    match parse(text) {
        Ok(records) => panic!("expected errors, got {records:#?}"),
        Err(errors) => errors.into_iter().map(|e| (e.line, e.message)).collect(),
    }
}

pub(super) fn one_error(text: &str) -> (usize, String) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

pub(super) fn one(text: &str) -> SourceRecord {
    let records = ok(text);
    assert_eq!(records.len(), 1, "{records:#?}");
    records.into_iter().next().unwrap()
}

pub(super) const SOA_ZONE: &str = "\
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
        ("$TTL 60\nwww TYPE65300 1\n", 2, "RFC 3597 generic data"),
        (
            "$TTL 60\nwww LOC 1\n",
            2,
            "bad LOC record data \"1\": missing latitude hemisphere",
        ),
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
        (
            "$TTL 60\nwww DS 1 2 3 abcx\n",
            2,
            "bad DS record data \"1 2 3 abcx\": digest \"abcx\": is not hex",
        ),
        ("$TTL 60\nwww A \"\\200\"\n", 2, "not UTF-8"),
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
        ("$FOO bar\n", 1, "unsupported directive $FOO"),
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
        "$GENERATE ",
        "1-3 ",
        "${",
        "${-1,3,n}",
        "}",
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
        "RP",
        "LOC",
        "APL",
        "EUI48",
        "URI",
        "IPSECKEY",
        "ZONEMD",
        "NSEC3PARAM",
        "CDS",
        "GPOS",
        "NSAP",
        "L64",
        "MINFO",
        "ISDN",
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
        "N",
        "W",
        "-24m",
        "42.5",
        "1:192.0.2.0/24",
        "!2:2001:db8::/32",
        "00-00-5e-00-53-2a",
        "0014:4fff:ff20:ee64",
        "20030322173103",
        "aabbccdd",
        "-",
        "2t7b4g4v",
        "0x47.0005",
        "dohpath=/q{?dns}",
        "ohttp",
        "no-default-alpn",
        "key7=\\001",
        "(",
        ")",
    ];
    for _ in 0..4000 {
        let record_type = rng.pick(&types);
        let count = (rng.next() % 8) as usize;
        let rdata: Vec<&str> = (0..count).map(|_| *rng.pick(&words)).collect();
        let text = format!("$TTL 1\nx {record_type} {}\n", rdata.join(" "));
        let _ = parse_str(&text, path, &origin());
    }
}

//! Every type of the table, from RFC example presentation values to the wire bytes
//! that RFC's layout gives (written out by hand here), and bad values' errors naming
//! the line and the field. Helpers and fixtures are in `master/tests.rs`.

use crate::zone::master::tests::*;
use hickory_proto::rr::{RData, RecordType};

/// The type number and wire bytes of one record written as `x <rdata>`.
fn wire(rdata: &str) -> (u16, Vec<u8>) {
    let record = one(&format!("$TTL 60\nx {rdata}\n"));
    match record.rdata {
        RData::Unknown { code, rdata } => (u16::from(code), rdata.anything),
        other => panic!("{rdata}: not kept as wire bytes: {other:?}"),
    }
}

/// Wire form of a dotted absolute name, by hand: length-prefixed labels and a 0.
fn dn(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
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

/// Bytes from hex digits (spaces ignored), by hand.
fn h(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| (b as char).to_digit(16).unwrap() as u8)
        .collect();
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// A `<character-string>`: length byte and bytes.
fn cs(text: &str) -> Vec<u8> {
    let mut out = vec![text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn check(cases: &[(&str, u16, Vec<u8>)]) {
    for (rdata, code, want) in cases {
        let (got_code, got) = wire(rdata);
        assert_eq!(got_code, *code, "{rdata}");
        assert_eq!(got, *want, "{rdata}:\n got {got:02x?}\nwant {want:02x?}");
    }
}

#[test]
fn rfc_1035_and_1183_types() {
    check(&[
        ("MD md.example.net.", 3, dn("md.example.net")),
        ("MF mf.example.net.", 4, dn("mf.example.net")),
        ("MB Mail.Example.NET.", 7, dn("Mail.Example.NET")),
        ("MG mg", 8, dn("mg.example.com")),
        ("MR @", 9, dn("example.com")),
        (
            "MINFO rm.example.net. em.example.net.",
            14,
            cat(&[&dn("rm.example.net"), &dn("em.example.net")]),
        ),
        (
            "HINFO \"DEC 2060\" TOPS20",
            13,
            cat(&[&cs("DEC 2060"), &cs("TOPS20")]),
        ),
        // RFC 1183 §2.2, §1, §3.1, §3.2, §3.3.
        (
            "RP louie.trantor.umd.edu. LAM1.people.umd.edu.",
            17,
            cat(&[&dn("louie.trantor.umd.edu"), &dn("LAM1.people.umd.edu")]),
        ),
        ("RP . .", 17, vec![0, 0]),
        (
            "AFSDB 1 bigbird.toaster.com.",
            18,
            cat(&[&[0, 1], &dn("bigbird.toaster.com")]),
        ),
        ("X25 311061700956", 19, cs("311061700956")),
        (
            "ISDN 150862028003217 004",
            20,
            cat(&[&cs("150862028003217"), &cs("004")]),
        ),
        ("ISDN \"150862028003217\"", 20, cs("150862028003217")),
        (
            "RT 2 Relay.Prime.COM.",
            21,
            cat(&[&[0, 2], &dn("Relay.Prime.COM")]),
        ),
        // RFC 1706 §6.
        (
            "NSAP 0x47.0005.80.005a00.0000.0001.e133.ffffff000161.00",
            22,
            h("47 0005 80 005a00 0000 0001 e133 ffffff000161 00"),
        ),
        ("NSAP-PTR host.example.net.", 23, dn("host.example.net")),
        // RFC 2163 §4.
        (
            "PX 10 net2.it. PRMD-net2.ADMD-p400.C-it.",
            26,
            cat(&[&[0, 10], &dn("net2.it"), &dn("PRMD-net2.ADMD-p400.C-it")]),
        ),
        // RFC 1712 §4.
        (
            "GPOS -32.6882 116.8652 10.0",
            27,
            cat(&[&cs("-32.6882"), &cs("116.8652"), &cs("10.0")]),
        ),
        // RFC 2230 §3.
        (
            "KX 10 kx.example.net.",
            36,
            cat(&[&[0, 10], &dn("kx.example.net")]),
        ),
    ]);
}

#[test]
fn loc() {
    let equator = 1u32 << 31;
    let loc = |sizes: [u8; 3], lat: u32, lon: u32, alt: u32| -> Vec<u8> {
        cat(&[
            &[0],
            &sizes,
            &lat.to_be_bytes(),
            &lon.to_be_bytes(),
            &alt.to_be_bytes(),
        ])
    };
    // RFC 1876 §4's examples. Latitude and longitude are thousandths of an arc second
    // from 2^31; altitude centimetres above 100 km below the reference; sizes and
    // precisions mantissa << 4 | exponent of centimetres (defaults 1 m, 10 km, 10 m).
    let cambridge_lat = equator + ((42 * 60 + 21) * 60 + 54) * 1000;
    let cambridge_lon = equator - ((71 * 60 + 6) * 60 + 18) * 1000;
    check(&[
        (
            "LOC 42 21 54 N 71 06 18 W -24m 30m",
            29,
            loc(
                [0x33, 0x16, 0x13],
                cambridge_lat,
                cambridge_lon,
                10_000_000 - 2400,
            ),
        ),
        (
            "LOC 42 21 43.952 N 71 5 6.344 W -24m 1m 200m",
            29,
            loc(
                [0x12, 0x24, 0x13],
                equator + (42 * 3600 + 21 * 60 + 43) * 1000 + 952,
                equator - ((71 * 3600 + 5 * 60 + 6) * 1000 + 344),
                10_000_000 - 2400,
            ),
        ),
        (
            "LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
            29,
            loc(
                [0x00, 0x16, 0x13],
                equator + (52 * 3600 + 22 * 60 + 23) * 1000,
                equator + (4 * 3600 + 53 * 60 + 32) * 1000,
                10_000_000 - 200,
            ),
        ),
        // Degrees alone, southern and eastern hemispheres, altitude without "m".
        (
            "LOC 90 S 180 E 0",
            29,
            loc(
                [0x12, 0x16, 0x13],
                equator - 90 * 3_600_000,
                equator + 180 * 3_600_000,
                10_000_000,
            ),
        ),
    ]);
}

#[test]
fn apl() {
    // RFC 3123 §8's examples.
    check(&[
        (
            "APL 1:192.168.32.0/21 !1:192.168.38.0/28",
            42,
            h("0001 15 03 c0a820  0001 1c 83 c0a826"),
        ),
        (
            "APL 1:224.0.0.0/4 2:FF00:0:0:0:0:0:0:0/8",
            42,
            h("0001 04 01 e0  0002 08 01 ff"),
        ),
        ("APL 1:0.0.0.0/0", 42, h("0001 00 00")),
        ("APL", 42, vec![]),
    ]);
}

#[test]
fn dnssec_types() {
    check(&[
        // RFC 4034 §5.4.
        (
            "DS 60485 5 1 ( 2BB183AF5F22588179A53B0A98631FAD1A292118 )",
            43,
            h("ec45 05 01 2BB183AF5F22588179A53B0A98631FAD1A292118"),
        ),
        // Hex split by spaces, an algorithm mnemonic.
        (
            "DS 1 RSASHA256 1 ( 0123 4567 89ab cdef 0123456789abcdef 01234567 )",
            43,
            h("0001 08 01 0123456789abcdef 0123456789abcdef 01234567"),
        ),
        ("CDS 0 0 0 00", 59, h("0000 00 00 00")),
        // Digest types without a known length take any.
        ("DLV 1 8 200 abcd", 32769, h("0001 08 c8 abcd")),
        // Base64 (RFC 4648) of 00 01 02 03 04 is AAECAwQ=.
        (
            "DNSKEY 257 3 ED25519 AAECAwQ=",
            48,
            h("0101 03 0f 0001020304"),
        ),
        (
            "DNSKEY 256 3 8 ( AAEC\n AwQ= )",
            48,
            h("0100 03 08 0001020304"),
        ),
        ("CDNSKEY 0 3 0 AA==", 60, h("0000 03 00 00")),
        // RFC 2535 §3.1.2: with the NOKEY bits set the key may be absent.
        ("KEY 49152 3 RSASHA256", 25, h("c000 03 08")),
        // RFC 4034 §3.3, with a short signature; times are seconds since 1970 UTC
        // (2003-03-22 17:31:03 is 1048354263, 2003-02-20 17:31:03 is 1045762263).
        (
            "RRSIG A 5 3 86400 20030322173103 ( 20030220173103 2642 example.com. AAECAwQ= )",
            46,
            cat(&[
                &h("0001 05 03 00015180"),
                &1_048_354_263u32.to_be_bytes(),
                &1_045_762_263u32.to_be_bytes(),
                &h("0a52"),
                &dn("example.com"),
                &h("0001020304"),
            ]),
        ),
        (
            "RRSIG TYPE65280 ECDSAP256SHA256 2 60 1048354263 1045762263 1 . AA==",
            46,
            cat(&[
                &h("ff00 0d 02 0000003c"),
                &1_048_354_263u32.to_be_bytes(),
                &1_045_762_263u32.to_be_bytes(),
                &h("0001 00 00"),
            ]),
        ),
        // 2106-02-07 06:28:16 is 2^32 seconds: RFC 4034 §3.1.5's arithmetic wraps.
        (
            "SIG A 5 3 86400 21060207062816 21060207062815 1 . AA==",
            24,
            h("0001 05 03 00015180 00000000 ffffffff 0001 00 00"),
        ),
        // RFC 4034 §4.3.
        (
            "NSEC host.example.com. ( A MX RRSIG NSEC TYPE1234 )",
            47,
            cat(&[
                &dn("host.example.com"),
                &h("0006 40 01 00 00 00 03"),
                &h("041b 00000000 00000000 00000000 00000000 00000000 00000000 000020"),
            ]),
        ),
        ("NSEC . ", 47, vec![0]),
        // RFC 5155 Appendix A (NS SOA MX RRSIG DNSKEY NSEC3PARAM: types 2 6 15 46 48 51).
        (
            "NSEC3 1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM )",
            50,
            cat(&[
                &h("01 01 000c 04 aabbccdd"),
                &h("14 174eb2409fe28bcb4887a1836f957f0a8425e27b"),
                &h("0007 22 01 00 00 00 02 90"),
            ]),
        ),
        (
            "NSEC3PARAM 1 0 12 aabbccdd",
            51,
            h("01 00 000c 04 aabbccdd"),
        ),
        ("NSEC3PARAM 1 0 0 -", 51, h("01 00 0000 00")),
        // RFC 4701 §3.3's layout, with a short digest.
        ("DHCID AAECAwQ=", 49, h("0001020304")),
        ("OPENPGPKEY ( AAEC AwQ= )", 61, h("0001020304")),
        // RFC 4398 §2.1 mnemonics.
        ("CERT PGP 0 0 AAECAwQ=", 37, h("0003 0000 00 0001020304")),
        (
            "CERT 1 12345 RSASHA256 ( AAEC AwQ= )",
            37,
            h("0001 3039 08 0001020304"),
        ),
    ]);
}

#[test]
fn newer_types() {
    let digest = "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c";
    check(&[
        // RFC 6698 §2.3.
        (
            "TLSA 0 0 1 d2abde240d7cd3ee6b4b28c54df034b9 7983a1d16e8a410e4561cb106618e971",
            52,
            h("00 00 01 d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971"),
        ),
        ("SMIMEA 3 0 0 ( 0102 0304 )", 53, h("03 00 00 01020304")),
        // RFC 4255 §3.3.
        (
            "SSHFP 2 1 123456789abcdef67890123456789abcdef67890",
            44,
            h("02 01 123456789abcdef67890123456789abcdef67890"),
        ),
        // RFC 8659 §4.5; a flag of 128 and an unknown tag.
        (
            "CAA 0 issue \"ca.example.net; account=230123\"",
            257,
            cat(&[&[0], &cs("issue"), b"ca.example.net; account=230123"]),
        ),
        (
            "CAA 128 tbs \"Unknown\"",
            257,
            cat(&[&[128], &cs("tbs"), b"Unknown"]),
        ),
        ("CAA 0 issue \";\"", 257, cat(&[&[0], &cs("issue"), b";"])),
        // RFC 3403 §6.2, regexp escapes decoded once.
        (
            r#"NAPTR 100 10 "" "" "!^urn:cid:.+@([^\\.]+\\.)(.*)$!\\2!i" ."#,
            35,
            cat(&[
                &h("0064 000a 00 00"),
                &cs(r"!^urn:cid:.+@([^\.]+\.)(.*)$!\2!i"),
                &[0],
            ]),
        ),
        (
            "NAPTR 100 50 \"s\" \"http+I2L+I2C+I2R\" \"\" _http._tcp.gatech.edu.",
            35,
            cat(&[
                &h("0064 0032"),
                &cs("s"),
                &cs("http+I2L+I2C+I2R"),
                &cs(""),
                &dn("_http._tcp.gatech.edu"),
            ]),
        ),
        // RFC 7477 §2.1.1 (A NS AAAA: types 1 2 28).
        (
            "CSYNC 66 3 A NS AAAA",
            62,
            h("00000042 0003 0004 60 00 00 08"),
        ),
        // RFC 8976 Appendix A.1.
        (
            "ZONEMD 2018031900 1 1 ( c68090d90a7aed71 6bc459f9340e3d7c 1370d4d24b7e2fc3 a1ddc0b9a87153b9 a9713b3c9ae5cc27 777f98b8e730044c )",
            63,
            cat(&[&2_018_031_900u32.to_be_bytes(), &[1, 1], &h(digest)]),
        ),
        ("SPF \"v=spf1 -all\"", 99, cs("v=spf1 -all")),
        ("SPF a \"b c\"", 99, cat(&[&cs("a"), &cs("b c")])),
        ("AVC \"app-name:WOMBAT\"", 258, cs("app-name:WOMBAT")),
        // RFC 6742 §2.1.2, §2.2.2, §2.3.2, §2.4.2.
        (
            "NID 10 0014:4fff:ff20:ee64",
            104,
            h("000a 00144fffff20ee64"),
        ),
        ("L32 10 10.1.2.0", 105, h("000a 0a010200")),
        (
            "L64 10 2001:0DB8:1140:1000",
            106,
            h("000a 20010db811401000"),
        ),
        (
            "LP 10 l64-subnet1.example.com.",
            107,
            cat(&[&h("000a"), &dn("l64-subnet1.example.com")]),
        ),
        // RFC 7043 §3.2, §4.2.
        ("EUI48 00-00-5e-00-53-2a", 108, h("00005e00532a")),
        ("EUI64 00-00-5E-EF-10-00-00-2A", 109, h("00005eef1000002a")),
        // RFC 7553 §4.5.
        (
            "URI 10 1 \"ftp://ftp1.example.com/public\"",
            256,
            cat(&[&h("000a 0001"), b"ftp://ftp1.example.com/public"]),
        ),
        // RFC 4025 §3.3's examples, with a short key.
        (
            "IPSECKEY ( 10 1 2 192.0.2.38 AAECAwQ= )",
            45,
            h("0a 01 02 c0000226 0001020304"),
        ),
        ("IPSECKEY 10 0 2 . AAECAwQ=", 45, h("0a 00 02 0001020304")),
        (
            "IPSECKEY 10 3 2 mygateway.example.com. AAECAwQ=",
            45,
            cat(&[
                &h("0a 03 02"),
                &dn("mygateway.example.com"),
                &h("0001020304"),
            ]),
        ),
        (
            "IPSECKEY 10 2 2 2001:0DB8:0:8002::2000:1 AAECAwQ=",
            45,
            h("0a 02 02 20010db8000080020000000020000001 0001020304"),
        ),
        ("IPSECKEY 10 0 2 .", 45, h("0a 00 02")),
    ]);
}

#[test]
fn svcb_and_https() {
    let foo = dn("foo.example.com");
    let foo_org = dn("foo.example.org");
    check(&[
        // RFC 9460 Appendix D.1 and D.2.
        ("HTTPS 0 foo.example.com.", 65, cat(&[&[0, 0], &foo])),
        ("SVCB 1 .", 64, h("0001 00")),
        (
            "SVCB 16 foo.example.com. port=53",
            64,
            cat(&[&[0, 16], &foo, &h("0003 0002 0035")]),
        ),
        (
            "SVCB 1 foo.example.com. key667=hello",
            64,
            cat(&[&[0, 1], &foo, &h("029b 0005"), b"hello"]),
        ),
        (
            r#"SVCB 1 foo.example.com. key667="hello\210qoo""#,
            64,
            cat(&[&[0, 1], &foo, &h("029b 0009"), b"hello\xd2qoo"]),
        ),
        (
            r#"SVCB 1 foo.example.com. ( ipv6hint="2001:db8::1,2001:db8::53:1" )"#,
            64,
            cat(&[
                &[0, 1],
                &foo,
                &h("0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001"),
            ]),
        ),
        (
            "SVCB 1 example.com. ( ipv6hint=\"2001:db8:122:344::192.0.2.33\" )",
            64,
            cat(&[
                &[0, 1],
                &dn("example.com"),
                &h("0006 0010 20010db80122034400000000c0000221"),
            ]),
        ),
        // Keys written out of order are sent in order; so are mandatory's keys.
        (
            "SVCB 16 foo.example.org. ( alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1 )",
            64,
            cat(&[
                &[0, 16],
                &foo_org,
                &h("0000 0004 0001 0004"),
                &h("0001 0009 02 6832 05 68332d3139"),
                &h("0004 0004 c0000201"),
            ]),
        ),
        // Appendix D.2's escaped value-lists: a comma and a backslash inside an item.
        (
            r#"SVCB 16 foo.example.org. alpn="f\\\\oo\\,bar,h2""#,
            64,
            cat(&[
                &[0, 16],
                &foo_org,
                &h("0001 000c 08 665c6f6f2c626172 02 6832"),
            ]),
        ),
        (
            r#"SVCB 16 foo.example.org. alpn=f\\\092oo\092,bar,h2"#,
            64,
            cat(&[
                &[0, 16],
                &foo_org,
                &h("0001 000c 08 665c6f6f2c626172 02 6832"),
            ]),
        ),
        // RFC 9461 §5 (dohpath), RFC 9540 §4 (ohttp, no value).
        (
            "SVCB 1 doh.example.net. alpn=h2 dohpath=/dns-query{?dns} ohttp",
            64,
            cat(&[
                &[0, 1],
                &dn("doh.example.net"),
                &h("0001 0003 02 6832"),
                &h("0007 0010"),
                b"/dns-query{?dns}",
                &h("0008 0000"),
            ]),
        ),
        (
            "HTTPS 1 . alpn=h3 no-default-alpn port=8443 ech=AAECAwQ= ipv4hint=192.0.2.1,192.0.2.2",
            65,
            h(
                "0001 00  0001 0003 02 6833  0002 0000  0003 0002 20fb  0004 0008 c0000201 c0000202  0005 0005 0001020304",
            ),
        ),
        // keyNNNNN: any key, its value the wire form, none at all allowed.
        (
            "HTTPS 1 . key65333 key3=\\001\\187",
            65,
            h("0001 00 0003 0002 01bb ff35 0000"),
        ),
    ]);
}

#[test]
fn generic_data_of_table_types_is_checked_and_kept() {
    // The same record as text and as RFC 3597 generic data.
    let pairs = [
        ("RP a. .", "TYPE17 \\# 4 01610000"),
        ("EUI48 00-00-5e-00-53-2a", "EUI48 \\# 6 00005e00532a"),
        ("DS 1 8 200 abcd", "DS \\# 6 0001 08c8 abcd"),
        ("CAA 0 issue \"x\"", "CAA \\# 8 0005 6973737565 78"),
        ("SVCB 1 . port=53", "SVCB \\# 9 0001 00 0003 0002 0035"),
        ("HINFO a b", "HINFO \\# 4 01 61 01 62"),
        (
            "LOC 90 S 180 E 0",
            "LOC \\# 16 00121613 6cb02700 a69fb200 00989680",
        ),
    ];
    for (text, generic) in pairs {
        assert_eq!(wire(text), wire(generic), "{text} / {generic}");
    }
    // Data the type's layout cannot hold.
    let cases = [
        ("RP \\# 3 c00c00", "compression pointer"),
        ("DS \\# 2 0001", "ends too soon"),
        (
            "DS \\# 6 0001 0802 abcd",
            "digest of 2 bytes, but digest type 2 (SHA-256) has 32",
        ),
        ("EUI48 \\# 7 00005e00532a00", "left over"),
        ("CAA \\# 4 0001 2178", "letters and digits"),
        (
            "SVCB \\# 11 0001 00 0003 0000 0001 0000",
            "increasing order",
        ),
        (
            "LOC \\# 16 01121613 00000000 cdfe6000 00989680",
            "version 0",
        ),
    ];
    for (rdata, needle) in cases {
        let (line, message) = one_error(&format!("$TTL 60\nx {rdata}\n"));
        assert_eq!(line, 2, "{rdata}");
        assert!(message.contains(needle), "{rdata}: {message}");
    }
}

#[test]
fn bad_values_name_the_line_and_the_field() {
    // (record data, line of the error, what the message must say)
    let cases: &[(&str, usize, &str)] = &[
        (
            "DS 1 2 3",
            2,
            "bad DS record data \"1 2 3\": missing digest",
        ),
        ("DS 70000 8 2 ab", 2, "key tag \"70000\": is above 65535"),
        (
            "DS 1 8 2 ( abcd\n abcd )",
            2,
            "digest of 4 bytes, but digest type 2 (SHA-256) has 32",
        ),
        ("CDS 1 8 1 abcd", 2, "digest type 1 (SHA-1) has 20"),
        ("DLV 1 8 4 abcd", 2, "digest type 4 (SHA-384) has 48"),
        (
            "DS 1 FOO 2 ab",
            2,
            "algorithm \"FOO\": is neither a number nor",
        ),
        (
            "DS 1 8 2 abc",
            2,
            "digest \"abc\": has an odd number of hex digits",
        ),
        (
            "DNSKEY 256 3 8 AAE*",
            2,
            "public key \"AAE*\": is not base64",
        ),
        (
            "RRSIG A 5 3 86400 (\n 20030322173103\n 20031322173103 2642 . AA== )",
            4,
            "signature inception \"20031322173103\": is not a valid YYYYMMDDHHmmSS",
        ),
        (
            "RRSIG FOO 5 3 1 1 1 1 . AA==",
            2,
            "type covered \"FOO\": is not a record type",
        ),
        ("NSEC a. A BOGUS", 2, "type bitmap \"BOGUS\""),
        ("NSEC3 1 1 12 xyz 2t7b A", 2, "salt \"xyz\": is not hex"),
        (
            "NSEC3 1 1 12 - 2t7b!",
            2,
            "next hashed owner name \"2t7b!\": is not base32hex",
        ),
        ("LOC 91 N 0 E 0", 2, "latitude \"91\""),
        (
            "LOC 42 21 54 X 71 W 0",
            2,
            "latitude \"X\": expected N or S",
        ),
        ("LOC 42 N 71 W", 2, "missing altitude"),
        ("LOC 42 N 71 W 0 1x", 2, "size \"1x\""),
        ("APL 3:1.2.3.4/8", 2, "address family must be 1"),
        ("APL 1:192.0.2.0/33", 2, "prefix length above 32"),
        (
            "EUI48 00-00-5e-00-53",
            2,
            "address \"00-00-5e-00-53\": is not of the form xx-xx-xx-xx-xx-xx",
        ),
        (
            "EUI64 00:00:5e:ef:10:00:00:2a",
            2,
            "is not of the form xx-xx-xx-xx-xx-xx-xx-xx",
        ),
        (
            "NID 10 14:4fff:ff20:ee64",
            2,
            "node ID \"14:4fff:ff20:ee64\"",
        ),
        (
            "L32 10 10.1.2",
            2,
            "locator \"10.1.2\": is not an IPv4 address",
        ),
        ("URI 10 1", 2, "missing target"),
        ("CAA 0 is-sue x", 2, "tag \"is-sue\""),
        ("HINFO a", 2, "missing OS"),
        ("HINFO a b c", 2, "unexpected \"c\" after the last field"),
        ("X25 \"\\300\"", 2, "above 255"),
        (
            "GPOS 1.x 2 3",
            2,
            "longitude \"1.x\": is not a decimal number",
        ),
        ("NSAP 47.0005", 2, "must start with 0x"),
        (
            "IPSECKEY 10 1 2 2001:db8::1 AA==",
            2,
            "gateway \"2001:db8::1\": is not an IPv4",
        ),
        (
            "IPSECKEY 10 4 2 . AA==",
            2,
            "gateway type \"4\": is above 3",
        ),
        ("ZONEMD 1 1 1", 2, "missing digest"),
        ("RP a", 2, "missing TXT name"),
        (
            "MINFO a..b c",
            2,
            "responsible mailbox \"a..b\": empty label",
        ),
        ("TLSA 0 0 1 \"ab\"", 2, "must not be quoted"),
        // RFC 9460 Appendix D.3's failure cases, and §7.1.1.
        (
            "SVCB 1 foo.example.com. ( key123=abc key123=def )",
            2,
            "key123 is given twice",
        ),
        (
            "SVCB 1 foo.example.com. mandatory",
            2,
            "mandatory needs a value",
        ),
        ("SVCB 1 foo.example.com. alpn", 2, "alpn needs a value"),
        ("SVCB 1 foo.example.com. port", 2, "port needs a value"),
        (
            "SVCB 1 foo.example.com. ipv4hint",
            2,
            "ipv4hint needs a value",
        ),
        (
            "SVCB 1 foo.example.com. ipv6hint",
            2,
            "ipv6hint needs a value",
        ),
        (
            "SVCB 1 foo.example.com. no-default-alpn=abc",
            2,
            "no-default-alpn takes no value",
        ),
        (
            "SVCB 1 foo.example.com. mandatory=key123",
            2,
            "mandatory key key123 is not in the record",
        ),
        (
            "SVCB 1 foo.example.com. mandatory=mandatory",
            2,
            "mandatory cannot list itself",
        ),
        (
            "SVCB 1 foo.example.com. ( ipv6hint=2001:db8::1 ipv6hint=2001:db8::2 )",
            2,
            "ipv6hint is given twice",
        ),
        (
            "SVCB 1 foo.example.com. ipv6hint=192.0.2.1",
            2,
            "is not an IPv6 address",
        ),
        (
            "HTTPS 1 . no-default-alpn",
            2,
            "no-default-alpn needs alpn too",
        ),
        ("HTTPS 1 . port=99999", 2, "port is not a number"),
        ("HTTPS 1 . key65535=x", 2, "unknown SvcParam key"),
        ("HTTPS 1 . key01=x", 2, "unknown SvcParam key"),
        (
            "HTTPS 1 . foo=bar",
            2,
            "SvcParam \"foo=bar\": unknown SvcParam key",
        ),
        ("HTTPS 1 . ech=!!", 2, "ech is not base64"),
        ("HTTPS 1 . alpn=h2,,h3", 2, "an alpn-id is 1 to 255 bytes"),
    ];
    for (rdata, line, needle) in cases {
        let (got_line, message) = one_error(&format!("$TTL 60\nx {rdata}\n"));
        assert_eq!(got_line, *line, "{rdata}: {message}");
        assert!(
            message.contains(needle),
            "{rdata}: {message:?} lacks {needle:?}"
        );
    }
    // Shown with the file and line, as every zone error is.
    let errors = parse("$TTL 60\n\nx EUI48 00-00\n").unwrap_err();
    assert!(
        errors[0].to_string().starts_with(
            "zones/example.com.zone:3: bad EUI48 record data \"00-00\": address \"00-00\": "
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn types_by_mnemonic_and_number() {
    // A table type written as TYPEnnn is read the same way; mnemonics ignore case.
    assert_eq!(wire("TYPE17 a. b."), wire("rp a. b."));
    assert_eq!(wire("TYPE108 00-00-5e-00-53-2a").0, 108);
    let record = one("$TTL 60\nx Eui64 00-00-5e-ef-10-00-00-2a\n");
    assert_eq!(record.rdata.record_type(), RecordType::from(109));
}

#[test]
fn older_and_rarer_types() {
    check(&[
        // RFC 1035 §3.4.2: ports 25 (smtp), 53 (domain) and 80 as bits of a bitmap.
        (
            "WKS 192.0.2.1 tcp ( smtp 80 domain )",
            11,
            h("c0000201 06 00000040 00000400 000080"),
        ),
        ("WKS 192.0.2.1 17", 11, h("c0000201 11")),
        // RFC 2874 §3.1.1's examples: the suffix in (128 - prefix) / 8 octets.
        (
            "A6 0 2345:00C1:CA11:0001:1234:5678:9ABC:DEF0",
            38,
            h("00 234500c1ca110001123456789abcdef0"),
        ),
        (
            "A6 64 ::1234:5678:9ABC:DEF0 SUBNET-1.IP6.A.NET.",
            38,
            cat(&[&h("40 123456789abcdef0"), &dn("SUBNET-1.IP6.A.NET")]),
        ),
        (
            "A6 48 0::0:1:0:0:0 IP6.A.NET.",
            38,
            cat(&[&h("30 00000001000000000000"), &dn("IP6.A.NET")]),
        ),
        ("A6 128 IP6.A.NET.", 38, cat(&[&h("80"), &dn("IP6.A.NET")])),
        // The prefix's 4 bits of the first suffix octet are cleared.
        (
            "A6 60 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff x.",
            38,
            cat(&[&h("3c 0fffffffffffffffff"), &dn("x")]),
        ),
        // RFC 2535 §5.2: types 1 (A), 15 (MX), 24 (SIG), 30 (NXT) as bits.
        (
            "NXT medium.foo.tld. A MX SIG NXT",
            30,
            cat(&[&dn("medium.foo.tld"), &h("40 01 00 82")]),
        ),
        ("NXT a. ", 30, dn("a")),
        ("ATMA +358.400.1234567", 34, cat(&[&[1], b"3584001234567"])),
        (
            "ATMA 39.246f.000e7c9c0312.00000000000000001234.00",
            34,
            h("00 39246f000e7c9c031200000000000000001234 00"),
        ),
        ("EID 0102 0304", 31, h("01020304")),
        ("NIMLOC abcd", 32, h("abcd")),
        // The SINK draft's meaning, coding, subcoding and data, as BIND reads them.
        ("SINK 1 0 0 AAECAwQ=", 40, h("01 00 00 0001020304")),
        // RFC 8005 §3: HIT length, PK algorithm, PK length, HIT, PK, servers.
        (
            "HIP 2 200100107B1A74DF365639CC39F1D578 AAECAwQ= rvs1.example.net. rvs2.example.net.",
            55,
            cat(&[
                &h("10 02 0005 200100107b1a74df365639cc39f1d578 0001020304"),
                &dn("rvs1.example.net"),
                &dn("rvs2.example.net"),
            ]),
        ),
        ("NINFO \"Unsigned zone\"", 56, cs("Unsigned zone")),
        ("RKEY 0 3 5 AAECAwQ=", 57, h("0000 03 05 0001020304")),
        (
            "TALINK a.example. b.example.",
            58,
            cat(&[&dn("a.example"), &dn("b.example")]),
        ),
        // The DOA draft's layout; "-" is no data.
        (
            "DOA 0 1 2 \"\" aHR0cHM6Ly93d3cuaXNjLm9yZy8=",
            259,
            cat(&[&h("00000000 00000001 02 00"), b"https://www.isc.org/"]),
        ),
        (
            "DOA 1234 5678 1 \"text/plain\" -",
            259,
            cat(&[&h("000004d2 0000162e 01"), &cs("text/plain")]),
        ),
        // RFC 8777 §4.4's examples.
        ("AMTRELAY 10 0 1 203.0.113.15", 260, h("0a 01 cb00710f")),
        (
            "AMTRELAY 10 1 2 2001:db8::15",
            260,
            h("0a 82 20010db8000000000000000000000015"),
        ),
        (
            "AMTRELAY 128 1 3 amtrelays.example.com.",
            260,
            cat(&[&h("80 83"), &dn("amtrelays.example.com")]),
        ),
        ("AMTRELAY 0 0 0 .", 260, h("00 00")),
        // RFC 9606 §4.
        (
            "RESINFO qnamemin exterr=15,16,17 infourl=https://resolver.example.com/guide",
            261,
            cat(&[
                &cs("qnamemin"),
                &cs("exterr=15,16,17"),
                &cs("infourl=https://resolver.example.com/guide"),
            ]),
        ),
        (
            "WALLET \"BTC\" \"bc1qexample\"",
            262,
            cat(&[&cs("BTC"), &cs("bc1qexample")]),
        ),
        ("TA 1 8 200 abcd", 32768, h("0001 08 c8 abcd")),
    ]);
    let cases: &[(&str, &str)] = &[
        (
            "WKS 192.0.2.1 tcp gopherish",
            "service \"gopherish\": is not a port number",
        ),
        ("A6 129 ::", "prefix length \"129\": is above 128"),
        ("NXT a. A TYPE128", "NXT can list only types 1 to 127"),
        ("ATMA +12a", "an E.164 address is + and digits"),
        ("A6 64 ::1", "missing prefix name"),
        (
            "AMTRELAY 10 2 1 203.0.113.15",
            "discovery optional \"2\": is above 1",
        ),
        ("AMTRELAY 10 0 0 x.", "relay \"x.\": must be \".\""),
        ("HIP 2 2001 AA=", "public key \"AA=\": is not base64"),
        ("DOA 0 1 2 \"\"", "missing data"),
    ];
    for (rdata, needle) in cases {
        let (line, message) = one_error(&format!("$TTL 60\nx {rdata}\n"));
        assert_eq!(line, 2, "{rdata}");
        assert!(
            message.contains(needle),
            "{rdata}: {message:?} lacks {needle:?}"
        );
    }
}

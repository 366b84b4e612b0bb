//! `$GENERATE` through the reader: ranges, steps, modifiers, TTL and class, escapes, and
//! errors at the directive's line. Helpers are in `master/tests.rs`.

use crate::zone::master::tests::*;
use hickory_proto::rr::RData;

/// (owner, TTL, line, data as text) of each record.
fn shown(text: &str) -> Vec<(String, u32, usize, String)> {
    ok(text)
        .into_iter()
        .map(|r| {
            let data = match &r.rdata {
                RData::TXT(txt) => txt
                    .txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            (r.name.to_ascii(), r.ttl, r.line, data)
        })
        .collect()
}

fn row(owner: &str, ttl: u32, line: usize, data: &str) -> (String, u32, usize, String) {
    (owner.to_string(), ttl, line, data.to_string())
}

#[test]
fn one_record_per_number() {
    assert_eq!(
        shown("$TTL 60\n\n$GENERATE 1-3 host$ A 192.0.2.$\n"),
        [
            row("host1.example.com.", 60, 3, "192.0.2.1"),
            row("host2.example.com.", 60, 3, "192.0.2.2"),
            row("host3.example.com.", 60, 3, "192.0.2.3"),
        ]
    );
    // A step; offset and width; hex.
    assert_eq!(
        shown("$TTL 60\n$GENERATE 0-4/2 ${10,3} CNAME x${0,2,x}.example.net.\n"),
        [
            row("010.example.com.", 60, 2, "x00.example.net."),
            row("012.example.com.", 60, 2, "x02.example.net."),
            row("014.example.com.", 60, 2, "x04.example.net."),
        ]
    );
    // Octal, upper-case hex, reversed nibbles (1024 is 0x400) for ip6.arpa names.
    assert_eq!(
        shown("$TTL 60\n$GENERATE 1024-1025 ${0,5,n} AAAA 2001:db8::${0,4,X}\n"),
        [
            row("0.0.4.example.com.", 60, 2, "2001:db8::400"),
            row("1.0.4.example.com.", 60, 2, "2001:db8::401"),
        ]
    );
    assert_eq!(
        shown("$TTL 60\n$GENERATE 8-8 o${0,3,o} TXT \"${-8}\"\n"),
        [row("o010.example.com.", 60, 2, "0")]
    );
    // TTL and class; $ in a string; \$ and $$ are a $.
    assert_eq!(
        shown("$GENERATE 1-2 h$ 300 IN TXT \"n=$\" cost\\$5 $$\n"),
        [
            row("h1.example.com.", 300, 1, "n=1 cost$5 $"),
            row("h2.example.com.", 300, 1, "n=2 cost$5 $"),
        ]
    );
}

#[test]
fn an_indented_line_after_it_reuses_the_owner_before_it() {
    let records = ok("$TTL 60\nwww A 192.0.2.1\n$GENERATE 1-2 h$ A 192.0.2.$\n  TXT \"www\"\n");
    assert_eq!(records.len(), 4);
    assert_eq!(records[3].name.to_ascii(), "www.example.com.");
}

#[test]
fn errors_name_the_directive_line() {
    let cases: &[(&str, &str)] = &[
        ("$GENERATE 1-3 h$ A\n", "$GENERATE takes a range, an owner"),
        (
            "$GENERATE 5-1 h$ A 192.0.2.$\n",
            "bad $GENERATE range \"5-1\"",
        ),
        ("$GENERATE 1-x h$ A 192.0.2.$\n", "bad $GENERATE range"),
        ("$GENERATE 1-2/0 h$ A 192.0.2.$\n", "bad $GENERATE range"),
        (
            "$GENERATE 0-200000 h$ A 192.0.2.1\n",
            "makes more than 100000 records",
        ),
        ("$GENERATE 1-2 h${a} A 192.0.2.1\n", "bad offset \"a\""),
        ("$GENERATE 1-2 h${0,1,q} A 192.0.2.1\n", "bad base \"q\""),
        ("$GENERATE 1-2 h${-5} A 192.0.2.1\n", "below 0"),
        (
            "$GENERATE 1-2 h${9223372036854775807} A 192.0.2.1\n",
            "bad offset",
        ),
        ("$GENERATE 1-2 h${0 A 192.0.2.1\n", "${ without }"),
        (
            "$GENERATE 255-256 h$ A 192.0.2.$\n",
            "bad A record data \"192.0.2.256\"",
        ),
    ];
    for (directive, needle) in cases {
        let (line, message) = one_error(&format!("$TTL 60\n\n{directive}"));
        assert_eq!(line, 3, "{directive}: {message}");
        assert!(
            message.contains(needle),
            "{directive}: {message:?} lacks {needle:?}"
        );
    }
}

//! Zone loading as an operator sees it: master-file syntax a BIND user writes, several
//! zones, nested zones (the most specific one answers), and paths relative to the config.

use crate::util::{Fixture, Query, Server, rcode, sorted};
use hickory_proto::rr::RecordType;

/// Master-file syntax from RFC 1035 §5 that BIND users rely on.
const EXAMPLE_NET: &str = r#"; origin from the file name; relative names everywhere
$TTL 120
@   IN  SOA ns1 hostmaster (
            5       ; serial
            7200    ; refresh
            3600    ; retry
            1209600 ; expire
            300 )   ; minimum
    IN  NS  ns1
ns1 IN  A   192.0.2.1
short 30 IN A 192.0.2.2
default IN A 192.0.2.3
        IN AAAA 2001:db8::3
noclass 60 A 192.0.2.6
swapped IN 60 A 192.0.2.7
txt IN TXT "a;b" "c d"
$ORIGIN sub2.example.net.
host IN A 192.0.2.4
$ORIGIN example.net.
$INCLUDE {DIR}/includes/inc.db
after IN A 192.0.2.8
"#;

const INC_DB: &str = "inc IN A 192.0.2.5\n";

#[test]
fn master_file_syntax_origin_ttl_include_parentheses() {
    let server = Fixture::standard()
        .zone("example.net", EXAMPLE_NET)
        .file("includes/inc.db", INC_DB)
        .start();
    let rows: &[(&str, RecordType, &[&str])] = &[
        (
            "example.net.",
            RecordType::SOA,
            &[
                "example.net. 120 SOA ns1.example.net. hostmaster.example.net. 5 7200 3600 1209600 300",
            ],
        ),
        (
            "example.net.",
            RecordType::NS,
            &["example.net. 120 NS ns1.example.net."],
        ),
        (
            "short.example.net.",
            RecordType::A,
            &["short.example.net. 30 A 192.0.2.2"],
        ),
        (
            "default.example.net.",
            RecordType::A,
            &["default.example.net. 120 A 192.0.2.3"],
        ),
        // A blank owner repeats the previous one.
        (
            "default.example.net.",
            RecordType::AAAA,
            &["default.example.net. 120 AAAA 2001:db8::3"],
        ),
        (
            "noclass.example.net.",
            RecordType::A,
            &["noclass.example.net. 60 A 192.0.2.6"],
        ),
        (
            "swapped.example.net.",
            RecordType::A,
            &["swapped.example.net. 60 A 192.0.2.7"],
        ),
        (
            "txt.example.net.",
            RecordType::TXT,
            &["txt.example.net. 120 TXT \"a;b\" \"c d\""],
        ),
        (
            "host.sub2.example.net.",
            RecordType::A,
            &["host.sub2.example.net. 120 A 192.0.2.4"],
        ),
        (
            "inc.example.net.",
            RecordType::A,
            &["inc.example.net. 120 A 192.0.2.5"],
        ),
        // After $INCLUDE the origin is the one before it (RFC 1035 §5.1).
        (
            "after.example.net.",
            RecordType::A,
            &["after.example.net. 120 A 192.0.2.8"],
        ),
        // The other zones are served alongside.
        (
            "www.example.com.",
            RecordType::A,
            &["www.example.com. 3600 A 192.0.2.10"],
        ),
    ];
    for (name, qtype, expected) in rows {
        let q = Query::new(name, *qtype);
        let r = server.query(&q);
        r.assert_answer(&q);
        assert_eq!(
            sorted(&r.answer_texts()),
            sorted(expected),
            "{name} {qtype}\n{r}"
        );
    }
}

const DEEP_SOA: &str = "deep.example.com. 60 SOA ns1.deep.example.com. hostmaster.deep.example.com. 7 7200 3600 1209600 300";

/// (query, type, rcode, answer, authority when the answer is empty)
type Row = (
    &'static str,
    RecordType,
    u16,
    &'static [&'static str],
    &'static [&'static str],
);

fn assert_deep_zone_answers(server: &Server) {
    let rows: &[Row] = &[
        (
            "www.deep.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &["www.deep.example.com. 3600 A 192.0.2.61"],
            &[],
        ),
        (
            "deep.example.com.",
            RecordType::SOA,
            rcode::NOERROR,
            &[DEEP_SOA],
            &[],
        ),
        (
            "deep.example.com.",
            RecordType::NS,
            rcode::NOERROR,
            &["deep.example.com. 3600 NS ns1.deep.example.com."],
            &[],
        ),
        (
            "nope.deep.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            &[],
            &[DEEP_SOA],
        ),
        (
            "deep.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[],
            &[DEEP_SOA],
        ),
    ];
    for (name, qtype, expected_rcode, answers, soa) in rows {
        let q = Query::new(name, *qtype);
        let r = server.query(&q);
        let what = format!("{name} {qtype}");
        r.assert_echoes(&q);
        assert_eq!(r.rcode(), *expected_rcode, "{what}\n{r}");
        assert!(
            r.aa,
            "{what}: the child zone is authoritative, no referral\n{r}"
        );
        assert_eq!(r.answer_texts(), *answers, "{what}\n{r}");
        if answers.is_empty() {
            assert_eq!(r.authority_texts(), *soa, "{what}\n{r}");
        }
    }
}

/// The standard example.com delegates deep.example.com, which is served here too.
#[test]
fn nested_zone_is_answered_from_the_most_specific_zone() {
    let server = Fixture::standard().start();
    assert_deep_zone_answers(&server);
}

/// Without a delegation in the parent, and with parent data under the child's apex, the
/// child zone still wins.
#[test]
fn nested_zone_wins_over_parent_data_without_delegation() {
    let parent = "@ 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300\n\
                  @ 3600 IN NS ns1.example.com.\n\
                  ns1 3600 IN A 192.0.2.1\n\
                  www.deep 3600 IN A 192.0.2.99\n";
    let server = Fixture::new()
        .zone("example.com", parent)
        .zone("deep.example.com", crate::util::DEEP_EXAMPLE_COM)
        .start();
    assert_deep_zone_answers(&server);
}

/// `zones_dir = "zones"` means next to meridian.toml, wherever serve is started from.
#[test]
fn zones_dir_is_relative_to_the_config_file() {
    let elsewhere = tempfile::tempdir().unwrap();
    let server = Server::start_in(Fixture::standard().write(), Some(elsewhere.path()));
    let q = Query::new("www.example.com.", RecordType::A);
    let r = server.query(&q);
    r.assert_answer(&q);
    assert_eq!(
        r.answer_texts(),
        ["www.example.com. 3600 A 192.0.2.10"],
        "{r}"
    );
}

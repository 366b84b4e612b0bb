//! CNAME (RFC 1034 §3.6.2, §4.3.2; RFC 6604 for the rcode of a chain).

use crate::util::{Fixture, Query, rcode};
use hickory_proto::rr::RecordType;

const SOA: &str =
    "example.com. 300 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300";

#[test]
fn cname_chains_are_followed_inside_the_zone() {
    let server = Fixture::standard().start();
    // (query, type, rcode, answer section in order, SOA in authority?)
    let rows: &[(&str, RecordType, u16, &[&str], bool)] = &[
        (
            "alias.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[
                "alias.example.com. 3600 CNAME www.example.com.",
                "www.example.com. 3600 A 192.0.2.10",
            ],
            false,
        ),
        (
            "chain2.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[
                "chain2.example.com. 3600 CNAME chain3.example.com.",
                "chain3.example.com. 3600 CNAME www.example.com.",
                "www.example.com. 3600 A 192.0.2.10",
            ],
            false,
        ),
        (
            "chain1.example.com.",
            RecordType::AAAA,
            rcode::NOERROR,
            &[
                "chain1.example.com. 3600 CNAME chain2.example.com.",
                "chain2.example.com. 3600 CNAME chain3.example.com.",
                "chain3.example.com. 3600 CNAME www.example.com.",
                "www.example.com. 3600 AAAA 2001:db8::10",
            ],
            false,
        ),
        // Target missing: the rcode is that of the last name (RFC 6604).
        (
            "dangling.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            &["dangling.example.com. 3600 CNAME nothere.example.com."],
            true,
        ),
        (
            "chain-dangling.example.com.",
            RecordType::A,
            rcode::NXDOMAIN,
            &[
                "chain-dangling.example.com. 3600 CNAME dangling.example.com.",
                "dangling.example.com. 3600 CNAME nothere.example.com.",
            ],
            true,
        ),
        // Target exists without the type: NODATA after the CNAME.
        (
            "alias.example.com.",
            RecordType::TXT,
            rcode::NOERROR,
            &["alias.example.com. 3600 CNAME www.example.com."],
            true,
        ),
        // Asking for the CNAME itself: just the CNAME, not followed.
        (
            "alias.example.com.",
            RecordType::CNAME,
            rcode::NOERROR,
            &["alias.example.com. 3600 CNAME www.example.com."],
            false,
        ),
        (
            "chain1.example.com.",
            RecordType::CNAME,
            rcode::NOERROR,
            &["chain1.example.com. 3600 CNAME chain2.example.com."],
            false,
        ),
        // Target in a zone we do not serve: the CNAME alone; the resolver goes on.
        (
            "external.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &["external.example.com. 3600 CNAME www.example.org."],
            false,
        ),
        // Target matched by a wildcard.
        (
            "towild.example.com.",
            RecordType::A,
            rcode::NOERROR,
            &[
                "towild.example.com. 3600 CNAME foo.wild.example.com.",
                "foo.wild.example.com. 3600 A 192.0.2.40",
            ],
            false,
        ),
    ];
    for (name, qtype, expected_rcode, answers, soa) in rows {
        let q = Query::new(name, *qtype);
        let r = server.query(&q);
        let what = format!("{name} {qtype}");
        r.assert_echoes(&q);
        assert_eq!(r.rcode(), *expected_rcode, "{what}: rcode\n{r}");
        assert!(r.aa, "{what}: AA\n{r}");
        assert_eq!(
            r.answer_texts(),
            *answers,
            "{what}: answer section, in order\n{r}"
        );
        let soas: Vec<String> = r
            .authority_texts()
            .into_iter()
            .filter(|t| t.contains(" SOA "))
            .collect();
        let expected_soa: &[&str] = if *soa { &[SOA] } else { &[] };
        assert_eq!(soas, expected_soa, "{what}: SOA in authority\n{r}");
    }
}

#[test]
fn cname_loop_is_answered_without_hanging_or_repeating_records() {
    let mut server = Fixture::standard().start();
    for transport in ["udp", "tcp"] {
        let q = Query::new("loop1.example.com.", RecordType::A);
        let r = if transport == "udp" {
            server.query(&q)
        } else {
            server.query_tcp(&q)
        };
        r.assert_echoes(&q);
        let texts = r.answer_texts();
        let mut unique = texts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            texts.len(),
            "{transport}: a record repeated\n{r}"
        );
        assert!(
            texts.contains(&"loop1.example.com. 3600 CNAME loop2.example.com.".to_string())
                || r.rcode() == rcode::SERVFAIL,
            "{transport}: expected the CNAME (or SERVFAIL)\n{r}"
        );
    }
    server.assert_alive();
    let q = Query::new("www.example.com.", RecordType::A);
    server.query(&q).assert_answer(&q);
}

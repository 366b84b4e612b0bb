//! Zone check tests: each broken zone gives one error naming file and line, as `check`
//! prints it. Record helpers and the example zone are in `zone/tests.rs`.

use crate::zone::build_zones;
use crate::zone::tests::{EXAMPLE, name, records};

#[test]
fn zone_errors_name_file_and_line() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["example.com. 60 NS ns1.example.com."],
            "test.zone:1: no SOA record at the apex of example.com.",
        ),
        (
            &["example.com. 60 SOA a.example.com. b.example.com. 1 1 1 1 1"],
            "test.zone:1: no NS records at the apex of example.com.",
        ),
        (
            &[EXAMPLE[0], EXAMPLE[1], "www.example.org. 60 A 192.0.2.1"],
            "test.zone:3: www.example.org. is outside the zone example.com.",
        ),
        (
            // Ends like the origin, but not at a label.
            &[EXAMPLE[0], EXAMPLE[1], "www.badexample.com. 60 A 192.0.2.1"],
            "test.zone:3: www.badexample.com. is outside the zone example.com.",
        ),
        (
            &[EXAMPLE[0], EXAMPLE[1], "com. 60 A 192.0.2.1"],
            "test.zone:3: com. is outside the zone example.com.",
        ),
        (
            &[
                EXAMPLE[0],
                EXAMPLE[1],
                "x.example.com. 60 CNAME a.example.com.",
                "x.example.com. 60 A 192.0.2.1",
            ],
            "test.zone:3: CNAME at x.example.com. next to other data (A): a CNAME must stand alone",
        ),
        (
            &[
                EXAMPLE[0],
                EXAMPLE[1],
                "x.example.com. 60 CNAME a.example.com.",
                "x.example.com. 60 CNAME b.example.com.",
            ],
            "test.zone:4: second CNAME at x.example.com. (first at test.zone:3): a name has at most one",
        ),
        (
            &[
                EXAMPLE[0],
                EXAMPLE[1],
                "x.example.com. 60 SOA a.example.com. b.example.com. 1 1 1 1 1",
            ],
            "test.zone:3: SOA record at x.example.com. is not at the zone apex example.com.",
        ),
    ];
    for (lines, want) in cases {
        let err = build_zones(
            vec![("test.zone".into(), name("example.com."), records(lines))],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.to_string(), *want);
    }
}

#[test]
fn a_name_is_in_a_zone_only_where_a_label_starts_at_the_origin() {
    use super::in_zone;
    let origin = b"\x07example\x03com\x00";
    assert!(in_zone(origin, origin));
    assert!(in_zone(b"\x03www\x07example\x03com\x00", origin));
    assert!(!in_zone(b"\x03com\x00", origin));
    assert!(!in_zone(b"\x0abadexample\x03com\x00", origin));
    // The origin's bytes end this name, but inside its one label "a\x07example".
    assert!(!in_zone(b"\x09a\x07example\x03com\x00", origin));
}

#[test]
fn a_conflict_names_the_included_file_its_first_record_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let (main, part) = (dir.path().join("main.zone"), dir.path().join("part.zone"));
    std::fs::write(&part, "x 60 CNAME a\n").unwrap();
    std::fs::write(
        &main,
        format!(
            "$ORIGIN example.com.\n{}\n{}\n$INCLUDE {}\nx 60 CNAME b\n",
            EXAMPLE[0],
            EXAMPLE[1],
            part.display()
        ),
    )
    .unwrap();
    let read = crate::zone::ReadZone::from_file(&main, &name("example.com.")).unwrap();
    let err = crate::zone::build_read_zones(vec![read], &[], &|_| true).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:5: second CNAME at x.example.com. (first at {}:1): a name has at most one",
            main.display(),
            part.display()
        )
    );
}

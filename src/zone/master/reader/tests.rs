//! Reader tests: directives, includes, owner and TTL inheritance, error collection.
//! Helpers and fixtures are in `master/tests.rs`.

use super::MAX_ERRORS;
use crate::zone::master::tests::*;
use crate::zone::master::{parse_file, parse_str};
use hickory_proto::rr::rdata::{A, CNAME, NS};
use hickory_proto::rr::{RData, RecordType};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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

#[test]
fn include_of_a_device_or_fifo_is_refused_at_its_line() {
    let dir = TempDir::new();
    let main = dir.write("main.zone", "$TTL 60\nok A 192.0.2.1\n$INCLUDE /dev/zero\n");
    let errors = parse_file(&main, &origin()).unwrap_err();
    assert_eq!((errors[0].file.clone(), errors[0].line), (main.clone(), 3));
    assert!(
        errors[0].message.contains("not a regular file"),
        "{errors:?}"
    );

    // A FIFO nobody writes to: opening it must neither block nor be read.
    let fifo = dir.0.join("pipe.inc");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let main = dir.write("fifo.zone", "$TTL 60\n$INCLUDE pipe.inc\n");
    let errors = parse_file(&main, &origin()).unwrap_err();
    assert_eq!((errors[0].file.clone(), errors[0].line), (main, 2));
    assert!(
        errors[0].message.contains("not a regular file"),
        "{errors:?}"
    );

    // The zone file itself is held to the same rule.
    let errors = parse_file(Path::new("/dev/zero"), &origin()).unwrap_err();
    assert!(
        errors[0].message.contains("not a regular file"),
        "{errors:?}"
    );
}

#[test]
fn includes_beyond_the_zone_size_limit_are_refused() {
    let dir = TempDir::new();
    let part = dir.write("part.inc", "a A 192.0.2.1\n");
    // Within the limit, read; a limit smaller than the file refuses it before reading.
    assert!(super::read_source(&part, 100).is_ok());
    let (line, message) = super::read_source(&part, 4).unwrap_err();
    assert_eq!(line, 0);
    assert!(message.contains("exceed"), "{message}");
}

#[test]
fn an_owner_written_again_is_read_again_where_it_could_differ() {
    // The same owner text on consecutive records is one name, until $ORIGIN changes what
    // it means; case is kept as written each time; $GENERATE leaves the owner before it.
    let text = "$TTL 60
www A 192.0.2.1
www A 192.0.2.2
$ORIGIN sub.example.com.
www A 192.0.2.3
  A 192.0.2.4
WWW A 192.0.2.5
$GENERATE 1-2 www A 192.0.2.$
www A 192.0.2.6
  A 192.0.2.7
$ORIGIN example.com.
www A 192.0.2.8
";
    let records = ok(text);
    let names: Vec<String> = records.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(
        names,
        [
            "www.example.com.",
            "www.example.com.",
            "www.sub.example.com.",
            "www.sub.example.com.",
            "WWW.sub.example.com.",
            "www.sub.example.com.",
            "www.sub.example.com.",
            "www.sub.example.com.",
            "www.sub.example.com.",
            "www.example.com.",
        ]
    );
}

#[test]
fn a_file_is_read_whole_at_any_length_and_refused_past_the_limit() {
    let dir = TempDir::new();
    for len in [0usize, 1, 4095, 4096, 4097, 70_000] {
        let text: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let path = dir.write(&format!("z{len}.zone"), text.as_bytes());
        assert_eq!(
            super::read_source(&path, 1 << 20).unwrap(),
            text,
            "{len} bytes"
        );
        // At the limit it is read; a byte past it, refused with the file's name.
        assert_eq!(super::read_source(&path, len as u64).unwrap(), text);
        if len > 0 {
            let (line, message) = super::read_source(&path, len as u64 - 1).unwrap_err();
            assert_eq!(line, 0);
            assert!(
                message.contains("exceed") && message.contains(&format!("z{len}.zone")),
                "{message}"
            );
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_file_longer_than_its_stat_said_is_read_to_its_end() {
    // /proc files are regular files of length 0 with text in them: as a file that grew
    // between the `stat` and the read.
    let text = super::read_source(Path::new("/proc/self/status"), 1 << 20).unwrap();
    assert!(
        text.starts_with("Name:") && text.contains("\nPid:"),
        "{text}"
    );
    let (_, message) = super::read_source(Path::new("/proc/self/status"), 16).unwrap_err();
    assert!(message.contains("exceed"), "{message}");
}

//! Lexer tests, through the reader: comments, blank lines, CRLF, parentheses, BOM.
//! Helpers and fixtures are in `master/tests.rs`.

use crate::zone::master::tests::*;
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::A;
use std::net::Ipv4Addr;

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

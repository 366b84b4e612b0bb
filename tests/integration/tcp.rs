//! DNS over TCP (RFC 7766): pipelining, reassembly of split messages, the idle timeout and
//! the connection cap (in abuse.rs, with the other limits).

use crate::util::{Fixture, Query, Response, frame};
use hickory_proto::rr::RecordType;
use std::collections::BTreeMap;
use std::time::Duration;

#[test]
fn pipelined_queries_in_one_write_are_all_answered() {
    let server = Fixture::standard().start();
    let queries = [
        Query::new("www.example.com.", RecordType::A),
        Query::new("www.example.com.", RecordType::AAAA),
        Query::new("nothere.example.com.", RecordType::A),
        Query::new("alias.example.com.", RecordType::A),
        Query::new("www.sub.example.com.", RecordType::A),
        Query::new("example.org.", RecordType::A),
        Query::new("multi.example.com.", RecordType::TXT),
    ];
    let bytes: Vec<u8> = queries.iter().flat_map(|q| frame(&q.to_wire())).collect();
    let mut tcp = server.tcp();
    tcp.write_raw(&bytes).unwrap();
    let mut answered = BTreeMap::new();
    for _ in &queries {
        let reply = tcp.recv().unwrap_or_else(|e| {
            panic!("after {} of {} answers: {e}", answered.len(), queries.len())
        });
        let r = Response::parse(&reply).unwrap();
        assert!(answered.insert(r.id, r).is_none(), "an ID answered twice");
    }
    for q in &queries {
        let r = answered
            .get(&q.id)
            .unwrap_or_else(|| panic!("no answer for {q:?}"));
        r.assert_echoes(q);
    }
}

#[test]
fn query_split_across_writes_is_answered() {
    let server = Fixture::standard().start();
    let q = Query::new("www.example.com.", RecordType::A);
    let framed = frame(&q.to_wire());
    let half = framed.len() / 2;
    // Where the framed message is cut, in order.
    let rows: &[(&str, &[usize])] = &[
        ("length prefix, then body", &[2]),
        ("inside the length prefix", &[1]),
        ("body in two", &[2, half]),
        ("prefix and half the body, then the rest", &[half]),
        ("every piece", &[1, 2, 5, 12, half]),
    ];
    for (what, cuts) in rows {
        let mut tcp = server.tcp();
        let mut start = 0;
        for &cut in cuts.iter().chain([framed.len()].iter()) {
            tcp.write_raw(&framed[start..cut]).unwrap();
            start = cut;
            if cut != framed.len() {
                // Separate segments, so the server really sees a partial message.
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        let reply = tcp.recv().unwrap_or_else(|e| panic!("{what}: {e}"));
        let r = Response::parse(&reply).unwrap();
        r.assert_answer(&q);
        assert_eq!(
            r.answer_texts(),
            ["www.example.com. 3600 A 192.0.2.10"],
            "{what}\n{r}"
        );
    }
}

#[test]
fn idle_tcp_connection_is_closed_after_tcp_idle_timeout() {
    let server = Fixture::standard()
        .server_key("tcp_idle_timeout = \"1s\"")
        .start();
    let q = Query::new("www.example.com.", RecordType::A);

    // A connection that is used, then paused shorter than the timeout, stays open...
    let mut tcp = server.tcp();
    tcp.exchange(&q).assert_answer(&q);
    std::thread::sleep(Duration::from_millis(300));
    let q2 = Query::new("www.example.com.", RecordType::AAAA);
    tcp.exchange(&q2).assert_answer(&q2);
    // ...and is closed once idle for longer.
    let closed = tcp.wait_closed(Duration::from_secs(6));
    let elapsed = closed.unwrap_or_else(|e| panic!("used connection: {e}"));
    assert!(
        elapsed >= Duration::from_millis(500),
        "closed too early: {elapsed:?}"
    );

    // A connection that never sends anything is closed too.
    let mut silent = server.tcp();
    let elapsed = silent
        .wait_closed(Duration::from_secs(6))
        .unwrap_or_else(|e| panic!("silent connection: {e}"));
    assert!(
        elapsed >= Duration::from_millis(500),
        "closed too early: {elapsed:?}"
    );
}

// The connection cap (the longest-idle connection makes room) is tested in abuse.rs.

//! Response rate limiting (RRL), on by default: a flood of identical queries from one
//! address is mostly dropped and every second limited reply is sent truncated, while the
//! same address asking other names, a resolver asking many names, and TCP are served.
//! (The other test modules run with RRL off, see `Fixture::config`.)

use crate::util::{ECS, Edns, Fixture, Query, Response, Server, ecs_option, http, rcode};
use hickory_proto::rr::RecordType;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::time::Duration;

/// What came back for a burst of datagrams, by query ID.
pub struct Flood {
    pub replies: HashMap<u16, Response>,
}

impl Flood {
    /// Full answers (not truncated) among the replies to `ids`.
    pub fn answered(&self, ids: &[u16]) -> usize {
        ids.iter()
            .filter(|id| self.replies.get(id).is_some_and(|r| !r.tc))
            .count()
    }

    /// Truncated replies among the replies to `ids`; each must have no records.
    pub fn slipped(&self, ids: &[u16]) -> usize {
        let slipped: Vec<&Response> = ids
            .iter()
            .filter_map(|id| self.replies.get(id))
            .filter(|r| r.tc)
            .collect();
        for r in &slipped {
            assert!(
                r.answers.is_empty() && r.authority.is_empty() && r.additional.is_empty(),
                "a slipped reply carries records\n{r}"
            );
        }
        slipped.len()
    }
}

/// Sends every query as fast as the socket takes them, from one socket (one address and
/// port), while a second thread reads replies until none has come for 1 s.
pub fn flood(server: &Server, queries: &[Vec<u8>]) -> Flood {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(server.dns).unwrap();
    // Room for every reply, so the count is the server's doing, not our buffer's.
    socket2::SockRef::from(&sock)
        .set_recv_buffer_size(8 << 20)
        .unwrap();
    let reader = sock.try_clone().unwrap();
    let collector = std::thread::spawn(move || {
        reader
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let mut replies = HashMap::new();
        let mut buf = vec![0u8; 65535];
        while let Ok(n) = reader.recv(&mut buf) {
            let r = Response::parse(&buf[..n]).unwrap_or_else(|e| panic!("bad reply: {e}"));
            assert!(
                replies.insert(r.id, r).is_none(),
                "one query answered twice"
            );
        }
        replies
    });
    for q in queries {
        sock.send(q).unwrap();
    }
    Flood {
        replies: collector.join().unwrap(),
    }
}

/// `n` queries for `name` with fresh IDs: (IDs, wire bytes).
fn same(name: &str, qtype: RecordType, n: usize) -> (Vec<u16>, Vec<Vec<u8>>) {
    (0..n)
        .map(|_| {
            let q = Query::new(name, qtype);
            (q.id, q.to_wire())
        })
        .unzip()
}

#[test]
fn a_flood_of_identical_queries_is_limited_while_other_names_are_answered() {
    // Defaults: 20 per second, slip 2.
    let server = Fixture::standard().tables("[rrl]\n").start();
    let (flood_ids, mut wire) = same("www.example.com.", RecordType::A, 2000);
    // Interleaved, from the same socket: one query each for other names.
    let others = [
        "mail.example.com.",
        "txt.example.com.",
        "ns1.example.com.",
        "ns2.example.com.",
        "multi.example.com.",
        "a.b.example.com.",
        "alias.example.com.",
        "real.wild.example.com.",
    ];
    let mut other_ids = Vec::new();
    for (i, name) in others.iter().enumerate() {
        let q = Query::new(name, RecordType::A);
        other_ids.push(q.id);
        wire.insert(100 + i * 200, q.to_wire());
    }
    let f = flood(&server, &wire);
    let answered = f.answered(&flood_ids);
    let slipped = f.slipped(&flood_ids);
    let dropped = flood_ids.len() - answered - slipped;
    eprintln!("2000 identical queries: {answered} answered, {slipped} slipped, {dropped} dropped");
    assert!(
        answered <= 100,
        "{answered} of 2000 identical queries answered"
    );
    assert!(slipped >= 500, "only {slipped} slipped (TC=1) replies");
    assert!(dropped >= 500, "only {dropped} dropped");
    assert_eq!(
        f.answered(&other_ids),
        others.len(),
        "other names from the flooding address must be answered"
    );
    // /metrics counts what the limiter held back.
    let metrics = http(server.api(), "GET", "/metrics", None, None).body;
    let sample = |series: &str| -> u64 {
        let series = format!("{series} ");
        let line = metrics.lines().find(|l| l.starts_with(&series));
        let line = line.unwrap_or_else(|| panic!("no {series} in /metrics:\n{metrics}"));
        line[series.len()..].trim().parse().unwrap()
    };
    let counted = |action: &str| {
        sample(&format!(
            "meridian_dns_rrl_limited_total{{action=\"{action}\"}}"
        ))
    };
    assert!(counted("slipped") >= slipped as u64, "{metrics}");
    assert!(counted("dropped") >= 500, "{metrics}");
    assert!(counted("slipped") + counted("dropped") <= 2000 - answered as u64);
    // Responses count only what was sent: 2008 made, the dropped ones taken back.
    let sent = sample("meridian_dns_responses_total{zone=\"example.com.\",rcode=\"NOERROR\"}");
    assert_eq!(sent, 2008 - counted("dropped"), "{metrics}");
    // A slipped reply sends the client to TCP, which is never limited.
    let q = Query::new("www.example.com.", RecordType::A);
    for _ in 0..30 {
        server.query_tcp(&q).assert_answer(&q);
    }
}

#[test]
fn a_random_subdomain_flood_shares_one_bucket_per_zone_or_wildcard() {
    let server = Fixture::standard().tables("[rrl]\n").start();
    let queries: Vec<Query> = (0..1000)
        .map(|i| {
            let name = if i % 2 == 0 {
                format!("rnd{i}.example.com.")
            } else {
                format!("rnd{i}.wild.example.com.")
            };
            Query::new(&name, RecordType::A)
        })
        .collect();
    let nx: Vec<u16> = queries.iter().step_by(2).map(|q| q.id).collect();
    let wild: Vec<u16> = queries.iter().skip(1).step_by(2).map(|q| q.id).collect();
    let wire: Vec<Vec<u8>> = queries.iter().map(Query::to_wire).collect();
    let f = flood(&server, &wire);
    let (nx_answered, wild_answered) = (f.answered(&nx), f.answered(&wild));
    eprintln!("500 random NXDOMAIN: {nx_answered} answered; 500 random wildcard: {wild_answered}");
    assert!(
        nx_answered <= 60,
        "{nx_answered} of 500 random NXDOMAIN names answered"
    );
    assert!(
        wild_answered <= 60,
        "{wild_answered} of 500 wildcard names answered"
    );
    let nxdomain = f.replies.get(&nx[0]).expect("the first is answered");
    assert_eq!(nxdomain.rcode(), rcode::NXDOMAIN);
    // A real name is still answered.
    let q = Query::new("www.example.com.", RecordType::A);
    server.query(&q).assert_answer(&q);
}

#[test]
fn a_resolver_asking_many_names_for_many_subnets_is_not_limited() {
    let hosts: String = (0..30)
        .map(|i| format!("h{i} IN A 192.0.2.{}\n", 100 + i))
        .collect();
    let server = Fixture::standard()
        .append("example.com", &hosts)
        .tables("[rrl]\n")
        .start();
    // 450 queries at once from one address: 30 names, each asked 15 times with the ECS
    // option of a different client subnet, as a large public resolver does.
    let queries: Vec<Query> = (0..450)
        .map(|i| {
            let subnet = [198, 51, (i % 250) as u8];
            Query::new(&format!("h{}.example.com.", i % 30), RecordType::A)
                .edns(Edns::new(1232).option(ECS, ecs_option(1, 24, 0, &subnet)))
        })
        .collect();
    let ids: Vec<u16> = queries.iter().map(|q| q.id).collect();
    let f = flood(
        &server,
        &queries.iter().map(Query::to_wire).collect::<Vec<_>>(),
    );
    assert_eq!(f.answered(&ids), ids.len(), "every query answered in full");
    for q in &queries {
        f.replies[&q.id].assert_answer(q);
    }
}

#[test]
fn slip_1_truncates_every_limited_reply_and_enabled_false_turns_rrl_off() {
    let server = Fixture::standard()
        .tables("[rrl]\nresponses_per_second = 5\nslip = 1\n")
        .start();
    let (ids, wire) = same("www.example.com.", RecordType::A, 300);
    let f = flood(&server, &wire);
    let (answered, slipped) = (f.answered(&ids), f.slipped(&ids));
    assert!(answered <= 20, "{answered} answered at 5 per second");
    assert!(slipped >= 250, "slip = 1: {slipped} of 300 truncated");

    let off = Fixture::standard()
        .tables("[rrl]\nenabled = false\n")
        .start();
    let (ids, wire) = same("www.example.com.", RecordType::A, 300);
    let f = flood(&off, &wire);
    assert_eq!(
        f.answered(&ids),
        300,
        "with RRL off every query is answered"
    );
}

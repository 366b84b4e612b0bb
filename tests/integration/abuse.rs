//! Attacks on the transports and the zone reader, reproduced on loopback: a TCP client
//! that never reads, many connections from one source, a full connection table, a UDP
//! query larger than 4,096 bytes, and `$INCLUDE` of a device or a FIFO. Each test also
//! checks that a legitimate client is served meanwhile.

use crate::util::{Edns, Fixture, Query, Response, TcpClient, UdpClient, frame, is_closed, rcode};
use hickory_proto::rr::RecordType;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A TCP connection from `source` (any 127.0.0.0/8 address) with a small receive buffer.
fn connect_from(source: &str, server: SocketAddr, recv_buffer: Option<usize>) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let bind: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&bind.into()).unwrap();
    socket
        .connect_timeout(&server.into(), Duration::from_secs(5))
        .unwrap();
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

fn assert_served(tcp: &mut TcpClient, what: &str) {
    let q = Query::new("www.example.com.", RecordType::A);
    let r = tcp.exchange(&q);
    assert_eq!(
        r.answer_texts(),
        ["www.example.com. 3600 A 192.0.2.10"],
        "{what}\n{r}"
    );
}

#[test]
fn a_tcp_client_that_never_reads_its_replies_is_dropped_after_the_write_timeout() {
    let server = Fixture::standard()
        .server_key("tcp_write_timeout = \"1s\"")
        .server_key("tcp_idle_timeout = \"60s\"")
        .start();
    let mut stream = connect_from("127.0.0.1", server.dns, Some(4096));
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let q = Query::new("multi.example.com.", RecordType::ANY).to_wire();
    let batch: Vec<u8> = (0..200).flat_map(|_| frame(&q)).collect();
    // Pipeline queries and never read: the replies fill our receive buffer and the
    // server's send buffer, then the server must give up on us.
    let start = Instant::now();
    let mut checked_others = false;
    let closed_after = loop {
        match stream.write(&batch) {
            Ok(_) => {}
            Err(e) if is_closed(&e) => break start.elapsed(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if !checked_others {
                    // The server is stuck writing to us: others are served all the same.
                    let q = Query::new("www.example.com.", RecordType::A);
                    server.udp().exchange(&q).assert_answer(&q);
                    assert_served(&mut server.tcp(), "another TCP client");
                    checked_others = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("write: {e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "a client that never reads still holds its connection after 20 s"
        );
    };
    assert!(checked_others, "the connection never filled up");
    eprintln!("non-reading client dropped after {closed_after:?}");
    assert_served(&mut server.tcp(), "a new connection afterwards");
}

#[test]
fn one_source_may_hold_only_tcp_max_connections_per_source() {
    let server = Fixture::standard()
        .server_key("tcp_max_connections_per_source = 2")
        .start();
    let mut first = TcpClient {
        stream: connect_from("127.0.0.1", server.dns, None),
    };
    assert_served(&mut first, "first");
    let mut second = TcpClient {
        stream: connect_from("127.0.0.1", server.dns, None),
    };
    assert_served(&mut second, "second");
    // The third from the same address is closed at once.
    let mut third = TcpClient {
        stream: connect_from("127.0.0.1", server.dns, None),
    };
    let closed = third.wait_closed(Duration::from_secs(5));
    assert!(
        closed.is_ok(),
        "third connection from one source: {closed:?}"
    );
    // Another source is served, and so are the first two.
    let mut other = TcpClient {
        stream: connect_from("127.0.0.2", server.dns, None),
    };
    assert_served(&mut other, "a connection from 127.0.0.2");
    assert_served(&mut first, "first, again");
    assert_served(&mut second, "second, again");
}

#[test]
fn at_the_connection_cap_the_longest_idle_connection_makes_room() {
    let server = Fixture::standard()
        .server_key("tcp_max_connections = 2")
        .start();
    let mut first = server.tcp();
    assert_served(&mut first, "first");
    std::thread::sleep(Duration::from_millis(50));
    let mut second = server.tcp();
    assert_served(&mut second, "second");
    // Today's attack: idle connections fill the table and every newcomer is refused.
    // Now the newcomer is served and the connection idle longest (first) is closed.
    let mut third = server.tcp();
    assert_served(&mut third, "a newcomer at the cap");
    let closed = first.wait_closed(Duration::from_secs(5));
    assert!(closed.is_ok(), "the longest-idle connection: {closed:?}");
    assert_served(&mut second, "second, still open");
    assert_served(&mut third, "third, again");
}

#[test]
fn pipelined_queries_beyond_the_reply_queue_cap_are_all_answered_in_order() {
    let server = Fixture::standard()
        .server_key("tcp_max_queued_replies = 2")
        .start();
    let queries: Vec<Query> = (0..50)
        .map(|i| {
            Query::new(
                if i % 2 == 0 {
                    "www.example.com."
                } else {
                    "txt.example.com."
                },
                RecordType::A,
            )
        })
        .collect();
    let bytes: Vec<u8> = queries.iter().flat_map(|q| frame(&q.to_wire())).collect();
    let mut tcp = server.tcp();
    tcp.write_raw(&bytes).unwrap();
    for q in &queries {
        let r = Response::parse(&tcp.recv().unwrap()).unwrap();
        assert_eq!(r.id, q.id, "replies come in query order");
        r.assert_echoes(q);
    }
}

#[test]
fn a_udp_query_larger_than_4096_bytes_is_read_whole() {
    let server = Fixture::standard().start();
    // A large option puts the end of the OPT record past byte 4,096: a cut datagram
    // would be FORMERR.
    let q = Query::new("www.example.com.", RecordType::A)
        .edns(Edns::new(1232).option(12, vec![0; 6000]));
    assert!(q.to_wire().len() > 6000);
    let udp = UdpClient::new(server.dns);
    let r = udp.exchange(&q);
    assert_eq!(r.rcode(), rcode::NOERROR, "{r}");
    assert_eq!(r.answer_texts(), ["www.example.com. 3600 A 192.0.2.10"]);
    assert!(r.opt.is_some(), "the OPT record was read");
    // A datagram of the largest size UDP carries over IPv4 is answered too.
    let q = Query::new("www.example.com.", RecordType::A)
        .edns(Edns::new(1232).option(12, vec![0; 65_507 - 12 - 21 - 11 - 4]));
    assert_eq!(q.to_wire().len(), 65_507);
    assert_eq!(udp.exchange(&q).rcode(), rcode::NOERROR);
}

#[test]
fn include_of_dev_zero_or_a_fifo_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.inc");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let zone = crate::util::EXAMPLE_COM;
    for (what, target) in [
        ("/dev/zero", "/dev/zero".to_string()),
        ("a FIFO", fifo.display().to_string()),
    ] {
        let text = format!("{zone}\n$INCLUDE {target}\n");
        let line = text.lines().count();
        let run = Fixture::new().zone("example.com", &text).check();
        assert_eq!(run.status.code(), Some(1), "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "example.com.zone:{line}: cannot read {target}: not a regular file"
            )),
            "{what}: {}",
            run.stderr
        );
    }
}

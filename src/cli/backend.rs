//! `meridian lab-backend` (hidden): the stand-in backend of the Docker lab (deploy/lab/).
//! It gives the lab's health checks something real to check without another image: an
//! HTTP listener that answers every request `200 OK` with `backend NAME`, and a TCP
//! listener that writes `NAME` and closes. It is a test fixture, not a web server: one
//! thread per connection, a request head of at most 8 KiB read within 2 s.

use anyhow::Context;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// How long a client has to send its request head (or to take the reply).
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request head read before answering anyway.
const MAX_HEAD: usize = 8192;

pub fn run(
    name: &str,
    http: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        http.is_some() || tcp.is_some(),
        "give --http ADDR, --tcp ADDR or both"
    );
    let mut threads = Vec::new();
    let mut bound = [None, None];
    if let Some(addr) = http {
        let listener = TcpListener::bind(addr).with_context(|| format!("--http {addr}"))?;
        bound[0] = Some(listener.local_addr()?);
        let body = format!("backend {name}\n");
        threads.push(std::thread::spawn(move || {
            serve(listener, move |s| http_reply(s, &body))
        }));
    }
    if let Some(addr) = tcp {
        let listener = TcpListener::bind(addr).with_context(|| format!("--tcp {addr}"))?;
        bound[1] = Some(listener.local_addr()?);
        let line = format!("{name}\n");
        threads.push(std::thread::spawn(move || {
            serve(listener, move |mut s| {
                let _ = s.write_all(line.as_bytes());
            })
        }));
    }
    let shown = |a: Option<SocketAddr>| a.map_or("-".to_string(), |a| a.to_string());
    println!(
        "meridian lab-backend ready name={name} http={} tcp={}",
        shown(bound[0]),
        shown(bound[1])
    );
    std::io::stdout().flush()?;
    for t in threads {
        let _ = t.join();
    }
    Ok(ExitCode::SUCCESS)
}

/// Accepts for ever, handling each connection on a thread of its own.
fn serve<F>(listener: TcpListener, handle: F)
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let handle = handle.clone();
        std::thread::spawn(move || handle(stream));
    }
}

/// Reads the request head (until the blank line, EOF, the timeout or 8 KiB) and answers
/// `200 OK` with `body`, closing the connection.
fn http_reply(mut stream: TcpStream, body: &str) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

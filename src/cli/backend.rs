//! `meridian lab-backend` (hidden): the stand-in backend of the Docker lab (deploy/lab/).
//! It gives the lab's health checks something real to check without another image: an
//! HTTP listener that answers every request `200 OK` with `backend NAME`, and a TCP
//! listener that writes `NAME` and closes. It is a test fixture, not a web server: one
//! thread per connection, a request head of at most 8 KiB read within 2 s.
//!
//! For the latency and load tests it can report a load in its HTTP answers
//! (`X-Meridian-Load`) and hold each answer back by a delay chosen by the peer's source
//! address; both can come from a file read again for every request, so a test changes
//! them while it runs.

use anyhow::Context;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// What the HTTP listener adds to its answers: a load, and delays by peer address.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// `--load F`: sent as `X-Meridian-Load: F`.
    pub load: Option<f64>,
    /// `--load-file PATH`: a number, read for every request (over `load`; a missing or
    /// unreadable file means `load`).
    pub load_file: Option<PathBuf>,
    /// `--delay ADDR=MS`: answers to a peer at ADDR wait MS milliseconds.
    pub delays: Vec<(IpAddr, u64)>,
    /// `--delay-file PATH`: lines `ADDR MS`, read for every request (over `delays`).
    pub delay_file: Option<PathBuf>,
}

impl Behaviour {
    fn load_now(&self) -> Option<f64> {
        self.load_file
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| crate::health::check::parse_load(&t))
            .or(self.load)
    }

    fn delay_for(&self, peer: IpAddr) -> Duration {
        let from_file = self
            .delay_file
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| delay_in(&text, peer));
        let ms = from_file.or_else(|| {
            self.delays
                .iter()
                .find(|(a, _)| *a == peer)
                .map(|(_, ms)| *ms)
        });
        Duration::from_millis(ms.unwrap_or(0))
    }
}

/// The delay a `--delay-file` text gives `peer` (lines `ADDR MS`; `#` starts a comment).
fn delay_in(text: &str, peer: IpAddr) -> Option<u64> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let addr: IpAddr = words.next()?.parse().ok()?;
        let ms: u64 = words.next()?.parse().ok()?;
        (addr == peer).then_some(ms)
    })
}

/// `--delay ADDR=MS`.
pub fn parse_delay(text: &str) -> Result<(IpAddr, u64), String> {
    let (addr, ms) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: want ADDR=MS"))?;
    let addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address"))?;
    let ms = ms
        .parse()
        .map_err(|_| format!("{ms:?} is not a number of milliseconds"))?;
    Ok((addr, ms))
}

/// `--load F`.
pub fn parse_load_arg(text: &str) -> Result<f64, String> {
    crate::health::check::parse_load(text).ok_or_else(|| format!("{text:?} is not a number"))
}

/// How long a client has to send its request head (or to take the reply).
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request head read before answering anyway.
const MAX_HEAD: usize = 8192;

pub fn run(
    name: &str,
    http: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
    behaviour: Behaviour,
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
        let behaviour = Arc::new(behaviour);
        threads.push(std::thread::spawn(move || {
            serve(listener, move |s| http_reply(s, &body, &behaviour))
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
/// `200 OK` with `body` (after the peer's delay, with the load if any), closing the
/// connection.
fn http_reply(mut stream: TcpStream, body: &str, behaviour: &Behaviour) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if let Ok(peer) = stream.peer_addr() {
        let delay = behaviour.delay_for(peer.ip());
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
    let load = behaviour
        .load_now()
        .map_or(String::new(), |l| format!("X-Meridian-Load: {l}\r\n"));
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{load}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

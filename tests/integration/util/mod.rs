//! The harness: writes a config and zones into a temp dir, runs the real `meridian` binary
//! on port 0, and speaks DNS to it over UDP and TCP on loopback.
//!
//! `fixture` writes the files, `process` runs the binary, `query`/`transport`/`response`
//! speak DNS, `http` speaks to the API, `fleet` runs health-check backends, `schema` checks
//! JSON against the API's OpenAPI document, `netns` runs a test inside a network namespace
//! of its own.
//!
//! Queries are encoded by hand, so tests can also send broken ones. Responses are decoded by
//! hand, so header bits, section counts and the OPT record are checked as they are on the
//! wire, and every response is also cross-checked with hickory-proto's parser.

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

mod fixture;
mod fleet;
mod http;
mod knot;
mod netns;
mod prng;
mod process;
mod query;
mod response;
mod schema;
mod transport;

pub use fixture::*;
pub use fleet::*;
pub use http::*;
pub use knot::*;
pub use netns::*;
pub use prng::*;
pub use process::*;
pub use query::*;
pub use response::*;
pub use schema::*;
pub use transport::*;

/// How long the server may take to print its start-up line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a response that must come may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to keep listening for a response that must not come, after a later query on
/// the same socket has been answered.
pub const SILENCE: Duration = Duration::from_millis(300);

/// The standard zone: one of everything (see the comments in the file).
pub const EXAMPLE_COM: &str = include_str!("../../data/zones/example.com.zone");
/// A zone nested inside `example.com`, with SOA TTL 60 below its minimum 300.
pub const DEEP_EXAMPLE_COM: &str = include_str!("../../data/zones/deep.example.com.zone");

/// The regions every test config shares: `tests/data/regions.toml` (the unit tests in
/// `src/` read the same file).
pub const REGIONS: &str = include_str!("../../data/regions.toml");

pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const BADVERS: u16 = 16;
}

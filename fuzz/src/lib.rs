//! What the fuzz targets share: the fixture server (config, zones and services of
//! `fixture/`, loaded once per process from a temporary directory) and the checks every
//! DNS response must pass, whatever the query.

use hickory_proto::op::Message;
use meridian::dns::respond::{QueryStats, Request, Transport, respond};
use meridian::dns::wire::{self, Edns, QueryError};
use meridian::snapshot::Snapshot;
use std::net::IpAddr;
use std::sync::OnceLock;

const CONFIG: &str = include_str!("../fixture/meridian.toml");
const ZONE: &str = include_str!("../fixture/zones/example.com.zone");
const DEEP: &str = include_str!("../fixture/zones/deep.example.com.zone");
const SERVICES: &str = include_str!("../fixture/zones/example.com.toml");

/// The fixture snapshot: written to a temporary directory, loaded, and the directory
/// removed (a snapshot holds everything in memory).
pub fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(dir.path().join("meridian.toml"), CONFIG).unwrap();
        std::fs::write(zones.join("example.com.zone"), ZONE).unwrap();
        std::fs::write(zones.join("deep.example.com.zone"), DEEP).unwrap();
        std::fs::write(zones.join("example.com.toml"), SERVICES).unwrap();
        match Snapshot::load(&dir.path().join("meridian.toml"), None) {
            Ok(snap) => snap,
            Err(e) => panic!("the fuzz fixture does not load: {e}"),
        }
    })
}

/// The services file of the fixture (a seed for the services target).
pub fn services_text() -> &'static str {
    SERVICES
}

/// The OPT record of a query as `wire::parse` saw it, when it got that far.
fn query_edns(msg: &[u8]) -> Option<Edns> {
    match wire::parse(msg) {
        Ok(q) => q.edns,
        Err(QueryError::FormErr { edns, .. } | QueryError::NotImp { edns, .. }) => edns,
        Err(QueryError::Drop) => None,
    }
}

/// A query from `peer` over `transport`, at a fixed time, with cookies off (the cookie
/// code is reached through the option parser; a fixed secret would make it a constant).
pub fn request(transport: Transport, peer: IpAddr) -> Request<'static> {
    Request {
        transport,
        peer,
        now: 1_700_000_000,
        cookies: None,
    }
}

/// Answers `msg` as the server would and checks what a client would notice: a response
/// exactly when one is due, the query's id, QR set, within the transport's size, one that
/// a DNS library decodes, and the same bytes whatever the output buffer held before.
pub fn respond_and_check(snap: &Snapshot, msg: &[u8], transport: Transport, peer: IpAddr) {
    thread_local! {
        static OUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut stats = QueryStats::default();
    let mut fresh = Vec::new();
    let req = request(transport, peer);
    let answered = respond(snap, msg, &req, &mut fresh, &mut stats).is_some();
    let dropped = msg.len() < 12 || msg[2] & 0x80 != 0;
    assert_eq!(
        answered, !dropped,
        "a response is due exactly when not dropped"
    );
    OUT.with_borrow_mut(|reused| {
        let again = respond(snap, msg, &req, reused, &mut stats).is_some();
        assert_eq!(again, answered);
        assert_eq!(
            *reused, fresh,
            "the response depends on the buffer's old contents"
        );
    });
    if !answered {
        return;
    }
    let out = &fresh;
    assert!(out.len() >= 12, "response shorter than a header");
    assert_eq!(out[..2], msg[..2], "response id");
    assert!(out[2] & 0x80 != 0, "QR not set");
    let limit = match transport {
        Transport::Tcp => u16::MAX as usize,
        Transport::Udp => {
            let payload = snap.config.server.max_udp_payload.max(512);
            query_edns(msg).map_or(512, |e| e.udp_payload.clamp(512, payload)) as usize
        }
    };
    assert!(
        out.len() <= limit,
        "{} byte response over the {transport:?} limit {limit}",
        out.len()
    );
    let decoded = match Message::from_vec(out) {
        Ok(m) => m,
        Err(e) => panic!("response does not decode: {e}\nquery {msg:02x?}\nresponse {out:02x?}"),
    };
    if let Ok(q) = wire::parse(msg) {
        // The question is echoed as received.
        assert_eq!(
            &out[12..12 + q.question.len()],
            q.question,
            "question not echoed"
        );
        assert_eq!(decoded.queries.len(), 1);
        // An OPT in the query gets one in the response.
        assert_eq!(q.edns.is_some(), decoded.edns.is_some(), "OPT echo");
    }
}

//! Asking a primary over TCP: its SOA serial, and a zone transfer (AXFR, RFC 5936; IXFR,
//! RFC 1995), each request signed with the zone's TSIG key when it has one and every
//! answer checked with it: the first message's MAC chains on the request's, each later
//! one on the last signed message's, with at most 99 unsigned between (RFC 8945 §5.3.1).
//!
//! Everything the primary sends is checked before it is used: message syntax
//! (`message.rs`), IDs, rcodes, TSIG, and the shape of the stream (`ixfr.rs`). A failure is
//! a [`PullError`] saying what was wrong; nothing of a failed transfer is kept.

use super::ixfr::{Bad, Collector, Pulled, ZoneCopy};
use super::message::{self, Malformed};
use crate::config::TsigKey;
use crate::dns::tsig;
use hickory_proto::rr::Name;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TYPE_SOA: u16 = 6;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const CLASS_IN: u16 = 1;
const FLAG_AA: u16 = 0x0400;
/// How long to wait for a connection, and for each message.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// RFC 8945 §5.3.1: a signed stream has a signed message at least every 100.
const MAX_UNSIGNED: usize = 99;
/// The largest zone taken, in octets of records (the master-file reader's limit is alike).
const MAX_ZONE_OCTETS: usize = 512 << 20;

/// Why asking a primary failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("connection: {0}")]
    Io(std::io::Error),
    #[error("the primary closed the connection before the answer was complete")]
    Closed,
    #[error("no answer in {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Malformed(#[from] Malformed),
    #[error("the primary answered {0}")]
    Rcode(String),
    #[error("TSIG: {0}")]
    Tsig(&'static str),
    #[error("{0}")]
    Stream(#[from] Bad),
    #[error("the answer has another ID than the request")]
    WrongId,
    #[error("the answer has no SOA record for the zone (is it authoritative for it?)")]
    NoSoa,
    #[error("the zone is larger than {} MiB", MAX_ZONE_OCTETS >> 20)]
    TooLarge,
}

impl PullError {
    /// The primary does not do IXFR (or not for us): AXFR may still work.
    pub fn try_axfr(&self) -> bool {
        matches!(self, PullError::Rcode(_) | PullError::Stream(_))
    }
}

/// A primary and the key to sign with.
#[derive(Debug, Clone, Copy)]
pub struct Primary<'a> {
    pub addr: SocketAddr,
    pub key: Option<&'a TsigKey>,
}

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u16::from_be_bytes(b)
}

/// A request for `origin` of `qtype`, with `authority` (IXFR: our SOA) when given; signed
/// with `key`. Returns the message and the request MAC.
fn request(
    id: u16,
    origin: &Name,
    qtype: u16,
    authority: Option<&[u8]>,
    key: Option<&TsigKey>,
) -> (Vec<u8>, Vec<u8>) {
    let mut msg = Vec::with_capacity(512);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, authority.is_some() as u8, 0, 0]);
    crate::zone::push_name(&mut msg, origin);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&CLASS_IN.to_be_bytes());
    if let Some(a) = authority {
        msg.extend_from_slice(a);
    }
    let mac = key.map_or_else(Vec::new, |k| {
        let stamp = tsig::Stamp {
            time_signed: epoch_now(),
            fudge: tsig::FUDGE,
            error: 0,
            other: &[],
        };
        tsig::sign(&mut msg, k, None, stamp).as_ref().to_vec()
    });
    (msg, mac)
}

/// A TCP connection to a primary, one length-prefixed message at a time.
struct Connection {
    stream: TcpStream,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Connection, PullError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| PullError::Timeout(CONNECT_TIMEOUT))?
            .map_err(PullError::Connect)?;
        Ok(Connection { stream })
    }

    async fn send(&mut self, msg: &[u8]) -> Result<(), PullError> {
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        self.stream.write_all(&framed).await.map_err(PullError::Io)
    }

    async fn receive(&mut self) -> Result<Vec<u8>, PullError> {
        let read = async {
            let mut len = [0u8; 2];
            self.stream.read_exact(&mut len).await?;
            let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
            self.stream.read_exact(&mut msg).await?;
            Ok::<_, std::io::Error>(msg)
        };
        tokio::time::timeout(READ_TIMEOUT, read)
            .await
            .map_err(|_| PullError::Timeout(READ_TIMEOUT))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => PullError::Closed,
                _ => PullError::Io(e),
            })
    }
}

/// Checks the TSIG of each message of an answer to a request signed with `key`.
struct Checker<'a> {
    key: Option<&'a TsigKey>,
    /// The MAC the next signed message chains on (the request's, at first).
    mac: Vec<u8>,
    first: bool,
    unsigned: Vec<Vec<u8>>,
}

impl Checker<'_> {
    fn check(&mut self, msg: &[u8], at: Option<usize>) -> Result<(), PullError> {
        let Some(key) = self.key else { return Ok(()) };
        let Some(at) = at else {
            if self.first {
                return Err(PullError::Tsig("the answer is not signed"));
            }
            if self.unsigned.len() == MAX_UNSIGNED {
                return Err(PullError::Tsig("100 messages in a row unsigned"));
            }
            self.unsigned.push(msg.to_vec());
            return Ok(());
        };
        let now = epoch_now();
        let checked = if self.first {
            tsig::verify_response(key, msg, at, &self.mac, now)
        } else {
            tsig::verify_next(key, msg, at, &self.mac, &self.unsigned, now)
        };
        match checked {
            Ok(v) => {
                self.mac = v.mac.to_vec();
                self.first = false;
                self.unsigned.clear();
                Ok(())
            }
            Err(tsig::Failure::Malformed) => Err(PullError::Tsig("the TSIG record is malformed")),
            Err(tsig::Failure::Unsigned {
                error: tsig::ERROR_BADKEY,
                ..
            }) => Err(PullError::Tsig("signed with another key")),
            Err(tsig::Failure::Unsigned { .. }) => {
                Err(PullError::Tsig("the signature does not verify (BADSIG)"))
            }
            Err(tsig::Failure::BadTime(_)) => Err(PullError::Tsig(
                "signed too long ago or ahead (BADTIME: are the clocks apart?)",
            )),
        }
    }

    /// The stream ended: its last message must have been signed.
    fn finish(&self) -> Result<(), PullError> {
        if self.key.is_some() && !self.unsigned.is_empty() {
            return Err(PullError::Tsig("the last message is not signed"));
        }
        Ok(())
    }
}

/// The name of an rcode, with the TSIG error of a NOTAUTH when it has one.
fn rcode_text(msg: &[u8], rcode: u8, tsig_at: Option<usize>) -> String {
    let name = match rcode {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        9 => "NOTAUTH",
        _ => return format!("rcode {rcode}"),
    };
    let error = tsig_at.and_then(|at| tsig::read(msg, at)).map(|r| r.error);
    match error {
        Some(tsig::ERROR_BADSIG) => format!("{name} (BADSIG: the key's secret differs)"),
        Some(tsig::ERROR_BADKEY) => format!("{name} (BADKEY: it does not know the key)"),
        Some(tsig::ERROR_BADTIME) => format!("{name} (BADTIME: the clocks are apart)"),
        _ => name.to_string(),
    }
}

/// One checked answer message.
fn checked(msg: &[u8], id: u16) -> Result<message::Response, PullError> {
    let r = message::read(msg)?;
    if r.id != id {
        return Err(PullError::WrongId);
    }
    if r.rcode != 0 {
        return Err(PullError::Rcode(rcode_text(msg, r.rcode, r.tsig)));
    }
    Ok(r)
}

/// The serial of the zone's SOA at the primary (an authoritative answer).
pub async fn soa_serial(primary: Primary<'_>, origin: &Name) -> Result<u32, PullError> {
    let mut conn = Connection::open(primary.addr).await?;
    let id = random_id();
    let (msg, mac) = request(id, origin, TYPE_SOA, None, primary.key);
    conn.send(&msg).await?;
    let answer = conn.receive().await?;
    let r = checked(&answer, id)?;
    let mut tsig = Checker {
        key: primary.key,
        mac,
        first: true,
        unsigned: Vec::new(),
    };
    tsig.check(&answer, r.tsig)?;
    if r.flags & FLAG_AA == 0 {
        return Err(PullError::NoSoa);
    }
    let origin_wire = crate::answer::name_key(origin);
    r.answers
        .iter()
        .filter_map(|rec| message::fields(rec))
        .find(|(owner, t, _, _)| *t == TYPE_SOA && owner.eq_ignore_ascii_case(&origin_wire))
        .and_then(|(_, _, _, rdata)| super::timers::SoaTimers::from_rdata(rdata))
        .map(|t| t.serial)
        .ok_or(PullError::NoSoa)
}

/// Transfers the zone: IXFR from `ours` when given (our copy), else AXFR.
pub async fn transfer(
    primary: Primary<'_>,
    origin: &Name,
    ours: Option<&ZoneCopy>,
) -> Result<(Pulled, usize), PullError> {
    let mut conn = Connection::open(primary.addr).await?;
    let id = random_id();
    let qtype = if ours.is_some() { TYPE_IXFR } else { TYPE_AXFR };
    let (msg, mac) = request(
        id,
        origin,
        qtype,
        ours.map(|c| c.soa.as_slice()),
        primary.key,
    );
    conn.send(&msg).await?;
    let origin_wire = crate::answer::name_key(origin);
    let mut collector = Collector::new(&origin_wire, ours.map(|c| c.timers().serial));
    let mut tsig = Checker {
        key: primary.key,
        mac,
        first: true,
        unsigned: Vec::new(),
    };
    let mut octets = 0;
    let mut messages = 0;
    loop {
        let answer = conn.receive().await?;
        messages += 1;
        let r = checked(&answer, id)?;
        tsig.check(&answer, r.tsig)?;
        for record in r.answers {
            octets += record.len();
            if octets > MAX_ZONE_OCTETS {
                return Err(PullError::TooLarge);
            }
            collector.push(record)?;
        }
        if collector.done() || (messages == 1 && collector.only_soa()) {
            break;
        }
    }
    tsig.finish()?;
    Ok((collector.finish()?, messages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_question_and_the_ixfr_soa() {
        let origin = Name::from_ascii("example.com.").unwrap();
        let (axfr, mac) = request(0x1234, &origin, TYPE_AXFR, None, None);
        assert!(mac.is_empty());
        assert_eq!(&axfr[..12], &[0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&axfr[12..], b"\x07example\x03com\x00\x00\xfc\x00\x01");
        let soa = b"\x07example\x03com\x00\x00\x06\x00\x01\x00\x00\x00\x3c\x00\x00";
        let (ixfr, _) = request(1, &origin, TYPE_IXFR, Some(soa), None);
        assert_eq!(ixfr[9], 1, "NSCOUNT");
        assert!(ixfr.ends_with(soa));
        assert!(crate::dns::xfr::is_transfer(&ixfr));
    }

    #[test]
    fn a_notauth_names_the_tsig_error() {
        // A header and a TSIG record with error BADSIG (16), no MAC.
        let mut m = vec![0, 1, 0x80, 9, 0, 0, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(b"\x03key\x00\x00\xfa\x00\xff\x00\x00\x00\x00");
        let rdata = [
            b"\x0bhmac-sha256\x00".as_slice(),
            &[0, 0, 0, 0, 0, 1, 1, 44],
            &[0, 0],
            &[0, 1, 0, 16, 0, 0],
        ]
        .concat();
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rdata);
        assert_eq!(
            rcode_text(&m, 9, Some(12)),
            "NOTAUTH (BADSIG: the key's secret differs)"
        );
        assert_eq!(rcode_text(&m, 5, None), "REFUSED");
    }
}

//! NOTIFY (RFC 1996): tells a zone's secondaries that it changed, so they transfer it now
//! instead of at their next SOA refresh.
//!
//! At start-up, [`at_start`] notifies every zone's secondaries. After a reload,
//! [`after_reload`] compares each zone's serial with the one served before;
//! for each zone whose serial went up (RFC 1982 arithmetic) or that is new, every address
//! in its `[transfer.ZONE] notify` list gets a NOTIFY over UDP (with the new SOA in the
//! answer section, signed with the zone's first allowed key when it has one), sent again
//! after 1, 2, 4 and 8 seconds until the secondary answers. The outcome is logged; nothing
//! waits for it.

use super::tsig;
use super::xfr::serial_lt;
use crate::config::TsigKey;
use crate::snapshot::Snapshot;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

const OPCODE_NOTIFY: u16 = 4;
const TYPE_SOA: u16 = 6;
const CLASS_IN: u16 = 1;
/// How long to wait for an answer before each resend; one send per entry.
const WAITS: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(8),
];

/// Sends NOTIFY for every zone of `new` whose serial is above `old`'s (or that `old` did
/// not serve) to its configured secondaries, each on a task of its own.
pub fn after_reload(old: &Snapshot, new: &Snapshot) {
    send(new, |zone| {
        let before = old.zones.zones().iter().find(|z| z.origin == zone.origin);
        before.is_none_or(|b| serial_lt(b.serial, zone.serial))
    });
}

/// Sends NOTIFY for every zone with a `notify` list: at start-up, the secondaries learn
/// of changes made while the server was down (as NSD and Knot do).
pub fn at_start(snap: &Snapshot) {
    send(snap, |_| true);
}

/// Sends NOTIFY for the zones of `new` that `changed` selects.
fn send(new: &Snapshot, changed: impl Fn(&crate::zone::Zone) -> bool) {
    for t in &new.config.transfer {
        if t.notify.is_empty() {
            continue;
        }
        let Some(zone) = new.zones.zones().iter().find(|z| z.origin == t.zone) else {
            continue;
        };
        if !changed(zone) {
            continue;
        }
        let key = t.keys.first().map(|&k| new.config.tsig[k].clone());
        let mut msg = Vec::with_capacity(512);
        msg.extend_from_slice(&[0, 0]); // the ID, set per target
        msg.extend_from_slice(&(OPCODE_NOTIFY << 11 | super::wire::FLAG_AA).to_be_bytes());
        msg.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
        crate::zone::push_name(&mut msg, &zone.origin);
        msg.extend_from_slice(&TYPE_SOA.to_be_bytes());
        msg.extend_from_slice(&CLASS_IN.to_be_bytes());
        msg.extend_from_slice(&zone.records.soa);
        for &target in &t.notify {
            let origin = zone.origin_text.clone();
            let serial = zone.serial;
            let msg = msg.clone();
            let key = key.clone();
            tokio::spawn(async move {
                notify(target, &origin, serial, msg, key.as_ref()).await;
            });
        }
    }
}

/// Sends one NOTIFY to `target` until it is answered or the tries run out; logs how it went.
async fn notify(
    target: SocketAddr,
    zone: &str,
    serial: u32,
    mut msg: Vec<u8>,
    key: Option<&TsigKey>,
) {
    let id = random_id();
    msg[..2].copy_from_slice(&id.to_be_bytes());
    if let Some(key) = key {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stamp = tsig::Stamp {
            time_signed: now,
            fudge: tsig::FUDGE,
            error: 0,
            other: &[],
        };
        tsig::sign(&mut msg, key, None, stamp);
    }
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(zone, %target, "NOTIFY not sent: cannot open a UDP socket: {e}");
            return;
        }
    };
    let mut buf = [0u8; 4096];
    for (attempt, wait) in WAITS.iter().enumerate() {
        if let Err(e) = socket.send_to(&msg, target).await {
            tracing::debug!(zone, %target, "NOTIFY send: {e}");
        }
        let deadline = tokio::time::Instant::now() + *wait;
        loop {
            let got = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
            let Ok(Ok((len, from))) = got else { break };
            let r = &buf[..len];
            if from != target || len < 12 || r[..2] != id.to_be_bytes() || r[2] & 0x80 == 0 {
                continue;
            }
            let opcode = (r[2] >> 3) & 0xF;
            let rcode = r[3] & 0xF;
            if opcode as u16 != OPCODE_NOTIFY {
                continue;
            }
            if rcode == 0 {
                tracing::info!(zone, %target, serial, tries = attempt + 1, "NOTIFY answered");
            } else {
                tracing::warn!(zone, %target, serial, rcode, "NOTIFY answered with an error");
            }
            return;
        }
    }
    tracing::warn!(zone, %target, serial, tries = WAITS.len(), "NOTIFY unanswered; the secondary will see the change at its next SOA refresh");
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u16::from_be_bytes(b)
}

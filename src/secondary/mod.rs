//! Meridian as a secondary: zones pulled from a primary (`[secondary.ZONE]`) by AXFR or
//! IXFR, refreshed on the SOA timers and on NOTIFY, kept in `state_dir`, expired per the SOA.
//!
//! One task ([`spawn`]) owns every secondary zone's [`timers::Schedule`] and copy. When a
//! check is due (or a NOTIFY came: [`notified`]), it asks each primary in turn for the SOA
//! (`client.rs`) and, when the serial is newer, transfers: IXFR from our serial, AXFR when
//! that fails or there is no copy. A new copy is checked like a zone file (read back by
//! the master-file reader, then built alone), saved atomically (`store.rs`), and the
//! snapshot reloaded: `snapshot.rs` loads the saved copy like a zone file (`load.rs`), with
//! `zones/<origin>.toml` on top. Anything wrong keeps the old copy and is logged. A copy
//! past its expiry is left out of the snapshot; queries for the zone get SERVFAIL
//! ([`unavailable`]), as before its first transfer.

pub mod client;
pub mod ixfr;
pub mod load;
pub mod message;
pub mod store;
pub mod timers;

use crate::config::{Config, SecondaryConfig};
use crate::control::ControlHandle;
use crate::snapshot::Snapshot;
use client::{Primary, PullError};
use hickory_proto::rr::Name;
use ixfr::{Pulled, ZoneCopy};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use store::Saved;
use timers::{Schedule, serial_lt};
use tokio::sync::mpsc;

/// The retry interval before a zone has a copy (and so no SOA to take it from).
const FIRST_RETRY_SECS: u64 = 10;
/// The longest the task sleeps: it notices a reload's new `[secondary]` tables this soon.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Where DNS workers hand a NOTIFY to the task. A process-wide channel, set once by
/// [`spawn`], so that the workers need no new parameter; without a task (tests, `check`),
/// a NOTIFY is answered and goes nowhere.
static NOTIFIED: OnceLock<mpsc::UnboundedSender<Name>> = OnceLock::new();

/// A NOTIFY for `zone` was taken: check its primary now.
pub fn notified(zone: &Name) {
    if let Some(tx) = NOTIFIED.get() {
        let _ = tx.send(zone.clone());
    }
}

/// Whether the lower-case wire query name `key` is in a secondary zone that has no copy
/// to serve (not transferred yet, or expired): such a query gets SERVFAIL, not REFUSED.
pub fn unavailable(config: &Config, key: &[u8]) -> bool {
    config.secondary.iter().any(|s| in_zone(key, &s.key_wire))
}

/// `key` is `zone` or below it (both lower-case wire names).
fn in_zone(key: &[u8], zone: &[u8]) -> bool {
    let mut pos = 0;
    while pos < key.len() {
        if key[pos..] == *zone {
            return true;
        }
        pos += 1 + key[pos] as usize;
    }
    false
}

/// How a NOTIFY for the lower-case wire name `key` from `peer`, signed with `signer`
/// (index into `Config.tsig`), is answered: `Ok` (NOERROR; the zone is checked now), or
/// the rcode refusing it. The caller has checked the TSIG.
pub fn take_notify(
    snap: &Snapshot,
    key: &[u8],
    qtype: u16,
    peer: IpAddr,
    signer: Option<usize>,
) -> Result<(), u8> {
    const RCODE_FORMERR: u8 = 1;
    const RCODE_REFUSED: u8 = 5;
    const RCODE_NOTAUTH: u8 = 9;
    if qtype != 6 {
        return Err(RCODE_FORMERR);
    }
    let Some(s) = snap.config.secondary.iter().find(|s| *s.key_wire == *key) else {
        tracing::debug!(%peer, "NOTIFY refused: not a secondary zone here");
        return Err(RCODE_NOTAUTH);
    };
    if !s.accepts_notify(peer, signer) {
        tracing::debug!(zone = %s.zone, %peer, signed = signer.is_some(), "NOTIFY refused: not from allow_notify with the zone's key");
        return Err(RCODE_REFUSED);
    }
    tracing::info!(zone = %s.zone, %peer, "NOTIFY taken; checking the primary");
    notified(&s.zone);
    Ok(())
}

/// One secondary zone, as the task knows it.
struct ZoneState {
    schedule: Schedule,
    copy: Option<ZoneCopy>,
    /// The expiry was seen and logged (the snapshot left the zone out).
    expired: bool,
}

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Starts the task on the current runtime; it runs until the process ends.
pub fn spawn(control: ControlHandle, config_path: PathBuf) {
    let (tx, rx) = mpsc::unbounded_channel();
    if NOTIFIED.set(tx).is_err() {
        tracing::warn!("the secondary task was started twice; NOTIFY goes to the first");
    }
    tokio::spawn(run(control, config_path, rx));
}

/// What `state_dir` holds for a zone: its copy and timers, or a zone to transfer now.
fn restore(state_dir: &Path, s: &SecondaryConfig, now: u64) -> ZoneState {
    let saved = store::saved(state_dir, &s.zone);
    let copy = saved.and_then(|_| store::load_copy(state_dir, &s.zone));
    let schedule = match (saved, &copy) {
        (Some(saved), Some(c)) => {
            Schedule::restored(now, saved.refreshed, saved.expires, c.timers())
        }
        _ => Schedule::new(now),
    };
    ZoneState {
        expired: schedule.expired(now),
        schedule,
        copy,
    }
}

async fn run(control: ControlHandle, config_path: PathBuf, mut rx: mpsc::UnboundedReceiver<Name>) {
    let mut zones: HashMap<Name, ZoneState> = HashMap::new();
    loop {
        let snap = control.live().load_full();
        let state_dir = snap.config.server.state_dir.clone();
        let now = epoch_now();
        zones.retain(|name, _| snap.config.secondary.iter().any(|s| s.zone == *name));
        let mut changed = false;
        for s in &snap.config.secondary {
            let state = zones
                .entry(s.zone.clone())
                .or_insert_with(|| restore(&state_dir, s, now));
            if state.schedule.due(epoch_now()) {
                changed |= refresh(&snap, s, state, &state_dir).await;
            }
            let now = epoch_now();
            let expired = state.schedule.expired(now);
            if expired && !state.expired {
                let serial = state.copy.as_ref().map(|c| c.timers().serial);
                tracing::error!(zone = %s.zone, serial, "zone expired: no primary reached within the SOA expire; answering SERVFAIL for it until a refresh succeeds");
                changed = true;
            }
            state.expired = expired;
        }
        // Not held across the reload and the sleep below: the snapshot a reload replaces
        // is freed by `control::retire` once nothing else holds it.
        drop(snap);
        if changed {
            // Errors are logged by the reload; the copy on disk waits for the next one.
            let _ = control.reload(&config_path).await;
        }
        let now = epoch_now();
        let next = zones.values().map(|z| z.schedule.next_event(now)).min();
        let wait = next.map_or(MAX_SLEEP, |n| {
            Duration::from_secs(n.saturating_sub(now)).min(MAX_SLEEP)
        });
        tokio::select! {
            got = rx.recv() => match got {
                Some(zone) => {
                    if let Some(z) = zones.get_mut(&zone) {
                        z.schedule.notified(epoch_now());
                    }
                }
                None => return,
            },
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Checks the primaries of one zone and transfers when they have a newer serial; true
/// when the snapshot must be reloaded (a new copy, or an expired copy current again).
async fn refresh(
    snap: &Snapshot,
    s: &SecondaryConfig,
    state: &mut ZoneState,
    state_dir: &Path,
) -> bool {
    let key = s.key.map(|k| &snap.config.tsig[k]);
    let ours = state.copy.as_ref().map(ZoneCopy::timers);
    for &addr in &s.primaries {
        let primary = Primary { addr, key };
        let serial = match client::soa_serial(primary, &s.zone).await {
            Ok(serial) => serial,
            Err(e) => {
                tracing::warn!(zone = %s.zone, primary = %addr, "refresh: SOA query failed: {e}");
                continue;
            }
        };
        if let Some(t) = ours
            && !serial_lt(t.serial, serial)
        {
            if serial != t.serial {
                tracing::warn!(zone = %s.zone, primary = %addr, serial, ours = t.serial, "refresh: the primary's serial is older than ours; keeping ours");
            }
            return current(s, state, state_dir, t.serial, addr, "refresh: up to date");
        }
        match pull(primary, s, state.copy.as_ref()).await {
            Ok(None) => {
                let t = ours.expect("IXFR only with a copy");
                return current(
                    s,
                    state,
                    state_dir,
                    t.serial,
                    addr,
                    "refresh: up to date (IXFR)",
                );
            }
            Ok(Some((copy, how))) => {
                let now = epoch_now();
                let t = copy.timers();
                let saved = Saved {
                    serial: t.serial,
                    refreshed: now,
                    expires: now.saturating_add(t.expire as u64),
                };
                if let Err(e) = store::save_copy(state_dir, &s.zone, &copy, saved) {
                    tracing::error!(zone = %s.zone, primary = %addr, "transfer not kept: cannot write {}: {e}", store::zone_file(state_dir, &s.zone).display());
                    continue;
                }
                tracing::info!(zone = %s.zone, primary = %addr, serial = t.serial, from = ours.map(|o| o.serial), records = copy.records.len() + 1, "{how}");
                state.schedule.refreshed(now, t);
                state.copy = Some(copy);
                return true;
            }
            Err(why) => {
                let kept = ours.map_or("no copy yet".to_string(), |t| {
                    format!("keeping serial {}", t.serial)
                });
                tracing::warn!(zone = %s.zone, primary = %addr, "transfer failed: {why}; {kept}");
            }
        }
    }
    let now = epoch_now();
    state.schedule.failed(now, ours, FIRST_RETRY_SECS);
    tracing::info!(zone = %s.zone, retry_in = state.schedule.next_check.saturating_sub(now), "refresh failed at every primary; retrying");
    false
}

/// Our copy is the primary's current one: a successful refresh.
fn current(
    s: &SecondaryConfig,
    state: &mut ZoneState,
    state_dir: &Path,
    serial: u32,
    addr: std::net::SocketAddr,
    what: &str,
) -> bool {
    let now = epoch_now();
    let t = state.copy.as_ref().map(ZoneCopy::timers).expect("a copy");
    state.schedule.refreshed(now, t);
    let saved = Saved {
        serial,
        refreshed: now,
        expires: state.schedule.expires.unwrap_or(now),
    };
    if let Err(e) = store::save_timers(state_dir, &s.zone, saved) {
        tracing::warn!(zone = %s.zone, "cannot save the refresh time in state_dir: {e}");
    }
    tracing::info!(zone = %s.zone, primary = %addr, serial, "{what}");
    // An expired copy is served again: the snapshot must take it back.
    state.expired
}

/// Why a transfer's result was not taken.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error("{0}")]
    Stream(#[from] ixfr::Bad),
    #[error("the zone fails the zone checks: {0}")]
    Checks(String),
}

/// Transfers the zone from `primary` (IXFR from `ours`, AXFR if that fails) and checks
/// the result; `None` when an IXFR says our copy is current.
async fn pull(
    primary: Primary<'_>,
    s: &SecondaryConfig,
    ours: Option<&ZoneCopy>,
) -> Result<Option<(ZoneCopy, String)>, Refused> {
    let mut result = client::transfer(primary, &s.zone, ours).await;
    let mut kind = if ours.is_some() { "IXFR" } else { "AXFR" };
    if let (Err(e), Some(o)) = (&result, ours)
        && e.try_axfr()
    {
        tracing::info!(zone = %s.zone, primary = %primary.addr, serial = o.timers().serial, "IXFR failed: {e}; trying AXFR");
        result = client::transfer(primary, &s.zone, None).await;
        kind = "AXFR";
    }
    let (pulled, messages) = result?;
    let (copy, how) = match pulled {
        Pulled::UpToDate => return Ok(None),
        Pulled::Full(c) => (c, format!("{kind} done: whole zone, {messages} messages")),
        Pulled::Incremental(changes) => {
            let base = ours.ok_or(ixfr::Bad::NoCopy)?;
            let c = ixfr::apply(base, &changes)?;
            (
                c,
                format!("IXFR done: {} changes, {messages} messages", changes.len()),
            )
        }
    };
    if let Some(o) = ours {
        let (got, ours) = (copy.timers().serial, o.timers().serial);
        if !serial_lt(ours, got) {
            return Err(ixfr::Bad::NotNewer { got, ours }.into());
        }
    }
    check(&s.zone, &copy).map_err(Refused::Checks)?;
    Ok(Some((copy, how)))
}

/// Checks a copy as the snapshot will load it: the master-file reader on its saved text,
/// then the zone built alone.
fn check(origin: &Name, copy: &ZoneCopy) -> Result<(), String> {
    let path = PathBuf::from(format!("(transfer of {origin})"));
    let text = store::master_text(origin, copy);
    let records = crate::zone::master::parse_str(&text, &path, origin).map_err(|errors| {
        let texts: Vec<String> = errors.iter().take(3).map(|e| e.to_string()).collect();
        texts.join("; ")
    })?;
    crate::zone::build_zones(vec![(path, origin.clone(), records)], &[])
        .map(|_| ())
        .map_err(|e| {
            let texts: Vec<String> = e.0.iter().take(3).map(|e| e.to_string()).collect();
            texts.join("; ")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::dns::respond::{QueryStats, Request, Transport, respond};
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::RecordType;

    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    /// A server with example.com from a file and example.net as a secondary (no copy yet)
    /// of 192.0.2.1 with the key `k.`.
    fn snapshot() -> (tempfile::TempDir, Snapshot) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        let config = format!(
            "[server]\nzones_dir = \"zones\"\n[geoip]\nenabled = false\n\
             [tsig.\"k.\"]\nsecret = \"{SECRET}\"\n\
             [secondary.\"example.net\"]\nprimaries = [\"192.0.2.1:53\"]\nkey = \"k.\"\n"
        );
        std::fs::write(dir.path().join("meridian.toml"), config).unwrap();
        std::fs::write(
            dir.path().join("zones/example.com.zone"),
            "$TTL 60\n@ SOA ns hm 1 60 60 600 60\n@ NS ns\nns A 192.0.2.53\n",
        )
        .unwrap();
        let snap = Snapshot::load(&dir.path().join("meridian.toml"), None).unwrap();
        (dir, snap)
    }

    /// The rcode, AA and opcode of the answer to `msg` from `peer`.
    fn ask(snap: &Snapshot, msg: &[u8], peer: &str) -> (u8, bool, u8) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let req = Request {
            transport: Transport::Udp,
            peer: peer.parse().unwrap(),
            now: now as u32,
            cookies: None,
        };
        let mut out = Vec::new();
        respond(snap, msg, &req, &mut out, &mut QueryStats::default()).expect("answered");
        (out[3] & 0xF, out[2] & 0x04 != 0, (out[2] >> 3) & 0xF)
    }

    fn notify(zone: &str, signed_with: Option<&TsigKeyRef>) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Query, OpCode::Notify);
        m.metadata.authoritative = true;
        m.add_query(Query::query(
            Name::from_ascii(zone).unwrap(),
            RecordType::SOA,
        ));
        let mut wire = m.to_vec().unwrap();
        if let Some(key) = signed_with {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let stamp = crate::dns::tsig::Stamp {
                time_signed: now,
                fudge: 300,
                error: 0,
                other: &[],
            };
            crate::dns::tsig::sign(&mut wire, key, None, stamp);
        }
        wire
    }

    type TsigKeyRef = crate::config::TsigKey;

    #[test]
    fn notify_is_taken_from_the_primary_with_the_key_and_refused_otherwise() {
        let (_dir, snap) = snapshot();
        let key = &snap.config.tsig[0];
        // From the primary, signed: NOERROR, AA, opcode NOTIFY.
        assert_eq!(
            ask(&snap, &notify("example.net.", Some(key)), "192.0.2.1"),
            (0, true, 4)
        );
        // Unsigned, or from elsewhere: REFUSED.
        assert_eq!(ask(&snap, &notify("example.net.", None), "192.0.2.1").0, 5);
        assert_eq!(
            ask(&snap, &notify("example.net.", Some(key)), "192.0.2.9").0,
            5
        );
        // A zone that is no secondary here: NOTAUTH.
        assert_eq!(
            ask(&snap, &notify("example.com.", Some(key)), "192.0.2.1").0,
            9
        );
        // Signed with another secret: NOTAUTH (BADSIG), nothing taken.
        let other = crate::config::TsigKey {
            hmac: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"another secret"),
            ..key.clone()
        };
        assert_eq!(
            ask(&snap, &notify("example.net.", Some(&other)), "192.0.2.1").0,
            9
        );
    }

    #[test]
    fn a_secondary_zone_without_a_copy_answers_servfail() {
        let (_dir, snap) = snapshot();
        let query = |name: &str| {
            let mut m = Message::new(8, MessageType::Query, OpCode::Query);
            m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
            m.to_vec().unwrap()
        };
        assert_eq!(ask(&snap, &query("www.example.net."), "192.0.2.9").0, 2);
        assert_eq!(ask(&snap, &query("example.net."), "192.0.2.9").0, 2);
        assert_eq!(ask(&snap, &query("example.org."), "192.0.2.9").0, 5);
        assert_eq!(ask(&snap, &query("ns.example.com."), "192.0.2.9").0, 0);
    }

    #[test]
    fn names_in_a_zone_are_told_by_whole_labels() {
        let zone = b"\x07example\x03com\x00";
        assert!(in_zone(b"\x07example\x03com\x00", zone));
        assert!(in_zone(b"\x03www\x07example\x03com\x00", zone));
        assert!(!in_zone(b"\x03com\x00", zone));
        assert!(!in_zone(b"\x0axn-example\x03com\x00", zone));
        assert!(!in_zone(b"\x07example\x03org\x00", zone));
    }

    #[test]
    fn a_copy_that_fails_the_zone_checks_is_refused() {
        use crate::zone::push_record;
        let origin = Name::from_ascii("example.com.").unwrap();
        let mut soa = Vec::new();
        let mut rdata = b"\x02ns\x07example\x03com\x00\x00".to_vec();
        for v in [9u32, 60, 10, 300, 5] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        push_record(&mut soa, &origin, 6, 3600, &rdata);
        let mut ns = Vec::new();
        push_record(&mut ns, &origin, 2, 3600, b"\x02ns\x07example\x03com\x00");
        let good = ZoneCopy {
            soa: soa.clone(),
            records: vec![ns.clone()],
        };
        assert_eq!(check(&origin, &good), Ok(()));
        // No NS at the apex.
        let mut cname = Vec::new();
        let www = Name::from_ascii("www.example.com.").unwrap();
        push_record(&mut cname, &www, 5, 60, b"\x01a\x07example\x03com\x00");
        let mut a = Vec::new();
        push_record(&mut a, &www, 1, 60, &[192, 0, 2, 1]);
        let bad = ZoneCopy {
            soa,
            records: vec![ns, cname, a],
        };
        let why = check(&origin, &bad).unwrap_err();
        assert!(why.contains("CNAME"), "{why}");
    }
}

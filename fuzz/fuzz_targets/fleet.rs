//! Fleet reports: a stream of `POST /v1/fleet/reports` bodies (JSON `ReportBatch`es, one
//! after another) deserialised as the API does and applied to a `HealthStore` holding the
//! fixture's targets, each a second after the one before. After every accepted batch the
//! store judges, and the health table it gives answers queries for the checked names.
//! Nothing may panic; counts and votes must add up; the answers must pass the response
//! checks.
//!
//! Input: concatenated JSON documents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian::dns::respond::Transport;
use meridian::health::fleet::ReportBatch;
use meridian::health::store::HealthStore;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

const QUERIES: [&[u8]; 2] = [
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04pool\x07example\x03com\x00\x00\x01\x00\x01",
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03app\x02eu\x07example\x03com\x00\x00\x01\x00\x01",
];

/// An empty state directory (nothing saved there: the store is never saved).
fn state_dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        extern "C" fn cleanup() {
            if let Some((_, p)) = DIR.get() {
                let _ = std::fs::remove_dir_all(p);
            }
        }
        unsafe { libc::atexit(cleanup) };
        (dir, path)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let snap = meridian_fuzz::snapshot();
    let (mut store, warning) = HealthStore::open(state_dir());
    assert!(warning.is_none());
    store.configure(
        &snap.services,
        &snap.config.regions,
        snap.config.fleet.quorum,
    );
    let start = Instant::now();
    let wall = SystemTime::now();
    let batches = serde_json::Deserializer::from_slice(data).into_iter::<ReportBatch>();
    for (i, batch) in batches.enumerate() {
        let Ok(batch) = batch else {
            return;
        };
        let now = start + Duration::from_secs(i as u64);
        let Ok((accepted, ignored)) = store.apply(&batch, now, wall) else {
            continue;
        };
        assert_eq!(accepted + ignored, batch.reports.len());
        let known = batch
            .reports
            .iter()
            .filter(|r| {
                store
                    .votes(&r.target)
                    .is_some_and(|v| v.contains_key(&batch.prober))
            })
            .count();
        assert_eq!(known, accepted, "votes kept of the accepted reports");
        let info = &store.probers[&batch.prober];
        assert_eq!(
            (info.last_report, info.region.as_str()),
            (now, batch.region.as_str())
        );
        store.judge_all(now);
        let table = store.table(&snap.services, &snap.config.regions);
        let judged = snap.with_health(table);
        for q in QUERIES {
            let peer = IpAddr::from([192, 0, 2, 1]);
            meridian_fuzz::respond_and_check(&judged, q, Transport::Udp, peer);
        }
    }
});

//! The control task under a paused clock: real `HealthStore`, real snapshots loaded from a
//! temp dir, fake reports. Time moves only when a test sleeps (tokio's auto-advance), so
//! "three intervals later" is exact, and no test waits on a wall clock.

use super::*;
use crate::health::fleet::Report;
use crate::route::EndpointState::{self, Down, Drained, Up};

/// Check interval of `app`: votes go stale 3 s after they arrive.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

const CONFIG: &str = "[server]\nregion = \"eu-west\"\nzones_dir = \"zones\"\n\
    state_dir = \"state\"\n\n[fleet]\ntoken_file = \"fleet.token\"\nquorum = \"majority\"\n\
    local_prober = false\n\n[regions.eu-west]\nlat = 53.35\nlon = -6.26\n\n\
    [regions.us-east]\nlat = 39.04\nlon = -77.49\n\n[regions.ap-south]\nlat = 19.08\n\
    lon = 72.88\n";

const ZONE: &str = "$ORIGIN example.com.\n$TTL 3600\n\
    @ IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300\n\
    @ IN NS ns1.example.com.\nns1 IN A 192.0.2.1\n";

/// `app.example.com`, failover eu-west → us-east → ap-south, a TCP check every second.
pub(crate) fn services(extra_endpoint: bool) -> String {
    format!(
        "[services.app]\nttl = 20\npolicy = \"failover\"\norder = [\"eu-west\", \"us-east\", \"ap-south\"]\n\
         check = {{ kind = \"tcp\", port = 9, interval = \"1s\", timeout = \"500ms\" }}\n\
         endpoints = [\n  {{ region = \"eu-west\", address = \"192.0.2.11\" }},\n  \
         {{ region = \"us-east\", address = \"192.0.2.12\" }},\n  \
         {{ region = \"ap-south\", address = \"192.0.2.13\" }},\n{}]\n",
        if extra_endpoint {
            "  { region = \"eu-west\", address = \"192.0.2.14\" },\n"
        } else {
            ""
        }
    )
}

/// A config dir, and a control plane started on it.
pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub live: Arc<Live>,
    pub control: ControlHandle,
}

impl Fixture {
    pub fn config_path(dir: &Path) -> std::path::PathBuf {
        dir.join("meridian.toml")
    }

    /// Writes the files of a server with `services(false)`.
    pub fn write() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("zones")).unwrap();
        std::fs::write(Self::config_path(dir.path()), CONFIG).unwrap();
        std::fs::write(dir.path().join("zones/example.com.zone"), ZONE).unwrap();
        std::fs::write(dir.path().join("zones/example.com.toml"), services(false)).unwrap();
        dir
    }

    /// Loads the snapshot, opens the store and builds the control plane, as `serve` does
    /// before any socket answers; the task is not running yet.
    pub fn prepare(dir: &Path) -> (Control, Arc<Live>) {
        let snapshot = Snapshot::load(&Self::config_path(dir), None).unwrap();
        let state_dir = snapshot.config.server.state_dir.clone();
        let live = Arc::new(Live::from_pointee(snapshot));
        let (store, _) = HealthStore::open(&state_dir);
        (Control::new(store, live.clone()), live)
    }

    pub fn start_in(dir: tempfile::TempDir) -> Fixture {
        let (control, live) = Self::prepare(dir.path());
        Fixture {
            dir,
            live,
            control: control.spawn(),
        }
    }

    pub fn start() -> Fixture {
        Self::start_in(Self::write())
    }

    /// What answers use now for `app`'s endpoints, and the TTL cap.
    pub fn states(&self) -> (Vec<EndpointState>, Option<u32>) {
        states(&self.live)
    }

    /// The target id of endpoint `i` of `app`.
    pub fn target(&self, i: usize) -> String {
        let snap = self.live.load();
        let s = &snap.services[0];
        crate::health::fleet::target_id(s.endpoints[i].address, s.check.as_ref().unwrap())
    }

    /// `prober` says `up` about endpoint `i`.
    pub async fn vote(&self, prober: &str, i: usize, up: bool) {
        let batch = ReportBatch {
            prober: prober.into(),
            region: "us-east".into(),
            lat: None,
            lon: None,
            reports: vec![Report {
                target: self.target(i),
                up,
                changing: false,
                rtt_ms: Some(3),
                srtt_ms: None,
                load: None,
                reason: if up { "" } else { "test says down" }.into(),
            }],
        };
        assert_eq!(self.control.report(batch).await.unwrap(), (1, 0));
    }

    /// The snapshot DNS workers load now (compare with `Arc::ptr_eq` to see a swap).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.load_full()
    }
}

pub(crate) fn states(live: &Live) -> (Vec<EndpointState>, Option<u32>) {
    let snap = live.load();
    let h = snap.health.service(0);
    (h.endpoints.to_vec(), h.ttl_cap)
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[test]
fn saved_drains_and_states_are_live_before_the_task_runs() {
    // Issue 9, point 5: what `state_dir` holds is in the snapshot before any worker starts.
    let dir = Fixture::write();
    let state_dir = dir.path().join("state");
    {
        let (mut store, _) = HealthStore::open(&state_dir);
        let (control, live) = Fixture::prepare(dir.path());
        drop(control);
        let snap = live.load();
        store.configure(
            &snap.services,
            &snap.config.regions,
            snap.config.fleet.quorum,
        );
        let us = crate::health::fleet::target_id(
            snap.services[0].endpoints[1].address,
            snap.services[0].check.as_ref().unwrap(),
        );
        let batch = ReportBatch {
            prober: "p1".into(),
            region: "us-east".into(),
            lat: None,
            lon: None,
            reports: vec![Report {
                target: us,
                up: false,
                changing: false,
                rtt_ms: None,
                srtt_ms: None,
                load: None,
                reason: "down".into(),
            }],
        };
        store
            .apply(&batch, Instant::now(), SystemTime::now())
            .unwrap();
        store.judge_all(Instant::now());
        store.set_drain("eu-west", true);
        store.save().unwrap();
    }
    let (control, live) = Fixture::prepare(dir.path());
    assert_eq!(states(&live).0, [Drained, Down, Up], "no task has run yet");
    drop(control);
}

#[tokio::test(start_paused = true)]
async fn one_probers_partition_moves_nothing_two_fail_over() {
    let f = Fixture::start();
    for p in ["p1", "p2", "p3"] {
        f.vote(p, 0, true).await;
    }
    assert_eq!(f.states(), (vec![Up, Up, Up], None));

    // p1 alone says eu-west is down: the answer stays, with a short TTL while votes differ.
    f.vote("p1", 0, false).await;
    assert_eq!(f.states(), (vec![Up, Up, Up], Some(5)));
    // Time passes, everyone keeps voting as before: nothing moves.
    for _ in 0..5 {
        sleep_ms(1000).await;
        f.vote("p1", 0, false).await;
        f.vote("p2", 0, true).await;
        f.vote("p3", 0, true).await;
        assert_eq!(f.states().0, [Up, Up, Up]);
    }

    // p2 sees it too: two of three, eu-west is down at once (no tick needed).
    let before = f.snapshot();
    f.vote("p2", 0, false).await;
    assert_eq!(f.states().0, [Down, Up, Up]);
    assert!(!Arc::ptr_eq(&before, &f.snapshot()), "a new snapshot");

    // The partitions heal.
    f.vote("p1", 0, true).await;
    f.vote("p2", 0, true).await;
    assert_eq!(f.states(), (vec![Up, Up, Up], None));
}

#[tokio::test(start_paused = true)]
async fn stale_votes_stop_counting_on_the_tick_without_any_report() {
    let f = Fixture::start();
    // t = 0: p1 and p2 say down, p3 up.
    f.vote("p1", 0, false).await;
    f.vote("p2", 0, false).await;
    f.vote("p3", 0, true).await;
    assert_eq!(f.states().0, [Down, Up, Up]);
    let down = f.snapshot();

    // p1 and p2 go quiet; p3 keeps saying up every second. Their votes count for three
    // intervals: until t = 3 s the state stays, and nothing is swapped in.
    for _ in 0..3 {
        sleep_ms(1000).await;
        f.vote("p3", 0, true).await;
    }
    sleep_ms(100).await; // t = 3.1 s
    assert_eq!(f.states().0, [Down, Up, Up], "p1 and p2 still fresh");
    assert!(Arc::ptr_eq(&down, &f.snapshot()), "no change, no swap");

    // No report from here on: the next tick finds p1's and p2's votes stale, and p3's
    // fresh vote decides.
    sleep_ms(TICK.as_millis() as u64 + 100).await;
    assert_eq!(f.states().0, [Up, Up, Up], "after the staleness bound");
    assert!(!Arc::ptr_eq(&down, &f.snapshot()), "swapped on the tick");
}

#[tokio::test(start_paused = true)]
async fn a_killed_probers_votes_go_stale_and_nothing_flaps() {
    let f = Fixture::start();
    for p in ["p1", "p2", "p3"] {
        f.vote(p, 0, true).await;
    }
    let settled = f.snapshot();
    let eu = f.target(0);
    // p3 dies; p1 and p2 go on. Sample every 200 ms for six seconds.
    for step in 1..=30u64 {
        sleep_ms(200).await;
        if step % 5 == 0 {
            f.vote("p1", 0, true).await;
            f.vote("p2", 0, true).await;
        }
        let id = eu.clone();
        let p3_fresh = f
            .control
            .inspect(move |store| store.votes(&id).unwrap()["p3"].is_fresh(now(), INTERVAL))
            .await
            .unwrap();
        assert_eq!(p3_fresh, step * 200 <= 3000, "p3 at {} ms", step * 200);
        assert_eq!(f.states(), (vec![Up, Up, Up], None));
        assert!(Arc::ptr_eq(&settled, &f.snapshot()), "nothing to publish");
    }
}

#[tokio::test(start_paused = true)]
async fn drains_publish_and_save_and_unknown_regions_are_named() {
    let f = Fixture::start();
    let before = f.snapshot();
    assert!(f.control.drain("eu-west", true).await.unwrap(), "changed");
    assert_eq!(f.states().0, [Drained, Up, Up]);
    let saved = std::fs::read_to_string(f.dir.path().join("state/health.json")).unwrap();
    assert!(saved.contains("eu-west"), "{saved}");
    // Again: nothing changes, nothing is swapped.
    let drained = f.snapshot();
    assert!(!Arc::ptr_eq(&before, &drained));
    assert!(
        !f.control.drain("eu-west", true).await.unwrap(),
        "unchanged"
    );
    assert!(Arc::ptr_eq(&drained, &f.snapshot()));

    match f.control.drain("eu-wset", true).await {
        Err(e @ DrainError::UnknownRegion { .. }) => assert_eq!(
            e.to_string(),
            "unknown region \"eu-wset\" (known: eu-west, us-east, ap-south)"
        ),
        other => panic!("{other:?}"),
    }

    // Drains hold whatever the probers say, and undrain gives the probers' state back.
    f.vote("p1", 0, false).await;
    assert_eq!(f.states().0, [Drained, Up, Up]);
    assert!(f.control.drain("eu-west", false).await.unwrap());
    assert_eq!(f.states().0, [Down, Up, Up]);
}

#[tokio::test(start_paused = true)]
async fn a_drain_that_cannot_be_saved_is_refused_and_not_applied() {
    // Issue 10, point 9: acknowledged only once durable; refused otherwise.
    let dir = Fixture::write();
    // A file where state_dir should be: nothing can be written under it.
    std::fs::write(dir.path().join("state"), "not a directory").unwrap();
    let f = Fixture::start_in(dir);
    let before = f.snapshot();
    for attempt in 0..2 {
        match f.control.drain("eu-west", true).await {
            Err(e @ DrainError::NotSaved { .. }) => {
                let text = e.to_string();
                assert!(text.contains("\"eu-west\" was not drained"), "{text}");
                assert!(text.contains("state/health.json"), "names the file: {text}");
                assert!(text.contains("answers are unchanged"), "{text}");
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
        assert_eq!(f.states().0, [Up, Up, Up], "attempt {attempt}");
        assert!(Arc::ptr_eq(&before, &f.snapshot()), "nothing published");
        let drains = f.control.inspect(|s| s.drains().len()).await.unwrap();
        assert_eq!(drains, 0, "the store took it back");
    }
    // Health judgements still apply while saves fail (retried every tick).
    f.vote("p1", 1, false).await;
    assert_eq!(f.states().0, [Up, Down, Up]);
    // Once the disk is fixed, the drain is taken, saved, and survives a restart.
    std::fs::remove_file(f.dir.path().join("state")).unwrap();
    assert!(f.control.drain("eu-west", true).await.unwrap());
    assert_eq!(f.states().0, [Drained, Down, Up]);
    f.control.stop().await;
    let (control, live) = Fixture::prepare(f.dir.path());
    assert_eq!(states(&live).0, [Drained, Down, Up], "after a restart");
    drop(control);
}

#[tokio::test(start_paused = true)]
async fn an_undrain_that_cannot_be_saved_leaves_the_region_drained() {
    let f = Fixture::start();
    assert!(f.control.drain("eu-west", true).await.unwrap());
    let state = f.dir.path().join("state");
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::write(&state, "not a directory").unwrap();
    let err = f.control.drain("eu-west", false).await.unwrap_err();
    assert!(err.to_string().contains("was not undrained"), "{err}");
    assert_eq!(f.states().0, [Drained, Up, Up]);
}

#[tokio::test(start_paused = true)]
async fn probers_silent_for_an_hour_are_forgotten_with_their_votes() {
    // Issue 10, point 7: names are not kept forever.
    let f = Fixture::start();
    f.vote("gone", 0, true).await;
    f.vote("stays", 0, true).await;
    let names = || {
        f.control
            .inspect(|s| s.probers.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(names().await.unwrap(), ["gone", "stays"]);
    // "stays" reports every ten minutes; "gone" never again.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(600)).await;
        f.vote("stays", 0, true).await;
    }
    sleep_ms(TICK.as_millis() as u64 * 2).await;
    assert_eq!(names().await.unwrap(), ["stays"], "forgotten after an hour");
    let eu = f.target(0);
    let voters = f
        .control
        .inspect(move |s| s.votes(&eu).unwrap().keys().cloned().collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(voters, ["stays"], "its votes went with it");
}

#[tokio::test(start_paused = true)]
async fn reload_publishes_new_endpoints_and_keeps_health_and_refuses_broken_files() {
    let f = Fixture::start();
    f.vote("p1", 1, false).await;
    let services_file = f.dir.path().join("zones/example.com.toml");
    std::fs::write(&services_file, services(true)).unwrap();
    let mut targets = f.control.targets();
    let summary = f
        .control
        .reload(&Fixture::config_path(f.dir.path()))
        .await
        .unwrap();
    assert_eq!(
        (summary.zones, summary.services, summary.regions),
        (1, 1, 3)
    );
    assert_eq!(f.states().0, [Up, Down, Up, Up], "us-east stays down");
    assert!(targets.has_changed().unwrap());
    assert_eq!(targets.borrow_and_update().len(), 4);

    std::fs::write(&services_file, "[services.app]\nttl = \"soon\"\n").unwrap();
    let err = f
        .control
        .reload(&Fixture::config_path(f.dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, ReloadError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("example.com.toml:2"), "{err}");
    assert_eq!(f.states().0, [Up, Down, Up, Up], "the old config serves");
    assert_eq!(
        f.control
            .reloads
            .each_ref()
            .map(|n| n.load(Ordering::Relaxed)),
        [1, 1]
    );
}

#[tokio::test(start_paused = true)]
async fn a_stopped_task_refuses_everything_and_answers_keep_their_snapshot() {
    let f = Fixture::start();
    f.control.drain("us-east", true).await.unwrap();
    f.control.stop().await;
    let batch = ReportBatch {
        prober: "p1".into(),
        region: "us-east".into(),
        lat: None,
        lon: None,
        reports: vec![],
    };
    assert!(matches!(
        f.control.report(batch).await,
        Err(ReportError::Stopped(_))
    ));
    assert!(matches!(
        f.control.drain("eu-west", true).await,
        Err(DrainError::Stopped(_))
    ));
    assert!(matches!(
        f.control.reload(&Fixture::config_path(f.dir.path())).await,
        Err(ReloadError::Stopped(_))
    ));
    assert!(f.control.inspect(|_| ()).await.is_err());
    assert_eq!(f.states().0, [Up, Drained, Up]);
}

/// What the event log holds, oldest first: (kind, message).
fn events(f: &Fixture) -> Vec<(events::EventKind, String)> {
    let log = f.control.events.lock().unwrap();
    log.iter().map(|e| (e.kind, e.message.clone())).collect()
}

#[tokio::test(start_paused = true)]
async fn every_published_change_is_logged_once_with_its_reason() {
    use events::EventKind::*;
    let f = Fixture::start();
    for i in 0..3 {
        f.vote("p1", i, true).await;
    }
    // Votes that change no state log nothing.
    assert_eq!(events(&f), vec![]);

    f.vote("p1", 0, false).await;
    let log = events(&f);
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].0, Endpoint);
    assert_eq!(
        log[0].1,
        "app.example.com. 192.0.2.11 in eu-west: up → down (p1: test says down)"
    );
    let e = f
        .control
        .events
        .lock()
        .unwrap()
        .iter()
        .next()
        .cloned()
        .unwrap();
    assert_eq!((e.from, e.to), (Some("up"), Some("down")));
    assert_eq!(e.region.as_deref(), Some("eu-west"));
    // The same vote again changes nothing and logs nothing.
    f.vote("p1", 0, false).await;
    assert_eq!(events(&f).len(), 1);

    // The rest go down: the name fails open, once, after its endpoint events.
    f.vote("p1", 1, false).await;
    f.vote("p1", 2, false).await;
    let log = events(&f);
    assert_eq!(
        log.iter().map(|e| e.0).collect::<Vec<_>>(),
        [Endpoint, Endpoint, Endpoint, FailingOpen],
        "{log:?}"
    );
    assert!(log[3].1.contains("A for every client"), "{}", log[3].1);

    // A drain is logged as the operator's, and its endpoint as drained.
    f.control.drain("us-east", true).await.unwrap();
    let log = events(&f);
    assert_eq!(
        log[4],
        (Drain, "region us-east drained by an operator".into())
    );
    assert_eq!(
        log[5].1,
        "app.example.com. 192.0.2.12 in us-east: down → drained"
    );
    // Recovery ends the fail-open.
    f.vote("p1", 0, true).await;
    let log = events(&f);
    assert_eq!(
        log[6..].iter().map(|e| e.0).collect::<Vec<_>>(),
        [Endpoint, FailOpenOver],
        "{log:?}"
    );
}

#[test]
fn the_event_log_keeps_only_the_newest() {
    let mut log = events::EventLog::default();
    for i in 0..events::KEEP + 5 {
        log.push(events::drained(
            &format!("r{i}"),
            true,
            now(),
            SystemTime::UNIX_EPOCH,
        ));
    }
    assert_eq!(log.len(), events::KEEP);
    assert_eq!(log.dropped, 5);
    assert_eq!(log.iter().next().unwrap().region.as_deref(), Some("r5"));
    let newest = format!("r{}", events::KEEP + 4);
    assert_eq!(
        log.iter().last().unwrap().region.as_deref(),
        Some(newest.as_str())
    );
}

#[tokio::test(start_paused = true)]
async fn a_reload_matches_endpoints_by_address_and_logs_only_real_changes() {
    let f = Fixture::start();
    f.vote("p1", 0, false).await;
    assert_eq!(events(&f).len(), 1);
    // The same endpoints in another order: each keeps its state, so nothing is logged
    // (compared by place, eu-west's down would look like a change at two places).
    let reordered = services(false).replace(
        "  { region = \"eu-west\", address = \"192.0.2.11\" },\n  \
         { region = \"us-east\", address = \"192.0.2.12\" },\n",
        "  { region = \"us-east\", address = \"192.0.2.12\" },\n  \
         { region = \"eu-west\", address = \"192.0.2.11\" },\n",
    );
    assert_ne!(reordered, services(false));
    std::fs::write(f.dir.path().join("zones/example.com.toml"), reordered).unwrap();
    f.control
        .reload(&Fixture::config_path(f.dir.path()))
        .await
        .unwrap();
    assert_eq!(f.states().0, [Up, Down, Up], "192.0.2.11 is now second");
    assert_eq!(events(&f).len(), 1, "{:?}", events(&f));
    // Later changes are logged against the new order.
    let batch = ReportBatch {
        prober: "p1".into(),
        region: "us-east".into(),
        lat: None,
        lon: None,
        reports: vec![Report {
            target: f.target(1),
            up: true,
            changing: false,
            rtt_ms: Some(3),
            srtt_ms: None,
            load: None,
            reason: String::new(),
        }],
    };
    f.control.report(batch).await.unwrap();
    assert_eq!(
        events(&f)[1].1,
        "app.example.com. 192.0.2.11 in eu-west: down → up"
    );
}

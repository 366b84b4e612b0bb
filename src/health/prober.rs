//! The prober: checks every target once per interval and reports the votes.
//!
//! Checks are spread over the interval (each target has a fixed offset from a hash of its
//! id), run with bounded concurrency, and debounced by `rise`/`fall` into this prober's
//! vote. After a failed check the next one comes `recheck` after it started, not a whole
//! interval later, until `fall` is reached or a check passes: detection is fast, while
//! `rise` still counts checks at the normal interval. Votes go out in batches every half
//! second, at once when one flips or starts counting toward a flip. A failure on
//! our own side (`NoVote`) sends nothing, so our vote goes stale instead of wrong. `serve`
//! runs one that reports to its own control task; `meridian probe` runs one that fetches
//! targets from servers over HTTP and reports to all of them.
//!
//! All scheduling runs on `tokio::time` (its `Instant`, `interval`), so tests can run it
//! under a paused clock with a fake [`CheckRunner`].

use super::check::{Checker, Observation, Target, Verdict};
use super::fleet::{LOAD_ALPHA, RTT_ALPHA, Report, ReportBatch, TargetSpec, ewma};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

/// Checks in flight at once.
pub const MAX_CONCURRENT_CHECKS: usize = 1024;
/// How often collected votes are sent when none flipped.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Scheduler resolution.
const TICK: Duration = Duration::from_millis(20);

/// This prober's debounced opinion of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    pub up: bool,
    /// Consecutive raw results that disagree with `up`.
    pub streak: u32,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce {
            up: true,
            streak: 0,
        }
    }
}

impl Debounce {
    /// Takes one raw result; true when the vote flipped.
    pub fn observe(&mut self, up: bool, rise: u32, fall: u32) -> bool {
        if up == self.up {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let needed = if self.up { fall } else { rise };
        if self.streak >= needed.max(1) {
            self.up = up;
            self.streak = 0;
            return true;
        }
        false
    }
}

/// Where a prober's batches go.
pub trait ReportSink: Send + 'static {
    fn send(&mut self, batch: ReportBatch) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// What runs one check: the real [`Checker`], or a fake in tests.
pub trait CheckRunner: Send + Sync + 'static {
    fn run<'a>(
        &'a self,
        target: &'a Target,
    ) -> Pin<Box<dyn Future<Output = Observation> + Send + 'a>>;
}

impl CheckRunner for Checker {
    fn run<'a>(
        &'a self,
        target: &'a Target,
    ) -> Pin<Box<dyn Future<Output = Observation> + Send + 'a>> {
        Box::pin(self.check(target))
    }
}

/// Starts the prober that `serve` runs, named after the server's region, checking the
/// targets `targets` gives and reporting to `sink` (the server's own control task).
pub fn spawn_local(
    region: &str,
    targets: watch::Receiver<Arc<Vec<TargetSpec>>>,
    sink: impl ReportSink,
) -> Result<(), super::check::CheckerError> {
    let checker = Checker::new(None)?;
    let name = format!(
        "local-{}",
        if region.is_empty() { "server" } else { region }
    );
    let prober = Prober {
        name,
        region: region.to_string(),
        coordinates: None,
        checker: Arc::new(checker),
    };
    tokio::spawn(prober.run(targets, sink));
    Ok(())
}

/// One prober of the fleet.
pub struct Prober {
    pub name: String,
    pub region: String,
    /// Where the viewpoint is (lat, lon in degrees), sent with every batch; `None`: the
    /// servers place it at the `[regions]` entry named like `region`.
    pub coordinates: Option<(f64, f64)>,
    pub checker: Arc<dyn CheckRunner>,
}

struct Scheduled {
    spec: TargetSpec,
    target: Target,
    /// The next check in the target's own slot (its offset, then every interval).
    next: Instant,
    /// A quick re-check after a failure, while counting toward `fall`: it runs before
    /// `next`, which keeps its phase.
    recheck_at: Option<Instant>,
    /// When the check in flight (or the last one) started.
    started: Instant,
    debounce: Debounce,
    in_flight: bool,
    /// Smoothed round trip (ms) of the checks that answered ([`RTT_ALPHA`]).
    srtt_ms: Option<f64>,
    /// Smoothed load the endpoint reported ([`LOAD_ALPHA`]); `None` until it reports one.
    load: Option<f64>,
}

impl Scheduled {
    fn due(&self, now: Instant) -> bool {
        !self.in_flight && (self.next <= now || self.recheck_at.is_some_and(|t| t <= now))
    }

    /// Marks a check started at `now`. The slots it covers are skipped, not bunched: every
    /// slot already passed, and (for a re-check) one closer than a re-check away.
    fn start(&mut self, now: Instant) {
        let interval = self.spec.interval();
        let until = match self.recheck_at.take() {
            Some(_) => now + self.spec.recheck(),
            None => now,
        };
        while self.next <= until {
            self.next += interval;
        }
        self.started = now;
        self.in_flight = true;
    }

    /// Takes one check's raw result; true when the vote flipped or started counting
    /// toward a flip (either is sent at once).
    fn finish(&mut self, raw_up: bool) -> bool {
        self.in_flight = false;
        let flipped = self
            .debounce
            .observe(raw_up, self.spec.rise, self.spec.fall);
        // Counting toward `fall`: check again soon. Toward `rise`, or settled: the slot.
        self.recheck_at = (self.debounce.up && self.debounce.streak > 0)
            .then(|| self.started + self.spec.recheck());
        flipped || self.debounce.streak == 1
    }
}

impl Scheduled {
    /// Folds one check's round trip and reported load into the smoothed values. A check
    /// that did not answer leaves both as they were: a dead endpoint is judged by its
    /// votes, and its last RTT goes stale with them.
    fn smooth(&mut self, obs: &Observation) {
        if let Some(rtt) = obs.rtt {
            let ms = rtt.as_secs_f64() * 1000.0;
            self.srtt_ms = Some(ewma(self.srtt_ms, ms, RTT_ALPHA));
        }
        if let Some(load) = obs.load {
            self.load = Some(ewma(self.load, load, LOAD_ALPHA));
        }
    }
}

/// A fixed offset in [0, interval) from the target id, so checks spread over the interval
/// and stay spread after a restart.
fn offset(id: &str, interval: Duration) -> Duration {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % ms)
}

impl Prober {
    /// Runs until the target list's sender is dropped.
    pub async fn run(
        self,
        mut targets: watch::Receiver<Arc<Vec<TargetSpec>>>,
        mut sink: impl ReportSink,
    ) {
        let mut scheduled: HashMap<String, Scheduled> = HashMap::new();
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS));
        let (results_tx, mut results) = mpsc::channel::<(String, super::check::Observation)>(4096);
        let mut outbox: HashMap<String, Report> = HashMap::new();
        let mut flush_due = Instant::now() + FLUSH_EVERY;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut list = targets.borrow_and_update().clone();
        let mut list_changed = true;
        loop {
            if list_changed {
                self.update(&mut scheduled, &list);
                list_changed = false;
            }
            tokio::select! {
                changed = targets.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    list = targets.borrow_and_update().clone();
                    list_changed = true;
                }
                Some((id, obs)) = results.recv() => {
                    let Some(s) = scheduled.get_mut(&id) else { continue };
                    let (raw_up, reason) = match &obs.verdict {
                        Verdict::Up => (true, String::new()),
                        Verdict::Down(reason) => (false, reason.clone()),
                        Verdict::NoVote(reason) => {
                            s.in_flight = false;
                            tracing::debug!(target = %id, "no vote: {reason}");
                            continue;
                        }
                    };
                    let was_up = s.debounce.up;
                    if s.finish(raw_up) {
                        flush_due = Instant::now();
                    }
                    if s.debounce.up != was_up {
                        tracing::info!(prober = %self.name, target = %id, up = s.debounce.up, "vote changed{}", if reason.is_empty() { String::new() } else { format!(": {reason}") });
                    }
                    let rtt_ms = obs.rtt.map(|d| d.as_millis().min(u32::MAX as u128) as u32);
                    s.smooth(&obs);
                    let reason = if s.debounce.up { String::new() } else { reason };
                    outbox.insert(id.clone(), Report { target: id, up: s.debounce.up, changing: s.debounce.streak > 0, rtt_ms, srtt_ms: s.srtt_ms, load: s.load, reason });
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    for (id, s) in scheduled.iter_mut() {
                        if !s.due(now) {
                            continue;
                        }
                        s.start(now);
                        let checker = self.checker.clone();
                        let target = s.target.clone();
                        let tx = results_tx.clone();
                        let id = id.clone();
                        let permits = permits.clone();
                        tokio::spawn(async move {
                            let Ok(_permit) = permits.acquire_owned().await else { return };
                            let obs = checker.run(&target).await;
                            let _ = tx.send((id, obs)).await;
                        });
                    }
                    if now >= flush_due && !outbox.is_empty() {
                        let reports: Vec<Report> = outbox.drain().map(|(_, r)| r).collect();
                        let (lat, lon) = self.coordinates.unzip();
                        sink.send(ReportBatch { prober: self.name.clone(), region: self.region.clone(), lat, lon, reports }).await;
                        flush_due = Instant::now() + FLUSH_EVERY;
                    } else if now >= flush_due {
                        flush_due = now + FLUSH_EVERY;
                    }
                }
            }
        }
    }

    fn update(&self, scheduled: &mut HashMap<String, Scheduled>, list: &[TargetSpec]) {
        let now = Instant::now();
        scheduled.retain(|id, _| list.iter().any(|t| &t.id == id));
        for spec in list {
            let Some(check) = spec.check() else { continue };
            let target = Target {
                address: spec.address,
                check,
            };
            match scheduled.get_mut(&spec.id) {
                Some(s) => {
                    s.spec = spec.clone();
                    s.target = target;
                }
                None => {
                    let next = now + offset(&spec.id, spec.interval());
                    scheduled.insert(
                        spec.id.clone(),
                        Scheduled {
                            spec: spec.clone(),
                            target,
                            next,
                            recheck_at: None,
                            started: now,
                            debounce: Debounce::default(),
                            in_flight: false,
                            srtt_ms: None,
                            load: None,
                        },
                    );
                }
            }
        }
        tracing::info!(prober = %self.name, targets = scheduled.len(), "target list updated");
    }
}

/// How often one server's refusal is logged again. The prober keeps running (the other
/// servers may take its reports), so the error must stay visible without flooding.
pub const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);
/// How often one server's silence (down, unreachable, 5xx) is logged again.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(30);

/// Why one server did not take a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// It answered no (4xx): our token or our batch is wrong, and trying again will not
    /// help. `reason` is the server's own words.
    #[error("refused: {status}: {reason}")]
    Refused {
        status: reqwest::StatusCode,
        reason: String,
    },
    /// Its TLS certificate is not one we trust: the operator's setup is wrong (no
    /// `--ca-file`, or the wrong one), and trying again will not help.
    #[error("has a TLS certificate this prober does not trust: {0}")]
    Untrusted(String),
    /// No answer, or a 5xx: the server may be down or restarting.
    #[error("{0}")]
    Failed(String),
}

/// The whole chain of `e`'s causes, in one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// A request that got no answer: [`ServerError::Untrusted`] when the TLS certificate was
/// refused, else [`ServerError::Failed`].
fn no_answer(e: reqwest::Error) -> ServerError {
    let text = chain(&e);
    if text.contains("invalid peer certificate") {
        ServerError::Untrusted(text)
    } else {
        ServerError::Failed(text)
    }
}

impl ServerError {
    /// A hint for the operator, for refusals whose cause is known.
    pub fn hint(&self) -> &'static str {
        match self {
            ServerError::Refused { status, .. } if status.as_u16() == 401 => {
                " (the token in --token-file is not this server's fleet token)"
            }
            ServerError::Refused { status, .. } if status.as_u16() == 429 => {
                " (the server takes fewer batches per second from one prober, or from the \
                 fleet, than are sent)"
            }
            ServerError::Untrusted(_) => {
                " (give --ca-file with the CA that signed the server's certificate)"
            }
            _ => "",
        }
    }
}

/// Turns a server's answer into `Ok` or the [`ServerError`] it means.
async fn outcome(
    answer: Result<reqwest::Response, reqwest::Error>,
) -> Result<Vec<u8>, ServerError> {
    let r = answer.map_err(no_answer)?;
    let status = r.status();
    let body = r
        .bytes()
        .await
        .map_err(|e| ServerError::Failed(e.to_string()))?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let reason = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    if status.is_client_error() {
        Err(ServerError::Refused { status, reason })
    } else {
        Err(ServerError::Failed(format!("{status}: {reason}")))
    }
}

/// When each server was last complained about, so each complaint is logged at most once
/// per period per server.
#[derive(Debug)]
pub struct Complaints {
    every: Duration,
    last: HashMap<String, Instant>,
}

impl Complaints {
    pub fn new(every: Duration) -> Complaints {
        Complaints {
            every,
            last: HashMap::new(),
        }
    }

    /// True when a complaint about `server` at `now` is to be logged (and notes it).
    pub fn due(&mut self, server: &str, now: Instant) -> bool {
        let due = self
            .last
            .get(server)
            .is_none_or(|t| now.duration_since(*t) >= self.every);
        if due {
            self.last.insert(server.to_string(), now);
        }
        due
    }
}

/// The remote prober's sink: POST every batch to every server. A refusal (wrong token,
/// bad batch) is an ERROR naming the server, status and reason, at most once a minute
/// per server; a server that is down is a warning (at most every 30 s each). Either way
/// the others still get the batch.
pub struct HttpSink {
    pub client: reqwest::Client,
    pub servers: Vec<String>,
    pub token: String,
    refusals: Complaints,
    failures: Complaints,
}

impl HttpSink {
    pub fn new(client: reqwest::Client, servers: Vec<String>, token: String) -> HttpSink {
        HttpSink {
            client,
            servers,
            token,
            refusals: Complaints::new(REFUSAL_LOG_EVERY),
            failures: Complaints::new(FAILURE_LOG_EVERY),
        }
    }
}

impl ReportSink for HttpSink {
    fn send(&mut self, batch: ReportBatch) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let body = match serde_json::to_vec(&batch) {
                Ok(b) => b,
                Err(e) => return tracing::error!("cannot encode reports: {e}"),
            };
            let mut sends = tokio::task::JoinSet::new();
            for server in &self.servers {
                let url = format!("{}/v1/fleet/reports", server.trim_end_matches('/'));
                let request = self
                    .client
                    .post(url)
                    .bearer_auth(&self.token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .timeout(Duration::from_secs(5));
                let server = server.clone();
                sends.spawn(async move { (server, outcome(request.send().await).await) });
            }
            while let Some(Ok((server, result))) = sends.join_next().await {
                let now = Instant::now();
                match result {
                    Ok(_) => {}
                    Err(e @ (ServerError::Refused { .. } | ServerError::Untrusted(_))) => {
                        if self.refusals.due(&server, now) {
                            tracing::error!(
                                %server,
                                "report batch {e}{}; its votes do not count there",
                                e.hint()
                            );
                        }
                    }
                    Err(e) => {
                        if self.failures.due(&server, now) {
                            tracing::warn!(%server, "report not delivered: {e}");
                        }
                    }
                }
            }
        })
    }
}

/// One server's target list.
pub async fn fetch_list(
    client: &reqwest::Client,
    server: &str,
    token: &str,
) -> Result<Vec<TargetSpec>, ServerError> {
    let url = format!("{}/v1/fleet/targets", server.trim_end_matches('/'));
    let answer = client
        .get(&url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let body = outcome(answer).await?;
    serde_json::from_slice::<super::fleet::TargetList>(&body)
        .map(|list| list.targets)
        .map_err(|e| ServerError::Failed(format!("{url}: not a target list: {e}")))
}

/// Fetches the union of every server's targets every `every`, into `tx`. A server that
/// cannot be reached keeps its last list; the union changes only when something did.
pub async fn fetch_targets(
    client: reqwest::Client,
    servers: Vec<String>,
    token: String,
    every: Duration,
    tx: watch::Sender<Arc<Vec<TargetSpec>>>,
) {
    let mut per_server: HashMap<String, Vec<TargetSpec>> = HashMap::new();
    let mut refusals = Complaints::new(REFUSAL_LOG_EVERY);
    let mut failures = Complaints::new(FAILURE_LOG_EVERY);
    loop {
        for server in &servers {
            match fetch_list(&client, server, &token).await {
                Ok(list) => {
                    per_server.insert(server.clone(), list);
                }
                Err(e @ (ServerError::Refused { .. } | ServerError::Untrusted(_))) => {
                    if refusals.due(server, Instant::now()) {
                        tracing::error!(%server, "target list {e}{}", e.hint());
                    }
                }
                Err(e) => {
                    if failures.due(server, Instant::now()) {
                        tracing::warn!(%server, "cannot fetch targets: {e}");
                    }
                }
            }
        }
        // Keyed by id, so a large fleet's union stays linear (and comes out sorted).
        let mut by_id: std::collections::BTreeMap<&str, TargetSpec> =
            std::collections::BTreeMap::new();
        for t in per_server.values().flatten() {
            match by_id.get_mut(t.id.as_str()) {
                Some(u) => {
                    let recheck = u.recheck().min(t.recheck());
                    u.interval_ms = u.interval_ms.min(t.interval_ms);
                    u.recheck_ms = recheck.as_millis() as u64;
                }
                None => {
                    by_id.insert(&t.id, t.clone());
                }
            }
        }
        let union: Vec<TargetSpec> = by_id.into_values().collect();
        if **tx.borrow() != union {
            tx.send_replace(Arc::new(union));
        }
        tokio::time::sleep(every).await;
        if tx.is_closed() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Checks that answer what `up` says, and note when they ran.
    #[derive(Default)]
    struct FakeChecks {
        down: AtomicBool,
        ran_at: Mutex<Vec<Instant>>,
    }

    impl CheckRunner for FakeChecks {
        fn run<'a>(
            &'a self,
            _: &'a Target,
        ) -> Pin<Box<dyn Future<Output = Observation> + Send + 'a>> {
            Box::pin(async move {
                self.ran_at.lock().unwrap().push(Instant::now());
                let verdict = if self.down.load(Ordering::SeqCst) {
                    Verdict::Down("test says down".into())
                } else {
                    Verdict::Up
                };
                Observation {
                    verdict,
                    rtt: Some(Duration::from_millis(1)),
                    load: None,
                }
            })
        }
    }

    /// Keeps every batch with the time it was sent.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<(Instant, ReportBatch)>>>);

    impl ReportSink for Collect {
        fn send(&mut self, batch: ReportBatch) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            self.0.lock().unwrap().push((Instant::now(), batch));
            Box::pin(async {})
        }
    }

    /// A prober of `spec` alone, started now (on the paused clock): its fake checks, what
    /// it sent, when it started, and the target list's sender, kept for the prober's sake.
    fn start_prober(
        spec: TargetSpec,
    ) -> (
        Arc<FakeChecks>,
        Collect,
        Instant,
        watch::Sender<Arc<Vec<TargetSpec>>>,
    ) {
        let checks = Arc::new(FakeChecks::default());
        let sink = Collect::default();
        let (targets_tx, targets) = watch::channel(Arc::new(vec![spec]));
        let prober = Prober {
            name: "p1".into(),
            region: "eu-west".into(),
            coordinates: None,
            checker: checks.clone(),
        };
        let start = Instant::now();
        tokio::spawn(prober.run(targets, sink.clone()));
        (checks, sink, start, targets_tx)
    }

    fn spec(interval: Duration, fall: u32) -> TargetSpec {
        TargetSpec {
            id: "tcp://192.0.2.1:80#timeout=500ms".into(),
            address: "192.0.2.1".parse().unwrap(),
            kind: "tcp".into(),
            port: 80,
            path: String::new(),
            host: None,
            insecure: false,
            expect: vec![(200, 399)],
            body: None,
            interval_ms: interval.as_millis() as u64,
            timeout_ms: 500,
            recheck_ms: 0,
            rise: 2,
            fall,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn checks_keep_their_slot_and_a_flip_is_sent_at_the_fall_th_failure() {
        let interval = Duration::from_secs(1);
        let spec = spec(interval, 3);
        let first = offset(&spec.id, interval);
        let (checks, sink, start, _targets_tx) = start_prober(spec);

        // Five seconds of a healthy target: one check per interval, in the target's slot
        // (its offset, to the scheduler's 20 ms resolution), never bunched.
        tokio::time::sleep(Duration::from_millis(5010)).await;
        let ran: Vec<Duration> = checks
            .ran_at
            .lock()
            .unwrap()
            .iter()
            .map(|t| *t - start)
            .collect();
        assert_eq!(ran.len(), 5, "{ran:?}");
        for (k, at) in ran.iter().enumerate() {
            let slot = first + interval * k as u32;
            assert!(
                *at >= slot && *at <= slot + TICK,
                "check {k} at {at:?}, slot {slot:?}"
            );
        }
        let sent = sink.0.lock().unwrap().clone();
        assert!(!sent.is_empty() && sent.iter().all(|(_, b)| b.reports[0].up));

        // The target fails from now on: `fall = 3` failed checks, then the down vote goes
        // out at once (not at the next half-second flush).
        checks.down.store(true, Ordering::SeqCst);
        let failing = Instant::now();
        sink.0.lock().unwrap().clear();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let sent = sink.0.lock().unwrap().clone();
        let (flip_at, flip) = sent
            .iter()
            .find(|(_, b)| !b.reports[0].up)
            .expect("a down vote was sent");
        let third_failure = checks.ran_at.lock().unwrap()[5 + 2];
        assert!(
            *flip_at >= third_failure && *flip_at <= third_failure + 2 * TICK,
            "down vote sent {:?} after the third failed check",
            *flip_at - third_failure
        );
        assert!(*flip_at - failing <= interval * 3 + TICK);
        assert_eq!(flip.reports[0].reason, "test says down");
        // While counting toward `fall`, the votes said up but changing.
        let counting: Vec<bool> = sent
            .iter()
            .take_while(|(t, _)| t < flip_at)
            .map(|(_, b)| b.reports[0].up && b.reports[0].changing)
            .collect();
        assert!(
            !counting.is_empty() && counting.iter().all(|&c| c),
            "{counting:?}"
        );
    }

    /// The check times in `checks` from `from` on, as offsets from `from`.
    fn ran_since(checks: &FakeChecks, from: Instant) -> Vec<Duration> {
        let ran = checks.ran_at.lock().unwrap();
        ran.iter()
            .filter(|t| **t >= from)
            .map(|t| *t - from)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn with_defaults_a_dead_target_is_voted_down_two_rechecks_after_its_first_failure() {
        // The defaults: interval 5 s, fall 3, rise 2; recheck is then 1 s.
        let interval = Duration::from_secs(5);
        let spec = spec(interval, 3);
        assert_eq!(spec.recheck(), Duration::from_secs(1));
        let slot0 = offset(&spec.id, interval);
        let (checks, sink, start, _targets_tx) = start_prober(spec);
        let slot = |k: u32| start + slot0 + interval * k;

        // Healthy until just after the check in slot 1; it dies then.
        tokio::time::sleep_until(slot(1) + Duration::from_millis(100)).await;
        checks.down.store(true, Ordering::SeqCst);
        // The first failed check is the next slot's; then two re-checks a second apart.
        tokio::time::sleep_until(slot(2) + Duration::from_millis(4_500)).await;
        let ran = ran_since(&checks, slot(2));
        let near = |got: Duration, want: Duration| got >= want && got <= want + TICK;
        assert!(ran.len() >= 3, "{ran:?}");
        for (k, want) in [0, 1000, 2000].into_iter().enumerate() {
            assert!(
                near(ran[k], Duration::from_millis(want)),
                "check {k} after the first failure at {:?}, want {want} ms: {ran:?}",
                ran[k]
            );
        }
        let sent = sink.0.lock().unwrap().clone();
        let (flip_at, _) = sent
            .iter()
            .find(|(_, b)| !b.reports[0].up)
            .expect("a down vote was sent");
        let detection = *flip_at - slot(2);
        assert!(
            detection >= Duration::from_secs(2) && detection <= Duration::from_secs(2) + 2 * TICK,
            "down vote {detection:?} after the first failed check"
        );
        // The first failure was sent at once too (up, changing), so servers shorten TTLs.
        let (first_at, first) = sent
            .iter()
            .find(|(_, b)| b.reports[0].changing)
            .expect("a changing vote was sent");
        assert!(first.reports[0].up && *first_at - slot(2) <= 2 * TICK);
        // Once down, checks are back in the slot: nothing between the last re-check and
        // slot 3.
        assert_eq!(ran.len(), 3, "{ran:?}");

        // It comes back just before slot 4: `rise = 2` passing checks at the normal
        // interval (slots 4 and 5), no re-checks, before the vote is up again.
        tokio::time::sleep_until(slot(4) - Duration::from_millis(100)).await;
        checks.down.store(false, Ordering::SeqCst);
        sink.0.lock().unwrap().clear();
        tokio::time::sleep_until(slot(5) + Duration::from_millis(500)).await;
        let ran = ran_since(&checks, slot(4) - Duration::from_millis(100));
        assert_eq!(ran.len(), 2, "{ran:?}");
        assert!(near(ran[1] - ran[0], interval), "{ran:?}");
        let sent = sink.0.lock().unwrap().clone();
        let (up_at, _) = sent
            .iter()
            .find(|(_, b)| b.reports[0].up)
            .expect("an up vote was sent");
        assert!(*up_at >= slot(5) && *up_at <= slot(5) + 2 * TICK);
    }

    #[tokio::test(start_paused = true)]
    async fn one_failed_check_is_rechecked_once_and_the_slot_keeps_its_phase() {
        let interval = Duration::from_secs(5);
        let spec = spec(interval, 3);
        let slot0 = offset(&spec.id, interval);
        let (checks, sink, start, _targets_tx) = start_prober(spec);
        let slot = |k: u32| start + slot0 + interval * k;

        // One blip: the check in slot 1 fails, the re-check a second later passes.
        tokio::time::sleep_until(slot(1) - Duration::from_millis(100)).await;
        checks.down.store(true, Ordering::SeqCst);
        tokio::time::sleep_until(slot(1) + Duration::from_millis(500)).await;
        checks.down.store(false, Ordering::SeqCst);
        tokio::time::sleep_until(slot(3) + Duration::from_millis(100)).await;
        let ran = ran_since(&checks, slot(1));
        let want = [0, 1000, 5000, 10_000].map(Duration::from_millis);
        assert_eq!(ran.len(), want.len(), "{ran:?}");
        for (got, want) in ran.iter().zip(want) {
            assert!(*got >= want && *got <= want + TICK, "{ran:?}");
        }
        // The vote never went down.
        assert!(sink.0.lock().unwrap().iter().all(|(_, b)| b.reports[0].up));
    }

    #[test]
    fn smoothed_rtt_and_load_follow_the_checks_that_answered() {
        let mut s = Scheduled {
            spec: spec(Duration::from_secs(1), 3),
            target: Target {
                address: "192.0.2.1".parse().unwrap(),
                check: spec(Duration::from_secs(1), 3).check().unwrap(),
            },
            next: Instant::now(),
            recheck_at: None,
            started: Instant::now(),
            debounce: Debounce::default(),
            in_flight: false,
            srtt_ms: None,
            load: None,
        };
        let obs = |rtt_ms: Option<u64>, load: Option<f64>| Observation {
            verdict: Verdict::Up,
            rtt: rtt_ms.map(Duration::from_millis),
            load,
        };
        // (rtt, load) of a check → (smoothed rtt, smoothed load) after it.
        let rows = [
            ((Some(100), None), (Some(100.0), None)),
            ((Some(0), Some(1.0)), (Some(70.0), Some(1.0))),
            // No answer: both as they were.
            ((None, None), (Some(70.0), Some(1.0))),
            ((Some(70), Some(0.0)), (Some(70.0), Some(0.7))),
        ];
        for ((rtt, load), (want_rtt, want_load)) in rows {
            s.smooth(&obs(rtt, load));
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (a, b) => a == b,
            };
            assert!(close(s.srtt_ms, want_rtt), "{:?}", s.srtt_ms);
            assert!(close(s.load, want_load), "{:?}", s.load);
        }
    }

    #[test]
    fn debounce_needs_fall_failures_and_rise_successes() {
        let mut d = Debounce::default();
        let results = [
            false, false, true, false, false, false, true, true, false, true,
        ];
        let mut votes = Vec::new();
        for r in results {
            d.observe(r, 2, 3);
            votes.push(d.up);
        }
        // fall = 3: down after three failures in a row; rise = 2: up after two successes.
        assert_eq!(
            votes,
            [true, true, true, true, true, false, false, true, true, true]
        );
    }

    #[test]
    fn a_refusing_server_is_logged_at_most_once_a_minute() {
        let mut refusals = Complaints::new(REFUSAL_LOG_EVERY);
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let a = "http://a:5380";
        let b = "http://b:5380";
        // (server, seconds after t0, logged?)
        let rows = [
            (a, 0, true),
            (a, 1, false),
            (b, 1, true),
            (a, 59, false),
            (a, 60, true),
            (b, 60, false),
            (a, 119, false),
            (b, 61, true),
        ];
        for (server, secs, want) in rows {
            assert_eq!(refusals.due(server, at(secs)), want, "{server} at {secs}s");
        }
    }

    #[test]
    fn offsets_spread_over_the_interval() {
        let interval = Duration::from_secs(5);
        let offsets: Vec<Duration> = (0..1000)
            .map(|i| offset(&format!("tcp://127.0.0.{}:{}", i % 250, 8000 + i), interval))
            .collect();
        assert!(offsets.iter().all(|o| *o < interval));
        let first_half = offsets.iter().filter(|o| **o < interval / 2).count();
        assert!((400..600).contains(&first_half), "{first_half}");
    }
}

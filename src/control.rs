//! The control plane: the one task that takes reports, reloads and drains, judges health
//! through the [`HealthStore`], and writes the live snapshot.
//!
//! It sits above `health` (which judges, and knows nothing of snapshots) and `snapshot`
//! (which holds, and knows nothing of votes). It is the only writer of [`Live`]; DNS
//! workers load it without a lock. A new snapshot is stored only when the health table
//! changed or a reload built one, and `state_dir` is saved on every change. A drain is
//! saved before it is applied and refused when it cannot be; health judgements apply at
//! once and their save is retried each tick. Probers silent for too long are forgotten.
//! Its clock is `tokio::time`, so the tick and every `now` follow a paused clock in tests.
//! Every published change is also written to a bounded log of recent events (`events`).
//! A reload that raises a zone's serial sends NOTIFY to its secondaries (`dns::notify`).

pub mod events;

use crate::health::HealthTable;
use crate::health::fleet::{ReportBatch, TargetSpec, target_id};
use crate::health::prober::ReportSink;
use crate::health::store::{BatchError, HealthStore, SaveError};
use crate::snapshot::{Live, LoadError, Snapshot};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot, watch};

/// How often votes are re-judged without new reports (staleness is a matter of time).
pub const TICK: Duration = Duration::from_millis(250);

/// The control plane's monotonic clock: vote ages and staleness are measured on it.
/// It is `tokio::time`'s, so it stands still in a test that pauses time.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The task has stopped (the server is shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the control task has stopped (the server is shutting down)")]
pub struct Stopped;

/// Why a report batch was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The batch itself is wrong; nothing of it was applied.
    #[error("report batch refused: {0}")]
    Refused(#[from] BatchError),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

/// Why a reload did not happen; in every case the previous configuration keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The files on disk have errors (each names file, line and key).
    #[error("reload refused; still serving the previous configuration:\n{0}")]
    Invalid(LoadError),
    #[error(transparent)]
    Stopped(#[from] Stopped),
    /// The loader itself failed (it panicked): a bug, not the operator's config.
    #[error("reload failed inside the server ({0}); still serving the previous configuration")]
    Internal(String),
}

/// Why a drain or undrain did not fully happen.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("unknown region {region:?} (known: {})", known.join(", "))]
    UnknownRegion { region: String, known: Vec<String> },
    #[error(transparent)]
    Stopped(#[from] Stopped),
    /// `state_dir` could not be written, so the drain was not applied: answers and
    /// `/v1/status` are as before. An operator action is acknowledged only once a restart
    /// would keep it.
    #[error(
        "region {region:?} was not {}: {source}; answers are unchanged (a drain is applied \
         only once it is saved, so a restart keeps it)",
        if *drained { "drained" } else { "undrained" }
    )]
    NotSaved {
        region: String,
        drained: bool,
        source: SaveError,
    },
}

/// What a successful reload loaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadSummary {
    pub zones: usize,
    pub services: usize,
    pub regions: usize,
}

/// A request to the control task.
enum Msg {
    Reports {
        batch: ReportBatch,
        reply: oneshot::Sender<Result<(usize, usize), BatchError>>,
    },
    /// A reloaded snapshot: publish it with health attached.
    Publish {
        snapshot: Snapshot,
        reply: oneshot::Sender<()>,
    },
    Drain {
        region: String,
        drained: bool,
        reply: oneshot::Sender<Result<bool, DrainError>>,
    },
    /// Read access for the status API: runs `f` on the store.
    Inspect {
        f: Box<dyn FnOnce(&HealthStore) + Send>,
    },
    /// Save what is unsaved, then end.
    Stop { reply: oneshot::Sender<()> },
}

/// The control plane before its task runs: the store is configured and its health is
/// already in [`Live`].
pub struct Control {
    store: HealthStore,
    live: Arc<Live>,
    targets: watch::Sender<Arc<Vec<TargetSpec>>>,
    /// The last save failed: every tick retries it.
    unsaved: bool,
    /// Written here only; `/v1/status` reads it.
    events: Arc<Mutex<events::EventLog>>,
}

impl Control {
    /// Configures `store` for the snapshot in `live`, judges every target from what
    /// `state_dir` held, and stores that health in `live` before returning. `serve` calls
    /// it before any DNS worker starts, so the very first answer applies the saved drains
    /// and states. Needs no runtime.
    pub fn new(mut store: HealthStore, live: Arc<Live>) -> Control {
        let mut step = std::time::Instant::now();
        let current = live.load_full();
        store.configure_targets(
            &current.services,
            current.targets.clone(),
            current.config.fleet.quorum,
        );
        store.judge_all(now());
        tracing::debug!(ms = crate::snapshot::lap(&mut step), "health judged");
        let (targets, _) = watch::channel(Arc::new(store.targets().cloned().collect()));
        tracing::debug!(ms = crate::snapshot::lap(&mut step), "probe targets listed");
        let control = Control {
            store,
            live,
            targets,
            unsaved: false,
            events: Arc::default(),
        };
        // What `state_dir` held is the starting point, not an event.
        let table =
            control
                .store
                .table(&current.services, &current.config.regions, &current.health);
        if *current.health != table {
            control.live.store(Arc::new(current.with_health(table)));
        }
        tracing::debug!(
            ms = crate::snapshot::lap(&mut step),
            "health table published"
        );
        control
    }

    /// Starts the task on the current tokio runtime.
    pub fn spawn(self) -> ControlHandle {
        let (tx, rx) = mpsc::channel(1024);
        let handle = ControlHandle {
            tx,
            targets: self.targets.subscribe(),
            live: self.live.clone(),
            reloads: Arc::new([AtomicU64::new(0), AtomicU64::new(0)]),
            events: self.events.clone(),
        };
        tokio::spawn(self.run(rx));
        handle
    }

    /// Stores `base` with the store's health, when that differs enough from what `base`
    /// has (see [`HealthTable::differs`]: measurement drift alone does not swap).
    fn publish(&self, base: &Snapshot) {
        let table: HealthTable =
            self.store
                .table(&base.services, &base.config.regions, &base.health);
        if base.health.differs(&table) {
            self.store_live(base.with_health(table));
        }
    }

    /// Makes `new` the live snapshot, logging what changed from the one before.
    fn store_live(&self, new: Snapshot) {
        let old = self.live.load_full();
        let found = events::diff(&old, &new, now(), SystemTime::now(), |si, address| {
            self.down_reasons(&new, si, address)
        });
        if !found.is_empty() {
            let mut log = self.events.lock().unwrap_or_else(|e| e.into_inner());
            for e in found {
                tracing::info!(kind = ?e.kind, "{}", e.message);
                log.push(e);
            }
        }
        self.live.store(Arc::new(new));
    }

    /// What the probers voting down on an endpoint said: `prober: reason` for each.
    fn down_reasons(&self, snap: &Snapshot, service: usize, address: std::net::IpAddr) -> String {
        let Some(check) = snap.services[service].check.as_ref() else {
            return String::new();
        };
        let Some(votes) = self.store.votes(&target_id(address, check)) else {
            return String::new();
        };
        votes
            .iter()
            .filter(|(_, v)| !v.up)
            .map(|(p, v)| {
                if v.reason.is_empty() {
                    p.clone()
                } else {
                    format!("{p}: {}", v.reason)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn save(&mut self) -> Result<(), SaveError> {
        let result = self.store.save();
        if result.is_ok() && self.unsaved {
            tracing::info!("health state saved again");
        }
        self.unsaved = result.is_err();
        result
    }

    /// Saves, logging a failure once (for changes nobody is waiting on); while saves fail,
    /// every tick tries again, quietly.
    fn save_or_log(&mut self) {
        let was_unsaved = self.unsaved;
        if let Err(e) = self.save()
            && !was_unsaved
        {
            tracing::error!("{e}; retrying until it works");
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let msg = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => Some(m),
                    None => break,
                },
                _ = tick.tick() => None,
            };
            match msg {
                Some(Msg::Reports { batch, reply }) => {
                    let result = self.store.apply(&batch, now(), SystemTime::now());
                    if result.is_ok() {
                        // Before the reply: once a report is accepted, answers follow it.
                        self.judge();
                    }
                    let _ = reply.send(result);
                }
                Some(Msg::Publish { snapshot, reply }) => {
                    self.store.configure_targets(
                        &snapshot.services,
                        snapshot.targets.clone(),
                        snapshot.config.fleet.quorum,
                    );
                    self.store.judge_all(now());
                    let old = self.live.load_full();
                    // Latency choices are held across a reload that keeps the services and
                    // regions as they were (indices still mean the same).
                    let same = old.services.len() == snapshot.services.len()
                        && old
                            .services
                            .iter()
                            .zip(snapshot.services.iter())
                            .all(|(a, b)| a.name == b.name && a.endpoints == b.endpoints)
                        && old.config.regions.len() == snapshot.config.regions.len()
                        && old
                            .config
                            .regions
                            .iter()
                            .zip(&snapshot.config.regions)
                            .all(|(a, b)| a.name == b.name);
                    let empty = HealthTable::default();
                    let previous = if same { &*old.health } else { &empty };
                    let table =
                        self.store
                            .table(&snapshot.services, &snapshot.config.regions, previous);
                    self.store_live(snapshot.with_health(table));
                    crate::dns::notify::after_reload(&old, &self.live.load());
                    retire(old);
                    self.targets
                        .send_replace(Arc::new(self.store.targets().cloned().collect()));
                    self.save_or_log();
                    let _ = reply.send(());
                }
                Some(Msg::Drain {
                    region,
                    drained,
                    reply,
                }) => {
                    let _ = reply.send(self.drain(region, drained));
                }
                Some(Msg::Inspect { f }) => f(&self.store),
                Some(Msg::Stop { reply }) => {
                    if self.unsaved {
                        self.save_or_log();
                    }
                    let _ = reply.send(());
                    break;
                }
                None => self.tick(),
            }
        }
    }

    /// Forgets probers quiet for too long, then re-judges at `now`; publishes and saves
    /// only when something changed.
    fn tick(&mut self) {
        let forgotten = self.store.forget_quiet_probers(now());
        if !forgotten.is_empty() {
            tracing::info!(
                probers = forgotten.join(", "),
                after = %humantime::format_duration(self.store.forget_after()),
                "probers forgotten: no report for too long"
            );
        }
        self.judge();
    }

    /// Re-judges at `now`; publishes and saves only when something changed. Health
    /// judgements apply even when their save fails (the save is retried every tick).
    fn judge(&mut self) {
        let changed = self.store.judge_all(now());
        if self.store.take_measured_changed() || changed {
            let current = self.live.load_full();
            self.publish(&current);
        }
        if changed || self.unsaved {
            self.save_or_log();
        }
    }

    fn drain(&mut self, region: String, drained: bool) -> Result<bool, DrainError> {
        let current = self.live.load_full();
        let regions = &current.config.regions;
        if !regions.iter().any(|r| r.name == region) {
            let known = regions.iter().map(|r| r.name.clone()).collect();
            return Err(DrainError::UnknownRegion { region, known });
        }
        if !self.store.set_drain(&region, drained) {
            return Ok(false);
        }
        // Durable first: a failed save takes the drain back before anyone sees it.
        if let Err(source) = self.save() {
            self.store.set_drain(&region, !drained);
            return Err(DrainError::NotSaved {
                region,
                drained,
                source,
            });
        }
        tracing::info!(region, drained, "drain changed");
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(events::drained(&region, drained, now(), SystemTime::now()));
        self.publish(&current);
        Ok(true)
    }
}

/// How long [`retire`] waits for DNS workers to let go of a replaced snapshot.
const RETIRE_WAIT: Duration = Duration::from_secs(5);

/// Frees the snapshot a reload replaced on a thread of its own, once DNS workers still
/// answering from it (each holds it for one batch) have let go, then gives the memory
/// back to the system. A million-record zone is a million small frees: neither the
/// control task nor the DNS worker that happened to let go last should pay for them.
fn retire(old: Arc<Snapshot>) {
    let spawned = std::thread::Builder::new()
        .name("retire-snapshot".into())
        .spawn(move || {
            let deadline = Instant::now() + RETIRE_WAIT;
            while Arc::strong_count(&old) > 1 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            drop(old);
            crate::snapshot::return_freed_memory();
        });
    // Without a thread the snapshot went with the closure, here: freed all the same.
    if let Err(e) = spawned {
        tracing::debug!("no thread to free the replaced snapshot on ({e}); freed inline");
    }
}

/// Cheap to clone; talks to the control task.
#[derive(Clone)]
pub struct ControlHandle {
    tx: mpsc::Sender<Msg>,
    targets: watch::Receiver<Arc<Vec<TargetSpec>>>,
    live: Arc<Live>,
    /// Reloads that succeeded and that were refused, for `/metrics`.
    pub reloads: Arc<[AtomicU64; 2]>,
    /// The recent events; read it inside [`ControlHandle::inspect`] to see it as of the
    /// same moment as the store.
    pub events: Arc<Mutex<events::EventLog>>,
}

impl ControlHandle {
    /// Sends `msg` built around a reply channel and waits for the answer.
    async fn ask<T>(&self, msg: impl FnOnce(oneshot::Sender<T>) -> Msg) -> Result<T, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(msg(reply)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Hands a prober's batch to the task; `(accepted, ignored)`.
    pub async fn report(&self, batch: ReportBatch) -> Result<(usize, usize), ReportError> {
        Ok(self.ask(|reply| Msg::Reports { batch, reply }).await??)
    }

    /// Drains or undrains a region; `Ok(changed)`.
    pub async fn drain(&self, region: &str, drained: bool) -> Result<bool, DrainError> {
        let region = region.to_string();
        self.ask(|reply| Msg::Drain {
            region,
            drained,
            reply,
        })
        .await?
    }

    /// Runs `f` on the store inside the task and returns its result.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&HealthStore) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (reply, rx) = oneshot::channel();
        let f = Box::new(move |s: &HealthStore| {
            let _ = reply.send(f(s));
        });
        self.tx
            .send(Msg::Inspect { f })
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Ends the task after saving anything a failed save left unsaved; every later request
    /// gets [`Stopped`]. Answers keep coming from the last snapshot.
    pub async fn stop(&self) {
        let _ = self.ask(|reply| Msg::Stop { reply }).await;
    }

    /// Reloads config, zones, services and geolocation from `config_path` and publishes
    /// them; an invalid new config is refused with its errors and the old one keeps serving.
    pub async fn reload(&self, config_path: &Path) -> Result<ReloadSummary, ReloadError> {
        let result = self.try_reload(config_path).await;
        match &result {
            Ok(s) => {
                self.reloads[0].fetch_add(1, Ordering::Relaxed);
                tracing::info!(zones = s.zones, services = s.services, "reloaded");
            }
            Err(ReloadError::Stopped(_)) => {}
            Err(e) => {
                self.reloads[1].fetch_add(1, Ordering::Relaxed);
                tracing::error!("{e}");
            }
        }
        result
    }

    async fn try_reload(&self, config_path: &Path) -> Result<ReloadSummary, ReloadError> {
        let path = config_path.to_path_buf();
        let previous = self.live.load_full();
        let snapshot = tokio::task::spawn_blocking(move || Snapshot::load(&path, Some(&previous)))
            .await
            .map_err(|e| ReloadError::Internal(e.to_string()))?
            .map_err(ReloadError::Invalid)?;
        let summary = ReloadSummary {
            zones: snapshot.zones.zones().len(),
            services: snapshot.services.len(),
            regions: snapshot.config.regions.len(),
        };
        self.ask(|reply| Msg::Publish { snapshot, reply }).await?;
        crate::snapshot::return_freed_memory();
        Ok(summary)
    }

    /// The snapshot queries are answered from now.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// The current target list; changes after a reload.
    pub fn targets(&self) -> watch::Receiver<Arc<Vec<TargetSpec>>> {
        self.targets.clone()
    }
}

/// The local prober reports straight into this server's control task.
impl ReportSink for ControlHandle {
    fn send(&mut self, batch: ReportBatch) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            match self.report(batch).await {
                Ok(_) => {}
                Err(e @ ReportError::Refused(_)) => tracing::warn!("local prober: {e}"),
                Err(e @ ReportError::Stopped(_)) => tracing::debug!("local prober: {e}"),
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;

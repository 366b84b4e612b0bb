//! The health task: the one owner of the [`HealthStore`] and the only writer of [`Live`].
//!
//! Reports, reloads and drains arrive as messages; after each, and on a short tick (votes
//! go stale with time), it judges the targets and, only when something changed, swaps in
//! a snapshot with the new health and saves `state_dir`. Queries never wait for it.

use super::fleet::{ReportBatch, TargetSpec};
use super::store::{HealthStore, ReportError};
use crate::snapshot::{Live, Snapshot};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};

/// How often votes are re-judged without new reports (staleness is a matter of time).
const TICK: Duration = Duration::from_millis(250);

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A request to the health task.
pub enum HealthMsg {
    Reports {
        batch: ReportBatch,
        reply: oneshot::Sender<Result<(usize, usize), ReportError>>,
    },
    /// A reloaded snapshot: publish it with health attached.
    Publish {
        snapshot: Snapshot,
        reply: oneshot::Sender<()>,
    },
    Drain {
        region: String,
        drained: bool,
        reply: oneshot::Sender<Result<bool, String>>,
    },
    /// Read access for the status API: runs `f` on the store.
    Inspect {
        f: Box<dyn FnOnce(&HealthStore) + Send>,
    },
}

/// Cheap to clone; talks to the health task.
#[derive(Clone)]
pub struct HealthHandle {
    tx: mpsc::Sender<HealthMsg>,
    targets: watch::Receiver<Arc<Vec<TargetSpec>>>,
    live: Arc<Live>,
    /// Reloads that succeeded and that were refused, for `/metrics`.
    pub reloads: Arc<[AtomicU64; 2]>,
}

/// What a successful reload loaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadSummary {
    pub zones: usize,
    pub services: usize,
    pub regions: usize,
}

/// The task has stopped (the server is shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the health task has stopped")]
pub struct Stopped;

impl HealthHandle {
    pub async fn report(
        &self,
        batch: ReportBatch,
    ) -> Result<Result<(usize, usize), ReportError>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(HealthMsg::Reports { batch, reply })
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    pub async fn publish(&self, snapshot: Snapshot) -> Result<(), Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(HealthMsg::Publish { snapshot, reply })
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Drains or undrains a region; `Ok(changed)`, or `Err` naming the known regions.
    pub async fn drain(
        &self,
        region: &str,
        drained: bool,
    ) -> Result<Result<bool, String>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(HealthMsg::Drain {
                region: region.to_string(),
                drained,
                reply,
            })
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
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
            .send(HealthMsg::Inspect { f })
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Reloads config, zones, services and geolocation from `config_path` and publishes
    /// them; an invalid new config is refused with its errors and the old one keeps serving.
    pub async fn reload(&self, config_path: &Path) -> Result<ReloadSummary, String> {
        let path = config_path.to_path_buf();
        let previous = self.live.load_full();
        let loaded =
            tokio::task::spawn_blocking(move || Snapshot::load(&path, Some(&previous))).await;
        let snapshot = match loaded {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                self.reloads[1].fetch_add(1, Ordering::Relaxed);
                tracing::error!("reload refused, still serving the previous configuration:\n{e}");
                return Err(e.to_string());
            }
            Err(e) => {
                self.reloads[1].fetch_add(1, Ordering::Relaxed);
                return Err(format!("reload failed: {e}"));
            }
        };
        let summary = ReloadSummary {
            zones: snapshot.zones.zones().len(),
            services: snapshot.services.len(),
            regions: snapshot.config.regions.len(),
        };
        self.publish(snapshot).await.map_err(|e| e.to_string())?;
        self.reloads[0].fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            zones = summary.zones,
            services = summary.services,
            "reloaded"
        );
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

/// Starts the health task for `live`: configures the store from the current snapshot and
/// publishes its health at once (saved states and drains apply from the first query).
pub fn spawn(mut store: HealthStore, live: Arc<Live>) -> HealthHandle {
    let (tx, rx) = mpsc::channel(1024);
    let current = live.load_full();
    store.configure(
        &current.services,
        &current.config.regions,
        current.config.fleet.quorum,
    );
    store.judge_all(now_ms());
    let (targets_tx, targets_rx) =
        watch::channel(Arc::new(store.targets().cloned().collect::<Vec<_>>()));
    publish(&store, &live, &current);
    tokio::spawn(run(store, live.clone(), rx, targets_tx));
    HealthHandle {
        tx,
        targets: targets_rx,
        live,
        reloads: Arc::new([AtomicU64::new(0), AtomicU64::new(0)]),
    }
}

fn publish(store: &HealthStore, live: &Live, base: &Snapshot) {
    let table = store.table(&base.services, &base.config.regions);
    if *base.health != table {
        live.store(Arc::new(base.with_health(table)));
    }
}

fn save(store: &HealthStore) {
    if let Err(e) = store.save() {
        tracing::error!("cannot save health state: {e}");
    }
}

async fn run(
    mut store: HealthStore,
    live: Arc<Live>,
    mut rx: mpsc::Receiver<HealthMsg>,
    targets: watch::Sender<Arc<Vec<TargetSpec>>>,
) {
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
        let dirty = match msg {
            Some(HealthMsg::Reports { batch, reply }) => {
                let result = store.apply(&batch, now_ms());
                let applied = result.is_ok();
                let _ = reply.send(result);
                applied
            }
            Some(HealthMsg::Publish { snapshot, reply }) => {
                store.configure(
                    &snapshot.services,
                    &snapshot.config.regions,
                    snapshot.config.fleet.quorum,
                );
                store.judge_all(now_ms());
                let table = store.table(&snapshot.services, &snapshot.config.regions);
                live.store(Arc::new(snapshot.with_health(table)));
                targets.send_replace(Arc::new(store.targets().cloned().collect()));
                save(&store);
                let _ = reply.send(());
                continue;
            }
            Some(HealthMsg::Drain {
                region,
                drained,
                reply,
            }) => {
                let current = live.load_full();
                if !current.config.regions.iter().any(|r| r.name == region) {
                    let known: Vec<&str> = current
                        .config
                        .regions
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect();
                    let _ = reply.send(Err(format!(
                        "unknown region {region:?} (known: {})",
                        known.join(", ")
                    )));
                    continue;
                }
                let changed = store.set_drain(&region, drained);
                if changed {
                    tracing::info!(region, drained, "drain changed");
                    publish(&store, &live, &current);
                    save(&store);
                }
                let _ = reply.send(Ok(changed));
                continue;
            }
            Some(HealthMsg::Inspect { f }) => {
                f(&store);
                continue;
            }
            None => true,
        };
        if dirty && store.judge_all(now_ms()) {
            let current = live.load_full();
            publish(&store, &live, &current);
            save(&store);
        }
    }
}

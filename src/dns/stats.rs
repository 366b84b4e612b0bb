//! Query counters: plain integers per worker, summed for `/metrics`.
//!
//! A worker counts into its own [`QueryStats`] (no atomics, no lock per query) and, once
//! per batch, adds the counts it touched into its slot of the [`StatsRegistry`] under the
//! zone, service and region names of the snapshot it answered from.

use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Rcodes counted (extended ones included, BADVERS = 16).
pub const RCODES: usize = 24;

/// One worker's counts since its last flush, indexed like its snapshot.
#[derive(Debug, Default, Clone)]
pub struct QueryStats {
    /// Responses no zone answered (REFUSED, FORMERR, NOTIMP, BADVERS), by rcode.
    pub unzoned: [u64; RCODES],
    /// Responses by zone index and rcode.
    by_zone: Vec<[u64; RCODES]>,
    /// Load-balanced answers by service index and picked region index.
    by_choice: Vec<Vec<u64>>,
    touched_zones: Vec<u32>,
    touched_services: Vec<u32>,
    pub truncated: u64,
    pub dropped: u64,
    /// Responses response rate limiting dropped, and sent truncated instead (slipped).
    pub rrl_dropped: u64,
    pub rrl_slipped: u64,
}

impl QueryStats {
    pub fn zone(&mut self, zone: u32, rcode: u16) {
        let z = zone as usize;
        if z >= self.by_zone.len() {
            self.by_zone.resize(z + 1, [0; RCODES]);
        }
        let row = &mut self.by_zone[z];
        if row.iter().all(|&c| c == 0) {
            self.touched_zones.push(zone);
        }
        row[(rcode as usize).min(RCODES - 1)] += 1;
    }

    /// Takes back a response counted by `zone` or `unzoned` that was not sent after all
    /// (response rate limiting dropped it).
    pub fn uncount(&mut self, zone: Option<u32>, rcode: u16) {
        let r = (rcode as usize).min(RCODES - 1);
        let cell = match zone {
            Some(z) => self.by_zone.get_mut(z as usize).map(|row| &mut row[r]),
            None => Some(&mut self.unzoned[r]),
        };
        if let Some(c) = cell {
            *c = c.saturating_sub(1);
        }
    }

    pub fn unzoned(&mut self, rcode: u16) {
        self.unzoned[(rcode as usize).min(RCODES - 1)] += 1;
    }

    pub fn choice(&mut self, service: u32, region: usize) {
        let s = service as usize;
        if s >= self.by_choice.len() {
            self.by_choice.resize(s + 1, Vec::new());
        }
        let row = &mut self.by_choice[s];
        if row.is_empty() || row.iter().all(|&c| c == 0) {
            self.touched_services.push(service);
        }
        if region >= row.len() {
            row.resize(region + 1, 0);
        }
        row[region] += 1;
    }

    /// Adds everything counted into `totals` under the names in `snap`, and starts over.
    pub fn flush(&mut self, snap: &Snapshot, totals: &Mutex<Totals>) {
        let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
        for (i, c) in self.unzoned.iter_mut().enumerate() {
            t.unzoned[i] += std::mem::take(c);
        }
        // Names come from the snapshot, made once; a key is allocated only the first time
        // a zone or service is counted.
        for z in self.touched_zones.drain(..) {
            let row = std::mem::replace(&mut self.by_zone[z as usize], [0; RCODES]);
            let Some(zone) = snap.zones.zones().get(z as usize) else {
                continue;
            };
            let total = match t.by_zone.get_mut(zone.origin_text.as_str()) {
                Some(total) => total,
                None => t
                    .by_zone
                    .entry(zone.origin_text.clone())
                    .or_insert([0; RCODES]),
            };
            for (sum, c) in total.iter_mut().zip(row) {
                *sum += c;
            }
        }
        for s in self.touched_services.drain(..) {
            let row = &mut self.by_choice[s as usize];
            let Some(service) = snap.service_names.get(s as usize) else {
                row.iter_mut().for_each(|c| *c = 0);
                continue;
            };
            let per_region = match t.by_choice.get_mut(service.as_str()) {
                Some(m) => m,
                None => t.by_choice.entry(service.clone()).or_default(),
            };
            for (r, c) in row.iter_mut().enumerate() {
                if *c > 0
                    && let Some(region) = snap.config.regions.get(r)
                {
                    match per_region.get_mut(region.name.as_str()) {
                        Some(n) => *n += *c,
                        None => {
                            per_region.insert(region.name.clone(), *c);
                        }
                    }
                }
                *c = 0;
            }
        }
        t.truncated += std::mem::take(&mut self.truncated);
        t.dropped += std::mem::take(&mut self.dropped);
        t.rrl_dropped += std::mem::take(&mut self.rrl_dropped);
        t.rrl_slipped += std::mem::take(&mut self.rrl_slipped);
    }
}

/// Counts since the server started, by name.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub unzoned: [u64; RCODES],
    pub by_zone: BTreeMap<String, [u64; RCODES]>,
    /// Service → region → answers.
    pub by_choice: BTreeMap<String, BTreeMap<String, u64>>,
    pub truncated: u64,
    pub dropped: u64,
    pub rrl_dropped: u64,
    pub rrl_slipped: u64,
}

/// Every worker's totals; `/metrics` sums them.
#[derive(Debug, Default)]
pub struct StatsRegistry {
    slots: Mutex<Vec<Arc<Mutex<Totals>>>>,
}

impl StatsRegistry {
    /// A new slot for one worker.
    pub fn slot(&self) -> Arc<Mutex<Totals>> {
        let slot = Arc::new(Mutex::new(Totals::default()));
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot.clone());
        slot
    }

    /// The sum over all workers.
    pub fn sum(&self) -> Totals {
        let mut sum = Totals::default();
        for slot in self.slots.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let t = slot.lock().unwrap_or_else(|e| e.into_inner());
            for i in 0..RCODES {
                sum.unzoned[i] += t.unzoned[i];
            }
            for (zone, row) in &t.by_zone {
                let s = sum.by_zone.entry(zone.clone()).or_insert([0; RCODES]);
                for i in 0..RCODES {
                    s[i] += row[i];
                }
            }
            for (service, regions) in &t.by_choice {
                let s = sum.by_choice.entry(service.clone()).or_default();
                for (region, n) in regions {
                    *s.entry(region.clone()).or_insert(0) += n;
                }
            }
            sum.truncated += t.truncated;
            sum.dropped += t.dropped;
            sum.rrl_dropped += t.rrl_dropped;
            sum.rrl_slipped += t.rrl_slipped;
        }
        sum
    }
}

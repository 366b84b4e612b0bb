//! How fast report batches are taken: a token bucket per prober name, and one for all.
//!
//! A prober flooding the API empties its own bucket and gets 429, while every other
//! prober's batches keep being taken (each has its own bucket), so their votes stay fresh.
//! The global bucket bounds the control task's work when many names flood at once. Names
//! come from requests, so the map is bounded: a bucket idle long enough to have refilled
//! is the same as a new one and is forgotten (swept every [`SWEEP_EVERY`], and at once
//! when the map is full); when the map is still full, batches from names it does not
//! know are refused. Time comes in as an argument (the control plane's
//! clock), never read here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Batches one prober may send per second: `meridian probe` sends one every half second,
/// and at once when a vote flips, at most once per 20 ms scheduler tick, so even an
/// outage flipping every target at once stays under it.
pub const PER_PROBER_PER_SECOND: f64 = 50.0;
/// Batches all probers together may send per second.
pub const GLOBAL_PER_SECOND: f64 = 1000.0;
/// Most prober names with a bucket of their own.
pub const MAX_PROBERS: usize = 4096;
/// How often full (idle) buckets are forgotten.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A token bucket of `2 × rate` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: 2.0 * rate,
            at: now,
        }
    }

    /// Refills to `now`; true when a token is there to take.
    fn refill(&mut self, rate: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(2.0 * rate);
        self.at = now;
        self.tokens >= 1.0
    }

    /// Idle long enough to be full again (so forgetting it changes nothing).
    fn full_by(&self, rate: f64, now: Instant) -> bool {
        let needed = (2.0 * rate - self.tokens) / rate;
        now.saturating_duration_since(self.at) >= Duration::from_secs_f64(needed.max(0.0))
    }
}

/// Why a batch was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// This prober sent more than its share.
    Prober,
    /// All probers together sent more than the server takes, or too many names at once.
    Global,
}

/// The buckets, keyed by prober name.
#[derive(Debug)]
pub struct ReportLimiter {
    per_prober: HashMap<String, Bucket>,
    global: Bucket,
    swept: Instant,
    per_second: f64,
    global_per_second: f64,
    max_probers: usize,
}

impl ReportLimiter {
    pub fn new(now: Instant) -> ReportLimiter {
        ReportLimiter::with_rates(PER_PROBER_PER_SECOND, GLOBAL_PER_SECOND, MAX_PROBERS, now)
    }

    pub fn with_rates(
        per_second: f64,
        global_per_second: f64,
        max_probers: usize,
        now: Instant,
    ) -> ReportLimiter {
        ReportLimiter {
            per_prober: HashMap::new(),
            global: Bucket::new(global_per_second, now),
            swept: now,
            per_second,
            global_per_second,
            max_probers,
        }
    }

    /// Takes one batch from `prober` at `now`, or says why not.
    pub fn take(&mut self, prober: &str, now: Instant) -> Result<(), Limited> {
        let rate = self.per_second;
        if now.saturating_duration_since(self.swept) >= SWEEP_EVERY {
            self.per_prober.retain(|_, b| !b.full_by(rate, now));
            self.swept = now;
        }
        if !self.per_prober.contains_key(prober) && self.per_prober.len() >= self.max_probers {
            self.per_prober.retain(|_, b| !b.full_by(rate, now));
            if self.per_prober.len() >= self.max_probers {
                return Err(Limited::Global);
            }
        }
        let bucket = self
            .per_prober
            .entry(prober.to_string())
            .or_insert_with(|| Bucket::new(rate, now));
        if !bucket.refill(rate, now) {
            return Err(Limited::Prober);
        }
        if !self.global.refill(self.global_per_second, now) {
            return Err(Limited::Global);
        }
        bucket.tokens -= 1.0;
        self.global.tokens -= 1.0;
        Ok(())
    }

    /// Batches one prober may send per second.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Prober names with a bucket now.
    pub fn probers(&self) -> usize {
        self.per_prober.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_prober_empties_only_its_own_bucket() {
        let t0 = Instant::now();
        let mut limiter = ReportLimiter::with_rates(10.0, 100.0, 8, t0);
        // The flooder sends 1000 batches in the same instant: its burst of 20 is taken.
        let taken = (0..1000)
            .filter(|_| limiter.take("flooder", t0).is_ok())
            .count();
        assert_eq!(taken, 20);
        assert_eq!(limiter.take("flooder", t0), Err(Limited::Prober));
        // The honest prober is not touched by it.
        assert_eq!(limiter.take("honest", t0), Ok(()));
        // 100 ms later the flooder has one token again.
        let later = t0 + Duration::from_millis(100);
        assert_eq!(limiter.take("flooder", later), Ok(()));
        assert_eq!(limiter.take("flooder", later), Err(Limited::Prober));
    }

    #[test]
    fn many_names_meet_the_global_bucket_and_the_map_stays_bounded() {
        let t0 = Instant::now();
        let mut limiter = ReportLimiter::with_rates(10.0, 5.0, 4, t0);
        let results: Vec<_> = (0..6).map(|i| limiter.take(&format!("p{i}"), t0)).collect();
        // Four names fit; the global burst is 10, so all four are taken; the map is full.
        assert_eq!(results[..4], [Ok(()); 4]);
        assert_eq!(results[4..], [Err(Limited::Global); 2]);
        assert_eq!(limiter.probers(), 4);
        // Two seconds on, every bucket is full again: the idle ones are forgotten to make
        // room for a new name.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(limiter.take("newcomer", later), Ok(()));
        assert_eq!(limiter.probers(), 1);
        // A minute on, the newcomer's idle bucket is swept when anyone reports.
        let minute = later + SWEEP_EVERY;
        assert_eq!(limiter.take("p0", minute), Ok(()));
        assert_eq!(limiter.probers(), 1, "only p0 is left");
    }
}

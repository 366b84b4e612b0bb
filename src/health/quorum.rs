//! Votes → health: the fleet's verdict on one target, as a pure function of the votes,
//! the last known state and `now` (a monotonic [`Instant`] the caller passes in; this
//! module never reads a clock).
//!
//! Each prober's vote is already debounced by `rise`/`fall` on the prober. Here a vote
//! older than three check intervals is stale; the fresh ones decide by quorum. When they
//! do not reach it (a split fleet), the target keeps its last state, so a single prober
//! with a bad network moves nothing. No fresh vote at all: the last known state; never
//! judged: healthy. With `quorum = "regions"`, each viewpoint first decides by the
//! majority of its own probers, and the viewpoints then decide by majority.

use crate::config::Quorum;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One prober's latest word on a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    pub up: bool,
    /// The viewpoint the prober checks from (its batch's `region`), for
    /// [`Quorum::Regions`].
    pub viewpoint: String,
    /// When this server received it, on the server's monotonic clock: probers' clocks
    /// may drift, and a wall clock stepped back would make old votes look fresh.
    pub at: Instant,
    /// The raw result of the last check differs from `up`: the prober is counting toward
    /// `rise` or `fall`, so the state may change soon.
    pub changing: bool,
    pub rtt_ms: Option<u32>,
    /// The prober's smoothed RTT to the target (ms), for `policy = "latency"`.
    pub srtt_ms: Option<f64>,
    /// The load the endpoint reported, smoothed by the prober.
    pub load: Option<f64>,
    /// Why the prober says down (empty when up).
    pub reason: String,
}

impl Vote {
    /// How old the vote is at `now`.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.at)
    }

    /// Whether the vote still counts at `now` for a target checked every `interval`.
    pub fn is_fresh(&self, now: Instant, interval: Duration) -> bool {
        self.age(now) <= interval * STALE_INTERVALS
    }
}

/// The fleet's verdict on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement {
    pub up: bool,
    pub fresh: usize,
    pub fresh_up: usize,
    /// Fresh votes disagree, or a prober is counting toward a change: answers should
    /// carry a short TTL so clients come back soon.
    pub unsettled: bool,
}

/// Votes are stale after this many check intervals.
pub const STALE_INTERVALS: u32 = 3;

/// `Some(up)` when more than half of `ups + downs` agree, `None` on a tie.
fn majority(ups: usize, downs: usize) -> Option<bool> {
    let q = (ups + downs) / 2 + 1;
    if ups >= q {
        Some(true)
    } else if downs >= q {
        Some(false)
    } else {
        None
    }
}

/// Judges a target from its votes (prober name → vote).
pub fn judge(
    votes: &BTreeMap<String, Vote>,
    last: Option<bool>,
    quorum: Quorum,
    now: Instant,
    interval: Duration,
) -> Judgement {
    let fresh: Vec<&Vote> = votes
        .values()
        .filter(|v| v.is_fresh(now, interval))
        .collect();
    let n = fresh.len();
    let ups = fresh.iter().filter(|v| v.up).count();
    let downs = n - ups;
    let keep = last.unwrap_or(true);
    let up = if n == 0 {
        keep
    } else {
        match quorum {
            Quorum::Majority => majority(ups, downs).unwrap_or(keep),
            Quorum::Regions => {
                // viewpoint → (ups, downs) of its fresh votes.
                let mut by_viewpoint: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
                for v in &fresh {
                    let count = by_viewpoint.entry(v.viewpoint.as_str()).or_default();
                    if v.up {
                        count.0 += 1;
                    } else {
                        count.1 += 1;
                    }
                }
                // A split viewpoint says neither, but still counts among the viewpoints:
                // like a split prober fleet, it holds the last state rather than letting
                // a minority decide.
                let verdicts: Vec<Option<bool>> = by_viewpoint
                    .values()
                    .map(|&(u, d)| majority(u, d))
                    .collect();
                let up_views = verdicts.iter().filter(|v| **v == Some(true)).count();
                let down_views = verdicts.iter().filter(|v| **v == Some(false)).count();
                let q = verdicts.len() / 2 + 1;
                if up_views >= q {
                    true
                } else if down_views >= q {
                    false
                } else {
                    keep
                }
            }
            Quorum::AtLeast(k) => {
                let k = k as usize;
                if ups >= k {
                    true
                } else if downs >= k {
                    false
                } else {
                    keep
                }
            }
            Quorum::All => downs == 0,
            Quorum::Any => ups > 0,
        }
    };
    let unsettled =
        (ups > 0 && downs > 0) || fresh.iter().any(|v| v.changing) || (n > 0 && up != keep);
    Judgement {
        up,
        fresh: n,
        fresh_up: ups,
        unsettled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(5);

    /// Votes given as (prober, up, age in ms at `now`).
    fn votes(now: Instant, list: &[(&str, bool, u64)]) -> BTreeMap<String, Vote> {
        list.iter()
            .map(|(p, up, age_ms)| {
                let v = Vote {
                    up: *up,
                    viewpoint: format!("view-{p}"),
                    at: now - Duration::from_millis(*age_ms),
                    changing: false,
                    rtt_ms: None,
                    srtt_ms: None,
                    load: None,
                    reason: String::new(),
                };
                (p.to_string(), v)
            })
            .collect()
    }

    #[test]
    fn quorum_table() {
        let now = Instant::now();
        let fresh = 1000;
        let stale = 16_000; // interval 5 s: stale after 15 s
        use Quorum::*;
        // votes (prober, up, age), last state, quorum → up, why
        type Row<'a> = (
            &'a [(&'a str, bool, u64)],
            Option<bool>,
            Quorum,
            bool,
            &'a str,
        );
        let rows: &[Row] = &[
            (&[], None, Majority, true, "never judged: healthy"),
            (&[], Some(false), Majority, false, "no votes: last known"),
            (
                &[("a", false, fresh), ("b", true, fresh), ("c", true, fresh)],
                Some(true),
                Majority,
                true,
                "one prober's partition moves nothing",
            ),
            (
                &[("a", false, fresh), ("b", false, fresh), ("c", true, fresh)],
                Some(true),
                Majority,
                false,
                "two of three down: down",
            ),
            (
                &[("a", true, fresh), ("b", true, fresh), ("c", false, fresh)],
                Some(false),
                Majority,
                true,
                "two of three up: up again",
            ),
            (
                &[("a", false, fresh), ("b", true, fresh)],
                Some(true),
                Majority,
                true,
                "split fleet keeps the last state",
            ),
            (
                &[("a", false, fresh), ("b", true, fresh)],
                Some(false),
                Majority,
                false,
                "split fleet keeps the last state (down)",
            ),
            (
                &[("a", false, stale), ("b", false, stale), ("c", true, fresh)],
                Some(false),
                Majority,
                true,
                "stale votes do not count",
            ),
            (
                &[("a", false, stale), ("b", false, stale)],
                Some(true),
                Majority,
                true,
                "all stale: last known",
            ),
            (
                &[("a", false, fresh), ("b", true, fresh), ("c", true, fresh)],
                Some(true),
                All,
                false,
                "all: any down is down",
            ),
            (
                &[("a", false, fresh), ("b", true, fresh), ("c", false, fresh)],
                Some(false),
                Any,
                true,
                "any: one up is up",
            ),
            (
                &[("a", false, fresh), ("b", false, fresh), ("c", true, fresh)],
                Some(true),
                AtLeast(2),
                false,
                "at least 2 down",
            ),
            (
                &[("a", false, fresh), ("b", true, fresh), ("c", true, fresh)],
                Some(false),
                AtLeast(2),
                true,
                "at least 2 up",
            ),
        ];
        for (list, last, quorum, want, what) in rows {
            let j = judge(&votes(now, list), *last, *quorum, now, INTERVAL);
            assert_eq!(j.up, *want, "{what}");
        }
    }

    /// Votes given as (prober, viewpoint, up, age in ms at `now`).
    fn viewpoint_votes(now: Instant, list: &[(&str, &str, bool, u64)]) -> BTreeMap<String, Vote> {
        list.iter()
            .map(|(p, view, up, age_ms)| {
                let v = Vote {
                    up: *up,
                    viewpoint: view.to_string(),
                    at: now - Duration::from_millis(*age_ms),
                    changing: false,
                    rtt_ms: None,
                    srtt_ms: None,
                    load: None,
                    reason: String::new(),
                };
                (p.to_string(), v)
            })
            .collect()
    }

    #[test]
    fn by_regions_a_viewpoint_with_many_probers_cannot_outvote_the_others() {
        let now = Instant::now();
        let (f, stale) = (1000, 16_000);
        // Five probers in eu-west, one each in us-east and ap-south.
        let crowd = |eu: bool, us: bool, ap: bool| {
            let mut list: Vec<(String, &str, bool, u64)> = (0..5)
                .map(|i| (format!("eu{i}"), "eu-west", eu, f))
                .collect();
            list.push(("us0".into(), "us-east", us, f));
            list.push(("ap0".into(), "ap-south", ap, f));
            list
        };
        type Row<'a> = (Vec<(String, &'a str, bool, u64)>, bool, bool, bool, &'a str);
        // votes, last state → up by majority, up by regions, why
        let rows: Vec<Row> = vec![
            (
                crowd(false, true, true),
                true,
                false,
                true,
                "eu-west's five down votes are one region against two",
            ),
            (
                crowd(true, false, false),
                true,
                true,
                false,
                "two regions down outweigh five up probers in one",
            ),
            (
                vec![
                    ("eu0".into(), "eu-west", false, f),
                    ("eu1".into(), "eu-west", false, f),
                    ("eu2".into(), "eu-west", true, f),
                    ("us0".into(), "us-east", false, f),
                    ("ap0".into(), "ap-south", true, f),
                ],
                true,
                false,
                false,
                "each region by its own majority: eu-west and us-east down",
            ),
            (
                vec![
                    ("eu0".into(), "eu-west", false, f),
                    ("eu1".into(), "eu-west", true, f),
                    ("us0".into(), "us-east", true, f),
                    ("ap0".into(), "ap-south", false, f),
                ],
                false,
                false,
                false,
                "a split region decides nothing, and one region each way keeps the last state",
            ),
            (
                vec![
                    ("eu0".into(), "eu-west", false, stale),
                    ("eu1".into(), "eu-west", false, stale),
                    ("eu2".into(), "eu-west", false, stale),
                    ("us0".into(), "us-east", true, f),
                ],
                false,
                true,
                true,
                "stale votes do not make a region",
            ),
            (
                vec![
                    ("eu0".into(), "eu-west", false, f),
                    ("eu1".into(), "eu-west", false, f),
                    ("eu2".into(), "eu-west", true, f),
                ],
                true,
                false,
                false,
                "one region alone: its own majority",
            ),
        ];
        for (list, last, by_majority, by_regions, what) in rows {
            let list: Vec<(&str, &str, bool, u64)> = list
                .iter()
                .map(|(p, v, up, age)| (p.as_str(), *v, *up, *age))
                .collect();
            let votes = viewpoint_votes(now, &list);
            let j = judge(&votes, Some(last), Quorum::Majority, now, INTERVAL);
            assert_eq!(j.up, by_majority, "majority: {what}");
            let j = judge(&votes, Some(last), Quorum::Regions, now, INTERVAL);
            assert_eq!(j.up, by_regions, "regions: {what}");
        }
    }

    #[test]
    fn disagreement_and_pending_changes_are_unsettled() {
        let now = Instant::now();
        let split = votes(now, &[("a", true, 0), ("b", false, 0), ("c", true, 0)]);
        assert!(judge(&split, Some(true), Quorum::Majority, now, INTERVAL).unsettled);
        let mut calm = votes(now, &[("a", true, 0), ("b", true, 0)]);
        assert!(!judge(&calm, Some(true), Quorum::Majority, now, INTERVAL).unsettled);
        calm.get_mut("a").unwrap().changing = true;
        assert!(judge(&calm, Some(true), Quorum::Majority, now, INTERVAL).unsettled);
    }

    #[test]
    fn a_vote_is_fresh_for_three_intervals_then_stale() {
        let received = Instant::now();
        let v = &votes(received, &[("a", false, 0)])["a"];
        // (time since the vote arrived, fresh?)
        let rows = [(0, true), (14_999, true), (15_000, true), (15_001, false)];
        for (after_ms, want) in rows {
            let now = received + Duration::from_millis(after_ms);
            assert_eq!(v.is_fresh(now, INTERVAL), want, "{after_ms} ms after");
            let j = judge(
                &votes(received, &[("a", false, 0)]),
                Some(true),
                Quorum::Majority,
                now,
                INTERVAL,
            );
            assert_eq!(
                j.up, !want,
                "{after_ms} ms after: a lone fresh down vote decides"
            );
        }
    }
}

//! Votes → health: the fleet's verdict on one target, as a pure function of the votes,
//! the last known state and `now`.
//!
//! Each prober's vote is already debounced by `rise`/`fall` on the prober. Here a vote
//! older than three check intervals is stale; the fresh ones decide by quorum. When they
//! do not reach it (a split fleet), the target keeps its last state, so a single prober
//! with a bad network moves nothing. No fresh vote at all: the last known state; never
//! judged: healthy.

use crate::config::Quorum;
use std::collections::BTreeMap;

/// One prober's latest word on a target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vote {
    pub up: bool,
    /// When the prober made the observation, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The raw result of the last check differs from `up`: the prober is counting toward
    /// `rise` or `fall`, so the state may change soon.
    #[serde(default)]
    pub changing: bool,
    #[serde(default)]
    pub rtt_ms: Option<u32>,
    /// Why the prober says down (empty when up).
    #[serde(default)]
    pub reason: String,
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

/// Judges a target from its votes (prober name → vote).
pub fn judge(
    votes: &BTreeMap<String, Vote>,
    last: Option<bool>,
    quorum: Quorum,
    now_ms: u64,
    interval_ms: u64,
) -> Judgement {
    let stale_before = now_ms.saturating_sub(interval_ms * STALE_INTERVALS as u64);
    let fresh: Vec<&Vote> = votes.values().filter(|v| v.at_ms >= stale_before).collect();
    let n = fresh.len();
    let ups = fresh.iter().filter(|v| v.up).count();
    let downs = n - ups;
    let keep = last.unwrap_or(true);
    let up = if n == 0 {
        keep
    } else {
        match quorum {
            Quorum::Majority => {
                let q = n / 2 + 1;
                if ups >= q {
                    true
                } else if downs >= q {
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

    fn votes(list: &[(&str, bool, u64)]) -> BTreeMap<String, Vote> {
        list.iter()
            .map(|(p, up, at)| {
                let v = Vote {
                    up: *up,
                    at_ms: *at,
                    changing: false,
                    rtt_ms: None,
                    reason: String::new(),
                };
                (p.to_string(), v)
            })
            .collect()
    }

    #[test]
    fn quorum_table() {
        let now = 100_000;
        let fresh = now - 1000;
        let stale = now - 16_000; // interval 5 s: stale after 15 s
        use Quorum::*;
        // votes (prober, up, at), last state, quorum → up, why
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
            let j = judge(&votes(list), *last, *quorum, now, 5000);
            assert_eq!(j.up, *want, "{what}");
        }
    }

    #[test]
    fn disagreement_and_pending_changes_are_unsettled() {
        let now = 10_000;
        let split = votes(&[("a", true, now), ("b", false, now), ("c", true, now)]);
        assert!(judge(&split, Some(true), Quorum::Majority, now, 5000).unsettled);
        let mut calm = votes(&[("a", true, now), ("b", true, now)]);
        assert!(!judge(&calm, Some(true), Quorum::Majority, now, 5000).unsettled);
        calm.get_mut("a").unwrap().changing = true;
        assert!(judge(&calm, Some(true), Quorum::Majority, now, 5000).unsettled);
    }
}

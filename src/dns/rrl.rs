//! Response rate limiting (RRL), as in BIND, Knot and NSD: a flood of identical responses
//! to one client prefix is dropped, every `slip`-th one is sent truncated instead.
//!
//! One [`Limiter`] per UDP worker: a fixed table of token buckets allocated at start, no
//! allocation, lock or syscall per query, nothing shared between workers. A bucket is keyed
//! by the client's prefix (/24, /56 by default) and the response's identity: the
//! pre-encoded answer it was copied from (so an NXDOMAIN is keyed by its zone and a
//! wildcard answer by the wildcard, not by the query name, and a random-subdomain flood
//! shares one bucket), the query type and the response class.
//!
//! Rates are per worker. `SO_REUSEPORT` hashes a datagram's 4-tuple to one socket, so
//! every query of one client flow (source address and port) meets the same worker and its
//! bucket is exact; queries from one prefix over many source ports spread over the
//! workers, so such a prefix may get up to `workers × responses_per_second`.
//!
//! Time is a coarse monotonic millisecond count read once per batch and passed in, so the
//! logic is pure and tested with an injected clock.

use crate::config::RrlConfig;
use siphasher::sip::SipHasher13;
use std::hash::Hasher;
use std::net::IpAddr;

/// What kind of response a bucket counts (BIND's and Knot's response classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Data, including load-balanced addresses.
    Answer = 1,
    NoData = 2,
    NxDomain = 3,
    Referral = 4,
    /// REFUSED, FORMERR, NOTIMP, BADVERS, BADCOOKIE: one bucket per prefix.
    Error = 5,
}

/// The identity of a response, as far as rate limiting cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseKey {
    pub class: Class,
    /// Address of the pre-encoded answer in the snapshot (0 for errors). A reload moves
    /// answers, which only starts their buckets afresh.
    pub name: usize,
    pub qtype: u16,
    /// For answers that depend on the client subnet (ECS scope > 0): that subnet, folded,
    /// so a resolver asking for many subnets is not limited as one client.
    pub subnet: u64,
}

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Send it truncated: TC=1, no records, so a real client retries over TCP.
    Slip,
    Drop,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Hash of prefix and response key; 0 = empty.
    key: u64,
    /// Time (ms) the balance was last brought up to date.
    stamp: u32,
    /// Responses still allowed now; negative while a flood runs (its debt).
    tokens: i32,
    /// Limited responses counted, for slip.
    limited: u32,
}

/// One worker's rate limiter.
pub struct Limiter {
    rate: u32,
    /// The lowest balance: `-rate × window seconds`.
    floor: i32,
    slip: u32,
    v4_mask: u32,
    v6_mask: u128,
    table: Box<[Bucket]>,
    seed: (u64, u64),
    pub dropped: u64,
    pub slipped: u64,
}

impl Limiter {
    /// A limiter with `cfg`'s settings; `seed` keys the table's hash (random per worker,
    /// so no one can aim two flows at one bucket).
    pub fn new(cfg: &RrlConfig, seed: [u8; 16]) -> Limiter {
        let rate = cfg.responses_per_second.max(1);
        let window = cfg.window.as_secs().clamp(1, 3600) as i64;
        let v4 = cfg.ipv4_prefix.min(32) as u32;
        let v6 = cfg.ipv6_prefix.min(128) as u32;
        Limiter {
            rate,
            floor: (-(rate as i64) * window).max(i32::MIN as i64 + 1) as i32,
            slip: cfg.slip,
            v4_mask: if v4 == 0 { 0 } else { u32::MAX << (32 - v4) },
            v6_mask: if v6 == 0 { 0 } else { u128::MAX << (128 - v6) },
            table: vec![Bucket::default(); cfg.table_size.max(1)].into_boxed_slice(),
            seed: (
                u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
                u64::from_le_bytes(seed[8..].try_into().expect("8 bytes")),
            ),
            dropped: 0,
            slipped: 0,
        }
    }

    /// Counts one response of `key` to `client` at `now_ms` and says what to do with it.
    pub fn check(&mut self, now_ms: u32, client: IpAddr, key: ResponseKey) -> Verdict {
        let mut h = SipHasher13::new_with_keys(self.seed.0, self.seed.1);
        match client {
            IpAddr::V4(a) => {
                h.write_u8(4);
                h.write_u32(u32::from(a) & self.v4_mask);
            }
            IpAddr::V6(a) => {
                h.write_u8(6);
                h.write_u128(u128::from(a) & self.v6_mask);
            }
        }
        h.write_u8(key.class as u8);
        h.write_usize(key.name);
        h.write_u16(key.qtype);
        h.write_u64(key.subnet);
        let hash = h.finish() | 1;
        let slot = (hash % self.table.len() as u64) as usize;
        let bucket = &mut self.table[slot];
        if bucket.key != hash {
            // Empty, or another flow's: a new flow starts with a full balance.
            *bucket = Bucket {
                key: hash,
                stamp: now_ms,
                tokens: self.rate as i32,
                limited: 0,
            };
        }
        let verdict = take(bucket, now_ms, self.rate, self.floor, self.slip);
        match verdict {
            Verdict::Send => {}
            Verdict::Slip => self.slipped += 1,
            Verdict::Drop => self.dropped += 1,
        }
        verdict
    }
}

/// Refills `b` for the time since its stamp (`rate` per second, at most `rate`), then
/// spends one token, going into debt down to `floor` while limited.
fn take(b: &mut Bucket, now_ms: u32, rate: u32, floor: i32, slip: u32) -> Verdict {
    let elapsed = now_ms.wrapping_sub(b.stamp) as u64;
    let earned = elapsed * rate as u64 / 1000;
    if earned > 0 {
        let tokens = (b.tokens as i64 + earned as i64).min(rate as i64);
        b.tokens = tokens as i32;
        // Keep the fraction of a token not yet earned, unless the bucket is full.
        b.stamp = if tokens == rate as i64 {
            now_ms
        } else {
            b.stamp.wrapping_add((earned * 1000 / rate as u64) as u32)
        };
    }
    if b.tokens > 0 {
        b.tokens -= 1;
        return Verdict::Send;
    }
    if b.tokens > floor {
        b.tokens -= 1;
    }
    b.limited = b.limited.wrapping_add(1);
    if slip != 0 && b.limited.is_multiple_of(slip) {
        Verdict::Slip
    } else {
        Verdict::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(rate: u32, slip: u32, window: u64) -> RrlConfig {
        RrlConfig {
            enabled: true,
            responses_per_second: rate,
            window: Duration::from_secs(window),
            slip,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            table_size: 1024,
        }
    }

    fn key(name: usize) -> ResponseKey {
        ResponseKey {
            class: Class::Answer,
            name,
            qtype: 1,
            subnet: 0,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Verdicts for `n` queries of `k` from `client` at `now`.
    fn burst(l: &mut Limiter, now: u32, client: &str, k: ResponseKey, n: usize) -> Vec<Verdict> {
        (0..n).map(|_| l.check(now, ip(client), k)).collect()
    }

    fn count(v: &[Verdict], which: Verdict) -> usize {
        v.iter().filter(|&&x| x == which).count()
    }

    #[test]
    fn a_flood_gets_the_rate_then_every_slip_th_reply_truncated() {
        let mut l = Limiter::new(&cfg(20, 2, 15), [7; 16]);
        let v = burst(&mut l, 1000, "192.0.2.1", key(1), 1000);
        assert!(v[..20].iter().all(|&x| x == Verdict::Send));
        assert_eq!(count(&v, Verdict::Send), 20);
        assert_eq!(count(&v, Verdict::Slip), 490);
        assert_eq!(count(&v, Verdict::Drop), 490);
        assert_eq!((l.slipped, l.dropped), (490, 490));
        // The same /24, another host: same bucket. Another /24: its own.
        assert_eq!(l.check(1000, ip("192.0.2.200"), key(1)), Verdict::Drop);
        assert_eq!(l.check(1000, ip("192.0.3.1"), key(1)), Verdict::Send);
    }

    #[test]
    fn other_responses_to_the_same_prefix_are_not_limited() {
        let mut l = Limiter::new(&cfg(20, 2, 15), [7; 16]);
        burst(&mut l, 0, "192.0.2.1", key(1), 500);
        for name in 2..200 {
            let v = burst(&mut l, 0, "192.0.2.1", key(name), 5);
            assert_eq!(count(&v, Verdict::Send), 5, "name {name}");
        }
        let other_type = ResponseKey {
            qtype: 28,
            ..key(1)
        };
        assert_eq!(l.check(0, ip("192.0.2.1"), other_type), Verdict::Send);
        let nx = ResponseKey {
            class: Class::NxDomain,
            ..key(1)
        };
        assert_eq!(l.check(0, ip("192.0.2.1"), nx), Verdict::Send);
    }

    #[test]
    fn slip_0_drops_all_and_slip_1_truncates_all() {
        let mut none = Limiter::new(&cfg(5, 0, 15), [1; 16]);
        let v = burst(&mut none, 0, "2001:db8::1", key(1), 50);
        assert_eq!(
            (count(&v, Verdict::Send), count(&v, Verdict::Drop)),
            (5, 45)
        );
        let mut all = Limiter::new(&cfg(5, 1, 15), [1; 16]);
        let v = burst(&mut all, 0, "2001:db8::1", key(1), 50);
        assert_eq!(
            (count(&v, Verdict::Send), count(&v, Verdict::Slip)),
            (5, 45)
        );
        // /56: an address in the same /56 shares the bucket, the next /56 does not.
        assert_eq!(all.check(0, ip("2001:db8:0:ff::9"), key(1)), Verdict::Slip);
        assert_eq!(all.check(0, ip("2001:db8:0:100::1"), key(1)), Verdict::Send);
    }

    #[test]
    fn tokens_come_back_at_the_rate_and_a_flood_must_pause_for_the_window() {
        let mut l = Limiter::new(&cfg(10, 0, 3), [9; 16]);
        let c = "198.51.100.7";
        // A steady 10 per second is always answered.
        for ms in (0..5000).step_by(100) {
            assert_eq!(l.check(ms, ip(c), key(1)), Verdict::Send, "at {ms} ms");
        }
        // A flood runs the balance down to the floor (-10 × 3 s)...
        let v = burst(&mut l, 5000, c, key(1), 200);
        assert!(count(&v, Verdict::Send) <= 10);
        // ...so one second later there is still no credit...
        assert_eq!(l.check(6000, ip(c), key(1)), Verdict::Drop);
        // ...and after the window (3 s of debt repaid) answers flow again.
        assert_eq!(l.check(9100, ip(c), key(1)), Verdict::Send);
    }

    #[test]
    fn a_client_under_the_rate_is_always_answered_after_a_burst() {
        let mut l = Limiter::new(&cfg(3, 0, 1), [2; 16]);
        let c = "192.0.2.1";
        assert_eq!(count(&burst(&mut l, 0, c, key(1), 3), Verdict::Send), 3);
        // 2.5 per second against a rate of 3: each 400 ms earns 1.2 tokens, and the
        // fractions are kept, so none is refused.
        for i in 1..=30 {
            assert_eq!(l.check(i * 400, ip(c), key(1)), Verdict::Send, "query {i}");
        }
    }

    #[test]
    fn a_full_table_keeps_working() {
        let mut small = cfg(2, 0, 1);
        small.table_size = 16;
        let mut l = Limiter::new(&small, [3; 16]);
        for name in 0..10_000 {
            l.check(0, ip("192.0.2.1"), key(name));
        }
        // A flood in a small table is still limited: its bucket is hit on every query.
        let v = burst(&mut l, 0, "203.0.113.1", key(1), 100);
        assert_eq!(count(&v, Verdict::Send), 2);
    }
}

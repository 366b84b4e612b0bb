//! The SOA timers of a secondary zone (RFC 1035 §3.3.13, RFC 1996): when to ask the
//! primary again, and when the copy expires.
//!
//! Pure: every function takes `now` (seconds since the epoch), so tests inject the clock
//! and the expiry, which is a wall-clock time, survives restarts in `state_dir`. A
//! successful refresh (the primary's SOA seen, the copy current) schedules the next one
//! `refresh` later and moves the expiry to `expire` from now; a failed one tries again
//! `retry` later, never after the expiry (when the zone goes, it is tried once more).

/// The timer fields of a SOA record, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaTimers {
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
}

/// The shortest wait between two refreshes, whatever the SOA says (Knot's
/// `refresh-min-interval` is 2 s; a zero refresh would ask in a loop).
pub const MIN_INTERVAL: u64 = 1;

impl SoaTimers {
    /// The timers of SOA RDATA in uncompressed wire form (two names, then five numbers).
    pub fn from_rdata(rdata: &[u8]) -> Option<SoaTimers> {
        let mut pos = 0;
        for _ in 0..2 {
            loop {
                let len = *rdata.get(pos)? as usize;
                pos += 1 + len;
                if len == 0 {
                    break;
                }
            }
        }
        let field = |i: usize| {
            let b = rdata.get(pos + 4 * i..pos + 4 * i + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        Some(SoaTimers {
            serial: field(0)?,
            refresh: field(1)?,
            retry: field(2)?,
            expire: field(3)?,
        })
    }
}

/// When a zone is next refreshed and when its copy expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The next SOA check.
    pub next_check: u64,
    /// The last successful refresh; `None` before the first.
    pub refreshed: Option<u64>,
    /// When the copy stops being served; `None` when there is no copy.
    pub expires: Option<u64>,
}

impl Schedule {
    /// A zone without a copy: check now.
    pub fn new(now: u64) -> Schedule {
        Schedule {
            next_check: now,
            refreshed: None,
            expires: None,
        }
    }

    /// A copy loaded from `state_dir`, refreshed last at `refreshed` and expiring at
    /// `expires`: the next check is due a refresh interval after the last (now, if that
    /// has passed).
    pub fn restored(now: u64, refreshed: u64, expires: u64, timers: SoaTimers) -> Schedule {
        let due = refreshed.saturating_add((timers.refresh as u64).max(MIN_INTERVAL));
        Schedule {
            next_check: due.min(expires).max(now),
            refreshed: Some(refreshed),
            expires: Some(expires),
        }
    }

    /// The primary answered and our copy (with `timers`) is its current version.
    pub fn refreshed(&mut self, now: u64, timers: SoaTimers) {
        let expires = now.saturating_add(timers.expire as u64);
        self.refreshed = Some(now);
        self.expires = Some(expires);
        // An expire shorter than the refresh (a slip in the SOA) still gets a check first.
        let next = now + (timers.refresh as u64).max(MIN_INTERVAL);
        self.next_check = next.min(expires.max(now + MIN_INTERVAL));
    }

    /// No primary answered, or the transfer failed: try again after `retry` (the copy's,
    /// or `fallback` without one), but not later than the expiry.
    pub fn failed(&mut self, now: u64, timers: Option<SoaTimers>, fallback: u64) {
        let retry = timers
            .map_or(fallback, |t| t.retry as u64)
            .max(MIN_INTERVAL);
        let mut next = now + retry;
        if let Some(e) = self.expires
            && e > now
        {
            next = next.min(e);
        }
        self.next_check = next;
    }

    /// A NOTIFY came: check now (RFC 1996 §3.11: as if the refresh timer had run out).
    pub fn notified(&mut self, now: u64) {
        self.next_check = self.next_check.min(now);
    }

    pub fn due(&self, now: u64) -> bool {
        now >= self.next_check
    }

    /// The copy has expired: it is no longer served (SERVFAIL).
    pub fn expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }

    /// The next moment something happens: a check, or the expiry.
    pub fn next_event(&self, now: u64) -> u64 {
        match self.expires {
            Some(e) if e > now => self.next_check.min(e),
            _ => self.next_check,
        }
    }
}

/// `a` is before `b` in serial number arithmetic (RFC 1982 §3.2); neither is before the
/// other when they are equal or exactly 2^31 apart.
pub fn serial_lt(a: u32, b: u32) -> bool {
    crate::dns::xfr::serial_lt(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: SoaTimers = SoaTimers {
        serial: 7,
        refresh: 60,
        retry: 10,
        expire: 300,
    };

    #[test]
    fn soa_timers_are_read_after_the_two_names() {
        let mut rdata = b"\x02ns\x07example\x00\x0ahostmaster\x07example\x00".to_vec();
        for v in [7u32, 60, 10, 300, 5] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(SoaTimers::from_rdata(&rdata), Some(T));
        assert_eq!(SoaTimers::from_rdata(&rdata[..rdata.len() - 9]), None);
        assert_eq!(SoaTimers::from_rdata(b"\x02ns"), None);
    }

    #[test]
    fn refresh_retry_and_expire_follow_the_soa() {
        let mut s = Schedule::new(1000);
        assert!(s.due(1000));
        assert!(!s.expired(1000));
        // First transfer at 1000: next check at 1060, expiry at 1300.
        s.refreshed(1000, T);
        assert_eq!((s.next_check, s.expires), (1060, Some(1300)));
        assert!(!s.due(1059));
        assert!(s.due(1060));
        // The primary is gone: retries every 10 s, the expiry does not move.
        s.failed(1060, Some(T), 5);
        assert_eq!(s.next_check, 1070);
        s.failed(1295, Some(T), 5);
        assert_eq!(s.next_check, 1300, "never later than the expiry");
        assert!(!s.expired(1299));
        assert!(s.expired(1300));
        // Once expired, retries go on at the retry interval.
        s.failed(1300, Some(T), 5);
        assert_eq!(s.next_check, 1310);
        assert_eq!(s.next_event(1300), 1310);
        // Back: a refresh moves the expiry again.
        s.refreshed(1310, T);
        assert_eq!((s.next_check, s.expires), (1370, Some(1610)));
        assert!(!s.expired(1400));
    }

    #[test]
    fn a_notify_makes_the_check_due_now() {
        let mut s = Schedule::new(0);
        s.refreshed(0, T);
        assert!(!s.due(5));
        s.notified(5);
        assert!(s.due(5));
        // A check already overdue stays so.
        let mut s = Schedule::new(0);
        s.notified(9);
        assert_eq!(s.next_check, 0);
    }

    #[test]
    fn a_restored_copy_keeps_its_expiry_and_is_checked_when_due() {
        // Saved at 1000 (expires 1300); restarted at 1010: next check at 1060.
        let s = Schedule::restored(1010, 1000, 1300, T);
        assert_eq!((s.next_check, s.expires), (1060, Some(1300)));
        // Restarted at 2000, long after: checked at once, and already expired.
        let s = Schedule::restored(2000, 1000, 1300, T);
        assert!(s.due(2000));
        assert!(s.expired(2000));
        // A zero refresh still waits a little.
        let zero = SoaTimers { refresh: 0, ..T };
        let mut s = Schedule::new(0);
        s.refreshed(0, zero);
        assert_eq!(s.next_check, MIN_INTERVAL);
        let s = Schedule::new(50);
        assert_eq!(s.next_event(50), 50);
        // An expire below the refresh: checked when it would expire.
        let short = SoaTimers { expire: 20, ..T };
        let mut s = Schedule::new(0);
        s.refreshed(100, short);
        assert_eq!((s.next_check, s.expires), (120, Some(120)));
    }

    #[test]
    fn serials_compare_in_rfc_1982_arithmetic() {
        assert!(serial_lt(1, 2));
        assert!(!serial_lt(2, 1));
        assert!(!serial_lt(5, 5));
        assert!(serial_lt(u32::MAX, 3), "wraps around");
        assert!(!serial_lt(3, u32::MAX));
        assert!(!serial_lt(0, 1 << 31), "2^31 apart: undefined, not later");
        assert!(!serial_lt(1 << 31, 0));
        assert!(serial_lt(0, (1 << 31) - 1));
    }
}

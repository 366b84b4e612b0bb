//! Abuse limits of `meridian.toml`: `[rrl]` (response rate limiting), `[cookies]` (DNS
//! Cookies, RFC 7873/9018) and the per-source TCP keys of `[server]`, raw and checked.
//!
//! Kept apart from `compile.rs` so these settings travel as one [`Limits`] value. The
//! secret files are only resolved here; `serve` reads (or creates) them.

use super::diagnostics::Checker;
use super::raw::RawServer;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// `[rrl]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawRrl {
    pub enabled: Option<bool>,
    pub responses_per_second: Option<Spanned<i64>>,
    pub window: Option<Spanned<String>>,
    pub slip: Option<Spanned<i64>>,
    pub ipv4_prefix: Option<Spanned<i64>>,
    pub ipv6_prefix: Option<Spanned<i64>>,
    pub table_size: Option<Spanned<i64>>,
}

/// `[cookies]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawCookies {
    pub enabled: Option<bool>,
    pub secret_file: Option<Spanned<String>>,
    pub previous_secret_file: Option<Spanned<String>>,
}

/// Every abuse limit, checked.
#[derive(Debug, Clone)]
pub struct Limits {
    pub rrl: RrlConfig,
    pub cookies: CookiesConfig,
    pub tcp: TcpAbuseLimits,
}

/// Response rate limiting on UDP (TCP is never limited: its source address is proven).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrlConfig {
    pub enabled: bool,
    /// Identical responses one client prefix gets per second (per UDP worker, see `dns::rrl`).
    pub responses_per_second: u32,
    /// How far a flooding client's debt goes: it must stay quiet this long to be trusted again.
    pub window: Duration,
    /// Every `slip`-th limited response is sent truncated (TC=1) instead of dropped;
    /// 0 never, 1 always.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Buckets per UDP worker.
    pub table_size: usize,
}

/// DNS Cookies: the server secret is shared by every server of a zone (RFC 9018).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiesConfig {
    pub enabled: bool,
    /// 16 bytes in hex; made at random when missing.
    pub secret_file: PathBuf,
    /// The secret before a rotation: cookies made with it are still accepted.
    pub previous_secret_file: Option<PathBuf>,
}

/// Per-source and per-connection TCP limits (the global cap stays in `[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpAbuseLimits {
    pub max_connections_per_source: usize,
    /// A reply not taken by the client within this time closes the connection.
    pub write_timeout: Duration,
    /// Replies a connection may have answered but not yet written; past this the
    /// server stops reading that connection's queries until the client reads.
    pub max_queued_replies: usize,
}

// Defaults, and why:
// - RRL is on, at 20 identical responses per second per /24 (IPv4) or /56 (IPv6) and
//   slip 2, as Knot's defaults (rate-limit 20, slip 2): a resolver asks one name and type
//   far less than 20 times a second (it caches for the TTL), while a reflection flood
//   needs thousands; slip 2 sends every second limited reply truncated, so a real client
//   whose address is spoofed still gets an answer by retrying over TCP.
// - The window of 15 s is BIND's: a flooder keeps a debt of up to 15 s of responses, so
//   short pauses do not refill its bucket.
// - 65,536 buckets per worker (24 bytes each, 1.5 MiB) hold far more distinct
//   (prefix, response) pairs than a worker answers in one window at full load.
// - Cookies are on: they cost one SipHash per query that carries one, and exempt
//   proven clients from RRL.
// - 16 TCP connections per source, a 5 s write timeout and 64 queued replies: a stub or
//   resolver uses one or a few connections and reads its replies at once.
const DEFAULT_RRL_RATE: i64 = 20;
const DEFAULT_RRL_WINDOW: Duration = Duration::from_secs(15);
const DEFAULT_RRL_SLIP: i64 = 2;
const DEFAULT_RRL_IPV4_PREFIX: i64 = 24;
const DEFAULT_RRL_IPV6_PREFIX: i64 = 56;
const DEFAULT_RRL_TABLE_SIZE: i64 = 65_536;
const DEFAULT_COOKIE_SECRET_FILE: &str = "cookie.secret";
const DEFAULT_TCP_PER_SOURCE: i64 = 16;
const DEFAULT_TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TCP_QUEUED_REPLIES: i64 = 64;

impl Checker<'_> {
    /// Checks `[rrl]`, `[cookies]` and takes the TCP abuse keys out of `[server]`.
    pub(super) fn limits(
        &mut self,
        rrl: RawRrl,
        cookies: RawCookies,
        server: &mut RawServer,
    ) -> Limits {
        // The limiter counts whole seconds: anything else would be silently rounded.
        let window = match rrl.window {
            Some(text) => match self.parse_duration(&text, "rrl.window") {
                Some(w) if w.subsec_nanos() == 0 && (1..=3600).contains(&w.as_secs()) => w,
                Some(_) => {
                    let message = format!(
                        "{:?}: a whole number of seconds from 1s to 1h",
                        text.get_ref()
                    );
                    self.error(Some(text.span()), "rrl.window", message);
                    DEFAULT_RRL_WINDOW
                }
                None => DEFAULT_RRL_WINDOW,
            },
            None => DEFAULT_RRL_WINDOW,
        };
        let rrl = RrlConfig {
            enabled: rrl.enabled.unwrap_or(true),
            responses_per_second: self.int(
                rrl.responses_per_second,
                "rrl.responses_per_second",
                DEFAULT_RRL_RATE,
                1..=1_000_000,
            ) as u32,
            window,
            slip: self.int(rrl.slip, "rrl.slip", DEFAULT_RRL_SLIP, 0..=10) as u32,
            ipv4_prefix: self.int(
                rrl.ipv4_prefix,
                "rrl.ipv4_prefix",
                DEFAULT_RRL_IPV4_PREFIX,
                8..=32,
            ) as u8,
            ipv6_prefix: self.int(
                rrl.ipv6_prefix,
                "rrl.ipv6_prefix",
                DEFAULT_RRL_IPV6_PREFIX,
                16..=128,
            ) as u8,
            table_size: self.int(
                rrl.table_size,
                "rrl.table_size",
                DEFAULT_RRL_TABLE_SIZE,
                16..=1 << 24,
            ) as usize,
        };
        let cookies = CookiesConfig {
            enabled: cookies.enabled.unwrap_or(true),
            secret_file: self.path(
                cookies.secret_file,
                "cookies.secret_file",
                DEFAULT_COOKIE_SECRET_FILE,
            ),
            previous_secret_file: cookies
                .previous_secret_file
                .map(|p| self.path(Some(p), "cookies.previous_secret_file", "")),
        };
        let write_timeout = match server.tcp_write_timeout.take() {
            Some(text) => self
                .parse_duration(&text, "server.tcp_write_timeout")
                .unwrap_or(DEFAULT_TCP_WRITE_TIMEOUT),
            None => DEFAULT_TCP_WRITE_TIMEOUT,
        };
        let tcp = TcpAbuseLimits {
            max_connections_per_source: self.int(
                server.tcp_max_connections_per_source.take(),
                "server.tcp_max_connections_per_source",
                DEFAULT_TCP_PER_SOURCE,
                1..=1 << 20,
            ) as usize,
            write_timeout,
            max_queued_replies: self.int(
                server.tcp_max_queued_replies.take(),
                "server.tcp_max_queued_replies",
                DEFAULT_TCP_QUEUED_REPLIES,
                1..=65_535,
            ) as usize,
        };
        Limits { rrl, cookies, tcp }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn defaults_are_on_and_documented_values() {
        let c = parse("", Path::new("/etc/meridian/meridian.toml")).unwrap();
        let l = &c.limits;
        assert!(l.rrl.enabled && l.cookies.enabled);
        assert_eq!(
            (l.rrl.responses_per_second, l.rrl.slip, l.rrl.window),
            (20, 2, Duration::from_secs(15))
        );
        assert_eq!((l.rrl.ipv4_prefix, l.rrl.ipv6_prefix), (24, 56));
        assert_eq!(
            l.cookies.secret_file,
            Path::new("/etc/meridian/cookie.secret")
        );
        assert_eq!(l.tcp.max_connections_per_source, 16);
        assert_eq!(l.tcp.write_timeout, Duration::from_secs(5));
    }

    #[test]
    fn settings_are_read_and_checked_with_lines() {
        let text = "[server]\ntcp_max_connections_per_source = 2\ntcp_write_timeout = \"1s\"\n\
                    tcp_max_queued_replies = 8\n[rrl]\nenabled = false\nslip = 1\nwindow = \"2s\"\n\
                    [cookies]\nprevious_secret_file = \"old.secret\"\n";
        let c = parse(text, Path::new("/m/meridian.toml")).unwrap();
        assert!(!c.limits.rrl.enabled);
        assert_eq!(c.limits.rrl.slip, 1);
        assert_eq!(c.limits.rrl.window, Duration::from_secs(2));
        assert_eq!(c.limits.tcp.max_connections_per_source, 2);
        assert_eq!(c.limits.tcp.max_queued_replies, 8);
        assert_eq!(
            c.limits.cookies.previous_secret_file.as_deref(),
            Some(Path::new("/m/old.secret"))
        );
        let e = parse(
            "[rrl]\nslip = 11\nipv4_prefix = 33\nrate = 5\n",
            Path::new("meridian.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("meridian.toml:2: rrl.slip: 11 is above the maximum 10"),
            "{e}"
        );
        assert!(
            e.contains("meridian.toml:3: rrl.ipv4_prefix: 33 is above the maximum 32"),
            "{e}"
        );
        assert!(e.contains("meridian.toml:4: rrl.rate: unknown key"), "{e}");
    }

    #[test]
    fn an_rrl_window_the_limiter_would_round_is_an_error() {
        for (window, ok) in [
            ("1s", true),
            ("1h", true),
            ("500ms", false),
            ("1500ms", false),
            ("2h", false),
        ] {
            let text = format!("[rrl]\nwindow = \"{window}\"\n");
            match parse(&text, Path::new("meridian.toml")) {
                Ok(c) => assert!(ok, "{window} taken as {:?}", c.limits.rrl.window),
                Err(e) => {
                    assert!(!ok, "{window}: {e}");
                    let e = e.to_string();
                    assert!(
                        e.contains("meridian.toml:2: rrl.window:")
                            && e.contains("a whole number of seconds from 1s to 1h"),
                        "{e}"
                    );
                }
            }
        }
    }
}

//! DNS Cookies (RFC 7873) with the interoperable server cookie of RFC 9018.
//!
//! A server cookie is 16 bytes: version 1, three reserved bytes, a 32-bit timestamp
//! (seconds since the epoch) and SipHash-2-4 over client cookie | version | reserved |
//! timestamp | client IP, keyed with a 16-byte secret. Every server of a zone shares the
//! secret, so a cookie one made is accepted by the others (anycast, load balancers); after
//! a rotation cookies made with the previous secret are still accepted.
//!
//! A cookie is valid from 1 hour in the past to 5 minutes in the future (RFC 9018 §4.3)
//! and is replaced by a fresh one once older than half an hour. The secret files are read
//! once at start; the pure functions below take `now`. Rotating a fleet's secret takes
//! three rounds of restarts, each done on every server before the next begins (so no
//! server meets a cookie it cannot check): (1) the new secret as `previous_secret_file`
//! (accepted, not yet made), (2) the new one as `secret_file` and the old one as
//! `previous_secret_file`, (3) after 1 h 5 min (the oldest cookie still valid), the old
//! one removed. `docs/reference.md` has the same steps.

use crate::config::CookiesConfig;
use anyhow::Context;
use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::IpAddr;
use std::path::Path;

/// Age after which a valid cookie is replaced by a fresh one.
const REFRESH_AFTER: u32 = 1800;
/// Age after which a cookie is no longer accepted.
const LIFETIME: u32 = 3600;
/// How far in the future a timestamp may be (clock skew between servers).
const SKEW: u32 = 300;

/// The COOKIE option of a query (RFC 7873 §4), lengths already checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieOpt {
    pub client: [u8; 8],
    /// Only the first `server_len` bytes (0 or 8..=32) are meaningful.
    pub server: [u8; 32],
    pub server_len: u8,
}

impl CookieOpt {
    /// Splits the option data; `None` for a length RFC 7873 §5.2.2 answers with FORMERR.
    pub fn parse(data: &[u8]) -> Option<CookieOpt> {
        if data.len() != 8 && !(16..=40).contains(&data.len()) {
            return None;
        }
        let mut c = CookieOpt {
            client: [0; 8],
            server: [0; 32],
            server_len: (data.len() - 8) as u8,
        };
        c.client.copy_from_slice(&data[..8]);
        c.server[..data.len() - 8].copy_from_slice(&data[8..]);
        Some(c)
    }

    pub fn server(&self) -> &[u8] {
        &self.server[..self.server_len as usize]
    }
}

/// The server secrets: the current one makes cookies, both are accepted.
#[derive(Clone)]
pub struct Secrets {
    pub current: [u8; 16],
    pub previous: Option<[u8; 16]>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// What a query's cookie proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Only a client cookie: answer, with a fresh server cookie.
    ClientOnly,
    /// Our server cookie, in date: answer; `refresh` when it should be replaced.
    Valid { refresh: bool },
    /// A server cookie that is not ours, or out of date: over UDP, BADCOOKIE.
    Invalid,
}

/// The 16-byte server cookie for `client` at `ip`, stamped `now`.
pub fn server_cookie(secret: &[u8; 16], client: &[u8; 8], ip: IpAddr, now: u32) -> [u8; 16] {
    let mut cookie = [0u8; 16];
    cookie[0] = 1;
    cookie[4..8].copy_from_slice(&now.to_be_bytes());
    let hash = mac(secret, client, &cookie[..8], ip);
    cookie[8..].copy_from_slice(&hash);
    cookie
}

/// SipHash-2-4 of client cookie | version, reserved, timestamp (as given) | client IP.
fn mac(secret: &[u8; 16], client: &[u8; 8], head: &[u8], ip: IpAddr) -> [u8; 8] {
    let mut input = [0u8; 8 + 8 + 16];
    input[..8].copy_from_slice(client);
    input[8..16].copy_from_slice(head);
    let len = match ip {
        IpAddr::V4(a) => {
            input[16..20].copy_from_slice(&a.octets());
            20
        }
        IpAddr::V6(a) => {
            input[16..32].copy_from_slice(&a.octets());
            32
        }
    };
    let mut h = SipHasher24::new_with_key(secret);
    h.write(&input[..len]);
    h.finish().to_le_bytes()
}

/// Checks `opt`'s server cookie, if any, for a query from `ip` at `now`.
pub fn check(secrets: &Secrets, opt: &CookieOpt, ip: IpAddr, now: u32) -> Verdict {
    let server = opt.server();
    if server.is_empty() {
        return Verdict::ClientOnly;
    }
    // Only version 1 is ours; other lengths were made by some other server.
    if server.len() != 16 || server[0] != 1 {
        return Verdict::Invalid;
    }
    let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
    // Serial-number arithmetic: the difference is meaningful across the 2^32 wrap.
    let age = now.wrapping_sub(stamp);
    let ahead = stamp.wrapping_sub(now);
    if age > LIFETIME && ahead > SKEW {
        return Verdict::Invalid;
    }
    let ours = |secret: &[u8; 16]| {
        let want = mac(secret, &opt.client, &server[..8], ip);
        // Constant time: a timing difference must not tell how much of a guess was right.
        subtle::ConstantTimeEq::ct_eq(&want[..], &server[8..16]).into()
    };
    // A cookie made with the previous secret is accepted and replaced by a current one.
    let old = if ours(&secrets.current) {
        false
    } else if secrets.previous.as_ref().is_some_and(ours) {
        true
    } else {
        return Verdict::Invalid;
    };
    Verdict::Valid {
        refresh: old || (age <= LIFETIME && age > REFRESH_AFTER),
    }
}

/// Reads the secrets `cfg` names; a missing current secret file is created at random
/// (mode 0600), like the fleet token, and said so in the log.
pub fn load(cfg: &CookiesConfig) -> anyhow::Result<Secrets> {
    let current = match read_secret(&cfg.secret_file) {
        Ok(s) => s,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
        {
            create_secret(&cfg.secret_file)?
        }
        Err(e) => return Err(e),
    };
    let previous = match &cfg.previous_secret_file {
        Some(path) => Some(read_secret(path)?),
        None => None,
    };
    Ok(Secrets { current, previous })
}

/// The secret in `path`; every error names the file.
fn read_secret(path: &Path) -> anyhow::Result<[u8; 16]> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    parse_hex(text.trim()).with_context(|| {
        format!(
            "{}: a cookie secret is 16 bytes written as 32 hex digits",
            path.display()
        )
    })
}

fn parse_hex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn create_secret(path: &Path) -> anyhow::Result<[u8; 16]> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut secret = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the cookie secret {}", path.display()))?;
    writeln!(f, "{hex}")?;
    tracing::warn!(
        "{} did not exist: wrote a new random cookie secret there; copy it to every server of the zones",
        path.display()
    );
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn secret(s: &str) -> [u8; 16] {
        parse_hex(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// RFC 9018 Appendix A, the server cookie each example's response carries.
    #[test]
    fn rfc_9018_appendix_a_server_cookies() {
        let rows = [
            (
                "A.1 new cookie",
                "e5e973e5a6b2a43f48e7dc849e37bfcf",
                "2464c4abcf10c957",
                "198.51.100.100",
                1559731985,
                "010000005cf79f111f8130c3eee29480",
            ),
            (
                "A.2 renewed",
                "e5e973e5a6b2a43f48e7dc849e37bfcf",
                "2464c4abcf10c957",
                "198.51.100.100",
                1559734385,
                "010000005cf7a871d4a564a1442aca77",
            ),
            (
                "A.3 another client",
                "e5e973e5a6b2a43f48e7dc849e37bfcf",
                "fc93fc62807ddb86",
                "203.0.113.203",
                1559734700,
                "010000005cf7a9acf73a7810aca2381e",
            ),
            (
                "A.4 IPv6 after a rotation",
                "445536bcd2513298075a5d379663c962",
                "22681ab97d52c298",
                "2001:db8:220:1:59de:d0f4:8769:82b8",
                1559741961,
                "010000005cf7c609a6bb79d16625507a",
            ),
        ];
        for (what, key, client, addr, now, want) in rows {
            let client: [u8; 8] = hex(client).try_into().unwrap();
            let got = server_cookie(&secret(key), &client, ip(addr), now);
            assert_eq!(got.to_vec(), hex(want), "{what}");
        }
    }

    /// The cookies the Appendix A clients send back, checked as a query's.
    #[test]
    fn rfc_9018_appendix_a_cookies_sent_back_are_checked() {
        let old = "dd3bdf9344b678b185a6f5cb60fca715";
        let new = "445536bcd2513298075a5d379663c962";
        let a = "e5e973e5a6b2a43f48e7dc849e37bfcf";
        let opt = |s: &str| CookieOpt::parse(&hex(s)).unwrap();
        let one = |k: &str| Secrets {
            current: secret(k),
            previous: None,
        };
        // A.2: the A.1 cookie, 40 minutes later: valid, and due for a refresh.
        let a1 = opt("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
        let v = check(&one(a), &a1, ip("198.51.100.100"), 1559734385);
        assert_eq!(v, Verdict::Valid { refresh: true });
        // Within the first half hour: valid, kept.
        let v = check(&one(a), &a1, ip("198.51.100.100"), 1559731985 + 60);
        assert_eq!(v, Verdict::Valid { refresh: false });
        // From another address it is not ours.
        let v = check(&one(a), &a1, ip("198.51.100.101"), 1559731985 + 60);
        assert_eq!(v, Verdict::Invalid);
        // A.3: reserved bytes set by another implementation are part of the hash.
        let a3 = opt("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
        let v = check(&one(a), &a3, ip("203.0.113.203"), 0x5cf78f71 + 10);
        assert_eq!(v, Verdict::Valid { refresh: false });
        // A.4: made with the old secret; accepted only while it is the previous one.
        let a4 = opt("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
        let v6 = ip("2001:db8:220:1:59de:d0f4:8769:82b8");
        let now = 0x5cf7c579 + 100;
        assert_eq!(check(&one(new), &a4, v6, now), Verdict::Invalid);
        let rotated = Secrets {
            current: secret(new),
            previous: Some(secret(old)),
        };
        // Accepted, and replaced by one made with the current secret.
        assert_eq!(
            check(&rotated, &a4, v6, now),
            Verdict::Valid { refresh: true }
        );
        assert_eq!(
            check(&one(old), &a4, v6, now),
            Verdict::Valid { refresh: false }
        );
    }

    #[test]
    fn age_limits_and_the_timestamp_wrap() {
        let s = Secrets {
            current: [7; 16],
            previous: None,
        };
        let client = [1u8; 8];
        let addr = ip("192.0.2.1");
        let at = |stamp: u32, now: u32| {
            let c = server_cookie(&s.current, &client, addr, stamp);
            let opt = CookieOpt::parse(&[&client[..], &c[..]].concat()).unwrap();
            check(&s, &opt, addr, now)
        };
        let t = 1_700_000_000;
        assert_eq!(at(t, t), Verdict::Valid { refresh: false });
        assert_eq!(at(t - 1800, t), Verdict::Valid { refresh: false });
        assert_eq!(at(t - 1801, t), Verdict::Valid { refresh: true });
        assert_eq!(at(t - 3600, t), Verdict::Valid { refresh: true });
        assert_eq!(at(t - 3601, t), Verdict::Invalid);
        assert_eq!(at(t + 300, t), Verdict::Valid { refresh: false });
        assert_eq!(at(t + 301, t), Verdict::Invalid);
        assert_eq!(at(u32::MAX - 100, 1000), Verdict::Valid { refresh: false });
    }

    #[test]
    fn option_lengths_of_rfc_7873() {
        for len in [0, 7, 9, 15, 41] {
            assert!(CookieOpt::parse(&vec![0; len]).is_none(), "{len}");
        }
        for len in [8, 16, 24, 40] {
            let c = CookieOpt::parse(&vec![0; len]).unwrap();
            assert_eq!(c.server().len(), len - 8);
        }
        // Another server's cookie (8 bytes, or another version) is not ours.
        let s = Secrets {
            current: [0; 16],
            previous: None,
        };
        let short = CookieOpt::parse(&[0; 16]).unwrap();
        assert_eq!(check(&s, &short, ip("::1"), 0), Verdict::Invalid);
    }

    #[test]
    fn secret_files_are_read_and_created() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = CookiesConfig {
            enabled: true,
            secret_file: dir.path().join("cookie.secret"),
            previous_secret_file: None,
        };
        let made = load(&cfg).unwrap();
        assert_eq!(load(&cfg).unwrap().current, made.current);
        std::fs::write(dir.path().join("old"), "e5e973e5a6b2a43f48e7dc849e37bfcf\n").unwrap();
        let with_old = CookiesConfig {
            previous_secret_file: Some(dir.path().join("old")),
            ..cfg.clone()
        };
        assert_eq!(
            load(&with_old).unwrap().previous,
            Some(secret("e5e973e5a6b2a43f48e7dc849e37bfcf"))
        );
        std::fs::write(&cfg.secret_file, "abc\n").unwrap();
        let e = format!("{:#}", load(&cfg).unwrap_err());
        assert!(
            e.contains("cookie.secret") && e.contains("32 hex digits"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_or_bad_secret_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let current = dir.path().join("cookie.secret");
        let previous = dir.path().join("old.secret");
        let cfg = CookiesConfig {
            enabled: true,
            secret_file: current.clone(),
            previous_secret_file: Some(previous.clone()),
        };
        // The current secret is made when missing; a missing previous one is an error
        // that names the previous file, not the current one.
        let e = format!("{:#}", load(&cfg).unwrap_err());
        assert!(e.contains(&previous.display().to_string()), "{e}");
        assert!(current.exists());
        std::fs::write(&previous, "not hex\n").unwrap();
        let e = format!("{:#}", load(&cfg).unwrap_err());
        assert!(
            e.contains(&previous.display().to_string()) && e.contains("32 hex digits"),
            "{e}"
        );
        std::fs::write(&previous, "000102030405060708090a0b0c0d0e0f\n").unwrap();
        let secrets = load(&cfg).unwrap();
        assert_eq!(
            secrets.previous,
            Some(*b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f")
        );
    }
}

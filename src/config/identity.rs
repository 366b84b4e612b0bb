//! What a server tells clients about itself, from `[server]`: `identity` (CH TXT
//! `id.server.` and `hostname.bind.`, RFC 4892), `nsid` (the NSID option, RFC 5001) and
//! `version` (CH TXT `version.server.` and `version.bind.`), checked.
//!
//! Kept apart from `compile.rs`, like `limits.rs`. The host name, the default identity, is
//! read here at every load (a reload picks up a renamed host); nothing else is read.

use super::diagnostics::Checker;
use super::raw::{RawServer, RawSwitch};
use toml::Spanned;

/// How this server identifies itself; `None` everywhere means "say nothing".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// The TXT answer to CH `id.server.` and `hostname.bind.`; `None`: those are REFUSED.
    /// Defaults to the host name, as BIND (`hostname`), NSD (`identity`) and Knot
    /// (`identity`) do: anycast and multi-server operators expect `dig CH TXT id.server`
    /// to say which server answered without configuring anything.
    pub name: Option<Box<str>>,
    /// The NSID option's payload, sent to a query that asks for it; `None`: no NSID.
    /// Defaults to `name`, as Knot's `nsid` does: a client must ask for it, and it tells
    /// no more than `id.server.` already does.
    pub nsid: Option<Box<[u8]>>,
    /// The TXT answer to CH `version.server.` and `version.bind.`; `None` (the default):
    /// those are REFUSED, so scanners learn nothing they could match against advisories.
    pub version: Option<Box<str>>,
}

/// One TXT character-string holds 255 octets (RFC 1035 §3.3).
const MAX_TEXT: usize = 255;
/// The most NSID octets, so that a response with the longest question, Client Subnet,
/// COOKIE, NSID and an Extended DNS Error still fits in 512 bytes.
pub const MAX_NSID: usize = 128;

/// What `version = true` answers.
const OWN_VERSION: &str = concat!("Meridian ", env!("CARGO_PKG_VERSION"));

impl Checker<'_> {
    /// Takes `identity`, `nsid` and `version` out of `[server]` and checks them.
    pub(super) fn identity(&mut self, server: &mut RawServer) -> IdentityConfig {
        let written = server.identity.take();
        let name = match &written {
            Some(text) => self.text(text, "server.identity", MAX_TEXT),
            None => host_name(),
        };
        let nsid = match server.nsid.take() {
            Some(raw) => self.nsid(raw, name.as_deref()),
            None => match (&name, &written) {
                (Some(n), Some(text)) if n.len() > MAX_NSID => {
                    let message = format!(
                        "{} bytes, too long to be the NSID as well (at most {MAX_NSID}): \
                         set server.nsid to a shorter text, or to false",
                        n.len()
                    );
                    self.error(Some(text.span()), "server.identity", message);
                    None
                }
                _ => name
                    .as_ref()
                    .filter(|n| n.len() <= MAX_NSID)
                    .map(|n| n.as_bytes().into()),
            },
        };
        let version = match server.version.take() {
            None => None,
            Some(raw) => {
                let span = raw.span();
                match raw.into_inner() {
                    RawSwitch::Flag(on) => on.then(|| OWN_VERSION.into()),
                    RawSwitch::Text(text) => {
                        self.text(&Spanned::new(span, text), "server.version", MAX_TEXT)
                    }
                }
            }
        };
        IdentityConfig {
            name,
            nsid,
            version,
        }
    }

    /// `nsid = true` (the identity), `false` or `""` (off), `"hex:0a1b"` or a text.
    fn nsid(&mut self, raw: Spanned<RawSwitch>, name: Option<&str>) -> Option<Box<[u8]>> {
        const KEY: &str = "server.nsid";
        let span = raw.span();
        match raw.into_inner() {
            RawSwitch::Flag(false) => None,
            RawSwitch::Flag(true) => match name {
                Some(n) if n.len() > MAX_NSID => {
                    let message = format!(
                        "true sends server.identity ({} bytes), but an NSID has at most \
                         {MAX_NSID}: give the NSID as a text or \"hex:...\"",
                        n.len()
                    );
                    self.error(Some(span), KEY, message);
                    None
                }
                Some(n) => Some(n.as_bytes().into()),
                None => {
                    let message = "true sends server.identity, which is off (\"\"): give the \
                                   NSID as a text or \"hex:...\", or set server.identity";
                    self.error(Some(span), KEY, message);
                    None
                }
            },
            RawSwitch::Text(text) => match text.strip_prefix("hex:") {
                Some(digits) => {
                    let bytes = decode_hex(digits);
                    match bytes {
                        Some(b) if b.is_empty() => {
                            self.error(Some(span), KEY, "\"hex:\" needs at least one byte");
                            None
                        }
                        Some(b) if b.len() > MAX_NSID => {
                            let message =
                                format!("{} bytes; an NSID has at most {MAX_NSID}", b.len());
                            self.error(Some(span), KEY, message);
                            None
                        }
                        Some(b) => Some(b.into()),
                        None => {
                            let message = format!(
                                "{text:?} is not \"hex:\" and an even number of hex digits \
                                 (like \"hex:6e7331\")"
                            );
                            self.error(Some(span), KEY, message);
                            None
                        }
                    }
                }
                None => self
                    .text(&Spanned::new(span, text), KEY, MAX_NSID)
                    .map(|t| t.as_bytes().into()),
            },
        }
    }

    /// A text of at most `max` bytes without control characters; `""` means off.
    fn text(&mut self, text: &Spanned<String>, key: &str, max: usize) -> Option<Box<str>> {
        let t = text.get_ref();
        if t.len() > max {
            let message = format!("{} bytes; at most {max}", t.len());
            self.error(Some(text.span()), key, message);
            return None;
        }
        if let Some(c) = t.chars().find(|c| c.is_control()) {
            let message = format!("{t:?} holds the control character {c:?}");
            self.error(Some(text.span()), key, message);
            return None;
        }
        (!t.is_empty()).then(|| t.as_str().into())
    }
}

/// Even-length hex → bytes; `None` for anything else.
fn decode_hex(digits: &str) -> Option<Vec<u8>> {
    let d = digits.as_bytes();
    if !d.len().is_multiple_of(2) {
        return None;
    }
    d.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// The host name as `gethostname(2)` gives it; `None` when it cannot be read or would not
/// be a valid identity (empty, too long, not UTF-8, control characters).
pub fn host_name() -> Option<Box<str>> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&buf[..len]).ok()?;
    let valid = !name.is_empty() && name.len() <= MAX_TEXT && !name.chars().any(char::is_control);
    valid.then(|| name.into())
}

#[cfg(test)]
mod tests {
    use super::{MAX_NSID, OWN_VERSION, host_name};
    use crate::config::parse;
    use std::path::Path;

    fn identity(server_keys: &str) -> super::IdentityConfig {
        let text = format!("[server]\n{server_keys}\n");
        match parse(&text, Path::new("meridian.toml")) {
            Ok(c) => c.identity,
            Err(e) => panic!("{server_keys}: {e}"),
        }
    }

    fn error(server_keys: &str) -> String {
        let text = format!("[server]\n{server_keys}\n");
        match parse(&text, Path::new("meridian.toml")) {
            Ok(c) => panic!("{server_keys}: taken as {:?}", c.identity),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_are_the_host_name_for_identity_and_nsid_and_no_version() {
        let host = host_name();
        assert!(host.is_some(), "this machine has a host name");
        let c = identity("");
        assert_eq!(c.name, host);
        assert_eq!(c.nsid.as_deref(), host.as_deref().map(str::as_bytes));
        assert_eq!(c.version, None);
    }

    #[test]
    fn every_form_is_read() {
        // Keys, then the identity, NSID and version they give.
        type Row<'a> = (&'a str, Option<&'a str>, Option<&'a [u8]>, Option<&'a str>);
        let rows: &[Row] = &[
            (
                "identity = \"ns1.ams\"",
                Some("ns1.ams"),
                Some(b"ns1.ams"),
                None,
            ),
            ("identity = \"\"", None, None, None),
            (
                "identity = \"\"\nnsid = \"anycast-7\"",
                None,
                Some(b"anycast-7"),
                None,
            ),
            ("identity = \"a\"\nnsid = false", Some("a"), None, None),
            ("identity = \"a\"\nnsid = \"\"", Some("a"), None, None),
            ("identity = \"a\"\nnsid = true", Some("a"), Some(b"a"), None),
            (
                "identity = \"a\"\nnsid = \"hex:00FF7f\"",
                Some("a"),
                Some(&[0, 0xFF, 0x7F]),
                None,
            ),
            (
                "identity = \"a\"\nversion = \"9.9\"",
                Some("a"),
                Some(b"a"),
                Some("9.9"),
            ),
            (
                "identity = \"a\"\nversion = true",
                Some("a"),
                Some(b"a"),
                Some(OWN_VERSION),
            ),
            (
                "identity = \"a\"\nversion = false",
                Some("a"),
                Some(b"a"),
                None,
            ),
            (
                "identity = \"a\"\nversion = \"\"",
                Some("a"),
                Some(b"a"),
                None,
            ),
        ];
        for &(keys, name, nsid, version) in rows {
            let c = identity(keys);
            assert_eq!(c.name.as_deref(), name, "{keys}");
            assert_eq!(c.nsid.as_deref(), nsid, "{keys}");
            assert_eq!(c.version.as_deref(), version, "{keys}");
        }
        assert!(OWN_VERSION.starts_with("Meridian 0."));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let long = "x".repeat(256);
        let rows = [
            (
                format!("identity = \"{long}\""),
                "meridian.toml:2: server.identity: 256 bytes; at most 255",
            ),
            (
                "identity = \"a\\tb\"".to_string(),
                "meridian.toml:2: server.identity: \"a\\tb\" holds the control character '\\t'",
            ),
            (
                "\nversion = \"v\\u0000\"".to_string(),
                "meridian.toml:3: server.version: \"v\\0\" holds the control character '\\0'",
            ),
            (
                "identity = \"\"\nnsid = true".to_string(),
                "meridian.toml:3: server.nsid: true sends server.identity, which is off",
            ),
            (
                format!("identity = \"{}\"\nnsid = true", "n".repeat(MAX_NSID + 1)),
                "meridian.toml:3: server.nsid: true sends server.identity (129 bytes), but an \
                 NSID has at most 128",
            ),
            (
                format!("identity = \"{}\"", "n".repeat(MAX_NSID + 1)),
                "meridian.toml:2: server.identity: 129 bytes, too long to be the NSID as well \
                 (at most 128): set server.nsid",
            ),
            (
                "nsid = \"hex:abc\"".to_string(),
                "meridian.toml:2: server.nsid: \"hex:abc\" is not \"hex:\" and an even number",
            ),
            (
                "nsid = \"hex:zz\"".to_string(),
                "meridian.toml:2: server.nsid: \"hex:zz\" is not",
            ),
            (
                "nsid = \"hex:\"".to_string(),
                "meridian.toml:2: server.nsid: \"hex:\" needs at least one byte",
            ),
            (
                format!("nsid = \"hex:{}\"", "ab".repeat(MAX_NSID + 1)),
                "meridian.toml:2: server.nsid: 129 bytes; an NSID has at most 128",
            ),
            (
                format!("nsid = \"{}\"", "n".repeat(MAX_NSID + 1)),
                "meridian.toml:2: server.nsid: 129 bytes; at most 128",
            ),
            (
                "nsid = 3".to_string(),
                "meridian.toml:2: server.nsid: invalid type: integer `3`, expected true, false",
            ),
            (
                "version = [\"1\"]".to_string(),
                "meridian.toml:2: server.version: invalid type",
            ),
        ];
        for (keys, want) in rows {
            let e = error(&keys);
            assert!(e.contains(want), "{keys}:\n got {e}\nwant {want}");
        }
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let e = error("identity = \"a\\u0007\"\nnsid = \"hex:1\"\nversion = 7");
        assert_eq!(e.lines().count(), 3, "{e}");
        for key in ["server.identity", "server.nsid", "server.version"] {
            assert!(e.contains(key), "{key} missing:\n{e}");
        }
    }
}

//! `[secondary.ZONE]` of `meridian.toml`: zones pulled from a primary by zone transfer
//! (AXFR, RFC 5936; IXFR, RFC 1995) instead of read from `zones_dir`.
//!
//! Like NSD's `request-xfr` and Knot's `master`: the primaries to transfer from, tried in
//! order; the TSIG key (a `[tsig.NAME]` table) that signs the SOA queries and transfers and
//! that a NOTIFY must carry; who may send NOTIFY (`allow_notify`, by default the primaries'
//! addresses). Nothing here opens sockets; `crate::secondary` does the pulling.

use super::diagnostics::Checker;
use super::tsig::TsigKey;
use hickory_proto::rr::Name;
use indexmap::IndexMap;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use toml::Spanned;

/// `[secondary.ZONE]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawSecondary {
    pub primaries: Option<Spanned<Vec<Spanned<String>>>>,
    pub key: Option<Spanned<String>>,
    pub allow_notify: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One zone this server is a secondary for.
#[derive(Debug, Clone)]
pub struct SecondaryConfig {
    /// The zone's origin, fully qualified.
    pub zone: Name,
    /// The origin in lower-case wire form, to match query names against.
    pub key_wire: Box<[u8]>,
    /// Tried in order, at least one.
    pub primaries: Vec<SocketAddr>,
    /// Index into `Config.tsig`: signs SOA queries and transfer requests; a transfer's
    /// answers must verify with it, and a NOTIFY must be signed with it.
    pub key: Option<usize>,
    /// Who may send NOTIFY; the primaries' addresses unless written.
    pub allow_notify: Vec<IpNet>,
}

impl SecondaryConfig {
    /// Whether a NOTIFY from `peer`, signed with `key` (index into `Config.tsig`) or
    /// unsigned, is taken.
    pub fn accepts_notify(&self, peer: IpAddr, key: Option<usize>) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        self.allow_notify.iter().any(|n| n.contains(&peer))
            && self.key.is_none_or(|k| key == Some(k))
    }
}

impl Checker<'_> {
    /// Checks every `[secondary.ZONE]` table against the checked TSIG keys and the
    /// `[transfer]` tables.
    pub(super) fn secondaries(
        &mut self,
        raw: IndexMap<Spanned<String>, RawSecondary>,
        keys: &[TsigKey],
    ) -> Vec<SecondaryConfig> {
        let mut out: Vec<SecondaryConfig> = Vec::with_capacity(raw.len());
        for (zone, table) in raw {
            let prefix = format!("secondary.{}", super::tsig::table_key(zone.get_ref()));
            let name = Name::from_ascii(zone.get_ref())
                .and_then(|n| n.append_domain(&Name::root()))
                .ok()
                .filter(|_| !zone.get_ref().is_empty());
            let Some(name) = name else {
                let message = format!("{:?} is not a zone name", zone.get_ref());
                self.error(Some(zone.span()), prefix, message);
                continue;
            };
            if out.iter().any(|s| s.zone == name) {
                let message = format!("{name} has two [secondary] tables");
                self.error(Some(zone.span()), prefix, message);
                continue;
            }
            let errors_before = self.errors.len();
            let mut primaries = Vec::new();
            match &table.primaries {
                None => self.error(
                    Some(zone.span()),
                    format!("{prefix}.primaries"),
                    r#"missing: the primaries to transfer from, like ["192.0.2.53:53"]"#,
                ),
                Some(list) if list.get_ref().is_empty() => self.error(
                    Some(list.span()),
                    format!("{prefix}.primaries"),
                    "is empty: name at least one primary",
                ),
                Some(list) => {
                    for (i, a) in list.get_ref().iter().enumerate() {
                        match a.get_ref().parse::<SocketAddr>() {
                            Ok(addr) => primaries.push(addr),
                            Err(_) => {
                                let message = format!(
                                    r#"{:?} is not an ip:port address (like "192.0.2.53:53")"#,
                                    a.get_ref()
                                );
                                let key = format!("{prefix}.primaries[{i}]");
                                self.error(Some(a.span()), key, message);
                            }
                        }
                    }
                }
            }
            let key = table.key.as_ref().and_then(|k| {
                match keys.iter().position(|t| t.name == *k.get_ref()) {
                    Some(at) => Some(at),
                    None => {
                        let message =
                            format!("no [tsig.{}] table", super::tsig::table_key(k.get_ref()));
                        self.error(Some(k.span()), format!("{prefix}.key"), message);
                        None
                    }
                }
            });
            let allow_notify = match &table.allow_notify {
                None => primaries
                    .iter()
                    .map(|p| IpNet::from(canonical(p.ip())))
                    .collect(),
                Some(list) => {
                    let mut nets = Vec::new();
                    for (i, n) in list.get_ref().iter().enumerate() {
                        match super::transfer::network(n.get_ref()) {
                            Ok(net) => nets.push(net),
                            Err(why) => self.error(
                                Some(n.span()),
                                format!("{prefix}.allow_notify[{i}]"),
                                why,
                            ),
                        }
                    }
                    nets
                }
            };
            if self.errors.len() > errors_before {
                continue;
            }
            out.push(SecondaryConfig {
                key_wire: crate::answer::name_key(&name),
                zone: name,
                primaries,
                key,
                allow_notify,
            });
        }
        out
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use std::net::IpAddr;
    use std::path::Path;

    const KEYS: &str = "[tsig.a]\nsecret = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn notify_is_taken_from_the_primaries_or_allow_notify_with_the_key() {
        let text = format!(
            "{KEYS}[secondary.\"example.com\"]\nprimaries = [\"192.0.2.1:53\", \"[2001:db8::1]:5353\"]\n\
             key = \"a\"\n\
             [secondary.\"example.org.\"]\nprimaries = [\"192.0.2.1:53\"]\n\
             allow_notify = [\"198.51.100.0/24\"]\n"
        );
        let c = parse(&text, Path::new("meridian.toml")).unwrap();
        let [com, org] = &c.secondary[..] else {
            panic!("{:?}", c.secondary)
        };
        assert_eq!(com.zone.to_ascii(), "example.com.");
        assert_eq!(com.primaries.len(), 2);
        assert_eq!(com.key, Some(0));
        assert!(com.accepts_notify(ip("192.0.2.1"), Some(0)));
        assert!(com.accepts_notify(ip("::ffff:192.0.2.1"), Some(0)));
        assert!(com.accepts_notify(ip("2001:db8::1"), Some(0)));
        assert!(!com.accepts_notify(ip("192.0.2.1"), None));
        assert!(!com.accepts_notify(ip("192.0.2.2"), Some(0)));
        assert!(org.accepts_notify(ip("198.51.100.7"), None));
        assert!(!org.accepts_notify(ip("192.0.2.1"), None));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let text = format!(
            "{KEYS}[secondary.\"example.com\"]\nprimaries = [\"192.0.2.1\"]\nkey = \"nokey\"\n\
             [secondary.\"example.org\"]\nkey = \"a\"\n\
             [secondary.\"example.net\"]\nprimaries = []\n\
             [secondary.\"example.edu\"]\nprimaries = [\"192.0.2.1:53\"]\nallow_notify = [\"x\"]\n\
             [secondary.\"example.info\"]\nprimaries = [\"192.0.2.1:53\"]\nrefresh = 1\n"
        );
        let errors: Vec<String> = match parse(&text, Path::new("meridian.toml")) {
            Ok(c) => panic!("expected errors, got {:?}", c.secondary),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        };
        let want = [
            "meridian.toml:4: secondary.\"example.com\".primaries[0]: \"192.0.2.1\" is not an ip:port address (like \"192.0.2.53:53\")",
            "meridian.toml:5: secondary.\"example.com\".key: no [tsig.nokey] table",
            "meridian.toml:6: secondary.\"example.org\".primaries: missing: the primaries to transfer from, like [\"192.0.2.53:53\"]",
            "meridian.toml:9: secondary.\"example.net\".primaries: is empty: name at least one primary",
            "meridian.toml:12: secondary.\"example.edu\".allow_notify[0]: \"x\" is not a network like \"192.0.2.0/24\" or \"2001:db8::/32\"",
        ];
        for w in want {
            assert!(errors.iter().any(|e| e == w), "{w}\nnot in {errors:#?}");
        }
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("meridian.toml:15: secondary.\"example.info\".refresh")),
            "{errors:#?}"
        );
    }
}

//! `[transfer.ZONE]` of `meridian.toml`: who may transfer a zone (AXFR, RFC 5936) and
//! which secondaries are sent a NOTIFY (RFC 1996) when a reload raises its serial.
//!
//! A client may transfer the zone when it matches every list that is set: its source in
//! one of `allow_networks`, its query signed with one of `allow_keys` (names of
//! `[tsig.NAME]` tables). At least one list must be set. Nothing here opens sockets.

use super::diagnostics::Checker;
use super::tsig::TsigKey;
use hickory_proto::rr::Name;
use indexmap::IndexMap;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use toml::Spanned;

/// `[transfer.ZONE]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawTransfer {
    pub allow_keys: Option<Spanned<Vec<Spanned<String>>>>,
    pub allow_networks: Option<Spanned<Vec<Spanned<String>>>>,
    pub notify: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Who may transfer one zone, and whom to notify.
#[derive(Debug, Clone)]
pub struct TransferConfig {
    /// The zone's origin, fully qualified.
    pub zone: Name,
    /// Indices into `Config.tsig`; empty: any request, signed or not.
    pub keys: Vec<usize>,
    /// Empty: any source address.
    pub networks: Vec<IpNet>,
    /// Secondaries sent a NOTIFY (UDP) when a reload raises the zone's serial; signed
    /// with the first of `keys` when there is one.
    pub notify: Vec<SocketAddr>,
}

impl TransferConfig {
    /// Whether a request from `peer`, signed with `key` (an index into `Config.tsig`) or
    /// unsigned, may transfer the zone.
    pub fn allows(&self, peer: IpAddr, key: Option<usize>) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        let network = self.networks.is_empty() || self.networks.iter().any(|n| n.contains(&peer));
        let signed = self.keys.is_empty() || key.is_some_and(|k| self.keys.contains(&k));
        network && signed
    }
}

impl Checker<'_> {
    /// Checks every `[transfer.ZONE]` table against the checked TSIG keys.
    pub(super) fn transfers(
        &mut self,
        raw: IndexMap<Spanned<String>, RawTransfer>,
        keys: &[TsigKey],
    ) -> Vec<TransferConfig> {
        let mut out: Vec<TransferConfig> = Vec::with_capacity(raw.len());
        let mut seen: Vec<Name> = Vec::with_capacity(raw.len());
        for (zone, table) in raw {
            let prefix = format!("transfer.{}", super::tsig::table_key(zone.get_ref()));
            let name = Name::from_ascii(zone.get_ref())
                .and_then(|n| n.append_domain(&Name::root()))
                .ok()
                .filter(|_| !zone.get_ref().is_empty());
            let Some(name) = name else {
                let message = format!("{:?} is not a zone name", zone.get_ref());
                self.error(Some(zone.span()), prefix, message);
                continue;
            };
            if seen.contains(&name) {
                let message = format!("{name} has two [transfer] tables");
                self.error(Some(zone.span()), prefix, message);
                continue;
            }
            seen.push(name.clone());
            if table.allow_keys.is_none() && table.allow_networks.is_none() {
                let message = "allows nobody: set allow_keys, allow_networks or both";
                self.error(Some(zone.span()), prefix, message);
                continue;
            }
            let mut key_indices = Vec::new();
            for (i, k) in table
                .allow_keys
                .iter()
                .flat_map(|l| l.get_ref())
                .enumerate()
            {
                match keys.iter().position(|t| t.name == *k.get_ref()) {
                    Some(at) => key_indices.push(at),
                    None => {
                        let message =
                            format!("no [tsig.{}] table", super::tsig::table_key(k.get_ref()));
                        self.error(Some(k.span()), format!("{prefix}.allow_keys[{i}]"), message);
                    }
                }
            }
            if table.allow_keys.is_some() && key_indices.is_empty() {
                continue;
            }
            let mut networks = Vec::new();
            for (i, n) in table
                .allow_networks
                .iter()
                .flat_map(|l| l.get_ref())
                .enumerate()
            {
                match network(n.get_ref()) {
                    Ok(net) => networks.push(net),
                    Err(why) => {
                        self.error(Some(n.span()), format!("{prefix}.allow_networks[{i}]"), why)
                    }
                }
            }
            if table.allow_networks.is_some() && networks.is_empty() {
                continue;
            }
            let mut notify = Vec::new();
            for (i, a) in table.notify.iter().flat_map(|l| l.get_ref()).enumerate() {
                match a.get_ref().parse::<SocketAddr>() {
                    Ok(addr) => notify.push(addr),
                    Err(_) => {
                        let message = format!(
                            r#"{:?} is not an ip:port address (like "192.0.2.53:53")"#,
                            a.get_ref()
                        );
                        self.error(Some(a.span()), format!("{prefix}.notify[{i}]"), message);
                    }
                }
            }
            out.push(TransferConfig {
                zone: name,
                keys: key_indices,
                networks,
                notify,
            });
        }
        out
    }
}

/// A network written like "192.0.2.0/24"; a bare address is its own /32 or /128.
pub(super) fn network(text: &str) -> Result<IpNet, String> {
    let net = match text.parse::<IpAddr>() {
        Ok(addr) => IpNet::from(addr),
        Err(_) => text.parse::<IpNet>().map_err(|_| {
            format!(r#"{text:?} is not a network like "192.0.2.0/24" or "2001:db8::/32""#)
        })?,
    };
    if net.trunc() != net {
        return Err(format!(
            "{text:?} has host bits set (did you mean \"{}\"?)",
            net.trunc()
        ));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use std::net::IpAddr;
    use std::path::Path;

    const KEYS: &str = "[tsig.a]\nsecret = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n\
                        [tsig.b]\nsecret = \"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\"\n";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_must_match_every_list_that_is_set() {
        let text = format!(
            "{KEYS}[transfer.\"example.com\"]\nallow_keys = [\"b\"]\n\
             allow_networks = [\"192.0.2.0/24\", \"2001:db8::53\"]\nnotify = [\"192.0.2.53:53\"]\n\
             [transfer.\"example.org.\"]\nallow_networks = [\"198.51.100.0/24\"]\n\
             [transfer.\"example.net\"]\nallow_keys = [\"a\", \"b\"]\n"
        );
        let c = parse(&text, Path::new("meridian.toml")).unwrap();
        let [com, org, net] = &c.transfer[..] else {
            panic!("{:?}", c.transfer)
        };
        assert_eq!(com.zone.to_ascii(), "example.com.");
        assert_eq!(com.notify, ["192.0.2.53:53".parse().unwrap()]);
        // Key b is index 1; both lists must match.
        assert!(com.allows(ip("192.0.2.7"), Some(1)));
        assert!(com.allows(ip("2001:db8::53"), Some(1)));
        assert!(com.allows(ip("::ffff:192.0.2.7"), Some(1)));
        assert!(!com.allows(ip("192.0.2.7"), None));
        assert!(!com.allows(ip("192.0.2.7"), Some(0)));
        assert!(!com.allows(ip("198.51.100.7"), Some(1)));
        // Networks only: signed or not.
        assert_eq!(org.zone.to_ascii(), "example.org.");
        assert!(org.allows(ip("198.51.100.1"), None));
        assert!(org.allows(ip("198.51.100.1"), Some(0)));
        assert!(!org.allows(ip("192.0.2.1"), None));
        // Keys only: from anywhere.
        assert!(net.allows(ip("203.0.113.9"), Some(0)));
        assert!(net.allows(ip("2001:db8:1::1"), Some(1)));
        assert!(!net.allows(ip("203.0.113.9"), None));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let text = format!(
            "{KEYS}[transfer.\"example.com\"]\nallow_keys = [\"nokey\"]\n\
             [transfer.\"example.org\"]\nnotify = [\"192.0.2.53\"]\n\
             [transfer.\"example.net\"]\nallow_networks = [\"192.0.2.1/24\", \"nonsense\"]\n\
             [transfer.\"example.net.\"]\nallow_keys = [\"a\"]\n\
             [transfer.\"example.edu\"]\nallow_keys = [\"a\"]\nallow = 1\n"
        );
        let errors: Vec<String> = match parse(&text, Path::new("meridian.toml")) {
            Ok(c) => panic!("expected errors, got {:?}", c.transfer),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        };
        let want = [
            "meridian.toml:6: transfer.\"example.com\".allow_keys[0]: no [tsig.nokey] table",
            "meridian.toml:7: transfer.\"example.org\": allows nobody: set allow_keys, allow_networks or both",
            "meridian.toml:10: transfer.\"example.net\".allow_networks[0]: \"192.0.2.1/24\" has host bits set (did you mean \"192.0.2.0/24\"?)",
            "meridian.toml:10: transfer.\"example.net\".allow_networks[1]: \"nonsense\" is not a network like \"192.0.2.0/24\" or \"2001:db8::/32\"",
            "meridian.toml:11: transfer.\"example.net.\": example.net. has two [transfer] tables",
        ];
        for w in want {
            assert!(errors.iter().any(|e| e == w), "{w}\nnot in {errors:#?}");
        }
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("meridian.toml:15: transfer.\"example.edu\".allow")),
            "{errors:#?}"
        );
    }
}

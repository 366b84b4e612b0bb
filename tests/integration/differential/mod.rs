//! The differential test: Meridian and NSD serve the same zones
//! (`tests/data/differential/`), a few thousand queries generated from a fixed seed go to
//! both, and every difference between the normalised responses (`normal`) fails the test
//! unless the allowlist (`allowlist`) names it as deliberate, with its RFC.
//!
//! Says SKIPPED and passes where NSD is not installed (`.ci/run` installs Debian's).
//! `MERIDIAN_DIFF_DUMP=<file>` writes every difference there, not only the first ones.

mod allowlist;
mod normal;
pub mod nsd;

use crate::util::{Fixture, Prng, Server, UdpClient};
use allowlist::{ALLOWLIST, Peer};
use hickory_proto::rr::RecordType;
use normal::{Normal, Probe, ProbeEdns};
use nsd::Nsd;

const PARENT: &str = include_str!("../../data/differential/example.com.zone");
const CHILD: &str = include_str!("../../data/differential/child.example.com.zone");
const ZONES: [(&str, &str); 2] = [("example.com", PARENT), ("child.example.com", CHILD)];

/// The EDNS UDP payload both servers advertise and cap UDP responses at: Meridian's
/// `max_udp_payload` default and NSD's `ipv4-edns-size` default, written out for both.
const EDNS_SIZE: u16 = 1232;

/// How many queries; each goes to both servers, one after the other.
const QUERIES: usize = 3000;

/// How many differences the failure message shows in full.
const SHOWN: usize = 25;

/// Names the queries are built from: an owner or empty non-terminal of each kind in the
/// zones, and names in neither.
const NAMES: &[&str] = &[
    "example.com",
    "ns1.example.com",
    "mail.example.com",
    "www.example.com",
    "many.example.com",
    "_sip._udp.example.com",
    "_sip._tcp.example.com",
    "_tcp.example.com",
    "sip.example.com",
    "_443._tcp.www.example.com",
    "80.2.0.192.in-addr.example.com",
    "txt-long.example.com",
    "big.example.com",
    "a.b.c.example.com",
    "b.c.example.com",
    "c.example.com",
    "wild.example.com",
    "*.wild.example.com",
    "both.example.com",
    "*.both.example.com",
    "exact.both.example.com",
    "ent.both.example.com",
    "x.ent.both.example.com",
    "wc.example.com",
    "*.wc.example.com",
    "sub.example.com",
    "ns1.sub.example.com",
    "ns2.sub.example.com",
    "ext.example.com",
    "bigsub.example.com",
    "ns1.bigsub.example.com",
    "bigtxt.example.com",
    "mx.example.com",
    "mx1.example.com",
    "child.example.com",
    "ns1.child.example.com",
    "www.child.example.com",
    "w.child.example.com",
    "up.child.example.com",
    "upsub.child.example.com",
    "alias.example.com",
    "chain1.example.com",
    "chain2.example.com",
    "chain3.example.com",
    "dangling.example.com",
    "tonodata.example.com",
    "toent.example.com",
    "towild.example.com",
    "toboth.example.com",
    "tosub.example.com",
    "tosubapex.example.com",
    "toext.example.com",
    "tochild.example.com",
    "tochildmissing.example.com",
    "todname.example.com",
    "loop1.example.com",
    "self.example.com",
    "dn.example.com",
    "dnin.example.com",
    "target.example.com",
    "www.target.example.com",
    "nothere.example.com",
    "com",
    "example.org",
    "www.example.net",
];

/// Names a random label is put in front of: wildcard expansions, names below a
/// delegation or a DNAME, and NXDOMAIN below existing names and empty non-terminals.
const PARENTS: &[&str] = &[
    "example.com",
    "wild.example.com",
    "both.example.com",
    "ent.both.example.com",
    "wc.example.com",
    "sub.example.com",
    "ns1.sub.example.com",
    "ext.example.com",
    "bigsub.example.com",
    "child.example.com",
    "w.child.example.com",
    "dn.example.com",
    "dnin.example.com",
    "b.c.example.com",
    "www.example.com",
    "alias.example.com",
];

/// Every type in the zones, the DNSSEC types (the zones are unsigned), and some others.
const TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::NS,
    RecordType::CNAME,
    RecordType::SOA,
    RecordType::PTR,
    RecordType::HINFO,
    RecordType::MX,
    RecordType::TXT,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::NAPTR,
    RecordType::DNAME,
    RecordType::DS,
    RecordType::SSHFP,
    RecordType::RRSIG,
    RecordType::NSEC,
    RecordType::DNSKEY,
    RecordType::NSEC3,
    RecordType::TLSA,
    RecordType::SVCB,
    RecordType::HTTPS,
    RecordType::CAA,
    RecordType::Unknown(65280),
    RecordType::ANY,
];

/// The names of the zone's every-type part (`tests/data/differential/example.com.zone`)
/// and the type each holds: each is asked for in every run, with and without DO.
const EVERY_TYPE: &[(&str, u16)] = &[
    ("md", 3),
    ("wks", 11),
    ("mf", 4),
    ("mb", 7),
    ("mb2", 7),
    ("mg", 8),
    ("mr", 9),
    ("hinfo", 13),
    ("minfo", 14),
    ("rp", 17),
    ("afsdb", 18),
    ("x25", 19),
    ("isdn", 20),
    ("rt", 21),
    ("rt2", 21),
    ("nsap", 22),
    ("key", 25),
    ("px", 26),
    ("loc", 29),
    ("nxt", 30),
    ("naptr", 35),
    ("kx", 36),
    ("kx2", 36),
    ("cert", 37),
    ("apl", 42),
    ("ds", 43),
    ("sshfp", 44),
    ("ipseckey", 45),
    ("rrsig", 46),
    ("nsec", 47),
    ("dnskey", 48),
    ("dhcid", 49),
    ("nsec3", 50),
    ("nsec3param", 51),
    ("tlsa", 52),
    ("smimea", 53),
    ("cds", 59),
    ("cdnskey", 60),
    ("openpgpkey", 61),
    ("csync", 62),
    ("zonemd", 63),
    ("svcb", 64),
    ("https", 65),
    ("spf", 99),
    ("nid", 104),
    ("l32", 105),
    ("l64", 106),
    ("lp", 107),
    ("eui48", 108),
    ("eui64", 109),
    ("uri", 256),
    ("caa", 257),
];

/// Names and types whose answers outgrow small payloads: truncation (TC) of answers and
/// referrals, and additional records dropped without it.
const LARGE: &[(&str, RecordType)] = &[
    ("big.example.com", RecordType::A),
    ("big.example.com", RecordType::ANY),
    ("bigtxt.example.com", RecordType::TXT),
    ("mx.example.com", RecordType::MX),
    ("mx.example.com", RecordType::ANY),
    ("host.bigsub.example.com", RecordType::A),
    ("bigsub.example.com", RecordType::NS),
];

/// Meta and obsolete types, asked now and then.
const ODD_TYPES: &[u16] = &[0, 3, 4, 41, 249, 250, 251, 252, 253, 254, 65535];

fn pick<'a, T>(rng: &mut Prng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len())]
}

/// Flips the case of about half the letters.
fn random_case(rng: &mut Prng, name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() && rng.below(2) == 0 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

fn random_label(rng: &mut Prng) -> String {
    const LABELS: &[&str] = &["foo", "x", "host", "www", "a-b", "ns1", "_tcp", "*", "z9"];
    if rng.below(3) == 0 {
        let len = 1 + rng.below(12);
        (0..len)
            .map(|_| (b'a' + rng.below(26) as u8) as char)
            .collect()
    } else {
        pick(rng, LABELS).to_string()
    }
}

/// `count` queries from a fixed seed: the same ones on every run.
fn generate(count: usize) -> Vec<Probe> {
    let mut rng = Prng::new(0x6d65_7269_6469_616e);
    (0..count)
        .map(|_| {
            let mut large = None;
            let mut name = match rng.below(12) {
                0 => {
                    let &(name, qtype) = pick(&mut rng, LARGE);
                    large = Some(u16::from(qtype));
                    name.to_string()
                }
                1..=5 => pick(&mut rng, NAMES).to_string(),
                6..=10 => format!("{}.{}", random_label(&mut rng), pick(&mut rng, PARENTS)),
                _ => format!(
                    "{}.{}.{}",
                    random_label(&mut rng),
                    random_label(&mut rng),
                    pick(&mut rng, PARENTS)
                ),
            };
            if rng.below(3) == 0 {
                name = random_case(&mut rng, &name);
            }
            let qtype = match (large, rng.below(20)) {
                (Some(qtype), _) => qtype,
                (None, 0) => *pick(&mut rng, ODD_TYPES),
                (None, 1) => rng.next_u64() as u16,
                (None, 2) => u16::from(RecordType::ANY),
                (None, _) => u16::from(*pick(&mut rng, TYPES)),
            };
            let qclass = match rng.below(50) {
                0 => 255,
                1 => 3,
                _ => 1,
            };
            let edns = match rng.below(10) {
                0..=2 => None,
                _ => Some(ProbeEdns {
                    payload: *pick(&mut rng, &[512, 1232, 4096, 600, 1000, 100, 65535]),
                    dnssec_ok: rng.below(2) == 0,
                    version: if rng.below(40) == 0 { 1 } else { 0 },
                }),
            };
            Probe {
                name,
                qtype,
                qclass,
                rd: rng.below(2) == 0,
                ad: rng.below(8) == 0,
                cd: rng.below(8) == 0,
                edns,
                tcp: rng.below(8) == 0,
            }
        })
        .collect()
}

/// Queries asked on every run besides the generated ones, so each allowlist entry, each
/// bug it names, and each fix made for this test stays checked whatever the seed gives.
fn fixed() -> Vec<Probe> {
    use RecordType::*;
    let edns = |payload, dnssec_ok, version| {
        Some(ProbeEdns {
            payload,
            dnssec_ok,
            version,
        })
    };
    let plain = |name: &str, qtype: RecordType| Probe {
        name: name.to_string(),
        qtype: u16::from(qtype),
        qclass: 1,
        rd: false,
        ad: false,
        cd: false,
        edns: edns(1232, false, 0),
        tcp: false,
    };
    let every_type = EVERY_TYPE.iter().flat_map(|&(label, qtype)| {
        let probe = Probe {
            qtype,
            ..plain(&format!("{label}.example.com"), A)
        };
        [
            Probe {
                edns: edns(1232, true, 0),
                ..probe.clone()
            },
            // The name asked for another type: NODATA.
            Probe {
                qtype: u16::from(TXT),
                ..probe.clone()
            },
            probe,
        ]
    });
    let mut probes: Vec<Probe> = every_type.collect();
    probes.extend([
        Probe {
            cd: true,
            ..plain("www.example.com", A)
        },
        Probe {
            edns: edns(1232, true, 1),
            ..plain("www.example.com", A)
        },
        Probe {
            qtype: 0,
            ..plain("www.example.com", A)
        },
        plain("www.example.com", OPT),
        plain("www.example.com", Unknown(253)),
        plain("www.example.com", Unknown(254)),
        Probe {
            tcp: true,
            ..plain("example.com", AXFR)
        },
        plain("example.com", IXFR),
        Probe {
            qclass: 255,
            ..plain("nothere.example.com", A)
        },
        plain("alias.example.com", NSEC3),
        plain("up.child.example.com", A),
        plain("tochild.example.com", A),
        plain("example.com", ANY),
        plain("many.example.com", ANY),
        Probe {
            edns: None,
            ..plain("bigsub.example.com", NS)
        },
        Probe {
            edns: edns(512, false, 0),
            ..plain("mx.example.com", MX)
        },
        plain("www.example.com", A),
        // Names below a DNAME restart at the synthesised name for ANY and DNAME too (RFC
        // 6672 §3.2): fixed in src/dns/respond.rs for this test.
        plain("www.dnin.example.com", ANY),
        plain("www.dnin.example.com", DNAME),
        plain("nothere.dnin.example.com", DNAME),
        plain("many.example.com", PTR),
        plain("todname.example.com", A),
        plain("child.example.com", DS),
        plain("tosubapex.example.com", DS),
    ]);
    probes
}

/// How many of Meridian's responses were of each kind: the queries must meet every kind
/// the test claims to compare, whatever the seed or the zones become.
#[derive(Debug, Default)]
struct Coverage {
    answers: usize,
    cname_chains: usize,
    dname_synthesis: usize,
    nodata: usize,
    nxdomain: usize,
    referrals: usize,
    truncated: usize,
    errors: usize,
    over_tcp: usize,
    with_edns: usize,
}

impl Coverage {
    fn count(&mut self, probe: &Probe, r: &Normal) {
        let Normal::Answer(a) = r else {
            return;
        };
        let has = |rtype| a.answer.iter().any(|r| r.is(rtype));
        let ns_authority = a.authority.iter().any(|r| r.is(RecordType::NS));
        self.answers += usize::from(a.rcode == 0 && !a.answer.is_empty());
        self.cname_chains += usize::from(has(RecordType::CNAME) && a.answer.len() > 1);
        self.dname_synthesis += usize::from(has(RecordType::DNAME) && has(RecordType::CNAME));
        self.nodata += usize::from(a.rcode == 0 && a.aa && a.answer.is_empty());
        self.nxdomain += usize::from(a.rcode == 3);
        self.referrals += usize::from(a.rcode == 0 && !a.aa && ns_authority);
        self.truncated += usize::from(a.tc);
        self.errors += usize::from(!matches!(a.rcode, 0 | 3));
        self.over_tcp += usize::from(probe.tcp);
        self.with_edns += usize::from(a.edns.is_some());
    }

    fn assert_complete(&self) {
        let Coverage {
            answers,
            cname_chains,
            dname_synthesis,
            nodata,
            nxdomain,
            referrals,
            truncated,
            errors,
            over_tcp,
            with_edns,
        } = *self;
        for (kind, n) in [
            ("answers", answers),
            ("CNAME chains", cname_chains),
            ("DNAME synthesis", dname_synthesis),
            ("NODATA", nodata),
            ("NXDOMAIN", nxdomain),
            ("referrals", referrals),
            ("truncated", truncated),
            ("errors", errors),
            ("over TCP", over_tcp),
            ("with EDNS", with_edns),
        ] {
            assert!(n > 0, "no query met {kind}: {self:?}");
        }
    }
}

fn meridian() -> Server {
    // No identity: CH queries are REFUSED, as NSD's hide-identity makes them. RRL is off
    // (the fixture's default) and no query carries a cookie, so neither changes answers.
    let mut fixture = Fixture::new()
        .server_key(&format!("max_udp_payload = {EDNS_SIZE}"))
        .server_key("identity = \"\"");
    for (origin, text) in ZONES {
        fixture = fixture.zone(origin, text);
    }
    fixture.start()
}

#[test]
fn meridian_answers_as_nsd_does_but_for_the_allowlisted_differences() {
    if !nsd::installed() {
        return;
    }
    let nsd = Nsd::start(&ZONES, EDNS_SIZE);
    eprintln!("{}", nsd::version());
    let meridian = meridian();
    let to_meridian = UdpClient::new(meridian.dns);
    let to_nsd = UdpClient::new(nsd.addr);
    let mut probes = generate(QUERIES);
    probes.extend(fixed());
    // IDs above the probes' own, for the queries allowlist entries ask themselves.
    let mut next_id = probes.len() as u16;
    let mut ask = |peer: Peer, p: &Probe| {
        next_id = next_id.wrapping_add(1);
        match peer {
            Peer::Meridian => p.ask(meridian.dns, &to_meridian, next_id),
            Peer::Nsd => p.ask(nsd.addr, &to_nsd, next_id),
        }
    };
    let mut coverage = Coverage::default();
    let mut matched = vec![0usize; ALLOWLIST.len()];
    let mut differences = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let ours = probe.ask(meridian.dns, &to_meridian, i as u16);
        let theirs = probe.ask(nsd.addr, &to_nsd, i as u16);
        coverage.count(probe, &ours);
        let mut reconciled = theirs.clone();
        let mut applied = Vec::new();
        if let (Normal::Answer(o), Normal::Answer(t)) = (&ours, &mut reconciled) {
            for (n, entry) in ALLOWLIST.iter().enumerate() {
                if (entry.reconcile)(probe, o, t, &mut ask) {
                    matched[n] += 1;
                    applied.push(entry.what);
                }
            }
        }
        if ours != reconciled {
            let applied = if applied.is_empty() {
                String::new()
            } else {
                format!("\n  allowlisted here: {}", applied.join("; "))
            };
            differences.push(format!(
                "{probe}\n  meridian:\n{ours}\n  nsd:\n{theirs}{applied}"
            ));
        }
    }
    for (entry, n) in ALLOWLIST.iter().zip(&matched) {
        eprintln!(
            "allowlisted {n:>5}: {}\n                   ({})",
            entry.what, entry.why
        );
    }
    eprintln!("{coverage:?}");
    if let Ok(path) = std::env::var("MERIDIAN_DIFF_DUMP") {
        std::fs::write(&path, differences.join("\n\n")).unwrap();
    }
    assert!(
        differences.is_empty(),
        "{} of {} queries answered differently by Meridian and NSD; the first {}:\n\n{}",
        differences.len(),
        probes.len(),
        SHOWN.min(differences.len()),
        differences[..SHOWN.min(differences.len())].join("\n\n")
    );
    coverage.assert_complete();
    // A bug entry no query needs any more: the bug is fixed, so the entry must go. Other
    // entries may match nothing with another NSD version (4.6 is Debian 12's).
    let unneeded: Vec<&str> = ALLOWLIST
        .iter()
        .zip(&matched)
        .filter(|(_, n)| **n == 0)
        .map(|(entry, _)| entry.what)
        .collect();
    for what in &unneeded {
        eprintln!("allowlist entry matched no query: {what}");
    }
    let fixed: Vec<&&str> = unneeded
        .iter()
        .filter(|what| what.starts_with("BUG"))
        .collect();
    assert!(
        fixed.is_empty(),
        "allowlisted bugs that no query shows any more (fixed? remove their entries):\n{fixed:?}"
    );
}

//! Zones: RFC 1035 master files → immutable [`Zones`] with every answer precomputed.
//!
//! `master/` reads one file (with line numbers); `check.rs` checks a zone (SOA, NS, names
//! inside the origin, CNAME rules); `build.rs` resolves CNAME chains, glue and wildcards and
//! encodes each answer once, into one arena shared by every name whose answer renders
//! alike (`answer::Interner`); `wire.rs` is the form record data is held in from its
//! reading on; `index.rs` maps names to nodes; `transfer.rs` keeps each
//! zone's records for zone transfers. [`Zones::lookup`] then maps a lower-case query name
//! and type to a ready [`Answer`] with at most a few hash lookups. No sockets, geography or
//! health here.

mod build;
mod check;
mod error;
mod index;
pub mod master;
mod names;
mod transfer;
pub(crate) mod wire;

use crate::answer::{Answer, AnswerBuf, AnswerId};
use hickory_proto::rr::Name;
use index::NameIndex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use build::{build_read_zones, build_zones};
pub use error::{ZoneError, ZoneErrors};
pub use transfer::{At, Delta, JOURNAL_LEN, Owner, Record, ZoneRecords, push_record, record_len};
pub use wire::push_name;

/// One zone file read and grouped by name, each record checked as it was read: what
/// [`build_read_zones`] checks as a whole and encodes. Reading a file this way never
/// holds its records as a list beside the grouped names.
pub struct ReadZone(check::Grouping);

impl ReadZone {
    /// Reads the master file `file` for the zone `origin`; its errors (file, line) if
    /// it cannot be read or holds a bad record.
    pub fn from_file(file: &Path, origin: &Name) -> Result<ReadZone, Vec<ZoneError>> {
        let text = master::read_source(file)?;
        let mut grouping = check::Grouping::for_bytes(file, origin, text.len() as u64);
        master::read_text(&text, file, origin, &mut |r| grouping.add(r))?;
        Ok(ReadZone(grouping))
    }

    /// Records read otherwise (a secondary zone's copy), grouped the same way.
    pub fn from_records(
        file: &Path,
        origin: &Name,
        records: Vec<master::SourceRecord>,
    ) -> ReadZone {
        ReadZone(check::group(file, origin, records))
    }
}

/// A load-balanced name: its A and AAAA answers are decided per query.
#[derive(Debug, Clone)]
pub struct BalancedName {
    pub name: Name,
    /// The service's index in the snapshot.
    pub service: u32,
    /// Where the service is written, for errors.
    pub file: Arc<Path>,
    pub line: usize,
}

/// What a query name and type resolve to.
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// A pre-encoded answer: data, NODATA, NXDOMAIN or a referral.
    Answer(Answer<'a>),
    /// A load-balanced name asked for A or AAAA: the route decides. `nodata` is the answer
    /// to send when the decision has no address of that family. `chain` is set when the
    /// query name is a CNAME (chain) to the load-balanced name: the CNAMEs to send first,
    /// and the offset of the name that owns the addresses.
    Balanced {
        service: u32,
        nodata: Answer<'a>,
        chain: Option<(Answer<'a>, u16)>,
    },
    /// A name below a DNAME (RFC 6672): the DNAME record, then a CNAME synthesised per
    /// query. `owner_len` is the wire length of the DNAME's owner, the suffix of the query
    /// name that the target replaces.
    Dname { dname: &'a Dname, owner_len: u16 },
}

/// A DNAME, ready for the names below it.
#[derive(Debug)]
pub struct Dname {
    /// The DNAME record (answer section), encoded against `*.<owner>` like a wildcard.
    pub answer: AnswerBuf,
    /// The target in wire form, uncompressed, as written.
    pub target: Box<[u8]>,
    /// The DNAME's TTL, which the synthesised CNAME carries (RFC 6672 §3.1).
    pub ttl: u32,
}

/// A CNAME chain that ends at a load-balanced name, encoded once.
#[derive(Debug)]
pub struct BalancedChain {
    pub service: u32,
    /// The CNAME records (answer section only).
    pub answer: AnswerBuf,
    /// Offset in the message of the chain's last target name.
    pub owner: u16,
}

/// Every zone this server is authoritative for.
#[derive(Debug)]
pub struct Zones {
    zones: Vec<Zone>,
    /// Every answer of every zone, once each ([`crate::answer::Interner`]): what the
    /// [`AnswerId`]s of `nodes`, `typed` and `zones` index.
    arena: Box<[u8]>,
    nodes: Vec<Node>,
    /// Every node's answers by query type, node after node, each node's sorted by type.
    typed: TypedAnswers,
    /// The rare parts of the few nodes that have them, by node.
    extras: rustc_hash::FxHashMap<u32, Extra>,
    /// Load-balanced names: node → service.
    balanced: rustc_hash::FxHashMap<u32, u32>,
    /// Lower-case wire name → node, for every name of every zone (empty non-terminals
    /// included). Where zones nest, the most specific zone owns the name.
    index: NameIndex,
}

/// One zone's summary and its shared negative answer.
#[derive(Debug)]
pub struct Zone {
    pub origin: Name,
    /// `origin` as text, made once (per-query counters are filed under it).
    pub origin_text: String,
    pub file: PathBuf,
    pub serial: u32,
    pub record_count: usize,
    /// Every record, for zone transfers (`transfer.rs`).
    pub records: ZoneRecords,
    /// NXDOMAIN with the SOA, encoded against `*.<origin>` so it fits every missing name.
    nxdomain: AnswerId,
}

/// One answer of a node, for one query type (as built; kept as [`TypedAnswers`]).
#[derive(Debug, Clone, Copy)]
struct Typed {
    qtype: u16,
    answer: AnswerId,
}

/// The answers of every node by query type, as two lists side by side: 6 bytes an
/// answer, where a list of [`Typed`] would pad each to 8 (3 MB of a 1M-record zone).
#[derive(Debug, Default)]
struct TypedAnswers {
    qtypes: Vec<u16>,
    answers: Vec<AnswerId>,
}

impl TypedAnswers {
    fn len(&self) -> usize {
        self.qtypes.len()
    }

    fn reserve(&mut self, more: usize) {
        self.qtypes.reserve(more);
        self.answers.reserve(more);
    }

    fn extend(&mut self, typed: &[Typed]) {
        self.qtypes.extend(typed.iter().map(|t| t.qtype));
        self.answers.extend(typed.iter().map(|t| t.answer));
    }

    fn shrink_to_fit(&mut self) {
        self.qtypes.shrink_to_fit();
        self.answers.shrink_to_fit();
    }
}

/// The answers for one name: 16 bytes, its answers' bytes in the arena. What few names
/// have (a service, a wildcard child, a DNAME) is in maps beside the nodes, marked here.
#[derive(Debug)]
struct Node {
    zone: u32,
    /// How many answers by query type it has, from `typed_at` in `Zones::typed`.
    typed_at: u32,
    /// The answer for every other query type: NODATA, a CNAME chain, or a referral.
    other: AnswerId,
    typed_len: u16,
    /// [`Node::DELEGATED`], [`Node::EXTRA`], [`Node::BALANCED`], [`Node::WILDCARD`].
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<Node>() == 16);

impl Node {
    /// The node is a zone cut or below one: every name under it gets the referral.
    const DELEGATED: u8 = 1;
    /// The node has an entry in `Zones::extras`: a CNAME chain to a load-balanced name,
    /// a DNAME.
    const EXTRA: u8 = 2;
    /// The name is load-balanced: A and AAAA come from the service in `Zones::balanced`.
    const BALANCED: u8 = 4;
    /// `*.<this name>` exists, and is the next node: for wildcard synthesis (RFC 4592).
    const WILDCARD: u8 = 8;

    #[inline]
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The rare parts of a node, kept apart so that every other node stays small.
#[derive(Debug, Default)]
struct Extra {
    /// The name is a CNAME whose chain ends at a load-balanced name.
    chain: Option<BalancedChain>,
    /// The name owns a DNAME: every name below it is redirected (RFC 6672).
    dname: Option<Dname>,
}

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_ANY: u16 = 255;

impl Zones {
    /// The answer of `node` to `qtype`: one of its typed answers, or `other`.
    #[inline(always)]
    fn answer_of<'a>(&'a self, node: &'a Node, qtype: u16) -> Answer<'a> {
        let range = node.typed_at as usize..node.typed_at as usize + node.typed_len as usize;
        let qtypes = &self.typed.qtypes[range.clone()];
        let answers = &self.typed.answers[range];
        // A name has a few types, sorted: one pass, stopping at the first not below
        // `qtype`, costs fewer branches than a binary search.
        for (&t, answer) in qtypes.iter().zip(answers) {
            if t >= qtype {
                if t == qtype {
                    return self.answer(*answer, answer);
                }
                break;
            }
        }
        self.other(node)
    }

    /// The answer for every type `node` has no typed answer for.
    #[inline]
    fn other<'a>(&'a self, node: &'a Node) -> Answer<'a> {
        self.answer(node.other, &node.other)
    }

    /// The answer `id`, served from `site` (its rate-limiting identity).
    #[inline]
    fn answer<'a, T>(&'a self, id: AnswerId, site: &'a T) -> Answer<'a> {
        Answer::in_arena(&self.arena, id, site as *const T as usize)
    }

    fn extra(&self, i: u32, node: &Node) -> Option<&Extra> {
        if node.has(Node::EXTRA) {
            self.extras.get(&i)
        } else {
            None
        }
    }

    /// The answer for a lower-case wire-format name and a query type, or `None` when the
    /// name is in none of our zones (REFUSED).
    /// Also returns the index of the zone that answers (for per-zone counters).
    pub fn lookup(&self, key: &[u8], qtype: u16) -> Option<(u32, Found<'_>)> {
        if let Some(i) = self.index.get(key) {
            let node = &self.nodes[i as usize];
            let address_query = matches!(qtype, TYPE_A | TYPE_AAAA | TYPE_ANY);
            if node.has(Node::BALANCED)
                && address_query
                && let Some(&service) = self.balanced.get(&i)
            {
                let nodata = self.other(node);
                return Some((
                    node.zone,
                    Found::Balanced {
                        service,
                        nodata,
                        chain: None,
                    },
                ));
            }
            // ANY at a CNAME owner is the CNAME alone (RFC 1034 §4.3.2 step 3a).
            if let Some(c) = self.extra(i, node).and_then(|e| e.chain.as_ref())
                && matches!(qtype, TYPE_A | TYPE_AAAA)
            {
                let nodata = self.answer_of(node, qtype);
                let chain = Some((c.answer.answer(), c.owner));
                return Some((
                    node.zone,
                    Found::Balanced {
                        service: c.service,
                        nodata,
                        chain,
                    },
                ));
            }
            return Some((node.zone, Found::Answer(self.answer_of(node, qtype))));
        }
        // The closest encloser: the longest existing ancestor (RFC 4592 §3.3.1).
        let mut pos = 0;
        while pos < key.len() && key[pos] != 0 {
            pos += 1 + key[pos] as usize;
            let Some(i) = self.index.get(&key[pos.min(key.len())..]) else {
                continue;
            };
            let encloser = &self.nodes[i as usize];
            if encloser.has(Node::DELEGATED) {
                return Some((encloser.zone, Found::Answer(self.other(encloser))));
            }
            if let Some(dname) = self.extra(i, encloser).and_then(|e| e.dname.as_ref()) {
                let owner_len = (key.len() - pos) as u16;
                return Some((encloser.zone, Found::Dname { dname, owner_len }));
            }
            if encloser.has(Node::WILDCARD) {
                let wild = &self.nodes[i as usize + 1];
                let answer = self.answer_of(wild, qtype);
                return Some((encloser.zone, Found::Answer(answer)));
            }
            let zone = &self.zones[encloser.zone as usize];
            return Some((
                encloser.zone,
                Found::Answer(self.answer(zone.nxdomain, zone)),
            ));
        }
        None
    }

    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The zone files in `dir` and their origins (the file name without `.zone`).
    pub fn files_in(dir: &Path) -> Result<Vec<(PathBuf, Name)>, ZoneErrors> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            ZoneErrors(vec![ZoneError::file(
                dir,
                format!("cannot read zones directory: {e}"),
            )])
        })?;
        // The directory listing tells a file from a directory without a `stat` of each
        // (a tenth of 10,000 small zones' load); only a link is followed to see.
        let is_file = |e: &std::fs::DirEntry, p: &Path| match e.file_type() {
            Ok(t) if t.is_symlink() => p.is_file(),
            Ok(t) => t.is_file(),
            Err(_) => p.is_file(),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let p = e.path();
                (p.extension().is_some_and(|x| x == "zone") && is_file(&e, &p)).then_some(p)
            })
            .collect();
        // Every path is `dir` joined with a file name, so comparing them byte by byte orders
        // them by name, as `Path`'s order does; that one splits both paths into components
        // at every comparison (as does `file_name`): 7 % of 10,000 zones' load.
        files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
        if files.is_empty() {
            return Err(ZoneErrors(vec![ZoneError::file(
                dir,
                "no *.zone file in the zones directory".into(),
            )]));
        }
        let mut errors = Vec::new();
        let mut found = Vec::new();
        for file in files {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let origin = match Name::from_ascii(stem).and_then(|n| n.append_domain(&Name::root())) {
                Ok(o) if !stem.is_empty() => o,
                _ => {
                    errors.push(ZoneError::file(
                        &file,
                        format!("file name {stem:?} is not a domain name"),
                    ));
                    continue;
                }
            };
            found.push((file, origin));
        }
        if errors.is_empty() {
            Ok(found)
        } else {
            Err(ZoneErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests;

//! Geolocation: a MaxMind-format database → [`Location`] for an address.
//!
//! Reads GeoIP2/GeoLite2 City and Country, DB-IP and IPinfo layouts (known field paths are
//! tried in order; configured ones first). Every distinct data record is decoded once at
//! load, so a lookup is a tree walk plus a hash lookup, and each thread remembers the
//! walks of recent client networks ([`memo`]). Coordinates missing from a record
//! fall back to the country's, then the continent's centroid. The shipped database is
//! built into the binary ([`GeoDb::shipped`]); any other is read from a file. Knows nothing
//! of services.

use crate::config::{GeoFields, Position};
use maxminddb::{PathElement, Reader};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::borrow::Cow;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// `geodata/meridian-city.mmdb`, built into the binary: a lone binary, `cargo install` or a
/// container locates clients with no file beside it. Read in place (no copy at start-up).
static SHIPPED: &[u8] = include_bytes!("../../geodata/meridian-city.mmdb");

/// What [`GeoDb::path`] says for the shipped database.
pub const SHIPPED_NAME: &str = "built-in geodata/meridian-city.mmdb";

/// The database bytes: a file read into memory, or the shipped bytes in the binary.
type Source = Cow<'static, [u8]>;

mod centroids;
mod memo;

use memo::{NO_RECORD, Walked};

/// Where an address is, as far as the database knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub country: Option<[u8; 2]>,
    pub continent: Option<[u8; 2]>,
    /// Latitude, longitude in degrees.
    pub coordinates: Option<(f64, f64)>,
    /// `coordinates` on the unit sphere, made once per record when the database is read
    /// (ranking regions by distance then costs no trigonometry per query).
    pub position: Option<Position>,
    pub coordinates_from: CoordinatesFrom,
    /// Prefix length of the database network that matched (or of the gap that did not):
    /// every address in it gets this same location.
    pub network_prefix: u8,
}

/// How the coordinates were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatesFrom {
    Record,
    CountryCentroid,
    ContinentCentroid,
    None,
}

impl Location {
    /// No data: not in the database (private ranges, unknown space).
    pub fn unknown(network_prefix: u8) -> Location {
        Location {
            country: None,
            continent: None,
            coordinates: None,
            position: None,
            coordinates_from: CoordinatesFrom::None,
            network_prefix,
        }
    }
}

/// Location data of one database record (everything but the network).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Place {
    country: Option<[u8; 2]>,
    continent: Option<[u8; 2]>,
    coordinates: Option<(f64, f64)>,
    position: Option<Position>,
    coordinates_from: CoordinatesFrom,
}

/// An opened database with every record decoded.
pub struct GeoDb {
    /// The file, or [`SHIPPED_NAME`] for the built-in database.
    pub path: PathBuf,
    /// True for the database built into the binary.
    pub shipped: bool,
    pub database_type: String,
    reader: Reader<Source>,
    /// Every distinct record, decoded.
    places: Vec<Place>,
    /// Data section offset of a record → its index in `places`.
    index: FxHashMap<usize, u32>,
    ipv4_only: bool,
    /// This database's number in the per-thread [`memo`] (unique per open, from 1).
    id: u32,
}

/// The number of the next database opened (see `GeoDb::id`).
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("path", &self.path)
            .field("records", &self.places.len())
            .finish()
    }
}

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{path}: cannot open geolocation database: {reason}")]
    Open { path: PathBuf, reason: String },
}

/// A field that may be written as a number or a string, f32 or f64.
#[derive(Debug, Clone, Copy)]
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_f32<E>(self, v: f32) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim().parse().map(Number).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

type FieldPath = &'static [PathElement<'static>];

const COUNTRY_PATHS: &[FieldPath] = &[
    &[PathElement::Key("country"), PathElement::Key("iso_code")],
    &[
        PathElement::Key("registered_country"),
        PathElement::Key("iso_code"),
    ],
    &[PathElement::Key("country_code")],
    &[PathElement::Key("country")],
];
const CONTINENT_PATHS: &[FieldPath] = &[
    &[PathElement::Key("continent"), PathElement::Key("code")],
    &[PathElement::Key("continent_code")],
    &[PathElement::Key("continent")],
];
const LATITUDE_PATHS: &[FieldPath] = &[
    &[PathElement::Key("location"), PathElement::Key("latitude")],
    &[PathElement::Key("latitude")],
    &[PathElement::Key("lat")],
];
const LONGITUDE_PATHS: &[FieldPath] = &[
    &[PathElement::Key("location"), PathElement::Key("longitude")],
    &[PathElement::Key("longitude")],
    &[PathElement::Key("lng")],
    &[PathElement::Key("lon")],
];

/// The first of the configured path, then the known ones, that the record holds.
fn first<'a, T: Deserialize<'a>>(
    r: &maxminddb::LookupResult<'a, Source>,
    configured: Option<&[PathElement<'_>]>,
    known: &[FieldPath],
) -> Option<T> {
    configured
        .into_iter()
        .chain(known.iter().copied())
        .find_map(|p| r.decode_path::<T>(p).ok().flatten())
}

/// A configured dotted path as path elements (numbers index arrays).
fn elements(path: &Option<Vec<String>>) -> Option<Vec<PathElement<'_>>> {
    path.as_ref().map(|parts| {
        parts
            .iter()
            .map(|p| match p.parse::<usize>() {
                Ok(i) => PathElement::Index(i),
                Err(_) => PathElement::Key(p),
            })
            .collect()
    })
}

/// Configured field paths, borrowed as path elements while the database is decoded.
struct Paths<'a> {
    country: Option<Vec<PathElement<'a>>>,
    continent: Option<Vec<PathElement<'a>>>,
    latitude: Option<Vec<PathElement<'a>>>,
    longitude: Option<Vec<PathElement<'a>>>,
}

fn code(s: Option<String>) -> Option<[u8; 2]> {
    let s = s?;
    let b = s.as_bytes();
    (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
        .then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}

impl GeoDb {
    /// Opens a database file and decodes every record it holds.
    pub fn open(path: &Path, fields: &GeoFields) -> Result<GeoDb, GeoError> {
        let bytes = std::fs::read(path).map_err(|e| GeoError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        GeoDb::from_source(Cow::Owned(bytes), path, false, fields)
    }

    /// Opens the database built into the binary.
    pub fn shipped(fields: &GeoFields) -> Result<GeoDb, GeoError> {
        GeoDb::from_source(
            Cow::Borrowed(SHIPPED),
            Path::new(SHIPPED_NAME),
            true,
            fields,
        )
    }

    fn from_source(
        source: Source,
        path: &Path,
        shipped: bool,
        fields: &GeoFields,
    ) -> Result<GeoDb, GeoError> {
        let paths = Paths {
            country: elements(&fields.country),
            continent: elements(&fields.continent),
            latitude: elements(&fields.latitude),
            longitude: elements(&fields.longitude),
        };
        let err = |reason: String| GeoError::Open {
            path: path.to_path_buf(),
            reason,
        };
        let leaves = {
            let probe = Reader::from_source(&source[..]).map_err(|e| err(e.to_string()))?;
            let m = probe.metadata();
            let tree = SearchTree {
                bytes: &source[..],
                nodes: m.node_count as usize,
                record_bits: m.record_size,
                address_bits: if m.ip_version == 4 { 32 } else { 128 },
            };
            tree.one_address_per_record().ok_or_else(|| {
                err("the search tree is cut short or its record size is not 24, 28 or 32".into())
            })?
        };
        let reader = Reader::from_source(source).map_err(|e| err(e.to_string()))?;
        let database_type = reader.metadata().database_type.clone();
        let ipv4_only = reader.metadata().ip_version == 4;
        let mut places = Vec::with_capacity(leaves.len());
        let mut index = FxHashMap::default();
        for addr in leaves {
            let r = reader.lookup(addr).map_err(|e| err(e.to_string()))?;
            let Some(offset) = r.offset() else { continue };
            if index.contains_key(&offset) {
                continue;
            }
            index.insert(offset, places.len() as u32);
            places.push(decode_place(&r, &paths));
        }
        Ok(GeoDb {
            path: path.to_path_buf(),
            shipped,
            database_type,
            reader,
            places,
            index,
            ipv4_only,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Number of distinct records.
    pub fn records(&self) -> usize {
        self.places.len()
    }

    /// Locates an address. An IPv6 address in an IPv4-only database is no data.
    ///
    /// The walk is remembered per thread for the address's /24 or /56 when the database
    /// network that matched covers all of it ([`memo`]), so the next address there skips it.
    pub fn locate(&self, addr: IpAddr) -> Location {
        if self.ipv4_only && addr.is_ipv6() {
            return Location::unknown(0);
        }
        let (key, key_prefix) = memo::key(addr);
        let walked = memo::get(self.id, key).unwrap_or_else(|| {
            let walked = self.walk(addr);
            if walked.prefix <= key_prefix {
                memo::put(self.id, key, walked);
            }
            walked
        });
        self.location(walked)
    }

    /// The tree walk for `addr`: its record and the prefix of the network that matched.
    fn walk(&self, addr: IpAddr) -> Walked {
        let full = if addr.is_ipv4() { 32 } else { 128 };
        let Ok(r) = self.reader.lookup(addr) else {
            return Walked {
                record: NO_RECORD,
                prefix: full,
            };
        };
        Walked {
            record: r
                .offset()
                .and_then(|o| self.index.get(&o).copied())
                .unwrap_or(NO_RECORD),
            prefix: r.network().map(|n| n.prefix()).unwrap_or(full),
        }
    }

    fn location(&self, walked: Walked) -> Location {
        match self.places.get(walked.record as usize) {
            Some(p) => Location {
                country: p.country,
                continent: p.continent,
                coordinates: p.coordinates,
                position: p.position,
                coordinates_from: p.coordinates_from,
                network_prefix: walked.prefix,
            },
            None => Location::unknown(walked.prefix),
        }
    }
}

/// The left and right records of the node stored as `b` (6, 7 or 8 bytes: records of 24,
/// 28 or 32 bits); `None` for another length.
#[inline(always)]
fn node_records(b: &[u8]) -> Option<(usize, usize)> {
    let be = |b: &[u8]| b.iter().fold(0usize, |v, &x| (v << 8) | x as usize);
    Some(match b.len() {
        6 => (be(&b[..3]), be(&b[3..])),
        7 => (
            ((b[3] as usize & 0xf0) << 20) | be(&b[..3]),
            ((b[3] as usize & 0x0f) << 24) | be(&b[4..]),
        ),
        8 => (be(&b[..4]), be(&b[4..])),
        _ => return None,
    })
}

/// The search tree of a MaxMind DB (its first `nodes × record_bits / 4` bytes).
struct SearchTree<'b> {
    bytes: &'b [u8],
    nodes: usize,
    record_bits: u16,
    address_bits: u32,
}

impl SearchTree<'_> {
    /// Bytes per node; `None` for a record size other than 24, 28 or 32 bits.
    fn node_bytes(&self) -> Option<usize> {
        matches!(self.record_bits, 24 | 28 | 32).then_some(self.record_bits as usize / 4)
    }

    /// The left (`side` 0) or right record of node `node`; `None` past the end.
    fn record(&self, node: usize, side: usize) -> Option<usize> {
        let size = self.node_bytes()?;
        let b = self.bytes.get(node * size..(node + 1) * size)?;
        let (left, right) = node_records(b)?;
        Some(if side == 0 { left } else { right })
    }

    /// An address in a network of every distinct data record. The nodes are read once, in
    /// the order they are stored, noting each node's parent and where each record is
    /// first pointed to; each record's address is then spelled by climbing from there to
    /// the root. (A walk down the tree from the root reads the same nodes out of order:
    /// it was most of a start's 0.1 s spent on the database.) A tree this cannot climb
    /// (a node no parent points to, or a loop) is walked down instead, which decides.
    /// `None` when the tree is malformed (cut short, or an unknown record size).
    fn one_address_per_record(&self) -> Option<Vec<IpAddr>> {
        self.climbed().or_else(|| self.walked())
    }

    /// [`SearchTree::one_address_per_record`] by parents; `None` when some record's
    /// address cannot be found that way.
    fn climbed(&self) -> Option<Vec<IpAddr>> {
        const NO_PARENT: u32 = u32::MAX;
        // Parents are stored as `node × 2 + side` in a u32.
        if self.nodes >= (NO_PARENT / 2) as usize {
            return None;
        }
        let size = self.node_bytes()?;
        let tree = self.bytes.get(..self.nodes.checked_mul(size)?)?;
        let mut parent = vec![NO_PARENT; self.nodes];
        // Data records seen, by their distance past the node count (a record that points
        // past the end of the file is the walk's to judge): most of the tree's records
        // are data, and a bit per byte of the file costs less than a hash set of them.
        let mut seen = vec![0u64; self.bytes.len() / 64 + 1];
        // (node, side) where each distinct data record is first pointed to.
        let mut first = Vec::new();
        let mut note = |node: usize, side: usize, record: usize| -> Option<()> {
            if record < self.nodes {
                // The root has none; an aliased subtree keeps its first parent.
                if record != 0 && parent[record] == NO_PARENT {
                    parent[record] = (node * 2 + side) as u32;
                }
            } else if record > self.nodes {
                let bit = record - self.nodes;
                let word = seen.get_mut(bit / 64)?;
                if *word & (1 << (bit % 64)) == 0 {
                    *word |= 1 << (bit % 64);
                    first.push((node, side));
                }
            }
            Some(())
        };
        for (node, b) in tree.chunks_exact(size).enumerate() {
            let (left, right) = node_records(b)?;
            note(node, 0, left)?;
            note(node, 1, right)?;
        }
        let mut out = Vec::with_capacity(first.len());
        for (node, side) in first {
            let (mut bits, mut depth, mut at) = (side as u128, 1u32, node);
            while at != 0 {
                let up = *parent.get(at)?;
                if up == NO_PARENT || depth >= self.address_bits {
                    return None;
                }
                bits |= ((up & 1) as u128) << depth;
                at = (up / 2) as usize;
                depth += 1;
            }
            let address = bits.checked_shl(self.address_bits - depth).unwrap_or(0);
            out.push(match self.address_bits {
                32 => IpAddr::from(std::net::Ipv4Addr::from(address as u32)),
                _ => IpAddr::from(std::net::Ipv6Addr::from(address)),
            });
        }
        Some(out)
    }

    /// [`SearchTree::one_address_per_record`] by a walk down from the root, visiting each
    /// node once (so the IPv4 subtree that IPv6 databases alias several times is walked
    /// once, not per alias as iterating the networks does).
    fn walked(&self) -> Option<Vec<IpAddr>> {
        let mut visited = vec![false; self.nodes];
        // Data records: a distinct record value is a distinct record.
        let mut seen = rustc_hash::FxHashSet::default();
        let mut out = Vec::new();
        // (node, the address bits above it, how many)
        let mut stack = vec![(0usize, 0u128, 0u32)];
        while let Some((node, bits, depth)) = stack.pop() {
            if node >= self.nodes || std::mem::replace(&mut visited[node], true) {
                continue;
            }
            if depth >= self.address_bits {
                return None;
            }
            for side in [0, 1] {
                let record = self.record(node, side)?;
                let bits = (bits << 1) | side as u128;
                if record < self.nodes {
                    stack.push((record, bits, depth + 1));
                } else if record > self.nodes && seen.insert(record) {
                    let shift = self.address_bits - (depth + 1);
                    let address = bits.checked_shl(shift).unwrap_or(0);
                    out.push(match self.address_bits {
                        32 => IpAddr::from(std::net::Ipv4Addr::from(address as u32)),
                        _ => IpAddr::from(std::net::Ipv6Addr::from(address)),
                    });
                }
            }
        }
        Some(out)
    }
}

fn decode_place(r: &maxminddb::LookupResult<'_, Source>, paths: &Paths<'_>) -> Place {
    let country = code(first::<String>(r, paths.country.as_deref(), COUNTRY_PATHS));
    let mut continent = code(first::<String>(
        r,
        paths.continent.as_deref(),
        CONTINENT_PATHS,
    ));
    if continent.is_none() {
        continent = country.and_then(centroids::continent_of);
    }
    let lat = first::<Number>(r, paths.latitude.as_deref(), LATITUDE_PATHS).map(|n| n.0);
    let lon = first::<Number>(r, paths.longitude.as_deref(), LONGITUDE_PATHS).map(|n| n.0);
    let (coordinates, coordinates_from) = match (lat, lon) {
        (Some(la), Some(lo))
            if la.is_finite() && lo.is_finite() && la.abs() <= 90.0 && lo.abs() <= 180.0 =>
        {
            (Some((la, lo)), CoordinatesFrom::Record)
        }
        _ => match country.and_then(centroids::country) {
            Some(c) => (Some(c), CoordinatesFrom::CountryCentroid),
            None => match continent.and_then(centroids::continent) {
                Some(c) => (Some(c), CoordinatesFrom::ContinentCentroid),
                None => (None, CoordinatesFrom::None),
            },
        },
    };
    Place {
        country,
        continent,
        coordinates,
        position: coordinates.map(|(lat, lon)| Position::of(lat, lon)),
        coordinates_from,
    }
}

#[cfg(test)]
mod tests;

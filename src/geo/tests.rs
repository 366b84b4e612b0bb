//! Reading every layout we support, from the fixture databases in `tests/data/`.

use super::*;
use std::collections::BTreeMap;

fn fixture(file: &str) -> GeoDb {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    GeoDb::open(&path, &GeoFields::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn code(c: Option<[u8; 2]>) -> String {
    c.map(|c| String::from_utf8_lossy(&c).into_owned())
        .unwrap_or_default()
}

/// address → country, continent, coordinates (rounded to 0.01°), their source, prefix.
type Row<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<(f64, f64)>,
    CoordinatesFrom,
    u8,
);

fn check(db: &GeoDb, rows: &[Row]) {
    for (addr, country, continent, coords, from, prefix) in rows {
        let l = db.locate(ip(addr));
        let got = l
            .coordinates
            .map(|(a, o)| ((a * 100.0).round() / 100.0, (o * 100.0).round() / 100.0));
        assert_eq!(
            (
                code(l.country),
                code(l.continent),
                got,
                l.coordinates_from,
                l.network_prefix
            ),
            (
                country.to_string(),
                continent.to_string(),
                *coords,
                *from,
                *prefix
            ),
            "{addr} in {}",
            db.path.display()
        );
    }
}

#[test]
fn geoip2_city_layout() {
    use CoordinatesFrom::*;
    check(
        &fixture("meridian-test-city.mmdb"),
        &[
            ("192.0.2.77", "US", "NA", Some((37.77, -122.42)), Record, 24),
            (
                "198.51.100.1",
                "US",
                "NA",
                Some((40.71, -74.01)),
                Record,
                24,
            ),
            (
                "203.0.113.9",
                "AU",
                "OC",
                Some((-33.87, 151.21)),
                Record,
                24,
            ),
            (
                "2001:db8:1::1",
                "GB",
                "EU",
                Some((51.51, -0.13)),
                Record,
                32,
            ),
            (
                "::ffff:192.0.2.1",
                "US",
                "NA",
                Some((37.77, -122.42)),
                Record,
                120,
            ),
            // A country without a location: the country's centroid.
            (
                "198.18.3.1",
                "FR",
                "EU",
                crate::geo::centroids::country(*b"FR").map(round),
                CountryCentroid,
                24,
            ),
            // A continent only: the continent's centroid.
            (
                "198.18.4.1",
                "",
                "EU",
                crate::geo::centroids::continent(*b"EU").map(round),
                ContinentCentroid,
                24,
            ),
        ],
    );
    // Not in the database (private range): no data, with the prefix of the gap.
    let l = fixture("meridian-test-city.mmdb").locate(ip("10.1.2.3"));
    assert_eq!((l.country, l.coordinates), (Option::None, Option::None));
    assert!(
        l.network_prefix > 0 && l.network_prefix <= 32,
        "{}",
        l.network_prefix
    );
}

fn round(c: (f64, f64)) -> (f64, f64) {
    ((c.0 * 100.0).round() / 100.0, (c.1 * 100.0).round() / 100.0)
}

#[test]
fn ipv4_only_database_has_no_data_for_ipv6() {
    let db = fixture("meridian-test-city-ipv4.mmdb");
    assert_eq!(code(db.locate(ip("192.0.2.1")).country), "US");
    let l = db.locate(ip("2001:db8::1"));
    assert_eq!((l.country, l.coordinates), (None, None));
}

#[test]
fn country_database_falls_back_to_country_centroids() {
    let db = fixture("meridian-test-country.mmdb");
    let l = db.locate(ip("203.0.113.1"));
    assert_eq!(code(l.country), "AU");
    assert_eq!(l.coordinates_from, CoordinatesFrom::CountryCentroid);
    assert_eq!(l.coordinates, crate::geo::centroids::country(*b"AU"));
}

#[test]
fn flat_layout_with_32_bit_floats() {
    let db = fixture("meridian-test-flat.mmdb");
    let l = db.locate(ip("192.0.2.1"));
    assert_eq!(code(l.country), "US");
    assert_eq!(code(l.continent), "NA", "continent from the country table");
    let (lat, lon) = l.coordinates.unwrap();
    assert!((lat - 37.7749).abs() < 1e-4 && (lon + 122.4194).abs() < 1e-4);
}

#[test]
fn configured_field_paths_come_first() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/meridian-test-city.mmdb");
    // Point longitude at the latitude field: the configured path wins over the known one.
    let fields = GeoFields {
        longitude: Some(vec!["location".into(), "latitude".into()]),
        ..GeoFields::default()
    };
    let db = GeoDb::open(&path, &fields).unwrap();
    let (lat, lon) = db.locate(ip("192.0.2.1")).coordinates.unwrap();
    assert_eq!(lat, lon);
}

#[test]
fn maxmind_test_databases() {
    let db = fixture("maxmind/GeoIP2-City-Test.mmdb");
    let l = db.locate(ip("81.2.69.160"));
    assert_eq!(
        (code(l.country), code(l.continent)),
        ("GB".into(), "EU".into())
    );
    assert!(l.coordinates.is_some());
    let db = fixture("maxmind/GeoIP2-Country-Test.mmdb");
    assert_eq!(
        db.locate(ip("81.2.69.160")).coordinates_from,
        CoordinatesFrom::CountryCentroid
    );
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_naming_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/not-an-mmdb.mmdb");
    let err = GeoDb::open(&path, &GeoFields::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-an-mmdb.mmdb"), "{err}");
}

#[test]
fn shipped_database_splits_large_countries() {
    let db = fixture("../../geodata/meridian-city.mmdb");
    let far = |a: &str, b: &str| {
        let (x, y) = (
            db.locate(ip(a)).coordinates.unwrap(),
            db.locate(ip(b)).coordinates.unwrap(),
        );
        crate::route::distance_km(x.0, x.1, y.0, y.1)
    };
    // California vs New York; Perth vs Sydney; Vancouver vs Toronto; Moscow vs Vladivostok.
    assert!(far("8.8.8.8", "173.52.0.1") > 3000.0);
    assert!(far("130.95.0.1", "13.54.0.1") > 2500.0);
    assert!(far("137.82.0.1", "99.224.0.1") > 2500.0);
    assert!(far("77.88.55.55", "77.35.192.1") > 5000.0);
}

// Issue 11: each thread remembers recent walks by client /24 or /56 (`memo`). A lookup
// must give exactly what walking the tree gives, whatever the memo holds.

/// `locate` as it was before the memo: the walk alone.
fn walked(db: &GeoDb, addr: IpAddr) -> Location {
    db.location(db.walk(addr))
}

#[test]
fn remembered_walks_give_what_the_walk_gives() {
    // Database networks longer than the /24 or /56 the memo is keyed by (MaxMind's test
    // database has some; ours has none): the network's first address, then its sibling
    // (the other half of the network one bit shorter, inside the same /24 or /56).
    let db = fixture("maxmind/GeoIP2-City-Test.mmdb");
    let mut pairs = Vec::new();
    for r in db.reader.networks(Default::default()).unwrap() {
        let net = r.unwrap().network().unwrap();
        let (first, sibling) = match net.network() {
            IpAddr::V4(a) if net.prefix() > 24 && net.prefix() <= 32 => {
                let bit = 1u32 << (32 - net.prefix());
                (IpAddr::V4(a), IpAddr::V4((u32::from(a) ^ bit).into()))
            }
            IpAddr::V6(a)
                if net.prefix() > 56 && net.prefix() <= 128 && a.to_ipv4_mapped().is_none() =>
            {
                let bit = 1u128 << (128 - net.prefix());
                (IpAddr::V6(a), IpAddr::V6((u128::from(a) ^ bit).into()))
            }
            _ => continue,
        };
        pairs.push((first, sibling));
        if pairs.len() >= 400 {
            break;
        }
    }
    assert!(pairs.len() >= 8, "{} long networks", pairs.len());
    let mut differ = 0;
    for (a, b) in &pairs {
        let (want_a, want_b) = (walked(&db, *a), walked(&db, *b));
        differ += (want_a != want_b) as usize;
        for _ in 0..2 {
            assert_eq!(db.locate(*a), want_a, "{a}");
            assert_eq!(db.locate(*b), want_b, "{b} after {a}");
        }
    }
    assert!(differ > 0, "some sibling networks are placed differently");
    let db = fixture("../../geodata/meridian-city.mmdb");
    // And a spread over the whole address space, each address asked twice (the second
    // time from the memo where it may be), then a neighbour in the same /24 or /56.
    for i in 0..20_000u32 {
        let v4 = IpAddr::V4(i.wrapping_mul(0x9E37_79B1).into());
        let v6 = IpAddr::V6(
            ((0x2000u128 << 112) | ((i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15) << 56)).into(),
        );
        for a in [v4, v6] {
            let want = walked(&db, a);
            let position = want.coordinates.map(|(lat, lon)| Position::of(lat, lon));
            assert_eq!(want.position, position, "{a}: the record's point");
            assert_eq!(db.locate(a), want, "{a}");
            assert_eq!(db.locate(a), want, "{a} again");
            let near = match a {
                IpAddr::V4(x) => IpAddr::V4((u32::from(x) ^ 0x7F).into()),
                IpAddr::V6(x) => IpAddr::V6((u128::from(x) ^ 0xFFFF).into()),
            };
            assert_eq!(db.locate(near), walked(&db, near), "{near} after {a}");
        }
    }
}

#[test]
fn remembered_walks_are_bounded() {
    let db = fixture("meridian-test-city.mmdb");
    // Three times as many /24s as the memo has slots (none in the database: one gap).
    let slots = memo::SETS * memo::WAYS;
    for i in 0..3 * slots as u32 {
        let a = IpAddr::V4((i << 8).into());
        assert_eq!(
            db.locate(a),
            Location::unknown(walked(&db, a).network_prefix)
        );
    }
    assert_eq!(memo::capacity(), slots);
    let held = memo::held(db.id);
    assert!(held > slots / 2 && held <= slots, "{held}");
}

#[test]
fn a_new_database_is_not_answered_from_an_older_ones_walks() {
    let a = ip("203.0.113.9");
    let city = fixture("meridian-test-city.mmdb");
    assert_eq!(city.locate(a).coordinates_from, CoordinatesFrom::Record);
    assert_eq!(city.locate(a).coordinates_from, CoordinatesFrom::Record);
    // Another database (as after a reload with a changed file): its own answer.
    let country = fixture("meridian-test-country.mmdb");
    assert_ne!(country.id, city.id);
    let l = country.locate(a);
    assert_eq!(code(l.country), "AU");
    assert_eq!(l.coordinates_from, CoordinatesFrom::CountryCentroid);
    // The first is still answered right while both are open.
    assert_eq!(city.locate(a).coordinates_from, CoordinatesFrom::Record);
    assert_eq!(
        country.locate(a).coordinates_from,
        CoordinatesFrom::CountryCentroid
    );
}

/// Every record the networks of `db` reach, by data offset, decoded: what the load read
/// before it walked the search tree itself.
fn records_by_networks(db: &GeoDb) -> BTreeMap<usize, Place> {
    let paths = Paths {
        country: None,
        continent: None,
        latitude: None,
        longitude: None,
    };
    let mut out = BTreeMap::new();
    for item in db.reader.networks(Default::default()).unwrap() {
        let r = item.unwrap();
        if let Some(offset) = r.offset() {
            out.entry(offset)
                .or_insert_with(|| decode_place(&r, &paths));
        }
    }
    out
}

/// Every database of `tests/data` (and the shipped one), relative to `tests/data`.
const EVERY_DATABASE: [&str; 8] = [
    "../../geodata/meridian-city.mmdb",
    "meridian-test-city.mmdb",
    "meridian-test-city-ipv4.mmdb",
    "meridian-test-country.mmdb",
    "meridian-test-flat.mmdb",
    "maxmind/GeoIP2-City-Test.mmdb",
    "maxmind/GeoIP2-Country-Test.mmdb",
    "maxmind/GeoLite2-City-Test.mmdb",
];

#[test]
fn every_record_the_networks_reach_is_decoded_once() {
    for file in EVERY_DATABASE {
        let db = fixture(file);
        let decoded: BTreeMap<usize, Place> = db
            .index
            .iter()
            .map(|(&offset, &i)| (offset, db.places[i as usize]))
            .collect();
        assert_eq!(decoded.len(), db.places.len(), "{file}: a record twice");
        assert_eq!(decoded, records_by_networks(&db), "{file}");
    }
}

/// The search tree of `db`'s file, as the load reads it.
fn tree_of(source: &[u8]) -> SearchTree<'_> {
    let reader = Reader::from_source(source).unwrap();
    let m = reader.metadata();
    SearchTree {
        bytes: source,
        nodes: m.node_count as usize,
        record_bits: m.record_size,
        address_bits: if m.ip_version == 4 { 32 } else { 128 },
    }
}

#[test]
fn climbing_from_the_records_finds_what_walking_down_finds() {
    for file in EVERY_DATABASE {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file);
        let source = std::fs::read(&path).unwrap();
        let tree = tree_of(&source);
        let climbed = tree
            .climbed()
            .unwrap_or_else(|| panic!("{file}: not climbed"));
        let walked = tree.walked().unwrap();
        // The same records, each at an address of its own network (which address may
        // differ: an aliased subtree is reached from either side).
        let reader = Reader::from_source(&source[..]).unwrap();
        let records = |addresses: &[IpAddr]| -> BTreeMap<usize, usize> {
            let mut out = BTreeMap::new();
            for &a in addresses {
                let offset = reader.lookup(a).unwrap().offset().unwrap();
                *out.entry(offset).or_default() += 1;
            }
            out
        };
        let (by_climbing, by_walking) = (records(&climbed), records(&walked));
        assert_eq!(by_climbing, by_walking, "{file}");
        assert!(
            by_climbing.values().all(|&n| n == 1),
            "{file}: a record twice"
        );
        assert_eq!(climbed.len(), walked.len(), "{file}");
    }
}

#[test]
fn a_tree_that_cannot_be_climbed_is_walked_down() {
    // 24-bit records, IPv4; a record value above the node count is data.
    let node = |left: u32, right: u32| {
        let mut b = left.to_be_bytes()[1..].to_vec();
        b.extend_from_slice(&right.to_be_bytes()[1..]);
        b
    };
    let nodes = 3;
    let (data_a, data_b, empty) = (nodes + 16, nodes + 40, nodes);
    // Node 2 is pointed to by nothing: its record is in no network.
    let bytes: Vec<u8> = [node(1, data_a), node(empty, data_a), node(data_b, data_b)].concat();
    let tree = SearchTree {
        bytes: &bytes,
        nodes: nodes as usize,
        record_bits: 24,
        address_bits: 32,
    };
    assert_eq!(tree.climbed(), None);
    let found = tree.one_address_per_record().unwrap();
    assert_eq!(found, [ip("128.0.0.0")]);
    // A loop: node 1 points back to the root (its first parent is still node 0).
    let looped: Vec<u8> = [node(1, data_a), node(0, data_b)].concat();
    let tree = SearchTree {
        bytes: &looped,
        nodes: 2,
        record_bits: 24,
        address_bits: 32,
    };
    let mut found = tree.one_address_per_record().unwrap();
    found.sort();
    assert_eq!(found, [ip("64.0.0.0"), ip("128.0.0.0")]);
    // Cut short: no answer either way.
    let cut = &bytes[..7];
    let tree = SearchTree {
        bytes: cut,
        nodes: 3,
        record_bits: 24,
        address_bits: 32,
    };
    assert_eq!(tree.one_address_per_record(), None);
}

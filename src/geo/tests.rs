//! Reading every layout we support, from the fixture databases in `tests/data/`.

use super::*;

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

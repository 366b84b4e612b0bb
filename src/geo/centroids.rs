//! Fallback coordinates for databases that carry a country but no location
//! (GeoLite2-Country, IPinfo country): country centroids from `geodata/centroids.tsv`,
//! then continent centroids.

use std::collections::HashMap;
use std::sync::OnceLock;

/// `geodata/centroids.tsv`: a header row (kind, code, continent, latitude, longitude, ...),
/// then one row per country and per continent.
const TABLE: &str = include_str!("../../geodata/centroids.tsv");

struct Centroid {
    continent: [u8; 2],
    lat: f64,
    lon: f64,
}

/// Countries and continents, each by code.
struct Tables {
    countries: HashMap<[u8; 2], Centroid>,
    continents: HashMap<[u8; 2], (f64, f64)>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut tables = Tables {
            countries: HashMap::new(),
            continents: HashMap::new(),
        };
        let mut lines = TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let (Some(kind), Some(code), Some(continent), Some(lat), Some(lon)) = (
            col("kind"),
            col("code"),
            col("continent"),
            col("latitude"),
            col("longitude"),
        ) else {
            return tables;
        };
        for line in lines {
            let f: Vec<&str> = line.split('\t').collect();
            let field = |i: usize| f.get(i).map(|s| s.trim()).unwrap_or_default();
            let (Some(c), Ok(la), Ok(lo)) =
                (two(field(code)), field(lat).parse(), field(lon).parse())
            else {
                continue;
            };
            match field(kind) {
                "country" => {
                    if let Some(k) = two(field(continent)) {
                        tables.countries.insert(
                            c,
                            Centroid {
                                continent: k,
                                lat: la,
                                lon: lo,
                            },
                        );
                    }
                }
                "continent" => {
                    tables.continents.insert(c, (la, lo));
                }
                _ => {}
            }
        }
        tables
    })
}

fn two(s: &str) -> Option<[u8; 2]> {
    let b = s.trim().as_bytes();
    (b.len() == 2).then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}

/// A country's centroid (latitude, longitude).
pub fn country(code: [u8; 2]) -> Option<(f64, f64)> {
    tables().countries.get(&code).map(|c| (c.lat, c.lon))
}

/// The continent a country is on.
pub fn continent_of(code: [u8; 2]) -> Option<[u8; 2]> {
    tables().countries.get(&code).map(|c| c.continent)
}

/// A continent's centroid (latitude, longitude).
pub fn continent(code: [u8; 2]) -> Option<(f64, f64)> {
    tables().continents.get(&code).copied()
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_has_countries_and_continents() {
        for (code, continent) in [
            (*b"US", *b"NA"),
            (*b"DE", *b"EU"),
            (*b"AU", *b"OC"),
            (*b"JP", *b"AS"),
            (*b"BR", *b"SA"),
            (*b"AF", *b"AS"),
        ] {
            assert!(
                super::country(code).is_some(),
                "{}",
                String::from_utf8_lossy(&code)
            );
            assert_eq!(super::continent_of(code), Some(continent));
        }
        for c in [*b"AF", *b"AN", *b"AS", *b"EU", *b"NA", *b"OC", *b"SA"] {
            assert!(
                super::continent(c).is_some(),
                "{}",
                String::from_utf8_lossy(&c)
            );
        }
        // Continent AF (Africa) and country AF (Afghanistan) are kept apart.
        let africa = super::continent(*b"AF").unwrap();
        let afghanistan = super::country(*b"AF").unwrap();
        assert!((africa.0 - afghanistan.0).abs() > 10.0);
    }
}

//! Fallback coordinates for databases that carry a country but no location
//! (GeoLite2-Country, IPinfo country): country centroids from `geodata/centroids.tsv`,
//! then continent centroids.

use std::collections::HashMap;
use std::sync::OnceLock;

/// `geodata/centroids.tsv`: a header row, then country code, continent, latitude, longitude.
const TABLE: &str = include_str!("../../geodata/centroids.tsv");

struct Centroid {
    continent: [u8; 2],
    lat: f64,
    lon: f64,
}

fn table() -> &'static HashMap<[u8; 2], Centroid> {
    static TABLE_MAP: OnceLock<HashMap<[u8; 2], Centroid>> = OnceLock::new();
    TABLE_MAP.get_or_init(|| {
        let mut lines = TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim()));
        let (Some(c), Some(k), Some(la), Some(lo)) = (
            col(&["code", "country", "iso_code"]),
            col(&["continent"]),
            col(&["latitude", "lat"]),
            col(&["longitude", "lon"]),
        ) else {
            return HashMap::new();
        };
        lines
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let code = two(f.get(c)?)?;
                Some((
                    code,
                    Centroid {
                        continent: two(f.get(k)?)?,
                        lat: f.get(la)?.trim().parse().ok()?,
                        lon: f.get(lo)?.trim().parse().ok()?,
                    },
                ))
            })
            .collect()
    })
}

fn two(s: &str) -> Option<[u8; 2]> {
    let b = s.trim().as_bytes();
    (b.len() == 2).then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}

/// A country's centroid (latitude, longitude).
pub fn country(code: [u8; 2]) -> Option<(f64, f64)> {
    table().get(&code).map(|c| (c.lat, c.lon))
}

/// The continent a country is on.
pub fn continent_of(code: [u8; 2]) -> Option<[u8; 2]> {
    table().get(&code).map(|c| c.continent)
}

/// A continent's rough centre of population (latitude, longitude).
pub fn continent(code: [u8; 2]) -> Option<(f64, f64)> {
    Some(match &code {
        b"AF" => (7.2, 21.1),
        b"AN" => (-80.0, 0.0),
        b"AS" => (29.8, 94.0),
        b"EU" => (50.0, 10.0),
        b"NA" => (39.0, -96.0),
        b"OC" => (-25.0, 140.0),
        b"SA" => (-15.0, -60.0),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_has_the_big_countries() {
        for (code, continent) in [
            (*b"US", *b"NA"),
            (*b"DE", *b"EU"),
            (*b"AU", *b"OC"),
            (*b"JP", *b"AS"),
            (*b"BR", *b"SA"),
        ] {
            assert!(
                super::country(code).is_some(),
                "{}",
                String::from_utf8_lossy(&code)
            );
            assert_eq!(super::continent_of(code), Some(continent));
        }
    }
}

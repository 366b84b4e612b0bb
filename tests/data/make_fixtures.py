#!/usr/bin/env python3
"""Recipe for Meridian's own small MMDB test fixtures (see README.md in this folder).

    python3 tests/data/make_fixtures.py [--out tests/data]

Deterministic: the same script writes the same bytes (fixed build_epoch, no clock).
Standard library only; uses our writer, geodata/mmdbwrite.py.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "geodata"))

from mmdbwrite import Float32, Uint16, Writer  # noqa: E402

BUILD_EPOCH = 1767225600   # 2026-01-01T00:00:00Z, fixed

# The places. Test and documentation networks only (RFC 5737 IPv4 TEST-NET-1/2/3,
# RFC 2544 198.18.0.0/15 benchmarking, RFC 3849 2001:db8::/32, RFC 9637 3fff::/20).
# (network, country, continent, subdivision, lat, lon, city, names of country)
PLACES = [
    ("192.0.2.0/24", "US", "NA", "CA", 37.7749, -122.4194, "San Francisco", "United States"),
    ("198.51.100.0/24", "US", "NA", "NY", 40.7128, -74.0060, "New York", "United States"),
    ("203.0.113.0/24", "AU", "OC", "NSW", -33.8688, 151.2093, "Sydney", "Australia"),
    ("198.18.0.0/24", "JP", "AS", "13", 35.6895, 139.6917, "Tokyo", "Japan"),
    ("198.18.1.0/24", "DE", "EU", "HE", 50.1109, 8.6821, "Frankfurt am Main", "Germany"),
    ("198.18.2.0/24", "BR", "SA", "SP", -23.5505, -46.6333, "Sao Paulo", "Brazil"),
    ("2001:db8::/32", "GB", "EU", None, 51.5074, -0.1278, "London", "United Kingdom"),
    ("3fff::/20", "JP", "AS", "13", 35.6895, 139.6917, "Tokyo", "Japan"),
]
# Partial records, to test fallbacks:
COUNTRY_ONLY = ("198.18.3.0/24", "FR", "EU", "France")    # country, no location
CONTINENT_ONLY = ("198.18.4.0/24", "EU")                  # continent, no country
STATE_NAMES = {"CA": "California", "NY": "New York", "NSW": "New South Wales",
               "13": "Tokyo", "HE": "Hesse", "SP": "Sao Paulo"}   # as DB-IP's state1
CONTINENT_NAMES = {"AS": "Asia", "EU": "Europe", "NA": "North America",
                   "OC": "Oceania", "SA": "South America"}


def ranges_of(items, ip_version):
    """[(network, record)] -> sorted (first, last, record) in the database's space."""
    out = []
    for net, rid in items:
        n = ipaddress.ip_network(net)
        if n.version == 6 and ip_version == 4:
            continue
        out.append((int(n.network_address), int(n.broadcast_address), rid))
    return sorted(out)


def city_record(p, with_location=True):
    net, cc, cont, sub, lat, lon, city, cname = p
    rec = {
        "continent": {"code": cont, "names": {"en": CONTINENT_NAMES[cont]}},
        "country": {"iso_code": cc, "names": {"en": cname}},
        "registered_country": {"iso_code": cc, "names": {"en": cname}},
    }
    if with_location:
        rec["city"] = {"names": {"en": city}}
        rec["location"] = {"latitude": float(lat), "longitude": float(lon),
                           "accuracy_radius": Uint16(20)}
        if sub:
            rec["subdivisions"] = [{"iso_code": sub}]
    return rec


def write_city(path, ip_version, database_type):
    w = Writer(ip_version=ip_version, database_type=database_type, build_epoch=BUILD_EPOCH,
               languages=["en"],
               description={"en": "Meridian test fixture, GeoIP2-City layout "
                                  "(tests/data/make_fixtures.py)"})
    items = [(p[0], w.add_record(city_record(p))) for p in PLACES]
    net, cc, cont, cname = COUNTRY_ONLY
    items.append((net, w.add_record({"continent": {"code": cont},
                                     "country": {"iso_code": cc, "names": {"en": cname}}})))
    net, cont = CONTINENT_ONLY
    items.append((net, w.add_record({"continent": {"code": cont,
                                                   "names": {"en": CONTINENT_NAMES[cont]}}})))
    return w.write(path, ranges_of(items, ip_version))


def write_country(path):
    w = Writer(ip_version=6, database_type="Meridian-Test-Country", build_epoch=BUILD_EPOCH,
               languages=["en"],
               description={"en": "Meridian test fixture, GeoIP2-Country layout "
                                  "(no location) (tests/data/make_fixtures.py)"})
    items = [(p[0], w.add_record(city_record(p, with_location=False))) for p in PLACES]
    net, cc, cont, cname = COUNTRY_ONLY
    items.append((net, w.add_record({"continent": {"code": cont},
                                     "country": {"iso_code": cc, "names": {"en": cname}}})))
    net, cont = CONTINENT_ONLY
    items.append((net, w.add_record({"continent": {"code": cont}})))
    return w.write(path, ranges_of(items, 6))


def write_flat(path):
    """Flat layout as in DB-IP Lite packaged by ip-location-db (and similar to the
    flat layouts of IPinfo-style databases): top-level keys, 32-bit float coordinates."""
    w = Writer(ip_version=6, database_type="Meridian-Test-Flat", build_epoch=BUILD_EPOCH,
               description={"en": "Meridian test fixture, flat layout: country_code, "
                                  "latitude, longitude at top level "
                                  "(tests/data/make_fixtures.py)"})
    items = []
    for net, cc, cont, sub, lat, lon, city, cname in PLACES:
        items.append((net, w.add_record({
            "country_code": cc, "state1": STATE_NAMES.get(sub, ""), "city": city,
            "latitude": Float32(lat), "longitude": Float32(lon)})))
    net, cc, cont, cname = COUNTRY_ONLY
    items.append((net, w.add_record({"country_code": cc})))
    return w.write(path, ranges_of(items, 6))


FIXTURES = [
    ("meridian-test-city.mmdb", lambda p: write_city(p, 6, "Meridian-Test-City")),
    ("meridian-test-city-ipv4.mmdb", lambda p: write_city(p, 4, "Meridian-Test-City")),
    ("meridian-test-country.mmdb", write_country),
    ("meridian-test-flat.mmdb", write_flat),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=HERE, help="folder to write to (default: this one)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name, make in FIXTURES:
        path = os.path.join(args.out, name)
        stats = make(path)
        print(f"{name}: {stats['file_bytes']} bytes, {stats['node_count']} nodes, "
              f"{stats['records']} records")
    # Not a database at all: the metadata marker is missing.
    with open(os.path.join(args.out, "not-an-mmdb.mmdb"), "wb") as fh:
        fh.write(b"this is not a MaxMind DB file\n" * 4)
    print("not-an-mmdb.mmdb: 120 bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

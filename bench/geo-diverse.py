#!/usr/bin/env python3
"""Geo answers for diverse clients vs static answers, as queries per server CPU-second.

One load-balanced name, 8 regions x 2 endpoints (policy nearest), asked with ECS from
clients all over the world (bench/queries/geo-diverse-clients.tsv: up to 16 /24 networks
in each of the ~240 countries of the shipped database), against the same queries
answered from a static A record. Both servers are the same release binary; the peer
benchmark (../shared/bench/bench.py, `--configs pinned`: server on CPU 0 with one UDP
worker, dnsperf on CPU 1) runs them interleaved and measures each server's CPU time from
/proc. The ratio geo / static of one run is the figure (issue 11 asks >= 0.90).

    bench/geo-diverse.py run [--reps 3] [--duration 15] [--clients all|country]
                             [--baseline BIN] [--no-build] [--out FILE]
                             [--bench-args "ARGS"]  # more bench.py run arguments
    bench/geo-diverse.py table FILE          # the table of an earlier run
    bench/geo-diverse.py queries OUT [--clients all|country]
    bench/geo-diverse.py clients             # remake the clients file (needs maxminddb)
    bench/geo-diverse.py serve static|geo RUNDIR PORT THREADS PBDIR   # bench.py calls this

`--clients country`: one network per country (the clients the issue names); `all`
(default): every network of the clients file, so that successive queries rarely share a
/24. `--baseline BIN`: also run both servers from another binary (e.g. an older build) in
the same interleaved pass, as `meridian-static-base` and `meridian-geo-diverse-base`. dnsperf reads the queries as wire messages (-B), each with its own ECS option.
Stdlib only, except `clients`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import shlex
import statistics
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLIENTS = os.path.join(HERE, "queries", "geo-diverse-clients.tsv")
NAME = "geo.example.test"
PER_COUNTRY = 16

# Where the endpoints are: eight world regions (as geodata/verify.py's WORLD_REGIONS).
REGIONS = {
    "us-west": (37.34, -121.89),        # San Jose
    "us-east": (39.04, -77.49),         # Ashburn
    "sa-east": (-23.55, -46.63),        # Sao Paulo
    "eu-west": (53.35, -6.26),          # Dublin
    "eu-central": (50.11, 8.68),        # Frankfurt
    "ap-south": (19.08, 72.88),         # Mumbai
    "ap-northeast": (35.68, 139.69),    # Tokyo
    "ap-southeast": (-33.87, 151.21),   # Sydney
}


# ----------------------------------------------------------------------------- clients

def make_clients(db_path):
    """Up to PER_COUNTRY IPv4 networks (of /24 or wider) per country, evenly spread over
    that country's networks in the database, each written as its first /24."""
    import maxminddb  # geodata/requirements.txt

    by_country = {}
    with maxminddb.open_database(db_path) as reader:
        for net, rec in reader:
            if net.version != 4 or net.prefixlen > 24 or not isinstance(rec, dict):
                continue
            code = (rec.get("country") or {}).get("iso_code")
            if code:
                by_country.setdefault(code, []).append(net)
    lines = ["# country\tnetwork (a /24 inside one database network); made by "
             "`bench/geo-diverse.py clients` from geodata/meridian-city.mmdb"]
    for code in sorted(by_country):
        nets = by_country[code]
        step = max(1, len(nets) // PER_COUNTRY)
        for net in nets[::step][:PER_COUNTRY]:
            lines.append(f"{code}\t{net.network_address}/24")
    with open(CLIENTS, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{CLIENTS}: {len(lines) - 1} networks in {len(by_country)} countries")


def read_clients(which):
    rows = []
    with open(CLIENTS) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            code, net = line.split()
            rows.append((code, ipaddress.ip_network(net)))
    if which == "country":
        seen, first = set(), []
        for code, net in rows:
            if code not in seen:
                seen.add(code)
                first.append((code, net))
        rows = first
    return rows


# ----------------------------------------------------------------------------- queries

def query(qid, name, net):
    """`name A` with EDNS (payload 1232) and ECS for `net` (IPv4, source prefix 24)."""
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 1)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    question = qname + struct.pack("!HH", 1, 1)
    addr = net.network_address.packed[:3]
    ecs = struct.pack("!HBB", 1, 24, 0) + addr
    option = struct.pack("!HH", 8, len(ecs)) + ecs
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(option)) + option
    return header + question + opt


def write_queries(out, which, seed=11):
    """The clients in a fixed shuffled order, as dnsperf -B input (2-octet length, then
    the message)."""
    rows = read_clients(which)
    random.Random(seed).shuffle(rows)
    with open(out, "wb") as f:
        for i, (_, net) in enumerate(rows):
            msg = query(i & 0xFFFF, NAME, net)
            f.write(struct.pack("!H", len(msg)) + msg)
    return len(rows), len({c for c, _ in rows})


# ----------------------------------------------------------------------------- serve

STATIC_ZONE = """$ORIGIN example.test.
$TTL 300
@       IN SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
@       IN NS   ns1.example.test.
ns1     IN A    127.0.0.53
www     IN A    127.0.1.1
"""


def serve(mode, rundir, port, threads):
    """Writes RUNDIR/meridian.toml and zones/, then execs the release binary (bench.py
    starts it in its own process group and stops it by that group)."""
    binary = os.environ.get("MERIDIAN_BIN") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "meridian")
    zones = os.path.join(rundir, "zones")
    os.makedirs(zones, exist_ok=True)
    regions = "".join(f"[regions.{n}]\nlat = {la}\nlon = {lo}\n" for n, (la, lo) in REGIONS.items())
    config = f"""# written by bench/geo-diverse.py serve {mode}
[server]
region = "us-east"
dns_listen = ["127.0.0.1:{port}"]
api_listen = "127.0.0.1:0"
zones_dir = "zones"
state_dir = "state"
udp_workers = {threads}
[rrl]
enabled = false
[fleet]
local_prober = false
{regions}"""
    zone = STATIC_ZONE
    if mode == "static":
        zone += "geo     IN A    192.0.2.1\n"
    else:
        endpoints = []
        for i, region in enumerate(REGIONS):
            for j in (1, 2):
                endpoints.append(f'  {{ region = "{region}", address = "192.0.2.{i * 2 + j}" }},')
        with open(os.path.join(zones, "example.test.toml"), "w") as f:
            f.write("[services.geo]\nttl = 300\npolicy = \"nearest\"\nendpoints = [\n"
                    + "\n".join(endpoints) + "\n]\n")
    with open(os.path.join(rundir, "meridian.toml"), "w") as f:
        f.write(config)
    with open(os.path.join(zones, "example.test.zone"), "w") as f:
        f.write(zone)
    os.chdir(rundir)
    os.execv(binary, [binary, "serve", "--config", os.path.join(rundir, "meridian.toml")])


# ----------------------------------------------------------------------------- run

def run(a):
    # <repo>/../shared/bench beside a checkout, two up from a worktree in <dir>/wt/NAME.
    peerbench = os.environ.get("PEERBENCH") or next(
        (p for p in (os.path.join(REPO, "..", "shared", "bench"),
                     os.path.join(REPO, "..", "..", "shared", "bench"))
         if os.path.isfile(os.path.join(p, "bench.py"))), "../shared/bench")
    if not os.path.isfile(os.path.join(peerbench, "bench.py")):
        sys.exit(f"geo-diverse: no peer benchmark at {peerbench} (set PEERBENCH)")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True)
    results = os.path.join(HERE, "results")
    os.makedirs(results, exist_ok=True)
    out = a.out or os.path.join(results, f"geo-diverse-{a.clients}-{os.getpid()}.jsonl")
    qfile = os.path.join(results, f"geo-diverse-{a.clients}.bin")
    n, countries = write_queries(qfile, a.clients)
    print(f"== {n} client networks in {countries} countries -> {qfile}")
    me = shlex.quote(os.path.abspath(__file__))
    serve_cmd = f"python3 {me} serve {{mode}} {{{{rundir}}}} {{{{port}}}} {{{{threads}}}} {{{{pbdir}}}}"
    custom = [f"meridian-static=5330={serve_cmd.format(mode='static')}",
              f"meridian-geo-diverse=5331={serve_cmd.format(mode='geo')}"]
    if a.baseline:
        env = f"env MERIDIAN_BIN={shlex.quote(os.path.abspath(a.baseline))} "
        custom += [f"meridian-static-base=5332={env}{serve_cmd.format(mode='static')}",
                   f"meridian-geo-diverse-base=5333={env}{serve_cmd.format(mode='geo')}"]
    servers = ",".join(c.split("=", 1)[0] for c in custom)
    cmd = ["python3", os.path.join(peerbench, "bench.py"), "run", "--configs", "pinned",
           "--profiles", "plain", "--servers", servers,
           "--reps", str(a.reps), "--duration", str(a.duration), "--out", out,
           "--dnsperf-args", f"-c 20 -T 2 -q 100 -B -d {qfile}"]
    for c in custom:
        cmd += ["--custom", c]
    cmd += shlex.split(a.bench_args)
    subprocess.run(cmd, check=True)
    table(out)


def table(path):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    by = {}
    for r in recs:
        by.setdefault(r["server"], []).append(r)
    print(f"\n{path}\n")
    print("| server | runs | q per server CPU-s (median; min-max) | qps | server CPU | foreign (max) | rcodes |")
    print("|---|---|---|---|---|---|---|")
    med = {}
    for name in by:
        rs = [r for r in by[name] if "qps_per_server_core" in r]
        if not rs:
            print(f"| {name} | 0 | failed: {by[name][0].get('error', '?')} | | | | |")
            continue
        q = [r["qps_per_server_core"] for r in rs]
        med[name] = statistics.median(q)
        print(f"| {name} | {len(rs)} | {med[name]:.0f} ({min(q)}-{max(q)}) | "
              f"{statistics.median(r['qps'] for r in rs):.0f} | "
              f"{statistics.median(r['server_cpu_cores'] for r in rs):.2f} | "
              f"{max(r['foreign_cpu_cores'] for r in rs):.2f} | {rs[-1].get('rcodes', '')} |")
    print()
    for suffix in ("", "-base"):
        static, geo = f"meridian-static{suffix}", f"meridian-geo-diverse{suffix}"
        if static not in med or geo not in med:
            continue
        # Per rep: bench.py runs every server once per rep, interleaved.
        s_rep = {r["rep"]: r.get("qps_per_server_core") for r in by[static]}
        pairs = [g["qps_per_server_core"] / s_rep[g["rep"]] for g in by[geo]
                 if g.get("qps_per_server_core") and s_rep.get(g["rep"])]
        print(f"ratio {geo} / {static}: {med[geo] / med[static]:.3f} (medians); "
              f"per rep: {', '.join(f'{p:.3f}' for p in pairs)}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--reps", type=int, default=3)
    r.add_argument("--duration", type=int, default=15)
    r.add_argument("--clients", choices=["all", "country"], default="all")
    r.add_argument("--baseline", metavar="BIN")
    r.add_argument("--no-build", action="store_true")
    r.add_argument("--out")
    r.add_argument("--bench-args", default="", help="e.g. \"--quiet-max-wait 5\"")
    t = sub.add_parser("table")
    t.add_argument("file")
    q = sub.add_parser("queries")
    q.add_argument("out")
    q.add_argument("--clients", choices=["all", "country"], default="all")
    c = sub.add_parser("clients")
    c.add_argument("--db", default=os.path.join(REPO, "geodata", "meridian-city.mmdb"))
    s = sub.add_parser("serve")
    s.add_argument("mode", choices=["static", "geo"])
    s.add_argument("rundir")
    s.add_argument("port")
    s.add_argument("threads")
    s.add_argument("pbdir")
    a = p.parse_args()
    if a.cmd == "run":
        run(a)
    elif a.cmd == "table":
        table(a.file)
    elif a.cmd == "queries":
        n, countries = write_queries(a.out, a.clients)
        print(f"{a.out}: {n} queries, {countries} countries")
    elif a.cmd == "clients":
        make_clients(a.db)
    else:
        serve(a.mode, a.rundir, a.port, a.threads)


if __name__ == "__main__":
    main()

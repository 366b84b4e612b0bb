#!/usr/bin/env python3
"""bench/dnssec.py: what online signing costs Meridian (issue 13 point 7), as ratios from one run.

One `meridian serve` (one UDP worker, pinned to CPU 0; dnsperf on CPU 1) serves two zones
with the same records and the same load-balanced name: `signed.test` (keys from
`meridian dnssec keygen`) and `plain.test` (no keys, so unsigned). dnsperf asks each kind
of query for a few seconds, always with DO; the server's CPU time (utime + stime of the
whole process, from /proc) over each phase gives queries per server CPU-second:

  static       `www.<zone> A`                        signed / unsigned   (issue: >= 0.9)
  balanced     `app.<zone> A`, the signature cached  signed / unsigned   (issue: >= 0.8)
  cold signing NXDOMAIN for distinct random names: each answer needs a fresh NSEC
               signature (compact denial), so answers per CPU-second = signatures per
               second per core, query handling included (a lower bound on the signer).

Phases are interleaved (unsigned, signed, unsigned, signed, ...) and each figure is the
median of --reps. Ports: --port-base (default 5700), loopback only. Python 3 standard
library and dnsperf. ~1 min with the defaults.

  bench/dnssec.py [--meridian-bin target/release/meridian] [--seconds 4] [--reps 3]
                  [--scratch /work/wt/scratch-dnssec-lab] [--port-base 5700]
"""

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")

ZONE = """$ORIGIN {origin}.
$TTL 300
@    IN SOA ns1.{origin}. hostmaster.{origin}. 1 7200 3600 1209600 300
@    IN NS  ns1.{origin}.
ns1  IN A   192.0.2.1
www  IN A   192.0.2.10
www  IN AAAA 2001:db8::10
"""

# No check: every endpoint is up, so the answer is the same RRset every time.
SERVICES = """[services.app]
ttl = 30
policy = "failover"
order = ["eu-west", "us-east"]
endpoints = [
  { region = "eu-west", address = "192.0.2.21" },
  { region = "eu-west", address = "192.0.2.22" },
  { region = "us-east", address = "192.0.2.31" },
]
"""

CONFIG = """[server]
region = "eu-west"
dns_listen = ["127.0.0.1:{port}"]
api_listen = "127.0.0.1:{api}"
zones_dir = "zones"
state_dir = "state"
udp_workers = 1

[fleet]
local_prober = false

[rrl]
enabled = false

[geoip]
database = ""

[dnssec]
key_dir = "keys"

[regions.eu-west]
lat = 53.35
lon = -6.26
[regions.us-east]
lat = 39.04
lon = -77.49
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def dnsperf(port, queries_file, seconds):
    out = subprocess.run(
        ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-D",
         "-d", queries_file, "-l", str(seconds), "-c", "4", "-q", "200", "-t", "2"],
        capture_output=True, text=True, check=True,
    ).stdout
    m = re.search(r"Queries completed:\s+(\d+)", out)
    if not m:
        sys.exit(f"dnsperf printed no count:\n{out}")
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    rcodes = re.search(r"Response codes:\s+(.*)", out)
    return int(m.group(1)), int(lost.group(1)) if lost else 0, rcodes.group(1) if rcodes else ""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--meridian-bin", default=os.path.join(REPO, "target", "release", "meridian"))
    p.add_argument("--seconds", type=float, default=4)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--scratch", default=os.path.expanduser("~/.cache/meridian-dnssec-bench"))
    p.add_argument("--port-base", type=int, default=5700)
    a = p.parse_args()
    a.meridian_bin = os.path.abspath(a.meridian_bin)
    if not shutil.which("dnsperf"):
        sys.exit("dnsperf is not installed (Debian: dnsperf)")
    run = os.path.join(a.scratch, "run")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(os.path.join(run, "zones"))
    os.chmod(run, 0o700)
    port, api = a.port_base, a.port_base + 1
    with open(os.path.join(run, "meridian.toml"), "w") as f:
        f.write(CONFIG.format(port=port, api=api))
    for origin in ("signed.test", "plain.test"):
        with open(os.path.join(run, "zones", origin + ".zone"), "w") as f:
            f.write(ZONE.format(origin=origin))
        with open(os.path.join(run, "zones", origin + ".toml"), "w") as f:
            f.write(SERVICES)
    subprocess.run([a.meridian_bin, "dnssec", "keygen", "signed.test", "--config",
                    os.path.join(run, "meridian.toml")], check=True, capture_output=True)

    files = {}
    def qfile(name, lines):
        path = os.path.join(run, name + ".queries")
        with open(path, "w") as f:
            f.write("".join(lines))
        files[name] = path
    for zone, tag in (("signed.test", "signed"), ("plain.test", "unsigned")):
        qfile(f"static-{tag}", [f"www.{zone} A\n"] * 100)
        qfile(f"balanced-{tag}", [f"app.{zone} A\n"] * 100)
        rnd = random.Random(7)
        qfile(f"nxdomain-{tag}", [f"n{rnd.getrandbits(48):x}.{zone} A\n" for _ in range(400000)])

    log = open(os.path.join(run, "server.log"), "w")
    proc = subprocess.Popen(["taskset", "-c", "0", a.meridian_bin, "serve", "--config",
                             os.path.join(run, "meridian.toml")], cwd=run,
                            stdout=subprocess.PIPE, stderr=log, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("meridian ready"):
            sys.exit(f"meridian did not start: {line!r}; see {run}/server.log")
        # Warm: the balanced answers' signatures are cached, the memo filled.
        for name in ("static-signed", "balanced-signed", "static-unsigned", "balanced-unsigned"):
            dnsperf(port, files[name], 1)
        results = {}
        for rep in range(a.reps):
            for kind in ("static", "balanced", "nxdomain"):
                for tag in ("unsigned", "signed"):
                    name = f"{kind}-{tag}"
                    before = cpu_seconds(proc.pid)
                    done, lost, rcodes = dnsperf(port, files[name], a.seconds)
                    cpu = cpu_seconds(proc.pid) - before
                    results.setdefault(name, []).append(done / cpu if cpu > 0 else 0.0)
                    results.setdefault(name + "/qps", []).append(done / a.seconds)
                    if rep == 0:
                        print(f"# {name}: {done} answers ({rcodes.strip()}), {lost} lost, {cpu:.2f} CPU-s",
                              file=sys.stderr)
        m = {k: statistics.median(v) for k, v in results.items()}
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        print(f"DNSSEC cost, queries per server CPU-second (median of {a.reps} x {a.seconds:g} s, "
              f"one UDP worker, commit {rev}, {os.path.basename(a.meridian_bin)} "
              f"{os.path.relpath(a.meridian_bin, REPO)})")
        print(f"{'answer':<34}{'unsigned':>12}{'signed':>12}{'ratio':>8}  target")
        rows = [("static (www A, DO)", "static", ">= 0.9"),
                ("load-balanced, warm (app A, DO)", "balanced", ">= 0.8"),
                ("NXDOMAIN, distinct names (DO)", "nxdomain", "")]
        for label, kind, target in rows:
            u, s = m[f"{kind}-unsigned"], m[f"{kind}-signed"]
            print(f"{label:<34}{u:>12,.0f}{s:>12,.0f}{s / u:>8.2f}  {target}")
        print(f"cold signing rate: {m['nxdomain-signed']:,.0f} signatures per second per core "
              f"(one fresh NSEC RRSIG per answer, query handling included)")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()

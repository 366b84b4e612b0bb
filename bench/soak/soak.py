#!/usr/bin/env python3
"""Soak: dnsperf at a fraction of capacity while reloads run every second and backends flap.

    python3 bench/soak/soak.py                      # 10 minutes at 80 % of capacity
    python3 bench/soak/soak.py --minutes 1 --keep   # a quick look, temp dir kept

Sets up, all on 127.0.0.0/8 (never port 53):
  * `meridian serve` (release binary) on 127.0.0.1, UDP worker 1, pinned to CPU 0, the
    local prober on (`[fleet] local_prober = true`), zone soak.test with static names
    (www A x3, api AAAA, apex TXT, ver TXT + SOA serial that the script rewrites) and two
    load-balanced names whose backends the script starts and stops:
      - lb.soak.test: policy weighted, max_answers 4, tcp check, 4 endpoints
        127.0.40.1-4 (regions r1, r1, r2, r2); the answer is exactly the up endpoints;
      - web.soak.test: policy failover [r1, r2], max_answers 1, http check (python
        http.server), 3 endpoints 127.0.41.1-3 (r1, r1, r2);
    both checks interval 1 s, timeout 500 ms, fall 2, rise 2.
  * Capacity: dnsperf -q 100 (bench/run.sh's depth), unthrottled, --capacity-s seconds,
    pinned to CPU 1. Then the soak: dnsperf -Q (--load x capacity) for --minutes.
  * Meanwhile, threads of this script:
      - reloader: every second POST /v1/reload with the fleet token; every other second it
        first rewrites zones/soak.test.zone (write + rename): `ver TXT "v=N"` and SOA serial
        N, so that reload builds a new snapshot with a changed record;
      - flapper: every --flap-s seconds stops (SIGKILL to its process group) or starts one
        backend, keeping at least one backend per service up for a while, so fail-open
        (all down) never happens;
      - checker: every 100 ms, over its own UDP socket, asks www A, api AAAA, apex TXT,
        ver TXT, SOA, a missing name, lb A and web A, and checks each answer (below);
      - sampler: every 5 s VmRSS, VmHWM, threads and open fds of the server.
Checks (any failure -> exit 1):
  * dnsperf: queries lost == 0; rcodes only NOERROR and NXDOMAIN;
  * every reload answered 200;
  * checker: static names exactly their records; ver/serial between the version the last
    completed reload confirmed and the last one written (never older, never unwritten);
    the missing name NXDOMAIN; lb A == the set of running backends, web A one running
    backend of the first region in the order that has one (failover), both ignoring
    backends that changed state less than --settle-s ago (fall/rise x interval + slack),
    and always a non-empty subset of the service's endpoints; unanswered checker queries
    (1 s timeout) counted;
  * RSS: first (after --warmup-s), last, max, least-squares slope in KiB/min, which must
    stay <= --max-rss-slope (128 KiB/min: 1.25 MiB over 10 minutes); open fds, threads;
  * no ERROR line in the server's log.
Every process started is stopped by process group in `finally` (bench/fleet/harness.py).
"""

import argparse
import json
import os
import random
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fleet"))
import harness  # noqa: E402

ORIGIN = "soak.test"
WWW = {"192.0.2.10", "192.0.2.11", "192.0.2.12"}
API6 = "2001:db8::10"
APEX_TXT = "soak static"
LB = [("r1", "127.0.40.1"), ("r1", "127.0.40.2"), ("r2", "127.0.40.3"), ("r2", "127.0.40.4")]
WEB = [("r1", "127.0.41.1"), ("r1", "127.0.41.2"), ("r2", "127.0.41.3")]
WEB_ORDER = ["r1", "r2"]
LB_PORT, WEB_PORT = 23081, 23082

QUERIES = [
    ("www", "A"), ("api", "AAAA"), ("", "TXT"), ("lb", "A"), ("web", "A"),
    ("ver", "TXT"), ("nx-missing", "A"),
]

T_A, T_SOA, T_TXT, T_AAAA = 1, 6, 16, 28
QT = {"A": T_A, "SOA": T_SOA, "TXT": T_TXT, "AAAA": T_AAAA}

TCP_BACKEND = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(128)
while True:
    c, _ = s.accept(); c.close()
"""


# ---------------------------------------------------------------- files


def zone_text(version):
    return f"""$ORIGIN {ORIGIN}.
$TTL 300
@   3600 IN SOA ns1.{ORIGIN}. hostmaster.{ORIGIN}. ( {version} 7200 3600 1209600 300 )
    IN NS ns1
    IN TXT "{APEX_TXT}"
ns1 IN A 192.0.2.53
www IN A 192.0.2.10
www IN A 192.0.2.11
www IN A 192.0.2.12
api IN AAAA {API6}
ver 5 IN TXT "v={version}"
"""


def write_zone(d, version):
    path = os.path.join(d, "zones", f"{ORIGIN}.zone")
    tmp = path + ".tmp"  # not *.zone: the server loads only *.zone and *.toml
    with open(tmp, "w") as f:
        f.write(zone_text(version))
    os.rename(tmp, path)


def write_config(d, port, rrl_off):
    os.makedirs(os.path.join(d, "zones"), exist_ok=True)
    rrl = "\n[rrl]\nenabled = false\n" if rrl_off else ""
    with open(os.path.join(d, "meridian.toml"), "w") as f:
        f.write(f"""# written by bench/soak/soak.py
[server]
region = "r1"
dns_listen = ["127.0.0.1:{port}"]
api_listen = "127.0.0.1:0"
zones_dir = "zones"
state_dir = "state"
udp_workers = 1

[fleet]
token_file = "fleet.token"
local_prober = true

[regions.r1]
lat = 50.11
lon = 8.68

[regions.r2]
lat = 52.37
lon = 4.90
{rrl}""")
    token = harness.write_token(os.path.join(d, "fleet.token"))

    def eps(lst):
        return ",\n".join(f'  {{ region = "{r}", address = "{a}" }}' for r, a in lst)

    with open(os.path.join(d, "zones", f"{ORIGIN}.toml"), "w") as f:
        f.write(f"""[services.lb]
ttl = 5
max_answers = 4
policy = "weighted"
check = {{ kind = "tcp", port = {LB_PORT}, interval = "1s", timeout = "500ms", rise = 2, fall = 2 }}
endpoints = [
{eps(LB)},
]

[services.web]
ttl = 5
max_answers = 1
policy = "failover"
order = {json.dumps(WEB_ORDER)}
check = {{ kind = "http", port = {WEB_PORT}, path = "/", interval = "1s", timeout = "500ms", rise = 2, fall = 2 }}
endpoints = [
{eps(WEB)},
]
""")
    write_zone(d, 1)
    return os.path.join(d, "meridian.toml"), token


# ---------------------------------------------------------------- DNS


def parse(msg):
    """(rcode, [(type, value)] of the answer section): A/AAAA as text, TXT joined,
    SOA as its serial."""
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    i = 12
    for _ in range(qd):
        i = harness.skip_name(msg, i) + 4
    out = []
    for _ in range(an):
        i = harness.skip_name(msg, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[i : i + 10])
        i += 10
        rd = msg[i : i + rdlen]
        if rtype == T_A:
            out.append((rtype, socket.inet_ntop(socket.AF_INET, rd)))
        elif rtype == T_AAAA:
            out.append((rtype, socket.inet_ntop(socket.AF_INET6, rd)))
        elif rtype == T_TXT:
            j, parts = 0, []
            while j < len(rd):
                parts.append(rd[j + 1 : j + 1 + rd[j]].decode(errors="replace"))
                j += 1 + rd[j]
            out.append((rtype, "".join(parts)))
        elif rtype == T_SOA:
            j = harness.skip_name(msg, harness.skip_name(msg, i))
            out.append((rtype, struct.unpack("!I", msg[j : j + 4])[0]))
        i += rdlen
    return flags & 0xF, out


class Client:
    def __init__(self, server):
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def ask(self, name, qtype, timeout=1.0):
        msg = harness.exchange(self.sock, self.server, name, qtype, timeout)
        return None if msg is None else parse(msg)


# ---------------------------------------------------------------- backends


class Backends:
    """Start/stop of the backend processes; remembers when each last changed."""

    def __init__(self, procs, d):
        self.procs, self.www = procs, os.path.join(d, "www")
        os.makedirs(self.www, exist_ok=True)
        self.lock = threading.Lock()
        self.running = {}  # addr -> Popen
        self.changed = {}  # addr -> monotonic time of the last start/stop
        self.kind = {a: "tcp" for _, a in LB}
        self.kind.update({a: "http" for _, a in WEB})
        self.starts = self.stops = 0

    def start(self, addr):
        if self.kind[addr] == "tcp":
            argv = [sys.executable, "-c", TCP_BACKEND, addr, str(LB_PORT)]
            port = LB_PORT
        else:
            argv = [sys.executable, "-m", "http.server", str(WEB_PORT), "--bind", addr,
                    "--directory", self.www]
            port = WEB_PORT
        with self.lock:  # in transition from now until it listens: not checked
            self.changed[addr] = time.monotonic()
        p = self.procs.start(f"backend {addr}", argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"backend {addr}:{port} exited with {p.returncode}")
            try:
                with socket.create_connection((addr, port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.01)
        else:
            raise RuntimeError(f"backend {addr}:{port} did not start listening")
        with self.lock:
            self.running[addr] = p
            self.changed[addr] = time.monotonic()
            self.starts += 1

    def stop(self, addr):
        with self.lock:  # in transition from now until it has exited: not checked
            p = self.running.pop(addr)
            self.changed[addr] = time.monotonic()
        self.procs.stop(p, grace=0.0)  # SIGKILL right away (grace 0 -> TERM then KILL)
        self.procs.procs = [(l, q) for l, q in self.procs.procs if q is not p]
        with self.lock:
            self.changed[addr] = time.monotonic()
            self.stops += 1

    def view(self, settle):
        """(settled up, settled down) addresses: those whose state is older than settle."""
        now = time.monotonic()
        with self.lock:
            up = {a for a in self.kind if a in self.running and now - self.changed[a] >= settle}
            down = {a for a in self.kind if a not in self.running and now - self.changed.get(a, -1e9) >= settle}
        return up, down


# ---------------------------------------------------------------- the soak threads


class Soak:
    def __init__(self, a, d, api, token, dns_addr, backends):
        self.a, self.d, self.api, self.token = a, d, api, token
        self.dns_addr, self.b = dns_addr, backends
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.written = 1      # last zone version written to disk
        self.confirmed = 1    # version a completed (200) reload has loaded
        self.reloads = {}     # status -> count
        self.reload_ms = []
        self.reload_errors = []
        self.checks = 0
        self.unanswered = 0
        self.wrong = []       # (time, what)
        self.wrong_count = {}
        self.samples = []     # (t, rss, hwm, threads, fds)
        self.flaps = 0
        self.last_reload = time.monotonic()

    def bad(self, what, detail):
        now = time.monotonic()
        ago = ", ".join(f"{a} changed {now - t:.1f}s ago" for a, t in sorted(self.b.changed.items()))
        detail = f"{detail} [last reload ended {(now - self.last_reload) * 1000:.0f} ms ago; {ago}]"
        with self.lock:
            self.wrong_count[what] = self.wrong_count.get(what, 0) + 1
            if len(self.wrong) < 50:
                self.wrong.append((time.strftime("%H:%M:%S"), what, detail))

    # reloads every second; the zone changes every other one
    def reloader(self):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        tick = 0
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            tick += 1
            if tick % 2 == 0:
                with self.lock:
                    version = self.written + 1
                write_zone(self.d, version)
                with self.lock:
                    self.written = version
            with self.lock:
                on_disk = self.written
            req = urllib.request.Request(f"{self.api}/v1/reload", data=b"", method="POST")
            req.add_header("Authorization", f"Bearer {self.token}")
            t0 = time.monotonic()
            try:
                with opener.open(req, timeout=10) as r:
                    status = r.status
                    r.read()
            except urllib.error.HTTPError as e:
                status = e.code
                self.reload_errors.append(f"{status}: {e.read()[:200]!r}")
            except OSError as e:
                status = f"error {e}"
                self.reload_errors.append(status)
            self.last_reload = time.monotonic()
            self.reload_ms.append((self.last_reload - t0) * 1000)
            with self.lock:
                self.reloads[status] = self.reloads.get(status, 0) + 1
                if status == 200:
                    # everything written before this reload started is now being served
                    self.confirmed = max(self.confirmed, on_disk)
            nxt += 1.0
            self.stop_ev.wait(max(0.0, nxt - time.monotonic()))

    def flapper(self):
        rng = random.Random(self.a.seed)
        groups = [[a for _, a in LB], [a for _, a in WEB]]
        while not self.stop_ev.wait(self.a.flap_s):
            group = rng.choice(groups)
            addr = rng.choice(group)
            if addr in self.b.running:
                # keep one backend of the service up and settled, so all-down never happens
                up, _ = self.b.view(self.a.settle_s)
                if not any(o in up for o in group if o != addr):
                    continue
                self.b.stop(addr)
            else:
                self.b.start(addr)
            self.flaps += 1

    def checker(self):
        c = Client(self.dns_addr)
        name = lambda n: f"{n}.{ORIGIN}" if n else ORIGIN  # noqa: E731
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            with self.lock:
                low = self.confirmed
            for n, t in [("www", "A"), ("api", "AAAA"), ("", "TXT"), ("ver", "TXT"), ("", "SOA"),
                         ("nx-missing", "A"), ("lb", "A"), ("web", "A")]:
                up_before, down_before = self.b.view(self.a.settle_s)
                r = c.ask(name(n), QT[t])
                self.checks += 1
                if r is None:
                    self.unanswered += 1
                    continue
                rcode, ans = r
                vals = [v for ty, v in ans if ty == QT[t]]
                with self.lock:
                    high = self.written
                what = f"{n or '@'} {t}"
                if n == "nx-missing":
                    if rcode != 3 or vals:
                        self.bad(what, f"rcode {rcode} {vals}")
                    continue
                if rcode != 0:
                    self.bad(what, f"rcode {rcode}")
                    continue
                if n == "www" and (set(vals) != WWW or len(vals) != len(WWW)):
                    self.bad(what, vals)
                elif n == "api" and vals != [API6]:
                    self.bad(what, vals)
                elif n == "" and t == "TXT" and vals != [APEX_TXT]:
                    self.bad(what, vals)
                elif n == "ver":
                    m = re.fullmatch(r"v=(\d+)", vals[0]) if len(vals) == 1 else None
                    if not m or not low <= int(m.group(1)) <= high:
                        self.bad(what, f"{vals} outside [{low}, {high}]")
                elif t == "SOA":
                    if len(vals) != 1 or not low <= vals[0] <= high:
                        self.bad(what, f"serial {vals} outside [{low}, {high}]")
                elif n in ("lb", "web"):
                    eps = [x for _, x in (LB if n == "lb" else WEB)]
                    up_after, down_after = self.b.view(self.a.settle_s)
                    up = up_before & up_after & set(eps)
                    down = down_before & down_after & set(eps)
                    got = set(vals)
                    if not vals or len(got) != len(vals) or not got <= set(eps):
                        self.bad(what, f"{vals} not a non-empty subset of the endpoints")
                    elif got & down:
                        self.bad(what, f"{vals} holds {sorted(got & down)}, stopped > {self.a.settle_s}s ago")
                    elif n == "lb" and not (up <= got):
                        self.bad(what, f"{vals} lacks {sorted(up - got)}, running > {self.a.settle_s}s")
                    elif n == "web":
                        if len(vals) != 1:
                            self.bad(what, f"{vals}: max_answers is 1")
                        else:
                            # failover, overprovision 1.0: a fully up first region takes
                            # all answers; a fully down one none; partly up, it keeps its
                            # healthy share and the rest spills to r2 (reference 3.3)
                            region = dict((x, r) for r, x in WEB)[vals[0]]
                            r1 = {x for r, x in WEB if r == "r1"}
                            if r1 <= up and region != "r1":
                                self.bad(what, f"{vals} in {region}, but all of r1 is up")
                            elif r1 <= down and region == "r1":
                                self.bad(what, f"{vals} in r1, but all of r1 is down")
            nxt += 0.1
            self.stop_ev.wait(max(0.0, nxt - time.monotonic()))

    def sampler(self, pid):
        t0 = time.monotonic()
        while True:
            st = harness.proc_status(pid)
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            self.samples.append((time.monotonic() - t0, st["VmRSS"], st["VmHWM"], st["Threads"], fds))
            if self.stop_ev.wait(5.0):
                break


# ---------------------------------------------------------------- dnsperf


def dnsperf(a, port, qfile, seconds, rate=None):
    argv = ["taskset", "-c", a.client_cpu, "dnsperf", "-s", "127.0.0.1", "-p", str(port),
            "-d", qfile, "-l", str(seconds), "-c", "20", "-T", "2", "-q", "100"]
    if rate:
        argv += ["-Q", str(rate)]
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=seconds + 60)
    text = out.stdout + out.stderr
    res = {"argv": " ".join(argv), "rc": out.returncode}
    for key, pat in [("sent", r"Queries sent:\s+(\d+)"), ("completed", r"Queries completed:\s+(\d+)"),
                     ("lost", r"Queries lost:\s+(\d+)"), ("qps", r"Queries per second:\s+([\d.]+)"),
                     ("lat_avg", r"Average Latency \(s\):\s+([\d.]+)"),
                     ("lat_max", r"Average Latency \(s\):\s+[\d.]+ \(min [\d.]+, max ([\d.]+)\)"),
                     ("lat_sd", r"Latency StdDev \(s\):\s+([\d.]+)")]:
        m = re.search(pat, text)
        res[key] = float(m.group(1)) if m else None
    m = re.search(r"Response codes:\s+(.*)", text)
    res["rcodes"] = dict((k, int(v)) for k, v in re.findall(r"([A-Z]+) (\d+)", m.group(1))) if m else {}
    res["text"] = text
    return res


def slope(samples):
    """Least-squares slope of RSS (KiB) per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [s[0] / 60 for s in samples]
    ys = [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="meridian binary (default: target/release/meridian, built if missing)")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--load", type=float, default=0.8, help="fraction of measured capacity")
    ap.add_argument("--rate", type=int, help="queries/s for the soak (skips the capacity run)")
    ap.add_argument("--capacity-s", type=int, default=15)
    ap.add_argument("--warmup-s", type=float, default=20, help="soak seconds before the first RSS sample counted")
    ap.add_argument("--max-rss-slope", type=float, default=128,
                    help="KiB/min of RSS growth (least squares, after warm-up) still called flat")
    ap.add_argument("--port", type=int, default=5399)
    ap.add_argument("--flap-s", type=float, default=2.0)
    ap.add_argument("--settle-s", type=float, default=5.0,
                    help="a backend that changed less than this ago is not checked (fall/rise 2 x 1 s + slack)")
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rrl-off", choices=["auto", "yes", "no"], default="auto",
                    help="write [rrl] enabled = false (auto: when the server's config knows [rrl])")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if a.port == 53 or not 1024 <= a.port < 65536:
        sys.exit("--port must be in 1024..65535 (never 53)")

    binary = harness.ensure_binary(a.binary)
    commit = subprocess.run(["git", "-C", harness.REPO, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    rrl_off = a.rrl_off == "yes"
    if a.rrl_off == "auto":
        # the config refuses unknown tables: write [rrl] only when the source knows it
        rrl_off = bool(subprocess.run(["grep", "-rlw", "rrl", os.path.join(harness.REPO, "src", "config")],
                                      capture_output=True).stdout)
    d = tempfile.mkdtemp(prefix="meridian-soak-")
    procs = harness.Procs()
    soak = None
    try:
        config, token = write_config(d, a.port, rrl_off)
        qfile = os.path.join(d, "queries.txt")
        with open(qfile, "w") as f:
            for n, t in QUERIES:
                f.write(f"{n + '.' if n else ''}{ORIGIN} {t}\n")
        backends = Backends(procs, d)
        for _, addr in LB + WEB:
            backends.start(addr)
        serve = procs.start("serve", ["taskset", "-c", a.server_cpu, binary, "serve", "--config", config],
                            stderr=open(os.path.join(d, "serve.log"), "w"), cwd=d)
        dns_addr, (ah, ap_) = harness.parse_ready(harness.wait_line(serve, "meridian ready", 60))
        api = f"http://{ah}:{ap_}"
        harness.log(f"serve pid {serve.pid} dns {dns_addr[0]}:{dns_addr[1]} api {api}; "
                    f"rrl off: {rrl_off}; dir {d}")
        # all endpoints up before measuring
        c = Client(dns_addr)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = c.ask(f"lb.{ORIGIN}", T_A)
            if r and len(r[1]) == 4:
                break
            time.sleep(0.2)
        load0 = os.getloadavg()
        if a.rate:
            rate, cap = a.rate, None
        else:
            harness.log(f"capacity: dnsperf -q 100 for {a.capacity_s}s")
            cap = dnsperf(a, a.port, qfile, a.capacity_s)
            rate = int(cap["qps"] * a.load)
            harness.log(f"capacity {cap['qps']:.0f} q/s (lost {cap['lost']:.0f}, rcodes {cap['rcodes']}) "
                        f"-> soak at {rate} q/s")
        seconds = int(a.minutes * 60)
        soak = Soak(a, d, api, token, dns_addr, backends)
        threads = [threading.Thread(target=f, daemon=True) for f in
                   (soak.reloader, soak.flapper, soak.checker)]
        threads.append(threading.Thread(target=soak.sampler, args=(serve.pid,), daemon=True))
        cpu0 = harness.proc_cpu_seconds(serve.pid)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        harness.log(f"soak: {seconds}s at {rate} q/s")
        run = dnsperf(a, a.port, qfile, seconds, rate)
        wall = time.monotonic() - t0
        cpu = harness.proc_cpu_seconds(serve.pid) - cpu0
        soak.stop_ev.set()
        for t in threads:
            t.join(timeout=15)
        load1 = os.getloadavg()
        alive = serve.poll() is None
        levels, odd = {}, []
        with open(os.path.join(d, "serve.log"), errors="replace") as f:
            for line in f:
                parts = line.split()
                lvl = parts[1] if len(parts) > 1 else "?"
                levels[lvl] = levels.get(lvl, 0) + 1
                if lvl in ("WARN", "ERROR") and len(odd) < 10:
                    odd.append(line.rstrip()[:300])

        # ------------------------------------------------ summary
        s = [x for x in soak.samples if x[0] >= a.warmup_s] or soak.samples
        rss = [x[1] for x in s]
        fds = [x[4] for x in s]
        rc = run["rcodes"]
        other_rc = {k: v for k, v in rc.items() if k not in ("NOERROR", "NXDOMAIN")}
        reload_ok = soak.reloads.get(200, 0)
        reload_total = sum(soak.reloads.values())
        rms = sorted(soak.reload_ms)
        flat = slope(s) <= a.max_rss_slope
        rows = [
            ("commit", commit),
            ("duration", f"{seconds} s (wall {wall:.0f} s)"),
            ("capacity (dnsperf -q 100, unthrottled)", f"{cap['qps']:.0f} q/s over {a.capacity_s} s" if cap else "not measured (--rate)"),
            ("soak rate (-Q)", f"{rate} q/s ({a.load:.0%} of capacity)" if cap else f"{rate} q/s"),
            ("dnsperf sent / completed / lost", f"{run['sent']:.0f} / {run['completed']:.0f} / {run['lost']:.0f}"),
            ("dnsperf qps achieved", f"{run['qps']:.0f}"),
            ("latency avg / max / sd", f"{run['lat_avg'] * 1000:.3f} / {run['lat_max'] * 1000:.1f} / {run['lat_sd'] * 1000:.3f} ms"),
            ("rcodes", ", ".join(f"{k} {v} ({v / max(1, sum(rc.values())):.1%})" for k, v in rc.items())),
            ("reloads 200 / total", f"{reload_ok} / {reload_total}" + (f"  others: {soak.reloads}" if reload_ok != reload_total else "")),
            ("reload time median / p99 / max", f"{rms[len(rms) // 2]:.1f} / {rms[int(len(rms) * 0.99)]:.1f} / {rms[-1]:.1f} ms" if rms else "-"),
            ("zone versions written / last confirmed", f"{soak.written} / {soak.confirmed}"),
            ("backend flaps (starts + stops)", f"{soak.flaps} ({backends.starts - len(LB + WEB)} starts, {backends.stops} stops)"),
            ("checker queries / unanswered (1 s)", f"{soak.checks} / {soak.unanswered}"),
            ("checker wrong answers", f"{sum(soak.wrong_count.values())}" + (f" {soak.wrong_count}" if soak.wrong_count else "")),
            ("RSS first / last / max (after warm-up)", f"{rss[0] / 1024:.1f} / {rss[-1] / 1024:.1f} / {max(rss) / 1024:.1f} MiB ({len(s)} samples)"),
            ("RSS slope (least squares)", f"{slope(s):+.1f} KiB/min ({'flat' if flat else 'GROWING'}: limit {a.max_rss_slope:g})"),
            ("VmHWM at end", f"{s[-1][2] / 1024:.1f} MiB"),
            ("open fds first / last / max", f"{fds[0]} / {fds[-1]} / {max(fds)}"),
            ("threads first / last", f"{s[0][3]} / {s[-1][3]}"),
            ("server CPU", f"{cpu / wall:.2f} cores (pinned to CPU {a.server_cpu}; dnsperf CPU {a.client_cpu})"),
            ("load average 1/5/15 start / end", f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} / {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} ({os.cpu_count()} cores)"),
            ("RRL", "[rrl] enabled = false written" if rrl_off else "no [rrl] in this server"),
            ("server alive at end", str(alive)),
            ("server log lines by level", ", ".join(f"{k} {v}" for k, v in sorted(levels.items()))),
        ]
        print()
        print("| figure | value |\n|---|---|")
        for k, v in rows:
            print(f"| {k} | {v} |")
        print()
        print("RSS samples (s, MiB, fds):", " ".join(f"{x[0]:.0f}:{x[1] / 1024:.1f}:{x[4]}" for x in soak.samples))
        for t, what, detail in soak.wrong:
            print(f"WRONG {t} {what}: {detail}")
        for line in odd:
            print(f"LOG {line}")
        for e in soak.reload_errors[:10]:
            print(f"RELOAD {e}")
        ok = (run["lost"] == 0 and not other_rc and reload_ok == reload_total and reload_total > 0
              and not soak.wrong_count and alive and run["rc"] == 0 and not levels.get("ERROR") and flat)
        print("OK" if ok else "FAILED",
              "(wanted: lost 0, rcodes NOERROR/NXDOMAIN only, every reload 200, no wrong answer, no ERROR logged, RSS flat)")
        if not ok and run["rc"] != 0:
            print(run["text"][-2000:])
        return 0 if ok else 1
    finally:
        procs.stop_all()
        if a.keep:
            harness.log(f"kept {d}")
        else:
            import shutil
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench/scale: Meridian beside gdnsd, NSD and Knot on big zones, many zones, many
load-balanced names and geo answers for diverse clients (issue 11). python3 stdlib only.

It generates the workloads into a scratch directory (reused by later runs), starts each
installed server on each, measures it from /proc and over DNS on 127.0.0.1 (high ports
only), stops it by its process group, and prints one table with Meridian beside the
peers and the ratios, from this one run. See bench/scale/README.md.

  bench/scale/scale.py                      # all four tests, default sizes (~30-60 min)
  bench/scale/scale.py --quick              # small sizes only: a smoke test (~1-2 min)
  bench/scale/scale.py --only zone,geo      # some tests: zone, zones, services, geo
  bench/scale/scale.py --big                # adds the 3M-record zone
  bench/scale/scale.py --table FILE.jsonl   # the table again from a results file
"""

import argparse
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fleet"))

import harness  # noqa: E402  (bench/fleet: UDP query helpers, log)
import mmdb  # noqa: E402
import workloads as wl  # noqa: E402
from proc import CLK_TCK, group_cpu, group_mem, reset_hwm  # noqa: E402
from servers import GEODB, KINDS, REPO, Meridian, Workload  # noqa: E402

log = harness.log
TESTS = ("zone", "zones", "services", "geo")
SERVER_ORDER = ("meridian", "gdnsd", "nsd", "knot")
NAMES = {"meridian": "Meridian", "gdnsd": "gdnsd", "nsd": "NSD", "knot": "Knot"}


def human(n):
    for div, suffix in ((1_000_000, "M"), (1000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suffix}"
    return str(n)


def parse_sizes(text):
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        mult = 1
        if part.endswith("k"):
            mult, part = 1000, part[:-1]
        elif part.endswith("m"):
            mult, part = 1_000_000, part[:-1]
        out.append(int(float(part) * mult))
    return out


# ---------------------------------------------------------------- DNS over UDP


class Asker:
    """A connected UDP socket to one server: a refused port (not bound yet) shows at
    once instead of as a timeout."""

    def __init__(self, port):
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect(self.server)

    def a(self, name, timeout=0.2):
        """(rcode, [IPv4 answers]) or None (no answer, or the port refused)."""
        try:
            msg = harness.exchange(self.sock, self.server, name, 1, timeout)
        except OSError:
            return None
        return None if msg is None else harness.dns_a_answers(msg)

    def many(self, names, expect, deadline):
        """Asks every name at once (one burst, then the missing ones again) until each is
        answered NOERROR with `expect`; returns the names still missing at `deadline`."""
        missing = set(names)
        while missing and time.monotonic() < deadline:
            by_id = {}
            for name in missing:
                qid, packet = harness.dns_query(name, 1)
                while qid in by_id:
                    qid, packet = harness.dns_query(name, 1)
                by_id[qid] = name
                try:
                    self.sock.send(packet)
                except OSError:
                    pass
            end = min(deadline, time.monotonic() + 0.5)
            while by_id and time.monotonic() < end:
                r, _, _ = select.select([self.sock], [], [], max(0.0, end - time.monotonic()))
                if not r:
                    break
                try:
                    msg = self.sock.recv(65535)
                except OSError:
                    break
                if len(msg) < 12:
                    continue
                name = by_id.pop(struct.unpack("!H", msg[:2])[0], None)
                if name is None:
                    continue
                rcode, addrs = harness.dns_a_answers(msg)
                if rcode == 0 and expect in addrs:
                    missing.discard(name)
            if missing:
                time.sleep(0.02)
        return missing

    def ecs(self, name, addr, prefix, timeout=1.0):
        """(rcode, [IPv4 answers], ECS scope or None) for an A query with ECS addr/prefix."""
        qid = os.urandom(2)
        q = qid + wl.ecs_query(name, 1, addr, prefix)[2:]
        try:
            self.sock.send(q)
            self.sock.settimeout(timeout)
            while True:
                msg = self.sock.recv(65535)
                if msg[:2] == qid:
                    break
        except OSError:
            return None
        finally:
            self.sock.settimeout(None)
        rcode, addrs = harness.dns_a_answers(msg)
        return rcode, addrs, ecs_scope(msg)

    def close(self):
        self.sock.close()


def ecs_scope(msg):
    """The scope prefix of the ECS option in a response's OPT record, or None."""
    _, _, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    i = 12
    for _ in range(qd):
        i = harness.skip_name(msg, i) + 4
    for k in range(an + ns + ar):
        i = harness.skip_name(msg, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[i : i + 10])
        i += 10
        if rtype == 41 and k >= an + ns:
            j, end = i, i + rdlen
            while j + 4 <= end:
                code, length = struct.unpack("!HH", msg[j : j + 4])
                if code == 8 and length >= 4:
                    return msg[j + 7]
                j += 4 + length
        i += rdlen
    return None


# ---------------------------------------------------------------- one load run


def wait_answer(asker, srv, name, expect, deadline):
    """Asks `name A` until it is answered NOERROR (with `expect` among the addresses, or
    any address when expect is None). Returns None, or why it gave up."""
    while True:
        r = asker.a(name)
        if r is not None and r[0] == 0 and (expect in r[1] if expect else r[1]):
            return None
        if time.monotonic() > deadline:
            return "timeout"
        if srv.proc.poll() is not None and not srv.alive():
            return f"exited with {srv.proc.returncode}: {srv.log_tail(5).strip()[-400:]}"
        time.sleep(0.02 if r is not None else 0.01)


def load_run(kind, w, a, rundir, reload_origin=None):
    """Starts server `kind` on workload `w`, measures start to first answer, memory while
    serving and (reload_origin) one reload; always stops it. Returns the record."""
    rec = {"test": w.kind, "label": w.label, "size": w.size, "unit": w.unit, "server": kind,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    port = a.port_base + KINDS[kind].port_offset
    srv = KINDS[kind](rundir, port, w, pin=a.pin)
    rec["cmd"] = " ".join(srv.argv)
    asker = Asker(port)
    try:
        if not port_free(port):
            raise RuntimeError(f"port {port} is in use before starting {kind}")
        t0 = time.monotonic()
        srv.start()
        deadline = t0 + a.timeout
        err = wait_answer(asker, srv, w.probe[0], w.probe[1], deadline)
        if err:
            rec.update(error=err, gave_up_s=round(time.monotonic() - t0, 3), gave_up_cpu_s=round(group_cpu(srv.pgid), 3))
            return rec
        rec["first_s"] = round(time.monotonic() - t0, 3)
        rec["first_cpu_s"] = round(group_cpu(srv.pgid), 3)
        missing = asker.many(w.samples, wl.PROBE_ADDR, deadline)
        if missing:
            rec["error"] = f"timeout: {len(missing)} of {len(w.samples)} sample names unanswered, e.g. {sorted(missing)[0]}"
            return rec
        rec["all_s"] = round(time.monotonic() - t0, 3)
        rec["all_cpu_s"] = round(group_cpu(srv.pgid), 3)
        time.sleep(a.settle)
        mem = group_mem(srv.pgid)
        rec.update({"pss": mem["pss"], "rss": mem["rss"], "hwm_start": mem["hwm"], "procs": mem["procs"],
                    "settled_cpu_s": round(group_cpu(srv.pgid), 3)})
        if reload_origin:
            rec.update(reload_run(srv, asker, w, reload_origin, a))
    except Exception as e:  # record it and go on with the next run
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        asker.close()
        srv.stop()
    return rec


def port_free(port):
    for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, typ)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def reload_run(srv, asker, w, origin, a):
    """Replaces this server's copy of the zone by one with `probe` changed, asks it to
    reload, and polls until the new address is served. Peak memory: the largest of the
    group's PSS sampled every 0.1 s and the VmHWM of any one process (reset before)."""
    out = {}
    deadline = time.monotonic() + 30
    while not srv.ready_for_reload():
        if time.monotonic() > deadline:
            return {"reload_error": "not ready for a reload (no ready line) within 30 s"}
        time.sleep(0.05)
    src = dict(w.zones)[origin]
    wl.rewrite_probe(src, srv.zone_path(origin))
    steady = group_mem(srv.pgid)
    hwm_reset = reset_hwm(srv.pgid)
    cpu0 = group_cpu(srv.pgid)
    peak_pss, peak_rss = steady["pss"], steady["rss"]
    sent = answered = 0
    t0 = time.monotonic()
    srv.trigger_reload(origin)
    next_mem = t0
    while True:
        now = time.monotonic()
        if now >= next_mem:
            m = group_mem(srv.pgid)
            peak_pss, peak_rss = max(peak_pss, m["pss"]), max(peak_rss, m["rss"])
            next_mem = now + 0.1
        sent += 1
        r = asker.a(w.probe[0], timeout=1.0)
        if r is not None:
            answered += 1
            if r[0] == 0 and wl.PROBE_ADDR_CHANGED in r[1]:
                break
        if now - t0 > a.timeout:
            out["reload_error"] = "timeout"
            break
        if not srv.alive():
            out["reload_error"] = "server exited: " + srv.log_tail(5).strip()[-400:]
            return out
        time.sleep(0.01)
    out["reload_s"] = round(time.monotonic() - t0, 3)
    m = group_mem(srv.pgid)
    out["reload_cpu_s"] = round(group_cpu(srv.pgid) - cpu0, 3)
    out["reload_peak"] = max(peak_pss, m["hwm"] if hwm_reset else 0)
    out["reload_peak_pss_polled"] = peak_pss
    out["reload_peak_rss_polled"] = peak_rss
    out["reload_hwm"] = m["hwm"] if hwm_reset else None
    out["reload_steady"] = steady["pss"]
    out["reload_probes"] = sent
    out["reload_unanswered"] = sent - answered
    for p in srv.ctl:
        try:
            o, _ = p.communicate(timeout=max(1.0, a.timeout - (time.monotonic() - t0)))
            out.setdefault("reload_ctl", []).append({"rc": p.returncode, "out": o.decode(errors="replace")[-300:]})
        except subprocess.TimeoutExpired:
            out.setdefault("reload_ctl", []).append({"rc": None, "out": "still running"})
    time.sleep(a.settle)
    out["after_reload_pss"] = group_mem(srv.pgid)["pss"]
    return out


# ---------------------------------------------------------------- workloads on disk


def zone_workload(scratch, n):
    origin = "scale.test"
    d = os.path.join(scratch, f"zone-{n}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, origin + ".zone")
    meta = os.path.join(d, "count")
    if not (os.path.exists(path) and os.path.exists(meta)):
        t = time.monotonic()
        count = wl.write_mixed_zone(path, origin, n)
        with open(meta, "w") as f:
            f.write(str(count))
        log(f"wrote {path}: {count} records in {time.monotonic() - t:.1f} s")
    with open(meta) as f:
        count = int(f.read())
    return Workload(kind="zone", label=f"zone {human(n)}", size=count, unit="record",
                    zones=[(origin, path)], probe=(f"probe.{origin}", wl.PROBE_ADDR))


def zones_workload(scratch, n):
    d = os.path.join(scratch, "small-zones")
    origins = wl.write_small_zones(d, n)
    zones = [(o, os.path.join(d, o + ".zone")) for o in origins]
    # The probe is the last zone; then 100 zones spread over the rest (Knot loads zones
    # in the background, one by one).
    step = max(1, n // 100)
    samples = [f"www.{o}" for o in origins[::step]]
    return Workload(kind="zones", label=f"{human(n)} zones", size=n, unit="zone", zones=zones,
                    probe=(f"www.{origins[-1]}", wl.PROBE_ADDR), samples=samples)


def services_workload(scratch, n):
    origin = "svc.test"
    d = os.path.join(scratch, f"services-{n}")
    done = os.path.join(d, "done")
    if not os.path.exists(done):
        t = time.monotonic()
        wl.write_services(d, origin, n)
        open(done, "w").close()
        log(f"wrote {d}: {n} services in {time.monotonic() - t:.1f} s")
    mdir, gdir = os.path.join(d, "meridian"), os.path.join(d, "gdnsd")
    return Workload(kind="services", label=f"services {human(n)}", size=n, unit="service",
                    zones=[(origin, os.path.join(mdir, origin + ".zone"))],
                    probe=(f"s{n - 1}.{origin}", None),
                    meridian_services={origin: os.path.join(mdir, origin + ".toml")},
                    meridian_geoip=True, regions=True,
                    gdnsd_zones={origin: os.path.join(gdir, origin)},
                    gdnsd_plugins=os.path.join(gdir, "plugins.conf"),
                    servers=("meridian", "gdnsd"))


def geo_clients(scratch):
    """Client subnets in every country of the shipped database (cached per database)."""
    with open(GEODB, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    path = os.path.join(scratch, f"clients-{digest}.tsv")
    if not os.path.exists(path):
        t = time.monotonic()
        clients = mmdb.pick_clients(GEODB)
        with open(path + ".tmp", "w") as f:
            for cc, addr, prefix in clients:
                f.write(f"{cc}\t{addr}\t{prefix}\n")
        os.replace(path + ".tmp", path)
        log(f"picked {len(clients)} client subnets from {GEODB} in {time.monotonic() - t:.1f} s")
    with open(path) as f:
        return [(cc, addr, int(p)) for cc, addr, p in (line.split("\t") for line in f if line.strip())]


def geo_workload(scratch):
    origin = "geo.test"
    clients = geo_clients(scratch)
    d = os.path.join(scratch, "geo")
    files = wl.write_geo(d, origin, clients)
    w = Workload(kind="geo", label="geo", size=len(clients), unit="client",
                 zones=[(origin, os.path.join(files["meridian"], origin + ".zone"))],
                 probe=(f"static.{origin}", "198.51.100.10"),
                 meridian_services={origin: os.path.join(files["meridian"], origin + ".toml")},
                 meridian_geoip=True, regions=True,
                 gdnsd_zones={origin: os.path.join(files["gdnsd"], origin)},
                 gdnsd_plugins=os.path.join(files["gdnsd"], "plugins.conf"),
                 servers=("meridian", "gdnsd"))
    return w, files, clients


def base_workload(scratch, test):
    """The same shape at its smallest: what every per-unit figure subtracts."""
    if test == "zone":
        w = zone_workload(scratch, 10)
    elif test == "zones":
        w = zones_workload(scratch, 1)
    else:
        w = services_workload(scratch, 1)
    w.label = f"{test} base"
    return w


# ---------------------------------------------------------------- the load tests


def run_load_tests(a, servers, emit):
    plans = {
        "zone": (a.zone_sizes, zone_workload),
        "zones": (a.zones_sizes, zones_workload),
        "services": (a.services_sizes, services_workload),
    }
    for test in ("zone", "zones", "services"):
        if test not in a.only:
            continue
        sizes, make = plans[test]
        base = base_workload(a.scratch, test)
        kinds = [k for k in servers if k in base.servers]
        log(f"== {test}: sizes {', '.join(human(s) for s in sizes)}; servers {', '.join(kinds)}")
        for rep in range(a.reps):
            for k in kinds:
                rec = load_run(k, base, a, os.path.join(a.rundir, k))
                rec.update(size="base", rep=rep)
                emit(rec)
        stopped = {}  # server -> why it runs no larger size
        last = {}  # server -> (size, seconds) of its last measured size
        reload_size = a.reload_size if a.reload_size else (max(sizes) if sizes else 0)
        for n in sizes:
            w = make(a.scratch, n)
            for rep in range(a.reps):
                for k in kinds:
                    if a.predict and k not in stopped and k in last:
                        prev_n, prev_cpu = last[k]
                        if prev_cpu * n / prev_n > a.timeout:
                            stopped[k] = (f"skipped: {prev_cpu:.0f} s CPU at {human(prev_n)} predicts "
                                          f"over {a.timeout:.0f} s at {human(n)}")
                    if k in stopped:
                        emit({"test": test, "label": w.label, "size": w.size, "unit": w.unit, "server": k,
                              "rep": rep, "skipped": stopped[k]})
                        continue
                    reload_origin = w.zones[0][0] if (test == "zone" and n == reload_size and a.reload) else None
                    rec = load_run(k, w, a, os.path.join(a.rundir, k), reload_origin)
                    rec["rep"] = rep
                    emit(rec)
                    if "error" in rec:
                        stopped[k] = f"stopped after {human(n)}: {rec['error'][:120]}"
                    else:
                        last[k] = (n, rec.get("all_cpu_s", 0))


# ---------------------------------------------------------------- the geo test


def parse_dnsperf(text):
    out = {}
    for key, pat in (("sent", r"Queries sent:\s+(\d+)"), ("completed", r"Queries completed:\s+(\d+)"),
                     ("lost", r"Queries lost:\s+(\d+)"), ("qps", r"Queries per second:\s+([\d.]+)"),
                     ("lat_avg_s", r"Average Latency \(s\):\s+([\d.]+)")):
        m = re.search(pat, text)
        if m:
            out[key] = float(m.group(1))
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        out["rcodes"] = m.group(1).strip()
    return out


def run_geo_test(a, servers, emit):
    kinds = [k for k in servers if k in ("meridian", "gdnsd")]
    w, files, clients = geo_workload(a.scratch)
    countries = len({c for c, _, _ in clients})
    log(f"== geo: {len(clients)} client subnets in {countries} countries; servers {', '.join(kinds)}")
    running = {}
    try:
        for k in kinds:
            port = a.port_base + KINDS[k].port_offset
            srv = KINDS[k](os.path.join(a.rundir, k), port, w, pin=0)
            if not port_free(port):
                raise RuntimeError(f"port {port} is in use before starting {k}")
            t0 = time.monotonic()
            srv.start()
            running[k] = srv
            asker = Asker(port)
            err = wait_answer(asker, srv, w.probe[0], w.probe[1], t0 + a.timeout)
            if err:
                emit({"test": "geo", "server": k, "error": err})
                asker.close()
                srv.stop()
                del running[k]
                continue
            # Which answers the clients get: two clients of every country.
            seen = {}
            answers, scopes, failed = set(), [], 0
            for cc, addr, prefix in clients:
                if seen.get(cc, 0) >= 2:
                    continue
                seen[cc] = seen.get(cc, 0) + 1
                r = asker.ecs(f"geo.{w.zones[0][0]}", addr, prefix)
                if r is None or r[0] != 0 or not r[1]:
                    failed += 1
                    continue
                answers.add(tuple(sorted(r[1])))
                scopes.append(r[2])
            asker.close()
            emit({"test": "geo", "server": k, "check": True, "start_s": round(time.monotonic() - t0, 3),
                  "asked": sum(seen.values()), "failed": failed, "distinct_answers": len(answers),
                  "scopes": sorted({s for s in scopes if s is not None}),
                  "clients": len(clients), "countries": countries})
        for rep in range(a.geo_reps):
            names = ("static", "geo") if rep % 2 == 0 else ("geo", "static")
            for k, srv in running.items():
                for name in names:
                    cmd = ["taskset", "-c", "1", "dnsperf", "-B", "-d", files[name], "-s", "127.0.0.1",
                           "-p", str(srv.port), "-l", str(a.geo_duration), "-c", "20", "-T", "2", "-q", "100"]
                    c0 = group_cpu(srv.pgid)
                    p = subprocess.run(cmd, capture_output=True, text=True, start_new_session=True)
                    c1 = group_cpu(srv.pgid)
                    rec = {"test": "geo", "server": k, "rep": rep, "name": name, "cmd": " ".join(cmd),
                           "server_cpu_s": round(c1 - c0, 3)}
                    rec.update(parse_dnsperf(p.stdout + p.stderr))
                    if rec.get("completed") and c1 > c0:
                        rec["q_per_cpu_s"] = round(rec["completed"] / (c1 - c0))
                    else:
                        rec["error"] = "dnsperf: " + (p.stdout + p.stderr)[-300:]
                    emit(rec)
    finally:
        for srv in running.values():
            srv.stop()


# ---------------------------------------------------------------- the table


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_bytes(b):
    if b is None:
        return "–"
    if b >= 1e9:
        return f"{b / 1e9:.2f} GB"
    if b >= 1e6:
        return f"{b / 1e6:.0f} MB" if b >= 1e8 else f"{b / 1e6:.1f} MB"
    return f"{b / 1e3:.0f} kB"


def fmt_us(x):
    return f"{x:.1f} µs" if x < 100 else f"{x:,.0f} µs"


def build_table(records, servers):
    """Rows of (work, {server: (primary value, cell text)}, lower_is_better)."""
    rows = []
    recs = [r for r in records if "skipped" not in r]
    skipped = {(r["test"], r["size"], r["server"]): r["skipped"] for r in records if "skipped" in r}

    def runs(test, size, server):
        return [r for r in recs if r.get("test") == test and r.get("size") == size and r.get("server") == server
                and "error" not in r and "first_s" in r]

    def missing(test, size, server):
        why = skipped.get((test, size, server))
        if why:
            return (None, why.split(":")[0])
        errs = [r for r in recs if r.get("test") == test and r.get("size") == size
                and r.get("server") == server and "error" in r]
        if errs:
            e = errs[0]
            if not e["error"].startswith("timeout"):
                return (None, "failed")
            if "gave_up_s" in e:
                return (None, f"no answer in {e['gave_up_s']:.0f} s ({e['gave_up_cpu_s']:.0f} s CPU)")
            return (None, "timeout")
        return None

    for test in ("zone", "zones", "services"):
        sizes = sorted({r["size"] for r in records if r.get("test") == test and r.get("size") != "base"})
        for n in sizes:
            label = next(r["label"] for r in records if r.get("test") == test and r.get("size") == n)
            unit = {"zone": "record", "zones": "zone", "services": "service"}[test]
            cpu_row, mem_row, start_row, reload_row, peak_row, unanswered_row = {}, {}, {}, {}, {}, {}
            for s in servers:
                rs, bs = runs(test, n, s), runs(test, "base", s)
                if not rs:
                    m = missing(test, n, s)
                    if m:
                        start_row[s] = m
                        cpu_row[s] = mem_row[s] = (None, "–")
                    continue
                cpu, wall, pss = med([r["all_cpu_s"] for r in rs]), med([r["all_s"] for r in rs]), med([r["pss"] for r in rs])
                bcpu, bpss = med([r["all_cpu_s"] for r in bs]), med([r["pss"] for r in bs])
                if bcpu is not None:
                    # CPU is counted in ticks (10 ms): below 3 ticks the difference is noise.
                    floor = 3 / CLK_TCK
                    if cpu - bcpu >= floor:
                        per = (cpu - bcpu) / n * 1e6
                        cpu_row[s] = (per, fmt_us(per))
                    else:
                        cpu_row[s] = (None, "< " + fmt_us(floor / n * 1e6))
                    perb = (pss - bpss) / n
                    mem_row[s] = (perb, f"{perb:,.0f} B") if perb > 0 else (None, "≈ 0 B")
                start_row[s] = (cpu if cpu >= 3 / CLK_TCK else None,
                                f"{wall:.2f} s ({cpu:.2f} s CPU), {fmt_bytes(pss)}")
                rl = [r for r in rs if "reload_s" in r and "reload_error" not in r]
                if rl:
                    t, peak, steady = med([r["reload_s"] for r in rl]), med([r["reload_peak"] for r in rl]), med([r["reload_steady"] for r in rl])
                    rcpu = med([r["reload_cpu_s"] for r in rl])
                    lost = sum(r["reload_unanswered"] for r in rl)
                    asked = sum(r.get("reload_probes", 0) for r in rl)
                    reload_row[s] = (rcpu if rcpu >= 3 / CLK_TCK else None,
                                     f"{t:.2f} s ({rcpu:.2f} s CPU)")
                    unanswered_row[s] = (lost, f"{lost} of {asked}" if asked else f"{lost}")
                    after = med([r.get("after_reload_pss") for r in rl])
                    peak_row[s] = (peak, f"{fmt_bytes(peak)} ({peak / steady:.2f}× steady)"
                                   + (f", {fmt_bytes(after)} after" if after else ""))
                elif any("reload_error" in r for r in rs):
                    reload_row[s] = (None, "failed")
            if test == "zone":
                rows.append((f"{label}: load CPU per record", cpu_row, True))
                rows.append((f"{label}: memory per record while serving", mem_row, True))
                rows.append((f"{label}: start to first answer (wall, CPU, memory)", start_row, True))
            elif test == "zones":
                rows.append((f"{label}: start to all answering (wall, CPU, memory)", start_row, True))
                rows.append((f"{label}: load CPU per zone", cpu_row, True))
                rows.append((f"{label}: memory per zone", mem_row, True))
            else:
                rows.append((f"{label}: start to first answer (wall, CPU, memory)", start_row, True))
                rows.append((f"{label}: load CPU per service", cpu_row, True))
                rows.append((f"{label}: memory per service", mem_row, True))
            if reload_row:
                rows.append((f"{label}: reload until the change is served (wall, CPU)", reload_row, True))
                rows.append((f"{label}: peak memory during reload; memory after it", peak_row, True))
                rows.append((f"{label}: queries unanswered during reload (of those asked every 10 ms)",
                             unanswered_row, True))

    geo = [r for r in records if r.get("test") == "geo" and "q_per_cpu_s" in r]
    if geo:
        ratio_row, geo_row, static_row = {}, {}, {}
        for s in servers:
            g = [r for r in geo if r["server"] == s]
            qg = med([r["q_per_cpu_s"] for r in g if r["name"] == "geo"])
            qs = med([r["q_per_cpu_s"] for r in g if r["name"] == "static"])
            # geo / static of each rep (the two runs next to each other), then the median
            pairs = []
            for rep in sorted({r["rep"] for r in g}):
                one = {r["name"]: r["q_per_cpu_s"] for r in g if r["rep"] == rep}
                if "geo" in one and "static" in one:
                    pairs.append(one["geo"] / one["static"])
            if pairs:
                m = statistics.median(pairs)
                spread = f" ({min(pairs):.2f}–{max(pairs):.2f})" if len(pairs) > 1 else ""
                ratio_row[s] = (m, f"{m:.2f}{spread}")
                geo_row[s] = (qg, f"{qg:,.0f}")
                static_row[s] = (qs, f"{qs:,.0f}")
        checks = {r["server"]: r for r in records if r.get("test") == "geo" and r.get("check")}
        c = next(iter(checks.values()), {})
        label = f"ECS clients in {c.get('countries', '?')} countries, 6 regions × 2 endpoints"
        rows.append((f"geo ({label}): geo / static q per server CPU-s, median of reps (range)", ratio_row, False))
        rows.append(("geo: q per server CPU-s, load-balanced name", geo_row, False))
        rows.append(("geo: q per server CPU-s, static name", static_row, False))
    return rows


def render_table(records):
    present = {r["server"] for r in records if "server" in r}
    servers = [s for s in SERVER_ORDER if s in present]
    peers = [s for s in servers if s != "meridian"]
    rows = build_table(records, servers)
    head = ["work"] + [NAMES[s] for s in servers] + [f"Meridian/{NAMES[p]}" for p in peers if "meridian" in servers]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for work, cells, _ in rows:
        line = [work] + [cells.get(s, (None, ""))[1] for s in servers]
        if "meridian" in servers:
            m = cells.get("meridian", (None, ""))[0]
            for p in peers:
                v = cells.get(p, (None, ""))[0]
                line.append(f"{m / v:.2f}" if m is not None and m > 0 and v is not None and v > 0 else "")
        out.append("| " + " | ".join(line) + " |")
    return "\n".join(out) + "\n"


def render_targets(records):
    """Issue 11's "done when", checked on this run's figures (Meridian against gdnsd)."""
    rows = {work: cells for work, cells, _ in build_table(records, ["meridian", "gdnsd"])}
    out = []

    def val(work, server):
        return rows.get(work, {}).get(server, (None, ""))[0]

    def mark(ok):
        return "yes" if ok else "NO"

    zone_sizes = sorted({r["size"] for r in records if r.get("test") == "zone" and isinstance(r.get("size"), int)})
    big = [n for n in zone_sizes if n < 3_000_000] or zone_sizes
    if big:
        label = next(r["label"] for r in records if r.get("test") == "zone" and r.get("size") == big[-1])
        m, g = val(f"{label}: load CPU per record", "meridian"), val(f"{label}: load CPU per record", "gdnsd")
        if m is not None:
            out.append(f"- {label}: load CPU per record ≤ 3 µs and ≤ gdnsd: {m:.1f} µs"
                       + (f" vs {g:.1f} µs" if g else "") + f" — {mark(m <= 3 and (g is None or m <= g))}")
        m, g = val(f"{label}: memory per record while serving", "meridian"), val(f"{label}: memory per record while serving", "gdnsd")
        if m is not None:
            out.append(f"- {label}: memory per record ≤ 200 B and ≤ gdnsd: {m:,.0f} B"
                       + (f" vs {g:,.0f} B" if g else "") + f" — {mark(m <= 200 and (g is None or m <= g))}")
        def reload_runs(server):
            return [r for r in records if r.get("test") == "zone" and r.get("size") == big[-1]
                    and r.get("server") == server and "reload_peak" in r and "reload_error" not in r]

        rl, gl = reload_runs("meridian"), reload_runs("gdnsd")
        if rl and gl:
            mw, gw = med([r["reload_s"] for r in rl]), med([r["reload_s"] for r in gl])
            mc, gc = med([r["reload_cpu_s"] for r in rl]), med([r["reload_cpu_s"] for r in gl])
            out.append(f"- {label}: reload within gdnsd's time: {mw:.2f} s vs {gw:.2f} s wall, "
                       f"{mc:.2f} s vs {gc:.2f} s CPU — {mark(mw <= gw and mc <= gc)}")
        if rl:
            f = med([r["reload_peak"] / r["reload_steady"] for r in rl])
            lost = sum(r["reload_unanswered"] for r in rl)
            out.append(f"- {label}: reload peak ≤ 1.5× steady memory: {f:.2f}× — {mark(f <= 1.5)}; "
                       f"queries unanswered during reload: {lost}")
    svc = [r for r in records if r.get("test") == "services" and r.get("size") == 100_000 and r.get("server") == "meridian"]
    if svc:
        ok = [r for r in svc if "first_s" in r]
        if ok:
            t, c = med([r["first_s"] for r in ok]), med([r["first_cpu_s"] for r in ok])
            out.append(f"- services 100k: start to first answer under 1 s: {t:.2f} s ({c:.2f} s CPU) — {mark(t < 1)}")
        else:
            why = svc[0].get("error") or svc[0].get("skipped") or "no figure"
            out.append(f"- services 100k: start to first answer under 1 s: {why[:80]} — NO")
    geo = [w for w in rows if w.startswith("geo (")]  # the geo / static row
    if geo:
        m = val(geo[0], "meridian")
        if m is not None:
            out.append(f"- geo answers ≥ 0.90 of static per server CPU-second: {m:.2f} — {mark(m >= 0.9)}")
    return ("Issue 11 targets (this run):\n" + "\n".join(out) + "\n") if out else ""


def render_notes(records):
    notes = []
    for r in records:
        if r.get("test") == "geo" and r.get("check"):
            notes.append(f"- geo check, {NAMES[r['server']]}: {r['asked']} clients asked (every country), "
                         f"{r['failed']} without an answer, {r['distinct_answers']} distinct answers, "
                         f"ECS scopes {r['scopes']}")
        if "error" in r:
            notes.append(f"- {NAMES.get(r.get('server'), r.get('server'))} {r.get('label', r.get('test'))}: "
                         f"{r['error'][:300]}")
        if r.get("reload_error"):
            notes.append(f"- {NAMES[r['server']]} {r['label']} reload: {r['reload_error'][:300]}")
        if "skipped" in r and r.get("rep", 0) == 0:
            notes.append(f"- {NAMES[r['server']]} {r['label']}: {r['skipped']}")
    lost = [r for r in records if r.get("test") == "geo" and r.get("lost")]
    for r in lost:
        notes.append(f"- geo {NAMES[r['server']]} {r['name']} rep {r['rep']}: {r['lost']:.0f} queries lost")
    return "\n".join(dict.fromkeys(notes)) + ("\n" if notes else "")


# ---------------------------------------------------------------- main


def build_meridian(a):
    if a.no_build:
        return
    log("cargo build --release")
    subprocess.run(["nice", "-n", "5", "cargo", "build", "--release"], cwd=REPO, check=True)


def machine_note():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return f"{os.cpu_count()} CPUs ({model}), {mem / 1024:.0f} GB RAM, load average {os.getloadavg()[0]:.1f} at start"


def _sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(TESTS), help="tests to run: zone,zones,services,geo")
    ap.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    ap.add_argument("--big", action="store_true", help="add the 3M-record zone")
    ap.add_argument("--zone-sizes", help="records per zone (default 10k,100k,1M; --quick 10k)")
    ap.add_argument("--zones-sizes", help="numbers of small zones (default 1k,10k; --quick 100)")
    ap.add_argument("--services-sizes", help="load-balanced names (default 1k,10k,100k; --quick 100)")
    ap.add_argument("--reload-size", type=parse_sizes, help="zone size whose reload is measured (default: the largest except 3M)")
    ap.add_argument("--no-reload", dest="reload", action="store_false", help="skip the reload measurement")
    ap.add_argument("--reps", type=int, default=1, help="runs per server and size, interleaved (medians)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds a start or reload may take before the size is abandoned")
    ap.add_argument("--predict", action="store_true",
                    help="skip a size when the previous one's CPU time, scaled linearly, exceeds --timeout")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds after the last answer before memory is read")
    ap.add_argument("--geo-duration", type=int, help="seconds per dnsperf run (default 10; --quick 2)")
    ap.add_argument("--geo-reps", type=int, help="dnsperf runs per server and name (default 3; --quick 1)")
    ap.add_argument("--servers", help="comma list (default: meridian and the installed peers)")
    ap.add_argument("--pin", type=int, default=None, help="pin servers to this CPU in the load tests (geo always pins: server CPU 0, dnsperf CPU 1)")
    ap.add_argument("--port-base", type=int, default=5420, help="Meridian on this port, gdnsd +1, NSD +2, Knot +3 (127.0.0.1)")
    ap.add_argument("--scratch", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "meridian-scale"),
                    help="where workloads are generated (reused) and servers run")
    ap.add_argument("--out", help="results file (default bench/results/scale-STAMP.jsonl)")
    ap.add_argument("--meridian-bin", help="Meridian binary (default target/release/meridian, or $CARGO_TARGET_DIR)")
    ap.add_argument("--no-build", action="store_true", help="do not run cargo build --release first")
    ap.add_argument("--table", metavar="RESULTS", help="print the table of a results file and exit")
    a = ap.parse_args()

    if a.table:
        with open(a.table) as f:
            records = [r for r in (json.loads(line) for line in f if line.strip()) if not r.get("meta")]
        sys.stdout.write(render_table(records) + "\n" + render_targets(records) + "\n" + render_notes(records))
        return

    signal.signal(signal.SIGTERM, _sigterm)
    a.only = [t.strip() for t in a.only.split(",") if t.strip()]
    for t in a.only:
        if t not in TESTS:
            sys.exit(f"--only: unknown test {t!r} (known: {', '.join(TESTS)})")
    a.zone_sizes = parse_sizes(a.zone_sizes or ("10k" if a.quick else "10k,100k,1M"))
    if a.big and 3_000_000 not in a.zone_sizes:
        a.zone_sizes.append(3_000_000)
    a.zones_sizes = parse_sizes(a.zones_sizes or ("100" if a.quick else "1k,10k"))
    a.services_sizes = parse_sizes(a.services_sizes or ("100" if a.quick else "1k,10k,100k"))
    if a.reload_size:
        a.reload_size = a.reload_size[0]
    else:
        normal = [n for n in a.zone_sizes if n < 3_000_000] or a.zone_sizes
        a.reload_size = max(normal) if normal else 0
    a.geo_duration = a.geo_duration or (2 if a.quick else 10)
    a.geo_reps = a.geo_reps or (1 if a.quick else 3)

    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    Meridian.bin_path = os.path.abspath(a.meridian_bin) if a.meridian_bin else os.path.join(os.path.abspath(target), "release", "meridian")
    if not a.meridian_bin:
        build_meridian(a)

    if a.servers:
        servers = [s.strip() for s in a.servers.split(",") if s.strip()]
        for s in servers:
            if s not in KINDS:
                sys.exit(f"--servers: unknown server {s!r} (known: {', '.join(KINDS)})")
            if not KINDS[s].installed():
                sys.exit(f"--servers: {s} is not installed")
    else:
        servers = []
        for s in SERVER_ORDER:
            if KINDS[s].installed():
                servers.append(s)
            else:
                log(f"{s}: not installed, left out")
    if "geo" in a.only and not shutil.which("dnsperf"):
        log("dnsperf not installed: the geo test is left out")
        a.only.remove("geo")

    os.makedirs(a.scratch, exist_ok=True)
    a.rundir = os.path.join(a.scratch, "run")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = a.out or os.path.join(REPO, "bench", "results", f"scale-{stamp}.jsonl")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    records = []

    def emit(rec):
        records.append(rec)
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if rec.get("meta"):
            return
        brief = {k: rec[k] for k in ("first_s", "all_cpu_s", "pss", "reload_s", "reload_peak", "q_per_cpu_s",
                                     "error", "skipped", "reload_error") if k in rec}
        log(f"{rec.get('test')} {rec.get('label', rec.get('name', ''))} {rec.get('size', '')} {rec.get('server')}: {brief}")

    emit({"meta": True, "server": None, "commit": commit + ("+dirty" if dirty else ""), "machine": machine_note(),
          "argv": sys.argv[1:], "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "servers": servers})
    log(f"results: {out}")
    try:
        run_load_tests(a, servers, emit)
        if "geo" in a.only:
            run_geo_test(a, servers, emit)
    except KeyboardInterrupt:
        log("interrupted: every server started has been stopped")
    records = [r for r in records if not r.get("meta")]
    table = render_table(records) + "\n" + render_targets(records) + "\n" + render_notes(records)
    md = os.path.splitext(out)[0] + ".md"
    with open(md, "w") as f:
        f.write(f"commit {commit}{'+dirty' if dirty else ''}, {time.strftime('%Y-%m-%d')}, {machine_note()}\n\n" + table)
    print()
    print(f"== {out}")
    sys.stdout.write(table)


if __name__ == "__main__":
    main()

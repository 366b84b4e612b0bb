#!/usr/bin/env python3
"""Table of a peer-benchmark run (bench/run.sh): queries per server CPU-second per profile.

  report.py table FILE.jsonl [FILE ...] [--max-foreign 0.25]
  report.py noisy FILE.jsonl [--reps 3] [--max-foreign 0.25]

`table`: per profile (and config), each server's median queries per server CPU-second
over its runs, that median's ratio to gdnsd's and to ceiling-mmsg's, and the CPU other
processes used during the runs ("foreign"). Runs whose foreign + unattributed CPU is above
--max-foreign are left out of the median when the server has at least one quieter run;
if all its runs were noisy they are all used and the row is marked "!".

`noisy`: prints "PROFILE CONFIG SERVER" once for every quiet run a server is short of
--reps, so run.sh can rerun just those. Stdlib only.
"""
import argparse
import json
import statistics
import sys

PROFILE_ORDER = ["plain", "edns", "ecs"]
REFS = [("gdnsd", "gdnsd"), ("ceiling-mmsg", "ceiling")]


def load(files):
    rows = []
    for fn in files:
        with open(fn) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def noise(r):
    return r.get("foreign_cpu_cores", 0) + r.get("unattributed_cpu_cores", 0)


def ok(r):
    return "qps_per_server_core" in r and "error" not in r


def groups(rows):
    g = {}
    for r in rows:
        g.setdefault((r["profile"], r["config"]), {}).setdefault(r["server"], []).append(r)
    return g


def pick(runs, max_foreign):
    """(runs used for the median, all-noisy flag)."""
    good = [r for r in runs if ok(r)]
    quiet = [r for r in good if noise(r) <= max_foreign]
    return (quiet, False) if quiet else (good, bool(good))


def order(key):
    prof, cfg = key
    return (PROFILE_ORDER.index(prof) if prof in PROFILE_ORDER else 99, prof, cfg)


def table(rows, max_foreign):
    out = []
    for key in sorted(groups(rows), key=order):
        servers = groups(rows)[key]
        med = {}
        for name, runs in servers.items():
            used, _ = pick(runs, max_foreign)
            if used:
                med[name] = statistics.median(r["qps_per_server_core"] for r in used)
        out.append(f"\n### profile={key[0]}  config={key[1]}\n")
        out.append("| server | runs | q per server CPU-s (median) | ratio to gdnsd | ratio to ceiling | "
                   "qps (median) | server CPU cores | foreign+unattr. CPU (median / max) | lost | notes |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for name in sorted(servers, key=lambda n: -med.get(n, -1)):
            runs = servers[name]
            used, all_noisy = pick(runs, max_foreign)
            if not used:
                errs = [r.get("error", "no result") for r in runs]
                out.append(f"| {name} | 0/{len(runs)} | FAILED | | | | | | | {errs[0][:120]} |")
                continue
            m = med[name]
            ratios = ["%.2f" % (m / med[ref]) if med.get(ref) else "–" for ref, _ in REFS]
            notes = []
            if all_noisy:
                notes.append(f"! all runs foreign > {max_foreign}")
            errs = [r for r in runs if "error" in r]
            if errs:
                notes.append(f"{len(errs)} failed: {errs[0]['error'][:80]}")
            rc = {r.get("rcodes", "") for r in used}
            if any("SERVFAIL" in x or "REFUSED" in x or "FORMERR" in x or "NOTIMP" in x for x in rc):
                notes.append("rcodes: " + "; ".join(sorted(rc)))
            fg = [noise(r) for r in runs if ok(r)]
            out.append("| %s | %d/%d | %.0f | %s | %s | %.0f | %.2f | %.2f / %.2f | %d | %s |" % (
                name, len(used), len(runs), m, ratios[0], ratios[1],
                statistics.median(r["qps"] for r in used),
                statistics.median(r["server_cpu_cores"] for r in used),
                statistics.median(fg), max(fg), sum(r.get("lost", 0) for r in used), "; ".join(notes)))
    return "\n".join(out) + "\n"


def noisy(rows, reps, max_foreign):
    lines = []
    for key, servers in sorted(groups(rows).items(), key=lambda kv: order(kv[0])):
        for name, runs in servers.items():
            quiet = [r for r in runs if ok(r) and noise(r) <= max_foreign]
            lines += [f"{key[0]} {key[1]} {name}"] * max(0, reps - len(quiet))
    return "".join(line + "\n" for line in lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["table", "noisy"])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--max-foreign", type=float, default=0.25,
                    help="cores of other processes' CPU (foreign + unattributed) above which a run is noisy")
    ap.add_argument("--reps", type=int, default=3, help="noisy: quiet runs wanted per server and profile")
    a = ap.parse_args()
    rows = load(a.files)
    sys.stdout.write(table(rows, a.max_foreign) if a.cmd == "table" else noisy(rows, a.reps, a.max_foreign))


if __name__ == "__main__":
    main()

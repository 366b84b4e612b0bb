#!/usr/bin/env python3
"""How much one `meridian probe` costs at 10,000 TCP targets on a 5 s interval.

    python3 bench/fleet/prober-scale.py            # 100 addresses x 100 ports, 60 s window

Sets up, all on 127.0.0.0/8:
  * listeners.py: one real listening socket per target (127.0.10.1-100 x ports
    21000-21099 by default; --skip-every N leaves every Nth pair unbound, i.e. a real
    refused port), accepting and closing every connection;
  * `meridian serve` (local_prober = false) with 100 services x 100 endpoints, each
    service's tcp check on its own port: 10,000 distinct (address, port) targets;
  * one `meridian probe`, which fetches them from /v1/fleet/targets.
Waits until every endpoint in /v1/status has a vote from that prober younger than
interval + slack, then measures over --window seconds: the prober's CPU (utime + stime
from /proc/PID/stat), its VmRSS / VmHWM, and the checks per second the server actually
received (the prober's accepted-report counter in /v1/status: one report per completed
check, since a target is checked at most once per 500 ms flush). Prints a table.
Stops every process it started by process group, in `finally`.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def write_services(d, addresses, first_octets, base_port, ports, interval, timeout):
    a, b, c, start = first_octets
    out = []
    for j in range(ports):
        out.append(f"[services.s{j:03d}]")
        out.append(
            f'check = {{ kind = "tcp", port = {base_port + j}, interval = "{interval}s", '
            f'timeout = "{timeout}ms", rise = 1, fall = 1 }}'
        )
        out.append("endpoints = [")
        for i in range(addresses):
            region = "eu-west" if i % 2 == 0 else "us-east"
            out.append(f'  {{ region = "{region}", address = "{a}.{b}.{c}.{start + i}" }},')
        out.append("]")
        out.append("")
    with open(os.path.join(d, "zones", "example.com.toml"), "w") as f:
        f.write("\n".join(out))


def status_summary(status, prober, interval_s, slack_s):
    ages = []
    missing = up = down = 0
    for svc in status["services"]:
        if not svc["checked"]:
            continue
        for ep in svc["endpoints"]:
            vote = next((v for v in ep["votes"] if v["prober"] == prober), None)
            if vote is None:
                missing += 1
                continue
            ages.append(vote["age_ms"] / 1000)
            if vote["up"]:
                up += 1
            else:
                down += 1
    late = sum(1 for x in ages if x > interval_s + slack_s)
    reports = next((p["reports"] for p in status["probers"] if p["name"] == prober), 0)
    return {
        "endpoints": len(ages) + missing,
        "missing": missing,
        "late": late,
        "up": up,
        "down": down,
        "ages": ages,
        "reports": reports,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="meridian binary (default: target/release/meridian, built if missing)")
    ap.add_argument("--addresses", type=int, default=100, help="addresses 127.0.10.1.. (max 250)")
    ap.add_argument("--ports", type=int, default=100, help="ports (one service each)")
    ap.add_argument("--base-port", type=int, default=21000)
    ap.add_argument("--skip-every", type=int, default=0,
                    help="leave every Nth target without a listener (refused); 0: none")
    ap.add_argument("--interval", type=int, default=5, help="check interval, seconds")
    ap.add_argument("--timeout-ms", type=int, default=1000, help="check timeout")
    ap.add_argument("--window", type=float, default=60, help="measurement window, seconds")
    ap.add_argument("--slack", type=float, default=1.0, help="vote age allowed beyond the interval")
    ap.add_argument("--settle-timeout", type=float, default=180)
    ap.add_argument("--max-load", type=float, default=1.0)
    ap.add_argument("--load-tries", type=int, default=10)
    ap.add_argument("--load-wait", type=float, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory (config, logs)")
    a = ap.parse_args()
    if not 1 <= a.addresses <= 250:
        sys.exit("--addresses must be 1..250")
    if a.base_port < 1024 or a.base_port + a.ports > 32768:
        sys.exit("ports must stay in 1024..32767 (below the ephemeral range, never 53)")

    binary = harness.ensure_binary(a.binary)
    targets = a.addresses * a.ports
    load_before = harness.wait_for_quiet(a.max_load, a.load_tries, a.load_wait)
    harness.log(f"load average {load_before:.2f}; {targets} targets")

    d = tempfile.mkdtemp(prefix="meridian-prober-scale-")
    procs = harness.Procs()
    try:
        config, token = harness.write_server_config(
            d, {"eu-west": (53.35, -6.26), "us-east": (39.04, -77.49)}, "eu-west"
        )
        harness.write_zone(d)
        write_services(d, a.addresses, (127, 0, 10, 1), a.base_port, a.ports, a.interval, a.timeout_ms)

        here = os.path.dirname(os.path.abspath(__file__))
        lst = procs.start(
            "listeners",
            [sys.executable, os.path.join(here, "listeners.py"), "--first", "127.0.10.1",
             "--addresses", str(a.addresses), "--base-port", str(a.base_port),
             "--ports", str(a.ports), "--skip-every", str(a.skip_every)],
            stderr=open(os.path.join(d, "listeners.log"), "w"),
        )
        line = harness.wait_line(lst, "listening", 120)
        listening, skipped = int(line.split()[1]), int(line.split()[3])
        harness.log(f"listeners: {listening} listening sockets, {skipped} refused ports")

        serve = procs.start(
            "serve", [binary, "serve", "--config", config],
            stderr=open(os.path.join(d, "serve.log"), "w"), cwd=d,
        )
        _, (api_host, api_port) = harness.parse_ready(harness.wait_line(serve, "meridian ready", 120))
        api = f"http://{api_host}:{api_port}"
        n = len(harness.get_json(f"{api}/v1/fleet/targets", token)["targets"])
        if n != targets:
            raise RuntimeError(f"server lists {n} targets, expected {targets}")
        harness.log(f"serve pid {serve.pid}: {n} targets at {api}/v1/fleet/targets")

        name = "bench-prober"
        probe = procs.start(
            "probe",
            [binary, "probe", "--region", "eu-west", "--server", api,
             "--token-file", os.path.join(d, "fleet.token"), "--name", name],
            stderr=open(os.path.join(d, "probe.log"), "w"), cwd=d,
        )
        harness.wait_line(probe, "meridian probe ready", 60)
        t_start = time.monotonic()
        harness.log(f"probe pid {probe.pid}: waiting for a fresh vote on every endpoint")

        deadline = time.monotonic() + a.settle_timeout
        while True:
            s = status_summary(harness.get_json(f"{api}/v1/status"), name, a.interval, a.slack)
            harness.log(f"  votes: {s['endpoints'] - s['missing']}/{s['endpoints']}, late {s['late']}")
            if s["missing"] == 0 and s["late"] == 0 and s["endpoints"] == targets:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every endpoint has a fresh vote after {a.settle_timeout}s: {s['missing']} missing, {s['late']} late")
            if probe.poll() is not None:
                raise RuntimeError(f"probe exited with {probe.returncode}")
            time.sleep(2)
        settled = time.monotonic() - t_start
        harness.log(f"all {targets} endpoints voted on {settled:.1f}s after the prober started; steady state for one more interval")
        time.sleep(a.interval)

        load_start = os.getloadavg()[0]
        pids = {"probe": probe.pid, "serve": serve.pid, "listeners": lst.pid}
        s0 = status_summary(harness.get_json(f"{api}/v1/status"), name, a.interval, a.slack)
        w0 = time.monotonic()
        c0 = {k: harness.proc_cpu_seconds(p) for k, p in pids.items()}
        rss = []
        while time.monotonic() - w0 < a.window:
            time.sleep(min(5, max(0, a.window - (time.monotonic() - w0))))
            rss.append(harness.proc_status(probe.pid)["VmRSS"])
            if probe.poll() is not None:
                raise RuntimeError(f"probe exited with {probe.returncode} during the window")
        c1 = {k: harness.proc_cpu_seconds(p) for k, p in pids.items()}
        w1 = time.monotonic()
        st = harness.proc_status(probe.pid)
        s1 = status_summary(harness.get_json(f"{api}/v1/status"), name, a.interval, a.slack)
        load_end = os.getloadavg()[0]

        wall = w1 - w0
        cpu = {k: c1[k] - c0[k] for k in pids}
        checks = s1["reports"] - s0["reports"]
        rate = checks / wall
        ages = sorted(s1["ages"])
        p99 = ages[int(0.99 * (len(ages) - 1))] if ages else float("nan")
        mib = lambda kib: f"{kib / 1024:.1f} MiB"  # noqa: E731

        rows = [
            ("targets", f"{targets} tcp ({a.addresses} addresses x {a.ports} ports), "
                        f"{listening} listening, {skipped} refused"),
            ("interval / timeout", f"{a.interval} s / {a.timeout_ms} ms"),
            ("time to first full round", f"{settled:.1f} s"),
            ("window", f"{wall:.1f} s"),
            ("checks/s expected", f"{targets / a.interval:.1f}"),
            ("checks/s achieved", f"{rate:.1f}  ({checks} reports accepted by the server)"),
            ("votes at end", f"{s1['up']} up, {s1['down']} down, {s1['missing']} missing"),
            ("vote age p50 / p99 / max", f"{statistics.median(ages):.2f} / {p99:.2f} / {ages[-1]:.2f} s"
                                          if ages else "n/a"),
            (f"votes older than {a.interval + a.slack:g} s", f"{s1['late']}"),
            ("prober CPU", f"{cpu['probe'] / wall:.3f} cores ({cpu['probe']:.2f} CPU-s in {wall:.1f} s)"),
            ("checks per CPU-second", f"{checks / cpu['probe']:.0f}" if cpu["probe"] > 0 else "inf"),
            ("prober VmRSS end / max sampled", f"{mib(st['VmRSS'])} / {mib(max(rss))}"),
            ("prober VmHWM", mib(st["VmHWM"])),
            ("prober threads", str(st["Threads"])),
            ("serve CPU (context)", f"{cpu['serve'] / wall:.3f} cores"),
            ("listeners CPU (context)", f"{cpu['listeners'] / wall:.3f} cores"),
            ("load average (1 min)", f"{load_before:.2f} before setup, {load_start:.2f} at window start, "
                                     f"{load_end:.2f} at end"),
            ("cores", str(os.cpu_count())),
        ]
        width = max(len(k) for k, _ in rows)
        print()
        print("prober-scale: one `meridian probe`")
        for k, v in rows:
            print(f"  {k:<{width}}  {v}")
        ok = s1["missing"] == 0 and s1["late"] == 0 and rate >= 0.95 * targets / a.interval
        print(f"  {'verdict':<{width}}  {'OK: kept up' if ok else 'FELL BEHIND'}")
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

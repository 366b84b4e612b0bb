#!/usr/bin/env python3
"""How fast DNS answers move when a region's backend dies, and come back when it returns.

    python3 bench/fleet/failover.py                  # 1 prober, 5 rounds
    python3 bench/fleet/failover.py --probers 3      # quorum of 3 (majority = 2)

Sets up, all on 127.0.0.0/8:
  * two backends, `python3 -m http.server` on 127.0.20.1 (eu-west, primary) and
    127.0.20.2 (us-east), same port;
  * `meridian serve` (local_prober = false) with one service, app.example.com,
    policy = "failover", order = [eu-west, us-east], an http (or --kind tcp) check with
    interval 1 s, timeout 500 ms, fall 2, rise 2;
  * --probers `meridian probe`s (1 or 3), each checking from its own --source address.
Waits until every prober has a fresh "up" vote on both endpoints and the answer has been
the primary for --stable seconds. Then, each round: waits a random fraction of the
interval (so the kill lands at a random phase of the check schedule), kills the primary
backend (SIGKILL to its process group; t0 = when it has exited), and queries the DNS
UDP port every 20 ms until the answer no longer holds the dead address -> failover time,
against the bound fall x interval + 1 s. Then it starts the backend again (t1 = when it
accepts a TCP connection) and polls until the primary is answered again -> recovery time,
against rise x interval + 1 s. Prints every round and min/median/max. Every process it
started is stopped by process group, in `finally`.
"""

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PRIMARY = "127.0.20.1"
SECONDARY = "127.0.20.2"
NAME = "app.example.com"


def start_backend(procs, d, addr, port):
    p = procs.start(
        f"backend {addr}",
        [sys.executable, "-m", "http.server", str(port), "--bind", addr, "--directory", d],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    # Ready = accepts a TCP connection (bounded: 10 s).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"backend {addr}:{port} exited with {p.returncode}")
        try:
            with socket.create_connection((addr, port), timeout=0.2):
                return p, time.monotonic()
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"backend {addr}:{port} did not start listening")


def poll_until(dns, pred, period, timeout):
    """Queries every `period` s until pred(answer); returns (elapsed from call, answers
    seen, queries unanswered) or raises after `timeout`."""
    start = time.monotonic()
    nxt = start
    lost = 0
    while True:
        ans = dns.a(NAME, timeout=min(0.5, period * 10))
        now = time.monotonic()
        if ans is None:
            lost += 1
        elif pred(ans):
            return now, lost
        if now - start > timeout:
            raise TimeoutError(f"answer did not change within {timeout}s (last {ans})")
        nxt += period
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


def wait_stable(dns, api, probers, expect, stable_s, timeout):
    """Until every prober has a fresh up vote on both endpoints (status), and the answer
    has been exactly [expect] for stable_s seconds."""
    deadline = time.monotonic() + timeout
    since = None
    while time.monotonic() < deadline:
        st = harness.get_json(f"{api}/v1/status")
        eps = [e for s in st["services"] if s["checked"] for e in s["endpoints"]]
        votes_ok = all(
            e["state"] == "up"
            and sum(1 for v in e["votes"] if v["prober"] in probers and v["fresh"] and v["up"]) == len(probers)
            for e in eps
        )
        ans = dns.a(NAME)
        if votes_ok and ans == [expect]:
            since = since or time.monotonic()
            if time.monotonic() - since >= stable_s:
                return
        else:
            since = None
        time.sleep(0.2)
    raise TimeoutError(f"not stable on {expect} within {timeout}s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="meridian binary (default: target/release/meridian, built if missing)")
    ap.add_argument("--probers", type=int, default=1, choices=[1, 3])
    ap.add_argument("--rounds", "-n", type=int, default=5)
    ap.add_argument("--kind", choices=["http", "tcp"], default="http")
    ap.add_argument("--port", type=int, default=22080)
    ap.add_argument("--interval", type=int, default=1, help="seconds")
    ap.add_argument("--timeout-ms", type=int, default=500)
    ap.add_argument("--fall", type=int, default=2)
    ap.add_argument("--rise", type=int, default=2)
    ap.add_argument("--poll-ms", type=float, default=20)
    ap.add_argument("--stable", type=float, default=3, help="seconds of unchanged answers before a round")
    ap.add_argument("--round-timeout", type=float, default=30)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--max-load", type=float, default=1.0)
    ap.add_argument("--load-tries", type=int, default=10)
    ap.add_argument("--load-wait", type=float, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory (config, logs)")
    a = ap.parse_args()
    if a.port in (53,) or not 1024 <= a.port < 32768:
        sys.exit("--port must be in 1024..32767")
    rng = random.Random(a.seed)

    binary = harness.ensure_binary(a.binary)
    load_before = harness.wait_for_quiet(a.max_load, a.load_tries, a.load_wait)
    d = tempfile.mkdtemp(prefix="meridian-failover-")
    procs = harness.Procs()
    dns = None
    try:
        config, token = harness.write_server_config(
            d, {"eu-west": (53.35, -6.26), "us-east": (39.04, -77.49)}, "eu-west"
        )
        harness.write_zone(d)
        path = ', path = "/"' if a.kind == "http" else ""
        with open(os.path.join(d, "zones", "example.com.toml"), "w") as f:
            f.write(f"""[services.app]
ttl = 5
policy = "failover"
order = ["eu-west", "us-east"]
check = {{ kind = "{a.kind}", port = {a.port}{path}, interval = "{a.interval}s", timeout = "{a.timeout_ms}ms", rise = {a.rise}, fall = {a.fall} }}
endpoints = [
  {{ region = "eu-west", address = "{PRIMARY}" }},
  {{ region = "us-east", address = "{SECONDARY}" }},
]
""")
        www = os.path.join(d, "www")
        os.makedirs(www)
        primary, _ = start_backend(procs, www, PRIMARY, a.port)
        start_backend(procs, www, SECONDARY, a.port)

        serve = procs.start("serve", [binary, "serve", "--config", config],
                            stderr=open(os.path.join(d, "serve.log"), "w"), cwd=d)
        dns_addr, (api_host, api_port) = harness.parse_ready(harness.wait_line(serve, "meridian ready", 60))
        api = f"http://{api_host}:{api_port}"
        dns = harness.DnsClient(dns_addr)

        names = []
        regions = ["eu-west", "us-east", "eu-west"]
        for i in range(a.probers):
            name = f"bench-p{i + 1}"
            p = procs.start(
                f"probe {name}",
                [binary, "probe", "--region", regions[i], "--server", api,
                 "--token-file", os.path.join(d, "fleet.token"), "--name", name,
                 "--source", f"127.0.30.{i + 1}"],
                stderr=open(os.path.join(d, f"probe-{name}.log"), "w"), cwd=d,
            )
            harness.wait_line(p, "meridian probe ready", 30)
            names.append(name)
        harness.log(f"serve at dns={dns_addr[0]}:{dns_addr[1]} {api}; probers {', '.join(names)}")

        wait_stable(dns, api, names, PRIMARY, a.stable, 60)
        load_start = os.getloadavg()[0]
        period = a.poll_ms / 1000
        fail_bound = a.fall * a.interval + 1
        rise_bound = a.rise * a.interval + 1
        fails, rises, lost_total = [], [], 0
        print(f"failover: {a.probers} prober(s), {a.kind} check interval {a.interval}s timeout "
              f"{a.timeout_ms}ms fall {a.fall} rise {a.rise}; polling every {a.poll_ms:g} ms")
        print(f"  {'round':>5}  {'failover s':>10}  {'recovery s':>10}")
        for r in range(a.rounds):
            time.sleep(rng.uniform(0, a.interval))
            os.killpg(primary.pid, signal.SIGKILL)
            primary.wait(timeout=10)
            t0 = time.monotonic()
            t, lost = poll_until(dns, lambda ans: PRIMARY not in ans, period, a.round_timeout)
            fails.append(t - t0)
            lost_total += lost
            # Let every prober settle on "down" before the backend returns.
            wait_stable_answer(dns, SECONDARY, a.fall * a.interval + 1)
            time.sleep(rng.uniform(0, a.interval))
            primary, t1 = start_backend(procs, www, PRIMARY, a.port)
            t, lost = poll_until(dns, lambda ans: PRIMARY in ans, period, a.round_timeout)
            rises.append(t - t1)
            lost_total += lost
            print(f"  {r + 1:>5}  {fails[-1]:>10.3f}  {rises[-1]:>10.3f}", flush=True)
            wait_stable(dns, api, names, PRIMARY, a.stable, 60)
        load_end = os.getloadavg()[0]

        def mmm(xs):
            return f"{min(xs):.3f} / {statistics.median(xs):.3f} / {max(xs):.3f} s"

        ok_f = max(fails) <= fail_bound
        ok_r = max(rises) <= rise_bound
        print(f"  failover min/median/max  {mmm(fails)}  bound fall x interval + 1 s = {fail_bound} s"
              f"  {'OK' if ok_f else 'EXCEEDED'}")
        print(f"  recovery min/median/max  {mmm(rises)}  bound rise x interval + 1 s = {rise_bound} s"
              f"  {'OK' if ok_r else 'EXCEEDED'}")
        print(f"  DNS queries unanswered within 500 ms: {lost_total}")
        print(f"  load average (1 min): {load_before:.2f} before setup, {load_start:.2f} at first round, "
              f"{load_end:.2f} at end; {os.cpu_count()} cores")
        return 0 if ok_f and ok_r else 1
    finally:
        if dns:
            dns.close()
        procs.stop_all()
        if a.keep:
            harness.log(f"kept {d}")
        else:
            import shutil
            shutil.rmtree(d, ignore_errors=True)


def wait_stable_answer(dns, expect, seconds):
    """Answer stays [expect] for `seconds` (bounded: 10 x seconds)."""
    deadline = time.monotonic() + 10 * seconds
    since = time.monotonic()
    while time.monotonic() < deadline:
        if dns.a(NAME) != [expect]:
            since = time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.1)
    raise TimeoutError(f"answer not stable on {expect}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The lab's test: brings up docker-compose.yml (the lab, deploy/lab/) under a Compose
project name of its own and checks, over DNS and the API published on 127.0.0.1, what an
operator trying the fleet would see:

1. every client gets its own region from both servers (London eu-west, California
   us-west, Tokyo ap-northeast), for the HTTP- and the TCP-checked name;
2. a region's backend stops: its clients' answers move to the next nearest region within
   fall x interval + 1 s (the lab's checks, read from deploy/lab/zones/lab.example.toml),
   and come back when it returns;
3. one prober cut off from a region (`docker network disconnect`) is outvoted: nothing
   moves, though its vote is down; a second one cut off makes a majority: failover, in
   the same bound;
4. a server restarted (with the probers stopped, so only what it saved can tell it)
   keeps a drain made through the API with the token, and the health it had judged;
and, first, that the image alone (`docker run`, its default configuration) serves the
example zone as user 10001.

It prints the failover times and ends with `lab: N passed, M failed`. It always takes
the lab down again (`down -v`), also on failure or SIGTERM. Without a Docker engine or
Compose it says SKIPPED and exits 0.

    python3 tests/lab/lab_test.py            # stages target/release/meridian (builds it)
    LAB_BIN=target/debug/meridian python3 tests/lab/lab_test.py   # any built binary

Only 127.0.0.1 ports (5301, 5302, 5381, 5382; 5303 for the image run on its own) and the
lab's own Docker networks are used.
"""

import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

try:
    import tomllib  # Python 3.11+
except ImportError:
    tomllib = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECT = f"meridian-labtest-{os.getpid()}"
ENV = dict(os.environ, COMPOSE_PROJECT_NAME=PROJECT)

# Client subnets sent as EDNS Client Subnet, and where the shipped geodata puts them.
CLIENTS = {"london": "81.2.69.0/24", "california": "13.52.0.0/24", "tokyo": "52.68.0.0/24"}
HOME = {"london": "eu-west", "california": "us-west", "tokyo": "ap-northeast"}
# Servers: DNS port and API port on 127.0.0.1 (docker-compose.yml).
SERVERS = {"server-1": (5301, 5381), "server-2": (5302, 5382)}
NAMES = ["www.lab.example", "tcp.lab.example"]

results = []  # (name, passed)


def log(msg):
    print(f"lab: {msg}", flush=True)


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    log(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    return ok


def compose_cmd():
    for cmd in (["docker", "compose"], ["docker-compose"]):
        try:
            if subprocess.run(cmd + ["version"], capture_output=True, timeout=30).returncode == 0:
                return cmd
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


COMPOSE = None


def compose(*args, check_rc=True, quiet=True):
    out = subprocess.run(COMPOSE + list(args), cwd=ROOT, env=ENV, capture_output=quiet,
                         text=True, timeout=300)
    if check_rc and out.returncode != 0:
        raise RuntimeError(f"{' '.join(COMPOSE + list(args))} failed: {out.stderr if quiet else ''}")
    return out


def docker(*args):
    out = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def container(service):
    cid = compose("ps", "-q", service).stdout.strip()
    if not cid:
        raise RuntimeError(f"no container for {service}")
    return cid


def network(name):
    return f"{PROJECT}_{name}"


# --- DNS over UDP, with EDNS Client Subnet (RFC 7871) -------------------------------------

def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def query(port, name, subnet, timeout=0.5):
    """The A addresses of `name` from 127.0.0.1:port for clients in `subnet`; None when
    no answer came."""
    addr, prefix = subnet.split("/")
    prefix = int(prefix)
    raw = socket.inet_aton(addr)[: (prefix + 7) // 8]
    ecs = struct.pack("!HBB", 1, prefix, 0) + raw
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 4 + len(ecs)) + struct.pack("!HH", 8, len(ecs)) + ecs
    qid = random.randrange(65536)
    msg = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 1) + encode_name(name) + struct.pack("!HH", 1, 1) + opt
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(msg, ("127.0.0.1", port))
            deadline = time.monotonic() + timeout
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                reply, _ = s.recvfrom(4096)
                if len(reply) >= 12 and struct.unpack("!H", reply[:2])[0] == qid:
                    break
        except (socket.timeout, ConnectionRefusedError, OSError):
            return None
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", reply[:12])
    if flags & 0xF != 0:
        return None
    i = 12
    for _ in range(qd):
        i = skip_name(reply, i) + 4
    found = []
    for _ in range(an):
        i = skip_name(reply, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", reply[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            found.append(socket.inet_ntoa(reply[i:i + 4]))
        i += rdlen
    return sorted(found)


# --- The lab's configuration ----------------------------------------------------------------

def lab_config():
    with open(os.path.join(ROOT, "deploy/lab/zones/lab.example.toml"), "rb") as f:
        services = tomllib.load(f)["services"]
    backends = {}  # region -> address
    checks = []
    for svc in services.values():
        checks.append(svc["check"])
        for ep in svc["endpoints"]:
            backends[ep["region"]] = ep["address"]

    def secs(text):
        return float(text[:-2]) / 1000 if text.endswith("ms") else float(text[:-1])

    # The slowest check decides when both names have moved.
    bound = max(c["fall"] * secs(c["interval"]) for c in checks) + 1.0
    rise = max(c["rise"] * secs(c["interval"]) for c in checks) + 1.0
    return backends, bound, rise


BACKENDS, BOUND, RISE = {}, 0.0, 0.0


def region_of(addresses):
    if not addresses:
        return None
    regions = {r for r, a in BACKENDS.items() if a in addresses}
    return regions.pop() if len(regions) == 1 else f"?{addresses}"


def snapshot(servers=SERVERS):
    """(server, name, client) -> region answered, for every combination."""
    return {(srv, name, client): region_of(query(dns, name, subnet))
            for srv, (dns, _) in servers.items()
            for name in NAMES
            for client, subnet in CLIENTS.items()}


def wait_for(pred, limit, step=0.05):
    """Polls pred() until it is true or `limit` seconds pass; returns the seconds it took
    (None on timeout)."""
    start = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - start
        if time.monotonic() - start > limit:
            return None
        time.sleep(step)


def answers_for(client, servers=SERVERS):
    return {(srv, name): region_of(query(dns, name, CLIENTS[client]))
            for srv, (dns, _) in servers.items() for name in NAMES}


def all_in(client, region, servers=SERVERS):
    return lambda: all(r == region for r in answers_for(client, servers).values())


def api(server, method, path, token=None):
    _, port = SERVERS[server]
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def vote(server, address, prober):
    """prober's fresh vote on the www endpoint at `address`, as `server` has it."""
    for svc in api(server, "GET", "/v1/status")["services"]:
        if svc["name"] != "www.lab.example.":
            continue
        for ep in svc["endpoints"]:
            if ep["address"] == address:
                for v in ep["votes"]:
                    if v["prober"] == prober and v["fresh"]:
                        return v["up"]
    return None


def endpoint_state(server, address):
    for svc in api(server, "GET", "/v1/status")["services"]:
        if svc["name"] == "www.lab.example.":
            for ep in svc["endpoints"]:
                if ep["address"] == address:
                    return ep["state"]
    return None


# --- The scenarios --------------------------------------------------------------------------

def baseline(limit=60):
    took = wait_for(lambda: all(all_in(c, HOME[c])() for c in CLIENTS), limit, step=0.5)
    return check("every client gets its own region from both servers", took is not None,
                 "" if took is not None else str(snapshot()))


def failover(what, client, region, cut, expect_region):
    """Runs `cut()` and measures how long until `client` gets `expect_region` from both
    servers for both names; checks that the other clients stay home."""
    cut()
    took = wait_for(all_in(client, expect_region), BOUND + 5)
    others = {c: answers_for(c) for c in CLIENTS if c != client}
    moved = {c: a for c, a in others.items() if any(r != HOME[c] for r in a.values())}
    if took is None:
        check(f"{what}: {client} moves from {region} to {expect_region}", False,
              f"still {answers_for(client)} after {BOUND + 5:.1f} s")
    else:
        check(f"{what}: {client} moves from {region} to {expect_region} within "
              f"fall x interval + 1 s = {BOUND:.1f} s", took <= BOUND, f"failover took {took:.2f} s")
    check(f"{what}: the other clients stay in their regions", not moved, str(moved))
    return took


def context_size(output):
    """The build context Docker was sent (the legacy builder prints it): the staged image
    and a few files, not target/ (gigabytes), thanks to .dockerignore."""
    for line in output.splitlines():
        if line.startswith("Sending build context to Docker daemon"):
            number, unit = line.split()[-1][:-2], line.split()[-1][-2:]
            size = float(number) * {"kB": 1e3, "MB": 1e6, "GB": 1e9}.get(unit, 1)
            staged = sum(os.path.getsize(os.path.join(d, f))
                         for d, _, files in os.walk(os.path.join(ROOT, "deploy/image/rootfs"))
                         for f in files)
            check("the build context is the staged image, not target/",
                  size < staged + 5e6, f"{size / 1e6:.1f} MB sent, {staged / 1e6:.1f} MB staged")
            return
    log("(this builder does not print the build context's size; not checked)")


def standalone_image():
    """The image on its own, with its default configuration: serves the example zone as
    user 10001 with its state (token, cookie secret, health) in a fresh volume."""
    name = f"{PROJECT}-standalone"
    volume = f"{PROJECT}-standalone-state"
    try:
        docker("run", "-d", "--name", name, "-p", "127.0.0.1:5303:5300/udp",
               "-v", f"{volume}:/var/lib/meridian", f"{PROJECT}:latest")
        took = wait_for(lambda: query(5303, "www.example.com", "81.2.69.0/24", 0.3), 30, step=0.3)
        answer = query(5303, "www.example.com", "81.2.69.0/24")
        user = docker("exec", name, "/usr/local/bin/meridian", "--version") and \
            docker("inspect", "--format", "{{.Config.User}}", name)
        check("the image alone serves www.example.com with its default configuration",
              took is not None and answer == ["203.0.113.10"] and user == "10001:10001",
              f"answer {answer}, user {user}")
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=60)
        subprocess.run(["docker", "volume", "rm", volume], capture_output=True, timeout=60)


def main():
    global COMPOSE, BACKENDS, BOUND, RISE
    COMPOSE = compose_cmd()
    try:
        engine = subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        engine = False
    if not engine or COMPOSE is None:
        log("SKIPPED: needs a running Docker engine and Docker Compose "
            f"({'no engine answers `docker info`' if not engine else 'neither `docker compose` nor docker-compose'})")
        return 0
    if tomllib is None:
        log(f"SKIPPED: needs Python 3.11 or later (tomllib), this is {sys.version.split()[0]}")
        return 0
    BACKENDS, BOUND, RISE = lab_config()
    for port in (5301, 5302, 5303, 5381, 5382):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                log(f"FAIL: 127.0.0.1:{port} is taken (is the lab already up? `docker compose down -v`)")
                return 1

    start = time.monotonic()
    stage = ["--bin", os.environ["LAB_BIN"]] if os.environ.get("LAB_BIN") else []
    log(f"project {PROJECT}: deploy/lab/up.sh {' '.join(stage)}")
    up = subprocess.run([os.path.join(ROOT, "deploy/lab/up.sh")] + stage, cwd=ROOT, env=ENV,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    if up.returncode != 0:
        print(up.stdout[-4000:])
        check("deploy/lab/up.sh brings the lab up", False, f"exit {up.returncode}")
        return 1
    log(f"lab up in {time.monotonic() - start:.0f} s (build, image, containers)")
    context_size(up.stdout)
    with open(os.path.join(ROOT, "deploy/lab/fleet.token")) as f:
        token = f.read().strip()

    standalone_image()
    if not baseline():
        return 1

    # 2. A region's backend stops.
    eu, us, ap = BACKENDS["eu-west"], BACKENDS["us-west"], BACKENDS["ap-northeast"]
    failover("backend-eu stopped", "london", "eu-west", lambda: compose("stop", "-t", "5", "backend-eu"),
             "us-west")
    compose("start", "backend-eu")
    took = wait_for(all_in("london", "eu-west"), RISE + 5)
    check("backend-eu back: london returns to eu-west", took is not None,
          f"after {took:.2f} s" if took is not None else str(answers_for("london")))

    # 3. Probers cut off from the eu-west region's network.
    net = network("region-eu")
    docker("network", "disconnect", net, container("prober-eu"))
    saw_down = wait_for(lambda: vote("server-1", eu, "prober-eu") is False, BOUND + 5, step=0.2)
    check("one prober cut off from eu-west votes it down", saw_down is not None)
    stayed = wait_for(lambda: not all_in("london", "eu-west")(), BOUND + 2) is None
    check(f"one prober cut off: london stays in eu-west (watched {BOUND + 2:.0f} s)", stayed,
          "" if stayed else str(answers_for("london")))
    failover("two probers cut off", "london", "eu-west",
             lambda: docker("network", "disconnect", net, container("prober-us")), "us-west")
    docker("network", "connect", net, container("prober-eu"))
    docker("network", "connect", net, container("prober-us"))
    took = wait_for(all_in("london", "eu-west"), RISE + 10)
    check("probers reconnected: london returns to eu-west", took is not None,
          f"after {took:.2f} s" if took is not None else str(answers_for("london")))

    # 4. A drain and a down region survive a restart of server-1.
    s1 = {"server-1": SERVERS["server-1"]}
    failover("backend-ap stopped", "tokyo", "ap-northeast",
             lambda: compose("stop", "-t", "5", "backend-ap"), "us-west")
    drained = api("server-1", "POST", "/v1/regions/us-west/drain", token)
    check("drain us-west on server-1 through the API with the token", drained.get("drained") is True,
          str(drained))
    # With ap-northeast down and us-west drained, server-1 sends california and tokyo to
    # eu-west; server-2 (drains are per server) still to us-west.
    check("drained: california and tokyo leave us-west on server-1",
          wait_for(lambda: all_in("california", "eu-west", s1)() and all_in("tokyo", "eu-west", s1)(), 2)
          is not None, str(answers_for("california", s1)))
    probers = ["prober-eu", "prober-us", "prober-ap"]
    compose("stop", "-t", "5", *probers)
    t0 = time.monotonic()
    compose("restart", "-t", "10", "server-1")
    up_again = wait_for(lambda: query(5301, "www.lab.example", CLIENTS["london"], 0.2) is not None, 60)
    log(f"server-1 restarted, answering after {time.monotonic() - t0:.1f} s")
    status = api("server-1", "GET", "/v1/status")
    drains = [r["name"] for r in status["regions"] if r["drained"]]
    check("after the restart server-1 still has us-west drained", up_again is not None and drains == ["us-west"],
          str(drains))
    check("after the restart server-1 still judges ap-northeast's backend down",
          endpoint_state("server-1", ap) == "down", str(endpoint_state("server-1", ap)))
    after = answers_for("california", s1) | {("tokyo",) + k: v for k, v in answers_for("tokyo", s1).items()}
    check("after the restart (no prober running) california and tokyo are still answered from eu-west",
          all(r == "eu-west" for r in after.values()), str(after))
    # Back to the start: backends first, so that the probers (which start every target
    # as up) see it up.
    compose("start", "backend-ap")
    compose("start", *probers)
    api("server-1", "POST", "/v1/regions/us-west/undrain", token)
    baseline(RISE + 20)
    log(f"failover bound fall x interval + 1 s = {BOUND:.1f} s; whole test {time.monotonic() - start:.0f} s")
    return 0


def run():
    def on_term(signum, _frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    code = 1
    try:
        code = main()
    except Exception as e:  # noqa: BLE001 - any error fails the test, after cleaning up
        check("the lab test ran to the end", False, f"{type(e).__name__}: {e}")
    finally:
        if COMPOSE is not None and results:
            if any(not ok for _, ok in results):
                out = compose("logs", "--no-color", "--tail=30", check_rc=False)
                print(out.stdout[-12000:], flush=True)
            # The image is the project's own (docker-compose.yml names it after it).
            compose("down", "-v", "--rmi", "all", "--remove-orphans", "-t", "5", check_rc=False)
            log(f"project {PROJECT} taken down")
    if results:
        failed = sum(1 for _, ok in results if not ok)
        print(f"lab: {len(results) - failed} passed, {failed} failed", flush=True)
        return 1 if failed or code else 0
    return code


if __name__ == "__main__":
    sys.exit(run())

"""The fleet benchmarks' harness: processes, configs, /proc and DNS (python3 stdlib only).

Every process a script starts goes through `Procs.start`, which puts it in its own
process group and records it; `Procs.stop_all` (called from `finally`) stops each of
them by process-group id: SIGTERM, then SIGKILL after a grace period. Nothing is ever
stopped by name.
"""

import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the binary


def binary_path(given=None):
    if given:
        return os.path.abspath(given)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    return os.path.join(os.path.abspath(target), "release", "meridian")


def ensure_binary(given=None):
    """The release binary; built with `nice cargo build --release` when it is missing."""
    path = binary_path(given)
    if os.path.exists(path):
        return path
    if given:
        sys.exit(f"no binary at {path}")
    log(f"{path} missing: running `nice cargo build --release` in {REPO}")
    subprocess.run(["nice", "-n", "10", "cargo", "build", "--release"], cwd=REPO, check=True)
    if not os.path.exists(path):
        sys.exit(f"cargo build finished but {path} does not exist")
    return path


# ---------------------------------------------------------------- load


def wait_for_quiet(max_load, tries, wait_s):
    """Waits (bounded) for the 1-minute load average to drop below `max_load`.
    Returns the load measured; carries on with a warning when it never does."""
    load = os.getloadavg()[0]
    for i in range(tries):
        if load < max_load:
            return load
        log(f"load average {load:.2f} >= {max_load}: waiting {wait_s}s ({i + 1}/{tries})")
        time.sleep(wait_s)
        load = os.getloadavg()[0]
    if load >= max_load:
        log(f"WARNING: load is still {load:.2f}; measuring anyway (figures will be noisier)")
    return load


# ---------------------------------------------------------------- processes


class Procs:
    def __init__(self):
        self.procs = []  # (label, Popen)

    def start(self, label, argv, stdout=subprocess.PIPE, stderr=None, **kw):
        p = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # own process group: pgid == pid
            **kw,
        )
        self.procs.append((label, p))
        return p

    def stop(self, p, grace=5.0):
        """Stops one process (its whole group) by pid: SIGTERM, then SIGKILL."""
        if p.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                return
            try:
                p.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self):
        for label, p in reversed(self.procs):
            try:
                self.stop(p)
            except Exception as e:  # keep stopping the others
                log(f"stopping {label} (pid {p.pid}): {e}")
        self.procs = []


def wait_line(p, prefix, timeout):
    """Reads p's stdout until a line starting with `prefix` (within `timeout` s)."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"process {p.args[0]} exited with {p.returncode} before {prefix!r}")
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode(errors="replace").strip()
            if text.startswith(prefix):
                return text
    raise TimeoutError(f"no {prefix!r} line within {timeout}s")


def parse_ready(line):
    """`meridian ready dns=A api=B` -> (dns_addr, api_addr) as (host, port) tuples."""
    fields = dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)

    def hp(s):
        h, port = s.rsplit(":", 1)
        return h, int(port)

    return hp(fields["dns"]), hp(fields["api"])


# ---------------------------------------------------------------- /proc


def proc_cpu_seconds(pid):
    """utime + stime of pid, in seconds (threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); utime is field 14, stime field 15.
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_status(pid):
    """VmRSS, VmHWM (KiB) and Threads from /proc/pid/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
            elif k == "Threads":
                out[k] = int(v)
    return out


# ---------------------------------------------------------------- HTTP API


def get_json(url, token=None, timeout=30):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------- config


def write_token(path):
    token = os.urandom(16).hex()
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def write_server_config(d, regions, server_region):
    """meridian.toml in directory d: DNS and API on 127.0.0.1 port 0 (kernel's choice),
    local_prober = false, zones in d/zones."""
    os.makedirs(os.path.join(d, "zones"), exist_ok=True)
    lines = [
        "[server]",
        f'region = "{server_region}"',
        'dns_listen = ["127.0.0.1:0"]',
        'api_listen = "127.0.0.1:0"',
        'zones_dir = "zones"',
        'state_dir = "state"',
        "udp_workers = 1",
        "",
        "[fleet]",
        'token_file = "fleet.token"',
        'quorum = "majority"',
        "local_prober = false",
        "",
        # The failover benchmark polls one name every few milliseconds from one address:
        # response rate limiting (on by default) would drop most of those answers.
        "[rrl]",
        "enabled = false",
        "",
    ]
    for name, (lat, lon) in regions.items():
        lines += [f"[regions.{name}]", f"lat = {lat}", f"lon = {lon}", ""]
    path = os.path.join(d, "meridian.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    token = write_token(os.path.join(d, "fleet.token"))
    return path, token


def write_zone(d, origin="example.com"):
    text = f"""$ORIGIN {origin}.
$TTL 300
@   3600 IN SOA ns1.{origin}. hostmaster.{origin}. ( 1 7200 3600 1209600 300 )
    IN NS ns1
ns1 IN A 192.0.2.53
"""
    with open(os.path.join(d, "zones", f"{origin}.zone"), "w") as f:
        f.write(text)


# ---------------------------------------------------------------- DNS


def dns_query(name, qtype=1):
    """A query packet (RD clear: we ask the authority) and its id."""
    qid = random.randrange(65536)
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    return qid, header + qname + struct.pack("!HH", qtype, 1)


def exchange(sock, server, name, qtype, timeout):
    """Sends one query for `name` from UDP socket `sock` to `server` and returns the reply
    with its id (other datagrams are skipped), or None after `timeout` seconds."""
    qid, packet = dns_query(name, qtype)
    sock.sendto(packet, server)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return None
        msg, _ = sock.recvfrom(65535)
        if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
            return msg


def skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def dns_a_answers(msg):
    """(rcode, [IPv4 addresses in the answer section])."""
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    i = 12
    for _ in range(qd):
        i = skip_name(msg, i) + 4
    out = []
    for _ in range(an):
        i = skip_name(msg, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[i : i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(msg[i : i + 4]))
        i += rdlen
    return flags & 0xF, out


class DnsClient:
    def __init__(self, server):
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def a(self, name, timeout=0.5):
        """The A addresses of `name`, or None when no answer arrived within timeout."""
        msg = exchange(self.sock, self.server, name, 1, timeout)
        return None if msg is None else dns_a_answers(msg)[1]

    def close(self):
        self.sock.close()

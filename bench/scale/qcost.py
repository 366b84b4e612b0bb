#!/usr/bin/env python3
"""bench/scale/qcost.py: instructions per query, by query kind (issue 11: the per-query
path must not get slower). Runs `meridian serve` under callgrind with collection only
inside dns::respond::respond, asks queries of one kind, stops the server by PID, reads
the total.

  qcost.py BINARY ZONE_DIR PORT N     zone kinds; ZONE_DIR: scale.py's SCRATCH/zone-100000
  qcost.py --geo BINARY SCRATCH PORT  the geo test's queries (SCRATCH/geo/, made by
                                      `scale.py --only geo`): every client once for the
                                      static name, then the load-balanced name twice (a
                                      client network new to the server, then seen before)

PORT: a free high port on 127.0.0.1. The geo mode asks every client of the query file
in its order, one query at a time, and dumps callgrind's counters between the passes
(`callgrind_control --dump`), so one server start measures all three.

QCOST_KEEP=DIR keeps the callgrind files (one per kind or phase) for callgrind_annotate."""
import glob, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads as wl  # noqa: E402

KINDS = [("probe.scale.test.", 1, "A, one record"), ("l11.scale.test.", 1, "A, eight records"),
         ("scale.test.", 15, "MX + additional"), ("c9.scale.test.", 1, "CNAME chain to A"),
         ("nope.scale.test.", 1, "NXDOMAIN"), ("h8.scale.test.", 16, "NODATA"),
         ("x.w80.scale.test.", 1, "wildcard A")]


def query(name, qtype, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    for l in name.rstrip(".").split("."):
        q += bytes([len(l)]) + l.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    # EDNS0 OPT, 1232 bytes
    q += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return q


def server_dir(port, zones, extra_config, region=None):
    d = tempfile.mkdtemp(prefix="qcost-")
    os.symlink(os.path.abspath(zones), os.path.join(d, "zones"))
    os.mkdir(os.path.join(d, "state"))
    with open(os.path.join(d, "meridian.toml"), "w") as f:
        f.write(f'[server]\n{f"region = {region!r}" if region else ""}\ndns_listen = ["127.0.0.1:{port}"]\napi_listen = "127.0.0.1:0"\n'
                f'zones_dir = "zones"\nstate_dir = "state"\nudp_workers = 1\n[fleet]\n'
                f'local_prober = false\n[rrl]\nenabled = false\n{extra_config}')
    return d


def start(binary, d, out):
    return subprocess.Popen(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                             "--toggle-collect=meridian::dns::respond::respond",
                             f"--callgrind-out-file={out}", binary, "serve", "--config", "meridian.toml"],
                            cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_answer(p, s, port, msg):
    deadline = time.time() + 600
    while True:
        if p.poll() is not None:
            raise SystemExit(f"the server exited ({p.returncode}) before answering: run it without valgrind to see why")
        try:
            s.sendto(msg, ("127.0.0.1", port))
            s.recvfrom(4096)
            return
        except OSError:
            if time.time() > deadline:
                p.kill()
                p.wait()
                raise


def total(path):
    n = 0
    for line in open(path):
        if line.startswith("summary:") or line.startswith("totals:"):
            n = int(line.split()[1])
    return n


def run(binary, zone_dir, port, n, kind):
    name, qtype, _ = kind
    d = server_dir(port, zone_dir, '[geoip]\ndatabase = ""\n')
    out = os.path.join(d, "cg.out")
    p = start(binary, d, out)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    wait_answer(p, s, port, query(name, qtype, 1))
    for i in range(n):
        s.sendto(query(name, qtype, i & 0xFFFF), ("127.0.0.1", port))
        s.recvfrom(4096)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    t = total(out)
    keep = os.environ.get("QCOST_KEEP")  # a directory for the callgrind files (callgrind_annotate)
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(out, os.path.join(keep, "callgrind." + "".join(c if c.isalnum() else "-" for c in kind[2])))
    shutil.rmtree(d, ignore_errors=True)
    return t / (n + 1)


def read_queries(path):
    with open(path, "rb") as f:
        data = f.read()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("!H", data, i)
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def run_geo(binary, scratch, port):
    geo_dir = os.path.join(scratch, "geo")
    regions = "".join(f"[regions.{r}]\nlat = {lat}\nlon = {lon}\n" for r, lat, lon in wl.REGIONS)
    d = server_dir(port, os.path.join(geo_dir, "meridian"), regions, region=wl.REGIONS[0][0])
    out = os.path.join(d, "cg.out")
    p = start(binary, d, out)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    static, geo = read_queries(os.path.join(geo_dir, "static.bin")), read_queries(os.path.join(geo_dir, "geo.bin"))
    # The warm-up asks the static name from the resolver's own address (no ECS): no client
    # network of the files is seen before the geo passes.
    wait_answer(p, s, port, query("static.geo.test.", 1, 1))

    def dump():
        subprocess.run(["callgrind_control", "--dump", str(p.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ask(queries):
        for i, q in enumerate(queries):
            s.sendto(struct.pack("!H", i & 0xFFFF) + q[2:], ("127.0.0.1", port))
            s.recvfrom(4096)

    dump()  # the warm-up
    phases = [("static name", static), ("load-balanced, new network", geo), ("load-balanced, seen before", geo)]
    for _, qs in phases:
        ask(qs)
        dump()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    dumps = sorted(glob.glob(out + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
    totals = [total(f) for f in dumps]
    keep = os.environ.get("QCOST_KEEP")  # a directory for the callgrind files (callgrind_annotate)
    if keep:
        os.makedirs(keep, exist_ok=True)
        for i, f in enumerate(dumps):
            shutil.copy(f, os.path.join(keep, f"callgrind.{['warm-up', 'static', 'geo-new', 'geo-seen'][i]}"))
    shutil.rmtree(d, ignore_errors=True)
    # dumps: warm-up, then one per phase (each since the dump before).
    for (label, qs), t in zip(phases, totals[1:]):
        print(f"{label:28s} {t / len(qs):8.0f} instructions/query ({len(qs)} queries)", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--geo":
        run_geo(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        binary, zone_dir, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        for k in KINDS:
            print(f"{k[2]:22s} {run(binary, zone_dir, port, n, k):8.0f} instructions/query", flush=True)

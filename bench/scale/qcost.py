#!/usr/bin/env python3
"""bench/scale/qcost.py: instructions per query, by query kind (issue 11: the per-query
path must not get slower). Runs `meridian serve` under callgrind with
collection only inside dns::respond::respond, asks N queries of one kind, stops the
server by PID, reads the total. Needs the 100k zone of scale.py (SCRATCH/zone-100000).
Usage: qcost.py BINARY ZONE_DIR PORT N   (PORT: a free high port on 127.0.0.1)"""
import os, shutil, signal, socket, struct, subprocess, sys, tempfile, time

binary, zone_dir, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
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

def run(kind):
    name, qtype, _ = kind
    d = tempfile.mkdtemp(prefix="qcost-", dir=None)
    os.symlink(os.path.abspath(zone_dir), os.path.join(d, "zones"))
    os.mkdir(os.path.join(d, "state"))
    with open(os.path.join(d, "meridian.toml"), "w") as f:
        f.write(f'[server]\ndns_listen = ["127.0.0.1:{port}"]\napi_listen = "127.0.0.1:0"\nzones_dir = "zones"\nstate_dir = "state"\nudp_workers = 1\n[fleet]\nlocal_prober = false\n[rrl]\nenabled = false\n[geoip]\ndatabase = ""\n')
    out = os.path.join(d, "cg.out")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                          "--toggle-collect=meridian::dns::respond::respond",
                          f"--callgrind-out-file={out}", binary, "serve", "--config", "meridian.toml"],
                         cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    deadline = time.time() + 600
    while True:  # until it answers
        try:
            s.sendto(query(name, qtype, 1), ("127.0.0.1", port))
            s.recvfrom(4096)
            break
        except OSError:
            if time.time() > deadline:
                raise
    for i in range(n):
        s.sendto(query(name, qtype, i & 0xFFFF), ("127.0.0.1", port))
        s.recvfrom(4096)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    total = 0
    for line in open(out):
        if line.startswith("summary:") or line.startswith("totals:"):
            total = int(line.split()[1])
    shutil.rmtree(d, ignore_errors=True)
    return total / (n + 1)

for k in KINDS:
    print(f"{k[2]:22s} {run(k):8.0f} instructions/query", flush=True)

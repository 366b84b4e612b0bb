#!/usr/bin/env python3
"""TCP test backends for prober-scale.py: one real listening socket per (address, port).

    python3 listeners.py --first 127.0.10.1 --addresses 100 --base-port 21000 --ports 100

Binds every address in [first, first + addresses) on every port in
[base-port, base-port + ports), except the pairs named by --skip-every (left unbound, so a
connect to them is a real "connection refused" from the kernel). One epoll loop accepts
and closes every connection. Prints `listening N skipped M` when all are bound, then runs
until SIGTERM, or until its parent goes away.
"""

import argparse
import ipaddress
import os
import resource
import select
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--first", default="127.0.10.1")
    ap.add_argument("--addresses", type=int, default=100)
    ap.add_argument("--base-port", type=int, default=21000)
    ap.add_argument("--ports", type=int, default=100)
    ap.add_argument("--skip-every", type=int, default=0,
                    help="leave every Nth (address, port) pair unbound (0: none)")
    ap.add_argument("--backlog", type=int, default=512)
    a = ap.parse_args()

    first = ipaddress.IPv4Address(a.first)
    pairs = [(str(first + i), a.base_port + j) for i in range(a.addresses) for j in range(a.ports)]
    for addr, _ in pairs[:1] + pairs[-1:]:
        if not ipaddress.IPv4Address(addr).is_loopback:
            sys.exit(f"{addr} is not on 127.0.0.0/8: refusing")

    need = len(pairs) + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            sys.exit(f"RLIMIT_NOFILE hard limit {hard} < {need}: raise it (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    ep = select.epoll()
    socks = {}
    skipped = 0
    for k, (addr, port) in enumerate(pairs):
        if a.skip_every and k % a.skip_every == a.skip_every - 1:
            skipped += 1
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(a.backlog)
        s.setblocking(False)
        ep.register(s.fileno(), select.EPOLLIN)
        socks[s.fileno()] = s
    print(f"listening {len(socks)} skipped {skipped}", flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    parent = os.getppid()
    accepted = 0
    while not stop:
        if os.getppid() != parent:  # orphaned: the script died without cleaning up
            break
        try:
            events = ep.poll(1.0)
        except InterruptedError:
            continue
        for fd, _ in events:
            s = socks[fd]
            while True:
                try:
                    conn, _ = s.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                conn.close()
                accepted += 1
    print(f"accepted {accepted}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

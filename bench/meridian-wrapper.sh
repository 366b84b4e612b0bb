#!/usr/bin/env bash
# meridian-wrapper.sh RUNDIR PORT THREADS PBDIR
#
# Started by the peer benchmark (bench.py --custom, see bench/run.sh) in its own process
# group: writes a Meridian config and zone into RUNDIR, then execs the release binary so
# the server itself stays in the foreground (bench.py stops it by process-group id).
#
# Env:
#   MERIDIAN_BIN       binary to run (default: <repo>/target/release/meridian, or
#                      $CARGO_TARGET_DIR/release/meridian)
#   MERIDIAN_BENCH_GEO 1 = serve geo.example.test as a load-balanced service (TODO, below)
set -euo pipefail

if [ $# -ne 4 ]; then
    echo "usage: $0 RUNDIR PORT THREADS PBDIR" >&2
    exit 2
fi
rundir=$1 port=$2 threads=$3 pbdir=$4

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${MERIDIAN_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/meridian}
if [ ! -x "$bin" ]; then
    echo "meridian-wrapper: no binary at $bin (run cargo build --release, or set MERIDIAN_BIN)" >&2
    exit 1
fi

mkdir -p "$rundir/zones" "$rundir/state"

cat > "$rundir/meridian.toml" <<TOML
# written by bench/meridian-wrapper.sh for one benchmark run
[server]
dns_listen = ["127.0.0.1:$port"]
api_listen = "127.0.0.1:0"
zones_dir = "zones"
state_dir = "state"
udp_workers = $threads
TOML

if [ "${MERIDIAN_BENCH_GEO:-0}" = "1" ]; then
    # Geo mode: the zone file without the geo name; geo.example.test comes from a
    # load-balanced service in zones/example.test.toml. With ECS 127.0.1.0/24 it should
    # answer 127.0.3.1, else 127.0.2.1 (what the geo-capable peers do).
    cp "$pbdir/zones/example.test.zone" "$rundir/zones/example.test.zone"
    # TODO(issue 4): write zones/example.test.toml with a [services.geo] whose endpoints
    # map client 127.0.1.0/24 -> 127.0.3.1 and everyone else -> 127.0.2.1 (a route
    # override by `networks`). The service TOML shape is not final yet, so nothing is
    # written here: until it is, geo.example.test answers NXDOMAIN in this mode.
    echo "meridian-wrapper: MERIDIAN_BENCH_GEO=1: zones/example.test.toml not written yet (TODO issue 4)" >&2
else
    # Static mode (default, for now): geo.example.test is a plain A record (127.0.2.1) in
    # the zone file, so this measures the DNS core only.
    # Once geo routing lands (issue 4), the geo name moves to a load-balanced service in
    # zones/example.test.toml (the MERIDIAN_BENCH_GEO=1 branch above) and that becomes
    # the default here.
    cp "$pbdir/zones/example.test.static.zone" "$rundir/zones/example.test.zone"
fi

cd "$rundir"
exec "$bin" serve --config "$rundir/meridian.toml"

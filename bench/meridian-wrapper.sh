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
#   MERIDIAN_BENCH_GEO 1 = serve geo.example.test as a load-balanced service
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

# In geo mode the server names its region (regions are defined below).
region_line=""
[ "${MERIDIAN_BENCH_GEO:-0}" = "1" ] && region_line='region = "dca"'

cat > "$rundir/meridian.toml" <<TOML
# written by bench/meridian-wrapper.sh for one benchmark run
[server]
$region_line
dns_listen = ["127.0.0.1:$port"]
api_listen = "127.0.0.1:0"
zones_dir = "zones"
state_dir = "state"
udp_workers = $threads
# dnsperf floods a few names from one address: exactly what response rate limiting is
# for (on by default, 20 answers/s per client and response). The benchmark measures the
# answer path, so RRL is off here; cookies stay on (dnsperf sends none: no cost).
[rrl]
enabled = false
TOML

if [ "${MERIDIAN_BENCH_GEO:-0}" = "1" ]; then
    # Geo mode: geo.example.test is a load-balanced service. Clients are located in the
    # shipped database (loopback has no location: unknown_location sends them to dca);
    # the route sends ECS 127.0.1.0/24 to dcb, so it answers 127.0.3.1 there and
    # 127.0.2.1 elsewhere, as the geo-capable peers do.
    cp "$pbdir/zones/example.test.zone" "$rundir/zones/example.test.zone"
    cat >> "$rundir/meridian.toml" <<TOML
[geoip]
database = "$repo/geodata/meridian-city.mmdb"
[fleet]
local_prober = false
[regions.dca]
lat = 50.11
lon = 8.68
[regions.dcb]
lat = 52.37
lon = 4.90
TOML
    cat > "$rundir/zones/example.test.toml" <<TOML
[services.geo]
ttl = 300
unknown_location = ["dca"]
endpoints = [
  { region = "dca", address = "127.0.2.1" },
  { region = "dcb", address = "127.0.3.1" },
]
[[services.geo.route]]
networks = ["127.0.1.0/24"]
regions = ["dcb"]
TOML
else
    # Static mode: geo.example.test is a plain A record (127.0.2.1) in the zone file, so
    # this measures the DNS core only.
    cp "$pbdir/zones/example.test.static.zone" "$rundir/zones/example.test.zone"
fi

cd "$rundir"
exec "$bin" serve --config "$rundir/meridian.toml"

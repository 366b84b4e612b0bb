#!/usr/bin/env bash
# bench/run.sh — build Meridian (release) and run the peer benchmark against it:
# Meridian vs gdnsd, Knot, NSD and the raw-UDP ceiling (whichever are installed), server
# pinned to CPU 0, dnsperf on CPU 1, all on 127.0.0.1. Writes bench/results/<stamp>.jsonl
# and prints the table (bench/report.py). See bench/README.md.
#
#   bench/run.sh [--profiles plain,edns,ecs] [--reps 3] [--duration 15]
#                [--servers meridian,meridian-geo,gdnsd,...] [--mix standard|geo]
#                [--retries 2] [--no-retry] [--no-build] [--out FILE]
#                [-- extra bench.py run args]
#
# Env (flags win): PROFILES, REPS, DURATION, SERVERS, MIX, RETRIES, MAX_FOREIGN (0.25),
#   PEERBENCH (default <repo>/../shared/bench), MERIDIAN_BIN, CARGO_TARGET_DIR.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peerbench=${PEERBENCH:-$repo/../shared/bench}
profiles=${PROFILES:-plain,edns,ecs}
reps=${REPS:-3}
duration=${DURATION:-15}
servers=${SERVERS:-}
max_foreign=${MAX_FOREIGN:-0.25}
build=1 retries=${RETRIES:-2} mix=${MIX:-standard}
out=""
extra=()

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case $1 in
        --profiles) profiles=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --servers) servers=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --retries) retries=$2; shift 2 ;;
        --no-retry) retries=0; shift ;;
        --mix) mix=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "run.sh: unknown argument $1" >&2; usage 2 ;;
    esac
done

if [ ! -f "$peerbench/bench.py" ]; then
    echo "run.sh: no peer benchmark at $peerbench (set PEERBENCH=/path/to/shared/bench)" >&2
    exit 1
fi
peerbench=$(cd "$peerbench" && pwd)

if [ "$build" = 1 ]; then
    (cd "$repo" && cargo build --release)
fi
export MERIDIAN_BIN=${MERIDIAN_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/meridian}

# The peers that are installed (install: sudo $peerbench/install.sh).
ceiling=${UDP_CEILING:-${XDG_CACHE_HOME:-$HOME/.cache}/peerbench/udp-ceiling/target/release/udp-ceiling}
if [ -z "$servers" ]; then
    servers=meridian,meridian-geo
    for peer in gdnsd:gdnsd knot:knotd nsd:nsd "ceiling-mmsg:$ceiling"; do
        name=${peer%%:*} cmd=${peer#*:}
        if command -v "$cmd" >/dev/null 2>&1; then
            servers+=",$name"
        else
            echo "run.sh: $name not installed ($cmd), skipped" >&2
        fi
    done
fi

case $mix in
    standard) mixfile="" ;;
    geo) mixfile="$repo/bench/queries/geo.txt" ;;
    *) echo "run.sh: --mix standard|geo" >&2; exit 2 ;;
esac

mkdir -p "$repo/bench/results"
out=${out:-$repo/bench/results/$(date +%Y%m%d-%H%M%S).jsonl}
# meridian: geo.example.test is a static record (the DNS core alone);
# meridian-geo: it is a load-balanced service (geolocation, route, decision per query).
custom="meridian=5320='$repo/bench/meridian-wrapper.sh' {rundir} {port} {threads} {pbdir}"
custom_geo="meridian-geo=5321=env MERIDIAN_BENCH_GEO=1 '$repo/bench/meridian-wrapper.sh' {rundir} {port} {threads} {pbdir}"
# --mix geo: every query is `geo.example.test A` (with the ecs profile: each one a geo
# decision with ECS); default: the peer benchmark's 5-name mix.
dnsperf_args=(--dnsperf-args "-c 20 -T 2 -q 100${mixfile:+ -d $mixfile}")

bench() {
    python3 "$peerbench/bench.py" run --custom "$custom" --custom "$custom_geo" --configs pinned \
        --duration "$duration" --out "$out" "${dnsperf_args[@]}" ${extra[@]+"${extra[@]}"} "$@"
}

echo "== servers: $servers  profiles: $profiles  reps: $reps  duration: ${duration}s"
echo "== results: $out"
bench --servers "$servers" --profiles "$profiles" --reps "$reps"

# Rerun the runs during which other processes used more than $max_foreign cores (this is
# a shared 2-core box) or that failed, up to $retries passes, until every server has
# $reps quiet runs per profile; the table then uses the quiet runs.
for ((pass = 1; pass <= retries; pass++)); do
    todo=$(python3 "$repo/bench/report.py" noisy "$out" --reps "$reps" --max-foreign "$max_foreign")
    [ -n "$todo" ] || break
    while read -r prof cfg name; do
        echo "== rerun $pass/$retries (noisy or failed): $prof $cfg $name"
        bench --servers "$name" --profiles "$prof" --reps 1 </dev/null
    done <<<"$todo"
done

echo
echo "== $out"
python3 "$repo/bench/report.py" table "$out" --max-foreign "$max_foreign"

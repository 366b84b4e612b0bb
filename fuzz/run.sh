#!/usr/bin/env bash
# Builds and runs Meridian's fuzz targets (libFuzzer via cargo-fuzz), one after another,
# and prints the executions and crashes of each.
#
#   fuzz/run.sh                       every target, 60 s each
#   fuzz/run.sh 600                   every target, 600 s each
#   fuzz/run.sh --runs 10000000       every target, 10 M executions each
#   fuzz/run.sh 300 respond zone      only the targets named
#   fuzz/run.sh --list                the targets
#
# Targets (fuzz_targets/*.rs, each says what it checks at its top):
#   respond   the query path: any bytes as a query, any source, UDP/TCP, any health
#   ecs       the EDNS Client Subnet option, against RFC 7871 §6 restated, and its echo
#   zone      the master-file reader, then the zone build and queries for its names
#   services  a services TOML file, then routing of every service it accepts
#   config    meridian.toml
#   fleet     fleet report batches (JSON) applied to the health store, then answers
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Builds in
# release mode with debug assertions (overflow checks) and no sanitizer (all safe Rust:
# a panic is the bug to find), into fuzz/target. Each target runs as one process at
# nice 10, its corpus in fuzz/corpus/<target>/ (the committed seed-* files and what the
# fuzzer adds, which git ignores), with fuzz/dict/<target>.dict when there is one.
# A crash stops that target: the input is saved in fuzz/artifacts/<target>/; reproduce
# it with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/artifacts/<target>/crash-...
# and shrink it with `cargo +nightly fuzz tmin -s none -a <target> <file>`.
# Exit status: 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")"

ALL=(respond ecs zone services config fleet)
limit=(-max_total_time=60)
what="60 s"
targets=()
while (($#)); do
    case "$1" in
        --runs) limit=(-runs="$2"); what="$2 runs"; shift 2 ;;
        --list) printf '%s\n' "${ALL[@]}"; exit 0 ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        [0-9]*) limit=(-max_total_time="$1"); what="$1 s"; shift ;;
        *) targets+=("$1"); shift ;;
    esac
done
((${#targets[@]})) || targets=("${ALL[@]}")

echo "== building (release, debug assertions)" >&2
nice -n 10 cargo +nightly fuzz build -s none -a 2>&1 | tail -n 1 >&2
bin=target/x86_64-unknown-linux-gnu/release

status=0
summary=()
for t in "${targets[@]}"; do
    [[ -x $bin/$t ]] || { echo "no target $t (fuzz/run.sh --list)" >&2; exit 2; }
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    max_len=4096
    [[ $t == respond || $t == ecs ]] && max_len=1024
    dict=()
    [[ -f dict/$t.dict ]] && dict=(-dict="dict/$t.dict")
    log=$(mktemp)
    echo "== $t ($what)" >&2
    set +e
    nice -n 10 "$bin/$t" "corpus/$t" "${limit[@]}" "${dict[@]}" -max_len=$max_len -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1
    rc=$?
    set -e
    grep -E '^(INFO: seed corpus|#[0-9]+ +(INITED|DONE))|^Done |panicked|^==|SUMMARY' "$log" \
        | tail -n 8 >&2 || true
    after=$(find "artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    runs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$log")
    secs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/p' "$log")
    runs=${runs:-0}
    secs=${secs:-0}
    rate=$((secs > 0 ? runs / secs : runs))
    if ((runs == 0)); then # stopped by a crash: libFuzzer's final stats instead
        runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
        rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
        runs=${runs:-0}
        rate=${rate:-0}
        secs=$((rate > 0 ? runs / rate : 0))
    fi
    if ((rc != 0 || crashes > 0)); then
        status=1
        crashes=$((crashes > 0 ? crashes : 1))
        echo "   crashed (exit $rc); log kept in $log" >&2
        find "artifacts/$t" -type f -newer "$bin/$t" >&2
    else
        rm -f "$log"
    fi
    summary+=("$(printf '%-9s %12d runs %6d s %9d exec/s   crashes: %d' "$t" "$runs" "$secs" "$rate" "$crashes")")
done
printf '%s\n' "${summary[@]}"
exit $status

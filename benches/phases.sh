#!/usr/bin/env bash
# benches/phases.sh - where a request's instructions go (what `make bench` runs after
# benches/run.sh): callgrind counts of OMcache's C API (benches/bench_omcache.c) for a get, a
# set and a 100-key multi-get over four local memcached servers, split into phases, beside
# Debian's libmemcached 1.1.4 running the same workloads (benches/bench_libmemcached.c,
# binary protocol) and the speed issue's figures and target (<= 0.3x libmemcached's).
#
# The split: every instruction counted in run_workload() is charged to a phase by the source
# file it was compiled from (LTO inlines most of the engine, so function names alone would
# put nearly everything in dispatch()), and code inlined from Rust's standard library
# (bounds checks, Vec and slice operations) by the function it was inlined into. The totals
# are exact (callgrind is deterministic up to the number of poll/read calls); the split
# is as good as the debug line tables.
#
# Environment: OMCACHE_BUILD [<repo>/build], CC [cc], BENCH_N_GET/BENCH_N_SET [2000],
# BENCH_N_MULTIGET [200] (calls of 100 keys).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
out=$build/bench
servers_sh=$root/scripts/memcached-servers.sh
n_get=${BENCH_N_GET:-2000}
n_set=${BENCH_N_SET:-2000}
n_multi=${BENCH_N_MULTIGET:-200}
mkdir -p "$out"
[ -e "$build/lib/libomcache.so" ] || { echo "phases.sh: run make first" >&2; exit 1; }
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
    { echo "phases.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
cflags="-std=c99 -O2 -g -Wall -Wextra -Werror"
${CC:-cc} $cflags -I"$build/include" -o "$out/bench_omcache" "$root/benches/bench_omcache.c" \
    -L"$build/lib" -lomcache -Wl,-rpath,"$build/lib"
# shellcheck disable=SC2046
${CC:-cc} $cflags $(pkg-config --cflags libmemcached) -o "$out/bench_libmemcached" \
    "$root/benches/bench_libmemcached.c" $(pkg-config --libs libmemcached)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-phases.XXXXXX")
trap '"$servers_sh" stop "$tmp/servers"; rm -rf "$tmp"' EXIT
servers=$("$servers_sh" start "$tmp/servers" 4 -m 256)
"$out/bench_omcache" populate "$servers" 0 >/dev/null
"$out/bench_libmemcached" populate "$servers" 0 >/dev/null

# phase_table FILE PER: self cost per phase of one callgrind profile, divided by PER.
phase_table() {
    callgrind_annotate --threshold=100 --show-percs=no "$1" 2>/dev/null | awk -v per="$2" '
        /file:function/ { on = 1; next }
        on && /^-+$/ { if (seen) on = 0; next }
        on && $1 ~ /^[0-9,]+$/ {
            seen = 1
            ir = $1; gsub(",", "", ir)
            rest = $0; sub(/^ *[0-9,]+ +/, "", rest)
            obj = ""
            if (match(rest, / \[[^]]*\]$/)) { obj = substr(rest, RSTART + 2); rest = substr(rest, 1, RSTART - 1) }
            i = index(rest, ":"); file = substr(rest, 1, i - 1); fn = substr(rest, i + 1)
            # Code inlined from the standard library counts where it was inlined.
            std = (file ~ /\/rustc\//)
            if (file ~ /benches\// || obj ~ /bench_omcache/) p = "the benchmark loop (not the library)"
            else if (obj ~ /libc\.so|ld-linux/ || file ~ /^\.\/|sysdeps/) p = "libc: system call wrappers, memcpy, clock"
            else if (file ~ /src\/hash\.rs/ || (std && fn ~ /HashAlgorithm/)) p = "key hash (one-at-a-time, as libmemcached)"
            else if (file ~ /src\/ketama\.rs|src\/client\/servers\.rs/ || (std && fn ~ /ketama|Continuum/)) p = "key -> server (continuum)"
            else if (file ~ /parking_lot|lock_api/ || fn ~ /lock_unless_forked/) p = "handle lock (re-entrant, fork-checked)"
            else if (file ~ /src\/ffi\// || (std && fn ~ /ffi::/)) p = "C boundary: argument checks, value slots, outputs"
            else if (file ~ /src\/connection\/inflight\.rs/) p = "in-flight entry and keyed key fingerprint"
            else if (fn ~ /Connection::queue/ || (file ~ /src\/protocol\// && fn ~ /enqueue/)) p = "encode the request"
            else if (file ~ /src\/connection\/binary\.rs|src\/protocol\// || fn ~ /next_binary_event|frame_from/) p = "parse the answer and match it to its request"
            else if (file ~ /src\/connection\/recv\.rs/ || fn ~ /Connection::receive/) p = "receive (buffer, timeout arming)"
            else if (file ~ /src\/client\/deliver\.rs/ || fn ~ /process_input/) p = "deliver (answer -> request, batch)"
            else if (file ~ /src\/sys\.rs/) p = "system call glue (sys.rs)"
            else if (file ~ /src\/client\/active\.rs/ || (std && fn ~ /active::/)) p = "active set (servers needing attention)"
            else if (file ~ /src\/connection\/(mod|quiet)\.rs/) p = "connection state, send (connection/mod.rs)"
            else if (file ~ /src\/client\/dispatch\.rs/ || (std && fn ~ /dispatch::/)) p = "request flow: checks, idle look, liveness, ids (dispatch.rs)"
            else p = "client state: fork check, batch, settings (client/*.rs)"
            cost[p] += ir; total += ir
        }
        END {
            for (p in cost) printf "%10.0f  %s\n", cost[p] / per, p
            printf "%10.0f  TOTAL\n", total / per
        }' | sort -k1,1nr
}

total_of() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

printf '\nInstructions per operation by phase, OMcache C API, binary, 4 servers (callgrind):\n'
declare -A ours=() theirs=()
for w in get set multiget; do
    case $w in get) n=$n_get per=$n_get ;; set) n=$n_set per=$n_set ;; multiget) n=$n_multi per=$((n_multi * 100)) ;; esac
    valgrind --tool=callgrind --toggle-collect=run_workload --callgrind-out-file="$tmp/ours.$w" \
        "$out/bench_omcache" "$w" "$servers" "$n" >/dev/null 2>"$tmp/vg.err" ||
        { cat "$tmp/vg.err" >&2; exit 1; }
    valgrind --tool=callgrind --toggle-collect=run_workload --callgrind-out-file="$tmp/theirs.$w" \
        "$out/bench_libmemcached" "$w" "$servers" "$n" >/dev/null 2>"$tmp/vg.err" ||
        { cat "$tmp/vg.err" >&2; exit 1; }
    ours[$w]=$(awk -v t="$(total_of "$tmp/ours.$w")" -v p="$per" 'BEGIN { printf "%.0f", t / p }')
    theirs[$w]=$(awk -v t="$(total_of "$tmp/theirs.$w")" -v p="$per" 'BEGIN { printf "%.0f", t / p }')
    unit=$w; [ "$w" = multiget ] && unit="multi-get key (100-key calls)"
    printf '\n%s:\n' "$unit"
    phase_table "$tmp/ours.$w" "$per"
done

printf '\nAgainst libmemcached 1.1.4 (same run, same programs) and the speed issue:\n'
printf '%-16s | %8s | %12s | %7s | %14s | %s\n' "per" ours libmemcached ratio "issue's figure" "target"
printf -- '-----------------+----------+--------------+---------+----------------+-------\n'
for w in get set multiget; do
    case $w in get) issue="1,584 (0.58x)" ;; set) issue="1,606 (0.97x)" ;; multiget) issue="974 (0.46x)" ;; esac
    label=$w; [ "$w" = multiget ] && label="multi-get key"
    printf '%-16s | %8s | %12s | %6.2fx | %14s | <= 0.3x\n' "$label" "${ours[$w]}" "${theirs[$w]}" \
        "$(awk -v a="${ours[$w]}" -v b="${theirs[$w]}" 'BEGIN { print a / b }')" "$issue"
done
echo "(The issue's figures predate the engine's fault work: answer fingerprints, the dead timer"
echo " across calls, fork checks, the look at idle connections before a request.)"

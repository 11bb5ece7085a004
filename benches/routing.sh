#!/usr/bin/env bash
# benches/routing.sh - key -> server without the network (what `make bench` runs after
# benches/run.sh): continuum build time and lookup time through omcache_server_index_for_key,
# at 4 and 10,000 servers, default ketama (one-at-a-time keys and points) and weighted
# ketama (MD5), 200,000 distinct keys taken in order and in a scrambled order (where the
# bench's own read of each key misses the cache: see bench_routing.c).  Median of BENCH_ROUNDS
# [5] runs, plus the instructions of a run that builds and looks up one key (callgrind,
# deterministic; BENCH_CALLGRIND=0 skips them).  "before": the lookup times the speed
# issue measured on this machine, and the instructions of this program on the commit
# before the bucket index, the radix sort and the prefix-hashed point names (f55fadb).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
out=$build/bench
rounds=${BENCH_ROUNDS:-5}
mkdir -p "$out"
[ -e "$build/lib/libomcache.so" ] || { echo "routing.sh: run make first" >&2; exit 1; }
${CC:-cc} -std=c99 -O2 -Wall -Wextra -Werror -I"$build/include" -o "$out/bench_routing" \
    "$root/benches/bench_routing.c" -L"$build/lib" -Wl,-rpath,"$build/lib" -lomcache

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '\nKey -> server, no network (median of %s runs):\n' "$rounds"
printf '%-8s %-9s | %12s | %14s | %14s | %16s | %s\n' servers dist "build ms" "ns per lookup" "ns, scrambled" "instr, build (M)" "before (issue)"
printf -- '---------------------+--------------+----------------+----------------+------------------+---------------\n'
for servers in 4 10000; do
    for dist in ketama weighted; do
        builds=() lookups=() scrambled=()
        for _ in $(seq "$rounds"); do
            line=$("$out/bench_routing" "$servers" "$dist")
            builds+=("$(echo "$line" | awk '{print $5}')")
            lookups+=("$(echo "$line" | awk '{print $7}')")
            scrambled+=("$(echo "$line" | awk '{print $9}')")
        done
        instr=-
        if [ "${BENCH_CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
            instr=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
                "$out/bench_routing" "$servers" "$dist" 1 2>&1 | awk '/refs:/ { gsub(",", "", $4); printf "%.1f", $4 / 1e6 }')
        fi
        case $servers/$dist in
            4/ketama) before="68 ns/lookup" ;;
            10000/ketama) before="1,523 ns/lookup, 80 ms build; 782 M instr" ;;
            10000/weighted) before="961 M instr" ;;
            *) before="" ;;
        esac
        printf '%-8s %-9s | %12s | %14s | %14s | %16s | %s\n' "$servers" "$dist" \
            "$(printf '%s\n' "${builds[@]}" | median)" "$(printf '%s\n' "${lookups[@]}" | median)" \
            "$(printf '%s\n' "${scrambled[@]}" | median)" "$instr" "$before"
    done
done

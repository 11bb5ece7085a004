#!/usr/bin/env bash
# benches/cluster.sh - what a request costs as the cluster grows (in `make bench`): sequential
# gets of keys on one live memcached while the server list holds 1, 100, 1,000 and 10,000
# servers (the others never contacted; benches/bench_cluster.c). OMcache's C API against
# libmemcached 1.1.4 where it can hold the list (it aborts past a few hundred servers): the two
# alternate round by round; shown are the median µs per get of each, the median of the
# per-round ratios, and instructions per get under callgrind (deterministic;
# BENCH_CALLGRIND=0 skips them). Before the engine's loops visited only active servers
# (commit 0056944), ours took 96 µs at 100 servers, 135 µs at 1,000 and 1,054 µs at 10,000
# on this machine (every server scanned several times per request).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
out=$build/bench
rounds=${BENCH_ROUNDS:-5}
n=${BENCH_N_CLUSTER:-5000}
callgrind=${BENCH_CALLGRIND:-1}
mkdir -p "$out"
[ -e "$build/lib/libomcache.so" ] || { echo "cluster.sh: run make first" >&2; exit 1; }
${CC:-cc} -std=c99 -O2 -Wall -Wextra -Werror -I"$build/include" -o "$out/bench_cluster" \
    "$root/benches/bench_cluster.c" -L"$build/lib" -Wl,-rpath,"$build/lib" -lomcache \
    $(pkg-config --cflags --libs libmemcached)
. "$root/compat-tests/servers.sh"
work=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
port=$(free_port)
start_memcached "$port" -m 64 || { echo "cluster.sh: memcached did not start" >&2; exit 1; }

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
us() { "$out/bench_cluster" "$1" "$port" "$2" "$n" | awk '{print $4}'; }
instr() {
    local cg=$work/cg
    valgrind --tool=callgrind --toggle-collect=run_gets --callgrind-out-file="$cg" \
        "$out/bench_cluster" "$1" "$port" "$2" 1000 >/dev/null 2>&1 || { echo "-"; return; }
    awk '/^summary:/ { printf "%.0f", $2 / 1000 }' "$cg"
}

printf '\nA get as the cluster grows (one live server, the others idle; median of %s rounds):\n' "$rounds"
printf '%-8s | %12s | %17s | %7s | %22s\n' servers "ours us/get" "libmemcached us/get" ratio "instr/get (ours, libm)"
printf -- '---------+--------------+-------------------+---------+-----------------------\n'
for servers in 1 100 1000 10000; do
    both=$([ "$servers" -le 100 ] && echo 1 || echo 0)
    o="" l="" r=""
    for i in $(seq "$rounds"); do
        if [ "$both" = 1 ] && [ $((i % 2)) = 0 ]; then
            y=$(us libmemcached "$servers"); x=$(us omcache "$servers")
        else
            x=$(us omcache "$servers")
            [ "$both" = 0 ] || y=$(us libmemcached "$servers")
        fi
        o+="$x"$'\n'
        if [ "$both" = 1 ]; then
            l+="$y"$'\n' r+="$(echo "$y / $x" | bc -l)"$'\n'
        fi
    done
    om=$(printf '%s' "$o" | median)
    if [ "$both" = 1 ]; then
        lmv=$(printf '%s' "$l" | median) ratio=$(printf '%.2fx' "$(printf '%s' "$r" | median)")
    else
        lmv="(aborts)" ratio="-"
    fi
    ci="-"
    if [ "$callgrind" != 0 ]; then
        ci="$(instr omcache "$servers")"
        [ "$both" = 0 ] || ci="$ci, $(instr libmemcached "$servers")"
    fi
    printf '%-8s | %12s | %17s | %7s | %22s\n' "$servers" "$om" "$lmv" "$ratio" "$ci"
done
echo "(ratio: libmemcached's time per get over ours, per round; above 1 we are faster)"

#!/usr/bin/env bash
# lmc-counters.sh - tests-c/lmc_counters.c built against Debian's libmemcached headers and run
# twice on three throwaway memcached servers: with Debian's libmemcached.so.11 and with ours
# (LD_LIBRARY_PATH=build/libmemcached, LD_BIND_NOW=1); the transcripts must be the same
# (pointers in error texts compared as fields). VALGRIND=1 also runs ours under valgrind
# (no errors, no definite leaks).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-counters: $lib/libmemcached.so.11 missing (make)"; exit 2; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
cc -O1 -g -Wall -Wextra -Werror -o "$tmp/lmc_counters" "$root/tests-c/lmc_counters.c" -lmemcached \
    || { echo "lmc-counters: lmc_counters.c does not compile (libmemcached-dev?)"; exit 2; }
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$1" || { echo "lmc-counters: memcached on $1 did not start"; exit 2; }; }
p1=$(free_port); p2=$(free_port); p3=$(free_port)
start "$p1"; start "$p2"; start "$p3"
norm() { sed -E 's/\(0x[0-9a-f]+\)/(PTR)/g; s/err=\(0x[0-9a-f]*/err=(PTR/'; }
LD_BIND_NOW=1 "$tmp/lmc_counters" "$p1" "$p2" "$p3" 2>&1 | norm > "$tmp/real.txt"
LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 "$tmp/lmc_counters" "$p1" "$p2" "$p3" 2>&1 | norm > "$tmp/ours.txt"
n=$(wc -l < "$tmp/real.txt")
fail=0
if diff -u "$tmp/real.txt" "$tmp/ours.txt" > "$tmp/diff.txt"; then
    echo "PASS  lmc_counters: $n lines, same transcript on the real library and on ours"
else
    echo "FAIL  lmc_counters:"; head -60 "$tmp/diff.txt"; fail=1
fi
if [ "${VALGRIND:-0}" = 1 ]; then
    if LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$tmp/lmc_counters" "$p1" "$p2" "$p3" > /dev/null 2> "$tmp/vg.txt"; then
        echo "PASS  lmc_counters under valgrind: no errors, no definite leaks"
    else
        echo "FAIL  lmc_counters under valgrind:"; head -40 "$tmp/vg.txt"; fail=1
    fi
fi
exit $fail

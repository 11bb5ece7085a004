#!/usr/bin/env bash
# lmc-instances.sh - tests-c/lmc_instances.c (server instances, cursor, stats, analyze,
# version, server_by_key) built twice, against Debian's libmemcached.so.11 and against ours,
# each run on three fresh memcached servers; the outputs must be the same line for line
# (run-to-run values are printed normalised by the program). Then ours under valgrind:
# no errors, nothing lost.
#
#   tests-c/lmc-instances.sh            (NOVALGRIND=1 skips the valgrind run)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
cc=${CC:-cc}
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-instances: $lib/libmemcached.so.11 missing (make)"; exit 1; }
[ -e /usr/include/libmemcached/memcached.h ] || { echo "lmc-instances: libmemcached-dev is not installed"; exit 1; }
tmp=$(mktemp -d); pids=""
stop_all() { for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; pids=""; }
trap 'stop_all; rm -rf "$tmp"' EXIT
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$1" -t 2 || { echo "lmc-instances: memcached on $1 did not start"; exit 1; }; }
p1=$(free_port); p2=$(free_port); p3=$(free_port); dead=$(free_port)
src=$root/tests-c/lmc_instances.c
# Against Debian's library, and against ours (linked by name from our directory).
$cc -Wall -Wextra -O1 -g -o "$tmp/real" "$src" -lmemcached || exit 1
$cc -Wall -Wextra -O1 -g -o "$tmp/ours" "$src" -L"$lib" -l:libmemcached.so.11 -Wl,-rpath,"$lib" || exit 1
run() {  # run NAME LIBDIR [wrapper...]: fresh servers, then the program $tmp/NAME
    local name=$1 libdir=$2; shift 2
    stop_all; start "$p1"; start "$p2"; start "$p3"
    LD_LIBRARY_PATH=$libdir LD_BIND_NOW=1 timeout 900 "$@" "$tmp/${name%-vg}" "$p1" "$p2" "$p3" "$dead" \
        > "$tmp/$name.out" 2>&1
    echo "exit $?" >> "$tmp/$name.out"
}
run real ""
run ours "$lib"
fail=0
# The port numbers differ from run to run only through the ephemeral ports: normalise them.
norm() { sed -e "s/\b$p1\b/P1/g; s/\b$p2\b/P2/g; s/\b$p3\b/P3/g; s/\b$dead\b/PDEAD/g" "$1"; }
n=$(wc -l < "$tmp/real.out")
if diff -u <(norm "$tmp/real.out") <(norm "$tmp/ours.out") > "$tmp/diff"; then
    echo "PASS  lmc_instances: $n lines, same output on Debian's libmemcached and ours"
else
    echo "FAIL  lmc_instances: outputs differ (real vs ours):"; head -60 "$tmp/diff"; fail=1
fi
if [ "${NOVALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null; then
    run ours-vg "$lib" valgrind --tool=memcheck --leak-check=full \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --log-file="$tmp/vg.log"
    vrc=$(sed -n 's/^exit //p' "$tmp/ours-vg.out")
    if [ $vrc = 0 ] && grep -q 'ERROR SUMMARY: 0 errors' "$tmp/vg.log"; then
        echo "PASS  lmc_instances under valgrind: 0 errors, $(grep -o 'definitely lost: [0-9,]* bytes' "$tmp/vg.log" || echo 'no leaks')"
    else
        echo "FAIL  lmc_instances under valgrind (exit $vrc):"; grep -A12 'Invalid\|lost\|ERROR SUMMARY' "$tmp/vg.log" | head -60; fail=1
    fi
fi
exit $fail

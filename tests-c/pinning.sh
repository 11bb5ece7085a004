#!/usr/bin/env bash
# pinning.sh - build tests-c/pinning.c and run its C-API regressions:
#   reset    (defect 1) values stay intact when their connection is reset and
#            reconnected later in the same call: 3 runs, then 1 under valgrind
#            (--error-exitcode; connect_timeout 1000 ms there, valgrind is slow)
#   multi    (defect 3) get_multi of 100 keys, half the values 70,000 bytes,
#            over 4 throwaway memcached servers on free loopback ports
#   invalid  (defect 7) get_multi returning OMCACHE_INVALID sets *value_count 0
# Prints one line per check and a summary; exits 0 only if every check passed.
#
# Environment: CC (default cc), VALGRIND (default valgrind; NO_VALGRIND=1
# skips that run), OMCACHE_BUILD (default <repo>/build).  The library must
# have been built (make).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
libdir=$build/lib
incdir=$build/include
outdir=$build/tests-c
cc=${CC:-cc}
valgrind=${VALGRIND:-valgrind}
servers_sh=$root/scripts/memcached-servers.sh

if [ ! -e "$libdir/libomcache.so.0" ] || [ ! -e "$incdir/omcache.h" ]; then
    echo "pinning.sh: $libdir/libomcache.so.0 or $incdir/omcache.h is missing; run make first" >&2
    exit 2
fi
mkdir -p "$outdir"
"$cc" -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -g -Wall -Wextra -Werror \
    -I "$incdir" -o "$outdir/pinning" "$root/tests-c/pinning.c" \
    -L "$libdir" -lomcache -Wl,-rpath,"$libdir" || { echo "pinning.sh: pinning.c does not compile" >&2; exit 2; }
prog=$outdir/pinning

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-pinning.XXXXXX")
cleanup() {
    "$servers_sh" stop "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

failed=0
# check NAME SECONDS COMMAND...: runs one check, shows its output when it fails.
check() {
    local name=$1 secs=$2 rc
    shift 2
    timeout "$secs" "$@" >"$tmp/$name.out" 2>&1
    rc=$?
    if [ $rc = 0 ]; then
        echo "$name: passed"
    else
        case $rc in
            1) echo "$name: FAILED" ;;
            124) echo "$name: did not finish in $secs s" ;;
            *) echo "$name: exit $rc" ;;
        esac
        sed 's/^/    /' "$tmp/$name.out" | head -n 20
        failed=$((failed + 1))
    fi
}

for i in 1 2 3; do
    check "reset-$i" 20 "$prog" reset
done
if [ -z "${NO_VALGRIND:-}" ]; then
    if command -v "$valgrind" >/dev/null 2>&1; then
        check reset-valgrind 60 "$valgrind" -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect "$prog" reset 1000
    else
        echo "reset-valgrind: valgrind not found" >&2
        failed=$((failed + 1))
    fi
fi

servers=$("$servers_sh" start "$tmp" 4) || { echo "pinning.sh: cannot start memcached" >&2; exit 2; }
check multi 30 "$prog" multi "$servers"
check invalid 20 "$prog" invalid "$servers"

if [ $failed = 0 ]; then
    echo "pinning.sh: all checks passed"
else
    echo "pinning.sh: $failed check(s) failed"
    exit 1
fi

#!/usr/bin/env bash
# threads.sh - build tests-c/threads.c and run it against 4 throwaway
# memcached servers: one handle shared by 8 threads at once, and callbacks
# that call back into their own handle (see threads.c).  Extra arguments go
# to the program (e.g. -t 16 -n 10000).
#
# Environment: CC (default cc), CFLAGS and LDFLAGS (added to the compile and
# link), OMCACHE_BUILD (default <repo>/build), OMCACHE_TEST_SLACK (default 1;
# multiplies the program's watchdog).
# The library must have been built (make).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
libdir=$build/lib
incdir=$build/include
outdir=$build/tests-c
cc=${CC:-cc}
servers_sh=$root/scripts/memcached-servers.sh

if [ ! -e "$libdir/libomcache.so" ] || [ ! -e "$incdir/omcache.h" ]; then
    echo "threads.sh: $libdir/libomcache.so or $incdir/omcache.h is missing; run make first" >&2
    exit 2
fi
mkdir -p "$outdir"
# split into words on purpose, like make's $(CFLAGS)
read -r -a user_cflags <<<"${CFLAGS:-}"
read -r -a user_ldflags <<<"${LDFLAGS:-}"
"$cc" -std=c99 -D_POSIX_C_SOURCE=200809L -pthread -O2 -g -Wall -Wextra -Werror "${user_cflags[@]}" \
    -I "$incdir" "${user_ldflags[@]}" -o "$outdir/threads" "$root/tests-c/threads.c" \
    -L "$libdir" -lomcache -Wl,-rpath,"$libdir" || { echo "threads.sh: threads.c does not compile" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-threads.XXXXXX")
cleanup() {
    "$servers_sh" stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

servers=$("$servers_sh" start "$tmp" 4) || { echo "threads.sh: cannot start memcached" >&2; exit 2; }
"$outdir/threads" "$@" "$servers"

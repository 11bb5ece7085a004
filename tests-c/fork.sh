#!/usr/bin/env bash
# fork.sh - build tests-c/fork.c and run it against one throwaway memcached on
# a free 127.0.0.1 port (stopped at exit): an omcache handle created and given
# its servers before fork(), used by the child; also after the parent's own
# I/O, by parent and child at once (see fork.c).
#
# Environment: CC (default cc), OMCACHE_BUILD (default <repo>/build).
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
    echo "fork.sh: $libdir/libomcache.so or $incdir/omcache.h is missing; run make first" >&2
    exit 2
fi
mkdir -p "$outdir"
"$cc" -std=c99 -D_POSIX_C_SOURCE=200809L -pthread -O2 -g -Wall -Wextra -Werror \
    -I "$incdir" -o "$outdir/fork" "$root/tests-c/fork.c" \
    -L "$libdir" -lomcache -Wl,-rpath,"$libdir" || { echo "fork.sh: fork.c does not compile" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-fork.XXXXXX")
cleanup() {
    "$servers_sh" stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

server=$("$servers_sh" start "$tmp" 1) || { echo "fork.sh: cannot start memcached" >&2; exit 2; }
"$outdir/fork" "$server"

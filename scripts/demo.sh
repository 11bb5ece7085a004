#!/usr/bin/env bash
# scripts/demo.sh - what `make demo` runs: start three throwaway memcached
# servers, build c-examples/demo.c against the freshly built library, run it
# and stop the servers again.
#
# Environment: CC (default cc), OMCACHE_BUILD (default <repo>/build).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
cc=${CC:-cc}
servers_sh=$root/scripts/memcached-servers.sh

if [ ! -e "$build/lib/libomcache.so" ] || [ ! -e "$build/include/omcache.h" ]; then
    echo "demo: the library is not built yet; run make first" >&2
    exit 1
fi

mkdir -p "$build/demo"
echo "Building c-examples/demo.c:"
echo "  $cc -std=c99 -I build/include c-examples/demo.c -L build/lib -lomcache"
"$cc" -std=c99 -Wall -Wextra -Werror -I "$build/include" -o "$build/demo/demo" "$root/c-examples/demo.c" \
    -L "$build/lib" -lomcache -Wl,-rpath,"$build/lib" || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-demo.XXXXXX")
trap '"$servers_sh" stop "$tmp"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

echo "Starting three memcached servers on free local ports..."
servers=$("$servers_sh" start "$tmp" 3) || exit 1
echo "  ./demo $servers"
echo

"$build/demo/demo" "$servers"
rc=$?
echo
echo "Stopping the servers."
exit $rc

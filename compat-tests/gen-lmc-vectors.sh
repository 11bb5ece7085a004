#!/bin/bash
# gen-lmc-vectors.sh - regenerates vectors/lmc-keymap.txt: golden key -> server vectors from
# the REAL libmemcached, which src/ketama.rs's unit tests replay without libmemcached.
#
# File format: '#' comment lines, then per configuration a line "<mode><TAB><server list>"
# followed by one line holding, for keys 0..N-1 of keymap_keys.h, the index (in list order,
# libmemcached does not sort) of the server libmemcached picks, space-separated.
# Only needs libmemcached-dev; our library is not involved.
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=${BUILDDIR:-$here/../build/compat-tests}
CC=${CC:-cc}
KEYS=${KEYS:-2000}
vectors=$here/vectors/lmc-keymap.txt
mkdir -p "$BUILDDIR"
# shellcheck disable=SC2046
$CC -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror $(pkg-config --cflags libmemcached) \
    "$here/lmc_keymap.c" -o "$BUILDDIR/lmc_keymap" $(pkg-config --libs libmemcached)
# shellcheck source=lists.sh
. "$here/lists.sh"

# mode, server count, list kind: chosen to cover the float trap (25, 47, 50 servers get 156
# weighted points each), IPv6 brackets, unix sockets, non-default ports and both key hashes.
configs=(
    "weighted 50 ipv4" "weighted 25 hosts" "weighted 47 mixed" "weighted 2 mixed"
    "pre1010 50 mixed" "pre1010 7 ipv6" "pre1010 25 ipv4"
    "ketama 7 mixed" "ketama 50 hosts" "ketama 3 ipv6"
)
{
    echo "# Golden vectors from libmemcached $(pkg-config --modversion libmemcached) ($(uname -m)),"
    echo "# made by compat-tests/gen-lmc-vectors.sh; $KEYS keys of compat-tests/keymap_keys.h each."
    for c in "${configs[@]}"; do
        read -r mode n kind <<<"$c"
        servers=$(list_"$kind" "$n")
        printf '%s\t%s\n' "$mode" "$servers"
        "$BUILDDIR/lmc_keymap" -i -n "$KEYS" "$mode" "$servers" 2>/dev/null | cut -f2 | paste -sd' '
    done
} >"$vectors.tmp"
mv "$vectors.tmp" "$vectors"
echo "wrote $vectors ($(grep -vc '^#' "$vectors") lines)"

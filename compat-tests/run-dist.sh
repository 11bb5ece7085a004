#!/bin/bash
# run-dist.sh - every deterministic libmemcached 1.1.4 distribution through the engine's
# `ketama` layer (Distribution::Libmemcached), compared key by key with the real library.
#
# Matrix: distribution (modula, consistent, ketama, weighted, spy, spy weighted, virtual
# buckets with and without a table) x key hash (all of Debian's libhashkit but HSIEH) x
# weights (all 1, mixed) x server count (1, 2, 3, 7, 25, 100) x server list (lists.sh: IPv4,
# host names with ports, bracketed IPv6, a mix with unix sockets; plus unix sockets only).
# RANDOM is not deterministic and is covered by the unit tests instead.
#
# lmc_dist (linked with the system's libmemcached) prints memcached_generate_hash for the
# 10,000 keys of keymap_keys.h per configuration; examples/lmc_keymap_rs.rs computes ours and
# counts the differences (both keep the list order, so indexes are compared directly).
#
# Environment: BUILDDIR (default <repo>/build/compat-tests), CC, CARGO, KEYS (default 10000),
# PROFILE (cargo profile for the example, default release).
# Exits 1 on any difference, 2 if something could not be built or run.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILDDIR=${BUILDDIR:-$repo/build/compat-tests}
CC=${CC:-cc}
CARGO=${CARGO:-cargo}
KEYS=${KEYS:-10000}
PROFILE=${PROFILE:-release}
CFLAGS="-std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror"

die() { echo "run-dist: $*" >&2; exit 2; }

mkdir -p "$BUILDDIR/out" || die "cannot create $BUILDDIR"
pkg-config --exists libmemcached || die "libmemcached not found by pkg-config (apt-get install libmemcached-dev)"
# shellcheck disable=SC2046,SC2086
$CC $CFLAGS $(pkg-config --cflags libmemcached) -I"$here" "$here/lmc_dist.c" \
    -o "$BUILDDIR/lmc_dist" $(pkg-config --libs libmemcached) || die "cannot build lmc_dist"
(cd "$repo" && $CARGO build -q --profile "$PROFILE" --example lmc_keymap_rs) ||
    die "cannot build examples/lmc_keymap_rs.rs"
target=${CARGO_TARGET_DIR:-$repo/target}
case $PROFILE in dev) pdir=debug ;; *) pdir=$PROFILE ;; esac
ours="$target/$pdir/examples/lmc_keymap_rs"
[ -x "$ours" ] || die "no $ours"

# shellcheck source=lists.sh
. "$here/lists.sh"

# Unix sockets only (port 0 in parsed lists: points "/path:0-i").
list_sockets() {
    local n=$1 i out=()
    for ((i = 0; i < n; i++)); do out+=("/run/memcached/shard-$i.sock"); done
    (IFS=,; echo "${out[*]}")
}

# weights_KIND N: one weight per server.
weights_ones() { local i out=(); for ((i = 0; i < $1; i++)); do out+=(1); done; (IFS=,; echo "${out[*]}"); }
weights_mixed() {
    local i w=(1 3 2 5 1 10 4) out=()
    for ((i = 0; i < $1; i++)); do out+=("${w[i % 7]}"); done
    (IFS=,; echo "${out[*]}")
}
# A 64-bucket host map (power of two, as libmemcached masks with count-1).
bucket_table() {
    local b out=()
    for ((b = 0; b < 64; b++)); do out+=("$(((b * 5 + 3) % $1))"); done
    (IFS=,; echo "${out[*]}")
}

counts=(1 2 3 7 25 100)
kinds=(ipv4 hosts ipv6 mixed sockets)
declare -A list weights table
for n in "${counts[@]}"; do
    for kind in "${kinds[@]}"; do list[$kind.$n]=$(list_"$kind" "$n"); done
    weights[ones.$n]=$(weights_ones "$n")
    weights[mixed.$n]=$(weights_mixed "$n")
    table[$n]=$(bucket_table "$n")
done

configs="$BUILDDIR/out/dist.configs"
{
    # NAME:DIST:WEIGHTED:BUCKETS
    for d in modula:modula:0:- consistent:consistent:0:- ketama:ketama:0:- \
        weighted:weighted:1:- spy:spy:0:- spy-w:spy:1:- vbucket:vbucket:0:- \
        vbucket-table:vbucket:0:table; do
        IFS=: read -r name dist weighted buckets <<<"$d"
        for hash in 0 1 2 3 4 5 6 8 9 10; do
            for wk in ones mixed; do
                for n in "${counts[@]}"; do
                    b=-
                    [ "$buckets" = table ] && b=${table[$n]}
                    for kind in "${kinds[@]}"; do
                        printf '%s hash=%s weights=%s n=%s %s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                            "$name" "$hash" "$wk" "$n" "$kind" "$dist" "$hash" "$weighted" \
                            "${list[$kind.$n]}" "${weights[$wk.$n]}" "$b"
                    done
                done
            done
        done
    done
} >"$configs"

# Two halves in parallel (the comparison is the slow part: 48 million keys per side).
half=$((($(wc -l <"$configs") + 1) / 2))
head -n "$half" "$configs" >"$configs.1"
tail -n +"$((half + 1))" "$configs" >"$configs.2"
for part in 1 2; do
    "$BUILDDIR/lmc_dist" -n "$KEYS" <"$configs.$part" >"$BUILDDIR/out/dist.lmc.$part" \
        2>"$BUILDDIR/out/dist.lmc.err.$part" &
done
for part in 1 2; do
    wait -n || die "lmc_dist failed: $(cat "$BUILDDIR"/out/dist.lmc.err.* | tail -3)"
done
cat "$BUILDDIR/out/dist.lmc.1" "$BUILDDIR/out/dist.lmc.2" >"$BUILDDIR/out/dist.lmc"
rm -f "$BUILDDIR/out/dist.lmc.1" "$BUILDDIR/out/dist.lmc.2" "$configs.1" "$configs.2"
"$ours" -n "$KEYS" "$configs" "$BUILDDIR/out/dist.lmc" >"$BUILDDIR/out/dist.result"
status=$?
grep -v ': 0 differing of' "$BUILDDIR/out/dist.result"
echo "(per-configuration results in $BUILDDIR/out/dist.result)"
exit $status

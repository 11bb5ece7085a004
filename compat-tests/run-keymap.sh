#!/bin/bash
# run-keymap.sh - proves that our libomcache routes keys exactly like the real libmemcached.
#
# Builds lmc_keymap (linked with the system's libmemcached) and omc_keymap (linked with our
# libomcache through the OMcache C API only), runs both over the same 10,000 keys for every
# configuration below and compares the chosen server of every key by host:port (libmemcached
# keeps the list order, OMcache sorts it, so indexes are not comparable).
#
# Environment:
#   LIBDIR    where libomcache.so(.0) is     (default: <repo>/build/lib, made by `make`)
#   INCDIR    where omcache.h is             (default: <repo>/include)
#   BUILDDIR  where the test programs go     (default: <repo>/build/compat-tests)
#   CC        C compiler                      (default: cc)
#   KEYS      keys per configuration          (default: 10000)
#
# Prints one line per configuration and a final "N passed, M failed"; exits 1 on any
# difference, 2 if something could not be built or run. Then runs run-badlist.sh (lists with
# entries that can never connect) and run-dist.sh (the other libmemcached distributions and
# hashes through the Rust layer; CARGO, PROFILE apply there).
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
LIBDIR=${LIBDIR:-$repo/build/lib}
INCDIR=${INCDIR:-$repo/include}
BUILDDIR=${BUILDDIR:-$repo/build/compat-tests}
CC=${CC:-cc}
KEYS=${KEYS:-10000}
CFLAGS="-std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror"

die() { echo "run-keymap: $*" >&2; exit 2; }

mkdir -p "$BUILDDIR/out" || die "cannot create $BUILDDIR"

pkg-config --exists libmemcached || die "libmemcached not found by pkg-config (apt-get install libmemcached-dev)"
# shellcheck disable=SC2046,SC2086
$CC $CFLAGS $(pkg-config --cflags libmemcached) -I"$here" "$here/lmc_keymap.c" \
    -o "$BUILDDIR/lmc_keymap" $(pkg-config --libs libmemcached) ||
    die "cannot build lmc_keymap"

# Link against the development symlink when there is one, else the SONAME file itself.
if [ -e "$LIBDIR/libomcache.so" ]; then
    omclib=(-L"$LIBDIR" -lomcache)
elif [ -e "$LIBDIR/libomcache.so.0" ]; then
    omclib=("$LIBDIR/libomcache.so.0")
else
    die "no libomcache.so in $LIBDIR (run make, or set LIBDIR)"
fi
# shellcheck disable=SC2086
$CC $CFLAGS -I"$INCDIR" -I"$here" "$here/omc_keymap.c" -o "$BUILDDIR/omc_keymap" \
    "${omclib[@]}" -Wl,-rpath,"$LIBDIR" || die "cannot build omc_keymap"

# The server lists (list_ipv4, list_hosts, list_ipv6, list_mixed).
# shellcheck source=lists.sh
. "$here/lists.sh"

# Hosts as both sides print them, IPv6 brackets removed (libmemcached keeps them; what
# omcache_server_info reports is the library's choice), so only routing is compared.
normalise() { sed -e 's/[][]//g' "$1"; }

passed=0
failed=0

# compare NAME FILE_A FILE_B LABEL: one result line, details of the first differences.
compare() {
    local label=$1 a=$2 b=$3 ndiff lines
    lines=$(wc -l <"$a")
    if [ "$lines" -ne "$KEYS" ] || [ "$(wc -l <"$b")" -ne "$KEYS" ]; then
        echo "$label: FAILED (expected $KEYS lines, got $lines and $(wc -l <"$b"))"
        failed=$((failed + 1))
        return
    fi
    ndiff=$(paste <(normalise "$a") <(normalise "$b") | awk -F'\t' '$2 != $4' | wc -l)
    if [ "$ndiff" -eq 0 ]; then
        echo "$label: 0 differing of $KEYS"
        passed=$((passed + 1))
    else
        echo "$label: $ndiff differing of $KEYS  FAILED"
        paste <(normalise "$a") <(normalise "$b") | awk -F'\t' '$2 != $4 {
            print "    key " $1 ": libmemcached " $2 ", omcache " $4 }' | head -5
        failed=$((failed + 1))
    fi
}

# run MODE N KIND: one configuration.
run() {
    local mode=$1 n=$2 kind=$3 servers tag
    servers=$(list_"$kind" "$n")
    tag="$BUILDDIR/out/$mode-$n-$kind"
    if ! "$BUILDDIR/lmc_keymap" -n "$KEYS" "$mode" "$servers" >"$tag.lmc" 2>"$tag.lmc.err"; then
        echo "keymap $mode $n servers $kind: FAILED (lmc_keymap: $(tail -1 "$tag.lmc.err"))"
        failed=$((failed + 1))
        return
    fi
    if ! "$BUILDDIR/omc_keymap" -n "$KEYS" "$mode" "$servers" >"$tag.omc" 2>"$tag.omc.err"; then
        echo "keymap $mode $n servers $kind: FAILED (omc_keymap: $(tail -1 "$tag.omc.err"))"
        failed=$((failed + 1))
        return
    fi
    compare "keymap $mode $n servers $kind" "$tag.lmc" "$tag.omc"
}

for mode in ketama weighted pre1010; do
    for n in 1 2 3 7 25 50; do
        for kind in ipv4 hosts ipv6 mixed; do
            run "$mode" "$n" "$kind"
        done
    done
done

echo "$passed passed, $failed failed"

# Lists with bad entries (issue 13): the good servers' keys go where libmemcached sends them.
echo "compat-tests/run-badlist.sh: lists with entries that can never connect"
BUILDDIR="$BUILDDIR" KEYS="$KEYS" "$here/run-badlist.sh"
badlist_status=$?

# Every other libmemcached distribution x key hash x weights, through the Rust layer
# (Distribution::Libmemcached, which the OMcache C API cannot select).
echo "compat-tests/run-dist.sh: libmemcached distributions x hashes x weights"
BUILDDIR="$BUILDDIR" CC="$CC" KEYS="$KEYS" "$here/run-dist.sh"
dist_status=$?
[ "$failed" -eq 0 ] || exit 1
[ "$badlist_status" -eq 0 ] || exit "$badlist_status"
exit $dist_status

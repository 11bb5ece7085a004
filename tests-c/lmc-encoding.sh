#!/usr/bin/env bash
# lmc-encoding.sh - memcached_set_encoding_key interop: tests-c/lmc_encoding.c built against
# Debian's libmemcached headers, on a throwaway memcached server. Values written with the key
# by Debian's libmemcached.so.11 are read back by ours and the other way round (both
# transcripts, raw ciphertext included, must be the same); then the edge cases (append/prepend,
# values that do not decrypt, empty values, mget, binary protocol) on each library, compared
# (pointers and source locations in error texts compared as fields).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-encoding: $lib/libmemcached.so.11 missing (make)"; exit 2; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
cc -O1 -g -Wall -Wextra -Werror -o "$tmp/enc" "$root/tests-c/lmc_encoding.c" -lmemcached \
    || { echo "lmc-encoding: lmc_encoding.c does not compile (libmemcached-dev?)"; exit 2; }
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$1" || { echo "lmc-encoding: memcached on $1 did not start"; exit 2; }; }
p1=$(free_port); p2=$(free_port)
start "$p1"; start "$p2"
real() { LD_BIND_NOW=1 "$tmp/enc" "$@" 2>&1; }
ours() { LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 "$tmp/enc" "$@" 2>&1; }
norm() { sed -E 's/\(0x[0-9a-f]+\)/(PTR)/g; s/ -> [^ ]+$/ -> LOC/'; }
fail=0
check() { # name file-a file-b
    if diff -u "$2" "$3" > "$tmp/diff.txt"; then
        echo "PASS  lmc_encoding $1: $(wc -l < "$2") lines the same"
    else
        echo "FAIL  lmc_encoding $1:"; head -40 "$tmp/diff.txt"; fail=1
    fi
}
# Server 1: the real library writes, ours reads; server 2: ours writes, the real one reads.
real "$p1" write > "$tmp/w-real.txt"; ours "$p1" read > "$tmp/r-ours.txt"
ours "$p2" write > "$tmp/w-ours.txt"; real "$p2" read > "$tmp/r-real.txt"
check "writes" "$tmp/w-real.txt" "$tmp/w-ours.txt"
check "real-written read by ours vs ours-written read by real" "$tmp/r-ours.txt" "$tmp/r-real.txt"
grep -q "txt get enc:0:3 rc=0 len=33 flags=3 'a value of thirty-three bytes ...'" "$tmp/r-ours.txt" \
    || { echo "FAIL  lmc_encoding: ours did not decrypt the real library's value"; fail=1; }
real "$p1" all | norm > "$tmp/a-real.txt"
ours "$p2" all | norm > "$tmp/a-ours.txt"
check "edge cases" "$tmp/a-real.txt" "$tmp/a-ours.txt"
exit $fail

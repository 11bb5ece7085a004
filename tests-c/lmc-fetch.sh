#!/usr/bin/env bash
# lmc-fetch.sh - tests-c/lmc_fetch.c (libmemcached's retrieval family: mget, fetch,
# fetch_result into stack / library / pylibmc-style array results, fetch_execute,
# mget_execute, CAS, get_by_key, result accessors, clone, quit; text and binary) built
# against Debian's libmemcached headers and run twice against one throwaway memcached: with
# Debian's libmemcached.so.11 and with ours (LD_LIBRARY_PATH, LD_BIND_NOW=1). The transcripts
# must be identical, but for the fetch after a get in its middle (see below). Then ours once
# more under valgrind (no errors, nothing lost, the same transcript as ours), unless
# NO_VALGRIND is set or valgrind is missing.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-fetch: $lib/libmemcached.so.11 missing (make)"; exit 1; }
[ -e /usr/include/libmemcached/memcached.h ] || { echo "lmc-fetch: libmemcached-dev is not installed"; exit 1; }
tmp=$(mktemp -d); pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
${CC:-cc} -O1 -g -Wall -Wno-deprecated-declarations -o "$tmp/lmc_fetch" "$root/tests-c/lmc_fetch.c" -lmemcached \
    || { echo "lmc-fetch: compile failed"; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
args=(-l 127.0.0.1 -p "$port" -U 0 -t 1 -m 64)
[ "$(id -u)" = 0 ] && args+=(-u nobody)
memcached "${args[@]}" & pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
fail=0
LD_BIND_NOW=1 timeout 120 "$tmp/lmc_fetch" "$port" > "$tmp/real.txt" 2>&1; rc_real=$?
LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 timeout 120 "$tmp/lmc_fetch" "$port" > "$tmp/ours.txt" 2>&1; rc_ours=$?
n=$(wc -l < "$tmp/real.txt")
# A get in the middle of a fetch ("mid"): 1.1.4 ends the fetch there and loses the rest of its
# answers; ours hands out the rest after the get (README, "libmemcached"). Those "mid fetch"
# lines are compared apart: the real library's must be the fetch's end at once, ours must be
# the full fetch of the same keys ("fetch fetch" lines) without the key fetched before the get.
strip() { sed -E "s/^$1 [0-9]+: //"; }
grep -v '^mid fetch ' "$tmp/real.txt" > "$tmp/real.cmp"
grep -v '^mid fetch ' "$tmp/ours.txt" > "$tmp/ours.cmp"
if [ "$rc_real" = 0 ] && [ "$rc_ours" = 0 ] && diff -u "$tmp/real.cmp" "$tmp/ours.cmp" > "$tmp/diff.txt"; then
    echo "PASS  lmc_fetch: $n lines, same output (real and ours) but for the fetch after a get in its middle"
else
    echo "FAIL  lmc_fetch: exit real $rc_real, ours $rc_ours"; head -60 "$tmp/diff.txt"; fail=1
fi
grep '^mid fetch ' "$tmp/real.txt" | strip 'mid fetch' > "$tmp/real.mid"
grep '^fetch fetch ' "$tmp/real.txt" | grep -v "key='alpha'" | strip 'fetch fetch' > "$tmp/want.mid"
grep '^mid fetch ' "$tmp/ours.txt" | strip 'mid fetch' > "$tmp/ours.mid"
if ! grep -qv '^SERVER END ' "$tmp/real.mid" && [ -s "$tmp/real.mid" ]; then
    echo "PASS  lmc_fetch: a get in the middle of a fetch ends it on the real library ($(wc -l < "$tmp/real.mid") fetches lost their rest)"
else
    echo "FAIL  lmc_fetch: the real library's fetch after a get in its middle is not its end"; cat "$tmp/real.mid"; fail=1
fi
if [ -s "$tmp/want.mid" ] && diff -u "$tmp/want.mid" "$tmp/ours.mid" > "$tmp/diff.mid"; then
    echo "PASS  lmc_fetch: ours hands out the rest of the fetch after a get in its middle ($(grep -c '^SUCCESS' "$tmp/ours.mid") results)"
else
    echo "FAIL  lmc_fetch: ours after a get in the middle of a fetch"; cat "$tmp/diff.mid"; fail=1
fi
if [ -z "${NO_VALGRIND:-}" ] && command -v valgrind >/dev/null; then
    LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 timeout 600 valgrind -q --leak-check=full \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
        "$tmp/lmc_fetch" "$port" > "$tmp/vg.txt" 2> "$tmp/vg.err"; rc_vg=$?
    if [ "$rc_vg" = 0 ] && diff -q "$tmp/ours.txt" "$tmp/vg.txt" >/dev/null; then
        echo "PASS  lmc_fetch under valgrind: no errors, nothing lost, same output"
    else
        echo "FAIL  lmc_fetch under valgrind (exit $rc_vg)"; head -60 "$tmp/vg.err"; fail=1
    fi
fi
exit $fail

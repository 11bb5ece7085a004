#!/usr/bin/env bash
# lmc-hashkit.sh - tests-c/lmc-hashkit.c built against Debian's libhashkit / libmemcached
# headers and run twice: with Debian's libhashkit.so.2 + libmemcached.so.11 and with ours
# (LD_LIBRARY_PATH=build/libmemcached, LD_BIND_NOW=1). Two transcripts must be the same:
#   vectors  every algorithm over 10,000 keys by three paths (libhashkit_digest, the named
#            functions, a hashkit_st) and libhashkit_md5_signature: differences are counted
#   api      all 33 libhashkit functions and memcached_get/set_hashkit (custom key hashes:
#            which of three live servers each key lands on), on three throwaway memcached
# VALGRIND=1 also runs ours under valgrind (no errors, no definite leaks).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libhashkit.so.2" ] || { echo "lmc-hashkit: $lib/libhashkit.so.2 missing (make)"; exit 2; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
cc -O1 -g -Wall -Wextra -Werror -o "$tmp/lmc-hashkit" "$root/tests-c/lmc-hashkit.c" \
    -lmemcached -lhashkit \
    || { echo "lmc-hashkit: lmc-hashkit.c does not compile (libmemcached-dev?)"; exit 2; }
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
p1=$(free_port); p2=$(free_port); p3=$(free_port)
for p in $p1 $p2 $p3; do
    start_memcached "$p" || { echo "lmc-hashkit: memcached on $p did not start"; exit 2; }
done
ours() { LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 "$@"; }
fail=0

LD_BIND_NOW=1 "$tmp/lmc-hashkit" vectors > "$tmp/vreal.txt"
ours "$tmp/lmc-hashkit" vectors > "$tmp/vours.txt"
n=$(wc -l < "$tmp/vreal.txt")
differ=$(diff "$tmp/vreal.txt" "$tmp/vours.txt" | grep -c '^>')
if [ "$n" -gt 0 ] && [ "$differ" = 0 ]; then
    echo "PASS  hash vectors: $n values (10,000 keys x 13 digest + 11 named + 12 kit + md5_signature), 0 differences"
else
    echo "FAIL  hash vectors: $differ of $n values differ"; diff "$tmp/vreal.txt" "$tmp/vours.txt" | head -20; fail=1
fi

# Flush between runs: both runs store the same keys.
flush() { for p in $p1 $p2 $p3; do printf 'flush_all\r\nquit\r\n' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p; cat >&3; cat <&3" >/dev/null 2>&1; done; }
flush
LD_BIND_NOW=1 "$tmp/lmc-hashkit" api "$p1" "$p2" "$p3" > "$tmp/real.txt" 2>&1
flush
ours "$tmp/lmc-hashkit" api "$p1" "$p2" "$p3" > "$tmp/ours.txt" 2>&1
n=$(wc -l < "$tmp/real.txt")
if diff -u "$tmp/real.txt" "$tmp/ours.txt" > "$tmp/diff.txt"; then
    echo "PASS  hashkit api: $n lines, same transcript on the real libraries and on ours"
else
    echo "FAIL  hashkit api:"; head -60 "$tmp/diff.txt"; fail=1
fi
# Every one of the 33 + 2 functions is called by the program.
missing=""
for f in $(cat "$root/../shared/spec/libmemcached/exports-libhashkit.txt" 2>/dev/null) \
        memcached_get_hashkit memcached_set_hashkit; do
    grep -q "\b$f\b" "$root/tests-c/lmc-hashkit.c" || missing="$missing $f"
done
if [ -z "$missing" ]; then echo "PASS  every libhashkit function and memcached_get/set_hashkit is called"
else echo "FAIL  not called:$missing"; fail=1; fi

if [ "${VALGRIND:-0}" = 1 ]; then
    flush
    if ours valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$tmp/lmc-hashkit" api "$p1" "$p2" "$p3" > /dev/null 2> "$tmp/vg.txt"; then
        echo "PASS  hashkit api under valgrind: no errors, no definite leaks"
    else
        echo "FAIL  hashkit api under valgrind:"; head -40 "$tmp/vg.txt"; fail=1
    fi
fi
exit $fail

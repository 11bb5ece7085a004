#!/usr/bin/env bash
# lmc-util.sh - tests-c/lmc-util.c (all 15 libmemcachedutil functions: ping/getpid/flush
# against a live and a dead server, version checks, pool semantics with timings as ranges,
# 8 threads through one pool) built against Debian's headers and run three times on a
# throwaway memcached: with Debian's libmemcachedutil.so.2 + libmemcached.so.11, with our
# whole family (LD_LIBRARY_PATH=build/libmemcached, LD_BIND_NOW=1), and with Debian's
# libmemcachedutil over our libmemcached.so.11 (it reads memcached_st fields directly).
# The transcripts must be the same. Then Debian's memcping (libmemcachedutil's ping) against
# a live and a dead server, with Debian's libraries and with ours: same output and exit code.
# VALGRIND=1 also runs ours under valgrind (no errors, no definite leaks).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcachedutil.so.2" ] || { echo "lmc-util: $lib/libmemcachedutil.so.2 missing (make)"; exit 2; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
cc -O1 -g -Wall -Wextra -Werror -pthread -o "$tmp/lmc-util" "$root/tests-c/lmc-util.c" \
    -lmemcachedutil -lmemcached \
    || { echo "lmc-util: lmc-util.c does not compile (libmemcached-dev?)"; exit 2; }
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
live=$(free_port); dead=$(free_port)
start_memcached "$live" || { echo "lmc-util: memcached on $live did not start"; exit 2; }
live_pid=$last_pid
# Debian's libmemcachedutil over our libmemcached.so.11 (+ libhashkit.so.2): a directory
# without our libmemcachedutil.
mkdir "$tmp/core"
ln -s "$lib/libmemcached.so.11" "$lib/libhashkit.so.2" "$tmp/core/"
fail=0

run() { # label, library directory or "" for Debian's
    local out=$tmp/$1.txt
    if [ -n "$2" ]; then
        LD_LIBRARY_PATH=$2 LD_BIND_NOW=1 "$tmp/lmc-util" "$live" "$live_pid" "$dead" > "$out" 2>&1
    else
        LD_BIND_NOW=1 "$tmp/lmc-util" "$live" "$live_pid" "$dead" > "$out" 2>&1
    fi
    echo "exit $?" >> "$out"
}
run real ""
run ours "$lib"
run debutil "$tmp/core"
n=$(wc -l < "$tmp/real.txt")
for v in ours debutil; do
    what="our libmemcachedutil + libmemcached"
    [ $v = debutil ] && what="Debian's libmemcachedutil over our libmemcached"
    if diff -u "$tmp/real.txt" "$tmp/$v.txt" > "$tmp/diff.txt"; then
        echo "PASS  lmc-util ($what): $n lines, same transcript as Debian's"
    else
        echo "FAIL  lmc-util ($what):"; head -60 "$tmp/diff.txt"; fail=1
    fi
done
grep -E 'threads x|ping (live|dead):' "$tmp/ours.txt" | sed 's/^/      /'
# Which library each run loaded (the substitution really happened).
for v in "" "$lib" "$tmp/core"; do
    LD_LIBRARY_PATH=$v LD_TRACE_LOADED_OBJECTS=1 "$tmp/lmc-util" | grep -E 'libmemcached(util)?\.so|libhashkit' \
        | awk '{print $1 " => " $3}' | tr '\n' ' '; echo
done | sed 's/^/      loads: /'

missing=""
for f in $(cat "$root/../shared/spec/libmemcached/exports-libmemcachedutil.txt" 2>/dev/null); do
    grep -q "\b$f\b" "$root/tests-c/lmc-util.c" || missing="$missing $f"
done
if [ -z "$missing" ]; then echo "PASS  every libmemcachedutil function is called"
else echo "FAIL  not called:$missing"; fail=1; fi

# memcping (libmemcached-tools) uses libmemcachedutil's ping.
if command -v memcping > /dev/null; then
    for target in LIVE DEAD BOTH; do
        case $target in
            LIVE) servers=127.0.0.1:$live ;;
            DEAD) servers=127.0.0.1:$dead ;;
            BOTH) servers=127.0.0.1:$live,127.0.0.1:$dead ;;
        esac
        for flags in "" "--verbose" "--quiet"; do
            # shellcheck disable=SC2086
            memcping --servers=$servers $flags > "$tmp/mp-real.txt" 2>&1; r1=$?
            # shellcheck disable=SC2086
            LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 memcping --servers=$servers $flags > "$tmp/mp-ours.txt" 2>&1; r2=$?
            sed -i "s/$live/LIVE/g; s/$dead/DEAD/g" "$tmp/mp-real.txt" "$tmp/mp-ours.txt"
            name="memcping $target $flags"
            if [ $r1 = $r2 ] && diff -q "$tmp/mp-real.txt" "$tmp/mp-ours.txt" > /dev/null; then
                echo "PASS  $name: exit $r1, same output: $(tr '\n' ' ' < "$tmp/mp-real.txt")"
            else
                echo "FAIL  $name: exit $r1 vs $r2"; diff "$tmp/mp-real.txt" "$tmp/mp-ours.txt" | head; fail=1
            fi
        done
    done
else
    echo "SKIP  memcping not installed (apt-get install libmemcached-tools)"
fi

if [ "${VALGRIND:-0}" = 1 ]; then
    if LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$tmp/lmc-util" "$live" "$live_pid" "$dead" > /dev/null 2> "$tmp/vg.txt"; then
        echo "PASS  lmc-util under valgrind: no errors, no definite leaks"
    else
        echo "FAIL  lmc-util under valgrind:"; head -40 "$tmp/vg.txt"; fail=1
    fi
fi
exit $fail

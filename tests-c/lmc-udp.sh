#!/usr/bin/env bash
# lmc-udp.sh - tests-c/lmc_udp.c (UDP as libmemcached 1.1.4 does it: USE_UDP=1, then the
# normal server_add; writes as one noreply datagram each, reads NOT_SUPPORTED) built against
# Debian's libmemcached headers and run twice on two throwaway memcached servers listening on
# TCP and UDP (-p PORT -U PORT): with Debian's libmemcached.so.11 and with ours
# (LD_LIBRARY_PATH=build/libmemcached, LD_BIND_NOW=1). The transcripts (return codes, then what
# reached each server, read back over TCP) must be the same. VALGRIND=1 also runs ours under
# valgrind (no errors, no definite leaks).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-udp: $lib/libmemcached.so.11 missing (make)"; exit 2; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
cc -O1 -g -Wall -Wextra -Werror -o "$tmp/lmc_udp" "$root/tests-c/lmc_udp.c" -lmemcached \
    || { echo "lmc-udp: lmc_udp.c does not compile (libmemcached-dev?)"; exit 2; }
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$@" || { echo "lmc-udp: memcached on $1 did not start"; exit 2; }; }
p1=$(free_port); p2=$(free_port)
# The first server also on ::1 when the host has IPv6 loopback (the same answer for both runs).
v6=()
if python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
    v6=(ipv6)
    start "$p1" -U "$p1" -l ::1
else
    echo "lmc-udp: no IPv6 loopback, the ::1 case is left out"
    start "$p1" -U "$p1"
fi
start "$p2" -U "$p2"
# A unix-socket server (a directory memcached may write in when it runs as nobody).
chmod 755 "$tmp"; mkdir -m 777 "$tmp/unix"
sock_args=(-s "$tmp/unix/mc.sock" -U 0 -t 1)
[ "$(id -u)" = 0 ] && sock_args+=(-u nobody)
memcached "${sock_args[@]}" >/dev/null 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do [ -S "$tmp/unix/mc.sock" ] && break; sleep 0.05; done
[ -S "$tmp/unix/mc.sock" ] || { echo "lmc-udp: memcached on $tmp/unix/mc.sock did not start"; exit 2; }
export LMC_UDP_UNIX=$tmp/unix/mc.sock
# Error texts name the handle's address and a source location: compared as fields.
norm() { sed -E 's/\(0x[0-9a-f]+\)/(PTR)/g; s/ -> [^ ]+$/ -> (LOCATION)/'; }
LD_BIND_NOW=1 "$tmp/lmc_udp" "$p1" "$p2" "${v6[@]}" 2>&1 | norm > "$tmp/real.txt"
LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 "$tmp/lmc_udp" "$p1" "$p2" "${v6[@]}" 2>&1 | norm > "$tmp/ours.txt"
n=$(wc -l < "$tmp/real.txt")
fail=0
if [ -n "${LMC_UDP_SHOW:-}" ]; then cat "$tmp/real.txt"; fi
if diff -u "$tmp/real.txt" "$tmp/ours.txt" > "$tmp/diff.txt"; then
    echo "PASS  lmc_udp: $n lines, same transcript on the real library and on ours"
else
    echo "FAIL  lmc_udp:"; head -80 "$tmp/diff.txt"; fail=1
fi
if [ "${VALGRIND:-0}" = 1 ]; then
    if LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$tmp/lmc_udp" "$p1" "$p2" "${v6[@]}" > /dev/null 2> "$tmp/vg.txt"; then
        echo "PASS  lmc_udp under valgrind: no errors, no definite leaks"
    else
        echo "FAIL  lmc_udp under valgrind:"; head -40 "$tmp/vg.txt"; fail=1
    fi
fi
exit $fail

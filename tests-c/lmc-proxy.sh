#!/usr/bin/env bash
# lmc-proxy.sh - tests-c/lmc_proxy.c, built against Debian's libmemcached headers, run behind a
# nutcracker (twemproxy) in front of two throwaway memcached servers, once with Debian's
# libmemcached.so.11 and once with ours (LD_LIBRARY_PATH=build/libmemcached, LD_BIND_NOW=1).
# The program freezes one backend (SIGSTOP) and checks that a get of a key there fails within
# the 300 ms poll timeout while the keys of the other backend keep working through the same
# handle (see lmc_proxy.c). Both libraries must pass every step.
#
# Everything listens on 127.0.0.1 and free ports; everything started here is stopped at exit.
# Skipped (exit 0) when /usr/sbin/nutcracker is not installed (Debian package nutcracker).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
servers_sh=$root/scripts/memcached-servers.sh
nutcracker=/usr/sbin/nutcracker

[ -x "$nutcracker" ] || { echo "lmc-proxy: skipped: nutcracker not installed"; exit 0; }
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-proxy: $lib/libmemcached.so.11 missing (make)"; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-lmc-proxy.XXXXXX")
proxy_pid="" p1_pid=""
cleanup() {
    # lmc_proxy resumes the backend itself, but not if it crashed or was killed by timeout:
    # a stopped memcached would only act on SIGTERM after a SIGCONT.
    [ -n "$p1_pid" ] && kill -CONT "$p1_pid" 2>/dev/null
    if [ -n "$proxy_pid" ]; then
        kill "$proxy_pid" 2>/dev/null
        wait "$proxy_pid" 2>/dev/null
    fi
    "$servers_sh" stop "$tmp/servers"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# shellcheck disable=SC2046
cc -std=c99 -O1 -g -Wall -Wextra -Werror $(pkg-config --cflags libmemcached) \
    -o "$tmp/lmc_proxy" "$root/tests-c/lmc_proxy.c" $(pkg-config --libs libmemcached) \
    || { echo "lmc-proxy: lmc_proxy.c does not compile (libmemcached-dev?)"; exit 2; }

# ldd's output is captured first: with `ldd | grep -q`, grep may stop reading early.
loaded=$(LD_LIBRARY_PATH=$lib ldd "$tmp/lmc_proxy")
grep -q "libmemcached.so.11 => $lib/libmemcached.so.11" <<<"$loaded" || {
    echo "lmc-proxy: with LD_LIBRARY_PATH=$lib the program does not load ours:"
    grep memcached <<<"$loaded"; exit 2; }
loaded=$(ldd "$tmp/lmc_proxy")
grep -q "libmemcached.so.11 => $lib/" <<<"$loaded" && {
    echo "lmc-proxy: without LD_LIBRARY_PATH the program loads ours, not Debian's"; exit 2; }

servers=$("$servers_sh" start "$tmp/servers" 2) || { echo "lmc-proxy: cannot start memcached"; exit 2; }
p1=${servers%%,*}; p1=${p1##*:}
p2=${servers##*,}; p2=${p2##*:}
# DIR/pids also lists launches that lost their port to someone else (already gone), so the
# pid is not found by line number: take the live memcached whose command line has "-p P1".
for pid in $(cat "$tmp/servers/pids"); do
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- " -p $p1 "; then
        p1_pid=$pid; break
    fi
done
[ -n "$p1_pid" ] || { echo "lmc-proxy: cannot find the pid of the memcached on port $p1"; exit 2; }

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The proxy: ketama over both backends, no ejection (a frozen backend must stay in the ring),
# and a 3000 ms backend timeout, ten times the client's poll timeout. md5, not fnv1a_64:
# nutcracker's ketama with fnv1a_64 sends short keys like ours all to one server
# (twitter/twemproxy issue #32; here all 20 went to P1), which leaves no live key to test. Its stats listener goes
# on 127.0.0.1 too (nutcracker's default is 0.0.0.0:22222). A port taken between free_port and
# nutcracker's bind makes it exit: try again with new ports.
for attempt in 1 2 3 4 5; do
    port=$(free_port); stats=$(free_port)
    cat > "$tmp/nutcracker.yml" <<EOF
pool:
  listen: 127.0.0.1:$port
  hash: md5
  distribution: ketama
  auto_eject_hosts: false
  timeout: 3000
  servers:
    - 127.0.0.1:$p1:1
    - 127.0.0.1:$p2:1
EOF
    "$nutcracker" -c "$tmp/nutcracker.yml" -a 127.0.0.1 -s "$stats" -o "$tmp/nutcracker.log" \
        </dev/null >/dev/null 2>&1 &
    proxy_pid=$!
    for _ in $(seq 100); do        # up to 5 s
        accepts "$port" && break
        kill -0 "$proxy_pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$proxy_pid" 2>/dev/null && accepts "$port" && break
    kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; proxy_pid=""
done
if [ -z "$proxy_pid" ]; then
    echo "lmc-proxy: nutcracker did not start; its log:"; sed 's/^/    /' "$tmp/nutcracker.log"; exit 2
fi
echo "lmc-proxy: nutcracker on 127.0.0.1:$port in front of 127.0.0.1:$p1 (pid $p1_pid, to be frozen) and 127.0.0.1:$p2"

fail=0
# run NAME [env...]: one run of lmc_proxy; its lines indented, then one verdict.
run() {
    local name=$1; shift
    echo "--- $name"
    env "$@" timeout 60 "$tmp/lmc_proxy" "$port" "$p1" "$p2" "$p1_pid" > "$tmp/out.txt" 2>&1
    local rc=$?
    kill -CONT "$p1_pid" 2>/dev/null     # in case the program did not get to resume it
    sed 's/^/    /' "$tmp/out.txt"
    if [ $rc -eq 0 ]; then
        echo "PASS  lmc_proxy with $name"
    else
        echo "FAIL  lmc_proxy with $name (exit $rc)"; fail=1
    fi
}
run "Debian's libmemcached" LD_BIND_NOW=1
run "ours ($lib)" LD_LIBRARY_PATH="$lib" LD_BIND_NOW=1
exit $fail

#!/usr/bin/env bash
# run-pgmemcache.sh - PostgreSQL 15 + Debian's pgmemcache (postgresql-15-pgmemcache, unchanged) on
# Debian's libmemcached.so.11 and on ours. A throwaway cluster (initdb as the postgres user in a
# temp dir, unix socket only, no TCP listener) preloads pgmemcache, whose _PG_init creates the
# libmemcached handle in the postmaster, installs palloc-based allocators, turns the binary
# protocol on and pushes pgmemcache.default_servers - all before the backends fork. The cluster is
# started twice: by the real library, then with LD_LIBRARY_PATH pointing at ours (LD_BIND_NOW=1).
# Each time compat-tests/pgmemcache_scenario.sql runs in two sessions: binary protocol (the
# default) and text (SET through pgmemcache.default_behavior 'BINARY_PROTOCOL:0'), then 60 keys
# are set under five distributions/hashes given through pgmemcache.default_behavior and read
# back server by server. psql's output, warnings included, and the placement must be the same on
# both libraries; memcache_stats() is compared by field names. A backend crash or a server log line about one fails the run.
# SKIP (exit 0) without PostgreSQL 15, pgmemcache or memcached. Exit 1 on a difference.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
pgbin=/usr/lib/postgresql/15/bin
skip() { echo "SKIP  run-pgmemcache: $*"; exit 0; }
[ -x "$pgbin/postgres" ] || skip "postgresql-15 is not installed"
[ -e /usr/lib/postgresql/15/lib/pgmemcache.so ] || skip "postgresql-15-pgmemcache is not installed"
command -v memcached >/dev/null || skip "memcached is not installed"
[ -e "$lib/libmemcached.so.11" ] || { echo "run-pgmemcache: $lib/libmemcached.so.11 missing (make)"; exit 1; }
missing=$(comm -23 <(nm -D --undefined-only /usr/lib/postgresql/15/lib/pgmemcache.so | awk '$2 ~ /^memcached|^libmemcached/ {print $2}' | sort -u) \
                   <(nm -D --defined-only "$lib/libmemcached.so.11" | awk '{print $3}' | sort -u))
[ -z "$missing" ] || { echo "FAIL  pgmemcache: imports missing from our libmemcached.so.11: $(echo $missing)"; exit 1; }

# initdb and postgres refuse to run as root: everything PostgreSQL runs as the postgres user.
if [ "$(id -u)" = 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
tmp=$(mktemp -d); pids=""; pgdata=$tmp/pgdata; sock=$tmp/sock; logs=$tmp/logs
chmod 755 "$tmp"; mkdir "$sock" "$pgdata" "$logs"; [ "$(id -u)" = 0 ] && chown postgres "$sock" "$pgdata" "$logs"
stop_pg() { [ -e "$pgdata/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1; }
trap 'stop_pg; for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$1" || { echo "run-pgmemcache: memcached on $1 did not start"; exit 1; }; }
fail=0

as_pg "$pgbin/initdb" -D "$pgdata" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 \
    || { echo "run-pgmemcache: initdb failed:"; tail -5 "$tmp/initdb.log"; exit 1; }
pgport=$(free_port); p0=$(free_port); p1=$(free_port); p2=$(free_port); dead=$(free_port)
cat >> "$pgdata/postgresql.conf" <<EOF
listen_addresses = ''
port = $pgport
unix_socket_directories = '$sock'
fsync = off
shared_preload_libraries = 'pgmemcache'
pgmemcache.default_servers = '127.0.0.1:$p0'
pgmemcache.default_behavior = 'TCP_NODELAY:1,RETRY_TIMEOUT:30'
log_min_messages = warning
EOF

# keys_on PORT: which of place1..place60 a server holds (a get per key, no libmemcached).
keys_on() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
held = []
for i in range(1, 61):
    s.sendall(b"get place%d\r\n" % i)
    buf = b""
    while not buf.endswith(b"END\r\n"):
        buf += s.recv(65536)
    if buf.startswith(b"VALUE "):
        held.append("place%d" % i)
print(" ".join(held))
PY
}

# postmaster_sockets PID: how many of the process's descriptors are TCP connections to one of
# the memcached servers (inodes from /proc/net/tcp, no ss needed).
postmaster_sockets() {
    local pid=$1 port inode n=0
    for port in $p0 $p1 $p2; do
        for inode in $(awk -v p=":$(printf '%04X' "$port")" '$3 ~ p"$" {print $10}' /proc/net/tcp); do
            ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$inode\]" && n=$((n + 1))
        done
    done
    echo $n
}

# run_library NAME [ENV…]: fresh memcached servers, the cluster started with ENV, the scenario in
# both protocols; output in $tmp/NAME.txt, server log in $tmp/NAME.log.
run_library() {
    local name=$1 pid; shift
    for port in $p0 $p1 $p2; do start "$port"; done
    as_pg env "$@" "$pgbin/pg_ctl" -D "$pgdata" -l "$logs/$name.log" -w -t 20 start >/dev/null 2>&1 \
        || { echo "FAIL  pgmemcache ($name): the cluster did not start:"; tail -5 "$logs/$name.log"; fail=1; return; }
    psql_run() { timeout 60 psql -X -q -h "$sock" -p "$pgport" -U postgres -d postgres -v p1="$p1" -v p2="$p2" -v dead="$dead" "$@" 2>&1; }
    psql_run -c 'SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pgmemcache' > "$tmp/$name.txt"
    # which libmemcached.so.11 the postmaster (and so every backend) really mapped
    pid=$(head -1 "$pgdata/postmaster.pid")
    grep -o '/[^ ]*libmemcached\.so\.11[^ ]*' "/proc/$pid/maps" | sort -u > "$tmp/$name.maps"
    # The handle was made and given its default server in the postmaster, before any fork:
    # nothing may have started a thread there or opened a socket to memcached.
    { echo "threads $(awk '/^Threads:/ {print $2}' "/proc/$pid/status")"
      echo "sockets to memcached $(postmaster_sockets "$pid")"
    } > "$tmp/$name.postmaster"
    { echo "== binary protocol (pgmemcache's default)"
      psql_run -v binary=1 -f "$root/compat-tests/pgmemcache_scenario.sql"
      echo "== text protocol (pgmemcache.default_behavior = 'BINARY_PROTOCOL:0')"
      PGOPTIONS='-c pgmemcache.default_behavior=BINARY_PROTOCOL:0' psql_run -v binary=0 -f "$root/compat-tests/pgmemcache_scenario.sql"
      echo "== a session after the others (the postmaster's handle, forked again)"
      psql_run -c "SELECT memcache_set('last', 'ok') AS set_last, memcache_get('last') AS get_last"
    } >> "$tmp/$name.txt"
    PGOPTIONS='-c pgmemcache.default_behavior=BINARY_PROTOCOL:0' psql_run \
        -c "SELECT memcache_server_add('127.0.0.1:$p1')" -c "SELECT memcache_set('key with space', 'v')" \
        -c "SELECT memcache_get('key with space')" -c "SELECT memcache_set('next', 'v') AS set_next" > "$tmp/$name.space.txt"
    # Where the keys land under pgmemcache.default_behavior's distributions and hashes, read
    # from the servers themselves.
    for behavior in '' KETAMA:1 DISTRIBUTION:CONSISTENT,HASH:MD5 HASH:CRC DISTRIBUTION:CONSISTENT_KETAMA,KETAMA_HASH:FNV1A_32; do
        echo "== placement, pgmemcache.default_behavior='$behavior'"
        PGOPTIONS=${behavior:+-c pgmemcache.default_behavior=$behavior} psql_run -t \
            -c "SELECT memcache_server_add('127.0.0.1:$p1'), memcache_server_add('127.0.0.1:$p2'), memcache_flush_all()" \
            -c "SELECT bool_and(memcache_set('place' || i, 'v')) FROM generate_series(1, 60) i"
        for port in $p0 $p1 $p2; do echo "server $((port == p0 ? 0 : port == p1 ? 1 : 2)): $(keys_on "$port")"; done
    done >> "$tmp/$name.txt"
    stop_pg
    for pid in $pids; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done; pids=""
    # postgres re-labels psql's file name in messages: keep the diff independent of the checkout
    sed -i "s|$root/compat-tests/||g" "$tmp/$name.txt"
}
run_library real LD_BIND_NOW=1
# The postgres user may not reach the checkout (a clone under /root): the postmaster gets a
# copy of our library from the temp dir.
mkdir "$tmp/lib"; cp "$lib/libmemcached.so.11" "$tmp/lib/"; lib=$tmp/lib
run_library ours LD_LIBRARY_PATH="$lib" LD_BIND_NOW=1

if grep -qx "$lib/libmemcached.so.11" "$tmp/ours.maps" && ! grep -qx "$lib/libmemcached.so.11" "$tmp/real.maps"; then
    echo "PASS  the postmaster mapped Debian's libmemcached.so.11 in the first run and ours in the second"
else
    echo "FAIL  libmemcached.so.11 mapped by the postmaster: real run $(cat "$tmp/real.maps"), ours $(cat "$tmp/ours.maps")"; fail=1
fi
if [ "$(cat "$tmp/ours.postmaster")" = "$(printf 'threads 1\nsockets to memcached 0')" ]; then
    echo "PASS  the postmaster on ours (handle made and server pushed by _PG_init): 1 thread, no socket before fork"
else
    echo "FAIL  the postmaster on ours should have 1 thread and no socket: $(tr '\n' ' ' < "$tmp/ours.postmaster")"; fail=1
fi
for name in real ours; do
    if grep -qE 'terminated by signal|server process .* was terminated|PANIC|TRAP:' "$logs/$name.log"; then
        echo "FAIL  pgmemcache ($name): a backend crashed:"; grep -E 'terminated|PANIC|TRAP' "$logs/$name.log" | head -5; fail=1
    fi
done
# The documented divergence: a key with a space over text. Ours must refuse it and stay in sync.
echo "INFO  text protocol, key with a space, Debian's libmemcached: $(grep -o 'memcached_[a-z]*: .*' "$tmp/real.space.txt" | paste -sd';')"
echo "INFO  text protocol, key with a space, ours:                  $(grep -o 'memcached_[a-z]*: .*' "$tmp/ours.space.txt" | paste -sd';')"
if [ "$(grep -c 'A BAD KEY WAS PROVIDED' "$tmp/ours.space.txt")" = 2 ] && grep -A2 set_next "$tmp/ours.space.txt" | grep -q '^ t'; then
    echo "PASS  text protocol, key with a space: ours refuses it (BAD_KEY_PROVIDED) and the next set succeeds"
else
    echo "FAIL  text protocol, key with a space: ours should refuse it and stay usable:"; cat "$tmp/ours.space.txt"; fail=1
fi
n=$(grep -c . "$tmp/real.txt")
if ! grep -q 'get_last' "$tmp/real.txt"; then
    echo "FAIL  pgmemcache scenario did not finish on Debian's libmemcached:"; tail -5 "$tmp/real.txt"; fail=1
elif diff -u "$tmp/real.txt" "$tmp/ours.txt" > "$tmp/diff.txt"; then
    echo "PASS  pgmemcache scenario: $n lines (psql in both protocols, 60 keys placed under 5 distributions), same on Debian's libmemcached and ours"
else
    echo "FAIL  pgmemcache scenario:"; head -80 "$tmp/diff.txt"; fail=1
fi
[ -n "${KEEP_OUTPUT:-}" ] && cp "$tmp"/real.txt "$tmp"/ours.txt "$logs"/*.log "$KEEP_OUTPUT"/
exit $fail

#!/usr/bin/env bash
# memcdump (Debian's, unchanged) with Debian's libmemcached and with ours substituted:
# 10,000 keys just written over 3 servers. Ours must list every one of them exactly once
# (lru_crawler metadump); the real library's stats-cachedump walk lists what it can (shown,
# not required). Keys with '%' and bytes >= 0x80 round-trip. A stopped server among the
# three: the other two are listed and the exit code says a server failed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "run-dump: $lib/libmemcached.so.11 missing (make)"; exit 1; }
command -v memcdump >/dev/null || { echo "run-dump: libmemcached-tools is not installed"; exit 1; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill -CONT $p 2>/dev/null; kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {
    local args=(-l 127.0.0.1 -p "$1" -U 0 -t 1)
    [ "$(id -u)" = 0 ] && args+=(-u nobody)
    memcached "${args[@]}" & pids="$pids $!"; echo $! > "$tmp/pid-$1"
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "run-dump: memcached on $1 did not start"; exit 1
}
ports=""; for _ in 1 2 3; do p=$(free_port); start "$p"; ports="$ports $p"; done
servers=$(for p in $ports; do printf '127.0.0.1:%s,' "$p"; done); servers=${servers%,}
# 10,000 keys spread over the servers by our own libmemcached (the same mapping as the real one).
python3 - "$tmp/keys" $ports <<'PY'
import socket, sys, zlib
out, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
keys = [b"dump-%05d" % i for i in range(9990)] + [b"pct%%25-%d" % i for i in range(5)] + \
       [b"hi-\xc3\xa9\xff-%d" % i for i in range(5)]
socks = [socket.create_connection(("127.0.0.1", p)) for p in ports]
for i, k in enumerate(keys):
    socks[zlib.crc32(k) % len(socks)].sendall(b"set " + k + b" 0 0 1 noreply\r\nv\r\n")
for s in socks:
    s.sendall(b"version\r\n"); s.recv(100); s.close()
with open(out, "wb") as f:
    f.write(b"".join(sorted(k + b"\n" for k in keys)))
PY
fail=0
real=$(memcdump --servers="$servers" 2>/dev/null | wc -l)
LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 memcdump --servers="$servers" > "$tmp/ours" 2>"$tmp/ours.err"; rc=$?
LC_ALL=C sort "$tmp/ours" > "$tmp/ours.sorted"
ours=$(wc -l < "$tmp/ours")
if cmp -s "$tmp/ours.sorted" <(LC_ALL=C sort "$tmp/keys") && [ $rc = 0 ]; then
    echo "PASS  memcdump lists all 10,000 keys with ours (exit 0); the real library lists $real"
else
    echo "FAIL  memcdump with ours: $ours lines, exit $rc ($(head -c 200 "$tmp/ours.err")); real: $real"
    fail=1
fi
stopped=$(echo $ports | awk '{print $2}'); kill -STOP "$(cat "$tmp/pid-$stopped")"
LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 timeout 120 memcdump --servers="$servers" > "$tmp/part" 2>"$tmp/part.err"; rc=$?
n=$(wc -l < "$tmp/part")
if [ $rc != 0 ] && [ "$n" -gt 0 ] && [ "$n" -lt 10000 ] && grep -q "$stopped" "$tmp/part.err"; then
    echo "PASS  a stopped server: the other two listed ($n keys), exit $rc: $(head -c 160 "$tmp/part.err")"
else
    echo "FAIL  a stopped server: $n keys, exit $rc: $(head -c 200 "$tmp/part.err")"; fail=1
fi
kill -CONT "$(cat "$tmp/pid-$stopped")"
[ $fail = 0 ] && echo "2 passed, 0 failed" || echo "some checks failed"
exit $fail

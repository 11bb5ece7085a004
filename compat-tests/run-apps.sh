#!/usr/bin/env bash
# run-apps.sh - Debian programs that link libmemcached, unchanged, on Debian's libmemcached.so.11
# and on ours (LD_LIBRARY_PATH, LD_BIND_NOW=1). One PASS/FAIL line per step:
#  1. gearmand (gearman-job-server, gearman-tools) with its libmemcached persistent queue:
#     12 background jobs (high, normal, low priority) submitted, the queue's keys, values and
#     flags read straight from memcached, gearmand restarted - it replays the queue through
#     memcached_dump + mget + fetch_execute - and a worker drains it (priority order kept), the
#     queue left empty. Run on each library, plus jobs queued by Debian's and replayed by ours,
#     plus ours under valgrind.
#  2. collectd's memcachec plugin (collectd-core): two regex matches on a key, read twice (the
#     key changed between reads), written by the csv plugin; the handle is made at init and used
#     from a read thread. The values and the plugin's log lines compared; one read on ours under
#     valgrind.
#  3. kamailio's memcached module (kamailio-memcached-modules): $mct get/set/delete, $mcinc and
#     $mcdec from an event route, with kamailio's own allocators (memory=1) and without. (An
#     integer $mct is read as a number: the module frees the value before its string form is
#     used, so printing it as a string shows freed memory, on any library.)
#  4. load-and-resolve: every libmemcached import of opendkim, opendkim-testkey/-genzone/
#     -atpszone, proftpd and its mod_memcache.so, gearmand, collectd's memcachec.so and
#     kamailio's memcached.so binds to ours (LD_DEBUG=bindings with LD_BIND_NOW=1; Debian's
#     libmemcached.so.11 never loaded).
# A program that is not installed is skipped (SKIP line). Exit 1 on any difference.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "run-apps: $lib/libmemcached.so.11 missing (make)"; exit 1; }
command -v memcached >/dev/null || { echo "SKIP  run-apps: memcached is not installed"; exit 0; }
tmp=$(mktemp -d); chmod 755 "$tmp"; pids=""; app_pid=""
stop_app() { [ -n "$app_pid" ] && { kill "$app_pid" 2>/dev/null; wait "$app_pid" 2>/dev/null; }; app_pid=""; }
stop_servers() { local p; for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; pids=""; }
trap 'stop_app; stop_servers; rm -rf "$tmp"' EXIT
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$@" || { echo "run-apps: memcached on $1 did not start"; exit 1; }; }
wrap=()
# vg_clean LABEL LOG…: valgrind found no error and lost nothing (besides ld.so's own dlopen
# bookkeeping, suppressed in the collectd run) in any of the logs.
vg_clean() {
    local label=$1 log bad=""; shift
    for log in "$@"; do
        grep -q 'ERROR SUMMARY: 0 errors' "$log" || bad="$bad ${log##*/}"
    done
    if [ $# -gt 0 ] && [ -z "$bad" ]; then
        echo "PASS  $label: 0 errors, nothing definitely or indirectly lost"
    else
        echo "FAIL  $label:${bad:- no valgrind log}"; fail=1
        for log in $bad; do grep -A14 -m3 '^==[0-9]*== [A-Z0-9]' "$tmp/$log" | head -40; done
    fi
}
real_env=(LD_BIND_NOW=1)
ours_env=(LD_LIBRARY_PATH="$lib" LD_BIND_NOW=1)
fail=0
# compare WHAT: $tmp/WHAT.real against $tmp/WHAT.ours (and a minimum of content in the first).
compare() {
    local what=$1 label=$2
    if [ ! -s "$tmp/$what.real" ]; then
        echo "FAIL  $label: no output on Debian's libmemcached"; fail=1
    elif diff -u "$tmp/$what.real" "$tmp/$what.ours" > "$tmp/$what.diff"; then
        echo "PASS  $label: $(grep -c . "$tmp/$what.real") lines, same on Debian's libmemcached and ours"
    else
        echo "FAIL  $label:"; head -40 "$tmp/$what.diff"; fail=1
    fi
}
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# memcached_contents PORT: key, flags and value of everything the server holds, sorted; read
# with the text protocol directly (no libmemcached in between). `stats cachedump` walks only
# the hot LRU: the server runs without the LRU maintainer and holds a dozen items, all of them
# there.
memcached_contents() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def cmd(c, end=b"END\r\n"):
    s.sendall(c)
    buf = b""
    while not buf.endswith(end):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf
keys = []
for line in cmd(b"stats items\r\n").split(b"\r\n"):
    if line.endswith(b":number 0") or b":number " not in line:
        continue
    slab = line.split(b":")[1]
    for item in cmd(b"stats cachedump " + slab + b" 0\r\n").split(b"\r\n"):
        if item.startswith(b"ITEM "):
            keys.append(item.split(b" ")[1])
for k in sorted(keys):
    got = cmd(b"get " + k + b"\r\n")
    head, _, rest = got.partition(b"\r\n")
    if head.startswith(b"VALUE "):
        flags = head.split(b" ")[2].decode()
        print("item %s flags=%s value=%r" % (k.decode(), flags, rest[: int(head.split(b" ")[3])]))
print("items: %d" % len(keys))
PY
}

# 1. gearmand with a libmemcached queue.
gearman_run() { # OUT SUBMIT_ENV REPLAY_ENV (each "real" or "ours")
    local out=$1 submit=$2 replay=$3 mp gp env i
    mp=$(free_port); gp=$(free_port)
    start "$mp" -o no_lru_maintainer
    for phase in submit replay; do
        if [ "${!phase}" = ours ]; then env=("${ours_env[@]}"); else env=("${real_env[@]}"); fi
        env "${env[@]}" "${wrap[@]}" gearmand -q libmemcached --libmemcached-servers="127.0.0.1:$mp" -L 127.0.0.1 -p "$gp" \
            -t 1 -l "$tmp/gearmand.$out.$phase.log" -P "$tmp/gearmand.pid" --verbose WARNING &
        app_pid=$!
        wait_port "$gp" || { echo "gearmand ($phase) did not start"; stop_app; break; }
        if [ $phase = submit ]; then
            for i in 1 2 3 4 5 6; do timeout 5 gearman -h 127.0.0.1 -p "$gp" -b -f scen -u "normal$i" "payload normal $i"; done
            for i in 1 2 3; do timeout 5 gearman -h 127.0.0.1 -p "$gp" -b -I -f scen -u "high$i" "payload high $i"; done
            for i in 1 2 3; do timeout 5 gearman -h 127.0.0.1 -p "$gp" -b -L -f scen -u "low$i" "payload low $i"; done
            echo "== queue in memcached after 12 background jobs"
            memcached_contents "$mp"
        else
            echo "== replayed by a new gearmand, drained by one worker"
            : > "$tmp/worker.out"
            timeout 10 gearman -h 127.0.0.1 -p "$gp" -w -f scen -c 12 -- sh -c "cat >> '$tmp/worker.out'; echo >> '$tmp/worker.out'"
            echo "worker exit $?"
            echo "priority order: $(sed -n 's/^payload \([a-z]\).*/\1/p' "$tmp/worker.out" | tr -d '\n')"
            sort "$tmp/worker.out"
            echo "== queue in memcached after the worker"
            memcached_contents "$mp"
        fi
        stop_app
    done > "$tmp/$out" 2>&1
    stop_servers
    grep -hE 'ERROR|FATAL|CRITICAL' "$tmp"/gearmand."$out".*.log >> "$tmp/$out"
}
if command -v gearmand >/dev/null && command -v gearman >/dev/null; then
    gearman_run gearman.real real real
    gearman_run gearman.ours ours ours
    gearman_run gearman.mixed real ours
    if grep -q '^items: 12$' "$tmp/gearman.real" && grep -q '^priority order: hhhnnnnnnlll$' "$tmp/gearman.real"; then
        compare gearman "gearmand libmemcached queue (12 jobs queued, replayed after a restart, drained)"
    else
        echo "FAIL  gearmand scenario on Debian's libmemcached did not queue and replay the 12 jobs:"; cat "$tmp/gearman.real"; fail=1
    fi
    cp "$tmp/gearman.ours" "$tmp/gearman.ours.own"; cp "$tmp/gearman.mixed" "$tmp/gearman.ours"
    compare gearman "gearmand: jobs queued by Debian's libmemcached, replayed and drained by ours"
    if command -v valgrind >/dev/null; then
        wrap=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --log-file="$tmp/vg.gearmand.%p")
        gearman_run gearman.vg ours ours
        wrap=()
        cp "$tmp/gearman.vg" "$tmp/gearman.ours"
        compare gearman "gearmand on ours under valgrind: same transcript"
        vg_clean "gearmand on ours under valgrind (both runs)" "$tmp"/vg.gearmand.*
    fi
else
    echo "SKIP  gearmand: gearman-job-server and gearman-tools are not installed"
fi

# 2. collectd memcachec.
set_key() { # PORT KEY VALUE
    python3 - "$@" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
v = sys.argv[3].encode()
s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (sys.argv[2].encode(), len(v), v))
assert s.recv(100) == b"STORED\r\n"
PY
}
collectd_run() { # OUT ENV…
    local out=$1 mp d=$tmp/collectd; shift
    rm -rf "$d"; mkdir -p "$d"
    mp=$(free_port); start "$mp"
    set_key "$mp" page "queue=42 temp=17 misc=x9"
    cat > "$d/collectd.conf" <<EOF
Hostname "scen"
FQDNLookup false
BaseDir "$d"
PIDFile "$d/collectd.pid"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$d/collectd.log"
</Plugin>
LoadPlugin memcachec
LoadPlugin csv
<Plugin memcachec>
  <Page "app">
    Server "127.0.0.1:$mp"
    Key "page"
    <Match>
      Regex "queue=([0-9]+)"
      DSType "GaugeLast"
      Type "queue_length"
      Instance "jobs"
    </Match>
    <Match>
      Regex "temp=([0-9]+)"
      DSType "GaugeLast"
      Type "temperature"
      Instance "room"
    </Match>
  </Page>
  <Page "missing">
    Server "127.0.0.1:$mp"
    Key "nosuchkey"
    <Match>
      Regex "([0-9]+)"
      DSType "GaugeLast"
      Type "gauge"
    </Match>
  </Page>
</Plugin>
<Plugin csv>
  DataDir "$d/csv"
  StoreRates false
</Plugin>
EOF
    [ "$out" = collectd.ours ] && cp "$d/collectd.conf" "$tmp/collectd.conf"
    env "$@" collectd -f -C "$d/collectd.conf" > "$d/stdout" 2>&1 &
    app_pid=$!
    csv_values() { cat "$d"/csv/scen/memcachec-app/queue_length-* 2>/dev/null | cut -d, -f2 | grep '^[0-9]'; }
    for _ in $(seq 100); do csv_values | grep -q '^42\.' && break; sleep 0.1; done
    set_key "$mp" page "queue=43 temp=18"
    for _ in $(seq 100); do csv_values | grep -q '^43\.' && break; sleep 0.1; done
    stop_app; stop_servers
    {
        for f in "$d"/csv/scen/*/*; do
            [ -e "$f" ] || continue
            echo "$(basename "$(dirname "$f")")/$(basename "$f" | sed 's/-[0-9-]*$//'): $(cut -d, -f2 "$f" | grep '^[0-9]' | uniq | tr '\n' ' ')"
        done
        sed 's/^\[[^]]*\] //' "$d/collectd.log" | grep -i 'memcachec\|error' | sort -u
    } > "$tmp/$out"
}
if command -v collectd >/dev/null && [ -e /usr/lib/collectd/memcachec.so ]; then
    collectd_run collectd.real "${real_env[@]}"
    collectd_run collectd.ours "${ours_env[@]}"
    if grep -q 'queue_length-jobs: 42.000000 43.000000' "$tmp/collectd.real"; then
        compare collectd "collectd memcachec (two matches, key changed between reads, a missing key)"
    else
        echo "FAIL  collectd on Debian's libmemcached did not read 42 then 43:"; cat "$tmp/collectd.real"; fail=1
    fi
    if command -v valgrind >/dev/null; then
        # One read (-T) on ours under valgrind; the values must come out as in the run above.
        cat > "$tmp/dlopen.supp" <<'EOF'
{
   ld.so keeps a dependency list of a dlopen'ed object for the process's lifetime
   Memcheck:Leak
   match-leak-kinds: definite
   ...
   fun:_dl_map_object_deps
}
EOF
        mp=$(free_port); start "$mp"; set_key "$mp" page "queue=42 temp=17 misc=x9"
        sed -i "s/127\.0\.0\.1:[0-9]*/127.0.0.1:$mp/" "$tmp/collectd.conf"
        rm -rf "$tmp/collectd/csv"
        env "${ours_env[@]}" valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --suppressions="$tmp/dlopen.supp" --log-file="$tmp/vg.collectd.%p" \
            collectd -T -C "$tmp/collectd.conf" > /dev/null 2>&1
        vg_rc=$?
        stop_servers
        [ $vg_rc = 0 ] || { echo "FAIL  collectd -T on ours under valgrind exited $vg_rc"; fail=1; }
        vg_clean "collectd -T (memcachec read) on ours under valgrind" "$tmp"/vg.collectd.*
    fi
else
    echo "SKIP  collectd: collectd-core is not installed"
fi

# 3. kamailio memcached module.
kamailio_run() { # OUT MEMORY ENV…
    local out=$1 memory=$2 mp d=$tmp/kamailio; shift 2
    rm -rf "$d"; mkdir -p "$d"
    mp=$(free_port); start "$mp"
    cat > "$d/kamailio.cfg" <<EOF
#!KAMAILIO
listen=udp:127.0.0.1:$(free_port)
children=1
log_stderror=yes
debug=2
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "memcached.so"
modparam("memcached", "servers", "127.0.0.1:$mp")
modparam("memcached", "memory", $memory)
event_route[core:worker-one-init] {
    \$mct(greeting) = "hello";
    xlog("L_ALERT", "SCEN get greeting=\$mct(greeting)\n");
    \$mct(counter) = 10;
    \$mcinc(counter) = 5;
    \$var(n) = \$mct(counter) + 0;
    xlog("L_ALERT", "SCEN after inc counter=\$var(n)\n");
    \$mcdec(counter) = 3;
    \$var(n) = \$mct(counter) + 0;
    xlog("L_ALERT", "SCEN after dec counter=\$var(n)\n");
    \$mct(big) = "$(head -c 3000 /dev/zero | tr '\0' 'x')";
    xlog("L_ALERT", "SCEN big has \$(mct(big){s.len}) bytes\n");
    xlog("L_ALERT", "SCEN missing=\$mct(nosuch)\n");
    \$mct(greeting) = \$null;
    xlog("L_ALERT", "SCEN deleted greeting=\$mct(greeting)\n");
    xlog("L_ALERT", "SCEN done\n");
}
request_route { drop; }
EOF
    [ "$out" = kamailio.ours.1 ] && cp "$d/kamailio.cfg" "$tmp/kamailio.cfg"
    env "$@" kamailio -f "$d/kamailio.cfg" -DD -E -w "$d" > "$d/log" 2>&1 &
    app_pid=$!
    for _ in $(seq 100); do grep -q 'SCEN done' "$d/log" && break; sleep 0.1; done
    stop_app; stop_servers
    # io_wait_loop errors are kamailio's own event loop being stopped (seen once on Debian's
    # library: epoll_wait EINVAL at shutdown), not the memcached module's.
    sed -n 's/^ *[0-9]*([0-9]*) //p' "$d/log" | grep -aE 'SCEN|ERROR|memcached' |
        grep -v 'libmemcached version' | grep -v 'io_wait_loop' > "$tmp/$out"
}
if command -v kamailio >/dev/null && [ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/memcached.so ]; then
    for memory in 0 1; do
        kamailio_run "kamailio.real.$memory" $memory "${real_env[@]}"
        kamailio_run "kamailio.ours.$memory" $memory "${ours_env[@]}"
        cp "$tmp/kamailio.real.$memory" "$tmp/kamailio.real"; cp "$tmp/kamailio.ours.$memory" "$tmp/kamailio.ours"
        if grep -q 'SCEN after dec counter=12' "$tmp/kamailio.real"; then
            compare kamailio "kamailio memcached module, memory=$memory ($([ $memory = 1 ] && echo "kamailio's allocators" || echo "system allocator"))"
        else
            echo "FAIL  kamailio (memory=$memory) on Debian's libmemcached did not run the scenario:"; cat "$tmp/kamailio.real"; fail=1
        fi
    done
else
    echo "SKIP  kamailio: kamailio-memcached-modules is not installed"
fi

# 4. Load and resolve.
cat > "$tmp/proftpd.conf" <<EOF
ServerName "scen"
ServerType standalone
Port 0
User nobody
Group nogroup
PidFile $tmp/proftpd.pid
ScoreboardFile $tmp/proftpd.scoreboard
DelayTable none
WtmpLog off
<IfModule !mod_memcache.c>
  LoadModule mod_memcache.c
</IfModule>
MemcacheEngine on
MemcacheServers 127.0.0.1:11211
EOF
# resolve NAME OBJECT COMMAND…: COMMAND (which loads OBJECT) run on ours with LD_BIND_NOW=1 and
# LD_DEBUG=bindings; every memcached/libmemcached import of OBJECT must be bound to our
# libmemcached.so.11 (libmemcached_util_* to a libmemcachedutil.so.2), none to Debian's library.
resolve() {
    local name=$1 object=$2 log=$tmp/bind.$1 imports sym missing=""; shift 2
    if [ ! -e "$object" ] || ! command -v "$1" >/dev/null; then echo "SKIP  load-and-resolve $name: not installed"; return; fi
    # To stderr, not LD_DEBUG_OUTPUT: proftpd closes the descriptors it did not open itself.
    env "${ours_env[@]}" LD_DEBUG=bindings timeout 20 "$@" > /dev/null 2> "$log" < /dev/null
    imports=$(nm -D --undefined-only "$object" | awk '$2 ~ /^(lib)?memcached/ {print $2}' | sort -u)
    awk -v obj="$object" -v base="${object##*/}" '
        /binding file / && ($4 == obj || $4 == base) { s = $NF; gsub(/[`'\'']/, "", s); print s, $7 }' "$log" | sort -u > "$log.bound"
    for sym in $imports; do
        case $sym in
            libmemcached_util_*) grep -q "^$sym .*/libmemcachedutil\.so\.2$" "$log.bound" || missing="$missing $sym" ;;
            *) grep -qx "$sym $lib/libmemcached.so.11" "$log.bound" || missing="$missing $sym" ;;
        esac
    done
    if grep -aq 'to /[^ ]*/x86_64-linux-gnu/libmemcached\.so\.11 ' "$log"; then
        echo "FAIL  load-and-resolve $name: Debian's libmemcached.so.11 was loaded too"; fail=1
    elif [ -z "$imports" ]; then
        echo "FAIL  load-and-resolve $name: $object imports nothing from libmemcached"; fail=1
    elif [ -n "$missing" ]; then
        echo "FAIL  load-and-resolve $name: not bound to ours:$missing"; fail=1
    else
        echo "PASS  load-and-resolve $name: $(echo "$imports" | wc -l) imports bound to our libmemcached.so.11"
    fi
}
resolve opendkim /usr/sbin/opendkim opendkim -V
resolve opendkim-testkey /usr/sbin/opendkim-testkey opendkim-testkey -h
resolve opendkim-genzone /usr/sbin/opendkim-genzone opendkim-genzone -h
resolve opendkim-atpszone /usr/sbin/opendkim-atpszone opendkim-atpszone -h
resolve proftpd /usr/sbin/proftpd proftpd -t -c "$tmp/proftpd.conf"
resolve proftpd-mod_memcache /usr/lib/proftpd/mod_memcache.so proftpd -t -c "$tmp/proftpd.conf"
resolve gearmand /usr/sbin/gearmand gearmand --version
[ -e "$tmp/collectd.conf" ] && resolve collectd-memcachec /usr/lib/collectd/memcachec.so collectd -T -C "$tmp/collectd.conf"
[ -e "$tmp/kamailio.cfg" ] && resolve kamailio-memcached /usr/lib/x86_64-linux-gnu/kamailio/modules/memcached.so kamailio -c -f "$tmp/kamailio.cfg"
[ -n "${KEEP_OUTPUT:-}" ] && cp -r "$tmp"/. "$KEEP_OUTPUT"/ 2>/dev/null
exit $fail

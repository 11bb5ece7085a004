#!/usr/bin/env bash
# benches/failover-report.sh - the kill -9 failover report of issue #3
# (what `make failover-report` runs; the library must be built first).
#
# Starts four memcached servers on free 127.0.0.1 ports, builds
# benches/failover_report.c against build/ and runs it: it stores 10,000 keys,
# streams gets, kills one server with SIGKILL, restarts it on the same port and
# reports how long the others took to serve its keys, which calls failed, the
# call latencies around the failure and how long the restarted server took to
# get its keys back.  Exit status is the program's (non-zero when a check
# failed).  No server is left behind, whatever happens.
#
# Environment (defaults in brackets):
#   FAILOVER_KILL_INDEX [1]     omcache server index to kill
#   FAILOVER_KEYS [10000]       FAILOVER_WARM_MS [1000]  stream time before the kill
#   FAILOVER_RESTART_MS [1500]  kill -> restart         FAILOVER_TAIL_MS [500]
#   CC [cc]                     OMCACHE_BUILD [<repo>/build]

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
servers_sh=$root/scripts/memcached-servers.sh
cc=${CC:-cc}

die() { echo "benches/failover-report.sh: $*" >&2; exit 2; }

if [ ! -f "$build/lib/libomcache.so.0" ] || [ ! -f "$build/include/omcache.h" ]; then
    die "build the library first (make)"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/omcache-failover.XXXXXX") || die "mktemp failed"
prog_pid=""

# shellcheck disable=SC2317  # called from the trap
cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$prog_pid" ] && kill -0 "$prog_pid" 2>/dev/null; then
        # the program ends the memcached it restarted when it gets SIGTERM
        kill -TERM "$prog_pid" 2>/dev/null
        wait "$prog_pid" 2>/dev/null
    fi
    # every server, the restarted one included (the program appends its pid)
    "$servers_sh" stop "$dir"
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

MEMCACHED_HOST=127.0.0.1 "$servers_sh" start "$dir" 4 >"$dir/list" || die "could not start memcached"
servers=$(cat "$dir/list")

# port=pid for each server: DIR/pids may also hold attempts that lost their
# port, so ask /proc which live memcached listens on which port.
pairs=()
while read -r port; do
    found=""
    while read -r pid; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = memcached ] || continue
        if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -A1 -x -- -p | grep -qx -- "$port"; then
            found=$pid
        fi
    done <"$dir/pids"
    [ -n "$found" ] || die "no memcached process found for port $port"
    pairs+=("$port=$found")
done <"$dir/ports"

"$cc" -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -O2 \
    -I "$build/include" -o "$dir/failover_report" "$root/benches/failover_report.c" \
    -L "$build/lib" -Wl,-rpath,"$build/lib" -lomcache || die "could not build failover_report.c"

# In the background so that a signal reaches the trap at once (bash runs traps
# only between foreground commands) and the trap can end the program.
"$dir/failover_report" -d "$dir" \
    -k "${FAILOVER_KILL_INDEX:-1}" -n "${FAILOVER_KEYS:-10000}" \
    -w "${FAILOVER_WARM_MS:-1000}" -r "${FAILOVER_RESTART_MS:-1500}" -t "${FAILOVER_TAIL_MS:-500}" \
    "$servers" "${pairs[@]}" &
prog_pid=$!
wait "$prog_pid"
rc=$?
prog_pid=""
exit "$rc"

#!/usr/bin/env bash
# memcached-servers.sh - throwaway memcached servers for examples, tests and benchmarks
#
#   memcached-servers.sh start DIR N [memcached args...]
#       Start N memcached servers on free loopback ports (127.0.0.1, or the
#       address in $MEMCACHED_HOST, e.g. ::1), wait until each accepts
#       connections, record them in DIR and print the server list
#       "127.0.0.1:P1,127.0.0.1:P2,..." on stdout.
#   memcached-servers.sh start-unix DIR [memcached args...]
#       Start one memcached listening on a unix socket in DIR; prints the
#       socket's path.
#   memcached-servers.sh stop DIR
#       Stop every server recorded in DIR and wait until they are gone.
#
# Calls may be repeated with the same DIR: servers accumulate in DIR/pids and
# one "stop DIR" ends them all.  Callers should arrange for "stop DIR" to run
# whatever happens, e.g.
#
#   dir=$(mktemp -d); trap 'scripts/memcached-servers.sh stop "$dir"' EXIT
#   servers=$(scripts/memcached-servers.sh start "$dir" 4)
#
# Files in DIR: pids (one pid per line), ports (one port per line, TCP
# servers only), servers (the printed lists, one per start call),
# memcached-*.log (each server's own output).

set -u

prog=${0##*/}
die() { echo "$prog: $*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $prog start DIR N [memcached args...]
       $prog start-unix DIR [memcached args...]
       $prog stop DIR
EOF
    exit 2
}

# --- memcached itself -------------------------------------------------------

ensure_memcached() {
    command -v memcached >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "$prog: memcached is not installed; install it with:" >&2
        echo "    sudo apt-get install -y memcached" >&2
        exit 1
    fi
    echo "$prog: memcached is not installed; installing it with apt-get" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y memcached >&2; then
        apt-get update >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y memcached >&2 ||
            die "could not install memcached"
    fi
    command -v memcached >/dev/null 2>&1 || die "memcached still not found after installing it"
}

# Arguments every server gets: no UDP, and a user to switch to when we are root
# (memcached refuses to run as root without -u).
base_args() {
    BASE_ARGS=(-U 0)
    if [ "$(id -u)" -eq 0 ]; then
        BASE_ARGS+=(-u nobody)
    fi
}

# --- ports and readiness ----------------------------------------------------

# Print a port that is free right now on $HOST: bind port 0 and ask the kernel.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$HOST" <<'EOF' && return 0
import socket, sys
host = sys.argv[1]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.bind((host, 0))
print(s.getsockname()[1])
s.close()
EOF
    fi
    # No python3: a random high port; a collision is caught and retried below.
    echo $(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
}

# The inode of the socket listening on $HOST:$1, from /proc/net/tcp(6).
listening_inode() {
    local port_hex table addr_hex
    port_hex=$(printf '%04X' "$1")
    if [[ $HOST == *:* ]]; then
        table=/proc/net/tcp6
        addr_hex=00000000000000000000000001000000   # ::1 as the kernel prints it
    else
        table=/proc/net/tcp
        addr_hex=$(printf '%02X' $(echo "$HOST" | awk -F. '{print $4, $3, $2, $1}'))
    fi
    [ -r "$table" ] || return 1
    awk -v want="$addr_hex:$port_hex" '$2 == want && $4 == "0A" { print $10; exit }' "$table"
}

# True when process $1 is the one listening on port $2 (not merely someone
# else who grabbed the port between our probe and memcached's bind).
owns_port() {
    local pid=$1 port=$2 inode
    inode=$(listening_inode "$port") || return 0   # no /proc: trust the connect
    [ -n "$inode" ] || return 1
    ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$inode\]"
}

accepts_tcp() {
    # bash's /dev/tcp takes a bare IPv6 address, without brackets
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

accepts_unix() {
    [ -S "$1" ] || return 1
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$1" 2>/dev/null
    else
        return 0
    fi
}

# True while process $1 exists and is not a zombie waiting to be reaped.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$state" != Z ]
}

is_memcached() {
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = memcached ]
}

# Kill pid $1 (if it still is a memcached) and wait until it has gone.
kill_and_wait() {
    local pid=$1 i
    alive "$pid" || return 0
    if [ -d /proc ] && ! is_memcached "$pid"; then
        return 0    # the pid was reused by something else: leave it alone
    fi
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do          # up to 5 s
        alive "$pid" || return 0
        # reap it if it is our own child (start's cleanup path)
        wait "$pid" 2>/dev/null
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    for i in $(seq 1 40); do
        alive "$pid" || return 0
        sleep 0.05
    done
    echo "$prog: warning: memcached pid $pid did not exit" >&2
}

# --- start / stop -----------------------------------------------------------

STARTED=()      # pids started by this invocation, for cleanup on failure

cleanup_started() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill_and_wait "$pid"
    done
    STARTED=()
}

on_signal() {
    cleanup_started
    exit 130
}

# Launch memcached in the background, detached from our stdout so that
# $(... start ...) does not wait for it.  Sets LAUNCHED_PID.
launch() {
    local log=$1; shift
    memcached "${BASE_ARGS[@]}" "$@" </dev/null >>"$log" 2>&1 &
    LAUNCHED_PID=$!
    STARTED+=("$LAUNCHED_PID")
    echo "$LAUNCHED_PID" >>"$DIR/pids"
}

# Wait until the server accepts connections; $1 = pid, $2 = readiness test...
wait_ready() {
    local pid=$1 i; shift
    for i in $(seq 1 200); do          # up to 10 s
        alive "$pid" || return 1
        if "$@"; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

cmd_start() {
    [ $# -ge 2 ] || usage
    DIR=$1 N=$2; shift 2
    [[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] || die "N must be a positive number, got '$N'"
    HOST=${MEMCACHED_HOST:-127.0.0.1}
    case $HOST in
        127.*|::1|localhost) ;;
        *) die "refusing to listen on non-loopback address '$HOST'" ;;
    esac
    [ "$HOST" = localhost ] && HOST=127.0.0.1
    ensure_memcached
    base_args
    mkdir -p "$DIR" || die "cannot create $DIR"
    trap on_signal INT TERM HUP

    local list="" i attempt port pid log entry
    for i in $(seq 1 "$N"); do
        for attempt in $(seq 1 20); do
            port=$(free_port) || die "cannot find a free port"
            log="$DIR/memcached-$port.log"
            launch "$log" -l "$HOST" -p "$port" "$@"
            pid=$LAUNCHED_PID
            if wait_ready "$pid" accepts_tcp "$port" && owns_port "$pid" "$port"; then
                break
            fi
            # Port taken in the meantime (or memcached failed): try another.
            kill_and_wait "$pid"
            pid=""
            if [ "$attempt" -ge 3 ] && ! grep -qi 'address already in use' "$log" 2>/dev/null; then
                echo "$prog: memcached did not start; its output:" >&2
                sed 's/^/    /' "$log" >&2
                cleanup_started
                exit 1
            fi
        done
        if [ -z "$pid" ]; then
            cleanup_started
            die "could not start memcached after 20 attempts"
        fi
        echo "$port" >>"$DIR/ports"
        if [[ $HOST == *:* ]]; then entry="[$HOST]:$port"; else entry="$HOST:$port"; fi
        list="${list:+$list,}$entry"
    done
    trap - INT TERM HUP
    echo "$list" >>"$DIR/servers"
    echo "$list"
}

cmd_start_unix() {
    [ $# -ge 1 ] || usage
    DIR=$1; shift
    ensure_memcached
    base_args
    mkdir -p "$DIR" || die "cannot create $DIR"
    trap on_signal INT TERM HUP
    # memcached binds its unix socket after switching to the -u user, so as
    # root the socket goes into a directory that user may write to (and DIR
    # must be searchable by it).
    local n=1 sockdir path log pid
    while [ -e "$DIR/unix-$n" ]; do n=$((n + 1)); done
    sockdir="$DIR/unix-$n"
    mkdir "$sockdir" || die "cannot create $sockdir"
    if [ "$(id -u)" -eq 0 ]; then
        chmod 0777 "$sockdir"
        chmod o+x "$DIR"
    fi
    path=$(cd "$sockdir" && pwd)/memcached.sock
    log="$DIR/memcached-unix-$n.log"
    launch "$log" -s "$path" -a 0700 "$@"
    pid=$LAUNCHED_PID
    if ! wait_ready "$pid" accepts_unix "$path"; then
        echo "$prog: memcached did not start on $path; its output:" >&2
        sed 's/^/    /' "$log" >&2
        cleanup_started
        exit 1
    fi
    trap - INT TERM HUP
    echo "$path" >>"$DIR/servers"
    echo "$path"
}

cmd_stop() {
    [ $# -eq 1 ] || usage
    local dir=$1 pid
    [ -f "$dir/pids" ] || return 0
    while read -r pid; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        # signal them all first, then wait for each; skip reused pids
        if [ ! -d /proc ] || is_memcached "$pid"; then
            kill -TERM "$pid" 2>/dev/null
        fi
    done <"$dir/pids"
    while read -r pid; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        kill_and_wait "$pid"
    done <"$dir/pids"
    rm -f "$dir/pids" "$dir/ports" "$dir/servers"
    rm -rf "$dir"/unix-*
}

[ $# -ge 1 ] || usage
cmd=$1; shift
case $cmd in
    start) cmd_start "$@" ;;
    start-unix) cmd_start_unix "$@" ;;
    stop) cmd_stop "$@" ;;
    *) usage ;;
esac

# servers.sh - sourced by the comparison scripts (compat-tests/run-*.sh, tests-c/lmc-*.sh):
# throwaway memcached servers on 127.0.0.1. The caller keeps `pids` (space-separated) and
# kills them in its EXIT trap.

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_memcached PORT [ARGS…]: one memcached (one thread unless ARGS say otherwise), waited for
# until it accepts connections; its pid is added to `pids` and left in `last_pid`. Fails after 5 s.
start_memcached() {
    local port=$1; shift
    local args=(-l 127.0.0.1 -p "$port" -U 0 -t 1 "$@")
    [ "$(id -u)" = 0 ] && args+=(-u nobody)
    memcached "${args[@]}" >/dev/null 2>&1 &
    last_pid=$!; pids="${pids:-} $last_pid"
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

#!/usr/bin/env bash
# c-examples/run.sh - build the C examples and run them against throwaway
# memcached servers (4 on TCP, 1 on a unix socket, 1 on IPv6 loopback).
#
#   c-examples/run.sh              build and run every example
#   c-examples/run.sh basic multi  only these
#
# Prints one line per example and finally "N passed, M failed"; exits
# non-zero if anything failed.  The TLS example (tls) needs openssl and a
# memcached with TLS support (-Z); without them it prints SKIP and the reason
# (c-examples/tls-setup.sh makes its certificates and servers).  Each example's full output is kept in
# build/c-examples/NAME.log.  The library must have been built (make).
#
# Environment: CC (default cc), CFLAGS and LDFLAGS (added to each example's
# compile and link), OMCACHE_BUILD (default <repo>/build), EXAMPLE_TIMEOUT
# seconds per example (default 120 times OMCACHE_TEST_SLACK), OMCACHE_TEST_SLACK
# (default 1; the examples multiply their upper time bounds by it).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
libdir=$build/lib
incdir=$build/include
outdir=$build/c-examples
cc=${CC:-cc}
slack=${OMCACHE_TEST_SLACK:-1}
awk -v s="$slack" 'BEGIN { exit !(s + 0 >= 1) }' ||
    { echo "run.sh: OMCACHE_TEST_SLACK=$slack: expected a number >= 1" >&2; exit 1; }
per_example_timeout=${EXAMPLE_TIMEOUT:-$(awk -v s="$slack" 'BEGIN { printf "%d", 120 * s + 0.5 }')}
# split into words on purpose, like make's $(CFLAGS)
read -r -a user_cflags <<<"${CFLAGS:-}"
read -r -a user_ldflags <<<"${LDFLAGS:-}"
servers_sh=$root/scripts/memcached-servers.sh

if [ ! -e "$libdir/libomcache.so" ] || [ ! -e "$incdir/omcache.h" ]; then
    echo "run.sh: $libdir/libomcache.so or $incdir/omcache.h is missing; run make first" >&2
    exit 1
fi
mkdir -p "$outdir"

# Every example, with the servers it wants ({4}: four TCP servers,
# {1}: one, {3}: three, {unix}: the unix socket, {ipv6}: the IPv6 server;
# {tls}, {mtls}, {tlsdir}: the TLS servers and certificates of tls-setup.sh).
examples=(
    "basic {4}"
    "multi {4}"
    "nonblocking {4}"
    "errors {1}"
    "stats {4}"
    "callbacks {4}"
    "buffering {4}"
    "distribution {4}"
    "servers {4} {unix} {ipv6}"
    "lowlevel {4}"
    "demo {3}"
    "tls {tls} {mtls} {tlsdir} {1}"
)
# The whole API: 38 functions and 3 distribution objects.
api_symbols="omcache_init omcache_free omcache_strerror omcache_set_connect_timeout
omcache_set_reconnect_timeout omcache_set_dead_timeout omcache_set_send_buffer_max_size
omcache_set_recv_buffer_max_size omcache_set_buffering omcache_set_servers
omcache_set_distribution_method omcache_set_log_callback omcache_log_stderr
omcache_set_response_callback omcache_poll_fds omcache_reset_buffers omcache_io
omcache_command omcache_command_status omcache_server_index_for_key omcache_server_info
omcache_server_info_free omcache_noop omcache_stat omcache_flush_all omcache_set omcache_add
omcache_replace omcache_append omcache_prepend omcache_increment omcache_decrement
omcache_delete omcache_touch omcache_get omcache_get_multi omcache_gat omcache_gat_multi
omcache_dist_libmemcached_ketama omcache_dist_libmemcached_ketama_weighted
omcache_dist_libmemcached_ketama_pre1010"
# This library's TLS extension (OMCACHE_0.3), used by the tls example when it runs.
tls_symbols="omcache_set_tls omcache_set_tls_ca_file omcache_set_tls_client_cert
omcache_set_tls_server_name omcache_set_tls_session_resumption omcache_tls_error"

selected=("$@")
wanted() {
    [ ${#selected[@]} -eq 0 ] && return 0
    local s
    for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

# --- servers ---------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-examples.XXXXXX")
cleanup() {
    "$servers_sh" stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

servers4=$("$servers_sh" start "$tmp" 4) || { echo "run.sh: cannot start memcached" >&2; exit 1; }
servers1=${servers4%%,*}
servers3=$(echo "$servers4" | cut -d, -f1-3)
unix_socket=$("$servers_sh" start-unix "$tmp") || { echo "run.sh: cannot start memcached on a unix socket" >&2; exit 1; }
ipv6=$(MEMCACHED_HOST=::1 "$servers_sh" start "$tmp" 1 2>/dev/null) || ipv6=-
echo "memcached servers: $servers4, $unix_socket, ${ipv6/#-/(no IPv6)}"
TLS_SKIP="not selected"
if wanted tls; then
    # shellcheck source=c-examples/tls-setup.sh
    . "$root/c-examples/tls-setup.sh"
    if tls_setup "$tmp" "$servers_sh"; then
        echo "memcached -Z servers: $TLS_SERVER, $MTLS_SERVER (client certificate required)"
    fi
fi

# --- build and run -----------------------------------------------------------
passed=0
failed=0
binaries=()

for entry in "${examples[@]}"; do
    read -r name args <<<"$entry"
    wanted "$name" || continue
    if [ "$name" = tls ] && [ -n "$TLS_SKIP" ]; then
        printf 'SKIP  %-14s        %s\n' "$name" "$TLS_SKIP"
        continue
    fi
    src=$root/c-examples/$name.c
    bin=$outdir/$name
    log=$outdir/$name.log
    if ! "$cc" -std=c99 -Wall -Wextra -Werror "${user_cflags[@]}" -I "$incdir" \
            "${user_ldflags[@]}" -o "$bin" "$src" \
            -L "$libdir" -lomcache -Wl,-rpath,"$libdir" >"$log" 2>&1; then
        printf 'FAIL  %-14s does not compile:\n' "$name"
        sed 's/^/        /' "$log" | head -20
        failed=$((failed + 1))
        continue
    fi
    binaries+=("$bin")
    argv=()
    for a in $args; do
        case $a in
            "{4}") argv+=("$servers4") ;;
            "{3}") argv+=("$servers3") ;;
            "{1}") argv+=("$servers1") ;;
            "{unix}") argv+=("$unix_socket") ;;
            "{ipv6}") argv+=("$ipv6") ;;
            "{tls}") argv+=("$TLS_SERVER") ;;
            "{mtls}") argv+=("$MTLS_SERVER") ;;
            "{tlsdir}") argv+=("$TLS_DIR") ;;
        esac
    done
    start_ns=$(date +%s%N)
    timeout "$per_example_timeout" "$bin" "${argv[@]}" >"$log" 2>&1
    rc=$?
    secs=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    summary=$(grep -E '^[a-z_]+: [0-9]+ checks, [0-9]+ failed$' "$log" | tail -1)
    summary=${summary#*: }
    [ "$name" = demo ] && summary="$(grep -c . "$log") lines of output"
    if [ $rc -eq 0 ]; then
        printf 'PASS  %-14s %5ss  %s\n' "$name" "$secs" "$summary"
        passed=$((passed + 1))
    else
        if [ $rc -eq 124 ]; then
            why="timed out after ${per_example_timeout}s"
        elif [ $rc -gt 128 ]; then
            why="killed by signal $((rc - 128))"
        else
            why="exit status $rc"
        fi
        printf 'FAIL  %-14s %5ss  %s%s (log: %s)\n' "$name" "$secs" "${summary:+$summary, }" "$why" "$log"
        # the failed checks (the library's own log lines are left out)
        grep -E '^[^ ]+\.c:[0-9]+:|^    ' "$log" | head -40 | sed 's/^/        /'
        failed=$((failed + 1))
    fi
done

# --- does the set of examples use the whole API? ----------------------------
if [ ${#selected[@]} -eq 0 ] && [ ${#binaries[@]} -gt 0 ]; then
    # the library symbols each binary binds to (functions show up as
    # undefined, the data objects as copy-relocated definitions)
    used=$(for b in "${binaries[@]}"; do nm -D "$b"; done |
           sed -n 's/.* \(omcache_[A-Za-z0-9_]*\)@\{1,2\}OMCACHE_.*/\1/p' | sort -u)
    missing=""
    total=0
    [ -z "$TLS_SKIP" ] && api_symbols="$api_symbols $tls_symbols"
    for sym in $api_symbols; do
        total=$((total + 1))
        grep -qx "$sym" <<<"$used" || missing="$missing $sym"
    done
    if [ -z "$missing" ]; then
        printf 'PASS  %-14s        all %d API symbols are used by the examples\n' "api-coverage" "$total"
        passed=$((passed + 1))
    else
        printf 'FAIL  %-14s        not used by any example:%s\n' "api-coverage" "$missing"
        failed=$((failed + 1))
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

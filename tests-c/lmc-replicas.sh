#!/usr/bin/env bash
# lmc-replicas.sh - tests-c/lmc_replicas.c (NUMBER_OF_REPLICAS, RANDOMIZE_REPLICA_READ: where
# copies land, reads after kill -9 of a key's server, an mget first on a handle connected
# before the kill) built against Debian's libmemcached headers and run with Debian's
# libmemcached.so.11 and with ours (LD_LIBRARY_PATH=build/libmemcached, LD_BIND_NOW=1), each
# run on three fresh memcached servers (the program kills two); the transcripts must be the
# same, except the "now:" lines (a set's copies before memcached_flush_buffers: 1.1.4 leaves
# them buffered, ours sends them at once), which must show the copies on ours. VALGRIND=1
# also runs ours under valgrind (no errors, no definite leaks). KEEP=DIR keeps the
# transcripts (copied to DIR).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-replicas: $lib/libmemcached.so.11 missing (make)"; exit 2; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; [ -n "${KEEP:-}" ] && cp -r "$tmp" "$KEEP"; rm -rf "$tmp"' EXIT
cc -O1 -g -Wall -Wextra -Werror -o "$tmp/lmc_replicas" "$root/tests-c/lmc_replicas.c" -lmemcached \
    || { echo "lmc-replicas: lmc_replicas.c does not compile (libmemcached-dev?)"; exit 2; }
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
# run OUT [ENV/COMMAND PREFIX…]: the program on three new servers, its transcript in OUT.
run() {
    local out=$1; shift
    local ports=() ids=()
    for _ in 1 2 3; do
        local p; p=$(free_port)
        start_memcached "$p" || { echo "lmc-replicas: memcached on $p did not start"; exit 2; }
        # The program kills two of them: no "Killed" job notices from this shell.
        disown "$last_pid" 2>/dev/null || true
        ports+=("$p"); ids+=("$last_pid")
    done
    env LD_BIND_NOW=1 "$@" "$tmp/lmc_replicas" "${ports[@]}" "${ids[@]}" > "$out" 2> "$out.err"
    local rc=$?
    for p in "${ids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    return $rc
}
fail=0
run "$tmp/real.txt" || { echo "FAIL  lmc_replicas on the real library exited $?"; fail=1; }
run "$tmp/ours.txt" LD_LIBRARY_PATH="$lib" || { echo "FAIL  lmc_replicas on ours exited $?"; fail=1; }
grep -v '^now: ' "$tmp/real.txt" > "$tmp/real.cmp"
grep -v '^now: ' "$tmp/ours.txt" > "$tmp/ours.cmp"
n=$(wc -l < "$tmp/real.cmp")
if diff -u "$tmp/real.cmp" "$tmp/ours.cmp" > "$tmp/diff.txt"; then
    echo "PASS  lmc_replicas: $n lines, same transcript on the real library and on ours"
else
    echo "FAIL  lmc_replicas:"; head -60 "$tmp/diff.txt"; fail=1
fi
# Ours: a set's copies are on the replicas as soon as the set returns (the "now:" line of
# each binary set matches the line after the flush).
if grep -A1 '^now: set: ' "$tmp/ours.txt" | grep -v '^--$' | paste - - \
    | awk -F'\t' '{ a = $1; sub(/^now: /, "", a); if (a != $2) bad = 1 } END { exit bad }'; then
    echo "PASS  lmc_replicas: ours has a set's copies on the replicas when the set returns"
else
    echo "FAIL  lmc_replicas: a set's copies missing before memcached_flush_buffers on ours"; fail=1
fi
if [ "${VALGRIND:-0}" = 1 ]; then
    if run "$tmp/vg.out" LD_LIBRARY_PATH="$lib" valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite; then
        echo "PASS  lmc_replicas under valgrind: no errors, no definite leaks"
    else
        echo "FAIL  lmc_replicas under valgrind:"; head -40 "$tmp/vg.out.err"; fail=1
    fi
fi
exit $fail

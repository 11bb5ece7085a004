#!/bin/bash
# tls.sh - TLS vs plaintext through the Rust engine (examples/bench_engine), same run, same
# memcached build: get, set, 100-key multi-get, and the cost of a reconnect with and without
# TLS session resumption. One `memcached` and one `memcached -Z` (throwaway CA and server
# certificate made here with openssl) on free 127.0.0.1 ports, killed at exit.
#
#   benches/tls.sh [N]        N operations per row (default 20000; reconnect rows N/20)
#
# ROUNDS=R (default 5): every row is run R times per side, plain and TLS alternating (which
# goes first alternates too); shown: the median ops/s of each side and the median of the
# per-round ratios TLS / plain (the machine is shared and noisy: a round compares two runs
# made next to each other).
#
# Where the time goes: every row also shows the CPU time per operation of the client
# (bench_engine, user + system, from bash's `time`) and of the server (all memcached threads,
# from /proc/PID/task/*/schedstat, nanoseconds), medians, plain / TLS. A get's wall time is
# both CPU times plus two wake-ups; when the machine is loaded the wall times swing, these less.
set -euo pipefail
cd "$(dirname "$0")/.."
. compat-tests/servers.sh

n=${1:-20000}
rounds=${ROUNDS:-5}
command -v openssl >/dev/null || { echo "tls.sh: needs openssl (apt-get install openssl)"; exit 1; }
[[ "$(memcached -h 2>&1)" == *enable-ssl* ]] || { echo "tls.sh: memcached has no TLS"; exit 1; }

work=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# A CA and a server certificate for 127.0.0.1 (P-256).
(
    cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.crt -days 2 -subj "/CN=omcache bench CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
        -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out server.crt 2>/dev/null
    chmod -R a+rX .
)
chmod a+rx "$work"

cargo build --release --example bench_engine -q
bench=target/release/examples/bench_engine

plain_port=$(free_port)
start_memcached "$plain_port"
plain_pid=$last_pid
tls_port=$(free_port)
start_memcached "$tls_port" -Z -o "ssl_chain_cert=$work/server.crt,ssl_key=$work/server.key,ssl_session_cache"
tls_pid=$last_pid

plain=127.0.0.1:$plain_port
tls=127.0.0.1:$tls_port
"$bench" populate "$plain" 1000 >/dev/null
BENCH_TLS=$work/ca.crt "$bench" populate "$tls" 1000 >/dev/null

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# server_ns PID: CPU time so far of all the threads of that memcached, in nanoseconds.
server_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# run PID COUNT ENV... COMMAND...: runs the bench command; prints "OPS/S CLIENT_US SERVER_US"
# (CPU microseconds per operation of the client and of the server PID).
run() {
    local pid=$1 count=$2 a b cpu out
    shift 2
    a=$(server_ns "$pid")
    { TIMEFORMAT='%3U %3S'; time env "$@" >"$work/out"; } 2>"$work/time"
    b=$(server_ns "$pid")
    out=$(awk '{ print $4 }' "$work/out")
    cpu=$(tail -n 1 "$work/time" | awk -v n="$count" '{ printf "%.2f", ($1 + $2) * 1e6 / n }')
    echo "$out $cpu $(awk -v a="$a" -v b="$b" -v n="$count" 'BEGIN { printf "%.2f", (b - a) / 1e3 / n }')"
}
# compare WORKLOAD COUNT TLS_ENV: runs plain and TLS `rounds` times, alternating; sets p and t
# to the median ops/s of each side, ratio to the median of the per-round ratios, pc/tc and
# ps/ts to the median client and server CPU microseconds per operation of each side.
compare() {
    local w=$1 count=$2 tls_env=$3 r x y xo xc xs yo yc ys
    local ps="" ts="" rs="" pcs="" tcs="" pss="" tss=""
    for r in $(seq "$rounds"); do
        if [ $((r % 2)) = 1 ]; then
            x=$(run "$plain_pid" "$count" "$bench" "$w" "$plain" "$count")
            y=$(run "$tls_pid" "$count" BENCH_TLS="$work/ca.crt" $tls_env "$bench" "$w" "$tls" "$count")
        else
            y=$(run "$tls_pid" "$count" BENCH_TLS="$work/ca.crt" $tls_env "$bench" "$w" "$tls" "$count")
            x=$(run "$plain_pid" "$count" "$bench" "$w" "$plain" "$count")
        fi
        read -r xo xc xs <<<"$x"
        read -r yo yc ys <<<"$y"
        ps+="$xo"$'\n' ts+="$yo"$'\n' rs+="$(echo "$yo / $xo" | bc -l)"$'\n'
        pcs+="$xc"$'\n' tcs+="$yc"$'\n' pss+="$xs"$'\n' tss+="$ys"$'\n'
    done
    p=$(printf '%s' "$ps" | median) t=$(printf '%s' "$ts" | median) ratio=$(printf '%s' "$rs" | median)
    pc=$(printf '%s' "$pcs" | median) tc=$(printf '%s' "$tcs" | median)
    pv=$(printf '%s' "$pss" | median) tv=$(printf '%s' "$tss" | median)
}
row() { printf '%-22s %14.0f %14.0f %8.2f   %7.1f %7.1f   %7.1f %7.1f\n' "$1" "$p" "$t" "$ratio" "$pc" "$tc" "$pv" "$tv"; }
printf '%-22s %14s %14s %8s   %-15s   %-15s   (medians of %d rounds; ratio: median of per-round ratios)\n' workload "plain ops/s" "TLS ops/s" "TLS/plain" "client us/op" "server us/op" "$rounds"
printf '%-22s %14s %14s %8s   %7s %7s   %7s %7s\n' "" "" "" "" plain TLS plain TLS
for w in get set multiget; do
    compare "$w" "$n" ""
    row "$w"
done
r=$((n / 20))
compare reconnect "$r" ""
row "reconnect (resumed)"
compare reconnect "$r" BENCH_TLS_RESUME=0
row "reconnect (full hs)"

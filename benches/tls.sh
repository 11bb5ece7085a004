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
tls_port=$(free_port)
start_memcached "$tls_port" -Z -o "ssl_chain_cert=$work/server.crt,ssl_key=$work/server.key,ssl_session_cache"

plain=127.0.0.1:$plain_port
tls=127.0.0.1:$tls_port
"$bench" populate "$plain" 1000 >/dev/null
BENCH_TLS=$work/ca.crt "$bench" populate "$tls" 1000 >/dev/null

ops() { awk '{print $4}'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# compare WORKLOAD COUNT TLS_ENV: runs plain and TLS `rounds` times, alternating; sets p and t
# to the median ops/s of each side and ratio to the median of the per-round ratios.
compare() {
    local w=$1 count=$2 tls_env=$3 r x y ps="" ts="" rs=""
    for r in $(seq "$rounds"); do
        if [ $((r % 2)) = 1 ]; then
            x=$("$bench" "$w" "$plain" "$count" | ops)
            y=$(env BENCH_TLS="$work/ca.crt" $tls_env "$bench" "$w" "$tls" "$count" | ops)
        else
            y=$(env BENCH_TLS="$work/ca.crt" $tls_env "$bench" "$w" "$tls" "$count" | ops)
            x=$("$bench" "$w" "$plain" "$count" | ops)
        fi
        ps+="$x"$'\n' ts+="$y"$'\n' rs+="$(echo "$y / $x" | bc -l)"$'\n'
    done
    p=$(printf '%s' "$ps" | median) t=$(printf '%s' "$ts" | median) ratio=$(printf '%s' "$rs" | median)
}
printf '%-22s %14s %14s %8s   (medians of %d rounds; ratio: median of per-round ratios)\n' workload "plain ops/s" "TLS ops/s" "TLS/plain" "$rounds"
for w in get set multiget; do
    compare "$w" "$n" ""
    printf '%-22s %14.0f %14.0f %8.2f\n' "$w" "$p" "$t" "$ratio"
done
r=$((n / 20))
compare reconnect "$r" ""
printf '%-22s %14.0f %14.0f %8.2f\n' "reconnect (resumed)" "$p" "$t" "$ratio"
compare reconnect "$r" BENCH_TLS_RESUME=0
printf '%-22s %14.0f %14.0f %8.2f\n' "reconnect (full hs)" "$p" "$t" "$ratio"

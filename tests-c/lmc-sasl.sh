#!/usr/bin/env bash
# lmc-sasl.sh - tests-c/lmc_sasl.c built against Debian's libmemcached headers and run twice
# against a throwaway SASL memcached (memcached -S, PLAIN, its own sasldb) and one without
# SASL: with Debian's libmemcached.so.11 and with ours (LD_LIBRARY_PATH=build/libmemcached,
# LD_BIND_NOW=1). The transcripts must be the same (pointers and source locations in error
# texts compared as fields, and the words libmemcached adds after a code), except for the
# deliberate differences below, which are checked on both libraries. VALGRIND=1 also runs ours
# under valgrind (no errors, no definite leaks). Needs sasl2-bin (saslpasswd2); without it, or
# without a SASL-enabled memcached, it says SKIP and exits 0.
#
# Deliberate difference (documented in src/ffi/libmemcached/sasl.rs):
#  - credentials the server refused: 1.1.4 answers SERVER_TEMPORARILY_DISABLED (47) forever
#    after the first AUTHENTICATION_FAILURE (41), whatever RETRY_TIMEOUT says, until new
#    credentials are set; ours tries the server again after RETRY_TIMEOUT (41 again).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "lmc-sasl: $lib/libmemcached.so.11 missing (make)"; exit 2; }
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
# shellcheck source=compat-tests/sasl-server.sh
. "$root/compat-tests/sasl-server.sh"
if ! have_sasl_memcached; then
    echo "SKIP  lmc-sasl: needs saslpasswd2 (apt-get install sasl2-bin) and memcached with SASL"
    exit 0
fi
tmp=$(mktemp -d); pids=""
chmod 711 "$tmp"   # memcached runs as nobody and reads its sasldb below it
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
cc -O1 -g -Wall -Wextra -Werror -o "$tmp/lmc_sasl" "$root/tests-c/lmc_sasl.c" -lmemcached \
    || { echo "lmc-sasl: lmc_sasl.c does not compile (libmemcached-dev?)"; exit 2; }
user=omcache-sasl pass='pa55 w0rd'
sasl_port=$(free_port)
start_sasl_memcached "$sasl_port" "$user" "$pass" "$tmp/sasl" \
    || { echo "lmc-sasl: memcached -S on $sasl_port did not start"; cat "$tmp/sasl/memcached.log"; exit 2; }
plain_port=$(free_port)
start_memcached "$plain_port" || { echo "lmc-sasl: memcached on $plain_port did not start"; exit 2; }
norm() {
    sed -E 's/\(0x[0-9a-f]+\)/(PTR)/g; s/ -> [^ ]+$/ -> (LOCATION)/;
            s/^(  message [^,]*),.*(,  host: .*)$/\1\2/'
}
run() { "$@" "$tmp/lmc_sasl" "$sasl_port" "$plain_port" "$user" "$pass" 2>&1 | norm; }
run env LD_BIND_NOW=1 > "$tmp/real.txt"
run env LD_LIBRARY_PATH="$lib" LD_BIND_NOW=1 > "$tmp/ours.txt"
fail=0
# The deliberate difference: each library's own answer, checked, then left out of the diff.
known='^set after retry timeout '
expect() { # FILE LABEL CODE
    if grep -E "^$2 +rc +$3 " "$1" > /dev/null; then return 0; fi
    echo "FAIL  lmc_sasl: $(basename "$1" .txt) library: '$2' is not rc $3:"; grep -E "^$2 " "$1"; fail=1
}
expect "$tmp/real.txt" "set after retry timeout" 47
expect "$tmp/ours.txt" "set after retry timeout" 41
grep -Ev "$known" "$tmp/real.txt" > "$tmp/real-same.txt"
grep -Ev "$known" "$tmp/ours.txt" > "$tmp/ours-same.txt"
n=$(wc -l < "$tmp/real-same.txt")
if [ "$n" -lt 60 ]; then
    echo "FAIL  lmc_sasl: the real library's transcript is short ($n lines):"; cat "$tmp/real.txt"; fail=1
elif diff -u "$tmp/real-same.txt" "$tmp/ours-same.txt" > "$tmp/diff.txt"; then
    echo "PASS  lmc_sasl: $n lines, same transcript on the real library and on ours (+1 known difference checked)"
else
    echo "FAIL  lmc_sasl:"; head -60 "$tmp/diff.txt"; fail=1
fi
if [ "${VALGRIND:-0}" = 1 ]; then
    if LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$tmp/lmc_sasl" "$sasl_port" "$plain_port" "$user" "$pass" \
        > /dev/null 2> "$tmp/vg.txt"; then
        echo "PASS  lmc_sasl under valgrind: no errors, no definite leaks"
    else
        echo "FAIL  lmc_sasl under valgrind:"; head -40 "$tmp/vg.txt"; fail=1
    fi
fi
exit $fail

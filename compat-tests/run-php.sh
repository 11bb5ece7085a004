#!/usr/bin/env bash
# run-php.sh - Debian's PHP memcached extension (php8.2-memcached, unchanged) on Debian's
# libmemcached.so.11 and on ours (LD_LIBRARY_PATH, LD_BIND_NOW=1: every import must resolve).
#  1. compat-tests/php_scenario.php (set/get/getMulti/add/replace/append/prepend/cas/
#     increment/decrement/delete/touch, text and binary protocol, OPT_LIBKETAMA_COMPATIBLE,
#     getStats, getVersion, getResultCode/Message, %-keys, a dead server) on each library,
#     outputs compared.
#  2. Issue 14: 10,000 keys (with %-characters) just written over 3 servers, getAllKeys() with
#     each library: ours must list 10,000/10,000. Then one server stopped: memcached_dump
#     (lmc_dump_count.c) must still hand ours the other servers' keys and return a failure;
#     PHP's getAllKeys() must report the failure in getResultCode() (it returns false then).
#  3. PHP sessions (session.save_handler=memcached, save_path on two servers: php-memcached's
#     session defaults are binary protocol, ketama, locking and a prefix, with its own
#     allocators and user data): compat-tests/php_session.php on each library, outputs
#     compared; then a session written by one library is continued by the other.
# SKIP (exit 0) without php, the extension or Debian's libmemcached; with imports ours lacks
# (listed). Exit 1 on a difference.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
ext=/usr/lib/php/20220829/memcached.so
skip() { echo "SKIP  run-php: $*"; exit 0; }
command -v php >/dev/null || skip "php is not installed"
php -r 'exit(class_exists("Memcached") ? 0 : 1);' 2>/dev/null || skip "the memcached extension is not loaded"
[ -e "$lib/libmemcached.so.11" ] || { echo "run-php: $lib/libmemcached.so.11 missing (make)"; exit 1; }
command -v memcached >/dev/null || skip "memcached is not installed"
if [ -e "$ext" ]; then
    missing=$(comm -23 <(nm -D --undefined-only "$ext" | awk '$2 ~ /^memcached|^libmemcached/ {print $2}' | sort -u) \
                       <(nm -D --defined-only "$lib/libmemcached.so.11" | awk '{print $3}' | sort -u))
    [ -z "$missing" ] || skip "imports missing from our libmemcached.so.11: $(echo $missing)"
fi
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$1" || { echo "run-php: memcached on $1 did not start"; exit 1; }; }
real() { LD_BIND_NOW=1 "$@" 2>&1; }
ours() { LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 "$@" 2>&1; }
fail=0

# 1. The scenario.
p1=$(free_port); p2=$(free_port); p3=$(free_port); dead=$(free_port)
start "$p1"; start "$p2"; start "$p3"
real php "$root/compat-tests/php_scenario.php" "$p1" "$p2" "$p3" "$dead" > "$tmp/real.txt"
ours php "$root/compat-tests/php_scenario.php" "$p1" "$p2" "$p3" "$dead" > "$tmp/ours.txt"
if ! grep -q '^== end' "$tmp/real.txt"; then
    echo "FAIL  php scenario did not finish on Debian's libmemcached:"; tail -5 "$tmp/real.txt"; fail=1
elif diff -u "$tmp/real.txt" "$tmp/ours.txt" > "$tmp/diff.txt"; then
    echo "PASS  php scenario: $(wc -l < "$tmp/real.txt") lines, same output on Debian's libmemcached and ours"
else
    echo "FAIL  php scenario:"; head -60 "$tmp/diff.txt"; fail=1
fi

# 2. getAllKeys after 10,000 writes over 3 fresh servers.
q1=$(free_port); q2=$(free_port); q3=$(free_port)
start "$q1"; start "$q2"; start "$q3"; q3_pid=$last_pid
n=10000
allkeys="$root/compat-tests/php_allkeys.php"
w=$(real php "$allkeys" write $n "$q1" "$q2" "$q3")
[ "$w" = "written=$n" ] || { echo "FAIL  getAllKeys: could not write the keys: $w"; fail=1; }
r=$(real php "$allkeys" list $n "$q1" "$q2" "$q3"); o=$(ours php "$allkeys" list $n "$q1" "$q2" "$q3")
echo "INFO  getAllKeys, Debian's libmemcached: ${r//$'\n'/; }"
echo "INFO  getAllKeys, ours:                  ${o//$'\n'/; }"
if grep -q "^listed=$n matched=$n expected=$n code=0 " <<<"$o" && grep -q "^readback=50/50" <<<"$o"; then
    echo "PASS  getAllKeys: ours lists $n/$n keys (%-keys read back)"
else
    echo "FAIL  getAllKeys: ours should list $n/$n"; fail=1
fi
cc -O1 -Wall -Wextra -Werror -o "$tmp/dump_count" "$root/compat-tests/lmc_dump_count.c" -lmemcached \
    || { echo "run-php: lmc_dump_count.c does not compile (libmemcached-dev?)"; exit 1; }
kill "$q3_pid"; wait "$q3_pid" 2>/dev/null
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$q3") 2>/dev/null || break; sleep 0.05; done
r=$(real php "$allkeys" list $n "$q1" "$q2" "$q3"); o=$(ours php "$allkeys" list $n "$q1" "$q2" "$q3")
echo "INFO  getAllKeys, a server stopped, Debian's libmemcached: ${r//$'\n'/; }"
echo "INFO  getAllKeys, a server stopped, ours:                  ${o//$'\n'/; }"
live=$(sed -n 's/.* expected=\([0-9]*\) .*/\1/p' <<<"$o")
if grep -q "^listed=-1 .* code=\(3\|47\|35\) " <<<"$o"; then
    echo "PASS  getAllKeys with a server stopped: ours reports the failure (getResultCode $(sed -n 's/.* code=\([0-9]*\) .*/\1/p' <<<"$o"); PHP returns false on it)"
else
    echo "FAIL  getAllKeys with a server stopped: ours should report a failure"; fail=1
fi
rd=$(real "$tmp/dump_count" "$q1" "$q2" "$q3"); od=$(ours "$tmp/dump_count" "$q1" "$q2" "$q3")
echo "INFO  memcached_dump, a server stopped, Debian's libmemcached: $rd"
echo "INFO  memcached_dump, a server stopped, ours:                  $od"
if [ -n "$live" ] && grep -q "^dump keys=$live rc=[1-9]" <<<"$od"; then
    echo "PASS  memcached_dump with a server stopped: ours hands out the $live keys of the live servers and fails"
else
    echo "FAIL  memcached_dump with a server stopped: ours should hand out the ${live:-?} live keys and fail"; fail=1
fi

# 3. sessions
s1=$(free_port); s2=$(free_port); start "$s1"; start "$s2"
sess=(-d session.save_handler=memcached -d "session.save_path=127.0.0.1:$s1,127.0.0.1:$s2"
      -d session.use_cookies=0 -d session.cache_limiter=)
real php "${sess[@]}" "$root/compat-tests/php_session.php" sess-real 3 >"$tmp/sess-real.txt"
ours php "${sess[@]}" "$root/compat-tests/php_session.php" sess-ours 3 >"$tmp/sess-ours.txt"
if diff -u <(sed 's/sess-real/ID/g' "$tmp/sess-real.txt") <(sed 's/sess-ours/ID/g' "$tmp/sess-ours.txt") &&
   grep -q "read only: count 3, blob 2048 bytes of D" "$tmp/sess-ours.txt"; then
    echo "PASS  php sessions: $(wc -l < "$tmp/sess-ours.txt") lines, same on Debian's libmemcached and ours (3 locked requests, read-only, destroy)"
else
    echo "FAIL  php sessions differ (or ours did not count to 3): $(head -c 300 "$tmp/sess-ours.txt")"; fail=1
fi
# A session written through Debian's library continued through ours, and back.
ours php "${sess[@]}" "$root/compat-tests/php_session.php" sess-real 2 >"$tmp/sess-cross1.txt"
real php "${sess[@]}" "$root/compat-tests/php_session.php" sess-ours 1 >"$tmp/sess-cross2.txt"
if grep -q "read only: count 5," "$tmp/sess-cross1.txt" && grep -q "read only: count 4," "$tmp/sess-cross2.txt"; then
    echo "PASS  php sessions cross: Debian's session continued by ours (count 5) and ours by Debian's (count 4)"
else
    echo "FAIL  php sessions cross: $(grep 'read only' "$tmp/sess-cross1.txt" "$tmp/sess-cross2.txt" | tr '\n' ' ')"; fail=1
fi
exit $fail

#!/usr/bin/env bash
# Debian's libmemcached-tools run twice through the same scenario: with Debian's
# libmemcached.so.11 and with ours substituted (LD_LIBRARY_PATH, LD_BIND_NOW=1, so every
# import must resolve). Standard output, standard error and exit codes must be the same;
# pointers and libmemcached's source locations in error messages are compared as fields.
# Tools covered so far: the ones whose imports our libmemcached.so.11 provides (memccat,
# memccp, memcrm, memcexist, memctouch, memcflush, memcerror, memcslap, memcparse, memcstat,
# memcping, and memcaslap below; memcdump has compat-tests/run-dump.sh), over text, binary,
# and with --username/--password against a SASL server (sasl2-bin; skipped without it). memcslap's timings are compared as fields; memcslap against a dead server is left
# out (its keys are random, and our mget connects lazily: SUCCESS, then the fetch fails, where
# the real one connects within the mget and returns the failure).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
[ -e "$lib/libmemcached.so.11" ] || { echo "run-tools: $lib/libmemcached.so.11 missing (make)"; exit 1; }
command -v memccat >/dev/null || { echo "run-tools: libmemcached-tools is not installed"; exit 1; }
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
start() { start_memcached "$1" || { echo "run-tools: memcached on $1 did not start"; exit 1; }; }
p1=$(free_port); p2=$(free_port); dead=$(free_port)
start "$p1"; start "$p2"
servers="127.0.0.1:$p1,127.0.0.1:$p2"
printf 'first value\n' > "$tmp/alpha"; printf 'second\r\nwith CRLF\n' > "$tmp/beta"; : > "$tmp/empty"
# One scenario: a list of tool invocations, run in order against fresh servers' state.
scenario() {
    local mode=$1; shift
    local b=""; [ "$mode" = binary ] && b=--binary
    cat <<S
memcflush --servers=$servers $b
memccp --servers=$servers $b $tmp/alpha $tmp/beta $tmp/empty
memccat --servers=$servers $b alpha beta empty
memccat --servers=$servers $b nosuchkey
memcexist --servers=$servers $b alpha
memcexist --servers=$servers $b nosuchkey
memctouch --servers=$servers $b --expire=100 alpha
memctouch --servers=$servers $b nosuchkey
memccp --servers=$servers $b --add $tmp/alpha
memccp --servers=$servers $b --replace $tmp/alpha
memccp --servers=$servers $b --replace $tmp/empty2
memcrm --servers=$servers $b beta
memcrm --servers=$servers $b beta
memccat --servers=$servers $b beta alpha
memccat --servers=127.0.0.1:$dead $b alpha
memcrm --servers=127.0.0.1:$dead $b alpha
memcexist --servers=127.0.0.1:$dead $b alpha
memcflush --servers=127.0.0.1:$dead $b
memccat --servers=$servers $b --nonsense-option alpha
memccp --servers=$servers $b --hash=MD5 $tmp/alpha
memccat --servers=$servers $b --hash=MD5 alpha
memccat --servers=$servers $b --hash=FNV1A_32 alpha
memccat --servers=$servers $b --hash=NO_SUCH_HASH alpha
memcslap --servers=$servers $b --flush --test=set --concurrency=2 --execute-number=50
memcslap --servers=$servers $b --test=get --concurrency=3 --execute-number=40
memcslap --servers=$servers $b -v --test=mget --concurrency=3 --execute-number=40
memcslap --servers=$servers $b --test=mget --concurrency=1 --execute-number=300
memcslap --servers=127.0.0.1:$p1 $b --test=mget --concurrency=2 --execute-number=20
memcslap --servers=$servers $b -d --flush --test=mget --concurrency=2 --execute-number=10
memcstat --servers=$servers $b
memcstat --servers=$servers $b --server-version
memcstat --servers=$servers $b --analyze
memcstat --servers=$servers $b --args=settings
memcstat --servers=127.0.0.1:$dead $b
memcping --servers=$servers
memcping --servers=127.0.0.1:$p1,127.0.0.1:$dead
memcping -v --servers=127.0.0.1:$dead
memcerror 0
memcerror 16
memcerror 47
memcerror 49
memcparse --SERVER=localhost:11211
memcparse --SERVER=127.0.0.1:11211/?3 --DISTRIBUTION=consistent --HASH=MD5
memcparse --SERVER=a
memcparse --FOO
memcparse --NAMESPACE=cfg:
memcparse --NAMESPACE=x --NAMESPACE=y
memcparse --BINARY-PROTOCOL --VERIFY-KEY
memcparse --CONFIGURE-FILE=/nonexistent/omcache.cfg
S
}
# Against a server that requires SASL (memcached -S, PLAIN): every tool with --username and
# --password, right and wrong credentials, none at all. The tools set BINARY_PROTOCOL after
# the credentials, so they work only with --binary (without, 1.1.4 refuses SASL over ASCII:
# INVALID_ARGUMENTS, then the server is disabled); memcdump and memcstat fail with them on the
# real library (NOT_SUPPORTED / INVALID_ARGUMENTS): so must they on ours.
scenario_sasl() {
    local s="--servers=127.0.0.1:$sasl_port" u="--username=$sasl_user" p="--password=$sasl_pass"
    cat <<S
memcflush $s --binary $u $p
memccp $s --binary $u $p $tmp/alpha $tmp/beta $tmp/empty
memccat $s --binary $u $p alpha beta empty
memccat $s --binary $u $p nosuchkey
memcexist $s --binary $u $p alpha
memcexist $s --binary $u $p nosuchkey
memctouch $s --binary $u $p --expire=100 alpha
memctouch $s --binary $u $p nosuchkey
memccp $s --binary $u $p --add $tmp/alpha
memccp $s --binary $u $p --replace $tmp/beta
memcrm $s --binary $u $p beta
memcrm $s --binary $u $p beta
memccat $s --binary $u $p beta alpha
memcslap $s --binary $u $p --flush --test=set --concurrency=2 --execute-number=50
memcslap $s --binary $u $p --test=get --concurrency=2 --execute-number=40
memcslap $s --binary $u $p --test=mget --concurrency=1 --execute-number=100
memcping $s $u $p
memcping $s --binary $u $p
memcdump $s $u $p
memcdump $s --binary $u $p
memcstat $s $u $p
memcstat $s --binary $u $p
memccat $s --binary $u --password=wrong alpha
memccp $s --binary --username=nobody-here $p $tmp/alpha
memcrm $s --binary $u --password=wrong alpha
memcping $s $u --password=wrong
memccat $s --binary alpha
memccat $s $u $p alpha
memccp $s $u $p $tmp/alpha $tmp/beta
memcexist $s $u $p alpha
memcflush $s $u $p
memcflush $s --binary $u $p
S
}
# memcslap prints timings: seconds are compared as a field.
normalize() { sed -E 's/\(0x[0-9a-f]+\)/(PTR)/g; s/ -> [^ ]+$/ -> LOCATION/; s/ -> [^ ]+ *$/ -> LOCATION/; s/[0-9]+\.[0-9]+ seconds/N seconds/g'; }
run_all() {  # run_all real|ours MODE -> transcript
    local which=$1 mode=$2
    (
        cd "$tmp" || exit 1
        if [ "$which" = ours ]; then export LD_LIBRARY_PATH=$lib LD_BIND_NOW=1; else export LD_BIND_NOW=1; fi
        if [ "$mode" = sasl ]; then scenario_sasl; else scenario "$mode"; fi | while IFS= read -r cmd; do
            echo "\$ ${cmd//$tmp\//}"
            # shellcheck disable=SC2086
            out=$(timeout 20 $cmd 2>"$tmp/stderr"); rc=$?
            # memcstat prints the servers' counters, which the first library's run changes:
            # numbers are compared as fields.
            local numbers=""; case $cmd in memcstat*) numbers='s/[0-9]+/N/g' ;; esac
            printf '%s\n' "$out" | normalize | sed -E "$numbers"
            normalize < "$tmp/stderr" | sed 's/^/stderr: /' | sed -E "$numbers"
            echo "exit $rc"
        done
    )
}
passed=0; failed=0
modes="text binary"
# shellcheck source=compat-tests/sasl-server.sh
. "$root/compat-tests/sasl-server.sh"
if have_sasl_memcached; then
    chmod 711 "$tmp"   # memcached -S runs as nobody and reads its sasldb below it
    sasl_port=$(free_port) sasl_user=omcache-tools sasl_pass=tools-pa55
    start_sasl_memcached "$sasl_port" "$sasl_user" "$sasl_pass" "$tmp/sasl" \
        || { echo "run-tools: memcached -S on $sasl_port did not start"; exit 1; }
    modes="$modes sasl"
else
    echo "SKIP  tools (SASL): needs saslpasswd2 (apt-get install sasl2-bin) and memcached with SASL"
fi
for mode in $modes; do
    run_all real "$mode" > "$tmp/real-$mode.txt"
    run_all ours "$mode" > "$tmp/ours-$mode.txt"
    n=$(grep -c '^\$' "$tmp/real-$mode.txt")
    if [ "$mode" = sasl ] && ! grep -q '^first value' "$tmp/real-$mode.txt"; then
        # Same output is not enough: the authenticated tools must have worked.
        echo "FAIL  tools ($mode): the real library's authenticated memccat printed no value:"
        head -40 "$tmp/real-$mode.txt"; failed=$((failed + 1))
    elif diff -u "$tmp/real-$mode.txt" "$tmp/ours-$mode.txt" > "$tmp/diff-$mode.txt"; then
        echo "PASS  tools ($mode): $n invocations, same output and exit codes"
        passed=$((passed + 1))
    else
        echo "FAIL  tools ($mode):"; head -40 "$tmp/diff-$mode.txt"
        failed=$((failed + 1))
    fi
done
# memcaslap (imports memcached_servers_parse, memcached_server_list_count, memcached_server_free
# only; the load itself is its own code): a short fixed scenario, its counts and settings
# compared (its timings and rates are not).
caslap() {  # caslap real|ours
    local env=(LD_BIND_NOW=1); [ "$1" = ours ] && env+=(LD_LIBRARY_PATH=$lib)
    env "${env[@]}" timeout 60 memcaslap --servers="$servers" --execute_number=2000 --concurrency=2 \
        --threads=1 2>&1 | grep -E '^(servers|threads count|concurrency|execute number|windows size|set proportion|get proportion|cmd_get|cmd_set):'
    echo "exit ${PIPESTATUS[0]}"
}
if command -v memcaslap >/dev/null; then
    caslap real > "$tmp/caslap-real.txt"; caslap ours > "$tmp/caslap-ours.txt"
    if diff -u "$tmp/caslap-real.txt" "$tmp/caslap-ours.txt" > "$tmp/diff-caslap.txt" && grep -q '^cmd_get' "$tmp/caslap-real.txt"; then
        echo "PASS  memcaslap: same settings, command counts and exit code"; passed=$((passed + 1))
    else
        echo "FAIL  memcaslap:"; head -20 "$tmp/diff-caslap.txt"; failed=$((failed + 1))
    fi
fi
echo "covered elsewhere: memcdump (compat-tests/run-dump.sh)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

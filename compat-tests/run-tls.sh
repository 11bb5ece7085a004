#!/usr/bin/env bash
# run-tls.sh - TLS through our libmemcached.so.11 for programs that are not changed: Debian's
# memccp/memccat/memcrm/memcexist/memcflush, python3-pylibmc and php8.2-memcached, with our
# library substituted (LD_LIBRARY_PATH=build/libmemcached LD_BIND_NOW=1) and only the
# OMCACHE_TLS* environment set, against `memcached -Z` servers on 127.0.0.1 with a throwaway
# CA made by openssl. What they store is checked through an independent TLS client
# (`openssl s_client`). Also: mutual TLS, a wrong CA and an unreadable CA file (the tool fails
# with the reason, nothing stored), a broken environment, the tools with the environment
# unset against a plain memcached (the same transcript as with Debian's library), and
# tests-c/lmc_tls.c (the configuration-string options).
# VALGRIND=1 also runs lmc_tls under valgrind (no errors, no definite leaks).
# Prints PASS/FAIL per step; exits 1 on a failure, 2 when something needed is missing.
# Needs: memcached (Debian's, built with TLS), openssl, libmemcached-tools, libmemcached-dev,
# python3-pylibmc; php8.2-cli + php8.2-memcached optional (skipped without).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${OMCACHE_LMC_DIR:-$root/build/libmemcached}
die() { echo "run-tls: $*"; exit 2; }
[ -e "$lib/libmemcached.so.11" ] || die "$lib/libmemcached.so.11 missing (make)"
command -v memccp >/dev/null || die "libmemcached-tools is not installed"
command -v openssl >/dev/null || die "openssl is not installed"
memcached -h 2>/dev/null | grep -q enable-ssl || die "memcached has no TLS (-Z)"
/usr/bin/python3 -c 'import pylibmc' 2>/dev/null || die "python3-pylibmc is not installed"
tmp=$(mktemp -d); pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
# Nothing of the caller's environment may leak into the runs.
unset OMCACHE_TLS OMCACHE_TLS_CA_FILE OMCACHE_TLS_CERT OMCACHE_TLS_KEY OMCACHE_TLS_SERVER_NAME
# shellcheck source=compat-tests/servers.sh
. "$root/compat-tests/servers.sh"
fail=0
pass() { echo "PASS  $*"; }
failed() { echo "FAIL  $*"; fail=1; }
verdict() { if [ "$1" = 0 ]; then pass "$2"; else failed "$2"; fi; }

# --- a throwaway PKI: a CA, another CA, a server certificate for 127.0.0.1, a client one
pki=$tmp/pki; mkdir "$pki"
ossl() { (cd "$pki" && openssl "$@") >"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log"; die "openssl $1 failed"; }; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
for ca in ca other-ca; do
    ossl req -x509 "${ec[@]}" -keyout $ca.key -out $ca.crt -days 2 -subj "/CN=run-tls $ca" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
done
issue() { # name, subject CN, extensions
    ossl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf '%s\n' "$3" > "$pki/$1.ext"
    ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -sha256 \
        -extfile "$1.ext" -out "$1.crt"
}
issue server 127.0.0.1 $'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1'
issue client "run-tls client" $'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth'
chmod -R a+rX "$tmp"   # memcached runs as nobody

# --- servers: TLS, TLS requiring a client certificate, plain
tls=$(free_port); mutual=$(free_port); plain=$(free_port)
start_memcached "$tls" -Z -o "ssl_chain_cert=$pki/server.crt,ssl_key=$pki/server.key" ||
    die "memcached -Z on $tls did not start"
start_memcached "$mutual" -Z -o "ssl_chain_cert=$pki/server.crt,ssl_key=$pki/server.key,ssl_ca_cert=$pki/ca.crt,ssl_verify_mode=2" ||
    die "memcached -Z (client certificates) on $mutual did not start"
start_memcached "$plain" || die "memcached on $plain did not start"

ours() { LD_LIBRARY_PATH=$lib LD_BIND_NOW=1 "$@"; }
# The value of KEY on the TLS server PORT, read by openssl (not by us); "" if none.
tls_get() { # port key [client cert args…]
    local port=$1 key=$2; shift 2
    printf 'get %s\r\nquit\r\n' "$key" |
        timeout 5 openssl s_client -quiet -connect "127.0.0.1:$port" \
            -CAfile "$pki/ca.crt" -verify_return_error "$@" 2>/dev/null |
        tr -d '\r' | sed -n '2p'
}
tls_put() { # port key value
    printf 'set %s 0 0 %d\r\n%s\r\nquit\r\n' "$2" "${#3}" "$3" |
        timeout 5 openssl s_client -quiet -connect "127.0.0.1:$1" \
            -CAfile "$pki/ca.crt" 2>/dev/null | tr -d '\r' | head -1
}
[ "$(tls_put "$tls" probe ok)" = STORED ] && [ "$(tls_get "$tls" probe)" = ok ] ||
    die "openssl s_client cannot talk to memcached -Z on $tls"

servers="--servers=127.0.0.1:$tls"
cd "$tmp" || die "no $tmp"
printf 'over tls\n' > "$tmp/alpha"

# --- the tools, text and binary, with only OMCACHE_TLS_CA_FILE set
for mode in text binary; do
    b=""; [ $mode = binary ] && b=--binary
    key=alpha
    export OMCACHE_TLS_CA_FILE=$pki/ca.crt
    tls_put "$tls" flushme x >/dev/null
    ours memcflush "$servers" $b >"$tmp/out" 2>&1
    [ $? = 0 ] && [ -z "$(tls_get "$tls" flushme)" ]; verdict $? "memcflush over TLS ($mode): gone for openssl"
    ours memccp "$servers" $b "$tmp/alpha" >"$tmp/out" 2>&1
    [ $? = 0 ] && [ "$(tls_get "$tls" $key)" = "over tls" ]
    verdict $? "memccp over TLS ($mode): openssl s_client reads what it stored"
    tls_put "$tls" beta "from openssl" >/dev/null
    out=$(ours memccat "$servers" $b beta 2>&1)
    [ "$out" = "from openssl" ]; verdict $? "memccat over TLS ($mode) reads what openssl stored"
    ours memcexist "$servers" $b alpha >/dev/null 2>&1; r1=$?
    ours memcexist "$servers" $b nosuchkey >/dev/null 2>&1; r2=$?
    [ $r1 = 0 ] && [ $r2 != 0 ]; verdict $? "memcexist over TLS ($mode): present 0, absent $r2"
    ours memcrm "$servers" $b alpha >"$tmp/out" 2>&1
    [ $? = 0 ] && [ -z "$(tls_get "$tls" alpha)" ]; verdict $? "memcrm over TLS ($mode): gone for openssl"
    unset OMCACHE_TLS_CA_FILE
done

# --- OMCACHE_TLS=1 alone trusts the system's roots only: our CA is not among them
OMCACHE_TLS=1 ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && grep -q "unknown authority" "$tmp/out" && [ -z "$(tls_get "$tls" alpha)" ]
verdict $? "OMCACHE_TLS=1 (system roots) refuses our throwaway CA: $(head -c 160 "$tmp/out")"
OMCACHE_TLS=1 SSL_CERT_FILE=$pki/ca.crt ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1
[ $? = 0 ] && [ "$(tls_get "$tls" alpha)" = "over tls" ]
verdict $? "OMCACHE_TLS=1 with SSL_CERT_FILE naming the CA stores"

# --- mutual TLS
export OMCACHE_TLS_CA_FILE=$pki/ca.crt
ms="--servers=127.0.0.1:$mutual"
OMCACHE_TLS_CERT=$pki/client.crt OMCACHE_TLS_KEY=$pki/client.key ours memccp "$ms" --binary "$tmp/alpha" >"$tmp/out" 2>&1
[ $? = 0 ] && [ "$(tls_get "$mutual" alpha -cert "$pki/client.crt" -key "$pki/client.key")" = "over tls" ]
verdict $? "mutual TLS: memccp with OMCACHE_TLS_CERT/KEY stores"
out=$(OMCACHE_TLS_CERT=$pki/client.crt OMCACHE_TLS_KEY=$pki/client.key ours memccat "$ms" alpha 2>&1)
[ "$out" = "over tls" ]; verdict $? "mutual TLS: memccat reads it back"
ours memccp "$ms" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && grep -q "TLS" "$tmp/out"
verdict $? "mutual TLS without a client certificate fails: $(head -c 160 "$tmp/out")"
unset OMCACHE_TLS_CA_FILE

# --- failures: never plaintext, nothing stored, a clear reason
memcflush_tls() { OMCACHE_TLS_CA_FILE=$pki/ca.crt ours memcflush "$servers" >/dev/null 2>&1; }
memcflush_tls
OMCACHE_TLS_CA_FILE=$pki/other-ca.crt ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && grep -q "unknown authority" "$tmp/out" && [ -z "$(tls_get "$tls" alpha)" ]
verdict $? "wrong CA: memccp fails, nothing stored: $(head -c 200 "$tmp/out")"
OMCACHE_TLS_CA_FILE=$pki/other-ca.crt ours memccat "$servers" alpha >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && grep -q "TLS: server certificate signed by an unknown authority" "$tmp/out"
verdict $? "wrong CA: memccat (a get over text) fails with the TLS reason: $(head -c 200 "$tmp/out")"
OMCACHE_TLS_CA_FILE=$tmp/no-such-ca.pem ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && grep -q "no-such-ca.pem" "$tmp/out" && [ -z "$(tls_get "$tls" alpha)" ]
verdict $? "unreadable CA file: memccp fails with its name: $(head -c 200 "$tmp/out")"
OMCACHE_TLS_CA_FILE=$pki/ca.crt OMCACHE_TLS_CERT=$pki/client.crt ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && grep -q "OMCACHE_TLS_CERT is set without OMCACHE_TLS_KEY" "$tmp/out" && [ -z "$(tls_get "$tls" alpha)" ]
verdict $? "certificate without key in the environment: fails with the reason: $(head -c 200 "$tmp/out")"
OMCACHE_TLS_CA_FILE=$pki/ca.crt ours memccp "--servers=127.0.0.1:$plain" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
out=$(printf 'get alpha\r\nquit\r\n' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$plain; cat >&3; cat <&3" | head -1 | tr -d '\r')
[ $r != 0 ] && [ "$out" = END ] && grep -q "TLS" "$tmp/out"
verdict $? "TLS to a plain memcached fails, nothing stored in the clear: $(head -c 160 "$tmp/out")"
OMCACHE_TLS_CA_FILE= ours memccp "--servers=127.0.0.1:$plain" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
out=$(printf 'get alpha\r\nquit\r\n' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$plain; cat >&3; cat <&3" | head -1 | tr -d '\r')
[ $r != 0 ] && [ "$out" = END ] && grep -q "OMCACHE_TLS_CA_FILE is set but empty" "$tmp/out"
verdict $? "an empty OMCACHE_TLS_CA_FILE fails with the reason, nothing sent in the clear: $(head -c 160 "$tmp/out")"
OMCACHE_TLS_CA_FILE=$pki/ca.crt OMCACHE_TLS_SERVER_NAME=other.example ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && grep -q "not valid for the server's name" "$tmp/out" && [ -z "$(tls_get "$tls" alpha)" ]
verdict $? "OMCACHE_TLS_SERVER_NAME the certificate does not name: fails: $(head -c 200 "$tmp/out")"
OMCACHE_TLS_CA_FILE=$pki/ca.crt OMCACHE_TLS_SERVER_NAME=127.0.0.1 ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1
[ $? = 0 ] && [ "$(tls_get "$tls" alpha)" = "over tls" ]
verdict $? "OMCACHE_TLS_SERVER_NAME the certificate names: stores"
memcflush_tls
OMCACHE_TLS=0 OMCACHE_TLS_CA_FILE=$pki/ca.crt ours memccp "--servers=127.0.0.1:$plain" "$tmp/alpha" >"$tmp/out" 2>&1
verdict $? "OMCACHE_TLS=0 turns TLS off whatever else is set (plain server)"
ours memccp "$servers" "$tmp/alpha" >"$tmp/out" 2>&1; r=$?
[ $r != 0 ] && [ -z "$(tls_get "$tls" alpha)" ]
verdict $? "environment unset: no TLS, the TLS server stores nothing"

# --- environment unset: the tools against a plain memcached, as with Debian's library
scenario() {
    local s="--servers=127.0.0.1:$plain"
    for b in "" --binary; do
        echo "memcflush $s $b"
        echo "memccp $s $b $tmp/alpha"
        echo "memccat $s $b alpha nosuchkey"
        echo "memcexist $s $b alpha"
        echo "memcexist $s $b nosuchkey"
        echo "memcrm $s $b alpha"
        echo "memcrm $s $b alpha"
        echo "memccat --servers=127.0.0.1:$(free_port) $b alpha"
    done
}
scenario > "$tmp/scenario"
transcript() { # "" for Debian's library, else ours
    while read -r line; do
        echo "\$ $line"
        # shellcheck disable=SC2086
        if [ -n "$1" ]; then ours $line 2>&1; else LD_BIND_NOW=1 $line 2>&1; fi
        echo "exit $?"
    done < "$tmp/scenario" | sed -E 's/\(0x[0-9a-f]+\)/(PTR)/g; s/ -> [^ ]+$/ -> LOCATION/'
}
transcript "" > "$tmp/real.txt"; transcript ours > "$tmp/ours.txt"
diff -u "$tmp/real.txt" "$tmp/ours.txt" > "$tmp/diff" 
verdict $? "environment unset: $(grep -c '^\$' "$tmp/real.txt") tool runs against plain memcached, same transcript as Debian's libmemcached"
[ -s "$tmp/diff" ] && head -30 "$tmp/diff"

# --- python3-pylibmc, unchanged, environment only
cat > "$tmp/pylibmc_tls.py" <<'PY'
import sys, pylibmc
port, binary = sys.argv[1], sys.argv[2] == "binary"
mc = pylibmc.Client(["127.0.0.1:" + port], binary=binary)
mc.set("py:" + sys.argv[2], "pylibmc over tls")
mc.set_multi({"py:a": "1", "py:b": "2"})
assert mc.get("py:" + sys.argv[2]) == "pylibmc over tls"
assert mc.get_multi(["py:a", "py:b", "py:none"]) == {"py:a": "1", "py:b": "2"}
pool = pylibmc.ClientPool(mc, 2)
with pool.reserve() as clone:   # memcached_clone
    assert clone.get("py:a") == "1"
print("ok")
PY
for mode in text binary; do
    out=$(OMCACHE_TLS_CA_FILE=$pki/ca.crt ours /usr/bin/python3 "$tmp/pylibmc_tls.py" "$tls" $mode 2>&1)
    [ "$out" = ok ] && [ "$(tls_get "$tls" "py:$mode")" = "pylibmc over tls" ]
    verdict $? "pylibmc over TLS ($mode, clone included); openssl reads it: $(tail -c 200 <<<"$out")"
done
out=$(OMCACHE_TLS_CA_FILE=$pki/ca.crt OMCACHE_TLS_CERT=$pki/client.crt OMCACHE_TLS_KEY=$pki/client.key \
    ours /usr/bin/python3 "$tmp/pylibmc_tls.py" "$mutual" binary 2>&1)
[ "$out" = ok ]; verdict $? "pylibmc over mutual TLS: $(tail -c 200 <<<"$out")"
out=$(OMCACHE_TLS_CA_FILE=$pki/other-ca.crt ours /usr/bin/python3 -c '
import sys, pylibmc
mc = pylibmc.Client(["127.0.0.1:" + sys.argv[1]])
try:
    mc.set("py:wrong", "x"); print("stored")
except pylibmc.Error as e:
    print(type(e).__name__, e)' "$tls" 2>&1)
grep -q "unknown authority" <<<"$out" && [ -z "$(tls_get "$tls" py:wrong)" ]
verdict $? "pylibmc with a wrong CA raises: $(head -c 200 <<<"$out")"

# --- php8.2-memcached, unchanged, environment only (optional)
if command -v php >/dev/null && php -m 2>/dev/null | grep -qx memcached; then
    out=$(OMCACHE_TLS_CA_FILE=$pki/ca.crt ours php -r '
        $m = new Memcached(); $m->addServer("127.0.0.1", (int)$argv[1]);
        $m->set("php:key", "php over tls");
        echo $m->get("php:key"), "|", $m->getResultCode();' "$tls" 2>&1)
    [ "$out" = "php over tls|0" ] && [ "$(tls_get "$tls" php:key)" = "php over tls" ]
    verdict $? "php-memcached over TLS; openssl reads it: $(head -c 200 <<<"$out")"
else
    echo "SKIP  php-memcached (php8.2-cli, php8.2-memcached not installed)"
fi

# --- the configuration-string options (tests-c/lmc_tls.c, run with ours)
if cc -O1 -Wall -Wextra -Werror -o "$tmp/lmc_tls" "$root/tests-c/lmc_tls.c" -lmemcached; then
    ours "$tmp/lmc_tls" "$tls" "$mutual" "$pki"; verdict $? "tests-c/lmc_tls.c (configuration-string options)"
    OMCACHE_TLS_CA_FILE=$pki/ca.crt ours "$tmp/lmc_tls" "$tls" "$mutual" "$pki" env
    verdict $? "tests-c/lmc_tls.c env (configuration strings meet the environment)"
    if [ "${VALGRIND:-0}" = 1 ]; then
        # valgrind cannot follow ring's AES-GCM assembly: it takes what it decrypts (checked
        # in open_within) and what it encrypts (sent by rustls) for uninitialised bytes.
        cat > "$tmp/ring.supp" <<'SUPP'
{
   ring_aead_open_assembly
   Memcheck:Cond
   ...
   fun:*ring*aead*
}
{
   ring_aead_sealed_record_sent
   Memcheck:Param
   socketcall.sendto(msg)
   ...
   fun:*rustls*ChunkVecBuffer*write_to*
}
SUPP
        if ours valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --suppressions="$root/tests-c/valgrind.supp" --suppressions="$tmp/ring.supp" \
            "$tmp/lmc_tls" "$tls" "$mutual" "$pki" > /dev/null 2> "$tmp/vg.txt"; then
            pass "lmc_tls under valgrind: no errors, no definite leaks"
        else
            failed "lmc_tls under valgrind:"; head -40 "$tmp/vg.txt"
        fi
    fi
else
    failed "tests-c/lmc_tls.c does not compile (libmemcached-dev?)"
fi

exit $fail

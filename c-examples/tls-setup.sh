#!/usr/bin/env bash
# tls-setup.sh - throwaway certificates and `memcached -Z` servers for the TLS
# C example (c-examples/tls.c), sourced by c-examples/run.sh and
# tests-c/memcheck.sh.
#
#   tls_setup DIR SERVERS_SH
#       Makes, in DIR/tls: a CA (ca.crt), a second, unrelated CA (other-ca.crt),
#       a server certificate for 127.0.0.1 and localhost signed by the CA
#       (server.crt, server.key) and a client certificate (client.crt,
#       client.key); starts two memcached -Z servers on free 127.0.0.1 ports
#       with SERVERS_SH (recorded in DIR, so "SERVERS_SH stop DIR" ends them):
#       one that asks for no client certificate and one that requires one
#       signed by the CA (ssl_verify_mode=2).  Sets TLS_SERVER, MTLS_SERVER and
#       TLS_DIR and returns 0; or sets TLS_SKIP to the reason and returns 1 when
#       openssl or a TLS-enabled memcached is missing (or a step fails).

tls_setup() {
    local dir=$1 servers_sh=$2 d
    TLS_SERVER="" MTLS_SERVER="" TLS_DIR="" TLS_SKIP=""
    if ! command -v openssl >/dev/null 2>&1; then
        TLS_SKIP="openssl not found (Debian: apt-get install openssl)"
        return 1
    fi
    if ! memcached -h 2>/dev/null | grep -q -- '--enable-ssl'; then
        TLS_SKIP="memcached without TLS support (-Z)"
        return 1
    fi
    d=$dir/tls
    mkdir -p "$d" || { TLS_SKIP="cannot create $d"; return 1; }
    if ! tls_make_certs "$d" >"$d/openssl.log" 2>&1; then
        TLS_SKIP="openssl failed (see $d/openssl.log)"
        return 1
    fi
    # memcached drops to nobody when started as root: it must reach the files.
    chmod a+x "$dir" "$d" && chmod a+r "$d"/*.crt "$d"/*.key
    local certs="ssl_chain_cert=$d/server.crt,ssl_key=$d/server.key"
    TLS_SERVER=$("$servers_sh" start "$dir" 1 -Z -o "$certs") ||
        { TLS_SKIP="memcached -Z did not start"; return 1; }
    MTLS_SERVER=$("$servers_sh" start "$dir" 1 -Z \
                  -o "$certs,ssl_ca_cert=$d/ca.crt,ssl_verify_mode=2") ||
        { TLS_SKIP="memcached -Z (client certificates required) did not start"; return 1; }
    TLS_DIR=$d
    return 0
}

# tls_make_certs DIR: P-256 keys, certificates valid for 30 days.
tls_make_certs() {
    local d=$1 ca name
    for ca in ca other-ca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$ca.key" -out "$d/$ca.crt" -days 30 -subj "/CN=omcache example $ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" || return 1
    done
    cat >"$d/ext.cnf" <<'EOF'
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
    for name in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=omcache example $name" ||
            return 1
        openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
            -CAcreateserial -days 30 -extfile "$d/ext.cnf" -extensions "$name" \
            -out "$d/$name.crt" || return 1
    done
}

# sasl-server.sh - sourced after servers.sh by the scripts that test SASL (tests-c/lmc-sasl.sh,
# compat-tests/run-tools.sh, compat-tests/run-pylibmc.sh): a throwaway memcached that requires
# SASL PLAIN (memcached -S, Cyrus SASL with its own sasldb; Debian's sasl2-bin for saslpasswd2).

# have_sasl_memcached: saslpasswd2 exists and memcached was built with SASL (-S accepted).
have_sasl_memcached() {
    command -v saslpasswd2 >/dev/null 2>&1 || return 1
    memcached -h 2>/dev/null | grep -q -- '--enable-sasl\|^-S'
}

# start_sasl_memcached PORT USER PASSWORD DIR: memcached on 127.0.0.1:PORT that accepts only
# USER/PASSWORD, mechanism PLAIN only (else libmemcached negotiates SCRAM), its sasldb and
# configuration in DIR (as root, memcached runs as nobody: DIR's parents must let it through).
# Its pid is added to `pids` and left in `last_pid`. Fails after 5 s.
start_sasl_memcached() {
    local port=$1 user=$2 pass=$3 dir=$4
    mkdir -p "$dir"
    printf '%s' "$pass" | saslpasswd2 -a memcached -c -p -f "$dir/sasldb2" "$user" || return 1
    printf 'mech_list: plain\nsasldb_path: %s/sasldb2\n' "$dir" > "$dir/memcached.conf"
    local args=(-S -l 127.0.0.1 -p "$port" -U 0 -t 1)
    if [ "$(id -u)" = 0 ]; then
        args+=(-u nobody)
        chown nobody "$dir/sasldb2"
        chmod 755 "$dir"
    fi
    SASL_CONF_PATH=$dir memcached "${args[@]}" >"$dir/memcached.log" 2>&1 &
    last_pid=$!; pids="${pids:-} $last_pid"
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

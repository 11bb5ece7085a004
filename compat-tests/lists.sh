# shellcheck shell=bash
# lists.sh - the server lists of the keymap comparisons (sourced by run-keymap.sh and
# gen-lmc-vectors.sh). list_KIND N prints a comma-separated list of N servers.
#
# The lists are written out of sorted order on purpose, mix explicit and implied ports, and
# include entries whose string order differs from their numeric order (10.0.0.10 < 10.0.0.9),
# so that OMcache's sorting is exercised. Hosts are never resolved by either library here.

# IPv4, port omitted (11211), listed in reverse.
list_ipv4() {
    local n=$1 i out=()
    for ((i = n; i >= 1; i--)); do out+=("10.0.$((i / 200)).$((i % 200 + 1))"); done
    (IFS=,; echo "${out[*]}")
}

# Host names, explicit ports: 11211 for a third of them, others 11212 or 4000+i.
list_hosts() {
    local n=$1 i port out=()
    for ((i = 0; i < n; i++)); do
        case $((i % 3)) in
        0) port=11211 ;;
        1) port=11212 ;;
        *) port=$((4000 + i)) ;;
        esac
        out+=("cache-$(((i * 7) % 101)).example.com:$port")
    done
    (IFS=,; echo "${out[*]}")
}

# IPv6 in brackets: "[::1]" without a port first, then documentation-prefix addresses with
# alternating default and non-default ports.
list_ipv6() {
    local n=$1 i out=("[::1]")
    for ((i = 1; i < n; i++)); do
        if ((i % 2)); then
            out+=("[2001:db8::$(printf %x $((i * 37)))]:11211")
        else
            out+=("[2001:db8:0:1::$(printf %x "$i")]:$((11300 + i))")
        fi
    done
    (IFS=,; echo "${out[*]}")
}

# Everything at once: IPv4 with ports, names, IPv6, unix sockets (port 0), localhost.
list_mixed() {
    local n=$1 i out=()
    for ((i = 0; i < n; i++)); do
        case $((i % 5)) in
        0) out+=("192.168.$((i % 7)).$((i + 1)):$((11211 + i % 2))") ;;
        1) out+=("mc$i.internal") ;;
        2) out+=("[fd00::$(printf %x $((i + 1)))]:$((11211 + (i % 4) * 100))") ;;
        3) out+=("/var/run/memcached/mc$i.sock") ;;
        *) out+=("localhost:$((20000 + i))") ;;
        esac
    done
    (IFS=,; echo "${out[*]}")
}

#!/usr/bin/env bash
# check-symbols.sh - the dynamic symbol table of libomcache.so.0 must be
# exactly OMcache 0.3's: 38 functions and 3 data objects, each bound (as the
# default version, "@@") to its node OMCACHE_0.1 or OMCACHE_0.2, plus this
# library's TLS extension (6 functions @@OMCACHE_0.3), plus the three
# version-node names themselves; nothing else defined and exported (undefined
# imports are ignored).  Also checks the SONAME and the node inheritance.
#
# Usage: tests-c/check-symbols.sh [path/to/libomcache.so.0]
#        (default: <repo>/build/lib/libomcache.so.0; OBJDUMP overrides objdump)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lib=${1:-$root/build/lib/libomcache.so.0}
objdump=${OBJDUMP:-objdump}

fail() { echo "check-symbols: FAIL: $*" >&2; exit 1; }
[ -f "$lib" ] || fail "$lib does not exist (run make)"

v01_functions="omcache_init omcache_free omcache_strerror omcache_set_buffering
omcache_reset_buffers omcache_set_connect_timeout omcache_set_reconnect_timeout
omcache_set_dead_timeout omcache_set_send_buffer_max_size
omcache_set_recv_buffer_max_size omcache_set_response_callback omcache_set_servers
omcache_set_distribution_method omcache_set_log_callback omcache_log_stderr
omcache_command omcache_command_status omcache_io omcache_poll_fds
omcache_server_index_for_key omcache_server_info omcache_server_info_free
omcache_noop omcache_stat omcache_flush_all omcache_set omcache_add omcache_replace
omcache_increment omcache_decrement omcache_delete omcache_get omcache_get_multi"
v01_data="omcache_dist_libmemcached_ketama omcache_dist_libmemcached_ketama_weighted
omcache_dist_libmemcached_ketama_pre1010"
v02_functions="omcache_append omcache_prepend omcache_touch omcache_gat omcache_gat_multi"
v03_functions="omcache_set_tls omcache_set_tls_ca_file omcache_set_tls_client_cert
omcache_set_tls_server_name omcache_set_tls_session_resumption omcache_tls_error"

# One line per expected export: "<name> <version> <kind> <size or ->".
expected=$(
    {
        for s in $v01_functions; do echo "$s OMCACHE_0.1 function -"; done
        for s in $v01_data; do echo "$s OMCACHE_0.1 object 0x20"; done
        for s in $v02_functions; do echo "$s OMCACHE_0.2 function -"; done
        for s in $v03_functions; do echo "$s OMCACHE_0.3 function -"; done
        echo "OMCACHE_0.1 OMCACHE_0.1 node -"
        echo "OMCACHE_0.2 OMCACHE_0.2 node -"
        echo "OMCACHE_0.3 OMCACHE_0.3 node -"
    } | LC_ALL=C sort
)
[ "$(printf '%s\n' "$expected" | wc -l)" -eq 50 ] || fail "internal: expected list is not 47 + 3"

dump=$("$objdump" -T "$lib") || fail "objdump -T $lib failed"

# objdump -T rows: ADDRESS FLAGS... SECTION SIZE VERSION NAME.  A default
# ("@@") version prints bare, a hidden ("@") one in parentheses, so a
# parenthesised version does not match the expected list.
actual=$(printf '%s\n' "$dump" | awk '
    $1 ~ /^[0-9a-f]+$/ && length($1) >= 8 && $0 !~ /\*UND\*/ {
        name = $NF; ver = $(NF - 1); size = $(NF - 2); sect = $(NF - 3)
        kind = "other"
        if (sect == "*ABS*" && name == ver) kind = "node"
        else if ($0 ~ / DF /) kind = "function"
        else if ($0 ~ / DO /) kind = "object"
        if (kind == "object") { sub(/^0+/, "", size); size = "0x" size } else size = "-"
        print name, ver, kind, size
    }' | LC_ALL=C sort)

if [ "$actual" != "$expected" ]; then
    echo "check-symbols: exported symbols of $lib differ (< expected, > actual):" >&2
    diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") >&2 || true
    fail "symbol table mismatch"
fi

private=$("$objdump" -p "$lib") || fail "objdump -p $lib failed"
soname=$(printf '%s\n' "$private" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = "libomcache.so.0" ] || fail "SONAME is '$soname', expected libomcache.so.0"

# The version definitions: OMCACHE_0.2 must inherit OMCACHE_0.1.
defs=$(printf '%s\n' "$private" | awk '
    /^Version definitions:/ { in_defs = 1; next }
    in_defs && /^$/ { in_defs = 0 }
    in_defs { print }')
printf '%s\n' "$defs" | grep -qE '^[0-9]+ 0x[0-9a-f]+ 0x[0-9a-f]+ OMCACHE_0\.1[[:space:]]*$' ||
    fail "no OMCACHE_0.1 version definition"
printf '%s\n' "$defs" | grep -A1 -E '^[0-9]+ 0x[0-9a-f]+ 0x[0-9a-f]+ OMCACHE_0\.2[[:space:]]*$' |
    grep -qE '^[[:space:]]+OMCACHE_0\.1[[:space:]]*$' ||
    fail "OMCACHE_0.2 does not inherit OMCACHE_0.1"
printf '%s\n' "$defs" | grep -A1 -E '^[0-9]+ 0x[0-9a-f]+ 0x[0-9a-f]+ OMCACHE_0\.3[[:space:]]*$' |
    grep -qE '^[[:space:]]+OMCACHE_0\.2[[:space:]]*$' ||
    fail "OMCACHE_0.3 does not inherit OMCACHE_0.2"

echo "check-symbols: OK ($lib: SONAME libomcache.so.0, 33 functions + 3 objects @@OMCACHE_0.1, 5 functions @@OMCACHE_0.2, 6 functions @@OMCACHE_0.3, nothing else exported)"

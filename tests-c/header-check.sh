#!/usr/bin/env bash
# Header drift check: the hand-written public headers (include/omcache.h,
# include/omcache_cdef.h) against the Rust FFI (src/ffi/omcache/), via a
# header that cbindgen generates from the Rust sources.  Fails on any
# difference in a prototype, a data object, a struct field, a size or an
# offset, on a missing or extra exported name, and on a public header that is
# no longer plain C / C++ / cffi-parseable.
#
# Usage: tests-c/header-check.sh        (run from anywhere; make check-header)
# Environment: CC (default cc), CXX (default c++), CBINDGEN (default cbindgen),
#              FFI_SRC (default <repo>/src/ffi/omcache/mod.rs, else omcache.rs),
#              BUILD_DIR (default <repo>/build)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cc=${CC:-cc}
cxx=${CXX:-c++}
cbindgen=${CBINDGEN:-cbindgen}
# The FFI module: a single file or a directory module (cbindgen follows its
# `mod` declarations; the rest of the crate, e.g. other C faces, is not read).
if [ -z "${FFI_SRC:-}" ]; then
    if [ -f "$root/src/ffi/omcache/mod.rs" ]; then
        FFI_SRC=$root/src/ffi/omcache/mod.rs
    else
        FFI_SRC=$root/src/ffi/omcache.rs
    fi
fi
src=$FFI_SRC
cflags=(-std=gnu11 -Wall -Wextra -Werror)

fail() { echo "header-check: FAIL: $*" >&2; exit 1; }

command -v "$cbindgen" >/dev/null 2>&1 || [ -x "$cbindgen" ] ||
    fail "cbindgen not found (make cbindgen installs the pinned version)"
[ -f "$src" ] || fail "$src does not exist"
mkdir -p "$build"

gen=$build/omcache_generated.h
protos=$build/omcache_generated_prototypes.h
renamed=$build/omcache_generated_renamed.h
protos_toml=$build/cbindgen-prototypes.toml

# 1. Generate.  The prototypes-only config is cbindgen.toml with its
#    item_types line narrowed to functions and statics.
"$cbindgen" --quiet --config "$root/cbindgen.toml" --output "$gen" "$src"
sed -E 's/^item_types = .*/item_types = ["functions", "globals"]/' \
    "$root/cbindgen.toml" >"$protos_toml"
grep -qx 'item_types = \["functions", "globals"\]' "$protos_toml" ||
    fail "cbindgen.toml has no one-line item_types setting to narrow"
"$cbindgen" --quiet --config "$protos_toml" --output "$protos" "$src"
# (omcache_version is a field name of two structs, not a declared name.)
sed -E 's/\b(omcache_|omc_)/gen_\1/g; s/\bOMCACHE_/GEN_OMCACHE_/g; s/\bgen_omcache_version\b/omcache_version/g' \
    "$gen" >"$renamed"

# 2. Names: the functions and statics Rust exports must be exactly the 47
#    public ones (OMcache 0.3's 41 and the 6 TLS functions of OMCACHE_0.3).
expected_names="omcache_add
omcache_append
omcache_command
omcache_command_status
omcache_decrement
omcache_delete
omcache_dist_libmemcached_ketama
omcache_dist_libmemcached_ketama_pre1010
omcache_dist_libmemcached_ketama_weighted
omcache_flush_all
omcache_free
omcache_gat
omcache_gat_multi
omcache_get
omcache_get_multi
omcache_increment
omcache_init
omcache_io
omcache_log_stderr
omcache_noop
omcache_poll_fds
omcache_prepend
omcache_replace
omcache_reset_buffers
omcache_server_index_for_key
omcache_server_info
omcache_server_info_free
omcache_set
omcache_set_buffering
omcache_set_connect_timeout
omcache_set_dead_timeout
omcache_set_distribution_method
omcache_set_log_callback
omcache_set_reconnect_timeout
omcache_set_recv_buffer_max_size
omcache_set_response_callback
omcache_set_send_buffer_max_size
omcache_set_servers
omcache_set_tls
omcache_set_tls_ca_file
omcache_set_tls_client_cert
omcache_set_tls_server_name
omcache_set_tls_session_resumption
omcache_stat
omcache_strerror
omcache_tls_error
omcache_touch"
# Top-level declarations start in column 0; a function's name is the last
# identifier before its first '('; a static's is the one before ';'.
actual_names=$(
    {
        grep -E '^[A-Za-z_].*\(' "$protos" | grep -v '^extern ' |
            sed -E 's/\(.*//; s/.*[ *]//'
        grep -E '^extern ' "$protos" | sed -E 's/;.*//; s/.*[ *]//'
    } | LC_ALL=C sort
)
if [ "$actual_names" != "$(printf '%s\n' "$expected_names" | LC_ALL=C sort)" ]; then
    diff <(printf '%s\n' "$expected_names" | LC_ALL=C sort) <(printf '%s\n' "$actual_names") >&2 || true
    fail "exported names differ (< public only, > Rust only)"
fi

# 3. Fields: each public struct's field list, in order (extra fields hidden in
#    padding would pass the size/offset checks).  Works on cbindgen's "type"
#    style: "typedef struct {" ... "} NAME;" with one field per statement.
fields=$(awk '
    /^typedef struct [A-Za-z0-9_]* *\{$|^typedef struct \{$|^struct [A-Za-z0-9_]+ \{$/ {
        inside = 1; list = ""; stmt = ""; next
    }
    inside && /^\}/ {
        name = $0; sub(/^\} */, "", name); sub(/;.*/, "", name)
        print name ":" list; inside = 0; next
    }
    inside {
        stmt = stmt " " $0
        if (stmt ~ /;[ \t]*$/) {
            s = stmt
            if (match(s, /\(\*[A-Za-z0-9_]+\)/)) f = substr(s, RSTART + 2, RLENGTH - 3)
            else { sub(/;[ \t]*$/, "", s); n = split(s, a, /[ *]+/); f = a[n] }
            list = list " " f; stmt = ""
        }
    }' "$gen")
check_fields() {
    local name=$1 want=$2 got
    got=$(printf '%s\n' "$fields" | sed -n "s/^$name: //p")
    [ -n "$got" ] || fail "struct $name is not in the generated header (Rust name must be $name)"
    [ "$got" = "$want" ] || fail "struct $name fields differ: Rust has '$got', omcache.h has '$want'"
}
check_fields omcache_req_header_s "magic opcode keylen extlen datatype reserved bodylen opaque cas"
check_fields omcache_req_t "server_index header extra key data"
check_fields omcache_value_t "status key key_len data data_len flags cas delta_value"
check_fields omcache_server_info_t "omcache_version server_index hostname port"
check_fields omcache_dist_s "omcache_version points_per_server entries_per_point point_hash_func key_hash_func"

# 4. Types, sizes, offsets, prototypes: compile.  Prototypes that use a Rust
#    type alias of a public callback typedef resolve to the public typedef, so
#    each such alias is compared separately (header_check.c, HAVE_GEN_*).
alias_flags=()
for t in omcache_log_callback_func omcache_response_callback_func \
         omc_ketama_point_hash_func omc_ketama_key_hash_func; do
    if grep -qE "^typedef .*\bgen_$t\b" "$renamed"; then
        alias_flags+=("-DHAVE_GEN_$t")
    fi
done
"$cc" "${cflags[@]}" "${alias_flags[@]}" -I"$root/include" -I"$build" \
    -c "$root/tests-c/header_check.c" -o "$build/header_check.o"

# 5. The public header on its own: C99 and C11 with -pedantic, C++98 and
#    C++17, and Python's cffi (as OMcache's Python bindings parse it).
probe='#include <omcache.h>
int main(void) { omcache_t *mc = omcache_init(); return omcache_free(mc); }'
for std in c99 c11; do
    printf '%s\n' "$probe" | "$cc" -std=$std -pedantic -Wall -Wextra -Werror \
        -I"$root/include" -x c -fsyntax-only - || fail "omcache.h does not compile as $std"
done
if command -v "$cxx" >/dev/null 2>&1; then
    for std in c++98 c++17; do
        printf '%s\n' "$probe" | "$cxx" -std=$std -pedantic -Wall -Wextra -Werror \
            -I"$root/include" -x c++ -fsyntax-only - || fail "omcache.h does not compile as $std"
    done
else
    echo "header-check: no C++ compiler, C++ check skipped"
fi
if grep -nE '^[[:space:]]*#' "$root/include/omcache_cdef.h"; then
    fail "omcache_cdef.h must not contain preprocessor lines (cffi parses it)"
fi
if python3 -c 'import cffi' >/dev/null 2>&1; then
    python3 - "$root/include/omcache_cdef.h" <<'EOF' || fail "cffi cannot parse omcache_cdef.h"
import sys, cffi
ffi = cffi.FFI()
ffi.cdef("typedef long time_t;")
ffi.cdef(open(sys.argv[1]).read())
assert ffi.sizeof("omcache_req_t") == 56 and ffi.sizeof("omcache_value_t") == 64
assert ffi.sizeof("omcache_server_info_t") == 24 and ffi.sizeof("omcache_dist_t") == 32
EOF
else
    echo "header-check: python3 cffi not available, cffi check skipped"
fi

echo "header-check: OK (47 names, 5 structs, prototypes compatible; generated header: $gen)"

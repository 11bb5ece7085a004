#!/usr/bin/env bash
# The libmemcached.so.11 we build: exactly the functions src/ffi/libmemcached exports (as
# listed in libmemcached.map), every one a libmemcached 1.1.4 function, all unversioned, the
# right SONAME, and no omcache_* symbol.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
so=${1:-$root/build/libmemcached/libmemcached.so.11}
fail=0
# The functions written out, and those a family macro makes: the names in the invocations of
# the `*_functions!` macros (api.rs: storage, counters.rs: counters).
src=$( {
    grep -ho 'pub extern "C" fn [a-z_0-9]\+' "$root"/src/ffi/libmemcached/*.rs | sed 's/.* fn //'
    awk '/^[a-z_]+_functions! *[({]/ { inside = 1; next } inside && /^[)}]/ { inside = 0 } inside' \
        "$root"/src/ffi/libmemcached/*.rs | grep -o '\<memcached_[a-z_0-9]*'
} | sort -u)
map=$(sed -n '/global:/,/local:/p' "$root/libmemcached.map" | grep -o '[a-z_0-9]*;' | tr -d ';' | sort -u)
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort -u)
if [ "$src" != "$map" ]; then
    echo "FAIL libmemcached.map differs from the functions in src/ffi/libmemcached:"
    diff <(echo "$src") <(echo "$map") || true
    fail=1
fi
if [ "$src" != "$exported" ]; then
    echo "FAIL $so exports differ from src/ffi/libmemcached:"
    diff <(echo "$src") <(echo "$exported") || true
    fail=1
fi
spec="$root/../shared/spec/libmemcached/exports-libmemcached.txt"
if [ -f "$spec" ]; then
    extra=$(comm -23 <(echo "$exported") <(sort "$spec"))
    [ -z "$extra" ] || { echo "FAIL not libmemcached 1.1.4 functions: $extra"; fail=1; }
    echo "exports: $(echo "$exported" | wc -l) of $(wc -l < "$spec") libmemcached 1.1.4 functions"
fi
if objdump -T "$so" | grep -q 'OMCACHE\|omcache_'; then
    echo "FAIL omcache symbols or versions in $so"; fail=1
fi
soname=$(objdump -p "$so" | awk '/SONAME/ {print $2}')
[ "$soname" = libmemcached.so.11 ] || { echo "FAIL SONAME $soname"; fail=1; }
[ $fail = 0 ] && echo "check-lmc-exports: OK"
exit $fail

#!/usr/bin/env bash
# The rest of the libmemcached family we build, beside libmemcached.so.11 in build/libmemcached:
#   libhashkit.so.2        exactly libhashkit 1.1.4's 33 functions, unversioned, SONAME
#                          libhashkit.so.2, no libmemcached or omcache symbol, needs no
#                          libmemcached (standalone, as Debian's)
#   libmemcachedutil.so.2  exactly libmemcachedutil 1.1.4's 15 functions, unversioned, SONAME
#                          libmemcachedutil.so.2, NEEDED libmemcached.so.11 and no engine of its
#                          own (no memcached_* / omcache_* definitions)
#   libmemcached.so.11     NEEDED libhashkit.so.2 (as Debian's), and every symbol the other two
#                          import from it is one it exports
# The map files must list what the spec lists (their own drift check).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build/libmemcached}
spec=$root/../shared/spec/libmemcached
fail=0

exported() { nm -D --defined-only "$1" | awk '$2 == "T" {print $3}' | sort -u; }
mapped() { sed -n '/global:/,/local:/p' "$1" | grep -o '[a-z_0-9]*;' | tr -d ';' | sort -u; }

check() { # so, map, spec list, soname
    local so=$dir/$1 map=$root/$2 list=$spec/$3 soname=$1
    [ -e "$so" ] || { echo "FAIL $so missing (make)"; fail=1; return; }
    local got
    got=$(exported "$so")
    if [ -f "$list" ]; then
        if [ "$got" != "$(sort -u "$list")" ]; then
            echo "FAIL $1 exports differ from $3:"; diff <(echo "$got") <(sort -u "$list") || true; fail=1
        fi
        if [ "$(mapped "$map")" != "$(sort -u "$list")" ]; then
            echo "FAIL $2 differs from $3"; fail=1
        fi
    fi
    if objdump -T "$so" | awk '$2 != "*UND*"' | grep -q 'OMCACHE\|omcache_'; then
        echo "FAIL omcache symbols in $1"; fail=1
    fi
    if objdump -p "$so" | grep -q 'VERDEF'; then echo "FAIL $1 has symbol versions"; fail=1; fi
    [ "$(objdump -p "$so" | awk '/SONAME/ {print $2}')" = "$soname" ] || { echo "FAIL $1 SONAME"; fail=1; }
    echo "$1: $(echo "$got" | wc -l) functions, NEEDED $(objdump -p "$so" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')"
}

check libhashkit.so.2 libhashkit.map exports-libhashkit.txt
check libmemcachedutil.so.2 libmemcachedutil.map exports-libmemcachedutil.txt

needed() { objdump -p "$dir/$1" | awk '/NEEDED/ {print $2}'; }
if needed libhashkit.so.2 | grep -q memcached; then echo "FAIL libhashkit.so.2 needs libmemcached"; fail=1; fi
needed libmemcachedutil.so.2 | grep -qx libmemcached.so.11 || { echo "FAIL libmemcachedutil.so.2 does not need libmemcached.so.11"; fail=1; }
needed libmemcached.so.11 | grep -qx libhashkit.so.2 || { echo "FAIL libmemcached.so.11 does not need libhashkit.so.2"; fail=1; }
if exported "$dir/libmemcachedutil.so.2" | grep -v '^memcached_pool\|^libmemcached_util_' | grep -q .; then
    echo "FAIL libmemcachedutil.so.2 defines functions beyond its 15"; fail=1
fi
# What libmemcachedutil.so.2 imports from libmemcached must be exported by ours.
missing=$(comm -23 <(nm -D --undefined-only "$dir/libmemcachedutil.so.2" | awk '{print $2}' | grep '^memcached' | sort -u) \
    <(exported "$dir/libmemcached.so.11"))
[ -z "$missing" ] || { echo "FAIL libmemcachedutil.so.2 imports what libmemcached.so.11 lacks: $missing"; fail=1; }
echo "libmemcachedutil.so.2 imports $(nm -D --undefined-only "$dir/libmemcachedutil.so.2" | grep -c ' memcached') libmemcached functions, all exported by ours"
[ $fail = 0 ] && echo "check-family-exports: OK"
exit $fail

#!/usr/bin/env bash
# compat-tests/check-imports.sh - every libmemcached-family function that each of the 35
# Debian objects linking libmemcached imports (compat-tests/imports/: the lists measured on
# Debian 12, copied from the project's spec) is exported by our libmemcached.so.11, libmemcachedutil.so.2 or libhashkit.so.2.
# The scenario scripts (run-tools, run-pylibmc, run-php, run-pgmemcache, run-perl,
# run-apps) then load the installed programs with LD_BIND_NOW=1; this check covers the
# objects whose packages the tests do not install.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
lib=$root/build/libmemcached
dir=${IMPORTS_DIR:-}
if [ -z "$dir" ]; then
    for d in "$root/compat-tests/imports" "$root/../shared/spec/libmemcached/imports"; do
        [ -d "$d" ] && { dir=$d; break; }
    done
fi
[ -n "$dir" ] || { echo "check-imports: SKIP (no import lists found)"; exit 0; }
for so in libmemcached.so.11 libmemcachedutil.so.2 libhashkit.so.2; do
    [ -e "$lib/$so" ] || { echo "check-imports: $lib/$so missing: run make" >&2; exit 1; }
done

exports=$(mktemp)
trap 'rm -f "$exports"' EXIT
for so in libmemcached.so.11 libmemcachedutil.so.2 libhashkit.so.2; do
    nm -D --defined-only "$lib/$so" | awk '$2 == "T" { print $3 }'
done | sort -u >"$exports"

objects=0 imports=0 missing=0
for f in "$dir"/*.txt; do
    objects=$((objects + 1))
    n=0
    while read -r sym; do
        [ -n "$sym" ] || continue
        n=$((n + 1))
        if ! grep -qx -- "$sym" "$exports"; then
            echo "FAIL  $(basename "$f" .txt) imports $sym, which we do not export"
            missing=$((missing + 1))
        fi
    done <"$f"
    imports=$((imports + n))
done
if [ "$missing" -eq 0 ]; then
    echo "check-imports: OK ($objects Debian objects, $imports imports, every one exported by our libraries)"
else
    echo "check-imports: $missing imports missing"
    exit 1
fi

#!/usr/bin/env bash
# c-examples/libmemcached/run.sh - an unchanged libmemcached program (example.c)
# recompiled onto omcache-rs: built against Debian's libmemcached (headers and
# library) and against ours (include/ and build/libmemcached/libmemcached.so.11,
# nothing else changed), as C and as C++, run against three throwaway memcached
# servers; every build must print the same transcript.  VALGRIND=1 also runs
# ours under memcheck (no errors, no definite or indirect leaks).
#
# Needs: make (the library), libmemcached-dev (the reference), memcached, gcc/g++.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/c-examples/libmemcached
cc=${CC:-cc}
cxx=${CXX:-c++}
out=$root/build/c-examples/libmemcached
mkdir -p "$out"
# shellcheck source=../../compat-tests/servers.sh
. "$root/compat-tests/servers.sh"

lmc=$root/build/libmemcached
[ -e "$lmc/libmemcached.so.11" ] || { echo "run.sh: $lmc/libmemcached.so.11 missing: run make" >&2; exit 1; }
pkg-config --exists libmemcached || { echo "run.sh: libmemcached-dev (the reference) is missing" >&2; exit 1; }

pids=
trap 'kill $pids 2>/dev/null || true' EXIT
config=
for _ in 1 2 3; do
    port=$(free_port)
    start_memcached "$port" || { echo "run.sh: memcached on $port did not start" >&2; exit 1; }
    config="$config --SERVER=127.0.0.1:$port"
done
config="${config# } --DISTRIBUTION=consistent"

warn=(-Wall -Wextra -Werror)
# shellcheck disable=SC2046
"$cc" -std=c99 "${warn[@]}" -o "$out/example-debian" "$here/example.c" $(pkg-config --cflags --libs libmemcached)
"$cc" -std=c99 "${warn[@]}" -I"$root/include" -o "$out/example-ours" "$here/example.c" \
    -L"$lmc" -Wl,-rpath,"$lmc" -l:libmemcached.so.11
"$cxx" -x c++ "${warn[@]}" -Wno-missing-field-initializers -I"$root/include" -o "$out/example-ours-cxx" \
    "$here/example.c" -L"$lmc" -Wl,-rpath,"$lmc" -l:libmemcached.so.11 2>"$out/cxx.log" ||
    { cat "$out/cxx.log" >&2; echo "run.sh: FAIL: example.c does not compile as C++ against our header" >&2; exit 1; }

# ldd's output first: under pipefail, `ldd | grep -q` fails when grep stops reading early.
loaded=$(ldd "$out/example-ours")
grep -q "libmemcached.so.11 => $lmc/" <<<"$loaded" ||
    { echo "run.sh: FAIL: the recompiled example does not load ours" >&2; exit 1; }

status=0
"$out/example-debian" "$config" >"$out/debian.out" || { echo "run.sh: FAIL: with Debian's library"; status=1; }
for build in ours ours-cxx; do
    if ! "$out/example-$build" "$config" >"$out/$build.out"; then
        echo "run.sh: FAIL: $build build"; status=1
    elif ! diff -u "$out/debian.out" "$out/$build.out"; then
        echo "run.sh: FAIL: $build prints other lines than Debian's build"; status=1
    fi
done
if [ "${VALGRIND:-0}" = 1 ]; then
    valgrind -q --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 "$out/example-ours" "$config" >"$out/valgrind.out" 2>"$out/valgrind.err" ||
        { cat "$out/valgrind.err"; echo "run.sh: FAIL: memcheck"; status=1; }
    [ $status -ne 0 ] || [ ! -s "$out/valgrind.err" ] || { cat "$out/valgrind.err"; status=1; }
fi
[ $status -eq 0 ] && echo "c-examples/libmemcached: OK ($(wc -l <"$out/debian.out") lines, the same from Debian's build and from ours recompiled as C and C++${VALGRIND:+; ours clean under valgrind})"
exit $status

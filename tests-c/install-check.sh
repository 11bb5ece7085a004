#!/usr/bin/env bash
# install-check.sh - "make install" into a temporary prefix, then build a small
# program the way a user would (pkg-config omcache), once against the shared
# library and once statically, and run both.  Needs no memcached server.
#
# Environment: MAKE (default make), CC (default cc), PKG_CONFIG (default
# pkg-config); CFLAGS and LDFLAGS are added to the test programs' compile and
# link (and reach make install's link of the library through the environment).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
make=${MAKE:-make}
cc=${CC:-cc}
pkg_config=${PKG_CONFIG:-pkg-config}
# split into words on purpose, like make's $(CFLAGS)
read -r -a user_cflags <<<"${CFLAGS:-}"
read -r -a user_ldflags <<<"${LDFLAGS:-}"

fail() { echo "install-check: FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# A prefix with a space in it would break pkg-config's output; mktemp's has none.
"$make" -C "$root" --no-print-directory install PREFIX="$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "make install PREFIX=$prefix failed"; }

for f in lib/libomcache.so.0 lib/libomcache.a lib/pkgconfig/omcache.pc \
         include/omcache.h include/omcache_cdef.h; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
done
[ "$(readlink "$prefix/lib/libomcache.so")" = "libomcache.so.0" ] ||
    fail "lib/libomcache.so is not a symlink to libomcache.so.0"
# Debian policy: shared libraries are installed without the executable bit.
for f in lib/libomcache.so.0 lib/libomcache.a lib/pkgconfig/omcache.pc include/omcache.h; do
    mode=$(stat -c %a "$prefix/$f")
    [ "$mode" = 644 ] || fail "$f installed with mode $mode, expected 644"
done

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
"$pkg_config" --exists omcache || fail "pkg-config does not find omcache"
[ "$("$pkg_config" --modversion omcache)" = "0.3.0" ] || fail "pkg-config version is not 0.3.0"

# Shared: exactly the documented command line.
# shellcheck disable=SC2046
"$cc" -Wall -Wextra -Werror "${user_cflags[@]}" "${user_ldflags[@]}" -o "$tmp/prog" \
    "$root/tests-c/install_check.c" $("$pkg_config" --cflags --libs omcache) ||
    fail "cannot build against the shared library"
objdump -p "$tmp/prog" | grep -q 'NEEDED *libomcache\.so\.0' ||
    fail "program does not depend on libomcache.so.0"
LD_LIBRARY_PATH=$prefix/lib "$tmp/prog" || fail "program linked with libomcache.so.0 failed"

# Static: the archive plus Libs.private.
# shellcheck disable=SC2046
"$cc" -Wall -Wextra -Werror "${user_cflags[@]}" "${user_ldflags[@]}" -o "$tmp/prog-static" \
    "$root/tests-c/install_check.c" \
    $("$pkg_config" --cflags omcache) "$prefix/lib/libomcache.a" \
    $("$pkg_config" --static --libs omcache | sed -E 's/(^| )-lomcache( |$)/ /') ||
    fail "cannot build against the static library"
if objdump -p "$tmp/prog-static" | grep -q 'NEEDED *libomcache'; then
    fail "static program still depends on libomcache.so"
fi
"$tmp/prog-static" || fail "program linked with libomcache.a failed"

# The libmemcached face: in its own directories, never over the system's.
lmc_lib=$prefix/lib/omcache-libmemcached
for f in lib/omcache-libmemcached/libmemcached.so.11 lib/omcache-libmemcached/pkgconfig/libmemcached.pc \
         lib/pkgconfig/omcache-libmemcached.pc include/omcache-libmemcached/libmemcached/memcached.h \
         include/omcache-libmemcached/libmemcached/util.h include/omcache-libmemcached/omcache_libmemcached.h \
         include/omcache-libmemcached/libmemcached-1.0/struct/memcached.h; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
done
[ ! -e "$prefix/lib/libmemcached.so.11" ] && [ ! -e "$prefix/lib/libmemcached.so" ] ||
    fail "the libmemcached face was installed into the main library directory"
# Recompiled: once through omcache-libmemcached.pc, once through the private libmemcached.pc
# (what an unchanged build that asks pkg-config for libmemcached gets).
for how in omcache-libmemcached private-libmemcached; do
    if [ "$how" = omcache-libmemcached ]; then
        flags=$("$pkg_config" --cflags --libs omcache-libmemcached) || fail "pkg-config omcache-libmemcached"
    else
        flags=$(PKG_CONFIG_PATH=$lmc_lib/pkgconfig "$pkg_config" --cflags --libs libmemcached) ||
            fail "pkg-config libmemcached (private directory)"
        case $flags in *"$lmc_lib"*) ;; *) fail "private libmemcached.pc does not name ours: $flags" ;; esac
    fi
    # shellcheck disable=SC2086
    "$cc" -Wall -Wextra -Werror "${user_cflags[@]}" "${user_ldflags[@]}" -o "$tmp/lmc-$how" \
        "$root/tests-c/install_check_lmc.c" $flags || fail "cannot build a libmemcached program ($how)"
    # ldd's output first: under pipefail, `ldd | grep -q` fails when grep stops reading early.
    loaded=$(ldd "$tmp/lmc-$how")
    grep -q "libmemcached.so.11 => $lmc_lib/libmemcached.so.11" <<<"$loaded" ||
        fail "$how: program does not load the installed libmemcached.so.11: $(ldd "$tmp/lmc-$how" | grep memcached)"
    "$tmp/lmc-$how" >"$tmp/lmc-$how.out" || fail "libmemcached program ($how) failed"
done

# DESTDIR staging puts the same tree under DESTDIR.
"$make" -C "$root" --no-print-directory install PREFIX=/usr/local DESTDIR="$tmp/stage" \
    >"$tmp/install-destdir.log" 2>&1 ||
    { cat "$tmp/install-destdir.log" >&2; fail "make install DESTDIR=... failed"; }
for f in lib/libomcache.so.0 lib/libomcache.a include/omcache.h include/omcache_cdef.h; do
    [ -f "$tmp/stage/usr/local/$f" ] || fail "DESTDIR install lacks $f"
done
grep -qx 'prefix=/usr/local' "$tmp/stage/usr/local/lib/pkgconfig/omcache.pc" ||
    fail "DESTDIR leaked into omcache.pc"

echo "install-check: OK (shared and static builds via pkg-config ran; a libmemcached program recompiled onto the private libmemcached.so.11 ran: $(cat "$tmp/lmc-omcache-libmemcached.out"))"

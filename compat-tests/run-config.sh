#!/bin/bash
# run-config.sh - the configuration-string language (memcached(), libmemcached_check_configuration())
# and memcached_servers_parse() of the real libmemcached 1.1.4 against ours.
#
# lmc_config.c (linked with the system's libmemcached) prints, for each line of
# config-corpus.txt: libmemcached_check_configuration's rc and error text, whether memcached()
# returns NULL, and for accepted strings the servers in order (name, port, weight, type), every
# behavior value, the is_fetching_version flag, the pool sizes and the namespace; for each line
# of servers-corpus.txt the list memcached_servers_parse returns; for each line of add-corpus.txt
# what memcached_server_add_with_weight adds. The `(0x…)` pointer in error
# texts is replaced by `(PTR)`. The result must equal the committed vectors/lmc-config.txt and
# vectors/lmc-servers.txt, which the unit tests of src/ffi/libmemcached replay against ours
# (`cargo test --lib ffi::libmemcached`; they print the number of differing cases).
#
# Corpus lines use the escapes \n \t \r \\ \xHH. INCLUDE / --CONFIGURE-FILE name either the
# fixtures in config-files/ (relative to the repository; the Rust side includes them) or files
# that must not exist. Keep DEBUG cases: the bison
# trace goes to stderr, which is discarded.
#
# Environment: BUILDDIR (default <repo>/build/compat-tests), CC, CARGO.
# Exits 1 on any difference, 2 if something could not be built or run.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILDDIR=${BUILDDIR:-$repo/build/compat-tests}
CC=${CC:-cc}
CARGO=${CARGO:-cargo}
CFLAGS="-std=c99 -D_POSIX_C_SOURCE=200809L -O1 -Wall -Wextra -Werror"

die() { echo "run-config: $*" >&2; exit 2; }

mkdir -p "$BUILDDIR/out" || die "cannot create $BUILDDIR"
pkg-config --exists libmemcached || die "libmemcached not found by pkg-config (apt-get install libmemcached-dev)"
# shellcheck disable=SC2046
$CC $CFLAGS $(pkg-config --cflags libmemcached) "$here/lmc_config.c" -o "$BUILDDIR/lmc_config" \
    $(pkg-config --libs libmemcached) || die "cannot build lmc_config"

status=0
# From the repository: the corpus names compat-tests/config-files/* by relative paths.
(cd "$repo" && "$BUILDDIR/lmc_config" config <"$here/config-corpus.txt" 2>/dev/null) |
    sed -E 's/\(0x[0-9a-f]+\)/(PTR)/g' >"$BUILDDIR/out/lmc-config.txt" || die "lmc_config config failed"
"$BUILDDIR/lmc_config" servers <"$here/servers-corpus.txt" >"$BUILDDIR/out/lmc-servers.txt" ||
    die "lmc_config servers failed"
"$BUILDDIR/lmc_config" add <"$here/add-corpus.txt" >"$BUILDDIR/out/lmc-add.txt" ||
    die "lmc_config add failed"
for v in lmc-config lmc-servers lmc-add; do
    if ! diff -u "$here/vectors/$v.txt" "$BUILDDIR/out/$v.txt" >"$BUILDDIR/out/$v.diff"; then
        echo "run-config: the real library no longer gives vectors/$v.txt (see $BUILDDIR/out/$v.diff;" \
            "regenerate with: cp $BUILDDIR/out/$v.txt $here/vectors/)"
        status=1
    fi
done
echo "real libmemcached: $(grep -c '^case ' "$BUILDDIR/out/lmc-config.txt") configuration strings," \
    "$(grep -c '^case ' "$BUILDDIR/out/lmc-servers.txt") server lists," \
    "$(grep -c '^case ' "$BUILDDIR/out/lmc-add.txt") server_add calls"
out=$(cd "$repo" && $CARGO test -q --lib ffi::libmemcached -- --nocapture 2>&1)
rc=$?
grep -E 'differing of|test result|panicked' <<<"$out" | sed 's/^\.*//'
[ "$rc" -eq 0 ] || status=1
exit $status

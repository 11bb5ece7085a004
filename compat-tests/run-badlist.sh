#!/bin/bash
# run-badlist.sh - server lists with bad entries (issue 13): the keys of the good servers go
# where the real libmemcached sends them, and the keys of the bad entries go where the real
# libmemcached sends them once the bad entries are gone.
#
# A list mixes the good servers of lists.sh with entries that can never connect but that both
# libraries accept (no empty entries, no spaces: memcached_servers_parse reads those
# differently). For every key, with the full list:
#   - libmemcached maps it to a good server  -> ours must map it to that server;
#   - libmemcached maps it to a bad entry    -> ours (the bad entries are dead from the start
#     and their points walked past) must map it where libmemcached maps it for the list
#     without the bad entries. This holds exactly for `ketama` (100 points per server
#     whatever the count); the weighted modes compute points per server from the server count
#     (libmemcached's float32 arithmetic: 156 instead of 160 for some counts), so there the
#     bad entries' keys are reported, and only the good servers' keys must match.
# No I/O: both programs only consult the continuum (no host is resolved, nothing connects).
#
# Run by run-keymap.sh, which builds lmc_keymap and omc_keymap into $BUILDDIR first.
# Environment: BUILDDIR (default <repo>/build/compat-tests), KEYS (default 10000).
# Exits 1 on any difference, 2 if a program is missing or fails.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILDDIR=${BUILDDIR:-$repo/build/compat-tests}
KEYS=${KEYS:-10000}

die() { echo "run-badlist: $*" >&2; exit 2; }
[ -x "$BUILDDIR/lmc_keymap" ] && [ -x "$BUILDDIR/omc_keymap" ] ||
    die "lmc_keymap/omc_keymap not built in $BUILDDIR (run run-keymap.sh)"
mkdir -p "$BUILDDIR/out" || die "cannot create $BUILDDIR/out"

# shellcheck source=lists.sh
. "$here/lists.sh"

# Bad entries (ours: dead from the start) and libmemcached's name for each (host:port as
# lmc_keymap prints it, brackets removed: memcached_servers_parse reads the port with strtoul
# cut to 16 bits, 0 meaning 11211; memcached_server_push names an empty host "localhost").
bad_entries=("127.0.0.1:99999" "127.0.0.foobar:asdf" "cache.example.com:0" "[zz]:11300"
    "bad_host!:11212" ":11211" "h:65536")
bad_names="127.0.0.1:34463,127.0.0.foobar:11211,cache.example.com:11211,zz:11300,bad_host!:11212,localhost:11211,h:11211"

normalise() { sed -e 's/[][]//g' "$1"; }

passed=0
failed=0

# with_bad GOOD_LIST: the good entries with the bad ones spread among them.
with_bad() {
    local good nbad=${#bad_entries[@]} i j=0 out=()
    IFS=, read -r -a good <<<"$1"
    local n=${#good[@]}
    for ((i = 0; i < n; i++)); do
        out+=("${good[i]}")
        while ((j < nbad && j * n <= i * nbad)); do
            out+=("${bad_entries[j]}")
            j=$((j + 1))
        done
    done
    while ((j < nbad)); do out+=("${bad_entries[j]}"); j=$((j + 1)); done
    (IFS=,; echo "${out[*]}")
}

run() {
    local mode=$1 n=$2 kind=$3 good full tag label result
    good=$(list_"$kind" "$n")
    full=$(with_bad "$good")
    tag="$BUILDDIR/out/badlist-$mode-$n-$kind"
    label="badlist $mode $n servers $kind + ${#bad_entries[@]} bad"
    "$BUILDDIR/lmc_keymap" -n "$KEYS" "$mode" "$full" >"$tag.full.lmc" 2>"$tag.err" &&
        "$BUILDDIR/lmc_keymap" -n "$KEYS" "$mode" "$good" >"$tag.good.lmc" 2>>"$tag.err" &&
        "$BUILDDIR/omc_keymap" -n "$KEYS" "$mode" "$full" >"$tag.omc" 2>>"$tag.err" || {
        echo "$label: FAILED ($(tail -1 "$tag.err"))"
        failed=$((failed + 1))
        return
    }
    # good-keys good-differing bad-keys bad-differing
    result=$(paste <(normalise "$tag.full.lmc") <(normalise "$tag.good.lmc") <(normalise "$tag.omc") |
        awk -F'\t' -v bad="$bad_names" '
            BEGIN { nb = split(bad, b, ","); for (i = 1; i <= nb; i++) isbad[b[i]] = 1 }
            $1 != $3 || $1 != $5 { print "misaligned"; exit }
            ($2 in isbad) { bk++; if ($4 != $6) bd++; next }
            { gk++; if ($2 != $6) gd++ }
            END { printf "%d %d %d %d\n", gk, gd, bk, bd }')
    local gk gd bk bd
    read -r gk gd bk bd <<<"$result"
    if [ "$result" = misaligned ] || [ $((gk + bk)) -ne "$KEYS" ]; then
        echo "$label: FAILED (outputs do not line up: $result)"
        failed=$((failed + 1))
        return
    fi
    local verdict=ok
    [ "$gd" -eq 0 ] || verdict=FAILED
    [ "$mode" != ketama ] || [ "$bd" -eq 0 ] || verdict=FAILED
    echo "$label: good servers' keys $gd differing of $gk; bad entries' keys $bd differing of $bk from libmemcached without them${verdict:+  $verdict}" |
        sed -e 's/  ok$//'
    if [ "$verdict" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

for mode in ketama weighted pre1010; do
    for n in 1 2 3 7 25 50; do
        for kind in ipv4 hosts ipv6 mixed; do
            run "$mode" "$n" "$kind"
        done
    done
done

echo "badlist: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

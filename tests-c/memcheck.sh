#!/usr/bin/env bash
# memcheck.sh - the C programs under valgrind's memcheck: every C example
# (the list and server arguments of c-examples/run.sh), the key-mapping
# programs of compat-tests (omc_keymap, and libmemcached's own lmc_keymap as
# the reference its output is compared with) and tests-c/threads.c.
#
#   tests-c/memcheck.sh                 everything
#   tests-c/memcheck.sh basic threads   only these (omc_keymap includes lmc_keymap)
#
# A program passes when it exits 0 under
#   valgrind --tool=memcheck --leak-check=full
#            --errors-for-leak-kinds=definite,indirect --error-exitcode=99
# and valgrind reports 0 errors and nothing definitely, indirectly or possibly
# lost ("still reachable" is reported, not failed: Rust's and libc's
# process-lifetime allocations).  Prints one line per program and finally
# "N passed, M failed"; exits non-zero if anything failed.  Logs are kept in
# build/memcheck/: NAME.out and NAME.err (the program's output), NAME.vg
# (valgrind's); keymap/ holds one set per keymap configuration.
#
# Environment: CC (default cc), VALGRIND (default valgrind), OMCACHE_BUILD
# (default <repo>/build), MEMCHECK_TIMEOUT seconds per run (default 900),
# KEYS keys per keymap configuration (default 10000), OMCACHE_TEST_SLACK (the
# factor the programs multiply their upper time bounds by; at least 10 here,
# valgrind is that much slower).  The library must have been built (make).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
libdir=$build/lib
incdir=$build/include
outdir=$build/memcheck
cc=${CC:-cc}
valgrind=${VALGRIND:-valgrind}
per_run_timeout=${MEMCHECK_TIMEOUT:-900}
keys=${KEYS:-10000}
servers_sh=$root/scripts/memcached-servers.sh

die() { echo "memcheck.sh: $*" >&2; exit 2; }

slack=${OMCACHE_TEST_SLACK:-1}
awk -v s="$slack" 'BEGIN { exit !(s + 0 >= 1) }' ||
    die "OMCACHE_TEST_SLACK=$slack: expected a number >= 1"
OMCACHE_TEST_SLACK=$(awk -v s="$slack" 'BEGIN { print (s + 0 < 10 ? 10 : s + 0) }')
export OMCACHE_TEST_SLACK

if [ ! -e "$libdir/libomcache.so" ] || [ ! -e "$incdir/omcache.h" ]; then
    die "$libdir/libomcache.so or $incdir/omcache.h is missing; run make first"
fi
command -v "$valgrind" >/dev/null 2>&1 ||
    die "valgrind not found (apt-get install -y valgrind)"
mkdir -p "$outdir" || die "cannot create $outdir"

# The examples and the servers each wants, exactly as c-examples/run.sh lists
# them ({4} four TCP servers, {3} three, {1} one, {unix}, {ipv6}, {tls} {mtls}
# {tlsdir} the TLS servers and certificates of c-examples/tls-setup.sh).
mapfile -t examples < <(sed -n '/^examples=(/,/^)/p' "$root/c-examples/run.sh" |
                        grep -o '"[^"]*"' | tr -d '"')
[ ${#examples[@]} -gt 0 ] || die "cannot read the list of examples from c-examples/run.sh"

selected=("$@")
wanted() {
    [ ${#selected[@]} -eq 0 ] && return 0
    local s
    for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

# shellcheck disable=SC2054  # the commas are valgrind's
vg_args=(--tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect
         --error-exitcode=99 --show-leak-kinds=definite,indirect,possible --num-callers=30)

passed=0
failed=0

# --- valgrind's verdict --------------------------------------------------------

# Sets VG_ERRORS VG_DEF VG_IND VG_POSS VG_REACH (bytes) from valgrind log $1.
parse_vg() {
    local log=$1 n
    VG_ERRORS=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tail -1 | tr -d ,)
    VG_DEF=0 VG_IND=0 VG_POSS=0 VG_REACH=0
    for kind in "definitely lost:DEF" "indirectly lost:IND" "possibly lost:POSS" "still reachable:REACH"; do
        n=$(sed -n "s/.*${kind%%:*}: \([0-9,]*\) bytes.*/\1/p" "$log" | tail -1 | tr -d ,)
        [ -n "$n" ] && printf -v "VG_${kind##*:}" '%s' "$n"
    done
    # "in use at exit: 0 bytes" prints no LEAK SUMMARY at all
    : "${VG_ERRORS:=?}"
}

vg_clean() {
    [ "$VG_ERRORS" = 0 ] && [ "$VG_DEF" = 0 ] && [ "$VG_IND" = 0 ] && [ "$VG_POSS" = 0 ]
}

vg_summary() {
    printf '%s errors, lost %s/%s/%s B (definite/indirect/possible), reachable %s B' \
        "$VG_ERRORS" "$VG_DEF" "$VG_IND" "$VG_POSS" "$VG_REACH"
}

# run_vg NAME LOGBASE PROGRAM ARGS...: one run under valgrind; sets RC, SECS and
# the VG_* values.
run_vg() {
    local base=$2; shift 2
    local start_ns
    start_ns=$(date +%s%N)
    timeout "$per_run_timeout" "$valgrind" "${vg_args[@]}" --log-file="$base.vg" "$@" >"$base.out" 2>"$base.err"
    RC=$?
    SECS=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    parse_vg "$base.vg"
}

why_failed() {
    local rc=$1
    if [ "$rc" -eq 124 ]; then echo "timed out after ${per_run_timeout}s"
    elif [ "$rc" -eq 99 ]; then echo "valgrind found errors"
    elif [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128))"
    else echo "exit status $rc"
    fi
}

# report NAME LOGBASE EXTRA: the result line of one program.
report() {
    local name=$1 base=$2 extra=$3
    if [ "$RC" -eq 0 ] && vg_clean; then
        printf 'PASS  %-14s %6ss  %s%s\n' "$name" "$SECS" "$(vg_summary)" "${extra:+; $extra}"
        passed=$((passed + 1))
    else
        printf 'FAIL  %-14s %6ss  %s; %s%s (logs: %s.{out,err,vg})\n' "$name" "$SECS" "$(vg_summary)" \
            "$(why_failed "$RC")" "${extra:+; $extra}" "$base"
        # valgrind's first complaints
        grep -E '^==[0-9]+== (Invalid|Conditional|Syscall|Mismatched|Source and|Use of|Argument|[0-9,]+ bytes in)' \
            "$base.vg" 2>/dev/null | head -10 | sed 's/^/        /'
        failed=$((failed + 1))
    fi
}

# The "NAME: N checks, M failed" line the C programs print.
checks_of() {
    local s
    s=$(cat "$1" "${1%.out}.err" 2>/dev/null | grep -E '^[a-z_]+: [0-9]+ checks, [0-9]+ failed$' | tail -1)
    echo "${s#*: }"
}

# --- build -----------------------------------------------------------------------

cflags=(-std=c99 -Wall -Wextra -Werror -g)
build_c() {   # build_c OUT SRC [extra flags...]
    local out=$1 src=$2; shift 2
    "$cc" "${cflags[@]}" "$@" -I "$incdir" -o "$out" "$src" \
        -L "$libdir" -lomcache -Wl,-rpath,"$libdir" >"$out.build.log" 2>&1
}

# --- servers, as c-examples/run.sh starts them -------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-memcheck.XXXXXX")
cleanup() {
    "$servers_sh" stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

servers4=$("$servers_sh" start "$tmp" 4) || die "cannot start memcached"
servers1=${servers4%%,*}
servers3=$(echo "$servers4" | cut -d, -f1-3)
unix_socket=$("$servers_sh" start-unix "$tmp") || die "cannot start memcached on a unix socket"
ipv6=$(MEMCACHED_HOST=::1 "$servers_sh" start "$tmp" 1 2>/dev/null) || ipv6=-
echo "memcached servers: $servers4, $unix_socket, ${ipv6/#-/(no IPv6)}"
TLS_SKIP="not selected"
if wanted tls; then
    # shellcheck source=c-examples/tls-setup.sh
    . "$root/c-examples/tls-setup.sh"
    tls_setup "$tmp" "$servers_sh" || true
fi
echo "valgrind: $("$valgrind" --version) ${vg_args[*]}; OMCACHE_TEST_SLACK=$OMCACHE_TEST_SLACK"

# --- the C examples ---------------------------------------------------------------

listed=" "
for entry in "${examples[@]}"; do
    read -r name args <<<"$entry"
    listed="$listed$name "
    wanted "$name" || continue
    if [ "$name" = tls ] && [ -n "$TLS_SKIP" ]; then
        printf 'SKIP  %-14s         %s\n' "$name" "$TLS_SKIP"
        continue
    fi
    bin=$outdir/$name
    if ! build_c "$bin" "$root/c-examples/$name.c"; then
        printf 'FAIL  %-14s does not compile (%s)\n' "$name" "$bin.build.log"
        failed=$((failed + 1))
        continue
    fi
    argv=()
    for a in $args; do
        case $a in
            "{4}") argv+=("$servers4") ;;
            "{3}") argv+=("$servers3") ;;
            "{1}") argv+=("$servers1") ;;
            "{unix}") argv+=("$unix_socket") ;;
            "{ipv6}") argv+=("$ipv6") ;;
            "{tls}") argv+=("$TLS_SERVER") ;;
            "{mtls}") argv+=("$MTLS_SERVER") ;;
            "{tlsdir}") argv+=("$TLS_DIR") ;;
        esac
    done
    run_vg "$name" "$outdir/$name" "$bin" "${argv[@]}"
    extra=$(checks_of "$outdir/$name.out")
    [ "$name" = demo ] && extra="$(grep -c . "$outdir/$name.out") lines of output"
    report "$name" "$outdir/$name" "$extra"
done
for src in "$root"/c-examples/*.c; do
    name=$(basename "$src" .c)
    case $listed in *" $name "*) ;; *) echo "note: c-examples/$name.c is not in run.sh's list; not run" ;; esac
done

# --- compat-tests: the key-mapping programs --------------------------------------------
# omc_keymap over every distribution mode and server-list kind at 50 servers (the
# float-trap count) and each mode at 1 server (no hashing), each output compared
# with lmc_keymap's for the same configuration.  lmc_keymap is libmemcached's
# code, run under memcheck too: it is reported on its own line.

if wanted omc_keymap || wanted lmc_keymap; then
    ct=$root/compat-tests
    kbuild=$outdir/keymap
    mkdir -p "$kbuild"
    kflags=(-D_POSIX_C_SOURCE=200809L -O2 -I "$ct")
    ok_build=1
    if ! pkg-config --exists libmemcached; then
        echo "FAIL  lmc_keymap     libmemcached not found by pkg-config (apt-get install libmemcached-dev)"
        failed=$((failed + 1)); ok_build=0
    else
        # shellcheck disable=SC2046
        if ! "$cc" "${cflags[@]}" "${kflags[@]}" $(pkg-config --cflags libmemcached) \
                -o "$outdir/lmc_keymap" "$ct/lmc_keymap.c" $(pkg-config --libs libmemcached) \
                >"$outdir/lmc_keymap.build.log" 2>&1; then
            printf 'FAIL  %-14s does not compile (%s)\n' lmc_keymap "$outdir/lmc_keymap.build.log"
            failed=$((failed + 1)); ok_build=0
        fi
    fi
    if ! build_c "$outdir/omc_keymap" "$ct/omc_keymap.c" "${kflags[@]}"; then
        printf 'FAIL  %-14s does not compile (%s)\n' omc_keymap "$outdir/omc_keymap.build.log"
        failed=$((failed + 1)); ok_build=0
    fi
    if [ $ok_build -eq 1 ]; then
        # shellcheck source=compat-tests/lists.sh
        . "$ct/lists.sh"
        configs=()
        for mode in ketama weighted pre1010; do
            for kind in ipv4 hosts ipv6 mixed; do configs+=("$mode 50 $kind"); done
            configs+=("$mode 1 ipv4")
        done
        for prog in lmc_keymap omc_keymap; do
            runs=0 bad_runs=0 secs_total=0 diffs=0 worst="" first_bad=""
            tot_err=0 tot_def=0 tot_ind=0 tot_poss=0 max_reach=0
            for cfg in "${configs[@]}"; do
                read -r mode n kind <<<"$cfg"
                base=$kbuild/$prog-$mode-$n-$kind
                run_vg "$prog" "$base" "$outdir/$prog" -n "$keys" "$mode" "$(list_"$kind" "$n")"
                runs=$((runs + 1))
                secs_total=$(awk -v a="$secs_total" -v b="$SECS" 'BEGIN { printf "%.1f", a + b }')
                [ "$VG_ERRORS" = "?" ] && VG_ERRORS=1
                tot_err=$((tot_err + VG_ERRORS)); tot_def=$((tot_def + VG_DEF))
                tot_ind=$((tot_ind + VG_IND)); tot_poss=$((tot_poss + VG_POSS))
                [ "$VG_REACH" -gt "$max_reach" ] && max_reach=$VG_REACH
                if [ "$RC" -ne 0 ] || ! vg_clean; then
                    bad_runs=$((bad_runs + 1))
                    [ -n "$first_bad" ] || first_bad="$cfg: $(why_failed "$RC") (logs: $base.{out,err,vg})"
                fi
                if [ "$prog" = omc_keymap ] && [ -s "$kbuild/lmc_keymap-$mode-$n-$kind.out" ]; then
                    # the same routing as libmemcached (brackets of IPv6 hosts aside)
                    if ! cmp -s <(sed 's/[][]//g' "$kbuild/lmc_keymap-$mode-$n-$kind.out") \
                                <(sed 's/[][]//g' "$base.out"); then
                        diffs=$((diffs + 1))
                        [ -n "$worst" ] || worst="$cfg"
                    fi
                fi
            done
            RC=0; [ $bad_runs -eq 0 ] || RC=1
            VG_ERRORS=$tot_err VG_DEF=$tot_def VG_IND=$tot_ind VG_POSS=$tot_poss VG_REACH=$max_reach
            SECS=$secs_total
            extra="$runs runs (${configs[0]} ... ${configs[-1]}, $keys keys)"
            if [ "$prog" = omc_keymap ]; then
                if [ $diffs -eq 0 ]; then
                    extra="$extra, routing identical to lmc_keymap"
                else
                    extra="$extra, routing differs from lmc_keymap in $diffs (first: $worst)"
                    RC=1
                fi
            fi
            [ -n "$first_bad" ] && extra="$extra; first failure: $first_bad"
            report "$prog" "$kbuild/$prog" "$extra"
        done
    fi
fi

# --- tests-c/threads.c: one handle, 8 threads ---------------------------------------------

if wanted threads; then
    bin=$outdir/threads
    if ! build_c "$bin" "$root/tests-c/threads.c" -D_POSIX_C_SOURCE=200809L -pthread -O2; then
        printf 'FAIL  %-14s does not compile (%s)\n' threads "$bin.build.log"
        failed=$((failed + 1))
    else
        run_vg threads "$outdir/threads" "$bin" -w "$per_run_timeout" "$servers4"
        report threads "$outdir/threads" "$(checks_of "$outdir/threads.out")"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

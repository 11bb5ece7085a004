#!/usr/bin/env bash
# benches/run.sh - OMcache against libmemcached on the same four local
# memcached servers (what `make bench` runs; the library must be built).
#
# 1. Throughput and client CPU: R rounds; in each round every workload runs
#    once with each client (the order alternates from round to round), each
#    run a separate process timed by /usr/bin/time.  Reported: the median
#    ops/s of each client, the median of the per-round ratios ours /
#    libmemcached, client CPU (user + sys) per operation and its ratio.
# 2. Instructions per operation under callgrind (deterministic up to the
#    number of poll/read calls): only the measured function run_workload()
#    is counted.
# 3. OMcache alone: 1,000,000 buffered sets flushed with one omcache_io()
#    over four fresh servers, checked with the servers' curr_items.
# 4. Text protocol: the Rust engine over text (examples/bench_engine.rs,
#    BENCH_PROTOCOL=text) against libmemcached over text (its default
#    protocol; BENCH_PROTOCOL=text bench_libmemcached), as in 1 and 2.
# 5. Meta against binary, both the engine (bench_engine with
#    BENCH_PROTOCOL=meta / binary), and the engine over binary against the C
#    API (bench_omcache), the three alternating in the same rounds, as in 1
#    and 2.
# 6. The libmemcached face: the same bench_libmemcached binary with Debian's
#    libmemcached.so.11 and with ours substituted (LD_LIBRARY_PATH=
#    build/libmemcached, LD_BIND_NOW=1, which the real library's runs get too),
#    binary and text protocol, the four alternating in the same rounds, as in
#    1 and 2; the buffered runs also count the sets the servers stored (sum
#    of total_items before and after each run, once the servers are idle).
# 7. Buffered requests in large batches (BENCH_BIG_BATCHES sets per
#    memcached_flush_buffers()), both libraries, both protocols: sets
#    attempted, issued before the library gave up or aborted, and stored.
#    Ours must store every set (a lost one counts as a failure).
# 8. Python (python/bench/bench_pylibmc.py): get, set, 100-key get_multi and
#    4 threads on a ThreadMappedPool against one thread, each implementation
#    of BENCH_PYTHON_IMPLS against the first, one local memcached.  Runs when
#    the interpreter exists and every implementation imports (the default
#    needs `make python`).
# 9. The ceiling: get, set and 100-key multi-get of a floor client
#    (benches/bench_floor.c: requests built before the clock, answers counted
#    and never parsed - nothing but the system calls) against libmemcached,
#    with ours (the engine, and the libmemcached face substituted) in the
#    same rounds, per protocol (text, then binary): the floor's ratio is the
#    highest any client reaches against libmemcached on this machine, the
#    yardstick for ours and for the issues' targets.  More rounds of fewer
#    calls than part 1 (BENCH_FLOOR_ROUNDS, BENCH_FLOOR_SCALE).
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [7]       BENCH_N_GET [30000]     BENCH_N_SET [30000]
#   BENCH_N_MULTIGET [3000] (calls of 100 keys)    BENCH_N_BUFFERED [500000]
#   BENCH_BATCH [100]      sets per buffered batch, for both clients (see
#                          benches/bench_libmemcached.c for why it is small)
#   BENCH_CALLGRIND [1]    0 skips part 2 (and the instruction counts of 4, 5, 6)
#   BENCH_MILLION [1000000], 0 skips part 3
#   BENCH_PROTOCOLS [1]    0 skips parts 4 and 5 (and the cargo build they need)
#   BENCH_LMC_FACE [1]     0 skips parts 6 and 7
#   BENCH_BIG_BATCHES [1000 10000]   BENCH_N_BIG [100000] (sets per library,
#                          protocol and batch size in part 7)
#   BENCH_PYTHON [1]       0 skips part 8
#   BENCH_PYTHON_BIN [<build>/pyenv/bin/python]
#   BENCH_PYTHON_IMPLS [pylibmc,omcache.pylibmc] (the first is the reference)
#   BENCH_PYTHON_PROTOCOLS [text,binary]
#   BENCH_PYTHON_ARGS []   more options for bench_pylibmc.py (e.g. --n-get 5000)
#   BENCH_FLOOR_ROUNDS [11]  BENCH_FLOOR_SCALE [2] part 9's rounds, and the
#                          calls per run: part 1's divided by the scale
#   BENCH_PARTS [1 2 3 4 5 6 7 8 9]  the parts to run (the knobs above still
#                          apply), e.g. BENCH_PARTS="6 7 8"
#   CC [cc]                OMCACHE_BUILD [<repo>/build]
#   CARGO [cargo]          CARGO_TARGET_DIR [<repo>/target]
# Every run is logged to build/bench/runs-<date>.log (and runs-latest.log).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
out=$build/bench
cc=${CC:-cc}
servers_sh=$root/scripts/memcached-servers.sh

rounds=${BENCH_ROUNDS:-7}
n_get=${BENCH_N_GET:-30000}
n_set=${BENCH_N_SET:-30000}
n_multi=${BENCH_N_MULTIGET:-3000}
n_buf=${BENCH_N_BUFFERED:-500000}
export BENCH_BATCH=${BENCH_BATCH:-100}
do_callgrind=${BENCH_CALLGRIND:-1}
million=${BENCH_MILLION:-1000000}
do_protocols=${BENCH_PROTOCOLS:-1}
do_lmc_face=${BENCH_LMC_FACE:-1}
big_batches=${BENCH_BIG_BATCHES:-1000 10000}
n_big=${BENCH_N_BIG:-100000}
do_python=${BENCH_PYTHON:-1}
python_bin=${BENCH_PYTHON_BIN:-$build/pyenv/bin/python}
python_impls=${BENCH_PYTHON_IMPLS:-pylibmc,omcache.pylibmc}
python_protocols=${BENCH_PYTHON_PROTOCOLS:-text,binary}
read -r -a python_args <<<"${BENCH_PYTHON_ARGS:-}"
floor_rounds=${BENCH_FLOOR_ROUNDS:-11}
floor_scale=${BENCH_FLOOR_SCALE:-2}
parts=" ${BENCH_PARTS:-1 2 3 4 5 6 7 8 9} "
# want N: part N is selected by BENCH_PARTS
want() { [[ $parts == *" $1 "* ]]; }
[ "$do_callgrind" = 0 ] || { want 2 || want 4 || want 5 || want 6; } || do_callgrind=0
{ want 4 || want 5 || want 9; } || do_protocols=0
{ want 6 || want 7 || want 9; } || do_lmc_face=0
want 8 || do_python=0

workloads="get set multiget buffered"
clients="omcache libmemcached"

die() { echo "benches/run.sh: $*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
need_pkg() {   # need_pkg COMMAND-TEST PACKAGE
    eval "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "installing $2 ..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null 2>&1; } ||
            die "could not install $2"
    else
        die "$2 is needed: sudo apt-get install -y $2"
    fi
}
need_pkg "test -x /usr/bin/time" time
need_pkg "pkg-config --exists libmemcached" libmemcached-dev
[ "$do_callgrind" = 0 ] || need_pkg "command -v valgrind" valgrind

[ -e "$build/lib/libomcache.so" ] && [ -e "$build/include/omcache.h" ] ||
    die "$build/lib/libomcache.so is missing; run make first"
[ "$do_lmc_face" = 0 ] || [ -e "$build/libmemcached/libmemcached.so.11" ] ||
    die "$build/libmemcached/libmemcached.so.11 is missing; run make first"

# --- build ----------------------------------------------------------------------
mkdir -p "$out"
cflags="-std=c99 -O2 -g -Wall -Wextra -Werror"
$cc $cflags -I "$build/include" -o "$out/bench_omcache" "$root/benches/bench_omcache.c" \
    -L "$build/lib" -lomcache -Wl,-rpath,"$build/lib" || die "cannot build bench_omcache"
# shellcheck disable=SC2046
$cc $cflags $(pkg-config --cflags libmemcached) -o "$out/bench_libmemcached" \
    "$root/benches/bench_libmemcached.c" $(pkg-config --libs libmemcached) ||
    die "cannot build bench_libmemcached"
# shellcheck disable=SC2046
$cc $cflags $(pkg-config --cflags libmemcached) -o "$out/bench_floor" \
    "$root/benches/bench_floor.c" $(pkg-config --libs libmemcached) ||
    die "cannot build bench_floor"
if [ "$do_protocols" != 0 ]; then
    target_dir=${CARGO_TARGET_DIR:-target}
    case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
    (cd "$root" && CARGO_TARGET_DIR=$target_dir ${CARGO:-cargo} build --release --locked --quiet \
        --example bench_engine) || die "cannot build examples/bench_engine.rs"
    cp -f "$target_dir/release/examples/bench_engine" "$out/bench_engine" ||
        die "cannot copy bench_engine"
fi

if [ "$do_lmc_face" != 0 ]; then
    # The substitution must really load ours (bench_libmemcached links
    # libmemcached.so.11 by its SONAME, as Debian's programs do).
    LD_LIBRARY_PATH=$build/libmemcached${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$out/bench_libmemcached" |
        grep -q "libmemcached.so.11 => $build/libmemcached/libmemcached.so.11" ||
        die "LD_LIBRARY_PATH=$build/libmemcached does not substitute libmemcached.so.11"
fi

stamp=$(date +%Y%m%d-%H%M%S)
log=$out/runs-$stamp.log
ln -sf "runs-$stamp.log" "$out/runs-latest.log"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-bench.XXXXXX")
cleanup() {
    "$servers_sh" stop "$tmp/servers"
    "$servers_sh" stop "$tmp/million"
    "$servers_sh" stop "$tmp/python"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

servers=$("$servers_sh" start "$tmp/servers" 4 -m 512) || die "cannot start memcached"
{
    echo "# omcache-rs benchmark $stamp on $(uname -n), $(nproc) CPUs"
    echo "# memcached $(memcached -V 2>/dev/null | awk '{print $2}'), libmemcached $(pkg-config --modversion libmemcached)"
    echo "# servers $servers; rounds $rounds; batch $BENCH_BATCH"
    echo "# round client workload n seconds ops_per_sec user_s sys_s"
} >"$log"
echo "servers: $servers"
echo "rounds: $rounds (get $n_get, set $n_set, multiget $n_multi x 100 keys, buffered $n_buf in batches of $BENCH_BATCH)"

for c in $clients; do
    "$out/bench_$c" populate "$servers" 0 || die "bench_$c populate failed"
done

n_of() {
    case $1 in get) echo "$n_get" ;; set) echo "$n_set" ;; multiget) echo "$n_multi" ;; buffered) echo "$n_buf" ;; esac
}

# The environment of part 6's runs: ours substituted for Debian's
# libmemcached.so.11, and immediate binding for both (every import resolved
# at start-up, as issue 8 asks, outside the timed part anyway).
lmc_ours_env=(LD_LIBRARY_PATH="$build/libmemcached${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" LD_BIND_NOW=1)
lmc_real_env=(LD_BIND_NOW=1)

# client_cmd CLIENT -> sets prog (the program), proto (its BENCH_PROTOCOL),
# toggle (its measured function, for callgrind) and envs (more environment)
client_cmd() {
    envs=()
    case $1 in
        omcache | omcache-capi) prog=$out/bench_omcache proto=binary toggle=run_workload ;;
        libmemcached) prog=$out/bench_libmemcached proto=binary toggle=run_workload ;;
        libmemcached-text) prog=$out/bench_libmemcached proto=text toggle=run_workload ;;
        engine-*) prog=$out/bench_engine proto=${1#engine-} toggle=run_workload_engine ;;
        floor-*) prog=$out/bench_floor proto=${1#floor-} toggle=run_workload ;;
        lmc-ours | lmc-ours-text | lmc-real | lmc-real-text)
            prog=$out/bench_libmemcached toggle=run_workload
            case $1 in *-text) proto=text ;; *) proto=binary ;; esac
            case $1 in lmc-ours*) envs=("${lmc_ours_env[@]}") ;; *) envs=("${lmc_real_env[@]}") ;; esac
            ;;
        *) die "unknown client $1" ;;
    esac
}

# total_items SERVERS -> the sum of the servers' total_items (items ever
# stored), once two readings 0.2 s apart agree: a client that has exited may
# have left requests the servers are still reading.
server_total_items() {   # HOST:PORT
    local host=${1%:*} port=${1##*:} fd line
    host=${host#[}
    host=${host%]}
    exec {fd}<>"/dev/tcp/$host/$port" || return 1
    printf 'stats\r\n' >&"$fd"
    while IFS= read -r -t 10 line <&"$fd"; do
        line=${line%$'\r'}
        case $line in
            "STAT total_items "*) echo "${line##* }" ;;
            END) break ;;
        esac
    done
    exec {fd}>&-
}
total_items() {
    local list prev=-1 now s tries=0
    IFS=, read -r -a list <<<"$1"
    while :; do
        now=0
        for s in "${list[@]}"; do
            now=$((now + $(server_total_items "$s")))
        done
        [ "$now" = "$prev" ] && break
        tries=$((tries + 1))
        [ "$tries" -ge 50 ] && break
        prev=$now
        sleep 0.2
    done
    echo "$now"
}

# run ROUND CLIENT WORKLOAD N  -> appends one line to the log (and, for
# part 6's buffered runs, a "stored ROUND CLIENT N STORED" line)
failures=0
run() {
    local r=$1 c=$2 w=$3 n=$4 line cpu prog proto toggle envs before=
    client_cmd "$c"
    case $c/$w in lmc-*/buffered) before=$(total_items "$servers") ;; esac
    if ! line=$(env "${envs[@]}" BENCH_PROTOCOL="$proto" /usr/bin/time -f "%U %S" -o "$tmp/time" "$prog" "$w" "$servers" "$n" 2>"$tmp/err"); then
        echo "  round $r: $c $w FAILED:" >&2
        sed 's/^/    /' "$tmp/err" | head -8 >&2
        echo "# round $r $c $w failed: $(tr '\n' ' ' <"$tmp/err")" >>"$log"
        failures=$((failures + 1))
    else
        cpu=$(tail -1 "$tmp/time")
        echo "$r $c $line $cpu" >>"$log"
    fi
    [ -z "$before" ] || echo "stored $r $c $n $(($(total_items "$servers") - before))" >>"$log"
}

# --- part 1: omcache against libmemcached, and the table -----------------------
if want 1; then
    start_s=$(date +%s)
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) -eq 1 ]; then order="omcache libmemcached"; else order="libmemcached omcache"; fi
        for w in $workloads; do
            for c in $order; do
                run "$r" "$c" "$w" "$(n_of "$w")"
            done
        done
        printf '\r  round %d/%d done (%ds)' "$r" "$rounds" $(($(date +%s) - start_s)) >&2
    done
    echo >&2

    echo
    echo "Throughput and client CPU, median of $rounds rounds (ratio = ours / libmemcached, per round):"
    awk -v workloads="$workloads" '
    function median(list,    a, n, i, j, t) {
        n = split(list, a, " ")
        if (n == 0) return -1
        for (i = 2; i <= n; i++)            # insertion sort, numeric
            for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    /^#/ { next }
    {
        r = $1; c = $2; w = $3; n = $4; ops = $6; cpu = $7 + $8
        key = r SUBSEP w
        if (c == "omcache") { o_ops[key] = ops; o_cpu[key] = cpu * 1e6 / n }
        else                { l_ops[key] = ops; l_cpu[key] = cpu * 1e6 / n }
        seen_round[r] = 1
    }
    END {
        printf "%-10s | %14s | %17s | %11s | %14s | %14s | %9s\n", "workload", "ours ops/s", "libmemcached ops/s", "ratio", "ours CPU us/op", "libm CPU us/op", "CPU ratio"
        printf "%-10s-+-%14s-+-%17s-+-%11s-+-%14s-+-%14s-+-%9s\n", "----------", "--------------", "-----------------", "-----------", "--------------", "--------------", "---------"
        nw = split(workloads, ws, " ")
        for (i = 1; i <= nw; i++) {
            w = ws[i]; lo = ""; ll = ""; lr = ""; co = ""; cl = ""; cr = ""
            for (r in seen_round) {
                key = r SUBSEP w
                if (key in o_ops) { lo = lo " " o_ops[key]; co = co " " o_cpu[key] }
                if (key in l_ops) { ll = ll " " l_ops[key]; cl = cl " " l_cpu[key] }
                if ((key in o_ops) && (key in l_ops) && l_ops[key] > 0) {
                    lr = lr " " o_ops[key] / l_ops[key]
                    if (l_cpu[key] > 0) cr = cr " " o_cpu[key] / l_cpu[key]
                }
            }
            unit = (w == "multiget") ? " (x100 keys)" : ""
            printf "%-10s | %14.0f | %17.0f | %10.2fx | %14.2f | %14.2f | %8.2fx\n", w, median(lo), median(ll), median(lr), median(co), median(cl), median(cr)
        }
        print "(multiget: one op = one call fetching 100 keys from 4 servers; CPU = the client process, user + sys, /usr/bin/time)"
    }' "$log" | tee "$out/summary-$stamp.txt"
fi

# --- part 2: instructions per operation ----------------------------------------
if [ "$do_callgrind" != 0 ] && want 2; then
    echo
    echo "Instructions per operation (valgrind --tool=callgrind --toggle-collect=run_workload):"
    printf '%-10s | %14s | %17s | %9s\n' workload "ours instr/op" "libmemcached" ratio | tee -a "$out/summary-$stamp.txt"
    for w in $workloads; do
        case $w in get | set) n=2000 ;; multiget) n=200 ;; buffered) n=20000 ;; esac
        declare -A ir=()
        for c in $clients; do
            cg=$tmp/callgrind.$c.$w
            if valgrind --tool=callgrind --toggle-collect=run_workload --callgrind-out-file="$cg" \
                    "$out/bench_$c" "$w" "$servers" "$n" >/dev/null 2>"$tmp/vg.err"; then
                total=$(awk '/^(summary|totals):/ { print $2; exit }' "$cg")
                ir[$c]=$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
                echo "callgrind $c $w n=$n instructions=$total per_op=${ir[$c]}" >>"$log"
            else
                ir[$c]=0
                echo "  callgrind $c $w failed:" >&2
                tail -5 "$tmp/vg.err" | sed 's/^/    /' >&2
                failures=$((failures + 1))
            fi
        done
        awk -v w="$w" -v o="${ir[omcache]}" -v l="${ir[libmemcached]}" 'BEGIN {
            printf "%-10s | %14d | %17d | %8.2fx\n", w, o, l, (l > 0 ? o / l : 0) }' |
            tee -a "$out/summary-$stamp.txt"
        unset ir
    done
fi

# --- part 3: a million buffered sets --------------------------------------------
if [ "$million" != 0 ] && want 3; then
    echo
    echo "OMcache: $million buffered sets (100-byte values) flushed with one omcache_io() over 4 fresh servers:"
    mservers=$("$servers_sh" start "$tmp/million" 4 -m 1024) || die "cannot start memcached"
    if line=$(/usr/bin/time -f "%U %S %M" -o "$tmp/time" "$out/bench_omcache" million "$mservers" "$million" 2>"$tmp/err"); then
        read -r _ n secs ops <<<"$(head -1 <<<"$line")"
        read -r user sys maxrss <<<"$(tail -1 "$tmp/time")"
        printf '  %.2f s, %.0f sets/s, client CPU %.2f s (%.2f us/set), peak RSS %d MB\n' \
            "$secs" "$ops" "$(echo "$user $sys" | awk '{print $1 + $2}')" \
            "$(echo "$user $sys $n" | awk '{print ($1 + $2) * 1e6 / $3}')" $((maxrss / 1024)) |
            tee -a "$out/summary-$stamp.txt"
        echo "  $(tail -1 <<<"$line")" | tee -a "$out/summary-$stamp.txt"
        echo "# million: $(tr "\n" " " <<<"$line")user $user sys $sys maxrss_kb $maxrss" >>"$log"
    else
        echo "  FAILED:" >&2
        sed 's/^/    /' "$tmp/err" "$tmp/time" | head -10 >&2
        failures=$((failures + 1))
    fi
    "$servers_sh" stop "$tmp/million"
fi

# --- parts 4 and 5: text and meta ---------------------------------------------
# rounds "CLIENT..." -> runs every workload once per client per round, the
# order rotating from round to round (for two clients: alternating)
rounds() {
    local list=($1) k r w c order start_s
    start_s=$(date +%s)
    for r in $(seq 1 "$rounds"); do
        order=()
        for k in "${!list[@]}"; do
            order+=("${list[$(((k + r - 1) % ${#list[@]}))]}")
        done
        for w in $workloads; do
            for c in "${order[@]}"; do
                run "$r" "$c" "$w" "$(n_of "$w")"
            done
        done
        printf '\r  round %d/%d done (%ds)' "$r" "$rounds" $(($(date +%s) - start_s)) >&2
    done
    echo >&2
}

# table A B "A ops/s" "B ops/s" "A CPU us/op" "B CPU us/op" -> part 1's table for
# clients A and B (ratio = A / B, per round), from the log
table() {
    awk -v workloads="$workloads" -v a="$1" -v b="$2" -v ha="$3" -v hb="$4" -v ca="$5" -v cb="$6" '
function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return -1
    for (i = 2; i <= n; i++)            # insertion sort, numeric
        for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
$1 !~ /^[0-9]+$/ { next }
$2 != a && $2 != b { next }
{
    r = $1; c = $2; w = $3; n = $4; ops = $6; cpu = $7 + $8
    key = r SUBSEP w
    if (c == a) { o_ops[key] = ops; o_cpu[key] = cpu * 1e6 / n }
    else        { l_ops[key] = ops; l_cpu[key] = cpu * 1e6 / n }
    seen_round[r] = 1
}
END {
    printf "%-10s | %14s | %17s | %11s | %14s | %14s | %9s\n", "workload", ha, hb, "ratio", ca, cb, "CPU ratio"
    printf "%-10s-+-%14s-+-%17s-+-%11s-+-%14s-+-%14s-+-%9s\n", "----------", "--------------", "-----------------", "-----------", "--------------", "--------------", "---------"
    nw = split(workloads, ws, " ")
    for (i = 1; i <= nw; i++) {
        w = ws[i]; lo = ""; ll = ""; lr = ""; co = ""; cl = ""; cr = ""
        for (r in seen_round) {
            key = r SUBSEP w
            if (key in o_ops) { lo = lo " " o_ops[key]; co = co " " o_cpu[key] }
            if (key in l_ops) { ll = ll " " l_ops[key]; cl = cl " " l_cpu[key] }
            if ((key in o_ops) && (key in l_ops) && l_ops[key] > 0) {
                lr = lr " " o_ops[key] / l_ops[key]
                if (l_cpu[key] > 0) cr = cr " " o_cpu[key] / l_cpu[key]
            }
        }
        printf "%-10s | %14.0f | %17.0f | %10.2fx | %14.2f | %14.2f | %8.2fx\n", w, median(lo), median(ll), median(lr), median(co), median(cl), median(cr)
    }
}' "$log" | tee -a "$out/summary-$stamp.txt"
}

# instructions "CLIENT..." -> callgrind instructions per operation of every
# client and workload, into ir[CLIENT,WORKLOAD] (0: failed) and the log
declare -A ir=()
instructions() {
    local c w n cg total prog proto toggle envs
    for w in $workloads; do
        case $w in get | set) n=2000 ;; multiget) n=200 ;; buffered) n=20000 ;; esac
        for c in $1; do
            client_cmd "$c"
            cg=$tmp/callgrind.$c.$w
            if env "${envs[@]}" BENCH_PROTOCOL="$proto" valgrind --tool=callgrind --toggle-collect="$toggle" \
                    --callgrind-out-file="$cg" "$prog" "$w" "$servers" "$n" >/dev/null 2>"$tmp/vg.err"; then
                total=$(awk '/^(summary|totals):/ { print $2; exit }' "$cg")
                ir[$c,$w]=$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
                echo "callgrind $c $w n=$n instructions=$total per_op=${ir[$c,$w]}" >>"$log"
            else
                ir[$c,$w]=0
                echo "  callgrind $c $w failed:" >&2
                tail -5 "$tmp/vg.err" | sed 's/^/    /' >&2
                failures=$((failures + 1))
            fi
        done
    done
}

# instruction_table A B "A instr/op" "B instr/op" -> part 2's table (ratio = A / B)
instruction_table() {
    local w
    printf '%-10s | %14s | %17s | %9s\n' workload "$3" "$4" ratio | tee -a "$out/summary-$stamp.txt"
    for w in $workloads; do
        awk -v w="$w" -v o="${ir[$1,$w]}" -v l="${ir[$2,$w]}" 'BEGIN {
            printf "%-10s | %14d | %17d | %8.2fx\n", w, o, l, (l > 0 ? o / l : 0) }' |
            tee -a "$out/summary-$stamp.txt"
    done
}

if [ "$do_protocols" != 0 ] && want 4; then
    # Both clients can do every workload over text (libmemcached's buffered
    # text sets are plain "set" lines whose STORED answers it reads later, ours
    # are "set ... noreply").
    title="Text protocol: ours (the engine, text) vs libmemcached (text, its default), median of $rounds rounds (ratio = ours / libmemcached, per round):"
    echo
    echo "$title" | tee -a "$out/summary-$stamp.txt"
    echo "# text: engine-text vs libmemcached-text" >>"$log"
    rounds "engine-text libmemcached-text"
    table engine-text libmemcached-text "ours ops/s" "libmemcached ops/s" "ours CPU us/op" "libm CPU us/op"
    if [ "$do_callgrind" != 0 ]; then
        instructions "engine-text libmemcached-text"
        echo "Instructions per operation, text (callgrind, --toggle-collect=run_workload_engine / run_workload):" |
            tee -a "$out/summary-$stamp.txt"
        instruction_table engine-text libmemcached-text "ours instr/op" "libmemcached"
    fi
fi

if [ "$do_protocols" != 0 ] && want 5; then
    echo
    echo "Meta vs binary, both the engine; and the engine vs the C API, both binary; median of $rounds rounds (per-round ratios):" |
        tee -a "$out/summary-$stamp.txt"
    echo "# meta: engine-meta engine-binary omcache-capi" >>"$log"
    rounds "engine-meta engine-binary omcache-capi"
    echo "meta vs binary (ratio = meta / binary):" | tee -a "$out/summary-$stamp.txt"
    table engine-meta engine-binary "meta ops/s" "binary ops/s" "meta CPU us/op" "bin CPU us/op"
    echo "the engine vs the C API, binary (ratio = engine / C API):" | tee -a "$out/summary-$stamp.txt"
    table engine-binary omcache-capi "engine ops/s" "C API ops/s" "eng CPU us/op" "C API us/op"
    if [ "$do_callgrind" != 0 ]; then
        instructions "engine-meta engine-binary omcache-capi"
        echo "Instructions per operation, meta vs binary (callgrind):" | tee -a "$out/summary-$stamp.txt"
        instruction_table engine-meta engine-binary "meta instr/op" "binary instr/op"
        echo "Instructions per operation, the engine vs the C API, binary (callgrind):" | tee -a "$out/summary-$stamp.txt"
        instruction_table engine-binary omcache-capi "engine instr/op" "C API instr/op"
    fi
fi

# --- parts 6 and 7: the libmemcached face ---------------------------------------
# stored_summary OURS REAL -> the buffered sets each client's runs stored,
# from the "stored" lines of the log; a set of ours lost is a failure
stored_summary() {
    local summary
    summary=$(awk -v a="$1" -v b="$2" '
$1 == "stored" && $3 == a { an += $4; as += $5 }
$1 == "stored" && $3 == b { bn += $4; bs += $5 }
END {
    printf "buffered sets stored (the servers\047 total_items, all rounds): ours %d of %d, libmemcached %d of %d\n", as, an, bs, bn
    if (as != an) print "LOST"
}' "$log")
    echo "${summary%$'\n'LOST}" | tee -a "$out/summary-$stamp.txt"
    case $summary in
        *LOST) echo "  ours lost buffered sets" >&2; failures=$((failures + 1)) ;;
    esac
}

if [ "$do_lmc_face" != 0 ] && want 6; then
    echo
    echo "The libmemcached face: bench_libmemcached with Debian's libmemcached.so.11 and with ours substituted (LD_LIBRARY_PATH=$build/libmemcached, LD_BIND_NOW=1 for both), median of $rounds rounds (ratio = ours / libmemcached, per round):" |
        tee -a "$out/summary-$stamp.txt"
    echo "# lmc-face: lmc-ours lmc-real lmc-ours-text lmc-real-text" >>"$log"
    rounds "lmc-ours lmc-real lmc-ours-text lmc-real-text"
    echo "binary protocol:" | tee -a "$out/summary-$stamp.txt"
    table lmc-ours lmc-real "ours ops/s" "libmemcached ops/s" "ours CPU us/op" "libm CPU us/op"
    stored_summary lmc-ours lmc-real
    echo "text protocol:" | tee -a "$out/summary-$stamp.txt"
    table lmc-ours-text lmc-real-text "ours ops/s" "libmemcached ops/s" "ours CPU us/op" "libm CPU us/op"
    stored_summary lmc-ours-text lmc-real-text
    echo "(multiget: one op = one call fetching 100 keys from 4 servers; buffered: batches of $BENCH_BATCH)" |
        tee -a "$out/summary-$stamp.txt"
    if [ "$do_callgrind" != 0 ]; then
        instructions "lmc-ours lmc-real lmc-ours-text lmc-real-text"
        echo "Instructions per operation, the libmemcached face, binary (callgrind, --toggle-collect=run_workload):" |
            tee -a "$out/summary-$stamp.txt"
        instruction_table lmc-ours lmc-real "ours instr/op" "libmemcached"
        echo "Instructions per operation, the libmemcached face, text:" | tee -a "$out/summary-$stamp.txt"
        instruction_table lmc-ours-text lmc-real-text "ours instr/op" "libmemcached"
    fi
fi

if [ "$do_lmc_face" != 0 ] && want 7; then
    echo
    echo "Buffered requests in large batches: $n_big buffered sets (100-byte values) per run, memcached_flush_buffers() every BATCH sets, 4 servers; issued = sets handed to memcached_set() before the end or an abort; stored = the servers' total_items:" |
        tee -a "$out/summary-$stamp.txt"
    printf '%-8s | %6s | %-12s | %9s | %9s | %9s | %s\n' protocol batch library attempted issued stored outcome |
        tee -a "$out/summary-$stamp.txt"
    for proto in binary text; do
        for batch in $big_batches; do
            for lib in ours real; do
                c=lmc-$lib
                [ "$proto" = text ] && c=$c-text
                client_cmd "$c"
                before=$(total_items "$servers")
                # (the braces take bash's own "Aborted" notice: the table says it)
                {
                    env "${envs[@]}" BENCH_BATCH="$batch" BENCH_PROTOCOL="$proto" timeout 300 \
                        "$prog" buffered "$servers" "$n_big" >"$tmp/big.out" 2>"$tmp/big.err"
                } 2>/dev/null
                status=$?
                stored=$(($(total_items "$servers") - before))
                issued=$(sed -n 's/.*SIGABRT after \([0-9]*\) buffered sets issued.*/\1/p' "$tmp/big.err")
                case $status in
                    0) outcome=ok ;;
                    1) outcome="$(sed -n 's/^bench_libmemcached: \([0-9]*\) errors$/\1 errors/p' "$tmp/big.err"), first: $(head -1 "$tmp/big.err" | sed 's/^bench_libmemcached: //')" ;;
                    124) outcome="timed out after 300 s" ;;
                    *)
                        if [ "$status" -gt 128 ]; then
                            outcome="killed by SIG$(kill -l $((status - 128)))"
                            why=$(grep -o 'Assertion .* failed' "$tmp/big.err" | head -1)
                            [ -z "$why" ] || outcome="$outcome ($(grep -o '[a-z/]*\.cc:[0-9]*' "$tmp/big.err" | head -1): $why)"
                        else
                            outcome="exit status $status"
                        fi
                        ;;
                esac
                if [ "$lib" = ours ] && [ "$stored" != "$n_big" ]; then
                    outcome="$outcome; LOST $((n_big - stored))"
                    failures=$((failures + 1))
                fi
                library=$([ "$lib" = ours ] && echo ours || echo libmemcached)
                printf '%-8s | %6d | %-12s | %9d | %9d | %9d | %s\n' "$proto" "$batch" "$library" \
                    "$n_big" "${issued:-$n_big}" "$stored" "$outcome" | tee -a "$out/summary-$stamp.txt"
                echo "big-batch $proto $batch $c n=$n_big issued=${issued:-$n_big} stored=$stored status=$status $(head -3 "$tmp/big.err" | tr '\n' ' ')" >>"$log"
            done
        done
    done
fi

# --- part 8: Python ---------------------------------------------------------------
if [ "$do_python" != 0 ]; then
    echo
    if [ ! -x "$python_bin" ]; then
        echo "Python (part 8) skipped: no $python_bin (make python builds it)" | tee -a "$out/summary-$stamp.txt"
    elif ! "$python_bin" -c 'import importlib, sys
for name in sys.argv[1].split(","):
    importlib.import_module(name)' "$python_impls" 2>"$tmp/py.err"; then
        echo "Python (part 8) skipped: $python_bin cannot import one of $python_impls: $(tail -1 "$tmp/py.err")" |
            tee -a "$out/summary-$stamp.txt"
    else
        pserver=$("$servers_sh" start "$tmp/python" 1 -m 256) || die "cannot start memcached"
        echo "# python: $python_impls on $pserver" >>"$log"
        "$python_bin" "$root/python/bench/bench_pylibmc.py" --server "$pserver" \
            --server-pid "$(head -1 "$tmp/python/pids")" --impl "$python_impls" \
            --protocols "$python_protocols" --rounds "$rounds" "${python_args[@]}" 2> >(tee "$tmp/py.err" >&2) |
            tee -a "$out/summary-$stamp.txt"
        if [ "${PIPESTATUS[0]}" != 0 ]; then
            echo "  python/bench/bench_pylibmc.py FAILED:" >&2
            tail -8 "$tmp/py.err" | sed 's/^/    /' >&2
            failures=$((failures + 1))
        fi
        "$servers_sh" stop "$tmp/python"
    fi
fi

# --- part 9: the ceiling ------------------------------------------------------------
# floor_table PROTO FLOOR REF "CLIENT..." -> per workload, the median over the
# rounds of each client's ops/s and of its per-round ratio against REF
floor_table() {
    awk -v workloads="get set multiget" -v floor="$2" -v ref="$3" -v others="$4" -v proto="$1" '
function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return -1
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
$1 !~ /^c[0-9]+$/ { next }
{ ops[$1, $2, $3] = $6; seen[$1] = 1 }
END {
    nc = split(floor " " others, cs, " ")
    printf "%-8s | %-9s | %13s", proto, "workload", "libmemcached"
    for (k = 1; k <= nc; k++) printf " | %20s", cs[k]
    printf "\n"
    nw = split(workloads, ws, " ")
    for (i = 1; i <= nw; i++) {
        w = ws[i]; lr = ""
        for (r in seen) if ((r, ref, w) in ops) lr = lr " " ops[r, ref, w]
        printf "%-8s | %-9s | %7.0f ops/s", proto, w, median(lr)
        for (k = 1; k <= nc; k++) {
            lo = ""; rr = ""
            for (r in seen)
                if ((r, cs[k], w) in ops && (r, ref, w) in ops && ops[r, ref, w] > 0) {
                    lo = lo " " ops[r, cs[k], w]; rr = rr " " ops[r, cs[k], w] / ops[r, ref, w]
                }
            printf " | %7.0f ops/s %5.2fx", median(lo), median(rr)
        }
        printf "\n"
    }
}' "$log" | tee -a "$out/summary-$stamp.txt"
}

if want 9; then
    echo
    echo "The ceiling (part 9): a floor client that only makes the system calls (benches/bench_floor.c), libmemcached and ours, the same workloads alternating in $floor_rounds rounds of part 1's calls / $floor_scale; ops/s medians, ratios = median of per-round ratios against libmemcached (the floor's is the highest any client reaches here):" |
        tee -a "$out/summary-$stamp.txt"
    saved=("$rounds" "$n_get" "$n_set" "$n_multi" "$workloads")
    rounds=$floor_rounds n_get=$((n_get / floor_scale)) n_set=$((n_set / floor_scale))
    n_multi=$((n_multi / floor_scale)) workloads="get set multiget"
    # The rounds are labelled c1, c2, ... in the log (the other parts' tables read
    # numbered rounds only).
    run_floor_rounds() {
        local list=($1) k r w c order start_s
        start_s=$(date +%s)
        for r in $(seq 1 "$rounds"); do
            order=()
            for k in "${!list[@]}"; do
                order+=("${list[$(((k + r - 1) % ${#list[@]}))]}")
            done
            for w in $workloads; do
                for c in "${order[@]}"; do
                    run "c$((r + $2))" "$c" "$w" "$(n_of "$w")"
                done
            done
            printf '\r  round %d/%d done (%ds)' "$r" "$rounds" $(($(date +%s) - start_s)) >&2
        done
        echo >&2
    }
    text_clients="floor-text lmc-real-text"
    binary_clients="floor-binary lmc-real omcache-capi"
    [ "$do_protocols" = 0 ] || { text_clients="$text_clients engine-text"; binary_clients="$binary_clients engine-binary"; }
    [ "$do_lmc_face" = 0 ] || { text_clients="$text_clients lmc-ours-text"; binary_clients="$binary_clients lmc-ours"; }
    run_floor_rounds "$text_clients" 0
    floor_table text floor-text lmc-real-text "${text_clients#floor-text lmc-real-text }"
    run_floor_rounds "$binary_clients" "$rounds"
    floor_table binary floor-binary lmc-real "${binary_clients#floor-binary lmc-real }"
    echo "(engine-*: the Rust engine, examples/bench_engine.rs; omcache-capi: the C API; lmc-ours*: bench_libmemcached on our libmemcached.so.11; multiget: one op = one call of 100 keys over 4 servers)" |
        tee -a "$out/summary-$stamp.txt"
    rounds=${saved[0]} n_get=${saved[1]} n_set=${saved[2]} n_multi=${saved[3]} workloads=${saved[4]}
fi

echo
echo "per-run values: $log"
ln -sf "summary-$stamp.txt" "$out/summary-latest.txt"
if [ "$failures" -gt 0 ]; then
    echo "$failures runs failed" >&2
    exit 1
fi

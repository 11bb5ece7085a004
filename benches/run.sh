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
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [7]       BENCH_N_GET [30000]     BENCH_N_SET [30000]
#   BENCH_N_MULTIGET [3000] (calls of 100 keys)    BENCH_N_BUFFERED [500000]
#   BENCH_BATCH [100]      sets per buffered batch, for both clients (see
#                          benches/bench_libmemcached.c for why it is small)
#   BENCH_CALLGRIND [1]    0 skips part 2 (and the instruction counts of 4, 5)
#   BENCH_MILLION [1000000], 0 skips part 3
#   BENCH_PROTOCOLS [1]    0 skips parts 4 and 5 (and the cargo build they need)
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

# --- build ----------------------------------------------------------------------
mkdir -p "$out"
cflags="-std=c99 -O2 -g -Wall -Wextra -Werror"
$cc $cflags -I "$build/include" -o "$out/bench_omcache" "$root/benches/bench_omcache.c" \
    -L "$build/lib" -lomcache -Wl,-rpath,"$build/lib" || die "cannot build bench_omcache"
# shellcheck disable=SC2046
$cc $cflags $(pkg-config --cflags libmemcached) -o "$out/bench_libmemcached" \
    "$root/benches/bench_libmemcached.c" $(pkg-config --libs libmemcached) ||
    die "cannot build bench_libmemcached"
if [ "$do_protocols" != 0 ]; then
    target_dir=${CARGO_TARGET_DIR:-target}
    case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
    (cd "$root" && CARGO_TARGET_DIR=$target_dir ${CARGO:-cargo} build --release --locked --quiet \
        --example bench_engine) || die "cannot build examples/bench_engine.rs"
    cp -f "$target_dir/release/examples/bench_engine" "$out/bench_engine" ||
        die "cannot copy bench_engine"
fi

stamp=$(date +%Y%m%d-%H%M%S)
log=$out/runs-$stamp.log
ln -sf "runs-$stamp.log" "$out/runs-latest.log"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/omcache-bench.XXXXXX")
cleanup() {
    "$servers_sh" stop "$tmp/servers"
    "$servers_sh" stop "$tmp/million"
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

# client_cmd CLIENT -> sets prog (the program), proto (its BENCH_PROTOCOL) and
# toggle (its measured function, for callgrind)
client_cmd() {
    case $1 in
        omcache | omcache-capi) prog=$out/bench_omcache proto=binary toggle=run_workload ;;
        libmemcached) prog=$out/bench_libmemcached proto=binary toggle=run_workload ;;
        libmemcached-text) prog=$out/bench_libmemcached proto=text toggle=run_workload ;;
        engine-*) prog=$out/bench_engine proto=${1#engine-} toggle=run_workload_engine ;;
        *) die "unknown client $1" ;;
    esac
}

# run ROUND CLIENT WORKLOAD N  -> appends one line to the log
failures=0
run() {
    local r=$1 c=$2 w=$3 n=$4 line cpu prog proto toggle
    client_cmd "$c"
    if ! line=$(BENCH_PROTOCOL=$proto /usr/bin/time -f "%U %S" -o "$tmp/time" "$prog" "$w" "$servers" "$n" 2>"$tmp/err"); then
        echo "  round $r: $c $w FAILED:" >&2
        sed 's/^/    /' "$tmp/err" | head -8 >&2
        echo "# round $r $c $w failed: $(tr '\n' ' ' <"$tmp/err")" >>"$log"
        failures=$((failures + 1))
        return
    fi
    cpu=$(tail -1 "$tmp/time")
    echo "$r $c $line $cpu" >>"$log"
}

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

# --- part 1: the table ---------------------------------------------------------
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

# --- part 2: instructions per operation ----------------------------------------
if [ "$do_callgrind" != 0 ]; then
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
if [ "$million" != 0 ]; then
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
    local c w n cg total prog proto toggle
    for w in $workloads; do
        case $w in get | set) n=2000 ;; multiget) n=200 ;; buffered) n=20000 ;; esac
        for c in $1; do
            client_cmd "$c"
            cg=$tmp/callgrind.$c.$w
            if BENCH_PROTOCOL=$proto valgrind --tool=callgrind --toggle-collect="$toggle" \
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

if [ "$do_protocols" != 0 ]; then
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

echo
echo "per-run values: $log"
ln -sf "summary-$stamp.txt" "$out/summary-latest.txt"
if [ "$failures" -gt 0 ]; then
    echo "$failures runs failed" >&2
    exit 1
fi

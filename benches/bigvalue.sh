#!/usr/bin/env bash
# benches/bigvalue.sh - gets of big values (16 KB, 100 KB, 1,000,000 bytes):
# OMcache's C API (build/lib/libomcache.so) against Debian's libmemcached
# (pkg-config libmemcached), one local memcached started with -I 2m.  The
# library must be built (make).
#
# Workloads: "get" (one key per call) and "mget" (all 4 keys in one call:
# OMcache keeps every value of the call valid together).
#
# 1. Throughput, client CPU and page faults: R rounds; in each round every
#    workload and size runs once with each client (the order alternates from round to
#    round), each run a separate process under /usr/bin/time.  Reported: the
#    median ops/s of each client, the median of the per-round ratios ours /
#    libmemcached, client CPU (user + sys) per get and minor page faults per
#    get (less those of a run of 0 gets: start-up and populating) with their
#    ratios.
# 2. Instructions per get under callgrind (run_workload() only; user space:
#    the kernel's copying is in the CPU column above, not here).
# 3. System calls per get (strace -c -f, less a run of 0 gets).
#
# Environment (defaults in brackets):
#   BIGVALUE_ROUNDS [7]   BIGVALUE_SIZES [16384 102400 1000000]
#   BIGVALUE_WORKLOADS [get mget]
#   BIGVALUE_BYTES [500000000]  bytes read per timed run: N = BYTES / SIZE
#                         gets, or a quarter as many mgets (at least 50)
#   BIGVALUE_TRACE_N [200]  gets per callgrind and strace run
#   BIGVALUE_PARTS [1 2 3]
#   CC [cc]  OMCACHE_BUILD [<repo>/build]
# Every run is logged to build/bench/bigvalue-<date>.log (and
# bigvalue-latest.log).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OMCACHE_BUILD:-$root/build}
out=$build/bench
cc=${CC:-cc}
rounds=${BIGVALUE_ROUNDS:-7}
sizes=${BIGVALUE_SIZES:-16384 102400 1000000}
bytes=${BIGVALUE_BYTES:-500000000}
trace_n=${BIGVALUE_TRACE_N:-200}
parts=${BIGVALUE_PARTS:-1 2 3}
workloads=${BIGVALUE_WORKLOADS:-get mget}
clients="omcache libmemcached"

prog=${0##*/}
die() { echo "$prog: $*" >&2; exit 1; }
want() { case " $parts " in *" $1 "*) return 0 ;; esac; return 1; }

[ -f "$build/lib/libomcache.so" ] || die "build/lib/libomcache.so missing: run make first"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed (apt-get install time)"
pkg-config --exists libmemcached || die "libmemcached's development files are needed (libmemcached-dev)"
command -v memcached >/dev/null || die "memcached is needed"

mkdir -p "$out"
stamp=$(date +%Y%m%d-%H%M%S)
log=$out/bigvalue-$stamp.log
ln -sf "bigvalue-$stamp.log" "$out/bigvalue-latest.log"
tmp=$(mktemp -d)
trap 'scripts_stop; rm -rf "$tmp"' EXIT
scripts_stop() { "$root/scripts/memcached-servers.sh" stop "$tmp/servers" >/dev/null 2>&1; }

cflags=(-O2 -g -Wall -Wextra)
"$cc" "${cflags[@]}" -DBIGVALUE_OMCACHE -I"$build/include" -o "$out/bench_bigvalue_omcache" \
    "$root/benches/bench_bigvalue.c" -L"$build/lib" -Wl,-rpath,"$build/lib" -lomcache \
    || die "cannot build bench_bigvalue_omcache"
# shellcheck disable=SC2046
"$cc" "${cflags[@]}" -DBIGVALUE_LIBMEMCACHED $(pkg-config --cflags libmemcached) \
    -o "$out/bench_bigvalue_libmemcached" "$root/benches/bench_bigvalue.c" \
    $(pkg-config --libs libmemcached) || die "cannot build bench_bigvalue_libmemcached"

mkdir -p "$tmp/servers"
server=$("$root/scripts/memcached-servers.sh" start "$tmp/servers" 1 -I 2m -m 256) \
    || die "cannot start memcached"
echo "# bigvalue.sh $(date -u) server $server sizes $sizes rounds $rounds" >"$log"

# n_of WORKLOAD SIZE
n_of() {
    local n=$((bytes / $2))
    [ "$1" = mget ] && n=$((n / 4))
    [ "$n" -lt 50 ] && n=50
    echo "$n"
}

for s in $sizes; do
    "$out/bench_bigvalue_omcache" populate "$server" "$s" 0 || die "populate $s failed"
done

# run ROUND CLIENT WORKLOAD SIZE N -> "ROUND CLIENT WORKLOAD/SIZE WORKLOAD N SECS OPS USER
# SYS MINFLT" in the log
failures=0
run() {
    local r=$1 c=$2 w=$3 s=$4 n=$5 line
    if ! line=$(/usr/bin/time -f "%U %S %R" -o "$tmp/time" \
        "$out/bench_bigvalue_$c" "$w" "$server" "$s" "$n" 2>"$tmp/err"); then
        echo "  round $r: $c $w $s FAILED: $(head -3 "$tmp/err")" >&2
        echo "# round $r $c $w $s failed: $(tr '\n' ' ' <"$tmp/err")" >>"$log"
        failures=$((failures + 1))
        return
    fi
    [ -n "$line" ] || line="$w 0 0 0"
    echo "$r $c $w/$s $line $(tail -1 "$tmp/time")" >>"$log"
}
rows=
for w in $workloads; do for s in $sizes; do rows="$rows $w/$s"; done; done

if want 1; then
    # Faults of start-up, connecting and populating: a run of 0 gets.
    for w in $workloads; do
        for s in $sizes; do
            for c in $clients; do run 0 "$c" "$w" "$s" 0; done
        done
    done
    start_s=$(date +%s)
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) -eq 1 ]; then order="omcache libmemcached"; else order="libmemcached omcache"; fi
        for w in $workloads; do
            for s in $sizes; do
                for c in $order; do run "$r" "$c" "$w" "$s" "$(n_of "$w" "$s")"; done
            done
        done
        printf '\r  round %d/%d done (%ds)' "$r" "$rounds" $(($(date +%s) - start_s)) >&2
    done
    echo >&2
    echo
    echo "Big-value gets, median of $rounds rounds (ratio = ours / libmemcached, per round; per call; faults less a 0-call run):"
    awk -v sizes="$rows" '
    function median(list,    a, n, i, j, t) {
        n = split(list, a, " ")
        if (n == 0) return -1
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    /^#/ { next }
    $1 == 0 { base[$2, $3] = $10; next }
    {
        r = $1; c = $2; s = $3; n = $5; ops = $7; cpu = $8 + $9; flt = $10
        ops_[c, s, r] = ops; cpu_[c, s, r] = cpu * 1e6 / n
        flt_[c, s, r] = (flt - base[c, s]) / n; rounds[r] = 1
    }
    END {
        printf "%-12s | %10s | %10s | %6s | %9s | %9s | %6s | %9s | %9s\n", "call/size", "ours ops/s", "libm ops/s", "ratio", "ours us/op", "libm us/op", "CPU", "ours flt", "libm flt"
        ns = split(sizes, ss, " ")
        for (i = 1; i <= ns; i++) {
            s = ss[i]; oo = ""; lo = ""; ra = ""; oc = ""; lc = ""; cr = ""; of = ""; lf = ""
            for (r in rounds) {
                if ((("omcache", s, r) in ops_) && (("libmemcached", s, r) in ops_)) {
                    o = ops_["omcache", s, r]; l = ops_["libmemcached", s, r]
                    oo = oo " " o; lo = lo " " l; if (l > 0) ra = ra " " o / l
                    oc = oc " " cpu_["omcache", s, r]; lc = lc " " cpu_["libmemcached", s, r]
                    if (cpu_["libmemcached", s, r] > 0) cr = cr " " cpu_["omcache", s, r] / cpu_["libmemcached", s, r]
                    of = of " " flt_["omcache", s, r]; lf = lf " " flt_["libmemcached", s, r]
                }
            }
            printf "%-12s | %10.0f | %10.0f | %5.2fx | %9.1f | %9.1f | %5.2fx | %9.2f | %9.2f\n", s, median(oo), median(lo), median(ra), median(oc), median(lc), median(cr), median(of), median(lf)
        }
    }' "$log"
fi

if want 2; then
    command -v valgrind >/dev/null || die "valgrind is needed for part 2"
    echo
    echo "Instructions per get (valgrind --tool=callgrind --toggle-collect=run_workload, $trace_n gets):"
    for s in $sizes; do
        line="  $s:"
        for c in $clients; do
            cg=$tmp/callgrind.$c.$s
            if valgrind --tool=callgrind --toggle-collect=run_workload --callgrind-out-file="$cg" \
                "$out/bench_bigvalue_$c" get "$server" "$s" "$trace_n" >/dev/null 2>"$tmp/err"; then
                total=$(awk '/^summary:/ { print $2 }' "$cg")
                per=$((total / trace_n))
                echo "callgrind $c $s n=$trace_n instructions=$total per_op=$per" >>"$log"
                eval "ir_$c=$per"
                line="$line $c $per"
            else
                echo "  callgrind $c $s failed: $(head -3 "$tmp/err")" >&2
                eval "ir_$c=0"
            fi
        done
        # shellcheck disable=SC2154
        [ "$ir_libmemcached" -gt 0 ] && line="$line ratio $(awk -v o="$ir_omcache" -v l="$ir_libmemcached" 'BEGIN { printf "%.3f", o / l }')"
        echo "$line"
    done
fi

if want 3; then
    command -v strace >/dev/null || die "strace is needed for part 3"
    echo
    echo "System calls per get (strace -c -f, less a run of 0 gets; $trace_n gets):"
    # calls CLIENT SIZE N -> "TOTAL name:count ..." of the whole process
    calls() {
        strace -f -c -o "$tmp/strace" "$out/bench_bigvalue_$1" get "$server" "$2" "$3" >/dev/null 2>&1
        # Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
        awk '$1 ~ /^[0-9.]+$/ && NF >= 5 { if ($NF == "total") t = $4; else c[$NF] = $4 }
             END { printf "%d", t; for (k in c) printf " %s:%d", k, c[k]; print "" }' "$tmp/strace"
    }
    for s in $sizes; do
        for c in $clients; do
            base=$(calls "$c" "$s" 0)
            full=$(calls "$c" "$s" "$trace_n")
            echo "strace $c $s n=$trace_n base=[$base] full=[$full]" >>"$log"
            awk -v b="$base" -v f="$full" -v n="$trace_n" -v c="$c" -v s="$s" 'BEGIN {
                nb = split(b, bb, " "); nf = split(f, ff, " ")
                for (i = 2; i <= nb; i++) { split(bb[i], kv, ":"); base[kv[1]] = kv[2] }
                line = sprintf("  %-8s %-12s %6.2f per get:", s, c, (ff[1] - bb[1]) / n)
                for (i = 2; i <= nf; i++) {
                    split(ff[i], kv, ":"); d = (kv[2] - base[kv[1]]) / n
                    if (d >= 0.05) line = line sprintf(" %s %.2f", kv[1], d)
                }
                print line
            }'
        done
    done
fi

echo
echo "Log: $log"
[ "$failures" -eq 0 ] || die "$failures runs failed"

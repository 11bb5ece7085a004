#!/usr/bin/env bash
# The libmemcached 1.1.4 C face's headers (include/omcache_libmemcached.h,
# omcache_libmemcachedutil.h, omcache_libhashkit.h and the wrappers under the
# real names) against Debian's real headers (package libmemcached-dev) and
# the spec (shared/spec/libmemcached).  Needs no omcache library: nothing here
# links against libmemcached.
#
# Checks (one PASS / FAIL / SKIP line each, then "N passed, N failed"):
#   layout-two-builds      tests-c/lmc_header/layout.c built against Debian's
#                          headers and against ours (only -I differs), run,
#                          outputs diffed: sizeof/alignof/offsetof/size/type of
#                          every struct field, bit-field positions, enum values,
#                          version/limit macros, inline helpers on every code
#   layout-vs-spec         our layout.c output against layout.txt / enums.txt
#   helpers-vs-spec        memcached_success/failed/fatal/continue and
#                          hashkit_success/failed against the spec's sets (C, C++)
#   export-lists           our copies of the export lists = the spec's
#   declared-exactly       our headers declare exactly the 186 exported functions
#                          (+ the 5 documented static inline helpers), from
#                          gcc -aux-info
#   prototypes-c-spelled   every prototype as spelled in C (gcc -aux-info),
#                          ours = Debian's; the one accepted difference:
#                          `struct sasl_callback` for `sasl_callback_t`
#   prototypes-c-with-sasl-h  the same with -DOMCACHE_LMC_WITH_SASL_H, where no
#                          difference at all is accepted
#   prototypes-cxx-canonical  every function's canonical type (C++ mangling of
#                          decltype(&fn)), ours = Debian's
#   wrappers               every header path of Debian's package exists in
#                          include/ and compiles alone (C99, C++98)
#   compile-*              tests-c/lmc_header/api_use.c with -pedantic -Wall
#                          -Wextra -Werror: C99, C11, C++98, C++11, C++17 with
#                          $CC/$CXX (and clang/clang++ when installed), with
#                          <sasl/sasl.h> before/after, and against Debian's
#                          headers as a control
#
# Usage: tests-c/lmc-header-check.sh
# Environment: CC (default cc), CXX (default c++), GCC (default gcc: -aux-info),
#   LMC_REAL_INCLUDE (default /usr/include: where Debian's headers are),
#   LMC_SPEC_DIR (default <repo>/../shared/spec/libmemcached, else
#   /work/shared/spec/libmemcached).  Missing Debian headers, spec or sasl.h
#   turn the checks that need them into SKIP lines (exit status 0), unless
#   LMC_STRICT=1, which counts every SKIP as a failure.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
inc=$root/include
dir=$root/tests-c/lmc_header
cc=${CC:-cc}
cxx=${CXX:-c++}
gcc=${GCC:-gcc}
real=${LMC_REAL_INCLUDE:-/usr/include}
spec=${LMC_SPEC_DIR:-}
if [ -z "$spec" ]; then
    for d in "$root/../shared/spec/libmemcached" /work/shared/spec/libmemcached; do
        if [ -f "$d/layout.txt" ]; then spec=$d; break; fi
    done
fi
[ -n "$spec" ] && [ ! -f "$spec/layout.txt" ] && spec=
warn=(-pedantic -Wall -Wextra -Werror)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0 skipped=0
pass() { echo "PASS $1${2:+: $2}"; passed=$((passed + 1)); }
skip() {
    if [ "${LMC_STRICT:-0}" = 1 ]; then
        echo "FAIL $1: $2 (LMC_STRICT=1)"
        failed=$((failed + 1))
    else
        echo "SKIP $1: $2"
        skipped=$((skipped + 1))
    fi
}
fail() {
    echo "FAIL $1: $2"
    if [ -n "${3:-}" ] && [ -s "$3" ]; then sed -n '1,25s/^/    /p' "$3"; fi
    failed=$((failed + 1))
}

have_real=0
[ -f "$real/libmemcached-1.0/memcached.h" ] && [ -f "$real/libmemcachedutil-1.0/util.h" ] &&
    [ -f "$real/libhashkit-1.0/hashkit.h" ] && have_real=1
real_flags=()
[ "$real" != /usr/include ] && real_flags=(-I"$real")
ours_flags=(-I"$inc")
have_sasl=0
printf '#include <sasl/sasl.h>\n' | "$cc" -x c -fsyntax-only - 2>/dev/null && have_sasl=1
no_real="Debian's headers not found under $real (apt-get install libmemcached-dev)"

# ---- a. layout ----------------------------------------------------------

build_layout() { # $1 = tag, rest = flags
    local tag=$1
    shift
    "$cc" -std=c11 "${warn[@]}" "$@" "$dir/layout.c" -o "$work/layout-$tag" \
        >"$work/layout-$tag.log" 2>&1 &&
        "$work/layout-$tag" >"$work/layout-$tag.out" 2>>"$work/layout-$tag.log"
}

ours_layout=0
build_layout ours "${ours_flags[@]}" && ours_layout=1

if [ "$have_real" = 0 ]; then
    skip layout-two-builds "$no_real"
elif ! build_layout real "${real_flags[@]}"; then
    fail layout-two-builds "layout.c does not build or run against Debian's headers" \
        "$work/layout-real.log"
elif [ "$ours_layout" = 0 ]; then
    fail layout-two-builds "layout.c does not build or run against include/" "$work/layout-ours.log"
elif diff -u "$work/layout-real.out" "$work/layout-ours.out" >"$work/layout.diff"; then
    pass layout-two-builds "$(wc -l <"$work/layout-ours.out") lines identical (debian vs ours)"
else
    fail layout-two-builds "outputs differ (- debian, + ours)" "$work/layout.diff"
fi

if [ -z "$spec" ]; then
    skip layout-vs-spec "spec not found (set LMC_SPEC_DIR)"
elif [ "$ours_layout" = 0 ]; then
    fail layout-vs-spec "layout.c does not build or run against include/" "$work/layout-ours.log"
else
    # layout.txt -> "type NAME sizeof=S alignof=A" / "field NAME FIELD off=O size=S";
    # enums.txt -> "enum NAME = V"; then each such line must be in our output.
    awk '
        /^### / { sub(/^### /, ""); n = split($0, a, ": "); name = a[1];
                  split(a[2], b, " "); print "type " name " " b[1] " " b[2]; next }
        /^  *[A-Za-z_.]+ +off=/ { o = $0; sub(/^ +/, "", o); split(o, f, / +/);
                  off = o; sub(/.*off= */, "", off); sub(/ .*/, "", off);
                  sz = o; sub(/.*size= */, "", sz);
                  print "field " name " " f[1] " off=" off " size=" sz }
    ' "$spec/layout.txt" >"$work/spec-layout.txt"
    awk '/^[A-Z_0-9]+ +=/ { print "enum " $1 " = " $3 }' "$spec/enums.txt" >>"$work/spec-layout.txt"
    sed -E 's/ +/ /g; s/ type=[^ ]*$//; s/(off|size)= /\1=/g' "$work/layout-ours.out" |
        sed -E 's/(off|size)= */\1=/g' | sort -u >"$work/ours-layout-norm.txt"
    sort -u "$work/spec-layout.txt" >"$work/spec-layout-sorted.txt"
    comm -23 "$work/spec-layout-sorted.txt" "$work/ours-layout-norm.txt" >"$work/spec-missing.txt"
    n=$(wc -l <"$work/spec-layout-sorted.txt")
    if [ "$n" -lt 150 ]; then
        fail layout-vs-spec "only $n facts parsed from $spec (format changed?)"
    elif [ -s "$work/spec-missing.txt" ]; then
        fail layout-vs-spec "facts of the spec not matched by our headers" "$work/spec-missing.txt"
    else
        pass layout-vs-spec "$n sizes, offsets and enum values of layout.txt / enums.txt"
    fi
fi

# ---- helpers --------------------------------------------------------------

helpers_ok=1
: >"$work/helpers.log"
for lang in c99 c++98; do
    x=c
    [ "$lang" = c++98 ] && x=c++
    comp=$cc
    [ "$x" = c++ ] && comp=$cxx
    if ! "$comp" -x "$x" -std="$lang" "${warn[@]}" "${ours_flags[@]}" "$dir/helpers_expected.c" \
        -o "$work/helpers-$lang" >>"$work/helpers.log" 2>&1 ||
        ! "$work/helpers-$lang" >>"$work/helpers.log" 2>&1; then
        helpers_ok=0
        echo "($lang)" >>"$work/helpers.log"
    fi
done
if [ "$have_real" = 1 ]; then
    "$cc" -std=c99 "${warn[@]}" "${real_flags[@]}" "$dir/helpers_expected.c" \
        -o "$work/helpers-real" >>"$work/helpers.log" 2>&1 && "$work/helpers-real" \
        >>"$work/helpers.log" 2>&1 || {
        echo "(the spec's sets disagree with Debian's own helpers)" >>"$work/helpers.log"
        helpers_ok=0
    }
fi
if [ "$helpers_ok" = 1 ]; then
    extra=
    [ "$have_real" = 1 ] && extra="; Debian's helpers agree"
    pass helpers-vs-spec "codes -2..60 in C99 and C++98$extra"
else
    fail helpers-vs-spec "inline helpers disagree with the spec" "$work/helpers.log"
fi

# ---- b. prototypes --------------------------------------------------------

cat "$dir"/exports-libmemcached.txt "$dir"/exports-libmemcachedutil.txt \
    "$dir"/exports-libhashkit.txt | sort -u >"$work/exports.txt"
printf '%s\n' hashkit_failed hashkit_success memcached_failed memcached_fatal \
    memcached_success | sort >"$work/inline-helpers.txt"

if [ -z "$spec" ]; then
    skip export-lists "spec not found (set LMC_SPEC_DIR)"
else
    ok=1
    : >"$work/exports.diff"
    for f in exports-libmemcached.txt exports-libmemcachedutil.txt exports-libhashkit.txt; do
        diff -u "$spec/$f" "$dir/$f" >>"$work/exports.diff" || ok=0
    done
    if [ "$ok" = 1 ]; then
        pass export-lists "$(wc -l <"$work/exports.txt") names (138 + 15 + 33)"
    else
        fail export-lists "tests-c/lmc_header/exports-*.txt differ from the spec" "$work/exports.diff"
    fi
fi

# gcc -aux-info: one line per declared function, "/* FILE:LINE:X */ DECL".
# Keep those from files under $2, drop the location and K&R comments.
aux_decls() { # $1 = tag, $2 = header dir prefix (regex), rest = flags
    local tag=$1 prefix=$2
    shift 2
    "$gcc" -std=c99 -fsyntax-only -aux-info "$work/$tag.aux" "$@" "$dir/decls.c" \
        >"$work/$tag.aux.log" 2>&1 || return 1
    sed -nE "s@^/\\* ($prefix)[^ ]*:[0-9]+:[A-Z]+ \\*/ @@p" "$work/$tag.aux" |
        sed -E 's@ /\*.*\*/$@@; s/  +/ /g' | sort -u >"$work/$tag.decls"
}
decl_name() { sed -E 's/^[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*) \(.*/\1/'; }

# ours alone: exactly the exports + the inline helpers
if ! command -v "$gcc" >/dev/null 2>&1; then
    fail declared-exactly "$gcc not found (gcc -aux-info is needed)"
elif ! aux_decls ours "$inc/" "${ours_flags[@]}"; then
    fail declared-exactly "decls.c does not compile against include/" "$work/ours.aux.log"
else
    grep -v '^static ' "$work/ours.decls" | decl_name | sort >"$work/ours-extern.txt"
    grep '^static ' "$work/ours.decls" | decl_name | sort >"$work/ours-static.txt"
    {
        diff "$work/exports.txt" "$work/ours-extern.txt" | sed -nE 's/^< /missing: /p; s/^> /extra: /p'
        diff "$work/inline-helpers.txt" "$work/ours-static.txt" |
            sed -nE 's/^< /missing inline: /p; s/^> /extra inline: /p'
        sort "$work/ours-extern.txt" | uniq -d | sed 's/^/declared twice differently: /'
    } >"$work/declared.diff"
    if [ -s "$work/declared.diff" ]; then
        fail declared-exactly "our headers' function set differs from the exports" "$work/declared.diff"
    else
        pass declared-exactly "$(wc -l <"$work/ours-extern.txt") exported + $(wc -l <"$work/ours-static.txt") static inline"
    fi
fi

real_prefix="${real//./\\.}/lib(memcached|hashkit)"
if [ "$have_real" = 0 ]; then
    skip prototypes-c-spelled "$no_real"
    skip prototypes-c-with-sasl-h "$no_real"
elif ! aux_decls real "$real_prefix" "${real_flags[@]}"; then
    fail prototypes-c-spelled "decls.c does not compile against Debian's headers" "$work/real.aux.log"
    fail prototypes-c-with-sasl-h "decls.c does not compile against Debian's headers"
else
    # the one accepted spelling difference (see omcache_libmemcached.h)
    sed 's/sasl_callback_t \*/struct sasl_callback */g' "$work/real.decls" | sort -u >"$work/real-norm.decls"
    sed 's/sasl_callback_t \*/struct sasl_callback */g' "$work/ours.decls" | sort -u >"$work/ours-norm.decls"
    if diff -u "$work/real-norm.decls" "$work/ours-norm.decls" >"$work/spelled.diff"; then
        pass prototypes-c-spelled "$(wc -l <"$work/ours.decls") declarations identical (sasl_callback_t written as struct sasl_callback)"
    else
        fail prototypes-c-spelled "prototypes differ (- debian, + ours)" "$work/spelled.diff"
    fi
    if [ "$have_sasl" = 0 ]; then
        skip prototypes-c-with-sasl-h "<sasl/sasl.h> not installed (libsasl2-dev)"
    elif ! aux_decls ours-sasl "$inc/" "${ours_flags[@]}" -DOMCACHE_LMC_WITH_SASL_H; then
        fail prototypes-c-with-sasl-h "decls.c does not compile with -DOMCACHE_LMC_WITH_SASL_H" \
            "$work/ours-sasl.aux.log"
    elif diff -u "$work/real.decls" "$work/ours-sasl.decls" >"$work/spelled-sasl.diff"; then
        pass prototypes-c-with-sasl-h "$(wc -l <"$work/ours-sasl.decls") declarations identical, as written"
    else
        fail prototypes-c-with-sasl-h "prototypes differ (- debian, + ours)" "$work/spelled-sasl.diff"
    fi
fi

# canonical types: the C++ mangled name of omc_probe_F(decltype(&F))
{
    echo '#include <libmemcached/memcached.h>'
    echo '#include <libmemcached/util.h>'
    echo '#define P(f) void omc_probe_##f(decltype(&f)) {}'
    sed 's/.*/P(&)/' "$work/exports.txt" "$work/inline-helpers.txt"
} >"$work/probe.cc"
probe_syms() { # $1 = tag, rest = flags
    local tag=$1
    shift
    "$cxx" -std=c++11 -Wall -Wextra -Werror "$@" -c "$work/probe.cc" -o "$work/probe-$tag.o" \
        >"$work/probe-$tag.log" 2>&1 || return 1
    nm -P "$work/probe-$tag.o" | awk '$2 == "T" && $1 ~ /omc_probe_/ { print $1 }' |
        sort >"$work/probe-$tag.syms"
}
if [ "$have_real" = 0 ]; then
    skip prototypes-cxx-canonical "$no_real"
elif ! probe_syms real "${real_flags[@]}"; then
    fail prototypes-cxx-canonical "probe does not compile against Debian's headers" "$work/probe-real.log"
elif ! probe_syms ours "${ours_flags[@]}"; then
    fail prototypes-cxx-canonical "probe does not compile against include/" "$work/probe-ours.log"
elif diff <(c++filt <"$work/probe-real.syms") <(c++filt <"$work/probe-ours.syms") >"$work/probe.diff"; then
    pass prototypes-cxx-canonical "$(wc -l <"$work/probe-ours.syms") function types identical"
else
    fail prototypes-cxx-canonical "canonical types differ (< debian, > ours)" "$work/probe.diff"
fi

# ---- wrappers under the real names ----------------------------------------

: >"$work/wrappers.log"
wrappers=$(cd "$inc" && find libmemcached libmemcached-1.0 libmemcachedutil-1.0 libhashkit \
    libhashkit-1.0 -name '*.h' 2>/dev/null | sort)
nw=0
for w in $wrappers; do
    nw=$((nw + 1))
    printf '#include <%s>\n' "$w" >"$work/w.c"
    "$cc" -x c -std=c99 "${warn[@]}" "${ours_flags[@]}" -c "$work/w.c" -o /dev/null \
        >>"$work/wrappers.log" 2>&1 || echo "C99: $w" >>"$work/wrappers.log"
    "$cxx" -x c++ -std=c++98 "${warn[@]}" "${ours_flags[@]}" -c "$work/w.c" -o /dev/null \
        >>"$work/wrappers.log" 2>&1 || echo "C++98: $w" >>"$work/wrappers.log"
done
for w in libmemcached/memcached.h libmemcached/util.h libmemcached-1.0/memcached.h \
    libmemcachedutil-1.0/util.h libhashkit-1.0/hashkit.h libhashkit/hashkit.h; do
    [ -f "$inc/$w" ] || echo "missing: $w" >>"$work/wrappers.log"
done
if [ "$have_real" = 1 ]; then
    (cd "$real" && find libmemcached libmemcached-1.0 libmemcachedutil-1.0 libhashkit \
        libhashkit-1.0 -name '*.h' 2>/dev/null) | while read -r w; do
        [ -f "$inc/$w" ] || echo "no wrapper for Debian's <$w>"
    done >>"$work/wrappers.log"
fi
if [ -s "$work/wrappers.log" ]; then
    fail wrappers "wrapper headers" "$work/wrappers.log"
else
    pass wrappers "$nw headers under the real names compile alone as C99 and C++98"
fi

# ---- c. compile checks ----------------------------------------------------

compile() { # $1 = check name, $2 = compiler, $3 = language, $4 = std, rest = flags
    local name=$1 comp=$2 lang=$3 std=$4
    shift 4
    if "$comp" -x "$lang" -std="$std" "${warn[@]}" "$@" -c "$dir/api_use.c" -o /dev/null \
        >"$work/$name.log" 2>&1; then
        pass "$name"
    else
        fail "$name" "api_use.c: $comp -std=$std ${warn[*]} $*" "$work/$name.log"
    fi
}

compilers=("$cc:$cxx")
if command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1 &&
    [ "$cc" != clang ]; then
    compilers+=("clang:clang++")
fi
for pair in "${compilers[@]}"; do
    ccx=${pair%%:*}
    cxxx=${pair#*:}
    tag=
    [ "$pair" != "$cc:$cxx" ] && tag=-$ccx
    for std in c99 c11; do
        compile "compile$tag-$std" "$ccx" c "$std" "${ours_flags[@]}"
    done
    for std in c++98 c++11 c++17; do
        compile "compile$tag-$std" "$cxxx" c++ "$std" "${ours_flags[@]}"
    done
done

if [ "$have_sasl" = 0 ]; then
    skip compile-sasl "<sasl/sasl.h> not installed (libsasl2-dev)"
else
    for where in BEFORE AFTER; do
        w=$(echo "$where" | tr A-Z a-z)
        compile "compile-sasl-h-$w-c99" "$cc" c c99 "${ours_flags[@]}" "-DWITH_SASL_$where"
        compile "compile-sasl-h-$w-c++98" "$cxx" c++ c++98 "${ours_flags[@]}" "-DWITH_SASL_$where"
    done
fi

if [ "$have_real" = 0 ]; then
    skip compile-control-debian "$no_real"
else
    # the test program is ordinary libmemcached code: it builds against the
    # real headers too (their C++ needs C++11; pool.h needs <time.h> first)
    compile compile-control-debian-c99 "$cc" c c99 "${real_flags[@]}" -DTIME_H_FIRST
    compile compile-control-debian-c++17 "$cxx" c++ c++17 "${real_flags[@]}" -DTIME_H_FIRST
fi

[ "$skipped" -gt 0 ] && echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

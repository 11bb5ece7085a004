#!/bin/sh
# Fuzz smoke run: every target for SMOKE_SECONDS (default 10) seconds, starting from the
# committed corpus, without growing it. Exits non-zero on the first crash (panic or failed assertion),
# timeout or out-of-memory; the reproducer is left in fuzz/artifacts/<target>/.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Works on stable Rust: the targets
# are built without a sanitizer (-s none). 6 targets x 10 s = about 70 s, plus the build.
set -eu

cd "$(dirname "$0")"
SECONDS_PER_TARGET=${SMOKE_SECONDS:-10}
TARGETS=${SMOKE_TARGETS:-"response_parser text_parser meta_parser server_list ketama engine"}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
    exit 2
fi

cargo fuzz build -s none

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM

for target in $TARGETS; do
    mkdir -p "$scratch/$target" "artifacts/$target"
    echo "== fuzz smoke: $target (${SECONDS_PER_TARGET}s)"
    # New inputs go to the scratch directory (the first one); corpus/$target is only read.
    # TMPDIR: the engine target's unix socket goes there and is removed with it.
    if ! TMPDIR="$scratch" cargo fuzz run -s none "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$scratch/$target.log" 2>&1; then
        tail -n 40 "$scratch/$target.log" >&2
        echo "smoke.sh: $target FAILED; reproducer in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec' \
        "$scratch/$target.log" || true
done
echo "fuzz smoke: all targets passed"

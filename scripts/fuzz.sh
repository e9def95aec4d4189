#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (every one, or those named) for a set time each, two at a time, and
# copies every crash input found into fuzz/regressions/<target>/, where each crate's `cargo test` replays it.
#
#   scripts/fuzz.sh                      # every target, 300 s each
#   scripts/fuzz.sh -t 60 range token    # two targets, 60 s each
#   FUZZ_JOBS=1 scripts/fuzz.sh          # one at a time
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). The growing corpus is kept
# in fuzz/corpus/<target>/ (ignored by git) and starts from the committed seeds in fuzz/seeds/<target>/, with
# fuzz/dicts/<target>.dict when there is one; logs go to fuzz/logs/<target>.log. Exits non-zero when any
# target found a crash or failed to run.
set -euo pipefail

seconds=${FUZZ_SECONDS:-300}
jobs=${FUZZ_JOBS:-2}
while getopts "t:j:h" opt; do
    case $opt in
        t) seconds=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) sed -n '2,12p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

cd "$(dirname "$0")/../fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# One build for all targets, so the runs below start fuzzing at once.
cargo +nightly fuzz build

run_target() {
    local target=$1
    local dict=()
    [ -f "dicts/$target.dict" ] && dict=(-dict="dicts/$target.dict")
    mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target" logs
    # libFuzzer exits non-zero on a crash; the summary below reports it.
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}" \
        >"logs/$target.log" 2>&1 || true
}

started=$(date +%s)
running=0
for target in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    echo "Fuzzing $target for ${seconds}s."
    run_target "$target" &
    running=$((running + 1))
done
wait

found=0
printf '\n%-14s %14s %10s  %s\n' target executions seconds crashes
for target in "${targets[@]}"; do
    log="logs/$target.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    time=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -1 || true)
    crashes=()
    for artifact in "artifacts/$target"/crash-* "artifacts/$target"/oom-* "artifacts/$target"/timeout-* \
        "artifacts/$target"/leak-*; do
        [ -f "$artifact" ] || continue
        mkdir -p "regressions/$target"
        cp "$artifact" "regressions/$target/"
        crashes+=("fuzz/regressions/$target/$(basename "$artifact")")
        found=1
    done
    if [ -z "$execs" ] && [ ${#crashes[@]} -eq 0 ]; then
        crashes=("did not run: see fuzz/logs/$target.log")
        found=1
    fi
    printf '%-14s %14s %10s  %s\n' "$target" "${execs:-?}" "${time:-?}" "${crashes[*]:-none}"
done
echo "Took $(($(date +%s) - started)) s of fuzzing; logs in fuzz/logs/."
exit "$found"

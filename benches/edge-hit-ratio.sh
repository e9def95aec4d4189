#!/usr/bin/env bash
# Benchmark (not a test): hit ratio of the edge's memory tier (the production `MemoryTier` and its admission
# policy) against a plain LRU (the `lru` crate) of the same byte budget, replaying 2M Zipf requests
# (α 0.8 and 1.0, 10k and 100k objects: 90% 0.5–2.5 MB segments, 10% 1–4 KB manifests) at budgets of 1%, 5%
# and 10% of the catalogue; only the second million requests are counted. Prints one table row per cell:
# object and byte hit % for both, the difference in points, the hindsight ceiling, ms per million requests.
# Before the table: peak RSS of a 256 MiB tier filled with real buffers by 1 and by 4 threads.
#
#   benches/edge-hit-ratio.sh [--quick] [--policy NAME|all] [--requests N] [--mmap-threshold]
#
#   --quick           α = 1.0 at 1% and 5% only (4 cells instead of 12)
#   --policy all      every admission policy (frequency_gate, moka_tiny_lfu, lru), one row each
#   --requests N      requests per cell (default 2000000)
#   --mmap-threshold  run with MALLOC_MMAP_THRESHOLD_=131072, so glibc hands freed multi-megabyte bodies back
#                     at once: the RSS check then shows what the tier holds rather than what malloc keeps
#                     (and takes ~30 s longer)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

args=()
while (( $# )); do
  case "$1" in
    --quick) args+=(--quick); shift ;;
    --policy|--requests) args+=("$1" "$2"); shift 2 ;;
    --mmap-threshold) export MALLOC_MMAP_THRESHOLD_=131072; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cargo bench --locked -p marquee-edge-cache --bench hit_ratio -- "${args[@]}"

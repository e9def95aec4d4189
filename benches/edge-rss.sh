#!/usr/bin/env bash
# Benchmark (not a test): peak RSS of `marquee edge` under a workload several times larger than its memory
# tier: N distinct segment-sized objects (0.5–2.5 MB) behind `marquee origin`, requested in a Zipf-like random
# order by parallel curl clients, then the edge's VmHWM against the memory tier budget + 64 MB.
#
#   benches/edge-rss.sh [--memory SIZE_MIB] [--objects N] [--requests N] [--parallel N] [--workers N]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

memory_mib=64 objects=400 requests=3000 parallel=16 workers=0
while (( $# )); do
  case "$1" in
    --memory) memory_mib=$2; shift 2 ;;
    --objects) objects=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p marquee >/dev/null
marquee="$CARGO_TARGET_DIR/release/marquee"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Objects: random bytes, sizes 0.5–2.5 MB, under one asset.
python3 - "$work/media/film/video" "$objects" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
rng = random.Random(7)
for i in range(n):
    with open(f"{out}/seg_{i:05}.m4s", "wb") as f:
        f.write(os.urandom(rng.randint(500_000, 2_500_000)))
PY
catalogue_mb=$(du -sm "$work/media" | cut -f1)

"$marquee" origin --storage "$work/media" --listen 127.0.0.1:0 --unsigned >"$work/origin.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q Serving "$work/origin.out" 2>/dev/null && break; sleep 0.05; done
origin=$(grep -o 'http://[0-9.:]*' "$work/origin.out")
"$marquee" edge --upstream "$origin" --listen 127.0.0.1:0 --unsigned --memory "${memory_mib}MiB" \
  --memory-max-object 4MiB --workers "$workers" >"$work/edge.out" 2>&1 &
edge_pid=$!
pids+=($edge_pid)
for _ in $(seq 100); do grep -q "Edge serving" "$work/edge.out" 2>/dev/null && break; sleep 0.05; done
edge=$(grep -o 'http://[0-9.:]*' "$work/edge.out")

# Zipf-like (α = 0.8) request order over the objects.
python3 - "$objects" "$requests" "$edge" >"$work/urls" <<'PY'
import random, sys
n, k, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(11)
weights = [1 / (i + 1) ** 0.8 for i in range(n)]
order = list(range(n)); rng.shuffle(order)
for i in rng.choices(range(n), weights, k=k):
    print(f"{base}/film/video/seg_{order[i]:05}.m4s")
PY
start=$(date +%s.%N)
xargs -P "$parallel" -I{} curl -sf -o /dev/null {} <"$work/urls"
elapsed=$(python3 -c "import time,sys; print('%.1f' % (time.time() - float(sys.argv[1])))" "$start")

metrics=$(curl -s "$edge/metrics")
hwm_mb=$(awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$edge_pid/status")
rss_mb=$(awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$edge_pid/status")
tier_mb=$(awk '/^marquee_edge_tier_bytes\{tier="memory"\}/ {printf "%.1f", $2 / 1048576}' <<<"$metrics")
ratio=$(awk '/^marquee_edge_hit_ratio / {printf "%.3f", $2}' <<<"$metrics")
mapped_mb=$(awk '/^marquee_edge_body_mapped_bytes / {printf "%.1f", $2 / 1048576}' <<<"$metrics")
fill_mb=$(awk '/^marquee_edge_fill_budget_bytes / {printf "%.1f", $2 / 1048576}' <<<"$metrics")
anon_mb=$(awk '/RssAnon/ {printf "%d", $2 / 1024}' "/proc/$edge_pid/status")
file_mb=$(awk '/RssFile/ {printf "%d", $2 / 1024}' "/proc/$edge_pid/status")
echo "catalogue ${catalogue_mb} MB in $objects objects; $requests requests by $parallel curl clients in ${elapsed}s; hit ratio $ratio"
echo "edge memory ${memory_mib} MiB (fill budget ${fill_mb} MiB, tier holding ${tier_mb} MiB at the end; mapped bodies" \
  "${mapped_mb} MiB); peak RSS ${hwm_mb} MB, now ${rss_mb} MB (anonymous ${anon_mb}, file ${file_mb});" \
  "target: at most $((memory_mib + 64)) MB"

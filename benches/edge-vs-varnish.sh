#!/usr/bin/env bash
# Benchmark (not a test): the same cached manifest and ~2 MB media segment served by `marquee edge`, by Varnish
# from Debian and by nginx `proxy_cache`, all in front of the same `marquee origin`, driven by wrk on loopback
# after one warming request each. Prints requests/s, MB/s, p50 and p99 latency with ratios against Varnish,
# and the edge's peak RSS against its memory tier budget + 64 MB.
#
#   benches/edge-vs-varnish.sh [--duration S] [--connections N] [--runs N] [--memory SIZE] [--workers N] [--keep DIR]
#   (--workers: the edge's worker threads, default 0 = one per CPU)
#
# Each server is measured --runs times (default 3), alternating, and the median of each figure is printed.
#
# Tokens are off on every cache (Varnish and nginx cannot check ours), so all three do the same work.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

duration=10 connections=32 runs=3 memory=256MiB keep="" workers=0
while (( $# )); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in varnishd nginx wrk; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing: apt-get install -y varnish nginx wrk" >&2; exit 1; }
done

cargo build --release --locked -p marquee >/dev/null
marquee="$CARGO_TARGET_DIR/release/marquee"
work=${keep:-$(mktemp -d)}
mkdir -p "$work/media" "$work/nginx/logs" "$work/nginx/tmp" "$work/nginx/cache" "$work/varnish"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [[ -n "$keep" ]] || rm -rf "$work"; }
trap cleanup EXIT

if [[ ! -f "$work/media/bench/master.m3u8" ]]; then
  samples/make-sample.sh --out "$work/source.mp4" --duration 8 --size 1920x1080
  "$marquee" transcode "$work/source.mp4" --out "$work/media/bench" --preset bench-3rung --progress none >/dev/null
fi
manifest=bench/master.m3u8
segment=bench/video_1080p/seg_00001.m4s
seg_bytes=$(stat -c %s "$work/media/$segment")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_url() { for _ in $(seq 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done; echo "error: $1 never answered" >&2; exit 1; }

"$marquee" origin --storage "$work/media" --listen 127.0.0.1:0 --unsigned >"$work/origin.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q Serving "$work/origin.out" 2>/dev/null && break; sleep 0.05; done
origin=$(grep -o 'http://[0-9.:]*' "$work/origin.out")
origin_hostport=${origin#http://}

"$marquee" edge --upstream "$origin" --listen 127.0.0.1:0 --unsigned --memory "$memory" --workers "$workers" >"$work/edge.out" 2>&1 &
edge_pid=$!
pids+=($edge_pid)
for _ in $(seq 100); do grep -q "Edge serving" "$work/edge.out" 2>/dev/null && break; sleep 0.05; done
edge=$(grep -o 'http://[0-9.:]*' "$work/edge.out")

vport=$(free_port)
# Varnish writes sizes as 256M, not 256MiB.
varnish_size=$(sed -E 's/([KMGT])i?B$/\1/' <<<"$memory")
varnishd -F -j none -n "$work/varnish" -a "127.0.0.1:$vport" -b "$origin_hostport" -s "malloc,$varnish_size" \
  >"$work/varnish.out" 2>&1 &
pids+=($!)

nport=$(free_port)
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 100000; sendfile on; tcp_nopush on;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp; fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  proxy_cache_path $work/nginx/cache keys_zone=media:10m max_size=1g;
  upstream origin { server $origin_hostport; keepalive 32; }
  server {
    listen 127.0.0.1:$nport;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache media; proxy_cache_lock on;
    }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e stderr &
pids+=($!)

for base in "$edge" "http://127.0.0.1:$vport" "http://127.0.0.1:$nport"; do
  for path in $manifest $segment; do wait_url "$base/$path"; curl -sf -o /dev/null "$base/$path"; done
done

source benches/lib.sh
bench() { wrk_run "$1" "$connections" "$duration"; }

echo
echo "wrk -t 2 -c $connections -d ${duration}s on loopback, $(nproc) cores shared by servers and wrk; segment $seg_bytes bytes; cached copies, tokens off; median of $runs runs each"
printf '%-26s %10s %10s %12s %10s\n' "" "marquee" "varnish" "nginx-cache" "m/varnish"
for what in manifest segment; do
  path=${!what}
  m_rows="" v_rows="" n_rows=""
  for _ in $(seq "$runs"); do
    m_rows+="$(bench "$edge/$path")"$'\n'
    v_rows+="$(bench "http://127.0.0.1:$vport/$path")"$'\n'
    n_rows+="$(bench "http://127.0.0.1:$nport/$path")"$'\n'
  done
  read -r m_rps m_mb m_p50 m_p99 < <(median <<<"$m_rows")
  read -r v_rps v_mb v_p50 v_p99 < <(median <<<"$v_rows")
  read -r n_rps n_mb n_p50 n_p99 < <(median <<<"$n_rows")
  printf '%-26s %10s %10s %12s %10s\n' "$what requests/s" "$m_rps" "$v_rps" "$n_rps" "$(ratio "$m_rps" "$v_rps")"
  printf '%-26s %10s %10s %12s %10s\n' "$what MB/s" "$m_mb" "$v_mb" "$n_mb" "$(ratio "$m_mb" "$v_mb")"
  printf '%-26s %10s %10s %12s %10s\n' "$what p50 latency (ms)" "$m_p50" "$v_p50" "$n_p50" "$(ratio "$m_p50" "$v_p50")"
  printf '%-26s %10s %10s %12s %10s\n' "$what p99 latency (ms)" "$m_p99" "$v_p99" "$n_p99" "$(ratio "$m_p99" "$v_p99")"
done
hits=$(curl -s "$edge/metrics" | awk '/^marquee_edge_requests_total\{cache="hit"/ {s+=$2} END {print s+0}')
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$edge_pid/status")
budget_mb=$(python3 -c "import sys; v=sys.argv[1]; u={'KiB':1/1024,'MiB':1,'GiB':1024}; n=''.join(c for c in v if c.isdigit()); s=v[len(n):]; print(int(int(n)*u.get(s,1/1048576)))" "$memory")
echo "edge: $hits cache hits; peak RSS $((rss_kb / 1024)) MB with a $budget_mb MB memory tier (target: at most $((budget_mb + 64)) MB)"

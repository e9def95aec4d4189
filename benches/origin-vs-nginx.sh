#!/usr/bin/env bash
# Benchmark (not a test): the same published ladder served from the local backend by `marquee origin`
# (signed URLs on: every request verifies a token) and by nginx from Debian (a static location over the same
# directory, sendfile on), both on loopback, driven by wrk for a small manifest and a ~2 MB media segment.
# Prints requests/s, MB/s, p50 and p99 latency for both, with ratios.
#
#   benches/origin-vs-nginx.sh [--duration S] [--connections N] [--runs N] [--keep DIR]
#
# With --runs N (default 3) each server is measured N times, alternating, and the median of each figure is
# printed: p99 latency on a shared 2-core machine varies by 2x between identical runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

duration=10 connections=32 runs=3 keep=""
while (( $# )); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing: apt-get install -y nginx wrk" >&2; exit 1; }
done

cargo build --release --locked -p marquee >/dev/null
marquee="$CARGO_TARGET_DIR/release/marquee"
work=${keep:-$(mktemp -d)}
mkdir -p "$work/media" "$work/nginx/logs" "$work/nginx/tmp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [[ -n "$keep" ]] || rm -rf "$work"; }
trap cleanup EXIT

# A real ladder: 8 s of 1080p, 4 s segments (the 1080p ones are about 2.5 MB).
if [[ ! -f "$work/media/bench/master.m3u8" ]]; then
  samples/make-sample.sh --out "$work/source.mp4" --duration 8 --size 1920x1080
  "$marquee" transcode "$work/source.mp4" --out "$work/media/bench" --preset bench-3rung --progress none >/dev/null
fi
manifest=bench/master.m3u8
segment=bench/video_1080p/seg_00001.m4s
seg_bytes=$(stat -c %s "$work/media/$segment")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# marquee origin, tokens on.
"$marquee" keygen >"$work/keys.toml"
"$marquee" origin --storage "$work/media" --listen 127.0.0.1:0 --key-file "$work/keys.toml" >"$work/origin.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q Serving "$work/origin.out" 2>/dev/null && break; sleep 0.05; done
origin=$(grep -o 'http://[0-9.:]*' "$work/origin.out")
signed() { "$marquee" sign --key-file "$work/keys.toml" --path /bench/ --ttl 1h --base-url "$origin" --file "${1#bench/}"; }

# nginx: static files, sendfile, one worker per core, no access log.
nport=$(free_port)
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  sendfile on; tcp_nopush on; keepalive_requests 100000; access_log off;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp; fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  types { application/vnd.apple.mpegurl m3u8; application/dash+xml mpd; video/mp4 mp4 m4s; }
  server {
    listen 127.0.0.1:$nport;
    root $work/media;
    location / { add_header Access-Control-Allow-Origin *; add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e stderr &
pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$nport/$manifest" && break; sleep 0.05; done

source benches/lib.sh
bench() { wrk_run "$1" "$connections" "$duration"; }

echo
echo "wrk -t 2 -c $connections -d ${duration}s on loopback, $(nproc) cores shared by server and wrk; segment $seg_bytes bytes; median of $runs runs each"
printf '%-28s %12s %12s %8s\n' "" "marquee" "nginx" "ratio"
for what in manifest segment; do
  path=${!what}
  m_url=$(signed "$path") n_url="http://127.0.0.1:$nport/$path" m_rows="" n_rows=""
  for _ in $(seq "$runs"); do
    m_rows+="$(bench "$m_url")"$'\n'
    n_rows+="$(bench "$n_url")"$'\n'
  done
  read -r m_rps m_mb m_p50 m_p99 < <(median <<<"$m_rows")
  read -r n_rps n_mb n_p50 n_p99 < <(median <<<"$n_rows")
  printf '%-28s %12s %12s %8s\n' "$what requests/s" "$m_rps" "$n_rps" "$(ratio "$m_rps" "$n_rps")"
  printf '%-28s %12s %12s %8s\n' "$what MB/s" "$m_mb" "$n_mb" "$(ratio "$m_mb" "$n_mb")"
  printf '%-28s %12s %12s %8s\n' "$what p50 latency (ms)" "$m_p50" "$n_p50" "$(ratio "$m_p50" "$n_p50")"
  printf '%-28s %12s %12s %8s\n' "$what p99 latency (ms)" "$m_p99" "$n_p99" "$(ratio "$m_p99" "$n_p99")"
done

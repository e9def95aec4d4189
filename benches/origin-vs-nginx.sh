#!/usr/bin/env bash
# Benchmark (not a test): the same published ladder served from the local backend by `marquee origin`
# (signed URLs on: every request verifies a token) and by nginx from Debian (a static location over the same
# directory, sendfile on), both on loopback, driven by wrk for a small manifest and a ~2 MB media segment.
# Prints requests/s, MB/s, p50 and p99 latency for both, with ratios.
#
#   benches/origin-vs-nginx.sh [--duration S] [--connections N] [--runs N] [--keep DIR] [--pin]
#                              [--marquee BINARY]...
#
# With --runs N (default 3) each server is measured N times, alternating, and the median of each figure is
# printed: p99 latency on a shared 2-core machine varies by 2x between identical runs.
# --pin puts each server on CPU 0 with one worker and wrk on CPU 1 with one thread, so the two never compete
# for a core. --marquee (repeatable) measures other builds beside this one, e.g. a before/after pair.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

duration=10 connections=32 runs=3 keep="" pin="" extra=()
while (( $# )); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --pin) pin=1; shift ;;
    --marquee) extra+=("$(realpath "$2")"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
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

# With --pin every server runs on CPU 0 with one worker, wrk on CPU 1 (benches/lib.sh).
on_server=() nginx_workers=auto origin_workers=()
if [[ -n "$pin" ]]; then
  on_server=(taskset -c 0) nginx_workers=1 origin_workers=(--workers 1); export WRK_CPUS=1
fi

# marquee origin, tokens on: this build, then each --marquee build, each on its own port.
"$marquee" keygen >"$work/keys.toml"
builds=("$marquee" "${extra[@]}") origins=()
for i in "${!builds[@]}"; do
  "${on_server[@]}" "${builds[$i]}" origin --storage "$work/media" --listen 127.0.0.1:0 --key-file "$work/keys.toml" \
    "${origin_workers[@]}" >"$work/origin-$i.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q Serving "$work/origin-$i.out" 2>/dev/null && break; sleep 0.05; done
  origins+=("$(grep -o 'http://[0-9.:]*' "$work/origin-$i.out")")
done
signed() { "$marquee" sign --key-file "$work/keys.toml" --path /bench/ --ttl 1h --base-url "$1" --file "${2#bench/}"; }

# nginx: static files, sendfile, one worker per core (one in all with --pin), no access log.
nport=$(free_port)
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $nginx_workers;
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
"${on_server[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e stderr &
pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$nport/$manifest" && break; sleep 0.05; done

source benches/lib.sh
bench() { wrk_run "$1" "$connections" "$duration"; }

echo
if [[ -n "$pin" ]]; then
  echo "wrk -t 1 -c $connections -d ${duration}s on loopback, servers pinned to CPU 0 (one worker), wrk to CPU 1; segment $seg_bytes bytes; median of $runs runs each"
else
  echo "wrk -t 2 -c $connections -d ${duration}s on loopback, $(nproc) cores shared by server and wrk; segment $seg_bytes bytes; median of $runs runs each"
fi
for i in "${!builds[@]}"; do echo "marquee[$i] = ${builds[$i]}"; done
header=$(printf '%-28s' "")
for i in "${!builds[@]}"; do header+=$(printf ' %12s' "marquee[$i]"); done
header+=$(printf ' %12s' nginx)
for i in "${!builds[@]}"; do header+=$(printf ' %9s' "[$i]/nginx"); done
echo "$header"
for what in manifest segment; do
  path=${!what}
  n_rows=""
  declare -A m_rows=()
  for _ in $(seq "$runs"); do
    for i in "${!builds[@]}"; do m_rows[$i]+="$(bench "$(signed "${origins[$i]}" "$path")")"$'\n'; done
    n_rows+="$(bench "http://127.0.0.1:$nport/$path")"$'\n'
  done
  read -r -a n < <(median <<<"$n_rows")
  declare -A m=()
  for i in "${!builds[@]}"; do m[$i]=$(median <<<"${m_rows[$i]}"); done
  for col in 0 1 2 3; do
    label=("$what requests/s" "$what MB/s" "$what p50 latency (ms)" "$what p99 latency (ms)")
    line=$(printf '%-28s' "${label[$col]}")
    for i in "${!builds[@]}"; do read -r -a v <<<"${m[$i]}"; line+=$(printf ' %12s' "${v[$col]}"); done
    line+=$(printf ' %12s' "${n[$col]}")
    for i in "${!builds[@]}"; do read -r -a v <<<"${m[$i]}"; line+=$(printf ' %9s' "$(ratio "${v[$col]}" "${n[$col]}")"); done
    echo "$line"
  done
  unset m_rows m
done

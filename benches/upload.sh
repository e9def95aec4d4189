#!/usr/bin/env bash
# Benchmark (not a test): a tus upload of one file over loopback with `marquee upload` (our client, its default
# 64 MiB PATCHes) into `marquee api` (SQLite) storing on a local directory, and into a Garage S3 bucket, against
# `curl -T` of the same file to nginx's WebDAV PUT (Debian's nginx, body written to a temp file and renamed) on
# the same disk. Prints MB/s (10^6 bytes per second, wall clock of the whole command) for each with the ratio to
# nginx, and each API's peak RSS (VmHWM) over its runs: a fresh API per file size, so the sizes show whether
# the API's memory depends on the file's size. nginx never fsyncs what it stores, and our local store fsyncs
# every part before its bytes count, so nginx is also timed until `sync FILE` has put its file on disk
# ("nginx+fsync"), the durable equivalent.
#
#   benches/upload.sh [--sizes "256 1024"] [--runs N] [--chunk-size SIZE] [--no-garage] [--keep DIR]
#                     [--marquee BINARY]
#
# --sizes: file sizes in MiB (random bytes from /dev/urandom, in the work directory, read from the page cache
# by every client). --runs N (default 3): each client uploads each file N times, ours and nginx's alternating;
# medians are printed. --chunk-size: `marquee upload --chunk-size` (default its own, 64MiB). Garage comes from
# scripts/install-garage.sh (or $MARQUEE_GARAGE) and is started here on free loopback ports in the work dir.
# The work dir is a `mktemp -d` (on /tmp) unless --keep; every server's files are on that same disk.
# --marquee: run that build (API and client) instead of building this one, e.g. to measure a before/after pair.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
source benches/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

sizes="256 1024" runs=3 chunk_size="" garage=1 keep="" marquee=""
while (( $# )); do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --chunk-size) chunk_size=$2; shift 2 ;;
    --no-garage) garage=""; shift ;;
    --keep) keep=$2; shift 2 ;;
    --marquee) marquee=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v nginx >/dev/null || { echo "error: nginx is missing: apt-get install -y nginx" >&2; exit 1; }
garage_bin=""
if [[ -n "$garage" ]]; then
  garage_bin=${MARQUEE_GARAGE:-$HOME/.cache/marquee-tools/bin/garage}
  [[ -x "$garage_bin" ]] || { echo "error: no Garage at $garage_bin: run scripts/install-garage.sh or pass --no-garage" >&2; exit 1; }
fi

if [[ -z "$marquee" ]]; then
  cargo build --release --locked -p marquee >/dev/null
  marquee="$CARGO_TARGET_DIR/release/marquee"
fi
work=${keep:-$(mktemp -d)}
mkdir -p "$work"
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "$keep" ]] || rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
hex() { python3 -c "import secrets; print(secrets.token_hex($1))"; }
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
# Waits until a command succeeds (up to 10 s).
wait_for() { # what command...
  local what=$1; shift
  for _ in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "error: $what did not happen" >&2; exit 1
}

# nginx: WebDAV PUT into a directory, request bodies buffered in a temp file on the same disk, no size limit.
mkdir -p "$work/nginx/logs" "$work/nginx/tmp" "$work/nginx/dav"
chmod 777 "$work/nginx/dav" # nginx's workers run as nobody when it is started as root
nport=$(free_port)
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp; fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$nport;
    root $work/nginx/dav;
    client_max_body_size 0;
    location / { dav_methods PUT DELETE; create_full_put_path on; }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e stderr &
pids+=($!)
wait_for "nginx answering" curl -s -o /dev/null "http://127.0.0.1:$nport/"

# Garage: one node, one bucket, keys of its own (as test-support/src/garage.rs starts it).
if [[ -n "$garage" ]]; then
  mkdir -p "$work/garage"
  gport=$(free_port) grpc=$(free_port)
  cat >"$work/garage/garage.toml" <<CONF
metadata_dir = "$work/garage/meta"
data_dir = "$work/garage/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$grpc"
rpc_public_addr = "127.0.0.1:$grpc"
rpc_secret = "$(hex 32)"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$gport"
root_domain = ".s3.garage.localhost"
CONF
  export AWS_ACCESS_KEY_ID="GK$(hex 12)" AWS_SECRET_ACCESS_KEY=$(hex 32)
  GARAGE_DEFAULT_ACCESS_KEY=$AWS_ACCESS_KEY_ID GARAGE_DEFAULT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
    GARAGE_DEFAULT_BUCKET=marquee-bench RUST_LOG=garage=warn \
    "$garage_bin" -c "$work/garage/garage.toml" server --single-node --default-bucket >"$work/garage/garage.log" 2>&1 &
  pids+=($!)
  export MARQUEE_S3_ENDPOINT="http://127.0.0.1:$gport" MARQUEE_S3_REGION=us-east-1
fi

# A fresh `marquee api` (SQLite in its own directory) storing to $2; sets api_pid, api_url and api_key.
start_api() { # name storage
  local dir="$work/api-$1"
  rm -rf "$dir" && mkdir -p "$dir"
  echo "bench password 1" | "$marquee" admin create --email bench@example.com --role creator \
    --database "sqlite:$dir/api.db" >/dev/null
  "$marquee" api --listen 127.0.0.1:0 --storage "$2" --database "sqlite:$dir/api.db" >"$dir/out" 2>"$dir/err" &
  api_pid=$!
  pids+=($api_pid)
  wait_for "the API ($1) serving" grep -q "Serving" "$dir/out"
  api_url=$(grep -o 'http://[0-9.:]*' "$dir/out" | head -1)
  # Garage's bucket exists a moment after its port opens; readiness asks storage too.
  wait_for "the API ($1) ready" curl -sf -o /dev/null "$api_url/readyz"
  local token
  token=$(curl -sf -H 'content-type: application/json' -d '{"email":"bench@example.com","password":"bench password 1"}' \
    "$api_url/v1/auth/login" | json_field access_token)
  api_key=$(curl -sf -H 'content-type: application/json' -H "authorization: Bearer $token" -d '{"name":"bench"}' \
    "$api_url/v1/api-keys" | json_field key)
}

# One `marquee upload` of $1 into the API named $2: prints MB/s; the asset is deleted afterwards (its source
# with it), so the disk holds one copy at a time.
ours() { # file name url key
  local size started took asset
  size=$(stat -c %s "$1")
  settle
  started=$(now)
  asset=$("$marquee" upload "$1" --api "$3" --api-key "$4" --progress none --state-dir "$work/state-$2" \
    ${chunk_size:+--chunk-size "$chunk_size"} 2>>"$work/upload-$2.err")
  took=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$started" "$(now)")
  curl -sf -o /dev/null -X DELETE -H "authorization: Bearer $4" "$3/v1/assets/$asset"
  python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / float(sys.argv[2]) / 1e6))" "$size" "$took"
}

# The same upload with curl instead of our client: a tus creation, then the whole file as one PATCH (the API
# cuts it into parts), which shows the API's own pace without `marquee upload`'s.
ours_by_curl() { # file name url key
  local size started took headers location asset
  size=$(stat -c %s "$1")
  settle
  started=$(now)
  headers=$(curl -sf -D - -o /dev/null -X POST -H "authorization: Bearer $4" -H "tus-resumable: 1.0.0" \
    -H "upload-length: $size" "$3/v1/uploads" | tr -d '\r')
  location=$(sed -n 's/^location: //Ip' <<<"$headers")
  asset=$(sed -n 's/^marquee-asset-id: //Ip' <<<"$headers")
  curl -sf -o /dev/null -X PATCH -T "$1" -H "authorization: Bearer $4" -H "tus-resumable: 1.0.0" \
    -H "content-type: application/offset+octet-stream" -H "upload-offset: 0" "$3$location"
  took=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$started" "$(now)")
  curl -sf -o /dev/null -X DELETE -H "authorization: Bearer $4" "$3/v1/assets/$asset"
  python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / float(sys.argv[2]) / 1e6))" "$size" "$took"
}

# One `curl -T` of $1 to nginx: prints MB/s until curl is done and until the stored file is synced to disk; the
# file is removed afterwards.
theirs() { # file
  local size started put synced
  size=$(stat -c %s "$1")
  settle
  started=$(now)
  curl -sf -o /dev/null -T "$1" "http://127.0.0.1:$nport/film.bin"
  put=$(now)
  sync "$work/nginx/dav/film.bin"
  synced=$(now)
  [[ $(stat -c %s "$work/nginx/dav/film.bin") == "$size" ]] || { echo "error: nginx stored a short file" >&2; exit 1; }
  rm -f "$work/nginx/dav/film.bin"
  python3 -c "import sys; s, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:]); print('%.1f %.1f' % (s / (t1 - t0) / 1e6, s / (t2 - t0) / 1e6))" \
    "$size" "$started" "$put" "$synced"
}

# Every timed upload starts with nothing dirty in the page cache: what an earlier one left (Garage and nginx
# never fsync) would otherwise be written back during the next one and slow it down.
settle() { sync; }

hwm_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
stop() { kill "$1" && wait "$1" 2>/dev/null || true; }

# What is measured against nginx: `marquee upload` into each store, and curl's one PATCH into the local one.
stores=(local)
[[ -z "$garage" ]] || stores+=(garage)
clients=(local local-curl)
[[ -z "$garage" ]] || clients+=(garage)
echo "upload benchmark of $marquee: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $runs runs per size;" \
  "marquee upload --chunk-size ${chunk_size:-64MiB (default)}; work dir $work ($(df --output=source "$work" | tail -1))"
summary=()
for mib in $sizes; do
  file="$work/film-${mib}MiB.bin"
  head -c "$((mib << 20))" /dev/urandom >"$file"
  declare -A pid_of=() url_of=() key_of=() rows=()
  for store in "${stores[@]}"; do
    case $store in
      local) start_api local "$work/api-local/media" ;;
      garage) start_api garage "s3://marquee-bench/api" ;;
    esac
    pid_of[$store]=$api_pid url_of[$store]=$api_url key_of[$store]=$api_key
  done
  for (( r = 1; r <= runs; r++ )); do
    line="${mib} MiB run $r:"
    for client in "${clients[@]}"; do
      store=${client%-curl}
      if [[ $client == *-curl ]]; then
        rows[$client]+="$(ours_by_curl "$file" "$store" "${url_of[$store]}" "${key_of[$store]}")"$'\n'
      else
        rows[$client]+="$(ours "$file" "$store" "${url_of[$store]}" "${key_of[$store]}")"$'\n'
      fi
      line+=" $client $(tail -1 <<<"${rows[$client]%$'\n'}") MB/s,"
    done
    rows[nginx]+="$(theirs "$file")"$'\n'
    read -r put synced < <(tail -1 <<<"${rows[nginx]%$'\n'}")
    echo "$line nginx $put MB/s ($synced MB/s until synced)"
  done
  read -r nginx_mbs synced_mbs < <(median <<<"${rows[nginx]}")
  for client in "${clients[@]}"; do
    store=${client%-curl}
    ours_mbs=$(median <<<"${rows[$client]}")
    label="marquee upload → $store"
    [[ $client != *-curl ]] || label="curl PATCH → $store"
    summary+=("$(printf '%-10s %-24s %10s %10s %9s %12s %9s %10s' "${mib} MiB" "$label" "$ours_mbs" \
      "$nginx_mbs" "$(ratio "$ours_mbs" "$nginx_mbs")" "$synced_mbs" "$(ratio "$ours_mbs" "$synced_mbs")" \
      "$(hwm_mb "${pid_of[$store]}")")")
  done
  for store in "${stores[@]}"; do stop "${pid_of[$store]}"; done
  rm -f "$file"
  unset pid_of url_of key_of rows
done
echo
printf '%-10s %-24s %10s %10s %9s %12s %9s %10s\n' "file" "ours" "ours MB/s" "nginx MB/s" "ours/nginx" \
  "nginx+fsync" "ours/that" "API VmHWM"
printf '%s\n' "${summary[@]}"
echo "MB/s: medians of $runs runs; API VmHWM: peak RSS in MB over the runs of that size;" \
  "target: ours/nginx >= 0.8, API peak RSS independent of the file size"

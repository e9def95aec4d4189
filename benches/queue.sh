#!/usr/bin/env bash
# Benchmark (not a test): the transcode job queue's claim → heartbeat → complete cycle, jobs per second with
# W concurrent workers, through the same `JobQueue` functions the API calls (control-api/examples/queue_bench.rs)
# on PostgreSQL and on SQLite; beside it `pgbench -c W -j 2 -M prepared` running the very same three SQL
# statements (generated from jobs::store's SQL) on the same PostgreSQL as the ceiling.
#
#   benches/queue.sh [--jobs-per-worker N] [--workers W] [--runs R] [--keep DIR]
#
# PostgreSQL is Debian's, started here in a temporary directory on a free loopback port (as the `postgres` user
# when run as root) with normal durability: fsync on, synchronous_commit on, full_page_writes on (the defaults),
# so every commit waits for its WAL flush. SQLite is the API's own setup: WAL, synchronous = NORMAL.
# Each figure is the median of R runs (default 3), ours and pgbench's alternating; every run starts from the
# same freshly queued jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/marquee/target}"

per_worker=2500 workers=8 runs=3 keep=""
while (( $# )); do
  case "$1" in
    --jobs-per-worker) per_worker=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
jobs=$(( per_worker * workers ))

pg_bin=${MARQUEE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x "$pg_bin/pgbench" ]] || { echo "error: PostgreSQL is missing: apt-get install -y postgresql" >&2; exit 1; }

cargo build --release --locked -p marquee-control-api --example queue_bench >/dev/null
bench="$CARGO_TARGET_DIR/release/examples/queue_bench"

work=${keep:-$(mktemp -d)}
mkdir -p "$work"
chmod 755 "$work"
as_pg=()
if [[ $(id -u) == 0 ]]; then as_pg=(runuser -u postgres --); fi
mkdir -p "$work/pg"
[[ ${#as_pg[@]} == 0 ]] || chown postgres: "$work/pg"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  [[ -n "$keep" ]] || rm -rf "$work"
}
trap cleanup EXIT

"${as_pg[@]}" "$pg_bin/initdb" -A trust -U marquee -E UTF8 -D "$work/pg/data" >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $work/pg" start >/dev/null
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U marquee marquee
pg_url="postgres://marquee@127.0.0.1:$port/marquee"
settings=$("$pg_bin/psql" -h 127.0.0.1 -p "$port" -U marquee -d marquee -Atc \
  "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
   WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers')")
"$bench" pgbench-script > "$work/queue.sql"

ours_pg() { "$bench" run --database "$pg_url" --jobs "$jobs" --workers "$workers" | sed -n 's/.*jobs_per_s=//p'; }
# The same with one pool connection per worker (as a pgbench client has): what taking and returning a pool
# connection per statement costs (sqlx 0.8 pings each connection it takes back). A diagnosis, not the API's way.
ours_pg_held() {
  "$bench" run --database "$pg_url" --jobs "$jobs" --workers "$workers" --connection per-worker | sed -n 's/.*jobs_per_s=//p'
}
ours_sqlite() {
  rm -f "$work"/api.db*
  "$bench" run --database "sqlite:$work/api.db" --jobs "$jobs" --workers "$workers" | sed -n 's/.*jobs_per_s=//p'
}
pgbench_run() {
  # A few more jobs than claims: a claim that found none would end its pgbench client.
  "$bench" prepare --database "$pg_url" --jobs $(( jobs + 100 )) --workers "$workers"
  "$pg_bin/pgbench" -h 127.0.0.1 -p "$port" -U marquee -n -M prepared -c "$workers" -j 2 -t "$per_worker" \
    -D now="$(date +%s%3N)" -D lease=30000 -D kind=transcode -D encoder=x264 \
    -D progress='{"percent":50,"stage":"encoding","fps":240.0}' -D result='{"renditions":5,"duration_ms":60000}' \
    -f "$work/queue.sql" marquee > "$work/pgbench.out" 2>&1 || { grep -v "^progress" "$work/pgbench.out" | head -5 >&2; tail -3 "$work/pgbench.out" >&2; exit 1; }
  grep -q "number of failed transactions: 0 " "$work/pgbench.out" || { cat "$work/pgbench.out" >&2; exit 1; }
  sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$work/pgbench.out"
}

echo "queue benchmark: $workers workers, $jobs jobs per run, $runs runs; PostgreSQL: $settings"
ours=() ceiling=() lite=() held=()
for (( r = 1; r <= runs; r++ )); do
  ours+=("$(ours_pg)")
  ceiling+=("$(pgbench_run)")
  lite+=("$(ours_sqlite)")
  held+=("$(ours_pg_held)")
  echo "run $r: ours on PostgreSQL ${ours[-1]} jobs/s, pgbench ${ceiling[-1]} jobs/s, ours on SQLite ${lite[-1]} jobs/s," \
    "ours on PostgreSQL with a connection per worker ${held[-1]} jobs/s"
done
ours_median=$(printf '%s\n' "${ours[@]}" | median)
ceiling_median=$(printf '%s\n' "${ceiling[@]}" | median)
lite_median=$(printf '%s\n' "${lite[@]}" | median)
held_median=$(printf '%s\n' "${held[@]}" | median)
printf '%-40s %10s\n' "medians" "jobs/s"
printf '%-40s %10.0f\n' "ours, PostgreSQL (JobQueue via sqlx)" "$ours_median"
printf '%-40s %10.0f\n' "pgbench, same statements (ceiling)" "$ceiling_median"
printf '%-40s %10.0f\n' "ours, SQLite" "$lite_median"
printf '%-40s %10.0f\n' "ours, PostgreSQL, a connection per worker" "$held_median"
echo "ours / pgbench on PostgreSQL: $(ratio "$ours_median" "$ceiling_median") (target >= 0.8; >= 2000 jobs/s)"

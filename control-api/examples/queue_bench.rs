//! The job queue benchmark's driver (run by `benches/queue.sh`, not a test): claim → heartbeat → complete
//! cycles per second with concurrent workers, through the same `JobQueue` functions the API calls.
//!
//! ```text
//! queue_bench run --database URL [--jobs N] [--workers W] [--connection per-statement|per-worker]
//!                                                            # prepare, then time W workers draining N jobs
//! queue_bench prepare --database URL [--jobs N] [--workers W]   # only the tables: N queued jobs, workers "0".."W-1"
//! queue_bench pgbench-script                                 # the same statements as a pgbench script
//! ```
//!
//! Workers are registered with ids `0`..`W-1` so that pgbench's `:client_id` names one. The pgbench script is
//! generated from the very SQL `jobs::store` runs (`claim_sql`, `HEARTBEAT_SQL`, `COMPLETE_SQL`), with each
//! `$n` replaced by a pgbench variable; integer parameters get a `CAST(… AS BIGINT)` because pgbench leaves
//! parameter types to the server where sqlx declares them.
//!
//! `--connection per-statement` (the default) takes a pool connection for each statement, as the API's
//! handlers do (one per request); `per-worker` keeps one connection per worker for all its statements, as a
//! pgbench client does, through the same `*_in` functions. The difference is what taking and returning pool
//! connections costs: sqlx 0.8 sends a Sync and waits for the server's answer each time a connection goes back
//! to the pool.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use marquee_control_api::jobs::store::{claim_sql, COMPLETE_SQL, HEARTBEAT_SQL};
use marquee_control_api::jobs::{enqueue_in, Encoder, JobQueue, NewJob};
use marquee_control_api::{Database, Engine};
use serde_json::json;

const LEASE: Duration = Duration::from_secs(30);
const KINDS: &[&str] = &["transcode"];
const ENCODERS: &[Encoder] = &[Encoder::X264];
/// Owners the jobs are spread over, so the fair order has rounds to work through.
const OWNERS: usize = 10;

struct Options {
    command: String,
    database: Option<String>,
    jobs: usize,
    workers: usize,
    per_worker_connection: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let command = args
        .next()
        .context("usage: queue_bench run|prepare|pgbench-script [--database URL] [--jobs N] [--workers W]")?;
    let mut options = Options { command, database: None, jobs: 20_000, workers: 8, per_worker_connection: false };
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--database" => options.database = Some(value),
            "--jobs" => options.jobs = value.parse()?,
            "--workers" => options.workers = value.parse()?,
            "--connection" => {
                options.per_worker_connection = match value.as_str() {
                    "per-statement" => false,
                    "per-worker" => true,
                    _ => bail!("--connection is per-statement or per-worker"),
                }
            }
            _ => bail!("unknown option {flag}"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    match options.command.as_str() {
        "pgbench-script" => print!("{}", pgbench_script()),
        "prepare" | "run" => {
            let url = options.database.as_deref().context("--database URL is needed")?;
            let db = Database::connect(url).await?;
            prepare(&db, options.jobs, options.workers).await?;
            if options.command == "run" {
                let (claimed, took) = if options.per_worker_connection {
                    drain_on_connections(&db, options.workers).await?
                } else {
                    drain(JobQueue::new(db.clone()), options.workers).await?
                };
                if claimed != options.jobs {
                    bail!("{claimed} of {} jobs were claimed", options.jobs);
                }
                let engine = match db.engine() {
                    Engine::Sqlite => "sqlite",
                    Engine::Postgres => "postgres",
                };
                println!(
                    "engine={engine} workers={} jobs={claimed} seconds={:.3} jobs_per_s={:.0}",
                    options.workers,
                    took.as_secs_f64(),
                    claimed as f64 / took.as_secs_f64()
                );
            }
        }
        other => bail!("unknown command {other}"),
    }
    Ok(())
}

/// Empties the queue, registers workers `0`..`workers-1` and queues `jobs` jobs (one transaction).
async fn prepare(db: &Database, jobs: usize, workers: usize) -> anyhow::Result<()> {
    let pool = db.pool();
    match db.engine() {
        Engine::Postgres => {
            sqlx::query("TRUNCATE jobs, workers").execute(pool).await?;
        }
        Engine::Sqlite => {
            sqlx::query("DELETE FROM jobs").execute(pool).await?;
            sqlx::query("DELETE FROM workers").execute(pool).await?;
        }
    }
    let now = now_ms();
    for id in 0..workers {
        sqlx::query(
            "INSERT INTO workers (id, name, encoders, capacity, registered_at, last_seen_at) \
             VALUES ($1, $2, '[\"x264\"]', 1, $3, $3)",
        )
        .bind(id.to_string())
        .bind(format!("bench-{id}"))
        .bind(now)
        .execute(pool)
        .await?;
    }
    let mut tx = pool.begin().await?;
    for i in 0..jobs {
        let owner = format!("owner-{}", i % OWNERS);
        enqueue_in(&mut tx, &NewJob::transcode(format!("asset-{i}"), owner, "default"), now).await?;
    }
    tx.commit().await?;
    if db.engine() == Engine::Postgres {
        sqlx::query("VACUUM ANALYZE jobs").execute(pool).await?;
        sqlx::query("VACUUM ANALYZE workers").execute(pool).await?;
    }
    Ok(())
}

/// Runs `workers` workers until the queue is empty; returns the jobs done and the time it took.
async fn drain(queue: JobQueue, workers: usize) -> anyhow::Result<(usize, Duration)> {
    timed_workers(workers, move |worker| {
        let queue = queue.clone();
        async move {
            let (progress, result) = payloads();
            let mut done = 0usize;
            while let Some(claimed) = queue.claim(&worker, KINDS, ENCODERS, LEASE, now_ms()).await? {
                queue.heartbeat(&claimed.lease, Some(&progress), now_ms()).await?;
                queue.complete(&claimed.lease, &result, now_ms()).await?;
                done += 1;
            }
            Ok(done)
        }
    })
    .await
}

/// [`drain`] with one pool connection per worker for all its statements, through the `*_in` functions.
async fn drain_on_connections(db: &Database, workers: usize) -> anyhow::Result<(usize, Duration)> {
    use marquee_control_api::jobs::store::{claim_in, complete_in, heartbeat_in};
    let db = db.clone();
    timed_workers(workers, move |worker| {
        let db = db.clone();
        async move {
            let (progress, result) = payloads();
            let mut conn = db.pool().acquire().await?;
            let mut done = 0usize;
            while let Some(claimed) =
                claim_in(&mut conn, db.engine(), &worker, KINDS, ENCODERS, LEASE, now_ms()).await?
            {
                heartbeat_in(&mut conn, &claimed.lease, Some(&progress), now_ms()).await?.context("lease lost")?;
                if !complete_in(&mut conn, &claimed.lease, &result, now_ms()).await? {
                    bail!("completion refused");
                }
                done += 1;
            }
            Ok(done)
        }
    })
    .await
}

/// The progress a worker reports and the result it completes with: the same for every job.
fn payloads() -> (serde_json::Value, serde_json::Value) {
    (json!({"percent": 50, "stage": "encoding", "fps": 240.0}), json!({"renditions": 5, "duration_ms": 60_000}))
}

/// Starts `work` for workers `0`..`workers-1` at once and waits for all; returns the jobs they did and the time
/// from the first start to the last finish.
async fn timed_workers<F, Fut>(workers: usize, work: F) -> anyhow::Result<(usize, Duration)>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers).map(|id| tokio::spawn(work(id.to_string()))).collect();
    let mut claimed = 0;
    for task in tasks {
        claimed += task.await??;
    }
    Ok((claimed, started.elapsed()))
}

/// The claim, heartbeat and complete statements as one pgbench transaction script (`-M prepared`; variables
/// `now`, `lease`, `kind`, `encoder`, `progress`, `result` given with `-D`).
fn pgbench_script() -> String {
    let int = |name: &str| format!("CAST(:{name} AS BIGINT)");
    let claim = with_variables(
        &claim_sql(Engine::Postgres, 1, 1),
        &[":client_id".into(), int("now"), int("lease"), ":kind".into(), ":encoder".into()],
    );
    let heartbeat = with_variables(
        HEARTBEAT_SQL,
        &[":id".into(), int("attempt"), ":client_id".into(), int("now"), ":progress".into()],
    );
    let complete = with_variables(
        COMPLETE_SQL,
        &[":id".into(), int("attempt"), ":client_id".into(), ":result".into(), int("now")],
    );
    format!("{claim} \\gset\n{heartbeat};\n{complete};\n")
}

/// `sql` with `$1`, `$2`, … replaced by `values[0]`, `values[1]`, … (highest first, so `$1` never eats `$10`).
fn with_variables(sql: &str, values: &[String]) -> String {
    let mut sql = sql.to_string();
    for (i, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), value);
    }
    assert!(!sql.contains('$'), "every parameter has a variable: {sql}");
    sql
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
    i64::try_from(since_epoch.as_millis()).expect("milliseconds fit in i64")
}

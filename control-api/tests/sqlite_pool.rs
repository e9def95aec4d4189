//! A SQLite connection left inside a transaction is never handed out again: the pool closes it (rolling the
//! transaction back and freeing the write lock) instead of letting it block every later write.

use std::time::{Duration, Instant};

use marquee_control_api::db::begin_write;
use marquee_control_api::Database;

#[tokio::test]
async fn a_connection_left_in_a_transaction_is_closed_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&format!("sqlite:{}", dir.path().join("api.db").display())).await.unwrap();
    sqlx::query("CREATE TABLE t (x BIGINT)").execute(db.pool()).await.unwrap();

    // What a request cancelled between BEGIN and its `Transaction` leaves: a pooled connection inside a write
    // transaction that nobody will commit or roll back.
    let mut leaked = db.pool().acquire().await.unwrap();
    let tx = sqlx::Connection::begin(&mut *leaked).await.unwrap();
    std::mem::forget(tx);
    sqlx::query("INSERT INTO t (x) VALUES (1)").execute(&mut *leaked).await.unwrap();
    drop(leaked);

    // Every connection of the pool in turn writes at once: none waits out the busy timeout (10 s) or is refused.
    let started = Instant::now();
    for x in 2..12_i64 {
        let mut tx = begin_write(db.pool()).await.expect("a write transaction begins");
        sqlx::query("INSERT INTO t (x) VALUES ($1)").bind(x).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(5), "writes waited {:?}", started.elapsed());
    // The abandoned transaction's row was rolled back with it.
    let rows: Vec<i64> = sqlx::query_scalar("SELECT x FROM t ORDER BY x").fetch_all(db.pool()).await.unwrap();
    assert_eq!(rows, (2..12).collect::<Vec<_>>());
}

//! The batch writer: accepted beacons wait in a bounded queue (the handler answers 503 when it is full, so
//! memory stays bounded whatever the load), and one task writes them in batches, one transaction per batch,
//! when [`WriterSettings::batch_beacons`] are waiting or every [`WriterSettings::flush_every`]. On shutdown it
//! closes the queue (later requests get 503), writes what is queued, and ends.

use std::time::{Duration, Instant};

use marquee_control_api::clock::Clock;
use marquee_control_api::Database;
use tokio::sync::{mpsc, watch};

use crate::beacon::Beacon;
use crate::metrics::AnalyticsMetrics;
use crate::store;

/// A failed batch is tried this many times in all before its beacons are dropped (and counted).
const WRITE_ATTEMPTS: u32 = 3;

/// How the writer batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterSettings {
    pub batch_beacons: usize,
    pub flush_every: Duration,
}

/// Runs until `stopping` turns true (or its sender is gone), then writes what is queued and returns.
pub async fn run(
    db: Database,
    clock: Clock,
    mut queue: mpsc::Receiver<Beacon>,
    metrics: AnalyticsMetrics,
    settings: WriterSettings,
    mut stopping: watch::Receiver<bool>,
) {
    let batch = settings.batch_beacons.max(1);
    let mut buffer: Vec<Beacon> = Vec::with_capacity(batch);
    let mut tick = tokio::time::interval(settings.flush_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let room = batch - buffer.len();
        tokio::select! {
            () = stopped(&mut stopping) => break,
            received = queue.recv_many(&mut buffer, room) => {
                if received == 0 {
                    break;
                }
                if buffer.len() >= batch {
                    flush(&db, &clock, &mut buffer, &metrics).await;
                }
            }
            _ = tick.tick() => {
                if !buffer.is_empty() {
                    flush(&db, &clock, &mut buffer, &metrics).await;
                }
            }
        }
        metrics.queued.set(i64::try_from(queue.len()).unwrap_or(i64::MAX));
    }
    queue.close();
    loop {
        let room = batch - buffer.len();
        if queue.recv_many(&mut buffer, room).await == 0 {
            break;
        }
        if buffer.len() >= batch {
            flush(&db, &clock, &mut buffer, &metrics).await;
        }
    }
    if !buffer.is_empty() {
        flush(&db, &clock, &mut buffer, &metrics).await;
    }
    metrics.queued.set(0);
    tracing::info!("Analytics batch writer stopped.");
}

/// Returns once `stopping` is true or its sender is gone.
pub(crate) async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

async fn flush(db: &Database, clock: &Clock, buffer: &mut Vec<Beacon>, metrics: &AnalyticsMetrics) {
    let beacons = std::mem::take(buffer);
    let count = beacons.len() as u64;
    for attempt in 1..=WRITE_ATTEMPTS {
        let started = Instant::now();
        match store::write_batch(db, beacons.clone(), clock.now_ms()).await {
            Ok(outcome) => {
                metrics.batch(&outcome, started.elapsed().as_secs_f64());
                return;
            }
            Err(error) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(%error, beacons = count, attempt, "Cannot write a batch of beacons; retrying.");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(error) => {
                tracing::error!(%error, beacons = count, "Cannot write a batch of beacons; dropped.");
                metrics.write_failed(count);
            }
        }
    }
}

//! Beacon ingest under load: an API with the analytics satellite (in this process, on a temporary SQLite file
//! or a throwaway PostgreSQL), players sending beacons at a fixed rate, and meanwhile another endpoint
//! (`GET /v1/assets/{id}`) timed, against the same endpoint with no beacons first.
//!
//! `cargo run -p marquee-analytics --release --example beacon_load -- [BEACONS_PER_S] [SECONDS] [sqlite|postgres]`
//!
//! Prints the beacons accepted, refused (503) and written per second, the time the writer needed to catch up
//! after the load stopped, the process's peak RSS (the API and this client together), and the other
//! endpoint's p50/p99 without and with the load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use marquee_analytics::{Analytics, AnalyticsSettings};
use marquee_control_api::auth::{now_ms, Role};
use marquee_control_api::testing::{call, get, Engine, TestApi};
use marquee_control_api::Satellites;
use serde_json::{json, Value};

/// Requests per second the players send (each carries BEACONS_PER_S / this many events).
const REQUESTS_PER_S: u64 = 100;
/// Events of one view: start, first frame, heartbeats, end.
const VIEW_EVENTS: u64 = 23;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Times `GET /v1/assets/{id}` back to back (one every 10 ms) until `until`.
async fn time_reads(url: String, token: String, until: Instant) -> Vec<Duration> {
    let mut samples = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        let answer = call("GET", &url, &token, None).await;
        assert_eq!(answer.status, 200);
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

/// Event number `k` of the players' stream.
fn event(k: u64, asset: &str) -> Value {
    let view = format!("load-{}", k / VIEW_EVENTS);
    let step = k % VIEW_EVENTS;
    let (kind, position) = match step {
        0 => ("view_start", None),
        1 => ("first_frame", Some(0)),
        s if s == VIEW_EVENTS - 1 => ("view_end", Some((s - 1) * 10_000)),
        s => ("heartbeat", Some((s - 1) * 10_000)),
    };
    let mut event = json!({"view_id": view, "type": kind, "at": now_ms(), "asset_id": asset, "title_id": "load-title",
        "bitrate_bps": 3_000_000});
    if let Some(position) = position {
        event["position_ms"] = position.into();
    }
    event
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let engine = if args.get(3).map(String::as_str) == Some("postgres") { Engine::Postgres } else { Engine::Sqlite };
    let api =
        TestApi::start_with_satellites(engine, Satellites::new().with(Analytics::new(AnalyticsSettings::default())))
            .await;
    let owner = api.signed_in("load@example.com", Role::Creator).await;
    let player = api.signed_in("player@example.com", Role::Viewer).await;
    let asset = api.uploaded(&owner).await;
    let read_url = api.url(&format!("/v1/assets/{asset}"));

    let baseline = time_reads(read_url.clone(), owner.clone(), Instant::now() + Duration::from_secs(5)).await;
    let rss_before = rss_bytes();

    let per_request = (rate / REQUESTS_PER_S).max(1);
    let (accepted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load_started = Instant::now();
    let until = load_started + Duration::from_secs(seconds);
    let reads = tokio::spawn(time_reads(read_url.clone(), owner.clone(), until));
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / REQUESTS_PER_S));
    let mut sent = Vec::new();
    let mut next_event = 0u64;
    let mut peak_rss = rss_before;
    while Instant::now() < until {
        tick.tick().await;
        let events: Vec<Value> = (next_event..next_event + per_request).map(|k| event(k, &asset)).collect();
        next_event += per_request;
        let (url, token, accepted, refused) =
            (api.url("/v1/beacons"), player.clone(), accepted.clone(), refused.clone());
        sent.push(tokio::spawn(async move {
            let answer = call("POST", &url, &token, Some(&json!({ "events": events }))).await;
            match answer.status {
                202 => accepted.fetch_add(answer.json()["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed),
                503 => refused.fetch_add(per_request, Ordering::Relaxed),
                other => panic!("unexpected {other}: {}", answer.text()),
            };
        }));
        if next_event.is_multiple_of(per_request * REQUESTS_PER_S / 2) {
            peak_rss = peak_rss.max(rss_bytes());
        }
    }
    for request in sent {
        request.await.unwrap();
    }
    let load_took = load_started.elapsed();
    let loaded = reads.await.unwrap();
    let accepted = accepted.load(Ordering::Relaxed);
    // Until the writer has stored every accepted beacon.
    let written = loop {
        let text = get(&api.url("/metrics")).await.text();
        let written = metric(&text, "marquee_analytics_beacons_written_total") as u64;
        peak_rss = peak_rss.max(rss_bytes());
        if written >= accepted || load_started.elapsed() > load_took + Duration::from_secs(120) {
            break written;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let caught_up = load_started.elapsed();
    // The test API's clock stands still from its start; the players stamped their events with the real time, so
    // the report's range (up to the clock's now) must reach them.
    api.clock.set(now_ms());
    let report = call("GET", &api.url(&format!("/v1/analytics/assets/{asset}")), &owner, None).await.json();

    println!(
        "engine: {engine:?}, target {rate} beacons/s for {seconds} s ({REQUESTS_PER_S} requests/s of {per_request})"
    );
    println!(
        "accepted {accepted} ({:.0}/s), refused {} (503), written {written} ({:.0}/s until the writer caught up, {:.2} s after the load)",
        accepted as f64 / load_took.as_secs_f64(),
        refused.load(Ordering::Relaxed),
        written as f64 / caught_up.as_secs_f64(),
        (caught_up - load_took).as_secs_f64()
    );
    println!(
        "RSS: {:.1} MiB before the load, {:.1} MiB at most during it",
        rss_before as f64 / 1048576.0,
        peak_rss as f64 / 1048576.0
    );
    println!(
        "GET /v1/assets/{{id}}: p50 {:.2} ms p99 {:.2} ms without beacons ({} requests); p50 {:.2} ms p99 {:.2} ms with ({} requests)",
        percentile(baseline.clone(), 50.0).as_secs_f64() * 1e3,
        percentile(baseline.clone(), 99.0).as_secs_f64() * 1e3,
        baseline.len(),
        percentile(loaded.clone(), 50.0).as_secs_f64() * 1e3,
        percentile(loaded.clone(), 99.0).as_secs_f64() * 1e3,
        loaded.len()
    );
    println!("analytics of the asset: views {}, watch time {} ms", report["views"], report["watch_time_ms"]);
    api.stop().await;
}

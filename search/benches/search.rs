//! `GET /v1/search` at scale, through the API, on SQLite and PostgreSQL: loads the generated corpus
//! (`MARQUEE_SEARCH_BENCH_TITLES`, default 100,000 titles and their people) through the index as the catalog
//! would, measures the share of `MARQUEE_SEARCH_BENCH_QUERIES` (default 1,000) misspelled queries whose
//! title is in the top 3, then sends
//! `MARQUEE_SEARCH_BENCH_REQUESTS` (default 3,000) searches from `MARQUEE_SEARCH_BENCH_CONCURRENCY` (default
//! 16) clients and prints requests/s, p50 and p99.
//!
//! ```sh
//! cargo bench -p marquee-search --bench search            # both engines
//! cargo bench -p marquee-search --bench search -- sqlite  # one
//! ```
//!
//! Each request opens its own connection (the test client's way), so the numbers include a TCP handshake.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use marquee_catalog::index::CatalogIndex;
use marquee_control_api::db::begin_write;
use marquee_control_api::testing::{get, Engine, TestApi};
use marquee_control_api::Satellites;
use marquee_search::{corpus, query, Search, SearchIndex};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let titles = setting("MARQUEE_SEARCH_BENCH_TITLES", 100_000);
    let requests = setting("MARQUEE_SEARCH_BENCH_REQUESTS", 3_000);
    let concurrency = setting("MARQUEE_SEARCH_BENCH_CONCURRENCY", 16);
    let quality_queries = setting("MARQUEE_SEARCH_BENCH_QUERIES", 1000);
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let engines: Vec<Engine> = [("sqlite", Engine::Sqlite), ("postgres", Engine::Postgres)]
        .into_iter()
        .filter(|(name, _)| args.is_empty() || args.iter().any(|a| a == name))
        .map(|(_, engine)| engine)
        .collect();
    let entries = corpus::generate(titles, corpus::SEED);
    let queries = Arc::new(corpus::misspellings(&entries, quality_queries, 3));
    println!("{} entries ({titles} titles), {} queries", entries.len(), queries.len());
    for engine in engines {
        let api = TestApi::start_with_satellites(engine, Satellites::new().with(Search::new())).await;
        let started = Instant::now();
        for chunk in entries.chunks(2000) {
            let mut tx = begin_write(api.db.pool()).await.unwrap();
            for entry in chunk {
                SearchIndex::new().upsert(&mut tx, entry).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        let load = started.elapsed();

        let now = marquee_control_api::clock::now_ms();
        let mut found = 0;
        for m in queries.iter() {
            let words = query::parse(&m.query).unwrap();
            let ranked = SearchIndex::new().ranked(api.db.pool(), &words, now).await.unwrap();
            found += usize::from(ranked.iter().take(3).any(|r| r.id == m.id));
        }
        let share = found as f64 / queries.len() as f64 * 100.0;

        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let clients: Vec<_> = (0..concurrency)
            .map(|_| {
                let (next, queries, base) = (next.clone(), queries.clone(), api.url("/v1/search?limit=20&q="));
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= requests {
                            return latencies;
                        }
                        let sent = Instant::now();
                        let answer = get(&format!("{base}{}", encode(&queries[i % queries.len()].query))).await;
                        assert_eq!(answer.status, 200, "{}", answer.text());
                        latencies.push(sent.elapsed());
                    }
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for client in clients {
            latencies.extend(client.await.unwrap());
        }
        let elapsed = started.elapsed();
        latencies.sort();
        println!(
            "{engine:?}: loaded in {:.1} s; {requests} searches at concurrency {concurrency}: {:.0} requests/s, \
             p50 {:.1} ms, p99 {:.1} ms; top-3 {share:.1} % of {} misspelled queries",
            load.as_secs_f64(),
            requests as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            queries.len(),
        );
        api.stop().await;
    }
}

//! The edge against a counting upstream, where counting requests is the point (the edge in front of the real
//! origin is tested in cli/tests/edge_over_origin.rs, where both are available).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use marquee_edge_cache::EdgeConfig;
use marquee_http::{SignedUrls, Unsigned};
use marquee_signing::{Grant, KeyRing, SigningKey};
use support::{get, metric, pattern, CountingUpstream, Served, TestEdge};

const SEGMENT: &str = "film/video_720p/seg_00001.m4s";

fn objects(entries: &[(&str, Bytes, &'static str)]) -> HashMap<String, Served> {
    entries
        .iter()
        .map(|(path, body, cache_control)| ((*path).to_owned(), Served { body: body.clone(), cache_control }))
        .collect()
}

fn edge_config(upstreams: Vec<String>) -> EdgeConfig {
    EdgeConfig { upstreams, health_interval: Duration::from_millis(200), ..EdgeConfig::default() }
}

fn keys() -> KeyRing {
    KeyRing::single(SigningKey::new("k1", &[7u8; 32]).unwrap())
}

fn signed(keys: &KeyRing, prefix: &str, rest: &str) -> String {
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    marquee_signing::token_path(&keys.sign(&Grant::new(prefix, expires).unwrap()), rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_misses_make_one_upstream_request() -> Result<()> {
    let body = pattern(2 * 1024 * 1024, 1);
    let upstream = CountingUpstream::start(objects(&[(SEGMENT, body.clone(), "public, max-age=3600")]), true).await?;
    let edge = TestEdge::start(edge_config(vec![upstream.url()]), Arc::new(Unsigned), None).await?;

    // 8 HTTP/2 connections with 125 streams each: 1,000 requests in flight at once without 1,000 sockets.
    let mut senders = Vec::new();
    for _ in 0..8 {
        let stream = tokio::net::TcpStream::connect(edge.addr).await?;
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        senders.push(sender);
    }
    let mut requests = Vec::new();
    for i in 0..1000 {
        let mut sender = senders[i % senders.len()].clone();
        let uri = edge.url(&format!("/{SEGMENT}"));
        requests.push(tokio::spawn(async move {
            let request = Request::get(uri).body(Empty::<Bytes>::new())?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let cache = response.headers().get("x-cache").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, cache, body))
        }));
    }
    // The upstream holds the body back until every other request is waiting on the one fetch.
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(&edge, "marquee_edge_coalesced_waiters_total").await? < 999.0 {
        ensure!(Instant::now() < deadline, "the requests never all joined one fetch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    upstream.release();
    let mut coalesced = 0;
    for request in requests {
        let (status, cache, got) = request.await??;
        assert_eq!(status, StatusCode::OK);
        assert!(got == body, "every body whole and identical");
        coalesced += usize::from(cache == "COALESCED");
    }
    assert_eq!(upstream.hits(SEGMENT), 1, "one upstream request");
    assert_eq!(coalesced, 999);
    // Afterwards: a hit from memory.
    let again = get(&edge.url(&format!("/{SEGMENT}")), &[]).await?;
    assert_eq!((again.status, again.header("x-cache")), (StatusCode::OK, "HIT"));
    assert_eq!(upstream.hits(SEGMENT), 1);
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_and_conditionals_are_answered_from_the_copy() -> Result<()> {
    let body = pattern(100_000, 2);
    let upstream = CountingUpstream::start(objects(&[(SEGMENT, body.clone(), "public, max-age=3600")]), false).await?;
    let edge = TestEdge::start(edge_config(vec![upstream.url()]), Arc::new(Unsigned), None).await?;
    let url = edge.url(&format!("/{SEGMENT}"));
    // A range on a miss fills the whole object once and answers the range.
    let ranged = get(&url, &[("range", "bytes=10-19")]).await?;
    assert_eq!((ranged.status, &ranged.body[..]), (StatusCode::PARTIAL_CONTENT, &body[10..20]));
    assert_eq!(ranged.header("content-range"), "bytes 10-19/100000");
    let suffix = get(&url, &[("range", "bytes=-5")]).await?;
    assert_eq!(
        (suffix.status, &suffix.body[..], suffix.header("x-cache")),
        (StatusCode::PARTIAL_CONTENT, &body[99_995..], "HIT")
    );
    let past_end = get(&url, &[("range", "bytes=200000-")]).await?;
    assert_eq!(past_end.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let not_modified = get(&url, &[("if-none-match", "\"100000\"")]).await?;
    assert_eq!((not_modified.status, not_modified.body.len()), (StatusCode::NOT_MODIFIED, 0));
    let head = support::request(&support::client(), Method::HEAD, &url, &[]).await?;
    assert_eq!((head.status, head.header("content-length"), head.body.len()), (StatusCode::OK, "100000", 0));
    assert!(!head.header("age").is_empty(), "an Age header is sent");
    assert_eq!(upstream.hits(SEGMENT), 1);
    // Negative caching: a 404 is asked for once, then answered here.
    for _ in 0..3 {
        assert_eq!(get(&edge.url("/film/missing.m4s"), &[]).await?.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(upstream.hits("film/missing.m4s"), 1);
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_refused_without_upstream_traffic() -> Result<()> {
    let upstream =
        CountingUpstream::start(objects(&[(SEGMENT, pattern(5000, 3), "public, max-age=60")]), false).await?;
    let keys = keys();
    let edge =
        TestEdge::start(edge_config(vec![upstream.url()]), Arc::new(SignedUrls::new(keys.clone())), Some(keys.clone()))
            .await?;
    let good = signed(&keys, "/film/", &format!("/{SEGMENT}"));
    let mut tampered = good.clone();
    tampered.replace_range(10..11, if &good[10..11] == "A" { "B" } else { "A" });
    let other_asset = signed(&keys, "/other/", &format!("/{SEGMENT}"));
    for path in [format!("/{SEGMENT}"), tampered, other_asset, "/t/garbage/film/x.m4s".to_owned()] {
        assert_eq!(get(&edge.url(&path), &[]).await?.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(upstream.total_hits(), 0, "nothing reached the upstream");
    // A good token is served, and the edge signed its own upstream request (the counting upstream strips it).
    let ok = get(&edge.url(&good), &[]).await?;
    assert_eq!((ok.status, ok.body.len()), (StatusCode::OK, 5000));
    // Every viewer's token shares one cached copy.
    let another = signed(&keys, "/film/", &format!("/{SEGMENT}"));
    assert_eq!(get(&edge.url(&another), &[]).await?.header("x-cache"), "HIT");
    assert_eq!(upstream.hits(SEGMENT), 1);
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_copies_are_served_when_the_upstream_dies() -> Result<()> {
    let body = pattern(4000, 4);
    let upstream =
        CountingUpstream::start(objects(&[(SEGMENT, body.clone(), "public, max-age=1, stale-if-error=600")]), false)
            .await?;
    let edge = TestEdge::start(edge_config(vec![upstream.url()]), Arc::new(Unsigned), None).await?;
    let url = edge.url(&format!("/{SEGMENT}"));
    assert_eq!(get(&url, &[]).await?.status, StatusCode::OK);
    upstream.kill();
    // Once the one-second lifetime has run out, the copy is stale, usable only on error.
    let stale = first_answer_after_expiry(&url).await?;
    assert_eq!((stale.status, stale.header("x-cache")), (StatusCode::OK, "STALE"));
    assert!(stale.body == body);
    // Nothing cached: a quick 502, not a hang.
    let started = Instant::now();
    let uncached = get(&edge.url("/film/video_720p/seg_00002.m4s"), &[]).await?;
    assert_eq!(uncached.status, StatusCode::BAD_GATEWAY);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_edge_keeps_its_disk_tier() -> Result<()> {
    let cache_dir = tempfile::TempDir::new()?;
    let body = pattern(300_000, 5);
    let upstream = CountingUpstream::start(objects(&[(SEGMENT, body.clone(), "public, max-age=3600")]), false).await?;
    let config = EdgeConfig { disk_dir: Some(cache_dir.path().to_owned()), ..edge_config(vec![upstream.url()]) };
    let edge = TestEdge::start(config.clone(), Arc::new(Unsigned), None).await?;
    assert_eq!(get(&edge.url(&format!("/{SEGMENT}")), &[]).await?.status, StatusCode::OK);
    // The disk write finishes just after the response (off the request path); wait until it shows.
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&edge, "marquee_edge_tier_entries{tier=\"disk\"}").await? < 1.0 {
        ensure!(Instant::now() < deadline, "never written to disk");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    edge.stop().await?;
    upstream.kill();

    let restarted = TestEdge::start(config, Arc::new(Unsigned), None).await?;
    let reply = get(&restarted.url(&format!("/{SEGMENT}")), &[]).await?;
    assert_eq!((reply.status, reply.header("x-cache")), (StatusCode::OK, "HIT"));
    assert!(reply.body == body);
    assert_eq!(upstream.hits(SEGMENT), 1);
    restarted.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_disk_stay_within_budget_under_a_larger_workload() -> Result<()> {
    let cache_dir = tempfile::TempDir::new()?;
    // 120 objects of 256 KiB (30 MiB) through 4 MiB of memory and 8 MiB of disk.
    let entries: Vec<(String, Bytes)> =
        (0..120).map(|i| (format!("film/video_720p/seg_{i:05}.m4s"), pattern(256 * 1024, i as u8))).collect();
    let served = entries
        .iter()
        .map(|(path, body)| (path.clone(), Served { body: body.clone(), cache_control: "public, max-age=3600" }))
        .collect();
    let upstream = CountingUpstream::start(served, false).await?;
    let (memory_budget, disk_budget) = (4 * 1024 * 1024, 8 * 1024 * 1024);
    let config = EdgeConfig {
        memory_bytes: memory_budget,
        memory_max_object_bytes: 1024 * 1024,
        disk_dir: Some(cache_dir.path().to_owned()),
        disk_bytes: disk_budget,
        ..edge_config(vec![upstream.url()])
    };
    let edge = TestEdge::start(config, Arc::new(Unsigned), None).await?;
    for round in 0..2 {
        for (i, (path, body)) in entries.iter().enumerate() {
            let reply = get(&edge.url(&format!("/{path}")), &[]).await?;
            assert!(reply.status == StatusCode::OK && reply.body == *body, "{path}");
            if i % 10 == 0 {
                let memory = metric(&edge, "marquee_edge_tier_bytes{tier=\"memory\"}").await?;
                let disk = metric(&edge, "marquee_edge_tier_bytes{tier=\"disk\"}").await?;
                assert!(memory <= memory_budget as f64, "round {round}: memory {memory}");
                assert!(disk <= disk_budget as f64, "round {round}: disk {disk}");
            }
        }
    }
    let on_disk: u64 = walk(cache_dir.path())?.iter().sum();
    assert!(on_disk <= disk_budget, "files on disk: {on_disk}");
    assert!(metric(&edge, "marquee_edge_evictions_total{tier=\"disk\"}").await? > 0.0);
    edge.stop().await
}

fn walk(dir: &std::path::Path) -> Result<Vec<u64>> {
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sizes.extend(walk(&entry.path())?);
        } else {
            sizes.push(entry.metadata()?.len());
        }
    }
    Ok(sizes)
}

const PURGE_TOKEN: &str = "purge-secret-0123456789";

/// An unsigned edge over `upstream` with a disk tier in `cache_dir` and the purge API on ([`PURGE_TOKEN`]).
async fn edge_with_purge_api(upstream: &CountingUpstream, cache_dir: &std::path::Path) -> Result<TestEdge> {
    let config = EdgeConfig {
        disk_dir: Some(cache_dir.to_owned()),
        purge_token: Some(PURGE_TOKEN.to_owned()),
        ..edge_config(vec![upstream.url()])
    };
    TestEdge::start(config, Arc::new(Unsigned), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_from_memory_and_disk_and_needs_the_token() -> Result<()> {
    let cache_dir = tempfile::TempDir::new()?;
    let other = "other/video_720p/seg_00001.m4s";
    let upstream = CountingUpstream::start(
        objects(&[
            (SEGMENT, pattern(3000, 6), "public, max-age=3600"),
            ("film/master.m3u8", Bytes::from_static(b"#EXTM3U\n"), "public, max-age=3600"),
            (other, pattern(3000, 7), "public, max-age=3600"),
        ]),
        false,
    )
    .await?;
    let token = PURGE_TOKEN;
    let edge = edge_with_purge_api(&upstream, cache_dir.path()).await?;
    for path in [SEGMENT, "film/master.m3u8", other] {
        assert_eq!(get(&edge.url(&format!("/{path}")), &[]).await?.status, StatusCode::OK);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&edge, "marquee_edge_tier_entries{tier=\"disk\"}").await? < 3.0 {
        ensure!(Instant::now() < deadline, "never written to disk");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = support::client();
    let purge = |target: &str| edge.url(&format!("{}?target={target}", marquee_edge_cache::PURGE_PATH));
    let bearer = format!("Bearer {token}");
    let denied = support::request(&client, Method::POST, &purge("film/"), &[("authorization", "Bearer wrong")]).await?;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let not_post = support::request(&client, Method::GET, &purge("film/"), &[("authorization", &bearer)]).await?;
    assert_eq!(not_post.status, StatusCode::METHOD_NOT_ALLOWED);
    let bad = support::request(&client, Method::POST, &purge("../x"), &[("authorization", &bearer)]).await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let purged = support::request(&client, Method::POST, &purge("film/"), &[("authorization", &bearer)]).await?;
    assert_eq!(purged.status, StatusCode::OK);
    let report = String::from_utf8(purged.body.to_vec())?;
    assert!(report.contains("\"disk\":2"), "{report}");
    // Purged: fetched again. Not purged: still a hit.
    assert_eq!(get(&edge.url(&format!("/{SEGMENT}")), &[]).await?.header("x-cache"), "MISS");
    assert_eq!(upstream.hits(SEGMENT), 2);
    assert_eq!(get(&edge.url(&format!("/{other}")), &[]).await?.header("x-cache"), "HIT");
    let one = support::request(&client, Method::POST, &purge(other), &[("authorization", &bearer)]).await?;
    assert!(String::from_utf8(one.body.to_vec())?.contains("\"disk\":1"));
    assert_eq!(get(&edge.url(&format!("/{other}")), &[]).await?.header("x-cache"), "MISS");
    edge.stop().await
}

/// GETs `url` until the answer is not a fresh copy (its lifetime ran out), and returns that answer. The
/// answers before it are fresh hits (or joined the fill that stored the copy), which change nothing.
async fn first_answer_after_expiry(url: &str) -> Result<support::Reply> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = get(url, &[]).await?;
        if !matches!(reply.header("x-cache"), "HIT" | "COALESCED") {
            return Ok(reply);
        }
        ensure!(Instant::now() < deadline, "still fresh 10 s after a one-second lifetime");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/metrics` until no fill is in flight: every object fetched so far is in the tiers (or refused).
async fn wait_for_fills_to_end(edge: &TestEdge) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(edge, "marquee_edge_fills_in_flight").await? > 0.0 {
        ensure!(Instant::now() < deadline, "a fill never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Polls `/metrics` until `series` reaches `at_least`: the edge's own report that it reached a state.
async fn wait_for_metric(edge: &TestEdge, series: &str, at_least: f64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(edge, series).await? < at_least {
        ensure!(Instant::now() < deadline, "{series} never reached {at_least}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_during_a_fill_keeps_the_filled_object_out_of_the_tiers() -> Result<()> {
    let cache_dir = tempfile::TempDir::new()?;
    let body = pattern(200_000, 3);
    let upstream = CountingUpstream::start(objects(&[(SEGMENT, body.clone(), "public, max-age=3600")]), true).await?;
    let token = PURGE_TOKEN;
    let edge = edge_with_purge_api(&upstream, cache_dir.path()).await?;
    let url = edge.url(&format!("/{SEGMENT}"));
    let before = tokio::spawn({
        let url = url.clone();
        async move { get(&url, &[]).await }
    });
    // The upstream holds the body back after its first KiB: the fill is in flight until released.
    wait_for_metric(&edge, "marquee_edge_fills_in_flight", 1.0).await?;
    let purge = edge.url(&format!("{}?target=film/", marquee_edge_cache::PURGE_PATH));
    let bearer = format!("Bearer {token}");
    let purged = support::request(&support::client(), Method::POST, &purge, &[("authorization", &bearer)]).await?;
    assert_eq!(purged.status, StatusCode::OK);
    upstream.release();
    let before = before.await??;
    assert_eq!((before.status, &before.body), (StatusCode::OK, &body), "the request made before the purge is served");
    wait_for_fills_to_end(&edge).await?;
    let after = get(&url, &[]).await?;
    assert_eq!(after.header("x-cache"), "MISS", "the purged fill left nothing in memory or on disk");
    assert_eq!((after.body, upstream.hits(SEGMENT)), (body, 2));
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_wait_for_room_in_the_fill_budget() -> Result<()> {
    let (first, second) = ("film/video_720p/seg_00001.m4s", "film/video_720p/seg_00002.m4s");
    let (one, two) = (pattern(256 * 1024, 1), pattern(256 * 1024, 2));
    let upstream = CountingUpstream::start(
        objects(&[(first, one.clone(), "public, max-age=3600"), (second, two.clone(), "public, max-age=3600")]),
        true,
    )
    .await?;
    let fill_budget = 300 * 1024;
    let config = EdgeConfig {
        memory_bytes: 4 * 1024 * 1024,
        memory_max_object_bytes: 1024 * 1024,
        fill_memory_bytes: Some(fill_budget),
        ..edge_config(vec![upstream.url()])
    };
    let edge = TestEdge::start(config, Arc::new(Unsigned), None).await?;
    assert_eq!(metric(&edge, "marquee_edge_fill_budget_bytes").await?, fill_budget as f64);
    let fetch = |path: &str| {
        let url = edge.url(&format!("/{path}"));
        tokio::spawn(async move { get(&url, &[]).await })
    };
    let first_reply = fetch(first);
    wait_for_metric(&edge, "marquee_edge_fill_reserved_bytes", (256 * 1024) as f64).await?;
    let second_reply = fetch(second);
    // Both fetches have their answers' heads; the second waits for room before it holds any body.
    wait_for_metric(&edge, "marquee_edge_fills_in_flight", 2.0).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.hits(second) == 0 {
        ensure!(Instant::now() < deadline, "the second fill never asked the upstream");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The waiting fill may already have been handed the 44 KiB left over, never the whole of its 256 KiB.
    let reserved = metric(&edge, "marquee_edge_fill_reserved_bytes").await?;
    assert!(reserved <= fill_budget as f64, "reserved {reserved} of {fill_budget}");
    assert!(!second_reply.is_finished(), "the second miss waits for the first to give its room back");
    upstream.release();
    let (first_reply, second_reply) = (first_reply.await??, second_reply.await??);
    assert_eq!((first_reply.status, first_reply.body), (StatusCode::OK, one));
    assert_eq!((second_reply.status, second_reply.body), (StatusCode::OK, two));
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&edge, "marquee_edge_fill_reserved_bytes").await? > 0.0 {
        ensure!(Instant::now() < deadline, "reservations were not given back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_query_parameters_make_their_own_copies_and_an_object_purge_takes_them_all() -> Result<()> {
    let cache_dir = tempfile::TempDir::new()?;
    let manifest = "film/master.m3u8";
    let upstream = CountingUpstream::start(
        objects(&[(manifest, Bytes::from_static(b"#EXTM3U\n"), "public, max-age=3600")]),
        false,
    )
    .await?;
    let config = EdgeConfig {
        disk_dir: Some(cache_dir.path().to_owned()),
        purge_token: Some(PURGE_TOKEN.to_owned()),
        cache_query_params: vec!["v".to_owned()],
        ..edge_config(vec![upstream.url()])
    };
    let edge = TestEdge::start(config, Arc::new(Unsigned), None).await?;
    let cache_of = |query: &'static str| {
        let url = edge.url(&format!("/{manifest}{query}"));
        async move { anyhow::Ok(get(&url, &[]).await?.header("x-cache").to_owned()) }
    };
    assert_eq!(cache_of("?v=1&utm=a").await?, "MISS");
    wait_for_fills_to_end(&edge).await?;
    assert_eq!(cache_of("?utm=b&v=1").await?, "HIT", "other parameters are not part of the key");
    assert_eq!(cache_of("?v=2").await?, "MISS", "an allowed one is");
    assert_eq!(cache_of("").await?, "MISS");
    assert_eq!(upstream.hits(manifest), 3);
    wait_for_metric(&edge, "marquee_edge_tier_entries{tier=\"disk\"}", 3.0).await?;

    let purge = edge.url(&format!("{}?target={manifest}", marquee_edge_cache::PURGE_PATH));
    let bearer = format!("Bearer {PURGE_TOKEN}");
    let purged = support::request(&support::client(), Method::POST, &purge, &[("authorization", &bearer)]).await?;
    let report = String::from_utf8(purged.body.to_vec())?;
    assert!(report.contains("\"memory\":3") && report.contains("\"disk\":3"), "{report}");
    assert_eq!(cache_of("?v=2").await?, "MISS", "the variants went with the object");
    assert_eq!(upstream.hits(manifest), 4);
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_miss_prefetches_the_next_ones() -> Result<()> {
    let entries: Vec<(String, Bytes)> =
        (1..=4).map(|i| (format!("film/video_720p/seg_{i:05}.m4s"), pattern(2000, i as u8))).collect();
    let served = entries
        .iter()
        .map(|(path, body)| (path.clone(), Served { body: body.clone(), cache_control: "public, max-age=3600" }))
        .collect();
    let upstream = CountingUpstream::start(served, false).await?;
    let config = EdgeConfig { prefetch_segments: 2, ..edge_config(vec![upstream.url()]) };
    let edge = TestEdge::start(config, Arc::new(Unsigned), None).await?;
    assert_eq!(get(&edge.url("/film/video_720p/seg_00001.m4s"), &[]).await?.status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&edge, "marquee_edge_fills_in_flight").await? > 0.0
        || upstream.hits("film/video_720p/seg_00003.m4s") == 0
    {
        ensure!(Instant::now() < deadline, "the prefetches never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(&edge, "marquee_edge_prefetches_total").await?, 2.0);
    for (i, (path, body)) in entries.iter().enumerate().skip(1).take(2) {
        let reply = get(&edge.url(&format!("/{path}")), &[]).await?;
        assert_eq!(reply.header("x-cache"), "HIT", "segment {}", i + 1);
        assert!(reply.body == *body);
    }
    assert_eq!(upstream.hits("film/video_720p/seg_00004.m4s"), 0, "only two ahead");
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_serves_the_old_copy_and_refreshes_once() -> Result<()> {
    let upstream = CountingUpstream::start(
        objects(&[(SEGMENT, pattern(3000, 8), "public, max-age=1, stale-while-revalidate=600")]),
        false,
    )
    .await?;
    let edge = TestEdge::start(edge_config(vec![upstream.url()]), Arc::new(Unsigned), None).await?;
    let url = edge.url(&format!("/{SEGMENT}"));
    assert_eq!(get(&url, &[]).await?.header("x-cache"), "MISS");
    // Several requests at once, repeated until the one-second lifetime has run out: while stale, the old copy
    // is answered at once (or, once the background refresh has landed, the new one); never a wait on the
    // upstream, and one refresh for all of them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let replies = loop {
        let replies = futures_util::future::join_all((0..10).map(|_| get(&url, &[]))).await;
        let replies = replies.into_iter().collect::<Result<Vec<_>>>()?;
        if replies.iter().any(|reply| !matches!(reply.header("x-cache"), "HIT" | "COALESCED")) {
            break replies;
        }
        ensure!(Instant::now() < deadline, "still fresh 10 s after a one-second lifetime");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stale = 0;
    for reply in replies {
        assert_eq!(reply.status, StatusCode::OK);
        assert!(matches!(reply.header("x-cache"), "STALE" | "HIT"), "{}", reply.header("x-cache"));
        stale += usize::from(reply.header("x-cache") == "STALE");
    }
    assert!(stale >= 1, "the first request after expiry gets the stale copy");
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.hits(SEGMENT) < 2 || metric(&edge, "marquee_edge_fills_in_flight").await? > 0.0 {
        ensure!(Instant::now() < deadline, "the background refresh never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.hits(SEGMENT), 2, "one refresh for all the stale answers");
    assert_eq!(get(&url, &[]).await?.header("x-cache"), "HIT", "the refreshed copy is fresh");
    edge.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_copy_is_revalidated_upstream_without_its_body() -> Result<()> {
    let cache_dir = tempfile::TempDir::new()?;
    let body = pattern(100_000, 9);
    let upstream = CountingUpstream::start(objects(&[(SEGMENT, body.clone(), "public, max-age=1")]), false).await?;
    let config = EdgeConfig { disk_dir: Some(cache_dir.path().to_owned()), ..edge_config(vec![upstream.url()]) };
    let edge = TestEdge::start(config, Arc::new(Unsigned), None).await?;
    let url = edge.url(&format!("/{SEGMENT}"));
    assert_eq!(get(&url, &[]).await?.header("x-cache"), "MISS");
    wait_for_fills_to_end(&edge).await?;
    // Once the one-second lifetime has run out (no stale-while-revalidate: that request waits for the answer).
    let renewed = first_answer_after_expiry(&url).await?;
    assert_eq!((renewed.status, renewed.header("x-cache")), (StatusCode::OK, "MISS"));
    assert_eq!(renewed.body, body, "the kept body, renewed by the 304");
    assert_eq!(renewed.header("cache-control"), "public, max-age=1");
    assert_eq!((upstream.hits(SEGMENT), upstream.hits(&format!("304 {SEGMENT}"))), (2, 1));
    assert_eq!(metric(&edge, "marquee_edge_revalidations_total{result=\"not_modified\"}").await?, 1.0);
    wait_for_fills_to_end(&edge).await?;
    let fresh = get(&url, &[]).await?;
    assert_eq!((fresh.header("x-cache"), &fresh.body), ("HIT", &body));
    edge.stop().await
}

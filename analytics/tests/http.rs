//! The analytics satellite over HTTP, on SQLite and PostgreSQL: beacons validated event by event, written by
//! the batch writer and aggregated per asset and title, in `/metrics`, who may read them, backpressure, the
//! flush on shutdown, and recommendations from a small watch log.

use std::sync::Arc;
use std::time::Duration;

use marquee_analytics::recommend::RecommendSettings;
use marquee_analytics::{Analytics, AnalyticsSettings, TitleFeatures, TitleFeaturesSource};
use marquee_control_api::auth::{now_ms, Role};
use marquee_control_api::on_both_engines;
use marquee_control_api::testing::*;
use marquee_control_api::{Database, Satellites};
use serde_json::{json, Value};

/// Settings that write and rebuild quickly, so tests wait milliseconds for them.
fn quick() -> AnalyticsSettings {
    let defaults = AnalyticsSettings::default();
    AnalyticsSettings {
        flush_every: Duration::from_millis(20),
        recommendations: RecommendSettings { rebuild_every: Duration::from_millis(100), ..defaults.recommendations },
        ..defaults
    }
}

async fn start(engine: Engine, analytics: Analytics) -> TestApi {
    TestApi::start_with_satellites(engine, Satellites::new().with(analytics)).await
}

/// Asks `url` (as `token`) until `done` holds for the JSON answer, for ten seconds at most.
async fn poll(url: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = call("GET", url, token, None).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let value = answer.json();
        if done(&value) {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "still not there: {value}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn post_beacons(api: &TestApi, token: Option<&str>, events: Value) -> Answer {
    let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    send("POST", &api.url("/v1/beacons"), &headers, body).await
}

/// The events of one played view of `asset` as `title`, `start` ms ago: 800 ms startup, 10 s played at
/// 3 Mb/s, a 2 s stall, 2 s more, an error, the end of a 12 s film.
fn played_view(view: &str, asset: &str, title: &str, start: i64) -> Vec<Value> {
    let base = json!({"view_id": view, "asset_id": asset, "title_id": title, "viewer": "device-1"});
    let event = |kind: &str, at: i64, extra: Value| {
        let mut event = base.clone();
        event["type"] = kind.into();
        event["at"] = (start + at).into();
        for (key, value) in extra.as_object().unwrap() {
            event[key] = value.clone();
        }
        event
    };
    vec![
        event("view_start", 0, json!({})),
        event("first_frame", 800, json!({"position_ms": 0, "bitrate_bps": 3_000_000, "rendition": "720p"})),
        event("heartbeat", 10_800, json!({"position_ms": 10_000})),
        event("rebuffer_start", 10_800, json!({"position_ms": 10_000})),
        event("rebuffer_end", 12_800, json!({"position_ms": 10_000})),
        event("error", 13_000, json!({"error_code": "segment_404"})),
        event("view_end", 14_800, json!({"position_ms": 12_000, "duration_ms": 12_000})),
    ]
}

/// The value of the sample of `name` whose labels include every one of `labels`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let matches = (series == name || series.starts_with(&format!("{name}{{")))
            && labels.iter().all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")));
        matches.then(|| value.parse().ok()).flatten()
    })
}

on_both_engines!(beacons_are_checked_written_aggregated_and_guarded, |engine: Engine| async move {
    let api = start(engine, Analytics::new(quick())).await;
    let owner = api.signed_in("cora@example.com", Role::Creator).await;
    let other = api.signed_in("olga@example.com", Role::Creator).await;
    let viewer = api.signed_in("vic@example.com", Role::Viewer).await;
    let admin = api.signed_in("ada@example.com", Role::Admin).await;
    let asset = api.uploaded(&owner).await;
    let now = now_ms();
    let start = now - 60_000;

    // A played view, with garbage between its events.
    let mut events = played_view("view-1", &asset, "film-1", start);
    events.insert(2, json!(42));
    events.insert(3, json!({"view_id": "view-1", "type": "teleport", "at": now, "asset_id": asset}));
    events.push(json!({"view_id": "view-1", "type": "heartbeat", "at": now, "asset_id": asset, "position_ms": -5}));
    events
        .push(json!({"view_id": "view-1", "type": "rendition_change", "at": now, "asset_id": asset, "bitrate_bps": 0}));
    events.push(json!({"view_id": "view-1", "type": "view_start", "at": now + 3_600_000, "asset_id": asset}));
    events.push(json!({"view_id": "x".repeat(65), "type": "view_start", "at": now, "asset_id": asset}));
    events.push(json!({"view_id": "view-1", "type": "view_start", "at": now, "asset_id": asset, "colour": "red"}));
    let answer = post_beacons(&api, None, json!(events)).await;
    assert_eq!(answer.status, 202, "{}", answer.text());
    let receipt = answer.json();
    assert_eq!(receipt["accepted"], 7, "{receipt}");
    let rejected: Vec<(u64, &str)> = receipt["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "invalid_event"),
            (3, "unknown_type"),
            (9, "absurd_position"),
            (10, "absurd_bitrate"),
            (11, "in_the_future"),
            (12, "invalid_id"),
            (13, "invalid_event")
        ]
    );
    assert!(receipt["rejected"][0]["message"].as_str().unwrap().contains("object"), "{receipt}");

    // The batch writer stores them; the owner sees the view's aggregates.
    let url = api.url(&format!("/v1/analytics/assets/{asset}"));
    let report =
        poll(&url, &owner, |r| r["views"] == 1 && r["exits_before_start"] == 0 && r["error_rate"] == 1.0).await;
    assert_eq!(report["id"], asset.as_str());
    assert_eq!(report["unique_viewers"], 1);
    assert_eq!(report["watch_time_ms"], 12_000);
    assert_eq!(report["average_view_duration_ms"], 12_000);
    assert_eq!(
        (report["startup_time_p50_ms"].as_i64(), report["startup_time_p95_ms"].as_i64()),
        (Some(800), Some(800))
    );
    assert_eq!(report["rebuffer_percentage"].as_f64().unwrap(), 100.0 * 2_000.0 / 14_000.0);
    assert_eq!(report["average_bitrate_bps"], 3_000_000);

    // A second view from the same device that never showed a frame.
    let quit = json!([
        {"view_id": "view-2", "type": "view_start", "at": now - 5_000, "asset_id": asset, "viewer": "device-1"},
        {"view_id": "view-2", "type": "view_end", "at": now - 1_000, "asset_id": asset, "viewer": "device-1"},
    ]);
    assert_eq!(post_beacons(&api, Some(&viewer), quit.clone()).await.status, 202);
    let report = poll(&url, &owner, |r| r["views"] == 2).await;
    // Signed in, the viewer counts as their user, not as the device.
    assert_eq!((report["unique_viewers"].as_u64(), report["exits_before_start"].as_u64()), (Some(2), Some(1)));
    assert_eq!(report["error_rate"], 0.5);

    // A time range that leaves the first view out.
    let later = call("GET", &format!("{url}?from={}&to={}", now - 10_000, now + 1), &owner, None).await;
    assert_eq!((later.status, later.json()["views"].as_u64()), (200, Some(1)));

    // Who may read: the owner and admins; another creator is not told the asset exists; viewers may not.
    assert_eq!(call("GET", &url, &admin, None).await.status, 200);
    assert_eq!(call("GET", &url, &other, None).await.status, 404);
    assert_eq!(call("GET", &url, &viewer, None).await.status, 403);
    assert_eq!(send("GET", &url, &[], Vec::new()).await.status, 401);
    let title_url = api.url("/v1/analytics/titles/film-1");
    assert_eq!(call("GET", &title_url, &admin, None).await.json()["views"], 1);
    assert_eq!(call("GET", &title_url, &owner, None).await.json()["views"], 1);
    assert_eq!(call("GET", &title_url, &other, None).await.json()["views"], 0, "not their asset");
    assert_eq!(call("GET", &title_url, &viewer, None).await.status, 403);

    // Bad input answers 4xx in the API's error format.
    for bad in
        [format!("{url}?from=10&to=5"), format!("{url}?from=-1"), format!("{url}?colour=red"), format!("{url}?to=soon")]
    {
        let answer = call("GET", &bad, &owner, None).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text());
        assert!(answer.json()["error"]["code"].is_string());
    }
    let bad_title = call("GET", &api.url("/v1/analytics/titles/a%20b"), &admin, None).await;
    assert_eq!(bad_title.status, 400);
    let headers = [("content-type", "application/json")];
    for body in [&b"not json"[..], br#"{"events": 5}"#, br#"{"events": [], "more": 1}"#, br#"[]"#] {
        let answer = send("POST", &api.url("/v1/beacons"), &headers, body.to_vec()).await;
        assert_eq!(answer.status, 400, "{}", answer.text());
    }
    let too_many: Vec<Value> = (0..501).map(|_| json!({})).collect();
    assert_eq!(post_beacons(&api, Some(&viewer), json!(too_many)).await.status, 413);
    let empty = post_beacons(&api, None, json!([])).await;
    assert_eq!((empty.status, empty.json()["accepted"].as_u64()), (202, Some(0)));

    // Another viewer's events cannot be slipped into a view.
    let forged = json!([{"view_id": "view-1", "type": "error", "at": now, "asset_id": asset, "error_code": "x", "viewer": "device-2"}]);
    assert_eq!(post_beacons(&api, None, forged).await.status, 202);

    // The same, as bounded Prometheus metrics (counted right after each batch is committed).
    poll_metric(&api, "marquee_analytics_views_total", &[("outcome", "exited_before_start")], 1.0).await;
    let metrics = get(&api.url("/metrics")).await.text();
    let metrics_text = metrics.clone();
    let value =
        |name: &str, labels: &[(&str, &str)]| metric(&metrics_text, name, labels).unwrap_or_else(|| panic!("{name}"));
    assert!(value("marquee_analytics_beacons_total", &[("type", "view_start"), ("outcome", "accepted")]) >= 2.0);
    assert!(value("marquee_analytics_beacons_total", &[("type", "invalid"), ("outcome", "rejected")]) >= 2.0);
    assert_eq!(value("marquee_analytics_beacons_rejected_total", &[("reason", "absurd_bitrate")]), 1.0);
    assert_eq!(value("marquee_analytics_video_startup_seconds_count", &[]), 1.0);
    assert_eq!(value("marquee_analytics_video_startup_seconds_sum", &[]), 0.8);
    assert_eq!(value("marquee_analytics_rebuffer_seconds_total", &[]), 2.0);
    assert_eq!(value("marquee_analytics_watch_seconds_total", &[]), 12.0);
    // 12 s at 3 Mb/s: the average bitrate is one over the other.
    assert_eq!(value("marquee_analytics_bitrate_known_seconds_total", &[]), 12.0);
    assert_eq!(value("marquee_analytics_played_bits_total", &[]), 36_000_000.0);
    assert_eq!(value("marquee_analytics_views_total", &[("outcome", "exited_before_start")]), 1.0);
    assert!(!metrics.contains(&asset) && !metrics.contains("film-1"), "no asset or title labels");
    // The forged event is dropped by the writer, not stored.
    let dropped = poll_metric(&api, "marquee_analytics_beacons_dropped_total", &[("cause", "foreign_view")], 1.0).await;
    assert_eq!(dropped, 1.0);
    let report = call("GET", &url, &owner, None).await.json();
    assert_eq!(report["error_rate"], 0.5, "{report}");
    api.stop().await;
});

async fn poll_metric(api: &TestApi, name: &str, labels: &[(&str, &str)], at_least: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = get(&api.url("/metrics")).await.text();
        if let Some(value) = metric(&text, name, labels).filter(|v| *v >= at_least) {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} is not {at_least} yet");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

on_both_engines!(a_full_queue_answers_503_and_shutdown_writes_what_is_queued, |engine: Engine| async move {
    // A queue of 3 beacons, and a writer that only writes when it stops (its batch never fills, its timer
    // never fires).
    // Three anonymous requests per address, never refilled within the test.
    let settings = AnalyticsSettings {
        queue_beacons: 3,
        batch_beacons: 1_000,
        flush_every: Duration::from_secs(3_600),
        anonymous_burst: 3,
        anonymous_refill: Duration::from_secs(3_600),
        ..quick()
    };
    let api = start(engine, Analytics::new(settings)).await;
    let now = now_ms();
    let kept = json!([
        {"view_id": "kept", "type": "view_start", "at": now, "asset_id": "a1"},
        {"view_id": "kept", "type": "first_frame", "at": now + 500, "asset_id": "a1"},
    ]);
    assert_eq!(post_beacons(&api, None, kept).await.status, 202);
    // More beacons than the queue holds cannot be queued.
    let refused = json!([
        {"view_id": "refused", "type": "view_start", "at": now, "asset_id": "a1"},
        {"view_id": "refused", "type": "first_frame", "at": now + 500, "asset_id": "a1"},
        {"view_id": "refused", "type": "heartbeat", "at": now + 1500, "asset_id": "a1", "position_ms": 1000},
        {"view_id": "refused", "type": "view_end", "at": now + 2500, "asset_id": "a1", "position_ms": 2000},
    ]);
    let full = post_beacons(&api, None, refused).await;
    assert_eq!((full.status, full.json()["error"]["code"].as_str()), (503, Some("busy")));
    assert_eq!(full.headers["retry-after"], "1");
    let metrics = get(&api.url("/metrics")).await.text();
    assert_eq!(
        metric(&metrics, "marquee_analytics_beacons_total", &[("type", "view_start"), ("outcome", "refused")]),
        Some(1.0)
    );

    // The third anonymous request is the last this address may send; a signed-in player is not limited.
    assert_eq!(post_beacons(&api, None, json!([])).await.status, 202);
    let limited = post_beacons(&api, None, json!([])).await;
    assert_eq!((limited.status, limited.json()["error"]["code"].as_str()), (429, Some("rate_limited")));
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let player = api.signed_in("pia@example.com", Role::Viewer).await;
    assert_eq!(post_beacons(&api, Some(&player), json!([])).await.status, 202);

    let database = api.stop().await;
    let db = Database::connect(&database.url).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT view_id, startup_ms FROM analytics_views").fetch_all(db.pool()).await.unwrap();
    assert_eq!(rows, [("kept".to_string(), 500)]);
    let (events,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM analytics_events").fetch_one(db.pool()).await.unwrap();
    assert_eq!(events, 2);

    // Retention deletes raw events by when they were stored, and keeps the views' summaries.
    let deleted = marquee_analytics::store::delete_events_before(&db, now - 60_000).await.unwrap();
    assert_eq!(deleted, 0, "stored just now");
    assert_eq!(marquee_analytics::store::delete_events_before(&db, now_ms() + 1).await.unwrap(), 2);
    let (views,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM analytics_views").fetch_one(db.pool()).await.unwrap();
    assert_eq!(views, 1);
});

/// Genres for a title nobody has watched yet.
#[derive(Debug)]
struct Catalog;

#[async_trait::async_trait]
impl TitleFeaturesSource for Catalog {
    async fn title_features(&self) -> Result<Vec<TitleFeatures>, String> {
        let noir =
            |id: &str| TitleFeatures { title_id: id.into(), genres: vec!["noir".into()], people: vec!["p1".into()] };
        Ok(vec![noir("a"), noir("new-noir")])
    }
}

on_both_engines!(recommendations_come_from_what_viewers_watched, |engine: Engine| async move {
    let api = start(engine, Analytics::new(quick()).with_title_features(Arc::new(Catalog))).await;
    let now = now_ms();
    // Four viewers watch a, b and c; two watch x and y; all six watch hit.
    let mut tokens = Vec::new();
    for v in 0..6 {
        tokens.push(api.signed_in(&format!("viewer{v}@example.com"), Role::Viewer).await);
    }
    let watched = |viewer: usize, title: &str, at: i64| {
        let view = format!("v{viewer}-{title}");
        json!([
            {"view_id": view, "type": "view_start", "at": at, "asset_id": "asset-1", "title_id": title},
            {"view_id": view, "type": "first_frame", "at": at + 100, "asset_id": "asset-1", "title_id": title, "position_ms": 0},
            {"view_id": view, "type": "view_end", "at": at + 60_000, "asset_id": "asset-1", "title_id": title,
             "position_ms": 60_000, "duration_ms": 60_000},
        ])
    };
    for (v, token) in tokens.iter().enumerate() {
        let titles: &[&str] = if v < 4 { &["a", "b", "c", "hit"] } else { &["x", "y", "hit"] };
        for (i, title) in titles.iter().enumerate() {
            let answer = post_beacons(&api, Some(token), watched(v, title, now - 600_000 + 70_000 * i as i64)).await;
            assert_eq!(answer.json()["accepted"], 3, "{}", answer.text());
        }
    }
    let anyone = "";
    let similar = poll(&api.url("/v1/titles/a/similar?limit=3"), anyone, |r| {
        let ids: Vec<&str> = r["items"].as_array().unwrap().iter().filter_map(|i| i["title_id"].as_str()).collect();
        ids.len() == 3 && ids[..2].contains(&"b") && ids[..2].contains(&"c")
    })
    .await;
    assert_eq!(similar["items"][0]["reason"], "co_viewing");

    // A new title nobody watched is like a by its genre and people.
    let cold = call("GET", &api.url("/v1/titles/new-noir/similar?limit=1"), anyone, None).await.json();
    assert_eq!(
        (cold["items"][0]["title_id"].as_str(), cold["items"][0]["reason"].as_str()),
        (Some("a"), Some("content"))
    );

    // A new viewer who finished x is offered y first, and not x again.
    let nina = api.signed_in("nina@example.com", Role::Viewer).await;
    assert_eq!(post_beacons(&api, Some(&nina), watched(9, "x", now - 120_000)).await.status, 202);
    let mine = poll(&api.url("/v1/me/recommendations?limit=5"), &nina, |r| r["items"][0]["title_id"] == "y").await;
    assert_eq!(mine["items"][0]["because"], "x");
    assert!(mine["items"].as_array().unwrap().iter().all(|i| i["title_id"] != "x"), "{mine}");
    // Someone who watched nothing gets the most watched.
    let fresh = api.signed_in("fred@example.com", Role::Viewer).await;
    let popular = call("GET", &api.url("/v1/me/recommendations?limit=1"), &fresh, None).await.json();
    assert_eq!(
        (popular["items"][0]["title_id"].as_str(), popular["items"][0]["reason"].as_str()),
        (Some("hit"), Some("popular"))
    );

    // The catalog's "most watched" row: distinct viewers per title over a span.
    let most = marquee_analytics::MostWatched::new(api.db.clone());
    let top = most.most_watched(now - 3_600_000, now_ms() + 1, 2).await;
    assert_eq!(top[0], "hit");
    assert_eq!(top.len(), 2);
    assert!(most.most_watched(now + 3_600_000, now + 7_200_000, 5).await.is_empty(), "nothing watched then");

    assert_eq!(send("GET", &api.url("/v1/me/recommendations"), &[], Vec::new()).await.status, 401);

    // Continue watching: the latest view of each asset nina left unfinished, newest first, where she was.
    let stopped = |view: &str, asset: &str, title: &str, at: i64, position: i64| {
        json!([
            {"view_id": view, "type": "view_start", "at": at, "asset_id": asset, "title_id": title},
            {"view_id": view, "type": "first_frame", "at": at + 100, "asset_id": asset, "title_id": title, "position_ms": 0},
            {"view_id": view, "type": "heartbeat", "at": at + position, "asset_id": asset, "title_id": title,
             "position_ms": position, "duration_ms": 600_000},
        ])
    };
    for batch in [
        stopped("n-old-b", "asset-b", "b", now - 90_000, 10_000),
        stopped("n-a", "asset-a", "a", now - 60_000, 42_000),
        stopped("n-new-b", "asset-b", "b", now - 30_000, 20_000),
    ] {
        assert_eq!(post_beacons(&api, Some(&nina), batch).await.status, 202);
    }
    // Each batch is written on its own: wait for the last one (asset-b's newer view) to be in.
    let resume = poll(&api.url("/v1/me/continue-watching"), &nina, |r| {
        r["items"].as_array().unwrap().len() == 2 && r["items"][0]["position_seconds"] == 20.0
    })
    .await;
    let items = resume["items"].as_array().unwrap();
    assert_eq!((items[0]["asset_id"].as_str(), items[0]["title_id"].as_str()), (Some("asset-b"), Some("b")));
    assert_eq!(items[0]["position_seconds"], 20.0, "the latest view of asset-b, not the older one");
    assert_eq!(items[0]["duration_seconds"], 600.0);
    assert_eq!((items[1]["asset_id"].as_str(), items[1]["position_seconds"].as_f64()), (Some("asset-a"), Some(42.0)));
    assert!(items.iter().all(|i| i["asset_id"] != "asset-1"), "what she finished is left out: {resume}");
    let other = call("GET", &api.url("/v1/me/continue-watching"), &fresh, None).await.json();
    assert_eq!(other["items"], json!([]), "another viewer's list is their own");
    assert_eq!(send("GET", &api.url("/v1/me/continue-watching"), &[], Vec::new()).await.status, 401);
    assert_eq!(call("GET", &api.url("/v1/titles/a/similar?limit=0"), anyone, None).await.status, 400);
    assert_eq!(call("GET", &api.url("/v1/titles/a/similar?limit=x"), anyone, None).await.status, 400);
    // The paths are in the OpenAPI document.
    let document = get(&api.url("/openapi.json")).await.json();
    for path in [
        "/v1/beacons",
        "/v1/analytics/assets/{id}",
        "/v1/analytics/titles/{id}",
        "/v1/titles/{id}/similar",
        "/v1/me/recommendations",
        "/v1/me/continue-watching",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    api.stop().await;
});

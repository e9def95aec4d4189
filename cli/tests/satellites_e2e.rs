//! Issue #11 end to end, over HTTP on SQLite and PostgreSQL, with the satellites mounted and glued exactly as
//! `marquee api` mounts them (`marquee::satellites::mount_with`): an admin builds a small catalog, a viewer
//! finds it with typos, viewers are refused playback, subscribe, rent with a card that confirms later, see their rental expire and a renewal
//! fail, an order retried under one key charges once, a played view reaches the analytics and `/metrics`, and a
//! canceled subscription stops playback within one short-lived token's lifetime. One clock, the API's, moves for
//! all of it.

use std::sync::Arc;
use std::time::Duration;

use marquee::satellites::{mount_with, Parts};
use marquee_commerce::test_provider::TestProvider;
use marquee_control_api::auth::Role;
use marquee_control_api::clock::TestClock;
use marquee_control_api::on_both_engines;
use marquee_control_api::playback::{Playback, DEFAULT_PLAYBACK_TTL};
use marquee_control_api::testing::*;
use serde_json::{json, Value};

const HOUR: Duration = Duration::from_secs(3600);

/// The API with every satellite, the test provider (kept, to sign its webhooks), the API's clock (which
/// playback and every satellite read) and the keys the origin verifies playback URLs with.
struct Platform {
    api: TestApi,
    provider: Arc<TestProvider>,
    clock: TestClock,
    keys: marquee_signing::KeyRing,
}

impl Platform {
    async fn start(engine: Engine) -> Self {
        let provider = Arc::new(TestProvider::new());
        let parts = Parts { provider: provider.clone() };
        let text = marquee_signing::generate_key_file_toml("k1").unwrap();
        let keys = marquee_signing::KeyRing::from_toml("keys.toml", &text).unwrap();
        let signing = keys.clone();
        let api = TestApi::start_mounted(
            TestDatabase::new(engine),
            |_| {},
            false,
            move |app| {
                let mounted = mount_with(app, parts);
                let playback = Playback {
                    keys: signing,
                    base_url: "https://cdn.example.com".into(),
                    ttl: DEFAULT_PLAYBACK_TTL,
                    entitlements: mounted.entitlements,
                };
                (mounted.satellites, Some(playback))
            },
        )
        .await;
        let clock = api.clock.clone();
        Self { api, provider, clock, keys }
    }

    /// A request as `token` (`""`: anonymous) with more headers; the answer.
    async fn call(&self, method: &str, path: &str, token: &str, extra: &[(&str, &str)], body: Option<Value>) -> Answer {
        let auth = format!("Bearer {token}");
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if !token.is_empty() {
            headers.push(("authorization", auth.as_str()));
        }
        let bytes = match body {
            Some(value) => {
                headers.push(("content-type", "application/json"));
                serde_json::to_vec(&value).unwrap()
            }
            None => Vec::new(),
        };
        send(method, &self.api.url(path), &headers, bytes).await
    }

    /// A request that must answer `status`; its JSON (null when empty).
    async fn expect(&self, status: u16, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let answer = self.call(method, path, token, &[], body).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text());
        if answer.body.is_empty() {
            Value::Null
        } else {
            answer.json()
        }
    }

    /// Places an order under `key`; the answer.
    async fn order(&self, token: &str, key: &str, body: &Value) -> Answer {
        self.call("POST", "/v1/orders", token, &[("idempotency-key", key)], Some(body.clone())).await
    }

    /// Asks for `asset`'s playback URLs as `token`.
    async fn play(&self, token: &str, asset: &str) -> Answer {
        self.call("POST", &format!("/v1/assets/{asset}/playback"), token, &[], None).await
    }

    /// Playback must give signed URLs for `asset`, valid from now for the default lifetime, with a time to ask
    /// again before they expire; the answer.
    async fn plays(&self, token: &str, asset: &str) -> Value {
        let answer = self.play(token, asset).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let urls = answer.json();
        for field in ["hls_url", "dash_url"] {
            let url = urls[field].as_str().unwrap_or_else(|| panic!("{urls}"));
            assert!(url.starts_with("https://cdn.example.com/") && url.contains(&format!("/media/{asset}/")), "{url}");
        }
        let now = self.clock.clock().now_s();
        let (expires_at, refresh_at) = (urls["expires_at"].as_u64().unwrap(), urls["refresh_at"].as_u64().unwrap());
        assert_eq!(expires_at, now + DEFAULT_PLAYBACK_TTL.as_secs(), "{urls}");
        assert!(now < refresh_at && refresh_at < expires_at, "{urls}");
        urls
    }

    /// Whether the origin's signature check accepts `url` at `now` (Unix seconds), or why not.
    fn origin_accepts(&self, url: &str, now: u64) -> Result<(), marquee_signing::TokenError> {
        let path = url.strip_prefix("https://cdn.example.com").unwrap();
        let client = marquee_signing::ClientContext::default();
        marquee_signing::Verifier::new(self.keys.clone()).verify_token_path(path, now, client).map(|_| ())
    }

    /// Playback must be refused with 403 and `expected`.
    async fn refused(&self, token: &str, asset: &str, expected: &str) {
        let answer = self.play(token, asset).await;
        assert_eq!((answer.status, code(&answer)), (403, expected.to_owned()), "{}", answer.text());
    }

    /// The provider's signed webhook for `charge_id`, delivered.
    async fn settle(&self, charge_id: &str) -> Answer {
        let (headers, body) = self.provider.settle(charge_id, true, self.clock.now_ms());
        let mut all: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        all.push(("content-type", "application/json"));
        send("POST", &self.api.url("/v1/commerce/webhooks/test-provider"), &all, body.into_bytes()).await
    }

    /// `user`'s only subscription.
    async fn subscription(&self, token: &str) -> Value {
        let page = self.expect(200, "GET", "/v1/subscriptions", token, None).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        items[0].clone()
    }

    /// Charges the provider was asked for with `token`.
    fn charges(&self, token: &str) -> usize {
        self.provider.charges().iter().filter(|c| c.token == token).count()
    }
}

fn code(answer: &Answer) -> String {
    answer.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id: {value}")).to_owned()
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

/// Asks `path` (as `token`) until `done` holds for its JSON, for ten seconds at most.
async fn poll(platform: &Platform, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let value = platform.expect(200, "GET", path, token, None).await;
        if done(&value) {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{path} is still {value}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

on_both_engines!(a_catalog_is_built_sold_played_and_measured, |engine: Engine| async move {
    let p = Platform::start(engine).await;
    let admin = p.api.signed_in("ada@example.com", Role::Admin).await;
    let vic = p.api.signed_in("vic@example.com", Role::Viewer).await;
    let rita = p.api.signed_in("rita@example.com", Role::Viewer).await;
    let bob = p.api.signed_in("bob@example.com", Role::Viewer).await;
    let pat = p.api.signed_in("pat@example.com", Role::Viewer).await;

    // An admin builds a small catalog: a series with two seasons and an episode each, a film with credits, its
    // feature and its trailer (ready, as a worker leaves them).
    let title = |body: Value| {
        let (p, admin) = (&p, admin.clone());
        async move { p.expect(201, "POST", "/v1/titles", &admin, Some(body)).await }
    };
    let series = id(&title(json!({"kind": "series", "title": "Northern Lights", "genres": ["Drama"]})).await);
    let mut episodes = Vec::new();
    for (number, name) in [(1, "The Thaw"), (2, "Return")] {
        let season = id(&title(
            json!({"kind": "season", "title": format!("Season {number}"), "parent_id": series, "number": number}),
        )
        .await);
        let episode = id(&title(
            json!({"kind": "episode", "title": name, "parent_id": season, "number": 1, "runtime_minutes": 52}),
        )
        .await);
        episodes.push(episode);
    }
    let film = id(&title(json!({"kind": "movie", "title": "Inception", "release_year": 2010,
        "genres": ["Science Fiction"], "synopsis": "A thief who steals secrets through dreams."}))
    .await);
    let mut people = Vec::new();
    for name in ["Christopher Nolan", "Leonardo DiCaprio"] {
        people.push(id(&p.expect(201, "POST", "/v1/people", &admin, Some(json!({"name": name}))).await));
    }
    let credits = json!({"credits": [
        {"person_id": people[0], "kind": "crew", "role": "director"},
        {"person_id": people[1], "kind": "cast", "character": "Cobb"},
    ]});
    p.expect(200, "PUT", &format!("/v1/titles/{film}/credits"), &admin, Some(credits)).await;
    let feature = p.api.uploaded(&admin).await;
    let trailer = p.api.uploaded(&admin).await;
    let pilot = p.api.uploaded(&admin).await;
    for asset in [&feature, &trailer, &pilot] {
        p.api.published(asset).await;
    }
    let assets =
        json!({"assets": [{"asset_id": feature, "role": "feature"}, {"asset_id": trailer, "role": "trailer"}]});
    p.expect(200, "PUT", &format!("/v1/titles/{film}/assets"), &admin, Some(assets)).await;
    let video = json!({"assets": [{"asset_id": pilot, "role": "episode"}]});
    p.expect(200, "PUT", &format!("/v1/titles/{}/assets", episodes[0]), &admin, Some(video)).await;
    let read = p.expect(200, "GET", &format!("/v1/titles/{series}"), &vic, None).await;
    let seasons = read["seasons"].as_array().unwrap();
    assert_eq!(seasons.iter().map(|s| s["number"].as_i64().unwrap()).collect::<Vec<_>>(), vec![1, 2], "{read}");
    assert_eq!(seasons[0]["episodes"][0]["title"], "The Thaw");
    let read = p.expect(200, "GET", &format!("/v1/titles/{film}"), &vic, None).await;
    assert_eq!((read["credits"].as_array().unwrap().len(), read["assets"].as_array().unwrap().len()), (2, 2));

    // A viewer searches with typos and finds them: titles, and people by name.
    for (query, found) in [
        ("incepton", &film),
        ("nothern ligths", &series),
        ("Christopher Nollan", &people[0]),
        ("dicaprio", &people[1]),
        ("the thwa", &episodes[0]),
    ] {
        let url = format!("/v1/search?q={}", query.replace(' ', "%20"));
        let page = p.expect(200, "GET", &url, &vic, None).await;
        assert_eq!(page["items"][0]["id"].as_str(), Some(found.as_str()), "{query}: {page}");
    }
    let answer = p.call("GET", "/v1/search?q=%20%20", "", &[], None).await;
    assert_eq!((answer.status, code(&answer)), (400, "query_empty".to_owned()), "{}", answer.text());

    // Not subscribed: no playback, feature, trailer or episode alike.
    for asset in [&feature, &trailer, &pilot] {
        p.refused(&vic, asset, "not_subscribed").await;
    }

    // A plan for the whole catalog; the viewer subscribes with a card that pays at once, and plays.
    let plan = p
        .expect(
            201,
            "POST",
            "/v1/plans",
            &admin,
            Some(json!({"name": "Everything", "price": {"amount_minor": 999, "currency": "EUR"},
                "period": "month", "unlocks": {"kind": "catalog"}})),
        )
        .await;
    let subscribe = json!({"plan_id": plan["id"], "payment_token": "tok_approve"});
    let placed = p.order(&vic, "vic-1", &subscribe).await;
    assert_eq!(placed.status, 201, "{}", placed.text());
    let placed = placed.json();
    assert_eq!(placed["state"], "fulfilled");
    assert_eq!(p.subscription(&vic).await["state"], "active");
    for asset in [&feature, &trailer, &pilot] {
        p.plays(&vic, asset).await;
    }
    p.refused(&rita, &feature, "not_subscribed").await;

    // A second viewer rents the film with a card that confirms later: playback after the signed webhook.
    let offer = p
        .expect(
            201,
            "POST",
            "/v1/offers",
            &admin,
            Some(json!({"title_id": film, "kind": "rental",
                "price": {"amount_minor": 399, "currency": "EUR"}, "watch_window_hours": 48})),
        )
        .await;
    let pending = p.order(&rita, "rita-1", &json!({"offer_id": offer["id"], "payment_token": "tok_async"})).await;
    assert_eq!(pending.status, 201, "{}", pending.text());
    let pending = pending.json();
    assert_eq!(pending["state"], "pending");
    p.refused(&rita, &feature, "not_subscribed").await;
    let applied = p.settle(pending["charge_id"].as_str().unwrap()).await;
    assert_eq!((applied.status, applied.json()["status"].as_str()), (200, Some("applied")), "{}", applied.text());
    let order = p.expect(200, "GET", &format!("/v1/orders/{}", id(&pending)), &rita, None).await;
    assert_eq!(order["state"], "fulfilled");
    p.plays(&rita, &feature).await;
    p.refused(&rita, &pilot, "not_subscribed").await;

    // The clock passes the rental's window (48 hours from the first play): refused.
    p.clock.advance(47 * HOUR);
    p.plays(&rita, &feature).await;
    p.clock.advance(2 * HOUR);
    p.refused(&rita, &feature, "rental_expired").await;
    let rentals = p.expect(200, "GET", "/v1/rentals", &rita, None).await;
    assert_eq!(rentals["items"][0]["active"], false, "{rentals}");
    p.plays(&vic, &feature).await;

    // A renewal fails: past due (still playing through the grace period), then canceled.
    let placed = p.order(&bob, "bob-1", &json!({"plan_id": plan["id"], "payment_token": "tok_renewal_fails"})).await;
    assert_eq!((placed.status, placed.json()["state"].as_str()), (201, Some("fulfilled")), "{}", placed.text());
    let period_end = p.subscription(&bob).await["current_period_end"].as_i64().unwrap();
    p.clock.set(period_end);
    p.expect(200, "POST", "/v1/commerce/renewals", &admin, None).await;
    let past_due = p.subscription(&bob).await;
    assert_eq!(past_due["state"], "past_due", "{past_due}");
    p.plays(&bob, &feature).await;
    assert_eq!(p.subscription(&vic).await["state"], "active", "the good card renewed");
    let grace_until = past_due["grace_until"].as_i64().unwrap();
    assert!(grace_until > period_end, "{past_due}");
    p.clock.set(grace_until);
    p.expect(200, "POST", "/v1/commerce/renewals", &admin, None).await;
    assert_eq!(p.subscription(&bob).await["state"], "canceled");
    p.refused(&bob, &feature, "not_subscribed").await;

    // An order retried with the same key (a lost answer) is the same order, charged once.
    let buy = p
        .expect(
            201,
            "POST",
            "/v1/offers",
            &admin,
            Some(json!({"title_id": film, "kind": "purchase", "price": {"amount_minor": 1299, "currency": "EUR"}})),
        )
        .await;
    let purchase = json!({"offer_id": buy["id"], "payment_token": "tok_approve"});
    let charged = p.charges("tok_approve");
    let first = p.order(&pat, "pat-1", &purchase).await;
    assert_eq!((first.status, first.json()["state"].as_str()), (201, Some("fulfilled")), "{}", first.text());
    let again = p.order(&pat, "pat-1", &purchase).await;
    assert_eq!((again.status, id(&again.json())), (201, id(&first.json())), "{}", again.text());
    assert_eq!(p.charges("tok_approve"), charged + 1, "one charge for two requests");
    let orders = p.expect(200, "GET", "/v1/orders", &pat, None).await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "{orders}");
    p.plays(&pat, &feature).await;

    // A played view's beacons (start, first frame, heartbeats, end) reach the analytics and `/metrics`.
    let start = p.clock.now_ms() - 60_000;
    let beacon = |kind: &str, at: i64, extra: Value| {
        let mut event = json!({"view_id": "view-1", "asset_id": feature, "title_id": film, "type": kind,
            "at": start + at});
        for (key, value) in extra.as_object().unwrap() {
            event[key] = value.clone();
        }
        event
    };
    let events = json!({"events": [
        beacon("view_start", 0, json!({})),
        beacon("first_frame", 500, json!({"position_ms": 0, "bitrate_bps": 3_000_000})),
        beacon("heartbeat", 10_500, json!({"position_ms": 10_000})),
        beacon("heartbeat", 20_500, json!({"position_ms": 20_000})),
        beacon("view_end", 30_500, json!({"position_ms": 30_000, "duration_ms": 120_000})),
    ]});
    let receipt = p.expect(202, "POST", "/v1/beacons", &pat, Some(events)).await;
    assert_eq!((receipt["accepted"].as_u64(), receipt["rejected"].as_array().map(Vec::len)), (Some(5), Some(0)));
    let report = poll(&p, &format!("/v1/analytics/titles/{film}"), &admin, |r| r["views"] == 1).await;
    assert_eq!((report["watch_time_ms"].as_i64(), report["unique_viewers"].as_i64()), (Some(30_000), Some(1)));
    let report = p.expect(200, "GET", &format!("/v1/analytics/assets/{feature}"), &admin, None).await;
    assert_eq!((report["views"].as_i64(), report["watch_time_ms"].as_i64()), (Some(1), Some(30_000)), "{report}");
    assert_eq!(p.call("GET", &format!("/v1/analytics/titles/{film}"), &pat, &[], None).await.status, 403);
    // Counted right after the batch's commit: wait for the watch time, then read the beacon counters.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let text = get(&p.api.url("/metrics")).await.text();
        if metric(&text, "marquee_analytics_watch_seconds_total", &[]) == Some(30.0) {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "no watch time in /metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    for kind in ["view_start", "first_frame", "heartbeat", "view_end"] {
        let counted = metric(&metrics, "marquee_analytics_beacons_total", &[("type", kind), ("outcome", "accepted")]);
        assert!(counted >= Some(1.0), "{kind}: {counted:?}");
    }
    assert_eq!(metric(&metrics, "marquee_analytics_beacons_written_total", &[]), Some(5.0));
    assert_eq!(metric(&metrics, "marquee_analytics_views_total", &[("outcome", "started")]), Some(1.0), "{metrics}");
    // The catalog's home page now has a most-watched row, from analytics.
    let home = p.expect(200, "GET", "/v1/home", &pat, None).await;
    let watched = home["rows"].as_array().unwrap().iter().find(|r| r["key"] == "most_watched_week").cloned();
    assert_eq!(watched.map(|row| row["items"][0]["id"].clone()), Some(json!(film)), "{home}");

    // Short-lived tokens: the first viewer cancels at the period's end and keeps watching until then; the URLs
    // issued a minute before the end work at the origin for their short lifetime only, and at the end the next
    // call for fresh URLs (the player's refresh) is refused.
    let subscription = p.subscription(&vic).await;
    let canceled = p
        .expect(200, "POST", &format!("/v1/subscriptions/{}/cancel?at_period_end=true", id(&subscription)), &vic, None)
        .await;
    let period_end = canceled["current_period_end"].as_i64().unwrap();
    p.clock.set(period_end - 60_000);
    let last = p.plays(&vic, &pilot).await;
    let expires_at = last["expires_at"].as_u64().unwrap();
    let hls = last["hls_url"].as_str().unwrap();
    let segment = hls.replace("master.m3u8", "video_720p/seg_00001.m4s");
    p.clock.set(period_end);
    p.expect(200, "POST", "/v1/commerce/renewals", &admin, None).await;
    p.refused(&vic, &pilot, "not_subscribed").await;
    // What was issued still plays out its lifetime (the promise: stopped within one token lifetime, not at once)…
    let now = p.clock.clock().now_s();
    assert!(expires_at > now && expires_at - now <= DEFAULT_PLAYBACK_TTL.as_secs());
    assert_eq!(p.origin_accepts(hls, now), Ok(()));
    assert_eq!(p.origin_accepts(&segment, expires_at - 1), Ok(()));
    // …and the origin refuses it, manifest and segments alike, once the clock passes `expires_at`.
    p.clock.set(i64::try_from(expires_at).unwrap() * 1000);
    let now = p.clock.clock().now_s();
    for url in [hls, &segment, last["dash_url"].as_str().unwrap()] {
        assert!(
            matches!(p.origin_accepts(url, now), Err(marquee_signing::TokenError::Expired { .. })),
            "{url} at {now}"
        );
    }
    p.refused(&vic, &pilot, "not_subscribed").await;
    p.api.stop().await;
});

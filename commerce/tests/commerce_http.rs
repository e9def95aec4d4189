//! Commerce over HTTP on SQLite and PostgreSQL: plans, orders with `Idempotency-Key`, the test provider's cards
//! and signed webhooks, renewals driven by a test clock, and the entitlements playback asks.

use std::sync::Arc;
use std::time::Duration;

use marquee_commerce::model::NewOrder;
use marquee_commerce::test_provider::TestProvider;
use marquee_commerce::titles::{AvailabilityWindow, InMemoryTitles, TitleFacts};
use marquee_commerce::{Commerce, CommerceSettings};
use marquee_control_api::auth::{Caller, Credential, Role};
use marquee_control_api::clock::TestClock;
use marquee_control_api::on_both_engines;
use marquee_control_api::playback::Playback;
use marquee_control_api::testing::*;
use marquee_control_api::Satellites;
use serde_json::{json, Value};

const HOUR: Duration = Duration::from_secs(3600);

struct Shop {
    api: TestApi,
    commerce: Commerce,
    /// The API's clock, which commerce and playback both read.
    clock: TestClock,
    provider: Arc<TestProvider>,
    titles: Arc<InMemoryTitles>,
    admin: String,
    /// The creator who owns title `film` and its asset: their token and id.
    creator: String,
    creator_id: String,
    /// A ready, signed asset of the creator's, the feature of title `film`.
    asset: String,
}

impl Shop {
    async fn start(engine: Engine) -> Self {
        let provider = Arc::new(TestProvider::new());
        let titles = Arc::new(InMemoryTitles::new());
        // Renewals only when a test asks (the background task's first run finds nothing due).
        let settings =
            CommerceSettings { renewal_interval: Duration::from_secs(24 * 3600), ..CommerceSettings::default() };
        let mut mounted = None;
        let api = TestApi::start_mounted(
            TestDatabase::new(engine),
            |_| {},
            false,
            |app| {
                let commerce = Commerce::with_settings(titles.clone(), provider.clone(), app.clock.clone(), settings);
                let text = marquee_signing::generate_key_file_toml("k1").unwrap();
                let playback = Playback {
                    keys: marquee_signing::KeyRing::from_toml("keys.toml", &text).unwrap(),
                    base_url: "https://cdn.example.com".into(),
                    ttl: Duration::from_secs(300),
                    entitlements: commerce.entitlements(),
                };
                mounted = Some(commerce.clone());
                (Satellites::new().with(commerce), Some(playback))
            },
        )
        .await;
        let (commerce, clock) = (mounted.unwrap(), api.clock.clone());
        let admin = api.signed_in("ada@example.com", Role::Admin).await;
        let creator_id = api.user("cora@example.com", "a good long password", Role::Creator).await;
        let creator =
            api.login("cora@example.com", "a good long password").await["access_token"].as_str().unwrap().to_owned();
        let asset = api.uploaded(&creator).await;
        api.published(&asset).await;
        titles.put(film(&creator_id, &["drama"], vec![]), &[asset.as_str()]);
        Self { api, commerce, clock, provider, titles, admin, creator, creator_id, asset }
    }

    fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    async fn plan(&self, body: Value) -> Value {
        let answer = call("POST", &self.url("/v1/plans"), &self.admin, Some(&body)).await;
        assert_eq!(answer.status, 201, "{}", answer.text());
        answer.json()
    }

    async fn order(&self, token: &str, key: &str, body: &Value) -> Answer {
        send_json("POST", &self.url("/v1/orders"), token, &[("idempotency-key", key)], body).await
    }

    async fn play(&self, token: &str, region: Option<&str>) -> Answer {
        let mut headers = vec![];
        if let Some(region) = region {
            headers.push(("marquee-region", region));
        }
        send_json("POST", &self.url(&format!("/v1/assets/{}/playback", self.asset)), token, &headers, &Value::Null)
            .await
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let answer = call("GET", &self.url(path), token, None).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        answer.json()
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Title `film`, owned by `owner`.
fn film(owner: &str, tags: &[&str], availability: Vec<AvailabilityWindow>) -> TitleFacts {
    TitleFacts {
        id: "film".into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        availability,
        owner_id: Some(owner.to_owned()),
    }
}

/// A request with a bearer token, more headers, and a JSON body (none for `null`).
async fn send_json(method: &str, url: &str, token: &str, extra: &[(&str, &str)], body: &Value) -> Answer {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        headers.push(("content-type", "application/json"));
        serde_json::to_vec(body).unwrap()
    };
    send(method, url, &headers, bytes).await
}

fn code(answer: &Answer) -> (u16, String) {
    (answer.status, answer.json()["error"]["code"].as_str().unwrap_or_default().to_owned())
}

fn denied(answer: &Answer, expected: &str) {
    assert_eq!(code(answer), (403, expected.to_owned()), "{}", answer.text());
}

async fn webhook(shop: &Shop, headers: &[(String, String)], body: &str) -> Answer {
    let mut all: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    all.push(("content-type", "application/json"));
    send("POST", &shop.url("/v1/commerce/webhooks/test-provider"), &all, body.as_bytes().to_vec()).await
}

on_both_engines!(viewers_subscribe_rent_and_play_only_while_entitled, |engine: Engine| async move {
    let shop = Shop::start(engine).await;
    let viewer = shop.api.signed_in("vic@example.com", Role::Viewer).await;
    let renter = shop.api.signed_in("rita@example.com", Role::Viewer).await;

    // Plans: admins only, valid prices and currencies only.
    let good = json!({"name": "Everything", "price": {"amount_minor": 999, "currency": "EUR"}, "period": "month",
        "unlocks": {"kind": "catalog"}});
    let refused = call("POST", &shop.url("/v1/plans"), &viewer, Some(&good)).await;
    assert_eq!(refused.status, 403);
    for (price, expected) in [
        (json!({"amount_minor": 999, "currency": "eur"}), "invalid_currency"),
        (json!({"amount_minor": 999, "currency": "XAU"}), "invalid_currency"),
        (json!({"amount_minor": 0, "currency": "EUR"}), "invalid_price"),
        (json!({"amount_minor": 999, "currency": "EUR", "cents": 1}), "invalid_body"),
    ] {
        let body = json!({"name": "x", "price": price, "period": "month", "unlocks": {"kind": "catalog"}});
        let answer = call("POST", &shop.url("/v1/plans"), &shop.admin, Some(&body)).await;
        assert_eq!(code(&answer), (400, expected.to_owned()), "{price}: {}", answer.text());
    }
    let plan = shop.plan(good).await;
    let plan_id = plan["id"].as_str().unwrap();
    assert_eq!(shop.get(&viewer, "/v1/plans").await.as_array().unwrap().len(), 1);
    // Visitors see the plans on sale too, to compare before signing up; a wrong token is still refused.
    let anonymous = send("GET", &shop.url("/v1/plans"), &[], vec![]).await;
    assert_eq!(anonymous.status, 200, "{}", anonymous.text());
    assert_eq!(anonymous.json()[0]["id"], plan["id"]);
    let one = send("GET", &shop.url(&format!("/v1/plans/{plan_id}")), &[], vec![]).await;
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(call("GET", &shop.url("/v1/plans"), "not-a-token", None).await.status, 401);
    // Every route is in the API's OpenAPI document.
    let openapi: Value =
        serde_json::from_slice(&send("GET", &shop.url("/openapi.json"), &[], vec![]).await.body).unwrap();
    for path in [
        "/v1/plans",
        "/v1/plans/{id}",
        "/v1/offers",
        "/v1/orders",
        "/v1/orders/{id}/refund",
        "/v1/subscriptions",
        "/v1/subscriptions/{id}/cancel",
        "/v1/rentals",
        "/v1/commerce/renewals",
        "/v1/commerce/webhooks/{provider}",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is not in /openapi.json");
    }

    // Not subscribed: refused, with the reason.
    denied(&shop.play(&viewer, None).await, "not_subscribed");

    // Orders need a key; unknown plans and odd bodies are refused.
    let order = json!({"plan_id": plan_id, "payment_token": "tok_approve"});
    let keyless = call("POST", &shop.url("/v1/orders"), &viewer, Some(&order)).await;
    assert_eq!(code(&keyless), (400, "idempotency_key_required".into()));
    let unknown = shop.order(&viewer, "k-unknown", &json!({"plan_id": "nope", "payment_token": "tok_approve"})).await;
    assert_eq!(code(&unknown), (422, "unknown_plan".into()));
    let both = shop.order(&viewer, "k-both", &json!({"payment_token": "tok_approve"})).await;
    assert_eq!(code(&both), (400, "invalid_body".into()));

    // A declined card: the order fails, nothing is held.
    let declined =
        shop.order(&viewer, "k-declined", &json!({"plan_id": plan_id, "payment_token": "tok_decline"})).await;
    assert_eq!(declined.status, 201, "{}", declined.text());
    assert_eq!(
        (declined.json()["state"].as_str(), declined.json()["failure_code"].as_str()),
        (Some("failed"), Some("card_declined"))
    );
    denied(&shop.play(&viewer, None).await, "not_subscribed");

    // Approved: subscribed, and playback works.
    let placed = shop.order(&viewer, "k1", &order).await;
    assert_eq!(placed.status, 201, "{}", placed.text());
    let placed = placed.json();
    assert_eq!(placed["state"], "fulfilled");
    let subscription_id = placed["subscription_id"].as_str().unwrap().to_owned();
    let played = shop.play(&viewer, None).await;
    assert_eq!(played.status, 200, "{}", played.text());
    assert!(played.json()["hls_url"].as_str().unwrap().starts_with("https://cdn.example.com/"));

    // The same key and body: the same order, no second charge; another body: 422.
    let again = shop.order(&viewer, "k1", &order).await;
    assert_eq!((again.status, again.json()["id"].clone()), (201, placed["id"].clone()));
    let charged = |shop: &Shop| shop.provider.charges().iter().filter(|c| c.token == "tok_approve").count();
    assert_eq!(charged(&shop), 1);
    let other = shop.order(&viewer, "k1", &json!({"plan_id": plan_id, "payment_token": "tok_async"})).await;
    assert_eq!(code(&other), (422, "idempotency_key_reused".into()));
    // A second subscription over the same titles is refused.
    let overlap = shop.order(&viewer, "k2", &order).await;
    assert_eq!(code(&overlap), (409, "overlapping_subscription".into()));
    assert_eq!(charged(&shop), 1);
    let subscriptions = shop.get(&viewer, "/v1/subscriptions").await;
    assert_eq!(subscriptions["items"][0]["state"], "active");
    assert_eq!(shop.get(&renter, "/v1/subscriptions").await["items"].as_array().unwrap().len(), 0, "own only");

    // Availability binds subscribers too: by region, then by date.
    let window = |from: i64, regions: &[&str]| AvailabilityWindow {
        from,
        until: None,
        regions: regions.iter().map(|r| r.to_string()).collect(),
    };
    let now = shop.now_ms();
    shop.titles.put(film(&shop.creator_id, &[], vec![window(now - 1, &["FR"])]), &[shop.asset.as_str()]);
    denied(&shop.play(&viewer, Some("DE")).await, "not_available_in_region");
    denied(&shop.play(&viewer, None).await, "not_available_in_region");
    assert_eq!(shop.play(&viewer, Some("fr")).await.status, 200);
    shop.titles.put(film(&shop.creator_id, &[], vec![window(now + 3_600_000, &[])]), &[shop.asset.as_str()]);
    denied(&shop.play(&viewer, Some("FR")).await, "not_yet_available");
    shop.titles.put(film(&shop.creator_id, &[], vec![]), &[shop.asset.as_str()]);

    // A rental paid by a card that confirms later: no playback until the signed webhook says so.
    let offer = call(
        "POST",
        &shop.url("/v1/offers"),
        &shop.admin,
        Some(&json!({"title_id": "film", "kind": "rental",
        "price": {"amount_minor": 399, "currency": "EUR"}, "watch_window_hours": 48})),
    )
    .await;
    assert_eq!(offer.status, 201, "{}", offer.text());
    let offer_id = offer.json()["id"].as_str().unwrap().to_owned();
    let missing = call(
        "POST",
        &shop.url("/v1/offers"),
        &shop.admin,
        Some(&json!({"title_id": "nope", "kind": "purchase",
        "price": {"amount_minor": 399, "currency": "EUR"}})),
    )
    .await;
    assert_eq!(code(&missing), (422, "unknown_title".into()));
    // A title's prices are shown to visitors.
    let on_sale = send("GET", &shop.url("/v1/offers?title_id=film"), &[], vec![]).await;
    assert_eq!(on_sale.status, 200, "{}", on_sale.text());
    assert_eq!(on_sale.json().as_array().unwrap().len(), 1);
    let rent = json!({"offer_id": offer_id, "payment_token": "tok_async"});
    let pending = shop.order(&renter, "r1", &rent).await;
    assert_eq!(pending.status, 201, "{}", pending.text());
    let pending = pending.json();
    assert_eq!(pending["state"], "pending");
    let charge_id = pending["charge_id"].as_str().unwrap().to_owned();
    denied(&shop.play(&renter, None).await, "not_subscribed");

    let (headers, body) = shop.provider.settle(&charge_id, true, shop.now_ms());
    let tampered = body.replace("\"charge.succeeded\"", "\"charge.failed\"");
    assert_eq!(code(&webhook(&shop, &headers, &tampered).await), (400, "webhook_bad_signature".into()));
    let mut unsigned = headers.clone();
    unsigned.retain(|(name, _)| name != "webhook-signature");
    assert_eq!(code(&webhook(&shop, &unsigned, &body).await), (400, "webhook_malformed".into()));
    let (old_headers, old_body) = shop.provider.settle(&charge_id, true, shop.now_ms() - 6 * 60 * 1000);
    assert_eq!(code(&webhook(&shop, &old_headers, &old_body).await), (400, "webhook_stale_timestamp".into()));
    denied(&shop.play(&renter, None).await, "not_subscribed");

    let applied = webhook(&shop, &headers, &body).await;
    assert_eq!((applied.status, applied.json()["status"].as_str()), (200, Some("applied")), "{}", applied.text());
    let replayed = webhook(&shop, &headers, &body).await;
    assert_eq!((replayed.status, replayed.json()["status"].as_str()), (200, Some("duplicate")));
    let order = shop.get(&renter, &format!("/v1/orders/{}", pending["id"].as_str().unwrap())).await;
    assert_eq!(order["state"], "fulfilled");
    assert_eq!(
        call("GET", &shop.url(&format!("/v1/orders/{}", pending["id"].as_str().unwrap())), &viewer, None).await.status,
        404
    );

    // The window starts at the first play and ends 48 hours later.
    let rentals = shop.get(&renter, "/v1/rentals").await;
    assert!(rentals["items"][0]["first_played_at"].is_null());
    shop.clock.advance(10 * HOUR);
    assert_eq!(shop.play(&renter, None).await.status, 200);
    let first_played = shop.get(&renter, "/v1/rentals").await["items"][0]["first_played_at"].as_i64().unwrap();
    assert_eq!(first_played, shop.now_ms());
    let rerent = shop.order(&renter, "r2", &json!({"offer_id": offer_id, "payment_token": "tok_approve"})).await;
    assert_eq!(code(&rerent), (409, "already_rented".into()));
    shop.clock.advance(47 * HOUR);
    assert_eq!(shop.play(&renter, None).await.status, 200);
    shop.clock.advance(HOUR);
    denied(&shop.play(&renter, None).await, "rental_expired");
    assert_eq!(shop.get(&renter, "/v1/rentals").await["items"][0]["active"], false);

    // Canceling stops new playback at once.
    let canceled = call("POST", &shop.url(&format!("/v1/subscriptions/{subscription_id}/cancel")), &viewer, None).await;
    assert_eq!((canceled.status, canceled.json()["state"].as_str()), (200, Some("canceled")), "{}", canceled.text());
    denied(&shop.play(&viewer, None).await, "not_subscribed");
    let twice = call("POST", &shop.url(&format!("/v1/subscriptions/{subscription_id}/cancel")), &viewer, None).await;
    assert_eq!(code(&twice), (409, "subscription_ended".into()));
    let other = call("POST", &shop.url(&format!("/v1/subscriptions/{subscription_id}/cancel")), &renter, None).await;
    assert_eq!(other.status, 404, "another viewer's subscription is not shown to exist");
    shop.api.stop().await;
});

on_both_engines!(renewals_charge_each_period_and_declines_end_after_grace, |engine: Engine| async move {
    let shop = Shop::start(engine).await;
    let plan = shop
        .plan(json!({"name": "Drama", "price": {"amount_minor": 500, "currency": "USD"}, "period": "month",
        "unlocks": {"kind": "tag", "tag": "drama"}}))
        .await;
    let trial = shop
        .plan(json!({"name": "Try", "price": {"amount_minor": 700, "currency": "JPY"}, "period": "year",
        "trial_days": 40, "unlocks": {"kind": "tag", "tag": "comedy"}}))
        .await;
    let loyal = shop.api.signed_in("lou@example.com", Role::Viewer).await;
    let broke = shop.api.signed_in("bob@example.com", Role::Viewer).await;
    for (token, card) in [(&loyal, "tok_approve"), (&broke, "tok_renewal_fails")] {
        let placed = shop.order(token, "sub", &json!({"plan_id": plan["id"], "payment_token": card})).await;
        assert_eq!((placed.status, placed.json()["state"].as_str()), (201, Some("fulfilled")), "{}", placed.text());
    }
    // A trial starts without a charge.
    let tried = shop.order(&loyal, "trial", &json!({"plan_id": trial["id"], "payment_token": "tok_approve"})).await;
    assert_eq!(tried.status, 201, "{}", tried.text());
    assert!(tried.json()["charge_id"].is_null());
    let attempts = shop.provider.attempts();
    assert_eq!(attempts, 2);

    let state_of = |token: &str| {
        let (shop, token) = (&shop, token.to_owned());
        async move {
            let page = shop.get(&token, "/v1/subscriptions").await;
            page["items"].as_array().unwrap().to_vec()
        }
    };
    let first = state_of(&broke).await[0].clone();
    let period_end = first["current_period_end"].as_i64().unwrap();
    // Nothing is due before the period ends.
    assert_eq!(shop.commerce.renew_due(&shop.api.db, period_end - 1).await.unwrap().renewed, 0);

    shop.clock.set(period_end);
    let report = shop.commerce.renew_due(&shop.api.db, period_end).await.unwrap();
    assert_eq!((report.renewed, report.past_due), (1, 1), "{report:?}");
    let loyal_now = state_of(&loyal).await;
    let renewed = loyal_now.iter().find(|s| s["plan_id"] == plan["id"]).unwrap();
    assert_eq!(renewed["state"], "active");
    assert_eq!(renewed["current_period_start"].as_i64(), Some(period_end));
    assert_eq!(shop.provider.attempts(), 4, "one renewal charge each");
    // A second run (another API instance) charges nothing more.
    assert_eq!(shop.commerce.renew_due(&shop.api.db, period_end).await.unwrap(), Default::default());
    assert_eq!(shop.provider.attempts(), 4);

    let past_due = state_of(&broke).await[0].clone();
    assert_eq!(past_due["state"], "past_due");
    assert_eq!(shop.play(&broke, None).await.status, 200, "it still plays during the grace period");
    let grace_until = past_due["grace_until"].as_i64().unwrap();
    assert_eq!(grace_until, period_end + 3 * 24 * 3_600_000);
    shop.clock.set(grace_until);
    let report = shop.commerce.renew_due(&shop.api.db, grace_until).await.unwrap();
    assert!(report.canceled >= 1, "{report:?}");
    assert_eq!(state_of(&broke).await[0]["state"], "canceled");
    denied(&shop.play(&broke, None).await, "not_subscribed");
    assert_eq!(shop.play(&loyal, None).await.status, 200);

    // The trial's end charges its first year (the admin's endpoint runs what is due).
    let trialing = state_of(&loyal).await.into_iter().find(|s| s["plan_id"] == trial["id"]).unwrap();
    assert_eq!(trialing["state"], "trialing");
    shop.clock.set(trialing["current_period_end"].as_i64().unwrap());
    let refused = call("POST", &shop.url("/v1/commerce/renewals"), &loyal, None).await;
    assert_eq!(refused.status, 403);
    let ran = call("POST", &shop.url("/v1/commerce/renewals"), &shop.admin, None).await;
    assert_eq!(ran.status, 200, "{}", ran.text());
    let after = state_of(&loyal).await.into_iter().find(|s| s["plan_id"] == trial["id"]).unwrap();
    assert_eq!(after["state"], "active");

    // A refund ends the subscription it paid for and gives the money back.
    let orders = shop.get(&loyal, "/v1/orders").await;
    let paid = orders["items"].as_array().unwrap().iter().find(|o| o["plan_id"] == plan["id"]).unwrap().clone();
    let by_viewer =
        call("POST", &shop.url(&format!("/v1/orders/{}/refund", paid["id"].as_str().unwrap())), &loyal, None).await;
    assert_eq!(by_viewer.status, 403);
    let refunded =
        call("POST", &shop.url(&format!("/v1/orders/{}/refund", paid["id"].as_str().unwrap())), &shop.admin, None)
            .await;
    assert_eq!((refunded.status, refunded.json()["state"].as_str()), (200, Some("refunded")), "{}", refunded.text());
    assert!(shop.provider.charges().iter().any(|c| Some(c.id.as_str()) == paid["charge_id"].as_str() && c.refunded));
    denied(&shop.play(&loyal, None).await, "not_subscribed");

    // Canceling at the period's end keeps it until then, and it expires instead of renewing.
    let yearly = after["id"].as_str().unwrap();
    let ending =
        call("POST", &shop.url(&format!("/v1/subscriptions/{yearly}/cancel?at_period_end=true")), &loyal, None).await;
    assert_eq!(ending.status, 200, "{}", ending.text());
    assert_eq!(
        (ending.json()["state"].as_str(), ending.json()["cancel_at_period_end"].as_bool()),
        (Some("active"), Some(true))
    );
    let bad =
        call("POST", &shop.url(&format!("/v1/subscriptions/{yearly}/cancel?at_period_end=maybe")), &loyal, None).await;
    assert_eq!(code(&bad), (400, "invalid_query".into()));
    let end = ending.json()["current_period_end"].as_i64().unwrap();
    let attempts = shop.provider.attempts();
    let report = shop.commerce.renew_due(&shop.api.db, end).await.unwrap();
    assert_eq!((report.expired, report.renewed), (1, 0), "{report:?}");
    assert_eq!(shop.provider.attempts(), attempts, "no charge for a subscription that ends");
    assert_eq!(shop.get(&loyal, &format!("/v1/subscriptions/{yearly}")).await["state"], "expired");

    // A card that confirms later: the subscription starts with the first webhook, and a renewal declined by
    // a later webhook makes it past due.
    let asa = shop.api.signed_in("asa@example.com", Role::Viewer).await;
    let placed = shop.order(&asa, "a1", &json!({"plan_id": plan["id"], "payment_token": "tok_async"})).await;
    assert_eq!(placed.json()["state"], "pending", "{}", placed.text());
    assert!(state_of(&asa).await.is_empty());
    let (headers, body) = shop.provider.settle(placed.json()["charge_id"].as_str().unwrap(), true, shop.now_ms());
    assert_eq!(webhook(&shop, &headers, &body).await.json()["status"], "applied");
    let started = state_of(&asa).await[0].clone();
    assert_eq!(started["state"], "active");
    let end = started["current_period_end"].as_i64().unwrap();
    shop.clock.set(end);
    assert_eq!(shop.commerce.renew_due(&shop.api.db, end).await.unwrap().pending, 1);
    let renewal = shop
        .provider
        .charges()
        .into_iter()
        .find(|c| c.token == "tok_async" && c.outcome == marquee_commerce::provider::ChargeOutcome::Pending)
        .expect("the renewal's pending charge");
    let (headers, body) = shop.provider.settle(&renewal.id, false, shop.now_ms());
    assert_eq!(webhook(&shop, &headers, &body).await.json()["status"], "applied");
    let declined = state_of(&asa).await[0].clone();
    assert_eq!(declined["state"], "past_due");
    assert_eq!(declined["grace_until"].as_i64(), Some(end + 3 * 24 * 3_600_000));
    // Retried a day later (once, however many renewers run); this time the card pays and it is active again.
    assert_eq!(shop.commerce.renew_due(&shop.api.db, end + 24 * 3_600_000 - 1).await.unwrap().pending, 0);
    shop.clock.set(end + 24 * 3_600_000);
    assert_eq!(shop.commerce.renew_due(&shop.api.db, shop.now_ms()).await.unwrap().pending, 1);
    assert_eq!(shop.commerce.renew_due(&shop.api.db, shop.now_ms()).await.unwrap().pending, 0);
    let retry = shop
        .provider
        .charges()
        .into_iter()
        .find(|c| c.token == "tok_async" && c.outcome == marquee_commerce::provider::ChargeOutcome::Pending)
        .expect("the retry's pending charge");
    let (headers, body) = shop.provider.settle(&retry.id, true, shop.now_ms());
    assert_eq!(webhook(&shop, &headers, &body).await.json()["status"], "applied");
    let restored = state_of(&asa).await[0].clone();
    assert_eq!((restored["state"].as_str(), restored["current_period_start"].as_i64()), (Some("active"), Some(end)));
    assert!(restored["grace_until"].is_null());
    shop.api.stop().await;
});

on_both_engines!(one_key_makes_one_order_and_one_charge_even_at_once, |engine: Engine| async move {
    let shop = Shop::start(engine).await;
    let plan = shop
        .plan(json!({"name": "All", "price": {"amount_minor": 999, "currency": "EUR"}, "period": "month",
        "unlocks": {"kind": "catalog"}}))
        .await;
    let viewer = shop.api.signed_in("vic@example.com", Role::Viewer).await;
    let body = json!({"plan_id": plan["id"], "payment_token": "tok_approve"});

    // Over HTTP: concurrent requests with one key.
    let answers = futures_util::future::join_all((0..8).map(|_| shop.order(&viewer, "same", &body))).await;
    let mut ids = std::collections::BTreeSet::new();
    for answer in &answers {
        match answer.status {
            201 => {
                ids.insert(answer.json()["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(code(answer).1, "idempotency_key_in_use"),
            other => panic!("{other}: {}", answer.text()),
        }
    }
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(shop.provider.attempts(), 1);
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM commerce_orders").fetch_one(shop.api.db.pool()).await.unwrap();
    assert_eq!(count, 1);

    // Beneath the HTTP layer's idempotency (its key forgotten, or another front-end): the orders table's own.
    let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'vic@example.com'")
        .fetch_one(shop.api.db.pool())
        .await
        .unwrap();
    let caller = Caller { user_id, role: Role::Viewer, credential: Credential::Session("s".into()) };
    // A purchase (no overlap rule in the way): eight at once under one key.
    let offer = call(
        "POST",
        &shop.url("/v1/offers"),
        &shop.admin,
        Some(&json!({"title_id": "film", "kind": "purchase",
        "price": {"amount_minor": 1299, "currency": "EUR"}})),
    )
    .await;
    let offer_id = offer.json()["id"].as_str().unwrap().to_owned();
    let buy = NewOrder { plan_id: None, offer_id: Some(offer_id), payment_token: "tok_approve".into() };
    let placed = futures_util::future::join_all(
        (0..8).map(|_| shop.commerce.place_order(&shop.api.db, &caller, "direct", &buy, None)),
    )
    .await;
    let ids: std::collections::BTreeSet<String> =
        placed.iter().filter_map(|p| p.as_ref().ok()).map(|o| o.id.clone()).collect();
    assert_eq!(ids.len(), 1, "{placed:?}");
    for refusal in placed.iter().filter_map(|p| p.as_ref().err()) {
        assert!(refusal.status.is_client_error(), "{refusal}");
    }
    assert_eq!(shop.provider.attempts(), 2, "one charge for the purchase");
    let orders: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM commerce_orders").fetch_one(shop.api.db.pool()).await.unwrap();
    let purchases: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM commerce_purchases").fetch_one(shop.api.db.pool()).await.unwrap();
    assert_eq!((orders, purchases), (2, 1));

    // A subscription order waiting for its card's confirmation blocks an overlapping one: no second charge.
    let waiting = shop.api.signed_in("wes@example.com", Role::Viewer).await;
    let first = shop.order(&waiting, "w1", &json!({"plan_id": plan["id"], "payment_token": "tok_async"})).await;
    assert_eq!((first.status, first.json()["state"].as_str()), (201, Some("pending")), "{}", first.text());
    let second = shop.order(&waiting, "w2", &json!({"plan_id": plan["id"], "payment_token": "tok_approve"})).await;
    assert_eq!(code(&second), (409, "overlapping_subscription".into()));
    assert_eq!(shop.provider.attempts(), 3);

    // A request that died between the provider's charge and its record leaves the order `paying`: the renewal
    // task pays it again under the same provider key, which finds the charge instead of making another.
    let lee = shop.api.user("lee@example.com", "a good long password", Role::Viewer).await;
    let now = shop.now_ms();
    sqlx::query(
        "INSERT INTO commerce_orders (id, user_id, idempotency_key, request_hash, kind, offer_id, title_id, amount_minor, \
         currency, payment_token, state, created_at, updated_at) \
         VALUES ('o-lost', $1, 'k', 'h', 'purchase', $2, 'film', 1299, 'EUR', 'tok_approve', 'paying', $3, $3)",
    )
    .bind(&lee)
    .bind(buy.offer_id.as_deref().unwrap())
    .bind(now)
    .execute(shop.api.db.pool())
    .await
    .unwrap();
    use marquee_commerce::provider::{ChargePurpose, ChargeRequest, PaymentProvider};
    let made = shop
        .provider
        .charge(&ChargeRequest {
            idempotency_key: "order:o-lost".into(),
            amount_minor: 1299,
            currency: "EUR".into(),
            payment_token: "tok_approve".into(),
            purpose: ChargePurpose::Order,
        })
        .await
        .unwrap();
    assert_eq!(shop.provider.attempts(), 4);
    assert_eq!(shop.commerce.renew_due(&shop.api.db, now + 60_000).await.unwrap().recovered, 0, "not stuck yet");
    let report = shop.commerce.renew_due(&shop.api.db, now + 11 * 60_000).await.unwrap();
    assert_eq!(report.recovered, 1, "{report:?}");
    let order: (String, Option<String>) =
        sqlx::query_as("SELECT state, purchase_id FROM commerce_orders WHERE id = 'o-lost'")
            .fetch_one(shop.api.db.pool())
            .await
            .unwrap();
    assert_eq!(order.0, "fulfilled");
    assert!(order.1.is_some());
    assert_eq!(shop.provider.attempts(), 4, "the charge made before the crash, not a second one");
    let charges: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT state, provider_charge_id FROM commerce_charges WHERE order_id = 'o-lost'")
            .fetch_all(shop.api.db.pool())
            .await
            .unwrap();
    assert_eq!(charges, vec![("succeeded".to_owned(), Some(made.id))]);
    shop.api.stop().await;
});

on_both_engines!(bad_input_is_a_4xx_in_the_api_error_format, |engine: Engine| async move {
    let shop = Shop::start(engine).await;
    let viewer = shop.api.signed_in("vic@example.com", Role::Viewer).await;
    let plan = shop
        .plan(json!({"name": "All", "price": {"amount_minor": 999, "currency": "EUR"}, "period": "month",
        "unlocks": {"kind": "catalog"}}))
        .await;
    let plan_path = format!("/v1/plans/{}", plan["id"].as_str().unwrap());
    let price = json!({"amount_minor": 100, "currency": "EUR"});
    let long = "t".repeat(256);
    let cases: Vec<(&str, String, Value, u16, &str)> = vec![
        (
            "POST",
            "/v1/plans".into(),
            json!({"name": "x", "price": price, "period": "week", "unlocks": {"kind": "catalog"}}),
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/v1/plans".into(),
            json!({"name": "x", "price": price, "period": "month", "unlocks": {"kind": "tag"}}),
            400,
            "invalid_body",
        ),
        (
            "POST",
            "/v1/plans".into(),
            json!({"name": "x", "price": price, "period": "month", "unlocks": {"kind": "tag", "tag": " "}}),
            400,
            "invalid_unlocks",
        ),
        (
            "POST",
            "/v1/plans".into(),
            json!({"name": "", "price": price, "period": "month", "unlocks": {"kind": "catalog"}}),
            400,
            "invalid_name",
        ),
        (
            "POST",
            "/v1/plans".into(),
            json!({"name": "x", "price": price, "period": "month", "trial_days": -1, "unlocks": {"kind": "catalog"}}),
            400,
            "invalid_trial_days",
        ),
        (
            "POST",
            "/v1/plans".into(),
            json!({"name": "x", "price": {"amount_minor": 1e30, "currency": "EUR"}, "period": "month", "unlocks": {"kind": "catalog"}}),
            400,
            "invalid_body",
        ),
        ("PATCH", plan_path.clone(), json!({"price": price}), 400, "invalid_body"),
        ("PATCH", plan_path.clone(), json!({"trial_days": 1000}), 400, "invalid_trial_days"),
        ("PATCH", "/v1/plans/nope".into(), json!({"name": "y"}), 404, "not_found"),
        ("DELETE", "/v1/plans/nope".into(), Value::Null, 404, "not_found"),
        (
            "POST",
            "/v1/offers".into(),
            json!({"title_id": "film", "kind": "rental", "price": price, "watch_window_hours": 0}),
            400,
            "invalid_rental_terms",
        ),
        (
            "POST",
            "/v1/offers".into(),
            json!({"title_id": "film", "kind": "purchase", "price": price, "watch_window_hours": 48}),
            400,
            "invalid_rental_terms",
        ),
        ("POST", "/v1/offers".into(), json!({"title_id": "film", "kind": "gift", "price": price}), 400, "invalid_body"),
        ("DELETE", "/v1/offers/nope".into(), Value::Null, 404, "not_found"),
        ("GET", "/v1/orders?limit=0".into(), Value::Null, 400, "invalid_query"),
        ("GET", "/v1/orders?limit=abc".into(), Value::Null, 400, "invalid_query"),
        ("GET", "/v1/subscriptions?colour=red".into(), Value::Null, 400, "invalid_query"),
        ("GET", "/v1/rentals?limit=201".into(), Value::Null, 400, "invalid_query"),
        ("GET", "/v1/orders/nope".into(), Value::Null, 404, "not_found"),
        ("POST", "/v1/orders/nope/refund".into(), Value::Null, 404, "not_found"),
        ("POST", "/v1/subscriptions/nope/cancel".into(), Value::Null, 404, "not_found"),
        ("POST", "/v1/commerce/webhooks/stripe".into(), json!({}), 404, "not_found"),
        (
            "POST",
            "/v1/commerce/webhooks/test-provider".into(),
            json!({"type": "charge.succeeded"}),
            400,
            "webhook_malformed",
        ),
    ];
    for (method, path, body, status, expected) in cases {
        let answer = send_json(method, &shop.url(&path), &shop.admin, &[], &body).await;
        assert_eq!(code(&answer), (status, expected.to_owned()), "{method} {path} {body}: {}", answer.text());
    }
    for (key, body, status, expected) in [
        ("o1", json!({"payment_token": "tok_approve"}), 400, "invalid_body"),
        ("o2", json!({"plan_id": plan["id"], "offer_id": "x", "payment_token": "tok_approve"}), 400, "invalid_body"),
        ("o3", json!({"plan_id": plan["id"], "payment_token": ""}), 400, "invalid_payment_token"),
        ("o4", json!({"plan_id": plan["id"], "payment_token": long}), 400, "invalid_payment_token"),
        ("o5", json!({"offer_id": "nope", "payment_token": "tok_approve"}), 422, "unknown_offer"),
        ("o6", json!({"plan_id": plan["id"], "payment_token": "tok_approve", "coupon": "x"}), 400, "invalid_body"),
    ] {
        let answer = shop.order(&viewer, key, &body).await;
        assert_eq!(code(&answer), (status, expected.to_owned()), "{body}: {}", answer.text());
    }
    let long_key = "k".repeat(300);
    let answer = shop.order(&viewer, &long_key, &json!({"plan_id": plan["id"], "payment_token": "tok_approve"})).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(shop.provider.attempts(), 0, "nothing was charged");
    shop.api.stop().await;
});

on_both_engines!(creators_sell_their_own_titles_and_see_only_their_sales, |engine: Engine| async move {
    let shop = Shop::start(engine).await;
    let (cora, cora_id) = (&shop.creator, shop.creator_id.as_str());
    let carl_id = shop.api.user("carl@example.com", "a good long password", Role::Creator).await;
    let carl =
        shop.api.login("carl@example.com", "a good long password").await["access_token"].as_str().unwrap().to_owned();
    shop.titles.put(
        TitleFacts { id: "short".into(), tags: vec![], availability: vec![], owner_id: Some(carl_id.clone()) },
        &[],
    );
    let viewer = shop.api.signed_in("vic@example.com", Role::Viewer).await;
    let buyer = shop.api.signed_in("bea@example.com", Role::Viewer).await;
    let offer = |token: &str, body: Value| {
        let (url, token) = (shop.url("/v1/offers"), token.to_owned());
        async move { call("POST", &url, &token, Some(&body)).await }
    };
    let rental = |title: &str, amount: i64| json!({"title_id": title, "kind": "rental", "price": {"amount_minor": amount, "currency": "EUR"}});

    // A creator puts their own title for rent; not another creator's, and viewers sell nothing.
    let rent = offer(cora, rental("film", 399)).await;
    assert_eq!(rent.status, 201, "{}", rent.text());
    assert_eq!(rent.json()["seller_id"], cora_id);
    let rent_id = rent.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(code(&offer(cora, rental("short", 399)).await), (403, "forbidden".into()));
    assert_eq!(code(&offer(&viewer, rental("film", 399)).await), (403, "forbidden".into()));
    // An admin may sell anyone's title: its owner is still the seller.
    let buy = offer(
        &shop.admin,
        json!({"title_id": "film", "kind": "purchase", "price": {"amount_minor": 1299, "currency": "EUR"}}),
    )
    .await;
    assert_eq!((buy.status, buy.json()["seller_id"].as_str()), (201, Some(cora_id)), "{}", buy.text());
    let buy_id = buy.json()["id"].as_str().unwrap().to_owned();
    let short = offer(
        &carl,
        json!({"title_id": "short", "kind": "purchase",
        "price": {"amount_minor": 500, "currency": "USD"}}),
    )
    .await;
    assert_eq!(short.status, 201, "{}", short.text());
    let short_id = short.json()["id"].as_str().unwrap().to_owned();

    // Viewers rent and buy; the orders are the sellers' to see, each their own titles' only.
    let mut film_orders = Vec::new();
    for (token, key, offer_id) in [(&viewer, "v1", &rent_id), (&buyer, "b1", &buy_id), (&viewer, "v2", &short_id)] {
        let placed = shop.order(token, key, &json!({"offer_id": offer_id, "payment_token": "tok_approve"})).await;
        assert_eq!((placed.status, placed.json()["state"].as_str()), (201, Some("fulfilled")), "{}", placed.text());
        if offer_id != &short_id {
            film_orders.push(placed.json()["id"].as_str().unwrap().to_owned());
        }
    }
    let ids = |page: Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(shop.get(cora, "/v1/orders?sold=true").await), film_orders);
    assert_eq!(ids(shop.get(&carl, "/v1/orders?sold=true").await).len(), 1);
    assert!(ids(shop.get(cora, "/v1/orders").await).is_empty(), "what she bought: nothing");
    assert_eq!(ids(shop.get(&viewer, "/v1/orders?sold=true").await), Vec::<String>::new());
    assert_eq!(shop.get(cora, &format!("/v1/orders/{}", film_orders[1])).await["seller_id"], cora_id);
    let foreign = call("GET", &shop.url(&format!("/v1/orders/{}", film_orders[1])), &carl, None).await;
    assert_eq!(foreign.status, 404, "another seller's order is not shown to exist");

    // Revenue per currency, refunds apart.
    let refunded = call("POST", &shop.url(&format!("/v1/orders/{}/refund", film_orders[1])), &shop.admin, None).await;
    assert_eq!(refunded.status, 200, "{}", refunded.text());
    let revenue = shop.get(cora, "/v1/commerce/revenue").await;
    assert_eq!(
        revenue,
        json!({"seller_id": cora_id, "currencies": [{"currency": "EUR", "orders": 1, "amount_minor": 399,
            "refunded_orders": 1, "refunded_minor": 1299}]})
    );
    assert_eq!(shop.get(&carl, "/v1/commerce/revenue").await["currencies"][0]["amount_minor"], 500);
    let everyone = shop.get(&shop.admin, "/v1/commerce/revenue").await;
    assert_eq!(everyone["currencies"].as_array().unwrap().len(), 2, "{everyone}");
    assert!(everyone["seller_id"].is_null());
    assert_eq!(shop.get(&shop.admin, &format!("/v1/commerce/revenue?seller_id={cora_id}")).await, revenue);
    let nosy = call("GET", &shop.url(&format!("/v1/commerce/revenue?seller_id={carl_id}")), cora, None).await;
    assert_eq!(code(&nosy), (403, "forbidden".into()));
    assert_eq!(call("GET", &shop.url("/v1/commerce/revenue"), &viewer, None).await.status, 403);

    // A seller withdraws their own offers only.
    let withdraw = |token: &str, id: &str| {
        let (url, token) = (shop.url(&format!("/v1/offers/{id}")), token.to_owned());
        async move { call("DELETE", &url, &token, None).await.status }
    };
    assert_eq!(withdraw(&carl, &rent_id).await, 403);
    assert_eq!(withdraw(cora, &rent_id).await, 204);
    assert_eq!(withdraw(cora, "nope").await, 404);
    assert_eq!(shop.get(&viewer, "/v1/offers?title_id=film").await.as_array().unwrap().len(), 1);
    shop.api.stop().await;
});

on_both_engines!(a_past_due_subscriber_gives_a_new_card_and_is_active_again_once, |engine: Engine| async move {
    let shop = Shop::start(engine).await;
    let plan = shop
        .plan(json!({"name": "All", "price": {"amount_minor": 999, "currency": "EUR"}, "period": "month",
        "unlocks": {"kind": "catalog"}}))
        .await;
    let (ann, bo) = (
        shop.api.signed_in("ann@example.com", Role::Viewer).await,
        shop.api.signed_in("bo@example.com", Role::Viewer).await,
    );
    let mut subscriptions = Vec::new();
    for token in [&ann, &bo] {
        let placed =
            shop.order(token, "sub", &json!({"plan_id": plan["id"], "payment_token": "tok_renewal_fails"})).await;
        assert_eq!(placed.json()["state"], "fulfilled", "{}", placed.text());
        subscriptions.push(placed.json()["subscription_id"].as_str().unwrap().to_owned());
    }
    let due = shop.get(&ann, &format!("/v1/subscriptions/{}", subscriptions[0])).await["current_period_end"]
        .as_i64()
        .unwrap();
    shop.clock.set(due);
    assert_eq!(shop.commerce.renew_due(&shop.api.db, due).await.unwrap().past_due, 2);
    shop.clock.advance(HOUR);
    let change = |token: &str, id: &str, key: &str, card: &str| {
        let (url, token) = (shop.url(&format!("/v1/subscriptions/{id}/payment-method")), token.to_owned());
        let (key, body) = (key.to_owned(), json!({"payment_token": card}));
        async move {
            let headers: Vec<(&str, &str)> =
                if key.is_empty() { vec![] } else { vec![("idempotency-key", key.as_str())] };
            send_json("PUT", &url, &token, &headers, &body).await
        }
    };
    let attempts = shop.provider.attempts();
    assert_eq!(
        code(&change(&ann, &subscriptions[0], "", "tok_approve").await),
        (400, "idempotency_key_required".into())
    );
    assert_eq!(code(&change(&ann, &subscriptions[0], "c0", " ").await), (400, "invalid_payment_token".into()));
    assert_eq!(change(&bo, &subscriptions[0], "c0", "tok_approve").await.status, 404, "not bo's");
    assert_eq!(shop.provider.attempts(), attempts);

    // A card that pays: charged at once, active again from the unpaid period's start.
    let paid = change(&ann, &subscriptions[0], "c1", "tok_approve").await;
    assert_eq!(paid.status, 200, "{}", paid.text());
    let view = paid.json();
    assert_eq!((view["state"].as_str(), view["current_period_start"].as_i64()), (Some("active"), Some(due)));
    assert!(view["grace_until"].is_null());
    assert_eq!(shop.provider.attempts(), attempts + 1);
    // Retried under the same key, or sent again under another: no second charge.
    let replay = change(&ann, &subscriptions[0], "c1", "tok_approve").await;
    assert_eq!((replay.status, replay.json()), (200, view.clone()));
    assert_eq!(change(&ann, &subscriptions[0], "c2", "tok_approve").await.json()["state"], "active");
    assert_eq!(shop.provider.attempts(), attempts + 1);
    assert_eq!(shop.play(&ann, None).await.status, 200);

    // A declined card leaves it past due; a card that confirms later waits for its webhook, and meanwhile another
    // card charges nothing (one charge at a time for the unpaid renewal).
    let bo_id = &subscriptions[1];
    let declined = change(&bo, bo_id, "d1", "tok_decline").await;
    assert_eq!(declined.json()["state"], "past_due", "{}", declined.text());
    let waiting = change(&bo, bo_id, "d2", "tok_async").await;
    assert_eq!(waiting.json()["state"], "past_due", "{}", waiting.text());
    let before = shop.provider.attempts();
    assert_eq!(change(&bo, bo_id, "d3", "tok_approve").await.json()["state"], "past_due");
    assert_eq!(shop.provider.attempts(), before, "no charge while one waits for the provider");
    let pending = shop
        .provider
        .charges()
        .into_iter()
        .find(|c| c.token == "tok_async" && c.outcome == marquee_commerce::provider::ChargeOutcome::Pending)
        .expect("the new card's pending charge");
    let (headers, body) = shop.provider.settle(&pending.id, true, shop.now_ms());
    assert_eq!(webhook(&shop, &headers, &body).await.json()["status"], "applied");
    assert_eq!(shop.get(&bo, &format!("/v1/subscriptions/{bo_id}")).await["state"], "active");

    // An ended subscription takes no card.
    let canceled = call("POST", &shop.url(&format!("/v1/subscriptions/{bo_id}/cancel")), &bo, None).await;
    assert_eq!(canceled.status, 200, "{}", canceled.text());
    assert_eq!(code(&change(&bo, bo_id, "d4", "tok_approve").await), (409, "subscription_ended".into()));
    // Ann's next renewal is charged to her new card.
    let next = view["current_period_end"].as_i64().unwrap();
    shop.clock.set(next);
    assert_eq!(shop.commerce.renew_due(&shop.api.db, next).await.unwrap().renewed, 1);
    shop.api.stop().await;
});

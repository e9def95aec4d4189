//! schemathesis (installed by `scripts/install-deps.sh --test`) against the whole API as `marquee api` serves
//! it: the control API with every satellite mounted and glued by `marquee::satellites::mount_with`, one OpenAPI
//! document. Generated valid and invalid requests to every operation of that document, as an admin; it fails
//! on any 5xx, any status or body the document does not list, and any invalid request accepted, and checks that
//! no operation was left out. On SQLite (the per-crate runs cover PostgreSQL). Settings beside this file
//! (`tests/schemathesis/mounted.toml`).
//!
//! The webhook dispatcher is not started: the generated webhook URLs must never be called.

use std::path::PathBuf;
use std::time::Duration;

use marquee::satellites::{mount_with, Parts};
use marquee_control_api::auth::Role;
use marquee_control_api::playback::Playback;
use marquee_control_api::testing::*;
use serde_json::{json, Value};

fn settings() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/mounted.toml")
}

/// The control API's hooks (tus's content type).
fn hooks() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../control-api/tests/schemathesis/hooks.py")
}

/// A request that must answer `status`; its JSON (null when empty).
async fn expect(api: &TestApi, status: u16, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let answer = call(method, &api.url(path), token, body.as_ref()).await;
    assert_eq!(answer.status, status, "{method} {path}: {}", answer.text());
    if answer.body.is_empty() {
        Value::Null
    } else {
        answer.json()
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id: {value}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mounted_api_answers_as_its_openapi_document_says() {
    schemathesis::command();
    let text = marquee_signing::generate_key_file_toml("k1").unwrap();
    let keys = marquee_signing::KeyRing::from_toml("keys.toml", &text).unwrap();
    let api = TestApi::start_mounted(
        TestDatabase::new(Engine::Sqlite),
        |_| {},
        false,
        move |db| {
            let mounted = mount_with(db, Parts::default());
            let playback = Playback {
                keys,
                base_url: "https://cdn.example.com".into(),
                ttl: Duration::from_secs(3600),
                entitlements: mounted.entitlements,
            };
            (mounted.satellites, Some(playback))
        },
    )
    .await;
    let admin = api.signed_in("schemathesis@example.com", Role::Admin).await;
    let key = expect(&api, 201, "POST", "/v1/api-keys", &admin, Some(json!({"name": "schemathesis"}))).await;
    let key = key["key"].as_str().unwrap().to_owned();

    // The control API's: what is revoked and demoted instead of the run's own key and user, a ready asset, a
    // webhook endpoint (never called), and two unfinished uploads.
    let spare_user = api.user("spare@example.com", "a good long password", Role::Creator).await;
    let spare = expect(&api, 201, "POST", "/v1/api-keys", &admin, Some(json!({"name": "spare"}))).await;
    let spare_key = spare["api_key"]["id"].as_str().unwrap().to_owned();
    let (asset, _) = api.tus_upload(&admin, 4, b"data").await;
    api.published(&asset).await;
    let endpoint = json!({"url": "https://hooks.example.com/marquee", "description": "never called"});
    expect(&api, 201, "POST", "/v1/webhooks", &admin, Some(endpoint)).await;
    let (_, resumed) = api.tus_upload(&admin, 1 << 20, b"the first bytes").await;
    let (_, terminated) = api.tus_upload(&admin, 1 << 20, b"").await;

    // The catalog's: a series with a season and an episode, a film with credits and the asset, a title to delete.
    let title = |body: Value| expect(&api, 201, "POST", "/v1/titles", &admin, Some(body));
    let series = id(&title(json!({"kind": "series", "title": "Show", "genres": ["drama"]})).await);
    let season = id(&title(json!({"kind": "season", "title": "S1", "parent_id": series, "number": 1})).await);
    title(json!({"kind": "episode", "title": "E1", "parent_id": season, "number": 1})).await;
    let film = id(&title(json!({"kind": "movie", "title": "Film", "release_year": 2001, "tags": ["drama"]})).await);
    let doomed = id(&title(json!({"kind": "movie", "title": "Doomed"})).await);
    let person = id(&expect(&api, 201, "POST", "/v1/people", &admin, Some(json!({"name": "Someone"}))).await);
    let credits = json!({"credits": [{"person_id": person, "kind": "cast", "character": "Them"}]});
    expect(&api, 200, "PUT", &format!("/v1/titles/{film}/credits"), &admin, Some(credits)).await;

    // Commerce's: a plan, an offer on the film, a fulfilled order with the subscription it made.
    let plan = json!({"name": "All", "price": {"amount_minor": 999, "currency": "EUR"}, "period": "month",
        "unlocks": {"kind": "catalog"}});
    let plan = id(&expect(&api, 201, "POST", "/v1/plans", &admin, Some(plan)).await);
    let offer = json!({"title_id": film, "kind": "rental", "price": {"amount_minor": 399, "currency": "EUR"}});
    let offer = id(&expect(&api, 201, "POST", "/v1/offers", &admin, Some(offer)).await);
    let viewer = api.signed_in("vic@example.com", Role::Viewer).await;
    let (auth, body) = (format!("Bearer {viewer}"), json!({"plan_id": plan, "payment_token": "tok_approve"}));
    let headers = [("authorization", auth.as_str()), ("idempotency-key", "seed"), ("content-type", "application/json")];
    let order = send("POST", &api.url("/v1/orders"), &headers, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(order.status, 201, "{}", order.text());
    let (order, subscription) = (id(&order.json()), order.json()["subscription_id"].as_str().unwrap().to_owned());

    let doc = get(&api.url("/openapi.json")).await.json();
    let expected = schemathesis::operations(&doc);
    assert!(expected.len() > 60, "{expected:?}");
    let hooks = hooks();
    let run = schemathesis::run(
        &api.url("/openapi.json"),
        &settings(),
        &[
            ("MARQUEE_API_KEY", key.as_ref()),
            ("MARQUEE_SPARE_KEY_ID", spare_key.as_ref()),
            ("MARQUEE_SPARE_USER_ID", spare_user.as_ref()),
            ("MARQUEE_UPLOAD_ID", resumed.as_ref()),
            ("MARQUEE_TERMINATED_UPLOAD_ID", terminated.as_ref()),
            ("MARQUEE_TITLE_ID", film.as_ref()),
            ("MARQUEE_DELETED_TITLE_ID", doomed.as_ref()),
            ("MARQUEE_PERSON_ID", person.as_ref()),
            ("MARQUEE_ASSET_ID", asset.as_ref()),
            ("MARQUEE_PLAN_ID", plan.as_ref()),
            ("MARQUEE_OFFER_ID", offer.as_ref()),
            ("MARQUEE_ORDER_ID", order.as_ref()),
            ("MARQUEE_SUBSCRIPTION_ID", subscription.as_ref()),
            ("SCHEMATHESIS_HOOKS", hooks.as_os_str()),
        ],
    )
    .await;
    // Every operation of the merged document was tested, none skipped.
    run.assert_tested(&expected);
    api.stop().await;
}

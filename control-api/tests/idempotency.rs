//! `Idempotency-Key` on mutating requests, on SQLite and on PostgreSQL: a retry gets the first answer, the same
//! key with another body is 422, concurrent requests with one key do the work once, and answers holding a
//! secret are never kept.

mod common;

use marquee_control_api::on_both_engines;

use common::{send, Engine, TestApi};
use marquee_control_api::auth::Role;
use serde_json::json;

async fn post(api: &TestApi, path: &str, token: &str, key: &str, body: &serde_json::Value) -> common::Answer {
    let auth = format!("Bearer {token}");
    send(
        "POST",
        &api.url(path),
        &[("authorization", &auth), ("content-type", "application/json"), ("idempotency-key", key)],
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

on_both_engines!(a_retry_gets_the_first_answer, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let admin = api.signed_in("ada@example.com", Role::Admin).await;
    let body = json!({"email": "cora@example.com", "password": "creator password", "role": "creator"});
    let first = post(&api, "/v1/users", &admin, "make-cora-1", &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = post(&api, "/v1/users", &admin, "make-cora-1", &body).await;
    assert_eq!(again.status, 201, "the retry is not a 409 email_taken: {}", again.text());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json(), first.json(), "the same user, not a second one");
    assert_eq!(marquee_control_api::auth::store::user_count(&api.db).await.unwrap(), 2);

    // The same key with another body is refused; a new key does the work (and meets the taken email).
    let other = json!({"email": "olga@example.com", "password": "creator password", "role": "creator"});
    let reused = post(&api, "/v1/users", &admin, "make-cora-1", &other).await;
    assert_eq!((reused.status, reused.json()["error"]["code"].as_str()), (422, Some("idempotency_key_reused")));
    let fresh = post(&api, "/v1/users", &admin, "make-cora-2", &body).await;
    assert_eq!((fresh.status, fresh.json()["error"]["code"].as_str()), (409, Some("email_taken")));

    // Keys are per caller: another admin's same key is theirs.
    let second_admin = api.signed_in("bea@example.com", Role::Admin).await;
    let theirs = post(&api, "/v1/users", &second_admin, "make-cora-1", &other).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text());
    api.stop().await;
});

on_both_engines!(concurrent_requests_with_one_key_do_the_work_once, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let admin = api.signed_in("ada@example.com", Role::Admin).await;
    let body = json!({"email": "cora@example.com", "password": "creator password", "role": "creator"});
    let answers =
        futures_util::future::join_all((0..8).map(|_| post(&api, "/v1/users", &admin, "one-key", &body))).await;
    let created: Vec<_> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty(), "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    let ids: std::collections::HashSet<String> =
        created.iter().map(|a| a.json()["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1, "one user however many answers said 201");
    for answer in &answers {
        // The others got the first answer or were told the first request was still running.
        assert!(
            answer.status == 201 || answer.json()["error"]["code"] == "idempotency_key_in_use",
            "{} {}",
            answer.status,
            answer.text()
        );
    }
    assert_eq!(marquee_control_api::auth::store::user_count(&api.db).await.unwrap(), 2);
    api.stop().await;
});

on_both_engines!(an_answer_with_a_secret_is_never_kept, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let first = post(&api, "/v1/api-keys", &creator, "key-1", &json!({"name": "ingest"})).await;
    assert_eq!(first.status, 201);
    let secret = first.json()["key"].as_str().unwrap().to_owned();
    let again = post(&api, "/v1/api-keys", &creator, "key-1", &json!({"name": "ingest"})).await;
    assert_eq!((again.status, again.json()["error"]["code"].as_str()), (409, Some("idempotency_key_used")));
    assert!(!again.text().contains(&secret));
    let stored: Vec<Option<String>> =
        sqlx::query_scalar("SELECT response_body FROM idempotency_keys").fetch_all(api.db.pool()).await.unwrap();
    assert_eq!(stored, [None], "the key is not kept at rest");
    let listed = common::call("GET", &api.url("/v1/api-keys"), &creator, None).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "one key made");
    let bad = post(&api, "/v1/api-keys", &creator, &"k".repeat(300), &json!({"name": "x"})).await;
    assert_eq!((bad.status, bad.json()["error"]["code"].as_str()), (400, Some("invalid_idempotency_key")));
    api.stop().await;
});

on_both_engines!(requests_without_a_caller_are_not_idempotent, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    api.user("cora@example.com", "a good long password", Role::Creator).await;
    let admin = api.signed_in("ada@example.com", Role::Admin).await;
    let anonymous = |path: &str, key: &'static str, body: &serde_json::Value| {
        let (url, body) = (api.url(path), serde_json::to_vec(body).unwrap());
        async move { send("POST", &url, &[("content-type", "application/json"), ("idempotency-key", key)], body).await }
    };
    // Sign-ins with one key are two sign-ins, and their tokens are not kept anywhere.
    let credentials = json!({"email": "cora@example.com", "password": "a good long password"});
    let first = anonymous("/v1/auth/login", "login-1", &credentials).await;
    let second = anonymous("/v1/auth/login", "login-1", &credentials).await;
    assert_eq!((first.status, second.status), (200, 200), "{}", second.text());
    assert_ne!(first.json()["refresh_token"], second.json()["refresh_token"]);
    // A request that needs a caller is refused as unsigned, whatever another client did with the same key.
    let user = json!({"email": "olga@example.com", "password": "a good long password", "role": "creator"});
    let refused = anonymous("/v1/users", "login-1", &user).await;
    assert_eq!((refused.status, refused.json()["error"]["code"].as_str()), (401, Some("unauthorized")));
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys").fetch_one(api.db.pool()).await.unwrap();
    assert_eq!(kept, 0, "nothing kept for callers nobody knows");
    // A method the path does not have is 405, before the key (used already, for another request) is looked at.
    assert_eq!(post(&api, "/v1/users", &admin, "admin-1", &user).await.status, 201);
    let put = send(
        "PUT",
        &api.url("/v1/api-keys"),
        &[
            ("authorization", &format!("Bearer {admin}")),
            ("content-type", "application/json"),
            ("idempotency-key", "admin-1"),
        ],
        serde_json::to_vec(&user).unwrap(),
    )
    .await;
    assert_eq!(put.status, 405, "{}", put.text());
    assert_eq!(put.json()["error"]["code"], "method_not_allowed");
    let mut allowed: Vec<&str> = put.headers["allow"].to_str().unwrap().split(',').collect();
    allowed.sort_unstable();
    assert_eq!(allowed, ["GET", "HEAD", "POST"]);
    api.stop().await;
});

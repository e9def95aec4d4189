//! `Idempotency-Key` on mutating requests, on SQLite and on PostgreSQL: a retry gets the first answer, the same
//! key with another body is 422, concurrent requests with one key do the work once, and answers holding a
//! secret are never kept.

mod common;

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

on_both_engines!(token_pairs_are_never_kept, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    api.user("cora@example.com", "a good long password", Role::Creator).await;
    let credentials = json!({"email": "cora@example.com", "password": "a good long password"});
    let login = |key: &'static str| {
        let body = serde_json::to_vec(&credentials).unwrap();
        let url = api.url("/v1/auth/login");
        async move { send("POST", &url, &[("content-type", "application/json"), ("idempotency-key", key)], body).await }
    };
    let first = login("login-1").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let refresh_token = first.json()["refresh_token"].as_str().unwrap().to_owned();
    let again = login("login-1").await;
    assert_eq!((again.status, again.json()["error"]["code"].as_str()), (409, Some("idempotency_key_used")));
    let refresh = json!({"refresh_token": refresh_token});
    let rotated = send(
        "POST",
        &api.url("/v1/auth/refresh"),
        &[("content-type", "application/json"), ("idempotency-key", "refresh-1")],
        serde_json::to_vec(&refresh).unwrap(),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    // No token is kept in plain text.
    let kept: Vec<Option<String>> =
        sqlx::query_scalar("SELECT response_body FROM idempotency_keys").fetch_all(api.db.pool()).await.unwrap();
    assert_eq!(kept, [None, None], "both answers are known, neither kept");
    api.stop().await;
});

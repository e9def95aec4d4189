//! NUL characters in what a client sends (JSON strings, path segments, query values) are refused with 400 on
//! both engines, before anything reaches the database: PostgreSQL cannot store NUL in text (it answered 500
//! here before), and no email, name, URL or id has one.

mod common;

use marquee_control_api::on_both_engines;

use common::{call, post_json, Engine, TestApi};
use marquee_control_api::auth::Role;

on_both_engines!(nul_characters_are_refused_with_400, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let admin = api.signed_in("ada@example.com", Role::Admin).await;
    let refused = |answer: common::Answer, code: &str| {
        assert_eq!(answer.status, 400, "{}", answer.text());
        let body = answer.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("NUL"), "{body}");
    };

    let nul_email = serde_json::json!({"email": "a\u{0}@example.com", "password": "a good long password"});
    refused(post_json(&api.url("/v1/auth/login"), &[], &nul_email).await, "invalid_body");
    refused(post_json(&api.url("/v1/auth/register"), &[], &nul_email).await, "invalid_body");
    let nul_name = serde_json::json!({"name": "ingest\u{0}"});
    refused(call("POST", &api.url("/v1/api-keys"), &admin, Some(&nul_name)).await, "invalid_body");
    refused(call("GET", &api.url("/v1/assets/a%00b"), &admin, None).await, "invalid_path");
    refused(call("GET", &api.url("/v1/assets?after=a%00b"), &admin, None).await, "invalid_query");

    // Nothing was stored, and the same requests without NUL are answered as usual.
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(api.db.pool()).await.unwrap();
    assert_eq!(users, 1, "only the admin");
    let escaped = serde_json::json!({"name": "ingest \\u0000 (a backslash, then text)"});
    let made = call("POST", &api.url("/v1/api-keys"), &admin, Some(&escaped)).await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.json()["api_key"]["name"], "ingest \\u0000 (a backslash, then text)");
    assert_eq!(call("GET", &api.url("/v1/assets/a%2500b"), &admin, None).await.status, 404);
    api.stop().await;
});

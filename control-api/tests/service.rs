//! The API as a service, on both engines: admin endpoints, the OpenAPI document, the error format with
//! request ids, and what happens to a SQLite file a second API tries to open.

mod common;

use marquee_control_api::on_both_engines;

use common::{get, send, Engine, TestApi};

on_both_engines!(admin_endpoints_answer, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let health = get(&api.url("/healthz")).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let ready = get(&api.url("/readyz")).await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    let metrics = get(&api.url("/metrics")).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text().contains("marquee_api_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"),
        "{}",
        metrics.text()
    );
    api.stop().await;
});

on_both_engines!(errors_are_json_with_the_request_id, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let answer = get(&api.url("/v1/no-such-thing")).await;
    assert_eq!(answer.status, 404);
    let id = answer.headers.get("x-request-id").expect("every response has a request id").to_str().unwrap().to_string();
    let body = answer.json();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["request_id"], id.as_str());
    // A client's own request id is kept.
    let answer = send("GET", &api.url("/v1/no-such-thing"), &[("x-request-id", "client-chosen-1")], Vec::new()).await;
    assert_eq!(answer.headers["x-request-id"], "client-chosen-1");
    assert_eq!(answer.json()["error"]["request_id"], "client-chosen-1");
    api.stop().await;
});

on_both_engines!(openapi_document_is_served, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let answer = get(&api.url("/openapi.json")).await;
    assert_eq!(answer.status, 200);
    let doc = answer.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object(), "{doc}");
    api.stop().await;
});

on_both_engines!(migrations_apply_once_across_restarts, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let database = api.stop().await;
    // A second start on the same database finds every migration applied and applies none again.
    let api = TestApi::start_on(database).await;
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(api.db.pool()).await.unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap().count();
    assert_eq!(applied, i64::try_from(files).unwrap());
    api.stop().await;
});

#[tokio::test]
async fn a_sqlite_database_has_one_owner() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("api.db").display());
    let first = marquee_control_api::Database::connect(&url).await.unwrap();
    let second = marquee_control_api::Database::connect(&url).await.unwrap_err();
    assert!(second.to_string().contains("in use by another `marquee api`"), "{second}");
    drop(first);
    marquee_control_api::Database::connect(&url).await.expect("free again once the first owner is gone");
}

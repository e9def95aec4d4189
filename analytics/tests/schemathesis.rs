//! schemathesis (installed by `scripts/install-deps.sh --test`) against the analytics satellite's operations,
//! on both engines: generated valid and invalid requests to each as an admin; it fails on any 5xx, any status
//! or body the OpenAPI document does not list, and any invalid request accepted. Settings beside this file
//! (`tests/schemathesis/schemathesis.toml`).

use std::path::PathBuf;

use marquee_analytics::{Analytics, AnalyticsSettings};
use marquee_control_api::auth::Role;
use marquee_control_api::on_both_engines;
use marquee_control_api::testing::*;
use marquee_control_api::Satellites;

fn settings() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml")
}

on_both_engines!(the_analytics_answer_as_the_openapi_document_says, |engine: Engine| async move {
    schemathesis::command();
    let api =
        TestApi::start_with_satellites(engine, Satellites::new().with(Analytics::new(AnalyticsSettings::default())))
            .await;
    let admin = api.signed_in("schemathesis@example.com", Role::Admin).await;
    let created =
        call("POST", &api.url("/v1/api-keys"), &admin, Some(&serde_json::json!({"name": "schemathesis"}))).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let key = created.json()["key"].as_str().unwrap().to_owned();
    let asset = api.uploaded(&admin).await;

    let run = schemathesis::run(
        &api.url("/openapi.json"),
        &settings(),
        &[("MARQUEE_API_KEY", key.as_ref()), ("MARQUEE_ASSET_ID", asset.as_ref())],
    )
    .await;
    run.assert_tested(&[
        "POST /v1/beacons",
        "GET /v1/analytics/assets/{id}",
        "GET /v1/analytics/titles/{id}",
        "GET /v1/titles/{id}/similar",
        "GET /v1/me/recommendations",
        "GET /v1/me/continue-watching",
    ]);
    api.stop().await;
});

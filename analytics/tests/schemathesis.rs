//! schemathesis (installed by `scripts/install-deps.sh --test`) against the analytics satellite's operations,
//! on both engines: generated valid and invalid requests to each as an admin; it fails on any 5xx, any status
//! or body the OpenAPI document does not list, and any invalid request accepted. Settings beside this file
//! (`tests/schemathesis/schemathesis.toml`).

use std::path::PathBuf;
use std::process::Command;

use marquee_analytics::{Analytics, AnalyticsSettings};
use marquee_control_api::auth::Role;
use marquee_control_api::on_both_engines;
use marquee_control_api::testing::*;
use marquee_control_api::Satellites;

fn settings() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml")
}

fn schemathesis() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let st = PathBuf::from(home).join(".cache/marquee-tools/schemathesis/bin/st");
    assert!(st.is_file(), "schemathesis is not installed ({}): run `scripts/install-deps.sh --test`", st.display());
    st
}

on_both_engines!(the_analytics_answer_as_the_openapi_document_says, |engine: Engine| async move {
    let st = schemathesis();
    let api =
        TestApi::start_with_satellites(engine, Satellites::new().with(Analytics::new(AnalyticsSettings::default())))
            .await;
    let admin = api.signed_in("schemathesis@example.com", Role::Admin).await;
    let created =
        call("POST", &api.url("/v1/api-keys"), &admin, Some(&serde_json::json!({"name": "schemathesis"}))).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let key = created.json()["key"].as_str().unwrap().to_owned();
    let asset = api.uploaded(&admin).await;

    let work = tempfile::tempdir().unwrap();
    let junit = work.path().join("junit.xml");
    let mut command = Command::new(&st);
    command
        .current_dir(work.path())
        .env("MARQUEE_API_KEY", &key)
        .env("MARQUEE_ASSET_ID", &asset)
        .arg("--config-file")
        .arg(settings())
        .arg("run")
        .arg(api.url("/openapi.json"))
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found answers outside the OpenAPI document:\n{printed}");
    let report = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit report ({e}):\n{printed}"));
    for operation in [
        "POST /v1/beacons",
        "GET /v1/analytics/assets/{id}",
        "GET /v1/analytics/titles/{id}",
        "GET /v1/titles/{id}/similar",
        "GET /v1/me/recommendations",
    ] {
        assert!(report.contains(&format!("name=\"{operation}\"")), "{operation} untested:\n{printed}");
    }
    assert!(!report.contains("<skipped"), "{report}\n{printed}");
    api.stop().await;
});

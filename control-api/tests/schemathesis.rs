//! schemathesis (PyPI, installed by `scripts/install-deps.sh --test`) against the running API, on both
//! engines: it reads `/openapi.json`, sends generated requests (valid ones, and invalid ones: wrong types,
//! missing or unknown fields, odd strings) to every operation as an admin, and fails on any 5xx, any status
//! code the document does not list for the operation, any response whose body or content type is outside the
//! document, any invalid request the API accepts, a missing required header (the credential) not refused, and
//! a method the path does not have answered otherwise than 405. Bounded examples and a fixed seed keep a run
//! short and repeatable (`tests/schemathesis/schemathesis.toml`).
//!
//! The webhook dispatcher is not started: the generated webhook URLs must never be called.

mod common;

use marquee_control_api::on_both_engines;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{call, get, schemathesis, Engine, TestApi};
use marquee_control_api::auth::Role;
use marquee_control_api::playback::{NoEntitlements, Playback};
use marquee_signing::KeyRing;

/// schemathesis's settings (checks, seed, examples) and hooks, beside this file.
fn settings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis")
}

/// Something for the operations on one thing to find (schemathesis takes ids from the lists): a ready asset with
/// its events, and a webhook endpoint (never called: no dispatcher runs). The ids of two unfinished uploads
/// (nothing lists uploads), one for HEAD and PATCH and one for DELETE, to pass to schemathesis.
async fn seed(api: &TestApi, token: &str) -> (String, String) {
    let (asset, _) = api.tus_upload(token, 4, b"data").await;
    let asset = asset.as_str();
    // What a worker's completion does to it.
    api.published(asset).await;
    let endpoint = serde_json::json!({"url": "https://hooks.example.com/marquee", "description": "never called"});
    let webhook = call("POST", &api.url("/v1/webhooks"), token, Some(&endpoint)).await;
    assert_eq!(webhook.status, 201, "{}", webhook.text());
    let (_, resumed) = api.tus_upload(token, 1 << 20, b"the first bytes").await;
    let (_, terminated) = api.tus_upload(token, 1 << 20, b"").await;
    (resumed, terminated)
}

on_both_engines!(the_api_answers_as_its_openapi_document_says, |engine: Engine| async move {
    schemathesis::command();
    let playback = Playback {
        keys: KeyRing::from_toml("keys.toml", &marquee_signing::generate_key_file_toml("k1").unwrap()).unwrap(),
        base_url: "https://cdn.example.com".into(),
        ttl: Duration::from_secs(3600),
        entitlements: Arc::new(NoEntitlements),
    };
    let api = TestApi::start_with_playback(engine, playback).await;
    // An admin API key: it reaches every operation, and neither logout nor a password change ends it.
    let token = api.signed_in("schemathesis@example.com", Role::Admin).await;
    let created =
        call("POST", &api.url("/v1/api-keys"), &token, Some(&serde_json::json!({"name": "schemathesis"}))).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let key = created.json()["key"].as_str().unwrap().to_owned();
    // What schemathesis revokes and demotes instead (see schemathesis.toml).
    let spare_user = api.user("spare@example.com", "a good long password", Role::Creator).await;
    let spare = call("POST", &api.url("/v1/api-keys"), &token, Some(&serde_json::json!({"name": "spare"}))).await;
    assert_eq!(spare.status, 201, "{}", spare.text());
    let spare_key = spare.json()["api_key"]["id"].as_str().unwrap().to_owned();
    let (resumed_upload, terminated_upload) = seed(&api, &token).await;
    let doc = get(&api.url("/openapi.json")).await.json();
    let expected = schemathesis::operations(&doc);
    assert!(expected.len() > 20, "{expected:?}");

    let hooks = settings_dir().join("hooks.py");
    let run = schemathesis::run(
        &api.url("/openapi.json"),
        &settings_dir().join("schemathesis.toml"),
        &[
            ("MARQUEE_API_KEY", key.as_ref()),
            ("MARQUEE_SPARE_KEY_ID", spare_key.as_ref()),
            ("MARQUEE_SPARE_USER_ID", spare_user.as_ref()),
            ("MARQUEE_UPLOAD_ID", resumed_upload.as_ref()),
            ("MARQUEE_TERMINATED_UPLOAD_ID", terminated_upload.as_ref()),
            ("SCHEMATHESIS_HOOKS", hooks.as_os_str()),
        ],
    )
    .await;
    // Every operation of the document was tested, none skipped for want of something schemathesis could send.
    run.assert_tested(&expected);
    api.stop().await;
});

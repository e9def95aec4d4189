//! schemathesis (installed by `scripts/install-deps.sh --test`) against the catalog's operations, on both
//! engines: generated valid and invalid requests to every catalog operation as an admin; it fails on any 5xx,
//! any status or body the OpenAPI document does not list, and any invalid request accepted. Settings beside
//! this file (`tests/schemathesis/schemathesis.toml`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use marquee_control_api::on_both_engines;

fn settings() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml")
}

fn schemathesis() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let st = PathBuf::from(home).join(".cache/marquee-tools/schemathesis/bin/st");
    assert!(st.is_file(), "schemathesis is not installed ({}): run `scripts/install-deps.sh --test`", st.display());
    st
}

on_both_engines!(the_catalog_answers_as_its_openapi_document_says, |engine: Engine| async move {
    let st = schemathesis();
    let w = World::start(engine).await;
    let admin = w.api.signed_in("schemathesis@example.com", Role::Admin).await;
    let created = w.expect(201, "POST", "/v1/api-keys", &admin, Some(json!({"name": "schemathesis"}))).await;
    let key = created["key"].as_str().unwrap().to_owned();
    // Something to find: a series with a season and an episode, a film with credits, one title to delete.
    let series = id(&w.title(&admin, json!({"kind": "series", "title": "Show", "genres": ["drama"]})).await);
    let season = id(&w.title(&admin, json!({"kind": "season", "title": "S1", "parent_id": series, "number": 1})).await);
    w.title(&admin, json!({"kind": "episode", "title": "E1", "parent_id": season, "number": 1})).await;
    let film = id(&w.title(&admin, json!({"kind": "movie", "title": "Film", "release_year": 2001})).await);
    let person = w.person(&admin, "Someone").await;
    w.expect(
        200,
        "PUT",
        &format!("/v1/titles/{film}/credits"),
        &admin,
        Some(json!({"credits": [{"person_id": person, "kind": "cast", "character": "Them"}]})),
    )
    .await;
    let doomed = id(&w.title(&admin, json!({"kind": "movie", "title": "Doomed"})).await);

    let work = tempfile::tempdir().unwrap();
    let junit = work.path().join("junit.xml");
    let mut command = Command::new(&st);
    command
        .current_dir(work.path())
        .env("MARQUEE_API_KEY", &key)
        .env("MARQUEE_TITLE_ID", &film)
        .env("MARQUEE_DELETED_TITLE_ID", &doomed)
        .env("MARQUEE_PERSON_ID", &person)
        .arg("--config-file")
        .arg(settings())
        .arg("run")
        .arg(w.url("/openapi.json"))
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found answers outside the OpenAPI document:\n{printed}");
    let report = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit report ({e}):\n{printed}"));
    for operation in [
        "GET /v1/titles",
        "POST /v1/titles",
        "PATCH /v1/titles/{id}",
        "PUT /v1/titles/{id}/credits",
        "GET /v1/people",
        "GET /v1/home",
    ] {
        assert!(report.contains(&format!("name=\"{operation}\"")), "{operation} untested:\n{printed}");
    }
});

//! schemathesis (installed by `scripts/install-deps.sh --test`) against the catalog's operations, on both
//! engines: generated valid and invalid requests to every catalog operation as an admin; it fails on any 5xx,
//! any status or body the OpenAPI document does not list, and any invalid request accepted. Settings beside
//! this file (`tests/schemathesis/schemathesis.toml`).

mod common;

use std::path::PathBuf;

use common::*;
use marquee_control_api::on_both_engines;

fn settings() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml")
}

on_both_engines!(the_catalog_answers_as_its_openapi_document_says, |engine: Engine| async move {
    schemathesis::command();
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

    let run = schemathesis::run(
        &w.url("/openapi.json"),
        &settings(),
        &[
            ("MARQUEE_API_KEY", key.as_ref()),
            ("MARQUEE_TITLE_ID", film.as_ref()),
            ("MARQUEE_DELETED_TITLE_ID", doomed.as_ref()),
            ("MARQUEE_PERSON_ID", person.as_ref()),
        ],
    )
    .await;
    run.assert_tested(&[
        "GET /v1/titles",
        "POST /v1/titles",
        "PATCH /v1/titles/{id}",
        "PUT /v1/titles/{id}/credits",
        "GET /v1/people",
        "GET /v1/home",
    ]);
});

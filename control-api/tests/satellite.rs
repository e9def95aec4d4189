//! A satellite mounted beside the control API: its routes know the caller, sit behind the API's
//! idempotency and error format, appear in `/openapi.json`, and its background task runs until the API stops.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use common::{call, get, send, Engine, TestApi, TestDatabase};
use marquee_control_api::auth::{Caller, Role};
use marquee_control_api::{on_both_engines, AppState, Satellite, Satellites};
use serde_json::json;

/// Counts the notes made and the background task's ends.
#[derive(Debug, Default)]
struct Counts {
    notes: AtomicUsize,
    stopped: AtomicUsize,
}

#[derive(Debug, Clone)]
struct Notes(Arc<Counts>);

#[derive(Clone)]
struct NotesState {
    app: AppState,
    counts: Arc<Counts>,
}

impl AsRef<AppState> for NotesState {
    fn as_ref(&self) -> &AppState {
        &self.app
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(make_note))]
struct NotesDoc;

/// Makes a note.
#[utoipa::path(post, path = "/v1/notes", security(("bearer" = [])), responses((status = 200, description = "the note")))]
async fn make_note(State(state): State<NotesState>, caller: Caller) -> Json<serde_json::Value> {
    let number = state.counts.notes.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({"by": caller.user_id, "number": number}))
}

impl Satellite for Notes {
    fn name(&self) -> &'static str {
        "notes"
    }

    fn routes(&self, app: &AppState) -> Router<AppState> {
        Router::new()
            .route("/notes", post(make_note))
            .with_state(NotesState { app: app.clone(), counts: self.0.clone() })
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <NotesDoc as utoipa::OpenApi>::openapi()
    }

    fn spawn(
        &self,
        _: &AppState,
        mut stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let counts = self.0.clone();
        vec![tokio::spawn(async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            counts.stopped.fetch_add(1, Ordering::SeqCst);
        })]
    }
}

on_both_engines!(a_satellite_serves_beside_the_api, |engine: Engine| async move {
    let counts = Arc::new(Counts::default());
    let api = TestApi::start_with_satellites(engine, Satellites::new().with(Notes(counts.clone()))).await;
    let token = api.signed_in("nell@example.com", Role::Creator).await;

    // Its route knows the caller, and refuses anonymous requests in the API's error format.
    let made = call("POST", &api.url("/v1/notes"), &token, None).await;
    assert_eq!(made.status, 200, "{}", made.text());
    assert_eq!(made.json()["number"], 1);
    let anonymous = send("POST", &api.url("/v1/notes"), &[], Vec::new()).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["error"]["code"], "unauthorized");
    assert!(anonymous.json()["error"]["request_id"].is_string());

    // The API's idempotency applies: the same key answers the first note again without making another.
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("idempotency-key", "note-1")];
    let first = send("POST", &api.url("/v1/notes"), &headers, Vec::new()).await;
    let again = send("POST", &api.url("/v1/notes"), &headers, Vec::new()).await;
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.json(), again.json());
    assert_eq!(counts.notes.load(Ordering::SeqCst), 2);

    // Documented beside the API's own paths, with the answers of the API's layers.
    let document = get(&api.url("/openapi.json")).await.json();
    assert!(document["paths"]["/v1/assets"].is_object());
    let note = &document["paths"]["/v1/notes"]["post"];
    assert!(note["responses"]["200"].is_object(), "{note}");
    assert!(note["responses"]["422"].is_object(), "the idempotency layer's answer is documented: {note}");

    // Its background task ran until the API stopped, and the API waited for it.
    assert_eq!(counts.stopped.load(Ordering::SeqCst), 0);
    let database: TestDatabase = api.stop().await;
    assert_eq!(counts.stopped.load(Ordering::SeqCst), 1);
    drop(database);
});

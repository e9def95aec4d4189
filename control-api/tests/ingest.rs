//! Ways in besides tus, and the end of abandoned uploads, on both engines: one-shot uploads
//! (`POST /v1/assets/upload`), assets from an `input_url` (`POST /v1/assets`), and upload expiry, both the
//! background task of a running API and its single step at a given time.

mod common;

use marquee_control_api::on_both_engines;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{call, get, recorded_events, send, Answer, Engine, TestApi, TestDatabase};
use marquee_control_api::assets::model::{AssetStatus, PlaybackPolicy};
use marquee_control_api::assets::store::{self as assets, NewAsset};
use marquee_control_api::auth::Role;
use marquee_control_api::clock::TestClock;
use marquee_control_api::db::begin_write;
use marquee_control_api::uploads::expiry::{ExpiryReport, UploadExpiry, UPLOAD_EXPIRED};
use marquee_control_api::uploads::service::{source_key_for, UploadSettings, DEFAULT_LOCK_LEASE_MS};
use marquee_control_api::uploads::{Metadata, NewUpload, UploadService};
use marquee_control_api::Database;
use marquee_storage::ObjectStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TUS: (&str, &str) = ("tus-resumable", "1.0.0");

fn film(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

/// The API's store: the `media` directory beside its database.
fn storage_of(database: &TestDatabase) -> Arc<dyn ObjectStore> {
    marquee_storage::open(database.dir.path().join("media").to_str().unwrap()).unwrap()
}

async fn jobs_of(db: &Database, asset_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM jobs WHERE asset_id = $1").bind(asset_id).fetch_all(db.pool()).await.unwrap()
}

/// The events recorded about one asset, oldest first.
async fn events_of(db: &Database, asset_id: &str) -> Vec<String> {
    recorded_events(db)
        .await
        .into_iter()
        .filter(|(_, id)| id.as_deref() == Some(asset_id))
        .map(|(kind, _)| kind)
        .collect()
}

/// Sends `head` and then `body` on a raw connection and closes the sending side; the status of the answer, if
/// one came before the server closed the connection.
async fn raw_request(api: &TestApi, head: &str, body: &[u8]) -> Option<u16> {
    let mut socket = tokio::net::TcpStream::connect(api.addr).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    socket.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).split(' ').nth(1).and_then(|code| code.parse().ok())
}

// ---- one-shot uploads ----

on_both_engines!(a_one_shot_upload_is_stored_and_queued_like_a_tus_upload, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let auth = format!("Bearer {creator}");
    let data = film(300_000);
    let answer = send(
        "POST",
        &api.url("/v1/assets/upload?playback_policy=public&preset=default&filename=clip.mp4"),
        &[("authorization", &auth), ("content-type", "video/mp4")],
        data.clone(),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let asset = answer.json();
    let id = asset["id"].as_str().unwrap().to_owned();
    assert_eq!((asset["status"].as_str(), asset["playback_policy"].as_str()), (Some("queued"), Some("public")));
    assert_eq!(answer.headers["location"], format!("/v1/assets/{id}").as_str());
    assert!(asset.get("input_url").is_none(), "{asset}");
    // Stored at the key a tus upload's source gets, byte for byte, with nothing left beside it.
    let storage = storage_of(&api.database);
    let key = source_key_for(&id).unwrap();
    assert_eq!(storage.get(&key).await.unwrap(), Bytes::from(data));
    assert_eq!(storage.list("").await.unwrap(), [key]);
    // Queued as a completed tus upload is: its event, its job, in the one transaction.
    assert_eq!(events_of(&api.db, &id).await, ["asset.created", "upload.completed"]);
    assert_eq!(jobs_of(&api.db, &id).await, ["queued"]);
    let read = call("GET", &api.url(&format!("/v1/assets/{id}")), &creator, None).await.json();
    assert_eq!(read["status"], "queued");
    api.stop().await;
});

on_both_engines!(one_shot_uploads_refuse_what_they_cannot_take, |engine: Engine| async move {
    let api = TestApi::start_with(TestDatabase::new(engine), |s| s.max_oneshot_bytes = 1000).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let viewer = api.signed_in("vic@example.com", Role::Viewer).await;
    let url = api.url("/v1/assets/upload");
    let post = |token: String, url: String, body: Vec<u8>| async move {
        send("POST", &url, &[("authorization", &format!("Bearer {token}"))], body).await
    };
    let code =
        |answer: &Answer| (answer.status, answer.json()["error"]["code"].as_str().unwrap_or_default().to_owned());

    assert_eq!(code(&post(creator.clone(), url.clone(), film(1001)).await), (413, "payload_too_large".into()));
    assert_eq!(code(&post(viewer.clone(), url.clone(), film(10)).await), (403, "forbidden".into()));
    let empty =
        send("POST", &url, &[("authorization", &format!("Bearer {creator}")), ("content-length", "0")], Vec::new())
            .await;
    assert_eq!(code(&empty), (400, "empty_body".into()));
    // A request without a body says nothing of its length.
    assert_eq!(code(&post(creator.clone(), url.clone(), Vec::new()).await), (411, "length_required".into()));
    let unknown = post(creator.clone(), format!("{url}?colour=red"), film(10)).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("colour"), "{}", unknown.text());
    let preset = post(creator.clone(), format!("{url}?preset=../../etc"), film(10)).await;
    assert_eq!(code(&preset), (400, "invalid_asset_settings".into()));
    let policy = post(creator.clone(), format!("{url}?playback_policy=open"), film(10)).await;
    assert_eq!(code(&policy), (400, "invalid_asset_settings".into()));
    assert!(recorded_events(&api.db).await.is_empty(), "nothing was made for refused requests");

    // Without a Content-Length the size cannot be checked before reading: 411.
    let head = format!(
        "POST /v1/assets/upload HTTP/1.1\r\nhost: api\r\nauthorization: Bearer {creator}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    assert_eq!(raw_request(&api, &head, b"5\r\nhello\r\n0\r\n\r\n").await, Some(411));
    // Exactly at the limit is fine.
    assert_eq!(post(creator.clone(), url.clone(), film(1000)).await.status, 201);

    // A body that ends before its Content-Length: the asset is removed again, and nothing stays in storage.
    let head = format!(
        "POST /v1/assets/upload HTTP/1.1\r\nhost: api\r\nauthorization: Bearer {creator}\r\n\
         content-length: 900\r\nconnection: close\r\n\r\n"
    );
    let status = raw_request(&api, &head, &film(100)).await;
    assert!(matches!(status, Some(400) | None), "{status:?}");
    // The clean-up runs to its end whether or not the answer reached the client: no asset or upload is left
    // half-made.
    wait_for("the cut-short upload to be removed", || {
        let db = api.db.clone();
        async move {
            let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assets WHERE status = 'waiting_upload'")
                .fetch_one(db.pool())
                .await
                .unwrap();
            let uploads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE completed_at IS NULL")
                .fetch_one(db.pool())
                .await
                .unwrap();
            waiting + uploads == 0
        }
    })
    .await;
    let events = recorded_events(&api.db).await;
    let (_, cut_short) = events.last().unwrap().clone();
    let cut_short = cut_short.unwrap();
    assert_eq!(events_of(&api.db, &cut_short).await, ["asset.created", "asset.deleted"]);
    assert!(jobs_of(&api.db, &cut_short).await.is_empty());
    let storage = storage_of(&api.database);
    assert!(storage.head(&source_key_for(&cut_short).unwrap()).await.is_err());
    assert!(storage.list("uploads/").await.unwrap().is_empty());
    api.stop().await;
});

// ---- input_url ----

on_both_engines!(an_input_url_asset_is_queued_with_its_job, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let body =
        serde_json::json!({"input_url": "https://media.example.com/films/clip.mp4?sig=abc", "preset": "default"});
    let answer = call("POST", &api.url("/v1/assets"), &creator, Some(&body)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let asset = answer.json();
    let id = asset["id"].as_str().unwrap().to_owned();
    assert_eq!(asset["status"], "queued");
    assert_eq!(asset["playback_policy"], "signed");
    assert_eq!(asset["input_url"], "https://media.example.com/films/clip.mp4?sig=abc");
    assert_eq!(answer.headers["location"], format!("/v1/assets/{id}").as_str());
    // Queued in the transaction that made it: its job is there, and no upload ever completed.
    assert_eq!(jobs_of(&api.db, &id).await, ["queued"]);
    assert_eq!(events_of(&api.db, &id).await, ["asset.created"]);
    let row = assets::get(&api.db, &id).await.unwrap().unwrap();
    assert_eq!(row.asset.input_url.as_deref(), Some("https://media.example.com/films/clip.mp4?sig=abc"));
    assert_eq!(row.source_key, None);
    // Its owner sees the URL; another creator does not see the asset at all.
    let read = call("GET", &api.url(&format!("/v1/assets/{id}")), &creator, None).await.json();
    assert_eq!(read["input_url"], asset["input_url"]);
    let other = api.signed_in("otto@example.com", Role::Creator).await;
    assert_eq!(call("GET", &api.url(&format!("/v1/assets/{id}")), &other, None).await.status, 404);
    api.stop().await;
});

on_both_engines!(input_urls_are_checked_and_creates_are_not_duplicated, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let viewer = api.signed_in("vic@example.com", Role::Viewer).await;
    let url = api.url("/v1/assets");
    let create = |token: &str, body: serde_json::Value| {
        let (token, url) = (token.to_owned(), url.clone());
        async move { call("POST", &url, &token, Some(&body)).await }
    };
    let code =
        |answer: &Answer| (answer.status, answer.json()["error"]["code"].as_str().unwrap_or_default().to_owned());

    let unknown = create(&creator, serde_json::json!({"input_url": "https://a.example/x.mp4", "colour": "red"})).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json()["error"]["message"].as_str().unwrap().contains("colour"), "{}", unknown.text());
    let missing = create(&creator, serde_json::json!({"preset": "default"})).await;
    assert_eq!(missing.status, 400);
    assert!(missing.text().contains("input_url"), "{}", missing.text());
    for bad in [
        "ftp://a.example/x.mp4",
        "file:///etc/passwd",
        "x.mp4",
        "http://127.0.0.1:9/x.mp4",
        "http://[::1]/x",
        "http://10.1.2.3/x",
    ] {
        let answer = create(&creator, serde_json::json!({"input_url": bad})).await;
        assert_eq!(code(&answer), (400, "invalid_input_url".into()), "{bad}");
    }
    let policy =
        create(&creator, serde_json::json!({"input_url": "https://a.example/x.mp4", "playback_policy": "open"})).await;
    assert_eq!(policy.status, 400);
    let preset = create(&creator, serde_json::json!({"input_url": "https://a.example/x.mp4", "preset": "a b"})).await;
    assert_eq!(code(&preset), (400, "invalid_asset_settings".into()));
    assert_eq!(create(&viewer, serde_json::json!({"input_url": "https://a.example/x.mp4"})).await.status, 403);
    assert!(recorded_events(&api.db).await.is_empty(), "nothing was made for refused requests");

    // A retry with the same Idempotency-Key gets the same asset; no second asset or job is made.
    let body = serde_json::to_vec(&serde_json::json!({"input_url": "https://a.example/x.mp4"})).unwrap();
    let auth = format!("Bearer {creator}");
    let headers =
        [("authorization", auth.as_str()), ("content-type", "application/json"), ("idempotency-key", "film-1")];
    let first = send("POST", &url, &headers, body.clone()).await;
    let again = send("POST", &url, &headers, body).await;
    assert_eq!((first.status, again.status), (201, 201), "{}", again.text());
    assert_eq!(first.json()["id"], again.json()["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let list = call("GET", &url, &creator, None).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(api.db.pool()).await.unwrap();
    assert_eq!(count, 1);
    api.stop().await;

    // An operator may allow private addresses (a single machine serving its own sources).
    let api = TestApi::start_with(TestDatabase::new(engine), |s| s.allow_private_input_urls = true).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let body = serde_json::json!({"input_url": "http://127.0.0.1:8000/x.mp4"});
    let answer = call("POST", &api.url("/v1/assets"), &creator, Some(&body)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    api.stop().await;
});

on_both_engines!(the_new_endpoints_are_in_the_openapi_document, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let doc = get(&api.url("/openapi.json")).await.json();
    assert!(doc["paths"]["/v1/assets"]["post"].is_object(), "{}", doc["paths"]["/v1/assets"]);
    assert!(doc["paths"]["/v1/assets/upload"]["post"].is_object());
    assert!(doc["components"]["schemas"]["NewAssetFromUrl"].is_object());
    api.stop().await;
});

// ---- expiry ----

/// Waits until `check` holds, asking every 20 ms, for up to 20 s.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_engines!(a_running_api_expires_abandoned_uploads, |engine: Engine| async move {
    let api = TestApi::start_with(TestDatabase::new(engine), |s| {
        s.upload_expiry = Duration::from_secs(1);
        s.upload_expiry_interval = Duration::from_millis(50);
    })
    .await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let auth = format!("Bearer {creator}");
    let abandoned = send(
        "POST",
        &api.url("/v1/uploads"),
        &[
            ("authorization", &auth),
            TUS,
            ("upload-length", "2000"),
            ("content-type", "application/offset+octet-stream"),
        ],
        film(700),
    )
    .await;
    assert_eq!(abandoned.status, 201, "{}", abandoned.text());
    let upload_url = api.url(abandoned.headers["location"].to_str().unwrap());
    let asset_id = abandoned.headers["marquee-asset-id"].to_str().unwrap().to_owned();
    let storage = storage_of(&api.database);
    assert!(!storage.list("uploads/").await.unwrap().is_empty(), "the 700 bytes wait in a tail object");
    assert_eq!(staging_dirs(&api.database), 1);
    // A finished upload does not expire.
    let finished = send("POST", &api.url("/v1/assets/upload"), &[("authorization", &auth)], film(100)).await;
    let finished = finished.json()["id"].as_str().unwrap().to_owned();

    let asset_url = api.url(&format!("/v1/assets/{asset_id}"));
    wait_for("the asset to be errored", || {
        let (asset_url, creator) = (asset_url.clone(), creator.clone());
        async move { call("GET", &asset_url, &creator, None).await.json()["status"] == "errored" }
    })
    .await;
    let asset = call("GET", &asset_url, &creator, None).await.json();
    assert_eq!(asset["error"]["code"], UPLOAD_EXPIRED, "{asset}");
    assert_eq!(events_of(&api.db, &asset_id).await, ["asset.created", "asset.errored"]);
    // The asset errored in the transaction that claimed the upload; the clean-up follows it.
    wait_for("the upload's row to go", || {
        let (db, asset_id) = (api.db.clone(), asset_id.clone());
        async move {
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE asset_id = $1")
                .bind(&asset_id)
                .fetch_one(db.pool())
                .await
                .unwrap();
            rows == 0
        }
    })
    .await;
    assert_eq!(send("HEAD", &upload_url, &[("authorization", &auth), TUS], Vec::new()).await.status, 404);
    assert!(storage.list("uploads/").await.unwrap().is_empty(), "the tail is gone");
    assert_eq!(staging_dirs(&api.database), 0, "the multipart upload was aborted");
    assert_eq!(storage.list("sources/").await.unwrap(), [source_key_for(&finished).unwrap()]);
    let finished = call("GET", &api.url(&format!("/v1/assets/{finished}")), &creator, None).await.json();
    assert_eq!(finished["status"], "queued");
    api.stop().await;
});

/// A database with a store and an upload service whose clock the test sets, and an expiry over both.
struct Expiring {
    database: TestDatabase,
    db: Database,
    storage: Arc<dyn ObjectStore>,
    service: UploadService,
    expiry: UploadExpiry,
    clock: TestClock,
}

impl Expiring {
    async fn new(engine: Engine) -> Self {
        let database = TestDatabase::new(engine);
        let db = Database::connect(&database.url).await.unwrap();
        let storage = storage_of(&database);
        let clock = TestClock::at_system_time();
        let service =
            UploadService::new(db.clone(), storage.clone(), UploadSettings::default()).with_clock(clock.clock());
        let expiry = UploadExpiry::new(db.clone(), service.clone(), Duration::from_secs(60));
        Self { database, db, storage, service, expiry, clock }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// An asset waiting for its upload, and the upload with `written` of its 1000 bytes stored.
    async fn abandoned_upload(&self, written: usize) -> (String, String) {
        let owner = marquee_control_api::auth::store::create_user(
            &self.db,
            &format!("{}@example.com", uuid::Uuid::now_v7()),
            "hash",
            Role::Creator,
            self.now(),
        )
        .await
        .unwrap()
        .id;
        let mut tx = begin_write(self.db.pool()).await.unwrap();
        let new =
            NewAsset { owner_id: owner.clone(), playback_policy: PlaybackPolicy::Signed, preset: "default".into() };
        let asset = assets::insert(&mut tx, &new, self.now()).await.unwrap();
        tx.commit().await.unwrap();
        let upload = self
            .service
            .create(NewUpload {
                storage_key: source_key_for(&asset.id).unwrap(),
                asset_id: asset.id.clone(),
                owner_id: owner,
                length: 1000,
                metadata: Metadata::default(),
            })
            .await
            .unwrap();
        let chunk: Result<Bytes, std::convert::Infallible> = Ok(Bytes::from(film(written)));
        self.service.append(&upload.id, 0, futures_util::stream::iter([chunk]), None).await.unwrap();
        (asset.id, upload.id)
    }

    async fn status(&self, asset_id: &str) -> AssetStatus {
        assets::get(&self.db, asset_id).await.unwrap().unwrap().asset.status
    }
}

/// Multipart uploads the local store is still staging.
fn staging_dirs(database: &TestDatabase) -> usize {
    match std::fs::read_dir(database.dir.path().join("media/.tmp-multipart")) {
        Ok(entries) => entries.count(),
        Err(_) => 0,
    }
}

on_both_engines!(one_expiry_step_at_a_given_time, |engine: Engine| async move {
    let setup = Expiring::new(engine).await;
    let (asset, upload) = setup.abandoned_upload(300).await;
    let expires_at = setup.service.get(&upload).await.unwrap().expires_at;

    assert_eq!(setup.expiry.run_once(expires_at - 1).await.unwrap(), ExpiryReport::default(), "not yet");
    assert_eq!(setup.status(&asset).await, AssetStatus::WaitingUpload);

    let report = setup.expiry.run_once(expires_at).await.unwrap();
    assert_eq!(report, ExpiryReport { expired: 1, assets_errored: 1, cleaned_up: 0 });
    let row = assets::get(&setup.db, &asset).await.unwrap().unwrap().asset;
    assert_eq!(row.status, AssetStatus::Errored);
    assert_eq!(row.error.as_ref().map(|e| e.code.as_str()), Some(UPLOAD_EXPIRED));
    assert_eq!(events_of(&setup.db, &asset).await, ["asset.created", "asset.errored"]);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads").fetch_one(setup.db.pool()).await.unwrap();
    assert_eq!(rows, 0);
    assert!(setup.storage.list("").await.unwrap().is_empty(), "tail and multipart upload are gone");
    assert_eq!(staging_dirs(&setup.database), 0, "the multipart upload was aborted");

    // Nothing is done twice.
    assert_eq!(setup.expiry.run_once(expires_at + 1).await.unwrap(), ExpiryReport::default());
    assert_eq!(events_of(&setup.db, &asset).await, ["asset.created", "asset.errored"]);
});

on_both_engines!(an_interrupted_expiry_is_finished_once_its_lock_lapses, |engine: Engine| async move {
    let setup = Expiring::new(engine).await;
    let (asset, upload) = setup.abandoned_upload(10).await;
    let expires_at = setup.service.get(&upload).await.unwrap().expires_at;
    // An instance claimed the upload and died before cleaning up.
    let claim = setup.service.claim_expired(setup.db.pool(), &upload, expires_at).await.unwrap();
    assert!(claim.is_some());
    assert!(setup.service.claim_expired(setup.db.pool(), &upload, expires_at).await.unwrap().is_none(), "claimed once");
    assert_eq!(setup.expiry.run_once(expires_at + 1).await.unwrap(), ExpiryReport::default(), "its lock holds");
    let report = setup.expiry.run_once(expires_at + DEFAULT_LOCK_LEASE_MS).await.unwrap();
    assert_eq!(report, ExpiryReport { expired: 0, assets_errored: 0, cleaned_up: 1 });
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads").fetch_one(setup.db.pool()).await.unwrap();
    assert_eq!(rows, 0);
    assert!(setup.storage.list("").await.unwrap().is_empty());
    assert_eq!(staging_dirs(&setup.database), 0);
    // This claim was made without the asset's change (as `UploadService::expire` does); the asset is not touched.
    assert_eq!(setup.status(&asset).await, AssetStatus::WaitingUpload);
});

on_both_engines!(instances_expiring_together_act_once, |engine: Engine| async move {
    let setup = Expiring::new(engine).await;
    let mut uploads = Vec::new();
    for _ in 0..6 {
        uploads.push(setup.abandoned_upload(100).await);
    }
    let latest = setup.service.get(&uploads[5].1).await.unwrap().expires_at;
    // A second instance: on PostgreSQL its own pool (API instances share the database); a SQLite file has one
    // owner process, so there the two steps share its pool.
    let other = match engine {
        Engine::Postgres => {
            let db = Database::connect(&setup.database.url).await.unwrap();
            let service = UploadService::new(db.clone(), setup.storage.clone(), UploadSettings::default());
            UploadExpiry::new(db, service, Duration::from_secs(60))
        }
        Engine::Sqlite => setup.expiry.clone(),
    };
    let (a, b) = tokio::join!(setup.expiry.run_once(latest), other.run_once(latest));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.expired + b.expired, 6, "{a:?} {b:?}");
    assert_eq!(a.assets_errored + b.assets_errored, 6, "{a:?} {b:?}");
    for (asset, _) in &uploads {
        assert_eq!(events_of(&setup.db, asset).await, ["asset.created", "asset.errored"], "one event per asset");
        assert_eq!(setup.status(asset).await, AssetStatus::Errored);
    }
    assert!(setup.storage.list("").await.unwrap().is_empty());
    assert_eq!(staging_dirs(&setup.database), 0);
});

#[test]
fn expiry_settings_are_checked() {
    use marquee_control_api::ApiSettings;
    let keys = |api: ApiSettings| api.problems().into_iter().map(|p| p.key).collect::<Vec<_>>();
    assert!(keys(ApiSettings::default()).is_empty());
    assert_eq!(
        keys(ApiSettings { upload_expiry: Duration::from_millis(999), ..ApiSettings::default() }),
        ["upload_expiry"]
    );
    assert_eq!(
        keys(ApiSettings { upload_expiry_interval: Duration::ZERO, ..ApiSettings::default() }),
        ["upload_expiry_interval"]
    );
    let oneshot_over_limit = ApiSettings { max_upload_bytes: 100, max_oneshot_bytes: 101, ..ApiSettings::default() };
    assert_eq!(keys(oneshot_over_limit), ["max_oneshot_bytes"]);
    assert_eq!(keys(ApiSettings { max_oneshot_bytes: 0, ..ApiSettings::default() }), ["max_oneshot_bytes"]);
}

//! For integration tests, here and in the satellites' crates (feature `testing`): a running `marquee api` on
//! SQLite or on a throwaway PostgreSQL server, with the satellites a test mounts, and a small JSON client for
//! it. [`on_both_engines!`](crate::on_both_engines) runs a test body on each engine.

pub mod schemathesis;

use std::net::SocketAddr;

use crate::auth::{now_ms, Role};
use crate::clock::TestClock;
use crate::events::{Dispatcher, DispatcherSettings};
use crate::{Api, ApiSettings, AppState, Database, Satellites};
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use marquee_test_support::postgres::Postgres;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs the test body once on SQLite and once on PostgreSQL, as two tests named `sqlite` and `postgres`
/// inside a module named after the test.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::testing::Engine::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::testing::Engine::Postgres).await
            }
        }
    };
}

/// A database of `engine` for one test, removed (directory) or stopped (server) when dropped.
pub struct TestDatabase {
    pub url: String,
    pub dir: TempDir,
    _postgres: Option<Postgres>,
}

impl TestDatabase {
    pub fn new(engine: Engine) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match engine {
            Engine::Sqlite => {
                Self { url: format!("sqlite:{}", dir.path().join("api.db").display()), dir, _postgres: None }
            }
            Engine::Postgres => {
                let server = tokio::task::block_in_place(Postgres::start);
                Self { url: server.url(), dir, _postgres: Some(server) }
            }
        }
    }
}

/// An API serving on a loopback port, stopped when dropped.
pub struct TestApi {
    pub addr: SocketAddr,
    pub db: Database,
    pub database: TestDatabase,
    /// The API's clock ([`AppState::clock`]): it starts at the system's time and stands still until the test
    /// moves it, for playback and every satellite at once.
    pub clock: TestClock,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl TestApi {
    pub async fn start(engine: Engine) -> Self {
        Self::start_on(TestDatabase::new(engine)).await
    }

    pub async fn start_on(database: TestDatabase) -> Self {
        Self::start_with(database, |_| {}).await
    }

    /// Starts on `database` with the defaults changed by `adjust`.
    pub async fn start_with(database: TestDatabase, adjust: impl FnOnce(&mut ApiSettings)) -> Self {
        Self::start_custom(database, adjust, None, false, Satellites::new()).await
    }

    /// Starts on a new database of `engine` that makes playback URLs with `playback`.
    pub async fn start_with_playback(engine: Engine, playback: crate::playback::Playback) -> Self {
        Self::start_custom(TestDatabase::new(engine), |_| {}, Some(playback), false, Satellites::new()).await
    }

    /// Starts on `database` with the defaults changed by `adjust`, and a webhook dispatcher beside the server
    /// as `marquee api` runs it (its settings from the `webhook_*` settings, its metrics at `/metrics`),
    /// stopped with the server.
    pub async fn start_with_dispatcher(database: TestDatabase, adjust: impl FnOnce(&mut ApiSettings)) -> Self {
        Self::start_custom(database, adjust, None, true, Satellites::new()).await
    }

    /// Starts on a new database of `engine` with `satellites` mounted.
    pub async fn start_with_satellites(engine: Engine, satellites: Satellites) -> Self {
        Self::start_custom(TestDatabase::new(engine), |_| {}, None, false, satellites).await
    }

    /// Starts on `database` with the defaults changed by `adjust`, making playback URLs with `playback` if
    /// given, with a webhook dispatcher if `dispatch`, and with `satellites` mounted.
    pub async fn start_custom(
        database: TestDatabase,
        adjust: impl FnOnce(&mut ApiSettings),
        playback: Option<crate::playback::Playback>,
        dispatch: bool,
        satellites: Satellites,
    ) -> Self {
        Self::start_mounted(database, adjust, dispatch, |_| (satellites, playback)).await
    }

    /// As [`TestApi::start_custom`], with the satellites and playback made by `mount` over the API's state
    /// (as `marquee api` mounts them: satellites glued together need its database and its clock first).
    pub async fn start_mounted(
        database: TestDatabase,
        adjust: impl FnOnce(&mut ApiSettings),
        dispatch: bool,
        mount: impl FnOnce(&AppState) -> (Satellites, Option<crate::playback::Playback>),
    ) -> Self {
        let db = Database::connect(&database.url).await.expect("the database opens and migrates");
        let clock = TestClock::at_system_time();
        let media = database.dir.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        let storage = marquee_storage::open(media.to_str().unwrap()).unwrap();
        let mut settings = ApiSettings { listen: "127.0.0.1:0".parse().unwrap(), ..ApiSettings::default() };
        adjust(&mut settings);
        let mut state = AppState::new(db.clone(), storage, &settings).await.unwrap().with_clock(clock.clock());
        let (satellites, playback) = mount(&state);
        satellites.migrate(&db).await.expect("the satellites' migrations apply");
        if let Some(playback) = playback {
            state = state.with_playback(playback);
        }
        let dispatcher = dispatch.then(|| {
            Dispatcher::new(db.clone(), DispatcherSettings::from(&settings))
                .unwrap()
                .with_metrics(state.metrics.registry())
                .unwrap()
        });
        let farm = state.farm.clone();
        let api = Api::bind_with(&settings, state, satellites).await.unwrap();
        let addr = api.local_addr();
        let (stop, stopped) = oneshot::channel();
        let stopped = async move {
            let _ = stopped.await;
        }
        .shared();
        let dispatching = dispatcher.map(|dispatcher| dispatcher.spawn(stopped.clone()));
        // The lease sweeper runs beside every API, as in `marquee api`.
        let sweeping = crate::farm::sweeper::spawn(farm, stopped.clone());
        let served = tokio::spawn(async move {
            api.run(stopped).await;
            sweeping.await.unwrap();
            if let Some(dispatching) = dispatching {
                dispatching.await.unwrap();
            }
        });
        Self { addr, db, database, clock, stop: Some(stop), served: Some(served) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops serving (and dispatching) and waits until in-flight requests (and the dispatcher's step) are done.
    pub async fn stop(mut self) -> TestDatabase {
        let _ = self.stop.take().map(|s| s.send(()));
        if let Some(served) = self.served.take() {
            served.await.unwrap();
        }
        self.database
    }
}

impl TestApi {
    /// Makes a user directly in the database (as `marquee admin create` does).
    pub async fn user(&self, email: &str, password: &str, role: Role) -> String {
        let hash = crate::auth::password::hash(password.to_owned()).await;
        crate::auth::store::create_user(&self.db, email, &hash, role, now_ms()).await.unwrap().id
    }

    /// Signs in; the token pair's JSON.
    pub async fn login(&self, email: &str, password: &str) -> serde_json::Value {
        let answer =
            post_json(&self.url("/v1/auth/login"), &[], &serde_json::json!({"email": email, "password": password}))
                .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    }

    /// Uploads four bytes (tus creation-with-upload) as `token`'s creator: the asset id (queued, with its job).
    pub async fn uploaded(&self, token: &str) -> String {
        self.tus_upload(token, 4, b"film").await.0
    }

    /// Starts a tus upload of `length` bytes as `token`'s user with `data` in the creation request: its asset's
    /// id and the upload's.
    pub async fn tus_upload(&self, token: &str, length: u64, data: &[u8]) -> (String, String) {
        let (auth, length) = (format!("Bearer {token}"), length.to_string());
        let headers = [
            ("authorization", auth.as_str()),
            ("tus-resumable", "1.0.0"),
            ("upload-length", length.as_str()),
            ("content-type", "application/offset+octet-stream"),
        ];
        let created = send("POST", &self.url("/v1/uploads"), &headers, data.to_vec()).await;
        assert_eq!(created.status, 201, "{}", created.text());
        let asset = created.headers["marquee-asset-id"].to_str().unwrap().to_owned();
        let location = created.headers["location"].to_str().unwrap();
        (asset, location.rsplit('/').next().unwrap().to_owned())
    }

    /// What a worker's completion does, without transcoding: `asset` is ready with its presentation under
    /// `prefix`.
    pub async fn publish(&self, asset: &str, prefix: &str) {
        sqlx::query("UPDATE assets SET status = 'ready', presentation_prefix = $1 WHERE id = $2")
            .bind(prefix)
            .bind(asset)
            .execute(self.db.pool())
            .await
            .unwrap();
    }

    /// [`TestApi::publish`] under the first attempt's folder, `media/ASSET/a1/`; returns that prefix.
    pub async fn published(&self, asset: &str) -> String {
        let prefix = format!("media/{asset}/a1/");
        self.publish(asset, &prefix).await;
        prefix
    }

    /// Makes a user and signs in: the access token.
    pub async fn signed_in(&self, email: &str, role: Role) -> String {
        self.user(email, "a good long password", role).await;
        self.login(email, "a good long password").await["access_token"].as_str().unwrap().to_owned()
    }
}

/// `Authorization: Bearer TOKEN`.
pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A request with a bearer token and an optional JSON body.
pub async fn call(method: &str, url: &str, token: &str, body: Option<&serde_json::Value>) -> Answer {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    let bytes = match body {
        Some(value) => {
            headers.push(("content-type", "application/json"));
            serde_json::to_vec(value).unwrap()
        }
        None => Vec::new(),
    };
    send(method, url, &headers, bytes).await
}

/// An answer: status, headers and the body (parsed as JSON when it is).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request.
pub async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.request(request.body(Full::new(body.into())).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Answer { status: parts.status.as_u16(), headers: parts.headers, body }
}

/// A tus PATCH of `body` at `offset` to upload `url` with a bearer token, and an `Upload-Checksum` if given.
pub async fn tus_patch(url: &str, token: &str, offset: usize, body: Vec<u8>, checksum: Option<&str>) -> Answer {
    let auth = format!("Bearer {token}");
    let offset = offset.to_string();
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("tus-resumable", "1.0.0"),
        ("content-type", "application/offset+octet-stream"),
        ("upload-offset", offset.as_str()),
    ];
    if let Some(checksum) = checksum {
        headers.push(("upload-checksum", checksum));
    }
    send("PATCH", url, &headers, body).await
}

pub async fn get(url: &str) -> Answer {
    send("GET", url, &[], Vec::new()).await
}

pub async fn post_json(url: &str, headers: &[(&str, &str)], value: &serde_json::Value) -> Answer {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send("POST", url, &all, serde_json::to_vec(value).unwrap()).await
}

/// `node`: the one `scripts/install-node.sh` installed, where it installed one, else the one on PATH.
pub fn node() -> std::process::Command {
    let installed =
        std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cache/marquee-tools/node/bin/node"));
    match installed {
        Some(path) if path.is_file() => std::process::Command::new(path),
        _ => std::process::Command::new("node"),
    }
}

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The events the API has recorded, oldest first, as (type, asset id).
pub async fn recorded_events(db: &Database) -> Vec<(String, Option<String>)> {
    let page = crate::events::events_after(db.pool(), 0, 1000, None).await.unwrap();
    page.events.into_iter().map(|e| (e.kind.as_str().to_owned(), e.asset_id)).collect()
}

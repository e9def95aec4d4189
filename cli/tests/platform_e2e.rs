//! The platform end to end over HTTP, on SQLite and on PostgreSQL, with the shipped binary and real clients:
//! the first admin (printed at the first start) makes a creator and a viewer; the creator registers a
//! webhook endpoint and uploads a generated clip with tus-js-client, interrupted and resumed by a second
//! client process; a `marquee worker` makes it `ready`; the signed `asset.ready` webhook arrives and verifies
//! with the endpoint's secret (standardwebhooks); the owner's playback URLs play with ffmpeg through
//! `marquee edge` in front of `marquee origin` (HLS) and at the origin itself (DASH); another viewer gets 403.
//! The four services read one `marquee.toml` (the README's split topology); flags give only what a test
//! learns at run time (ports, the API key).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::control::{post, ControlApi};
use support::servers::{edge, keygen, wait_until, Server};

/// Webhook deliveries received: headers and body.
type Received = Arc<Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>;

/// A webhook receiver on 127.0.0.1 that answers 204 to every POST and keeps what it got.
fn webhook_receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = http::HeaderMap::new();
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (name, value) = header.split_once(':').unwrap();
                        headers.insert(
                            http::HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes()).unwrap(),
                            http::HeaderValue::from_str(value.trim()).unwrap(),
                        );
                    }
                    let length: usize =
                        headers.get("content-length").map_or(0, |v| v.to_str().unwrap().parse().unwrap());
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    kept.lock().unwrap().push((headers, body));
                    writer.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").unwrap();
                }
            });
        }
    });
    (url, received)
}

/// tus-js-client (browser-tests/tus-upload.mjs) uploading `file` as `token`: its JSON line.
fn tus_js(api: &str, token: &str, file: &Path, extra: &[&str]) -> serde_json::Value {
    let output = support::node()
        .arg(support::repo_root().join("browser-tests/tus-upload.mjs"))
        .args(["--endpoint", &format!("{api}/v1/uploads"), "--token", token, "--chunk-size", "262144"])
        .arg("--file")
        .arg(file)
        .args(extra)
        .output()
        .expect("node runs (scripts/install-deps.sh --test installs it)");
    assert!(output.status.success(), "tus-js-client: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn ffmpeg_plays(url: &str) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", url, "-map", "0", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffmpeg on {url}: {stderr}");
}

/// One config file for the origin, the edge, the API and the worker; relative paths are the file's folder's.
fn marquee_toml(dir: &Path, database: &str) -> std::path::PathBuf {
    let path = dir.join("marquee.toml");
    let text = format!(
        "[origin]\nstorage = \"media\"\nkey_file = \"keys.toml\"\n\n\
         [edge]\nkey_file = \"keys.toml\"\n\n\
         [api]\ndatabase = \"{database}\"\nstorage = \"media\"\nkey_file = \"keys.toml\"\n\
         webhook_allow_private_networks = true\nwebhook_poll_interval = \"50ms\"\n\n\
         [worker]\nstorage = \"media\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn upload_to_playback(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys.toml");
    std::fs::write(&key_file, keygen("k1")).unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    // SQLite's file is the API's working directory's.
    let database = if database.starts_with("sqlite:") {
        format!("sqlite:{}?mode=rwc", dir.path().join("api.db").display())
    } else {
        database.to_string()
    };
    let config = marquee_toml(dir.path(), &database);
    let config_arg = config.to_str().unwrap();
    let origin_server = Server::start({
        let mut cmd = support::servers::marquee();
        cmd.args(["origin", "--config", config_arg, "--listen", "127.0.0.1:0"]);
        cmd
    });
    let edge_server: Server = edge(&[&origin_server.url], &["--config", config_arg]);
    let api = ControlApi::start(dir.path(), &["--config", config_arg, "--playback-base-url", &edge_server.url]);
    let creator = api.user_key("cora@example.com", "creator");
    let viewer = api.user_token("vic@example.com", "viewer");
    let admin_key = api.user_key("ops@example.com", "admin");

    let (hook_url, received) = webhook_receiver();
    let (status, endpoint) = post(
        &api.server.url,
        "/v1/webhooks",
        Some(&creator),
        serde_json::json!({"url": hook_url, "event_types": ["asset.ready"]}),
    );
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap().to_owned();

    // Upload with tus-js-client, interrupted after the first chunks and resumed by a new client process.
    let clip = support::make_sample(dir.path(), "clip.mp4", &["--duration", "4", "--size", "640x360"]);
    let size = std::fs::metadata(&clip).unwrap().len();
    assert!(size > 3 * 262_144, "the clip spans several chunks ({size} bytes)");
    let first = tus_js(&api.server.url, &creator, &clip, &["--stop-after", "262144"]);
    let id = first["asset_id"].as_str().unwrap().to_owned();
    assert!(first["offset"].as_u64().unwrap() < size, "{first}");
    assert_eq!(api.get(&format!("/v1/assets/{id}"), &creator)["status"], "waiting_upload");
    let second = tus_js(&api.server.url, &creator, &clip, &["--resume", first["url"].as_str().unwrap()]);
    assert_eq!(second["offset"].as_u64(), Some(size));

    let worker = api.worker_configured(&config, &admin_key, "w1");
    wait_until("the asset is ready", Duration::from_secs(120), || {
        api.get(&format!("/v1/assets/{id}"), &creator)["status"] == "ready"
    });

    // The signed asset.ready webhook.
    wait_until("the asset.ready webhook arrives", Duration::from_secs(30), || !received.lock().unwrap().is_empty());
    let (headers, body) = received.lock().unwrap()[0].clone();
    standardwebhooks::Webhook::new(&secret).unwrap().verify(&body, &headers).expect("the webhook's signature verifies");
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["type"], "asset.ready");
    assert_eq!(event["data"]["id"], id.as_str());
    let mut forged = body.clone();
    forged[0] = b' ';
    assert!(standardwebhooks::Webhook::new(&secret).unwrap().verify(&forged, &headers).is_err());

    // The owner plays it through the edge (HLS) and at the origin (DASH); another viewer may not.
    let (status, urls) =
        post(&api.server.url, &format!("/v1/assets/{id}/playback"), Some(&creator), serde_json::json!({}));
    assert_eq!(status, 200, "{urls}");
    let hls = urls["hls_url"].as_str().unwrap();
    assert!(hls.starts_with(&edge_server.url), "{hls}");
    ffmpeg_plays(hls);
    ffmpeg_plays(&urls["dash_url"].as_str().unwrap().replace(&edge_server.url, &origin_server.url));
    let (status, refused) =
        post(&api.server.url, &format!("/v1/assets/{id}/playback"), Some(&viewer), serde_json::json!({}));
    assert_eq!((status, refused["error"]["code"].clone()), (403, serde_json::json!("forbidden")), "{refused}");
    // A URL without a valid token is refused by the edge before it reaches the origin.
    let unsigned = format!("{}/{}", edge_server.url, hls.splitn(5, '/').nth(4).unwrap().split_once('/').unwrap().1);
    assert_eq!(support::servers::get(&unsigned).0, "403", "{unsigned}");

    let (status, stderr) = worker.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn upload_to_playback_on_sqlite() {
    upload_to_playback("sqlite:api.db");
}

#[test]
fn upload_to_playback_on_postgres() {
    let postgres = marquee_test_support::postgres::Postgres::start();
    upload_to_playback(&postgres.create_database("platform_e2e"));
}

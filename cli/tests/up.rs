//! `marquee up` as a person runs it: one process, one data directory, nothing else to start. The first start
//! publishes a sample title anyone can watch, with its poster from the film. An upload becomes
//! a playable presentation through the in-process worker, and ffprobe plays its signed URL through the edge;
//! a second `up` on the same directory is refused; a stop in the middle of a transcode loses nothing (the job
//! runs again on the next start), and the restart keeps the admin, the asset and its presentation.

mod support;

use std::path::Path;
use std::time::Duration;

use support::control::{post, request, ControlApi};
use support::servers::{marquee, wait_until, Server, PATIENCE};
use support::*;

/// How long a short clip may take from upload to `ready` on a loaded 2-core machine.
const TRANSCODE_PATIENCE: Duration = Duration::from_secs(180);

fn up(data: &Path) -> Server {
    let mut cmd = marquee();
    cmd.args(["up", "--listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0", "--data-dir"]).arg(data);
    Server::start(cmd)
}

/// The admin's email and password from the first start's output.
fn first_admin(server: &Server) -> (String, String) {
    wait_until("the first admin is printed", PATIENCE, || server.stdout().contains("First start"));
    let stdout = server.stdout();
    let words: Vec<&str> = stdout.lines().find(|l| l.contains("made the admin")).unwrap().split_whitespace().collect();
    let after = |word: &str| words[words.iter().position(|w| *w == word).unwrap() + 1].to_owned();
    (after("admin"), after("password"))
}

fn signed_in(server: Server, email: &str, password: &str) -> ControlApi {
    let (status, pair) =
        post(&server.url, "/v1/auth/login", None, serde_json::json!({"email": email, "password": password}));
    assert_eq!(status, 200, "{pair}");
    ControlApi { admin: pair["access_token"].as_str().unwrap().to_owned(), server }
}

fn status_of(api: &ControlApi, asset: &str) -> String {
    api.get(&format!("/v1/assets/{asset}"), &api.admin)["status"].as_str().unwrap().to_owned()
}

fn wait_for_status(api: &ControlApi, asset: &str, wanted: &str) {
    wait_until(&format!("asset {asset} is {wanted}"), TRANSCODE_PATIENCE, || {
        let status = status_of(api, asset);
        assert!(status != "errored", "the asset failed: {}", api.get(&format!("/v1/assets/{asset}"), &api.admin));
        status == wanted
    });
}

/// Plays the asset's signed HLS URL (from the playback endpoint, so through the edge) with ffprobe.
fn plays(api: &ControlApi, asset: &str) {
    let (status, urls) =
        post(&api.server.url, &format!("/v1/assets/{asset}/playback"), Some(&api.admin), serde_json::json!({}));
    assert_eq!(status, 200, "{urls}");
    let hls = urls["hls_url"].as_str().unwrap();
    let stdout = api.server.stdout();
    let media = stdout.lines().find(|l| l.contains("media (edge)")).unwrap().split_whitespace().last().unwrap();
    assert!(hls.starts_with(media), "playback goes through the edge {media}: {hls}");
    let probe = ffprobe_json(hls, &["-show_streams"]);
    let kinds: Vec<&str> =
        probe["streams"].as_array().unwrap().iter().filter_map(|s| s["codec_type"].as_str()).collect();
    assert!(kinds.contains(&"video") && kinds.contains(&"audio"), "{probe}");
}

#[test]
fn up_serves_everything_from_one_data_directory_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let clip = make_sample(dir.path(), "clip.mp4", &["--duration", "4", "--size", "640x360"]);
    let long = make_sample(dir.path(), "long.mp4", &["--duration", "12", "--size", "640x360"]);

    let server = up(&data);
    let (email, password) = first_admin(&server);
    let api = signed_in(server, &email, &password);
    for file in ["marquee.db", "keys.toml", "worker.key", "media", "edge-cache"] {
        assert!(data.join(file).exists(), "{file} is in the data directory");
    }

    // A second `up` on the same directory would share the database and the media: refused, with the way out.
    let out = marquee()
        .args(["up", "--listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("another `marquee up`"), "{stderr}");

    // The sample title: in the catalog for anyone, its feature transcoded by the in-process worker, playable
    // without signing in (a public asset), its poster taken from the film.
    // It is made, uploaded and linked in the background after the start; the catalog shows it once linked.
    let mut sample = None;
    wait_until("the sample title is in the catalog with its film", TRANSCODE_PATIENCE, || {
        let (status, titles) = request("GET", &api.server.url, "/v1/titles", None, None);
        assert_eq!(status, 200, "{titles}");
        let found = titles["items"].as_array().unwrap().iter().find(|t| t["title"] == "Marquee Sample").cloned();
        sample = found.and_then(|t| t["id"].as_str().map(str::to_owned));
        sample.as_ref().is_some_and(|id| !api.get(&format!("/v1/titles/{id}"), &api.admin)["assets"][0].is_null())
    });
    let sample = sample.unwrap();
    let detail = api.get(&format!("/v1/titles/{sample}"), &api.admin);
    let sample_asset = detail["assets"][0]["asset_id"].as_str().unwrap_or_else(|| panic!("{detail}")).to_owned();
    assert_eq!(detail["assets"][0]["role"], "feature", "{detail}");
    wait_for_status(&api, &sample_asset, "ready");
    let (status, urls) =
        post(&api.server.url, &format!("/v1/assets/{sample_asset}/playback"), None, serde_json::json!({}));
    assert_eq!(status, 200, "anyone may watch the sample: {urls}");
    let probe = ffprobe_json(urls["hls_url"].as_str().unwrap(), &["-show_streams"]);
    assert!(probe["streams"].as_array().unwrap().iter().any(|s| s["width"] == 1280), "{probe}");
    let detail = api.get(&format!("/v1/titles/{sample}"), &api.admin);
    assert_eq!(detail["artwork"]["poster_source"], "asset", "{detail}");
    let poster = detail["artwork"]["poster_url"].as_str().unwrap_or_else(|| panic!("{detail}"));
    let image = ffprobe_json(poster, &["-show_streams"]);
    assert_eq!(image["streams"][0]["codec_name"], "mjpeg", "{image}");

    let key = api.user_key("creator@example.com", "creator");
    let asset = api.upload(&clip, &key, &[]);
    wait_for_status(&api, &asset, "ready");
    plays(&api, &asset);

    // Stopped while the in-process worker transcodes the longer clip: its job goes back to the queue.
    let interrupted = api.upload(&long, &key, &[]);
    wait_for_status(&api, &interrupted, "processing");
    let (status, stderr) = api.server.terminate();
    assert!(status.success(), "{stderr}");

    // The restart makes no new admin, keeps the password, the ready asset and the interrupted one, whose
    // transcode runs again and finishes.
    let server = up(&data);
    let api = signed_in(server, &email, &password);
    assert!(!api.server.stdout().contains("First start"), "{}", api.server.stdout());
    let (_, titles) = request("GET", &api.server.url, "/v1/titles", None, None);
    let samples = titles["items"].as_array().unwrap().iter().filter(|t| t["title"] == "Marquee Sample").count();
    assert_eq!(samples, 1, "the sample is published once: {titles}");
    assert_eq!(status_of(&api, &asset), "ready");
    plays(&api, &asset);
    wait_for_status(&api, &interrupted, "ready");
    plays(&api, &interrupted);
    let (status, stderr) = api.server.terminate();
    assert!(status.success(), "{stderr}");
}

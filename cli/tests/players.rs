//! Real players through Marquee's own servers: hls.js and dash.js in headless Chromium, and GStreamer's
//! playbin3 (souphttpsrc, hlsdemux2, dashdemux2), play a transcoded presentation with signed URLs from
//! `marquee origin`, and through `marquee edge` in front of it.
//!
//! The player page comes from another port than the media (browser-tests/play.mjs serves it), so every media
//! request is cross-origin: the servers' CORS answers, their preflight for `Range`, and their 206s meet a
//! real browser. The page also makes two cross-origin range requests of its own before playing, one with a
//! suffix range that Chromium only sends after an OPTIONS preflight; a server that dropped
//! `Access-Control-Allow-Origin`, refused that preflight, answered a range with 200, or did not expose
//! `Content-Range` fails the run.

mod support;

use std::path::Path;

use support::servers::{edge, keygen, metric, origin, sign, Server};
use support::*;

/// Plays the signed HLS and DASH URLs of `server` in Chromium and returns play.mjs's JSON lines, one per
/// protocol, after checking what makes them a pass.
fn play_in_chromium(keys: &Path, server: &Server) -> Vec<serde_json::Value> {
    let hls = sign(keys, "/film/", "master.m3u8", &server.url);
    let dash = sign(keys, "/film/", "manifest.mpd", &server.url);
    let o = node()
        .arg(repo_root().join("browser-tests/play.mjs"))
        .args(["--hls-url", &hls, "--dash-url", &dash, "--seconds", "3", "--timeout-s", "60"])
        .output()
        .expect("run node browser-tests/play.mjs (install with scripts/install-deps.sh --test)");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "players failed against {}:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.url,
        server.stderr()
    );
    let runs: Vec<serde_json::Value> =
        stdout.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let protocols: Vec<&str> = runs.iter().filter_map(|r| r["protocol"].as_str()).collect();
    assert_eq!(protocols, ["hls", "dash"], "{stdout}");
    for run in &runs {
        assert_eq!(run["ok"], true, "{run}");
        assert_eq!(run["switched"], true, "a forced quality switch was rendered: {run}");
        // The page's own cross-origin range requests: `bytes=0-6`, and `bytes=-7` after a preflight.
        let checks: Vec<&str> = run["rangeCheck"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
        assert_eq!(checks.len(), 2, "{run}");
        assert!(checks[0].starts_with("bytes=0-6 -> 206 bytes 0-6/"), "{run}");
        assert!(checks[1].starts_with("bytes=-7 -> 206 bytes "), "{run}");
        // Everything the players asked for came through the server, every answer a success.
        let statuses = run["requests"]["status"].as_object().unwrap();
        assert!(run["requests"]["total"].as_u64().unwrap() >= 6, "{run}");
        assert!(statuses.keys().all(|s| s == "200" || s == "206"), "{run}");
    }
    runs
}

fn play_in_gstreamer(keys: &Path, server: &Server) {
    for manifest in ["master.m3u8", "manifest.mpd"] {
        let url = sign(keys, "/film/", manifest, &server.url);
        if let Err(e) = gst_play(&url) {
            panic!("playbin3 could not play {manifest} from {}: {e}\nserver log:\n{}", server.url, server.stderr());
        }
    }
}

#[test]
fn hls_js_dash_js_and_gstreamer_play_signed_urls_from_the_origin_and_through_the_edge() {
    let tmp = tempfile::tempdir().unwrap();
    // Short and small: three 2 s segments in two video rungs (360p, 240p) and audio.
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "6", "--size", "640x360"]);
    let media = tmp.path().join("media");
    transcode_ok(&src, &media.join("film"), &["--segment-duration", "2", "--keyframe-interval", "2"]);
    let keys = tmp.path().join("keys.toml");
    std::fs::write(&keys, keygen("k1")).unwrap();
    let key_file = keys.to_str().unwrap();

    let origin = origin(&media, &["--key-file", key_file]);
    play_in_chromium(&keys, &origin);
    // The server saw the preflight that the page's suffix range needed, and answered it.
    let preflights = metric(&origin, "marquee_origin_requests_total", &["route=\"preflight\"", "status=\"204\""]);
    assert!(preflights >= 1.0, "no preflight reached the origin");
    play_in_gstreamer(&keys, &origin);

    // The edge checks the players' tokens itself and signs its own requests to the origin.
    let edge = edge(&[&origin.url], &["--key-file", key_file]);
    play_in_chromium(&keys, &edge);
    play_in_gstreamer(&keys, &edge);
    assert!(metric(&edge, "marquee_edge_requests_total", &["cache=\"hit\""]) > 0.0, "the second player hit the cache");
    // Unsigned, the same manifest is refused by both.
    for server in [&origin, &edge] {
        assert_eq!(support::servers::get(&format!("{}/film/master.m3u8", server.url)).0, "403");
    }
}

//! Transcode into a real S3 server (Garage, started here), serve it with `marquee origin` behind signed
//! URLs, and play it with ffmpeg through the origin; bad tokens get 403 and no media bytes.

mod support;

use marquee_test_support::garage;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use support::*;

fn marquee() -> Command {
    Command::new(env!("CARGO_BIN_EXE_marquee"))
}

/// `marquee …` with the environment that points storage at this Garage.
fn with_garage(mut cmd: Command, g: &garage::Garage) -> Command {
    let creds = g.credentials();
    cmd.env("MARQUEE_S3_ENDPOINT", g.endpoint())
        .env("MARQUEE_S3_REGION", garage::REGION)
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key);
    cmd
}

struct RunningOrigin {
    child: Child,
    base_url: String,
}

impl Drop for RunningOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `marquee origin` on a free loopback port and waits for the line that says where it listens.
fn start_origin(g: &garage::Garage, key_file: &std::path::Path) -> RunningOrigin {
    let mut cmd = with_garage(marquee(), g);
    cmd.args(["origin", "--listen", "127.0.0.1:0", "--storage"])
        .arg(format!("s3://{}", garage::BUCKET))
        .arg("--key-file")
        .arg(key_file);
    start_server(cmd)
}

/// Starts a server command and waits for the line that says where it listens.
fn start_server(mut cmd: Command) -> RunningOrigin {
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base_url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}"));
    RunningOrigin { base_url: base_url.to_owned(), child }
}

fn sign(key_file: &std::path::Path, prefix: &str, file: &str, base_url: &str) -> String {
    let o = marquee()
        .args(["sign", "--ttl", "10m", "--path", prefix, "--file", file, "--base-url", base_url, "--key-file"])
        .arg(key_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// (status, body bytes) of a GET with curl.
fn get(url: &str) -> (u16, u64) {
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url])
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let (code, size) = text.split_once(' ').unwrap();
    (code.parse().unwrap(), size.parse().unwrap())
}

#[test]
fn a_ladder_in_s3_plays_through_the_origin_with_signed_urls_only() {
    let tmp = tempfile::tempdir().unwrap();
    let g = garage::Garage::start();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "6", "--size", "640x360"]);

    let mut transcode = with_garage(marquee(), &g);
    let o = transcode
        .args(["transcode", "--progress", "none", "--out"])
        .arg(format!("s3://{}/film42", garage::BUCKET))
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "transcode into Garage: {}", String::from_utf8_lossy(&o.stderr));

    let keys = tmp.path().join("keys.toml");
    let key_file = marquee().arg("keygen").output().unwrap();
    std::fs::write(&keys, key_file.stdout).unwrap();
    let origin = start_origin(&g, &keys);

    // Real clients play both protocols through signed URLs; segment requests inherit the path token.
    let master = sign(&keys, "/film42/", "master.m3u8", &origin.base_url);
    let mpd = sign(&keys, "/film42/", "manifest.mpd", &origin.base_url);
    assert_eq!(ffmpeg_decode_errors(&master), "", "ffmpeg through the origin (HLS)");
    assert_eq!(ffmpeg_decode_errors(&mpd), "", "ffmpeg through the origin (DASH)");

    // No media bytes without a valid token for this asset.
    let plain = format!("{}/film42/master.m3u8", origin.base_url);
    let other_asset = sign(&keys, "/film43/", "master.m3u8", &origin.base_url).replace("/film43/", "/film42/");
    let token = master.split('/').nth(4).unwrap().to_owned();
    let flipped = if token.ends_with('A') { "B" } else { "A" };
    let tampered = master.replacen(&token, &format!("{}{flipped}", &token[..token.len() - 1]), 1);
    for (what, url) in [("unsigned", plain), ("other asset's token", other_asset), ("tampered token", tampered)] {
        let (status, _) = get(&url);
        assert_eq!(status, 403, "{what}: {url}");
    }
    let (status, bytes) = get(&master);
    assert_eq!(status, 200);
    assert!(bytes > 0);

    // Players → edge (memory + disk tiers, checks tokens, signs its own upstream requests) → origin.
    let mut edge = marquee();
    edge.args(["edge", "--listen", "127.0.0.1:0", "--upstream", &origin.base_url, "--key-file"])
        .arg(&keys)
        .arg("--disk-dir")
        .arg(tmp.path().join("edge-cache"));
    let edge = start_server(edge);
    let master = sign(&keys, "/film42/", "master.m3u8", &edge.base_url);
    let mpd = sign(&keys, "/film42/", "manifest.mpd", &edge.base_url);
    assert_eq!(ffmpeg_decode_errors(&master), "", "ffmpeg through edge and origin (HLS)");
    assert_eq!(ffmpeg_decode_errors(&mpd), "", "ffmpeg through edge and origin (DASH)");
    let (status, _) = get(&format!("{}/film42/master.m3u8", edge.base_url));
    assert_eq!(status, 403, "the edge refuses unsigned requests itself");
    // The DASH run reused the segments the HLS run had fetched: served from the edge's tiers.
    let metrics = Command::new("curl").args(["-s", &format!("{}/metrics", edge.base_url)]).output().unwrap();
    let metrics = String::from_utf8(metrics.stdout).unwrap();
    let hits: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("marquee_edge_requests_total{cache=\"hit\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(hits > 0.0, "{metrics}");
}

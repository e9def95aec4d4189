//! Shared by the end-to-end tests: making sources, running `marquee`, serving a directory over loopback
//! HTTP, and asking real clients (ffprobe, ffmpeg, GStreamer, xmllint, Chromium) about the output.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub mod control;
pub mod servers;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ is inside the repo").to_path_buf()
}

/// `node`: the one `scripts/install-node.sh` installed, where it installed one (the machine's is older than
/// the browser tests need), else the one on PATH.
pub fn node() -> Command {
    let installed = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/marquee-tools/node/bin/node"));
    match installed {
        Some(path) if path.is_file() => Command::new(path),
        _ => Command::new("node"),
    }
}

/// Runs `samples/make-sample.sh --out DIR/NAME ARGS…` and returns the file.
pub fn make_sample(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new(repo_root().join("samples/make-sample.sh"))
        .arg("--out")
        .arg(&out)
        .args(args)
        .status()
        .expect("run samples/make-sample.sh");
    assert!(status.success(), "make-sample.sh {args:?} failed");
    out
}

/// Runs `marquee transcode INPUT --out OUT ARGS…`.
pub fn transcode(input: &Path, out: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_marquee"))
        .arg("transcode")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(["--progress", "none"])
        .args(args)
        .output()
        .expect("run marquee")
}

/// Like [`transcode`], and fails the test with marquee's stderr when it does not succeed.
pub fn transcode_ok(input: &Path, out: &Path, args: &[&str]) {
    let o = transcode(input, out, args);
    assert!(o.status.success(), "marquee transcode failed:\n{}", String::from_utf8_lossy(&o.stderr));
}

/// `ffprobe -v error -of json ARGS… TARGET` parsed.
pub fn ffprobe_json(target: &str, args: &[&str]) -> serde_json::Value {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(target)
        .output()
        .expect("run ffprobe");
    assert!(o.status.success(), "ffprobe {target} failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("ffprobe prints JSON")
}

/// Decodes every stream of `target` with ffmpeg and returns what it printed at level error (nothing
/// when the input is clean).
pub fn ffmpeg_decode_errors(target: &str) -> String {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i", target, "-map", "0", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let mut text = String::from_utf8_lossy(&o.stderr).into_owned();
    if !o.status.success() {
        text.push_str(&format!("\n(ffmpeg exited with {})", o.status));
    }
    text
}

/// Concatenates a rendition's init segment and media segments into one file ffprobe can read.
pub fn concat_rendition(dir: &Path, rendition: &str, into: &Path) -> usize {
    let mut data = std::fs::read(dir.join(rendition).join("init.mp4")).expect("init.mp4");
    let mut n = 0;
    for number in 1.. {
        let seg = dir.join(rendition).join(format!("seg_{number:05}.m4s"));
        let Ok(bytes) = std::fs::read(&seg) else { break };
        data.extend_from_slice(&bytes);
        n += 1;
    }
    std::fs::write(into, data).expect("write concatenation");
    n
}

/// Video renditions in the output, by folder name (`video_*`), sorted.
pub fn video_renditions(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("output dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("video_"))
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, relative, sorted.
pub fn list_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("under root").to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Validates an MPD against the DASH schema copied into packager/tests/data/dash-schema.
pub fn validate_mpd(mpd: &Path) -> Result<(), String> {
    let schema_dir = repo_root().join("packager/tests/data/dash-schema");
    let o = Command::new("xmllint")
        .env("XML_CATALOG_FILES", schema_dir.join("catalog.xml"))
        .arg("--noout")
        .arg("--schema")
        .arg(schema_dir.join("DASH-MPD.xsd"))
        .arg(mpd)
        .output()
        .map_err(|e| format!("cannot run xmllint ({e}); install libxml2-utils"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// A static file server on 127.0.0.1 for players that only speak HTTP (hlsdemux2, dashdemux2). Serves
/// GET and HEAD with the content types the origin will use and CORS; stops when dropped.
pub struct StaticServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                // Drop wakes this accept with a connection of its own after setting the flag.
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let root = root.clone();
                std::thread::spawn(move || serve(stream, &root));
            }
        });
        Self { port, stop, thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, root: &Path) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut keep_alive = true;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let lower = header.to_ascii_lowercase();
            if lower.starts_with("connection:") && lower.contains("close") {
                keep_alive = false;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("/").split('?').next().unwrap_or("/");
        let rel = path.trim_start_matches('/');
        let file = root.join(rel);
        let body = if rel.split('/').any(|s| s == "..") { None } else { std::fs::read(&file).ok() };
        let (status, body) = match body {
            Some(b) => ("200 OK", b),
            None => ("404 Not Found", Vec::new()),
        };
        let content_type = match file.extension().and_then(|e| e.to_str()) {
            Some("m3u8") => "application/vnd.apple.mpegurl",
            Some("mpd") => "application/dash+xml",
            Some("mp4") | Some("m4s") => "video/mp4",
            _ => "application/octet-stream",
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: {}\r\n\r\n",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        if method != "HEAD" && writer.write_all(&body).is_err() {
            return;
        }
        if !keep_alive {
            return;
        }
    }
}

/// Plays `url` with GStreamer's playbin3 (hlsdemux2 / dashdemux2) into fake sinks; returns stderr on failure.
pub fn gst_play(url: &str) -> Result<(), String> {
    let o = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "playbin3",
            &format!("uri={url}"),
            "video-sink=fakesink sync=false",
            "audio-sink=fakesink sync=false",
        ])
        .output()
        .map_err(|e| format!("cannot run gst-launch-1.0: {e}"))?;
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    if o.status.success() && !stderr.contains("ERROR") && !stdout.contains("ERROR") {
        Ok(())
    } else {
        Err(format!("{stdout}\n{stderr}"))
    }
}

/// Reads all of a child's stdout (helper for long JSON outputs).
pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

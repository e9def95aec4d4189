//! Interrupted runs: Ctrl-C removes everything written; a hard kill leaves no manifests, so the output
//! never looks finished.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::*;

/// Starts a JSON-progress transcode and returns once it reports encoded media (read from its own
/// progress events, so no timing guesses).
fn start_and_wait_for_progress(src: &Path, out: &Path) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_marquee"))
        .arg("transcode")
        .arg(src)
        .arg("--out")
        .arg(out)
        .args(["--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(lines.read_line(&mut line).unwrap() > 0, "marquee ended before reporting progress");
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "progress" && event["position_s"].as_f64().unwrap_or(0.0) >= 4.0 {
            // At least one segment of every rendition is on disk by now.
            break;
        }
        assert_ne!(event["event"], "finished", "the run finished before it could be interrupted");
    }
    (child, lines)
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill").arg(format!("-{sig}")).arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_removes_everything_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_sample(tmp.path(), "long.mp4", &["--duration", "60", "--size", "640x360"]);
    let out = tmp.path().join("out");
    let (mut child, _) = start_and_wait_for_progress(&src, &out);
    assert!(!list_files(&out).is_empty(), "segments are written as they are encoded");
    signal(&child, "INT");
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(list_files(&out), Vec::<String>::new(), "Ctrl-C leaves nothing behind");
}

#[test]
fn a_hard_kill_never_leaves_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_sample(tmp.path(), "long.mp4", &["--duration", "60", "--size", "640x360"]);
    let out = tmp.path().join("out");
    let (mut child, _) = start_and_wait_for_progress(&src, &out);
    signal(&child, "KILL");
    child.wait().unwrap();
    let files = list_files(&out);
    assert!(files.iter().any(|f| f.ends_with(".m4s")), "it had written segments: {files:?}");
    assert!(!files.iter().any(|f| f.ends_with(".m3u8") || f.ends_with(".mpd")), "{files:?}");
}

//! `marquee origin` and `marquee edge` as shipped: worker threads serve, SIGTERM stops them cleanly.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn marquee() -> Command {
    Command::new(env!("CARGO_BIN_EXE_marquee"))
}

/// Starts a server and returns it with the base URL from its first line.
fn start(mut cmd: Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}"));
    (child, url.to_owned())
}

fn curl(url: &str) -> (String, String) {
    let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}", url]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_owned(), body.to_owned())
}

/// SIGTERM, then the exit status and stderr, failing after 20 s.
fn terminate(mut child: Child) -> (bool, String) {
    assert!(Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status.success(), stderr)
}

#[test]
fn origin_and_edge_serve_on_worker_threads_and_stop_on_sigterm() {
    let media = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(media.path().join("film")).unwrap();
    std::fs::write(media.path().join("film/master.m3u8"), "#EXTM3U\n#EXT-X-VERSION:7\n").unwrap();

    let mut origin = marquee();
    origin.args(["origin", "--unsigned", "--listen", "127.0.0.1:0", "--workers", "2", "--storage"]).arg(media.path());
    let (origin, origin_url) = start(origin);
    let mut edge = marquee();
    edge.args(["edge", "--unsigned", "--listen", "127.0.0.1:0", "--workers", "3", "--upstream", &origin_url]);
    let (edge, edge_url) = start(edge);

    // Many requests, so that more than one worker thread accepts; every answer is right.
    for _ in 0..20 {
        assert_eq!(
            curl(&format!("{origin_url}/film/master.m3u8")),
            ("200".into(), "#EXTM3U\n#EXT-X-VERSION:7\n".into())
        );
        assert_eq!(curl(&format!("{edge_url}/film/master.m3u8")), ("200".into(), "#EXTM3U\n#EXT-X-VERSION:7\n".into()));
    }
    assert_eq!(curl(&format!("{edge_url}/healthz")).0, "200");

    let (ok, stderr) = terminate(edge);
    assert!(ok && stderr.contains("Stopped"), "edge: {stderr}");
    let (ok, stderr) = terminate(origin);
    assert!(ok && stderr.contains("Stopped"), "origin: {stderr}");
}

//! `marquee api` and `marquee admin` as the shipped binary: the first start on an empty database makes an
//! admin and prints its password once; `marquee admin create` makes accounts from a password on stdin; a
//! second API on the same SQLite file is refused; SIGTERM stops it gracefully.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::servers::{marquee, Server, PATIENCE};

fn api(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = marquee();
    cmd.current_dir(dir).args(["api", "--listen", "127.0.0.1:0", "--storage", "media", "--database", "sqlite:api.db"]);
    cmd
}

fn login(url: &str, email: &str, password: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let out = support::servers::curl(&[
        "-s",
        "-w",
        "\n%{http_code}",
        "-H",
        "content-type: application/json",
        "-d",
        &body,
        &format!("{url}/v1/auth/login"),
    ]);
    let (json, status) = out.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}")))
}

/// Waits (up to PATIENCE) until `f` holds.
fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn first_start_prints_an_admin_and_admin_create_makes_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(api(dir.path()));
    wait_until("the first admin is printed", || server.stdout().contains("First start"));
    let stdout = server.stdout();
    let line = stdout.lines().find(|l| l.contains("made the admin")).unwrap_or_else(|| panic!("{stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let email = words[words.iter().position(|w| *w == "admin").unwrap() + 1];
    let password = words[words.iter().position(|w| *w == "password").unwrap() + 1];
    let (status, pair) = login(&server.url, email, password);
    assert_eq!(status, 200, "{pair}");
    assert!(pair["access_token"].as_str().is_some());

    // A second API on the same file is refused, saying why.
    let second = api(dir.path()).output().unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("in use by another `marquee api`"), "{said}");

    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("Stopped"), "{stderr}");

    // With the API stopped, make a creator from a password on stdin; the same email twice is refused.
    let create = |email: &str, password: &str| {
        let mut child = marquee()
            .current_dir(dir.path())
            .args(["admin", "create", "--email", email, "--role", "creator", "--database", "sqlite:api.db"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let made = create("cora@example.com", "creator password");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(String::from_utf8_lossy(&made.stdout).contains("Made the creator cora@example.com"));
    let twice = create("cora@example.com", "creator password");
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already exists"));
    let weak = create("weak@example.com", "short");
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10 characters"));

    // The next start keeps everyone and prints no new admin.
    let server = Server::start(api(dir.path()));
    let (status, pair) = login(&server.url, "cora@example.com", "creator password");
    assert_eq!(status, 200, "{pair}");
    assert_eq!(login(&server.url, email, password).0, 200);
    assert!(!server.stdout().contains("First start"), "{}", server.stdout());
    server.terminate();
}

/// POSTs JSON with a bearer token: (status, body).
fn post(url: &str, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let out = support::servers::curl(&[
        "-s",
        "-w",
        "\n%{http_code}",
        "-H",
        "content-type: application/json",
        "-H",
        &format!("authorization: Bearer {token}"),
        "-d",
        &body.to_string(),
        url,
    ]);
    let (json, status) = out.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(json).unwrap_or(serde_json::Value::Null))
}

#[test]
fn marquee_upload_resumes_after_being_killed() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(api(dir.path()));
    wait_until("the first admin is printed", || server.stdout().contains("First start"));
    let stdout = server.stdout();
    let words: Vec<&str> = stdout.lines().find(|l| l.contains("made the admin")).unwrap().split_whitespace().collect();
    let email = words[words.iter().position(|w| *w == "admin").unwrap() + 1];
    let password = words[words.iter().position(|w| *w == "password").unwrap() + 1];
    let admin = login(&server.url, email, password).1["access_token"].as_str().unwrap().to_owned();
    let made = post(
        &format!("{}/v1/users", server.url),
        &admin,
        serde_json::json!({"email": "cora@example.com", "password": "creator password", "role": "creator"}),
    );
    assert_eq!(made.0, 201, "{}", made.1);
    let creator =
        login(&server.url, "cora@example.com", "creator password").1["access_token"].as_str().unwrap().to_owned();
    let (status, key) = post(&format!("{}/v1/api-keys", server.url), &creator, serde_json::json!({"name": "cli"}));
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();

    let file = dir.path().join("film.bin");
    let data: Vec<u8> = (0..24 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let state = dir.path().join("state");
    let upload = || {
        let mut cmd = marquee();
        cmd.args(["upload", "--api", &server.url, "--chunk-size", "256KiB", "--progress", "lines"])
            .arg("--state-dir")
            .arg(&state)
            .arg(&file)
            .env("MARQUEE_API_KEY", &key);
        cmd
    };

    // Killed (as by a crash or a closed terminal) once the first chunk is acknowledged.
    let mut child = upload().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a progress line").unwrap();
    assert!(first.starts_with("uploaded "), "{first}");
    child.kill().unwrap();
    child.wait().unwrap();
    let remembered: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
    assert_eq!(remembered.len(), 1, "the unfinished upload is remembered");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(remembered[0].as_ref().unwrap().path()).unwrap()).unwrap();
    let head = support::servers::curl(&[
        "-s",
        "-I",
        "-H",
        &format!("authorization: Bearer {key}"),
        "-H",
        "tus-resumable: 1.0.0",
        saved["upload_url"].as_str().unwrap(),
    ]);
    let offset: u64 = head.lines().find_map(|l| l.strip_prefix("upload-offset: ")).unwrap().trim().parse().unwrap();
    assert!(offset > 0 && offset < data.len() as u64, "interrupted part-way: {offset}");

    // The same command again resumes at the server's offset and finishes.
    let out = upload().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Resuming the upload of asset"), "{stderr}");
    let asset = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(asset, saved["asset_id"].as_str().unwrap());
    assert!(std::fs::read_dir(&state).unwrap().next().is_none(), "forgotten once done");
    let stored = std::fs::read(dir.path().join("media/sources").join(&asset)).unwrap();
    assert!(stored == data, "the stored source is the file, byte for byte");
    let shown = support::servers::curl(&[
        "-s",
        "-H",
        &format!("authorization: Bearer {key}"),
        &format!("{}/v1/assets/{asset}", server.url),
    ]);
    assert!(shown.contains("\"status\":\"queued\""), "{shown}");
    server.terminate();
}

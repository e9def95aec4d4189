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

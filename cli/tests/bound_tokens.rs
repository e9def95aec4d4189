//! Tokens bound to a client IP (`marquee sign --ip`) or a session (`marquee sign --session`) against running
//! servers: `marquee origin` checks them for its clients, and `marquee edge` for the viewers it faces (its own
//! upstream requests are signed by the edge, unbound). A session id travels in the `X-Marquee-Session` header
//! or the `marquee_session` cookie.

mod support;

use std::path::Path;
use std::process::Command;

use support::servers::{edge, keygen, marquee, origin, Server};

const MANIFEST: &str = "#EXTM3U\n#EXT-X-VERSION:7\n";

/// The path of a URL for /film/master.m3u8 signed with `binding` (`--ip …` or `--session …`).
fn signed_path(keys: &Path, binding: &[&str]) -> String {
    let o = marquee()
        .args(["sign", "--ttl", "10m", "--path", "/film/", "--key-file"])
        .arg(keys)
        .args(binding)
        .output()
        .expect("run marquee sign");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// The status of a GET of `path` from `server`, sent from `source` (a loopback address) with extra curl
/// arguments; a 200 must carry the manifest.
fn status(server: &Server, path: &str, source: &str, extra: &[&str]) -> String {
    let o = Command::new("curl")
        .args(["-s", "--interface", source, "-w", "\n%{http_code}"])
        .args(extra)
        .arg(format!("{}{path}", server.url))
        .output()
        .expect("run curl");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, status) = out.rsplit_once('\n').expect("curl printed the status");
    if status == "200" {
        assert_eq!(body, MANIFEST);
    }
    status.to_owned()
}

fn check_bindings(server: &Server, keys: &Path) {
    let by_ip = signed_path(keys, &["--ip", "127.0.0.2"]);
    assert_eq!(status(server, &by_ip, "127.0.0.2", &[]), "200", "from the bound address");
    assert_eq!(status(server, &by_ip, "127.0.0.1", &[]), "403", "from another address");

    let by_session = signed_path(keys, &["--session", "viewer-42"]);
    let header = ["-H", "X-Marquee-Session: viewer-42"];
    assert_eq!(status(server, &by_session, "127.0.0.1", &header), "200", "with the session header");
    let cookie = ["--cookie", "marquee_session=viewer-42"];
    assert_eq!(status(server, &by_session, "127.0.0.1", &cookie), "200", "with the session cookie");
    let other = ["-H", "X-Marquee-Session: viewer-43"];
    assert_eq!(status(server, &by_session, "127.0.0.1", &other), "403", "with another session");
    assert_eq!(status(server, &by_session, "127.0.0.1", &[]), "403", "without a session");
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media/film")).unwrap();
    std::fs::write(dir.path().join("media/film/master.m3u8"), MANIFEST).unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, keygen("k1")).unwrap();
    (dir, keys)
}

#[test]
fn the_origin_honours_ip_and_session_bound_tokens() {
    let (dir, keys) = setup();
    let origin = origin(&dir.path().join("media"), &["--key-file", keys.to_str().unwrap()]);
    check_bindings(&origin, &keys);
}

#[test]
fn the_edge_honours_ip_and_session_bound_tokens_of_the_viewers_it_faces() {
    let (dir, keys) = setup();
    let origin = origin(&dir.path().join("media"), &["--key-file", keys.to_str().unwrap()]);
    let edge = edge(&[&origin.url], &["--key-file", keys.to_str().unwrap()]);
    check_bindings(&edge, &keys);
}

/// Behind a load balancer the peer is the balancer: with `--trusted-proxy` its X-Forwarded-For names the
/// viewer, and a client that is not a trusted proxy cannot claim another address by sending the header.
fn check_trusted_proxy(server: &Server, keys: &Path) {
    let by_ip = signed_path(keys, &["--ip", "192.0.2.7"]);
    let forwarded = ["-H", "X-Forwarded-For: 192.0.2.7"];
    assert_eq!(status(server, &by_ip, "127.0.0.3", &forwarded), "200", "through the trusted proxy");
    assert_eq!(status(server, &by_ip, "127.0.0.1", &forwarded), "403", "a forged header from an untrusted peer");
    let elsewhere = ["-H", "X-Forwarded-For: 192.0.2.8"];
    assert_eq!(status(server, &by_ip, "127.0.0.3", &elsewhere), "403", "another viewer behind the proxy");
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let (dir, keys) = setup();
    let key_file = keys.to_str().unwrap();
    let origin = origin(&dir.path().join("media"), &["--key-file", key_file, "--trusted-proxy", "127.0.0.3"]);
    check_trusted_proxy(&origin, &keys);
    let edge = edge(&[&origin.url], &["--key-file", key_file, "--trusted-proxy", "127.0.0.2/31"]);
    check_trusted_proxy(&edge, &keys);
}

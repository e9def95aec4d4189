//! Key rotation against running servers, as the README tells operators to do it: add the new key everywhere
//! and make it current (URLs signed with the old one keep working), then remove the old key (its URLs stop
//! working). For `marquee origin`, and for `marquee edge`, which checks players' tokens itself.

mod support;

use std::path::{Path, PathBuf};

use support::servers::{edge, get, keygen, origin, sign, Server};

const MANIFEST: &str = "#EXTM3U\n#EXT-X-VERSION:7\n";

/// The three key files of a rotation: `k1` alone; `k1` and `k2` with `k2` current; `k2` alone.
struct Rotation {
    old_only: PathBuf,
    both_new_current: PathBuf,
    new_only: PathBuf,
}

fn rotation(dir: &Path) -> Rotation {
    let k1 = keygen("k1");
    let k2 = keygen("k2");
    assert!(k1.contains("current = true\n"), "{k1}");
    let files = Rotation {
        old_only: dir.join("keys-1.toml"),
        both_new_current: dir.join("keys-2.toml"),
        new_only: dir.join("keys-3.toml"),
    };
    std::fs::write(&files.old_only, &k1).unwrap();
    std::fs::write(&files.both_new_current, format!("{}\n{k2}", k1.replace("current = true\n", ""))).unwrap();
    std::fs::write(&files.new_only, &k2).unwrap();
    files
}

fn media(dir: &Path) -> PathBuf {
    let media = dir.join("media");
    std::fs::create_dir_all(media.join("film")).unwrap();
    std::fs::write(media.join("film/master.m3u8"), MANIFEST).unwrap();
    media
}

/// The path and query of a signed URL: the token, made once, is sent to each server in turn.
fn signed_path(keys: &Path) -> String {
    let url = sign(keys, "/film/", "master.m3u8", "http://x");
    url.strip_prefix("http://x").unwrap().to_owned()
}

/// The status `server` answers `path` with; a 200 must carry the manifest.
fn status(server: &Server, path: &str) -> String {
    let (status, body) = get(&format!("{}{path}", server.url));
    if status == "200" {
        assert_eq!(String::from_utf8_lossy(&body), MANIFEST);
    }
    status
}

/// Stops a server with SIGTERM, as a restart onto a new key file does, and checks it stopped cleanly.
fn stop(server: Server) {
    let (exit, log) = server.terminate();
    assert!(exit.success(), "{exit}: {log}");
}

#[test]
fn the_origin_accepts_old_urls_after_a_new_key_becomes_current_and_refuses_them_once_it_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let keys = rotation(tmp.path());
    let old_url = signed_path(&keys.old_only);
    let new_url = signed_path(&keys.both_new_current);
    assert!(old_url.starts_with("/t/v1.k1.") && new_url.starts_with("/t/v1.k2."), "{old_url} {new_url}");

    let start = |file: &PathBuf| origin(&media, &["--key-file", file.to_str().unwrap()]);
    let server = start(&keys.old_only);
    assert_eq!((status(&server, &old_url), status(&server, &new_url)), ("200".into(), "403".into()), "k1 only");
    stop(server);

    let server = start(&keys.both_new_current);
    assert_eq!(status(&server, &old_url), "200", "a URL signed with the old key, after k2 became current");
    assert_eq!(status(&server, &new_url), "200");
    stop(server);

    let server = start(&keys.new_only);
    assert_eq!(status(&server, &old_url), "403", "k1 was removed");
    assert_eq!(status(&server, &new_url), "200");
    stop(server);
}

#[test]
fn the_edge_accepts_old_urls_after_a_new_key_becomes_current_and_refuses_them_once_it_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let media = media(tmp.path());
    let keys = rotation(tmp.path());
    let old_url = signed_path(&keys.old_only);
    let new_url = signed_path(&keys.both_new_current);
    // The origin knows both keys throughout, so every refusal below is the edge's own, and every edge signs
    // its upstream requests with whichever key is current in its file.
    let upstream = origin(&media, &["--key-file", keys.both_new_current.to_str().unwrap()]);
    let start = |file: &PathBuf| edge(&[&upstream.url], &["--key-file", file.to_str().unwrap()]);

    let server = start(&keys.old_only);
    assert_eq!((status(&server, &old_url), status(&server, &new_url)), ("200".into(), "403".into()), "k1 only");
    stop(server);

    let server = start(&keys.both_new_current);
    assert_eq!(status(&server, &old_url), "200", "a URL signed with the old key, after k2 became current");
    assert_eq!(status(&server, &new_url), "200");
    stop(server);

    let server = start(&keys.new_only);
    assert_eq!(status(&server, &old_url), "403", "k1 was removed");
    assert_eq!(status(&server, &new_url), "200");
    stop(server);
}

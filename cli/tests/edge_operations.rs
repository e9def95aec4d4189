//! `marquee edge` in operation, as the shipped binary: HTTPS to clients that check its certificate (HTTP/2
//! and HTTP/1.1 by ALPN).

mod support;

use std::path::Path;
use std::process::Command;

use support::servers::{curl, edge, get, keygen, origin, sign};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

fn write_object(root: &Path, path: &str, body: &[u8]) {
    let file = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, body).unwrap();
}

// --------------------------------------------------------------------------------------------------- TLS

/// A self-signed certificate for 127.0.0.1 made with the `openssl` command (the origin's TLS test makes
/// its certificate the same way; no crate needed): (certificate, key).
fn self_signed_certificate(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem").to_str().unwrap().to_owned();
    let key = dir.join("key.pem").to_str().unwrap().to_owned();
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-keyout", &key, "-out", &cert, "-days", "1", "-subj", "/CN=marquee-edge-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .output()
        .expect("run openssl");
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}

#[test]
fn the_edge_serves_https_over_http2_and_http1_1_by_alpn_to_clients_that_check_its_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let segment = pattern(1000, 1);
    write_object(&media, "film/video_720p/seg_00001.m4s", &segment);
    let keys = tmp.path().join("keys.toml");
    std::fs::write(&keys, keygen("k1")).unwrap();
    let key_file = keys.to_str().unwrap();
    let (cert, key) = self_signed_certificate(tmp.path());

    let origin = origin(&media, &["--key-file", key_file]);
    let edge = edge(&[&origin.url], &["--key-file", key_file, "--tls-cert", &cert, "--tls-key", &key]);
    assert!(edge.url.starts_with("https://127.0.0.1:"), "{}", edge.url);
    let url = sign(&keys, "/film/", "video_720p/seg_00001.m4s", &edge.url);

    // Checked against the CA (the certificate itself): HTTP/2 when both offer it, HTTP/1.1 when asked.
    let format = "%{http_version} %{http_code} %{size_download}";
    assert_eq!(curl(&["-s", "--cacert", &cert, "-o", "/dev/null", "-w", format, &url]), "2 200 1000");
    let out = curl(&["-s", "--http1.1", "--cacert", &cert, "-r", "10-19", "-o", "/dev/null", "-w", format, &url]);
    assert_eq!(out, "1.1 206 10");
    let body = Command::new("curl").args(["-s", "--fail", "--cacert", &cert, &url]).output().unwrap();
    assert!(body.status.success() && body.stdout == segment, "the body over HTTP/2");

    // A client that does not trust the certificate refuses it (curl: 60, peer certificate not verified).
    let untrusted = Command::new("curl").args(["-s", "-o", "/dev/null", &url]).status().unwrap();
    assert_eq!(untrusted.code(), Some(60), "the certificate is the one checked");
    // Cleartext HTTP to the TLS port gets no media.
    let (status, body) = get(&url.replacen("https://", "http://", 1));
    assert_ne!(status, "200");
    assert!(!body.windows(segment.len()).any(|w| w == segment));
}

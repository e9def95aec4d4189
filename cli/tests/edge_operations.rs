//! `marquee edge` in operation, as the shipped binary: HTTPS to clients that check its certificate (HTTP/2
//! and HTTP/1.1 by ALPN); a SIGTERM with responses in flight (they finish, new connections are refused, exit
//! 0); and upstream failover: an upstream that hangs or is stopped costs at most the configured timeout, and
//! it is used again once it is back.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use support::servers::{curl, edge, get, keygen, marquee, metric, origin, sign, wait_until, Server, PATIENCE};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

fn write_object(root: &Path, path: &str, body: &[u8]) {
    let file = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, body).unwrap();
}

// ------------------------------------------------------------------------------------------------ upstream

/// An upstream the test controls (HTTP/1.1 with keep-alive, on a plain `TcpListener`): serves the files of a
/// directory and `/healthz`; told to hang, it accepts connections and reads media requests but never answers
/// them; given a slow path, it sends that object's headers and first [`SLOW_FIRST_BYTES`], then holds the
/// rest until released. Told to, it closes the connection after each `/healthz` answer, so the edge's health
/// probes leave no connection in its pool.
struct ScriptedUpstream {
    url: String,
    state: Arc<UpstreamState>,
}

struct UpstreamState {
    root: PathBuf,
    slow_path: Option<String>,
    close_after_healthz: AtomicBool,
    hang: AtomicBool,
    hung_requests: AtomicUsize,
    released: (Mutex<bool>, Condvar),
}

const SLOW_FIRST_BYTES: usize = 64 * 1024;

impl ScriptedUpstream {
    fn start(root: &Path, slow_path: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(UpstreamState {
            root: root.to_owned(),
            slow_path: slow_path.map(str::to_owned),
            close_after_healthz: AtomicBool::new(false),
            hang: AtomicBool::new(false),
            hung_requests: AtomicUsize::new(0),
            released: (Mutex::new(false), Condvar::new()),
        });
        let shared = state.clone();
        // Lives as long as the test process: connections end when the edge closes them.
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let state = shared.clone();
                std::thread::spawn(move || serve_upstream_connection(stream, &state));
            }
        });
        ScriptedUpstream { url, state }
    }

    fn close_after_healthz(&self) {
        self.state.close_after_healthz.store(true, Ordering::SeqCst);
    }

    fn hang(&self, hang: bool) {
        self.state.hang.store(hang, Ordering::SeqCst);
    }

    fn hung_requests(&self) -> usize {
        self.state.hung_requests.load(Ordering::SeqCst)
    }

    fn release(&self) {
        let (released, wake) = &self.state.released;
        *released.lock().unwrap() = true;
        wake.notify_all();
    }
}

fn serve_upstream_connection(stream: TcpStream, state: &UpstreamState) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
        }
        let target = request_line.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or("/");
        if path == "/healthz" {
            if state.close_after_healthz.load(Ordering::SeqCst) {
                let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
                return;
            }
            let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
            continue;
        }
        if state.hang.load(Ordering::SeqCst) {
            state.hung_requests.fetch_add(1, Ordering::SeqCst);
            // Never answer: wait until the edge gives up and closes the connection.
            let mut sink = [0u8; 1024];
            while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
            return;
        }
        let Ok(body) = std::fs::read(state.root.join(path.trim_start_matches('/'))) else {
            let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\nCache-Control: public, max-age=3600\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        let sent = if state.slow_path.as_deref() == Some(path) {
            let first = writer.write_all(&body[..SLOW_FIRST_BYTES]).and_then(|()| writer.flush());
            let (released, wake) = &state.released;
            drop(wake.wait_while(released.lock().unwrap(), |released| !*released).unwrap());
            first.and_then(|()| writer.write_all(&body[SLOW_FIRST_BYTES..]))
        } else {
            writer.write_all(&body)
        };
        if sent.is_err() {
            return;
        }
    }
}

// ------------------------------------------------------------------------------------------- raw clients

/// Sends a GET with `Connection: close` over a new connection.
fn send_get(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n").unwrap();
    stream
}

/// Reads until the response head and at least `body_bytes` after it have arrived; returns what was read.
fn read_head_and(stream: &mut TcpStream, body_bytes: usize) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = head_end(&seen) {
            if seen.len() - end >= body_bytes {
                return seen;
            }
        }
        let n = stream.read(&mut buf).expect("the response kept coming");
        assert!(n > 0, "the connection closed after {} bytes", seen.len());
        seen.extend_from_slice(&buf[..n]);
    }
}

fn head_end(data: &[u8]) -> Option<usize> {
    data.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads the rest of a response whose start is `seen`; returns its head and its body (de-chunked).
fn finish_response(mut stream: TcpStream, mut seen: Vec<u8>) -> (String, Vec<u8>) {
    stream.read_to_end(&mut seen).expect("the rest of the response");
    let end = head_end(&seen).expect("a response head");
    let head = String::from_utf8_lossy(&seen[..end]).into_owned();
    let mut body = seen[end..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (head, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
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

// ------------------------------------------------------------------------------------------------ shutdown

/// What the edge must do on SIGTERM with two responses in flight, one waiting on a slow upstream and one
/// going to a slow client: finish both, refuse new connections meanwhile, then exit 0.
fn sigterm_with_responses_in_flight(upstream_connections_of_probes_pooled: bool, edge_args: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let (slow_path, big_path) = ("/film/video_720p/seg_00001.m4s", "/film/video_1080p/seg_00001.m4s");
    let slow_body = pattern(2 * 1024 * 1024, 1);
    // Far more than loopback socket buffers hold, so most of it is still in the edge when SIGTERM comes.
    let big_body = pattern(48 * 1024 * 1024, 2);
    write_object(&media, slow_path, &slow_body);
    write_object(&media, big_path, &big_body);
    let upstream = ScriptedUpstream::start(&media, Some(slow_path));
    if !upstream_connections_of_probes_pooled {
        upstream.close_after_healthz();
    }
    let mut args = vec!["--unsigned"];
    args.extend_from_slice(edge_args);
    let mut edge = edge(&[&upstream.url], &args);

    // A slow client: it reads the head and a little of a large object, then stops reading. The edge has the
    // whole object from upstream before the signal: the response is in flight between edge and client only.
    let mut slow_reader = send_get(edge.addr, big_path);
    let big_start = read_head_and(&mut slow_reader, 1);
    assert!(big_start.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&big_start[..64]));
    wait_until("the large object's fill ends", PATIENCE, || metric(&edge, "marquee_edge_fills_in_flight", &[]) == 0.0);
    // A slow upstream: the client has the head and the first bytes; the rest is held upstream.
    let mut waiting_on_upstream = send_get(edge.addr, slow_path);
    let slow_start = read_head_and(&mut waiting_on_upstream, SLOW_FIRST_BYTES);
    assert!(slow_start.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&slow_start[..64]));

    edge.sigterm();
    wait_until("the edge refuses new connections after SIGTERM", PATIENCE, || TcpStream::connect(edge.addr).is_err());
    assert_eq!(edge.exited(), None, "the edge exited with two responses in flight:\n{}", edge.stderr());

    upstream.release();
    let (_, body) = finish_response(slow_reader, big_start);
    assert!(body == big_body, "the slow client's response arrived whole ({} bytes)", body.len());
    let (_, body) = finish_response(waiting_on_upstream, slow_start);
    assert!(
        body == slow_body,
        "the response waiting on the upstream arrived whole ({} of {} bytes)",
        body.len(),
        slow_body.len()
    );
    let (exit, log) = edge.wait_for_exit();
    assert!(exit.success(), "{exit}:\n{log}");
    assert!(log.contains("Stopped"), "{log}");
}

/// One worker, and no upstream connection opened by a health probe: every upstream connection lives on the
/// runtime of the worker that serves the responses, which keeps running until they are done.
#[test]
fn sigterm_lets_responses_in_flight_finish_refuses_new_connections_and_exits_0() {
    sigterm_with_responses_in_flight(false, &["--workers", "1"]);
}

/// The edge as it starts by default, against a keep-alive upstream: the fill reuses the pooled connection that
/// a health probe opened on the main thread's runtime, which nothing drives once the signal has come, so the
/// body stalls until --upstream-timeout and the client gets a cut response (and the edge still exits 0 saying
/// "in-flight responses finished"). Fills on a connection another worker opened break the same way.
#[test]
fn sigterm_lets_a_fill_on_a_connection_opened_by_a_health_probe_finish() {
    sigterm_with_responses_in_flight(true, &[]);
}

// ------------------------------------------------------------------------------------------------ failover

/// The edge's --upstream-timeout in these tests.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(1);
/// What a request may take beyond one upstream timeout on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(4);
/// Distinct objects: the first requests, and enough fresh ones to poll for a recovered upstream with.
const OBJECTS: usize = 300;
const FIRST_REQUESTS: usize = 20;

fn segment_path(i: usize) -> String {
    format!("/film/video_720p/seg_{i:05}.m4s")
}

fn segment_body(i: usize) -> Vec<u8> {
    pattern(1000, (i % 256) as u8)
}

/// A directory of [`OBJECTS`] small segments with distinct bodies.
fn segments(dir: &Path) -> PathBuf {
    let media = dir.join("media");
    for i in 1..=OBJECTS {
        write_object(&media, &segment_path(i), &segment_body(i));
    }
    media
}

/// GETs segments `1..=FIRST_REQUESTS` at once, one thread each; every answer must be the right object
/// within one upstream timeout (plus slack for a loaded machine).
fn first_requests_are_answered_within_one_timeout(edge: &Server) {
    let requests: Vec<_> = (1..=FIRST_REQUESTS)
        .map(|i| {
            let url = format!("{}{}", edge.url, segment_path(i));
            std::thread::spawn(move || {
                let started = Instant::now();
                let (status, body) = get(&url);
                (i, status, body, started.elapsed())
            })
        })
        .collect();
    for request in requests {
        let (i, status, body, took) = request.join().unwrap();
        assert_eq!(status, "200", "{}:\n{}", segment_path(i), edge.stderr());
        assert!(body == segment_body(i), "{}", segment_path(i));
        assert!(took < UPSTREAM_TIMEOUT + SLACK, "{} took {took:?}", segment_path(i));
    }
}

/// Requests fresh segments, one every 100 ms, until `upstream` has answered one for the edge (about half
/// the objects are its own by rendezvous hashing); fails after `limit`.
fn wait_until_upstream_is_used(edge: &Server, upstream: &str, limit: Duration) {
    let label = format!("upstream=\"{upstream}\"");
    let deadline = Instant::now() + limit;
    for i in FIRST_REQUESTS + 1..=OBJECTS {
        let (status, body) = get(&format!("{}{}", edge.url, segment_path(i)));
        assert_eq!(status, "200", "{}:\n{}", segment_path(i), edge.stderr());
        assert!(body == segment_body(i), "{}", segment_path(i));
        if metric(edge, "marquee_edge_upstream_requests_total", &[&label, "class=\"2xx\""]) >= 1.0 {
            return;
        }
        assert!(Instant::now() < deadline, "{upstream} was not used again within {limit:?}:\n{}", edge.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{upstream} was not used again for any of {OBJECTS} objects");
}

fn answers_from(edge: &Server, upstream: &str) -> f64 {
    metric(edge, "marquee_edge_upstream_requests_total", &[&format!("upstream=\"{upstream}\"")])
}

#[test]
fn an_upstream_that_never_answers_costs_one_timeout_and_is_used_again_once_its_down_time_has_passed() {
    let tmp = tempfile::tempdir().unwrap();
    let media = segments(tmp.path());
    let good = origin(&media, &["--unsigned"]);
    // Answers /healthz, hangs on media: only a request's timeout marks it down.
    let hanging = ScriptedUpstream::start(&media, None);
    hanging.hang(true);
    // Probed once, at start, so nothing but --upstream-down-for passing brings it back.
    let edge = edge(
        &[&good.url, &hanging.url],
        &["--unsigned", "--upstream-timeout", "1s", "--upstream-down-for", "2s", "--health-interval", "1h"],
    );

    first_requests_are_answered_within_one_timeout(&edge);
    assert!(hanging.hung_requests() >= 1, "no object went to the hanging upstream first");
    assert_eq!(answers_from(&edge, &hanging.url), 0.0);
    assert_eq!(answers_from(&edge, &good.url), FIRST_REQUESTS as f64);
    let log = edge.stderr();
    assert!(log.contains(&hanging.url) && log.contains("no response headers in time"), "{log}");

    hanging.hang(false);
    wait_until_upstream_is_used(&edge, &hanging.url, PATIENCE);
}

#[test]
fn a_stopped_upstream_is_failed_over_at_once_and_used_again_once_its_healthz_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let media = segments(tmp.path());
    let good = origin(&media, &["--unsigned"]);
    // A port nobody listens on: connections are refused.
    let stopped = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let stopped_url = format!("http://{stopped}");
    // Marked down for an hour on failure: only a health probe that gets an answer brings it back.
    let edge = edge(
        &[&good.url, &stopped_url],
        &["--unsigned", "--upstream-timeout", "1s", "--upstream-down-for", "1h", "--health-interval", "200ms"],
    );

    first_requests_are_answered_within_one_timeout(&edge);
    assert_eq!(answers_from(&edge, &good.url), FIRST_REQUESTS as f64);

    // It comes back: an origin on the same port, serving the same media.
    let mut back = marquee();
    back.args(["origin", "--unsigned", "--listen", &stopped.to_string(), "--storage"]).arg(&media);
    let back = Server::start(back);
    assert_eq!(back.url, stopped_url);
    wait_until_upstream_is_used(&edge, &stopped_url, PATIENCE);
}

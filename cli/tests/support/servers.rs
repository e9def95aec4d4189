//! `marquee origin` and `marquee edge` as the shipped binary, run as child processes on loopback ports, and
//! the clients the tests talk to them with (curl, `marquee sign`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server may take to say where it listens, or to exit after SIGTERM. Generous: the machines
/// that run the suite are loaded, and a healthy server needs milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `marquee` without the MARQUEE_* variables of the test's environment, so only what a test sets counts.
pub fn marquee() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marquee"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MARQUEE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A running `marquee origin` or `marquee edge`: killed when dropped, unless stopped with
/// [`Server::terminate`]. Its stderr (the logs) is collected for assertions and failure messages.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT` or `https://…`, from the line the server prints once listening.
    pub url: String,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Spawns `cmd` and waits (up to [`PATIENCE`]) for its first stdout line, which names its address.
    pub fn start(mut cmd: Command) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn marquee");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let err = BufReader::new(child.stderr.take().expect("piped stderr"));
        let sink = stderr.clone();
        readers.push(std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        }));
        let (first_line, first) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let kept = stdout.clone();
        readers.push(std::thread::spawn(move || {
            // The first line goes to the test; every line is kept, and the pipe is drained so the server never
            // blocks on it.
            for line in out.lines().map_while(Result::ok) {
                let mut text = kept.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                drop(text);
                let _ = first_line.send(line);
            }
        }));
        let line = match first.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                for reader in readers {
                    let _ = reader.join();
                }
                panic!("marquee printed no address ({e}, {status:?}); stderr:\n{}", stderr.lock().unwrap());
            }
        };
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_owned();
        let addr = url.split_once("://").unwrap().1.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
        Server { child, url, addr, stderr, stdout, readers }
    }

    /// What the server has logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// What the server has printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (the signal service managers stop with).
    pub fn sigterm(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status().expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.pid());
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits up to [`PATIENCE`] for the process to exit; returns its status and everything it logged.
    pub fn wait_for_exit(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {PATIENCE:?} after it was told to stop:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        (status, self.stderr())
    }

    /// SIGTERM, then [`Server::wait_for_exit`].
    pub fn terminate(self) -> (ExitStatus, String) {
        self.sigterm();
        self.wait_for_exit()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `marquee origin --listen 127.0.0.1:0 --storage DIR ARGS…`.
pub fn origin(storage: &Path, args: &[&str]) -> Server {
    let mut cmd = marquee();
    cmd.args(["origin", "--listen", "127.0.0.1:0", "--storage"]).arg(storage).args(args);
    Server::start(cmd)
}

/// `marquee edge --listen 127.0.0.1:0 --upstream URL… ARGS…`.
pub fn edge(upstreams: &[&str], args: &[&str]) -> Server {
    let mut cmd = marquee();
    cmd.args(["edge", "--listen", "127.0.0.1:0"]);
    for upstream in upstreams {
        cmd.args(["--upstream", upstream]);
    }
    cmd.args(args);
    Server::start(cmd)
}

/// A new key file from `marquee keygen --id ID`, as text.
pub fn keygen(id: &str) -> String {
    let o = marquee().args(["keygen", "--id", id]).output().expect("run marquee keygen");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("UTF-8 key file")
}

/// `marquee sign`: a URL for FILE below PREFIX at BASE_URL, valid for ten minutes.
pub fn sign(key_file: &Path, prefix: &str, file: &str, base_url: &str) -> String {
    let o = marquee()
        .args(["sign", "--ttl", "10m", "--path", prefix, "--file", file, "--base-url", base_url, "--key-file"])
        .arg(key_file)
        .output()
        .expect("run marquee sign");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("UTF-8 URL").trim().to_owned()
}

/// Runs curl with ARGS and returns its stdout; fails the test when curl cannot run at all.
pub fn curl(args: &[&str]) -> String {
    let o = Command::new("curl").args(args).output().expect("run curl");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The status of a GET (000 when no HTTP answer came), and its body.
pub fn get(url: &str) -> (String, Vec<u8>) {
    let o = Command::new("curl").args(["-s", "-w", "\n%{http_code}", url]).output().expect("run curl");
    let split = o.stdout.iter().rposition(|&b| b == b'\n').expect("curl printed the status");
    (String::from_utf8_lossy(&o.stdout[split + 1..]).into_owned(), o.stdout[..split].to_vec())
}

/// The sum of the `/metrics` samples of `name` that carry every one of `labels` (`key="value"` each).
pub fn metric(server: &Server, name: &str, labels: &[&str]) -> f64 {
    curl(&["-s", &format!("{}/metrics", server.url)])
        .lines()
        .filter(|line| line.split(['{', ' ']).next() == Some(name))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `condition` every 20 ms until it holds, failing the test with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

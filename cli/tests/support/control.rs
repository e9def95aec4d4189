//! `marquee api` as the end-to-end tests run it: started in a temporary directory on SQLite with local
//! storage, its first admin signed in, and small JSON helpers over curl.

use std::path::Path;
use std::process::Command;

use super::servers::{curl, marquee, wait_until, Server, PATIENCE};

/// A running API with its first admin signed in.
pub struct ControlApi {
    pub server: Server,
    /// The first admin's access token.
    pub admin: String,
}

impl ControlApi {
    /// `marquee api` in `dir` (database `dir/api.db`, storage `dir/media`) with `args` added.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let mut cmd = marquee();
        cmd.current_dir(dir).args(["api", "--listen", "127.0.0.1:0"]);
        // With a config file, its [api] section says where storage and the database are.
        if !args.contains(&"--config") {
            cmd.args(["--storage", "media"]);
            if !args.contains(&"--database") {
                cmd.args(["--database", "sqlite:api.db"]);
            }
        }
        cmd.args(args);
        let server = Server::start(cmd);
        wait_until("the first admin is printed", PATIENCE, || server.stdout().contains("First start"));
        let stdout = server.stdout();
        let words: Vec<&str> =
            stdout.lines().find(|l| l.contains("made the admin")).unwrap().split_whitespace().collect();
        let email = words[words.iter().position(|w| *w == "admin").unwrap() + 1];
        let password = words[words.iter().position(|w| *w == "password").unwrap() + 1];
        let (status, pair) =
            post(&server.url, "/v1/auth/login", None, serde_json::json!({"email": email, "password": password}));
        assert_eq!(status, 200, "{pair}");
        let admin = pair["access_token"].as_str().unwrap().to_owned();
        Self { server, admin }
    }

    /// Makes a user with `role` and returns their access token.
    pub fn user_token(&self, email: &str, role: &str) -> String {
        let password = "a good long password";
        let body = serde_json::json!({"email": email, "password": password, "role": role});
        let (status, made) = post(&self.server.url, "/v1/users", Some(&self.admin), body);
        assert_eq!(status, 201, "{made}");
        let (_, pair) =
            post(&self.server.url, "/v1/auth/login", None, serde_json::json!({"email": email, "password": password}));
        pair["access_token"].as_str().unwrap().to_owned()
    }

    /// Makes a user with `role` and returns an API key of theirs.
    pub fn user_key(&self, email: &str, role: &str) -> String {
        let token = self.user_token(email, role);
        let (status, key) = post(&self.server.url, "/v1/api-keys", Some(&token), serde_json::json!({"name": "tests"}));
        assert_eq!(status, 201, "{key}");
        key["key"].as_str().unwrap().to_owned()
    }

    pub fn get(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, body) = request("GET", &self.server.url, path, Some(token), None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `marquee upload FILE` as `key`: the new asset's id.
    pub fn upload(&self, file: &Path, key: &str, args: &[&str]) -> String {
        let out = marquee()
            .args(["upload", "--api", &self.server.url, "--progress", "none"])
            .arg(file)
            .args(args)
            .env("MARQUEE_API_KEY", key)
            .env("MARQUEE_UPLOAD_STATE_DIR", file.with_extension("upload-state"))
            .output()
            .unwrap();
        assert!(out.status.success(), "marquee upload failed: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .split_whitespace()
            .find(|w| w.len() == 36 && w.chars().filter(|c| *c == '-').count() == 4)
            .unwrap_or_else(|| panic!("no asset id in {stdout:?}"))
            .to_owned()
    }

    /// `marquee worker` against this API and its storage (`dir/media`), registered with `admin_key`.
    pub fn worker(&self, dir: &Path, admin_key: &str, name: &str) -> Server {
        let mut cmd: Command = marquee();
        cmd.current_dir(dir)
            .args(["worker", "--api", &self.server.url, "--storage", "media", "--name", name])
            // The tests' input_url sources are served on loopback.
            .arg("--allow-private-source-urls")
            .env("MARQUEE_API_KEY", admin_key);
        Server::start(cmd)
    }

    /// `marquee worker --config CONFIG` against this API: the file's [worker] section says the rest.
    pub fn worker_configured(&self, config: &Path, admin_key: &str, name: &str) -> Server {
        let mut cmd: Command = marquee();
        cmd.arg("worker")
            .arg("--config")
            .arg(config)
            .args(["--api", &self.server.url, "--name", name])
            .env("MARQUEE_API_KEY", admin_key);
        Server::start(cmd)
    }
}

/// POSTs JSON (with a bearer token if given): (status, body as JSON, or null).
pub fn post(base: &str, path: &str, token: Option<&str>, body: serde_json::Value) -> (u16, serde_json::Value) {
    request("POST", base, path, token, Some(body))
}

pub fn request(
    method: &str,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{base}{path}");
    let auth = token.map(|t| format!("authorization: Bearer {t}"));
    let text = body.map(|b| b.to_string());
    let mut args = vec!["-s", "-X", method, "-w", "\n%{http_code}"];
    if let Some(auth) = &auth {
        args.extend(["-H", auth]);
    }
    if let Some(text) = &text {
        args.extend(["-H", "content-type: application/json", "-d", text]);
    }
    args.push(&url);
    let out = curl(&args);
    let (json, status) = out.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(json).unwrap_or(serde_json::Value::Null))
}

//! `marquee config example`, `marquee config check`, `marquee origin --config` and `marquee edge --config`,
//! run as the real binary: the example holds the libraries' defaults, a check reports every problem at once,
//! and the precedence flag > environment > file holds for a running origin and a running edge.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use marquee_edge_cache::{config as edge_defaults, freshness as freshness_defaults};
use marquee_http::connections as connection_defaults;
use marquee_origin::config as defaults;

/// `marquee` with no MARQUEE_* variable from the test's environment, so only what a test sets counts.
fn marquee() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marquee"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MARQUEE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("run marquee");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn check(file: &Path) -> (Output, String, String) {
    run(marquee().args(["config", "check"]).arg(file))
}

fn example() -> String {
    let (out, stdout, stderr) = run(marquee().args(["config", "example"]));
    assert!(out.status.success(), "{stderr}");
    stdout
}

/// A directory with an empty storage folder and a key file from `marquee keygen`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("media")).unwrap();
    let (out, keys, stderr) = run(marquee().arg("keygen"));
    assert!(out.status.success(), "{stderr}");
    std::fs::write(dir.path().join("keys.toml"), keys).unwrap();
    dir
}

#[test]
fn the_example_holds_every_default_and_passes_once_storage_and_access_are_set() {
    let text = example();
    // Read with the toml crate and humantime/bytesize directly, not through marquee's own types.
    let file: toml::Table = toml::from_str(&text).expect("the example is TOML");
    let mut sections: Vec<&String> = file.keys().collect();
    sections.sort();
    assert_eq!(sections, ["analytics", "api", "commerce", "edge", "origin", "worker"]);
    let origin = file["origin"].as_table().unwrap();
    let duration = |key: &str| humantime::parse_duration(origin[key].as_str().unwrap()).unwrap();
    let size = |key: &str| origin[key].as_str().unwrap().parse::<bytesize::ByteSize>().unwrap().as_u64();
    let int = |key: &str| origin[key].as_integer().unwrap() as u64;
    assert_eq!(origin["listen"].as_str().unwrap().parse(), Ok(defaults::DEFAULT_LISTEN));
    assert_eq!(origin["unsigned"].as_bool(), Some(false));
    assert_eq!(duration("header_read_timeout"), connection_defaults::DEFAULT_HEADER_READ_TIMEOUT);
    assert_eq!(duration("write_timeout"), connection_defaults::DEFAULT_WRITE_TIMEOUT);
    assert_eq!(duration("http2_keep_alive"), connection_defaults::DEFAULT_HTTP2_KEEP_ALIVE);
    assert_eq!(duration("shutdown_grace"), connection_defaults::DEFAULT_SHUTDOWN_GRACE);
    assert_eq!(duration("hot_object_ttl"), defaults::DEFAULT_HOT_OBJECT_TTL);
    assert_eq!(int("max_connections"), connection_defaults::DEFAULT_MAX_CONNECTIONS as u64);
    assert_eq!(int("max_headers"), connection_defaults::DEFAULT_MAX_HEADERS as u64);
    assert_eq!(int("workers"), defaults::DEFAULT_WORKERS as u64);
    assert_eq!(
        int("http2_max_concurrent_streams"),
        u64::from(connection_defaults::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS)
    );
    assert_eq!(size("max_header_bytes"), connection_defaults::DEFAULT_MAX_HEADER_BYTES as u64);
    assert_eq!(size("max_buffered_bytes"), defaults::DEFAULT_MAX_BUFFERED_BYTES);
    assert_eq!(size("body_chunk_bytes"), defaults::DEFAULT_BODY_CHUNK_BYTES as u64);
    assert_eq!(size("hot_cache_bytes"), defaults::DEFAULT_HOT_CACHE_BYTES);
    assert_eq!(size("hot_object_max_bytes"), defaults::DEFAULT_HOT_OBJECT_MAX_BYTES);
    assert_eq!(origin.len(), 16, "every setting with a default, and only those, is set: {origin:?}");
    for key in ["storage", "key_file", "tls_cert", "tls_key"] {
        assert!(text.contains(&format!("\n# {key} = ")), "{key} is shown commented out");
    }

    let edge = file["edge"].as_table().unwrap();
    let duration = |key: &str| humantime::parse_duration(edge[key].as_str().unwrap()).unwrap();
    let size = |key: &str| edge[key].as_str().unwrap().parse::<bytesize::ByteSize>().unwrap().as_u64();
    assert_eq!(edge["listen"].as_str().unwrap().parse(), Ok(edge_defaults::DEFAULT_LISTEN));
    assert_eq!(edge["unsigned"].as_bool(), Some(false));
    assert_eq!(edge["prefetch"].as_integer().unwrap() as usize, edge_defaults::DEFAULT_PREFETCH_SEGMENTS);
    assert_eq!(size("memory"), edge_defaults::DEFAULT_MEMORY_BYTES);
    assert_eq!(size("memory_max_object"), edge_defaults::DEFAULT_MEMORY_MAX_OBJECT_BYTES);
    assert_eq!(size("disk"), edge_defaults::DEFAULT_DISK_BYTES);
    assert_eq!(size("max_object_bytes"), edge_defaults::DEFAULT_MAX_OBJECT_BYTES);
    assert_eq!(duration("upstream_connect_timeout"), edge_defaults::DEFAULT_UPSTREAM_CONNECT_TIMEOUT);
    assert_eq!(duration("upstream_timeout"), edge_defaults::DEFAULT_UPSTREAM_TIMEOUT);
    assert_eq!(duration("upstream_down_for"), edge_defaults::DEFAULT_UPSTREAM_DOWN_FOR);
    assert_eq!(duration("health_interval"), edge_defaults::DEFAULT_HEALTH_INTERVAL);
    assert_eq!(duration("upstream_token_ttl"), edge_defaults::DEFAULT_UPSTREAM_TOKEN_TTL);
    assert_eq!(duration("default_ttl"), freshness_defaults::DEFAULT_TTL);
    assert_eq!(duration("max_ttl"), freshness_defaults::DEFAULT_MAX_TTL);
    assert_eq!(duration("negative_ttl"), freshness_defaults::DEFAULT_NEGATIVE_TTL);
    assert_eq!(duration("default_stale_while_revalidate"), freshness_defaults::DEFAULT_STALE_WHILE_REVALIDATE);
    assert_eq!(duration("default_stale_if_error"), freshness_defaults::DEFAULT_STALE_IF_ERROR);
    assert_eq!(edge["workers"].as_integer().unwrap() as usize, edge_defaults::DEFAULT_WORKERS);
    // The client-connection settings are the origin's, with the same defaults.
    for key in [
        "header_read_timeout",
        "write_timeout",
        "http2_keep_alive",
        "max_connections",
        "http2_max_concurrent_streams",
        "max_header_bytes",
        "max_headers",
        "shutdown_grace",
    ] {
        assert_eq!(edge[key], origin[key], "{key}");
    }
    assert_eq!(edge.len(), 26, "every setting with a default, and only those, is set: {edge:?}");
    let edge_text = &text[text.find("\n[edge]\n").unwrap()..];
    for key in ["upstreams", "key_file", "purge_token", "tls_cert", "tls_key", "disk_dir"] {
        assert!(edge_text.contains(&format!("\n# {key} = ")), "{key} is shown commented out");
    }

    let api = file["api"].as_table().unwrap();
    assert_eq!(api["listen"].as_str().unwrap().parse(), Ok(marquee_control_api::settings::DEFAULT_LISTEN));
    assert_eq!(api["database"].as_str(), Some(marquee_control_api::settings::DEFAULT_DATABASE));
    let json_bytes = api["max_json_bytes"].as_str().unwrap().parse::<bytesize::ByteSize>().unwrap().as_u64();
    assert_eq!(json_bytes, marquee_control_api::settings::DEFAULT_MAX_JSON_BYTES);
    for key in ["header_read_timeout", "max_connections", "shutdown_grace"] {
        assert_eq!(api[key], origin[key], "{key}");
    }
    assert!(text[text.find("\n[api]\n").unwrap()..].contains("\n# storage = "), "api storage is shown commented out");
    // The satellites' sections, read by `marquee api`, hold their libraries' defaults too.
    let commerce = file["commerce"].as_table().unwrap();
    let duration = |key: &str| humantime::parse_duration(commerce[key].as_str().unwrap()).unwrap();
    assert_eq!(duration("grace_period"), marquee_commerce::state::DEFAULT_GRACE_PERIOD);
    assert_eq!(duration("retry_interval"), marquee_commerce::state::DEFAULT_RETRY_INTERVAL);
    assert_eq!(duration("renewal_interval"), marquee_commerce::state::DEFAULT_RENEWAL_INTERVAL);
    assert_eq!(commerce.len(), 3, "{commerce:?}");
    let analytics = file["analytics"].as_table().unwrap();
    let duration = |key: &str| humantime::parse_duration(analytics[key].as_str().unwrap()).unwrap();
    assert_eq!(analytics["queue_beacons"].as_integer(), Some(marquee_analytics::DEFAULT_QUEUE_BEACONS as i64));
    assert_eq!(analytics["anonymous_burst"].as_integer(), Some(i64::from(marquee_analytics::DEFAULT_ANONYMOUS_BURST)));
    assert_eq!(duration("flush_every"), marquee_analytics::DEFAULT_FLUSH_EVERY);
    assert_eq!(duration("anonymous_refill"), marquee_analytics::DEFAULT_ANONYMOUS_REFILL);
    assert_eq!(duration("events_retention"), marquee_analytics::DEFAULT_EVENTS_RETENTION);
    assert_eq!(duration("rebuild_every"), marquee_analytics::DEFAULT_REBUILD_EVERY);
    assert_eq!(duration("watch_window"), marquee_analytics::DEFAULT_WATCH_WINDOW);
    assert_eq!(analytics.len(), 7, "{analytics:?}");
    let worker = file["worker"].as_table().unwrap();
    let duration = |key: &str| humantime::parse_duration(worker[key].as_str().unwrap()).unwrap();
    assert_eq!(worker["capacity"].as_integer(), Some(i64::from(marquee_worker::settings::DEFAULT_CAPACITY)));
    assert_eq!(duration("drain_timeout"), marquee_worker::settings::DEFAULT_DRAIN_TIMEOUT);
    assert_eq!(duration("stall_timeout"), marquee_worker::settings::DEFAULT_STALL_TIMEOUT);
    let source_bytes = worker["max_source_bytes"].as_str().unwrap().parse::<bytesize::ByteSize>().unwrap().as_u64();
    assert_eq!(source_bytes, marquee_worker::settings::DEFAULT_MAX_SOURCE_BYTES);
    assert_eq!(worker["allow_private_source_urls"].as_bool(), Some(false));
    assert_eq!(worker.len(), 5, "{worker:?}");
    let worker_text = &text[text.find("\n[worker]\n").unwrap()..];
    for key in ["api", "api_key", "storage", "name", "scratch_dir"] {
        assert!(worker_text.contains(&format!("\n# {key} = ")), "worker {key} is shown commented out");
    }

    // As printed it lacks only what has no default; uncommenting the lines of what has no default makes a working file.
    let dir = workspace();
    let path = dir.path().join("marquee.toml");
    std::fs::write(&path, &text).unwrap();
    let (out, _, stderr) = check(&path);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("8 problems"), "{stderr}");
    for place in [
        "origin.storage",
        "origin.key_file",
        "edge.upstreams",
        "edge.key_file",
        "api.storage",
        "worker.api",
        "worker.api_key",
        "worker.storage",
    ] {
        assert!(stderr.contains(&format!("  {place}: ")), "{place} in:\n{stderr}");
    }
    let edited = text
        .replace("# storage = \"/srv/marquee/media\"", "storage = \"media\"")
        .replace("# key_file = \"keys.toml\"", "key_file = \"keys.toml\"")
        .replace("# upstreams = [", "upstreams = [")
        .replace("# playback_base_url = ", "playback_base_url = ")
        .replace("# api = ", "api = ")
        .replace("# api_key = ", "api_key = ");
    std::fs::write(&path, edited).unwrap();
    let (out, stdout, stderr) = check(&path);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("is fine") && stdout.contains("on http://0.0.0.0:8080 (signed URLs, keys k1)"), "{stdout}");
    assert!(
        stdout.contains(
            "[edge] caches http://origin-a:8080, http://origin-b:8080 on http://0.0.0.0:8081 (signed URLs, keys k1); \
             memory 512MiB (64MiB for fills), no disk tier"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "[worker] claims up to 1 job(s) at once from http://api.internal:8090 and publishes to {}",
            dir.path().join("media").display()
        )),
        "{stdout}"
    );
}

#[test]
fn check_reports_every_problem_at_once_with_where_it_is() {
    let dir = workspace();
    let path = dir.path().join("marquee.toml");
    std::fs::write(
        &path,
        "[origin]\n\
         storage = \"media\"\n\
         key_file = \"missing-keys.toml\"\n\
         unsigned = true\n\
         max_conections = 10\n\
         write_timeout = \"10 parsecs\"\n\
         max_connections = 0\n\
         listen = \"localhost:80\"\n\
         tls_cert = \"cert.pem\"\n\
         [orgin]\n",
    )
    .unwrap();
    let (out, stdout, stderr) = check(&path);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("8 problems"), "{stderr}");
    for expected in [
        "origin.max_conections (line 5): unknown key",
        "origin.write_timeout (line 6): \"10 parsecs\" is not a duration",
        "origin.listen (line 8): \"localhost:80\" is not an IP address and port",
        "[orgin] (line 10): unknown section",
        "origin.unsigned (line 4): cannot be used together with a key file",
        "origin.key_file (line 3): cannot read key file",
        "origin.tls_cert (line 9): needs origin.tls_key as well",
        "origin.max_connections (line 7): must be more than zero",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
}

#[test]
fn check_reports_every_edge_problem_at_once_with_where_it_is() {
    let dir = workspace();
    std::fs::write(dir.path().join("blocked"), "a file, where the cache directory's parent should be").unwrap();
    let path = dir.path().join("marquee.toml");
    std::fs::write(
        &path,
        "[edge]\n\
         upstreams = [\"http://127.0.0.1:1\", \"ftp://x\"]\n\
         key_file = \"missing-keys.toml\"\n\
         unsigned = true\n\
         memory = \"lots\"\n\
         memory_max_object = \"1GiB\"\n\
         prefetch = 1000\n\
         disk_dir = \"blocked/cache\"\n\
         purge_token = \"short\"\n\
         tls_key = \"key.pem\"\n\
         upstream_timeout = \"0s\"\n\
         max_tll = \"1h\"\n\
         negative_ttl = 10\n",
    )
    .unwrap();
    let (out, stdout, stderr) = check(&path);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("12 problems"), "{stderr}");
    let blocked = dir.path().join("blocked");
    for expected in [
        "edge.memory (line 5): \"lots\" is not a size".to_owned(),
        "edge.max_tll (line 12): unknown key".to_owned(),
        "edge.negative_ttl (line 13): 10 has no unit".to_owned(),
        "edge.unsigned (line 4): cannot be used together with a key file (edge.key_file)".to_owned(),
        "edge.key_file (line 3): cannot read key file".to_owned(),
        "edge.tls_key (line 10): needs edge.tls_cert as well".to_owned(),
        "edge.upstreams (line 2): upstream ftp://x: not an http://host:port URL".to_owned(),
        "edge.memory_max_object (line 6): must be more than 0 and at most half of the memory tier, which is edge.memory \
         less edge.fill_memory"
            .to_owned(),
        "edge.upstream_timeout (line 11): must be more than zero".to_owned(),
        "edge.prefetch (line 7): must be at most 32".to_owned(),
        "edge.purge_token (line 9): must be at least 16 characters".to_owned(),
        format!(
            "edge.disk_dir (line 8): cannot create {}: {} is not a directory",
            blocked.join("cache").display(),
            blocked.display()
        ),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(!dir.path().join("blocked/cache").exists() && std::fs::read_dir(dir.path()).unwrap().count() == 4);
}

#[test]
fn the_satellites_settings_are_checked_where_they_were_set_and_refused_by_marquee_api() {
    let dir = workspace();
    let path = dir.path().join("marquee.toml");
    let text = "[api]\n\
         storage = \"media\"\n\
         database = \"sqlite:api.db\"\n\
         [commerce]\n\
         grace_period = \"100 days\"\n\
         retry_interval = \"10s\"\n\
         renewal_interval = 60\n\
         [analytics]\n\
         anonymous_burst = 0\n\
         watch_window = \"2 days\"\n\
         rebuild_every = \"1s\"\n\
         flush_evry = \"1s\"\n";
    std::fs::write(&path, text).unwrap();
    let (out, stdout, stderr) = check(&path);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("6 problems"), "{stderr}");
    for expected in [
        "commerce.renewal_interval (line 7): 60 has no unit",
        "analytics.flush_evry (line 12): unknown key",
        "commerce.grace_period (line 5): must be at most 90 days",
        "commerce.retry_interval (line 6): must be at least 1m",
        "analytics.anonymous_burst (line 9): must be at least 1",
        "analytics.rebuild_every (line 11): must be between 10s and 1 day",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }

    // `marquee api` refuses to start with them, naming the variable or flag that set a value.
    let (out, _, stderr) = run(marquee()
        .args(["api", "--config"])
        .arg(&path)
        .args(["--commerce-retry-interval", "5s", "--analytics-queue-beacons", "7"])
        .env("MARQUEE_COMMERCE_GRACE_PERIOD", "1year")
        .current_dir(dir.path()));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "MARQUEE_COMMERCE_GRACE_PERIOD: must be at most 90 days",
        "--commerce-retry-interval: must be at least 1m",
        "--analytics-queue-beacons: must be between 1000 and 10000000",
        "analytics.anonymous_burst (line 9): must be at least 1",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(!dir.path().join("api.db").exists(), "nothing was started");

    // Good values pass, each section saying what it sets.
    std::fs::write(
        &path,
        "[commerce]\ngrace_period = \"7 days\"\nretry_interval = \"12h\"\n[analytics]\nevents_retention = \"14 days\"\n",
    )
    .unwrap();
    let (out, stdout, stderr) = check(&path);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("[commerce] cancels past-due subscriptions after 7days, retrying their renewal every 12h"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[analytics] keeps beacon events 14days and rebuilds recommendations every 5m"),
        "{stdout}"
    );
}

#[test]
fn check_gives_the_line_and_column_of_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marquee.toml");
    std::fs::write(&path, "[origin]\nstorage = \"media\nunsigned = true\n").unwrap();
    let (out, _, stderr) = check(&path);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("marquee.toml line 2, column 17: not valid TOML: invalid basic string"), "{stderr}");
}

#[test]
fn a_good_file_passes_and_says_what_it_would_serve() {
    let dir = workspace();
    let path = dir.path().join("marquee.toml");
    std::fs::write(
        &path,
        "[origin]\nstorage = \"media\"\nkey_file = \"keys.toml\"\nlisten = \"127.0.0.1:9000\"\n\
         hot_cache_bytes = \"64MiB\"\nhot_object_max_bytes = 1048576\nshutdown_grace = \"5s\"\n",
    )
    .unwrap();
    let (out, stdout, stderr) = check(&path);
    assert!(out.status.success(), "{stdout}{stderr}");
    let media = dir.path().join("media");
    let expected = format!("[origin] serves {} on http://127.0.0.1:9000 (signed URLs, keys k1)", media.display());
    assert!(stdout.contains(&expected), "{stdout}");
}

/// `marquee origin` or `marquee edge` that has printed where it listens; killed when dropped.
struct RunningServer {
    child: Child,
    addr: String,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(mut cmd: Command) -> RunningServer {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start marquee");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) else {
        let _ = child.kill();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        panic!("marquee did not start: {line}{stderr}");
    };
    RunningServer { addr: url.trim_start_matches("http://").to_owned(), child }
}

/// The status line of `GET /healthz`.
fn healthz(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

fn serving_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("marquee.toml");
    std::fs::write(&path, "[origin]\nstorage = \"media\"\nunsigned = true\nlisten = \"127.0.0.1:0\"\n").unwrap();
    path
}

#[test]
fn origin_serves_with_a_config_file_and_a_flag_overrides_it() {
    let dir = workspace();
    let config = serving_config(dir.path());

    let mut cmd = marquee();
    cmd.args(["origin", "--config"]).arg(&config);
    let origin = start(cmd);
    assert!(origin.addr.starts_with("127.0.0.1:"), "{}", origin.addr);
    assert_eq!(healthz(&origin.addr), "HTTP/1.1 200 OK");

    let mut cmd = marquee();
    cmd.args(["origin", "--listen", "127.0.0.2:0", "--config"]).arg(&config);
    let origin = start(cmd);
    assert!(origin.addr.starts_with("127.0.0.2:"), "the flag wins over the file: {}", origin.addr);
    assert_eq!(healthz(&origin.addr), "HTTP/1.1 200 OK");
}

#[test]
fn environment_variables_override_the_file_and_flags_override_them() {
    let dir = workspace();
    let config = serving_config(dir.path());

    let mut cmd = marquee();
    cmd.env("MARQUEE_CONFIG", &config).env("MARQUEE_ORIGIN_LISTEN", "127.0.0.3:0").arg("origin");
    let origin = start(cmd);
    assert!(origin.addr.starts_with("127.0.0.3:"), "the variable wins over the file: {}", origin.addr);
    assert_eq!(healthz(&origin.addr), "HTTP/1.1 200 OK");

    let mut cmd = marquee();
    cmd.env("MARQUEE_ORIGIN_LISTEN", "127.0.0.3:0")
        .args(["origin", "--listen", "127.0.0.2:0", "--config"])
        .arg(&config);
    let origin = start(cmd);
    assert!(origin.addr.starts_with("127.0.0.2:"), "the flag wins over the variable: {}", origin.addr);

    // A bad value from the environment is named by its variable, in `config check` and at startup.
    let (out, _, stderr) =
        run(marquee().env("MARQUEE_ORIGIN_MAX_CONNECTIONS", "0").args(["config", "check"]).arg(&config));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("MARQUEE_ORIGIN_MAX_CONNECTIONS: must be more than zero"), "{stderr}");
    let (out, _, stderr) =
        run(marquee().env("MARQUEE_ORIGIN_MAX_CONNECTIONS", "0").args(["origin", "--config"]).arg(&config));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cannot start the origin: 1 problem"), "{stderr}");
    assert!(stderr.contains("MARQUEE_ORIGIN_MAX_CONNECTIONS: must be more than zero"), "{stderr}");
}

#[test]
fn without_a_config_file_the_origin_still_needs_a_key_file_or_unsigned() {
    let dir = workspace();
    let (out, _, stderr) = run(marquee().args(["origin", "--storage"]).arg(dir.path().join("media")));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("--key-file: neither a key file nor unsigned is set"), "{stderr}");
}

/// An unsigned `marquee origin` over the workspace's empty media folder, for an edge to fill from.
fn upstream_origin(dir: &Path) -> RunningServer {
    let mut cmd = marquee();
    cmd.args(["origin", "--unsigned", "--listen", "127.0.0.1:0", "--storage"]).arg(dir.join("media"));
    start(cmd)
}

#[test]
fn edge_serves_with_a_config_file_and_a_variable_and_a_flag_override_it() {
    let dir = workspace();
    let origin = upstream_origin(dir.path());
    let config = dir.path().join("marquee.toml");
    std::fs::write(
        &config,
        format!(
            "[edge]\nupstreams = [\"http://{}\"]\nunsigned = true\nlisten = \"127.0.0.1:0\"\ndisk_dir = \"cache\"\n\
             memory = \"64MiB\"\nnegative_ttl = \"2s\"\n",
            origin.addr
        ),
    )
    .unwrap();
    let (out, stdout, stderr) = check(&config);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("disk directory") && stdout.contains("will create it"), "{stdout}");
    assert!(!dir.path().join("cache").exists(), "the check creates nothing");

    let mut cmd = marquee();
    cmd.args(["edge", "--config"]).arg(&config);
    let edge = start(cmd);
    assert!(edge.addr.starts_with("127.0.0.1:"), "{}", edge.addr);
    assert_eq!(healthz(&edge.addr), "HTTP/1.1 200 OK");
    assert!(dir.path().join("cache").is_dir(), "the disk directory is taken from the file's directory");
    drop(edge); // the disk tier is locked by the edge using it

    let mut cmd = marquee();
    cmd.env("MARQUEE_CONFIG", &config).env("MARQUEE_EDGE_LISTEN", "127.0.0.3:0").arg("edge");
    let edge = start(cmd);
    assert!(edge.addr.starts_with("127.0.0.3:"), "the variable wins over the file: {}", edge.addr);
    assert_eq!(healthz(&edge.addr), "HTTP/1.1 200 OK");
    drop(edge);

    let mut cmd = marquee();
    cmd.env("MARQUEE_EDGE_LISTEN", "127.0.0.3:0").args(["edge", "--listen", "127.0.0.2:0", "--config"]).arg(&config);
    let edge = start(cmd);
    assert!(edge.addr.starts_with("127.0.0.2:"), "the flag wins over the variable and the file: {}", edge.addr);
    assert_eq!(healthz(&edge.addr), "HTTP/1.1 200 OK");
    drop(edge);

    // A bad value from the environment is named by its variable, in `config check` and at startup.
    let (out, _, stderr) = run(marquee().env("MARQUEE_EDGE_PREFETCH", "1000").args(["config", "check"]).arg(&config));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("MARQUEE_EDGE_PREFETCH: must be at most 32"), "{stderr}");
    let (out, _, stderr) = run(marquee().env("MARQUEE_EDGE_PREFETCH", "1000").args(["edge", "--config"]).arg(&config));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cannot start the edge: 1 problem"), "{stderr}");
    assert!(stderr.contains("MARQUEE_EDGE_PREFETCH: must be at most 32"), "{stderr}");
}

#[test]
fn without_a_config_file_the_edge_still_needs_an_upstream_and_a_key_file_or_unsigned() {
    let (out, _, stderr) = run(marquee().arg("edge"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cannot start the edge: 2 problems"), "{stderr}");
    assert!(stderr.contains("--key-file: neither a key file nor unsigned is set"), "{stderr}");
    assert!(stderr.contains("--upstream: no upstream: set `upstreams` under [edge]"), "{stderr}");
}

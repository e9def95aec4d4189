//! A real single-node Garage S3 server for tests, started in a temp dir on free loopback ports and killed on
//! drop. The binary comes from `scripts/install-garage.sh`; without it the tests fail and say so.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use marquee_storage::{ObjectStore, S3Config, S3Credentials, S3Store};

use crate::free_port;
use tempfile::TempDir;

/// The bucket that `--default-bucket` creates.
pub const BUCKET: &str = "marquee-test";
/// Garage's `s3_region`; requests must be signed for it.
pub const REGION: &str = "us-east-1";
/// Overrides where the binary is looked for.
const BINARY_ENV: &str = "MARQUEE_GARAGE";
/// Starts tried when a port picked as free was taken before Garage bound it.
const START_ATTEMPTS: u32 = 5;
/// How long to wait for the S3 port and then the bucket: attempts × pause.
const READY_ATTEMPTS: u32 = 200;
const READY_PAUSE: Duration = Duration::from_millis(25);

/// A running Garage. Its data lives in a temp dir that is removed with it.
pub struct Garage {
    child: Child,
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    log: PathBuf,
    // Dropped after the child is killed (fields drop in order, and `Drop::drop` runs first).
    _dir: TempDir,
}

impl Garage {
    /// Starts a server and waits until its S3 port accepts connections. Panics with Garage's log if it cannot.
    pub fn start() -> Self {
        let binary = garage_binary();
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&binary) {
                Ok(garage) => return garage,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("Garage did not start after {START_ATTEMPTS} attempts; last one:\n{last_failure}");
    }

    fn try_start(binary: &Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir for Garage");
        let (rpc_port, s3_port) = (free_port(), free_port());
        let rpc_secret = random_hex(64);
        let access_key_id = format!("GK{}", random_hex(24));
        let secret_access_key = random_hex(64);
        let config = format!(
            r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
"#,
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
        );
        let config_path = dir.path().join("garage.toml");
        fs::write(&config_path, config).expect("write Garage config");
        let log = dir.path().join("garage.log");
        let log_file = fs::File::create(&log).expect("create Garage log");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &access_key_id)
            .env("GARAGE_DEFAULT_SECRET_KEY", &secret_access_key)
            .env("GARAGE_DEFAULT_BUCKET", BUCKET)
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("dup Garage log"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", binary.display()));
        let mut garage = Self {
            child,
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            access_key_id,
            secret_access_key,
            log,
            _dir: dir,
        };
        let s3_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, s3_port));
        for _ in 0..READY_ATTEMPTS {
            if let Some(status) = garage.child.try_wait().expect("poll Garage") {
                // Typically a port taken between `free_port` and Garage's bind; the caller retries.
                return Err(format!("Garage exited with {status}:\n{}", garage.log_tail()));
            }
            if TcpStream::connect_timeout(&s3_addr, READY_PAUSE).is_ok() {
                return Ok(garage);
            }
            thread::sleep(READY_PAUSE);
        }
        Err(format!("Garage's S3 port {s3_port} did not open:\n{}", garage.log_tail()))
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn credentials(&self) -> S3Credentials {
        S3Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: None,
        }
    }

    /// A config for the store under `prefix` in the test bucket, with this server's keys.
    pub fn config(&self, prefix: &str) -> S3Config {
        let mut config = S3Config::new(BUCKET, prefix);
        config.endpoint = Some(self.endpoint.clone());
        config.region = REGION.to_owned();
        config.path_style = true;
        config.credentials = Some(self.credentials());
        config
    }

    /// The store under `prefix`, once the bucket answers (the port opens a moment before the bucket exists).
    pub async fn store(&self, prefix: &str) -> S3Store {
        let store = S3Store::new(self.config(prefix)).expect("valid test config");
        let mut last_error = None;
        for _ in 0..READY_ATTEMPTS {
            match store.list("").await {
                Ok(_) => return store,
                Err(error) => last_error = Some(error),
            }
            tokio::time::sleep(READY_PAUSE).await;
        }
        panic!("the Garage bucket never answered: {:?}\n{}", last_error, self.log_tail());
    }

    /// The end of Garage's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let Ok(mut file) = fs::File::open(&self.log) else { return String::new() };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(4000)));
        let mut tail = String::new();
        let _ = file.read_to_string(&mut tail);
        tail
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The garage binary: `$MARQUEE_GARAGE`, else the one `scripts/install-garage.sh` installs, else `PATH`.
pub fn garage_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(BINARY_ENV).map(PathBuf::from) {
        assert!(
            path.is_file(),
            "{BINARY_ENV}={} is not a file; unset it and run scripts/install-garage.sh",
            path.display()
        );
        return path;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cached = home.join(".cache/marquee-tools/bin/garage");
    if cached.is_file() {
        return cached;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("garage")).find(|p| p.is_file()));
    if let Some(Some(found)) = on_path {
        return found;
    }
    panic!(
        "the S3 tests need the Garage server, which is not installed: run scripts/install-garage.sh (it builds \
         garage 2.5.0 into {}, 13 to 20 minutes on 2 cores, once), or set {BINARY_ENV} to a garage binary",
        cached.display()
    );
}

fn random_hex(len: usize) -> String {
    let mut hex = String::with_capacity(len + 16);
    while hex.len() < len {
        // Each RandomState is seeded randomly (per process, then incremented), which is enough for test keys.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
        hex.push_str(&format!("{:016x}", hasher.finish()));
    }
    hex.truncate(len);
    hex
}

//! A throwaway PostgreSQL server for one test: Debian's `postgresql` package (`initdb` + `pg_ctl`) in a
//! temporary directory on a free loopback port, stopped when dropped. Never a cluster the machine happens
//! to run.
//!
//! `initdb` refuses to run as root, so as root the cluster is made and run by the package's `postgres` user
//! (in a directory that user owns). `fsync` and `synchronous_commit` are off: these servers are for
//! functional tests, not for crash safety or benchmarks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::free_port;

/// How many times [`Postgres::start`] tries a new port when the one it picked was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// A running PostgreSQL server with a database `marquee` owned by the trusted user `marquee`.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres_user: bool,
    _dir: TempDir,
}

impl Postgres {
    /// Starts a server and waits until it accepts connections. Panics with the server's log if it cannot.
    pub fn start() -> Self {
        let bin = bin_dir();
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin) {
                Ok(server) => return server,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("PostgreSQL did not start after {START_ATTEMPTS} attempts; last one:\n{last_failure}");
    }

    fn try_start(bin: &Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let as_postgres_user = is_root();
        if as_postgres_user {
            // The postgres user must reach the data directory: the temp dir is root's, mode 700.
            run(Command::new("chown").arg("postgres:postgres").arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        let port = free_port();
        let server = Self { bin: bin.to_path_buf(), data: data.clone(), port, as_postgres_user, _dir: dir };
        run(server
            .command("initdb")
            .args(["-A", "trust", "-U", "marquee", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data))?;
        let log = server.log_path();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            server._dir.path().display()
        );
        let started = run(server
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-o", &options, "start"]));
        if let Err(failure) = started {
            return Err(format!("{failure}\n{}", server.log_tail()));
        }
        run(server.command("createdb").args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "marquee", "marquee"]))?;
        Ok(server)
    }

    /// `postgres://marquee@127.0.0.1:PORT/marquee`.
    pub fn url(&self) -> String {
        self.database_url("marquee")
    }

    /// The URL of another database on this server, made with [`Postgres::create_database`].
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://marquee@127.0.0.1:{}/{name}", self.port)
    }

    /// Makes an empty database `name` and returns its URL: several independent databases on one server.
    pub fn create_database(&self, name: &str) -> String {
        run(self.command("createdb").args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "marquee", name]))
            .unwrap_or_else(|e| panic!("createdb {name}: {e}"));
        self.database_url(name)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's program folder (for `pgbench` and `psql`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn log_path(&self) -> PathBuf {
        self._dir.path().join("server.log")
    }

    /// One of the server's programs, run as the user that owns the cluster.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D"]).arg(&self.data).args(["-m", "immediate", "-w", "stop"]).output();
    }
}

/// Where Debian keeps the server programs: `$MARQUEE_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MARQUEE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "the PostgreSQL tests need Debian's postgresql package, which is not installed: run \
             scripts/install-deps.sh --test (or apt-get install postgresql), or set MARQUEE_PG_BIN to the folder \
             with initdb and pg_ctl"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(command: &mut Command) -> Result<Output, String> {
    let output = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

//! The worker's settings: `marquee worker`'s flags, its `MARQUEE_*` variables and the `[worker]` section of a
//! config file, declared once here. Each field's doc is its `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use marquee_settings::{Problem, Settings};
use serde::{Deserialize, Serialize};

/// Jobs run at once.
pub const DEFAULT_CAPACITY: u32 = 1;
/// The most jobs one worker runs at once.
pub const MAX_CAPACITY: u32 = 64;
/// How long running jobs may finish after the first stop signal.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(600);
/// A pipeline silent this long has stalled.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest `input_url` source fetched: 20 GiB.
pub const DEFAULT_MAX_SOURCE_BYTES: u64 = 20 << 30;

/// Everything `marquee worker` can be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(section = "worker", env_prefix = "MARQUEE_WORKER")]
pub struct WorkerSettings {
    /// The control API's base URL, http(s)://host[:port]. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_API", value_name = "URL", placeholder = "http://api.internal:8090")]
    pub api: Option<String>,
    /// An admin's API key (mqk_…), used once to register this worker; later calls use the worker's own token.
    /// Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_API_KEY", value_name = "KEY", hide_env_values, placeholder = "mqk_…")]
    pub api_key: Option<String>,
    /// The storage the API keeps uploads and presentations in (the same directory on one machine, the same
    /// s3://bucket/prefix in a farm): sources are read from it and ladders written to it. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_STORAGE", value_name = "LOCATION", location, placeholder = "/srv/marquee/media")]
    pub storage: Option<String>,
    /// A name for this worker in the API's farm view (default: the host name and process id).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(value_name = "NAME", placeholder = "transcoder-1")]
    pub name: Option<String>,
    /// Jobs run at once, 1 to 64 (each uses every core it can get; more than 1 helps only on large machines).
    #[setting(value_name = "N")]
    pub capacity: u32,
    /// Where sources are copied while being transcoded (default: the system's temporary directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_SCRATCH_DIR", value_name = "DIR", placeholder = "/var/tmp/marquee")]
    pub scratch_dir: Option<PathBuf>,
    /// After Ctrl-C or SIGTERM, how long running jobs may take to finish before they are handed back to the
    /// queue (a second signal hands them back at once).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub drain_timeout: Duration,
    /// Give a job up when no encoded data has arrived for this long (a stalled pipeline).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub stall_timeout: Duration,
    /// The largest source fetched for an asset created from an input_url.
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE")]
    pub max_source_bytes: u64,
    /// Let input_url sources reach loopback and private networks (off: a URL users chose must not reach the
    /// farm's own machines).
    pub allow_private_source_urls: bool,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            api: None,
            api_key: None,
            storage: None,
            name: None,
            capacity: DEFAULT_CAPACITY,
            scratch_dir: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_source_bytes: DEFAULT_MAX_SOURCE_BYTES,
            allow_private_source_urls: false,
        }
    }
}

impl WorkerSettings {
    /// What is wrong with these values, each about its key: every problem, not the first.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        match &self.api {
            None => problems.push(Problem::new(
                "api",
                "no control API: set `api` under [worker], --api or MARQUEE_API to its base URL (http://host:port)",
            )),
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                problems.push(Problem::new("api", format!("{url:?} is not an http:// or https:// URL")));
            }
            Some(_) => {}
        }
        if self.api_key.as_deref().is_none_or(str::is_empty) {
            problems.push(Problem::new(
                "api_key",
                "no API key: set `api_key` under [worker], --api-key or MARQUEE_API_KEY to an admin's key \
                 (POST /v1/api-keys makes one)",
            ));
        }
        if self.storage.is_none() {
            problems.push(Problem::new(
                "storage",
                "no storage location: set `storage` under [worker], --storage or MARQUEE_STORAGE to the API's \
                 (a directory, or s3://bucket/prefix)",
            ));
        }
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            problems.push(Problem::new("capacity", format!("must be between 1 and {MAX_CAPACITY}")));
        }
        if self.stall_timeout < Duration::from_secs(1) {
            problems.push(Problem::new("stall_timeout", "must be at least 1s"));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_lack_only_what_has_no_default() {
        let keys: Vec<_> = WorkerSettings::default().problems().iter().map(|p| p.key).collect();
        assert_eq!(keys, ["api", "api_key", "storage"]);
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let settings = WorkerSettings {
            api: Some("ftp://x".into()),
            api_key: Some(String::new()),
            storage: Some("/srv".into()),
            capacity: 0,
            stall_timeout: Duration::ZERO,
            ..WorkerSettings::default()
        };
        let keys: Vec<_> = settings.problems().iter().map(|p| p.key).collect();
        assert_eq!(keys, ["api", "api_key", "capacity", "stall_timeout"]);
        let fine = WorkerSettings {
            api: Some("https://api.example.com".into()),
            api_key: Some("mqk_x".into()),
            storage: Some("s3://media/".into()),
            ..WorkerSettings::default()
        };
        assert!(fine.problems().is_empty());
    }
}

//! How the farm's leases are timed, and the signal that wakes waiting claims. Values only.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// A claim lasts this long without a heartbeat.
pub const DEFAULT_JOB_LEASE: Duration = Duration::from_secs(30);
/// Workers send a heartbeat this often: a canceled job learns it within this time.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a claim waits for a job before answering 204.
pub const MAX_CLAIM_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting claim looks again without being woken (jobs enqueued by another API instance, or
/// whose retry backoff ended).
pub const CLAIM_RECHECK: Duration = Duration::from_millis(500);

/// The farm's timing and its wake-up signal, shared by every handler.
#[derive(Debug, Clone)]
pub struct FarmConfig {
    pub lease: Duration,
    pub heartbeat_interval: Duration,
    /// Notified when a job may have become claimable (enqueued, handed back, lease taken back).
    pub jobs_ready: Arc<Notify>,
}

impl FarmConfig {
    pub fn new(lease: Duration, heartbeat_interval: Duration) -> Self {
        Self { lease, heartbeat_interval, jobs_ready: Arc::new(Notify::new()) }
    }

    /// Wakes every waiting claim on this instance.
    pub fn wake_claims(&self) {
        self.jobs_ready.notify_waiters();
    }
}

impl Default for FarmConfig {
    fn default() -> Self {
        Self::new(DEFAULT_JOB_LEASE, DEFAULT_HEARTBEAT_INTERVAL)
    }
}

//! The farm's Prometheus metrics: claims, lease expiries, retries, finished jobs, and the queue's depth and
//! age by state.

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::jobs::StateDepth;

/// The farm's metrics, registered in the API's registry.
#[derive(Debug, Clone)]
pub struct FarmMetrics {
    pub claims: IntCounter,
    pub lease_expiries: IntCounter,
    pub retries: IntCounter,
    /// By outcome: `succeeded`, `failed`, `canceled`, `handed_back`.
    pub finished: IntCounterVec,
    jobs: IntGaugeVec,
    oldest_age: IntGaugeVec,
}

impl FarmMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let claims = IntCounter::new("marquee_api_job_claims_total", "Jobs claimed by workers")?;
        let lease_expiries = IntCounter::new(
            "marquee_api_job_lease_expiries_total",
            "Claims taken back because their worker stopped sending heartbeats",
        )?;
        let retries = IntCounter::new("marquee_api_job_retries_total", "Failed attempts queued again for a retry")?;
        let finished = IntCounterVec::new(
            Opts::new("marquee_api_job_attempts_finished_total", "Attempts that ended, by outcome"),
            &["outcome"],
        )?;
        let jobs = IntGaugeVec::new(Opts::new("marquee_api_jobs", "Jobs by state"), &["state"])?;
        let oldest_age = IntGaugeVec::new(
            Opts::new(
                "marquee_api_job_oldest_age_seconds",
                "How long the longest-waiting job has been in its state (queued: since queued; running: since its \
                 attempt started)",
            ),
            &["state"],
        )?;
        registry.register(Box::new(claims.clone()))?;
        registry.register(Box::new(lease_expiries.clone()))?;
        registry.register(Box::new(retries.clone()))?;
        registry.register(Box::new(finished.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(oldest_age.clone()))?;
        Ok(Self { claims, lease_expiries, retries, finished, jobs, oldest_age })
    }

    /// Sets the depth gauges from a fresh [`crate::jobs::JobQueue::depth_by_state`].
    pub fn set_depths(&self, depths: &[StateDepth]) {
        for depth in depths {
            let state = depth.state.as_str();
            self.jobs.with_label_values(&[state]).set(depth.jobs);
            self.oldest_age.with_label_values(&[state]).set(depth.oldest_age_ms.unwrap_or(0) / 1000);
        }
    }
}

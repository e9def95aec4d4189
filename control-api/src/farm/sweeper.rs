//! The farm's background task: takes back leases whose worker went quiet and refreshes the queue gauges, a
//! few times per lease. Safe on every API instance at once: each expiry is one conditional UPDATE per job.

use std::future::Future;
use std::time::Duration;

use super::service::Farm;

/// How often the sweeper runs for a lease of `lease`: a tenth of it, between 100 ms and 5 s, so a dead
/// worker's job is claimed again at most 10 % after its lease ends.
pub fn interval_for(lease: Duration) -> Duration {
    (lease / 10).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// Runs the sweeper until `stop` completes.
pub fn spawn(farm: Farm, stop: impl Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()> {
    let pause = interval_for(farm.config.lease);
    tokio::spawn(async move {
        tokio::pin!(stop);
        loop {
            if let Err(error) = farm.expire_leases().await {
                tracing::warn!(code = error.code, message = %error.message, "Lease expiry step failed.");
            }
            if let Err(error) = farm.observe_queue().await {
                tracing::warn!(code = error.code, message = %error.message, "Cannot read the queue's depth.");
            }
            tokio::select! {
                biased;
                () = &mut stop => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_runs_a_tenth_of_a_lease_within_bounds() {
        assert_eq!(interval_for(Duration::from_secs(30)), Duration::from_secs(3));
        assert_eq!(interval_for(Duration::from_millis(500)), Duration::from_millis(100));
        assert_eq!(interval_for(Duration::from_secs(600)), Duration::from_secs(5));
    }
}

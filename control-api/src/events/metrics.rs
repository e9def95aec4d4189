//! The dispatcher's Prometheus metrics, registered in the API's registry so `/metrics` serves them.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

use super::outcome::Verdict;

/// Webhook attempts by outcome and deliveries given up.
#[derive(Debug, Clone)]
pub struct WebhookMetrics {
    attempts: IntCounterVec,
    given_up: IntCounter,
}

impl WebhookMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let attempts = IntCounterVec::new(
            Opts::new(
                "marquee_api_webhook_attempts_total",
                "Webhook requests sent, by outcome (delivered, failed, endpoint_gone)",
            ),
            &["outcome"],
        )?;
        let given_up = IntCounter::new(
            "marquee_api_webhook_deliveries_given_up_total",
            "Webhook deliveries given up: retry window over, endpoint gone or disabled",
        )?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(given_up.clone()))?;
        Ok(Self { attempts, given_up })
    }

    pub(super) fn attempted(&self, verdict: Verdict) {
        self.attempts.with_label_values(&[verdict.as_str()]).inc();
    }

    pub(super) fn gave_up(&self) {
        self.given_up.inc();
    }
}

//! The API's Prometheus metrics (served at `/metrics`).

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The API's metrics and the registry they are in.
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
}

impl ApiMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("marquee_api_requests_total", "API requests answered, by method, route template and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "marquee_api_request_duration_seconds",
                "Time to answer an API request, by route template",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
            &["route"],
        )
        .expect("valid metric");
        registry.register(Box::new(requests.clone())).expect("registered once");
        registry.register(Box::new(request_seconds.clone())).expect("registered once");
        Self { registry, requests, request_seconds }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.requests.with_label_values(&[method, route, &status.to_string()]).inc();
        self.request_seconds.with_label_values(&[route]).observe(took.as_secs_f64());
    }
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

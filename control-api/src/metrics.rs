//! The API's Prometheus metrics (served at `/metrics`).

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// The API's metrics and the registry they are in.
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    uploads: UploadMetrics,
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
        let uploads = UploadMetrics::new();
        uploads.register(&registry);
        Self { registry, requests, request_seconds, uploads }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The upload counters, for the upload service to move.
    pub fn uploads(&self) -> &UploadMetrics {
        &self.uploads
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

/// What happens to an upload, as the `event` label of `marquee_api_uploads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadEvent {
    /// A creation (POST) made it.
    Created,
    /// Its last byte was stored (or it was created empty).
    Completed,
    /// A client terminated it (DELETE) before or after its completion.
    Terminated,
    /// It was left unfinished past its expiry and removed.
    Expired,
}

impl UploadEvent {
    pub const ALL: [Self; 4] = [Self::Created, Self::Completed, Self::Terminated, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Completed => "completed",
            Self::Terminated => "terminated",
            Self::Expired => "expired",
        }
    }
}

/// The upload service's counters: bytes stored and uploads by [`UploadEvent`]. Cheap to clone (the counters
/// are shared); a service without a registry counts into counters nobody reads.
#[derive(Debug, Clone)]
pub struct UploadMetrics {
    bytes: IntCounter,
    uploads: IntCounterVec,
}

impl UploadMetrics {
    /// Counters not yet in any registry.
    pub fn new() -> Self {
        let bytes = IntCounter::new(
            "marquee_api_upload_bytes_total",
            "Upload bytes stored: how far acknowledged upload offsets have advanced",
        )
        .expect("valid metric");
        let uploads = IntCounterVec::new(
            Opts::new(
                "marquee_api_uploads_total",
                "Uploads by what happened to them: created, completed, terminated, expired",
            ),
            &["event"],
        )
        .expect("valid metric");
        // Every label value is shown from the start, at 0.
        for event in UploadEvent::ALL {
            uploads.with_label_values(&[event.as_str()]);
        }
        Self { bytes, uploads }
    }

    fn register(&self, registry: &Registry) {
        registry.register(Box::new(self.bytes.clone())).expect("registered once");
        registry.register(Box::new(self.uploads.clone())).expect("registered once");
    }

    /// `bytes` more upload bytes are stored.
    pub fn stored(&self, bytes: u64) {
        self.bytes.inc_by(bytes);
    }

    pub fn count(&self, event: UploadEvent) {
        self.uploads.with_label_values(&[event.as_str()]).inc();
    }

    /// Upload bytes stored so far.
    pub fn stored_bytes(&self) -> u64 {
        self.bytes.get()
    }

    /// Uploads counted for `event` so far.
    pub fn counted(&self, event: UploadEvent) -> u64 {
        self.uploads.with_label_values(&[event.as_str()]).get()
    }
}

impl Default for UploadMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_counters_are_exported_with_every_event_at_zero() {
        let metrics = ApiMetrics::new();
        metrics.uploads().stored(1234);
        metrics.uploads().stored(6);
        metrics.uploads().count(UploadEvent::Completed);
        let text = prometheus::TextEncoder::new().encode_to_string(&metrics.registry().gather()).unwrap();
        assert!(text.contains("marquee_api_upload_bytes_total 1240\n"), "{text}");
        assert!(text.contains("marquee_api_uploads_total{event=\"completed\"} 1\n"), "{text}");
        for event in ["created", "terminated", "expired"] {
            assert!(text.contains(&format!("marquee_api_uploads_total{{event=\"{event}\"}} 0\n")), "{text}");
        }
        assert_eq!((metrics.uploads().stored_bytes(), metrics.uploads().counted(UploadEvent::Created)), (1240, 0));
    }
}

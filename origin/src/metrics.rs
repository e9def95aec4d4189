//! The origin's Prometheus metrics: names in one place, labels from enums so label sets stay bounded.

use std::time::Duration;

use marquee_http::admin::AdminRoute;
use marquee_http::content::MediaKind;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// What a request was for: the `route` label of the request metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Media(MediaKind),
    /// A path that names no servable object kind (unknown extension, `/`).
    UnknownObject,
    /// Refused before storage was asked: a traversal attempt, a bad escape, a denied token.
    Rejected,
    /// CORS preflight.
    Preflight,
    /// `/healthz`, `/readyz`, `/metrics`.
    Admin(AdminRoute),
    /// A method the origin does not serve (405).
    MethodNotAllowed,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Media(kind) => kind.as_str(),
            Route::UnknownObject => "unknown_object",
            Route::Rejected => "rejected",
            Route::Preflight => "preflight",
            Route::Admin(admin) => admin.as_str(),
            Route::MethodNotAllowed => "method_not_allowed",
        }
    }
}

/// The storage operations the origin times: the `op` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageOp {
    Head,
    Get,
    /// The `/readyz` probe.
    Probe,
}

impl StorageOp {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageOp::Head => "head",
            StorageOp::Get => "get",
            StorageOp::Probe => "probe",
        }
    }
}

/// What the hot-object cache made of a request: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HotLookup {
    /// Answered from memory.
    Hit,
    /// Read whole from storage (by this request or one it waited on), kept, and answered from memory.
    Filled,
    /// Larger than the hot-object limit: streamed from storage.
    TooBig,
    /// Not answered from memory for another reason (a HEAD of an object not in memory, a storage error).
    Bypass,
}

impl HotLookup {
    pub fn as_str(self) -> &'static str {
        match self {
            HotLookup::Hit => "hit",
            HotLookup::Filled => "filled",
            HotLookup::TooBig => "too_big",
            HotLookup::Bypass => "bypass",
        }
    }
}

/// Latency buckets in seconds, from a cached local read to a slow object store.
const DURATION_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// One server's metrics, in their own registry (so several servers in one process, as in tests, do not clash).
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    response_bytes: IntCounter,
    buffered_bytes: IntGauge,
    request_duration: HistogramVec,
    storage_duration: HistogramVec,
    storage_errors: IntCounterVec,
    hot_lookups: IntCounterVec,
    hot_bytes: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("marquee_origin_requests_total", "HTTP requests answered, by route and status code."),
            &["route", "status"],
        )
        .expect("valid metric");
        let response_bytes = IntCounter::new(
            "marquee_origin_response_bytes_total",
            "Response body bytes handed to connections (object bytes only, not headers).",
        )
        .expect("valid metric");
        let buffered_bytes = IntGauge::new(
            "marquee_origin_buffered_bytes",
            "Object bytes read from storage and held by response bodies, not yet handed to connections.",
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "marquee_origin_request_duration_seconds",
                "Time from a request's arrival to its response headers, by route.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let storage_duration = HistogramVec::new(
            HistogramOpts::new("marquee_origin_storage_duration_seconds", "Storage operation latency, by operation.")
                .buckets(DURATION_BUCKETS.to_vec()),
            &["op"],
        )
        .expect("valid metric");
        let storage_errors = IntCounterVec::new(
            Opts::new(
                "marquee_origin_storage_errors_total",
                "Storage operations that failed for a reason other than a missing object, by operation.",
            ),
            &["op"],
        )
        .expect("valid metric");
        let hot_lookups = IntCounterVec::new(
            Opts::new(
                "marquee_origin_hot_cache_requests_total",
                "Object requests by what the in-memory hot-object cache did for them.",
            ),
            &["result"],
        )
        .expect("valid metric");
        let hot_bytes = IntGauge::new(
            "marquee_origin_hot_cache_bytes",
            "Object bytes held by the in-memory hot-object cache (as of the last scrape).",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(response_bytes.clone()),
            Box::new(buffered_bytes.clone()),
            Box::new(request_duration.clone()),
            Box::new(storage_duration.clone()),
            Box::new(storage_errors.clone()),
            Box::new(hot_lookups.clone()),
            Box::new(hot_bytes.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            response_bytes,
            buffered_bytes,
            request_duration,
            storage_duration,
            storage_errors,
            hot_lookups,
            hot_bytes,
        }
    }

    pub fn observe_request(&self, route: Route, status: http::StatusCode, elapsed: Duration) {
        self.requests.with_label_values(&[route.as_str(), status.as_str()]).inc();
        self.request_duration.with_label_values(&[route.as_str()]).observe(elapsed.as_secs_f64());
    }

    pub fn observe_storage(&self, op: StorageOp, elapsed: Duration, failed: bool) {
        self.storage_duration.with_label_values(&[op.as_str()]).observe(elapsed.as_secs_f64());
        if failed {
            self.storage_errors.with_label_values(&[op.as_str()]).inc();
        }
    }

    pub fn observe_hot(&self, lookup: HotLookup) {
        self.hot_lookups.with_label_values(&[lookup.as_str()]).inc();
    }

    pub(crate) fn set_hot_bytes(&self, bytes: u64) {
        self.hot_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// The counter that response bodies add their bytes to as they are sent.
    pub fn response_bytes(&self) -> IntCounter {
        self.response_bytes.clone()
    }

    /// Object bytes that response bodies hold right now (read from storage, not yet handed to hyper).
    pub fn buffered_bytes(&self) -> i64 {
        self.buffered_bytes.get()
    }

    pub(crate) fn body_meters(&self) -> crate::body::BodyMeters {
        crate::body::BodyMeters { sent: self.response_bytes.clone(), held: self.buffered_bytes.clone() }
    }

    /// The registry every metric is in, for `/metrics`.
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        marquee_http::admin::render_registry(&self.registry)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_enum_labels() {
        let metrics = Metrics::new();
        metrics.observe_request(
            Route::Media(MediaKind::MediaSegment),
            http::StatusCode::PARTIAL_CONTENT,
            Duration::from_millis(3),
        );
        metrics.observe_storage(StorageOp::Get, Duration::from_millis(1), true);
        metrics.response_bytes().inc_by(10);
        let text = String::from_utf8(metrics.render()).unwrap();
        assert!(text.contains(r#"marquee_origin_requests_total{route="media_segment",status="206"} 1"#), "{text}");
        assert!(text.contains("marquee_origin_response_bytes_total 10"), "{text}");
        assert!(text.contains(r#"marquee_origin_request_duration_seconds_count{route="media_segment"} 1"#), "{text}");
        assert!(text.contains(r#"marquee_origin_storage_duration_seconds_count{op="get"} 1"#), "{text}");
        assert!(text.contains(r#"marquee_origin_storage_errors_total{op="get"} 1"#), "{text}");
    }
}

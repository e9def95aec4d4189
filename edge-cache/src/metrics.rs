//! The edge's Prometheus metrics: names in one place, labels from enums so label sets stay bounded.

use std::time::Duration;

use prometheus::{
    Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// What the cache did for a request: the `cache` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Fresh copy served from a tier.
    Hit,
    /// Fetched from upstream by this request.
    Miss,
    /// Served from a fetch another request started.
    Coalesced,
    /// A stale copy served (while revalidating, or because the upstream failed).
    Stale,
    /// Not a cacheable request (health, metrics, purge, preflight).
    Bypass,
    /// Refused before any lookup: bad path, bad token, wrong method.
    Refused,
    /// No copy and the upstream failed.
    Error,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Coalesced => "coalesced",
            CacheStatus::Stale => "stale",
            CacheStatus::Bypass => "bypass",
            CacheStatus::Refused => "refused",
            CacheStatus::Error => "error",
        }
    }

    /// The `X-Cache` header value.
    pub fn header(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Coalesced => "COALESCED",
            CacheStatus::Stale => "STALE",
            CacheStatus::Bypass => "BYPASS",
            CacheStatus::Refused => "REFUSED",
            CacheStatus::Error => "ERROR",
        }
    }
}

/// Where the bytes of an answer came from: the `tier` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Memory,
    Disk,
    Upstream,
    None,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::Disk => "disk",
            Tier::Upstream => "upstream",
            Tier::None => "none",
        }
    }
}

const DURATION_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One edge's metrics, in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    response_bytes: IntCounterVec,
    hit_ratio: Gauge,
    upstream_requests: IntCounterVec,
    upstream_errors: IntCounterVec,
    upstream_duration: HistogramVec,
    coalesced_waiters: IntCounter,
    fills_in_flight: IntGauge,
    tier_bytes: IntGaugeVec,
    tier_entries: IntGaugeVec,
    evictions: IntCounterVec,
    purged: IntCounterVec,
    prefetches: IntCounter,
    revalidations: IntCounterVec,
    fill_budget_bytes: IntGauge,
    fill_reserved_bytes: IntGauge,
    body_mapped_bytes: IntGauge,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let metrics = Self {
            requests: counter_vec(
                "marquee_edge_requests_total",
                "Requests answered, by cache status and the tier the bytes came from.",
                &["cache", "tier"],
            ),
            response_bytes: counter_vec(
                "marquee_edge_response_bytes_total",
                "Body bytes sent to clients, by the tier they came from.",
                &["tier"],
            ),
            hit_ratio: Gauge::new(
                "marquee_edge_hit_ratio",
                "Share of cacheable requests answered without waiting on the upstream (hit + stale) so far.",
            )
            .expect("valid metric"),
            upstream_requests: counter_vec(
                "marquee_edge_upstream_requests_total",
                "Upstream fetches that got an answer, by upstream and status class.",
                &["upstream", "class"],
            ),
            upstream_errors: counter_vec(
                "marquee_edge_upstream_errors_total",
                "Fills that failed, by reason.",
                &["reason"],
            ),
            upstream_duration: HistogramVec::new(
                HistogramOpts::new(
                    "marquee_edge_upstream_duration_seconds",
                    "Time from sending an upstream request to its response headers, by upstream.",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &["upstream"],
            )
            .expect("valid metric"),
            coalesced_waiters: IntCounter::new(
                "marquee_edge_coalesced_waiters_total",
                "Requests that waited on a fetch another request started instead of fetching themselves.",
            )
            .expect("valid metric"),
            fills_in_flight: IntGauge::new("marquee_edge_fills_in_flight", "Upstream fetches in progress.")
                .expect("valid metric"),
            tier_bytes: gauge_vec("marquee_edge_tier_bytes", "Bytes held, by tier.", &["tier"]),
            tier_entries: gauge_vec("marquee_edge_tier_entries", "Objects held, by tier.", &["tier"]),
            evictions: counter_vec(
                "marquee_edge_evictions_total",
                "Objects evicted to stay within a tier's budget, by tier.",
                &["tier"],
            ),
            purged: counter_vec("marquee_edge_purged_total", "Objects removed by the purge API, by tier.", &["tier"]),
            prefetches: IntCounter::new(
                "marquee_edge_prefetches_total",
                "Media segments fetched ahead of a request after a segment miss.",
            )
            .expect("valid metric"),
            revalidations: counter_vec(
                "marquee_edge_revalidations_total",
                "Conditional upstream requests for a stale copy, by result: not_modified (the copy was renewed \
                 without its body) or modified (a new body came).",
                &["result"],
            ),
            fill_budget_bytes: IntGauge::new(
                "marquee_edge_fill_budget_bytes",
                "Bytes that bodies being fetched may hold at once (part of the memory budget).",
            )
            .expect("valid metric"),
            fill_reserved_bytes: IntGauge::new(
                "marquee_edge_fill_reserved_bytes",
                "Bytes of the fill budget reserved by fetches in progress.",
            )
            .expect("valid metric"),
            body_mapped_bytes: IntGauge::new(
                "marquee_edge_body_mapped_bytes",
                "Bytes of segment-sized bodies alive in their own mappings: cached, being filled, or still held by \
                 responses in progress.",
            )
            .expect("valid metric"),
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(metrics.requests.clone()),
            Box::new(metrics.response_bytes.clone()),
            Box::new(metrics.hit_ratio.clone()),
            Box::new(metrics.upstream_requests.clone()),
            Box::new(metrics.upstream_errors.clone()),
            Box::new(metrics.upstream_duration.clone()),
            Box::new(metrics.coalesced_waiters.clone()),
            Box::new(metrics.fills_in_flight.clone()),
            Box::new(metrics.tier_bytes.clone()),
            Box::new(metrics.tier_entries.clone()),
            Box::new(metrics.evictions.clone()),
            Box::new(metrics.purged.clone()),
            Box::new(metrics.prefetches.clone()),
            Box::new(metrics.revalidations.clone()),
            Box::new(metrics.fill_budget_bytes.clone()),
            Box::new(metrics.fill_reserved_bytes.clone()),
            Box::new(metrics.body_mapped_bytes.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector).expect("metric names are unique");
        }
        metrics
    }

    pub fn observe_request(&self, cache: CacheStatus, tier: Tier) {
        self.requests.with_label_values(&[cache.as_str(), tier.as_str()]).inc();
    }

    pub fn response_bytes(&self, tier: Tier) -> IntCounter {
        self.response_bytes.with_label_values(&[tier.as_str()])
    }

    pub fn observe_upstream(&self, upstream: &str, status: http::StatusCode, elapsed: Duration) {
        let class = match status.as_u16() {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.upstream_requests.with_label_values(&[upstream, class]).inc();
        self.upstream_duration.with_label_values(&[upstream]).observe(elapsed.as_secs_f64());
    }

    pub fn observe_fill_failure(&self, reason: &str) {
        self.upstream_errors.with_label_values(&[reason]).inc();
    }

    pub fn observe_waiter(&self) {
        self.coalesced_waiters.inc();
    }

    pub fn fills_in_flight(&self) -> &IntGauge {
        &self.fills_in_flight
    }

    pub fn observe_prefetch(&self) {
        self.prefetches.inc();
    }

    pub fn observe_revalidation(&self, not_modified: bool) {
        let result = if not_modified { "not_modified" } else { "modified" };
        self.revalidations.with_label_values(&[result]).inc();
    }

    pub fn observe_purge(&self, tier: Tier, count: u64) {
        self.purged.with_label_values(&[tier.as_str()]).inc_by(count);
    }

    /// Tier sizes and eviction counts as of now (called before each scrape).
    pub fn set_tier(&self, tier: Tier, bytes: u64, entries: u64, evictions_so_far: u64) {
        let label = [tier.as_str()];
        self.tier_bytes.with_label_values(&label).set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.tier_entries.with_label_values(&label).set(i64::try_from(entries).unwrap_or(i64::MAX));
        let counter = self.evictions.with_label_values(&label);
        counter.inc_by(evictions_so_far.saturating_sub(counter.get()));
    }

    /// The fill budget and what is reserved of it, and the mapped bodies alive (called before each scrape).
    pub fn set_body_memory(&self, fill_budget: u64, fill_reserved: u64, mapped: u64) {
        let gauge = |bytes: u64| i64::try_from(bytes).unwrap_or(i64::MAX);
        self.fill_budget_bytes.set(gauge(fill_budget));
        self.fill_reserved_bytes.set(gauge(fill_reserved));
        self.body_mapped_bytes.set(gauge(mapped));
    }

    /// Requests so far with this cache status, over every tier.
    pub fn requests_with(&self, cache: CacheStatus) -> u64 {
        [Tier::Memory, Tier::Disk, Tier::Upstream, Tier::None]
            .into_iter()
            .map(|tier| self.requests.with_label_values(&[cache.as_str(), tier.as_str()]).get())
            .sum()
    }

    /// Sets the hit-ratio gauge from the request counters (before a scrape).
    pub fn update_hit_ratio(&self) {
        let served = self.requests_with(CacheStatus::Hit) + self.requests_with(CacheStatus::Stale);
        let fetched = self.requests_with(CacheStatus::Miss) + self.requests_with(CacheStatus::Coalesced);
        let lookups = served + fetched + self.requests_with(CacheStatus::Error);
        self.hit_ratio.set(if lookups == 0 { 0.0 } else { served as f64 / lookups as f64 });
    }

    /// The registry every metric is in, for `/metrics`.
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        self.update_hit_ratio();
        marquee_http::admin::render_registry(&self.registry)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

//! The admin endpoints every service answers beside its own routes: `/healthz` (the process answers),
//! `/readyz` (every named readiness check passes) and `/metrics` (the Prometheus text exposition of the
//! service's registry).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{join_all, BoxFuture};
use http::{Response, StatusCode};
use prometheus::{Encoder, Registry, TextEncoder};

use crate::response::{text, TEXT_PLAIN};

/// The content type of the Prometheus text format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// How long `/readyz` waits for each readiness check before counting it as failed.
pub const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Which admin endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminRoute {
    Health,
    Ready,
    Metrics,
}

impl AdminRoute {
    /// The admin endpoint at `path`, if it is one.
    pub fn of_path(path: &str) -> Option<Self> {
        match path {
            "/healthz" => Some(Self::Health),
            "/readyz" => Some(Self::Ready),
            "/metrics" => Some(Self::Metrics),
            _ => None,
        }
    }

    /// The metric label and log field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Health => "healthz",
            Self::Ready => "readyz",
            Self::Metrics => "metrics",
        }
    }
}

/// One thing a service needs before it can serve: storage answering, an upstream up. `Err` says why not.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A service's admin endpoints: its metrics registry and its named readiness checks.
#[derive(Clone)]
pub struct Admin {
    registry: Registry,
    checks: Vec<(&'static str, ReadinessCheck)>,
    readiness_timeout: Duration,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Admin").field("checks", &names).finish_non_exhaustive()
    }
}

impl Admin {
    /// Admin endpoints over `registry`, ready as long as no check says otherwise.
    pub fn new(registry: Registry) -> Self {
        Self { registry, checks: Vec::new(), readiness_timeout: DEFAULT_READINESS_TIMEOUT }
    }

    /// Adds a readiness check, named in `/readyz`'s answer and in logs when it fails.
    pub fn with_check(
        mut self,
        name: &'static str,
        check: impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push((name, Arc::new(check)));
        self
    }

    /// How long each check may take (default [`DEFAULT_READINESS_TIMEOUT`]).
    pub fn with_readiness_timeout(mut self, timeout: Duration) -> Self {
        self.readiness_timeout = timeout;
        self
    }

    /// Runs every check at once; the failed ones with why.
    pub async fn readiness(&self) -> Result<(), Vec<(&'static str, String)>> {
        let timeout = self.readiness_timeout;
        let results = join_all(self.checks.iter().map(|(name, check)| async move {
            match tokio::time::timeout(timeout, check()).await {
                Ok(Ok(())) => None,
                Ok(Err(reason)) => Some((*name, reason)),
                Err(_) => Some((*name, format!("no answer within {} ms", timeout.as_millis()))),
            }
        }))
        .await;
        let failed: Vec<_> = results.into_iter().flatten().collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed)
        }
    }

    /// The Prometheus text exposition of every metric in the registry.
    pub fn render_metrics(&self) -> Vec<u8> {
        render_registry(&self.registry)
    }

    /// The answer to an admin endpoint. A service that keeps gauges up to date lazily refreshes them before
    /// asking for [`AdminRoute::Metrics`].
    pub async fn answer<B: From<Bytes>>(&self, route: AdminRoute) -> Response<B> {
        match route {
            AdminRoute::Health => text(StatusCode::OK, TEXT_PLAIN, "ok\n"),
            AdminRoute::Ready => match self.readiness().await {
                Ok(()) => text(StatusCode::OK, TEXT_PLAIN, "ready\n"),
                Err(failed) => {
                    let mut body = String::from("not ready\n");
                    for (name, reason) in &failed {
                        tracing::warn!(check = name, reason = %reason, "Not ready.");
                        body.push_str(&format!("{name}: {reason}\n"));
                    }
                    text(StatusCode::SERVICE_UNAVAILABLE, TEXT_PLAIN, body)
                }
            },
            AdminRoute::Metrics => text(StatusCode::OK, METRICS_CONTENT_TYPE, self.render_metrics()),
        }
    }
}

/// The Prometheus text exposition of a registry.
pub fn render_registry(registry: &Registry) -> Vec<u8> {
    let mut out = Vec::new();
    // Encoding into a Vec only fails on metric families that cannot exist in a registry built in code.
    if let Err(error) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::warn!(%error, "Could not encode metrics.");
    }
    out
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    fn body(response: Response<Bytes>) -> (StatusCode, String) {
        (response.status(), String::from_utf8(response.into_body().to_vec()).unwrap())
    }

    #[tokio::test]
    async fn ready_only_when_every_named_check_passes() {
        let admin = Admin::new(Registry::new()).with_check("storage", || async { Ok(()) }.boxed());
        assert_eq!(body(admin.answer(AdminRoute::Ready).await), (StatusCode::OK, "ready\n".to_owned()));
        let admin = admin
            .with_check("upstreams", || async { Err("every upstream is down".to_owned()) }.boxed())
            .with_check("slow", || futures_util::future::pending().boxed())
            .with_readiness_timeout(Duration::from_millis(10));
        let (status, text) = body(admin.answer(AdminRoute::Ready).await);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(text, "not ready\nupstreams: every upstream is down\nslow: no answer within 10 ms\n");
    }

    #[tokio::test]
    async fn health_and_metrics() {
        let registry = Registry::new();
        let counter = prometheus::IntCounter::new("marquee_test_things_total", "Things.").unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        counter.inc_by(3);
        let admin = Admin::new(registry);
        assert_eq!(body(admin.answer(AdminRoute::Health).await), (StatusCode::OK, "ok\n".to_owned()));
        let response: Response<Bytes> = admin.answer(AdminRoute::Metrics).await;
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], METRICS_CONTENT_TYPE);
        assert!(body(response).1.contains("marquee_test_things_total 3"));
        assert_eq!(AdminRoute::of_path("/readyz"), Some(AdminRoute::Ready));
        assert_eq!(AdminRoute::of_path("/ready"), None);
    }
}

//! The edge's shared state: settings, tiers, fills in flight, the fill budget, upstreams and metrics, shared
//! by every connection on every worker thread.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use marquee_http::admin::Admin;
use marquee_http::{RequestAuthorizer, TrustedProxies};

use crate::budget::FillBudget;
use crate::config::EdgeConfig;
use crate::disk::DiskTier;
use crate::fill::Fills;
use crate::key::QueryAllowList;
use crate::memory::MemoryTier;
use crate::metrics::{Metrics, Tier};
use crate::object::CachedObject;
use crate::upstream::Upstreams;

/// Shared by every connection.
pub(crate) struct Edge {
    pub(crate) config: EdgeConfig,
    pub(crate) authorizer: Arc<dyn RequestAuthorizer>,
    pub(crate) allow: QueryAllowList,
    pub(crate) memory: MemoryTier<Arc<CachedObject>>,
    pub(crate) disk: Option<Arc<DiskTier>>,
    pub(crate) fills: Fills,
    /// Bytes the bodies of fills in flight may hold (carved out of `memory_bytes`).
    pub(crate) fill_budget: FillBudget,
    /// Bumped by every purge before it removes anything, so that a disk hit read before the purge is not
    /// promoted into memory after it.
    pub(crate) purges: AtomicU64,
    pub(crate) upstreams: Arc<Upstreams>,
    pub(crate) metrics: Metrics,
    pub(crate) admin: Admin,
    /// Peers whose X-Forwarded-For names the viewer.
    pub(crate) trusted_proxies: TrustedProxies,
}

impl Edge {
    pub(crate) fn refresh_tier_metrics(&self) {
        self.metrics.update_hit_ratio();
        self.memory.run_pending_tasks();
        let stats = self.memory.stats();
        let evicted = stats.evicted(crate::memory::EvictionCause::Capacity);
        self.metrics.set_tier(Tier::Memory, self.memory.weighted_bytes(), self.memory.entry_count(), evicted);
        if let Some(disk) = &self.disk {
            let stats = disk.stats();
            self.metrics.set_tier(Tier::Disk, stats.used_bytes, stats.entries, stats.evictions);
        }
        let budget = &self.fill_budget;
        self.metrics.set_body_memory(budget.total_bytes(), budget.reserved_bytes(), crate::body::mapped_bytes());
    }
}

//! The upstream side: which node owns a key (rendezvous hashing), failover to the next when one is down
//! (passive marking on failures, active `/healthz` probes to bring it back), and the token the edge signs so
//! that a signed origin or shield serves it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, Uri};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use marquee_signing::{Grant, KeyRing};
use tracing::{debug, info, warn};

use crate::hashing::Rendezvous;
use crate::key::CacheKey;

/// Idle keep-alive connections kept per upstream node; more are closed when their response ends.
pub const MAX_IDLE_CONNECTIONS_PER_UPSTREAM: usize = 32;

/// Why no upstream answered (the `reason` label of the upstream error metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("no upstream accepted a connection")]
    Connect,
    #[error("no upstream answered in time")]
    Timeout,
    #[error("the upstream connection failed")]
    Transport,
}

impl UpstreamError {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamError::Connect => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Transport => "transport",
        }
    }

    pub const LABELS: [&'static str; 3] = ["connect", "timeout", "transport"];
}

/// One upstream node.
#[derive(Debug)]
struct Node {
    base: String,
    /// Unix milliseconds until which the node is skipped.
    down_until_ms: AtomicU64,
    /// What the last health probe said.
    healthy: AtomicBool,
}

/// The upstream nodes and the HTTP client that talks to them.
pub struct Upstreams {
    nodes: Vec<Node>,
    ring: Rendezvous,
    client: Client<HttpConnector, Empty<Bytes>>,
    signer: Option<KeyRing>,
    token_ttl: Duration,
    timeout: Duration,
    down_for: Duration,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").field("nodes", &self.nodes).field("signed", &self.signer.is_some()).finish()
    }
}

/// An upstream response and which node gave it.
pub struct Fetched {
    pub response: Response<Incoming>,
    pub node: usize,
    pub started: Instant,
}

impl Upstreams {
    /// `bases` are `http://host:port` (checked by `EdgeConfig::problems`).
    pub fn new(
        bases: &[String],
        signer: Option<KeyRing>,
        token_ttl: Duration,
        connect_timeout: Duration,
        timeout: Duration,
        down_for: Duration,
    ) -> Result<Self, crate::hashing::HashingError> {
        let ring = Rendezvous::new(bases.iter().map(String::as_str))?;
        let nodes = bases
            .iter()
            .map(|base| Node {
                base: base.trim_end_matches('/').to_owned(),
                down_until_ms: AtomicU64::new(0),
                healthy: AtomicBool::new(true),
            })
            .collect();
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        // Each idle pooled connection keeps a read buffer of up to ~400 KiB, and a fill that starts before the
        // previous one's connection is back in the pool opens another: uncapped, a busy edge held hundreds
        // (63 MB of buffers under heaptrack in benches/edge-rss.sh). The cap bounds that memory.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS_PER_UPSTREAM)
            .build(connector);
        Ok(Self { nodes, ring, client, signer, token_ttl, timeout, down_for })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn base(&self, node: usize) -> &str {
        &self.nodes[node].base
    }

    /// Whether at least one upstream is neither marked down nor failing its health probe.
    pub fn any_up(&self) -> bool {
        let now = unix_ms();
        self.nodes
            .iter()
            .any(|node| node.healthy.load(Ordering::Relaxed) && node.down_until_ms.load(Ordering::Relaxed) <= now)
    }

    /// GETs `key` from its owner, or from the next node in rank order when a node cannot be reached or does
    /// not answer in time. Nodes marked down are tried last. Any HTTP answer (also a 5xx) is returned as is:
    /// another node would likely say the same.
    /// Asks the key's owner (then the others, while they fail) for the object; `conditions` are added to the
    /// request (`If-None-Match`, `If-Modified-Since` when revalidating a stale copy).
    pub async fn fetch(&self, key: &CacheKey, conditions: &HeaderMap) -> Result<Fetched, UpstreamError> {
        let now = unix_ms();
        let mut order = self.ring.rank(key.as_str());
        // Stable: up nodes first in rank order, then the down ones in rank order.
        order.sort_by_key(|&i| {
            let node = &self.nodes[i];
            !(node.healthy.load(Ordering::Relaxed) && node.down_until_ms.load(Ordering::Relaxed) <= now)
        });
        let path = self.upstream_path(key);
        let mut last_error = UpstreamError::Connect;
        for node in order {
            let uri: Uri = match format!("{}{path}", self.nodes[node].base).parse() {
                Ok(uri) => uri,
                Err(_) => continue,
            };
            let mut request = Request::get(uri)
                .header(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"))
                .header(header::USER_AGENT, HeaderValue::from_static("marquee-edge"))
                .body(Empty::new())
                .expect("a valid request");
            request.headers_mut().extend(conditions.iter().map(|(name, value)| (name.clone(), value.clone())));
            let started = Instant::now();
            match tokio::time::timeout(self.timeout, self.client.request(request)).await {
                Ok(Ok(response)) => return Ok(Fetched { response, node, started }),
                Ok(Err(error)) => {
                    last_error = if error.is_connect() { UpstreamError::Connect } else { UpstreamError::Transport };
                    self.mark_down(node, &error.to_string());
                }
                Err(_) => {
                    last_error = UpstreamError::Timeout;
                    self.mark_down(node, "no response headers in time");
                }
            }
        }
        Err(last_error)
    }

    fn mark_down(&self, node: usize, why: &str) {
        let until = unix_ms() + u64::try_from(self.down_for.as_millis()).unwrap_or(u64::MAX);
        self.nodes[node].down_until_ms.store(until, Ordering::Relaxed);
        warn!(upstream = %self.nodes[node].base, reason = why, "Upstream failed; trying the next one.");
    }

    /// The request path for `key`: with a fresh token for its asset when the edge signs.
    fn upstream_path(&self, key: &CacheKey) -> String {
        let mut path = key.upstream_path();
        if let Some(query) = key.query() {
            path.push('?');
            path.push_str(query);
        }
        let Some(keys) = &self.signer else { return path };
        let prefix = match key.asset() {
            Some(asset) => format!("/{asset}/"),
            None => "/".to_owned(),
        };
        let expires = unix_ms() / 1000 + self.token_ttl.as_secs();
        match Grant::new(&prefix, expires) {
            Ok(grant) => marquee_signing::token_path(&keys.sign(&grant), &path),
            Err(error) => {
                debug!(%error, key = %key, "Cannot sign this key's prefix; asking unsigned.");
                path
            }
        }
    }

    /// Probes every node's `/healthz` every `interval`, forever (run it in a task).
    pub async fn probe_health(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            for node in &self.nodes {
                let Ok(uri) = format!("{}/healthz", node.base).parse::<Uri>() else { continue };
                let request = Request::get(uri).body(Empty::new()).expect("a valid request");
                let ok = matches!(
                    tokio::time::timeout(self.timeout, self.client.request(request)).await,
                    Ok(Ok(response)) if response.status().is_success()
                );
                let was = node.healthy.swap(ok, Ordering::Relaxed);
                if was != ok {
                    info!(upstream = %node.base, healthy = ok, "Upstream health changed.");
                }
                if ok {
                    node.down_until_ms.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

fn unix_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

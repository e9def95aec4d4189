//! Request coalescing: however many requests miss on one key at once, one upstream fetch (a fill) runs, and
//! every waiter is served from its chunks as they arrive, not after the whole body is in. A fill always ends,
//! completed or failed (a dropped leader fails it), so a waiter never hangs on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, StatusCode};
use tokio::sync::watch;

use crate::object::CachedObject;
use crate::upstream::UpstreamError;

/// Why a fill failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FillFailure {
    #[error("{0}")]
    Upstream(UpstreamError),
    #[error("the upstream response is larger than max_object_bytes")]
    TooLarge,
    #[error("the upstream body broke off or stalled")]
    BodyBroken,
    #[error("the fill was abandoned")]
    Abandoned,
    #[error("the fill budget stayed full for upstream_timeout (too many large misses at once)")]
    Busy,
}

impl FillFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            FillFailure::Upstream(error) => error.as_str(),
            FillFailure::TooLarge => "too_large",
            FillFailure::BodyBroken => "body_broken",
            FillFailure::Abandoned => "abandoned",
            FillFailure::Busy => "busy",
        }
    }
}

/// The upstream's status and headers (already reduced to what is stored and sent on).
#[derive(Debug, Clone)]
pub struct FillHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub content_length: Option<u64>,
}

#[derive(Debug, Default)]
struct FillState {
    head: Option<Arc<FillHead>>,
    chunks: Vec<Bytes>,
    received: u64,
    outcome: Option<Result<Arc<CachedObject>, FillFailure>>,
}

/// One upstream fetch in progress, shared by its waiters.
#[derive(Debug)]
pub struct Fill {
    state: Mutex<FillState>,
    /// Bumped on every change of `state`; waiters subscribe, then look, then wait.
    changed: watch::Sender<u64>,
    /// Requests served by this fill besides the one that started it.
    waiters: AtomicUsize,
    /// A purge covered the key while this fill ran: its object must not stay in the tiers.
    purged: AtomicBool,
}

impl Default for Fill {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            changed: watch::Sender::new(0),
            waiters: AtomicUsize::new(0),
            purged: AtomicBool::new(false),
        }
    }
}

impl Fill {
    fn state(&self) -> MutexGuard<'_, FillState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bump(&self) {
        self.changed.send_modify(|version| *version += 1);
    }

    pub fn set_head(&self, head: FillHead) {
        self.state().head = Some(Arc::new(head));
        self.bump();
    }

    /// Adds a body chunk; the body so far must stay at most `limit` bytes.
    pub fn push(&self, chunk: Bytes, limit: u64) -> Result<(), FillFailure> {
        {
            let mut state = self.state();
            state.received += chunk.len() as u64;
            if state.received > limit {
                return Err(FillFailure::TooLarge);
            }
            state.chunks.push(chunk);
        }
        self.bump();
        Ok(())
    }

    /// The body received so far, in one buffer (for the completed object; see [`crate::body`] for where).
    pub fn body(&self) -> Bytes {
        let state = self.state();
        crate::body::concat(&state.chunks, usize::try_from(state.received).unwrap_or(usize::MAX))
    }

    /// Ends the fill; the first outcome wins.
    pub fn finish(&self, outcome: Result<Arc<CachedObject>, FillFailure>) {
        {
            let mut state = self.state();
            if state.outcome.is_some() {
                return;
            }
            // Complete: the object's body has every byte, so the chunks can go (waiters continue from the
            // body by byte offset), and memory drops back to one copy of the object.
            if outcome.is_ok() {
                state.chunks = Vec::new();
            }
            state.outcome = Some(outcome);
        }
        self.bump();
    }

    pub fn is_finished(&self) -> bool {
        self.state().outcome.is_some()
    }

    /// Whether a purge covered this fill's key since it started ([`Fills::purge`]).
    pub fn is_purged(&self) -> bool {
        self.purged.load(Ordering::Acquire)
    }

    pub fn add_waiter(&self) {
        self.waiters.fetch_add(1, Ordering::Relaxed);
    }

    pub fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Waits for the response head (or the failure that came instead).
    pub async fn head(&self) -> Result<Arc<FillHead>, FillFailure> {
        let mut changes = self.changed.subscribe();
        loop {
            {
                let state = self.state();
                if let Some(head) = &state.head {
                    return Ok(head.clone());
                }
                if let Some(Err(failure)) = &state.outcome {
                    return Err(*failure);
                }
            }
            if changes.changed().await.is_err() {
                return Err(FillFailure::Abandoned);
            }
        }
    }

    /// Waits for the whole object.
    pub async fn object(&self) -> Result<Arc<CachedObject>, FillFailure> {
        let mut changes = self.changed.subscribe();
        loop {
            if let Some(outcome) = &self.state().outcome {
                return outcome.clone();
            }
            if changes.changed().await.is_err() {
                return Err(FillFailure::Abandoned);
            }
        }
    }

    /// The body as it arrives, from its first byte, whenever the stream is started.
    pub fn stream(self: Arc<Self>) -> impl Stream<Item = Result<Bytes, FillFailure>> + Send + 'static {
        // (fill, next chunk, bytes sent so far); `next == usize::MAX` once the stream has ended.
        futures_util::stream::unfold((self, 0usize, 0usize), |(fill, next, sent)| async move {
            if next == usize::MAX {
                return None;
            }
            let mut changes = fill.changed.subscribe();
            loop {
                {
                    let state = fill.state();
                    match &state.outcome {
                        // Complete (its chunks gone): the rest of the object in one frame.
                        Some(Ok(object)) => {
                            let rest = object.body.slice(sent.min(object.body.len())..);
                            drop(state);
                            return (!rest.is_empty()).then_some((Ok(rest), (fill, usize::MAX, 0)));
                        }
                        Some(Err(failure)) => {
                            let failure = *failure;
                            drop(state);
                            return Some((Err(failure), (fill, usize::MAX, 0)));
                        }
                        None => {}
                    }
                    if let Some(chunk) = state.chunks.get(next) {
                        let chunk = chunk.clone();
                        drop(state);
                        let sent = sent + chunk.len();
                        return Some((Ok(chunk), (fill, next + 1, sent)));
                    }
                }
                if changes.changed().await.is_err() {
                    return Some((Err(FillFailure::Abandoned), (fill, usize::MAX, 0)));
                }
            }
        })
    }
}

/// Fails its fill when dropped before the fill ended (a leader task that panicked or was cancelled).
#[derive(Debug)]
pub struct FillGuard(pub Arc<Fill>);

impl Drop for FillGuard {
    fn drop(&mut self) {
        self.0.finish(Err(FillFailure::Abandoned));
    }
}

/// Whether a request starts a fill or joins one.
#[derive(Debug)]
pub enum Joined {
    Leader(Arc<Fill>),
    Waiter(Arc<Fill>),
}

/// The fills in flight, by cache key.
#[derive(Debug, Default)]
pub struct Fills {
    in_flight: Mutex<HashMap<String, Arc<Fill>>>,
}

impl Fills {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Fill>>> {
        self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fill for `key`: the one in flight, or a new one this caller must run.
    pub fn join(&self, key: &str) -> Joined {
        let mut map = self.map();
        if let Some(fill) = map.get(key) {
            fill.add_waiter();
            return Joined::Waiter(fill.clone());
        }
        let fill = Arc::new(Fill::default());
        map.insert(key.to_owned(), fill.clone());
        Joined::Leader(fill)
    }

    /// The fill in flight for `key`, if any, counted as a waiter.
    pub fn find(&self, key: &str) -> Option<Arc<Fill>> {
        let map = self.map();
        let fill = map.get(key)?;
        fill.add_waiter();
        Some(fill.clone())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map().contains_key(key)
    }

    /// Removes `fill` (and only that fill) once its object is in the tiers, or it failed.
    pub fn remove(&self, key: &str, fill: &Arc<Fill>) {
        let mut map = self.map();
        if map.get(key).is_some_and(|current| Arc::ptr_eq(current, fill)) {
            map.remove(key);
        }
    }

    /// A purge: marks the fills whose key text `covers` says the purge covers, and forgets them, so that new
    /// requests start a fresh fill instead of joining one that began before the purge. The marked fills still
    /// serve the requests already waiting on them; their leaders must not leave the object in the tiers
    /// (see [`Fill::is_purged`]). Returns how many were marked.
    pub fn purge(&self, covers: impl Fn(&str) -> bool) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|key, fill| {
            let doomed = covers(key);
            if doomed {
                fill.purged.store(true, Ordering::Release);
            }
            !doomed
        });
        before - map.len()
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn waiters_stream_chunks_as_they_arrive_and_late_joiners_get_everything() {
        let fills = Fills::default();
        let Joined::Leader(fill) = fills.join("k") else { panic!("first is the leader") };
        let Joined::Waiter(same) = fills.join("k") else { panic!("second waits") };
        assert!(Arc::ptr_eq(&fill, &same));
        let mut early = Box::pin(same.clone().stream());
        fill.set_head(FillHead { status: StatusCode::OK, headers: HeaderMap::new(), content_length: Some(6) });
        assert_eq!(fill.head().await.unwrap().status, StatusCode::OK);
        fill.push(Bytes::from_static(b"abc"), 100).unwrap();
        assert_eq!(early.next().await.unwrap().unwrap(), Bytes::from_static(b"abc"), "served before the end");
        fill.push(Bytes::from_static(b"def"), 100).unwrap();
        let late = fill.clone().stream();
        let object = Arc::new(test_object(fill.body()));
        fill.finish(Ok(object));
        assert_eq!(early.next().await.unwrap().unwrap(), Bytes::from_static(b"def"));
        assert!(early.next().await.is_none());
        let late: Vec<Bytes> = late.map(Result::unwrap).collect().await;
        assert_eq!(late.concat(), b"abcdef");
        fills.remove("k", &fill);
        assert!(fills.is_empty());
    }

    #[tokio::test]
    async fn a_dropped_leader_fails_its_waiters_instead_of_hanging_them() {
        let fills = Fills::default();
        let Joined::Leader(fill) = fills.join("k") else { panic!() };
        let waiter = fills.find("k").unwrap();
        let waiting = tokio::spawn(async move { waiter.head().await });
        drop(FillGuard(fill));
        assert_eq!(waiting.await.unwrap().unwrap_err(), FillFailure::Abandoned);
    }

    #[test]
    fn a_purge_marks_and_forgets_the_fills_it_covers() {
        let fills = Fills::default();
        let Joined::Leader(covered) = fills.join("film/a.m4s") else { panic!() };
        let Joined::Leader(other) = fills.join("other/a.m4s") else { panic!() };
        assert_eq!(fills.purge(|key| key.starts_with("film/")), 1);
        assert!(covered.is_purged() && !other.is_purged());
        assert!(fills.find("film/a.m4s").is_none(), "a new request starts a new fill");
        assert!(matches!(fills.join("film/a.m4s"), Joined::Leader(fresh) if !fresh.is_purged()));
        fills.remove("film/a.m4s", &covered);
        assert!(fills.contains("film/a.m4s"), "the old fill's end leaves the new one in place");
    }

    #[tokio::test]
    async fn too_large_bodies_are_refused() {
        let fill = Fill::default();
        fill.push(Bytes::from_static(b"1234"), 5).unwrap();
        assert_eq!(fill.push(Bytes::from_static(b"56"), 5), Err(FillFailure::TooLarge));
    }

    fn test_object(body: Bytes) -> CachedObject {
        let policy = crate::freshness::FreshnessPolicy::default();
        let now = std::time::SystemTime::now();
        let freshness = policy.evaluate(StatusCode::OK, &HeaderMap::new(), now).unwrap();
        CachedObject::new(StatusCode::OK, &HeaderMap::new(), body, now, freshness)
    }
}

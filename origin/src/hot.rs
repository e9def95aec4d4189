//! Hot objects: small published objects kept whole in memory for a short time, so that the requests a
//! popular asset draws (every viewer's manifest, the segment everyone is on) are answered without a storage
//! round trip, and concurrent misses for one object cause one storage read.
//!
//! What the packager publishes is written once and replaced only by an explicit republish, so keeping it is
//! safe; the time-to-live ([`crate::OriginConfig::hot_object_ttl`]) bounds how long a replaced or deleted
//! object can still be served from memory. Objects over [`crate::OriginConfig::hot_object_max_bytes`] are
//! streamed from storage as before. The cache weighs entries by their body size and stays within
//! [`crate::OriginConfig::hot_cache_bytes`] (moka's admission and eviction: W-TinyLFU).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderValue;
use marquee_storage::{ObjectKey, ObjectMeta, ObjectRead, ObjectStore, StorageError};

use marquee_http::conditional::Validators;

/// One object held whole, with its header values computed once.
#[derive(Debug)]
pub(crate) struct HotObject {
    pub meta: ObjectMeta,
    pub validators: Validators,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub body: Bytes,
}

impl HotObject {
    fn new(meta: ObjectMeta, body: Bytes) -> Self {
        let validators = Validators::new(meta.size, meta.modified);
        let etag = HeaderValue::from_str(&validators.etag).expect("quotes and hex digits");
        let last_modified = HeaderValue::from_str(&validators.last_modified_header()).expect("an IMF-fixdate");
        Self { meta, validators, etag, last_modified, body }
    }
}

/// Why a lookup did not give a hot object.
pub(crate) enum Cold {
    /// Bigger than the hot-object limit: here is the whole-object read the lookup opened, to stream.
    TooBig(ObjectRead),
    /// Someone else's read found it too big, or it changed while read: the caller reads for itself.
    Read,
    /// Storage failed (or has no such object); every request that waited on the read gets the same error.
    Failed(Arc<StorageError>),
}

/// Why a fill did not produce a hot object (shared by every request that waited on the fill).
#[derive(Debug, thiserror::Error)]
enum FillError {
    #[error("larger than the hot-object limit")]
    TooBig,
    #[error(transparent)]
    Storage(Arc<StorageError>),
    #[error("the object changed size while it was read")]
    Torn,
}

pub(crate) struct HotObjects {
    cache: moka::future::Cache<String, Arc<HotObject>>,
    max_object_bytes: u64,
}

impl HotObjects {
    pub fn new(capacity_bytes: u64, max_object_bytes: u64, ttl: Duration) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_key: &String, object: &Arc<HotObject>| {
                u32::try_from(object.body.len()).unwrap_or(u32::MAX).max(1)
            })
            .time_to_live(ttl)
            .build();
        Self { cache, max_object_bytes }
    }

    /// The object if it is in memory, without touching storage (for HEAD, which never fills).
    pub async fn peek(&self, key: &ObjectKey) -> Option<Arc<HotObject>> {
        self.cache.get(key.as_str()).await
    }

    /// The object and whether it was in memory already; or read whole from storage (one read however many requests wait for it) and
    /// kept. `on_read` is told how long the storage read took and whether it failed, for the metrics.
    pub async fn get_or_read(
        &self,
        store: &dyn ObjectStore,
        key: &ObjectKey,
        on_read: impl FnOnce(Duration, bool),
    ) -> Result<(Arc<HotObject>, bool), Cold> {
        if let Some(object) = self.cache.get(key.as_str()).await {
            return Ok((object, true));
        }
        let mut too_big = None;
        let fill = async {
            let started = std::time::Instant::now();
            let result = read_whole(store, key, self.max_object_bytes).await;
            let failed = match &result {
                Err(Fill::Failed(FillError::Storage(error))) => !matches!(**error, StorageError::NotFound { .. }),
                Ok(_) | Err(Fill::TooBig(_)) => false,
                Err(Fill::Failed(FillError::TooBig | FillError::Torn)) => false,
            };
            on_read(started.elapsed(), failed);
            match result {
                Err(Fill::TooBig(read)) => {
                    too_big = Some(read);
                    Err(FillError::TooBig)
                }
                Err(Fill::Failed(error)) => Err(error),
                Ok(object) => Ok(Arc::new(object)),
            }
        };
        match self.cache.try_get_with(key.as_str().to_owned(), fill).await {
            Ok(object) => Ok((object, false)),
            Err(error) => Err(match (too_big, &*error) {
                (Some(read), _) => Cold::TooBig(read),
                (None, FillError::Storage(error)) => Cold::Failed(error.clone()),
                (None, FillError::TooBig | FillError::Torn) => Cold::Read,
            }),
        }
    }

    /// Bytes of bodies held now (after applying the evictions and expiries moka has queued).
    pub async fn weighted_bytes(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }
}

enum Fill {
    TooBig(ObjectRead),
    Failed(FillError),
}

impl From<FillError> for Fill {
    fn from(error: FillError) -> Self {
        Fill::Failed(error)
    }
}

impl From<StorageError> for Fill {
    fn from(error: StorageError) -> Self {
        Fill::Failed(FillError::Storage(Arc::new(error)))
    }
}

async fn read_whole(store: &dyn ObjectStore, key: &ObjectKey, max_bytes: u64) -> Result<HotObject, Fill> {
    let read = store.get_range(key, None).await?;
    if read.meta.size > max_bytes {
        return Err(Fill::TooBig(read));
    }
    let ObjectRead { meta, mut body } = read;
    let size = usize::try_from(meta.size).expect("at most the hot-object limit, which fits in memory");
    let mut whole = BytesMut::with_capacity(size);
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if whole.len() + chunk.len() > size {
            return Err(FillError::Torn.into());
        }
        whole.extend_from_slice(&chunk);
    }
    if whole.len() != size {
        return Err(FillError::Torn.into());
    }
    Ok(HotObject::new(meta, whole.freeze()))
}

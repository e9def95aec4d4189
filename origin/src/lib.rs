//! The origin server: serves what the packager publishes (HLS and DASH manifests, CMAF init and media
//! segments, subtitles, thumbnails) from any [`ObjectStore`], behind a [`RequestAuthorizer`]. It is one service
//! on `marquee-http`, which serves its connections and holds the header logic it answers with.
//!
//! ```text
//! request ─► decode path (marquee_http::path) ─► authorize (/t/{token}/ stripped) ─► ObjectKey ─► MediaKind
//!         ─► storage get_range ─► validators, preconditions and Range (marquee_http::selection)
//!         ─► streamed body (body.rs) with Content-Type and Cache-Control (marquee_http::content)
//! ```
//!
//! HTTP/1.1 with keep-alive and cleartext HTTP/2 (prior knowledge) on one port; `/healthz`, `/readyz` and
//! `/metrics` beside the media. Everything that decides an answer is a pure function in `marquee_http`;
//! the shell is `server.rs`.
//!
//! # Hot objects
//!
//! Whole objects up to [`OriginConfig::hot_object_max_bytes`] are kept in memory after a GET reads them (moka,
//! weighted by bytes, within [`OriginConfig::hot_cache_bytes`], for [`OriginConfig::hot_object_ttl`]); the next
//! requests are answered from that copy, and concurrent misses for one object are one storage read. Larger
//! objects, HEADs of objects not in memory and a disabled cache (`hot_cache_bytes = 0`) take the storage path
//! below.
//!
//! # Reading from storage
//!
//! A plain GET (whole object, or a `first-last` / `first-` range, and no precondition or `If-Range` header) is
//! one [`ObjectStore::get_range`]: its metadata (size of the whole object, modification time) gives the
//! validators and `Content-Range`, and its stream is the body. A conditional GET, a suffix range (`-n`) and
//! HEAD ask `head` first, decide, then (GET) read exactly the answer's bytes with `get_range`; if the object
//! changed in between, the answer is 503 rather than validators of one version over bytes of another. A range
//! past the end comes back from storage as `StorageError::RangeNotSatisfiable` and is answered 416 (after a
//! `head` for its validators: rare, so not optimised).
//!
//! Bodies are streamed to hyper as storage delivers them (`LocalDir`: chunks of 256 KiB read from the file it
//! opened; S3: the SDK's chunks), so a response holds about one chunk, never its object, and the storage
//! read advances only as fast as the client reads. Each GET reserves [`OriginConfig::body_chunk_bytes`] of
//! [`OriginConfig::max_buffered_bytes`] (503 beyond it), which bounds how many bodies are in flight; the
//! `marquee_origin_buffered_bytes` gauge shows the object bytes held right now. There is no object size limit.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use marquee_http::Unsigned;
//! use marquee_origin::OriginConfig;
//!
//! let store = marquee_storage::open("/srv/marquee/media")?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! marquee_origin::serve(OriginConfig::default(), store, Arc::new(Unsigned), shutdown).await?;
//! # Ok(())
//! # }
//! ```

mod body;
pub mod config;
mod error;
mod hot;
pub mod metrics;
mod server;

use std::future::Future;
use std::sync::Arc;

use marquee_http::RequestAuthorizer;
use marquee_storage::ObjectStore;

pub use config::{OriginConfig, OriginSettings};
pub use error::{OriginError, Refusal};
pub use server::{Origin, READINESS_PROBE_KEY};

/// Binds `config.listen` and serves until `shutdown` completes; in-flight responses are then given up to
/// `config.connections.shutdown_grace` to finish. Use [`Origin::bind`] and [`Origin::run`] to learn the bound
/// address first.
pub async fn serve(
    config: OriginConfig,
    store: Arc<dyn ObjectStore>,
    authorizer: Arc<dyn RequestAuthorizer>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), OriginError> {
    Origin::bind(config, store, authorizer).await?.run(shutdown).await
}

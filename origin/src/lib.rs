//! The origin server: serves what the packager publishes (HLS and DASH manifests, CMAF init and media
//! segments, subtitles, thumbnails) from any [`ObjectStore`], behind a [`RequestAuthorizer`].
//!
//! ```text
//! request ─► decode path (http::path) ─► authorize (/t/{token}/ stripped) ─► ObjectKey ─► MediaKind
//!         ─► storage head ─► validators + preconditions (http::conditional) ─► Range (http::range)
//!         ─► storage get ─► chunked body (body.rs) with Content-Type and Cache-Control (http::content)
//! ```
//!
//! HTTP/1.1 with keep-alive and cleartext HTTP/2 (prior knowledge) on one port; `/healthz`, `/readyz` and
//! `/metrics` beside the media. Everything that decides an answer is a pure function in [`http`]; the
//! hyper shell is `server.rs`.
//!
//! # What the origin needs from storage
//!
//! [`ObjectStore`] has whole-object `get` and `head` only, so today a GET costs a `head` (validators, size,
//! limits) and a `get` of the whole object, a range is cut from the body in memory, and memory is bounded
//! by [`OriginConfig::max_object_bytes`] per response and [`OriginConfig::max_buffered_bytes`] in all (503
//! beyond it). The origin needs one more method on the trait:
//!
//! ```text
//! async fn get_range(&self, key: &ObjectKey, range: Option<Range<u64>>)
//!     -> Result<ObjectRead, StorageError>;
//! struct ObjectRead { meta: ObjectMeta /* size of the whole object, modified */, etag: Option<String>,
//!                     body: Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>> }
//! ```
//!
//! One round trip instead of two (S3 `GetObject` with `Range:` returns the size, `Last-Modified` and `ETag`
//! with the bytes; `LocalDir` seeks and reads in chunks from the file it opened, so size and body come from
//! one version), memory per response bounded by the chunk size instead of the object, and the storage
//! `ETag` usable as ours. A range past the end should be its own error variant so the origin can answer 416
//! without a second `head`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use marquee_origin::{OriginConfig, Unsigned};
//!
//! let store = marquee_storage::open("/srv/marquee/media")?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! marquee_origin::serve(OriginConfig::default(), store, Arc::new(Unsigned), shutdown).await?;
//! # Ok(())
//! # }
//! ```

pub mod authorizer;
mod body;
pub mod config;
mod error;
pub mod http;
mod io;
pub mod metrics;
mod server;
mod tls;

use std::future::Future;
use std::sync::Arc;

use marquee_storage::ObjectStore;

pub use authorizer::{AuthorizedPath, Denial, RequestAuthorizer, SignedUrls, Unsigned};
pub use config::{OriginConfig, TlsFiles};
pub use error::{OriginError, Refusal};
pub use server::{Origin, READINESS_PROBE_KEY};

/// Binds `config.listen` and serves until `shutdown` completes; in-flight responses are then given up to
/// `config.shutdown_grace` to finish. Use [`Origin::bind`] and [`Origin::run`] to learn the bound address first.
pub async fn serve(
    config: OriginConfig,
    store: Arc<dyn ObjectStore>,
    authorizer: Arc<dyn RequestAuthorizer>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), OriginError> {
    Origin::bind(config, store, authorizer).await?.run(shutdown).await
}

//! Object storage behind one trait: a local directory (the embedded default) now, S3 with issue #3.
//!
//! Everything that writes or reads published media goes through [`ObjectStore`], so a backend can be swapped
//! without touching its callers:
//!
//! ```text
//! config "storage = ..." ──► open() ──► Arc<dyn ObjectStore> ──► put / get / head / delete / list
//!                                         ├─ LocalDir   (path or file:// URL)
//!                                         └─ S3         (s3://bucket/prefix, issue #3)
//! ```
//!
//! Objects are named by [`ObjectKey`]s, relative `/`-separated keys validated once at the edge, so no
//! backend ever sees `..`, an absolute path or a control character. `put` replaces an object atomically:
//! readers see the old body or the whole new one.
//!
//! ```no_run
//! # async fn publish() -> Result<(), marquee_storage::StorageError> {
//! use marquee_storage::{Bytes, ObjectKey};
//!
//! let store = marquee_storage::open("/srv/marquee/media")?;
//! let key = ObjectKey::parse("video_720p")?.join("seg_00001.m4s")?;
//! store.put(&key, Bytes::from_static(b"...")).await?;
//! assert_eq!(store.list("video_720p/").await?, vec![key]);
//! # Ok(())
//! # }
//! ```

mod error;
mod key;
mod local;
mod location;
mod store;

pub use bytes::Bytes;
pub use error::StorageError;
pub use key::{ObjectKey, MAX_KEY_LEN, RESERVED_SEGMENT_PREFIX};
pub use local::LocalDir;
pub use location::open;
pub use store::{ObjectMeta, ObjectStore};

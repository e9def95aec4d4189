//! Object storage behind one trait: a local directory (the embedded default) or an S3 bucket.
//!
//! Everything that writes or reads published media goes through [`ObjectStore`], so a backend can be swapped
//! without touching its callers:
//!
//! ```text
//! config "storage = ..." ──► open() ──► Arc<dyn ObjectStore> ──► put / get / get_range / head / delete / list
//!                                         ├─ LocalDir   (path or file:// URL)
//!                                         └─ S3Store    (s3://bucket/prefix)
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
//!
//! # S3
//!
//! `open("s3://bucket/prefix")` stores key `a/b` as S3 object `prefix/a/b` in `bucket` (which must exist),
//! configured from the environment:
//!
//! | Variable | Meaning | Unset |
//! | --- | --- | --- |
//! | `MARQUEE_S3_ENDPOINT` | endpoint of an S3-compatible server, e.g. `http://127.0.0.1:3900` (Garage); turns on path-style URLs | AWS |
//! | `MARQUEE_S3_REGION`, else `AWS_REGION` | region requests are signed for; must match the server's (Garage: `s3_region`) | `us-east-1` |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (`AWS_SESSION_TOKEN`) | credentials, first link of the standard AWS chain (then `AWS_PROFILE` and profile files, web identity, ECS, instance metadata) | next link |
//!
//! To configure a store in code instead (explicit keys, part size, page size), build an [`S3Config`] and pass
//! it to [`S3Store::new`]. Neither `open` nor `S3Store::new` needs an async runtime or makes a request; an
//! unreachable endpoint or bad credentials show up as [`StorageError::Remote`] on the first operation.

mod error;
mod key;
mod local;
mod location;
pub mod multipart;
mod prefixed;
mod s3;
mod store;

pub use bytes::Bytes;
pub use error::StorageError;
pub use key::{ObjectKey, MAX_KEY_LEN, RESERVED_SEGMENT_PREFIX};
pub use local::{LocalDir, DEFAULT_READ_CHUNK_BYTES};
pub use location::open;
pub use multipart::{MultipartUpload, PartPlan, PlanError, UploadedPart};
pub use prefixed::Prefixed;
pub use s3::{
    S3Config, S3Credentials, S3Store, DEFAULT_LIST_PAGE_SIZE, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PARTS_IN_FLIGHT,
    DEFAULT_PART_SIZE, DEFAULT_REGION, ENDPOINT_ENV, MIN_PART_SIZE, REGION_ENV,
};
pub use store::{clamp_range, ObjectBody, ObjectMeta, ObjectRead, ObjectStore};

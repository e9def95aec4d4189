//! Resumable uploads (tus 1.0) straight into storage.
//!
//! - [`tus`]: the protocol as values (headers parsed and formatted, the rules that pick 409, 460, 413, 410).
//! - [`service`]: the `uploads` table and the storage behind it: create, read the offset, append a chunk
//!   (with an optional checksum), terminate, expire. HTTP handlers call it directly.
//! - [`routes`]: `/v1/uploads`, the tus endpoints, which make the asset an upload becomes and queue it at
//!   the last byte.
//! - [`oneshot`]: `POST /v1/assets/upload`, a small file in one request, through the same service and the same
//!   completion as tus.
//! - [`expiry`]: the background task that removes abandoned uploads and leaves their assets errored.
//!
//! An upload is one storage multipart upload towards its final key, planned from `Upload-Length`
//! ([`marquee_storage::PartPlan`]). PATCH bodies of any size are cut into whole parts as they arrive; the bytes
//! after the last whole part (less than one part) are kept in a tail object in storage, beside the upload,
//! so the API holds at most two parts per upload in memory (one being stored while the next arrives), keeps
//! nothing on its own disk, and any API instance can carry on after a restart. The offset in the database
//! advances only once the bytes are stored.

pub mod expiry;
pub mod oneshot;
pub mod routes;
pub mod service;
pub mod tus;

pub use service::{NewUpload, Upload, UploadError, UploadService, UploadSettings};
pub use tus::{Checksum, ChecksumAlgorithm, Metadata, TusError};

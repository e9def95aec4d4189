//! The object store trait: the one boundary between Marquee and wherever published media lives.

use std::ops::Range;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;

use crate::{MultipartUpload, ObjectKey, StorageError, UploadedPart};

/// What `head` reports about a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Length of the object's body in bytes.
    pub size: u64,
    /// When the current version of the object was written.
    pub modified: SystemTime,
}

/// The bytes of a [`ObjectStore::get_range`] read, in chunks as the backend delivers them. Dropping it stops
/// the read.
pub type ObjectBody = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// What [`ObjectStore::get_range`] returns: the object's metadata and a stream of the asked-for bytes, both
/// from the same version of the object.
pub struct ObjectRead {
    /// Size of the whole object (not of the range) and its modification time.
    pub meta: ObjectMeta,
    /// The bytes of the range, clamped to the object's end.
    pub body: ObjectBody,
}

impl std::fmt::Debug for ObjectRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRead").field("meta", &self.meta).finish_non_exhaustive()
    }
}

/// The part of `range` (all of it for `None`) that lies in an object of `size` bytes: the end is clamped to
/// `size`, an empty or inverted range is empty, and a start at or past the end is
/// [`StorageError::RangeNotSatisfiable`] (for an empty object every range is).
pub fn clamp_range(key: &ObjectKey, range: Option<Range<u64>>, size: u64) -> Result<Range<u64>, StorageError> {
    let Some(range) = range else { return Ok(0..size) };
    if range.start >= size {
        return Err(StorageError::RangeNotSatisfiable { key: key.clone(), size });
    }
    Ok(range.start..range.end.clamp(range.start, size))
}

/// A flat namespace of immutable-per-version objects under [`ObjectKey`]s.
///
/// Every backend keeps the same contract, so callers (the packager now, the origin later) never ask which one
/// they have. Keys are flat strings: there are no directories, only shared prefixes.
///
/// Whole-object `get` is what the packager needs; the origin reads with [`get_range`](Self::get_range), which
/// streams the bytes and so holds a few chunks in memory rather than the object.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Stores `body` under `key`, replacing any existing object atomically: a concurrent reader sees either
    /// the old object or the whole new one, never a mix or a truncated body. When `put` returns `Ok`, the
    /// object is durable as far as the backend can promise.
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError>;

    /// The whole body stored under `key`, or [`StorageError::NotFound`].
    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StorageError>;

    /// The bytes of `range` (the whole object for `None`) of the object under `key`, as a stream, with the
    /// object's metadata; both describe one version even if the object is replaced during the read. The range's
    /// end is clamped to the object's size; a start at or past the end is [`StorageError::RangeNotSatisfiable`],
    /// which carries the size; a missing object is [`StorageError::NotFound`].
    ///
    /// The provided implementation reads the whole object with `head` and `get` (which can mix two versions
    /// and buffers the object); every real backend overrides it.
    async fn get_range(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ObjectRead, StorageError> {
        let meta = self.head(key).await?;
        let range = clamp_range(key, range, meta.size)?;
        let body = self.get(key).await?;
        let end = usize::try_from(range.end).unwrap_or(usize::MAX).min(body.len());
        let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
        let chunk = body.slice(start..end);
        let body: ObjectBody = Box::pin(futures_util::stream::iter((!chunk.is_empty()).then_some(Ok(chunk))));
        Ok(ObjectRead { meta, body })
    }

    /// Size and modification time of the object under `key`, or [`StorageError::NotFound`].
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError>;

    /// Removes the object under `key`. Idempotent: deleting a key that holds no object is `Ok`.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;

    /// Every stored key that starts with `prefix` (as a string, like S3: `v/seg_` matches `v/seg_00001.m4s`),
    /// at any depth, sorted by bytes. `""` lists everything. A prefix no valid key could start with (`/a`,
    /// `../`) is [`StorageError::InvalidKey`].
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError>;

    /// Starts a multipart upload of an object to `key`. Nothing is visible at `key` until
    /// [`complete_multipart`](Self::complete_multipart); the returned upload (key and id, plain strings) can be
    /// recorded and resumed by another process, or after a restart.
    ///
    /// The multipart contract, the same on every backend: parts are numbered from 1 and put in order (part N
    /// after parts 1 to N-1); putting a part again replaces it (a retry) and makes every stored part after it
    /// meaningless: only the parts named in `complete_multipart` make the object. Every part but the last must
    /// be at least [`MIN_PART_SIZE`](crate::multipart::MIN_PART_SIZE) bytes on S3. Do not `put` the key while
    /// an upload to it is in progress: some S3 servers (Garage) end the upload then.
    ///
    /// The provided implementations refuse with [`StorageError::Unsupported`] (for test doubles); every real
    /// backend overrides them.
    async fn begin_multipart(&self, key: &ObjectKey) -> Result<MultipartUpload, StorageError> {
        let _ = key;
        Err(self.multipart_unsupported())
    }

    /// Stores part `number` (from 1) of `upload`. When it returns `Ok`, the part is durable and
    /// [`list_parts`](Self::list_parts) reports it.
    async fn put_part(&self, upload: &MultipartUpload, number: u32, body: Bytes) -> Result<UploadedPart, StorageError> {
        let _ = (upload, number, body);
        Err(self.multipart_unsupported())
    }

    /// The parts of `upload` stored so far, by number: what a process resuming the upload after a restart
    /// starts from. An upload that does not exist (completed, aborted, never begun) is
    /// [`StorageError::NotFound`] for its key.
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>, StorageError> {
        let _ = upload;
        Err(self.multipart_unsupported())
    }

    /// Makes the object at the upload's key from `parts` (numbers 1 to N, in order, as `put_part` returned
    /// them), replacing any object there atomically, and ends the upload. Stored parts not named are discarded.
    async fn complete_multipart(&self, upload: &MultipartUpload, parts: &[UploadedPart]) -> Result<(), StorageError> {
        let _ = (upload, parts);
        Err(self.multipart_unsupported())
    }

    /// Ends the upload and removes every part stored for it. Idempotent: aborting an upload that is already
    /// gone is `Ok`. The object at the key (if any) is untouched.
    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<(), StorageError> {
        let _ = upload;
        Err(self.multipart_unsupported())
    }

    /// The error the provided multipart methods return.
    fn multipart_unsupported(&self) -> StorageError {
        StorageError::Unsupported { location: self.location(), reason: "this store has no multipart uploads" }
    }

    /// Where the objects live, for logs: `file:///srv/media` or `s3://bucket/prefix`. [`open`](crate::open)
    /// accepts it back (for S3, with the same environment).
    fn location(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_clamped_to_the_object() {
        let key = ObjectKey::parse("v/seg.m4s").unwrap();
        assert_eq!(clamp_range(&key, None, 10).unwrap(), 0..10);
        assert_eq!(clamp_range(&key, None, 0).unwrap(), 0..0);
        assert_eq!(clamp_range(&key, Some(2..5), 10).unwrap(), 2..5);
        assert_eq!(clamp_range(&key, Some(2..u64::MAX), 10).unwrap(), 2..10);
        assert_eq!(clamp_range(&key, Some(5..5), 10).unwrap(), 5..5);
        let inverted = std::ops::Range { start: 5, end: 3 };
        assert_eq!(clamp_range(&key, Some(inverted), 10).unwrap(), 5..5, "inverted is empty");
        for (range, size) in [(10..11, 10), (11..20, 10), (0..1, 0)] {
            match clamp_range(&key, Some(range.clone()), size) {
                Err(StorageError::RangeNotSatisfiable { size: got, .. }) => assert_eq!(got, size),
                other => panic!("{range:?} of {size}: {other:?}"),
            }
        }
    }
}

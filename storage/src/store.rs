//! The object store trait: the one boundary between Marquee and wherever published media lives.

use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ObjectKey, StorageError};

/// What `head` reports about a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Length of the object's body in bytes.
    pub size: u64,
    /// When the current version of the object was written.
    pub modified: SystemTime,
}

/// A flat namespace of immutable-per-version objects under [`ObjectKey`]s.
///
/// Every backend keeps the same contract, so callers (the packager now, the origin later) never ask which one
/// they have. Keys are flat strings: there are no directories, only shared prefixes.
///
/// Whole-object `get` is all the packager needs; a ranged or streaming read for the origin can be added beside
/// it without changing these methods.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Stores `body` under `key`, replacing any existing object atomically: a concurrent reader sees either
    /// the old object or the whole new one, never a mix or a truncated body. When `put` returns `Ok`, the
    /// object is durable as far as the backend can promise.
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError>;

    /// The whole body stored under `key`, or [`StorageError::NotFound`].
    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StorageError>;

    /// Size and modification time of the object under `key`, or [`StorageError::NotFound`].
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError>;

    /// Removes the object under `key`. Idempotent: deleting a key that holds no object is `Ok`.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;

    /// Every stored key that starts with `prefix` (as a string, like S3: `v/seg_` matches `v/seg_00001.m4s`),
    /// at any depth, sorted by bytes. `""` lists everything. A prefix no valid key could start with (`/a`,
    /// `../`) is [`StorageError::InvalidKey`].
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError>;

    /// Where the objects live, for logs: `file:///srv/media` or `s3://bucket/prefix`. [`open`](crate::open)
    /// accepts it back (for S3, with the same environment).
    fn location(&self) -> String;
}

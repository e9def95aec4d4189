//! A store seen through a folder of another: key `a/b` of a [`Prefixed`] store over `media/x/` is key
//! `media/x/a/b` of the store beneath. The farm's workers hand the transcoder one of these so that each
//! attempt publishes under a folder of its own without the transcoder knowing.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{MultipartUpload, ObjectKey, ObjectMeta, ObjectRead, ObjectStore, StorageError, UploadedPart};

/// `inner` restricted to the keys under `prefix` (which ends with `/`), with the prefix taken off.
#[derive(Debug, Clone)]
pub struct Prefixed {
    inner: Arc<dyn ObjectStore>,
    prefix: ObjectKey,
}

impl Prefixed {
    /// The keys of `inner` under the folder `prefix` (`media/x` or `media/x/`: the same folder).
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self, StorageError> {
        let prefix = ObjectKey::parse(prefix.trim_end_matches('/'))?;
        Ok(Self { inner, prefix })
    }

    /// The folder, with its trailing `/`.
    pub fn prefix(&self) -> String {
        format!("{}/", self.prefix.as_str())
    }

    fn outer(&self, key: &ObjectKey) -> Result<ObjectKey, StorageError> {
        self.prefix.join(key.as_str())
    }

    fn inner_upload(&self, upload: &MultipartUpload) -> Result<MultipartUpload, StorageError> {
        Ok(MultipartUpload { key: self.outer(&upload.key)?, upload_id: upload.upload_id.clone() })
    }
}

#[async_trait]
impl ObjectStore for Prefixed {
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError> {
        self.inner.put(&self.outer(key)?, body).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StorageError> {
        self.inner.get(&self.outer(key)?).await
    }

    async fn get_range(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ObjectRead, StorageError> {
        self.inner.get_range(&self.outer(key)?, range).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        self.inner.head(&self.outer(key)?).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        self.inner.delete(&self.outer(key)?).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        let folder = self.prefix();
        let keys = self.inner.list(&format!("{folder}{prefix}")).await?;
        keys.iter()
            .map(|key| {
                let rest = key.as_str().strip_prefix(&folder).expect("the store lists only keys with the prefix");
                ObjectKey::parse(rest)
            })
            .collect()
    }

    async fn begin_multipart(&self, key: &ObjectKey) -> Result<MultipartUpload, StorageError> {
        let upload = self.inner.begin_multipart(&self.outer(key)?).await?;
        Ok(MultipartUpload { key: key.clone(), upload_id: upload.upload_id })
    }

    async fn put_part(&self, upload: &MultipartUpload, number: u32, body: Bytes) -> Result<UploadedPart, StorageError> {
        self.inner.put_part(&self.inner_upload(upload)?, number, body).await
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>, StorageError> {
        self.inner.list_parts(&self.inner_upload(upload)?).await
    }

    async fn complete_multipart(&self, upload: &MultipartUpload, parts: &[UploadedPart]) -> Result<(), StorageError> {
        self.inner.complete_multipart(&self.inner_upload(upload)?, parts).await
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<(), StorageError> {
        self.inner.abort_multipart(&self.inner_upload(upload)?).await
    }

    fn location(&self) -> String {
        format!("{}/{}", self.inner.location().trim_end_matches('/'), self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalDir;

    #[tokio::test]
    async fn keys_live_under_the_folder_and_list_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let base: Arc<dyn ObjectStore> = Arc::new(LocalDir::new(dir.path()).unwrap());
        base.put(&ObjectKey::parse("media/a/other.txt").unwrap(), Bytes::from_static(b"not mine")).await.unwrap();
        let store = Prefixed::new(base.clone(), "media/a/1/").unwrap();
        assert_eq!(store.prefix(), "media/a/1/");
        let key = ObjectKey::parse("v/seg_1.m4s").unwrap();
        store.put(&key, Bytes::from_static(b"segment")).await.unwrap();

        assert_eq!(base.get(&ObjectKey::parse("media/a/1/v/seg_1.m4s").unwrap()).await.unwrap(), "segment");
        assert_eq!(store.get(&key).await.unwrap(), "segment");
        assert_eq!(store.head(&key).await.unwrap().size, 7);
        assert_eq!(store.list("").await.unwrap(), vec![key.clone()]);
        assert_eq!(store.list("v/seg").await.unwrap(), vec![key.clone()]);
        assert!(store.list("x").await.unwrap().is_empty());
        store.delete(&key).await.unwrap();
        assert!(matches!(store.get(&key).await, Err(StorageError::NotFound { .. })));
        assert_eq!(base.list("media/").await.unwrap().len(), 1, "only the other folder's object is left");
    }

    #[tokio::test]
    async fn multipart_uploads_complete_under_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let base: Arc<dyn ObjectStore> = Arc::new(LocalDir::new(dir.path()).unwrap());
        let store = Prefixed::new(base.clone(), "media/b").unwrap();
        let key = ObjectKey::parse("film.mp4").unwrap();
        let upload = store.begin_multipart(&key).await.unwrap();
        assert_eq!(upload.key, key);
        let part = store.put_part(&upload, 1, Bytes::from_static(b"whole")).await.unwrap();
        assert_eq!(store.list_parts(&upload).await.unwrap(), vec![part.clone()]);
        store.complete_multipart(&upload, &[part]).await.unwrap();
        assert_eq!(base.get(&ObjectKey::parse("media/b/film.mp4").unwrap()).await.unwrap(), "whole");
    }

    #[test]
    fn a_folder_must_be_a_valid_key() {
        let dir = tempfile::tempdir().unwrap();
        let base: Arc<dyn ObjectStore> = Arc::new(LocalDir::new(dir.path()).unwrap());
        assert!(Prefixed::new(base.clone(), "../up/").is_err());
        assert!(Prefixed::new(base, "").is_err());
    }
}

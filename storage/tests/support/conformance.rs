//! The `ObjectStore` contract as one function, run against every backend (`LocalDir` and `S3Store`), so the
//! backends cannot drift apart on what callers rely on.

use std::time::{Duration, SystemTime};

use marquee_storage::{Bytes, ObjectKey, ObjectStore, StorageError};

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

async fn listed(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    store.list(prefix).await.unwrap().iter().map(ToString::to_string).collect()
}

/// Checks the contract on `store`, which must be empty. Uses only keys that every backend can hold together
/// (no key is another key's "directory").
pub async fn check_object_store(store: &dyn ObjectStore) {
    assert!(store.list("").await.unwrap().is_empty(), "{} must start empty", store.location());

    // put, get, head.
    let init = key("video_720p/init.mp4");
    let segment = key("video_720p/seg_00001.m4s");
    // Whole seconds: S3's Last-Modified has one-second resolution.
    let before = SystemTime::now() - Duration::from_secs(2);
    store.put(&init, Bytes::from_static(b"ftyp moov")).await.unwrap();
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    store.put(&segment, Bytes::from(body.clone())).await.unwrap();
    let after = SystemTime::now() + Duration::from_secs(2);
    assert_eq!(store.get(&init).await.unwrap(), Bytes::from_static(b"ftyp moov"));
    assert_eq!(store.get(&segment).await.unwrap(), body);
    let meta = store.head(&segment).await.unwrap();
    assert_eq!(meta.size, 100_000);
    assert!(before <= meta.modified && meta.modified <= after, "{meta:?}");

    // Overwrite replaces body and size; an empty body is an object too.
    let playlist = key("video_720p/index.m3u8");
    store.put(&playlist, Bytes::from(vec![b'a'; 5000])).await.unwrap();
    store.put(&playlist, Bytes::from_static(b"short")).await.unwrap();
    assert_eq!(store.get(&playlist).await.unwrap(), Bytes::from_static(b"short"));
    assert_eq!(store.head(&playlist).await.unwrap().size, 5);
    let empty = key("empty");
    store.put(&empty, Bytes::new()).await.unwrap();
    assert_eq!(store.get(&empty).await.unwrap(), Bytes::new());
    assert_eq!(store.head(&empty).await.unwrap().size, 0);

    // NotFound names the key, for get and head; a shared prefix is not an object.
    for missing in ["nope", "x/y/z", "video_720p", "video_720p/init.mp4/below"] {
        let missing = key(missing);
        match store.get(&missing).await {
            Err(StorageError::NotFound { key }) => assert_eq!(key, missing),
            other => panic!("get {missing}: {other:?}"),
        }
        match store.head(&missing).await {
            Err(StorageError::NotFound { key }) => assert_eq!(key, missing),
            other => panic!("head {missing}: {other:?}"),
        }
    }
    assert_eq!(store.get(&key("nope")).await.unwrap_err().to_string(), "no object stored under key `nope`");

    // list: sorted by bytes, recursive, filtered by string prefix.
    for extra in ["master.m3u8", "video_1080p/seg_00001.m4s", "audio/en/seg_00001.m4s", "video_720p/deep/er/x"] {
        store.put(&key(extra), Bytes::from(extra.as_bytes().to_vec())).await.unwrap();
    }
    let everything = [
        "audio/en/seg_00001.m4s",
        "empty",
        "master.m3u8",
        "video_1080p/seg_00001.m4s",
        "video_720p/deep/er/x",
        "video_720p/index.m3u8",
        "video_720p/init.mp4",
        "video_720p/seg_00001.m4s",
    ];
    assert_eq!(listed(store, "").await, everything);
    assert_eq!(listed(store, "video_720p/").await, everything[4..]);
    assert_eq!(listed(store, "video_720p/seg_").await, ["video_720p/seg_00001.m4s"]);
    assert_eq!(listed(store, "video_").await.len(), 5);
    assert_eq!(listed(store, "m").await, ["master.m3u8"]);
    assert!(listed(store, "z").await.is_empty());
    assert!(listed(store, "video_480p/").await.is_empty());
    assert!(listed(store, "master.m3u8/").await.is_empty());
    for bad in ["../", "/", "/etc", "a//", "a\\b"] {
        assert!(matches!(store.list(bad).await, Err(StorageError::InvalidKey { .. })), "list {bad:?}");
    }

    // delete: idempotent, and deleting a shared prefix deletes nothing.
    store.delete(&init).await.unwrap();
    store.delete(&init).await.unwrap();
    store.delete(&key("never/existed")).await.unwrap();
    store.delete(&key("video_720p")).await.unwrap();
    assert!(matches!(store.get(&init).await, Err(StorageError::NotFound { key }) if key == init));
    assert_eq!(
        listed(store, "video_720p/").await,
        ["video_720p/deep/er/x", "video_720p/index.m3u8", "video_720p/seg_00001.m4s"]
    );

    // Clean up, through the store.
    for key in store.list("").await.unwrap() {
        store.delete(&key).await.unwrap();
    }
    assert!(store.list("").await.unwrap().is_empty());
}

//! The `ObjectStore` contract as one function, run against every backend (`LocalDir` and `S3Store`), so the
//! backends cannot drift apart on what callers rely on.

use std::ops::Range;
use std::time::{Duration, SystemTime};

use futures_util::TryStreamExt;
use marquee_storage::{Bytes, ObjectKey, ObjectMeta, ObjectStore, StorageError};

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

async fn listed(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    store.list(prefix).await.unwrap().iter().map(ToString::to_string).collect()
}

/// `get_range` with the whole stream collected.
pub async fn read_range(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    range: Option<Range<u64>>,
) -> Result<(ObjectMeta, Vec<u8>), StorageError> {
    let read = store.get_range(key, range).await?;
    let chunks: Vec<Bytes> = read.body.try_collect().await?;
    Ok((read.meta, chunks.concat()))
}

/// The ranged-read contract on `segment`, which holds `body`, and `empty`, which holds nothing.
async fn check_ranges(store: &dyn ObjectStore, segment: &ObjectKey, body: &[u8], empty: &ObjectKey) {
    let len = body.len() as u64;
    let head = store.head(segment).await.unwrap();
    let cases: [(Option<Range<u64>>, Range<usize>); 6] = [
        (None, 0..body.len()),                                        // whole object
        (Some(0..10), 0..10),                                         // first bytes
        (Some(40_000..60_001), 40_000..60_001),                       // middle
        (Some(len - 500..len), body.len() - 500..body.len()),         // a suffix, written as absolute offsets
        (Some(len - 7..len + 1_000_000), body.len() - 7..body.len()), // end past the object: clamped
        (Some(0..len), 0..body.len()),                                // the whole object as a range
    ];
    for (range, expected) in cases {
        let (meta, bytes) = read_range(store, segment, range.clone()).await.unwrap();
        assert_eq!(meta, head, "range {range:?}: size of the whole object and the same mtime as head");
        assert!(bytes == body[expected.clone()], "range {range:?}: got {} bytes, expected {expected:?}", bytes.len());
    }
    // An empty range inside the object is an empty body, not an error.
    assert_eq!(read_range(store, segment, Some(5..5)).await.unwrap(), (head, Vec::new()));
    // A start at or past the end says the size, so that HTTP can answer 416 without asking again.
    for start in [len, len + 1, len * 10] {
        match read_range(store, segment, Some(start..u64::MAX)).await {
            Err(StorageError::RangeNotSatisfiable { key, size }) => assert_eq!((key, size), (segment.clone(), len)),
            other => panic!("range from {start}: {other:?}"),
        }
    }
    // An empty object: read whole it is empty; every range of it is unsatisfiable.
    let (meta, bytes) = read_range(store, empty, None).await.unwrap();
    assert_eq!((meta.size, bytes.len()), (0, 0));
    match read_range(store, empty, Some(0..1)).await {
        Err(StorageError::RangeNotSatisfiable { size: 0, .. }) => {}
        other => panic!("range of an empty object: {other:?}"),
    }
    let missing = ObjectKey::parse("no/such/object").unwrap();
    for range in [None, Some(0..1)] {
        match read_range(store, &missing, range.clone()).await {
            Err(StorageError::NotFound { key }) => assert_eq!(key, missing),
            other => panic!("range {range:?} of a missing key: {other:?}"),
        }
    }
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
    check_ranges(store, &segment, &body, &empty).await;

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

/// `len` bytes of a pattern that differs at every offset of a part, seeded so parts differ from each other.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// The multipart contract on `store`, which must be empty; `reopened` is a second handle on the same storage
/// (as a restarted process would open it), which must see the upload from its key and id alone.
pub async fn check_multipart(store: &dyn ObjectStore, reopened: &dyn ObjectStore) {
    use marquee_storage::multipart::MIN_PART_SIZE;
    use marquee_storage::MultipartUpload;

    let part = usize::try_from(MIN_PART_SIZE).unwrap();
    let target = key("sources/film/source");
    store.put(&target, Bytes::from_static(b"the old source")).await.unwrap();
    let upload = store.begin_multipart(&target).await.unwrap();
    assert_eq!(upload.key, target);
    let first = store.put_part(&upload, 1, Bytes::from(pattern(part, 1))).await.unwrap();
    assert_eq!((first.number, first.size), (1, MIN_PART_SIZE));
    // Nothing changes before completion, neither at the key nor in listings.
    assert_eq!(store.get(&target).await.unwrap(), Bytes::from_static(b"the old source"));
    assert_eq!(listed(store, "").await, ["sources/film/source"], "parts in progress are not objects");

    // After a "restart": the upload is found again from its key and id, with the parts stored so far.
    let resumed = MultipartUpload { key: upload.key.clone(), upload_id: upload.upload_id.clone() };
    assert_eq!(reopened.list_parts(&resumed).await.unwrap(), vec![first.clone()]);
    let second = reopened.put_part(&resumed, 2, Bytes::from(pattern(part, 2))).await.unwrap();
    // A retried last part replaces what was stored under its number.
    reopened.put_part(&resumed, 3, Bytes::from(pattern(1000, 9))).await.unwrap();
    let third = reopened.put_part(&resumed, 3, Bytes::from(pattern(777, 3))).await.unwrap();
    assert_eq!(third.size, 777);
    assert_eq!(store.list_parts(&upload).await.unwrap(), vec![first.clone(), second.clone(), third.clone()]);

    // Completing replaces the object that was at the key when the upload began.
    store.complete_multipart(&upload, &[first, second, third]).await.unwrap();
    let expected = [pattern(part, 1), pattern(part, 2), pattern(777, 3)].concat();
    let stored = store.get(&target).await.unwrap();
    assert_eq!(stored.len(), expected.len());
    assert!(stored == expected, "the object is the parts in order");
    assert_eq!(listed(store, "").await, ["sources/film/source"]);
    assert!(matches!(store.list_parts(&upload).await, Err(StorageError::NotFound { key }) if key == target));

    // Abort removes every part and leaves the object at the key alone; aborting twice is fine.
    let abandoned = store.begin_multipart(&target).await.unwrap();
    assert_ne!(abandoned.upload_id, upload.upload_id);
    store.put_part(&abandoned, 1, Bytes::from(pattern(part, 5))).await.unwrap();
    store.abort_multipart(&abandoned).await.unwrap();
    store.abort_multipart(&abandoned).await.unwrap();
    assert!(matches!(store.list_parts(&abandoned).await, Err(StorageError::NotFound { .. })));
    assert!(store.put_part(&abandoned, 2, Bytes::from_static(b"late")).await.is_err(), "an aborted upload is gone");
    assert!(store.get(&target).await.unwrap() == expected);

    // A single short part is a whole object (the last part may be small).
    let small = key("sources/small");
    let upload = store.begin_multipart(&small).await.unwrap();
    let only = store.put_part(&upload, 1, Bytes::from_static(b"tiny")).await.unwrap();
    store.complete_multipart(&upload, &[only]).await.unwrap();
    assert_eq!(store.get(&small).await.unwrap(), Bytes::from_static(b"tiny"));

    for key in store.list("").await.unwrap() {
        store.delete(&key).await.unwrap();
    }
}

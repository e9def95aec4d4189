//! `LocalDir` against real temporary directories, mostly through `open` and `dyn ObjectStore` as callers use it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use marquee_storage::{open, Bytes, LocalDir, ObjectKey, ObjectStore, StorageError};
use proptest::prelude::*;
use tokio::sync::watch;

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

fn store_in(dir: &Path) -> Arc<dyn ObjectStore> {
    open(dir.to_str().unwrap()).unwrap()
}

/// Every file and directory under `root`, relative to it, found without going through the store.
fn files_on_disk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    found.sort();
    found
}

fn temp_files_on_disk(root: &Path) -> Vec<PathBuf> {
    let is_temp = |p: &PathBuf| p.file_name().unwrap().to_str().is_some_and(|n| n.starts_with(".tmp-"));
    files_on_disk(root).into_iter().filter(is_temp).collect()
}

#[tokio::test]
async fn local_dir_keeps_the_object_store_contract() {
    let tmp = tempfile::tempdir().unwrap();
    support::conformance::check_object_store(store_in(tmp.path()).as_ref()).await;
}

#[tokio::test]
async fn local_dir_keeps_the_multipart_contract_and_leaves_no_staging_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, reopened) = (store_in(tmp.path()), store_in(tmp.path()));
    support::conformance::check_multipart(store.as_ref(), reopened.as_ref()).await;
    // Completed and aborted uploads leave nothing in the staging area.
    let staging: Vec<_> = files_on_disk(tmp.path())
        .into_iter()
        .filter(|p| p.starts_with(".tmp-multipart") && p.components().count() > 1)
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
}

#[tokio::test]
async fn local_multipart_parts_go_in_order_and_a_retried_part_forgets_the_later_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let upload = store.begin_multipart(&key("a/source")).await.unwrap();
    assert!(store.put_part(&upload, 2, Bytes::from_static(b"gap")).await.is_err(), "part 2 before part 1");
    assert!(store.put_part(&upload, 0, Bytes::from_static(b"zero")).await.is_err());
    let one = store.put_part(&upload, 1, Bytes::from_static(b"one-")).await.unwrap();
    store.put_part(&upload, 2, Bytes::from_static(b"two-")).await.unwrap();
    store.put_part(&upload, 3, Bytes::from_static(b"three")).await.unwrap();
    // Part 2 again (a PATCH whose checksum failed after parts 2 and 3 went up, retried): 3 is forgotten.
    let two = store.put_part(&upload, 2, Bytes::from_static(b"TWO")).await.unwrap();
    assert_eq!(store.list_parts(&upload).await.unwrap(), vec![one.clone(), two.clone()]);
    // Naming parts that were not stored, or not in order, is refused and changes nothing.
    let wrong = marquee_storage::UploadedPart { size: 99, ..two.clone() };
    assert!(store.complete_multipart(&upload, &[one.clone(), wrong]).await.is_err());
    assert!(store.complete_multipart(&upload, std::slice::from_ref(&two)).await.is_err());
    store.complete_multipart(&upload, &[one, two]).await.unwrap();
    assert_eq!(store.get(&key("a/source")).await.unwrap(), Bytes::from_static(b"one-TWO"));
    // An id that could name a path elsewhere names no upload.
    let forged = marquee_storage::MultipartUpload { key: key("a/source"), upload_id: "../../etc".to_owned() };
    assert!(matches!(store.list_parts(&forged).await, Err(StorageError::NotFound { .. })));
    // An upload id belongs to its key.
    let other = store.begin_multipart(&key("b")).await.unwrap();
    let mismatched = marquee_storage::MultipartUpload { key: key("c"), upload_id: other.upload_id.clone() };
    assert!(matches!(store.put_part(&mismatched, 1, Bytes::new()).await, Err(StorageError::NotFound { .. })));
    store.abort_multipart(&other).await.unwrap();
}

#[tokio::test]
async fn put_get_head_list_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let init = key("video_720p/init.mp4");
    let segment = key("video_720p/seg_00001.m4s");

    let before = SystemTime::now() - Duration::from_secs(1);
    store.put(&init, Bytes::from_static(b"ftyp moov")).await.unwrap();
    store.put(&segment, Bytes::from(vec![7u8; 10_000])).await.unwrap();
    let after = SystemTime::now() + Duration::from_secs(1);

    // The bytes are where the key says, as plain files.
    assert_eq!(fs::read(tmp.path().join("video_720p/init.mp4")).unwrap(), b"ftyp moov");
    assert_eq!(store.get(&init).await.unwrap(), Bytes::from_static(b"ftyp moov"));
    assert_eq!(store.get(&segment).await.unwrap(), vec![7u8; 10_000]);

    let meta = store.head(&segment).await.unwrap();
    assert_eq!(meta.size, 10_000);
    assert!(before <= meta.modified && meta.modified <= after, "{meta:?}");

    assert_eq!(store.list("").await.unwrap(), vec![init.clone(), segment.clone()]);

    store.delete(&init).await.unwrap();
    assert!(matches!(store.get(&init).await, Err(StorageError::NotFound { key }) if key == init));
    assert_eq!(store.list("").await.unwrap(), vec![segment]);
}

#[tokio::test]
async fn overwrite_replaces_body_and_size() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let playlist = key("video_720p/index.m3u8");
    store.put(&playlist, Bytes::from(vec![b'a'; 5000])).await.unwrap();
    store.put(&playlist, Bytes::from_static(b"short")).await.unwrap();
    assert_eq!(store.get(&playlist).await.unwrap(), Bytes::from_static(b"short"));
    assert_eq!(store.head(&playlist).await.unwrap().size, 5);
    store.put(&playlist, Bytes::new()).await.unwrap();
    assert_eq!(store.get(&playlist).await.unwrap(), Bytes::new());
    assert_eq!(store.list("").await.unwrap(), vec![playlist]);
}

#[tokio::test]
async fn missing_objects_are_not_found_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    store.put(&key("a/b/c"), Bytes::from_static(b"x")).await.unwrap();

    // Absent file, absent directory, a path through an object (`a/b/c/d`), and a directory (a prefix, not an
    // object) all read as "no such object".
    for missing in ["nope", "x/y/z", "a/b/c/d", "a/b", "a"] {
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
    let message = store.get(&key("a/b")).await.unwrap_err().to_string();
    assert_eq!(message, "no object stored under key `a/b`");
}

#[tokio::test]
async fn delete_is_idempotent_and_never_removes_a_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let object = key("v/seg_1.m4s");
    store.put(&object, Bytes::from_static(b"x")).await.unwrap();

    store.delete(&object).await.unwrap();
    store.delete(&object).await.unwrap();
    store.delete(&key("never/existed")).await.unwrap();
    store.delete(&key("v/seg_1.m4s/below_an_object")).await.unwrap();
    assert!(store.list("").await.unwrap().is_empty());

    // `v` is a directory holding another object: deleting key `v` is a no-op, not a recursive delete.
    let other = key("v/seg_2.m4s");
    store.put(&other, Bytes::from_static(b"y")).await.unwrap();
    store.delete(&key("v")).await.unwrap();
    assert_eq!(store.get(&other).await.unwrap(), Bytes::from_static(b"y"));
}

#[tokio::test]
async fn list_is_sorted_recursive_and_filters_by_string_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    // Written out of order, at several depths.
    let keys = [
        "video_720p/seg_00002.m4s",
        "master.m3u8",
        "video_720p/seg_00001.m4s",
        "video_1080p/seg_00001.m4s",
        "video_720p/init.mp4",
        "audio/en/seg_00001.m4s",
        "video_720p/deep/er/x",
    ];
    for k in keys {
        store.put(&key(k), Bytes::from(k.as_bytes().to_vec())).await.unwrap();
    }
    let listed = |prefix: &'static str| {
        let store = store.clone();
        async move { store.list(prefix).await.unwrap().iter().map(|k| k.to_string()).collect::<Vec<_>>() }
    };

    let mut all = keys.map(str::to_owned).to_vec();
    all.sort();
    assert_eq!(listed("").await, all);
    assert_eq!(
        listed("video_720p/").await,
        ["video_720p/deep/er/x", "video_720p/init.mp4", "video_720p/seg_00001.m4s", "video_720p/seg_00002.m4s"]
    );
    assert_eq!(listed("video_720p/seg_").await, ["video_720p/seg_00001.m4s", "video_720p/seg_00002.m4s"]);
    assert_eq!(listed("video_").await.len(), 5);
    assert_eq!(listed("video_1080p").await, ["video_1080p/seg_00001.m4s"]);
    assert_eq!(listed("audio/en/seg_00001.m4s").await, ["audio/en/seg_00001.m4s"]);
    assert_eq!(listed("m").await, ["master.m3u8"]);
    // Prefixes that match nothing: absent names, absent directories, and "below" an object.
    assert!(listed("z").await.is_empty());
    assert!(listed("video_480p/").await.is_empty());
    assert!(listed("master.m3u8/").await.is_empty());
}

#[tokio::test]
async fn traversal_keys_and_prefixes_are_rejected_before_any_io() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let store = store_in(&root);
    let outside = tmp.path().join("secret");
    fs::write(&outside, b"keep out").unwrap();

    for hostile in [
        "../secret",
        "../../etc/passwd",
        "a/../../secret",
        "/etc/passwd",
        "..",
        ".",
        "a/./b",
        "a//b",
        "..\\secret",
        "a\\..\\..\\secret",
        "a\0b",
        "secret\n",
        "",
    ] {
        assert!(
            matches!(ObjectKey::parse(hostile), Err(StorageError::InvalidKey { .. })),
            "{hostile:?} must be rejected"
        );
        assert!(key("ok").join(hostile).is_err(), "join {hostile:?}");
    }
    for prefix in ["../", "../secret", "/", "/etc", "a/../", "..\\"] {
        assert!(matches!(store.list(prefix).await, Err(StorageError::InvalidKey { .. })), "list {prefix:?}");
    }
    // The nearest-miss keys that are accepted stay inside the root.
    for near_miss in ["..secret", "a/..b", "a/b..", "...", ".x/.y"] {
        store.put(&key(near_miss), Bytes::from_static(b"in")).await.unwrap();
        assert!(root.join(near_miss).is_file(), "{near_miss}");
    }
    assert_eq!(fs::read(&outside).unwrap(), b"keep out");
    assert_eq!(files_on_disk(tmp.path()).iter().filter(|p| !p.starts_with("root")).count(), 1);
}

#[tokio::test]
async fn temp_files_are_never_listed_and_never_left_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    store.put(&key("v/seg_1.m4s"), Bytes::from_static(b"1")).await.unwrap();
    // What a crash mid-put leaves: temp files beside objects, at the root and in a subdirectory.
    fs::write(tmp.path().join(".tmp-999-1"), b"partial").unwrap();
    fs::write(tmp.path().join("v/.tmp-999-2"), b"partial").unwrap();
    fs::create_dir(tmp.path().join("v/.tmp-dir")).unwrap();
    fs::write(tmp.path().join("v/.tmp-dir/inside"), b"partial").unwrap();

    assert_eq!(store.list("").await.unwrap(), vec![key("v/seg_1.m4s")]);
    assert_eq!(store.list("v/.").await.unwrap(), vec![]);
    assert_eq!(store.list(".tmp").await.unwrap(), vec![]);

    for n in 0..20 {
        store.put(&key(&format!("v/seg_{n}.m4s")), Bytes::from(vec![n; 1000])).await.unwrap();
    }
    let temps: Vec<_> = temp_files_on_disk(tmp.path()).into_iter().map(|p| p.display().to_string()).collect();
    assert_eq!(temps, [".tmp-999-1", "v/.tmp-999-2", "v/.tmp-dir"], "puts must not leave temp files");
}

#[tokio::test]
async fn entries_that_cannot_be_keys_are_skipped_by_list() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    store.put(&key("v/ok"), Bytes::from_static(b"1")).await.unwrap();
    fs::write(tmp.path().join("v/back\\slash"), b"x").unwrap();
    fs::write(tmp.path().join("v/new\nline"), b"x").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(tmp.path().join("v/ok"), tmp.path().join("v/link")).unwrap();
    assert_eq!(store.list("").await.unwrap(), vec![key("v/ok")]);
}

#[tokio::test]
async fn a_failed_put_keeps_the_old_state_and_leaves_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    store.put(&key("a"), Bytes::from_static(b"object a")).await.unwrap();
    store.put(&key("d/x"), Bytes::from_static(b"object d/x")).await.unwrap();

    // `a` is a file, so `a/b` cannot be created below it.
    let error = store.put(&key("a/b"), Bytes::from_static(b"new")).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::Io { op: "create directory", path, .. } if path.ends_with("a")),
        "{error:?}"
    );
    // `d` is a directory, so the rename onto it fails after the temp file was written.
    let error = store.put(&key("d"), Bytes::from_static(b"new")).await.unwrap_err();
    assert!(matches!(&error, StorageError::Io { op: "rename temporary file onto", .. }), "{error:?}");

    assert_eq!(store.get(&key("a")).await.unwrap(), Bytes::from_static(b"object a"));
    assert_eq!(store.get(&key("d/x")).await.unwrap(), Bytes::from_static(b"object d/x"));
    assert_eq!(store.list("").await.unwrap(), vec![key("a"), key("d/x")]);
    assert!(temp_files_on_disk(tmp.path()).is_empty(), "{:?}", temp_files_on_disk(tmp.path()));
}

/// Version `v` of the object is `BASE_LEN + v * STEP_LEN` bytes, all equal to `v + 1`: a body with mixed
/// bytes, or whose length does not match its byte, is torn.
const BASE_LEN: usize = 2 << 20;
const STEP_LEN: usize = 4099;
const VERSIONS: u8 = 40;
const READERS: usize = 4;

fn version_body(version: u8) -> Bytes {
    Bytes::from(vec![version + 1; BASE_LEN + usize::from(version) * STEP_LEN])
}

/// The version a body is, or why it is torn.
fn version_of(body: &[u8]) -> Result<u8, String> {
    let Some(&first) = body.first() else { return Err("empty body".to_owned()) };
    let version = first.wrapping_sub(1);
    if version >= VERSIONS {
        return Err(format!("unknown fill byte {first}"));
    }
    let expected_len = BASE_LEN + usize::from(version) * STEP_LEN;
    if body.len() != expected_len {
        return Err(format!("version {version} is {} bytes, expected {expected_len}", body.len()));
    }
    if let Some(at) = body.iter().position(|&b| b != first) {
        return Err(format!("version {version} has byte {} at offset {at}", body[at]));
    }
    Ok(version)
}

#[derive(Default)]
struct Progress {
    reads: u64,
    failed: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_readers_never_see_a_torn_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let object = key("video_720p/seg_00001.m4s");
    store.put(&object, version_body(0)).await.unwrap();

    let (progress, mut watcher) = watch::channel(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (store, object, progress, done, failures) =
                (store.clone(), object.clone(), progress.clone(), done.clone(), failures.clone());
            tokio::spawn(async move {
                let mut seen = BTreeSet::new();
                let mut last = 0;
                while !done.load(Ordering::Acquire) {
                    let outcome = match store.get(&object).await {
                        Ok(body) => version_of(&body),
                        Err(error) => Err(format!("get failed: {error}")),
                    };
                    // Each read starts after the previous one ended, so versions can only move forward.
                    let outcome = outcome.and_then(|v| {
                        if v < last {
                            Err(format!("went back from version {last} to {v}"))
                        } else {
                            Ok(v)
                        }
                    });
                    match outcome {
                        Ok(version) => {
                            last = version;
                            seen.insert(version);
                            progress.send_modify(|p| p.reads += 1);
                        }
                        Err(failure) => {
                            failures.lock().unwrap().push(failure);
                            progress.send_modify(|p| p.failed = true);
                            break;
                        }
                    }
                }
                seen
            })
        })
        .collect();
    // Only readers hold senders now, so if they all died the wait below fails instead of hanging.
    drop(progress);

    for version in 1..VERSIONS {
        store.put(&object, version_body(version)).await.unwrap();
        // At most one read per reader can have started before the put returned, so once READERS + 1 more reads
        // have finished, at least one of them read this version: every version is read while readers overlap
        // the writes. This is the only synchronisation; a failing reader ends the wait early.
        let target = watcher.borrow().reads + READERS as u64 + 1;
        let progress = watcher.wait_for(|p| p.failed || p.reads >= target).await.unwrap();
        if progress.failed {
            break;
        }
    }
    done.store(true, Ordering::Release);

    let mut seen = BTreeSet::new();
    for reader in readers {
        seen.extend(reader.await.unwrap());
    }
    assert_eq!(*failures.lock().unwrap(), Vec::<String>::new(), "torn reads");
    let unseen: Vec<u8> = (1..VERSIONS).filter(|v| !seen.contains(v)).collect();
    assert!(unseen.is_empty(), "versions no reader saw: {unseen:?}");
    assert_eq!(version_of(&store.get(&object).await.unwrap()), Ok(VERSIONS - 1));
    assert!(temp_files_on_disk(tmp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_leave_one_whole_body() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let object = key("live/index.m3u8");
    let writers: Vec<_> = (0..8u8)
        .map(|version| {
            let (store, object) = (store.clone(), object.clone());
            tokio::spawn(async move { store.put(&object, version_body(version)).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let survivor = version_of(&store.get(&object).await.unwrap()).unwrap();
    assert!(survivor < 8);
    assert_eq!(store.list("").await.unwrap(), vec![object]);
    assert!(temp_files_on_disk(tmp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_into_new_directories_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    // Many puts racing to create the same fresh directory chain.
    let keys: Vec<ObjectKey> = (0..32).map(|n| key(&format!("a/b/c/{}/seg_{n}.m4s", n % 3))).collect();
    let puts: Vec<_> = keys
        .iter()
        .map(|k| {
            let (store, k) = (store.clone(), k.clone());
            tokio::spawn(async move { store.put(&k, Bytes::from(k.to_string())).await })
        })
        .collect();
    for put in puts {
        put.await.unwrap().unwrap();
    }
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(store.list("a/").await.unwrap(), expected);
    for k in &keys {
        assert_eq!(store.get(k).await.unwrap(), Bytes::from(k.to_string()));
    }
}

#[tokio::test]
async fn location_is_a_file_url_that_opens_the_same_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let awkward = tmp.path().join("my media #1 100%");
    let store = LocalDir::new(&awkward).unwrap();
    let location = store.location();
    assert!(location.starts_with("file:///") && location.ends_with("/my%20media%20%231%20100%25"), "{location}");

    store.put(&key("x"), Bytes::from_static(b"via path")).await.unwrap();
    let reopened = open(&location).unwrap();
    assert_eq!(reopened.location(), location);
    assert_eq!(reopened.get(&key("x")).await.unwrap(), Bytes::from_static(b"via path"));
}

#[tokio::test]
async fn open_creates_a_missing_directory_and_reports_one_it_cannot_create() {
    let tmp = tempfile::tempdir().unwrap();
    let nested = tmp.path().join("new/nested/root");
    let store = open(&format!("file://{}", nested.display())).unwrap();
    assert!(nested.is_dir());
    assert!(store.list("").await.unwrap().is_empty());

    fs::write(tmp.path().join("file"), b"x").unwrap();
    let blocked = tmp.path().join("file/below");
    let error = open(blocked.to_str().unwrap()).unwrap_err();
    assert!(matches!(&error, StorageError::Io { path, .. } if *path == blocked), "{error:?}");
}

/// One step of the model test. Keys are always two segments deep, so no key is also another key's directory
/// (which a filesystem cannot hold, see `a_failed_put_keeps_the_old_state_and_leaves_no_temp_file`).
#[derive(Debug, Clone)]
enum Op {
    Put(String, Vec<u8>),
    Get(String),
    Head(String),
    Delete(String),
    List(String),
}

fn model_key() -> impl Strategy<Value = String> {
    ("[ab]{1,2}", "[xy.]{1,2}")
        .prop_map(|(dir, name)| format!("{dir}/{name}"))
        .prop_filter("not a key", |k| ObjectKey::parse(k).is_ok())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (model_key(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(k, b)| Op::Put(k, b)),
        2 => model_key().prop_map(Op::Get),
        1 => model_key().prop_map(Op::Head),
        2 => model_key().prop_map(Op::Delete),
        2 => prop_oneof![Just(String::new()), "[ab]{1,2}", "[ab]{1,2}/", "[ab]{1,2}/[xy.]{1,2}"].prop_map(Op::List),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `LocalDir` behaves like a sorted map from key to bytes, whatever the sequence of operations.
    #[test]
    fn local_dir_matches_a_map_model(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path());
        let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        runtime.block_on(async {
            for op in ops {
                match op {
                    Op::Put(k, body) => {
                        store.put(&key(&k), Bytes::from(body.clone())).await.unwrap();
                        model.insert(k, body);
                    }
                    Op::Get(k) => match (store.get(&key(&k)).await, model.get(&k)) {
                        (Ok(body), Some(expected)) => prop_assert_eq!(&body[..], &expected[..]),
                        (Err(StorageError::NotFound { .. }), None) => {}
                        (got, expected) => prop_assert!(false, "get {}: {:?}, model {:?}", k, got, expected),
                    },
                    Op::Head(k) => match (store.head(&key(&k)).await, model.get(&k)) {
                        (Ok(meta), Some(expected)) => prop_assert_eq!(meta.size, expected.len() as u64),
                        (Err(StorageError::NotFound { .. }), None) => {}
                        (got, expected) => prop_assert!(false, "head {}: {:?}, model {:?}", k, got, expected),
                    },
                    Op::Delete(k) => {
                        store.delete(&key(&k)).await.unwrap();
                        model.remove(&k);
                    }
                    Op::List(prefix) => {
                        let listed: Vec<String> =
                            store.list(&prefix).await.unwrap().iter().map(ToString::to_string).collect();
                        let expected: Vec<String> = model.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
                        prop_assert_eq!(listed, expected, "list {:?}", prefix);
                    }
                }
            }
            Ok::<(), TestCaseError>(())
        })?;
        prop_assert!(temp_files_on_disk(tmp.path()).is_empty());
    }
}

#[tokio::test]
async fn a_large_object_streams_in_bounded_chunks() {
    use futures_util::StreamExt;
    use marquee_storage::DEFAULT_READ_CHUNK_BYTES;

    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let big = key("video_4k/seg_00001.m4s");
    const LEN: usize = 32 << 20;
    let body: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    store.put(&big, Bytes::from(body.clone())).await.unwrap();

    for (range, expected) in [(None, 0..LEN), (Some(1_000_001..20_000_000u64), 1_000_001..20_000_000)] {
        let mut read = store.get_range(&big, range.clone()).await.unwrap();
        assert_eq!(read.meta.size, LEN as u64);
        let (mut received, mut chunks, mut largest) = (0usize, 0usize, 0usize);
        while let Some(chunk) = read.body.next().await {
            let chunk = chunk.unwrap();
            assert!(!chunk.is_empty(), "no empty chunks");
            // Each chunk is a separate small buffer, so the stream never holds the object.
            assert!(chunk.len() <= DEFAULT_READ_CHUNK_BYTES, "a chunk of {} bytes", chunk.len());
            let at = expected.start + received;
            assert!(chunk[..] == body[at..at + chunk.len()], "bytes at {at}");
            largest = largest.max(chunk.len());
            received += chunk.len();
            chunks += 1;
        }
        assert_eq!(received, expected.len(), "range {range:?}");
        assert!(chunks >= expected.len() / DEFAULT_READ_CHUNK_BYTES, "{chunks} chunks for {range:?}");
        assert_eq!(largest, DEFAULT_READ_CHUNK_BYTES);
    }
}

#[tokio::test]
async fn a_stream_keeps_reading_the_version_it_opened() {
    use futures_util::StreamExt;

    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path());
    let segment = key("v/seg_00001.m4s");
    const OLD_LEN: usize = 4 << 20;
    store.put(&segment, Bytes::from(vec![b'a'; OLD_LEN])).await.unwrap();

    let mut read = store.get_range(&segment, Some(1000..OLD_LEN as u64)).await.unwrap();
    let first = read.body.next().await.unwrap().unwrap();
    // Replaced (by rename) and then deleted while the stream is half read.
    store.put(&segment, Bytes::from(vec![b'b'; 10])).await.unwrap();
    assert_eq!(store.head(&segment).await.unwrap().size, 10);
    let mut rest = first.to_vec();
    while let Some(chunk) = read.body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(read.meta.size, OLD_LEN as u64, "the size is the old version's");
    assert_eq!(rest.len(), OLD_LEN - 1000);
    assert!(rest.iter().all(|&b| b == b'a'), "only the old version's bytes");

    let (meta, new) = support::conformance::read_range(store.as_ref(), &segment, None).await.unwrap();
    assert_eq!((meta.size, new), (10, vec![b'b'; 10]));
}

#[tokio::test]
async fn deleting_the_last_object_of_a_prefix_removes_its_directories_but_not_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    store.put(&key("film/video_360p/seg_00001.m4s"), Bytes::from_static(b"a")).await.unwrap();
    store.put(&key("film/video_360p/seg_00002.m4s"), Bytes::from_static(b"b")).await.unwrap();
    store.put(&key("film/master.m3u8"), Bytes::from_static(b"#EXTM3U\n")).await.unwrap();
    store.delete(&key("film/video_360p/seg_00001.m4s")).await.unwrap();
    assert!(dir.path().join("film/video_360p").is_dir(), "a directory that still holds an object stays");
    store.delete(&key("film/video_360p/seg_00002.m4s")).await.unwrap();
    assert!(!dir.path().join("film/video_360p").exists(), "the emptied rendition folder is gone");
    assert!(dir.path().join("film").is_dir(), "its parent still holds the manifest");
    store.delete(&key("film/master.m3u8")).await.unwrap();
    assert!(!dir.path().join("film").exists());
    assert!(dir.path().is_dir(), "the root stays");
    store.put(&key("film/video_360p/seg_00001.m4s"), Bytes::from_static(b"c")).await.unwrap();
    assert_eq!(fs::read(dir.path().join("film/video_360p/seg_00001.m4s")).unwrap(), b"c");
}

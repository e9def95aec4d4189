//! `S3Store` against a real S3 server: a single-node Garage started by each test (see `support/garage.rs`;
//! install it once with `scripts/install-garage.sh`).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use marquee_storage::{Bytes, ObjectKey, ObjectStore, S3Store, StorageError, DEFAULT_PART_SIZE};
use support::conformance::check_object_store;
use support::garage::{Garage, BUCKET};

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

/// A plain SDK client on the same server, to look at what the store wrote without going through it.
fn raw_client(garage: &Garage) -> aws_sdk_s3::Client {
    let keys = garage.credentials();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(garage.endpoint())
        .region(Region::new(support::garage::REGION))
        .force_path_style(true)
        .credentials_provider(Credentials::new(keys.access_key_id, keys.secret_access_key, None, None, "test"))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn raw_keys(garage: &Garage) -> Vec<String> {
    let listed = raw_client(garage).list_objects_v2().bucket(BUCKET).send().await.unwrap();
    listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

#[tokio::test]
async fn s3_store_keeps_the_object_store_contract() {
    let garage = Garage::start();
    let store = garage.store("conformance").await;
    check_object_store(&store).await;
    assert!(raw_keys(&garage).await.is_empty(), "the contract check cleans up after itself");
}

#[tokio::test]
async fn s3_store_keeps_the_multipart_contract() {
    let garage = Garage::start();
    let (store, reopened) = (garage.store("uploads").await, garage.store("uploads").await);
    support::conformance::check_multipart(&store, &reopened).await;
    assert!(raw_keys(&garage).await.is_empty(), "the multipart check cleans up after itself");
    // No upload is left in progress: completed and aborted ones are gone from the bucket.
    let uploads = raw_client(&garage).list_multipart_uploads().bucket(BUCKET).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}

#[tokio::test]
async fn keys_are_stored_under_the_prefix_as_plain_s3_objects() {
    let garage = Garage::start();
    let store = garage.store("films/2026").await;
    store.put(&key("video_720p/seg_00001.m4s"), Bytes::from_static(b"segment")).await.unwrap();
    assert_eq!(raw_keys(&garage).await, ["films/2026/video_720p/seg_00001.m4s"]);
    let object = raw_client(&garage)
        .get_object()
        .bucket(BUCKET)
        .key("films/2026/video_720p/seg_00001.m4s")
        .send()
        .await
        .unwrap();
    assert_eq!(object.body.collect().await.unwrap().into_bytes(), Bytes::from_static(b"segment"));
    assert_eq!(store.location(), format!("s3://{BUCKET}/films/2026"));
}

#[tokio::test]
async fn stores_sharing_a_bucket_are_isolated_by_prefix() {
    let garage = Garage::start();
    let a = garage.store("a").await;
    // `ab` starts with `a` as a string: only the `/` after the prefix keeps the stores apart.
    let ab = garage.store("ab").await;
    let whole = garage.store("").await;
    a.put(&key("x"), Bytes::from_static(b"in a")).await.unwrap();
    ab.put(&key("x"), Bytes::from_static(b"in ab")).await.unwrap();
    // An object named like the prefix itself, and one in a nested prefix.
    whole.put(&key("a"), Bytes::from_static(b"named a")).await.unwrap();
    a.put(&key("b/y"), Bytes::from_static(b"nested")).await.unwrap();

    assert_eq!(a.list("").await.unwrap(), [key("b/y"), key("x")]);
    assert_eq!(ab.list("").await.unwrap(), [key("x")]);
    assert_eq!(whole.list("").await.unwrap(), [key("a"), key("a/b/y"), key("a/x"), key("ab/x")]);
    assert_eq!(a.get(&key("x")).await.unwrap(), Bytes::from_static(b"in a"));
    assert_eq!(ab.get(&key("x")).await.unwrap(), Bytes::from_static(b"in ab"));

    a.delete(&key("x")).await.unwrap();
    assert!(matches!(a.get(&key("x")).await, Err(StorageError::NotFound { .. })));
    assert_eq!(ab.get(&key("x")).await.unwrap(), Bytes::from_static(b"in ab"));
    assert_eq!(whole.get(&key("a")).await.unwrap(), Bytes::from_static(b"named a"));
    // Unlike a directory, a bucket holds `a` and `a/b/y` side by side.
    assert_eq!(whole.get(&key("a/b/y")).await.unwrap(), Bytes::from_static(b"nested"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_follows_continuation_past_a_thousand_keys() {
    let garage = Garage::start();
    let store = Arc::new(garage.store("many").await);
    // 1000 is S3's largest page, so 1003 keys take two ListObjectsV2 requests.
    let keys: Vec<ObjectKey> = (0..1003).map(|n| key(&format!("seg/{n:05}.m4s"))).collect();
    let mut puts = tokio::task::JoinSet::new();
    for chunk in keys.chunks(64) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        puts.spawn(async move {
            for k in chunk {
                store.put(&k, Bytes::from(k.to_string())).await.unwrap();
            }
        });
    }
    while let Some(done) = puts.join_next().await {
        done.unwrap();
    }
    store.put(&key("other"), Bytes::from_static(b"not under seg/")).await.unwrap();

    assert_eq!(store.list("seg/").await.unwrap(), keys);
    assert_eq!(store.list("").await.unwrap().len(), 1004);
    assert_eq!(store.list("seg/0099").await.unwrap(), keys[990..1000]);

    // Small pages: the same answer, page boundaries anywhere.
    let mut config = garage.config("many");
    config.list_page_size = 7;
    let paged = S3Store::new(config).unwrap();
    assert_eq!(paged.list("seg/").await.unwrap(), keys);
    assert_eq!(paged.list("seg/0099").await.unwrap(), keys[990..1000]);
}

#[tokio::test]
async fn large_bodies_go_up_in_parts_and_come_back_byte_exact() {
    let garage = Garage::start();
    let store = garage.store("big").await;
    // Two full parts and a short last one; a pattern with a period prime to the part size, so a part written at
    // the wrong offset or twice would not compare equal.
    let len = 2 * DEFAULT_PART_SIZE + 12_345;
    let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let big = key("video_1080p/seg_00001.m4s");
    store.put(&big, Bytes::from(body.clone())).await.unwrap();

    let read = store.get(&big).await.unwrap();
    assert_eq!(read.len(), len);
    assert!(read == body, "the body came back different");
    assert_eq!(store.head(&big).await.unwrap().size, len as u64);

    // A multipart ETag ends in `-<part count>`: the store used three parts, not one PutObject.
    let raw = raw_client(&garage);
    let head = raw.head_object().bucket(BUCKET).key("big/video_1080p/seg_00001.m4s").send().await.unwrap();
    let etag = head.e_tag().unwrap_or_default().trim_matches('"').to_owned();
    assert!(etag.ends_with("-3"), "ETag {etag:?} is not a three-part upload's");
    // No upload is left open.
    let open_uploads = raw.list_multipart_uploads().bucket(BUCKET).send().await.unwrap();
    assert!(open_uploads.uploads().is_empty(), "{:?}", open_uploads.uploads());

    // Overwriting a multipart object with a small one, and back, each replaces the whole body.
    store.put(&big, Bytes::from_static(b"small now")).await.unwrap();
    assert_eq!(store.get(&big).await.unwrap(), Bytes::from_static(b"small now"));
    store.put(&big, Bytes::from(body.clone())).await.unwrap();
    assert!(store.get(&big).await.unwrap() == body);
}

#[tokio::test]
async fn a_body_at_the_threshold_is_one_put_object() {
    let garage = Garage::start();
    let mut config = garage.config("edge");
    config.multipart_threshold = 6 << 20;
    config.part_size = 5 << 20;
    let store = S3Store::new(config).unwrap();
    let at = key("at");
    let above = key("above");
    store.put(&at, Bytes::from(vec![1u8; 6 << 20])).await.unwrap();
    store.put(&above, Bytes::from(vec![2u8; (6 << 20) + 1])).await.unwrap();
    let raw = raw_client(&garage);
    let etag = |k: &'static str| {
        let raw = raw.clone();
        async move {
            let head = raw.head_object().bucket(BUCKET).key(k).send().await.unwrap();
            head.e_tag().unwrap_or_default().trim_matches('"').to_owned()
        }
    };
    assert!(!etag("edge/at").await.contains('-'), "a body at the threshold is one PutObject");
    assert!(etag("edge/above").await.ends_with("-2"), "one byte more is a two-part upload");
    assert_eq!(store.get(&above).await.unwrap().len(), (6 << 20) + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_leave_one_whole_body() {
    let garage = Garage::start();
    let store = Arc::new(garage.store("race").await);
    let object = key("live/index.m3u8");
    let body_of = |version: u8| Bytes::from(vec![version + 1; 256 * 1024 + usize::from(version) * 4099]);
    let mut writers = tokio::task::JoinSet::new();
    for version in 0..8u8 {
        let (store, object, body) = (store.clone(), object.clone(), body_of(version));
        writers.spawn(async move { store.put(&object, body).await });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap().unwrap();
    }
    let survivor = store.get(&object).await.unwrap();
    let version = survivor[0] - 1;
    assert!(version < 8 && survivor == body_of(version), "a torn body of {} bytes", survivor.len());
    assert_eq!(store.list("").await.unwrap(), vec![object]);
}

#[tokio::test]
async fn service_errors_name_the_operation_the_key_and_what_the_service_said() {
    let garage = Garage::start();
    let _ready = garage.store("").await;

    // Wrong secret: Garage refuses the signature.
    let mut config = garage.config("p");
    config.credentials.as_mut().unwrap().secret_access_key = "0".repeat(64);
    let forged = S3Store::new(config).unwrap();
    let error = forged.get(&key("v/seg_1.m4s")).await.unwrap_err();
    let StorageError::Remote { op, key: failed_key, status, detail, location, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((*op, failed_key.as_str(), location.as_str()), ("get", "v/seg_1.m4s", "s3://marquee-test/p"));
    assert_eq!(*status, Some(403), "{detail}");
    assert!(detail.contains("AccessDenied (HTTP 403)"), "{detail}");
    let message = error.to_string();
    assert!(
        message.starts_with("S3 get of `v/seg_1.m4s` in s3://marquee-test/p failed: the service answered"),
        "{message}"
    );

    // Missing bucket: an error, not NotFound and not an empty listing; deleting from it is not "already gone".
    let mut config = garage.config("");
    config.bucket = "no-such-bucket".to_owned();
    let nowhere = S3Store::new(config).unwrap();
    for error in [
        nowhere.list("v/").await.unwrap_err(),
        nowhere.get(&key("x")).await.unwrap_err(),
        nowhere.delete(&key("x")).await.unwrap_err(),
    ] {
        assert!(matches!(&error, StorageError::Remote { status: Some(404), .. }), "{error:?}");
        assert!(error.to_string().contains("NoSuchBucket"), "{error}");
    }

    // Nothing listening: the client's error, no HTTP status.
    let mut config = garage.config("");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    config.endpoint = Some(format!("http://{closed}"));
    let unreachable = S3Store::new(config).unwrap();
    let error = unreachable.head(&key("x")).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::Remote { op: "head", status: None, detail, .. } if detail.contains("could not reach")),
        "{error:?}"
    );
    assert!(error.to_string().contains("Connection refused"), "{error}");
}

#[test]
fn a_store_built_outside_any_runtime_works_inside_one() {
    // The CLI opens its store before it starts the runtime; the store must not need one until it is used.
    let garage = Garage::start();
    let store = S3Store::new(garage.config("sync")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let ready = garage.store("sync").await;
        drop(ready);
        store.put(&key("a"), Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(store.list("").await.unwrap(), [key("a")]);
    });
}

/// Keys written by other tools that are not valid `ObjectKey`s are skipped, not an error.
#[tokio::test]
async fn list_skips_objects_whose_names_are_not_keys() {
    let garage = Garage::start();
    let store = garage.store("mixed").await;
    store.put(&key("ok"), Bytes::from_static(b"1")).await.unwrap();
    let raw = raw_client(&garage);
    for foreign in ["mixed/a//b", "mixed/trailing/", "mixed/v/.tmp-1-2", "mixed/x/../y"] {
        raw.put_object().bucket(BUCKET).key(foreign).body(Bytes::from_static(b"x").into()).send().await.unwrap();
    }
    assert_eq!(store.list("").await.unwrap(), [key("ok")]);
    let all: BTreeSet<String> = raw_keys(&garage).await.into_iter().collect();
    assert_eq!(all.len(), 5, "{all:?}");
}

/// A loopback proxy in front of Garage that drops every request whose request line contains `refuse` (without
/// an answer) and forwards the others, one request per connection. Returns its address and the request lines
/// it saw.
fn faulty_proxy(upstream: &str, refuse: &'static str) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};

    let upstream = upstream.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let (Ok(mut client), upstream, log) = (client, upstream.clone(), log.clone()) else { continue };
            std::thread::spawn(move || {
                // Read the request head, byte by byte: the body that follows is piped untouched.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match client.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let request_line = head.lines().next().unwrap_or_default().to_owned();
                log.lock().unwrap().push(request_line.clone());
                if request_line.contains(refuse) {
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                // `Connection: close` makes Garage end the connection after its answer, so the client opens a new
                // one, and its request head passes through here, for the next request.
                let head = head.replacen("\r\n", "\r\nConnection: close\r\n", 1);
                let Ok(mut server) = TcpStream::connect(&upstream) else { return };
                if server.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let (mut client_in, mut server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_in, &mut server_out);
                });
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(Shutdown::Both);
            });
        }
    });
    (address, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_part_aborts_the_upload_and_leaves_nothing_behind() {
    let garage = Garage::start();
    let direct = garage.store("abort").await;
    let (proxy, seen) = faulty_proxy(garage.endpoint(), "partNumber=2");
    let mut config = garage.config("abort");
    config.endpoint = Some(proxy);
    let through_proxy = S3Store::new(config).unwrap();

    let object = key("video_1080p/seg_00001.m4s");
    let body = Bytes::from(vec![9u8; 2 * DEFAULT_PART_SIZE + 1]);
    let error = through_proxy.put(&object, body).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::Remote { op: "upload part", key, .. } if key == object.as_str()),
        "{error:?}"
    );

    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|line| line.starts_with("POST ") && line.contains("uploads")), "{seen:#?}");
    assert!(seen.iter().any(|line| line.contains("partNumber=2")), "{seen:#?}");
    assert!(
        seen.iter().any(|line| line.starts_with("DELETE ") && line.contains("uploadId=")),
        "no AbortMultipartUpload was sent: {seen:#?}"
    );
    let open_uploads = raw_client(&garage).list_multipart_uploads().bucket(BUCKET).send().await.unwrap();
    assert!(open_uploads.uploads().is_empty(), "{:?}", open_uploads.uploads());
    assert!(matches!(direct.get(&object).await, Err(StorageError::NotFound { .. })));
    assert!(direct.list("").await.unwrap().is_empty());
}

#[tokio::test]
async fn get_range_streams_one_version_in_chunks_with_one_request() {
    use futures_util::StreamExt;

    let garage = Garage::start();
    let store = garage.store("ranges").await;
    let big = key("video_4k/seg_00001.m4s");
    const LEN: usize = 24 << 20;
    let body: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    store.put(&big, Bytes::from(body.clone())).await.unwrap();
    let head = store.head(&big).await.unwrap();

    // The whole object arrives as many chunks, none near the object's size.
    let mut read = store.get_range(&big, None).await.unwrap();
    assert_eq!(read.meta, head);
    let (mut received, mut chunks, mut largest) = (Vec::with_capacity(LEN), 0, 0);
    while let Some(chunk) = read.body.next().await {
        let chunk = chunk.unwrap();
        largest = largest.max(chunk.len());
        chunks += 1;
        received.extend_from_slice(&chunk);
    }
    assert!(received == body, "{} bytes back", received.len());
    assert!(chunks > 16 && largest <= 4 << 20, "{chunks} chunks, the largest {largest} bytes");

    // A stream opened before a replacement keeps the old version's bytes: it is one GetObject.
    let (start, end) = (10_000_000u64, 20_000_000u64);
    let mut read = store.get_range(&big, Some(start..end)).await.unwrap();
    let mut received = read.body.next().await.unwrap().unwrap().to_vec();
    store.put(&big, Bytes::from_static(b"replaced")).await.unwrap();
    while let Some(chunk) = read.body.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(read.meta.size, LEN as u64);
    assert!(received[..] == body[start as usize..end as usize], "{} bytes back", received.len());
    match store.get_range(&big, Some(8..100)).await {
        Err(StorageError::RangeNotSatisfiable { size: 8, .. }) => {}
        other => panic!("{other:?}"),
    }
}

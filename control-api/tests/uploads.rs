//! The upload service on both engines, over a real local store (and one run into Garage): chunks of odd
//! sizes make the object byte for byte, uploads resume after a restart, and the tus rules (409, 460, 413, 410,
//! 423) hold without losing or mixing bytes; termination and expiry leave nothing in storage.

mod common;

use marquee_control_api::on_both_engines;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use common::{Engine, TestDatabase};
use marquee_control_api::clock::{now_ms, TestClock};
use marquee_control_api::metrics::{UploadEvent, UploadMetrics};
use marquee_control_api::uploads::service::{source_key_for, UploadSettings};
use marquee_control_api::uploads::tus::ChecksumAlgorithm;
use marquee_control_api::uploads::{Checksum, Metadata, NewUpload, TusError, UploadError, UploadService};
use marquee_control_api::Database;
use marquee_storage::multipart::{MAX_PARTS, MIN_PART_SIZE};
use marquee_storage::{MultipartUpload, ObjectKey, ObjectStore, UploadedPart};

const PART: usize = MIN_PART_SIZE as usize;

/// A database, a local store in the same temp dir, and the service over both; parts of the 5 MiB minimum.
struct Setup {
    database: TestDatabase,
    db: Database,
    storage: Arc<dyn ObjectStore>,
    service: UploadService,
    clock: TestClock,
    /// What the service counts.
    metrics: UploadMetrics,
}

fn settings() -> UploadSettings {
    UploadSettings { preferred_part_size: MIN_PART_SIZE, ..UploadSettings::default() }
}

impl Setup {
    async fn new(engine: Engine) -> Self {
        Self::on(TestDatabase::new(engine)).await
    }

    async fn on(database: TestDatabase) -> Self {
        let db = Database::connect(&database.url).await.unwrap();
        let storage = marquee_storage::open(database.dir.path().join("media").to_str().unwrap()).unwrap();
        Self::with_storage(database, db, storage)
    }

    fn with_storage(database: TestDatabase, db: Database, storage: Arc<dyn ObjectStore>) -> Self {
        let clock = TestClock::at_system_time();
        let metrics = UploadMetrics::new();
        let service = UploadService::new(db.clone(), storage.clone(), settings())
            .with_clock(clock.clock())
            .with_metrics(metrics.clone());
        Self { database, db, storage, service, clock, metrics }
    }

    /// Drops the service, the database connections and the store, as a stopped API does.
    async fn restart(self) -> Self {
        let Self { database, db, service, storage, .. } = self;
        drop((service, storage));
        db.pool().close().await;
        drop(db);
        Self::on(database).await
    }

    async fn create(&self, length: usize) -> marquee_control_api::uploads::Upload {
        let asset_id = asset_id_for(length);
        let metadata = Metadata::parse(Some(b"filename ZmlsbS5tcDQ=,filetype dmlkZW8vbXA0")).unwrap();
        let new = NewUpload {
            storage_key: source_key_for(&asset_id).unwrap(),
            asset_id,
            owner_id: "owner-1".to_owned(),
            length: length as u64,
            metadata,
        };
        self.service.create(new).await.unwrap()
    }

    async fn stored_keys(&self) -> Vec<String> {
        self.storage.list("").await.unwrap().iter().map(ToString::to_string).collect()
    }

    /// Upload directories left in the local store's staging area.
    fn staging_dirs(&self) -> usize {
        match std::fs::read_dir(self.database.dir.path().join("media/.tmp-multipart")) {
            Ok(entries) => entries.count(),
            Err(_) => 0,
        }
    }
}

fn asset_id_for(seed: usize) -> String {
    format!("asset-{seed}-{}", now_ms())
}

/// Bytes that differ at every position of a part and between parts (xorshift).
fn film(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A request body delivering `bytes` in chunks of `chunk` bytes, as a network would.
fn body(bytes: &[u8], chunk: usize) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    let chunks: Vec<Bytes> = bytes.chunks(chunk.max(1)).map(Bytes::copy_from_slice).collect();
    futures_util::stream::iter(chunks.into_iter().map(Ok))
}

fn tus_error(result: Result<marquee_control_api::uploads::Upload, UploadError>) -> TusError {
    match result {
        Err(UploadError::Tus(error)) => error,
        other => panic!("expected a tus refusal, got {other:?}"),
    }
}

on_both_engines!(odd_sized_chunks_make_the_object_byte_for_byte, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(2 * PART + 12_345);
    let upload = setup.create(data.len()).await;
    assert_eq!((upload.offset, upload.part_size), (0, MIN_PART_SIZE));
    assert_eq!(upload.metadata.text("filename"), Some("film.mp4"));
    // PATCH sizes that end inside parts, exactly on a boundary, and span several parts; some checksummed.
    let sizes = [1, 777, PART - 778, 3 * 1024 * 1024 + 5, PART + 1, 4099, 10];
    let mut offset = 0usize;
    for (i, size) in sizes.iter().cycle().enumerate() {
        if offset == data.len() {
            break;
        }
        let end = (offset + size).min(data.len());
        let chunk = &data[offset..end];
        let checksum = match i % 3 {
            0 => None,
            1 => Some(Checksum::of(ChecksumAlgorithm::Sha1, chunk)),
            _ => Some(Checksum::of(ChecksumAlgorithm::Sha256, chunk)),
        };
        let upload =
            setup.service.append(&upload.id, offset as u64, body(chunk, 64 * 1024 + i), checksum).await.unwrap();
        assert_eq!(upload.offset, end as u64, "PATCH {i}");
        assert_eq!(setup.service.get(&upload.id).await.unwrap().offset, end as u64);
        offset = end;
    }
    let done = setup.service.get(&upload.id).await.unwrap();
    assert!(done.is_complete());
    let stored = setup.storage.get(&upload.storage_key).await.unwrap();
    assert_eq!(stored.len(), data.len());
    assert!(stored == data, "the stored object is the uploaded bytes");
    // Nothing but the object is left: no tail, no parts.
    assert_eq!(setup.stored_keys().await, [upload.storage_key.to_string()]);
    assert_eq!(setup.staging_dirs(), 0);
    // A client confirming the end with an empty PATCH is answered with the offset; more bytes are 413.
    let again = setup.service.append(&upload.id, data.len() as u64, body(&[], 1), None).await.unwrap();
    assert_eq!(again.offset, data.len() as u64);
    let over = tus_error(setup.service.append(&upload.id, data.len() as u64, body(b"x", 1), None).await);
    assert_eq!(over.status().as_u16(), 413);
});

on_both_engines!(an_upload_resumes_after_a_restart, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(PART + PART / 2 + 3);
    let upload = setup.create(data.len()).await;
    let first = PART + 1000;
    setup.service.append(&upload.id, 0, body(&data[..first], 100_000), None).await.unwrap();
    // A new process: new connections, a new store handle, the same database and directory.
    let setup = setup.restart().await;
    let resumed = setup.service.get(&upload.id).await.unwrap();
    assert_eq!(resumed.offset, first as u64, "the offset survives, tail included");
    let done = setup.service.append(&upload.id, first as u64, body(&data[first..], 9999), None).await.unwrap();
    assert!(done.is_complete());
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
});

on_both_engines!(a_patch_at_the_wrong_offset_is_409, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(5000);
    let upload = setup.create(data.len()).await;
    let refused = tus_error(setup.service.append(&upload.id, 5, body(&data[5..10], 5), None).await);
    assert_eq!(refused, TusError::OffsetMismatch { expected: 0, given: 5 });
    assert_eq!(refused.status().as_u16(), 409);
    setup.service.append(&upload.id, 0, body(&data[..100], 7), None).await.unwrap();
    // The same chunk again (a client that missed the answer) is a conflict, not a duplicate.
    let repeated = tus_error(setup.service.append(&upload.id, 0, body(&data[..100], 7), None).await);
    assert_eq!(repeated, TusError::OffsetMismatch { expected: 100, given: 0 });
    // More than the declared length is 413, and the offset does not move past it.
    let past = tus_error(setup.service.append(&upload.id, 100, body(&film(6000), 1000), None).await);
    assert_eq!(past.status().as_u16(), 413);
    let unknown = tus_error(setup.service.append("no-such-upload", 0, body(b"x", 1), None).await);
    assert_eq!(unknown.status().as_u16(), 404);
});

on_both_engines!(a_wrong_checksum_leaves_the_offset_unchanged, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(2 * PART + 10);
    let upload = setup.create(data.len()).await;
    setup.service.append(&upload.id, 0, body(&data[..1000], 300), None).await.unwrap();
    // A chunk across a part boundary whose bytes were corrupted on the way: its parts went to storage, but
    // they do not count.
    let mut corrupted = data[1000..PART + 5000].to_vec();
    let checksum = Checksum::of(ChecksumAlgorithm::Sha256, &corrupted);
    corrupted[PART / 2] ^= 0xff;
    let refused = tus_error(setup.service.append(&upload.id, 1000, body(&corrupted, 65_536), Some(checksum)).await);
    assert_eq!(refused.status().as_u16(), 460);
    assert_eq!(setup.service.get(&upload.id).await.unwrap().offset, 1000);
    let wrong_sha1 = Checksum::of(ChecksumAlgorithm::Sha1, b"something else");
    let refused =
        tus_error(setup.service.append(&upload.id, 1000, body(&data[1000..2000], 10), Some(wrong_sha1)).await);
    assert_eq!(refused, TusError::ChecksumMismatch { algorithm: ChecksumAlgorithm::Sha1 });
    assert_eq!(setup.service.get(&upload.id).await.unwrap().offset, 1000);
    // The right bytes, resent, make the right object.
    let rest = &data[1000..];
    let done = setup
        .service
        .append(&upload.id, 1000, body(rest, 1 << 20), Some(Checksum::of(ChecksumAlgorithm::Sha1, rest)))
        .await
        .unwrap();
    assert!(done.is_complete());
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
});

on_both_engines!(termination_removes_the_parts, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(PART + 700);
    let upload = setup.create(data.len()).await;
    setup.service.append(&upload.id, 0, body(&data[..PART + 300], 1 << 20), None).await.unwrap();
    assert_eq!(setup.staging_dirs(), 1, "a part is stored");
    assert_eq!(setup.stored_keys().await.len(), 1, "and a tail");
    setup.service.terminate(&upload.id).await.unwrap();
    assert!(setup.stored_keys().await.is_empty());
    assert_eq!(setup.staging_dirs(), 0);
    assert_eq!(tus_error(setup.service.get(&upload.id).await), TusError::NotFound);
    assert_eq!(
        tus_error(setup.service.append(&upload.id, PART as u64 + 300, body(b"x", 1), None).await),
        TusError::NotFound
    );
    assert!(matches!(setup.service.terminate(&upload.id).await, Err(UploadError::Tus(TusError::NotFound))));
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads").fetch_one(setup.db.pool()).await.unwrap();
    assert_eq!(rows, 0);
});

on_both_engines!(expiry_cleans_up, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let abandoned = setup.create(PART + 10).await;
    setup.service.append(&abandoned.id, 0, body(&film(PART + 5), 1 << 20), None).await.unwrap();
    let finished_data = film(20);
    let finished = setup.create(finished_data.len()).await;
    setup.service.append(&finished.id, 0, body(&finished_data, 3), None).await.unwrap();
    setup.clock.advance(std::time::Duration::from_secs(1));
    let fresh = setup.create(10).await;

    let expires_at = setup.service.get(&abandoned.id).await.unwrap().expires_at;
    setup.clock.set(expires_at);
    assert_eq!(tus_error(setup.service.get(&abandoned.id).await).status().as_u16(), 410);
    let late = tus_error(setup.service.append(&abandoned.id, PART as u64 + 5, body(b"x", 1), None).await);
    assert_eq!(late, TusError::Expired);
    // Created later, so not expired yet: only one upload goes.
    let removed = setup.service.expire(expires_at).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(setup.metrics.counted(UploadEvent::Expired), 1);
    assert_eq!(tus_error(setup.service.get(&abandoned.id).await), TusError::NotFound);
    assert!(setup.service.get(&fresh.id).await.is_ok());
    // A complete upload never expires; its object stays.
    assert!(setup.service.get(&finished.id).await.unwrap().is_complete());
    assert_eq!(setup.stored_keys().await, [finished.storage_key.to_string()]);
    assert_eq!(setup.staging_dirs(), 1, "only the fresh upload's (empty) staging directory is left");
    let much_later = expires_at + 365 * 24 * 3600 * 1000;
    assert_eq!(setup.service.expire(much_later).await.unwrap(), 1);
    assert_eq!(setup.staging_dirs(), 0);
    let counted = |event| setup.metrics.counted(event);
    assert_eq!(
        (counted(UploadEvent::Created), counted(UploadEvent::Completed), counted(UploadEvent::Expired)),
        (3, 1, 2)
    );
    assert_eq!(counted(UploadEvent::Terminated), 0);
    assert_eq!(setup.metrics.stored_bytes(), (PART + 5 + 20) as u64, "every byte stored counts, expired or not");
    assert_eq!(setup.stored_keys().await, [finished.storage_key.to_string()]);
});

on_both_engines!(sizes_keep_within_the_part_limit_and_the_configured_maximum, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    // 100 GiB: 5 MiB parts would need 20 480 of them.
    let large = setup.create(100 << 30).await;
    assert!(large.part_size * MAX_PARTS >= large.length, "{}", large.part_size);
    assert_eq!(large.part_size, 11 << 20);
    let new = |length| NewUpload {
        asset_id: "a".to_owned(),
        owner_id: "o".to_owned(),
        length,
        metadata: Metadata::default(),
        storage_key: ObjectKey::parse("sources/a").unwrap(),
    };
    let limit = setup.service.settings().max_upload_bytes;
    match setup.service.create(new(limit + 1)).await {
        Err(UploadError::Tus(e @ TusError::TooLarge { .. })) => assert_eq!(e.status().as_u16(), 413),
        other => panic!("{other:?}"),
    }
    // An empty upload is complete at once.
    let empty = setup.service.create(new(0)).await.unwrap();
    assert!(empty.is_complete());
    assert_eq!(setup.storage.get(&empty.storage_key).await.unwrap().len(), 0);
});

on_both_engines!(concurrent_patches_cannot_both_write, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(3000);
    let upload = setup.create(data.len()).await;
    // The first PATCH's body arrives only when we say so; that it was asked for proves the claim is taken.
    let (polled_tx, polled) = tokio::sync::oneshot::channel::<()>();
    let (send, receive) = tokio::sync::oneshot::channel::<Bytes>();
    let slow_body = futures_util::stream::once(async move {
        let _ = polled_tx.send(());
        Ok::<_, Infallible>(receive.await.unwrap())
    });
    let service = setup.service.clone();
    let id = upload.id.clone();
    let first = tokio::spawn(async move { service.append(&id, 0, slow_body, None).await });
    polled.await.unwrap();
    let second = tus_error(setup.service.append(&upload.id, 0, body(&data[..500], 100), None).await);
    assert_eq!(second, TusError::Locked);
    assert_eq!(second.status().as_u16(), 423);
    assert!(matches!(setup.service.terminate(&upload.id).await, Err(UploadError::Tus(TusError::Locked))));
    send.send(Bytes::copy_from_slice(&data[..1000])).unwrap();
    assert_eq!(first.await.unwrap().unwrap().offset, 1000);
    // Now the second client's offset is stale.
    let stale = tus_error(setup.service.append(&upload.id, 0, body(&data[..500], 100), None).await);
    assert_eq!(stale, TusError::OffsetMismatch { expected: 1000, given: 0 });
    let done = setup.service.append(&upload.id, 1000, body(&data[1000..], 256), None).await.unwrap();
    assert!(done.is_complete());
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
});

on_both_engines!(a_broken_body_keeps_what_arrived_unless_checksummed, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(PART + 4000);
    let upload = setup.create(data.len()).await;
    let broken = |bytes: &[u8]| {
        let chunks: Vec<Result<Bytes, &'static str>> =
            bytes.chunks(1 << 20).map(|c| Ok(Bytes::copy_from_slice(c))).chain([Err("connection reset")]).collect();
        futures_util::stream::iter(chunks)
    };
    // Checksummed: nothing of it counts.
    let checksum = Checksum::of(ChecksumAlgorithm::Sha256, &data[..3000]);
    let failed = setup.service.append(&upload.id, 0, broken(&data[..3000]), Some(checksum)).await;
    assert!(matches!(failed, Err(UploadError::Body(_))), "{failed:?}");
    assert_eq!(setup.service.get(&upload.id).await.unwrap().offset, 0);
    // Plain: the bytes that arrived are stored and counted (tus: keep as much as possible).
    let failed = setup.service.append(&upload.id, 0, broken(&data[..PART + 100]), None).await;
    assert!(matches!(failed, Err(UploadError::Body(_))), "{failed:?}");
    assert_eq!(setup.service.get(&upload.id).await.unwrap().offset, PART as u64 + 100);
    let done = setup.service.append(&upload.id, PART as u64 + 100, body(&data[PART + 100..], 777), None).await.unwrap();
    assert!(done.is_complete());
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
});

/// The same upload into S3 (Garage), where parts below 5 MiB are refused: PATCHes of odd sizes still become
/// whole parts, the tail lives in the bucket, and nothing is left but the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_sized_chunks_into_garage() {
    let garage = marquee_test_support::garage::Garage::start();
    let storage: Arc<dyn ObjectStore> = Arc::new(garage.store("media").await);
    let database = TestDatabase::new(Engine::Sqlite);
    let db = Database::connect(&database.url).await.unwrap();
    let setup = Setup::with_storage(database, db, storage);
    let data = film(2 * PART + 333);
    let upload = setup.create(data.len()).await;
    let mut offset = 0;
    for size in [1_000_000, 3_000_000, 4_000_000, 10, 2_000_000, usize::MAX] {
        let end = offset + size.min(data.len() - offset);
        let chunk = &data[offset..end];
        let upload = setup.service.append(&upload.id, offset as u64, body(chunk, 100_000), None).await.unwrap();
        assert_eq!(upload.offset, end as u64);
        offset = end;
    }
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
    assert_eq!(setup.stored_keys().await, [upload.storage_key.to_string()]);
}

on_both_engines!(a_completion_that_was_not_recorded_is_recorded_on_retry, |engine: Engine| async move {
    let setup = Setup::new(engine).await;
    let data = film(PART + 100);
    let upload = setup.create(data.len()).await;
    setup.service.append(&upload.id, 0, body(&data[..PART + 50], 1 << 20), None).await.unwrap();
    // An earlier PATCH stored the last part and completed the object, then its API died before recording it.
    let (upload_id, parts_json): (String, String) =
        sqlx::query_as("SELECT multipart_upload_id, parts_json FROM uploads WHERE id = $1")
            .bind(&upload.id)
            .fetch_one(setup.db.pool())
            .await
            .unwrap();
    let multipart = MultipartUpload { key: upload.storage_key.clone(), upload_id };
    let recorded: Vec<serde_json::Value> = serde_json::from_str(&parts_json).unwrap();
    assert_eq!(recorded.len(), 1);
    let first = UploadedPart {
        number: 1,
        size: recorded[0]["size"].as_u64().unwrap(),
        etag: recorded[0]["etag"].as_str().unwrap().to_owned(),
    };
    let last = setup.storage.put_part(&multipart, 2, Bytes::copy_from_slice(&data[PART..])).await.unwrap();
    setup.storage.complete_multipart(&multipart, &[first, last]).await.unwrap();
    // The client, which never got an answer, resends from the offset the server reports.
    let offset = setup.service.get(&upload.id).await.unwrap().offset;
    assert_eq!(offset, PART as u64 + 50);
    let done = setup.service.append(&upload.id, offset, body(&data[PART + 50..], 7), None).await.unwrap();
    assert!(done.is_complete());
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
    assert_eq!(setup.stored_keys().await, [upload.storage_key.to_string()]);
});

on_both_engines!(one_long_body_stores_its_parts_in_order_as_they_arrive, |engine: Engine| async move {
    // Parts are stored while the next one arrives; a body that breaks after several parts keeps every whole
    // part and its tail, and the object ends up byte for byte, from one PATCH and from one broken then resumed.
    let setup = Setup::new(engine).await;
    let data = film(4 * PART + 321);
    let upload = setup.create(data.len()).await;
    let done = setup.service.append(&upload.id, 0, body(&data, 64 * 1024 + 3), None).await.unwrap();
    assert!(done.is_complete());
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
    assert_eq!(setup.metrics.stored_bytes(), data.len() as u64);

    let upload = setup.create(data.len() + 1).await;
    let data = film(data.len() + 1);
    let cut = 3 * PART + 10;
    let chunks: Vec<Result<Bytes, &'static str>> =
        data[..cut].chunks(100_000).map(|c| Ok(Bytes::copy_from_slice(c))).chain([Err("connection reset")]).collect();
    let failed = setup.service.append(&upload.id, 0, futures_util::stream::iter(chunks), None).await;
    assert!(matches!(failed, Err(UploadError::Body(_))), "{failed:?}");
    assert_eq!(setup.service.get(&upload.id).await.unwrap().offset, cut as u64);
    let done = setup.service.append(&upload.id, cut as u64, body(&data[cut..], 1 << 20), None).await.unwrap();
    assert!(done.is_complete());
    assert!(setup.storage.get(&upload.storage_key).await.unwrap() == data);
    assert_eq!(setup.stored_keys().await.len(), 2, "the two objects, no tail");
});

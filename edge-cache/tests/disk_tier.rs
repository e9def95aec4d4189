//! Integration tests of the disk tier through its public API: the budget under a concurrent workload much bigger
//! than it, restarts, and a model-based property test of eviction order and accounting.

use std::collections::VecDeque;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use marquee_edge_cache::disk::{DiskError, DiskTier, DiskTierOptions};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Total length of the tier's entry and temp files under `dir`.
fn bytes_on_disk(dir: &Path) -> (u64, usize) {
    let (mut bytes, mut files) = (0, 0);
    for shard in fs::read_dir(dir).unwrap() {
        let shard = shard.unwrap();
        if !shard.file_type().unwrap().is_dir() {
            continue;
        }
        for file in fs::read_dir(shard.path()).unwrap() {
            bytes += file.unwrap().metadata().unwrap().len();
            files += 1;
        }
    }
    (bytes, files)
}

/// A body whose every byte, and whose meta, say which key and version wrote it, so a reader can tell a torn or
/// mixed-up entry from a whole one.
fn object(key_id: u32, version: u32, len: usize) -> (Vec<u8>, Vec<u8>) {
    let meta = format!("{key_id}:{version}:{len}").into_bytes();
    let fill = (key_id.wrapping_mul(31) ^ version) as u8;
    (meta, vec![fill; len])
}

fn check_object(key_id: u32, meta: &[u8], body: &[u8]) {
    let meta = std::str::from_utf8(meta).unwrap();
    let fields: Vec<u32> = meta.split(':').map(|f| f.parse().unwrap()).collect();
    assert_eq!(fields[0], key_id, "entry of another key: {meta}");
    let (expected_meta, expected_body) = object(key_id, fields[1], fields[2] as usize);
    assert_eq!(meta.as_bytes(), expected_meta);
    assert!(body == expected_body, "body does not match its meta {meta}");
}

#[test]
fn disk_budget_is_never_exceeded_under_a_concurrent_workload() {
    const BUDGET: u64 = 256 * 1024;
    const WRITERS: u64 = 4;
    const OPS_PER_WRITER: u32 = 400;
    const KEYS: u32 = 300;

    let dir = tempfile::tempdir().unwrap();
    let options = DiskTierOptions { touch_interval: Duration::ZERO, ..DiskTierOptions::default() };
    let tier = DiskTier::open_with(dir.path(), BUDGET, options).unwrap();
    let done = AtomicBool::new(false);
    let written = AtomicU64::new(0);
    let checks = AtomicU64::new(0);

    thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let used = tier.used_bytes();
                assert!(used <= BUDGET, "used {used} bytes of a {BUDGET}-byte budget");
                checks.fetch_add(1, Ordering::Relaxed);
                thread::yield_now();
            }
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (tier, written) = (&tier, &written);
                scope.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(writer);
                    for op in 0..OPS_PER_WRITER {
                        let key_id = rng.random_range(0..KEYS);
                        let key = format!("film{}/seg_{key_id}.m4s", key_id % 10);
                        match rng.random_range(0..100) {
                            0..70 => {
                                let len = rng.random_range(1..24 * 1024);
                                let (meta, body) = object(key_id, op, len);
                                tier.insert(&key, &meta, &body).unwrap();
                                written.fetch_add(DiskTier::entry_bytes(key.len(), meta.len(), len), Ordering::Relaxed);
                            }
                            70..95 => {
                                if let Some(entry) = tier.get(&key).unwrap() {
                                    check_object(key_id, &entry.meta, &entry.body);
                                }
                            }
                            95..99 => {
                                tier.remove(&key).unwrap();
                            }
                            _ => {
                                tier.purge_prefix(&format!("film{}/", key_id % 10)).unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Release);
    });

    let written = written.load(Ordering::Relaxed);
    assert!(written > 10 * BUDGET, "the workload ({written} bytes) should dwarf the budget");
    assert!(checks.load(Ordering::Relaxed) > 0);
    let (on_disk, files) = bytes_on_disk(dir.path());
    let stats = tier.stats();
    assert_eq!(stats.used_bytes, on_disk, "accounting matches the files on disk");
    assert_eq!(stats.stored_bytes, on_disk);
    assert_eq!(stats.entries as usize, files);
    assert!(on_disk <= BUDGET);
    assert!(stats.evictions > 0);
    assert_eq!((stats.corrupt_dropped, stats.io_errors), (0, 0));

    // Whatever survived reads back whole, and still does after a restart.
    drop(tier);
    let tier = DiskTier::open(dir.path(), BUDGET).unwrap();
    assert_eq!(tier.len(), files);
    assert_eq!(tier.used_bytes(), on_disk);
    for key_id in 0..KEYS {
        if let Some(entry) = tier.get(&format!("film{}/seg_{key_id}.m4s", key_id % 10)).unwrap() {
            check_object(key_id, &entry.meta, &entry.body);
        }
    }
    assert_eq!(tier.stats().corrupt_dropped, 0);
}

#[test]
fn disk_restart_keeps_the_disk_tier() {
    let dir = tempfile::tempdir().unwrap();
    let tier = DiskTier::open(dir.path(), 1 << 20).unwrap();
    for n in 0..20 {
        tier.insert(&format!("film/seg_{n}.m4s"), format!("meta {n}").as_bytes(), &vec![n as u8; 1000 + n]).unwrap();
    }
    let used = tier.used_bytes();
    drop(tier);

    let tier = DiskTier::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(tier.len(), 20);
    assert_eq!(tier.used_bytes(), used);
    for n in 0..20 {
        let entry = tier.get(&format!("film/seg_{n}.m4s")).unwrap().expect("kept across the restart");
        assert_eq!(&entry.meta[..], format!("meta {n}").as_bytes());
        assert_eq!(&entry.body[..], &vec![n as u8; 1000 + n][..]);
    }
    assert_eq!(tier.purge_prefix("film/").unwrap(), 20);
    drop(tier);

    let tier = DiskTier::open(dir.path(), 1 << 20).unwrap();
    assert!(tier.is_empty(), "a purge survives a restart");
    assert_eq!(bytes_on_disk(dir.path()), (0, 0));
}

#[test]
fn disk_open_reports_an_unusable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    fs::write(&file, b"").unwrap();
    let err = DiskTier::open(&file, 1 << 20).unwrap_err();
    assert!(matches!(err, DiskError::Directory { .. }), "{err:?}");
    assert!(err.to_string().contains("check `disk_dir`"), "{err}");
}

#[derive(Debug, Clone)]
enum Op {
    Insert { key: u8, len: usize },
    Get { key: u8 },
    Remove { key: u8 },
    Purge { group: u8 },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..12u8, 0..400usize).prop_map(|(key, len)| Op::Insert { key, len }),
        4 => (0..12u8).prop_map(|key| Op::Get { key }),
        1 => (0..12u8).prop_map(|key| Op::Remove { key }),
        1 => (0..3u8).prop_map(|group| Op::Purge { group }),
        1 => Just(Op::Reopen),
    ]
}

fn key_name(key: u8) -> String {
    format!("g{}/k{key}", key % 3)
}

/// The tier as a list from least to most recently used, with the same eviction rule: before writing, evict from
/// the front until the free room covers the new entry; then replace any older version.
#[derive(Debug, Default)]
struct Model {
    entries: VecDeque<(String, Vec<u8>, u64)>,
}

impl Model {
    fn used(&self) -> u64 {
        self.entries.iter().map(|(_, _, size)| size).sum()
    }

    fn take(&mut self, key: &str) -> Option<(String, Vec<u8>, u64)> {
        let at = self.entries.iter().position(|(k, _, _)| k == key)?;
        self.entries.remove(at)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn disk_tier_matches_a_model_lru(ops in proptest::collection::vec(op(), 1..60)) {
        const BUDGET: u64 = 1500;
        let dir = tempfile::tempdir().unwrap();
        let options = DiskTierOptions { touch_interval: Duration::ZERO, sync_writes: false, ..DiskTierOptions::default() };
        let mut tier = DiskTier::open_with(dir.path(), BUDGET, options.clone()).unwrap();
        let mut model = Model::default();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert { key, len } => {
                    let name = key_name(key);
                    let body = vec![n as u8; len];
                    let size = DiskTier::entry_bytes(name.len(), 0, len);
                    let result = tier.insert(&name, b"", &body);
                    if size > BUDGET {
                        prop_assert!(matches!(result, Err(DiskError::TooLarge { .. })), "{:?}", result);
                        continue;
                    }
                    result.unwrap();
                    while model.used() + size > BUDGET {
                        model.entries.pop_front();
                    }
                    model.take(&name);
                    model.entries.push_back((name, body, size));
                }
                Op::Get { key } => {
                    let name = key_name(key);
                    let expected = model.take(&name);
                    let got = tier.get(&name).unwrap();
                    prop_assert_eq!(got.as_ref().map(|e| e.body.to_vec()), expected.as_ref().map(|e| e.1.clone()));
                    if let Some(entry) = expected {
                        model.entries.push_back(entry);
                    }
                }
                Op::Remove { key } => {
                    let name = key_name(key);
                    prop_assert_eq!(tier.remove(&name).unwrap(), model.take(&name).is_some());
                }
                Op::Purge { group } => {
                    let prefix = format!("g{group}/");
                    let before = model.entries.len();
                    model.entries.retain(|(k, _, _)| !k.starts_with(&prefix));
                    prop_assert_eq!(tier.purge_prefix(&prefix).unwrap(), before - model.entries.len());
                }
                Op::Reopen => {
                    drop(tier);
                    tier = DiskTier::open_with(dir.path(), BUDGET, options.clone()).unwrap();
                }
            }
            prop_assert_eq!(tier.len(), model.entries.len());
            prop_assert_eq!(tier.used_bytes(), model.used());
            prop_assert!(tier.used_bytes() <= BUDGET);
        }
        prop_assert_eq!(bytes_on_disk(dir.path()), (model.used(), model.entries.len()));
    }
}

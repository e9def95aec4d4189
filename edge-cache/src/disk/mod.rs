//! The disk tier: an LRU over entry files under one directory, held to a byte budget, that survives restarts.
//!
//! # Layout on disk
//!
//! ```text
//! <dir>/lock                      held with an exclusive `flock` while a `DiskTier` is open
//! <dir>/CACHEDIR.TAG              tells backup tools to skip the directory
//! <dir>/00/ … <dir>/ff/           256 shards, by the first byte of the key's hash, each created by the
//!                                 first write into it
//! <dir>/ab/<hash>-<gen>.obj       one entry: hash = xxh3-128 of the key (32 hex digits),
//!                                 gen = generation of the write (16 hex digits)
//! <dir>/ab/<hash>-<gen>.tmp       an entry being written (deleted at open if a crash left it)
//! ```
//!
//! Every write gets a fresh generation, so no two writes ever share a file name: a replacement is written beside
//! the entry it replaces, and deleting the old file later can never hit the new one. That is what lets every
//! file operation run outside the index mutex. If a crash leaves two files for one key, the higher generation
//! wins at the next open.
//!
//! One concern per file: [`entry`] is the entry file format (a pure codec), `index` the LRU index and the
//! budget's charges, `scan` the recovery scan at open; this file is the tier, which does the file I/O around
//! them and holds the index behind its mutex.
//!
//! # Budget accounting
//!
//! The budget counts whole file lengths (framing and key included; not filesystem blocks or inodes, so leave
//! the filesystem some headroom). Under the index mutex, the tier charges three kinds of bytes: `stored` (files
//! of indexed entries), `writing` (reserved by inserts in progress, from before their temp file exists until
//! the entry is indexed or given up) and `deleting` (files already out of the index whose unlink has not
//! finished). Every change keeps `stored + writing + deleting <= budget` before the mutex is released, and every
//! file of the tier is covered by one of them:
//!
//! - an insert evicts least-recently-used entries until the free room plus the evicted bytes cover its size,
//!   and takes the evicted bytes it needs straight into its reservation (the rest stay in `deleting`). It
//!   unlinks those files before it creates its own, so until then its reservation covers them;
//! - an insert that could not make room even by evicting every entry (the room is held by other writes or
//!   deletions in progress) evicts nothing and waits on a condition variable that those signal;
//! - replaced, removed, purged and damaged entries move from `stored` to `deleting` and leave it once unlinked.
//!
//! [`DiskTier::used_bytes`] returns the sum, so the files on disk never exceed it, and it never exceeds the
//! budget. When nothing is in progress it equals the total length of the entry files.
//!
//! # Recency across restarts
//!
//! Recency lives in the LRU list in memory and in each file's modification time, which `open` sorts by. Each
//! write sets the mtime explicitly; a hit refreshes it only if it was last set more than
//! [`DiskTierOptions::touch_interval`] ago (one `futimens` per entry per interval instead of per hit), so after a
//! restart the order is exact up to that interval.
//!
//! # Durability and concurrency
//!
//! An insert fsyncs its file before the rename (unless [`DiskTierOptions::sync_writes`] is off) but not the
//! shard directory, so a crash can lose the last few inserts, never tear one. `remove` and `purge_prefix` do
//! fsync the shard directories they deleted from, so a purge survives a crash.
//!
//! The API is blocking; the async server calls it through `tokio::task::spawn_blocking`. Only index updates run
//! under the mutex; reads, writes, fsyncs, renames and unlinks run outside it, so reads of different entries
//! (and of one entry) proceed in parallel. `purge_prefix` scans the whole index under the mutex.

pub mod entry;
mod index;
mod scan;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tracing::{debug, error, info, warn};
use xxhash_rust::xxh3::xxh3_128;

pub use entry::{EntryError, ENTRY_FRAMING_BYTES, MAX_KEY_BYTES};
use index::{Index, IndexEntry};

/// Largest entry file (framing, key, meta and body) stored by default; the budget caps it too.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 512 * 1024 * 1024;
/// How long a hit waits before refreshing an entry file's mtime again.
pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// Whether inserts fsync the entry file before renaming it into place.
pub const DEFAULT_SYNC_WRITES: bool = true;
/// Whether `open` reads every entry in full to check its checksum.
pub const DEFAULT_VERIFY_ON_OPEN: bool = false;
const ENTRY_SUFFIX: &str = ".obj";
const TEMP_SUFFIX: &str = ".tmp";
const LOCK_FILE_NAME: &str = "lock";
const CACHEDIR_TAG_NAME: &str = "CACHEDIR.TAG";
const CACHEDIR_TAG: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by the Marquee edge cache (disk tier).\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";
/// How many times `get` looks a key up again when its file was replaced under it.
const READ_ATTEMPTS: usize = 3;
/// Longest key quoted in an error message.
const KEY_QUOTE_CHARS: usize = 200;

/// What failed in the disk tier, on which path or key, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The cache directory (or one of its shards or its lock file) could not be created, listed or locked.
    #[error(
        "cannot {op} the disk cache directory {}; check `disk_dir` in the `[edge]` config (`--disk-dir`) and \
         that the edge process may read and write there",
        path.display()
    )]
    Directory {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another `DiskTier`, in this process or another, has the directory open.
    #[error(
        "the disk cache directory {} is already in use (another edge process holds {}); give each edge its own \
         `disk_dir`",
        path.display(),
        lock_file.display()
    )]
    InUse { path: PathBuf, lock_file: PathBuf },
    /// The entry would be bigger than the budget or the largest object allowed; nothing was stored.
    #[error(
        "not caching `{key}` on disk: its entry would take {entry_bytes} bytes, more than the {} of \
         {limit_bytes} bytes; raise {} or let it be served uncached",
        limit.describe(),
        limit.setting()
    )]
    TooLarge { key: String, entry_bytes: u64, limit_bytes: u64, limit: SizeLimit },
    /// The key is longer than [`MAX_KEY_BYTES`]; nothing was stored. `key` is cut short.
    #[error("not caching `{key}…` on disk: the key is {len} bytes long, more than the {MAX_KEY_BYTES} allowed")]
    KeyTooLong { key: String, len: usize },
    /// A filesystem operation on one entry file failed. The cause is in `source`.
    #[error("could not {op} disk cache file {}; is the cache disk full, read-only or failing?", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl DiskError {
    fn directory(op: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Directory { op, path: path.to_path_buf(), source }
    }

    fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io { op, path: path.to_path_buf(), source }
    }
}

/// Which limit refused an entry in [`DiskError::TooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeLimit {
    /// The tier's whole byte budget.
    Budget,
    /// [`DiskTierOptions::max_object_bytes`].
    MaxObject,
}

impl SizeLimit {
    /// A stable name, for log fields and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::MaxObject => "max_object",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Budget => "disk cache budget",
            Self::MaxObject => "largest object allowed on disk",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Self::Budget => "`disk` in the `[edge]` config (`--disk`)",
            Self::MaxObject => "the disk tier's `max_object_bytes` option",
        }
    }
}

/// Tuning for a [`DiskTier`]; `Default` gives the `DEFAULT_*` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskTierOptions {
    /// Largest entry file stored, framing included; the budget caps it too.
    pub max_object_bytes: u64,
    /// A hit refreshes the entry file's mtime (which orders entries after a restart) only if it was last set
    /// longer ago than this. `Duration::ZERO` refreshes it on every hit.
    pub touch_interval: Duration,
    /// Fsync each entry file before renaming it into place. Checksums already keep a torn file from being
    /// served after a crash; syncing also keeps the entries written just before the crash.
    pub sync_writes: bool,
    /// Read every entry in full at open to check its checksum, rather than only its header. Bit rot is caught
    /// on read either way; this trades a slower start for finding it early.
    pub verify_on_open: bool,
}

impl Default for DiskTierOptions {
    fn default() -> Self {
        Self {
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            touch_interval: DEFAULT_TOUCH_INTERVAL,
            sync_writes: DEFAULT_SYNC_WRITES,
            verify_on_open: DEFAULT_VERIFY_ON_OPEN,
        }
    }
}

/// One entry read back from disk. Both fields share one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskEntry {
    /// The caller's metadata blob, as given to [`DiskTier::insert`].
    pub meta: Bytes,
    /// The object body.
    pub body: Bytes,
}

/// A snapshot of the tier's size and counters, for `/metrics`. Counters count since `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskStats {
    /// Entries in the index.
    pub entries: u64,
    /// Bytes charged against the budget: indexed entries, writes in progress and files being deleted.
    pub used_bytes: u64,
    /// Bytes of indexed entries only.
    pub stored_bytes: u64,
    /// The byte budget.
    pub budget_bytes: u64,
    /// `get` calls that returned an entry.
    pub hits: u64,
    /// `get` calls that returned `None` (including reads that found a damaged file).
    pub misses: u64,
    /// Entries written and indexed.
    pub inserts: u64,
    /// Entries deleted to make room (at open, when the budget shrank, included).
    pub evictions: u64,
    /// Entries deleted by `remove` and `purge_prefix`.
    pub removed: u64,
    /// Entry files found damaged (torn, truncated, bit-rotted, wrong key) and deleted, at open or on read.
    pub corrupt_dropped: u64,
    /// Temp files of interrupted writes deleted at open.
    pub temp_files_removed: u64,
    /// Inserts refused as too large.
    pub refused: u64,
    /// Filesystem operations that failed.
    pub io_errors: u64,
}

/// The disk tier. `Send + Sync`; share it in an `Arc`. See the module docs for the format and the accounting.
#[derive(Debug)]
pub struct DiskTier {
    dir: PathBuf,
    budget_bytes: u64,
    options: DiskTierOptions,
    index: Mutex<Index>,
    /// Signalled whenever `writing` or `deleting` shrinks or a write is committed, for inserts waiting for room.
    room: Condvar,
    counters: Counters,
    /// Held (with its `flock`) for the tier's lifetime.
    _lock_file: File,
}

/// A file already out of the index whose bytes are still charged to `deleting` until it is unlinked.
#[derive(Debug)]
struct DoomedFile {
    path: PathBuf,
    size: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    removed: AtomicU64,
    corrupt_dropped: AtomicU64,
    temp_files_removed: AtomicU64,
    refused: AtomicU64,
    io_errors: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// Room reserved in the budget for one insert. Dropping it without `commit` gives the room back.
#[derive(Debug)]
struct Reservation<'a> {
    tier: &'a DiskTier,
    key: Arc<str>,
    hash: u128,
    generation: u64,
    size: u64,
    settled: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.tier.lock_index().abandon_write(self.generation, self.size);
            self.tier.room.notify_all();
        }
    }
}

impl DiskTier {
    /// Opens (creating it if needed) the cache directory `dir` with a budget of `budget_bytes` and default
    /// options. See [`DiskTier::open_with`].
    pub fn open(dir: impl AsRef<Path>, budget_bytes: u64) -> Result<Self, DiskError> {
        Self::open_with(dir, budget_bytes, DiskTierOptions::default())
    }

    /// Opens (creating it if needed) the cache directory `dir`, locks it against other processes, and rebuilds
    /// the index from the entry files there: damaged entries and temp files left by a crash are deleted,
    /// recency comes from file mtimes, and the least recently used entries are evicted if the budget shrank.
    ///
    /// This reads every entry's header (or every entry, with `verify_on_open`); call it once at startup.
    pub fn open_with(dir: impl AsRef<Path>, budget_bytes: u64, options: DiskTierOptions) -> Result<Self, DiskError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| DiskError::directory("create", &dir, e))?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| DiskError::directory("create the lock file in", &dir, e))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(DiskError::InUse { path: dir, lock_file: lock_path }),
            Err(fs::TryLockError::Error(e)) => return Err(DiskError::directory("lock", &dir, e)),
        }
        let tag_path = dir.join(CACHEDIR_TAG_NAME);
        if !tag_path.exists() {
            fs::write(&tag_path, CACHEDIR_TAG).map_err(|e| DiskError::directory("write CACHEDIR.TAG in", &dir, e))?;
        }

        let counters = Counters::default();
        let recovered = scan::recover(&dir, options.verify_on_open, &counters)?;
        bump(&counters.corrupt_dropped, recovered.damaged);
        bump(&counters.temp_files_removed, recovered.temp_files_removed);
        let superseded = recovered.superseded;
        let index = Index::new(recovered.entries, recovered.max_generation);
        let tier = Self {
            dir,
            budget_bytes,
            options,
            index: Mutex::new(index),
            room: Condvar::new(),
            counters,
            _lock_file: lock_file,
        };

        let doomed: Vec<_> =
            tier.lock_index().evict_to(budget_bytes).iter().map(|victim| tier.doomed_file(victim)).collect();
        let evicted = doomed.len();
        bump(&tier.counters.evictions, evicted as u64);
        if let Err(e) = tier.delete_files(doomed) {
            warn!(error = %e, "Could not delete an entry evicted at open.");
        }

        let stats = tier.stats();
        info!(
            dir = %tier.dir.display(),
            entries = stats.entries,
            bytes = stats.stored_bytes,
            budget_bytes,
            evicted,
            superseded,
            corrupt_dropped = stats.corrupt_dropped,
            temp_files_removed = stats.temp_files_removed,
            "Disk cache opened."
        );
        Ok(tier)
    }

    /// The bytes an entry file takes for a key, meta and body of these lengths: what the budget is charged.
    pub fn entry_bytes(key_len: usize, meta_len: usize, body_len: usize) -> u64 {
        ENTRY_FRAMING_BYTES + key_len as u64 + meta_len as u64 + body_len as u64
    }

    /// Stores `meta` and `body` under `key`, replacing any entry already there, and evicts least recently used
    /// entries until the budget holds. Blocks on the write (and its fsync), and, when the room it needs is held
    /// by other inserts in progress, until they finish.
    ///
    /// The entry is written to a temp file and renamed into place, so a crash leaves either the whole entry or
    /// none of it. When inserts of one key race, the one that started last wins; a `remove` or `purge_prefix`
    /// of the key while the insert is in progress wins over it (the insert returns `Ok` but stores nothing).
    pub fn insert(&self, key: &str, meta: &[u8], body: &[u8]) -> Result<(), DiskError> {
        if key.len() > MAX_KEY_BYTES {
            bump(&self.counters.refused, 1);
            return Err(DiskError::KeyTooLong { key: quote_key(key), len: key.len() });
        }
        let size = Self::entry_bytes(key.len(), meta.len(), body.len());
        let (limit_bytes, limit) = if self.options.max_object_bytes < self.budget_bytes {
            (self.options.max_object_bytes, SizeLimit::MaxObject)
        } else {
            (self.budget_bytes, SizeLimit::Budget)
        };
        // The header stores the meta length in 32 bits; no sane limit lets a 4 GiB meta blob through, but check.
        if size > limit_bytes || u32::try_from(meta.len()).is_err() {
            bump(&self.counters.refused, 1);
            return Err(DiskError::TooLarge { key: quote_key(key), entry_bytes: size, limit_bytes, limit });
        }

        let reservation = self.reserve(key.into(), size);
        let temp_path = self.file_path(reservation.hash, reservation.generation, TEMP_SUFFIX);
        let final_path = self.file_path(reservation.hash, reservation.generation, ENTRY_SUFFIX);
        let written = write_entry_file(&temp_path, key, meta, body, self.options.sync_writes).and_then(|()| {
            fs::rename(&temp_path, &final_path).map_err(|e| DiskError::io("rename into place", &temp_path, e))
        });
        if let Err(e) = written {
            bump(&self.counters.io_errors, 1);
            let _ = fs::remove_file(&temp_path);
            // Dropping `reservation` gives its room back.
            return Err(e);
        }
        self.commit(reservation, final_path);
        Ok(())
    }

    /// Reads the entry under `key` and marks it most recently used. A missing entry, or one whose file turns
    /// out damaged (which is then deleted), is `Ok(None)`; a read that fails for another reason drops the entry
    /// and returns the error.
    pub fn get(&self, key: &str) -> Result<Option<DiskEntry>, DiskError> {
        // A file can vanish between the lookup and the open when a newer write of the key replaces it: look again,
        // a bounded number of times in case the key is being rewritten in a loop.
        for _ in 0..READ_ATTEMPTS {
            match self.read_once(key)? {
                ReadOutcome::Hit(entry) => {
                    bump(&self.counters.hits, 1);
                    return Ok(Some(entry));
                }
                ReadOutcome::Miss => break,
                ReadOutcome::Replaced => {}
            }
        }
        bump(&self.counters.misses, 1);
        Ok(None)
    }

    fn read_once(&self, key: &str) -> Result<ReadOutcome, DiskError> {
        let now = SystemTime::now();
        let (entry, touch) = {
            let mut index = self.lock_index();
            let Some(entry) = index.entries.get_mut(key) else { return Ok(ReadOutcome::Miss) };
            // An mtime in the future (the clock went back) is refreshed too.
            let touch = now.duration_since(entry.touched).map_or(true, |age| age >= self.options.touch_interval);
            if touch {
                entry.touched = now;
            }
            (*entry, touch)
        };
        let path = self.file_path(entry.hash, entry.generation, ENTRY_SUFFIX);
        match read_entry_file(&path, key, entry.size, touch.then_some(now)) {
            Ok(found) => Ok(ReadOutcome::Hit(found)),
            Err(ReadFailure::Missing) => {
                // Deleted behind our back if the index still names this file; otherwise evicted, removed or
                // replaced since the lookup.
                if !self.forget(key, entry, false)? && self.contains(key) {
                    return Ok(ReadOutcome::Replaced);
                }
                Ok(ReadOutcome::Miss)
            }
            Err(ReadFailure::Damaged(damage)) => {
                warn!(path = %path.display(), reason = damage.as_str(), "Dropping a damaged disk cache entry.");
                if self.forget(key, entry, true)? {
                    bump(&self.counters.corrupt_dropped, 1);
                }
                Ok(ReadOutcome::Miss)
            }
            Err(ReadFailure::Io(source)) => {
                bump(&self.counters.io_errors, 1);
                bump(&self.counters.misses, 1);
                let _ = self.forget(key, entry, true);
                Err(DiskError::io("read", &path, source))
            }
        }
    }

    /// Whether an entry is indexed under `key`, without reading it or changing its recency.
    pub fn contains(&self, key: &str) -> bool {
        self.lock_index().entries.contains(key)
    }

    /// Deletes the entry under `key`, and stops an insert of it in progress from being indexed. Returns whether
    /// an entry was indexed. The entry is out of the index even when deleting its file fails.
    pub fn remove(&self, key: &str) -> Result<bool, DiskError> {
        let doomed = {
            let mut index = self.lock_index();
            index.cancel_writes(|write| write == key);
            match index.entries.pop(key) {
                Some(entry) => vec![self.retire(&mut index, &entry)],
                None => Vec::new(),
            }
        };
        let found = !doomed.is_empty();
        bump(&self.counters.removed, doomed.len() as u64);
        self.delete_durably(doomed)?;
        Ok(found)
    }

    /// Deletes every entry whose key starts with `prefix` (all of them for `""`), and stops inserts of such keys
    /// in progress from being indexed. Returns how many entries were indexed. The entries are out of the index
    /// even when deleting some files fails; the error is the first failure.
    pub fn purge_prefix(&self, prefix: &str) -> Result<usize, DiskError> {
        let doomed = {
            let mut index = self.lock_index();
            index.cancel_writes(|write| write.starts_with(prefix));
            let mut purged = Vec::new();
            index.entries.retain(|key, entry| {
                let matches = key.starts_with(prefix);
                if matches {
                    purged.push(*entry);
                }
                !matches
            });
            purged.iter().map(|entry| self.retire(&mut index, entry)).collect::<Vec<_>>()
        };
        let count = doomed.len();
        bump(&self.counters.removed, count as u64);
        if count > 0 {
            info!(prefix, entries = count, "Purged disk cache entries.");
        }
        self.delete_durably(doomed)?;
        Ok(count)
    }

    /// Bytes charged against the budget: indexed entries plus writes and deletions in progress. Never more than
    /// the budget, never less than the bytes of the tier's files on disk; equal to them when nothing is in
    /// progress.
    pub fn used_bytes(&self) -> u64 {
        self.lock_index().charged_bytes()
    }

    /// Entries in the index.
    pub fn len(&self) -> usize {
        self.lock_index().entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The byte budget this tier was opened with.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_bytes
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options this tier was opened with.
    pub fn options(&self) -> &DiskTierOptions {
        &self.options
    }

    /// A snapshot of sizes and counters.
    pub fn stats(&self) -> DiskStats {
        let (entries, used_bytes, stored_bytes) = {
            let index = self.lock_index();
            (index.entries.len() as u64, index.charged_bytes(), index.stored_bytes)
        };
        let c = &self.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        DiskStats {
            entries,
            used_bytes,
            stored_bytes,
            budget_bytes: self.budget_bytes,
            hits: read(&c.hits),
            misses: read(&c.misses),
            inserts: read(&c.inserts),
            evictions: read(&c.evictions),
            removed: read(&c.removed),
            corrupt_dropped: read(&c.corrupt_dropped),
            temp_files_removed: read(&c.temp_files_removed),
            refused: read(&c.refused),
            io_errors: read(&c.io_errors),
        }
    }

    fn lock_index(&self) -> MutexGuard<'_, Index> {
        // Every critical section leaves the index consistent before anything that can panic, so a poisoned lock
        // still guards a usable index.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn file_path(&self, hash: u128, generation: u64, suffix: &str) -> PathBuf {
        let name = format!("{hash:032x}-{generation:016x}{suffix}");
        self.dir.join(&name[..2]).join(name)
    }

    /// Moves an entry already taken out of `entries` from `stored` to `deleting`.
    fn retire(&self, index: &mut Index, entry: &IndexEntry) -> DoomedFile {
        index.retire(entry);
        self.doomed_file(entry)
    }

    /// The file of an entry already retired from the index.
    fn doomed_file(&self, entry: &IndexEntry) -> DoomedFile {
        DoomedFile { path: self.file_path(entry.hash, entry.generation, ENTRY_SUFFIX), size: entry.size }
    }

    /// Unlinks retired files, then takes their bytes off `deleting`. Returns the first failure; a file already
    /// gone is not one.
    fn delete_files(&self, doomed: Vec<DoomedFile>) -> Result<(), DiskError> {
        if doomed.is_empty() {
            return Ok(());
        }
        let result = self.unlink_files(&doomed);
        self.release_deleting(doomed.iter().map(|file| file.size).sum());
        result
    }

    /// Like `delete_files`, then (with `sync_writes`) fsyncs the shard directories, so that a purged entry does
    /// not come back after a crash.
    fn delete_durably(&self, doomed: Vec<DoomedFile>) -> Result<(), DiskError> {
        let mut shards: Vec<PathBuf> =
            doomed.iter().filter_map(|file| file.path.parent().map(Path::to_path_buf)).collect();
        let deleted = self.delete_files(doomed);
        if !self.options.sync_writes {
            return deleted;
        }
        shards.sort_unstable();
        shards.dedup();
        let mut synced = Ok(());
        for shard in shards {
            if let Err(e) = File::open(&shard).and_then(|dir| dir.sync_all()) {
                bump(&self.counters.io_errors, 1);
                warn!(path = %shard.display(), error = %e, "Could not fsync a disk cache shard directory.");
                if synced.is_ok() {
                    synced = Err(DiskError::io("fsync", &shard, e));
                }
            }
        }
        deleted.and(synced)
    }

    /// Unlinks files without touching the accounting. Returns the first failure; a file already gone is not one.
    fn unlink_files(&self, doomed: &[DoomedFile]) -> Result<(), DiskError> {
        let mut first_error = None;
        for file in doomed {
            match fs::remove_file(&file.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    bump(&self.counters.io_errors, 1);
                    error!(path = %file.path.display(), error = %e, "Could not delete a disk cache file.");
                    first_error.get_or_insert(DiskError::io("delete", &file.path, e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn release_deleting(&self, bytes: u64) {
        if bytes > 0 {
            self.lock_index().deleting_bytes -= bytes;
            self.room.notify_all();
        }
    }

    /// Reserves `size` bytes of the budget for a write of `key`, evicting least recently used entries. When even
    /// evicting every entry would not make room, because writes or deletions in progress hold it, waits for them
    /// to finish first (evicting nothing meanwhile). `size` must be at most the budget, or this waits forever.
    ///
    /// The bytes of the entries it evicts are handed to the reservation rather than released, so no other insert
    /// can take that room first. Their files are unlinked before this returns, so before the write's own file
    /// exists, and the files on disk stay within the charged bytes throughout.
    fn reserve(&self, key: Arc<str>, size: u64) -> Reservation<'_> {
        debug_assert!(size <= self.budget_bytes);
        let mut index = self.lock_index();
        while !index.could_make_room(size, self.budget_bytes) {
            index = self.room.wait(index).unwrap_or_else(PoisonError::into_inner);
        }
        let (generation, evicted, still_deleting) = index.start_write(Arc::clone(&key), size, self.budget_bytes);
        drop(index);
        let doomed: Vec<_> = evicted.iter().map(|victim| self.doomed_file(victim)).collect();

        bump(&self.counters.evictions, doomed.len() as u64);
        let hash = xxh3_128(key.as_bytes());
        let reservation = Reservation { tier: self, key, hash, generation, size, settled: false };
        if let Err(e) = self.unlink_files(&doomed) {
            warn!(error = %e, "Could not delete an evicted entry.");
        }
        self.release_deleting(still_deleting);
        reservation
    }

    /// Indexes a written entry file, unless a later write of the key was indexed first or the key was removed
    /// or purged meanwhile, in which case the file is deleted instead.
    fn commit(&self, mut reservation: Reservation<'_>, path: PathBuf) {
        let (generation, size) = (reservation.generation, reservation.size);
        let (doomed, indexed) = {
            let mut index = self.lock_index();
            reservation.settled = true;
            let pending = index.writing.remove(&generation).expect("a reservation's pending write stays until settled");
            index.writing_bytes -= size;
            let superseded = index.entries.peek(&*reservation.key).is_some_and(|e| e.generation > generation);
            if pending.cancelled || superseded {
                index.deleting_bytes += size;
                (vec![DoomedFile { path, size }], false)
            } else {
                let entry = IndexEntry { hash: reservation.hash, generation, size, touched: SystemTime::now() };
                index.stored_bytes += size;
                let replaced = index.entries.push(Arc::clone(&reservation.key), entry);
                let doomed = replaced.map(|(_, old)| self.retire(&mut index, &old)).into_iter().collect();
                (doomed, true)
            }
        };
        self.room.notify_all();
        if indexed {
            bump(&self.counters.inserts, 1);
            debug!(key = &*reservation.key, bytes = size, "Disk cache entry written.");
        }
        if let Err(e) = self.delete_files(doomed) {
            warn!(error = %e, "Could not delete a replaced disk cache entry.");
        }
    }

    /// Drops `key` from the index if it still names the file `entry` read, deleting the file if `delete`.
    /// Returns whether it did.
    fn forget(&self, key: &str, entry: IndexEntry, delete: bool) -> Result<bool, DiskError> {
        let doomed = {
            let mut index = self.lock_index();
            if index.entries.peek(key).is_none_or(|e| e.generation != entry.generation) {
                return Ok(false);
            }
            index.entries.pop(key);
            if delete {
                vec![self.retire(&mut index, &entry)]
            } else {
                index.stored_bytes -= entry.size;
                Vec::new()
            }
        };
        self.room.notify_all();
        self.delete_files(doomed)?;
        Ok(true)
    }
}

/// Why an entry file was judged damaged; the strings are log fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    /// Its bytes are not a well-formed entry.
    Entry(EntryError),
    /// It holds another key than the one it is filed under.
    KeyMismatch,
    /// It lies in another shard than its name's.
    Misplaced,
    Unreadable,
}

impl From<EntryError> for Damage {
    fn from(error: EntryError) -> Self {
        Self::Entry(error)
    }
}

impl Damage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Entry(error) => error.as_str(),
            Self::KeyMismatch => "key_mismatch",
            Self::Misplaced => "misplaced",
            Self::Unreadable => "unreadable",
        }
    }
}

enum ReadOutcome {
    Hit(DiskEntry),
    Miss,
    /// The file was replaced by a newer write between the lookup and the open.
    Replaced,
}

enum ReadFailure {
    Missing,
    Damaged(Damage),
    Io(io::Error),
}

/// Writes a complete entry file at `path`, which must not exist.
fn write_entry_file(path: &Path, key: &str, meta: &[u8], body: &[u8], sync: bool) -> Result<(), DiskError> {
    let (head, trailer) = entry::encode_framing(key, meta, body);

    let mut file = match File::create_new(path) {
        // The first write into this shard (or its directory was deleted behind our back).
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let shard = path.parent().expect("entry paths have a shard directory");
            fs::create_dir_all(shard).map_err(|e| DiskError::io("create shard directory", shard, e))?;
            File::create_new(path)
        }
        other => other,
    }
    .map_err(|e| DiskError::io("create", path, e))?;
    file.write_all(&head)
        .and_then(|()| file.write_all(body))
        .and_then(|()| file.write_all(&trailer))
        .map_err(|e| DiskError::io("write", path, e))?;
    // Set explicitly, at the same clock as hits' touches, so reopening orders entries exactly (the kernel's
    // own write timestamps come from a coarser clock).
    file.set_modified(SystemTime::now()).map_err(|e| DiskError::io("set the mtime of", path, e))?;
    if sync {
        file.sync_all().map_err(|e| DiskError::io("fsync", path, e))?;
    }
    Ok(())
}

/// Reads and checks a whole entry file that the index says is `size` bytes and holds `key`, and sets its mtime
/// to `touch` if given.
fn read_entry_file(path: &Path, key: &str, size: u64, touch: Option<SystemTime>) -> Result<DiskEntry, ReadFailure> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadFailure::Missing),
        Err(e) => return Err(ReadFailure::Io(e)),
    };
    let limit = usize::try_from(size + 1).map_err(|_| ReadFailure::Damaged(EntryError::BadLengths.into()))?;
    // One byte more than expected, to notice a file that grew; segment-sized entries are read into a mapping of
    // their own (see `crate::body`), so an evicted body leaves no hole in the heap.
    let buffer = crate::body::read_at_most(&mut file, limit).map_err(ReadFailure::Io)?;
    let entry = entry::decode(&buffer).map_err(|e| ReadFailure::Damaged(e.into()))?;
    if entry.key != key {
        return Err(ReadFailure::Damaged(Damage::KeyMismatch));
    }
    let (meta, body) = (buffer.slice_ref(entry.meta), buffer.slice_ref(entry.body));
    if let Some(time) = touch {
        if let Err(e) = file.set_modified(time) {
            debug!(path = %path.display(), error = %e, "Could not refresh a disk cache entry's mtime.");
        }
    }
    Ok(DiskEntry { meta, body })
}

/// The key for an error message, cut to [`KEY_QUOTE_CHARS`] characters.
fn quote_key(key: &str) -> String {
    match key.char_indices().nth(KEY_QUOTE_CHARS) {
        Some((end, _)) => key[..end].to_owned(),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::thread;

    use super::*;

    fn options() -> DiskTierOptions {
        DiskTierOptions { touch_interval: Duration::ZERO, sync_writes: false, ..DiskTierOptions::default() }
    }

    fn open(dir: &Path, budget: u64) -> DiskTier {
        DiskTier::open_with(dir, budget, options()).unwrap()
    }

    /// The budget that fits exactly `n` entries of a 1-byte key, 2-byte meta and `body` bytes.
    fn budget_for(n: u64, body: usize) -> u64 {
        n * DiskTier::entry_bytes(1, 2, body)
    }

    fn body(key: &str) -> Vec<u8> {
        format!("body of {key}").into_bytes()
    }

    /// Every entry and temp file under `dir`, with its length.
    fn files_on_disk(dir: &Path) -> Vec<(PathBuf, u64)> {
        let mut files = Vec::new();
        for shard in fs::read_dir(dir).unwrap() {
            let shard = shard.unwrap();
            if shard.file_type().unwrap().is_dir() {
                for file in fs::read_dir(shard.path()).unwrap() {
                    let file = file.unwrap();
                    files.push((file.path(), file.metadata().unwrap().len()));
                }
            }
        }
        files.sort();
        files
    }

    fn path_of(tier: &DiskTier, key: &str) -> PathBuf {
        let entry = *tier.lock_index().entries.peek(key).unwrap();
        tier.file_path(entry.hash, entry.generation, ENTRY_SUFFIX)
    }

    fn assert_accounting_exact(tier: &DiskTier) {
        let on_disk: u64 = files_on_disk(tier.dir()).iter().map(|(_, len)| len).sum();
        assert_eq!(tier.used_bytes(), on_disk);
        assert_eq!(files_on_disk(tier.dir()).len(), tier.len());
        assert!(tier.used_bytes() <= tier.budget_bytes());
    }

    #[test]
    fn round_trip_returns_meta_and_body() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("film/seg_1.m4s", b"headers", b"segment bytes").unwrap();
        let entry = tier.get("film/seg_1.m4s").unwrap().unwrap();
        assert_eq!(&entry.meta[..], b"headers");
        assert_eq!(&entry.body[..], b"segment bytes");
        assert_eq!(tier.used_bytes(), DiskTier::entry_bytes(14, 7, 13));
        assert_eq!(tier.stats().hits, 1);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn empty_meta_and_body_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("", b"", b"").unwrap();
        assert_eq!(tier.get("").unwrap().unwrap(), DiskEntry { meta: Bytes::new(), body: Bytes::new() });
        assert_eq!(tier.used_bytes(), ENTRY_FRAMING_BYTES);
    }

    #[test]
    fn missing_key_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        assert_eq!(tier.get("nothing").unwrap(), None);
        assert_eq!(tier.stats().misses, 1);
        assert!(!tier.contains("nothing"));
    }

    #[test]
    fn insert_replaces_an_existing_entry_and_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("k", b"m1", b"first").unwrap();
        tier.insert("k", b"m2", b"second, longer").unwrap();
        let entry = tier.get("k").unwrap().unwrap();
        assert_eq!((&entry.meta[..], &entry.body[..]), (&b"m2"[..], &b"second, longer"[..]));
        assert_eq!(tier.len(), 1);
        assert_eq!(tier.used_bytes(), DiskTier::entry_bytes(1, 2, 14));
        assert_accounting_exact(&tier);
    }

    #[test]
    fn evicts_the_least_recently_used_entry() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), budget_for(3, 10));
        for key in ["a", "b", "c"] {
            tier.insert(key, b"mm", &[0; 10]).unwrap();
        }
        tier.get("a").unwrap().unwrap();
        tier.insert("d", b"mm", &[0; 10]).unwrap();
        assert!(!tier.contains("b"), "b was the least recently used");
        for key in ["a", "c", "d"] {
            assert!(tier.contains(key), "{key} should stay");
        }
        tier.insert("e", b"mm", &[0; 10]).unwrap();
        assert!(!tier.contains("c"));
        assert_eq!(tier.stats().evictions, 2);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_big_insert_evicts_as_many_entries_as_it_needs() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), budget_for(4, 10));
        for key in ["a", "b", "c", "d"] {
            tier.insert(key, b"mm", &[0; 10]).unwrap();
        }
        // Needs the room of two and a half small entries.
        let big = (DiskTier::entry_bytes(1, 2, 10) * 5 / 2 - DiskTier::entry_bytes(1, 2, 0)) as usize;
        tier.insert("z", b"mm", &vec![1; big]).unwrap();
        assert_eq!(tier.len(), 2);
        assert!(tier.contains("d") && tier.contains("z"));
        assert_accounting_exact(&tier);
    }

    #[test]
    fn entries_bigger_than_the_limits_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let budget = budget_for(2, 100);
        let tier = open(dir.path(), budget);
        tier.insert("keep", b"", b"x").unwrap();
        let err = tier.insert("huge", b"mm", &vec![0; budget as usize]).unwrap_err();
        assert!(
            matches!(err, DiskError::TooLarge { limit: SizeLimit::Budget, limit_bytes, .. } if limit_bytes == budget)
        );
        assert!(!tier.contains("huge"));
        assert!(tier.contains("keep"), "a refused insert evicts nothing");

        let options = DiskTierOptions { max_object_bytes: 100, ..options() };
        drop(tier);
        let tier = DiskTier::open_with(dir.path(), budget, options).unwrap();
        let err = tier.insert("big", b"", &[0; 100]).unwrap_err();
        assert!(matches!(err, DiskError::TooLarge { limit: SizeLimit::MaxObject, entry_bytes: 139, .. }));
        tier.insert("fits", b"", &[0; 100 - 36 - 4]).unwrap();
        assert_eq!(tier.stats().refused, 1);

        let long_key = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(
            matches!(tier.insert(&long_key, b"", b""), Err(DiskError::KeyTooLong { len, .. }) if len == MAX_KEY_BYTES + 1)
        );
        assert_accounting_exact(&tier);
    }

    #[test]
    fn an_entry_exactly_the_budget_fits() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), budget_for(1, 50));
        tier.insert("a", b"mm", &[0; 49]).unwrap();
        tier.insert("b", b"mm", &[0; 50]).unwrap();
        assert!(!tier.contains("a"));
        assert_eq!(tier.used_bytes(), tier.budget_bytes());
    }

    #[test]
    fn remove_and_purge_prefix_delete_entries_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        for key in ["film/a", "film/b", "film2/a", "other/film/a"] {
            tier.insert(key, b"", &body(key)).unwrap();
        }
        assert!(tier.remove("film/a").unwrap());
        assert!(!tier.remove("film/a").unwrap());
        assert_eq!(tier.purge_prefix("film/").unwrap(), 1);
        assert!(tier.contains("film2/a") && tier.contains("other/film/a"));
        assert_eq!(tier.get("film/b").unwrap(), None);
        assert_eq!(tier.stats().removed, 2);
        assert_accounting_exact(&tier);
        assert_eq!(tier.purge_prefix("").unwrap(), 2);
        assert!(tier.is_empty());
        assert_accounting_exact(&tier);
    }

    #[test]
    fn purge_during_a_write_keeps_the_write_out() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("film/a", b"", b"old").unwrap();
        let size = DiskTier::entry_bytes(6, 0, 3);
        let reservation = tier.reserve("film/a".into(), size);
        let path = tier.file_path(reservation.hash, reservation.generation, ENTRY_SUFFIX);
        write_entry_file(&path, "film/a", b"", b"new", false).unwrap();
        assert_eq!(tier.purge_prefix("film/").unwrap(), 1);
        tier.commit(reservation, path);
        assert!(!tier.contains("film/a"));
        assert_accounting_exact(&tier);
        assert_eq!(tier.used_bytes(), 0);
    }

    #[test]
    fn the_later_of_two_racing_writes_wins() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        let size = DiskTier::entry_bytes(1, 0, 5);
        let earlier = tier.reserve("k".into(), size);
        let later = tier.reserve("k".into(), size);
        let earlier_path = tier.file_path(earlier.hash, earlier.generation, ENTRY_SUFFIX);
        let later_path = tier.file_path(later.hash, later.generation, ENTRY_SUFFIX);
        write_entry_file(&earlier_path, "k", b"", b"early", false).unwrap();
        write_entry_file(&later_path, "k", b"", b"later", false).unwrap();
        tier.commit(later, later_path);
        tier.commit(earlier, earlier_path);
        assert_eq!(&tier.get("k").unwrap().unwrap().body[..], b"later");
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_failed_write_gives_its_room_back() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        let reservation = tier.reserve("k".into(), 100);
        assert_eq!(tier.used_bytes(), 100);
        drop(reservation);
        assert_eq!(tier.used_bytes(), 0);
    }

    #[test]
    fn an_insert_waits_for_room_held_by_writes_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 200);
        tier.insert("keep", b"", &[0; 10]).unwrap();
        let held = tier.reserve("elsewhere".into(), 140);
        let done = std::sync::atomic::AtomicBool::new(false);
        thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                tier.insert("next", b"", &[0; 70 - 36 - 4]).unwrap();
                done.store(true, Ordering::SeqCst);
            });
            thread::sleep(Duration::from_millis(100));
            assert!(!done.load(Ordering::SeqCst), "evicting everything would not make room yet");
            assert!(tier.contains("keep"), "a waiting insert evicts nothing");
            drop(held);
            waiter.join().unwrap();
        });
        assert!(tier.contains("keep") && tier.contains("next"));
        assert_accounting_exact(&tier);
    }

    #[test]
    fn concurrent_inserts_of_one_key_leave_one_intact_entry() {
        fn check(entry: &DiskEntry) {
            let (writer, round) = (entry.meta[0], entry.meta[1]);
            assert_eq!(entry.body.len(), 100 + usize::from(writer) * 37 + usize::from(round));
            assert!(entry.body.iter().all(|&b| b == writer ^ round), "a torn or mixed entry");
        }
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("same", &[9, 0], &[9; 100 + 9 * 37]).unwrap();
        let writing = std::sync::atomic::AtomicUsize::new(4);
        thread::scope(|scope| {
            for writer in 0..4u8 {
                let (tier, writing) = (&tier, &writing);
                scope.spawn(move || {
                    for round in 0..50u8 {
                        let len = 100 + usize::from(writer) * 37 + usize::from(round);
                        tier.insert("same", &[writer, round], &vec![writer ^ round; len]).unwrap();
                    }
                    writing.fetch_sub(1, Ordering::SeqCst);
                });
            }
            for _ in 0..2 {
                scope.spawn(|| {
                    while writing.load(Ordering::SeqCst) > 0 {
                        if let Some(entry) = tier.get("same").unwrap() {
                            check(&entry);
                        }
                    }
                });
            }
        });
        check(&tier.get("same").unwrap().unwrap());
        assert_eq!(tier.len(), 1);
        assert_eq!(tier.stats().corrupt_dropped, 0);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn reopen_keeps_entries_and_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), budget_for(3, 10));
        for key in ["a", "b", "c"] {
            tier.insert(key, b"mm", &[7; 10]).unwrap();
        }
        tier.get("a").unwrap().unwrap();
        drop(tier);

        let tier = open(dir.path(), budget_for(3, 10));
        assert_eq!(tier.len(), 3);
        assert_eq!(&tier.get("c").unwrap().unwrap().body[..], &[7; 10]);
        // Recency now: b, a, c (oldest first).
        tier.insert("d", b"mm", &[7; 10]).unwrap();
        assert!(!tier.contains("b"));
        tier.insert("e", b"mm", &[7; 10]).unwrap();
        assert!(!tier.contains("a"));
        assert!(tier.contains("c"));
        assert_accounting_exact(&tier);
    }

    #[test]
    fn reopen_with_a_smaller_budget_evicts_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), budget_for(4, 10));
        for key in ["a", "b", "c", "d"] {
            tier.insert(key, b"mm", &[0; 10]).unwrap();
        }
        drop(tier);
        let tier = open(dir.path(), budget_for(2, 10));
        assert!(tier.contains("c") && tier.contains("d"));
        assert_eq!(tier.len(), 2);
        assert_eq!(tier.stats().evictions, 2);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn reopen_continues_generations_and_keeps_the_latest_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("k", b"", b"old").unwrap();
        let old_path = path_of(&tier, "k");
        let old_bytes = fs::read(&old_path).unwrap();
        tier.insert("k", b"", b"new").unwrap();
        drop(tier);
        // As if a crash came between writing the replacement and deleting the old file.
        fs::write(&old_path, old_bytes).unwrap();

        let tier = open(dir.path(), 1 << 20);
        assert_eq!(&tier.get("k").unwrap().unwrap().body[..], b"new");
        assert!(!old_path.exists());
        tier.insert("k2", b"", b"x").unwrap();
        assert!(tier.lock_index().entries.peek("k2").unwrap().generation > 2);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        let err = DiskTier::open(dir.path(), 1 << 20).unwrap_err();
        assert!(matches!(err, DiskError::InUse { .. }));
        drop(tier);
        DiskTier::open(dir.path(), 1 << 20).unwrap();
    }

    #[test]
    fn a_truncated_file_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("torn", b"meta", b"a body cut short").unwrap();
        tier.insert("whole", b"meta", b"fine").unwrap();
        let path = path_of(&tier, "torn");
        drop(tier);
        let len = fs::metadata(&path).unwrap().len();
        File::options().write(true).open(&path).unwrap().set_len(len - 5).unwrap();

        let tier = open(dir.path(), 1 << 20);
        assert!(!tier.contains("torn"));
        assert!(!path.exists());
        assert!(tier.get("whole").unwrap().is_some());
        assert_eq!(tier.stats().corrupt_dropped, 1);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_file_shorter_than_a_header_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("torn", b"", b"x").unwrap();
        let path = path_of(&tier, "torn");
        drop(tier);
        fs::write(&path, b"MQD").unwrap();
        let tier = open(dir.path(), 1 << 20);
        assert!(tier.is_empty());
        assert!(!path.exists());
        assert_eq!(tier.stats().corrupt_dropped, 1);
    }

    #[test]
    fn a_truncated_file_is_dropped_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("torn", b"meta", b"a body cut short").unwrap();
        let path = path_of(&tier, "torn");
        let len = fs::metadata(&path).unwrap().len();
        File::options().write(true).open(&path).unwrap().set_len(len - 5).unwrap();
        assert_eq!(tier.get("torn").unwrap(), None);
        assert!(!tier.contains("torn"));
        assert!(!path.exists());
        assert_eq!(tier.stats().corrupt_dropped, 1);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_flipped_byte_is_dropped_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("rotten", b"meta", b"the body of the entry").unwrap();
        tier.insert("fine", b"meta", b"the body of the entry").unwrap();
        let path = path_of(&tier, "rotten");
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.len() - 12;
        bytes[at] ^= 0x01;
        fs::write(&path, bytes).unwrap();

        assert_eq!(tier.get("rotten").unwrap(), None);
        assert!(!path.exists());
        assert!(tier.get("fine").unwrap().is_some());
        let stats = tier.stats();
        assert_eq!((stats.corrupt_dropped, stats.misses, stats.hits), (1, 1, 1));
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_flipped_body_byte_passes_a_header_check_but_not_a_verifying_open() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("rotten", b"meta", b"the body of the entry").unwrap();
        let path = path_of(&tier, "rotten");
        drop(tier);
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.len() - 12;
        bytes[at] ^= 0x40;
        fs::write(&path, bytes).unwrap();

        let tier = open(dir.path(), 1 << 20);
        assert!(tier.contains("rotten"), "open reads headers only by default");
        drop(tier);
        let verifying = DiskTierOptions { verify_on_open: true, ..options() };
        let tier = DiskTier::open_with(dir.path(), 1 << 20, verifying).unwrap();
        assert!(!tier.contains("rotten"));
        assert!(!path.exists());
        assert_eq!(tier.stats().corrupt_dropped, 1);
    }

    #[test]
    fn a_flipped_header_byte_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        for key in ["magic", "version", "length", "key"] {
            tier.insert(key, b"meta", b"body").unwrap();
        }
        let flips = [("magic", 0), ("version", 8), ("length", 20), ("key", entry::HEADER_BYTES)];
        let paths: Vec<_> = flips.iter().map(|(key, _)| path_of(&tier, key)).collect();
        drop(tier);
        for ((_, at), path) in flips.iter().zip(&paths) {
            let mut bytes = fs::read(path).unwrap();
            bytes[*at] ^= 0x01;
            fs::write(path, bytes).unwrap();
        }
        let tier = open(dir.path(), 1 << 20);
        assert!(tier.is_empty());
        assert_eq!(tier.stats().corrupt_dropped, 4);
        assert!(paths.iter().all(|path| !path.exists()));
    }

    #[test]
    fn a_leftover_temp_file_is_deleted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("k", b"", b"body").unwrap();
        let hash = xxh3_128(b"interrupted");
        let temp = tier.file_path(hash, 99, TEMP_SUFFIX);
        drop(tier);
        fs::create_dir_all(temp.parent().unwrap()).unwrap();
        fs::write(&temp, b"MQDISK\r\n half an entry").unwrap();
        fs::create_dir_all(dir.path().join("00")).unwrap();
        let stranger = dir.path().join("00").join("notes.txt");
        fs::write(&stranger, b"not ours").unwrap();

        let tier = open(dir.path(), 1 << 20);
        assert!(!temp.exists());
        assert!(stranger.exists(), "files the cache did not write are left alone");
        assert_eq!(tier.stats().temp_files_removed, 1);
        assert_eq!(tier.len(), 1);
        tier.insert("k3", b"", b"x").unwrap();
        assert!(tier.lock_index().entries.peek("k3").unwrap().generation > 99, "generations continue past leftovers");
    }

    #[test]
    fn a_file_holding_another_key_is_dropped_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("wanted", b"", b"right").unwrap();
        tier.insert("other", b"", b"wrong").unwrap();
        // What a hash collision, or a misplaced file, looks like: the file for `wanted` holds `other`.
        fs::copy(path_of(&tier, "other"), path_of(&tier, "wanted")).unwrap();
        assert_eq!(tier.get("wanted").unwrap(), None);
        assert!(!tier.contains("wanted"));
        assert_eq!(&tier.get("other").unwrap().unwrap().body[..], b"wrong");
        assert_eq!(tier.stats().corrupt_dropped, 1);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_file_holding_another_key_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("wanted", b"", b"same length").unwrap();
        tier.insert("other!", b"", b"same length").unwrap();
        let (wanted, other) = (path_of(&tier, "wanted"), path_of(&tier, "other!"));
        drop(tier);
        fs::copy(&other, &wanted).unwrap();
        let tier = open(dir.path(), 1 << 20);
        assert!(!tier.contains("wanted") && tier.contains("other!"));
        assert!(!wanted.exists());
        assert_eq!(tier.stats().corrupt_dropped, 1);
        assert_accounting_exact(&tier);
    }

    #[test]
    fn a_file_deleted_behind_the_tiers_back_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), 1 << 20);
        tier.insert("k", b"", b"body").unwrap();
        fs::remove_file(path_of(&tier, "k")).unwrap();
        assert_eq!(tier.get("k").unwrap(), None);
        assert!(!tier.contains("k"));
        assert_eq!(tier.used_bytes(), 0);
        assert_eq!(tier.stats().corrupt_dropped, 0);
    }

    #[test]
    fn hits_refresh_the_mtime_only_after_the_touch_interval() {
        let dir = tempfile::tempdir().unwrap();
        let lazy = DiskTierOptions { touch_interval: Duration::from_secs(3600), ..options() };
        let tier = DiskTier::open_with(dir.path(), 1 << 20, lazy).unwrap();
        tier.insert("k", b"", b"body").unwrap();
        let path = path_of(&tier, "k");
        let old = SystemTime::now() - Duration::from_secs(7200);
        File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        tier.get("k").unwrap().unwrap();
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), old, "touched less than an interval ago");
        tier.lock_index().entries.peek_mut("k").unwrap().touched = old;
        tier.get("k").unwrap().unwrap();
        assert!(fs::metadata(&path).unwrap().modified().unwrap() > old);
    }

    #[test]
    fn errors_say_what_failed_and_what_to_do() {
        let dir = DiskError::directory("create", Path::new("/x"), io::Error::other("permission denied"));
        assert_eq!(
            dir.to_string(),
            "cannot create the disk cache directory /x; check `disk_dir` in the `[edge]` config (`--disk-dir`) and \
             that the edge process may read and write there"
        );
        assert_eq!(dir.source().unwrap().to_string(), "permission denied");
        let too_large =
            DiskError::TooLarge { key: "a/b".into(), entry_bytes: 10, limit_bytes: 5, limit: SizeLimit::MaxObject };
        assert_eq!(
            too_large.to_string(),
            "not caching `a/b` on disk: its entry would take 10 bytes, more than the largest object allowed on disk \
             of 5 bytes; raise the disk tier's `max_object_bytes` option or let it be served uncached"
        );
        let in_use = DiskError::InUse { path: "/c".into(), lock_file: "/c/lock".into() };
        assert!(in_use.to_string().contains("give each edge its own `disk_dir`"));
        assert_eq!(SizeLimit::Budget.as_str(), "budget");
        assert_eq!(quote_key(&"é".repeat(500)).chars().count(), KEY_QUOTE_CHARS);
    }

    #[test]
    fn disk_tier_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DiskTier>();
    }
}

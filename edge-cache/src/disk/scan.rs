//! The recovery scan at open: lists the shard directories, deletes what a crash left (temp files of interrupted
//! writes, the older of two files for one key) and damaged entries, and returns the rest in recency order.
//!
//! It checks the magic, the version, that the lengths add up to the file size, and that the stored key hashes
//! to the file name, without reading bodies (set [`DiskTierOptions::verify_on_open`] to check every checksum
//! too); `get` checks the size, the checksum and the key. A file failing a check is deleted and the read
//! answers a miss, so a torn, truncated or bit-rotted entry is never served.
//!
//! [`DiskTierOptions::verify_on_open`]: super::DiskTierOptions::verify_on_open

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::{debug, warn};
use xxhash_rust::xxh3::xxh3_128;

use super::entry::{self, EntryError, Layout, HEADER_BYTES};
use super::index::IndexEntry;
use super::{bump, Counters, Damage, DiskError, ENTRY_SUFFIX, TEMP_SUFFIX};

/// What the scan found: the entries to index, least recently used first, and what it deleted.
#[derive(Debug, Default)]
pub(super) struct Recovered {
    pub(super) entries: Vec<(Arc<str>, IndexEntry)>,
    pub(super) max_generation: Option<u64>,
    pub(super) damaged: u64,
    pub(super) temp_files_removed: u64,
    pub(super) superseded: usize,
}

/// An entry file found at open.
#[derive(Debug)]
struct FoundEntry {
    key: Arc<str>,
    path: PathBuf,
    hash: u128,
    generation: u64,
    size: u64,
    modified: SystemTime,
}

#[derive(Debug, Default)]
struct ScanOutcome {
    found: Vec<FoundEntry>,
    damaged: u64,
    temp_files_removed: u64,
    max_generation: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
    Entry,
    Temp,
}

/// Scans `dir` and deletes what must go. A failure to delete a superseded file is counted in `counters`.
pub(super) fn recover(dir: &Path, verify: bool, counters: &Counters) -> Result<Recovered, DiskError> {
    let scan = scan_directory(dir, verify)?;
    let mut found = scan.found;
    // A crash between writing a replacement and deleting the entry it replaced leaves two files for one key:
    // keep the later write.
    found.sort_by(|a, b| a.key.cmp(&b.key).then(b.generation.cmp(&a.generation)));
    let mut superseded = Vec::new();
    found.dedup_by(|later, kept| {
        let duplicate = later.key == kept.key;
        if duplicate {
            superseded.push(later.path.clone());
        }
        duplicate
    });
    for path in &superseded {
        remove_quietly(path, counters);
    }
    found.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.generation.cmp(&b.generation)));
    let entries = found
        .into_iter()
        .map(|entry| {
            let index_entry = IndexEntry {
                hash: entry.hash,
                generation: entry.generation,
                size: entry.size,
                touched: entry.modified,
            };
            (entry.key, index_entry)
        })
        .collect();
    Ok(Recovered {
        entries,
        max_generation: scan.max_generation,
        damaged: scan.damaged,
        temp_files_removed: scan.temp_files_removed,
        superseded: superseded.len(),
    })
}

/// Splits `<32 hex hash>-<16 hex generation>.obj|.tmp`.
pub(super) fn parse_file_name(name: &str) -> Option<(u128, u64, FileKind)> {
    let (stem, kind) = if let Some(stem) = name.strip_suffix(ENTRY_SUFFIX) {
        (stem, FileKind::Entry)
    } else {
        (name.strip_suffix(TEMP_SUFFIX)?, FileKind::Temp)
    };
    let (hash, generation) = stem.split_once('-')?;
    let lower_hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower_hex(hash, 32) || !lower_hex(generation, 16) {
        return None;
    }
    Some((u128::from_str_radix(hash, 16).ok()?, u64::from_str_radix(generation, 16).ok()?, kind))
}

/// Lists the 256 shard directories (skipping missing ones), deleting temp files and damaged entries.
fn scan_directory(dir: &Path, verify: bool) -> Result<ScanOutcome, DiskError> {
    let mut outcome = ScanOutcome::default();
    let scratch = Counters::default();
    for shard in 0..=u8::MAX {
        let shard_name = format!("{shard:02x}");
        let shard_dir = dir.join(&shard_name);
        let listing = match fs::read_dir(&shard_dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(DiskError::directory("list a shard of", dir, e)),
        };
        for item in listing {
            let item = item.map_err(|e| DiskError::directory("list a shard of", dir, e))?;
            let path = item.path();
            let parsed = item.file_name().to_str().and_then(parse_file_name);
            let is_file = item.file_type().is_ok_and(|t| t.is_file());
            let Some((hash, generation, kind)) = parsed.filter(|_| is_file) else {
                warn!(path = %path.display(), "Ignoring a file the disk cache did not write.");
                continue;
            };
            outcome.max_generation = outcome.max_generation.max(Some(generation));
            if kind == FileKind::Temp {
                debug!(path = %path.display(), "Deleting the temp file of an interrupted disk cache write.");
                remove_quietly(&path, &scratch);
                outcome.temp_files_removed += 1;
                continue;
            }
            let checked = if !format!("{hash:032x}").starts_with(&shard_name) {
                Err(Damage::Misplaced)
            } else {
                inspect_entry_file(&path, hash, verify)
            };
            match checked {
                Ok((key, size, modified)) => {
                    outcome.found.push(FoundEntry { key, path, hash, generation, size, modified });
                }
                Err(damage) => {
                    warn!(path = %path.display(), reason = damage.as_str(), "Dropping a damaged disk cache entry.");
                    remove_quietly(&path, &scratch);
                    outcome.damaged += 1;
                }
            }
        }
    }
    Ok(outcome)
}

/// Checks an entry file's header (or, with `verify`, the whole file) and that its key hashes to `hash`.
/// Returns the key, the file's length and its mtime.
fn inspect_entry_file(path: &Path, hash: u128, verify: bool) -> Result<(Arc<str>, u64, SystemTime), Damage> {
    let mut file = File::open(path).map_err(|_| Damage::Unreadable)?;
    let metadata = file.metadata().map_err(|_| Damage::Unreadable)?;
    let size = metadata.len();
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let key: Arc<str> = if verify {
        let mut buffer = Vec::new();
        file.read_to_end(&mut buffer).map_err(|_| Damage::Unreadable)?;
        if buffer.len() as u64 != size {
            return Err(Damage::Unreadable);
        }
        entry::decode(&buffer)?.key.into()
    } else {
        let mut header = [0u8; HEADER_BYTES];
        file.read_exact(&mut header).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => Damage::Entry(EntryError::Truncated),
            _ => Damage::Unreadable,
        })?;
        let layout = Layout::decode(&header, size)?;
        let mut key = vec![0u8; layout.key_len];
        file.read_exact(&mut key).map_err(|_| Damage::Unreadable)?;
        String::from_utf8(key).map_err(|_| Damage::Entry(EntryError::KeyNotUtf8))?.into()
    };
    if xxh3_128(key.as_bytes()) != hash {
        return Err(Damage::KeyMismatch);
    }
    Ok((key, size, modified))
}

/// Deletes a file nobody else can reach (not indexed), logging a failure.
fn remove_quietly(path: &Path, counters: &Counters) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            bump(&counters.io_errors, 1);
            warn!(path = %path.display(), error = %e, "Could not delete a disk cache file.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse_strictly() {
        let name = format!("{:032x}-{:016x}.obj", u128::MAX - 5, 42u64);
        assert_eq!(parse_file_name(&name), Some((u128::MAX - 5, 42, FileKind::Entry)));
        assert_eq!(parse_file_name(&name.replace(".obj", ".tmp")).map(|p| p.2), Some(FileKind::Temp));
        assert_eq!(parse_file_name(&name.to_uppercase().replace(".OBJ", ".obj")), None);
        assert_eq!(parse_file_name("notes.txt"), None);
        assert_eq!(parse_file_name(&name.replace("-", "")), None);
    }
}

//! `LocalDir`: an object store in a local directory, one regular file per object.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tracing::{debug, warn};

use crate::key::{split_list_prefix, RESERVED_SEGMENT_PREFIX};
use crate::location::file_url;
use crate::store::{clamp_range, ObjectBody, ObjectRead};
use crate::{MultipartUpload, ObjectKey, ObjectMeta, ObjectStore, StorageError, UploadedPart};

/// The most bytes one chunk of a [`LocalDir`] `get_range` stream holds, so a read holds one chunk of the
/// object at a time, not the object.
pub const DEFAULT_READ_CHUNK_BYTES: usize = 256 * 1024;

/// How many temp-file names one `put` tries. A clash needs a leftover from a crashed process that had the same
/// pid and counter value, so even a second attempt is rare.
const TEMP_NAME_ATTEMPTS: u32 = 16;

/// Makes temp-file names unique within this process; the pid makes them unique between processes.
static TEMP_FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The staging area of multipart uploads, in the root: reserved (`.tmp-`), so no key names it and `list`
/// skips it. One directory per upload holds the target `key`, the `data` file parts are appended to, and the
/// `parts` log: one line per stored part (`P <number> <size>`), appended and synced after the part's bytes are
/// synced (see [`parse_part_log`]). Two syncs per part, no renames: the earlier layout (one `part-NNNNN` file
/// per part, each written to a temp file, synced, renamed, its directory synced) cost three syncs per part and
/// set the pace of uploads into a local directory. Staging directories of that layout are still read.
const MULTIPART_DIR: &str = ".tmp-multipart";
/// The parts log's name in a staging directory.
const PART_LOG: &str = "parts";
/// Makes multipart upload ids unique within this process.
static UPLOAD_ID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Objects stored as files under a root directory: key `video_720p/seg_00001.m4s` is the file
/// `<root>/video_720p/seg_00001.m4s`.
///
/// `put` writes a `.tmp-<pid>-<n>` file beside the target, fsyncs it, renames it over the target and fsyncs
/// the directory, so readers never see a partial object and a completed `put` survives a crash. A crash
/// mid-`put` can leave a `.tmp-` file behind; `list` never returns one, and no key can name one.
///
/// Multipart uploads append their parts, in order, to one file in a staging directory inside the root
/// (`.tmp-multipart/<upload id>/data`), which `complete_multipart` renames onto the key: completing copies
/// nothing, and the object appears whole or not at all.
///
/// Unlike S3, a filesystem cannot hold both an object `a` and an object `a/b`; putting the second fails with
/// [`StorageError::Io`]. Directories are left in place when their last object is deleted. The root's contents
/// are trusted: only regular files are objects, and symlinks are neither listed nor followed by `list`.
///
/// All filesystem work runs on tokio's blocking pool, so the methods never block the async runtime.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Opens the directory at `root`, creating it (and its parents) if missing, and resolves it to an
    /// absolute path. This does blocking I/O once; call it at startup, not on a hot path.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, StorageError> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| StorageError::io("create root directory", root, e))?;
        let root = fs::canonicalize(root).map_err(|e| StorageError::io("resolve root directory", root, e))?;
        Ok(Self { root })
    }

    /// The absolute, symlink-free root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.to_relative_path())
    }
}

#[async_trait]
impl ObjectStore for LocalDir {
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError> {
        let (root, owned_key, size) = (self.root.clone(), key.clone(), body.len());
        run_blocking("write", &self.path_of(key), move || write_atomically(&root, &owned_key, &body)).await?;
        debug!(key = %key, bytes = size, "Object written.");
        Ok(())
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StorageError> {
        let (path, owned_key) = (self.path_of(key), key.clone());
        run_blocking("read", &path.clone(), move || read_object(&path, &owned_key)).await
    }

    async fn get_range(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ObjectRead, StorageError> {
        let path = Arc::new(self.path_of(key));
        let (owned_key, open_path) = (key.clone(), path.clone());
        // Open, size, seek and the first chunk in one blocking-pool hop: small objects (manifests, init
        // segments) are answered with a single hand-off. One open file serves the whole read, so after a
        // rename over the path it still reads the version it opened.
        let (file, meta, first, remaining) = run_blocking("open", &path.clone(), move || {
            let not_found = || StorageError::NotFound { key: owned_key.clone() };
            let mut file = match File::open(open_path.as_path()) {
                Ok(file) => file,
                Err(e) if is_missing(&e) => return Err(not_found()),
                Err(e) => return Err(StorageError::io("open", open_path.as_path(), e)),
            };
            let meta = file.metadata().map_err(|e| StorageError::io("read metadata of", open_path.as_path(), e))?;
            if !meta.is_file() {
                // A directory is a shared key prefix, not an object.
                return Err(not_found());
            }
            let modified =
                meta.modified().map_err(|e| StorageError::io("read modification time of", open_path.as_path(), e))?;
            let meta = ObjectMeta { size: meta.len(), modified };
            let range = clamp_range(&owned_key, range, meta.size)?;
            if range.start > 0 {
                io::Seek::seek(&mut file, SeekFrom::Start(range.start))
                    .map_err(|e| StorageError::io("seek in", open_path.as_path(), e))?;
            }
            let len = range.end - range.start;
            let first = read_chunk(&mut file, open_path.as_path(), len.min(DEFAULT_READ_CHUNK_BYTES as u64) as usize)?;
            let remaining = len - first.len() as u64;
            Ok((file, meta, first, remaining))
        })
        .await?;
        let rest = read_chunks(tokio::fs::File::from_std(file), path, remaining, DEFAULT_READ_CHUNK_BYTES);
        let first = futures_util::stream::iter((!first.is_empty()).then_some(Ok(first)));
        Ok(ObjectRead { meta, body: Box::pin(futures_util::StreamExt::chain(first, rest)) })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        let (path, owned_key) = (self.path_of(key), key.clone());
        run_blocking("read metadata of", &path.clone(), move || object_meta(&path, &owned_key)).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let (path, root) = (self.path_of(key), self.root.clone());
        run_blocking("delete", &path.clone(), move || {
            delete_object(&path)?;
            // A prefix exists only while objects do: drop the directories this delete emptied.
            for dir in path.ancestors().skip(1).take_while(|dir| *dir != root) {
                if fs::remove_dir(dir).is_err() {
                    break;
                }
            }
            Ok(())
        })
        .await?;
        debug!(key = %key, "Object deleted.");
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        let (dir, name_start) = split_list_prefix(prefix)?;
        let (root, name_start) = (self.root.clone(), name_start.to_owned());
        run_blocking("list", &self.root, move || list_keys(&root, dir, &name_start)).await
    }

    async fn begin_multipart(&self, key: &ObjectKey) -> Result<MultipartUpload, StorageError> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let upload_id = format!(
            "{:016x}-{:x}-{:x}",
            nanos as u64,
            std::process::id(),
            UPLOAD_ID_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let upload = MultipartUpload { key: key.clone(), upload_id };
        let (root, owned) = (self.root.clone(), upload.clone());
        run_blocking("begin multipart upload in", &self.root, move || begin_staging(&root, &owned)).await?;
        debug!(key = %key, upload_id = upload.upload_id, "Multipart upload started.");
        Ok(upload)
    }

    async fn put_part(&self, upload: &MultipartUpload, number: u32, body: Bytes) -> Result<UploadedPart, StorageError> {
        let dir = self.staging_dir(upload)?;
        let (owned, size) = (upload.clone(), body.len());
        let part = run_blocking("write part in", &dir.clone(), move || write_part(&dir, &owned, number, &body)).await?;
        debug!(key = %upload.key, upload_id = upload.upload_id, part = number, bytes = size, "Part written.");
        Ok(part)
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>, StorageError> {
        let dir = self.staging_dir(upload)?;
        let owned = upload.clone();
        run_blocking("list parts in", &dir.clone(), move || {
            check_staging(&dir, &owned)?;
            stored_parts(&dir)
        })
        .await
    }

    async fn complete_multipart(&self, upload: &MultipartUpload, parts: &[UploadedPart]) -> Result<(), StorageError> {
        let dir = self.staging_dir(upload)?;
        let (root, owned, parts) = (self.root.clone(), upload.clone(), parts.to_vec());
        run_blocking("complete multipart upload in", &dir.clone(), move || {
            complete_staging(&root, &dir, &owned, &parts)
        })
        .await?;
        debug!(key = %upload.key, upload_id = upload.upload_id, "Multipart upload completed.");
        Ok(())
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<(), StorageError> {
        let dir = self.staging_dir(upload)?;
        let owned = upload.clone();
        run_blocking("abort multipart upload in", &dir.clone(), move || {
            match check_staging(&dir, &owned) {
                Ok(()) => {}
                Err(StorageError::NotFound { .. }) => return Ok(()),
                Err(error) => return Err(error),
            }
            match fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if is_missing(&e) => Ok(()),
                Err(e) => Err(StorageError::io("remove", &dir, e)),
            }
        })
        .await?;
        debug!(key = %upload.key, upload_id = upload.upload_id, "Multipart upload aborted.");
        Ok(())
    }

    fn location(&self) -> String {
        file_url(&self.root)
    }
}

impl LocalDir {
    /// The staging directory of `upload`. An id that is not one `begin_multipart` could have made names no
    /// upload, so it cannot name a path outside the staging area.
    fn staging_dir(&self, upload: &MultipartUpload) -> Result<PathBuf, StorageError> {
        let id = &upload.upload_id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(StorageError::NotFound { key: upload.key.clone() });
        }
        Ok(self.root.join(MULTIPART_DIR).join(id))
    }
}

fn begin_staging(root: &Path, upload: &MultipartUpload) -> Result<(), StorageError> {
    let area = root.join(MULTIPART_DIR);
    if !area.is_dir() {
        match fs::create_dir(&area) {
            Ok(()) => sync_dir(root)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StorageError::io("create directory", &area, e)),
        }
    }
    let dir = area.join(&upload.upload_id);
    fs::create_dir(&dir).map_err(|e| StorageError::io("create directory", &dir, e))?;
    sync_dir(&area)?;
    // The data file exists from the start, so the directory syncs below keep its entry too: parts then sync
    // only its contents.
    let data = dir.join("data");
    File::create(&data).map_err(|e| StorageError::io("create", &data, e))?;
    write_small_file(&dir, PART_LOG, b"")?;
    write_small_file(&dir, "key", upload.key.as_str().as_bytes())
}

/// `contents` as the file `dir/name`, atomically and durably (temp file, sync, rename, sync the directory).
fn write_small_file(dir: &Path, name: &str, contents: &[u8]) -> Result<(), StorageError> {
    let (mut file, temp) = create_temp_file(dir)?;
    file.write_all(contents).map_err(|e| StorageError::io("write temporary file", &temp.path, e))?;
    file.sync_all().map_err(|e| StorageError::io("sync temporary file", &temp.path, e))?;
    drop(file);
    let target = dir.join(name);
    fs::rename(&temp.path, &target).map_err(|e| StorageError::io("rename temporary file onto", &target, e))?;
    temp.persisted();
    sync_dir(dir)
}

/// That the staging directory exists and belongs to the upload's key.
fn check_staging(dir: &Path, upload: &MultipartUpload) -> Result<(), StorageError> {
    match fs::read(dir.join("key")) {
        Ok(key) if key == upload.key.as_str().as_bytes() => Ok(()),
        Ok(_) => Err(StorageError::NotFound { key: upload.key.clone() }),
        Err(e) if is_missing(&e) => Err(StorageError::NotFound { key: upload.key.clone() }),
        Err(e) => Err(StorageError::io("read", dir.join("key"), e)),
    }
}

/// The name of a part's record in the earlier layout (one file per part).
fn legacy_record_name(number: u32) -> String {
    format!("part-{number:05}")
}

/// The parts a parts log records, in order from 1: their numbers and sizes.
///
/// Lines are `P <number> <size>` (part `number` was stored with `size` bytes, replacing any record of it and of
/// the parts after it) and `T <number>` (parts from `number` on are about to be rewritten: they no longer
/// count). A line that does not follow from the ones before (a number past the next, a torn last line without
/// its newline after a crash) ends the log there: what follows it was never acknowledged.
pub(crate) fn parse_part_log(text: &str) -> Vec<(u32, u64)> {
    let mut parts: Vec<(u32, u64)> = Vec::new();
    let mut rest = text;
    while let Some((line, after)) = rest.split_once('\n') {
        rest = after;
        let mut fields = line.split(' ');
        let kind = fields.next();
        let number = fields.next().and_then(|n| n.parse::<u32>().ok()).filter(|n| *n >= 1);
        let size = fields.next().map(str::parse::<u64>);
        let Some(number) = number.filter(|n| (*n as usize) <= parts.len() + 1) else { break };
        match (kind, size, fields.next()) {
            (Some("P"), Some(Ok(size)), None) => {
                parts.truncate(number as usize - 1);
                parts.push((number, size));
            }
            (Some("T"), None, None) => parts.truncate(number as usize - 1),
            _ => break,
        }
    }
    parts
}

/// The parts stored in `dir`, 1, 2, 3…: from its parts log, or from the per-part records of a staging
/// directory made before the log.
fn stored_parts(dir: &Path) -> Result<Vec<UploadedPart>, StorageError> {
    let log = dir.join(PART_LOG);
    let recorded = match fs::read_to_string(&log) {
        Ok(text) => parse_part_log(&text),
        Err(e) if is_missing(&e) => legacy_parts(dir)?,
        Err(e) => return Err(StorageError::io("read", &log, e)),
    };
    Ok(recorded
        .into_iter()
        .map(|(number, size)| UploadedPart { number, size, etag: part_etag(number, size) })
        .collect())
}

/// The parts recorded one file each (the layout before the parts log), up to the first one missing.
fn legacy_parts(dir: &Path) -> Result<Vec<(u32, u64)>, StorageError> {
    let mut parts = Vec::new();
    for number in 1u32.. {
        let path = dir.join(legacy_record_name(number));
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if is_missing(&e) => break,
            Err(e) => return Err(StorageError::io("read", &path, e)),
        };
        let size = text.trim().parse::<u64>().map_err(|_| {
            StorageError::io("read", &path, io::Error::new(io::ErrorKind::InvalidData, "not a part size"))
        })?;
        parts.push((number, size));
    }
    Ok(parts)
}

/// Appends `line` to the parts log of `dir` and syncs it: when this returns, the record survives a crash.
/// A staging directory of the earlier layout gets its log first, made from its records.
fn append_to_log(dir: &Path, stored: &[UploadedPart], line: &str) -> Result<(), StorageError> {
    let log = dir.join(PART_LOG);
    if !log.exists() {
        let text: String = stored.iter().map(|part| format!("P {} {}\n", part.number, part.size)).collect();
        write_small_file(dir, PART_LOG, text.as_bytes())?;
    }
    let mut file = OpenOptions::new().append(true).open(&log).map_err(|e| StorageError::io("open", &log, e))?;
    file.write_all(line.as_bytes()).map_err(|e| StorageError::io("append to", &log, e))?;
    file.sync_data().map_err(|e| StorageError::io("sync", &log, e))
}

/// A part's tag: parts are written in order at fixed offsets, so number and size identify what was stored.
fn part_etag(number: u32, size: u64) -> String {
    format!("{number}-{size}")
}

fn out_of_order(dir: &Path, detail: String) -> StorageError {
    StorageError::io("write part in", dir, io::Error::new(io::ErrorKind::InvalidInput, detail))
}

fn write_part(dir: &Path, upload: &MultipartUpload, number: u32, body: &[u8]) -> Result<UploadedPart, StorageError> {
    check_staging(dir, upload)?;
    if number == 0 {
        return Err(out_of_order(dir, "part numbers start at 1".to_owned()));
    }
    let stored = stored_parts(dir)?;
    let earlier = usize::try_from(number - 1).unwrap_or(usize::MAX);
    if stored.len() < earlier {
        let detail = format!("part {number} cannot be stored before part {}", stored.len() + 1);
        return Err(out_of_order(dir, detail));
    }
    // Records of this part and the ones after it go first: from here on no record claims the bytes rewritten.
    if stored.len() > earlier {
        append_to_log(dir, &stored, &format!("T {number}\n"))?;
    }
    let offset: u64 = stored[..earlier].iter().map(|part| part.size).sum();
    let data_path = dir.join("data");
    let mut data = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&data_path)
        .map_err(|e| StorageError::io("open", &data_path, e))?;
    data.set_len(offset).map_err(|e| StorageError::io("truncate", &data_path, e))?;
    io::Seek::seek(&mut data, SeekFrom::Start(offset)).map_err(|e| StorageError::io("seek in", &data_path, e))?;
    data.write_all(body).map_err(|e| StorageError::io("write", &data_path, e))?;
    // The bytes are on disk before the record that says they are (`sync_data` includes the file's new length).
    data.sync_data().map_err(|e| StorageError::io("sync", &data_path, e))?;
    let size = body.len() as u64;
    append_to_log(dir, &stored[..earlier], &format!("P {number} {size}\n"))?;
    Ok(UploadedPart { number, size, etag: part_etag(number, size) })
}

fn complete_staging(
    root: &Path,
    dir: &Path,
    upload: &MultipartUpload,
    parts: &[UploadedPart],
) -> Result<(), StorageError> {
    check_staging(dir, upload)?;
    let stored = stored_parts(dir)?;
    let matches = parts.len() <= stored.len() && parts.iter().zip(&stored).all(|(given, stored)| given == stored);
    if !matches {
        let detail = "the parts named are not the parts stored, in order from 1".to_owned();
        return Err(StorageError::io(
            "complete multipart upload in",
            dir,
            io::Error::new(io::ErrorKind::InvalidInput, detail),
        ));
    }
    let length: u64 = parts.iter().map(|part| part.size).sum();
    let data_path = dir.join("data");
    let data = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&data_path)
        .map_err(|e| StorageError::io("open", &data_path, e))?;
    // Parts stored after the last one named are not part of the object.
    data.set_len(length).map_err(|e| StorageError::io("truncate", &data_path, e))?;
    data.sync_all().map_err(|e| StorageError::io("sync", &data_path, e))?;
    drop(data);
    let target = root.join(upload.key.to_relative_path());
    let target_dir = create_parent_dirs(root, &upload.key)?;
    fs::rename(&data_path, &target).map_err(|e| StorageError::io("rename multipart data onto", &target, e))?;
    sync_dir(&target_dir)?;
    // The object is in place; what is left is the staging directory's records.
    if let Err(error) = fs::remove_dir_all(dir) {
        warn!(path = %dir.display(), %error, "Could not remove a completed upload's staging directory.");
    }
    Ok(())
}

/// Runs filesystem work on the blocking pool. A panic there is re-raised here, as if the work ran inline.
async fn run_blocking<T, F>(op: &'static str, path: &Path, work: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join_error) if join_error.is_panic() => std::panic::resume_unwind(join_error.into_panic()),
        // Only happens when the runtime shuts down before the work started.
        Err(join_error) => Err(StorageError::io(op, path, io::Error::other(join_error))),
    }
}

fn write_atomically(root: &Path, key: &ObjectKey, body: &[u8]) -> Result<(), StorageError> {
    let target = root.join(key.to_relative_path());
    // A delete that empties a directory removes it; if one does so between creating the directory and the
    // temporary file in it, the file's creation finds no directory, and the directory is made again.
    let mut attempts = 0;
    let (dir, mut file, temp) = loop {
        let dir = create_parent_dirs(root, key)?;
        match create_temp_file(&dir) {
            Ok((file, temp)) => break (dir, file, temp),
            Err(StorageError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound && attempts < 3 => {
                attempts += 1;
            }
            Err(error) => return Err(error),
        }
    };
    file.write_all(body).map_err(|e| StorageError::io("write temporary file", &temp.path, e))?;
    // The data must be on disk before the rename makes it visible, or a crash could publish an empty file.
    file.sync_all().map_err(|e| StorageError::io("sync temporary file", &temp.path, e))?;
    drop(file);
    fs::rename(&temp.path, &target).map_err(|e| StorageError::io("rename temporary file onto", &target, e))?;
    temp.persisted();
    // Makes the rename itself durable.
    sync_dir(&dir)
}

/// Creates the directories above `key` that are missing and returns the one that will hold the object. Each
/// directory that gains a new entry is fsynced, so the object's path survives a crash along with its data.
fn create_parent_dirs(root: &Path, key: &ObjectKey) -> Result<PathBuf, StorageError> {
    let segments: Vec<&str> = key.segments().collect();
    let parents = &segments[..segments.len() - 1];
    let parent: PathBuf = parents.iter().fold(root.to_path_buf(), |path, segment| path.join(segment));
    if parent.is_dir() {
        return Ok(parent);
    }
    let mut dir = root.to_path_buf();
    let mut grown = Vec::new();
    for segment in parents {
        let next = dir.join(segment);
        match fs::create_dir(&next) {
            Ok(()) => grown.push(dir.clone()),
            // Another put created it first, or an earlier put did.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && next.is_dir() => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let clash = io::Error::new(
                    io::ErrorKind::NotADirectory,
                    "an object already has this name, so it cannot also be a directory",
                );
                return Err(StorageError::io("create directory", &next, clash));
            }
            Err(e) => return Err(StorageError::io("create directory", &next, e)),
        }
        dir = next;
    }
    for dir in &grown {
        sync_dir(dir)?;
    }
    Ok(parent)
}

/// A temp file that is removed when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    persisted: bool,
}

impl TempFile {
    fn persisted(mut self) {
        self.persisted = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.persisted {
            return;
        }
        if let Err(error) = fs::remove_file(&self.path) {
            warn!(path = %self.path.display(), %error, "Could not remove an abandoned temporary file.");
        }
    }
}

fn create_temp_file(dir: &Path) -> Result<(File, TempFile), StorageError> {
    let pid = std::process::id();
    for _ in 0..TEMP_NAME_ATTEMPTS {
        let n = TEMP_FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{RESERVED_SEGMENT_PREFIX}{pid}-{n}"));
        // `create_new` never opens an existing file, so two writers can never share a temp file.
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, TempFile { path, persisted: false })),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(StorageError::io("create temporary file", &path, e)),
        }
    }
    let exhausted = io::Error::new(io::ErrorKind::AlreadyExists, "every temporary file name tried was taken");
    Err(StorageError::io("create a temporary file in", dir, exhausted))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StorageError::io("sync directory", dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StorageError> {
    // Directories cannot be opened as files here; the rename is as durable as the platform makes it.
    Ok(())
}

/// Missing file, or a path through something that is not a directory (`a/b` when `a` is an object).
fn is_missing(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

fn read_object(path: &Path, key: &ObjectKey) -> Result<Bytes, StorageError> {
    let not_found = || StorageError::NotFound { key: key.clone() };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if is_missing(&e) => return Err(not_found()),
        Err(e) => return Err(StorageError::io("open", path, e)),
    };
    // Size and type come from the open file, so a rename between open and read cannot mix two versions.
    let meta = file.metadata().map_err(|e| StorageError::io("read metadata of", path, e))?;
    if !meta.is_file() {
        // A directory is a shared key prefix, not an object.
        return Err(not_found());
    }
    let mut body = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut body).map_err(|e| StorageError::io("read", path, e))?;
    Ok(Bytes::from(body))
}

/// `len` bytes from the file's position on, in chunks of at most `chunk_bytes`; never reads past them. A file
/// that ends early (truncated in place rather than replaced) ends the stream with an error.
/// The rest of a ranged read, through tokio's file reader (which measured faster for the tail of
/// large objects than one blocking-pool hop per chunk).
fn read_chunks(file: tokio::fs::File, path: Arc<PathBuf>, len: u64, chunk_bytes: usize) -> ObjectBody {
    let chunk_bytes = chunk_bytes.max(1);
    Box::pin(futures_util::stream::try_unfold((file, len), move |(mut file, remaining)| {
        let path = path.clone();
        async move {
            if remaining == 0 {
                return Ok(None);
            }
            let want = usize::try_from(remaining).unwrap_or(usize::MAX).min(chunk_bytes);
            let mut chunk = BytesMut::with_capacity(want);
            while chunk.len() < want {
                let mut limited = (&mut file).take((want - chunk.len()) as u64);
                let n = limited.read_buf(&mut chunk).await.map_err(|e| StorageError::io("read", path.as_path(), e))?;
                if n == 0 {
                    let short = io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its size");
                    return Err(StorageError::io("read", path.as_path(), short));
                }
            }
            Ok(Some((chunk.freeze(), (file, remaining - want as u64))))
        }
    }))
}

/// Exactly `want` bytes from the file's position; a file shorter than its size is an error. Reads into
/// spare capacity, so the chunk is not zero-filled first.
fn read_chunk(file: &mut File, path: &Path, want: usize) -> Result<Bytes, StorageError> {
    let mut chunk = Vec::with_capacity(want);
    file.take(want as u64).read_to_end(&mut chunk).map_err(|e| StorageError::io("read", path, e))?;
    if chunk.len() < want {
        let short = io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its size");
        return Err(StorageError::io("read", path, short));
    }
    Ok(Bytes::from(chunk))
}

fn object_meta(path: &Path, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
    let meta = match fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta,
        Ok(_) => return Err(StorageError::NotFound { key: key.clone() }),
        Err(e) if is_missing(&e) => return Err(StorageError::NotFound { key: key.clone() }),
        Err(e) => return Err(StorageError::io("read metadata of", path, e)),
    };
    let modified = meta.modified().map_err(|e| StorageError::io("read modification time of", path, e))?;
    Ok(ObjectMeta { size: meta.len(), modified })
}

fn delete_object(path: &Path) -> Result<(), StorageError> {
    // No directory fsync: a delete lost in a crash leaves an old object that the next cleanup deletes again.
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        // A directory is a shared key prefix, not an object, so there was nothing to delete.
        Err(_) if path.is_dir() => Ok(()),
        Err(e) => Err(StorageError::io("delete", path, e)),
    }
}

/// Walks the directory that `dir` names (the root when `None`), keeping entries of its first level whose
/// names start with `name_start` and everything below them.
fn list_keys(root: &Path, dir: Option<ObjectKey>, name_start: &str) -> Result<Vec<ObjectKey>, StorageError> {
    let start = dir.as_ref().map_or_else(|| root.to_path_buf(), |dir| root.join(dir.to_relative_path()));
    let mut keys = Vec::new();
    // (directory on disk, its key, whether its entries are filtered by `name_start`)
    let mut pending = vec![(start, dir, true)];
    while let Some((path, dir_key, filtered)) = pending.pop() {
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            // No such prefix directory, or it was deleted while we walked.
            Err(e) if is_missing(&e) => continue,
            Err(e) => return Err(StorageError::io("list", &path, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StorageError::io("list", &path, e))?;
            let file_name = entry.file_name();
            let name = file_name.to_str();
            if name.is_some_and(|name| name.starts_with(RESERVED_SEGMENT_PREFIX)) {
                continue; // A put in progress, or one a crash abandoned.
            }
            if filtered && !name.is_some_and(|name| name.starts_with(name_start)) {
                continue;
            }
            let key = name.and_then(|name| match &dir_key {
                Some(dir_key) => dir_key.join(name).ok(),
                None => ObjectKey::parse(name).ok(),
            });
            let Some(key) = key else {
                warn!(path = %entry.path().display(), "Skipped a file whose name cannot be an object key.");
                continue;
            };
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(e) if is_missing(&e) => continue,
                Err(e) => return Err(StorageError::io("list", entry.path(), e)),
            };
            if file_type.is_dir() {
                pending.push((entry.path(), Some(key), false));
            } else if file_type.is_file() {
                keys.push(key);
            }
        }
    }
    keys.sort_unstable();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(text: &str) -> ObjectKey {
        ObjectKey::parse(text).unwrap()
    }

    #[test]
    fn the_part_log_records_parts_in_order_and_rewrites_forget_later_ones() {
        assert_eq!(parse_part_log(""), vec![]);
        assert_eq!(parse_part_log("P 1 8\nP 2 8\nP 3 5\n"), vec![(1, 8), (2, 8), (3, 5)]);
        // Part 2 rewritten: the truncation first, then its new record; part 3 is gone.
        assert_eq!(parse_part_log("P 1 8\nP 2 8\nP 3 5\nT 2\nP 2 4\n"), vec![(1, 8), (2, 4)]);
        // A crash between the truncation and the new record.
        assert_eq!(parse_part_log("P 1 8\nP 2 8\nT 2\n"), vec![(1, 8)]);
        // A torn last line, a gap, or garbage ends the log.
        assert_eq!(parse_part_log("P 1 8\nP 2 8"), vec![(1, 8)]);
        assert_eq!(parse_part_log("P 1 8\nP 3 8\nP 2 8\n"), vec![(1, 8)]);
        assert_eq!(parse_part_log("P 1 8\nX 2 8\nP 2 8\n"), vec![(1, 8)]);
        assert_eq!(parse_part_log("P 0 8\n"), vec![]);
        assert_eq!(parse_part_log("P 1 8 9\n"), vec![]);
    }

    #[test]
    fn a_staging_directory_of_the_per_part_layout_is_read_and_continued() {
        let tmp = tempfile::tempdir().unwrap();
        let upload = MultipartUpload { key: key("a/source"), upload_id: "00ff-1-2".to_owned() };
        begin_staging(tmp.path(), &upload).unwrap();
        let dir = tmp.path().join(MULTIPART_DIR).join(&upload.upload_id);
        // As the earlier layout left it: no log, one record file per part.
        fs::remove_file(dir.join(PART_LOG)).unwrap();
        fs::write(dir.join("data"), b"one-").unwrap();
        fs::write(dir.join(legacy_record_name(1)), b"4").unwrap();
        assert_eq!(stored_parts(&dir).unwrap(), vec![UploadedPart { number: 1, size: 4, etag: part_etag(1, 4) }]);
        write_part(&dir, &upload, 2, b"two").unwrap();
        assert_eq!(fs::read_to_string(dir.join(PART_LOG)).unwrap(), "P 1 4\nP 2 3\n");
        assert_eq!(fs::read(dir.join("data")).unwrap(), b"one-two");
    }

    proptest! {
        /// Whatever was appended, the parts read back are numbered 1, 2, 3… and a log cut anywhere (a crash
        /// mid-append) reads as one of the states it went through.
        #[test]
        fn a_cut_log_reads_as_a_state_it_passed_through(ops in prop::collection::vec((any::<bool>(), 0u32..6, 0u64..100), 0..30), cut in any::<prop::sample::Index>()) {
            let mut text = String::new();
            let mut states = vec![(0, Vec::new())];
            for (rewrite, number, size) in ops {
                let current = parse_part_log(&text);
                let number = if rewrite && !current.is_empty() { number % current.len() as u32 + 1 } else { current.len() as u32 + 1 };
                if (number as usize) <= current.len() {
                    text.push_str(&format!("T {number}\n"));
                    states.push((text.len(), parse_part_log(&text)));
                }
                text.push_str(&format!("P {number} {size}\n"));
                states.push((text.len(), parse_part_log(&text)));
            }
            let parts = parse_part_log(&text);
            prop_assert!(parts.iter().enumerate().all(|(i, (number, _))| *number as usize == i + 1));
            let at = cut.index(text.len() + 1);
            let read = parse_part_log(&text[..at]);
            let passed = states.iter().rev().find(|(end, _)| *end <= at).map(|(_, state)| state.clone()).unwrap();
            prop_assert_eq!(read, passed);
        }
    }

    #[test]
    fn maps_keys_below_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalDir::new(tmp.path()).unwrap();
        assert!(store.root().is_absolute());
        assert_eq!(store.path_of(&key("v/seg_1.m4s")), store.root().join("v").join("seg_1.m4s"));
    }

    #[test]
    fn new_creates_missing_parents_and_rejects_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let nested = tmp.path().join("a/b/c");
        let store = LocalDir::new(&nested).unwrap();
        assert!(nested.is_dir());
        assert_eq!(store.root(), fs::canonicalize(&nested).unwrap());

        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        let error = LocalDir::new(&file).unwrap_err();
        assert!(matches!(error, StorageError::Io { op: "create root directory", .. }), "{error:?}");
    }

    #[test]
    fn temp_files_are_unique_reserved_and_cleaned_up_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let (_a, first) = create_temp_file(tmp.path()).unwrap();
        let (_b, second) = create_temp_file(tmp.path()).unwrap();
        assert_ne!(first.path, second.path);
        for temp in [&first, &second] {
            let name = temp.path.file_name().unwrap().to_str().unwrap();
            assert!(name.starts_with(RESERVED_SEGMENT_PREFIX), "{name}");
            assert!(ObjectKey::parse(name).is_err(), "a key must never name a temp file");
        }
        let paths = [first.path.clone(), second.path.clone()];
        drop((first, second));
        assert!(paths.iter().all(|p| !p.exists()));
    }

    #[test]
    fn a_leftover_temp_file_with_the_next_name_is_skipped_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        // Occupy the next few names, as files left by a crashed process with our pid would.
        let next = TEMP_FILE_COUNTER.load(Ordering::Relaxed);
        for n in next..next + 3 {
            fs::write(tmp.path().join(format!(".tmp-{pid}-{n}")), b"leftover").unwrap();
        }
        let (_file, temp) = create_temp_file(tmp.path()).unwrap();
        for n in next..next + 3 {
            assert_eq!(fs::read(tmp.path().join(format!(".tmp-{pid}-{n}"))).unwrap(), b"leftover");
        }
        assert!(temp.path.exists());
    }

    #[test]
    fn parent_dirs_are_created_level_by_level_and_a_file_in_the_way_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = create_parent_dirs(tmp.path(), &key("a/b/c/obj")).unwrap();
        assert_eq!(dir, tmp.path().join("a/b/c"));
        assert!(dir.is_dir());
        assert_eq!(create_parent_dirs(tmp.path(), &key("top")).unwrap(), tmp.path());

        fs::write(tmp.path().join("a/b/c/obj"), b"x").unwrap();
        let error = create_parent_dirs(tmp.path(), &key("a/b/c/obj/deeper")).unwrap_err();
        let StorageError::Io { op, path, source } = error else { panic!("{error:?}") };
        assert_eq!((op, path), ("create directory", tmp.path().join("a/b/c/obj")));
        assert_eq!(source.kind(), io::ErrorKind::NotADirectory);
    }
}

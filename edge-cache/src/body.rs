//! Where object bodies live: segment-sized bodies get an anonymous memory mapping each, so that the memory of
//! an evicted body goes back to the kernel as soon as its last reader lets go of it.
//!
//! Why not the heap: glibc's malloc serves a multi-megabyte allocation with `mmap` at first, but after the
//! first such block is freed it raises its mmap threshold to that size (its "dynamic threshold"), and from
//! then on segments come from its arenas, where freed bodies fragment the heap and stay resident. Measured
//! with `benches/edge-rss.sh --memory 256`: 280 and 322 MB peak RSS in two runs with heap bodies, 256 and
//! 257 MB with mapped ones (BENCHMARKS.md). Forcing the threshold process-wide (`MALLOC_MMAP_THRESHOLD_`) or
//! another allocator with eager purging returns the memory too, but makes every allocation in the process pay
//! for it; here only bodies of at least [`MAPPED_BODY_MIN_BYTES`] are mapped, once per fill or disk read, which
//! already costs a copy of the body.
//!
//! [`mapped_bytes`] counts the mapped bodies alive in the process, cached or only held by responses in
//! progress (`marquee_edge_body_mapped_bytes`).

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use memmap2::{MmapMut, MmapOptions};

/// Bodies at least this long get a mapping of their own; smaller ones (manifests, init segments) stay on the
/// heap, where malloc reuses their memory well and a page-sized mapping would waste most of a page.
pub const MAPPED_BODY_MIN_BYTES: usize = 64 * 1024;

static MAPPED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Bytes of mapped bodies alive in this process now: in the tiers, in fills, or held by responses.
pub fn mapped_bytes() -> u64 {
    MAPPED_BYTES.load(Ordering::Relaxed)
}

/// The owner behind a mapped [`Bytes`]: unmaps (and stops counting) when the last `Bytes` drops.
struct MappedBody {
    map: MmapMut,
    len: usize,
}

impl AsRef<[u8]> for MappedBody {
    fn as_ref(&self) -> &[u8] {
        &self.map[..self.len]
    }
}

impl Drop for MappedBody {
    fn drop(&mut self) {
        MAPPED_BYTES.fetch_sub(self.map.len() as u64, Ordering::Relaxed);
    }
}

/// An empty body in a mapping of `capacity` bytes, pre-faulted (one system call instead of a page fault per
/// 4 KiB written). `None` when the kernel refuses one; the caller falls back to the heap.
fn map(capacity: usize) -> Option<MappedBody> {
    match MmapOptions::new().len(capacity).populate().map_anon() {
        Ok(map) => {
            MAPPED_BYTES.fetch_add(capacity as u64, Ordering::Relaxed);
            Some(MappedBody { map, len: 0 })
        }
        Err(error) => {
            tracing::debug!(capacity, %error, "Could not map a body; using the heap.");
            None
        }
    }
}

impl MappedBody {
    fn freeze(mut self, len: usize) -> Bytes {
        self.len = len;
        Bytes::from_owner(self)
    }
}

/// The chunks of a body, `total` bytes in all, as one contiguous `Bytes` (mapped when large).
pub fn concat(chunks: &[Bytes], total: usize) -> Bytes {
    if total >= MAPPED_BODY_MIN_BYTES {
        if let Some(mut body) = map(total) {
            let mut len = 0;
            for chunk in chunks {
                // `total` is the sum of the chunk lengths; a caller that got it wrong gets a heap copy.
                let Some(slot) = body.map.get_mut(len..len + chunk.len()) else { return concat_on_heap(chunks) };
                slot.copy_from_slice(chunk);
                len += chunk.len();
            }
            return body.freeze(len);
        }
    }
    if chunks.len() == 1 {
        return chunks[0].clone();
    }
    concat_on_heap(chunks)
}

fn concat_on_heap(chunks: &[Bytes]) -> Bytes {
    let mut whole = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    for chunk in chunks {
        whole.extend_from_slice(chunk);
    }
    whole.freeze()
}

/// Reads `reader` to its end, but at most `limit` bytes, into one `Bytes` (mapped when `limit` is large).
pub fn read_at_most(reader: &mut impl Read, limit: usize) -> io::Result<Bytes> {
    if limit >= MAPPED_BODY_MIN_BYTES {
        if let Some(mut body) = map(limit) {
            let mut len = 0;
            while len < limit {
                match reader.read(&mut body.map[len..]) {
                    Ok(0) => break,
                    Ok(read) => len += read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
            return Ok(body.freeze(len));
        }
    }
    let mut buffer = Vec::with_capacity(limit);
    reader.take(limit as u64).read_to_end(&mut buffer)?;
    Ok(Bytes::from(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count is process-wide: the tests here that map bodies take turns (no other unit test maps one).
    static MAPPING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn large_bodies_are_mapped_and_unmapped_when_the_last_reader_drops() {
        let _turn = MAPPING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let chunks: Vec<Bytes> = (0..5u8).map(|i| Bytes::from(vec![i; 100_000])).collect();
        let before = mapped_bytes();
        let whole = concat(&chunks, 500_000);
        assert_eq!(whole.len(), 500_000);
        assert!(whole.chunks(100_000).enumerate().all(|(i, part)| part.iter().all(|&b| b == i as u8)));
        assert_eq!(mapped_bytes(), before + 500_000, "counted while alive");
        let slice = whole.slice(200_000..200_010);
        drop(whole);
        assert_eq!(mapped_bytes(), before + 500_000, "a slice keeps the mapping");
        assert_eq!(&slice[..], &[2u8; 10]);
        drop(slice);
        assert_eq!(mapped_bytes(), before, "unmapped with the last reader");
    }

    #[test]
    fn small_bodies_stay_on_the_heap_and_one_chunk_is_not_copied() {
        let one = Bytes::from_static(b"#EXTM3U\n");
        let whole = concat(std::slice::from_ref(&one), one.len());
        assert_eq!(whole.as_ptr(), one.as_ptr(), "no copy");
        let two = concat(&[Bytes::from_static(b"ab"), Bytes::from_static(b"cd")], 4);
        assert_eq!(&two[..], b"abcd");
    }

    #[test]
    fn a_wrong_total_still_gives_every_byte() {
        let _turn = MAPPING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let chunks = vec![Bytes::from(vec![1u8; 70_000]), Bytes::from(vec![2u8; 70_000])];
        let before = mapped_bytes();
        let whole = concat(&chunks, 70_000);
        assert_eq!(whole.len(), 140_000);
        assert_eq!(whole[139_999], 2);
        drop(whole);
        assert_eq!(mapped_bytes(), before, "the abandoned mapping is not counted");
    }

    #[test]
    fn reads_stop_at_the_limit_or_the_end() {
        let _turn = MAPPING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let read = read_at_most(&mut &data[..], 150_001).unwrap();
        assert_eq!(&read[..], &data[..150_001]);
        let whole = read_at_most(&mut &data[..], 300_000).unwrap();
        assert_eq!(&whole[..], &data[..]);
        let small = read_at_most(&mut &data[..], 10).unwrap();
        assert_eq!(&small[..], &data[..10]);
    }
}

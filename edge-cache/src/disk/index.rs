//! The disk tier's in-memory index: entries in least-recently-used order, and the byte budget's three charges
//! (`stored`, `writing`, `deleting`; see the accounting rules in the tier's module docs). No I/O: the tier turns
//! the entries this hands back into files to delete.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use lru::LruCache;

#[derive(Debug)]
pub(super) struct Index {
    pub(super) entries: LruCache<Arc<str>, IndexEntry>,
    pub(super) stored_bytes: u64,
    /// Inserts in progress, by generation.
    pub(super) writing: HashMap<u64, PendingWrite>,
    pub(super) writing_bytes: u64,
    pub(super) deleting_bytes: u64,
    pub(super) next_generation: u64,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct IndexEntry {
    pub(super) hash: u128,
    pub(super) generation: u64,
    pub(super) size: u64,
    /// The mtime last written to the file.
    pub(super) touched: SystemTime,
}

#[derive(Debug)]
pub(super) struct PendingWrite {
    pub(super) key: Arc<str>,
    /// Set by `remove` or `purge_prefix` while the write was in progress: the write must not be indexed.
    pub(super) cancelled: bool,
}

impl Index {
    /// An index of `entries`, given least recently used first, with generations continuing after
    /// `max_generation`.
    pub(super) fn new(entries: impl IntoIterator<Item = (Arc<str>, IndexEntry)>, max_generation: Option<u64>) -> Self {
        let mut lru = LruCache::unbounded();
        let mut stored_bytes = 0;
        for (key, entry) in entries {
            stored_bytes += entry.size;
            lru.push(key, entry);
        }
        Self {
            entries: lru,
            stored_bytes,
            writing: HashMap::new(),
            writing_bytes: 0,
            deleting_bytes: 0,
            next_generation: max_generation.map_or(1, |g| g + 1),
        }
    }

    /// Bytes charged against the budget.
    pub(super) fn charged_bytes(&self) -> u64 {
        self.stored_bytes + self.writing_bytes + self.deleting_bytes
    }

    /// Moves an entry already taken out of `entries` from `stored` to `deleting`.
    pub(super) fn retire(&mut self, entry: &IndexEntry) {
        self.stored_bytes -= entry.size;
        self.deleting_bytes += entry.size;
    }

    /// Evicts (and retires) least recently used entries until the stored bytes fit `budget`.
    pub(super) fn evict_to(&mut self, budget: u64) -> Vec<IndexEntry> {
        let mut evicted = Vec::new();
        while self.stored_bytes > budget {
            let Some((_, victim)) = self.entries.pop_lru() else { break };
            self.retire(&victim);
            evicted.push(victim);
        }
        evicted
    }

    /// Whether evicting every entry would make room for `size` bytes within `budget`; if not, the room is held
    /// by writes and deletions in progress.
    pub(super) fn could_make_room(&self, size: u64, budget: u64) -> bool {
        // `charged <= budget` always holds, so this cannot underflow.
        budget - self.writing_bytes - self.deleting_bytes >= size
    }

    /// Reserves `size` bytes for a write of `key`, evicting (and retiring) least recently used entries until
    /// it fits `budget`; the caller checked [`Index::could_make_room`]. The evicted bytes that the write needs
    /// are handed to it rather than released, so no other insert can take that room first. Returns the write's
    /// generation, the evicted entries and the evicted bytes still charged to `deleting`.
    pub(super) fn start_write(&mut self, key: Arc<str>, size: u64, budget: u64) -> (u64, Vec<IndexEntry>, u64) {
        let mut evicted = Vec::new();
        let mut freed = 0;
        while self.charged_bytes() - freed + size > budget {
            let (_, victim) = self.entries.pop_lru().expect("evicting every entry makes room, checked above");
            freed += victim.size;
            self.retire(&victim);
            evicted.push(victim);
        }
        let handed_over = freed.min(size);
        self.deleting_bytes -= handed_over;
        self.writing_bytes += size;
        let generation = self.next_generation;
        self.next_generation += 1;
        self.writing.insert(generation, PendingWrite { key, cancelled: false });
        (generation, evicted, freed - handed_over)
    }

    /// Gives up a write that was not committed, returning its room.
    pub(super) fn abandon_write(&mut self, generation: u64, size: u64) {
        self.writing.remove(&generation);
        self.writing_bytes -= size;
    }

    /// Marks the writes in progress whose keys match so that they are not indexed when they finish.
    pub(super) fn cancel_writes(&mut self, matches: impl Fn(&str) -> bool) {
        for write in self.writing.values_mut() {
            if matches(&write.key) {
                write.cancelled = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: u64) -> IndexEntry {
        IndexEntry { hash: 0, generation: 0, size, touched: SystemTime::UNIX_EPOCH }
    }

    #[test]
    fn a_write_takes_the_evicted_bytes_it_needs_and_leaves_the_rest_deleting() {
        let mut index = Index::new([("a".into(), entry(40)), ("b".into(), entry(40))], Some(6));
        assert_eq!(index.charged_bytes(), 80);
        assert!(index.could_make_room(100, 100));
        let (generation, evicted, still_deleting) = index.start_write("c".into(), 50, 100);
        assert_eq!(generation, 7);
        assert_eq!(evicted.len(), 1, "only `a`, the least recently used, had to go");
        assert_eq!(still_deleting, 0);
        assert_eq!((index.stored_bytes, index.writing_bytes, index.deleting_bytes), (40, 50, 0));
        index.abandon_write(generation, 50);
        assert_eq!(index.charged_bytes(), 40);
        assert!(index.writing.is_empty());
    }

    #[test]
    fn evicting_to_a_smaller_budget_retires_the_oldest() {
        let mut index = Index::new([("a".into(), entry(10)), ("b".into(), entry(10)), ("c".into(), entry(10))], None);
        assert_eq!(index.next_generation, 1);
        assert_eq!(index.evict_to(15).len(), 2);
        assert!(index.entries.contains("c"));
        assert_eq!((index.stored_bytes, index.deleting_bytes), (10, 20));
    }
}

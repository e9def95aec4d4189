//! The memory tier: whole objects in RAM, weighed by their bytes, behind a frequency-based admission gate.
//!
//! Storage and eviction are moka's ([`moka::sync::Cache`], byte weights, least-recently-used eviction). In
//! front of it sits a TinyLFU-style gate of our own ([`AdmissionPolicy::FrequencyGate`], the default; the gate
//! and its sketch are in `admission.rs`): every [`MemoryTier::get`], hit or miss, counts as a request, and once
//! the tier is full a newcomer is stored only if it is worth more than the entries moka has been evicting
//! lately. The disk tier's hits are promoted through the same gate: the server offers them to
//! [`MemoryTier::insert`] and the policy decides.
//!
//! moka 0.12 has TinyLFU admission built in ([`AdmissionPolicy::MokaTinyLfu`] keeps it selectable), but with
//! a weigher its frequency sketch is sized once, when the cache is first half full, for
//! `entries × weighted_size / max_capacity` keys (half the entries present then, about a quarter of what the
//! full cache holds) and never grows; it ages every ten times that many requests. For a 1.35 GB tier of
//! 0.5–2.5 MB segments that is a 256-slot sketch that halves every ~2,500 requests: too short a memory to
//! tell the 900th most popular of 100,000 objects from the 5,000th. `initial_capacity` only sizes the hash
//! table. Our gate runs moka in its cheaper LRU mode; the hit ratios of the three policies, and of the gate's
//! rules that were tried and not kept, are in BENCHMARKS.md ("Edge: cache policy hit ratio vs plain LRU").
//!
//! # Budget
//!
//! moka applies writes and evictions in batches (its write log holds up to 384 pending operations, drained
//! by whichever caller next does maintenance), so its own `weighted_size` counts only what it has processed:
//! an inserted entry is in the map, readable and holding memory before moka has weighed it. Measured with
//! 1–128 KiB values and a 4 MiB capacity: `weighted_size` never read above 4 MiB, but the bytes in the map
//! reached 9 MB from one thread and 32 MB from four or eight (the pending log times the object size: with
//! 2.5 MB segments, up to ~1 GB over). The tier therefore keeps its own count of resident bytes, added when an insert is accepted and removed when moka
//! reports the entry gone through its eviction listener, and enforces the budget on that count:
//!
//! - moka's capacity is `capacity_bytes − max_object_bytes`, so there is room for one object above what moka
//!   settles to;
//! - an insert first reserves its weight with a compare-and-swap that never lets the count pass
//!   `capacity_bytes`; if it cannot, it runs moka's pending maintenance and tries again, and after a few
//!   tries refuses the object ([`Refusal::NoRoom`]) rather than exceed the budget;
//! - an insert that takes the count past moka's capacity runs the maintenance itself, so the count is back
//!   under moka's capacity before the next insert needs the room.
//!
//! So the weight of the entries in the tier never exceeds `capacity_bytes`, whatever the number of threads;
//! an entry weighs its [`Weighted::size_bytes`] plus its key plus [`ENTRY_OVERHEAD_BYTES`]. A removed entry's
//! body is released when moka reports the removal, not when moka's epoch-based map reclaims the entry (which
//! one descheduled thread can delay for everyone; see `Slot`). What the count cannot see is what callers
//! still hold: a response being sent keeps its body alive after eviction. The concurrent test bounds the
//! values alive by the budget plus two objects per thread; peak RSS against the budget is measured in
//! BENCHMARKS.md.
//!
//! # Eviction listener
//!
//! [`MemoryTier::with_eviction_listener`] is called for every entry that leaves the tier, with why
//! ([`EvictionCause`]); the server demotes [`EvictionCause::Capacity`] evictions to disk. moka's listener is
//! usable for that, with rules: it runs synchronously on whichever thread is doing moka's maintenance (any
//! caller of `get`, `insert` or `remove`), while moka holds its maintenance lock, so it must be quick (hand
//! the value to a bounded channel, do no I/O) and must not call back into the tier, which can deadlock.
//! Objects the gate refuses never enter, so they are never reported: [`MemoryTier::insert`] says so instead.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use xxhash_rust::xxh3::{xxh3_64_with_seed, Xxh3Builder};

use crate::admission::FrequencyGate;

/// Default budget of the memory tier.
pub const DEFAULT_CAPACITY_BYTES: u64 = 1 << 30;
/// Default largest entry kept in memory (weight: body, key and overhead); bigger objects are only on disk.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 16 << 20;
/// Default object size assumed when sizing the admission sketch from the budget (a mix of multi-megabyte
/// segments and kilobyte manifests and init segments).
pub const DEFAULT_TYPICAL_OBJECT_BYTES: u64 = 64 << 10;
/// Bytes added to every entry's weight for what the tier spends on it besides the body and key: moka's
/// entry, deque node and map bucket, the key's `Arc<String>`, the sketch's share.
pub const ENTRY_OVERHEAD_BYTES: u64 = 256;
/// The admission sketch tracks at least this many objects, however small the budget.
pub const MIN_SKETCH_ENTRIES: u64 = 1 << 12;
/// And at most this many (64 MiB of counters).
pub const MAX_SKETCH_ENTRIES: u64 = 1 << 23;

/// Most rounds of moka's maintenance [`MemoryTier::run_pending_tasks`] runs to settle the counts.
const MAX_MAINTENANCE_ROUNDS: usize = 64;

/// How often an insert that finds no room runs moka's maintenance and tries again before giving up.
const RESERVE_ATTEMPTS: usize = 3;

/// What decides whether a newcomer enters the tier once it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AdmissionPolicy {
    /// Our count-min sketch (sized by [`MemoryConfig::expected_entries`]) in front of moka's LRU: a newcomer
    /// must be requested more often per byte than the entries evicted lately, or more than 1.5 times as
    /// often as they were (averaged by their bytes).
    #[default]
    FrequencyGate,
    /// moka's built-in TinyLFU: its own sketch (sized when the cache is first half full) and its rule that a
    /// newcomer beats the summed frequency of all the victims it displaces. An insert it refuses is still
    /// reported stored: moka decides later, during maintenance, and the entry can be hit until then.
    MokaTinyLfu,
    /// No admission control: every object that fits is stored and the least recently used make room.
    Lru,
}

impl AdmissionPolicy {
    /// Every policy, for benchmarks and configuration help.
    pub const ALL: [AdmissionPolicy; 3] =
        [AdmissionPolicy::FrequencyGate, AdmissionPolicy::MokaTinyLfu, AdmissionPolicy::Lru];

    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionPolicy::FrequencyGate => "frequency_gate",
            AdmissionPolicy::MokaTinyLfu => "moka_tiny_lfu",
            AdmissionPolicy::Lru => "lru",
        }
    }
}

/// Settings of the memory tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Budget: the weights of the entries held never add up to more.
    pub capacity_bytes: u64,
    /// Entries weighing more (body, key and [`ENTRY_OVERHEAD_BYTES`]) are never stored. Also the headroom
    /// the budget keeps above moka's own capacity (see the module docs), so at most half the budget.
    pub max_object_bytes: u64,
    /// Who decides admission once the tier is full.
    pub admission: AdmissionPolicy,
    /// How many objects the admission sketch is sized for (rounded up to a power of two, clamped to
    /// [`MIN_SKETCH_ENTRIES`]..=[`MAX_SKETCH_ENTRIES`]); it remembers about ten times this many requests.
    /// `None`: `capacity_bytes / DEFAULT_TYPICAL_OBJECT_BYTES`.
    pub expected_entries: Option<u64>,
    /// Seed of the key hashes (moka's map and the sketch). `None`: random per process, so that nobody can
    /// pick keys that collide; set it only for reproducible benchmarks.
    pub hash_seed: Option<u64>,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            capacity_bytes: DEFAULT_CAPACITY_BYTES,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            admission: AdmissionPolicy::default(),
            expected_entries: None,
            hash_seed: None,
        }
    }
}

impl MemoryConfig {
    /// A default configuration with this budget.
    pub fn with_capacity(capacity_bytes: u64) -> Self {
        Self { capacity_bytes, ..Self::default() }
    }

    /// Every problem with these settings (empty when they are usable).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_object_bytes <= ENTRY_OVERHEAD_BYTES {
            problems.push(format!(
                "max_object_bytes ({}) must exceed the per-entry overhead ({ENTRY_OVERHEAD_BYTES} bytes)",
                self.max_object_bytes
            ));
        }
        if self.max_object_bytes > u64::from(u32::MAX) {
            problems.push(format!("max_object_bytes ({}) must be at most {}", self.max_object_bytes, u32::MAX));
        }
        if self.capacity_bytes < self.max_object_bytes.saturating_mul(2) {
            problems.push(format!(
                "capacity_bytes ({}) must be at least twice max_object_bytes ({})",
                self.capacity_bytes, self.max_object_bytes
            ));
        }
        if self.expected_entries == Some(0) {
            problems.push("expected_entries must be positive".to_owned());
        }
        problems
    }

    fn sketch_entries(&self) -> u64 {
        self.expected_entries
            .unwrap_or(self.capacity_bytes / DEFAULT_TYPICAL_OBJECT_BYTES)
            .clamp(MIN_SKETCH_ENTRIES, MAX_SKETCH_ENTRIES)
    }
}

/// The memory tier's settings are unusable; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid memory tier settings: {}", .problems.join("; "))]
pub struct InvalidMemoryConfig {
    pub problems: Vec<String>,
}

/// A value's size in memory, which is what the tier's budget counts (read once, when the value is inserted).
pub trait Weighted {
    /// Bytes this value keeps alive: body, headers, anything it owns.
    fn size_bytes(&self) -> u64;
}

impl Weighted for Bytes {
    fn size_bytes(&self) -> u64 {
        self.len() as u64
    }
}

impl Weighted for Vec<u8> {
    fn size_bytes(&self) -> u64 {
        self.len() as u64
    }
}

impl<T: Weighted + ?Sized> Weighted for Arc<T> {
    fn size_bytes(&self) -> u64 {
        T::size_bytes(self)
    }
}

/// Why an entry left the tier (the `cause` label of the eviction metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvictionCause {
    /// Made room for others: the one cause worth demoting to disk. (With [`AdmissionPolicy::MokaTinyLfu`]
    /// this includes newcomers moka's admission turned away after the insert.)
    Capacity,
    /// Removed by [`MemoryTier::remove`] or [`MemoryTier::remove_prefix`].
    Purged,
    /// Overwritten by an insert under the same key.
    Replaced,
}

impl EvictionCause {
    pub const ALL: [EvictionCause; 3] = [EvictionCause::Capacity, EvictionCause::Purged, EvictionCause::Replaced];

    pub fn as_str(self) -> &'static str {
        match self {
            EvictionCause::Capacity => "capacity",
            EvictionCause::Purged => "purged",
            EvictionCause::Replaced => "replaced",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why an insert did not store the object (the `reason` label of the refusal metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Heavier than [`MemoryConfig::max_object_bytes`].
    TooLarge,
    /// The admission policy judged it less popular than what it would displace.
    Admission,
    /// Concurrent inserts held the headroom above moka's capacity even after maintenance.
    NoRoom,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [Refusal::TooLarge, Refusal::Admission, Refusal::NoRoom];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TooLarge => "too_large",
            Refusal::Admission => "admission",
            Refusal::NoRoom => "no_room",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What [`MemoryTier::insert`] did with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Stored,
    Refused(Refusal),
}

impl Admission {
    pub fn is_stored(self) -> bool {
        self == Admission::Stored
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Admission::Stored => "stored",
            Admission::Refused(refusal) => refusal.as_str(),
        }
    }
}

/// Counters since the tier was created, and its size now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub hits: u64,
    pub misses: u64,
    /// Inserts stored, and their weight.
    pub stored: u64,
    pub stored_bytes: u64,
    /// Inserts refused, by [`Refusal`] (index with [`MemoryStats::refused`]).
    pub refused_by_reason: [u64; 3],
    /// Entries gone, and their weight, by [`EvictionCause`] (index with [`MemoryStats::evicted`]).
    pub evicted_by_cause: [u64; 3],
    pub evicted_bytes_by_cause: [u64; 3],
    /// Entries held now (moka's count, as of its last maintenance).
    pub entries: u64,
    /// Weight held now (the tier's own count, never above `capacity_bytes`).
    pub resident_bytes: u64,
    pub capacity_bytes: u64,
}

impl MemoryStats {
    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused_by_reason[reason.index()]
    }

    pub fn evicted(&self, cause: EvictionCause) -> u64 {
        self.evicted_by_cause[cause.index()]
    }

    pub fn evicted_bytes(&self, cause: EvictionCause) -> u64 {
        self.evicted_bytes_by_cause[cause.index()]
    }
}

type Listener<V> = Box<dyn Fn(&str, V, EvictionCause) + Send + Sync + 'static>;

/// The memory tier. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct MemoryTier<V> {
    cache: moka::sync::Cache<String, Arc<Slot<V>>, Xxh3Builder>,
    shared: Arc<Shared<V>>,
    /// moka's own capacity: the budget less the headroom for one object.
    settle_bytes: u64,
    config: MemoryConfig,
}

/// What the tier and moka's eviction listener both update.
struct Shared<V> {
    resident_bytes: AtomicU64,
    counters: Counters,
    gate: Option<FrequencyGate>,
    seed: u64,
    listener: Option<Listener<V>>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    stored_bytes: AtomicU64,
    refused: [AtomicU64; 3],
    evicted: [AtomicU64; 3],
    evicted_bytes: [AtomicU64; 3],
}

impl<V> std::fmt::Debug for MemoryTier<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTier")
            .field("config", &self.config)
            .field("resident_bytes", &self.shared.resident_bytes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<V> MemoryTier<V>
where
    V: Weighted + Clone + Send + Sync + 'static,
{
    pub fn new(config: MemoryConfig) -> Result<Self, InvalidMemoryConfig> {
        Self::build(config, None)
    }

    /// A tier that calls `listener` with every entry that leaves it (see the module docs for the rules the
    /// listener must follow).
    pub fn with_eviction_listener(
        config: MemoryConfig,
        listener: impl Fn(&str, V, EvictionCause) + Send + Sync + 'static,
    ) -> Result<Self, InvalidMemoryConfig> {
        Self::build(config, Some(Box::new(listener)))
    }

    fn build(config: MemoryConfig, listener: Option<Listener<V>>) -> Result<Self, InvalidMemoryConfig> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(InvalidMemoryConfig { problems });
        }
        let seed = config.hash_seed.unwrap_or_else(|| std::collections::hash_map::RandomState::new().hash_one(0u64));
        let gate =
            (config.admission == AdmissionPolicy::FrequencyGate).then(|| FrequencyGate::new(config.sketch_entries()));
        let shared =
            Arc::new(Shared { resident_bytes: AtomicU64::new(0), counters: Counters::default(), gate, seed, listener });
        let settle_bytes = config.capacity_bytes - config.max_object_bytes;
        let eviction_policy = match config.admission {
            AdmissionPolicy::MokaTinyLfu => EvictionPolicy::tiny_lfu(),
            AdmissionPolicy::FrequencyGate | AdmissionPolicy::Lru => EvictionPolicy::lru(),
        };
        let on_removal = Arc::clone(&shared);
        let cache = moka::sync::Cache::builder()
            .max_capacity(settle_bytes)
            .eviction_policy(eviction_policy)
            .weigher(|_key: &String, slot: &Arc<Slot<V>>| slot.weight)
            .eviction_listener(move |key: Arc<String>, slot: Arc<Slot<V>>, cause| {
                on_removal.on_removal(&key, &slot, cause)
            })
            .build_with_hasher(Xxh3Builder::new().with_seed(seed));
        Ok(Self { cache, shared, settle_bytes, config })
    }

    /// The object under `key`, if the tier holds it. Counts as a request for admission, hit or miss.
    pub fn get(&self, key: &str) -> Option<V> {
        if let Some(gate) = &self.shared.gate {
            gate.record_request(self.shared.hash(key));
        }
        let found = self.cache.get(key).and_then(|slot| slot.value());
        let counter = if found.is_some() { &self.shared.counters.hits } else { &self.shared.counters.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Offers an object to the tier (fresh from upstream, or a disk hit to promote). Whether it is stored is
    /// the admission policy's decision; objects over [`MemoryConfig::max_object_bytes`] never are. An object
    /// already under `key` is replaced without asking the policy (the key has earned its place); if the new
    /// version is refused anyway (too large, no room), the old one is removed, so the tier never serves a
    /// version older than the last one offered.
    pub fn insert(&self, key: String, value: V) -> Admission {
        let admission = self.try_insert(key, value);
        let counters = &self.shared.counters;
        match admission {
            Admission::Stored => counters.stored.fetch_add(1, Ordering::Relaxed),
            Admission::Refused(refusal) => counters.refused[refusal.index()].fetch_add(1, Ordering::Relaxed),
        };
        admission
    }

    fn try_insert(&self, key: String, value: V) -> Admission {
        let weight = entry_weight(&key, &value);
        let refusal = if weight > self.config.max_object_bytes {
            Some(Refusal::TooLarge)
        } else if !self.admits(&key, weight) {
            Some(Refusal::Admission)
        } else if !self.reserve(weight) {
            Some(Refusal::NoRoom)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.cache.invalidate(&key);
            return Admission::Refused(refusal);
        }
        let slot = Slot { weight: weight as u32, value: Mutex::new(Some(value)) };
        self.cache.insert(key, Arc::new(slot));
        self.shared.counters.stored_bytes.fetch_add(weight, Ordering::Relaxed);
        if self.shared.resident_bytes.load(Ordering::Relaxed) > self.settle_bytes {
            self.cache.run_pending_tasks();
        }
        Admission::Stored
    }

    /// The gate's verdict, asked only once the newcomer would not fit under moka's capacity.
    fn admits(&self, key: &str, weight: u64) -> bool {
        let Some(gate) = &self.shared.gate else { return true };
        let fits = self.shared.resident_bytes.load(Ordering::Relaxed) + weight <= self.settle_bytes;
        fits || self.cache.contains_key(key) || gate.admits(self.shared.hash(key), weight)
    }

    /// Adds `weight` to the resident count unless that would pass the budget; runs moka's maintenance
    /// between attempts so that pending evictions give their room back.
    fn reserve(&self, weight: u64) -> bool {
        let limit = self.config.capacity_bytes;
        for attempt in 0..RESERVE_ATTEMPTS {
            if attempt > 0 {
                self.cache.run_pending_tasks();
            }
            let reserved = self.shared.resident_bytes.fetch_update(Ordering::AcqRel, Ordering::Acquire, |resident| {
                (resident + weight <= limit).then_some(resident + weight)
            });
            if reserved.is_ok() {
                return true;
            }
        }
        false
    }

    /// Whether the tier holds `key`, without counting a request (for prefetch decisions and HEAD-like
    /// checks that should not make an object look popular).
    pub fn contains(&self, key: &str) -> bool {
        self.cache.contains_key(key)
    }

    /// Removes the entry under `key`; whether there was one. Its body is released before this returns
    /// (once callers drop their clones).
    pub fn remove(&self, key: &str) -> bool {
        self.cache.remove(key).is_some()
    }

    /// Removes every entry whose key starts with `prefix` (an asset's purge); how many there were. A scan
    /// of the whole tier. Entries inserted while the purge runs may survive it: a server that purges while
    /// fills are in flight must keep those fills from inserting (or purge again after them).
    pub fn remove_prefix(&self, prefix: &str) -> usize {
        let keys: Vec<Arc<String>> =
            self.cache.iter().filter(|(key, _)| key.starts_with(prefix)).map(|(key, _)| key).collect();
        keys.iter().filter(|key| self.cache.remove(key.as_str()).is_some()).count()
    }

    /// Weight of the entries held now, by the tier's own count (never above the budget).
    pub fn weighted_bytes(&self) -> u64 {
        self.shared.resident_bytes.load(Ordering::Relaxed)
    }

    /// Entries held, as of moka's last maintenance.
    pub fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }

    pub fn config(&self) -> &MemoryConfig {
        &self.config
    }

    /// Runs moka's pending maintenance now (evictions, the listener calls they cause), all of it: one call of
    /// moka's applies a bounded batch of the writes logged since the last one, so after a burst of inserts
    /// from several threads it is repeated until a call changes nothing (at most `MAX_MAINTENANCE_ROUNDS`).
    /// The insert path calls moka's once instead; this is for scrapes and for callers that need the counts
    /// settled.
    pub fn run_pending_tasks(&self) {
        for _ in 0..MAX_MAINTENANCE_ROUNDS {
            let before = (self.cache.entry_count(), self.cache.weighted_size(), self.weighted_bytes());
            self.cache.run_pending_tasks();
            if (self.cache.entry_count(), self.cache.weighted_size(), self.weighted_bytes()) == before {
                break;
            }
        }
    }

    pub fn stats(&self) -> MemoryStats {
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MemoryStats {
            hits: load(&counters.hits),
            misses: load(&counters.misses),
            stored: load(&counters.stored),
            stored_bytes: load(&counters.stored_bytes),
            refused_by_reason: counters.refused.each_ref().map(load),
            evicted_by_cause: counters.evicted.each_ref().map(load),
            evicted_bytes_by_cause: counters.evicted_bytes.each_ref().map(load),
            entries: self.cache.entry_count(),
            resident_bytes: self.weighted_bytes(),
            capacity_bytes: self.config.capacity_bytes,
        }
    }
}

impl<V: Clone> Shared<V> {
    fn hash(&self, key: &str) -> u64 {
        xxh3_64_with_seed(key.as_bytes(), self.seed)
    }

    fn on_removal(&self, key: &str, slot: &Slot<V>, cause: RemovalCause) {
        // Taking the value out frees the body now (once callers drop their clones), not when moka's map
        // reclaims the entry; and it makes sure each entry is subtracted once.
        let Some(value) = slot.take() else { return };
        let weight = u64::from(slot.weight);
        self.resident_bytes.fetch_sub(weight, Ordering::AcqRel);
        let cause = match cause {
            RemovalCause::Explicit => EvictionCause::Purged,
            RemovalCause::Replaced => EvictionCause::Replaced,
            // The tier sets no expiry, so moka never reports `Expired`.
            RemovalCause::Size | RemovalCause::Expired => EvictionCause::Capacity,
        };
        self.counters.evicted[cause.index()].fetch_add(1, Ordering::Relaxed);
        self.counters.evicted_bytes[cause.index()].fetch_add(weight, Ordering::Relaxed);
        if let (Some(gate), EvictionCause::Capacity) = (&self.gate, cause) {
            gate.record_victim(self.hash(key), weight);
        }
        if let Some(listener) = &self.listener {
            // moka turns its listener off for good after a panic, which would stop this count: contain it.
            let call = std::panic::AssertUnwindSafe(|| listener(key, value, cause));
            if std::panic::catch_unwind(call).is_err() {
                tracing::error!(key, cause = cause.as_str(), "Memory tier eviction listener panicked.");
            }
        }
    }
}

/// An entry's weight in the budget: body, key, bookkeeping.
fn entry_weight<V: Weighted + ?Sized>(key: &str, value: &V) -> u64 {
    value.size_bytes().saturating_add(key.len() as u64).saturating_add(ENTRY_OVERHEAD_BYTES)
}

/// What moka stores: the value, which leaves when the entry does, and the weight it was counted at.
///
/// moka's map frees a removed entry through epoch-based reclamation, after every thread has passed a
/// quiescent point; one thread descheduled inside a moka call delays that for everyone, and in the hammer
/// test a body held that way pushed the values alive to several times the budget. Taking the value out of
/// the slot when moka reports the removal releases the body right away; only the empty slot waits.
struct Slot<V> {
    weight: u32,
    value: Mutex<Option<V>>,
}

impl<V: Clone> Slot<V> {
    fn value(&self) -> Option<V> {
        self.value.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn take(&self) -> Option<V> {
        self.value.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicBool;
    use std::sync::Mutex as StdMutex;

    use proptest::prelude::*;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    const KIB: u64 = 1024;

    /// A body of `size` bytes that reports its allocation and release to `live`, so a test can see how
    /// much memory the tier keeps reachable, independently of the tier's own count.
    #[derive(Debug)]
    struct Tracked {
        size: u64,
        tag: u64,
        live: Arc<AtomicU64>,
    }

    impl Tracked {
        fn new(size: u64, tag: u64, live: &Arc<AtomicU64>) -> Arc<Self> {
            live.fetch_add(size, Ordering::SeqCst);
            Arc::new(Self { size, tag, live: Arc::clone(live) })
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.live.fetch_sub(self.size, Ordering::SeqCst);
        }
    }

    impl Weighted for Tracked {
        fn size_bytes(&self) -> u64 {
            self.size
        }
    }

    fn config(capacity_bytes: u64, max_object_bytes: u64, admission: AdmissionPolicy) -> MemoryConfig {
        MemoryConfig { capacity_bytes, max_object_bytes, admission, hash_seed: Some(7), ..MemoryConfig::default() }
    }

    fn bytes(size: usize) -> Bytes {
        Bytes::from(vec![1u8; size])
    }

    #[test]
    fn memory_stores_and_returns_objects() {
        let tier = MemoryTier::new(config(1 << 20, 64 * KIB, AdmissionPolicy::default())).unwrap();
        assert_eq!(tier.get("/a/seg1.m4s"), None);
        assert_eq!(tier.insert("/a/seg1.m4s".to_owned(), bytes(1000)), Admission::Stored);
        assert_eq!(tier.get("/a/seg1.m4s").map(|body| body.len()), Some(1000));
        assert_eq!(tier.weighted_bytes(), 1000 + "/a/seg1.m4s".len() as u64 + ENTRY_OVERHEAD_BYTES);
        assert!(tier.remove("/a/seg1.m4s"));
        assert!(!tier.remove("/a/seg1.m4s"));
        assert_eq!(tier.get("/a/seg1.m4s"), None);
        assert_eq!(tier.weighted_bytes(), 0);
        let stats = tier.stats();
        assert_eq!((stats.hits, stats.misses, stats.stored), (1, 2, 1));
        assert_eq!(stats.evicted(EvictionCause::Purged), 1);
    }

    #[test]
    fn memory_refuses_objects_over_the_limit() {
        let tier = MemoryTier::new(config(1 << 20, 64 * KIB, AdmissionPolicy::default())).unwrap();
        let admission = tier.insert("/a/big.m4s".to_owned(), bytes(64 * 1024));
        assert_eq!(admission, Admission::Refused(Refusal::TooLarge));
        assert_eq!(admission.as_str(), "too_large");
        assert_eq!(tier.get("/a/big.m4s"), None);
        assert_eq!(tier.stats().refused(Refusal::TooLarge), 1);
        assert_eq!(tier.weighted_bytes(), 0);
    }

    #[test]
    fn memory_config_problems_are_all_reported() {
        let bad = MemoryConfig {
            capacity_bytes: 100,
            max_object_bytes: 10,
            expected_entries: Some(0),
            ..MemoryConfig::default()
        };
        let error = MemoryTier::<Bytes>::new(bad).unwrap_err();
        assert_eq!(error.problems.len(), 2, "{error}");
        let bad = MemoryConfig { capacity_bytes: 1 << 20, max_object_bytes: 1 << 20, ..MemoryConfig::default() };
        assert_eq!(MemoryTier::<Bytes>::new(bad).unwrap_err().problems.len(), 1);
        assert!(MemoryConfig::default().problems().is_empty());
    }

    #[test]
    fn memory_remove_prefix_purges_one_asset() {
        let purged = Arc::new(StdMutex::new(Vec::new()));
        let seen = Arc::clone(&purged);
        let tier = MemoryTier::with_eviction_listener(
            config(1 << 20, 64 * KIB, AdmissionPolicy::default()),
            move |key: &str, _value: Bytes, cause| seen.lock().unwrap().push((key.to_owned(), cause)),
        )
        .unwrap();
        for asset in ["film1", "film2"] {
            for segment in 0..5 {
                tier.insert(format!("/{asset}/720p/seg{segment}.m4s"), bytes(100));
            }
            tier.insert(format!("/{asset}/master.m3u8"), bytes(10));
        }
        assert_eq!(tier.remove_prefix("/film1/"), 6);
        assert_eq!(tier.remove_prefix("/film1/"), 0);
        assert_eq!(tier.get("/film1/master.m3u8"), None);
        assert!(tier.get("/film2/master.m3u8").is_some());
        tier.run_pending_tasks();
        assert_eq!(tier.entry_count(), 6);
        let purged = purged.lock().unwrap();
        assert_eq!(purged.len(), 6);
        assert!(purged.iter().all(|(key, cause)| key.starts_with("/film1/") && *cause == EvictionCause::Purged));
        let expected: u64 = (0..5).map(|s| 100 + format!("/film2/720p/seg{s}.m4s").len() as u64).sum::<u64>()
            + 10
            + "/film2/master.m3u8".len() as u64
            + 6 * ENTRY_OVERHEAD_BYTES;
        assert_eq!(tier.weighted_bytes(), expected);
    }

    #[test]
    fn memory_listener_sees_capacity_evictions_and_replacements() {
        let removed = Arc::new(StdMutex::new(Vec::new()));
        let seen = Arc::clone(&removed);
        let tier = MemoryTier::with_eviction_listener(
            config(64 * KIB, 8 * KIB, AdmissionPolicy::Lru),
            move |key: &str, value: Bytes, cause| seen.lock().unwrap().push((key.to_owned(), value.len(), cause)),
        )
        .unwrap();
        tier.insert("/a/seg.m4s".to_owned(), bytes(100));
        tier.insert("/a/seg.m4s".to_owned(), bytes(200));
        assert_eq!(tier.get("/a/seg.m4s").map(|body| body.len()), Some(200));
        for i in 0..40 {
            assert!(tier.insert(format!("/b/seg{i}.m4s"), bytes(4000)).is_stored());
        }
        tier.run_pending_tasks();
        let removed = removed.lock().unwrap();
        assert_eq!(removed[0], ("/a/seg.m4s".to_owned(), 100, EvictionCause::Replaced));
        let capacity: Vec<_> = removed.iter().filter(|(_, _, cause)| *cause == EvictionCause::Capacity).collect();
        assert!(capacity.len() >= 40 - 14, "{} capacity evictions", capacity.len());
        let stats = tier.stats();
        assert_eq!(stats.evicted(EvictionCause::Capacity), capacity.len() as u64);
        assert_eq!(stats.evicted(EvictionCause::Replaced), 1);
        assert!(stats.resident_bytes <= 64 * KIB - 8 * KIB);
    }

    /// moka switches its listener off after a panic; the tier's count must not depend on the caller's.
    #[test]
    fn memory_survives_a_panicking_listener() {
        let tier = MemoryTier::with_eviction_listener(
            config(64 * KIB, 8 * KIB, AdmissionPolicy::Lru),
            |_key: &str, _value: Bytes, _cause| panic!("a listener bug"),
        )
        .unwrap();
        for i in 0..100 {
            assert!(tier.insert(format!("/b/seg{i}.m4s"), bytes(4000)).is_stored());
        }
        tier.run_pending_tasks();
        assert_eq!(tier.weighted_bytes(), tier.cache.weighted_size());
        assert!(tier.stats().evicted(EvictionCause::Capacity) >= 80);
    }

    /// The property TinyLFU admission exists for: a burst of one-off requests does not flush what is
    /// popular. Plain LRU loses the popular set.
    #[test]
    fn memory_frequency_gate_resists_a_scan() {
        let popular_hits = |admission| {
            let tier = MemoryTier::new(config(1 << 20, 64 * KIB, admission)).unwrap();
            let popular: Vec<String> = (0..20).map(|i| format!("/hot/seg{i}.m4s")).collect();
            for _ in 0..10 {
                for key in &popular {
                    if tier.get(key).is_none() {
                        tier.insert(key.clone(), bytes(30_000));
                    }
                }
            }
            for i in 0..2_000 {
                let key = format!("/cold/seg{i}.m4s");
                if tier.get(&key).is_none() {
                    tier.insert(key, bytes(30_000));
                }
            }
            popular.iter().filter(|key| tier.get(key).is_some()).count()
        };
        assert!(popular_hits(AdmissionPolicy::FrequencyGate) >= 18);
        assert!(popular_hits(AdmissionPolicy::Lru) <= 2);
    }

    /// Several threads push a workload hundreds of times the budget through a small tier, with purges mixed
    /// in, while a monitor samples the tier's count and the bytes of every value still alive.
    #[test]
    fn memory_budget_holds_under_concurrent_overload() {
        const BUDGET: u64 = 4 << 20;
        const MAX_OBJECT: u64 = 128 * KIB;
        const THREADS: u64 = 4;
        const OPERATIONS: u64 = 40_000;
        const KEYS: u64 = 20_000;
        let live = Arc::new(AtomicU64::new(0));
        let tier = Arc::new(MemoryTier::new(config(BUDGET, MAX_OBJECT, AdmissionPolicy::default())).unwrap());
        let done = Arc::new(AtomicBool::new(false));

        let monitor = {
            let (tier, live, done) = (Arc::clone(&tier), Arc::clone(&live), Arc::clone(&done));
            std::thread::spawn(move || {
                let (mut max_resident, mut max_live, mut max_moka) = (0, 0, 0);
                while !done.load(Ordering::Acquire) {
                    max_resident = max_resident.max(tier.weighted_bytes());
                    max_live = max_live.max(live.load(Ordering::SeqCst));
                    max_moka = max_moka.max(tier.cache.weighted_size());
                    std::thread::yield_now();
                }
                (max_resident, max_live, max_moka)
            })
        };
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (tier, live) = (Arc::clone(&tier), Arc::clone(&live));
                std::thread::spawn(move || {
                    let mut rng = SmallRng::seed_from_u64(thread);
                    for op in 0..OPERATIONS {
                        // Skewed towards low ids, so the gate has something to prefer.
                        let id = rng.random_range(0..KEYS) * rng.random_range(0..KEYS) / KEYS;
                        let key = format!("/asset{}/seg{id}.m4s", id % 50);
                        let size = 1024 + (id * 7919) % (MAX_OBJECT - 2 * KIB);
                        match rng.random_range(0..100) {
                            0..70 => {
                                if tier.get(&key).is_none() {
                                    tier.insert(key, Tracked::new(size, op, &live));
                                }
                            }
                            70..95 => {
                                tier.insert(key, Tracked::new(size, op, &live));
                            }
                            95..99 => {
                                tier.remove(&key);
                            }
                            _ => {
                                tier.remove_prefix(&format!("/asset{}/", id % 50));
                            }
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        done.store(true, Ordering::Release);
        let (max_resident, max_live, max_moka) = monitor.join().unwrap();
        tier.run_pending_tasks();

        let stats = tier.stats();
        println!(
            "budget {BUDGET}: max resident {max_resident}, max live {max_live}, max moka weighted {max_moka}, {stats:?}"
        );
        assert!(max_resident <= BUDGET, "resident count reached {max_resident}");
        assert!(stats.evicted(EvictionCause::Capacity) > 1_000, "the workload must overflow the tier");
        // Every entry is accounted for: the tier's count is moka's and the sum over the map.
        let in_map: u64 = tier.cache.iter().map(|(_, slot)| u64::from(slot.weight)).sum();
        assert_eq!(tier.weighted_bytes(), tier.cache.weighted_size());
        assert_eq!(tier.weighted_bytes(), in_map);
        // Values alive are the ones the tier holds plus what the threads held at that instant: at most a new
        // value each and one they got before it was evicted. Nothing waits for moka's epoch reclamation.
        assert!(max_live <= BUDGET + 2 * THREADS * MAX_OBJECT, "values alive reached {max_live}");
        let held: u64 = tier.cache.iter().filter_map(|(_, slot)| slot.value()).map(|value| value.size).sum();
        drop(tier);
        assert_eq!(live.load(Ordering::SeqCst), 0, "dropping the tier frees every value");
        assert!(held <= BUDGET);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Get(u8),
        Insert(u8, u16),
        Remove(u8),
        RemovePrefix(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..24).prop_map(Op::Get),
            4 => (0u8..24, 1u16..3000).prop_map(|(key, size)| Op::Insert(key, size)),
            1 => (0u8..24).prop_map(Op::Remove),
            1 => (0u8..4).prop_map(Op::RemovePrefix),
        ]
    }

    proptest! {
        /// Against a map of what was last inserted: a get returns that value or nothing (the tier may have
        /// evicted or refused it), never an older value or one that was removed.
        #[test]
        fn memory_get_returns_the_latest_value_or_nothing(ops in proptest::collection::vec(op(), 1..200)) {
            let live = Arc::new(AtomicU64::new(0));
            let tier: MemoryTier<Arc<Tracked>> =
                MemoryTier::new(config(16 * KIB, 4 * KIB, AdmissionPolicy::default())).unwrap();
            let mut model: HashMap<String, u64> = HashMap::new();
            for (tag, op) in ops.into_iter().enumerate() {
                let tag = tag as u64;
                match op {
                    Op::Get(key) => {
                        let key = format!("/a{}/k{key}", key % 4);
                        if let Some(value) = tier.get(&key) {
                            prop_assert_eq!(Some(&value.tag), model.get(&key));
                        }
                    }
                    Op::Insert(key, size) => {
                        let key = format!("/a{}/k{key}", key % 4);
                        let admission = tier.insert(key.clone(), Tracked::new(u64::from(size), tag, &live));
                        if admission.is_stored() {
                            model.insert(key, tag);
                        } else {
                            model.remove(&key);
                        }
                    }
                    Op::Remove(key) => {
                        let key = format!("/a{}/k{key}", key % 4);
                        tier.remove(&key);
                        model.remove(&key);
                    }
                    Op::RemovePrefix(asset) => {
                        let prefix = format!("/a{asset}/");
                        tier.remove_prefix(&prefix);
                        model.retain(|key, _| !key.starts_with(&prefix));
                    }
                }
                prop_assert!(tier.weighted_bytes() <= 16 * KIB);
            }
        }
    }
}

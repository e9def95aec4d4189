//! The memory tier's admission gate: a TinyLFU-style count-min sketch of recent requests, and the rule that
//! decides whether a newcomer is worth the entries it would displace.
//!
//! The sketch is sized for the number of objects the tier is expected to hold
//! ([`MemoryConfig::expected_entries`](crate::memory::MemoryConfig::expected_entries)); a small one forgets
//! too fast to tell moderately popular objects from one-off requests. Once the tier is full, a newcomer is
//! admitted if the sketch says it is requested more often per byte than the entries moka evicted lately, or
//! more than 1.5 times as often as they were (averaged by their bytes).
//!
//! moka's own admission (a newcomer must beat the *summed* frequency of every victim it displaces) cannot be
//! reproduced outside moka, which exposes no eviction order, so the gate compares against the last
//! [`VICTIM_SAMPLE`] entries evicted instead. Other rules were measured and lost on the hit-ratio benchmark
//! (BENCHMARKS.md lists them with their scores).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

/// How many recent capacity evictions the gate compares a newcomer against.
const VICTIM_SAMPLE: usize = 16;
/// How much more often than recent victims (averaged by bytes) a newcomer must be requested to be admitted
/// on popularity alone: 3/2.
const FREQUENCY_MARGIN: (u64, u64) = (3, 2);

/// TinyLFU admission without access to moka's eviction order: the entries moka evicted most recently
/// stand in for the ones a newcomer would displace next.
pub(crate) struct FrequencyGate {
    sketch: FrequencySketch,
    victims: Mutex<VictimSample>,
}

#[derive(Default)]
struct VictimSample {
    /// (key hash, weight), overwritten round-robin.
    recent: Vec<(u64, u64)>,
    next: usize,
}

impl FrequencyGate {
    pub(crate) fn new(entries: u64) -> Self {
        Self { sketch: FrequencySketch::new(entries), victims: Mutex::new(VictimSample::default()) }
    }

    /// Counts a request for the key with this hash, hit or miss.
    pub(crate) fn record_request(&self, hash: u64) {
        self.sketch.increment(hash);
    }

    /// Remembers an entry moka evicted for room.
    pub(crate) fn record_victim(&self, hash: u64, weight: u64) {
        let mut victims = self.victims.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if victims.recent.len() < VICTIM_SAMPLE {
            victims.recent.push((hash, weight));
        } else {
            let next = victims.next;
            victims.recent[next] = (hash, weight);
        }
        victims.next = (victims.next + 1) % VICTIM_SAMPLE;
    }

    /// Whether a newcomer is worth what it would displace, judged against the recent victims' current
    /// frequencies. It must either be requested more often per byte than they were (so a popular manifest
    /// takes a sliver of a segment's room cheaply), or be requested more than 1.5 times as often as they were,
    /// averaged by their bytes (so a popular segment is not kept out because the victims included manifests).
    pub(crate) fn admits(&self, hash: u64, weight: u64) -> bool {
        let victims = self.victims.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if victims.recent.is_empty() {
            return true;
        }
        let (mut frequencies, mut frequency_bytes, mut bytes) = (0u64, 0u64, 0u64);
        for &(victim, victim_weight) in &victims.recent {
            let frequency = u64::from(self.sketch.estimate(victim));
            frequencies += frequency;
            frequency_bytes += frequency * victim_weight;
            bytes += victim_weight;
        }
        drop(victims);
        let frequency = u64::from(self.sketch.estimate(hash));
        let denser = frequency * bytes > frequencies * weight;
        let (numerator, denominator) = FREQUENCY_MARGIN;
        let more_popular = frequency * bytes * denominator > frequency_bytes * numerator;
        denser || more_popular
    }
}

/// A count-min sketch of 4-bit counters (four per key, in four rows), halved every `sample_size` counted
/// requests so that it follows changes in popularity. Lock-free: counters are nibbles of atomic words.
struct FrequencySketch {
    words: Box<[AtomicU64]>,
    mask: u64,
    sample_size: u32,
    additions: AtomicU32,
}

impl FrequencySketch {
    /// A sketch for about `entries` distinct popular keys: one 64-bit word (16 counters) per entry.
    fn new(entries: u64) -> Self {
        let len = entries.next_power_of_two();
        let words = (0..len).map(|_| AtomicU64::new(0)).collect();
        let sample_size = u32::try_from(len.saturating_mul(10)).unwrap_or(u32::MAX);
        Self { words, mask: len - 1, sample_size, additions: AtomicU32::new(0) }
    }

    /// The word and bit offset of the key's counter in row `row`.
    fn slot(&self, hash: u64, row: u32) -> (usize, u32) {
        const SEEDS: [u64; 4] =
            [0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f, 0x1656_67b1_9e37_79f9, 0x85eb_ca77_c2b2_ae63];
        let mut mixed = (hash ^ SEEDS[row as usize]).wrapping_mul(0xff51_afd7_ed55_8ccd);
        mixed ^= mixed >> 33;
        // Four rows share each word: row r uses nibbles 4r..4r+3, picked by the top bits.
        let nibble = row * 4 + (mixed >> 62) as u32;
        ((mixed & self.mask) as usize, nibble * 4)
    }

    fn estimate(&self, hash: u64) -> u8 {
        (0..4)
            .map(|row| {
                let (index, shift) = self.slot(hash, row);
                ((self.words[index].load(Ordering::Relaxed) >> shift) & 0xf) as u8
            })
            .min()
            .unwrap_or(0)
    }

    fn increment(&self, hash: u64) {
        let mut added = false;
        for row in 0..4 {
            let (index, shift) = self.slot(hash, row);
            let word = &self.words[index];
            let mut current = word.load(Ordering::Relaxed);
            while (current >> shift) & 0xf != 0xf {
                match word.compare_exchange_weak(current, current + (1 << shift), Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => {
                        added = true;
                        break;
                    }
                    Err(actual) => current = actual,
                }
            }
        }
        if added && self.additions.fetch_add(1, Ordering::Relaxed) + 1 == self.sample_size {
            self.age();
        }
    }

    /// Halves every counter. Increments racing with it may be lost, which a sketch can afford.
    fn age(&self) {
        for word in self.words.iter() {
            let _ = word
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |value| Some((value >> 1) & 0x7777_7777_7777_7777));
        }
        self.additions.store(self.sample_size / 2, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sketch_counts_and_ages() {
        let sketch = FrequencySketch::new(64);
        for _ in 0..5 {
            sketch.increment(42);
        }
        assert_eq!(sketch.estimate(42), 5);
        assert!(sketch.estimate(43) <= 1);
        for _ in 0..20 {
            sketch.increment(42);
        }
        assert_eq!(sketch.estimate(42), 15, "counters saturate at 15");
        // Other keys until the sketch has counted `sample_size` additions and halved everything.
        let mut key = 1000;
        let mut previous = sketch.additions.load(Ordering::Relaxed);
        loop {
            sketch.increment(key);
            key += 1;
            let additions = sketch.additions.load(Ordering::Relaxed);
            if additions < previous {
                break;
            }
            previous = additions;
        }
        assert_eq!(sketch.estimate(42), 7, "15 halved");
    }
}

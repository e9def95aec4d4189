//! Hit ratio of the memory tier ([`marquee_edge_cache::memory::MemoryTier`], the production type and policy)
//! against a plain LRU (the `lru` crate) of the same byte budget, on Zipf-distributed requests for a
//! video-like catalogue.
//!
//! Workload: N objects, 90% of them 0.5–2.5 MB segments and 10% 1–4 KB manifests, sizes independent of
//! popularity; 2,000,000 requests drawn from Zipf(N, α), only the second half counted; a miss inserts the
//! object. Budgets are 1%, 5% and 10% of the catalogue's bytes, and both caches weigh an entry the same way
//! (body, key and `ENTRY_OVERHEAD_BYTES`). Seeds are fixed, so runs repeat. "ceiling" is the best fixed
//! contents chosen with hindsight from the counted requests (by hits per byte for objects, by hits for bytes).
//!
//! ```text
//! cargo bench -p marquee-edge-cache --bench hit_ratio -- [--quick] [--policy NAME|all] [--requests N]
//! ```
//!
//! `--quick`: only α = 1.0 at 1% and 5%. `--policy all`: every `AdmissionPolicy`, one row each (names from
//! `AdmissionPolicy::as_str`). Before the table, a peak-RSS check: one thread, then four, fill a 256 MiB tier
//! with real buffers from a ~5.4 GB catalogue; the process's RSS should grow by at most the budget plus 64 MiB.
//! With glibc's malloc and several threads it does not: freed multi-megabyte bodies stay in per-thread heaps
//! (malloc raises its mmap threshold after the first frees). `MALLOC_MMAP_THRESHOLD_=131072` in the
//! environment shows what the tier itself holds (`benches/edge-hit-ratio.sh --mmap-threshold`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;
use marquee_edge_cache::memory::{
    AdmissionPolicy, EvictionCause, MemoryConfig, MemoryTier, Weighted, ENTRY_OVERHEAD_BYTES,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};

const CATALOGUE_SEED: u64 = 0x6d61_7271_7565_6501;
const REQUEST_SEED: u64 = 0x6d61_7271_7565_6502;
const HASH_SEED: u64 = 0x6d61_7271_7565_6503;
const DEFAULT_REQUESTS: usize = 2_000_000;
/// Largest object in the catalogue, plus room for its key and the per-entry overhead.
const MAX_OBJECT_BYTES: u64 = 2_600_000;
const RSS_BUDGET_BYTES: u64 = 256 << 20;
const RSS_ALLOWANCE_BYTES: u64 = 64 << 20;
const RSS_REQUESTS: usize = 100_000;
const MIB: f64 = 1024.0 * 1024.0;

struct Options {
    quick: bool,
    policies: Vec<AdmissionPolicy>,
    requests: usize,
    /// Run only the peak-RSS check, with this many threads (what the parent runs in children).
    rss_child: Option<usize>,
    /// `cargo bench` passes `--bench`; without it (`cargo test --benches`, a debug build) the benchmark only
    /// checks that it runs: a few thousand requests per cell, no RSS check.
    bench: bool,
}

fn main() {
    let options = parse_options();
    if let Some(threads) = options.rss_child {
        rss_check(threads);
        return;
    }
    // Each in a fresh process: the peak-RSS mark and what malloc keeps are per process.
    for threads in [1, 4].into_iter().filter(|_| options.bench) {
        let child = std::process::Command::new(std::env::current_exe().expect("this benchmark's path"))
            .args(["--rss-child", &threads.to_string()])
            .output()
            .expect("the benchmark can run itself");
        print!("{}", String::from_utf8_lossy(&child.stdout));
    }
    println!();
    let cells: Vec<(usize, f64, u32)> = if options.quick || !options.bench {
        [10_000, 100_000].into_iter().flat_map(|n| [(n, 1.0, 1), (n, 1.0, 5)]).collect()
    } else {
        [10_000, 100_000]
            .into_iter()
            .flat_map(|n| [0.8, 1.0].into_iter().flat_map(move |alpha| [1, 5, 10].map(|pct| (n, alpha, pct))))
            .collect()
    };

    println!(
        "| N | α | budget | policy | lru obj % | lru byte % | marquee obj % | marquee byte % | Δ obj pp | Δ byte pp \
         | ceiling obj/byte % | lru ms/M req | marquee ms/M req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut current: Option<(usize, f64, Catalogue, Vec<u32>)> = None;
    for (n, alpha, pct) in cells {
        if current.as_ref().is_none_or(|(cn, ca, ..)| *cn != n || *ca != alpha) {
            let catalogue = current.take().filter(|(cn, ..)| *cn == n).map(|(_, _, c, _)| c);
            let catalogue = catalogue.unwrap_or_else(|| Catalogue::new(n));
            let requests = zipf_requests(n, alpha, if options.bench { options.requests } else { 20_000 });
            current = Some((n, alpha, catalogue, requests));
        }
        let (_, _, catalogue, requests) = current.as_ref().expect("set above");
        let budget = catalogue.total_bytes * u64::from(pct) / 100;
        let lru = replay_lru(catalogue, requests, budget);
        let ceiling = ceiling(catalogue, requests, budget);
        for &policy in &options.policies {
            let tier = replay_tier(catalogue, requests, budget, policy);
            println!(
                "| {}k | {alpha:.1} | {pct}% | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} | {:+.1} | {:.1}/{:.1} | {:.0} | {:.0} |",
                n / 1000,
                policy.as_str(),
                lru.object_pct(),
                lru.byte_pct(),
                tier.object_pct(),
                tier.byte_pct(),
                tier.object_pct() - lru.object_pct(),
                tier.byte_pct() - lru.byte_pct(),
                ceiling.object_pct(),
                ceiling.byte_pct(),
                lru.ms_per_million(requests.len()),
                tier.ms_per_million(requests.len()),
            );
        }
    }
}

fn parse_options() -> Options {
    let mut options = Options {
        quick: false,
        policies: vec![AdmissionPolicy::default()],
        requests: DEFAULT_REQUESTS,
        rss_child: None,
        bench: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--policy" => {
                let name = args.next().unwrap_or_default();
                options.policies = if name == "all" {
                    AdmissionPolicy::ALL.to_vec()
                } else {
                    let policy = AdmissionPolicy::ALL.into_iter().find(|policy| policy.as_str() == name);
                    vec![policy.unwrap_or_else(|| panic!("unknown policy {name:?}"))]
                };
            }
            "--rss-child" => {
                options.rss_child = args.next().and_then(|count| count.parse().ok());
            }
            "--requests" => {
                options.requests = args.next().and_then(|count| count.parse().ok()).expect("--requests COUNT");
            }
            "--bench" => options.bench = true,
            // Filters and other harness flags do not apply here.
            _ => {}
        }
    }
    options
}

/// Object sizes and keys. Sizes are drawn independently of popularity rank.
struct Catalogue {
    keys: Vec<String>,
    sizes: Vec<u32>,
    total_bytes: u64,
}

impl Catalogue {
    fn new(n: usize) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(CATALOGUE_SEED ^ n as u64);
        let mut keys = Vec::with_capacity(n);
        let mut sizes = Vec::with_capacity(n);
        for id in 0..n {
            let (key, size) = if rng.random_bool(0.9) {
                (
                    format!("/v/asset{:05}/1080p/seg_{:05}.m4s", id / 512, id % 512),
                    rng.random_range(500_000..=2_500_000),
                )
            } else {
                (format!("/v/asset{:05}/1080p/index_{:05}.m3u8", id / 512, id % 512), rng.random_range(1_000..=4_000))
            };
            keys.push(key);
            sizes.push(size);
        }
        let total_bytes = sizes.iter().map(|&size| u64::from(size)).sum();
        Self { keys, sizes, total_bytes }
    }

    /// What an entry costs in either cache's budget.
    fn weight(&self, id: usize) -> u64 {
        u64::from(self.sizes[id]) + self.keys[id].len() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

fn zipf_requests(n: usize, alpha: f64, count: usize) -> Vec<u32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(REQUEST_SEED ^ n as u64 ^ alpha.to_bits());
    let zipf = Zipf::new(n as f64, alpha).expect("valid Zipf parameters");
    (0..count).map(|_| zipf.sample(&mut rng) as u32 - 1).collect()
}

#[derive(Default)]
struct Outcome {
    hits: u64,
    counted: u64,
    hit_bytes: u64,
    requested_bytes: u64,
    elapsed: Duration,
}

impl Outcome {
    fn record(&mut self, hit: bool, size: u32) {
        self.counted += 1;
        self.requested_bytes += u64::from(size);
        if hit {
            self.hits += 1;
            self.hit_bytes += u64::from(size);
        }
    }

    fn object_pct(&self) -> f64 {
        100.0 * self.hits as f64 / self.counted.max(1) as f64
    }

    fn byte_pct(&self) -> f64 {
        100.0 * self.hit_bytes as f64 / self.requested_bytes.max(1) as f64
    }

    fn ms_per_million(&self, requests: usize) -> f64 {
        self.elapsed.as_secs_f64() * 1e3 * 1e6 / requests as f64
    }
}

/// A body that only knows its size: the policy is what is measured, not copying.
#[derive(Clone)]
struct Body(u32);

impl Weighted for Body {
    fn size_bytes(&self) -> u64 {
        u64::from(self.0)
    }
}

fn replay_tier(catalogue: &Catalogue, requests: &[u32], budget: u64, policy: AdmissionPolicy) -> Outcome {
    let config = MemoryConfig {
        capacity_bytes: budget,
        max_object_bytes: MAX_OBJECT_BYTES,
        admission: policy,
        hash_seed: Some(HASH_SEED),
        ..MemoryConfig::default()
    };
    let tier = MemoryTier::new(config).expect("valid benchmark configuration");
    let warmup = requests.len() / 2;
    let mut outcome = Outcome::default();
    let started = Instant::now();
    for (i, &id) in requests.iter().enumerate() {
        let id = id as usize;
        let key = &catalogue.keys[id];
        let hit = tier.get(key).is_some();
        if !hit {
            tier.insert(key.clone(), Body(catalogue.sizes[id]));
        }
        if i >= warmup {
            outcome.record(hit, catalogue.sizes[id]);
        }
    }
    outcome.elapsed = started.elapsed();
    assert!(tier.weighted_bytes() <= budget, "the tier went over its budget");
    outcome
}

fn replay_lru(catalogue: &Catalogue, requests: &[u32], budget: u64) -> Outcome {
    let mut cache: LruCache<String, u64> = LruCache::unbounded();
    let mut used = 0u64;
    let warmup = requests.len() / 2;
    let mut outcome = Outcome::default();
    let started = Instant::now();
    for (i, &id) in requests.iter().enumerate() {
        let id = id as usize;
        let key = &catalogue.keys[id];
        let hit = cache.get(key.as_str()).is_some();
        if !hit {
            let weight = catalogue.weight(id);
            while used + weight > budget {
                let Some((_, evicted)) = cache.pop_lru() else { break };
                used -= evicted;
            }
            if used + weight <= budget {
                cache.put(key.clone(), weight);
                used += weight;
            }
        }
        if i >= warmup {
            outcome.record(hit, catalogue.sizes[id]);
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// The best fixed contents with hindsight: greedy by hits per byte (objects) and by hits (bytes).
fn ceiling(catalogue: &Catalogue, requests: &[u32], budget: u64) -> Outcome {
    let counted = &requests[requests.len() / 2..];
    let mut counts = vec![0u64; catalogue.sizes.len()];
    for &id in counted {
        counts[id as usize] += 1;
    }
    let fill = |order: &[usize]| {
        let mut used = 0;
        let mut chosen = vec![false; counts.len()];
        for &id in order {
            let weight = catalogue.weight(id);
            if counts[id] > 0 && used + weight <= budget {
                used += weight;
                chosen[id] = true;
            }
        }
        chosen
    };
    let mut by_density: Vec<usize> = (0..counts.len()).collect();
    by_density.sort_by(|&a, &b| {
        let (da, db) = (counts[a] as f64 / catalogue.weight(a) as f64, counts[b] as f64 / catalogue.weight(b) as f64);
        db.total_cmp(&da)
    });
    let mut by_count: Vec<usize> = (0..counts.len()).collect();
    by_count.sort_by_key(|&id| std::cmp::Reverse(counts[id]));
    let (for_objects, for_bytes) = (fill(&by_density), fill(&by_count));

    let mut objects = Outcome::default();
    let mut bytes = Outcome::default();
    for &id in counted {
        objects.record(for_objects[id as usize], catalogue.sizes[id as usize]);
        bytes.record(for_bytes[id as usize], catalogue.sizes[id as usize]);
    }
    Outcome { hits: objects.hits, counted: objects.counted, ..bytes }
}

/// Peak RSS while the tier holds real buffers: a 256 MiB budget, 4,000 objects (~5.4 GB) at α = 1.0,
/// `threads` threads sharing 100,000 requests, each miss allocating its body as the server would.
fn rss_check(threads: usize) {
    let catalogue = Catalogue::new(4_000);
    let requests = zipf_requests(catalogue.sizes.len(), 1.0, RSS_REQUESTS);
    let config = MemoryConfig {
        capacity_bytes: RSS_BUDGET_BYTES,
        max_object_bytes: MAX_OBJECT_BYTES,
        hash_seed: Some(HASH_SEED),
        ..MemoryConfig::default()
    };
    let tier: MemoryTier<Bytes> = MemoryTier::new(config).expect("valid benchmark configuration");
    let Some(before) = reset_peak_rss() else {
        println!("peak RSS: not measured (no /proc/self/status)");
        return;
    };
    let started = Instant::now();
    std::thread::scope(|scope| {
        for share in requests.chunks(requests.len().div_ceil(threads)) {
            let (tier, catalogue) = (&tier, &catalogue);
            scope.spawn(move || {
                for &id in share {
                    let id = id as usize;
                    let key = &catalogue.keys[id];
                    if tier.get(key).is_none() {
                        let body = Bytes::from(vec![id as u8 | 1; catalogue.sizes[id] as usize]);
                        tier.insert(key.clone(), body);
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let peak = rss_bytes("VmHWM:").unwrap_or(before);
    let growth = peak.saturating_sub(before);
    let limit = RSS_BUDGET_BYTES + RSS_ALLOWANCE_BYTES;
    let verdict = if growth <= limit { "within" } else { "OVER" };
    let stats = tier.stats();
    println!(
        "peak RSS, {threads} thread(s): grew {:.1} MiB (from {:.1} MiB) for a {} MiB tier, {verdict} the {} MiB \
         limit (tier + 64 MiB); {} requests in {:.2} s, {} stored, {} evicted",
        growth as f64 / MIB,
        before as f64 / MIB,
        RSS_BUDGET_BYTES >> 20,
        limit >> 20,
        requests.len(),
        elapsed.as_secs_f64(),
        stats.stored,
        stats.evicted(EvictionCause::Capacity),
    );
}

/// Resets the kernel's peak-RSS mark (where it lets us) and returns the RSS now, the baseline for the peak.
fn reset_peak_rss() -> Option<u64> {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    rss_bytes(if reset { "VmRSS:" } else { "VmHWM:" })
}

/// A size line of /proc/self/status (`VmRSS:`, `VmHWM:`), in bytes.
fn rss_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

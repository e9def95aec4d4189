//! Which upstream owns a key: rendezvous (highest random weight) hashing with xxh3.
//!
//! Every node gets a score for a key, `xxh3_64(key)` seeded with `xxh3_64(node id)`; nodes in falling score
//! order are the owner first, then the failover order. The scores depend only on the bytes of the key and of
//! the node ids (xxh3 is a fixed, specified function, not `std`'s `Hash`), so every edge in a fleet, whatever
//! its build, Rust version or the order of its configured nodes, sends a key to the same shield, and that
//! shield's cache serves the whole fleet. Removing a node moves only the keys it owned, each to its own
//! runner-up; adding one takes about `1/n` of the keys, all from different owners.
//!
//! Nodes may carry integer weights ([`Rendezvous::weighted`]): a node of weight 2 owns about twice the keys
//! of a node of weight 1 (the logarithmic method: score `weight / -ln(u)`, `u` the hash in (0, 1)). Weighted
//! scores use floating point `ln`, which may differ in the last bit between C libraries; when every weight is
//! equal the order is computed from the integer hashes alone and is exact everywhere.

use std::cmp::Ordering;

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Weight of a node given without one.
pub const DEFAULT_WEIGHT: u32 = 1;

/// Why a node list is unusable (an operator's configuration mistake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashingError {
    /// A node id is empty.
    #[error("a node id is empty")]
    EmptyId,
    /// The same node id is listed twice.
    #[error("node {id:?} is listed more than once")]
    DuplicateNode {
        /// The repeated id.
        id: String,
    },
    /// A weight of zero: the node would never own a key.
    #[error("node {id:?} has weight 0; remove it instead")]
    ZeroWeight {
        /// The node's id.
        id: String,
    },
}

impl HashingError {
    /// Short, stable snake_case label for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            HashingError::EmptyId => "empty_id",
            HashingError::DuplicateNode { .. } => "duplicate_node",
            HashingError::ZeroWeight { .. } => "zero_weight",
        }
    }
}

/// The order of `nodes` (indices into the slice) for `key`: owner first, then failover order. Unweighted;
/// the same order as [`Rendezvous::new`] over the same ids gives. Empty for no nodes.
///
/// ```
/// let shields = ["http://10.0.0.5:8080", "http://10.0.0.6:8080", "http://10.0.0.7:8080"];
/// let order = marquee_edge_cache::hashing::rank("film/video_720p/seg_00003.m4s", &shields);
/// assert_eq!(order.len(), 3);
/// ```
pub fn rank<S: AsRef<str>>(key: &str, nodes: &[S]) -> Vec<usize> {
    let ids: Vec<&str> = nodes.iter().map(AsRef::as_ref).collect();
    let seeds: Vec<u64> = ids.iter().map(|id| node_seed(id)).collect();
    let mut scored: Vec<(u64, usize)> = seeds.iter().map(|&seed| score(key, seed)).zip(0..).collect();
    scored.sort_by(|a, b| by_score(*a, *b, &ids));
    scored.into_iter().map(|(_, index)| index).collect()
}

/// The owner of `key` among `nodes` (the first of [`rank`]), without sorting; `None` for no nodes.
pub fn owner<S: AsRef<str>>(key: &str, nodes: &[S]) -> Option<usize> {
    let ids: Vec<&str> = nodes.iter().map(AsRef::as_ref).collect();
    let scored = ids.iter().map(|id| score(key, node_seed(id))).zip(0..);
    scored.min_by(|a, b| by_score(*a, *b, &ids)).map(|(_, index)| index)
}

/// A fixed set of upstream nodes with their hash seeds computed once, optionally weighted.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendezvous {
    nodes: Vec<Node>,
    /// Every weight is the same: rank by integer hash alone.
    uniform: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    id: String,
    seed: u64,
    weight: f64,
}

impl Rendezvous {
    /// Unweighted nodes, identified by strings such as `http://10.0.0.5:8080`. Ids must be non-empty and
    /// unique. No nodes is allowed (every rank is empty).
    pub fn new<I, S>(ids: I) -> Result<Self, HashingError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::weighted(ids.into_iter().map(|id| (id, DEFAULT_WEIGHT)))
    }

    /// Weighted nodes: `(id, weight)`, weight at least 1. A node's share of keys is its weight over the sum.
    pub fn weighted<I, S>(nodes: I) -> Result<Self, HashingError>
    where
        I: IntoIterator<Item = (S, u32)>,
        S: Into<String>,
    {
        let mut list: Vec<Node> = Vec::new();
        for (id, weight) in nodes {
            let id = id.into();
            if id.is_empty() {
                return Err(HashingError::EmptyId);
            }
            if weight == 0 {
                return Err(HashingError::ZeroWeight { id });
            }
            if list.iter().any(|node| node.id == id) {
                return Err(HashingError::DuplicateNode { id });
            }
            list.push(Node { seed: node_seed(&id), id, weight: f64::from(weight) });
        }
        let uniform = list.windows(2).all(|pair| pair[0].weight == pair[1].weight);
        Ok(Self { nodes: list, uniform })
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The id of node `index`, as given.
    pub fn id(&self, index: usize) -> Option<&str> {
        self.nodes.get(index).map(|node| node.id.as_str())
    }

    /// The ids, in the order given.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.nodes.iter().map(|node| node.id.as_str())
    }

    /// The order of the nodes (indices, as given) for `key`: owner first, then failover order.
    pub fn rank(&self, key: &str) -> Vec<usize> {
        let mut scored: Vec<NodeScore> = (0..self.nodes.len()).map(|index| self.score(key, index)).collect();
        scored.sort_by(|a, b| self.compare(a, b));
        scored.into_iter().map(|s| s.index).collect()
    }

    /// The owner of `key` (the first of [`Rendezvous::rank`]), without sorting; `None` for no nodes.
    pub fn owner(&self, key: &str) -> Option<usize> {
        (0..self.nodes.len()).map(|index| self.score(key, index)).min_by(|a, b| self.compare(a, b)).map(|s| s.index)
    }

    fn score(&self, key: &str, index: usize) -> NodeScore {
        let node = &self.nodes[index];
        let hash = score(key, node.seed);
        let weighted = if self.uniform { 0.0 } else { weighted_score(hash, node.weight) };
        NodeScore { hash, weighted, index }
    }

    /// Highest weighted score first (when weights differ), then highest hash, then smallest id.
    fn compare(&self, a: &NodeScore, b: &NodeScore) -> Ordering {
        b.weighted
            .total_cmp(&a.weighted)
            .then_with(|| b.hash.cmp(&a.hash).then_with(|| self.nodes[a.index].id.cmp(&self.nodes[b.index].id)))
    }
}

#[derive(Debug, Clone, Copy)]
struct NodeScore {
    hash: u64,
    weighted: f64,
    index: usize,
}

/// A node's seed: the xxh3 of its id.
fn node_seed(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

/// A key's score on a node.
fn score(key: &str, seed: u64) -> u64 {
    xxh3_64_with_seed(key.as_bytes(), seed)
}

/// Highest score first; equal scores (equal ids, or a 64-bit collision) by id, then by position.
fn by_score(a: (u64, usize), b: (u64, usize), ids: &[&str]) -> Ordering {
    b.0.cmp(&a.0).then_with(|| ids[a.1].cmp(ids[b.1])).then_with(|| a.1.cmp(&b.1))
}

/// `weight / -ln(u)` with `u` the top 53 bits of `hash` mapped into the open interval (0, 1): the node with
/// the largest value wins with probability proportional to its weight.
fn weighted_score(hash: u64, weight: f64) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let unit = ((hash >> 11) as f64 + 0.5) * SCALE;
    weight / -unit.ln()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SHIELDS: [&str; 5] = [
        "http://10.0.0.1:8080",
        "http://10.0.0.2:8080",
        "http://10.0.0.3:8080",
        "http://10.0.0.4:8080",
        "http://10.0.0.5:8080",
    ];

    fn segment_key(i: usize) -> String {
        format!("film{}/video_720p/seg_{:05}.m4s", i % 97, i)
    }

    const PINNED_SEED: u64 = 5_101_054_556_108_270_888;
    const PINNED_RANK_A: [usize; 5] = [1, 3, 0, 4, 2];
    const PINNED_RANK_B: [usize; 5] = [0, 3, 2, 1, 4];

    #[test]
    fn ranks_are_pinned() {
        // If this changes, fleets running different builds disagree about owners: never update it lightly.
        // The values were cross-checked with the reference C xxHash (python-xxhash 4.1.0), seeding
        // `xxh3_64(key, seed = xxh3_64(id))` and sorting by falling score.
        assert_eq!(node_seed("http://10.0.0.1:8080"), PINNED_SEED);
        assert_eq!(rank("film/video_720p/seg_00003.m4s", &SHIELDS), PINNED_RANK_A);
        assert_eq!(rank("film/master.m3u8", &SHIELDS), PINNED_RANK_B);
    }

    #[test]
    fn rank_is_a_permutation_and_agrees_with_owner() {
        let ring = Rendezvous::new(SHIELDS).unwrap();
        for i in 0..500 {
            let key = segment_key(i);
            let order = rank(&key, &SHIELDS);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3, 4]);
            assert_eq!(owner(&key, &SHIELDS), Some(order[0]));
            assert_eq!(ring.rank(&key), order);
            assert_eq!(ring.owner(&key), Some(order[0]));
        }
        assert!(rank::<&str>("k", &[]).is_empty());
        assert_eq!(owner::<&str>("k", &[]), None);
        assert_eq!(Rendezvous::new(Vec::<String>::new()).unwrap().owner("k"), None);
    }

    #[test]
    fn order_of_configuration_does_not_matter() {
        let mut reversed = SHIELDS;
        reversed.reverse();
        for i in 0..500 {
            let key = segment_key(i);
            let ids =
                |order: Vec<usize>, nodes: &[&str]| order.into_iter().map(|n| nodes[n].to_owned()).collect::<Vec<_>>();
            assert_eq!(ids(rank(&key, &SHIELDS), &SHIELDS), ids(rank(&key, &reversed), &reversed));
        }
    }

    #[test]
    fn keys_spread_evenly() {
        let keys = 20_000;
        let mut owned = [0usize; 5];
        for i in 0..keys {
            owned[owner(&segment_key(i), &SHIELDS).unwrap()] += 1;
        }
        let mean = keys / SHIELDS.len();
        for count in owned {
            assert!(count.abs_diff(mean) < mean / 10, "{owned:?}");
        }
    }

    #[test]
    fn weights_set_shares() {
        let ring = Rendezvous::weighted([("a", 1), ("b", 2), ("c", 1)]).unwrap();
        let keys = 20_000;
        let mut owned = [0usize; 3];
        for i in 0..keys {
            owned[ring.owner(&segment_key(i)).unwrap()] += 1;
        }
        assert!(owned[1].abs_diff(keys / 2) < keys / 40, "{owned:?}");
        assert!(owned[0].abs_diff(keys / 4) < keys / 40, "{owned:?}");
        // Equal weights rank exactly like no weights.
        let equal = Rendezvous::weighted(SHIELDS.map(|id| (id, 7))).unwrap();
        for i in 0..200 {
            assert_eq!(equal.rank(&segment_key(i)), rank(&segment_key(i), &SHIELDS));
        }
    }

    #[test]
    fn bad_node_lists() {
        assert_eq!(Rendezvous::new(["a", ""]), Err(HashingError::EmptyId));
        assert_eq!(Rendezvous::new(["a", "b", "a"]), Err(HashingError::DuplicateNode { id: "a".into() }));
        assert_eq!(Rendezvous::weighted([("a", 0)]).unwrap_err().as_str(), "zero_weight");
        let ring = Rendezvous::new(["x", "y"]).unwrap();
        assert_eq!((ring.len(), ring.id(1), ring.id(2)), (2, Some("y"), None));
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn duplicate_ids_in_a_plain_slice_keep_their_positions() {
        let order = rank("k", &["a", "a", "b"]);
        let a_positions: Vec<usize> = order.iter().copied().filter(|&n| n < 2).collect();
        assert_eq!(a_positions, [0, 1]);
    }

    fn node_ids() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::hash_set("[a-z0-9.:/]{1,12}", 2..9).prop_map(|set| set.into_iter().collect())
    }

    proptest! {
        #[test]
        fn removing_a_node_moves_only_its_keys(ids in node_ids(), removed in any::<prop::sample::Index>(), keys in proptest::collection::vec(".{0,40}", 1..40)) {
            let removed = removed.index(ids.len());
            let rest: Vec<String> = ids.iter().enumerate().filter(|(n, _)| *n != removed).map(|(_, id)| id.clone()).collect();
            for key in &keys {
                let before: Vec<&str> = rank(key, &ids).into_iter().filter(|&n| n != removed).map(|n| ids[n].as_str()).collect();
                let after: Vec<&str> = rank(key, &rest).into_iter().map(|n| rest[n].as_str()).collect();
                // The failover order of the others is untouched, so only the removed node's keys change owner.
                prop_assert_eq!(before, after);
            }
        }

        #[test]
        fn adding_a_node_only_takes_keys(ids in node_ids(), keys in proptest::collection::vec(".{0,40}", 1..40)) {
            let (new, old) = ids.split_last().unwrap();
            for key in &keys {
                let before = &old[owner(key, old).unwrap()];
                let after = &ids[owner(key, &ids).unwrap()];
                prop_assert!(after == before || after == new);
            }
        }

        #[test]
        fn weighted_removal_is_stable_too(weights in proptest::collection::vec(1u32..5, 3..7), key in ".{0,40}") {
            let nodes: Vec<(String, u32)> = weights.iter().enumerate().map(|(n, &w)| (format!("node{n}"), w)).collect();
            let full = Rendezvous::weighted(nodes.clone()).unwrap();
            let less = Rendezvous::weighted(nodes[1..].to_vec()).unwrap();
            let before: Vec<&str> = full.rank(&key).into_iter().filter(|&n| n != 0).map(|n| full.id(n).unwrap()).collect();
            let after: Vec<&str> = less.rank(&key).into_iter().map(|n| less.id(n).unwrap()).collect();
            prop_assert_eq!(before, after);
        }

        #[test]
        fn deterministic(ids in node_ids(), key in any::<String>()) {
            prop_assert_eq!(rank(&key, &ids), rank(&key, &ids));
            prop_assert_eq!(Rendezvous::new(ids.clone()).unwrap().rank(&key), rank(&key, &ids));
        }
    }
}

//! Which queued job a worker gets, as pure functions: encoder routing (a job that asks for a hardware encoder
//! goes only to a worker that has it, or to an x264 worker when its preset allows the fallback) and fair
//! order (round-robin by owner, then age). The claim's SQL in `store.rs` implements exactly these rules;
//! [`choose`] is the model the tests compare it with.
//!
//! Fairness by rounds: every job gets a round when it is enqueued, one past its owner's latest job still
//! queued or running, but never below the queue's current round (the lowest queued one). Claims take the
//! lowest round, then the oldest job. So an owner's fiftieth job waits for every other owner's first, and an
//! owner who shows up late starts in the round being served, not behind everyone's backlog. The order is an
//! index scan in SQL (`jobs_claim`), with no per-claim bookkeeping.

use std::fmt;
use std::str::FromStr;

/// An H.264 encoder family a worker may have (the `marquee encoders` families).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoder {
    X264,
    Nvenc,
    Vaapi,
    Qsv,
}

impl Encoder {
    pub const ALL: [Encoder; 4] = [Encoder::X264, Encoder::Nvenc, Encoder::Vaapi, Encoder::Qsv];

    /// The name in the database, the API and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoder::X264 => "x264",
            Encoder::Nvenc => "nvenc",
            Encoder::Vaapi => "vaapi",
            Encoder::Qsv => "qsv",
        }
    }

    pub fn is_hardware(self) -> bool {
        self != Encoder::X264
    }
}

impl fmt::Display for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Encoder::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoder {0:?}: expected x264, nvenc, vaapi or qsv")]
pub struct UnknownEncoder(pub String);

impl FromStr for Encoder {
    type Err = UnknownEncoder;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Encoder::ALL.into_iter().find(|e| e.as_str() == name).ok_or_else(|| UnknownEncoder(name.to_string()))
    }
}

/// The encoder a job's preset asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncoderNeed {
    /// `None`: any worker's encoder will do.
    pub encoder: Option<Encoder>,
    /// Whether an x264 worker may run it when no worker has `encoder`.
    pub x264_fallback: bool,
}

impl EncoderNeed {
    pub const ANY: EncoderNeed = EncoderNeed { encoder: None, x264_fallback: false };

    pub fn exactly(encoder: Encoder) -> Self {
        Self { encoder: Some(encoder), x264_fallback: false }
    }

    pub fn or_x264(encoder: Encoder) -> Self {
        Self { encoder: Some(encoder), x264_fallback: true }
    }

    /// The `fallback_encoder` column: the encoder a worker may use instead, if any.
    pub fn fallback(self) -> Option<Encoder> {
        (self.x264_fallback && self.encoder.is_some_and(|e| e != Encoder::X264)).then_some(Encoder::X264)
    }

    /// Whether a worker that has `offered` may run a job with this need.
    pub fn met_by(self, offered: &[Encoder]) -> bool {
        match self.encoder {
            None => true,
            Some(wanted) => offered.contains(&wanted) || self.fallback().is_some_and(|f| offered.contains(&f)),
        }
    }
}

/// The round a new job of an owner gets: one past the owner's latest queued or running job, never below the
/// queue's current round.
pub fn enqueue_round(owner_latest: Option<i64>, floor: i64) -> i64 {
    owner_latest.map_or(floor, |latest| latest.saturating_add(1).max(floor))
}

/// The round being served: the lowest queued one; with nothing queued, the highest running one (a newcomer
/// then goes after the jobs being worked on, not before their owners' next); with nothing at all, 0.
pub fn queue_floor(lowest_queued: Option<i64>, highest_running: Option<i64>) -> i64 {
    lowest_queued.or(highest_running).unwrap_or(0)
}

/// What the choice needs to know about a queued job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub owner_id: String,
    pub kind: String,
    pub need: EncoderNeed,
    pub fair_round: i64,
    pub created_at: i64,
    pub run_after: i64,
}

impl Candidate {
    /// The claim order: round, then age, then id (ids are uuid v7, so creation order again).
    pub fn order_key(&self) -> (i64, i64, &str) {
        (self.fair_round, self.created_at, &self.id)
    }
}

/// What a claiming worker can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer<'a> {
    pub kinds: &'a [&'a str],
    pub encoders: &'a [Encoder],
    pub now: i64,
}

impl Offer<'_> {
    /// Whether this worker may take `job` now.
    pub fn accepts(&self, job: &Candidate) -> bool {
        job.run_after <= self.now && self.kinds.contains(&job.kind.as_str()) && job.need.met_by(self.encoders)
    }
}

/// The job a worker gets from `queued`: the first in claim order that it may take now.
pub fn choose<'a>(queued: &'a [Candidate], offer: &Offer<'_>) -> Option<&'a Candidate> {
    queued.iter().filter(|job| offer.accepts(job)).min_by(|a, b| a.order_key().cmp(&b.order_key()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    const TRANSCODE: &[&str] = &["transcode"];

    fn job(id: usize, owner: &str, need: EncoderNeed, fair_round: i64, created_at: i64) -> Candidate {
        Candidate {
            id: format!("job-{id:04}"),
            owner_id: owner.into(),
            kind: "transcode".into(),
            need,
            fair_round,
            created_at,
            run_after: 0,
        }
    }

    /// Enqueues `owners` (one entry per job, in order) the way the store does, with nothing claimed yet.
    fn enqueue_all(owners: &[&str], need: EncoderNeed) -> Vec<Candidate> {
        let mut queued: Vec<Candidate> = Vec::new();
        for (i, owner) in owners.iter().enumerate() {
            let latest = queued.iter().filter(|j| j.owner_id == *owner).map(|j| j.fair_round).max();
            let floor = queue_floor(queued.iter().map(|j| j.fair_round).min(), None);
            queued.push(job(i, owner, need, enqueue_round(latest, floor), i as i64));
        }
        queued
    }

    /// Claims everything, one at a time, returning the owners in claim order.
    fn drain(mut queued: Vec<Candidate>, offer: &Offer<'_>) -> Vec<String> {
        let mut order = Vec::new();
        while let Some(next) = choose(&queued, offer).cloned() {
            queued.retain(|j| j.id != next.id);
            order.push(next.owner_id);
        }
        order
    }

    #[test]
    fn encoder_names_round_trip() {
        for e in Encoder::ALL {
            assert_eq!(e.as_str().parse::<Encoder>(), Ok(e));
        }
        assert_eq!("h265".parse::<Encoder>(), Err(UnknownEncoder("h265".into())));
        assert!(!Encoder::X264.is_hardware() && Encoder::Nvenc.is_hardware());
    }

    #[test]
    fn hardware_jobs_go_to_workers_that_have_the_encoder() {
        use Encoder::*;
        assert!(EncoderNeed::exactly(Nvenc).met_by(&[X264, Nvenc]));
        assert!(!EncoderNeed::exactly(Nvenc).met_by(&[X264, Vaapi]));
        assert!(EncoderNeed::or_x264(Nvenc).met_by(&[X264]));
        assert!(!EncoderNeed::or_x264(Nvenc).met_by(&[Qsv]));
        assert!(EncoderNeed::ANY.met_by(&[Qsv]) && EncoderNeed::ANY.met_by(&[]));
        assert!(EncoderNeed::exactly(X264).met_by(&[X264]) && !EncoderNeed::exactly(X264).met_by(&[Vaapi]));
        assert_eq!(EncoderNeed::or_x264(Qsv).fallback(), Some(X264));
        assert_eq!(EncoderNeed::or_x264(X264).fallback(), None);
        assert_eq!(EncoderNeed::exactly(Qsv).fallback(), None);
    }

    #[test]
    fn one_job_of_another_owner_is_not_starved_by_fifty() {
        let mut owners = vec!["a"; 50];
        owners.push("b");
        let offer = Offer { kinds: TRANSCODE, encoders: &[Encoder::X264], now: 0 };
        let order = drain(enqueue_all(&owners, EncoderNeed::ANY), &offer);
        assert_eq!(order.len(), 51);
        assert!(order[..2].contains(&"b".to_string()), "{order:?}");
    }

    #[test]
    fn a_late_owner_starts_in_the_current_round() {
        // a has 10 queued (rounds 0..9); rounds 0..4 are claimed; then c arrives and is served next round.
        let mut queued = enqueue_all(&["a"; 10], EncoderNeed::ANY);
        let offer = Offer { kinds: TRANSCODE, encoders: &[Encoder::X264], now: 0 };
        for _ in 0..5 {
            let first = choose(&queued, &offer).unwrap().id.clone();
            queued.retain(|j| j.id != first);
        }
        let floor = queue_floor(queued.iter().map(|j| j.fair_round).min(), None);
        assert_eq!(floor, 5);
        queued.push(job(100, "c", EncoderNeed::ANY, enqueue_round(None, floor), 100));
        assert_eq!(drain(queued, &offer)[..2], ["a".to_string(), "c".to_string()]);
    }

    #[test]
    fn rounds() {
        assert_eq!(enqueue_round(None, 7), 7);
        assert_eq!(enqueue_round(Some(3), 7), 7);
        assert_eq!(enqueue_round(Some(9), 7), 10);
        assert_eq!(queue_floor(Some(4), Some(9)), 4);
        assert_eq!(queue_floor(None, Some(9)), 9);
        assert_eq!(queue_floor(None, None), 0);
    }

    #[test]
    fn jobs_waiting_out_a_backoff_or_of_other_kinds_are_not_chosen() {
        let mut later = job(1, "a", EncoderNeed::ANY, 0, 0);
        later.run_after = 10;
        let mut thumbnail = job(2, "a", EncoderNeed::ANY, 0, 1);
        thumbnail.kind = "thumbnail".into();
        let queued = vec![later, thumbnail];
        assert_eq!(choose(&queued, &Offer { kinds: TRANSCODE, encoders: &[Encoder::X264], now: 9 }), None);
        let at_ten = Offer { kinds: TRANSCODE, encoders: &[Encoder::X264], now: 10 };
        assert_eq!(choose(&queued, &at_ten).unwrap().id, "job-0001");
    }

    fn encoder() -> impl Strategy<Value = Encoder> {
        prop::sample::select(Encoder::ALL.to_vec())
    }

    fn need() -> impl Strategy<Value = EncoderNeed> {
        (prop::option::of(encoder()), any::<bool>())
            .prop_map(|(encoder, x264_fallback)| EncoderNeed { encoder, x264_fallback })
    }

    proptest! {
        /// The routing rule, stated differently: a worker qualifies iff the job has no need, or the worker has
        /// the encoder, or the job allows x264 and the worker has x264.
        #[test]
        fn routing_matches_its_definition(need in need(), offered in prop::collection::vec(encoder(), 0..4)) {
            let expected = match need.encoder {
                None => true,
                Some(e) => offered.contains(&e) || (need.x264_fallback && offered.contains(&Encoder::X264)),
            };
            prop_assert_eq!(need.met_by(&offered), expected);
            // A hardware-only job never reaches a worker without that hardware encoder.
            if let Some(e) = need.encoder.filter(|e| e.is_hardware()) {
                if !need.x264_fallback && !offered.contains(&e) {
                    prop_assert!(!need.met_by(&offered));
                }
            }
        }

        /// With every job enqueued up front, claims are round-robin: while two owners both still have queued
        /// jobs, neither has had more than one claim more than the other.
        #[test]
        fn claims_are_round_robin_by_owner(owners in prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..80)) {
            let queued = enqueue_all(&owners, EncoderNeed::ANY);
            let mut left: HashMap<String, usize> = HashMap::new();
            for o in &owners {
                *left.entry(o.to_string()).or_default() += 1;
            }
            let offer = Offer { kinds: TRANSCODE, encoders: &[Encoder::X264], now: 0 };
            let order = drain(queued, &offer);
            prop_assert_eq!(order.len(), owners.len());
            let mut claimed: HashMap<String, usize> = HashMap::new();
            for owner in order {
                *claimed.entry(owner.clone()).or_default() += 1;
                *left.get_mut(&owner).unwrap() -= 1;
                let waiting: Vec<usize> = left.iter().filter(|(_, n)| **n > 0).map(|(o, _)| claimed.get(o).copied().unwrap_or(0)).collect();
                let mine = claimed[&owner];
                for other in waiting {
                    prop_assert!(mine <= other + 1, "an owner got ahead by two while another waited");
                }
            }
        }

        /// `choose` picks a job the worker may take, and no job it may take comes earlier in claim order.
        #[test]
        fn the_choice_is_the_first_eligible_in_order(
            jobs in prop::collection::vec((need(), 0i64..4, 0i64..20, 0i64..5), 0..30),
            offered in prop::collection::vec(encoder(), 0..4),
            now in 0i64..5,
        ) {
            let queued: Vec<Candidate> = jobs.iter().enumerate().map(|(i, (need, round, created, run_after))| {
                Candidate { run_after: *run_after, ..job(i, "o", *need, *round, *created) }
            }).collect();
            let offer = Offer { kinds: TRANSCODE, encoders: &offered, now };
            match choose(&queued, &offer) {
                Some(chosen) => {
                    prop_assert!(offer.accepts(chosen));
                    for other in queued.iter().filter(|j| offer.accepts(j)) {
                        prop_assert!(chosen.order_key() <= other.order_key());
                    }
                }
                None => prop_assert!(queued.iter().all(|j| !offer.accepts(j))),
            }
        }

        #[test]
        fn a_new_round_is_never_below_the_floor_nor_at_or_below_the_owners_latest(latest in prop::option::of(-5i64..100), floor in -5i64..100) {
            let round = enqueue_round(latest, floor);
            prop_assert!(round >= floor);
            if let Some(latest) = latest {
                prop_assert!(round > latest);
            }
        }
    }
}

//! One view's state machine: the events of a view, folded in time order, become its summary (startup time,
//! playing time, rebuffering, time-weighted bitrate, errors, how far it got). The state is kept between
//! batches (stored as JSON beside the summary), so folding a view's events in one batch or in many gives the
//! same result. Pure.
//!
//! ```text
//!   view_start          first_frame           rebuffer_start
//! ─────────────► Loading ───────────► Playing ◄────────────► Rebuffering
//!                   │                   │       rebuffer_end      │
//!                   └──── view_end ─────┴───────► Ended ◄─────────┘
//! ```
//!
//! Playing time is how far the position moved between two events while playing, at most the time that passed
//! between them (plus [`SLACK_MS`] of clock jitter): a pause moves nothing, a seek ahead counts only the time it
//! took. Events after `view_end` change nothing; an event older than the last one folded counts no time.

use serde::{Deserialize, Serialize};

use crate::beacon::{Beacon, EventKind};

/// Position may move this much more than the clock between two events (players' clocks and positions jitter).
pub const SLACK_MS: i64 = 1_000;
/// A view is finished when its furthest position reached this share of the media's duration (credits).
pub const FINISHED_SHARE: f64 = 0.9;

/// Where a view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Asked to play; no frame yet.
    Loading,
    Playing,
    Rebuffering,
    Ended,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Playing => "playing",
            Self::Rebuffering => "rebuffering",
            Self::Ended => "ended",
        }
    }
}

/// A view's state after the events folded so far; its fields are the view's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewState {
    pub phase: Phase,
    /// When the view started (its `view_start`, or its first event).
    pub started_at: i64,
    /// The latest event time folded.
    pub last_at: i64,
    /// The position at the latest event that had one.
    pub position_ms: Option<i64>,
    /// The furthest position reached.
    pub max_position_ms: i64,
    pub duration_ms: Option<i64>,
    /// From `view_start` to `first_frame`.
    pub startup_ms: Option<i64>,
    /// Time spent playing (not loading, not stalled).
    pub watch_ms: i64,
    /// Time stalled after the first frame.
    pub rebuffer_ms: i64,
    pub rebuffer_count: i64,
    /// When the stall in progress began.
    pub rebuffer_since: Option<i64>,
    /// The rendition's bitrate now, once known.
    pub bitrate_bps: Option<i64>,
    /// Playing time with a known bitrate, and the bits played in it: the time-weighted mean bitrate is
    /// `played_bits * 1000 / bitrate_ms`.
    pub bitrate_ms: i64,
    pub played_bits: i64,
    pub errors: i64,
}

impl ViewState {
    /// The state of a view whose first event is `first`.
    pub fn new(first: &Beacon) -> Self {
        Self {
            phase: Phase::Loading,
            started_at: first.at,
            last_at: first.at,
            position_ms: None,
            max_position_ms: 0,
            duration_ms: None,
            startup_ms: None,
            watch_ms: 0,
            rebuffer_ms: 0,
            rebuffer_count: 0,
            rebuffer_since: None,
            bitrate_bps: None,
            bitrate_ms: 0,
            played_bits: 0,
            errors: 0,
        }
    }

    /// A view of `events` (any order; folded by time).
    pub fn of(events: &[Beacon]) -> Option<Self> {
        let mut sorted: Vec<&Beacon> = events.iter().collect();
        sorted.sort_by_key(|e| e.at);
        let mut state = Self::new(sorted.first()?);
        for event in sorted {
            state.apply(event);
        }
        Some(state)
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &Beacon) {
        if self.phase == Phase::Ended {
            return;
        }
        let at = event.at.max(self.last_at);
        let elapsed = at - self.last_at;
        if let Some(duration) = event.duration_ms {
            self.duration_ms = Some(duration);
        }
        if let Some(position) = event.position_ms {
            if self.phase == Phase::Playing {
                if let Some(previous) = self.position_ms {
                    let played = (position - previous).clamp(0, elapsed + SLACK_MS);
                    self.credit(played);
                }
            }
            self.position_ms = Some(position);
            self.max_position_ms = self.max_position_ms.max(position);
        }
        match event.kind {
            EventKind::ViewStart => {
                // A late view_start (after another event of the view) still dates the view.
                if self.startup_ms.is_none() {
                    self.started_at = self.started_at.min(event.at);
                }
            }
            EventKind::FirstFrame => {
                if self.phase == Phase::Loading {
                    self.startup_ms = Some((at - self.started_at).max(0));
                    self.phase = Phase::Playing;
                    self.position_ms.get_or_insert(0);
                }
            }
            EventKind::Heartbeat | EventKind::Error => {}
            EventKind::RebufferStart => {
                if self.phase == Phase::Playing {
                    self.phase = Phase::Rebuffering;
                    self.rebuffer_since = Some(at);
                    self.rebuffer_count += 1;
                }
            }
            EventKind::RebufferEnd => {
                if self.phase == Phase::Rebuffering {
                    self.end_stall(at);
                    self.phase = Phase::Playing;
                }
            }
            EventKind::RenditionChange => {}
            EventKind::ViewEnd => {
                if self.phase == Phase::Rebuffering {
                    self.end_stall(at);
                }
                self.phase = Phase::Ended;
            }
        }
        if event.kind == EventKind::Error {
            self.errors += 1;
        }
        // After crediting the time played at the old bitrate.
        if let Some(bps) = event.bitrate_bps {
            self.bitrate_bps = Some(bps);
        }
        self.last_at = at;
    }

    fn credit(&mut self, played_ms: i64) {
        self.watch_ms += played_ms;
        if let Some(bps) = self.bitrate_bps {
            self.bitrate_ms += played_ms;
            self.played_bits += bps.saturating_mul(played_ms) / 1000;
        }
    }

    fn end_stall(&mut self, at: i64) {
        if let Some(since) = self.rebuffer_since.take() {
            self.rebuffer_ms += (at - since).max(0);
        }
    }

    /// Whether the view has a frame on screen at some point.
    pub fn started(&self) -> bool {
        self.startup_ms.is_some()
    }

    pub fn ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether the viewer reached the end (the furthest position is at least 90 % of a known duration).
    pub fn finished(&self) -> bool {
        match self.duration_ms {
            Some(duration) if duration > 0 => self.max_position_ms as f64 >= FINISHED_SHARE * duration as f64,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(kind: EventKind, at: i64) -> Beacon {
        Beacon {
            view_id: "v".into(),
            kind,
            at,
            asset_id: "a".into(),
            title_id: None,
            position_ms: None,
            duration_ms: None,
            bitrate_bps: None,
            rendition: None,
            error_code: None,
            viewer_key: "view:v".into(),
        }
    }

    fn at_position(kind: EventKind, at: i64, position: i64) -> Beacon {
        Beacon { position_ms: Some(position), ..event(kind, at) }
    }

    #[test]
    fn a_played_view_has_startup_watch_rebuffer_and_bitrate() {
        let events = vec![
            event(EventKind::ViewStart, 1_000),
            Beacon { bitrate_bps: Some(2_000_000), ..at_position(EventKind::FirstFrame, 1_800, 0) },
            at_position(EventKind::Heartbeat, 11_800, 10_000),
            at_position(EventKind::RebufferStart, 12_800, 11_000),
            at_position(EventKind::RebufferEnd, 14_800, 11_000),
            Beacon { bitrate_bps: Some(4_000_000), ..at_position(EventKind::RenditionChange, 15_800, 12_000) },
            Beacon { error_code: Some("net".into()), ..event(EventKind::Error, 16_000) },
            Beacon { duration_ms: Some(22_000), ..at_position(EventKind::ViewEnd, 25_800, 22_000) },
        ];
        let view = ViewState::of(&events).unwrap();
        assert_eq!(view.startup_ms, Some(800));
        assert_eq!(view.watch_ms, 22_000);
        assert_eq!((view.rebuffer_ms, view.rebuffer_count), (2_000, 1));
        assert_eq!(view.errors, 1);
        // 12 s at 2 Mb/s, then 10 s at 4 Mb/s.
        assert_eq!(view.played_bits * 1000 / view.bitrate_ms, (12 * 2_000_000 + 10 * 4_000_000) / 22);
        assert!(view.ended() && view.finished() && view.started());
    }

    #[test]
    fn pauses_and_seeks_are_not_watching_and_nothing_counts_after_the_end() {
        let events = vec![
            event(EventKind::ViewStart, 0),
            at_position(EventKind::FirstFrame, 500, 0),
            at_position(EventKind::Heartbeat, 10_500, 10_000),
            // Paused for a minute.
            at_position(EventKind::Heartbeat, 70_500, 10_000),
            // Seeked an hour ahead in ten seconds: ten seconds (and the slack) count.
            at_position(EventKind::Heartbeat, 80_500, 3_610_000),
            at_position(EventKind::ViewEnd, 81_500, 3_611_000),
            at_position(EventKind::Heartbeat, 999_500, 4_000_000),
        ];
        let view = ViewState::of(&events).unwrap();
        assert_eq!(view.watch_ms, 10_000 + 10_000 + SLACK_MS + 1_000);
        assert_eq!(view.last_at, 81_500);
    }

    #[test]
    fn a_view_that_never_showed_a_frame_exited_before_start() {
        let view = ViewState::of(&[event(EventKind::ViewStart, 0), event(EventKind::ViewEnd, 9_000)]).unwrap();
        assert!(view.ended() && !view.started());
        assert_eq!((view.startup_ms, view.watch_ms, view.rebuffer_ms), (None, 0, 0));
        // Stalls before the first frame are startup time, not rebuffering.
        let view = ViewState::of(&[event(EventKind::ViewStart, 0), event(EventKind::RebufferStart, 10)]).unwrap();
        assert_eq!((view.phase, view.rebuffer_count), (Phase::Loading, 0));
    }

    fn arbitrary_event() -> impl Strategy<Value = Beacon> {
        (
            prop::sample::select(EventKind::ALL.to_vec()),
            0i64..600_000,
            prop::option::of(0i64..600_000),
            prop::option::of(1_000i64..50_000_000),
        )
            .prop_map(|(kind, at, position, bitrate)| Beacon {
                position_ms: position,
                bitrate_bps: bitrate,
                ..event(kind, at)
            })
    }

    proptest! {
        /// Whatever the events, the summary's times are non-negative and bounded by the time the view spanned.
        #[test]
        fn summaries_are_bounded(events in prop::collection::vec(arbitrary_event(), 1..40)) {
            let view = ViewState::of(&events).unwrap();
            let span = view.last_at - view.started_at;
            prop_assert!(view.watch_ms >= 0 && view.rebuffer_ms >= 0 && view.bitrate_ms >= 0);
            prop_assert!(view.watch_ms <= span + SLACK_MS * events.len() as i64);
            prop_assert!(view.rebuffer_ms <= span);
            prop_assert!(view.bitrate_ms <= view.watch_ms);
            prop_assert!(view.startup_ms.is_none_or(|s| (0..=span).contains(&s)));
            prop_assert!(view.rebuffer_count <= events.len() as i64);
        }

        /// Folding a view's events in one batch, or in two with the state stored as JSON in between, is the same.
        #[test]
        fn batches_fold_like_one(events in prop::collection::vec(arbitrary_event(), 1..40), cut in 0usize..40) {
            let mut sorted = events.clone();
            sorted.sort_by_key(|e| e.at);
            let cut = cut.min(sorted.len() - 1).max(1);
            let whole = ViewState::of(&sorted).unwrap();
            let first = ViewState::of(&sorted[..cut]).unwrap();
            let mut resumed: ViewState = serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
            for event in &sorted[cut..] {
                resumed.apply(event);
            }
            prop_assert_eq!(resumed, whole);
        }

        /// A scripted playback (startup, steady heartbeats, stalls) gives back exactly the script's numbers.
        #[test]
        fn a_scripted_playback_is_measured_exactly(startup in 0i64..20_000,
            segments in prop::collection::vec((1i64..30_000, 0i64..10_000), 1..12)) {
            let mut events = vec![event(EventKind::ViewStart, 0), at_position(EventKind::FirstFrame, startup, 0)];
            let (mut clock, mut position, mut stalled) = (startup, 0, 0);
            for (play, stall) in &segments {
                clock += play;
                position += play;
                events.push(at_position(EventKind::Heartbeat, clock, position));
                if *stall > 0 {
                    events.push(at_position(EventKind::RebufferStart, clock, position));
                    clock += stall;
                    stalled += stall;
                    events.push(at_position(EventKind::RebufferEnd, clock, position));
                }
            }
            events.push(at_position(EventKind::ViewEnd, clock, position));
            let view = ViewState::of(&events).unwrap();
            prop_assert_eq!(view.startup_ms, Some(startup));
            prop_assert_eq!(view.watch_ms, position);
            prop_assert_eq!(view.rebuffer_ms, stalled);
            prop_assert_eq!(view.rebuffer_count, segments.iter().filter(|(_, s)| *s > 0).count() as i64);
        }
    }
}

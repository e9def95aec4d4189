//! The poster a transcode publishes beside its manifests, as values: its size, which decoded frames are
//! candidates, how dark a frame is, and which candidate wins. No I/O; `pipeline.rs` taps the one decode for
//! the candidates and `packaging.rs` encodes the winner.
//!
//! How the frame is chosen: the first candidate is the frame at 10 % of the duration, but never later than
//! [`DEFAULT_POSTER_AT_S`] in (a film's opening seconds are often a studio card, its tenth minute a spoiler),
//! then one every [`PosterPlan::step_ns`] (that first time, between half a second and two seconds) after it, [`DEFAULT_CANDIDATES`] in all; the very first frame is
//! always taken too, as the fallback for clips too short to reach the first candidate. The poster is the
//! first candidate that is not black (mean luma at least [`DEFAULT_BLACK_LUMA`]), else the first frame if
//! that is not black, else the brightest frame seen.

/// Where the poster is published, relative to the presentation. It has a folder of its own so that a token
/// granting that folder (`…/images/`) lets anyone fetch the poster without granting the media.
pub const POSTER_PATH: &str = "images/poster.jpg";
/// The poster's longer side at most, in pixels (a 1080p source gives a 1280x720 poster).
pub const DEFAULT_POSTER_MAX_SIDE: u32 = 1280;
/// The first candidate is at 10 % of the duration, at most this many seconds in.
pub const DEFAULT_POSTER_AT_S: f64 = 10.0;
/// How many candidates after the first frame are looked at, at most.
pub const DEFAULT_CANDIDATES: u32 = 6;
/// Below this mean luma (0–255; limited-range black is 16) a frame counts as black.
pub const DEFAULT_BLACK_LUMA: f64 = 32.0;

/// What to look for while the source is decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PosterPlan {
    /// The poster's picture size: the top rung's, capped, square pixels, even.
    pub width: u32,
    pub height: u32,
    /// Time of the first candidate after the presentation's first frame.
    pub first_at_ns: i64,
    /// Time between candidates.
    pub step_ns: i64,
    /// Candidates after the first frame.
    pub candidates: u32,
}

impl PosterPlan {
    /// The plan for a source of `duration_s` (unknown: `None`) whose top rung is `top_width`x`top_height`.
    pub fn new(duration_s: Option<f64>, top_width: u32, top_height: u32) -> Self {
        let (width, height) = poster_size(top_width, top_height, DEFAULT_POSTER_MAX_SIDE);
        let duration = duration_s.filter(|d| d.is_finite() && *d > 0.0).unwrap_or(0.0);
        let first_at_s = (duration * 0.1).min(DEFAULT_POSTER_AT_S);
        let step_s = first_at_s.clamp(0.5, 2.0);
        Self {
            width,
            height,
            first_at_ns: (first_at_s * 1e9).round() as i64,
            step_ns: (step_s * 1e9).round() as i64,
            candidates: DEFAULT_CANDIDATES,
        }
    }

    /// Time of candidate `n` (0-based, not counting the first frame) after the first frame.
    pub fn candidate_at_ns(&self, n: u32) -> i64 {
        self.first_at_ns + i64::from(n) * self.step_ns
    }
}

/// `width`x`height` scaled so that its longer side is at most `max_side`, aspect kept, both sides even
/// and at least 2.
pub fn poster_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let long = w.max(h);
    let max_side = u64::from(max_side.max(2));
    let (w, h) = if long > max_side { (w * max_side / long, h * max_side / long) } else { (w, h) };
    let even = |v: u64| ((v / 2) * 2).max(2) as u32;
    (even(w), even(h))
}

/// Decides, frame by frame in decode order, which frames go to the poster branch: the first, then the first
/// at or after each candidate time. Everything else is dropped before it is scaled.
#[derive(Debug, Clone)]
pub struct CandidateGate {
    plan: PosterPlan,
    first_ns: Option<i64>,
    /// Candidates admitted after the first frame.
    admitted: u32,
}

impl CandidateGate {
    pub fn new(plan: PosterPlan) -> Self {
        Self { plan, first_ns: None, admitted: 0 }
    }

    /// Whether the frame at running time `running_ns` is a candidate.
    pub fn admit(&mut self, running_ns: i64) -> bool {
        let Some(first) = self.first_ns else {
            self.first_ns = Some(running_ns);
            return true;
        };
        if self.admitted >= self.plan.candidates {
            return false;
        }
        let elapsed = running_ns - first;
        // The first frame already stands for time 0.
        if elapsed <= 0 || elapsed < self.plan.candidate_at_ns(self.admitted) {
            return false;
        }
        // A long gap may pass several candidate times at once: the next one is after this frame.
        while self.admitted < self.plan.candidates && self.plan.candidate_at_ns(self.admitted) <= elapsed {
            self.admitted += 1;
        }
        true
    }

    /// Whether no more frames will be admitted.
    pub fn is_done(&self) -> bool {
        self.first_ns.is_some() && self.admitted >= self.plan.candidates
    }
}

/// The mean of an 8-bit luma plane (`stride` bytes per row), sampling every other pixel of every other row.
pub fn mean_luma(plane: &[u8], width: usize, height: usize, stride: usize) -> Option<f64> {
    if width == 0 || height == 0 || stride < width || plane.len() < stride * (height - 1) + width {
        return None;
    }
    let (mut sum, mut count) = (0u64, 0u64);
    for row in (0..height).step_by(2) {
        let line = &plane[row * stride..row * stride + width];
        for &y in line.iter().step_by(2) {
            sum += u64::from(y);
            count += 1;
        }
    }
    Some(sum as f64 / count as f64)
}

/// Which of the admitted frames becomes the poster, by their mean luma in admission order (the first frame
/// first): the first later candidate that is not black, else the first frame if it is not black, else the
/// brightest. `None` when there is none.
pub fn choose(lumas: &[f64]) -> Option<usize> {
    let bright = |l: &f64| *l >= DEFAULT_BLACK_LUMA;
    if let Some(i) = lumas.iter().skip(1).position(bright) {
        return Some(i + 1);
    }
    if lumas.first().is_some_and(bright) {
        return Some(0);
    }
    lumas.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn the_poster_is_the_top_rung_capped_with_even_sides() {
        assert_eq!(poster_size(1920, 1080, 1280), (1280, 720));
        assert_eq!(poster_size(640, 360, 1280), (640, 360));
        assert_eq!(poster_size(1080, 1920, 1280), (720, 1280), "portrait: the long side is capped");
        assert_eq!(poster_size(853, 480, 1280), (852, 480));
        assert_eq!(poster_size(0, 0, 1280), (2, 2));
    }

    #[test]
    fn candidates_start_at_a_tenth_of_short_clips_and_ten_seconds_into_long_ones() {
        let short = PosterPlan::new(Some(10.0), 640, 360);
        assert_eq!(short.first_at_ns, S);
        assert_eq!(short.step_ns, S);
        let film = PosterPlan::new(Some(7200.0), 1920, 1080);
        assert_eq!(film.first_at_ns, 10 * S);
        assert_eq!(film.step_ns, 2 * S);
        assert_eq!((film.width, film.height), (1280, 720));
        let unknown = PosterPlan::new(None, 640, 360);
        assert_eq!(unknown.first_at_ns, 0);
        assert_eq!(unknown.step_ns, S / 2);
    }

    #[test]
    fn the_gate_admits_the_first_frame_then_one_per_candidate_time() {
        let plan = PosterPlan::new(Some(10.0), 640, 360);
        let mut gate = CandidateGate::new(plan);
        // 25 fps for 10 s, starting at an arbitrary running time.
        let start = 3_600 * S;
        let admitted: Vec<i64> =
            (0..250).map(|i| start + i * S / 25).filter(|&t| gate.admit(t)).map(|t| t - start).collect();
        assert_eq!(admitted, vec![0, S, 2 * S, 3 * S, 4 * S, 5 * S, 6 * S]);
        assert!(gate.is_done());
    }

    #[test]
    fn the_first_non_black_candidate_wins() {
        assert_eq!(choose(&[16.0, 16.0, 120.0, 200.0]), Some(2), "a fade-in: the first bright candidate");
        assert_eq!(choose(&[90.0, 16.0, 16.0]), Some(0), "all candidates black: the first frame");
        assert_eq!(choose(&[90.0, 100.0]), Some(1), "the candidate is preferred over the first frame");
        assert_eq!(choose(&[16.0, 20.0, 18.0]), Some(1), "all black: the brightest");
        assert_eq!(choose(&[40.0]), Some(0), "a clip too short for a candidate");
        assert_eq!(choose(&[]), None);
    }

    #[test]
    fn mean_luma_reads_the_plane_with_its_stride() {
        // 4x2 picture, stride 6: the padding (255) is not part of the picture.
        let plane = [10, 10, 10, 10, 255, 255, 30, 30, 30, 30, 255, 255];
        assert_eq!(mean_luma(&plane, 4, 2, 6), Some(10.0), "every other row: row 0 only");
        assert_eq!(mean_luma(&plane, 4, 3, 6), None, "too short for three rows");
        assert_eq!(mean_luma(&[], 0, 0, 0), None);
    }

    proptest! {
        /// Whatever the frame times, the gate admits the first frame, at most `candidates` more, each at or
        /// after its candidate time and in increasing order.
        #[test]
        fn the_gate_admits_few_frames_in_order(
            duration in proptest::option::of(0.0f64..20_000.0),
            gaps in proptest::collection::vec(1i64..3 * S, 1..400),
        ) {
            let plan = PosterPlan::new(duration, 1920, 1080);
            let mut gate = CandidateGate::new(plan);
            let mut t = 0i64;
            let mut admitted = Vec::new();
            for gap in gaps {
                if gate.admit(t) {
                    admitted.push(t);
                }
                t += gap;
            }
            prop_assert_eq!(admitted.first().copied(), Some(0));
            prop_assert!(admitted.len() as u32 <= plan.candidates + 1);
            for (n, pair) in admitted.windows(2).enumerate() {
                prop_assert!(pair[1] > pair[0]);
                prop_assert!(pair[1] >= plan.candidate_at_ns(n as u32));
            }
        }

        /// The chosen frame is never black while a non-black one was seen.
        #[test]
        fn a_bright_frame_wins_over_black_ones(lumas in proptest::collection::vec(0.0f64..255.0, 1..8)) {
            let chosen = choose(&lumas).unwrap();
            if lumas.iter().any(|l| *l >= DEFAULT_BLACK_LUMA) {
                prop_assert!(lumas[chosen] >= DEFAULT_BLACK_LUMA);
            }
        }
    }
}

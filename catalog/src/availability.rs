//! When and where a title may be watched: availability windows and the rule that reads them, with no I/O.
//!
//! A title with no windows is always available. A window is open from `starts_at` (inclusive) until
//! `ends_at` (exclusive), either side unbounded when absent, in the listed regions only (ISO 3166-1 alpha-2
//! codes) or everywhere when it lists none. A season or an episode is available only when its ancestors are
//! too ([`availability_of_chain`]): a series not yet released hides its episodes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Windows per title at most.
pub const MAX_WINDOWS: usize = 100;
/// Regions per window at most (every country is 249).
pub const MAX_REGIONS: usize = 249;

/// The ISO 3166-1 alpha-2 codes officially assigned (249), sorted. A list of data, not logic: kept here
/// rather than pulling a crate of country names, flags and currencies for one membership test.
const ISO_3166_ALPHA_2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA",
    "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE",
    "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT",
    "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
    "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST",
    "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA",
    "ZM", "ZW",
];

/// A region code in its normal form (upper case), if it is an assigned ISO 3166-1 alpha-2 code.
pub fn region(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    if ISO_3166_ALPHA_2.binary_search(&code.as_str()).is_ok() {
        Ok(code)
    } else {
        Err(format!("{text:?} is not an ISO 3166-1 alpha-2 region code such as US, FR or JP"))
    }
}

/// When and where a title may be watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// From when, in Unix milliseconds (inclusive); absent: since always.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// Until when, in Unix milliseconds (exclusive); absent: for ever.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Where: ISO 3166-1 alpha-2 codes; empty or absent: everywhere.
    #[serde(default)]
    pub regions: Vec<String>,
}

impl Window {
    /// Whether the window is open at `now_ms` (regions aside).
    pub fn is_open_at(&self, now_ms: i64) -> bool {
        self.starts_at.is_none_or(|start| start <= now_ms) && self.ends_at.is_none_or(|end| now_ms < end)
    }

    /// Whether the window applies to a caller in `region` (`None`: anywhere, so every window applies).
    pub fn covers(&self, region: Option<&str>) -> bool {
        match region {
            None => true,
            Some(region) => self.regions.is_empty() || self.regions.iter().any(|r| r.eq_ignore_ascii_case(region)),
        }
    }
}

/// Windows in their normal form (regions upper case, sorted, without repeats), or every problem found.
pub fn windows(list: Vec<Window>) -> Result<Vec<Window>, String> {
    if list.len() > MAX_WINDOWS {
        return Err(format!("{} windows; the most is {MAX_WINDOWS}", list.len()));
    }
    let mut problems = Vec::new();
    let mut normal = Vec::with_capacity(list.len());
    for (i, window) in list.into_iter().enumerate() {
        if let (Some(start), Some(end)) = (window.starts_at, window.ends_at) {
            if start >= end {
                problems.push(format!("window {i}: starts_at must be before ends_at"));
            }
        }
        if window.regions.len() > MAX_REGIONS {
            problems.push(format!("window {i}: {} regions; the most is {MAX_REGIONS}", window.regions.len()));
            continue;
        }
        let mut regions = Vec::with_capacity(window.regions.len());
        for text in &window.regions {
            match region(text) {
                Ok(code) => regions.push(code),
                Err(problem) => problems.push(format!("window {i}: {problem}")),
            }
        }
        regions.sort();
        regions.dedup();
        normal.push(Window { regions, ..window });
    }
    if problems.is_empty() {
        Ok(normal)
    } else {
        Err(problems.join("; "))
    }
}

/// Whether a title may be watched now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Availability {
    Available,
    /// A window for the caller's region opens at `from` (the earliest one, Unix milliseconds).
    NotYetAvailable {
        from: i64,
    },
    /// Every window for the caller's region has closed.
    Expired,
    /// It has windows, none of them for the caller's region.
    NotInRegion,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::NotYetAvailable { .. } => "not_yet_available",
            Self::Expired => "expired",
            Self::NotInRegion => "not_in_region",
        }
    }

    pub fn is_available(self) -> bool {
        self == Self::Available
    }
}

/// Whether a title with `windows` may be watched at `now_ms` in `region` (`None`: the region is not known, so a
/// window anywhere counts: what a catalog shows to browse).
pub fn availability(windows: &[Window], now_ms: i64, region: Option<&str>) -> Availability {
    if windows.is_empty() {
        return Availability::Available;
    }
    let mut applicable = windows.iter().filter(|w| w.covers(region)).peekable();
    if applicable.peek().is_none() {
        return Availability::NotInRegion;
    }
    let mut next_start: Option<i64> = None;
    for window in applicable {
        if window.is_open_at(now_ms) {
            return Availability::Available;
        }
        if let Some(start) = window.starts_at.filter(|start| *start > now_ms) {
            next_start = Some(next_start.map_or(start, |next| next.min(start)));
        }
    }
    match next_start {
        Some(from) => Availability::NotYetAvailable { from },
        None => Availability::Expired,
    }
}

/// The availability of a title whose own windows and its ancestors' are `chain` (the title first, then its
/// parent, then its grandparent): the first ancestor-or-self that is not available decides, from the top down,
/// so an episode of an unreleased series says what the series says.
pub fn availability_of_chain(chain: &[&[Window]], now_ms: i64, region: Option<&str>) -> Availability {
    chain
        .iter()
        .rev()
        .map(|windows| availability(windows, now_ms, region))
        .find(|answer| !answer.is_available())
        .unwrap_or(Availability::Available)
}

/// The span a search index may show the title in: from the earliest start to the latest end of its windows
/// (`None` on a side where some window is unbounded, or when it has no windows).
pub fn visible_span(windows: &[Window]) -> (Option<i64>, Option<i64>) {
    if windows.is_empty() {
        return (None, None);
    }
    let from = windows.iter().map(|w| w.starts_at).collect::<Option<Vec<_>>>().and_then(|s| s.into_iter().min());
    let until = windows.iter().map(|w| w.ends_at).collect::<Option<Vec<_>>>().and_then(|e| e.into_iter().max());
    (from, until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn window(starts_at: Option<i64>, ends_at: Option<i64>, regions: &[&str]) -> Window {
        Window { starts_at, ends_at, regions: regions.iter().map(|r| r.to_string()).collect() }
    }

    #[test]
    fn the_country_list_is_sorted_and_complete() {
        assert!(ISO_3166_ALPHA_2.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(region("fr"), Ok("FR".into()));
        assert!(region("UK").is_err(), "the United Kingdom is GB");
        assert!(region("USA").is_err() && region("").is_err() && region("ZZ").is_err());
    }

    #[test]
    fn no_windows_is_always_available() {
        assert_eq!(availability(&[], 0, None), Availability::Available);
        assert_eq!(availability(&[], i64::MAX, Some("US")), Availability::Available);
    }

    #[test]
    fn windows_open_close_and_wait() {
        let windows = [window(Some(100), Some(200), &[]), window(Some(300), None, &[])];
        assert_eq!(availability(&windows, 50, None), Availability::NotYetAvailable { from: 100 });
        assert_eq!(availability(&windows, 100, None), Availability::Available);
        assert_eq!(availability(&windows, 200, None), Availability::NotYetAvailable { from: 300 });
        assert_eq!(availability(&windows, 300, None), Availability::Available);
        let closed = [window(None, Some(10), &[])];
        assert_eq!(availability(&closed, 10, None), Availability::Expired);
    }

    #[test]
    fn regions_restrict_windows() {
        let windows = [window(None, None, &["US", "CA"]), window(Some(500), None, &["FR"])];
        assert_eq!(availability(&windows, 0, Some("US")), Availability::Available);
        assert_eq!(availability(&windows, 0, Some("FR")), Availability::NotYetAvailable { from: 500 });
        assert_eq!(availability(&windows, 0, Some("JP")), Availability::NotInRegion);
        assert_eq!(availability(&windows, 0, None), Availability::Available, "somewhere it is");
    }

    #[test]
    fn ancestors_decide_first() {
        let episode = [window(None, None, &[])];
        let series = [window(Some(1_000), None, &[])];
        assert_eq!(
            availability_of_chain(&[&episode, &[], &series], 0, None),
            Availability::NotYetAvailable { from: 1_000 }
        );
        assert_eq!(availability_of_chain(&[&episode, &[], &series], 1_000, None), Availability::Available);
        let expired = [window(None, Some(5), &[])];
        assert_eq!(availability_of_chain(&[&expired, &series], 2_000, None), Availability::Expired);
    }

    #[test]
    fn windows_are_checked_and_normalised() {
        let normal = windows(vec![window(Some(1), Some(2), &["us", "FR", "US"])]).unwrap();
        assert_eq!(normal[0].regions, vec!["FR", "US"]);
        let problem = windows(vec![window(Some(2), Some(2), &[]), window(None, None, &["XX"])]).unwrap_err();
        assert!(problem.contains("window 0") && problem.contains("window 1"), "{problem}");
    }

    #[test]
    fn the_visible_span_is_the_union() {
        assert_eq!(visible_span(&[]), (None, None));
        let windows = [window(Some(5), Some(10), &[]), window(Some(1), Some(7), &["US"])];
        assert_eq!(visible_span(&windows), (Some(1), Some(10)));
        let open = [window(Some(5), None, &[]), window(None, Some(7), &[])];
        assert_eq!(visible_span(&open), (None, None));
    }

    fn any_window() -> impl Strategy<Value = Window> {
        (
            proptest::option::of(0i64..1_000),
            proptest::option::of(0i64..1_000),
            proptest::sample::subsequence(vec!["US", "FR", "JP"], 0..=3),
        )
            .prop_map(|(starts_at, ends_at, regions)| Window {
                starts_at,
                ends_at,
                regions: regions.into_iter().map(String::from).collect(),
            })
    }

    proptest! {
        /// The rule agrees with a plain reading of the windows: available exactly when an applicable window is
        /// open; not yet exactly when one opens later (at the earliest such start); not in region exactly when
        /// none applies.
        #[test]
        fn availability_matches_the_model(
            windows in proptest::collection::vec(any_window(), 0..6),
            now in 0i64..1_000,
            region in proptest::option::of(proptest::sample::select(vec!["US", "FR", "JP", "DE"])),
        ) {
            let answer = availability(&windows, now, region);
            let applicable: Vec<&Window> = windows.iter().filter(|w| w.covers(region)).collect();
            let open = applicable.iter().any(|w| {
                w.starts_at.is_none_or(|s| s <= now) && w.ends_at.is_none_or(|e| now < e)
            });
            let later = applicable.iter().filter_map(|w| w.starts_at).filter(|s| *s > now).min();
            let expected = if windows.is_empty() || open {
                Availability::Available
            } else if applicable.is_empty() {
                Availability::NotInRegion
            } else if let Some(from) = later {
                Availability::NotYetAvailable { from }
            } else {
                Availability::Expired
            };
            prop_assert_eq!(answer, expected);
            // Open somewhere in the visible span, when available at all.
            if answer.is_available() && !windows.is_empty() {
                let (from, until) = visible_span(&windows);
                prop_assert!(from.is_none_or(|f| f <= now) && until.is_none_or(|u| now < u));
            }
        }

        /// A chain is available exactly when every link is.
        #[test]
        fn a_chain_is_available_when_every_link_is(
            chain in proptest::collection::vec(proptest::collection::vec(any_window(), 0..3), 1..4),
            now in 0i64..1_000,
        ) {
            let links: Vec<&[Window]> = chain.iter().map(Vec::as_slice).collect();
            let every = links.iter().all(|w| availability(w, now, None).is_available());
            prop_assert_eq!(availability_of_chain(&links, now, None).is_available(), every);
        }
    }
}

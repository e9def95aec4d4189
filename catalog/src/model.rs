//! The catalog's values and their rules, with no I/O: title kinds and the parent each may have, the fields'
//! limits and normal forms (genres, tags, languages, ratings), and which asset roles a kind of title takes.
//! Handlers call these before anything is written; every problem of one request is collected and refused at
//! once ([`Problems`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The longest title, original title, person's name or other name, in characters.
pub const MAX_NAME_CHARS: usize = 300;
/// The longest synopsis or biography, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The longest genre or tag, in characters.
pub const MAX_LABEL_CHARS: usize = 40;
/// Genres per title at most.
pub const MAX_GENRES: usize = 20;
/// Tags per title at most.
pub const MAX_TAGS: usize = 50;
/// Languages per title at most.
pub const MAX_LANGUAGES: usize = 30;
/// Other names per person at most.
pub const MAX_OTHER_NAMES: usize = 20;
/// Credits per title at most.
pub const MAX_CREDITS: usize = 500;
/// The longest character name or crew role, in characters.
pub const MAX_CREDIT_CHARS: usize = 200;
/// Asset links per title at most.
pub const MAX_ASSETS: usize = 20;
/// The first release year taken (the first films are from the 1880s).
pub const MIN_YEAR: i32 = 1870;
/// The last release year taken (announced titles are a few years ahead at most).
pub const MAX_YEAR: i32 = 2100;
/// The longest runtime, in minutes (a week).
pub const MAX_RUNTIME_MINUTES: i32 = 10_080;
/// The highest season or episode number.
pub const MAX_NUMBER: i32 = 100_000;

/// The maturity ratings a title may have: the MPA's film ratings and the US TV Parental Guidelines, plus `NR`
/// (not rated).
pub const RATINGS: [&str; 12] =
    ["G", "PG", "PG-13", "R", "NC-17", "NR", "TV-Y", "TV-Y7", "TV-G", "TV-PG", "TV-14", "TV-MA"];

/// What a title is. Series hold seasons, seasons hold episodes; movies and series stand alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TitleKind {
    Movie,
    Series,
    Season,
    Episode,
}

impl TitleKind {
    pub const ALL: [Self; 4] = [Self::Movie, Self::Series, Self::Season, Self::Episode];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Movie => "movie",
            Self::Series => "series",
            Self::Season => "season",
            Self::Episode => "episode",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The kind of title this kind must sit under, or `None` for those that stand alone.
    pub fn parent_kind(self) -> Option<Self> {
        match self {
            Self::Season => Some(Self::Series),
            Self::Episode => Some(Self::Season),
            Self::Movie | Self::Series => None,
        }
    }

    /// The kind that sits under this one.
    pub fn child_kind(self) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.parent_kind() == Some(self))
    }

    /// Whether a title of this kind is numbered within its parent (seasons and episodes).
    pub fn is_numbered(self) -> bool {
        self.parent_kind().is_some()
    }

    /// The kind's name with its article: `a movie`, `an episode`.
    pub fn with_article(self) -> &'static str {
        match self {
            Self::Movie => "a movie",
            Self::Series => "a series",
            Self::Season => "a season",
            Self::Episode => "an episode",
        }
    }

    /// Whether a title of this kind stands on its own on a home page (movies and series).
    pub fn is_top_level(self) -> bool {
        self.parent_kind().is_none()
    }
}

/// What an asset is to a title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetRole {
    /// A movie's film.
    Feature,
    /// A trailer, of any title.
    Trailer,
    /// An episode's video.
    Episode,
}

impl AssetRole {
    pub const ALL: [Self; 3] = [Self::Feature, Self::Trailer, Self::Episode];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feature => "feature",
            Self::Trailer => "trailer",
            Self::Episode => "episode",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// The kind of title this role belongs to, or `None` when any kind takes it.
    fn only_for(self) -> Option<TitleKind> {
        match self {
            Self::Feature => Some(TitleKind::Movie),
            Self::Episode => Some(TitleKind::Episode),
            Self::Trailer => None,
        }
    }
}

/// Whether a credit is in front of the camera or behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    Cast,
    Crew,
}

impl CreditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cast => "cast",
            Self::Crew => "crew",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Cast, Self::Crew].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Every problem found in one request's input, each naming its field, refused together.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, problem: impl std::fmt::Display) {
        self.0.push(format!("{field}: {problem}"));
    }

    /// Records the problem of `result`, if it has one, and gives its value.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|problem| self.add(field, problem)).ok()
    }

    /// Adds every problem of `other`.
    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn list(&self) -> &[String] {
        &self.0
    }

    /// `Ok` when nothing was found, else every problem in one message.
    pub fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("; "))
        }
    }
}

/// A required name: trimmed, not empty, at most [`MAX_NAME_CHARS`] characters, no control characters.
pub fn name(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    short_text(text, MAX_NAME_CHARS)
}

/// Text of at most `max` characters, trimmed, without control characters other than line breaks and tabs.
pub fn short_text(text: &str, max: usize) -> Result<String, String> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars > max {
        return Err(format!("is {chars} characters long; the most is {max}"));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("must not contain control characters".into());
    }
    Ok(text.to_owned())
}

/// A release year in [`MIN_YEAR`]`..=`[`MAX_YEAR`].
pub fn release_year(year: i32) -> Result<i32, String> {
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(year)
    } else {
        Err(format!("{year} is not a release year between {MIN_YEAR} and {MAX_YEAR}"))
    }
}

/// A runtime in whole minutes, more than zero.
pub fn runtime_minutes(minutes: i32) -> Result<i32, String> {
    if (1..=MAX_RUNTIME_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(format!("must be between 1 and {MAX_RUNTIME_MINUTES} minutes"))
    }
}

/// A season or episode number (0 is a series' specials).
pub fn number(number: i32) -> Result<i32, String> {
    if (0..=MAX_NUMBER).contains(&number) {
        Ok(number)
    } else {
        Err(format!("must be between 0 and {MAX_NUMBER}"))
    }
}

/// One of [`RATINGS`], matched without case and given in its listed spelling.
pub fn maturity_rating(text: &str) -> Result<&'static str, String> {
    let wanted = text.trim();
    RATINGS
        .iter()
        .find(|rating| rating.eq_ignore_ascii_case(wanted))
        .copied()
        .ok_or_else(|| format!("{wanted:?} is not a rating; use one of {}", RATINGS.join(", ")))
}

/// A BCP 47 language tag in its usual shape: a primary language of 2 or 3 letters, then subtags of 2 to 8
/// letters or digits (`en`, `pt-BR`, `zh-Hant-TW`, `es-419`). Given in the conventional case: language lower,
/// script title, region upper.
pub fn language(text: &str) -> Result<String, String> {
    let problem = || format!("{text:?} is not a language tag such as en, pt-BR or zh-Hant-TW");
    let mut parts = text.trim().split('-');
    let primary = parts.next().unwrap_or_default();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(problem());
    }
    let mut tag = primary.to_ascii_lowercase();
    for part in parts {
        if !(2..=8).contains(&part.len()) || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(problem());
        }
        tag.push('-');
        let letters = part.chars().all(|c| c.is_ascii_alphabetic());
        match part.len() {
            2 if letters => tag.push_str(&part.to_ascii_uppercase()),
            4 if letters => {
                let lower = part.to_ascii_lowercase();
                tag.push_str(&lower[..1].to_ascii_uppercase());
                tag.push_str(&lower[1..]);
            }
            _ => tag.push_str(&part.to_ascii_lowercase()),
        }
    }
    Ok(tag)
}

/// Languages, each a [`language`] tag, without repeats, at most [`MAX_LANGUAGES`].
pub fn languages(list: &[String]) -> Result<Vec<String>, String> {
    if list.len() > MAX_LANGUAGES {
        return Err(format!("{} languages; the most is {MAX_LANGUAGES}", list.len()));
    }
    let mut tags: Vec<String> = Vec::with_capacity(list.len());
    for text in list {
        let tag = language(text)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// Genres or tags in their normal form: trimmed, lowercase, inner runs of whitespace made one space, repeats
/// dropped (the first kept, in order), each 1 to [`MAX_LABEL_CHARS`] characters, at most `max` of them.
pub fn labels(list: &[String], max: usize) -> Result<Vec<String>, String> {
    let mut normal: Vec<String> = Vec::with_capacity(list.len());
    for text in list {
        let label = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        if label.is_empty() {
            return Err("must not be empty".into());
        }
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(format!("{label:?} is longer than {MAX_LABEL_CHARS} characters"));
        }
        if label.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        if !normal.contains(&label) {
            normal.push(label);
        }
    }
    if normal.len() > max {
        return Err(format!("{} of them; the most is {max}", normal.len()));
    }
    Ok(normal)
}

/// The one genre or tag a list filter names, in the same normal form as stored ones.
pub fn label(text: &str) -> Result<String, String> {
    labels(&[text.to_owned()], 1).map(|mut list| list.remove(0))
}

/// Where a title may sit: `kind` under a parent of `parent_kind` (`None`: no parent), numbered by `number`.
pub fn placement(kind: TitleKind, parent_kind: Option<TitleKind>, number: Option<i32>) -> Problems {
    let mut problems = Problems::new();
    let this = kind.with_article();
    match (kind.parent_kind(), parent_kind) {
        (None, Some(_)) => problems.add("parent_id", format!("{this} has no parent")),
        (Some(wanted), None) => problems.add("parent_id", format!("{this} needs a parent {}", wanted.as_str())),
        (Some(wanted), Some(got)) if wanted != got => problems
            .add("parent_id", format!("{this} sits under {}, not {}", wanted.with_article(), got.with_article())),
        _ => {}
    }
    match (kind.is_numbered(), number) {
        (true, None) => problems.add("number", format!("{this} needs its number")),
        (false, Some(_)) => problems.add("number", format!("{this} is not numbered")),
        (true, Some(n)) => {
            problems.check("number", self::number(n));
        }
        (false, None) => {}
    }
    problems
}

/// Whether a title of `kind` may have these asset roles: a feature only for a movie, an episode video only for
/// an episode, one of each at most; trailers for any title.
pub fn asset_roles(kind: TitleKind, roles: &[AssetRole]) -> Result<(), String> {
    if roles.len() > MAX_ASSETS {
        return Err(format!("{} assets; the most is {MAX_ASSETS}", roles.len()));
    }
    for role in AssetRole::ALL {
        let count = roles.iter().filter(|r| **r == role).count();
        if count == 0 {
            continue;
        }
        if let Some(only) = role.only_for() {
            if only != kind {
                return Err(format!("{} cannot have a {} asset", kind.with_article(), role.as_str()));
            }
            if count > 1 {
                return Err(format!("{} has one {} asset at most", kind.with_article(), role.as_str()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kinds_nest_series_seasons_episodes() {
        assert_eq!(TitleKind::Season.parent_kind(), Some(TitleKind::Series));
        assert_eq!(TitleKind::Episode.parent_kind(), Some(TitleKind::Season));
        assert_eq!(TitleKind::Movie.parent_kind(), None);
        assert_eq!(TitleKind::Series.child_kind(), Some(TitleKind::Season));
        assert_eq!(TitleKind::Season.child_kind(), Some(TitleKind::Episode));
        assert_eq!(TitleKind::Movie.child_kind(), None);
        for kind in TitleKind::ALL {
            assert_eq!(TitleKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(TitleKind::parse("film"), None);
    }

    #[test]
    fn placement_checks_parent_kind_and_number() {
        assert!(placement(TitleKind::Movie, None, None).is_empty());
        assert!(placement(TitleKind::Season, Some(TitleKind::Series), Some(1)).is_empty());
        assert!(placement(TitleKind::Episode, Some(TitleKind::Season), Some(0)).is_empty());
        assert_eq!(placement(TitleKind::Episode, Some(TitleKind::Series), Some(1)).list().len(), 1);
        assert_eq!(placement(TitleKind::Movie, Some(TitleKind::Series), Some(3)).list().len(), 2);
        assert_eq!(placement(TitleKind::Season, None, None).list().len(), 2);
        assert_eq!(placement(TitleKind::Season, Some(TitleKind::Series), Some(-1)).list().len(), 1);
    }

    #[test]
    fn fields_have_limits() {
        assert!(release_year(1999).is_ok());
        assert!(release_year(1869).is_err() && release_year(2101).is_err() && release_year(-5).is_err());
        assert!(runtime_minutes(0).is_err() && runtime_minutes(-3).is_err() && runtime_minutes(148).is_ok());
        assert_eq!(maturity_rating(" pg-13 "), Ok("PG-13"));
        assert!(maturity_rating("XXX").is_err());
        assert_eq!(name("  Inception "), Ok("Inception".into()));
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(10_000)).unwrap_err().contains("10000 characters"));
        assert!(name("bell\u{7}").is_err());
        assert!(short_text("line one\nline two", 100).is_ok());
    }

    #[test]
    fn languages_take_the_usual_case() {
        assert_eq!(language("EN"), Ok("en".into()));
        assert_eq!(language("pt-br"), Ok("pt-BR".into()));
        assert_eq!(language("zh-hant-tw"), Ok("zh-Hant-TW".into()));
        assert_eq!(language("es-419"), Ok("es-419".into()));
        for bad in ["", "e", "english", "en_US", "en-", "en-x", "12", "de-ÄÖ"] {
            assert!(language(bad).is_err(), "{bad}");
        }
        assert_eq!(languages(&["en".into(), "EN".into(), "fr".into()]), Ok(vec!["en".into(), "fr".into()]));
    }

    #[test]
    fn labels_are_normalised() {
        let list = ["  Science   Fiction ", "DRAMA", "drama", "Film Noir"].map(String::from);
        assert_eq!(labels(&list, 10), Ok(vec!["science fiction".into(), "drama".into(), "film noir".into()]));
        assert!(labels(&["".into()], 10).is_err());
        assert!(labels(&["x".repeat(41)], 10).is_err());
        assert!(labels(&["a".into(), "b".into()], 1).is_err());
    }

    #[test]
    fn asset_roles_fit_the_kind() {
        use AssetRole::*;
        assert!(asset_roles(TitleKind::Movie, &[Feature, Trailer, Trailer]).is_ok());
        assert!(asset_roles(TitleKind::Movie, &[Feature, Feature]).is_err());
        assert!(asset_roles(TitleKind::Episode, &[Episode]).is_ok());
        assert!(asset_roles(TitleKind::Series, &[Trailer]).is_ok());
        assert!(asset_roles(TitleKind::Series, &[Feature]).is_err());
        assert!(asset_roles(TitleKind::Movie, &[Episode]).is_err());
    }

    proptest! {
        /// Normal labels are normal: lowercase, trimmed, single-spaced, unique, and normalising again changes nothing.
        #[test]
        fn labels_are_idempotent_and_unique(list in proptest::collection::vec("[ a-zA-Z\\t]{0,12}", 0..12)) {
            if let Ok(normal) = labels(&list, 100) {
                prop_assert_eq!(labels(&normal, 100), Ok(normal.clone()));
                for (i, label) in normal.iter().enumerate() {
                    prop_assert_eq!(label.trim(), label.as_str());
                    prop_assert!(!label.contains("  ") && !label.is_empty());
                    prop_assert_eq!(&label.to_lowercase(), label);
                    prop_assert!(!normal[..i].contains(label));
                }
                // Every input is represented.
                prop_assert_eq!(normal.len(), {
                    let mut seen: Vec<String> = Vec::new();
                    for text in &list {
                        let l = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
                        if !seen.contains(&l) { seen.push(l); }
                    }
                    seen.len()
                });
            }
        }

        /// A language tag's normal form is a fixed point and differs from the input only in case and edges.
        #[test]
        fn language_tags_round_trip(tag in "[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}") {
            let normal = language(&tag).unwrap();
            prop_assert_eq!(language(&normal), Ok(normal.clone()));
            prop_assert_eq!(normal.to_ascii_lowercase(), tag.to_ascii_lowercase());
        }

        /// Years are taken exactly in their range.
        #[test]
        fn years_in_range_only(year in any::<i32>()) {
            prop_assert_eq!(release_year(year).is_ok(), (MIN_YEAR..=MAX_YEAR).contains(&year));
        }
    }
}

//! What commerce needs to know of a title (from the catalog): its tags and availability windows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A title as commerce sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TitleFacts {
    pub id: String,
    /// Tags and collections (a plan that unlocks a tag unlocks the titles that have it).
    pub tags: Vec<String>,
    /// Where and when it may be watched; none at all means everywhere, always.
    pub availability: Vec<AvailabilityWindow>,
    /// Its owner in the catalog (the creator who may sell it), if the catalog says.
    #[serde(default)]
    pub owner_id: Option<String>,
}

/// From `from` (inclusive) until `until` (exclusive, open-ended if absent), Unix milliseconds, in `regions`
/// (ISO 3166-1 alpha-2 codes; empty means everywhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AvailabilityWindow {
    pub from: i64,
    pub until: Option<i64>,
    pub regions: Vec<String>,
}

impl AvailabilityWindow {
    fn covers_time(&self, now: i64) -> bool {
        self.from <= now && self.until.is_none_or(|until| now < until)
    }

    fn covers_region(&self, region: Option<&str>) -> bool {
        self.regions.is_empty() || region.is_some_and(|r| self.regions.iter().any(|w| w.eq_ignore_ascii_case(r)))
    }
}

/// Why a title cannot be watched here and now, whoever asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    NotYet,
    NotInRegion,
    NoLonger,
}

impl TitleFacts {
    /// Whether it may be watched at `now` in `region` (an unknown region is covered only by windows for
    /// everywhere). Refusals: `NotYet` if a later window covers the region, else `NotInRegion` if a current or
    /// later window covers somewhere else, else `NoLonger`.
    pub fn availability_at(&self, now: i64, region: Option<&str>) -> Result<(), Unavailable> {
        if self.availability.is_empty() {
            return Ok(());
        }
        let windows = &self.availability;
        if windows.iter().any(|w| w.covers_time(now) && w.covers_region(region)) {
            Ok(())
        } else if windows.iter().any(|w| w.from > now && w.covers_region(region)) {
            Err(Unavailable::NotYet)
        } else if windows.iter().any(|w| w.until.is_none_or(|until| now < until)) {
            Err(Unavailable::NotInRegion)
        } else {
            Err(Unavailable::NoLonger)
        }
    }
}

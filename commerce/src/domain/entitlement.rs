//! The entitlement rule: may this viewer watch this title here and now, and if not, why (one code, in a fixed
//! precedence: the title's availability first, then the viewer's rentals, then subscriptions).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rental::{Rental, RentalRefusal};
use super::subscription::Subscription;
use super::title::{TitleFacts, Unavailable};

/// What a plan unlocks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Unlocks {
    /// Every title.
    Catalog,
    /// The titles with this tag (or collection).
    Tag { tag: String },
}

impl Unlocks {
    /// As stored: `catalog` or `tag:NAME`.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Catalog => "catalog".into(),
            Self::Tag { tag } => format!("tag:{tag}"),
        }
    }

    pub fn from_stored(text: &str) -> Option<Self> {
        match text.split_once(':') {
            None if text == "catalog" => Some(Self::Catalog),
            Some(("tag", tag)) if !tag.is_empty() => Some(Self::Tag { tag: tag.into() }),
            _ => None,
        }
    }

    pub fn covers(&self, title: &TitleFacts) -> bool {
        match self {
            Self::Catalog => true,
            Self::Tag { tag } => title.tags.iter().any(|t| t == tag),
        }
    }

    /// Whether two plans unlock some title in common (so one viewer holding both would pay twice).
    pub fn overlaps(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Catalog, _) | (_, Self::Catalog) => true,
            (Self::Tag { tag: a }, Self::Tag { tag: b }) => a == b,
        }
    }
}

/// A viewer's subscription with what its plan unlocks.
#[derive(Debug, Clone)]
pub struct HeldSubscription {
    pub id: String,
    pub subscription: Subscription,
    pub unlocks: Unlocks,
}

/// A viewer's rental of a title.
#[derive(Debug, Clone)]
pub struct HeldRental {
    pub id: String,
    pub title_id: String,
    pub rental: Rental,
}

/// Everything a viewer holds.
#[derive(Debug, Clone, Default)]
pub struct Holdings {
    pub subscriptions: Vec<HeldSubscription>,
    pub rentals: Vec<HeldRental>,
    /// Titles bought for good (refunded ones left out).
    pub purchased_titles: Vec<String>,
}

/// What lets the viewer watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Purchase,
    Subscription {
        id: String,
    },
    /// A rental; `first_play` when this play starts its window.
    Rental {
        id: String,
        first_play: bool,
    },
}

/// Why not, by precedence (the first that applies is the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denial {
    NotYetAvailable,
    NotAvailableInRegion,
    NoLongerAvailable,
    RentalExpired,
    NotSubscribed,
}

impl Denial {
    /// The error code playback answers with.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotYetAvailable => "not_yet_available",
            Self::NotAvailableInRegion => "not_available_in_region",
            Self::NoLongerAvailable => "no_longer_available",
            Self::RentalExpired => "rental_expired",
            Self::NotSubscribed => "not_subscribed",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::NotYetAvailable => "this title is not available yet",
            Self::NotAvailableInRegion => "this title is not available in your region",
            Self::NoLongerAvailable => "this title is no longer available",
            Self::RentalExpired => "your rental of this title has expired",
            Self::NotSubscribed => "no subscription, rental or purchase of yours covers this title",
        }
    }
}

impl From<Unavailable> for Denial {
    fn from(unavailable: Unavailable) -> Self {
        match unavailable {
            Unavailable::NotYet => Self::NotYetAvailable,
            Unavailable::NotInRegion => Self::NotAvailableInRegion,
            Unavailable::NoLonger => Self::NoLongerAvailable,
        }
    }
}

/// Whether `holdings` let their viewer watch `title` at `now` from `region`. Availability binds everyone;
/// then a purchase, a subscription, a rental already started, and last an unstarted rental (so a rental's
/// window is not started while something else covers the title).
pub fn entitled(holdings: &Holdings, title: &TitleFacts, now: i64, region: Option<&str>) -> Result<Grant, Denial> {
    title.availability_at(now, region)?;
    if holdings.purchased_titles.contains(&title.id) {
        return Ok(Grant::Purchase);
    }
    if let Some(held) = holdings.subscriptions.iter().find(|s| s.unlocks.covers(title) && s.subscription.grants(now)) {
        return Ok(Grant::Subscription { id: held.id.clone() });
    }
    let rentals: Vec<&HeldRental> = holdings.rentals.iter().filter(|r| r.title_id == title.id).collect();
    let playable = |started: bool| {
        rentals.iter().find(|r| r.rental.first_played_at.is_some() == started && r.rental.check(now).is_ok())
    };
    if let Some(held) = playable(true).or_else(|| playable(false)) {
        return Ok(Grant::Rental { id: held.id.clone(), first_play: held.rental.first_played_at.is_none() });
    }
    let expired = rentals
        .iter()
        .any(|r| matches!(r.rental.check(now), Err(RentalRefusal::WindowEnded | RentalRefusal::NeverPlayedExpired)));
    Err(if expired { Denial::RentalExpired } else { Denial::NotSubscribed })
}

/// The answer for an asset in several titles: entitled through any of them, else the first denial by precedence.
pub fn entitled_to_any(
    holdings: &Holdings,
    titles: &[TitleFacts],
    now: i64,
    region: Option<&str>,
) -> Option<Result<Grant, Denial>> {
    let answers: Vec<_> = titles.iter().map(|title| entitled(holdings, title, now, region)).collect();
    let granted = answers.iter().find(|a| a.is_ok()).cloned();
    granted.or_else(|| answers.into_iter().min_by_key(|a| a.clone().err()))
}

#[cfg(test)]
mod tests {
    use super::super::subscription::{Period, SubscriptionEvent, SubscriptionState};
    use super::super::title::AvailabilityWindow;
    use super::*;
    use proptest::prelude::*;

    const HOUR: i64 = 3_600_000;
    const T0: i64 = 1_767_225_600_000;

    fn title(tags: &[&str], availability: Vec<AvailabilityWindow>) -> TitleFacts {
        TitleFacts { id: "t1".into(), tags: tags.iter().map(|t| t.to_string()).collect(), availability, owner_id: None }
    }

    fn window(from: i64, until: Option<i64>, regions: &[&str]) -> AvailabilityWindow {
        AvailabilityWindow { from, until, regions: regions.iter().map(|r| r.to_string()).collect() }
    }

    fn subscribed(unlocks: Unlocks) -> Holdings {
        Holdings {
            subscriptions: vec![HeldSubscription {
                id: "s1".into(),
                subscription: Subscription::start(Period::Month, 0, T0),
                unlocks,
            }],
            ..Holdings::default()
        }
    }

    fn rental(first_played_at: Option<i64>) -> HeldRental {
        HeldRental {
            id: "r1".into(),
            title_id: "t1".into(),
            rental: Rental {
                window_ms: 48 * HOUR,
                expires_unplayed_at: T0 + 720 * HOUR,
                first_played_at,
                revoked_at: None,
            },
        }
    }

    #[test]
    fn availability_comes_first_then_rentals_then_subscriptions() {
        let everyone = title(&[], vec![]);
        assert_eq!(entitled(&Holdings::default(), &everyone, T0, None), Err(Denial::NotSubscribed));
        let catalog = subscribed(Unlocks::Catalog);
        assert_eq!(entitled(&catalog, &everyone, T0, None), Ok(Grant::Subscription { id: "s1".into() }));
        let later = title(&[], vec![window(T0 + HOUR, None, &[])]);
        assert_eq!(entitled(&catalog, &later, T0, Some("FR")), Err(Denial::NotYetAvailable));
        let france = title(&[], vec![window(T0 - HOUR, None, &["FR"])]);
        assert_eq!(entitled(&catalog, &france, T0, Some("DE")), Err(Denial::NotAvailableInRegion));
        assert_eq!(entitled(&catalog, &france, T0, None), Err(Denial::NotAvailableInRegion), "unknown region");
        assert!(entitled(&catalog, &france, T0, Some("fr")).is_ok());
        let gone = title(&[], vec![window(T0 - 2 * HOUR, Some(T0 - HOUR), &[])]);
        assert_eq!(entitled(&catalog, &gone, T0, None), Err(Denial::NoLongerAvailable));
        // A later window here outranks a current one elsewhere.
        let soon_here = title(&[], vec![window(T0 - HOUR, None, &["US"]), window(T0 + HOUR, None, &["FR"])]);
        assert_eq!(entitled(&catalog, &soon_here, T0, Some("FR")), Err(Denial::NotYetAvailable));

        let horror = subscribed(Unlocks::Tag { tag: "horror".into() });
        assert_eq!(entitled(&horror, &everyone, T0, None), Err(Denial::NotSubscribed));
        assert!(entitled(&horror, &title(&["horror"], vec![]), T0, None).is_ok());

        let rented = Holdings { rentals: vec![rental(None)], ..Holdings::default() };
        assert_eq!(entitled(&rented, &everyone, T0, None), Ok(Grant::Rental { id: "r1".into(), first_play: true }));
        let watched = Holdings { rentals: vec![rental(Some(T0))], ..Holdings::default() };
        assert_eq!(
            entitled(&watched, &everyone, T0 + 47 * HOUR, None),
            Ok(Grant::Rental { id: "r1".into(), first_play: false })
        );
        assert_eq!(entitled(&watched, &everyone, T0 + 48 * HOUR, None), Err(Denial::RentalExpired));
        // A subscription covering the title keeps an unstarted rental's window closed.
        let both = Holdings { rentals: vec![rental(None)], ..catalog.clone() };
        assert_eq!(entitled(&both, &everyone, T0, None), Ok(Grant::Subscription { id: "s1".into() }));
        let bought = Holdings { purchased_titles: vec!["t1".into()], ..Holdings::default() };
        assert_eq!(entitled(&bought, &everyone, T0 + 100_000 * HOUR, None), Ok(Grant::Purchase));
    }

    #[test]
    fn an_asset_in_several_titles_is_watched_through_any() {
        let catalog = subscribed(Unlocks::Tag { tag: "a".into() });
        let tagged = TitleFacts { id: "t2".into(), ..title(&["a"], vec![]) };
        let soon = title(&[], vec![window(T0 + HOUR, None, &[])]);
        assert!(entitled_to_any(&catalog, &[soon.clone(), tagged], T0, None).unwrap().is_ok());
        let plain = TitleFacts { id: "t3".into(), ..title(&[], vec![]) };
        assert_eq!(entitled_to_any(&catalog, &[plain, soon], T0, None), Some(Err(Denial::NotYetAvailable)));
        assert_eq!(entitled_to_any(&catalog, &[], T0, None), None);
    }

    #[test]
    fn unlocks_are_stored_as_text() {
        for unlocks in [Unlocks::Catalog, Unlocks::Tag { tag: "kids:fr".into() }] {
            assert_eq!(Unlocks::from_stored(&unlocks.to_stored()), Some(unlocks));
        }
        assert_eq!(Unlocks::from_stored("tag:"), None);
        assert!(Unlocks::Catalog.overlaps(&Unlocks::Tag { tag: "x".into() }));
        assert!(!Unlocks::Tag { tag: "x".into() }.overlaps(&Unlocks::Tag { tag: "y".into() }));
    }

    fn final_subscription() -> impl Strategy<Value = Subscription> {
        (any::<bool>(), 0i64..1000 * HOUR).prop_map(|(refund, at)| {
            let start = Subscription::start(Period::Month, 0, T0);
            let event =
                if refund { SubscriptionEvent::Refunded } else { SubscriptionEvent::Cancel { at_period_end: false } };
            start.apply(event, T0 + at).unwrap()
        })
    }

    proptest! {
        /// Canceled and expired subscriptions never grant, whatever the time, title or region.
        #[test]
        fn final_subscriptions_never_grant(subscription in final_subscription(), at in 0i64..10_000 * HOUR, tagged in any::<bool>()) {
            prop_assert!(matches!(subscription.state, SubscriptionState::Canceled | SubscriptionState::Expired));
            let holdings = Holdings {
                subscriptions: vec![HeldSubscription { id: "s".into(), subscription, unlocks: Unlocks::Catalog }],
                ..Holdings::default()
            };
            let tags: &[&str] = if tagged { &["x"] } else { &[] };
            let title = title(tags, vec![]);
            prop_assert_eq!(entitled(&holdings, &title, T0 + at, Some("FR")), Err(Denial::NotSubscribed));
        }

        /// Availability binds every viewer: whatever they hold, a title outside its windows is refused with
        /// an availability code.
        #[test]
        fn availability_binds_everyone(from in 0i64..100, until in proptest::option::of(0i64..200), now in 0i64..300, bought in any::<bool>()) {
            let facts = title(&[], vec![window(T0 + from * HOUR, until.map(|u| T0 + u * HOUR), &[])]);
            let holdings = Holdings { purchased_titles: if bought { vec!["t1".into()] } else { vec![] }, ..subscribed(Unlocks::Catalog) };
            let now = T0 + now * HOUR;
            if facts.availability_at(now, None).is_err() {
                let denial = entitled(&holdings, &facts, now, None).unwrap_err();
                prop_assert!(denial < Denial::RentalExpired);
            }
        }
    }
}

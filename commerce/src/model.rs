//! The JSON of commerce's resources (requests and answers), with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::entitlement::Unlocks;
use crate::domain::money::Money;
use crate::domain::subscription::{Period, SubscriptionState};

/// A subscription plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub price: Money,
    pub period: Period,
    pub trial_days: i64,
    pub unlocks: Unlocks,
    /// Archived plans are not sold; their subscriptions go on.
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    pub name: String,
    pub price: Money,
    pub period: Period,
    /// 0 to 365 (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 365)]
    pub trial_days: i64,
    pub unlocks: Unlocks,
}

/// What may change of a plan (a price change is a new plan: subscribers keep what they agreed to).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    pub name: Option<String>,
    #[schema(minimum = 0, maximum = 365)]
    pub trial_days: Option<i64>,
}

/// Rent or buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    Rental,
    Purchase,
}

impl OfferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rental => "rental",
            Self::Purchase => "purchase",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "rental" => Some(Self::Rental),
            "purchase" => Some(Self::Purchase),
            _ => None,
        }
    }
}

/// A title for rent or sale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Offer {
    pub id: String,
    pub title_id: String,
    pub kind: OfferKind,
    pub price: Money,
    /// Rentals: hours it plays from the first play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch_window_hours: Option<i64>,
    /// Rentals: days it waits for a first play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_unplayed_days: Option<i64>,
    pub archived: bool,
    /// Who sells it: the title's owner in the catalog (its revenue is theirs to see).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<String>,
    pub created_at: i64,
}

/// A new offer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    pub title_id: String,
    pub kind: OfferKind,
    pub price: Money,
    /// Rentals only: 1 to 8760 (default 48).
    #[schema(minimum = 1, maximum = 8760)]
    pub watch_window_hours: Option<i64>,
    /// Rentals only: 1 to 365 (default 30).
    #[schema(minimum = 1, maximum = 365)]
    pub expires_unplayed_days: Option<i64>,
}

/// What an order buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Subscription,
    Rental,
    Purchase,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscription => "subscription",
            Self::Rental => "rental",
            Self::Purchase => "purchase",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "subscription" => Some(Self::Subscription),
            "rental" => Some(Self::Rental),
            "purchase" => Some(Self::Purchase),
            _ => None,
        }
    }
}

/// Where an order is: `created` → `paying` → `fulfilled`, `failed`, or `pending` until the provider's webhook
/// settles the charge; `refunded` after a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Created,
    Paying,
    Pending,
    Fulfilled,
    Failed,
    Refunded,
}

impl OrderState {
    pub const ALL: [Self; 6] =
        [Self::Created, Self::Paying, Self::Pending, Self::Fulfilled, Self::Failed, Self::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Paying => "paying",
            Self::Pending => "pending",
            Self::Fulfilled => "fulfilled",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A new order: a plan to subscribe to, or an offer to rent or buy (one of the two), and the payment method.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub plan_id: Option<String>,
    pub offer_id: Option<String>,
    /// The provider's card token (the test provider: `tok_approve`, `tok_decline`, `tok_async`,
    /// `tok_renewal_fails`).
    pub payment_token: String,
}

/// A subscription's new card (payment method).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPaymentMethod {
    /// The provider's card token (the test provider's tokens, as for orders).
    pub payment_token: String,
}

/// An order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    pub user_id: String,
    pub kind: OrderKind,
    pub state: OrderState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_id: Option<String>,
    pub price: Money,
    /// A rental's or purchase's seller: the title's owner when the offer was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<String>,
    /// Why it failed: the provider's decline code (`card_declined`), or `overlapping_subscription`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    /// The provider's id of its charge (none for a subscription that starts with a trial).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rental_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub user_id: String,
    pub plan_id: String,
    pub state: SubscriptionState,
    pub period: Period,
    pub current_period_start: i64,
    pub current_period_end: i64,
    /// While `past_due`: when it is canceled unless paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<i64>,
    pub cancel_at_period_end: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    pub created_at: i64,
}

/// A rental.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RentalView {
    pub id: String,
    pub user_id: String,
    pub title_id: String,
    pub order_id: String,
    pub watch_window_ms: i64,
    pub expires_unplayed_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_played_at: Option<i64>,
    /// When it stops playing (as things stand: a first play moves it).
    pub plays_until: i64,
    /// Whether it plays now.
    pub active: bool,
    pub created_at: i64,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionPage {
    pub items: Vec<SubscriptionView>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct RentalPage {
    pub items: Vec<RentalView>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What a seller's titles brought in one currency: fulfilled rentals and purchases, and those refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrencyRevenue {
    /// ISO 4217.
    pub currency: String,
    /// Orders fulfilled (and not refunded).
    pub orders: i64,
    /// What they paid, in minor units.
    pub amount_minor: i64,
    pub refunded_orders: i64,
    pub refunded_minor: i64,
}

/// A seller's revenue from rentals and purchases of their titles, per currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Revenue {
    /// Whose titles: the seller's id, absent for every seller (admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<String>,
    /// One entry per currency sold in, by currency.
    pub currencies: Vec<CurrencyRevenue>,
}

/// What a renewal run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RenewalReport {
    pub renewed: u64,
    pub past_due: u64,
    pub pending: u64,
    pub canceled: u64,
    pub expired: u64,
    /// Orders found stuck in `paying` and paid again (under the same provider idempotency key: one charge).
    pub recovered: u64,
}

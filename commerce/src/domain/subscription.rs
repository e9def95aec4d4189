//! The subscription state machine: `trialing` → `active` (renewed each period) → `past_due` when a renewal is
//! declined → `canceled` when its grace period ends unpaid; `canceled` at once on request or refund, `expired`
//! at the end of a period it was set to stop at. `canceled` and `expired` are final and never grant playback.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::add_months;

/// How long after a period's end a subscription still plays while its renewal runs (the renewal task runs every
/// minute; this covers it being late or a pending charge).
pub const RENEWAL_LEEWAY_MS: i64 = 15 * 60 * 1000;

/// A plan's billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Year,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    pub fn months(self) -> i64 {
        match self {
            Self::Month => 1,
            Self::Year => 12,
        }
    }
}

/// Where a subscription is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    Trialing,
    Active,
    /// A renewal was declined; it still plays until `grace_until`, then is canceled.
    PastDue,
    Canceled,
    Expired,
}

impl SubscriptionState {
    pub const ALL: [Self; 5] = [Self::Trialing, Self::Active, Self::PastDue, Self::Canceled, Self::Expired];
    /// The states that may still grant playback and renew (the database's `live` index lists them too).
    pub const LIVE: [Self; 3] = [Self::Trialing, Self::Active, Self::PastDue];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Canceled | Self::Expired)
    }
}

/// A subscription's state and periods. Paid period `n` (from 1) ends at `anchor + n × period`, so renewals
/// do not drift; a trial ends at `anchor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub state: SubscriptionState,
    pub period: Period,
    /// Where paid periods are counted from: the trial's end, or the start without a trial.
    pub anchor: i64,
    /// Paid periods so far (0 while trialing).
    pub paid_periods: i64,
    pub period_start: i64,
    pub period_end: i64,
    /// Set while `past_due`: when it is canceled unless paid.
    pub grace_until: Option<i64>,
    /// Set to stop (`expired`) at the current period's end instead of renewing.
    pub cancel_at_period_end: bool,
    /// When it became `canceled` or `expired`.
    pub ended_at: Option<i64>,
}

/// What happens to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// The charge for the next period succeeded.
    RenewalPaid,
    /// The charge for the next period was declined: `past_due` for `grace_ms`.
    RenewalDeclined { grace_ms: i64 },
    /// The subscriber (or an admin) cancels: at once, or at the current period's end.
    Cancel { at_period_end: bool },
    /// Its payment was refunded: it ends now.
    Refunded,
    /// Time passed: a grace period or a period set to be the last may have ended.
    Tick,
}

/// What giving a subscription a new card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardChange {
    /// The unpaid renewal is charged to the new card at once (a `RenewalPaid` makes it `active` again).
    RetryNow,
    /// Nothing is owed: the new card pays the next renewal.
    Kept,
}

/// Why an event does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the subscription has ended ({0})")]
    Ended(&'static str),
    #[error("the subscription's period has not ended yet; nothing to renew")]
    NotDue,
    #[error("the subscription is set to end with its period; it does not renew")]
    Ending,
    #[error("the subscription is already set to end with its period")]
    AlreadyEnding,
    #[error("the subscription's grace period is over; it is being canceled")]
    GraceOver,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Ended(_) => "subscription_ended",
            Self::NotDue => "renewal_not_due",
            Self::Ending => "subscription_ending",
            Self::AlreadyEnding => "subscription_ending",
            Self::GraceOver => "subscription_ended",
        }
    }
}

impl Subscription {
    /// A new subscription starting `now`: `trialing` for `trial_days`, else `active` for one paid period.
    pub fn start(period: Period, trial_days: i64, now: i64) -> Self {
        let base = Self {
            state: SubscriptionState::Active,
            period,
            anchor: now,
            paid_periods: 1,
            period_start: now,
            period_end: add_months(now, period.months()),
            grace_until: None,
            cancel_at_period_end: false,
            ended_at: None,
        };
        if trial_days > 0 {
            let trial_end = now + trial_days * 86_400_000;
            Self {
                state: SubscriptionState::Trialing,
                anchor: trial_end,
                paid_periods: 0,
                period_end: trial_end,
                ..base
            }
        } else {
            base
        }
    }

    /// The subscription after `event` at `now`, or why it does not apply.
    pub fn apply(&self, event: SubscriptionEvent, now: i64) -> Result<Self, Refusal> {
        use SubscriptionState::*;
        if self.state.is_final() {
            return match event {
                // Time passing changes nothing once it has ended.
                SubscriptionEvent::Tick => Ok(self.clone()),
                _ => Err(Refusal::Ended(self.state.as_str())),
            };
        }
        let ended = |state| Self { state, grace_until: None, ended_at: Some(now), ..self.clone() };
        match event {
            SubscriptionEvent::RenewalPaid => {
                if self.cancel_at_period_end {
                    return Err(Refusal::Ending);
                }
                if self.state != PastDue && now < self.period_end {
                    return Err(Refusal::NotDue);
                }
                let paid_periods = self.paid_periods + 1;
                Ok(Self {
                    state: Active,
                    paid_periods,
                    period_start: self.period_end,
                    period_end: add_months(self.anchor, self.period.months() * paid_periods),
                    grace_until: None,
                    ..self.clone()
                })
            }
            SubscriptionEvent::RenewalDeclined { grace_ms } => match self.state {
                // A declined retry keeps the first grace period.
                PastDue => Ok(self.clone()),
                _ if self.cancel_at_period_end => Err(Refusal::Ending),
                _ if now < self.period_end => Err(Refusal::NotDue),
                _ => {
                    Ok(Self { state: PastDue, grace_until: Some(now.saturating_add(grace_ms.max(0))), ..self.clone() })
                }
            },
            SubscriptionEvent::Cancel { at_period_end: false } | SubscriptionEvent::Refunded => Ok(ended(Canceled)),
            SubscriptionEvent::Cancel { at_period_end: true } => {
                if self.cancel_at_period_end {
                    Err(Refusal::AlreadyEnding)
                } else if self.state == PastDue {
                    // Unpaid: nothing left of the period to keep.
                    Ok(ended(Canceled))
                } else {
                    Ok(Self { cancel_at_period_end: true, ..self.clone() })
                }
            }
            SubscriptionEvent::Tick => match self.grace_until {
                Some(grace_until) if now >= grace_until => Ok(ended(Canceled)),
                _ if self.cancel_at_period_end && now >= self.period_end => Ok(ended(Expired)),
                _ => Ok(self.clone()),
            },
        }
    }

    /// What a new card (payment method) does at `now`: a past-due subscription is retried at once while its
    /// grace period lasts; a trialing or active one keeps it for its next renewal; an ended one (or one whose
    /// grace period is over, which the next tick cancels) refuses it.
    pub fn card_changed(&self, now: i64) -> Result<CardChange, Refusal> {
        match self.state {
            SubscriptionState::Canceled | SubscriptionState::Expired => Err(Refusal::Ended(self.state.as_str())),
            SubscriptionState::PastDue if self.grace_until.is_none_or(|until| now >= until) => Err(Refusal::GraceOver),
            SubscriptionState::PastDue => Ok(CardChange::RetryNow),
            SubscriptionState::Trialing | SubscriptionState::Active => Ok(CardChange::Kept),
        }
    }

    /// Whether it grants playback at `now`.
    pub fn grants(&self, now: i64) -> bool {
        match self.state {
            SubscriptionState::Trialing | SubscriptionState::Active if self.cancel_at_period_end => {
                now < self.period_end
            }
            SubscriptionState::Trialing | SubscriptionState::Active => now < self.period_end + RENEWAL_LEEWAY_MS,
            SubscriptionState::PastDue => self.grace_until.is_some_and(|until| now < until),
            SubscriptionState::Canceled | SubscriptionState::Expired => false,
        }
    }

    /// Whether a renewal charge is due at `now`.
    pub fn renewal_due(&self, now: i64) -> bool {
        matches!(self.state, SubscriptionState::Trialing | SubscriptionState::Active)
            && !self.cancel_at_period_end
            && now >= self.period_end
    }

    /// The retry of a declined renewal due at `now` while past due: attempt `n` (from 1) is due `n × every_ms`
    /// after it became past due (`grace_ms` before `grace_until`), while the grace period lasts.
    pub fn retry_due(&self, now: i64, grace_ms: i64, every_ms: i64) -> Option<i64> {
        let until = self.grace_until.filter(|_| self.state == SubscriptionState::PastDue)?;
        if now >= until || every_ms <= 0 {
            return None;
        }
        let attempt = now.saturating_sub(until.saturating_sub(grace_ms)) / every_ms;
        (attempt >= 1).then_some(attempt)
    }

    /// The invariants every reachable subscription keeps (checked by the property tests).
    pub fn is_consistent(&self) -> bool {
        use SubscriptionState::*;
        let periods_ok = self.period_start < self.period_end
            && match self.paid_periods {
                0 => self.period_end == self.anchor,
                n => n > 0 && self.period_end == add_months(self.anchor, self.period.months() * n),
            };
        let state_ok = match self.state {
            Trialing => self.paid_periods == 0 && self.grace_until.is_none() && self.ended_at.is_none(),
            Active => self.paid_periods >= 1 && self.grace_until.is_none() && self.ended_at.is_none(),
            PastDue => self.grace_until.is_some() && self.ended_at.is_none() && !self.cancel_at_period_end,
            Canceled | Expired => self.grace_until.is_none() && self.ended_at.is_some(),
        };
        periods_ok && state_ok
    }
}

#[cfg(test)]
mod tests {
    use super::SubscriptionState::*;
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_767_225_600_000; // 2026-01-01

    #[test]
    fn a_trial_then_paid_months_then_a_decline_and_the_end_of_grace() {
        let trial = Subscription::start(Period::Month, 7, T0);
        assert_eq!((trial.state, trial.period_end), (Trialing, T0 + 7 * DAY));
        assert!(trial.grants(T0 + 6 * DAY));
        assert_eq!(trial.apply(SubscriptionEvent::RenewalPaid, T0 + DAY), Err(Refusal::NotDue));
        let active = trial.apply(SubscriptionEvent::RenewalPaid, T0 + 7 * DAY).unwrap();
        assert_eq!((active.state, active.period_start, active.paid_periods), (Active, T0 + 7 * DAY, 1));
        assert_eq!(active.period_end, T0 + 7 * DAY + 31 * DAY, "8 January to 8 February");
        let late = active.period_end + 1;
        let past_due = active.apply(SubscriptionEvent::RenewalDeclined { grace_ms: 3 * DAY }, late).unwrap();
        assert_eq!((past_due.state, past_due.grace_until), (PastDue, Some(late + 3 * DAY)));
        assert!(past_due.grants(late + 2 * DAY) && !past_due.grants(late + 3 * DAY));
        assert_eq!(past_due.apply(SubscriptionEvent::Tick, late + 2 * DAY).unwrap(), past_due);
        let canceled = past_due.apply(SubscriptionEvent::Tick, late + 3 * DAY).unwrap();
        assert_eq!((canceled.state, canceled.ended_at), (Canceled, Some(late + 3 * DAY)));
        assert!(!canceled.grants(late + 3 * DAY));
        assert_eq!(canceled.apply(SubscriptionEvent::RenewalPaid, late + 4 * DAY), Err(Refusal::Ended("canceled")));
    }

    #[test]
    fn a_late_payment_restores_a_past_due_subscription_on_its_anchor() {
        let active = Subscription::start(Period::Month, 0, T0);
        let due = active.period_end;
        let past_due = active.apply(SubscriptionEvent::RenewalDeclined { grace_ms: 3 * DAY }, due).unwrap();
        let paid = past_due.apply(SubscriptionEvent::RenewalPaid, due + DAY).unwrap();
        assert_eq!((paid.state, paid.period_start, paid.grace_until), (Active, due, None));
        assert_eq!(paid.period_end, add_months(T0, 2));
    }

    #[test]
    fn canceling_at_period_end_expires_it_then() {
        let active = Subscription::start(Period::Year, 0, T0);
        let ending = active.apply(SubscriptionEvent::Cancel { at_period_end: true }, T0 + DAY).unwrap();
        assert_eq!(ending.apply(SubscriptionEvent::Cancel { at_period_end: true }, T0), Err(Refusal::AlreadyEnding));
        assert!(!ending.renewal_due(ending.period_end) && ending.grants(ending.period_end - 1));
        assert!(!ending.grants(ending.period_end), "no leeway for a subscription that ends");
        assert_eq!(ending.apply(SubscriptionEvent::Tick, ending.period_end).unwrap().state, Expired);
        let now = active.apply(SubscriptionEvent::Cancel { at_period_end: false }, T0 + DAY).unwrap();
        assert!(now.state == Canceled && !now.grants(T0 + DAY));
    }

    #[test]
    fn declined_renewals_are_retried_each_interval_while_grace_lasts() {
        let active = Subscription::start(Period::Month, 0, T0);
        let due = active.period_end;
        assert_eq!(active.retry_due(due + 2 * DAY, 3 * DAY, DAY), None, "only past-due subscriptions retry");
        let past_due = active.apply(SubscriptionEvent::RenewalDeclined { grace_ms: 3 * DAY }, due).unwrap();
        assert_eq!(past_due.retry_due(due + DAY - 1, 3 * DAY, DAY), None);
        assert_eq!(past_due.retry_due(due + DAY, 3 * DAY, DAY), Some(1));
        assert_eq!(past_due.retry_due(due + 2 * DAY + 5, 3 * DAY, DAY), Some(2));
        assert_eq!(past_due.retry_due(due + 3 * DAY, 3 * DAY, DAY), None, "the grace period is over");
    }

    #[test]
    fn a_new_card_retries_a_past_due_subscription_at_once_and_only_then() {
        let active = Subscription::start(Period::Month, 0, T0);
        assert_eq!(active.card_changed(T0 + DAY), Ok(CardChange::Kept));
        assert_eq!(Subscription::start(Period::Month, 7, T0).card_changed(T0), Ok(CardChange::Kept));
        let due = active.period_end;
        let past_due = active.apply(SubscriptionEvent::RenewalDeclined { grace_ms: 3 * DAY }, due).unwrap();
        assert_eq!(past_due.card_changed(due + 1), Ok(CardChange::RetryNow));
        assert_eq!(past_due.retry_due(due + 1, 3 * DAY, DAY), None, "long before the scheduled retry");
        // The new card pays: active again, on the same anchor, from the unpaid period's start.
        let paid = past_due.apply(SubscriptionEvent::RenewalPaid, due + 1).unwrap();
        assert_eq!((paid.state, paid.period_start, paid.grace_until), (Active, due, None));
        assert_eq!(paid.card_changed(due + 2), Ok(CardChange::Kept), "nothing owed any more: no second charge");
        // Declined too: still past due, with the first grace period.
        assert_eq!(
            past_due.apply(SubscriptionEvent::RenewalDeclined { grace_ms: 9 * DAY }, due + 1),
            Ok(past_due.clone())
        );
        assert_eq!(past_due.card_changed(due + 3 * DAY), Err(Refusal::GraceOver));
        let canceled = past_due.apply(SubscriptionEvent::Tick, due + 3 * DAY).unwrap();
        assert_eq!(canceled.card_changed(due + 3 * DAY), Err(Refusal::Ended("canceled")));
    }

    fn event() -> impl Strategy<Value = SubscriptionEvent> {
        prop_oneof![
            Just(SubscriptionEvent::RenewalPaid),
            (0i64..10 * DAY).prop_map(|grace_ms| SubscriptionEvent::RenewalDeclined { grace_ms }),
            any::<bool>().prop_map(|at_period_end| SubscriptionEvent::Cancel { at_period_end }),
            Just(SubscriptionEvent::Refunded),
            Just(SubscriptionEvent::Tick),
        ]
    }

    proptest! {
        /// Whatever happens in whatever order, the subscription stays consistent, final states stay final and
        /// never grant, and a refused event changes nothing.
        #[test]
        fn no_event_sequence_reaches_an_invalid_state(
            trial_days in 0i64..31,
            yearly in any::<bool>(),
            steps in proptest::collection::vec((event(), 0i64..40 * DAY), 0..40),
        ) {
            let period = if yearly { Period::Year } else { Period::Month };
            let mut now = T0;
            let mut subscription = Subscription::start(period, trial_days, now);
            prop_assert!(subscription.is_consistent());
            for (event, wait) in steps {
                now += wait;
                let before = subscription.clone();
                match subscription.apply(event, now) {
                    Ok(next) => subscription = next,
                    Err(_) => prop_assert!(!before.state.is_final() || event != SubscriptionEvent::Tick),
                }
                prop_assert!(subscription.is_consistent(), "{:?} after {:?}", subscription, event);
                if before.state.is_final() {
                    prop_assert_eq!(&subscription, &before, "final states are final");
                }
                if subscription.state.is_final() {
                    prop_assert!(!subscription.grants(now) && !subscription.grants(now + 365 * DAY));
                    prop_assert!(!subscription.renewal_due(now));
                }
                // A new card: refused once ended, retried at once exactly while past due and in grace, and a
                // retry that pays leaves it active and consistent, one period further, with nothing more to retry.
                match subscription.card_changed(now) {
                    Err(_) => prop_assert!(
                        subscription.state.is_final()
                            || (subscription.state == PastDue && !subscription.grants(now))
                    ),
                    Ok(CardChange::Kept) => prop_assert!(matches!(subscription.state, Trialing | Active)),
                    Ok(CardChange::RetryNow) => {
                        prop_assert!(subscription.state == PastDue && subscription.grants(now));
                        let paid = subscription.apply(SubscriptionEvent::RenewalPaid, now).unwrap();
                        prop_assert!(paid.state == Active && paid.is_consistent());
                        prop_assert_eq!(paid.card_changed(now), Ok(CardChange::Kept));
                        prop_assert_eq!(paid.paid_periods, subscription.paid_periods + 1);
                    }
                }
            }
        }
    }
}

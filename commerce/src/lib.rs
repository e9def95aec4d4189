//! The commerce satellite (`marquee api` mounts it): plans, subscriptions, rentals, purchases and orders,
//! payments through a provider trait (a built-in test provider; no real payment network is ever contacted), and
//! the entitlements the control API's playback endpoint asks.
//!
//! - [`domain`]: the rules as pure values: prices, the subscription state machine, rentals, availability and
//!   the entitlement rule.
//! - [`titles`]: the [`titles::Titles`] trait the catalog implements; [`clock`]: the time decisions use.
//! - [`provider`]: the [`provider::PaymentProvider`] trait; [`test_provider`]: the built-in one.

pub mod clock;
pub mod domain;
pub mod provider;
pub mod test_provider;
pub mod titles;

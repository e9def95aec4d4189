//! The commerce satellite (`marquee api` mounts it): plans, subscriptions, rentals, purchases and orders,
//! payments through a provider trait (a built-in test provider; no real payment network is ever contacted), and
//! the entitlements the control API's playback endpoint asks.
//!
//! - [`domain`]: the rules as pure values: prices, the subscription state machine, rentals, availability and
//!   the entitlement rule.
//! - [`satellite`]: [`Commerce`], what `marquee api` mounts: `Commerce::new(titles, provider, clock)`, its
//!   [`Commerce::entitlements`] for `Playback::entitlements`, and [`Commerce::renew_due`].
//! - [`titles`]: the [`titles::Titles`] trait the catalog implements; [`clock`]: the time decisions use.
//! - [`provider`]: the [`provider::PaymentProvider`] trait; [`test_provider`]: the built-in one.
//! - [`orders`] and [`renewals`]: paying, fulfilling and renewing; [`store`]: the tables; [`routes`]: HTTP.

pub mod clock;
pub mod domain;
pub mod entitlements;
pub mod model;
pub mod orders;
pub mod provider;
pub mod renewals;
pub mod routes;
pub mod satellite;
pub mod store;
pub mod test_provider;
pub mod titles;

pub use satellite::{Commerce, CommerceSettings};

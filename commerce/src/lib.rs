//! The commerce satellite (`marquee api` mounts it): plans, subscriptions, rentals, purchases and orders,
//! payments through a provider trait (a built-in test provider; no real payment network is ever contacted), and
//! the entitlements the control API's playback endpoint asks.
//!
//! - [`domain`]: the rules as pure values: prices, the subscription state machine, rentals, availability and
//!   the entitlement rule.
//! - [`satellite`]: [`Commerce`], what `marquee api` mounts: `Commerce::new(titles, provider, clock)`, its
//!   [`Commerce::entitlements`] for `Playback::entitlements`, and [`Commerce::renew_due`].
//! - [`titles`]: the [`titles::Titles`] trait the catalog implements (time is the API's clock, `AppState::clock`).
//! - [`provider`]: the [`provider::PaymentProvider`] trait; [`test_provider`]: the built-in one.
//! - [`orders`] and [`renewals`]: paying, fulfilling and renewing; [`store`]: the tables; [`routes`]: HTTP.

//!
//! Wiring it into `marquee api` (the catalog implements [`titles::Titles`]):
//!
//! ```ignore
//! let commerce = Commerce::new(catalog_titles, Arc::new(TestProvider::new()), app.clock.clone());
//! let playback = Playback { entitlements: commerce.entitlements(), ttl: Duration::from_secs(300), .. };
//! let satellites = Satellites::new().with(commerce.clone());
//! ```
//!
//! Playback asks [`entitlements::CommerceEntitlements`] on every `POST /v1/assets/{id}/playback` for a signed
//! asset the caller does not own, so a canceled subscription stops new playback at once, and URLs already
//! handed out stop working when their token expires (`Playback::ttl`).

pub mod domain;
pub mod entitlements;
pub mod model;
pub mod orders;
pub mod provider;
pub mod renewals;
pub mod routes;
pub mod satellite;
pub mod state;
pub mod store;
pub mod test_provider;
pub mod titles;

pub use satellite::{Commerce, CommerceSettings};

//! The commerce satellite (`marquee api` mounts it): plans, subscriptions, rentals, purchases and orders,
//! payments through a provider trait (a built-in test provider; no real payment network is ever contacted), and
//! the entitlements the control API's playback endpoint asks.

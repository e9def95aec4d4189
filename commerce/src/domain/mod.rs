//! Commerce's rules as values in, values out (no I/O): prices, the subscription state machine, rentals,
//! titles' availability and the entitlement rule.

pub mod calendar;
pub mod entitlement;
pub mod money;
pub mod rental;
pub mod subscription;
pub mod title;

//! The shared test harness (`marquee_control_api::testing`, feature `testing`), under the name the tests use.
#![allow(unused_imports)]

pub use marquee_control_api::testing::*;

//! Helpers shared by the integration tests. Each test binary uses a different part of them.
#![allow(dead_code)]

pub mod conformance;
#[allow(unused_imports)] // the S3 tests use it, the local-directory tests do not
pub use marquee_test_support::garage;

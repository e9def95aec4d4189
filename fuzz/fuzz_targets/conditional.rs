//! Conditional requests: `marquee_http::selection::select` over arbitrary `If-*` and `Range` values agrees with
//! `conditional::evaluate` and `range_allowed` and never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_http::fuzzing::conditional(data));

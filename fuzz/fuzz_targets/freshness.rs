//! `Cache-Control`, `Surrogate-Control` and `Expires`: `FreshnessPolicy::evaluate` never panics and keeps every
//! lifetime within the policy's caps.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_edge_cache::fuzzing::freshness(data));

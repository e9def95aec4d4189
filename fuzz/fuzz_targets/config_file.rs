//! `marquee.toml` with the edge's section: reading never panics, the keys it keeps pass their checks, and
//! together they resolve into an `EdgeConfig` whose checks never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_edge_cache::fuzzing::config_file(data));

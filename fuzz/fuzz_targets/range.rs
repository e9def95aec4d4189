//! `Range`: `marquee_http::range::decide` and `storage_range` never panic, agree with each other, and keep a
//! partial range inside the object.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_http::fuzzing::range(data));

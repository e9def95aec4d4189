//! Key files: `marquee_signing::KeyRing::from_toml` never panics; a ring it builds signs tokens that verify.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_signing::fuzzing::key_file(data));

//! Signed-URL tokens: `Verifier::verify`, `verify_token_path`, `split_token_path` and `query_token` never panic
//! or accept unsigned text; a token that parses is canonical and re-signs to one that verifies.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_signing::fuzzing::token(data));

//! `marquee_http::path::decode_request_path`: no panic; accepted paths have no empty, `.` or `..` segment, no
//! backslash or control character, and survive re-encoding.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_http::fuzzing::request_path(data));

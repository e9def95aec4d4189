//! The disk tier's entry codec: `disk::entry::decode` never panics, and what it accepts round-trips.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| marquee_edge_cache::fuzzing::disk_entry(data));

//! Real servers for Marquee's integration tests, shared by every crate's `tests/`: each starts in a temporary
//! directory on free loopback ports and is stopped when dropped. Only ever a dev-dependency.

pub mod garage;

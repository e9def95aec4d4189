//! What Marquee's integration tests share: real servers (each starts in a temporary directory on free
//! loopback ports and is stopped when dropped) and the replay of committed fuzz crashers. Only ever a
//! dev-dependency.

pub mod fuzz;
pub mod garage;

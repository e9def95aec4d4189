//! What Marquee's integration tests share: real servers (each starts in a temporary directory on free
//! loopback ports and is stopped when dropped) and the replay of committed fuzz crashers. Only ever a
//! dev-dependency.

pub mod fuzz;
pub mod garage;
pub mod postgres;

use std::net::{Ipv4Addr, TcpListener};

/// A loopback port that was free a moment ago. Another process can take it before a server binds it, so the
/// launchers retry with another.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

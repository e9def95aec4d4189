//! Pure HTTP helpers: request-path decoding, byte ranges, conditional requests, content types and cache
//! policy. Values in, values out; the server shell in `server.rs` calls them.

pub mod conditional;
pub mod content;
pub mod path;
pub mod range;

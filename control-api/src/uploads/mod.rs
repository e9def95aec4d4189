//! Resumable uploads (tus 1.0) straight into storage.
//!
//! - [`tus`]: the protocol as values (headers parsed and formatted, the rules that pick 409, 460, 413, 410).

pub mod tus;

pub use tus::{Checksum, ChecksumAlgorithm, Metadata, TusError};

//! Outbound requests to URLs that users chose (webhook endpoints, `input_url` sources), made safely.
//!
//! - [`address`]: which IP addresses are private (loopback, private, link-local, shared, …) and whether a URL's
//!   host is written as such an address. Pure.
//! - [`public_dns`]: a resolver for reqwest that keeps only public addresses, so a name that resolves to the
//!   caller's own machine or network is refused (server-side request forgery).
//! - [`fetch`]: [`fetch_to_file`], a download streamed to a file: http(s) only, size-limited (by
//!   `Content-Length` up front and while streaming), 2xx only, at most [`fetch::MAX_REDIRECTS`] redirects,
//!   each checked like the first URL; errors say what went wrong in one sentence and whether a retry may help.
//!
//! The crate knows nothing of the API or the farm: the webhook dispatcher and the transcode worker both use it.

pub mod address;
pub mod fetch;
pub mod public_dns;

pub use address::{is_private_address, literal_private_host};
pub use fetch::{fetch_to_file, FetchError};
pub use public_dns::{NoPublicAddress, PublicAddressesOnly};

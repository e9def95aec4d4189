//! Signed URLs for the Marquee origin and edge: pure functions, no I/O.
//!
//! Players fetch through URLs like `/t/{token}/film42/master.m3u8`. The token sits in the path, so the
//! relative URIs inside HLS playlists and DASH manifests inherit it and every segment request stays
//! authorised without rewriting manifests. A token is an HMAC-SHA256 over a [`Grant`]: one path prefix
//! (`/film42/`), an expiry, optionally a not-before time, a client IP and a session id, plus the id of the
//! key that signed it so keys can rotate (see [`KeyRing`]). The format is described in [`token`].
//!
//! ```
//! use marquee_signing::{ClientContext, Grant, KeyRing, SigningKey, Verifier};
//!
//! let keys = KeyRing::single(SigningKey::new("k1", &[42; 32])?);
//! let grant = Grant::new("/film42/", 1_800_000_000)?;
//! let url = keys.signed_path(&grant, "master.m3u8")?; // "/t/v1.k1.…/film42/master.m3u8"
//!
//! let verifier = Verifier::new(keys);
//! let claims = verifier.verify_token_path(&url, 1_799_999_000, ClientContext::default())?;
//! assert_eq!(claims.grant.prefix(), "/film42/");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod path;
pub mod token;
mod verify;

pub use error::{SigningError, TokenError};
pub use keys::{generate_key_file_toml, KeyFile, KeyRing, SigningKey};
pub use path::{check_plain_path, query_token, split_token_path, token_path, PathProblem};
pub use token::{Claims, Grant};
pub use verify::{ClientContext, Verifier};

//! Marquee's web app in the binary: the files Vite builds from `frontend/` (`frontend/dist`), embedded at compile
//! time, served by [`router`] beside the control API.
//!
//! - Files under `assets/` have content hashes in their names: they are cached for a year (`immutable`).
//! - Every other file, and `index.html`, is revalidated on each load (`no-cache` with an `ETag`), so a new build
//!   reaches browsers at once.
//! - A path with no file extension that is not a file is one of the app's own routes (`/titles/…`, `/studio`):
//!   it gets `index.html` and the app routes in the browser. A missing file with an extension is a 404.
//!
//! [`Source::Directory`] serves a folder instead (a `vite build --watch` output), for working on the app without
//! rebuilding the binary.

mod serve;

pub use serve::{router, Source};

/// Whether this binary holds the built web app (false: the stand-in page saying how to build it).
pub fn is_built() -> bool {
    env!("MARQUEE_WEB_APP_BUILT") == "1"
}

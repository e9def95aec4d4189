//! What every Marquee HTTP service is served with, so that a service is only its own routes: the origin and
//! the edge are peers on top of this crate, and neither depends on the other.
//!
//! - Serving: [`listener`] (the connection loop: HTTP/1.1 with keep-alive, h2c, TLS by ALPN, timeouts,
//!   connection limit, graceful shutdown) with its [`connections`] settings, [`workers`] (one single-threaded
//!   runtime per CPU over a shared socket), [`tls`] and [`io`] (the client timeouts hyper has not).
//! - Pure header logic, values in and values out: [`path`] (request-path decoding), [`range`], [`conditional`],
//!   [`content`] (content types and cache lifetimes of packaged media), and [`selection`], which combines the
//!   conditional and range headers into the answer for one object version.
//! - Access: [`authorizer`] (signed-URL tokens in the path, checked with `marquee-signing`) for the [`client`]
//!   of a request (its address and session id).
//! - Answers: [`admin`] (`/healthz`, `/readyz` with named checks, `/metrics`) and [`response`] (short texts,
//!   and the one mapping from a service's refusal to its response).

pub mod admin;
pub mod authorizer;
pub mod client;
pub mod conditional;
pub mod connections;
pub mod content;
#[doc(hidden)]
pub mod fuzzing;
pub mod io;
pub mod listener;
pub mod path;
pub mod range;
pub mod response;
pub mod selection;
pub mod tls;
pub mod workers;

pub use admin::{Admin, AdminRoute};
pub use authorizer::{AuthorizedPath, Denial, RequestAuthorizer, SignedUrls, Unsigned};
pub use client::{Client, ProxyRange, TrustedProxies};
pub use connections::ConnectionSettings;
pub use listener::{serve_connections, BoxError, RequestBody};
pub use response::ErrorResponse;
pub use tls::{TlsError, TlsFiles};
pub use workers::{default_worker_threads, serve_on_worker_threads};

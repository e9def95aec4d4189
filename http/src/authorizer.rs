//! The boundary with URL signing: who may fetch which object.

use crate::client::Client;

/// The path prefix that carries a signed-URL token: `/t/{token}/{asset}/{file}`.
pub const TOKEN_PATH_PREFIX: &str = "/t/";

/// A request path split into its token (when it has the `/t/{token}/` form) and the object path after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPath<'a> {
    /// The `{token}` segment, as it appears in the path.
    pub token: Option<&'a str>,
    /// The storage-relative path, without a leading `/`: `film/video_720p/seg_00001.m4s`.
    pub object_path: &'a str,
}

/// Splits `/t/{token}/{rest}` into the token and `rest`; any other path is all object path. `path` is the
/// decoded, validated request path, starting with `/`.
pub fn split_token_path(path: &str) -> TokenPath<'_> {
    if let Some(after) = path.strip_prefix(TOKEN_PATH_PREFIX) {
        if let Some((token, rest)) = after.split_once('/') {
            if !token.is_empty() && !rest.is_empty() {
                return TokenPath { token: Some(token), object_path: rest };
            }
        }
    }
    TokenPath { token: None, object_path: path.trim_start_matches('/') }
}

/// The storage-relative path a request may read, with any `/t/{token}` part removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedPath(String);

impl AuthorizedPath {
    pub fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a request was refused. Every denial is a 403; `as_str` is the log field and metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The path has no `/t/{token}/` part and this authorizer needs one.
    MissingToken,
    /// The token does not parse or its signature does not verify.
    InvalidToken,
    /// The token's validity window has passed.
    Expired,
    /// The token is bound to another client address.
    ClientMismatch,
    /// The token does not cover this path.
    PathNotCovered,
}

impl Denial {
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::MissingToken => "missing_token",
            Denial::InvalidToken => "invalid_token",
            Denial::Expired => "expired",
            Denial::ClientMismatch => "client_mismatch",
            Denial::PathNotCovered => "path_not_covered",
        }
    }
}

/// Decides whether a request may read an object, and which one.
///
/// `path` is the decoded request path (it starts with `/`, has no `.`/`..`/empty segments, no encoded `/`,
/// no backslash and no control character); `query` is the raw query string. The returned path is looked up
/// in storage after validation as an `ObjectKey`, so an authorizer cannot widen what is reachable. `client`
/// is who sent it (its address and session id), for tokens bound to either.
pub trait RequestAuthorizer: Send + Sync {
    fn authorize(&self, path: &str, query: Option<&str>, client: &Client<'_>) -> Result<AuthorizedPath, Denial>;
}

/// Serves every object to everyone: an explicit opt-in for public content and development. A `/t/{token}/`
/// part is accepted and ignored, so signed URLs keep working when signing is switched off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unsigned;

impl RequestAuthorizer for Unsigned {
    fn authorize(&self, path: &str, _query: Option<&str>, _client: &Client<'_>) -> Result<AuthorizedPath, Denial> {
        Ok(AuthorizedPath::new(split_token_path(path).object_path))
    }
}

/// Serves a request only with a valid signed-URL token (`/t/{token}/…`, or `?token=` as a fallback) that
/// covers the requested path, checked with [`marquee_signing::Verifier`]: key id known, MAC correct
/// (constant time), not expired, path inside the granted prefix, and bound IP or session matching.
pub struct SignedUrls {
    verifier: marquee_signing::Verifier,
    now: fn() -> u64,
}

impl SignedUrls {
    pub fn new(keys: marquee_signing::KeyRing) -> Self {
        Self { verifier: marquee_signing::Verifier::new(keys), now: unix_now }
    }

    /// The same with a fixed clock, for tests of expiry.
    pub fn with_clock(keys: marquee_signing::KeyRing, now: fn() -> u64) -> Self {
        Self { verifier: marquee_signing::Verifier::new(keys), now }
    }
}

impl std::fmt::Debug for SignedUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedUrls").finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl RequestAuthorizer for SignedUrls {
    fn authorize(&self, path: &str, query: Option<&str>, client: &Client<'_>) -> Result<AuthorizedPath, Denial> {
        let split = split_token_path(path);
        let token = split.token.or_else(|| query.and_then(marquee_signing::query_token)).ok_or(Denial::MissingToken)?;
        let object_path = format!("/{}", split.object_path);
        let client = marquee_signing::ClientContext { ip: Some(client.ip), session: client.session };
        match self.verifier.verify(token, &object_path, (self.now)(), client) {
            Ok(_) => Ok(AuthorizedPath::new(split.object_path)),
            Err(e) => {
                tracing::debug!(reason = e.as_str(), "Token refused.");
                Err(denial_for(&e))
            }
        }
    }
}

fn denial_for(e: &marquee_signing::TokenError) -> Denial {
    use marquee_signing::TokenError as T;
    match e {
        T::Expired { .. } => Denial::Expired,
        T::IpMismatch | T::SessionMismatch => Denial::ClientMismatch,
        T::WrongPrefix | T::UnsafePath => Denial::PathNotCovered,
        _ => Denial::InvalidToken,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn ring() -> marquee_signing::KeyRing {
        marquee_signing::KeyRing::single(marquee_signing::SigningKey::new("k1", &[7u8; 32]).unwrap())
    }

    #[test]
    fn signed_urls_accept_a_covering_token_and_refuse_the_rest() {
        let keys = ring();
        let grant = marquee_signing::Grant::new("/film42/", 2_000_000_000).unwrap();
        let url = keys.signed_path(&grant, "master.m3u8").unwrap();
        let ip = &Client::at(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let auth = SignedUrls::with_clock(ring(), || 1_900_000_000);
        assert_eq!(auth.authorize(&url, None, ip).unwrap().as_str(), "film42/master.m3u8");
        let segment = url.replace("master.m3u8", "video_720p/seg_00001.m4s");
        assert_eq!(auth.authorize(&segment, None, ip).unwrap().as_str(), "film42/video_720p/seg_00001.m4s");
        let other = url.replace("/film42/", "/film43/");
        assert_eq!(auth.authorize(&other, None, ip).unwrap_err(), Denial::PathNotCovered);
        assert_eq!(auth.authorize("/film42/master.m3u8", None, ip).unwrap_err(), Denial::MissingToken);
        let expired = SignedUrls::with_clock(ring(), || 2_000_000_000);
        assert_eq!(expired.authorize(&url, None, ip).unwrap_err(), Denial::Expired);
        let token = url.split('/').nth(2).unwrap();
        let last = if token.ends_with('A') { "B" } else { "A" };
        let tampered = url.replacen(token, &format!("{}{last}", &token[..token.len() - 1]), 1);
        assert_eq!(auth.authorize(&tampered, None, ip).unwrap_err(), Denial::InvalidToken);
        let query = format!("token={token}");
        assert_eq!(auth.authorize("/film42/master.m3u8", Some(&query), ip).unwrap().as_str(), "film42/master.m3u8");
    }

    #[test]
    fn tokens_bound_to_an_ip_or_a_session_pass_only_for_that_client() {
        let keys = ring();
        let auth = SignedUrls::with_clock(ring(), || 1_900_000_000);
        let grant = marquee_signing::Grant::new("/film42/", 2_000_000_000).unwrap();
        let here = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let by_ip = keys.signed_path(&grant.clone().bind_ip(here), "master.m3u8").unwrap();
        assert!(auth.authorize(&by_ip, None, &Client::at(here)).is_ok());
        let elsewhere = Client::at(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)));
        assert_eq!(auth.authorize(&by_ip, None, &elsewhere).unwrap_err(), Denial::ClientMismatch);
        let by_session = keys.signed_path(&grant.bind_session("viewer-9").unwrap(), "master.m3u8").unwrap();
        let with = Client { ip: here, session: Some("viewer-9") };
        assert!(auth.authorize(&by_session, None, &with).is_ok());
        let other = Client { ip: here, session: Some("viewer-10") };
        assert_eq!(auth.authorize(&by_session, None, &other).unwrap_err(), Denial::ClientMismatch);
        assert_eq!(auth.authorize(&by_session, None, &Client::at(here)).unwrap_err(), Denial::ClientMismatch);
    }

    #[test]
    fn token_part_is_split_off() {
        let split = split_token_path("/t/abc.DEF_-/film/video_720p/seg_00001.m4s");
        assert_eq!(split, TokenPath { token: Some("abc.DEF_-"), object_path: "film/video_720p/seg_00001.m4s" });
        assert_eq!(split_token_path("/film/master.m3u8"), TokenPath { token: None, object_path: "film/master.m3u8" });
        // A token with nothing after it names no object, and `t` may be an ordinary asset name.
        assert_eq!(split_token_path("/t/abc"), TokenPath { token: None, object_path: "t/abc" });
    }

    #[test]
    fn unsigned_strips_the_token_and_allows_everything() {
        let ip = &Client::at(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(Unsigned.authorize("/t/tok/film/init.mp4", None, ip).unwrap().as_str(), "film/init.mp4");
        assert_eq!(Unsigned.authorize("/film/init.mp4", Some("x=1"), ip).unwrap().as_str(), "film/init.mp4");
    }
}

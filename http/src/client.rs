//! Who sent a request, as a token check sees it: the client's IP address (the connection's peer) and the
//! session id the player presents.
//!
//! A token made with `marquee sign --session ID` is honoured only on requests that carry that id, in the
//! `X-Marquee-Session` header (hls.js `xhrSetup`, dash.js request modifiers, Shaka request filters, native
//! apps) or, where a player cannot add headers (Safari's native HLS), in the `marquee_session` cookie. The
//! header wins when both are present.

use std::net::IpAddr;

use http::header::{self, HeaderMap};

/// The request header that carries a session id.
pub const SESSION_HEADER: &str = "x-marquee-session";
/// The cookie that carries a session id for players that cannot set headers.
pub const SESSION_COOKIE: &str = "marquee_session";

/// The client of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client<'a> {
    /// The address the request came from.
    pub ip: IpAddr,
    /// The session id the request presents, if any.
    pub session: Option<&'a str>,
}

impl<'a> Client<'a> {
    /// The client of a request from `peer` with `headers`.
    pub fn of(peer: IpAddr, headers: &'a HeaderMap) -> Self {
        Self { ip: peer, session: session_id(headers) }
    }

    /// A client with no session id, for callers that have no request headers.
    pub fn at(ip: IpAddr) -> Self {
        Self { ip, session: None }
    }
}

/// The session id of a request: the `X-Marquee-Session` header, else the `marquee_session` cookie.
pub fn session_id(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(SESSION_HEADER) {
        return value.to_str().ok().map(str::trim).filter(|id| !id.is_empty());
    }
    headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|cookies| {
        cookies.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == SESSION_COOKIE).then(|| value.trim().trim_matches('"')).filter(|id| !id.is_empty())
        })
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_comes_from_the_header_or_else_the_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_id(&headers), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; marquee_session=\"abc\"; x=1"));
        assert_eq!(session_id(&headers), Some("abc"));
        headers.insert(SESSION_HEADER, HeaderValue::from_static(" s-42 "));
        assert_eq!(session_id(&headers), Some("s-42"));
        let mut only_other_cookies = HeaderMap::new();
        only_other_cookies.insert(header::COOKIE, HeaderValue::from_static("marquee_sessions=no; session=no"));
        assert_eq!(session_id(&only_other_cookies), None);
    }
}

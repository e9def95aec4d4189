//! Who sent a request, as a token check sees it: the client's IP address (the connection's peer) and the
//! session id the player presents.
//!
//! A token made with `marquee sign --session ID` is honoured only on requests that carry that id, in the
//! `X-Marquee-Session` header (hls.js `xhrSetup`, dash.js request modifiers, Shaka request filters, native
//! apps) or, where a player cannot add headers (Safari's native HLS), in the `marquee_session` cookie. The
//! header wins when both are present.
//!
//! Behind a load balancer or a TLS terminator the peer is the proxy, not the viewer. A server told which
//! peers are its proxies ([`TrustedProxies`]) takes the client's address from their `X-Forwarded-For`: the
//! nearest address in it that is not itself a trusted proxy. A peer that is not trusted is the client, whatever
//! it sends, so nobody can claim another address by sending the header themselves.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::header::{self, HeaderMap};
use ipnet::IpNet;

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
    /// The client of a request from `peer` with `headers`, `peer` being the client itself.
    pub fn of(peer: IpAddr, headers: &'a HeaderMap) -> Self {
        Self { ip: peer, session: session_id(headers) }
    }

    /// The client of a request from `peer` with `headers`, looking through the proxies in `trusted`.
    pub fn behind(peer: IpAddr, headers: &'a HeaderMap, trusted: &TrustedProxies) -> Self {
        Self { ip: trusted.client_ip(peer, headers), session: session_id(headers) }
    }

    /// A client with no session id, for callers that have no request headers.
    pub fn at(ip: IpAddr) -> Self {
        Self { ip, session: None }
    }
}

/// An address or CIDR range of proxies whose `X-Forwarded-For` is believed: `10.0.0.0/8`, `192.0.2.7`,
/// `2001:db8::/32`. A bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange(IpNet);

impl FromStr for ProxyRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(|net| Self(net.trunc()))
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range such as \"10.0.0.0/8\""))
    }
}

impl fmt::Display for ProxyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            net if net.prefix_len() == net.max_prefix_len() => write!(f, "{}", net.addr()),
            net => write!(f, "{net}"),
        }
    }
}

impl serde::Serialize for ProxyRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ProxyRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The proxies in front of a server. Empty (the default): every peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ProxyRange>);

impl TrustedProxies {
    pub fn new(ranges: impl IntoIterator<Item = ProxyRange>) -> Self {
        Self(ranges.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|range| range.0.contains(&ip))
    }

    /// The client's address: `peer` unless `peer` is a trusted proxy; then, walking `X-Forwarded-For` from the
    /// nearest hop back, the first address that is not a trusted proxy (or the farthest, when all are). An
    /// entry that is not an address ends the walk at the hop before it.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
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

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_static(value));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop_behind_trusted_proxies() {
        let trusted = TrustedProxies::new(["10.0.0.0/8".parse().unwrap(), "192.0.2.7".parse().unwrap()]);
        let chain = forwarded(&["203.0.113.9, 198.51.100.4", "10.1.2.3"]);
        assert_eq!(trusted.client_ip(ip("192.0.2.7"), &chain), ip("198.51.100.4"), "the nearest untrusted hop");
        assert_eq!(
            trusted.client_ip(ip("198.51.100.77"), &chain),
            ip("198.51.100.77"),
            "an untrusted peer is the client"
        );
        assert_eq!(TrustedProxies::default().client_ip(ip("10.0.0.1"), &chain), ip("10.0.0.1"), "no proxies trusted");
        let all_trusted = forwarded(&["10.9.9.9, 10.1.1.1"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &all_trusted),
            ip("10.9.9.9"),
            "the farthest when all are trusted"
        );
        let garbage = forwarded(&["203.0.113.9, unknown, 10.1.1.1"]);
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &garbage), ip("10.1.1.1"), "the walk stops at a non-address");
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"), "no header: the peer");
        let mapped = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(trusted.client_ip(ip("::ffff:10.0.0.1"), &mapped), ip("203.0.113.9"), "IPv4-mapped addresses");
    }

    #[test]
    fn proxy_ranges_read_and_write_addresses_and_cidrs() {
        for text in ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"] {
            assert_eq!(text.parse::<ProxyRange>().unwrap().to_string(), text);
        }
        assert_eq!("10.1.2.3/8".parse::<ProxyRange>().unwrap().to_string(), "10.0.0.0/8");
        assert!("10.0.0.0/33".parse::<ProxyRange>().unwrap_err().contains("not an IP address or CIDR range"));
        assert!("proxy.example".parse::<ProxyRange>().is_err());
    }

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

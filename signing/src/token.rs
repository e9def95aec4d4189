//! The v1 token: what it grants, how it is written, and how it is read back (canonical encodings only).
//!
//! ```text
//! token   = "v1" "." kid "." "p" b64(prefix) "." "e" exp [ "." "n" nbf ] [ "." "i" b64(ip) ] [ "." "s" b64(session) ] "." b64(mac)
//! kid     = 1*32( ALPHA / DIGIT / "_" / "-" )
//! exp,nbf = unix seconds, decimal, no leading zeros
//! ip      = 4 octets (IPv4, also for IPv4-mapped IPv6) or 16 octets (IPv6)
//! b64     = base64url without padding, zero trailing bits
//! mac     = HMAC-SHA256(key[kid], DOMAIN || everything before the last ".")  (32 bytes, 43 characters)
//! ```
//!
//! Every character is unreserved in a URL path (`A-Z a-z 0-9 - _ .`), so a token is one path segment
//! needing no escapes. Reading re-writes the claims and demands the exact same text, so every claim set
//! has exactly one valid token per key (no leading zeros, no padding, no stray bits, fixed field order).

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;

use crate::keys::{is_valid_key_id, HmacSha256};
use crate::path::{check_plain_path, check_prefix, token_path};
use crate::{KeyRing, SigningError};

/// The version field every v1 token starts with.
pub const TOKEN_VERSION: &str = "v1";
/// Longest token this crate will look at, in bytes; longer ones are refused before any work.
pub const MAX_TOKEN_LEN: usize = 1024;
/// Longest authorised prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 256;
/// Longest session id, in bytes.
pub const MAX_SESSION_LEN: usize = 128;
/// Bytes of HMAC-SHA256 output carried in a token (all of it).
pub const MAC_LEN: usize = 32;
/// Prepended to the signed text so a MAC made here means nothing to any other user of the same key.
const MAC_DOMAIN: &[u8] = b"marquee-url-token\0";

/// What a token authorises: one path prefix, for a time window, optionally to one client IP and/or session.
///
/// Built with [`Grant::new`] and the `bind_*` methods, which validate everything, so a `Grant` always
/// encodes to a token that verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    prefix: String,
    expires_at: u64,
    not_before: Option<u64>,
    ip: Option<IpAddr>,
    session: Option<String>,
}

impl Grant {
    /// Authorises every path under `prefix` (a plain directory path like `/film42/`) until `expires_at`
    /// (unix seconds, exclusive).
    pub fn new(prefix: &str, expires_at: u64) -> Result<Self, SigningError> {
        let bad = |reason| SigningError::BadPrefix { prefix: prefix.to_owned(), reason };
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(bad("longer than 256 bytes"));
        }
        check_prefix(prefix).map_err(bad)?;
        Ok(Grant { prefix: prefix.to_owned(), expires_at, not_before: None, ip: None, session: None })
    }

    /// Valid only from `not_before` (unix seconds, inclusive), which must be before the expiry.
    pub fn valid_from(mut self, not_before: u64) -> Result<Self, SigningError> {
        if not_before >= self.expires_at {
            return Err(SigningError::EmptyLifetime { not_before, expires_at: self.expires_at });
        }
        self.not_before = Some(not_before);
        Ok(self)
    }

    /// Only for requests from this client IP (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn bind_ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip.to_canonical());
        self
    }

    /// Only for requests carrying this session id (1 to 128 bytes, no control characters).
    pub fn bind_session(mut self, session: &str) -> Result<Self, SigningError> {
        check_session(session).map_err(|reason| SigningError::BadSession { reason })?;
        self.session = Some(session.to_owned());
        Ok(self)
    }

    /// The authorised prefix, e.g. `/film42/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// Expiry, unix seconds; the token is refused from this second on.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
    /// Start of validity, unix seconds, if any.
    pub fn not_before(&self) -> Option<u64> {
        self.not_before
    }
    /// The bound client IP, if any.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }
    /// The bound session id, if any.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }
}

fn check_session(session: &str) -> Result<(), &'static str> {
    if session.is_empty() {
        return Err("empty");
    }
    if session.len() > MAX_SESSION_LEN {
        return Err("longer than 128 bytes");
    }
    if session.chars().any(char::is_control) {
        return Err("holds control characters");
    }
    Ok(())
}

/// A verified token: the key that signed it and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Id of the key that signed the token (useful to see when an old key stops being used).
    pub key_id: String,
    /// What the token authorises.
    pub grant: Grant,
}

/// Writes the signed part of a token (everything before the MAC).
fn encode_payload(key_id: &str, grant: &Grant) -> String {
    let mut out = String::with_capacity(96);
    out.push_str(TOKEN_VERSION);
    out.push('.');
    out.push_str(key_id);
    out.push_str(".p");
    URL_SAFE_NO_PAD.encode_string(grant.prefix.as_bytes(), &mut out);
    out.push_str(".e");
    out.push_str(&grant.expires_at.to_string());
    if let Some(nbf) = grant.not_before {
        out.push_str(".n");
        out.push_str(&nbf.to_string());
    }
    if let Some(ip) = grant.ip {
        out.push_str(".i");
        match ip {
            IpAddr::V4(v4) => URL_SAFE_NO_PAD.encode_string(v4.octets(), &mut out),
            IpAddr::V6(v6) => URL_SAFE_NO_PAD.encode_string(v6.octets(), &mut out),
        }
    }
    if let Some(session) = &grant.session {
        out.push_str(".s");
        URL_SAFE_NO_PAD.encode_string(session.as_bytes(), &mut out);
    }
    out
}

fn compute_mac(mut mac: HmacSha256, payload: &str) -> HmacSha256 {
    mac.update(MAC_DOMAIN);
    mac.update(payload.as_bytes());
    mac
}

impl KeyRing {
    /// Signs `grant` with the current key and returns the token (one URL path segment, no escaping needed).
    pub fn sign(&self, grant: &Grant) -> String {
        let key = self.current();
        let mut token = encode_payload(key.id(), grant);
        let tag = compute_mac(key.mac(), &token).finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        token
    }

    /// Signs `grant` and returns the path a player fetches for `file` below the grant's prefix:
    /// `/t/{token}{prefix}{file}`, e.g. `/t/v1.k1…/film42/master.m3u8` for `master.m3u8`.
    pub fn signed_path(&self, grant: &Grant, file: &str) -> Result<String, SigningError> {
        let bad = |reason| SigningError::BadFile { file: file.to_owned(), reason };
        if file.starts_with('/') {
            return Err(bad("must be relative to the prefix"));
        }
        let rest = format!("{}{file}", grant.prefix());
        check_plain_path(&rest).map_err(|p| bad(p.as_str()))?;
        Ok(token_path(&self.sign(grant), &rest))
    }
}

/// A token split into its parts, before the MAC is checked.
#[derive(Debug)]
pub(crate) struct ParsedToken<'a> {
    pub key_id: &'a str,
    pub grant: Grant,
    pub payload: &'a str,
    pub mac: [u8; MAC_LEN],
}

/// Reads a token's syntax. `None` for anything that is not the canonical v1 encoding of some claims.
pub(crate) fn parse(token: &str) -> Option<ParsedToken<'_>> {
    if token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return None;
    }
    let (payload, mac_b64) = token.rsplit_once('.')?;
    let mut fields = payload.split('.');
    if fields.next()? != TOKEN_VERSION {
        return None;
    }
    let key_id = fields.next()?;
    if !is_valid_key_id(key_id) {
        return None;
    }
    let prefix = String::from_utf8(decode_b64(fields.next()?.strip_prefix('p')?)?).ok()?;
    let expires_at: u64 = fields.next()?.strip_prefix('e')?.parse().ok()?;
    let mut grant = Grant::new(&prefix, expires_at).ok()?;
    let mut field = fields.next();
    if let Some(nbf) = field.and_then(|f| f.strip_prefix('n')) {
        grant = grant.valid_from(nbf.parse().ok()?).ok()?;
        field = fields.next();
    }
    if let Some(ip) = field.and_then(|f| f.strip_prefix('i')) {
        let ip = match decode_b64(ip)?.as_slice() {
            &[a, b, c, d] => IpAddr::from([a, b, c, d]),
            octets => IpAddr::from(<[u8; 16]>::try_from(octets).ok()?),
        };
        grant = grant.bind_ip(ip);
        field = fields.next();
    }
    if let Some(session) = field.and_then(|f| f.strip_prefix('s')) {
        grant = grant.bind_session(&String::from_utf8(decode_b64(session)?).ok()?).ok()?;
        field = fields.next();
    }
    if field.is_some() {
        return None;
    }
    // One encoding per claim set: whatever the lenient parts above accepted (a `+` sign or leading zeros
    // in a number, an IPv4-mapped address in 16 bytes, fields out of order) fails this comparison.
    if encode_payload(key_id, &grant) != payload {
        return None;
    }
    let mac: [u8; MAC_LEN] = decode_b64(mac_b64)?.try_into().ok()?;
    Some(ParsedToken { key_id, grant, payload, mac })
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    // The engine already refuses padding and non-zero trailing bits; re-encoding makes the rule explicit.
    (URL_SAFE_NO_PAD.encode(&bytes) == text).then_some(bytes)
}

/// Checks `parsed`'s MAC against `key` in constant time.
pub(crate) fn mac_matches(key: &crate::SigningKey, parsed: &ParsedToken<'_>) -> bool {
    compute_mac(key.mac(), parsed.payload).verify_slice(&parsed.mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    fn ring() -> KeyRing {
        KeyRing::single(SigningKey::new("k1", &[7; 32]).unwrap())
    }

    #[test]
    fn layout_is_as_documented() {
        let grant = Grant::new("/film42/", 1_800_000_000).unwrap();
        let token = ring().sign(&grant);
        let (payload, mac) = token.rsplit_once('.').unwrap();
        assert_eq!(payload, "v1.k1.pL2ZpbG00Mi8.e1800000000");
        assert_eq!(mac.len(), 43);
        let full = grant
            .clone()
            .valid_from(1_700_000_000)
            .unwrap()
            .bind_ip("192.0.2.1".parse().unwrap())
            .bind_session("abc")
            .unwrap();
        let token = ring().sign(&full);
        assert!(token.starts_with("v1.k1.pL2ZpbG00Mi8.e1800000000.n1700000000.iwAACAQ.sYWJj."), "{token}");
        assert_eq!(parse(&token).unwrap().grant, full);
    }

    #[test]
    fn mapped_ipv4_is_stored_as_ipv4() {
        let grant = Grant::new("/a/", 10).unwrap().bind_ip("::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(grant.ip(), Some("192.0.2.1".parse().unwrap()));
        let v6 = Grant::new("/a/", 10).unwrap().bind_ip("2001:db8::1".parse().unwrap());
        assert_eq!(parse(&ring().sign(&v6)).unwrap().grant, v6);
    }

    #[test]
    fn non_canonical_spellings_are_refused() {
        let token = ring().sign(&Grant::new("/film42/", 1_800_000_000).unwrap());
        assert!(parse(&token).is_some());
        for (from, to) in
            [(".e18", ".e018"), (".e18", ".e+18"), ("v1.", "V1."), ("v1.", "v2."), ("pL2ZpbG00Mi8", "pL2ZpbG00Mi8=")]
        {
            assert!(parse(&token.replacen(from, to, 1)).is_none(), "{from} -> {to}");
        }
        // A 16-byte IPv4-mapped address instead of 4 bytes.
        let mapped = URL_SAFE_NO_PAD.encode("::ffff:192.0.2.1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        let with_ip = ring().sign(&Grant::new("/a/", 10).unwrap().bind_ip("192.0.2.1".parse().unwrap()));
        assert!(parse(&with_ip.replacen(".iwAACAQ", &format!(".i{mapped}"), 1)).is_none());
        // Optional fields out of order, or repeated.
        let both = ring().sign(&Grant::new("/a/", 10).unwrap().bind_session("s").unwrap().bind_ip([1, 2, 3, 4].into()));
        let (payload, mac) = both.rsplit_once('.').unwrap();
        let fields: Vec<&str> = payload.split('.').collect();
        let swapped = format!("v1.k1.{}.{}.{}.{}.{mac}", fields[2], fields[3], fields[5], fields[4]);
        assert!(parse(&swapped).is_none());
        let repeated = format!("{payload}.{}.{mac}", fields[5]);
        assert!(parse(&repeated).is_none());
    }

    #[test]
    fn grant_rules() {
        assert!(Grant::new("/film42", 10).is_err());
        assert!(Grant::new("/", 10).is_err());
        assert!(Grant::new("/a/../b/", 10).is_err());
        assert!(Grant::new(&format!("/{}/", "a".repeat(300)), 10).is_err());
        assert!(Grant::new("/a/", 10).unwrap().valid_from(10).is_err());
        assert!(Grant::new("/a/", 10).unwrap().bind_session("").is_err());
        assert!(Grant::new("/a/", 10).unwrap().bind_session("a\nb").is_err());
        assert!(Grant::new("/a/", 10).unwrap().bind_session(&"s".repeat(129)).is_err());
    }

    #[test]
    fn longest_grant_fits_in_a_token() {
        let grant = Grant::new(&format!("/{}/", "a".repeat(MAX_PREFIX_LEN - 2)), u64::MAX)
            .unwrap()
            .valid_from(u64::MAX - 1)
            .unwrap()
            .bind_ip("2001:db8::1".parse().unwrap())
            .bind_session(&"s".repeat(MAX_SESSION_LEN))
            .unwrap();
        let keys = KeyRing::single(SigningKey::new(&"k".repeat(32), &[7; 32]).unwrap());
        let token = keys.sign(&grant);
        assert!(token.len() <= MAX_TOKEN_LEN, "{}", token.len());
        assert_eq!(parse(&token).unwrap().grant, grant);
    }
}

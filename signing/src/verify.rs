//! Checking a request against a token: signature, lifetime, path, client bindings.

use std::net::IpAddr;

use crate::path::{check_plain_path, prefix_covers};
use crate::token::{mac_matches, parse};
use crate::{Claims, KeyRing, TokenError};

/// What the HTTP layer knows about the client making the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientContext<'a> {
    /// The client's IP as the origin or edge sees it (after trusted proxy headers), if known.
    pub ip: Option<IpAddr>,
    /// The client's session id (e.g. from a cookie), if any.
    pub session: Option<&'a str>,
}

/// Checks tokens against requests with a [`KeyRing`]. Cheap to clone; holds no mutable state.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeyRing,
}

impl Verifier {
    /// A verifier accepting tokens signed by any key in `keys`.
    pub fn new(keys: KeyRing) -> Self {
        Verifier { keys }
    }

    /// The key ring this verifier uses.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Checks that `token` authorises a request for `request_path` (the raw, undecoded path after the token,
    /// e.g. `/film42/seg_00001.m4s`, without query) at `now` (unix seconds) from `client`.
    ///
    /// Checks run in this order and the first failure is returned: syntax, key id, MAC (constant-time), expiry
    /// (`now >= expires_at` is expired), not-before, plain path, prefix, IP, session. Nothing about the claims
    /// is acted on before the MAC has been checked.
    pub fn verify(
        &self,
        token: &str,
        request_path: &str,
        now: u64,
        client: ClientContext<'_>,
    ) -> Result<Claims, TokenError> {
        let parsed = parse(token).ok_or(TokenError::Malformed)?;
        let key = self.keys.get(parsed.key_id).ok_or(TokenError::UnknownKey)?;
        if !mac_matches(key, &parsed) {
            return Err(TokenError::BadSignature);
        }
        let grant = &parsed.grant;
        if now >= grant.expires_at() {
            return Err(TokenError::Expired { expires_at: grant.expires_at(), now });
        }
        if let Some(not_before) = grant.not_before() {
            if now < not_before {
                return Err(TokenError::NotYetValid { not_before, now });
            }
        }
        check_plain_path(request_path).map_err(|_| TokenError::UnsafePath)?;
        if !prefix_covers(grant.prefix(), request_path) {
            return Err(TokenError::WrongPrefix);
        }
        if let Some(bound) = grant.ip() {
            if client.ip.map(|ip| ip.to_canonical()) != Some(bound) {
                return Err(TokenError::IpMismatch);
            }
        }
        if let Some(bound) = grant.session() {
            if client.session != Some(bound) {
                return Err(TokenError::SessionMismatch);
            }
        }
        Ok(Claims { key_id: parsed.key_id.to_owned(), grant: parsed.grant })
    }

    /// [`Verifier::verify`] for a whole `/t/{token}/{asset}/…` path. A path without a token is malformed.
    pub fn verify_token_path(&self, path: &str, now: u64, client: ClientContext<'_>) -> Result<Claims, TokenError> {
        let (token, rest) = crate::split_token_path(path).ok_or(TokenError::Malformed)?;
        self.verify(token, rest, now, client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Grant, SigningKey};

    const NOW: u64 = 1_790_000_000;

    fn keys() -> KeyRing {
        KeyRing::single(SigningKey::new("k1", &[7; 32]).unwrap())
    }

    fn check(grant: &Grant, path: &str, now: u64, client: ClientContext<'_>) -> Result<Claims, TokenError> {
        let token = keys().sign(grant);
        Verifier::new(keys()).verify(&token, path, now, client)
    }

    #[test]
    fn each_error_in_turn() {
        let grant = Grant::new("/film42/", NOW + 60).unwrap();
        let none = ClientContext::default();
        let claims = check(&grant, "/film42/master.m3u8", NOW, none).unwrap();
        assert_eq!(claims.key_id, "k1");
        assert_eq!(claims.grant, grant);

        let v = Verifier::new(keys());
        assert_eq!(v.verify("garbage", "/film42/x", NOW, none), Err(TokenError::Malformed));
        let other = KeyRing::single(SigningKey::new("k9", &[7; 32]).unwrap());
        assert_eq!(v.verify(&other.sign(&grant), "/film42/x", NOW, none), Err(TokenError::UnknownKey));
        let forged = KeyRing::single(SigningKey::new("k1", &[8; 32]).unwrap());
        assert_eq!(v.verify(&forged.sign(&grant), "/film42/x", NOW, none), Err(TokenError::BadSignature));
        assert_eq!(
            check(&grant, "/film42/x", NOW + 60, none),
            Err(TokenError::Expired { expires_at: NOW + 60, now: NOW + 60 })
        );
        assert!(check(&grant, "/film42/x", NOW + 59, none).is_ok());
        let later = grant.clone().valid_from(NOW + 10).unwrap();
        assert_eq!(
            check(&later, "/film42/x", NOW, none),
            Err(TokenError::NotYetValid { not_before: NOW + 10, now: NOW })
        );
        assert!(check(&later, "/film42/x", NOW + 10, none).is_ok());
        assert_eq!(check(&grant, "/film42/../film43/x", NOW, none), Err(TokenError::UnsafePath));
        assert_eq!(check(&grant, "/film43/x", NOW, none), Err(TokenError::WrongPrefix));
        assert_eq!(
            check(&Grant::new("/film4/", NOW + 1).unwrap(), "/film42/x", NOW, none),
            Err(TokenError::WrongPrefix)
        );
    }

    #[test]
    fn client_bindings() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let grant = Grant::new("/film42/", NOW + 60).unwrap().bind_ip(ip).bind_session("sess-1").unwrap();
        let good = ClientContext { ip: Some(ip), session: Some("sess-1") };
        assert!(check(&grant, "/film42/x", NOW, good).is_ok());
        let mapped = ClientContext { ip: Some("::ffff:192.0.2.7".parse().unwrap()), ..good };
        assert!(check(&grant, "/film42/x", NOW, mapped).is_ok());
        for bad_ip in [None, Some("192.0.2.8".parse().unwrap())] {
            assert_eq!(
                check(&grant, "/film42/x", NOW, ClientContext { ip: bad_ip, ..good }),
                Err(TokenError::IpMismatch)
            );
        }
        for bad_session in [None, Some("sess-2"), Some("SESS-1")] {
            assert_eq!(
                check(&grant, "/film42/x", NOW, ClientContext { session: bad_session, ..good }),
                Err(TokenError::SessionMismatch)
            );
        }
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let k1 = SigningKey::new("k1", &[1; 32]).unwrap();
        let k2 = SigningKey::new("k2", &[2; 32]).unwrap();
        let before = KeyRing::single(k1.clone());
        let during = KeyRing::new(vec![k1, k2.clone()], "k2").unwrap();
        let after = KeyRing::single(k2);
        let grant = Grant::new("/film42/", NOW + 60).unwrap();
        let old = before.sign(&grant);
        let new = during.sign(&grant);
        assert!(new.starts_with("v1.k2."));
        let none = ClientContext::default();
        assert!(Verifier::new(during.clone()).verify(&old, "/film42/x", NOW, none).is_ok());
        assert!(Verifier::new(during).verify(&new, "/film42/x", NOW, none).is_ok());
        assert_eq!(Verifier::new(after).verify(&old, "/film42/x", NOW, none), Err(TokenError::UnknownKey));
    }

    #[test]
    fn whole_token_paths() {
        let grant = Grant::new("/film42/", NOW + 60).unwrap();
        let path = keys().signed_path(&grant, "master.m3u8").unwrap();
        let v = Verifier::new(keys());
        assert!(v.verify_token_path(&path, NOW, ClientContext::default()).is_ok());
        assert_eq!(
            v.verify_token_path("/film42/master.m3u8", NOW, ClientContext::default()),
            Err(TokenError::Malformed)
        );
    }
}

//! Properties of this crate's parsers of untrusted input (tokens and the paths and queries that carry them, key
//! files), shared by the cargo-fuzz targets (`fuzz/`), the bounded proptests and the replay of committed crash
//! inputs (`fuzz/regressions/<target>/`). Each takes raw bytes and panics when a property fails. Not part of
//! the API.

use crate::keys::is_valid_key_id;
use crate::token::parse;
use crate::{query_token, split_token_path, token_path, ClientContext, KeyRing, SigningKey, Verifier};

const SECRET: [u8; 32] = [0x5a; 32];

/// Signed-URL tokens: `Verifier::verify` and `verify_token_path`, `split_token_path` and `query_token` never
/// panic, and text nobody signed never verifies. Whatever the token parser accepts is the canonical spelling of
/// its claims: signing those claims again with a key of the same id gives the same signed text, and that
/// token verifies for a path under its prefix, inside its lifetime (if it has one), from the client it is bound to, giving
/// back the same claims. `split_token_path` and `token_path` invert each other; `query_token`'s value is one
/// `token=` parameter of the query.
///
/// Input: the text, tried as a token, a token path, and a query.
pub fn token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let verifier = Verifier::new(KeyRing::single(SigningKey::new("k1", &SECRET).expect("a valid key")));
    let anyone = ClientContext::default();
    for now in [0, 1_800_000_000, u64::MAX] {
        assert!(verifier.verify(text, "/film/seg.m4s", now, anyone).is_err(), "{text:?} verified unsigned");
        assert!(verifier.verify_token_path(text, now, anyone).is_err(), "{text:?} verified unsigned");
    }

    if let Some((token, rest)) = split_token_path(text) {
        assert!(!token.is_empty() && !token.contains('/'), "{text:?}");
        assert!(rest.starts_with('/') && rest.len() >= 2, "{text:?}");
        assert_eq!(token_path(token, rest), text);
    }
    if let Some(value) = query_token(text) {
        assert!(!value.is_empty() && !value.contains('&'), "{text:?}");
        assert!(text.split('&').any(|pair| pair == format!("token={value}")), "{text:?} gave {value:?}");
    }

    let Some(parsed) = parse(text) else { return };
    assert!(is_valid_key_id(parsed.key_id), "{text:?}");
    let key = SigningKey::new(parsed.key_id, &SECRET).expect("a parsed key id is a valid one");
    let keys = KeyRing::single(key);
    let resigned = keys.sign(&parsed.grant);
    let (payload, _) = resigned.rsplit_once('.').expect("a token has a MAC part");
    assert_eq!(payload, parsed.payload, "{text:?} is not the canonical spelling of its claims");
    let grant = &parsed.grant;
    let now = grant.not_before().unwrap_or(0);
    if now >= grant.expires_at() {
        return; // `e0`: a token that was never valid, which is no concern of the parser's.
    }
    let client = ClientContext { ip: grant.ip(), session: grant.session() };
    let path = format!("{}seg.m4s", grant.prefix());
    let claims = Verifier::new(keys).verify(&resigned, &path, now, client);
    assert_eq!(claims.map(|claims| claims.grant), Ok(parsed.grant.clone()), "{text:?} re-signed");
}

/// Key files: `KeyRing::from_toml` never panics, and a file it accepts gives a ring whose current key is in it,
/// whose ids are all valid, and whose tokens verify.
pub fn key_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(ring) = KeyRing::from_toml("fuzz.toml", text) else { return };
    let current = ring.current().id().to_owned();
    assert!(ring.get(&current).is_some(), "{text:?}");
    assert!(ring.ids().all(is_valid_key_id), "{text:?}");
    let grant = crate::Grant::new("/film/", 2_000_000_000).expect("a valid grant");
    let token = ring.sign(&grant);
    let claims = Verifier::new(ring).verify(&token, "/film/seg.m4s", 1_900_000_000, ClientContext::default());
    assert_eq!(claims.map(|claims| claims.key_id), Ok(current), "{text:?}");
}

//! The secrets sign-in hands out, as values: access tokens (HS256 JWTs that name the user, role and login),
//! refresh tokens and API keys (random, stored only as their SHA-256). No I/O but the system's random source.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Role;

/// The `iss` and `aud` of every access token.
pub const ISSUER: &str = "marquee";
pub const AUDIENCE: &str = "marquee-api";
/// What every API key starts with, so a key is told from an access token (and found by secret scanners).
pub const API_KEY_PREFIX: &str = "mqk_";
/// What every refresh token starts with.
pub const REFRESH_PREFIX: &str = "mqr_";
/// Characters of an API key kept in clear, to tell keys apart in lists (`mqk_` and four more).
pub const SHOWN_KEY_CHARS: usize = 8;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's role when the token was made (the API checks the current one).
    pub role: Role,
    /// The login (session) it belongs to.
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
}

/// Signs and checks access tokens with one shared secret (kept in the database, so every API instance has it).
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens").finish_non_exhaustive()
    }
}

/// Why an access token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired: refresh it (POST /v1/auth/refresh) or sign in again")]
    Expired,
    #[error("the access token is not valid: {0}")]
    Invalid(String),
}

impl AccessTokens {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    /// A token for `user` in login `session`, valid from `now` (seconds since the epoch) for `ttl_secs`.
    pub fn issue(&self, user: &str, role: Role, session: &str, now: u64, ttl_secs: u64) -> String {
        let claims = Claims {
            sub: user.into(),
            role,
            sid: session.into(),
            iat: now,
            exp: now + ttl_secs,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// The claims of a token this API signed that has not expired at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                kind => TokenError::Invalid(describe(kind)),
            })?;
        // jsonwebtoken compares `exp` with the system clock; the caller's clock decides here (tests move it).
        if data.claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::InvalidSignature => "its signature does not match".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "it is not signed with HS256".into(),
        ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => "it was not issued by this API".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("it has no `{claim}` claim"),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            "it is not a JWT".into()
        }
        _ => "it cannot be read".into(),
    }
}

/// `len` random bytes from the system's random source.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    bytes
}

/// A new random secret of 32 bytes as URL-safe base64 with `prefix` before it.
pub fn random_secret(prefix: &str) -> String {
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32)))
}

/// The SHA-256 of a token or key, in hex: what the database keeps instead of the secret.
pub fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The characters of an API key shown in lists.
pub fn shown_prefix(key: &str) -> String {
    key.chars().take(SHOWN_KEY_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_token_verifies_until_it_expires() {
        let tokens = AccessTokens::new(b"secret one");
        let token = tokens.issue("u1", Role::Creator, "s1", NOW, 900);
        let claims = tokens.verify(&token, NOW + 899).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role, claims.sid.as_str()), ("u1", Role::Creator, "s1"));
        assert_eq!(tokens.verify(&token, NOW + 900), Err(TokenError::Expired));
    }

    #[test]
    fn another_secret_or_algorithm_is_refused() {
        let token = AccessTokens::new(b"secret one").issue("u1", Role::Admin, "s1", NOW, 900);
        let other = AccessTokens::new(b"secret two");
        assert_eq!(other.verify(&token, NOW), Err(TokenError::Invalid("its signature does not match".into())));
        // An unsigned token ("alg": "none") claiming to be an admin.
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(
                &serde_json::json!({"sub": "u1", "role": "admin", "sid": "s", "iat": NOW, "exp": NOW + 900,
                "iss": ISSUER, "aud": AUDIENCE}),
            )
            .unwrap(),
        );
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(other.verify(&format!("{header}.{claims}."), NOW).is_err());
    }

    #[test]
    fn secrets_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (random_secret(API_KEY_PREFIX), random_secret(API_KEY_PREFIX));
        assert_ne!(a, b);
        assert!(a.starts_with(API_KEY_PREFIX) && a.len() == API_KEY_PREFIX.len() + 43, "{a}");
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), secret_hash(&b));
        assert_eq!(shown_prefix(&a), a[..8]);
    }

    proptest! {
        /// Changing any one character of a valid token never yields a valid token with other claims.
        #[test]
        fn tampered_tokens_never_verify_as_something_else(index in 0usize..400, replacement in "[A-Za-z0-9_-]") {
            let tokens = AccessTokens::new(b"secret");
            let token = tokens.issue("u1", Role::Viewer, "s1", NOW, 900);
            let index = index % token.len();
            let mut tampered = token.clone();
            tampered.replace_range(index..=index, &replacement);
            // Only a change that decodes to the same bytes (base64 padding bits) can pass.
            if let Ok(claims) = tokens.verify(&tampered, NOW) {
                prop_assert_eq!((claims.sub.as_str(), claims.role, claims.sid.as_str()), ("u1", Role::Viewer, "s1"));
            }
        }

        /// No input makes verification panic.
        #[test]
        fn any_text_is_refused_without_panicking(text in ".{0,300}") {
            prop_assert!(AccessTokens::new(b"secret").verify(&text, NOW).is_err());
        }
    }
}

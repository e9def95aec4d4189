//! Errors: `TokenError` for a request that is refused, `SigningError` for bad input when signing or loading keys.

/// Why a request's token was refused.
///
/// [`TokenError::as_str`] gives a short, stable label for logs and metrics (a bounded label set). None of
/// the variants echo attacker-controlled text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is not a canonical v1 token (bad syntax, unknown version, non-canonical encoding).
    #[error("malformed token")]
    Malformed,
    /// The token names a key id this verifier does not hold (retired long ago, or forged).
    #[error("token signed with an unknown key id")]
    UnknownKey,
    /// The MAC does not match the claims: the token was altered or signed with another secret.
    #[error("token signature does not match")]
    BadSignature,
    /// The token's lifetime is over.
    #[error("token expired at {expires_at} (now {now})")]
    Expired {
        /// Unix seconds at which the token stopped being valid.
        expires_at: u64,
        /// The verifier's clock, unix seconds.
        now: u64,
    },
    /// The token's lifetime has not started yet.
    #[error("token not valid before {not_before} (now {now})")]
    NotYetValid {
        /// Unix seconds from which the token is valid.
        not_before: u64,
        /// The verifier's clock, unix seconds.
        now: u64,
    },
    /// The requested path is not a plain path (traversal, encoded separators, control characters, …).
    #[error("request path is not a plain path")]
    UnsafePath,
    /// The requested path is plain but outside the prefix the token authorises.
    #[error("request path is outside the token's prefix")]
    WrongPrefix,
    /// The token is bound to a client IP and the request comes from another one (or none is known).
    #[error("token is bound to another client IP")]
    IpMismatch,
    /// The token is bound to a session and the request carries another one (or none).
    #[error("token is bound to another session")]
    SessionMismatch,
}

impl TokenError {
    /// Every variant's label, in declaration order (for pre-registering metric series).
    pub const LABELS: [&'static str; 9] = [
        "malformed",
        "unknown_key",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "unsafe_path",
        "wrong_prefix",
        "ip_mismatch",
        "session_mismatch",
    ];

    /// Short, stable snake_case label for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired { .. } => "expired",
            TokenError::NotYetValid { .. } => "not_yet_valid",
            TokenError::UnsafePath => "unsafe_path",
            TokenError::WrongPrefix => "wrong_prefix",
            TokenError::IpMismatch => "ip_mismatch",
            TokenError::SessionMismatch => "session_mismatch",
        }
    }
}

/// Bad input when building a grant, a key or a key ring (an operator's or caller's mistake, not a request's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The prefix to authorise is not a plain absolute directory path like `/film42/`.
    #[error("prefix {prefix:?} is not a plain directory path like /film42/: {reason}")]
    BadPrefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file to link to, below the prefix, is not a plain relative path like `master.m3u8`.
    #[error("file {file:?} is not a plain relative path like master.m3u8 or video_1080p/index.m3u8: {reason}")]
    BadFile {
        /// The file as given.
        file: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The session id is empty, too long or holds control characters.
    #[error("session id is not usable: {reason}")]
    BadSession {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `not_before` is not earlier than the expiry.
    #[error("not_before {not_before} is not before expires_at {expires_at}")]
    EmptyLifetime {
        /// Requested start of validity, unix seconds.
        not_before: u64,
        /// Requested expiry, unix seconds.
        expires_at: u64,
    },
    /// A key id is empty, too long or uses characters other than `A-Z a-z 0-9 _ -`.
    #[error("key id {id:?} must be 1 to {max} characters of A-Z a-z 0-9 _ -", max = crate::keys::MAX_KEY_ID_LEN)]
    BadKeyId {
        /// The id as given.
        id: String,
    },
    /// A secret is shorter than the minimum or longer than the maximum.
    #[error("secret of key {id:?} is {len} bytes; it must be {min} to {max} bytes", min = crate::keys::MIN_SECRET_LEN, max = crate::keys::MAX_SECRET_LEN)]
    BadSecretLength {
        /// The key id.
        id: String,
        /// The secret's length in bytes.
        len: usize,
    },
    /// A key ring needs at least one key, unique ids, and a current key among them.
    #[error("key ring is not usable: {reason}")]
    BadKeyRing {
        /// What is wrong with it.
        reason: String,
    },
    /// A key file has problems; every one found is listed.
    #[error("key file {source_name} has {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    KeyFile {
        /// Where the text came from (a path, or a name for tests).
        source_name: String,
        /// Every problem found, one line each.
        problems: Vec<String>,
    },
    /// The operating system's random number generator failed.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_as_str() {
        let all = [
            TokenError::Malformed,
            TokenError::UnknownKey,
            TokenError::BadSignature,
            TokenError::Expired { expires_at: 1, now: 2 },
            TokenError::NotYetValid { not_before: 2, now: 1 },
            TokenError::UnsafePath,
            TokenError::WrongPrefix,
            TokenError::IpMismatch,
            TokenError::SessionMismatch,
        ];
        let labels: Vec<&str> = all.iter().map(TokenError::as_str).collect();
        assert_eq!(labels, TokenError::LABELS);
    }
}

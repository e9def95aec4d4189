//! Signed pagination cursors, for the satellites' lists (the catalog's titles and people, search's answers):
//! opaque to clients, signed so that a changed or made-up one is refused (400 `invalid_cursor`) instead of
//! silently paging from somewhere else, and bound to the query they came from (a cursor of one list or filter
//! set is refused for another). Values in, values out; [`crate::AppState::cursors`] holds the API's key.
//!
//! A cursor is `base64url(payload) "." base64url(HMAC-SHA256(key, payload)[..16])`; the payload is JSON with
//! the list's position (whatever the list sorts by: an id, a number and an id, an offset) and a digest of the
//! query. The key is derived from a secret every API instance shares, so a cursor from one is good on another
//! and across restarts.
//!
//! The control API's own lists (assets, events, API keys) page by a bare id instead: they are keyset lists
//! over what the caller may see, so a changed cursor can only start the page at another of the caller's
//! items, and their clients pass ids they already hold.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a cursor: 128 bits, beyond guessing.
const TAG_BYTES: usize = 16;
/// The longest cursor read; longer ones are refused before any work.
pub const MAX_CURSOR_CHARS: usize = 512;

/// Why a cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not one this API made")]
    Malformed,
    #[error("the cursor was changed after this API made it")]
    Tampered,
    #[error("the cursor belongs to another list or other filters")]
    OtherQuery,
}

impl CursorError {
    /// The answer to a request that brought a refused cursor: 400 `invalid_cursor`, saying what to do.
    pub fn into_api_error(self) -> ApiError {
        ApiError::bad_request(
            "invalid_cursor",
            format!("{self}: pass the next_cursor of the previous page as is, or start again without it"),
        )
    }
}

impl From<CursorError> for ApiError {
    fn from(error: CursorError) -> Self {
        error.into_api_error()
    }
}

#[derive(Serialize, Deserialize)]
struct Payload<P> {
    /// Where the page ended.
    p: P,
    /// The first bytes of the query's digest, hex.
    q: String,
}

/// Makes and reads cursors with one key.
#[derive(Clone)]
pub struct CursorKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A key of its own for cursors from `secret` (which may be used for other things too: the derivation keeps
    /// the two apart).
    pub fn derive(secret: &[u8]) -> Self {
        let mut derive = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        derive.update(b"marquee pagination cursor key v1");
        let key = derive.finalize().into_bytes();
        Self { mac: HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length") }
    }

    /// A cursor to read on after `position` in the list that `query` describes: the list and its filters in a
    /// fixed order (`titles?kind=movie&genre=drama`), so that no two lists share a query.
    pub fn encode<P: Serialize>(&self, position: &P, query: &str) -> String {
        let payload = Payload { p: position, q: query_digest(query) };
        let text = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).expect("a position is always JSON"));
        let tag = self.tag(text.as_bytes());
        format!("{text}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The position a cursor made by [`Self::encode`] for the same `query` holds.
    pub fn decode<P: DeserializeOwned>(&self, cursor: &str, query: &str) -> Result<P, CursorError> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(CursorError::Malformed);
        }
        let (text, tag) = cursor.split_once('.').ok_or(CursorError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CursorError::Malformed)?;
        if tag.len() != TAG_BYTES {
            return Err(CursorError::Malformed);
        }
        let mut mac = self.mac.clone();
        mac.update(text.as_bytes());
        // Constant time: a cursor's tag cannot be found byte by byte from answer times.
        mac.verify_truncated_left(&tag).map_err(|_| CursorError::Tampered)?;
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Malformed)?;
        let payload: Payload<P> = serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
        if payload.q != query_digest(query) {
            return Err(CursorError::OtherQuery);
        }
        Ok(payload.p)
    }

    fn tag(&self, bytes: &[u8]) -> [u8; TAG_BYTES] {
        let mut mac = self.mac.clone();
        mac.update(bytes);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

fn query_digest(query: &str) -> String {
    Sha256::digest(query.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Position {
        n: Option<i64>,
        id: String,
    }

    #[test]
    fn a_cursor_reads_back_for_its_query_only() {
        let key = CursorKey::derive(b"secret");
        let position = Position { n: Some(3), id: "0190-abc".into() };
        let cursor = key.encode(&position, "titles?kind=movie");
        assert_eq!(key.decode(&cursor, "titles?kind=movie"), Ok(position));
        assert_eq!(key.decode::<Position>(&cursor, "titles?kind=series"), Err(CursorError::OtherQuery));
        assert_eq!(key.decode::<Position>(&cursor, "people?"), Err(CursorError::OtherQuery));
        let other = CursorKey::derive(b"other secret");
        assert_eq!(other.decode::<Position>(&cursor, "titles?kind=movie"), Err(CursorError::Tampered));
        // A position of another shape is not read as this one.
        let offset = key.encode(&40u32, "titles?kind=movie");
        assert_eq!(key.decode::<Position>(&offset, "titles?kind=movie"), Err(CursorError::Malformed));
        assert_eq!(key.decode::<u32>(&offset, "titles?kind=movie"), Ok(40));
        for bad in ["", ".", "abc", "abc.def", "!!!.!!!", "eyJpZCI6IngifQ.AAAAAAAAAAAAAAAAAAAAAA", &"a".repeat(600)] {
            assert!(key.decode::<Position>(bad, "q").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_is_not_the_secret() {
        // A cursor signed with the raw secret (as a careless copy would) is refused.
        let raw = CursorKey { mac: HmacSha256::new_from_slice(b"secret").unwrap() };
        let cursor = raw.encode(&1u32, "q");
        assert_eq!(CursorKey::derive(b"secret").decode::<u32>(&cursor, "q"), Err(CursorError::Tampered));
    }

    #[test]
    fn refusals_answer_400_invalid_cursor() {
        for error in [CursorError::Malformed, CursorError::Tampered, CursorError::OtherQuery] {
            let answer = ApiError::from(error);
            assert_eq!((answer.status, answer.code), (http::StatusCode::BAD_REQUEST, "invalid_cursor"));
        }
    }

    proptest! {
        /// Any position round-trips, and changing any one character of the cursor is refused.
        #[test]
        fn changed_cursors_are_refused(
            n in proptest::option::of(any::<i64>()),
            id in "[0-9a-f-]{1,36}",
            at in any::<proptest::sample::Index>(),
            with in proptest::char::range('-', 'z'),
        ) {
            let key = CursorKey::derive(b"a secret");
            let position = Position { n, id };
            let cursor = key.encode(&position, "q");
            prop_assert_eq!(key.decode(&cursor, "q"), Ok(position.clone()));
            let mut chars: Vec<char> = cursor.chars().collect();
            let i = at.index(chars.len());
            prop_assume!(chars[i] != with);
            chars[i] = with;
            let changed: String = chars.into_iter().collect();
            // A change in the last character may only touch the padding bits of the tag's base64.
            let decoded = key.decode(&changed, "q");
            prop_assert!(decoded.is_err() || (i == cursor.len() - 1 && decoded == Ok(position)));
        }

        /// Whatever text comes as a cursor, decoding answers (never panics), and made-up ones are refused.
        #[test]
        fn any_text_is_refused_without_panicking(text in "\\PC{0,80}") {
            prop_assert!(CursorKey::derive(b"secret").decode::<u32>(&text, "q").is_err());
        }
    }
}

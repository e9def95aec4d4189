//! Pagination cursors: opaque to clients, signed so that a changed one is refused (400 `invalid_cursor`)
//! instead of silently starting somewhere else, and bound to the query they came from (a cursor of one
//! filter set is refused for another). No I/O: the key is given.
//!
//! A cursor is `base64url(payload) "." base64url(HMAC-SHA256(key, payload)[..16])`, where the payload is JSON
//! holding the last item's sort position and a digest of the query.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a cursor: 128 bits, beyond guessing.
const TAG_BYTES: usize = 16;
/// The longest cursor read; longer ones are refused before any work.
pub const MAX_CURSOR_CHARS: usize = 512;

/// Where a page ended: the last item's sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// A number sorted on before the id (a season's or an episode's), when the list is in number order.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    #[serde(flatten)]
    position: Position,
    /// The first bytes of the query's digest, hex.
    q: String,
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not one this API made")]
    Malformed,
    #[error("the cursor was changed after this API made it")]
    Tampered,
    #[error("the cursor belongs to a list with other filters; start again without it")]
    OtherQuery,
}

/// Makes and reads cursors with one secret key.
#[derive(Clone)]
pub struct CursorCodec {
    mac: HmacSha256,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec { .. }")
    }
}

impl CursorCodec {
    pub fn new(key: &[u8]) -> Self {
        Self { mac: HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length") }
    }

    /// A cursor to read on after `position` in the list that `query` describes (its filters, in a fixed
    /// order, e.g. `titles?kind=movie&genre=drama`).
    pub fn encode(&self, position: &Position, query: &str) -> String {
        let payload = Payload { position: position.clone(), q: query_digest(query) };
        let text = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).expect("a payload is always JSON"));
        let tag = self.tag(text.as_bytes());
        format!("{text}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The position a cursor made by [`Self::encode`] for the same `query` holds.
    pub fn decode(&self, cursor: &str, query: &str) -> Result<Position, CursorError> {
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
        mac.verify_truncated_left(&tag).map_err(|_| CursorError::Tampered)?;
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Malformed)?;
        let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
        if payload.q != query_digest(query) {
            return Err(CursorError::OtherQuery);
        }
        Ok(payload.position)
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

    #[test]
    fn a_cursor_reads_back_for_its_query_only() {
        let codec = CursorCodec::new(b"key");
        let position = Position { number: Some(3), id: "0190-abc".into() };
        let cursor = codec.encode(&position, "titles?kind=movie");
        assert_eq!(codec.decode(&cursor, "titles?kind=movie"), Ok(position));
        assert_eq!(codec.decode(&cursor, "titles?kind=series"), Err(CursorError::OtherQuery));
        assert_eq!(CursorCodec::new(b"other key").decode(&cursor, "titles?kind=movie"), Err(CursorError::Tampered));
        for bad in ["", ".", "abc", "abc.def", "!!!.!!!", &"a".repeat(600)] {
            assert!(codec.decode(bad, "q").is_err(), "{bad}");
        }
    }

    proptest! {
        /// Any position round-trips, and changing any one character of the cursor is refused.
        #[test]
        fn changed_cursors_are_refused(
            number in proptest::option::of(any::<i64>()),
            id in "[0-9a-f-]{1,36}",
            at in any::<proptest::sample::Index>(),
            with in proptest::char::range('-', 'z'),
        ) {
            let codec = CursorCodec::new(b"a secret");
            let position = Position { number, id };
            let cursor = codec.encode(&position, "q");
            prop_assert_eq!(codec.decode(&cursor, "q"), Ok(position.clone()));
            let mut chars: Vec<char> = cursor.chars().collect();
            let i = at.index(chars.len());
            prop_assume!(chars[i] != with);
            chars[i] = with;
            let changed: String = chars.into_iter().collect();
            // A change in the last character may only touch the padding bits of the tag's base64.
            let decoded = codec.decode(&changed, "q");
            prop_assert!(decoded.is_err() || (i == cursor.len() - 1 && decoded == Ok(position)));
        }
    }
}

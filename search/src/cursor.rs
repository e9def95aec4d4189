//! Pagination cursors: where the next page of a query's answers starts, signed (HMAC-SHA256) over that
//! query's words, so a cursor that was altered, made up, or taken to another query is refused with a 400
//! instead of paging somewhere arbitrary. Values in, values out; the key comes from the caller.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The cursor format's version, its first byte.
const VERSION: u8 = 1;
/// Bytes of the MAC kept in a cursor: 128 bits are plenty against guessing.
const TAG_BYTES: usize = 16;
/// Version, offset (u32, big-endian), tag.
const CURSOR_BYTES: usize = 1 + 4 + TAG_BYTES;

/// Why a cursor is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not one this API made (altered or cut short)")]
    Malformed,
    #[error("the cursor was altered, or belongs to another query")]
    BadSignature,
}

/// The key cursors are signed with: derived from a secret all the API's instances share, so a cursor from
/// one is good on another.
#[derive(Clone)]
pub struct CursorKey(HmacSha256);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A key of its own for cursors from `secret` (which may be used for other things too).
    pub fn derive(secret: &[u8]) -> Self {
        let mut derive = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        derive.update(b"marquee-search cursor key v1");
        let key = derive.finalize().into_bytes();
        Self(HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length"))
    }

    fn tag(&self, offset: u32, query_words: &[String]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(&[VERSION]);
        mac.update(&offset.to_be_bytes());
        for word in query_words {
            // Length-prefixed, so ["ab", "c"] and ["a", "bc"] differ.
            mac.update(&u64::try_from(word.len()).unwrap_or(u64::MAX).to_be_bytes());
            mac.update(word.as_bytes());
        }
        mac
    }

    /// The cursor of the page that starts at `offset` in the answers to `query_words`.
    pub fn encode(&self, offset: u32, query_words: &[String]) -> String {
        let tag = self.tag(offset, query_words).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(CURSOR_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&offset.to_be_bytes());
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The offset `cursor` stands for, if this key made it for `query_words`.
    pub fn decode(&self, cursor: &str, query_words: &[String]) -> Result<u32, CursorError> {
        if cursor.len() > 64 {
            return Err(CursorError::Malformed);
        }
        let bytes =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| CursorError::Malformed)?;
        if bytes.len() != CURSOR_BYTES || bytes[0] != VERSION {
            return Err(CursorError::Malformed);
        }
        let offset = u32::from_be_bytes(bytes[1..5].try_into().expect("four bytes"));
        self.tag(offset, query_words).verify_truncated_left(&bytes[5..]).map_err(|_| CursorError::BadSignature)?;
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn cursors_round_trip_for_their_query_only() {
        let key = CursorKey::derive(b"secret");
        let cursor = key.encode(40, &words("silent harbour"));
        assert_eq!(key.decode(&cursor, &words("silent harbour")), Ok(40));
        assert_eq!(key.decode(&cursor, &words("silent harbor")), Err(CursorError::BadSignature));
        assert_eq!(key.decode(&cursor, &words("silentharbour")), Err(CursorError::BadSignature));
        assert_eq!(
            CursorKey::derive(b"other").decode(&cursor, &words("silent harbour")),
            Err(CursorError::BadSignature)
        );
        for bad in ["", "!!!!", "AAAA", &"A".repeat(100), &cursor[1..]] {
            assert_eq!(key.decode(bad, &words("silent harbour")), Err(CursorError::Malformed), "{bad}");
        }
    }

    proptest! {
        /// Changing any byte of a cursor makes it refused.
        #[test]
        fn altered_cursors_are_refused(offset in any::<u32>(), at in 0..CURSOR_BYTES, flip in 1u8..=255) {
            let key = CursorKey::derive(b"secret");
            let query = words("the silent harbour");
            let cursor = key.encode(offset, &query);
            let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cursor).unwrap();
            bytes[at] ^= flip;
            let altered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            prop_assert!(key.decode(&altered, &query).is_err());
            prop_assert_eq!(key.decode(&cursor, &query), Ok(offset));
        }

        /// Whatever text comes as a cursor, decoding answers (never panics), and made-up ones are refused.
        #[test]
        fn any_text_is_refused_without_panicking(text in "\\PC{0,80}") {
            prop_assert!(CursorKey::derive(b"secret").decode(&text, &words("a")).is_err());
        }
    }
}

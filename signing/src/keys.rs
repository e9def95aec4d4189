//! Signing keys by id, the key ring that signs with the current one, and the TOML key file.
//!
//! Rotation: add a new key to every verifier's key file first, then mark it `current` where tokens are
//! signed; tokens signed with the old key keep verifying until the old key is removed.

use std::collections::BTreeSet;
use std::fmt;

use hmac::{Hmac, KeyInit};
use serde::Deserialize;
use sha2::Sha256;

use crate::SigningError;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Longest key id, in characters.
pub const MAX_KEY_ID_LEN: usize = 32;
/// Shortest secret, in bytes (the HMAC-SHA256 output size).
pub const MIN_SECRET_LEN: usize = 32;
/// Longest secret, in bytes (the SHA-256 block size; longer keys would be hashed first anyway).
pub const MAX_SECRET_LEN: usize = 64;
/// Secret length that [`generate_key_file_toml`] writes, in bytes.
pub const GENERATED_SECRET_LEN: usize = 32;

/// Whether `id` is a usable key id: 1 to [`MAX_KEY_ID_LEN`] characters of `A-Z a-z 0-9 _ -` (so it sits
/// in a token as is).
pub fn is_valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One HMAC-SHA256 key and its id. The secret is only kept as a keyed MAC state and never printed.
#[derive(Clone)]
pub struct SigningKey {
    id: String,
    mac: HmacSha256,
}

impl SigningKey {
    /// A key from its id and secret bytes ([`MIN_SECRET_LEN`] to [`MAX_SECRET_LEN`]).
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, SigningError> {
        if !is_valid_key_id(id) {
            return Err(SigningError::BadKeyId { id: id.to_owned() });
        }
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) {
            return Err(SigningError::BadSecretLength { id: id.to_owned(), len: secret.len() });
        }
        let mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        Ok(SigningKey { id: id.to_owned(), mac })
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fresh MAC state keyed with this key (cloning skips re-deriving the inner and outer pads).
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// Several keys by id: signing uses the current one, verification accepts any of them.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
    current: usize,
}

impl KeyRing {
    /// A ring from keys with unique ids, one of which (`current`) signs.
    pub fn new(keys: Vec<SigningKey>, current: &str) -> Result<Self, SigningError> {
        let mut seen = BTreeSet::new();
        for key in &keys {
            if !seen.insert(key.id.as_str()) {
                return Err(SigningError::BadKeyRing { reason: format!("key id {:?} appears twice", key.id) });
            }
        }
        let current = keys.iter().position(|k| k.id == current).ok_or_else(|| SigningError::BadKeyRing {
            reason: format!("the current key {current:?} is not among the keys"),
        })?;
        Ok(KeyRing { keys, current })
    }

    /// A ring holding a single key, which signs.
    pub fn single(key: SigningKey) -> Self {
        KeyRing { keys: vec![key], current: 0 }
    }

    /// Parses a key file (see [`KeyFile`]); `source_name` (usually the path) is used in the error.
    pub fn from_toml(source_name: &str, text: &str) -> Result<Self, SigningError> {
        KeyFile::parse(source_name, text)?.into_key_ring(source_name)
    }

    /// The key that signs.
    pub fn current(&self) -> &SigningKey {
        &self.keys[self.current]
    }

    /// The key with this id, if the ring holds it.
    pub fn get(&self, id: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Every key id, in file order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }
}

/// The key file read by `marquee sign --key-file` (and later by the origin and edge):
///
/// ```toml
/// [[keys]]
/// id = "k2"                # 1-32 characters of A-Z a-z 0-9 _ -; appears in every token
/// secret_hex = "…"         # 32 to 64 random bytes, hex
/// current = true           # exactly one key signs
///
/// [[keys]]
/// id = "k1"                # an older key: still verifies, no longer signs
/// secret_hex = "…"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The keys; ids must be unique.
    pub keys: Vec<KeyFileEntry>,
}

/// One `[[keys]]` table of a [`KeyFile`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFileEntry {
    /// Key id written into tokens.
    pub id: String,
    /// The secret, hex encoded (either case), 32 to 64 bytes.
    pub secret_hex: String,
    /// Whether this key signs new tokens; exactly one key must say so.
    #[serde(default)]
    pub current: bool,
}

impl fmt::Debug for KeyFileEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFileEntry")
            .field("id", &self.id)
            .field("secret_hex", &"<redacted>")
            .field("current", &self.current)
            .finish()
    }
}

impl KeyFile {
    /// Parses the TOML text; syntax errors and unknown fields are reported here, key problems by
    /// [`KeyFile::into_key_ring`].
    pub fn parse(source_name: &str, text: &str) -> Result<Self, SigningError> {
        toml::from_str(text).map_err(|e| SigningError::KeyFile {
            source_name: source_name.to_owned(),
            problems: vec![e.to_string().trim_end().replace('\n', "\n    ")],
        })
    }

    /// Checks every key and builds the ring, reporting every problem at once.
    pub fn into_key_ring(self, source_name: &str) -> Result<KeyRing, SigningError> {
        let mut problems = Vec::new();
        let mut keys = Vec::new();
        let mut seen = BTreeSet::new();
        if self.keys.is_empty() {
            problems.push("no [[keys]]: add at least one key".to_owned());
        }
        for (n, entry) in self.keys.iter().enumerate() {
            let at = format!("keys[{n}] (id {:?})", entry.id);
            if !is_valid_key_id(&entry.id) {
                problems.push(format!("{at}: id must be 1 to {MAX_KEY_ID_LEN} characters of A-Z a-z 0-9 _ -"));
            } else if !seen.insert(entry.id.clone()) {
                problems.push(format!("{at}: id appears more than once"));
            }
            match decode_hex(&entry.secret_hex) {
                Err(reason) => problems.push(format!("{at}: secret_hex {reason}")),
                Ok(secret) if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) => problems.push(format!(
                    "{at}: secret_hex is {} bytes; it must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes ({} to {} hex digits)",
                    secret.len(),
                    2 * MIN_SECRET_LEN,
                    2 * MAX_SECRET_LEN
                )),
                Ok(secret) => {
                    if let Ok(key) = SigningKey::new(&entry.id, &secret) {
                        keys.push(key);
                    }
                }
            }
        }
        let current: Vec<&KeyFileEntry> = self.keys.iter().filter(|k| k.current).collect();
        match current.len() {
            1 => {}
            0 if !self.keys.is_empty() => {
                problems.push("no key has `current = true`: mark the one that signs".to_owned())
            }
            0 => {}
            n => problems.push(format!(
                "{n} keys have `current = true` ({}): exactly one may sign",
                current.iter().map(|k| format!("{:?}", k.id)).collect::<Vec<_>>().join(", ")
            )),
        }
        if !problems.is_empty() {
            return Err(SigningError::KeyFile { source_name: source_name.to_owned(), problems });
        }
        KeyRing::new(keys, &current[0].id)
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("has an odd number of hex digits ({})", text.len()));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!("is not hex (first bad pair at character {})", 2 * i + 1)),
        })
        .collect()
}

/// A new key file with one fresh random key (from the operating system's generator) marked current.
pub fn generate_key_file_toml(id: &str) -> Result<String, SigningError> {
    if !is_valid_key_id(id) {
        return Err(SigningError::BadKeyId { id: id.to_owned() });
    }
    let mut secret = [0u8; GENERATED_SECRET_LEN];
    getrandom::fill(&mut secret).map_err(|e| SigningError::Random(e.to_string()))?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "# Marquee URL signing keys. Keep this file secret (chmod 600).\n\
         # To rotate: add a new [[keys]] entry to every origin and edge, then move `current = true` to it.\n\
         [[keys]]\nid = \"{id}\"\nsecret_hex = \"{hex}\"\ncurrent = true\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX32: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parses_a_two_key_file() {
        let text = format!(
            "[[keys]]\nid = \"k2\"\nsecret_hex = \"{HEX32}\"\ncurrent = true\n\n[[keys]]\nid = \"k1\"\nsecret_hex = \"{}\"\n",
            HEX32.to_uppercase()
        );
        let ring = KeyRing::from_toml("keys.toml", &text).unwrap();
        assert_eq!(ring.current().id(), "k2");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert!(ring.get("k1").is_some());
        assert!(ring.get("k3").is_none());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let text = "[[keys]]\nid = \"bad id\"\nsecret_hex = \"abc\"\ncurrent = true\n\n\
                    [[keys]]\nid = \"k1\"\nsecret_hex = \"zz\"\ncurrent = true\n\n\
                    [[keys]]\nid = \"k1\"\nsecret_hex = \"0011\"\n";
        let err = KeyRing::from_toml("keys.toml", text).unwrap_err();
        let SigningError::KeyFile { problems, .. } = &err else { panic!("{err}") };
        assert_eq!(problems.len(), 6, "{problems:#?}");
        let message = err.to_string();
        for needle in ["id must be", "odd number", "not hex", "appears more than once", "is 2 bytes", "2 keys have"] {
            assert!(message.contains(needle), "{needle:?} missing from:\n{message}");
        }
    }

    #[test]
    fn unknown_fields_and_missing_current_are_errors() {
        let err = KeyRing::from_toml("k", &format!("[[keys]]\nid = \"k1\"\nsecret = \"{HEX32}\"\n")).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = KeyRing::from_toml("k", &format!("[[keys]]\nid = \"k1\"\nsecret_hex = \"{HEX32}\"\n")).unwrap_err();
        assert!(err.to_string().contains("current = true"), "{err}");
        let err = KeyRing::from_toml("k", "keys = []\n").unwrap_err();
        assert!(err.to_string().contains("no [[keys]]"), "{err}");
        let err = KeyRing::from_toml("k", "[[keys]\n").unwrap_err();
        assert!(err.to_string().starts_with("key file k has 1 problem"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let ring =
            KeyRing::from_toml("k", &format!("[[keys]]\nid = \"k1\"\nsecret_hex = \"{HEX32}\"\ncurrent = true\n"))
                .unwrap();
        let shown = format!("{ring:?}");
        assert!(shown.contains("k1") && !shown.contains("0a0b"), "{shown}");
        let file = KeyFile::parse("k", &format!("[[keys]]\nid = \"k1\"\nsecret_hex = \"{HEX32}\"\n")).unwrap();
        assert!(!format!("{file:?}").contains("0a0b"));
    }

    #[test]
    fn key_and_ring_rules() {
        assert!(SigningKey::new("", &[0; 32]).is_err());
        assert!(SigningKey::new("a.b", &[0; 32]).is_err());
        assert!(SigningKey::new(&"k".repeat(33), &[0; 32]).is_err());
        assert!(SigningKey::new("k1", &[0; 31]).is_err());
        assert!(SigningKey::new("k1", &[0; 65]).is_err());
        let k1 = SigningKey::new("k1", &[1; 32]).unwrap();
        assert!(KeyRing::new(vec![k1.clone(), k1.clone()], "k1").is_err());
        assert!(KeyRing::new(vec![k1.clone()], "k2").is_err());
        assert!(KeyRing::new(vec![], "k1").is_err());
        assert_eq!(KeyRing::new(vec![k1], "k1").unwrap().current().id(), "k1");
    }

    #[test]
    fn generated_files_load_and_differ() {
        let a = generate_key_file_toml("k1").unwrap();
        let b = generate_key_file_toml("k1").unwrap();
        assert_ne!(a, b);
        assert_eq!(KeyRing::from_toml("generated", &a).unwrap().current().id(), "k1");
        assert!(generate_key_file_toml("no/slash").is_err());
    }
}

//! Standard Webhooks signing: endpoint secrets (`whsec_` + base64 of 32 random bytes) and the three headers
//! every delivery carries. The HMAC itself is the `standardwebhooks` crate's, so receivers using any Standard
//! Webhooks library verify what we send.

use base64::Engine;
use standardwebhooks::{Webhook, WebhookError, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

/// Random bytes in a new endpoint secret (the spec asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;
const SECRET_PREFIX: &str = "whsec_";

/// A new endpoint secret, in the spec's serialisation.
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The `webhook-*` headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// The event's id: the same on every attempt, so receivers can drop duplicates.
    pub id: String,
    /// When this attempt was made, Unix seconds.
    pub timestamp: i64,
    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub signature: String,
}

impl SignatureHeaders {
    /// Signs `body` for the attempt at `timestamp` (Unix seconds) of message `id`, with an endpoint's `secret`.
    pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<Self, WebhookError> {
        let signature = Webhook::new(secret)?.sign(id, timestamp, body)?;
        Ok(Self { id: id.to_string(), timestamp, signature })
    }

    /// As (name, value) pairs.
    pub fn pairs(&self) -> [(&'static str, String); 3] {
        [
            (HEADER_WEBHOOK_ID, self.id.clone()),
            (HEADER_WEBHOOK_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_WEBHOOK_SIGNATURE, self.signature.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_usable() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a != b);
        let key = base64::engine::general_purpose::STANDARD.decode(&a["whsec_".len()..]).unwrap();
        assert_eq!(key.len(), SECRET_BYTES);
        assert!(Webhook::new(&a).is_ok());
    }

    #[test]
    fn a_signature_is_over_id_timestamp_and_body() {
        let secret = new_secret();
        let body = br#"{"type":"asset.ready"}"#;
        let signed = SignatureHeaders::sign(&secret, "evt_1", 1_700_000_000, body).unwrap();
        assert!(signed.signature.starts_with("v1,"), "{}", signed.signature);
        // Any of the three changes the signature.
        assert_ne!(SignatureHeaders::sign(&secret, "evt_2", 1_700_000_000, body).unwrap().signature, signed.signature);
        assert_ne!(SignatureHeaders::sign(&secret, "evt_1", 1_700_000_001, body).unwrap().signature, signed.signature);
        assert_ne!(SignatureHeaders::sign(&secret, "evt_1", 1_700_000_000, b"{}").unwrap().signature, signed.signature);
        assert_ne!(
            SignatureHeaders::sign(&new_secret(), "evt_1", 1_700_000_000, body).unwrap().signature,
            signed.signature
        );
        let names: Vec<_> = signed.pairs().iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["webhook-id", "webhook-timestamp", "webhook-signature"]);
    }
}

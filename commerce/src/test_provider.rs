//! A payment provider that contacts nothing: it decides by card token, as payment providers' test modes do.
//!
//! | token | charge | renewals |
//! | --- | --- | --- |
//! | `tok_approve` | succeeds | succeed |
//! | `tok_decline` | declined `card_declined` | declined |
//! | `tok_async` | pending; [`TestProvider::settle`] makes the signed webhook that settles it | pending |
//! | `tok_renewal_fails` | succeeds | declined `insufficient_funds` |
//!
//! Other tokens are declined with `invalid_payment_token`. Webhooks are signed per Standard Webhooks (the
//! `standardwebhooks` crate) with the provider's secret; the body is `{"type": "charge.succeeded" |
//! "charge.failed", "data": {"charge_id": …, "code": …}}`.

use std::collections::HashMap;
use std::sync::Mutex;

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use standardwebhooks::Webhook;

use crate::provider::{
    Charge, ChargeOutcome, ChargePurpose, ChargeRequest, PaymentProvider, ProviderError, ProviderEvent,
    ProviderEventKind, WebhookRefusal,
};

/// The oldest (or furthest ahead) webhook timestamp accepted, in seconds.
pub const WEBHOOK_TOLERANCE_S: i64 = 5 * 60;

/// A charge the test provider made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCharge {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub token: String,
    pub outcome: ChargeOutcome,
    pub refunded: bool,
}

#[derive(Debug, Default)]
struct Ledger {
    /// By the caller's idempotency key: one charge per key.
    charges: HashMap<String, TestCharge>,
    /// Every charge attempt that reached the "card network" (not the replays of a key).
    attempts: usize,
}

/// The built-in test provider.
pub struct TestProvider {
    secret: Vec<u8>,
    ledger: Mutex<Ledger>,
}

impl std::fmt::Debug for TestProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProvider").finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    #[serde(rename = "type")]
    kind: String,
    data: WebhookData,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookData {
    charge_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

impl TestProvider {
    /// With a random webhook secret.
    pub fn new() -> Self {
        Self::with_secret(uuid::Uuid::new_v4().as_bytes().to_vec())
    }

    pub fn with_secret(secret: Vec<u8>) -> Self {
        Self { secret, ledger: Mutex::new(Ledger::default()) }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every charge made, in no order.
    pub fn charges(&self) -> Vec<TestCharge> {
        self.ledger().charges.values().cloned().collect()
    }

    /// How many charges reached the card network (a replayed idempotency key does not count).
    pub fn attempts(&self) -> usize {
        self.ledger().attempts
    }

    /// Settles a pending charge: the webhook's headers and body, signed at `now_ms` (Unix milliseconds).
    pub fn settle(&self, charge_id: &str, succeeded: bool, now_ms: i64) -> (Vec<(String, String)>, String) {
        let data =
            WebhookData { charge_id: charge_id.to_owned(), code: (!succeeded).then(|| "card_declined".to_owned()) };
        let kind = if succeeded { "charge.succeeded" } else { "charge.failed" };
        if let Some(charge) = self.ledger().charges.values_mut().find(|c| c.id == charge_id) {
            charge.outcome = if succeeded {
                ChargeOutcome::Succeeded
            } else {
                ChargeOutcome::Declined { code: "card_declined".into() }
            };
        }
        let body = serde_json::to_string(&WebhookBody { kind: kind.into(), data }).expect("serialisable");
        self.signed(&format!("evt_{}", uuid::Uuid::now_v7().simple()), now_ms / 1000, &body)
    }

    /// `body` signed as a delivery `event_id` at `timestamp_s`: the Standard Webhooks headers and the body.
    pub fn signed(&self, event_id: &str, timestamp_s: i64, body: &str) -> (Vec<(String, String)>, String) {
        let signature = self.webhook().sign(event_id, timestamp_s, body.as_bytes()).expect("UTF-8 body");
        let headers = vec![
            (standardwebhooks::HEADER_WEBHOOK_ID.to_owned(), event_id.to_owned()),
            (standardwebhooks::HEADER_WEBHOOK_TIMESTAMP.to_owned(), timestamp_s.to_string()),
            (standardwebhooks::HEADER_WEBHOOK_SIGNATURE.to_owned(), signature),
        ];
        (headers, body.to_owned())
    }

    fn webhook(&self) -> Webhook {
        Webhook::from_bytes(self.secret.clone()).expect("any bytes are a key")
    }
}

impl Default for TestProvider {
    fn default() -> Self {
        Self::new()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, WebhookRefusal> {
    headers
        .get(name)
        .ok_or_else(|| WebhookRefusal::Malformed(format!("no {name} header")))?
        .to_str()
        .map_err(|_| WebhookRefusal::Malformed(format!("{name} is not text")))
}

#[async_trait::async_trait]
impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test-provider"
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, ProviderError> {
        let mut ledger = self.ledger();
        if let Some(charge) = ledger.charges.get(&request.idempotency_key) {
            if (charge.amount_minor, &charge.currency, &charge.token)
                != (request.amount_minor, &request.currency, &request.payment_token)
            {
                return Err(ProviderError("an idempotency key was reused for another charge".into()));
            }
            return Ok(Charge { id: charge.id.clone(), outcome: charge.outcome.clone() });
        }
        let declined = |code: &str| ChargeOutcome::Declined { code: code.into() };
        let outcome = match (request.payment_token.as_str(), request.purpose) {
            ("tok_approve", _) | ("tok_renewal_fails", ChargePurpose::Order) => ChargeOutcome::Succeeded,
            ("tok_renewal_fails", ChargePurpose::Renewal) => declined("insufficient_funds"),
            ("tok_async", _) => ChargeOutcome::Pending,
            ("tok_decline", _) => declined("card_declined"),
            _ => declined("invalid_payment_token"),
        };
        let charge = TestCharge {
            id: format!("ch_{}", uuid::Uuid::now_v7().simple()),
            amount_minor: request.amount_minor,
            currency: request.currency.clone(),
            token: request.payment_token.clone(),
            outcome: outcome.clone(),
            refunded: false,
        };
        ledger.attempts += 1;
        ledger.charges.insert(request.idempotency_key.clone(), charge.clone());
        Ok(Charge { id: charge.id, outcome })
    }

    async fn refund(&self, charge_id: &str, _idempotency_key: &str) -> Result<(), ProviderError> {
        let mut ledger = self.ledger();
        let charge = ledger
            .charges
            .values_mut()
            .find(|c| c.id == charge_id)
            .ok_or_else(|| ProviderError(format!("no charge {charge_id}")))?;
        if charge.outcome != ChargeOutcome::Succeeded {
            return Err(ProviderError(format!("charge {charge_id} did not succeed; nothing to refund")));
        }
        // Refunding twice is one refund.
        charge.refunded = true;
        Ok(())
    }

    fn verify_webhook(&self, headers: &HeaderMap, body: &[u8], now_ms: i64) -> Result<ProviderEvent, WebhookRefusal> {
        let id = header(headers, standardwebhooks::HEADER_WEBHOOK_ID)?;
        let timestamp: i64 = header(headers, standardwebhooks::HEADER_WEBHOOK_TIMESTAMP)?
            .parse()
            .map_err(|_| WebhookRefusal::Malformed("webhook-timestamp is not Unix seconds".into()))?;
        let signatures = header(headers, standardwebhooks::HEADER_WEBHOOK_SIGNATURE)?;
        // The age is checked against the satellite's clock (the crate's `verify` reads the system's, which
        // tests cannot move); the signature is the crate's, compared in constant time.
        if (now_ms / 1000).abs_diff(timestamp) > WEBHOOK_TOLERANCE_S.unsigned_abs() {
            return Err(WebhookRefusal::StaleTimestamp);
        }
        let expected = self.webhook().sign(id, timestamp, body).map_err(|_| WebhookRefusal::BadSignature)?;
        let expected = expected.split_once(',').map(|(_, s)| s).unwrap_or_default();
        let matches = signatures
            .split(' ')
            .filter_map(|s| s.split_once(','))
            .any(|(version, given)| version == "v1" && constant_time_eq(given.as_bytes(), expected.as_bytes()));
        if !matches {
            return Err(WebhookRefusal::BadSignature);
        }
        let body: WebhookBody = serde_json::from_slice(body).map_err(|e| WebhookRefusal::BadPayload(e.to_string()))?;
        let charge_id = body.data.charge_id;
        let kind = match body.kind.as_str() {
            "charge.succeeded" => ProviderEventKind::ChargeSucceeded { charge_id },
            "charge.failed" => ProviderEventKind::ChargeFailed {
                charge_id,
                code: body.data.code.unwrap_or_else(|| "card_declined".into()),
            },
            other => return Err(WebhookRefusal::BadPayload(format!("unknown event type {other:?}"))),
        };
        Ok(ProviderEvent { id: id.to_owned(), kind })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: &str, key: &str, purpose: ChargePurpose) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: key.into(),
            amount_minor: 999,
            currency: "EUR".into(),
            payment_token: token.into(),
            purpose,
        }
    }

    fn headers(pairs: &[(String, String)]) -> HeaderMap {
        pairs.iter().map(|(n, v)| (http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap())).collect()
    }

    #[tokio::test]
    async fn tokens_decide_and_keys_charge_once() {
        let provider = TestProvider::new();
        let first = provider.charge(&request("tok_approve", "k1", ChargePurpose::Order)).await.unwrap();
        assert_eq!(first.outcome, ChargeOutcome::Succeeded);
        assert_eq!(provider.charge(&request("tok_approve", "k1", ChargePurpose::Order)).await.unwrap(), first);
        assert!(provider.charge(&request("tok_decline", "k1", ChargePurpose::Order)).await.is_err(), "key reused");
        assert_eq!(provider.attempts(), 1);
        let outcome = |token: &'static str, purpose: ChargePurpose| {
            let provider = &provider;
            async move { provider.charge(&request(token, &format!("{token}{purpose:?}"), purpose)).await.unwrap().outcome }
        };
        assert_eq!(
            outcome("tok_decline", ChargePurpose::Order).await,
            ChargeOutcome::Declined { code: "card_declined".into() }
        );
        assert_eq!(outcome("tok_async", ChargePurpose::Order).await, ChargeOutcome::Pending);
        assert_eq!(outcome("tok_renewal_fails", ChargePurpose::Order).await, ChargeOutcome::Succeeded);
        assert_eq!(
            outcome("tok_renewal_fails", ChargePurpose::Renewal).await,
            ChargeOutcome::Declined { code: "insufficient_funds".into() }
        );
        assert!(matches!(outcome("tok_nonsense", ChargePurpose::Order).await, ChargeOutcome::Declined { .. }));
        provider.refund(&first.id, "r1").await.unwrap();
        assert!(provider.charges().iter().any(|c| c.id == first.id && c.refunded));
    }

    #[tokio::test]
    async fn webhooks_are_checked_for_signature_age_and_shape() {
        let provider = TestProvider::new();
        let charge = provider.charge(&request("tok_async", "k", ChargePurpose::Order)).await.unwrap();
        let now = 1_767_225_600_000;
        let (pairs, body) = provider.settle(&charge.id, true, now);
        let event = provider.verify_webhook(&headers(&pairs), body.as_bytes(), now + 299_000).unwrap();
        assert_eq!(event.kind, ProviderEventKind::ChargeSucceeded { charge_id: charge.id.clone() });
        assert_eq!(event.id, pairs[0].1);
        assert_eq!(
            provider.verify_webhook(&headers(&pairs), body.as_bytes(), now + 301_000),
            Err(WebhookRefusal::StaleTimestamp)
        );
        let tampered = body.replace("succeeded", "failed");
        assert_eq!(
            provider.verify_webhook(&headers(&pairs), tampered.as_bytes(), now),
            Err(WebhookRefusal::BadSignature)
        );
        let other = TestProvider::new();
        let (forged, body) = other.settle(&charge.id, true, now);
        assert_eq!(provider.verify_webhook(&headers(&forged), body.as_bytes(), now), Err(WebhookRefusal::BadSignature));
        assert!(matches!(provider.verify_webhook(&HeaderMap::new(), b"{}", now), Err(WebhookRefusal::Malformed(_))));
        for extreme in [i64::MIN, i64::MAX, -1] {
            let (pairs, body) = provider.signed("evt_far", extreme, "{}");
            assert_eq!(
                provider.verify_webhook(&headers(&pairs), body.as_bytes(), now),
                Err(WebhookRefusal::StaleTimestamp),
                "{extreme}"
            );
        }
        let (pairs, body) = provider.signed("evt_x", now / 1000, r#"{"type":"refund.made","data":{"charge_id":"c"}}"#);
        assert!(matches!(
            provider.verify_webhook(&headers(&pairs), body.as_bytes(), now),
            Err(WebhookRefusal::BadPayload(_))
        ));
    }
}

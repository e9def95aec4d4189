//! Payment providers: what charges cards, refunds them, and tells of charges that settle later (signed
//! webhooks). Stripe or Adyen would implement [`PaymentProvider`]; [`crate::test_provider`] simulates one.

use http::HeaderMap;

/// One charge to make. `idempotency_key` is the provider's own idempotency key: asking twice with one key
/// charges once (as Stripe's `Idempotency-Key` does), so a retry after a lost answer is safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub idempotency_key: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The payment method: a card token the client got from the provider.
    pub payment_token: String,
    pub purpose: ChargePurpose,
}

/// What a charge pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargePurpose {
    /// An order's payment, the customer present.
    Order,
    /// A subscription's renewal, off-session.
    Renewal,
}

/// What the provider answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The provider's id of the charge.
    pub id: String,
    pub outcome: ChargeOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Succeeded,
    /// It settles later: a webhook event says how.
    Pending,
    /// Refused, with the provider's reason (`card_declined`, `insufficient_funds`, …).
    Declined {
        code: String,
    },
}

/// A verified webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// Unique per event: a second delivery of one id is not applied again.
    pub id: String,
    pub kind: ProviderEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEventKind {
    ChargeSucceeded { charge_id: String },
    ChargeFailed { charge_id: String, code: String },
}

impl ProviderEventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ChargeSucceeded { .. } => "charge.succeeded",
            Self::ChargeFailed { .. } => "charge.failed",
        }
    }
}

/// Why a provider call failed (not a decline: the provider could not be asked, or answered nonsense).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payment provider failed: {0}")]
pub struct ProviderError(pub String);

/// Why a webhook is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRefusal {
    #[error("the webhook's signature headers are missing or malformed: {0}")]
    Malformed(String),
    #[error("the webhook's signature does not match")]
    BadSignature,
    #[error("the webhook's timestamp is more than 5 minutes from now (a replay, or a clock far off)")]
    StaleTimestamp,
    #[error("the webhook's body is not an event this provider sends: {0}")]
    BadPayload(String),
}

impl WebhookRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "webhook_malformed",
            Self::BadSignature => "webhook_bad_signature",
            Self::StaleTimestamp => "webhook_stale_timestamp",
            Self::BadPayload(_) => "webhook_bad_payload",
        }
    }
}

/// A payment provider.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// The name in its webhook path (`/v1/commerce/webhooks/{name}`) and the charges table.
    fn name(&self) -> &'static str;

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, ProviderError>;

    /// Refunds a succeeded charge in full.
    async fn refund(&self, charge_id: &str, idempotency_key: &str) -> Result<(), ProviderError>;

    /// Checks a webhook's signature and age (against `now_ms`, the satellite's clock) and reads its event.
    fn verify_webhook(&self, headers: &HeaderMap, body: &[u8], now_ms: i64) -> Result<ProviderEvent, WebhookRefusal>;
}

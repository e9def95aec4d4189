//! Sign-in's share of the API's state.

use std::sync::Arc;
use std::time::Duration;

use super::limiter::LoginLimiter;
use super::tokens::AccessTokens;

/// Sign-in's share of the API's state.
#[derive(Debug, Clone)]
pub struct AuthState {
    pub tokens: AccessTokens,
    pub limiter: Arc<LoginLimiter>,
    pub policy: AuthPolicy,
}

/// Sign-in settings the handlers need (from [`crate::ApiSettings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub allow_registration: bool,
}

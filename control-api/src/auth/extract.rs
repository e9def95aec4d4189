//! The [`Caller`] of a request, from its `Authorization: Bearer …` header: an access token checked against
//! its login, or an API key.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::caller::Caller;
use super::store;
use super::tokens::{TokenError, API_KEY_PREFIX};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

/// The client's address: the connection's peer (set by the server for every request).
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(addr)| addr.ip())
}

/// The bearer credential of a request, if it has one.
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(http::header::AUTHORIZATION) else { return Ok(None) };
    let text = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    match text.split_once(' ') {
        Some((scheme, credential)) if scheme.eq_ignore_ascii_case("bearer") && !credential.trim().is_empty() => {
            Ok(Some(credential.trim()))
        }
        _ => Err(ApiError::unauthorized("use Authorization: Bearer ACCESS_TOKEN_OR_API_KEY")),
    }
}

/// On the control API's state and on any satellite's state that holds it (`AsRef<AppState>`).
impl<S: AsRef<AppState> + Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = state.as_ref();
        let Some(credential) = bearer(parts)? else {
            return Err(ApiError::unauthorized(
                "sign in first: send Authorization: Bearer with an access token (POST /v1/auth/login) or an API key",
            ));
        };
        let now = now_ms();
        if credential.starts_with(API_KEY_PREFIX) {
            return store::caller_of_api_key(&state.db, credential, now).await?.ok_or_else(|| {
                ApiError::unauthorized("the API key is not valid: it is unknown, revoked, or its user is disabled")
            });
        }
        let seconds = u64::try_from(now / 1000).unwrap_or_default();
        let claims = state.auth.tokens.verify(credential, seconds).map_err(|e| match e {
            TokenError::Expired => ApiError::new(http::StatusCode::UNAUTHORIZED, "token_expired", e.to_string()),
            TokenError::Invalid(_) => ApiError::unauthorized(e.to_string()),
        })?;
        store::caller_of_session(&state.db, &claims.sub, &claims.sid, now).await?.ok_or_else(|| {
            ApiError::unauthorized("this login has ended (signed out, revoked or expired): sign in again")
        })
    }
}

/// A caller who may or may not have signed in.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl<S: AsRef<AppState> + Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(http::header::AUTHORIZATION) {
            Caller::from_request_parts(parts, state).await.map(|caller| Self(Some(caller)))
        } else {
            Ok(Self(None))
        }
    }
}

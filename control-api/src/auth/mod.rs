//! Who is calling, and what they may do. People sign in with an email and password (argon2id hashes) and get
//! a short-lived access token (a JWT naming their login) and a refresh token that rotates on every use;
//! presenting a rotated refresh token again revokes the whole login (someone else has a copy). Machines use
//! API keys, made by a user, acting as that user with at most a chosen role, stored only as a hash.
//!
//! Roles: `viewer` (requests playback), `creator` (uploads and manages their own assets), `admin`
//! (everything). Every request's [`Caller`] comes from its `Authorization: Bearer …` header; the role is
//! read from the database on each request, so a changed role or a revoked login or key counts at once.
//!
//! - [`tokens`]: access tokens, refresh tokens, API keys as values; [`password`]: hashing;
//!   [`limiter`]: login rate limits; [`store`]: the tables; [`routes`]: the endpoints.

pub mod limiter;
pub mod password;
pub mod routes;
pub mod store;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::server::AppState;
use limiter::LoginLimiter;
use tokens::{AccessTokens, TokenError, API_KEY_PREFIX};

/// What a user may do; each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Requests playback.
    Viewer,
    /// Uploads and manages their own assets.
    Creator,
    /// Everything, everyone's.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Creator => "creator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "creator" => Some(Self::Creator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this login (session).
    Session(String),
    /// This API key (its id).
    ApiKey(String),
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    /// The role this request acts with: the user's, or less for an API key scoped lower.
    pub role: Role,
    pub credential: Credential,
}

impl Caller {
    /// `Ok` when the caller has at least `role`, else 403 saying which role is needed.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; you act as {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// Whether the caller may see and change what `owner_id` owns: their own things, or anything for admins.
    pub fn may_manage(&self, owner_id: &str) -> bool {
        self.role == Role::Admin || self.user_id == owner_id
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

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

/// The first admin's email when `marquee api` makes one on an empty database.
pub const FIRST_ADMIN_EMAIL: &str = "admin@localhost";

/// On an empty database, makes an admin with a random password and returns its email and password (to be
/// shown once); `None` when there are users already.
pub async fn first_admin(db: &crate::Database) -> Result<Option<(String, String)>, sqlx::Error> {
    if store::user_count(db).await? > 0 {
        return Ok(None);
    }
    let password = tokens::random_secret("").chars().take(20).collect::<String>();
    let hash = password::hash(password.clone()).await;
    match store::create_user(db, FIRST_ADMIN_EMAIL, &hash, Role::Admin, now_ms()).await {
        Ok(_) => Ok(Some((FIRST_ADMIN_EMAIL.to_owned(), password))),
        // Another API instance made it at the same moment.
        Err(store::CreateUserError::EmailTaken) => Ok(None),
        Err(store::CreateUserError::Database(e)) => Err(e),
    }
}

/// Milliseconds since the Unix epoch: the times the database keeps.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
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

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(http::header::AUTHORIZATION) {
            Caller::from_request_parts(parts, state).await.map(|caller| Self(Some(caller)))
        } else {
            Ok(Self(None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::Admin > Role::Creator && Role::Creator > Role::Viewer);
        for role in [Role::Viewer, Role::Creator, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn callers_manage_their_own_things_and_admins_everything() {
        let creator = Caller { user_id: "u1".into(), role: Role::Creator, credential: Credential::Session("s".into()) };
        assert!(creator.may_manage("u1") && !creator.may_manage("u2"));
        assert!(creator.require(Role::Creator).is_ok());
        assert_eq!(creator.require(Role::Admin).unwrap_err().status, http::StatusCode::FORBIDDEN);
        let admin = Caller { role: Role::Admin, ..creator };
        assert!(admin.may_manage("u2"));
    }
}

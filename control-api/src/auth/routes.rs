//! The sign-in endpoints (`/v1/auth/*`, `/v1/me`), users (admins manage them) and API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::store::{self, ApiKey, CreateUserError, Refreshed, User};
use super::{client_ip, now_ms, password, Caller, Credential, Role};
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Users listed per page at most.
pub const MAX_PAGE: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/register", post(register))
        .route("/me", get(me))
        .route("/me/password", put(change_password))
        .route("/users", post(create_user).get(list_users))
        .route("/users/{id}", axum::routing::patch(update_user))
        .route("/api-keys", post(create_api_key).get(list_api_keys))
        .route("/api-keys/{id}", delete(revoke_api_key))
}

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// What a sign-in or refresh gives.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer`, valid for `expires_in` seconds.
    pub access_token: String,
    /// Exchanges for a new pair once (POST /v1/auth/refresh); presenting it twice ends the login.
    pub refresh_token: String,
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

fn invalid_login() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the email or password is wrong")
}

async fn pair(state: &AppState, user: &str, role: Role, session: &str, refresh_token: String) -> TokenPair {
    let ttl = state.auth.policy.access_token_ttl.as_secs();
    let now = u64::try_from(now_ms() / 1000).unwrap_or_default();
    TokenPair {
        access_token: state.auth.tokens.issue(user, role, session, now, ttl),
        refresh_token,
        expires_in: ttl,
        token_type: "Bearer".into(),
    }
}

fn refresh_ttl_ms(state: &AppState) -> i64 {
    i64::try_from(state.auth.policy.refresh_token_ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = TokenPair), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, description = "too many attempts for this account or address; see Retry-After", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    parts: http::request::Parts,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    if let Err(wait) = state.auth.limiter.attempt(&body.email, client_ip(&parts)) {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many sign-in attempts; try again in {} s", wait.as_secs()),
        )
        .into_response();
        response.headers_mut().insert(http::header::RETRY_AFTER, wait.as_secs().into());
        return Ok(response);
    }
    if body.password.len() > password::MAX_PASSWORD_BYTES {
        return Err(invalid_login());
    }
    let account = store::account_by_email(&state.db, &body.email).await?;
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    if !password::verify(body.password, hash).await {
        return Err(invalid_login());
    }
    let account = account.expect("a password matched, so the account exists");
    if account.user.disabled_at.is_some() {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "account_disabled", "this account is disabled"));
    }
    let (session, refresh) =
        store::start_session(&state.db, &account.user.id, now_ms(), refresh_ttl_ms(&state)).await?;
    tracing::info!(user = %account.user.id, session = %session, "Signed in.");
    Ok(shown_once(pair(&state, &account.user.id, account.user.role, &session, refresh).await))
}

/// A token pair's answer, marked as holding secrets shown once: an `Idempotency-Key` retry must not find the
/// tokens kept in plain text (refresh tokens are otherwise stored only hashed).
fn shown_once(pair: TokenPair) -> Response {
    let mut response = Json(pair).into_response();
    response.extensions_mut().insert(crate::idempotency::SecretResponse);
    response
}

/// Exchange a refresh token for a new pair. A token presented a second time ends its login.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn refresh(State(state): State<AppState>, Json(body): Json<RefreshRequest>) -> Result<Response, ApiError> {
    match store::rotate_refresh(&state.db, &body.refresh_token, now_ms(), refresh_ttl_ms(&state)).await? {
        Refreshed::Rotated { user_id, role, session_id, refresh_token } => {
            Ok(shown_once(pair(&state, &user_id, role, &session_id, refresh_token).await))
        }
        Refreshed::Reused => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "refresh_token_reused",
            "this refresh token was used before, so another party may hold it: the login is ended; sign in again",
        )),
        Refreshed::Invalid => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
            "the refresh token is unknown, expired, or its login has ended: sign in again",
        )),
    }
}

/// End the caller's login: its refresh token and access tokens stop working.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "signed out"),
        (status = 400, description = "an API key is not a login (`not_a_login`)", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    match &caller.credential {
        Credential::Session(session) => {
            store::revoke_session(&state.db, session, "signed out", now_ms()).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Credential::ApiKey(_) => Err(ApiError::bad_request(
            "not_a_login",
            "an API key is not a login: revoke it with DELETE /v1/api-keys/{id}",
        )),
    }
}

/// Create a viewer account (when the API allows sign-up).
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = Credentials,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    Json(body): Json<Credentials>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    if !state.auth.policy.allow_registration {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "registration_closed",
            "this API does not allow sign-up; ask an admin",
        ));
    }
    new_user(&state, body.email, body.password, Role::Viewer).await
}

async fn new_user(
    state: &AppState,
    email: String,
    password: String,
    role: Role,
) -> Result<(StatusCode, Json<User>), ApiError> {
    if let Some(problem) = store::email_problem(&email) {
        return Err(ApiError::bad_request("invalid_email", problem));
    }
    if let Some(problem) = password::password_problem(&password) {
        return Err(ApiError::bad_request("weak_password", problem));
    }
    let hash = password::hash(password).await;
    match store::create_user(&state.db, &email, &hash, role, now_ms()).await {
        Ok(user) => Ok((StatusCode::CREATED, Json(user))),
        Err(CreateUserError::EmailTaken) => {
            Err(ApiError::conflict("email_taken", "a user with this email already exists"))
        }
        Err(CreateUserError::Database(e)) => Err(e.into()),
    }
}

/// The caller's own account.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<User>, ApiError> {
    let account = store::account_by_id(&state.db, &caller.user_id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(account.user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change the caller's password; every login of the account ends.
#[utoipa::path(put, path = "/v1/me/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204, description = "changed; sign in again"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let account = store::account_by_id(&state.db, &caller.user_id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    if !password::verify(body.current_password, Some(account.password_hash)).await {
        return Err(invalid_login());
    }
    if let Some(problem) = password::password_problem(&body.new_password) {
        return Err(ApiError::bad_request("weak_password", problem));
    }
    let hash = password::hash(body.new_password).await;
    store::set_password(&state.db, &caller.user_id, &hash, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new user and their role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub role: Role,
}

/// Create a user with any role (admins only).
#[utoipa::path(post, path = "/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    caller.require(Role::Admin)?;
    new_user(&state, body.email, body.password, body.role).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// How many at most (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Only users whose email contains this (case-insensitive).
    #[param(max_length = 320)]
    pub email: Option<String>,
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// List users (admins only).
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])), params(UserQuery),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<UserQuery>,
) -> Result<Json<UserPage>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    if page.email.as_ref().is_some_and(|email| email.chars().count() > 320) {
        return Err(ApiError::bad_request("invalid_query", "email must be at most 320 characters"));
    }
    let items = store::list_users(&state.db, page.after.as_deref(), page.email.as_deref(), limit).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|u| u.id.clone())).flatten();
    Ok(Json(UserPage { items, next_cursor }))
}

/// What to change about a user: at least one of these.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub role: Option<Role>,
    /// True signs the user out everywhere and refuses their sign-ins, tokens and API keys; false lets them in
    /// again.
    pub disabled: Option<bool>,
}

/// Change a user's role, or disable or enable them (admins only); it counts from the user's next request. The
/// last enabled admin can be neither demoted nor disabled (409 `last_admin`): nobody could manage the users then.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])), request_body = UserUpdate,
    params(("id" = String, Path, description = "the user's id")),
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    caller.require(Role::Admin)?;
    if body.role.is_none() && body.disabled.is_none() {
        return Err(ApiError::bad_request("invalid_body", "give `role`, `disabled` or both"));
    }
    let disabled_at = body.disabled.map(|disabled| disabled.then(|| state.clock.now_ms()));
    match store::update_user(&state.db, &id, body.role, disabled_at).await? {
        store::UserUpdated::Done => {}
        store::UserUpdated::NotFound => return Err(ApiError::not_found("user")),
        store::UserUpdated::LastAdmin => {
            return Err(ApiError::conflict(
                "last_admin",
                "this is the last enabled admin: make another admin first, then change this one",
            ))
        }
    }
    let account = store::account_by_id(&state.db, &id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(account.user))
}

/// A key to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, e.g. "ingest server".
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The role the key acts with: at most the caller's (the default).
    pub role: Option<Role>,
}

/// A new key: `key` is shown this once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: String,
    pub api_key: ApiKey,
}

/// Make an API key acting as the caller, with at most the caller's role.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])), request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewApiKey>,
) -> Result<Response, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::bad_request("invalid_name", "name the key (1 to 200 characters)"));
    }
    let role = body.role.unwrap_or(caller.role);
    if role > caller.role {
        return Err(ApiError::forbidden(format!("a key cannot have more than your role ({})", caller.role.as_str())));
    }
    let (record, key) = store::create_api_key(&state.db, &caller.user_id, name, role, now_ms()).await?;
    let mut response = (StatusCode::CREATED, Json(CreatedApiKey { key, api_key: record })).into_response();
    // The key is shown once: an idempotent retry must not find it stored.
    response.extensions_mut().insert(crate::idempotency::SecretResponse);
    Ok(response)
}

/// The caller's API keys (an admin's list has everyone's).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

/// List API keys: the caller's own, or everyone's for admins.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody)))]
pub async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<ApiKeyList>, ApiError> {
    let user = (!caller.is_admin()).then_some(caller.user_id.as_str());
    Ok(Json(ApiKeyList { items: store::list_api_keys(&state.db, user).await? }))
}

/// Revoke an API key: it stops working at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "the key's id")),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match store::api_key(&state.db, &id).await? {
        Some(key) if caller.may_manage(&key.user_id) => {
            store::revoke_api_key(&state.db, &id, now_ms()).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        // Another user's key is not shown to exist.
        _ => Err(ApiError::not_found("API key")),
    }
}

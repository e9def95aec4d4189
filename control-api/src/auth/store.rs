//! Sign-in's tables: users, logins (sessions) with their refresh tokens, API keys, and the shared JWT secret.

use base64::Engine as _;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::tokens::{random_bytes, random_secret, secret_hash, shown_prefix, API_KEY_PREFIX, REFRESH_PREFIX};
use super::{Caller, Credential, Role};
use crate::db::Database;

/// How often an API key's `last_used_at` is written at most (it is read on every request).
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<i64>,
}

/// A user with the hash sign-in checks.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
}

/// An API key as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub user_id: String,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// Why a user cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// A new refresh token for the same login.
    Rotated { user_id: String, role: Role, session_id: String, refresh_token: String },
    /// The token had been rotated already: the login is now revoked.
    Reused,
    /// Unknown, expired, or its login has ended.
    Invalid,
}

fn role_of(text: &str) -> Role {
    // The column's CHECK allows only the three names.
    Role::parse(text).unwrap_or(Role::Viewer)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The secret access tokens are signed with: made on the first start, shared by every API instance.
pub async fn jwt_secret(db: &Database, now: i64) -> Result<Vec<u8>, sqlx::Error> {
    let fresh = base64::engine::general_purpose::STANDARD.encode(random_bytes(32));
    sqlx::query("INSERT INTO secrets (name, value, created_at) VALUES ('jwt', $1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(&fresh)
        .bind(now)
        .execute(db.pool())
        .await?;
    let stored: String =
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'jwt'").fetch_one(db.pool()).await?;
    Ok(base64::engine::general_purpose::STANDARD.decode(stored).unwrap_or_else(|_| fresh.into_bytes()))
}

/// Emails are compared without case.
pub fn normal_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// What is wrong with an email address, if anything (the API does not send mail; this catches typos).
pub fn email_problem(email: &str) -> Option<&'static str> {
    let email = email.trim();
    let parts = email.split_once('@');
    match parts {
        _ if email.len() > 254 => Some("the email address is too long"),
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace) => {
            None
        }
        _ => Some("the email address must look like name@example.com"),
    }
}

pub async fn create_user(
    db: &Database,
    email: &str,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<User, CreateUserError> {
    let user = User { id: new_id(), email: normal_email(email), role, created_at: now, disabled_at: None };
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .execute(db.pool())
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(CreateUserError::EmailTaken);
    }
    Ok(user)
}

pub async fn user_count(db: &Database) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(db.pool()).await
}

fn user_of(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: role_of(&row.try_get::<String, _>("role")?),
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

const USER_COLUMNS: &str = "id, email, role, created_at, disabled_at";

pub async fn account_by_email(db: &Database, email: &str) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"))
        .bind(normal_email(email))
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| Ok(Account { user: user_of(&row)?, password_hash: row.try_get("password_hash")? })).transpose()
}

pub async fn account_by_id(db: &Database, id: &str) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| Ok(Account { user: user_of(&row)?, password_hash: row.try_get("password_hash")? })).transpose()
}

/// Users in id (creation) order after the cursor `after`, at most `limit`.
/// Users by id after `after`, those whose email contains `email` (any case) when it is given.
pub async fn list_users(
    db: &Database,
    after: Option<&str>,
    email: Option<&str>,
    limit: i64,
) -> Result<Vec<User>, sqlx::Error> {
    // Emails are stored lower-case; `\` escapes LIKE's wildcards in what the admin typed.
    let pattern = email.map(|text| {
        let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    });
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id > $1 AND ($2 = '' OR email LIKE $3 ESCAPE '\\') ORDER BY id LIMIT $4"
    ))
    .bind(after.unwrap_or(""))
    .bind(if pattern.is_some() { "filter" } else { "" })
    .bind(pattern.unwrap_or_default())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(user_of).collect()
}

/// What [`update_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserUpdated {
    Done,
    NotFound,
    /// Refused: the user is the last enabled admin, and the change would leave none.
    LastAdmin,
}

/// Sets a user's role and/or `disabled_at` (`Some(None)` enables), unless that leaves no enabled admin. Admin
/// changes are serialized (SQLite's write lock; PostgreSQL's row locks on every enabled admin), so two admins
/// demoting each other at once cannot both succeed.
pub async fn update_user(
    db: &Database,
    user_id: &str,
    role: Option<Role>,
    disabled_at: Option<Option<i64>>,
) -> Result<UserUpdated, sqlx::Error> {
    let mut tx = crate::db::begin_write(db.pool()).await?;
    if db.engine() == crate::db::Engine::Postgres {
        sqlx::query("SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    }
    let Some(row) = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(UserUpdated::NotFound);
    };
    let user = user_of(&row)?;
    let new_role = role.unwrap_or(user.role);
    let new_disabled = disabled_at.unwrap_or(user.disabled_at);
    let was_admin = user.role == Role::Admin && user.disabled_at.is_none();
    let stays_admin = new_role == Role::Admin && new_disabled.is_none();
    if was_admin && !stays_admin {
        let others: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        if others == 0 {
            return Ok(UserUpdated::LastAdmin);
        }
    }
    sqlx::query("UPDATE users SET role = $1, disabled_at = $2 WHERE id = $3")
        .bind(new_role.as_str())
        .bind(new_disabled)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(UserUpdated::Done)
}

/// Sets a new password hash and ends every login of the user.
pub async fn set_password(db: &Database, user_id: &str, password_hash: &str, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'password changed' WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Starts a login for `user_id`: its id and first refresh token.
pub async fn start_session(
    db: &Database,
    user_id: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<(String, String), sqlx::Error> {
    let session = new_id();
    let refresh = random_secret(REFRESH_PREFIX);
    let mut tx = db.pool().begin().await?;
    sqlx::query("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(&session)
        .bind(user_id)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(secret_hash(&refresh))
        .bind(&session)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((session, refresh))
}

/// Rotates `refresh_token`: marks it used and issues the next one of its login. A token presented a second
/// time revokes its login, since two parties hold it.
pub async fn rotate_refresh(
    db: &Database,
    refresh_token: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<Refreshed, sqlx::Error> {
    let hash = secret_hash(refresh_token);
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(
        "SELECT r.session_id, r.expires_at, r.rotated_at, s.revoked_at, s.expires_at AS session_expires_at, \
         u.id AS user_id, u.role, u.disabled_at \
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id \
         WHERE r.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(Refreshed::Invalid) };
    let session_id: String = row.try_get("session_id")?;
    let rotated_at: Option<i64> = row.try_get("rotated_at")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let disabled_at: Option<i64> = row.try_get("disabled_at")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let session_expires_at: i64 = row.try_get("session_expires_at")?;
    if revoked_at.is_some() || disabled_at.is_some() || expires_at <= now || session_expires_at <= now {
        return Ok(Refreshed::Invalid);
    }
    // Only one of two concurrent presentations of the same token can mark it used.
    let marked = if rotated_at.is_none() {
        sqlx::query("UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL")
            .bind(now)
            .bind(&hash)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        0
    };
    if marked == 0 {
        tx.rollback().await?;
        revoke_session(db, &session_id, "refresh token presented twice", now).await?;
        tracing::warn!(session = %session_id, "Refresh token reused: login revoked.");
        return Ok(Refreshed::Reused);
    }
    let next = random_secret(REFRESH_PREFIX);
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(secret_hash(&next))
        .bind(&session_id)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id = $2")
        .bind(now + ttl_ms)
        .bind(&session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Refreshed::Rotated {
        user_id: row.try_get("user_id")?,
        role: role_of(&row.try_get::<String, _>("role")?),
        session_id,
        refresh_token: next,
    })
}

pub async fn revoke_session(db: &Database, session_id: &str, reason: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(session_id)
        .execute(db.pool())
        .await
        .map(|_| ())
}

/// The caller an access token stands for, if its login is still on and its user enabled.
pub async fn caller_of_session(
    db: &Database,
    user_id: &str,
    session_id: &str,
    now: i64,
) -> Result<Option<Caller>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.role FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.disabled_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(Caller {
            user_id: user_id.to_owned(),
            role: role_of(&row.try_get::<String, _>("role")?),
            credential: Credential::Session(session_id.to_owned()),
        })
    })
    .transpose()
}

/// Makes an API key for `user_id` acting with `role`: the stored record and the key itself (shown once).
pub async fn create_api_key(
    db: &Database,
    user_id: &str,
    name: &str,
    role: Role,
    now: i64,
) -> Result<(ApiKey, String), sqlx::Error> {
    let key = random_secret(API_KEY_PREFIX);
    let record = ApiKey {
        id: new_id(),
        name: name.to_owned(),
        prefix: shown_prefix(&key),
        role,
        user_id: user_id.to_owned(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, key_hash, prefix, name, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&record.id)
    .bind(secret_hash(&key))
    .bind(&record.prefix)
    .bind(name)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok((record, key))
}

fn api_key_of(row: &sqlx::any::AnyRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        role: role_of(&row.try_get::<String, _>("role")?),
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const API_KEY_COLUMNS: &str = "id, name, prefix, role, user_id, created_at, last_used_at, revoked_at";

/// The API keys of one user (`Some`) or of everyone (`None`), in creation order.
pub async fn list_api_keys(db: &Database, user_id: Option<&str>) -> Result<Vec<ApiKey>, sqlx::Error> {
    let rows = match user_id {
        Some(user) => {
            sqlx::query(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY id"))
                .bind(user)
                .fetch_all(db.pool())
                .await?
        }
        None => {
            sqlx::query(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id")).fetch_all(db.pool()).await?
        }
    };
    rows.iter().map(api_key_of).collect()
}

pub async fn api_key(db: &Database, id: &str) -> Result<Option<ApiKey>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(api_key_of).transpose()
}

pub async fn revoke_api_key(db: &Database, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await
        .map(|_| ())
}

/// The caller an API key stands for, if it is known, not revoked and its user enabled. Acts with the lower of
/// the key's role and the user's current one. Notes the use (at most once a minute).
pub async fn caller_of_api_key(db: &Database, key: &str, now: i64) -> Result<Option<Caller>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT k.id, k.role AS key_role, k.last_used_at, u.id AS user_id, u.role AS user_role \
         FROM api_keys k JOIN users u ON u.id = k.user_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL",
    )
    .bind(secret_hash(key))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id")?;
    let last_used_at: Option<i64> = row.try_get("last_used_at")?;
    if last_used_at.is_none_or(|at| at <= now - LAST_USED_RESOLUTION_MS) {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(db.pool())
            .await?;
    }
    let role = role_of(&row.try_get::<String, _>("key_role")?).min(role_of(&row.try_get::<String, _>("user_role")?));
    Ok(Some(Caller { user_id: row.try_get("user_id")?, role, credential: Credential::ApiKey(id) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normal_email("  Ada@Example.COM "), "ada@example.com");
        assert_eq!(email_problem("ada@example.com"), None);
        for bad in ["", "ada", "@example.com", "ada@", "a da@example.com", &format!("{}@x.io", "a".repeat(260))] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }
}

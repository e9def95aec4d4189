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

pub mod caller;
pub mod extract;
pub mod limiter;
pub mod password;
pub mod routes;
pub mod state;
pub mod store;
pub mod tokens;

pub use crate::clock::now_ms;
pub use caller::{Caller, Credential, Role};
pub use extract::{client_ip, MaybeCaller};

/// The first admin's email when `marquee api` makes one on an empty database.
pub const FIRST_ADMIN_EMAIL: &str = "admin@localhost";

/// On an empty database, makes an admin with a random password and returns its email and password (to be
/// shown once); `None` when there are users already.
pub async fn first_admin(db: &crate::db::Database) -> Result<Option<(String, String)>, sqlx::Error> {
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

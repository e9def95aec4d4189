//! Passwords: argon2id hashes in the PHC string format (the salt and parameters travel with the hash, so
//! stronger parameters later still verify old hashes), computed off the async threads.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest (argon2 takes any length; this bounds the work one request can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What is wrong with a new password, if anything.
pub fn password_problem(password: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Some(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"))
    } else if password.len() > MAX_PASSWORD_BYTES {
        Some(format!("the password must have at most {MAX_PASSWORD_BYTES} bytes"))
    } else {
        None
    }
}

/// The argon2id hash of `password` with a new random salt (OWASP's parameters: 19 MiB, 2 passes).
pub async fn hash(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_now(&password)).await.expect("hashing does not panic")
}

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 accepts any password").to_string()
}

/// Whether `password` matches `hash` (a PHC string). With no hash (no such user) a dummy hash is checked, so an
/// unknown email takes as long to refuse as a wrong password.
pub async fn verify(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let matches = PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
        known && matches
    })
    .await
    .expect("verifying does not panic")
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("not anybody's password"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hashed = hash("correct horse battery".into()).await;
        assert!(hashed.starts_with("$argon2id$"), "{hashed}");
        assert!(verify("correct horse battery".into(), Some(hashed.clone())).await);
        assert!(!verify("correct horse battery!".into(), Some(hashed.clone())).await);
        assert!(!verify("correct horse battery".into(), Some("not a PHC string".into())).await);
        assert!(!verify("not anybody's password".into(), None).await, "no user never matches, not even the dummy");
        assert_ne!(hash("correct horse battery".into()).await, hashed, "salted");
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("ten chars!").is_none());
        assert!(password_problem(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_some());
    }
}

//! Password hashing (argon2id with explicit parameters) and the password policy.
//!
//! Hashing is CPU-bound and deliberately slow, so it runs on the blocking pool.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};

/// Minimum password length (characters).
pub const MIN_PASSWORD_LEN: usize = 12;

/// argon2id, 19 MiB, 2 passes, 1 lane: the OWASP recommendation. Fixed here rather than
/// inherited from the crate default so an upgrade cannot silently weaken stored hashes.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password, verified against when the email is unknown so that the
/// response time does not tell whether an account exists.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(b"dummy password never matches", &salt)
        .expect("hashing a constant succeeds")
        .to_string()
});

/// Checks the password policy: at least 12 characters and not the email.
pub fn validate_password(password: &str, email: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_input(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(ApiError::bad_input(
            "password",
            "must not be the email address",
        ));
    }
    Ok(())
}

/// Hashes `password` into a PHC string (argon2id).
pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal("password hashing failed", e))
    })
    .await
    .map_err(|e| ApiError::internal("password hashing task failed", e))?
}

/// Verifies `password` against a stored PHC string, or against a dummy hash when there is
/// none (unknown account), so both paths cost the same.
pub async fn verify_password(password: String, phc: Option<String>) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let stored = phc.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ApiError::internal("stored password hash unreadable", e))?;
        let ok = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
    .map_err(|e| ApiError::internal("password verification task failed", e))?
}

//! Password hashing (argon2id with explicit parameters) and the password policy.
//!
//! Hashing is CPU-bound and deliberately slow, so it runs on the blocking pool.

use std::sync::{LazyLock, OnceLock};

use tokio::sync::Semaphore;

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

/// How many argon2 computations may run at once. Each holds 19 MiB while it runs; without a
/// bound, 250 concurrent sign-ins took 4.9 GB (and the allocator kept most of it).
static HASHING: OnceLock<Semaphore> = OnceLock::new();

/// Sizes the hashing allowance (the first call wins; [`DEFAULT_HASH_CONCURRENCY`] if never
/// called). Peak hashing memory is `n` × 19 MiB.
pub fn set_hash_concurrency(n: usize) {
    let _ = HASHING.set(Semaphore::new(n.max(1)));
}

/// Argon2 computations at once when not configured.
pub const DEFAULT_HASH_CONCURRENCY: usize = 4;

/// Runs one argon2 computation on the blocking pool once a slot is free.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let semaphore = HASHING.get_or_init(|| Semaphore::new(DEFAULT_HASH_CONCURRENCY));
    let _slot = semaphore
        .acquire()
        .await
        .map_err(|e| ApiError::internal("password hashing allowance closed", e))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal("password hashing task failed", e))?
}

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
    hashing(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal("password hashing failed", e))
    })
    .await
}

/// Verifies `password` against a stored PHC string, or against a dummy hash when there is
/// none (unknown account), so both paths cost the same.
pub async fn verify_password(password: String, phc: Option<String>) -> ApiResult<bool> {
    hashing(move || {
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
}

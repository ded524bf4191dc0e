//! Password hashing (argon2id with explicit parameters) and the password policy.
//!
//! Hashing is CPU-bound, deliberately slow and memory-hungry, so it runs on a few
//! dedicated threads.

use std::sync::{LazyLock, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
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

/// The threads argon2 runs on. Each computation holds 19 MiB; without a bound, 250
/// concurrent sign-ins took 4.9 GB. A semaphore around the blocking pool bounded the
/// computations but not the memory: every blocking thread's allocator arena kept its own
/// 19 MiB chunks (968 MiB peak in the load test). A fixed set of threads bounds both: peak
/// hashing memory is about `n` × 19 MiB, and it is reused, not retained per thread.
static HASHERS: OnceLock<std::sync::mpsc::Sender<Job>> = OnceLock::new();

type Job = Box<dyn FnOnce() + Send>;

/// Argon2 threads when not configured.
pub const DEFAULT_HASH_CONCURRENCY: usize = 4;

/// Sizes the hashing threads (the first call wins; [`DEFAULT_HASH_CONCURRENCY`] if never
/// called). Peak hashing memory is about `n` × 19 MiB.
pub fn set_hash_concurrency(n: usize) {
    let _ = HASHERS.set(start_hashers(n));
}

fn start_hashers(n: usize) -> std::sync::mpsc::Sender<Job> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    for i in 0..n.max(1) {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    // Hold the lock only to take a job, not while running it.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a password hashing thread");
        }
    }
    tx
}

/// Runs one argon2 computation on a hashing thread, in turn.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let hashers = HASHERS.get_or_init(|| start_hashers(DEFAULT_HASH_CONCURRENCY));
    let (tx, rx) = tokio::sync::oneshot::channel();
    hashers
        .send(Box::new(move || {
            let _ = tx.send(work());
        }))
        .map_err(|e| ApiError::internal("password hashing threads gone", e))?;
    rx.await
        .map_err(|e| ApiError::internal("password hashing job dropped", e))?
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
        let ok = MEMORY
            .with_borrow_mut(|memory| verify_in(memory, password.as_bytes(), &stored))
            .map_err(|e| ApiError::internal("stored password hash unreadable", e))?;
        Ok(ok && known)
    })
    .await
}

thread_local! {
    /// Each hashing thread's argon2 working memory, allocated once and reused: allocating
    /// 19 MiB per check left the allocator holding hundreds of MiB after a burst.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies `password` against a PHC string, computing in `memory` (resized only when the
/// stored parameters ask for a different amount). The comparison is constant-time.
fn verify_in(
    memory: &mut Vec<argon2::Block>,
    password: &[u8],
    phc: &str,
) -> Result<bool, argon2::password_hash::Error> {
    use argon2::password_hash::{Error, Output};
    let hash = PasswordHash::new(phc)?;
    let algorithm = Algorithm::try_from(hash.algorithm)?;
    let version = match hash.version {
        Some(v) => Version::try_from(v)?,
        None => Version::default(),
    };
    let params = Params::try_from(&hash)?;
    let expected = hash.hash.ok_or(Error::PhcStringField)?;
    let salt = hash.salt.ok_or(Error::PhcStringField)?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let blocks = params.block_count();
    if memory.len() != blocks {
        *memory = vec![argon2::Block::default(); blocks];
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        .map_err(|_| Error::Password)?;
    Ok(Output::new(&out)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verification_with_reused_memory_agrees_with_the_library() {
        let phc = hash_password("correct horse battery".into()).await.unwrap();
        let mut memory = Vec::new();
        assert!(verify_in(&mut memory, b"correct horse battery", &phc).unwrap());
        assert!(!verify_in(&mut memory, b"correct horse batterY", &phc).unwrap());
        // A hash made with other parameters (8 MiB, 3 passes) resizes the memory.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 3, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::generate(&mut rand::rngs::OsRng))
        .unwrap()
        .to_string();
        assert!(verify_in(&mut memory, b"pw", &other).unwrap());
        assert_eq!(memory.len(), 8 * 1024);
        assert!(verify_in(&mut memory, b"correct horse battery", &phc).unwrap());
        assert!(
            !verify_in(
                &mut memory,
                b"x",
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$AAAA"
            )
            .unwrap_or(false)
        );
        assert!(
            verify_password("correct horse battery".into(), Some(phc))
                .await
                .unwrap()
        );
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}

//! Brute-force resistance for sign-in: failures are counted per account and per client
//! address in the database (so every instance sees them); repeated failures are slowed,
//! then refused with `RATE_LIMITED` until the lockout ends. A successful sign-in clears the
//! account's counter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::login_throttle;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::config::Config;
use crate::db::statement;
use crate::error::{ApiError, ApiResult};

/// The counter key of an account.
pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

/// The counter key of a client address.
pub fn address_key(addr: std::net::IpAddr) -> String {
    format!("address:{addr}")
}

/// Counts one sign-in attempt for `key` **before** its password is checked, in one atomic
/// statement, so concurrent attempts cannot all slip under the limit: each gets its own
/// number. The attempt that reaches `limit` still runs and locks the key for the window;
/// every later one within the window (or while locked) is refused with `RATE_LIMITED`.
/// Returns the attempts counted in the window. A successful sign-in gives its attempt back
/// ([`succeeded`]), so only failures accumulate.
pub async fn attempt(
    db: &impl ConnectionTrait,
    config: &Config,
    key: &str,
    limit: u32,
    now: DateTime<Utc>,
) -> ApiResult<i32> {
    let window = chrono::Duration::seconds(i64::try_from(config.login_lockout_secs).unwrap_or(900));
    let window_start = now - window;
    let lock_until = now + window;
    let limit = i64::from(limit);
    let backend = db.get_database_backend();
    // A window restarts only once it has passed and no lock is in force.
    let fresh = "login_throttle.window_started_at < $3 \
                 AND (login_throttle.locked_until IS NULL OR login_throttle.locked_until <= $2)";
    let sql = format!(
        "INSERT INTO login_throttle (throttle_key, failures, window_started_at, locked_until) \
         VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $5 ELSE NULL END) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           failures = CASE WHEN {fresh} THEN 1 ELSE login_throttle.failures + 1 END, \
           window_started_at = CASE WHEN {fresh} THEN $2 ELSE login_throttle.window_started_at END, \
           locked_until = CASE \
             WHEN login_throttle.locked_until > $2 THEN login_throttle.locked_until \
             WHEN (CASE WHEN {fresh} THEN 1 ELSE login_throttle.failures + 1 END) >= $4 THEN $5 \
             ELSE NULL END \
         RETURNING failures, locked_until"
    );
    let row = db
        .query_one_raw(statement(
            backend,
            &sql,
            vec![
                key.into(),
                now.into(),
                window_start.into(),
                limit.into(),
                lock_until.into(),
            ],
        ))
        .await?
        .ok_or_else(|| ApiError::internal("sign-in throttle", "upsert returned no row"))?;
    let failures: i32 = row
        .try_get("", "failures")
        .or_else(|_| row.try_get::<i64>("", "failures").map(|n| n as i32))?;
    if i64::from(failures) > limit {
        let until: Option<DateTime<Utc>> = row.try_get("", "locked_until")?;
        let retry_after_secs = until
            .map(|u| (u - now).num_seconds().max(1))
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(1);
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    Ok(failures)
}

/// Gives back a successful attempt's count: an office behind one address signing in all
/// morning must not lock itself out.
pub async fn succeeded(db: &impl ConnectionTrait, key: &str) -> ApiResult<()> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE login_throttle SET failures = failures - 1 WHERE throttle_key = $1 AND failures > 0",
        vec![key.into()],
    ))
    .await?;
    Ok(())
}

/// How long to hold a failed answer: nothing for the first two failures, then a growing
/// delay, capped at two seconds.
pub fn slowdown(config: &Config, failures: i32) -> Duration {
    let extra = u64::try_from(failures.saturating_sub(2)).unwrap_or(0);
    Duration::from_millis((config.login_slowdown_ms * extra).min(2_000))
}

/// Clears `key` after a successful sign-in.
pub async fn reset(db: &impl ConnectionTrait, key: &str) -> ApiResult<()> {
    login_throttle::Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

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

/// Refuses with `RATE_LIMITED` if any of `keys` is locked now.
pub async fn check(
    db: &impl ConnectionTrait,
    keys: &[String],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    for key in keys {
        if let Some(row) = login_throttle::Entity::find_by_id(key.clone())
            .one(db)
            .await?
            && let Some(until) = row.locked_until
            && until > now
        {
            let retry_after_secs = u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1);
            return Err(ApiError::RateLimited { retry_after_secs });
        }
    }
    Ok(())
}

/// Counts one failure for `key` (atomically, across instances) and locks it once `limit`
/// failures fall within the window. Returns the failures counted in the current window.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    config: &Config,
    key: &str,
    limit: u32,
    now: DateTime<Utc>,
) -> ApiResult<i32> {
    let window = chrono::Duration::seconds(i64::try_from(config.login_lockout_secs).unwrap_or(900));
    let window_start = now - window;
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        "INSERT INTO login_throttle (throttle_key, failures, window_started_at, locked_until) \
         VALUES ($1, 1, $2, NULL) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.window_started_at < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           window_started_at = CASE WHEN login_throttle.window_started_at < $3 THEN $2 ELSE login_throttle.window_started_at END, \
           locked_until = CASE WHEN login_throttle.locked_until IS NOT NULL AND login_throttle.locked_until < $2 THEN NULL ELSE login_throttle.locked_until END",
        vec![key.into(), now.into(), window_start.into()],
    ))
    .await?;
    let failures = login_throttle::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map_or(1, |r| r.failures);
    if u32::try_from(failures).unwrap_or(u32::MAX) >= limit {
        db.execute_raw(statement(
            backend,
            "UPDATE login_throttle SET locked_until = $2 WHERE throttle_key = $1",
            vec![key.into(), (now + window).into()],
        ))
        .await?;
    }
    Ok(failures)
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

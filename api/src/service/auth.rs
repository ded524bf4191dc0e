//! Sign-in, refresh-token rotation, sign-out and password changes.

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::{refresh_token, session, user};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::password::{hash_password, validate_password, verify_password};
use crate::auth::{Actor, throttle};
use crate::authz::Origin;
use crate::error::{ApiError, ApiResult};
use crate::service::Deps;
use crate::service::events::{self, AuditAction, Change, Event, RecordKind};
use serde_json::Value as Json;

/// A successful sign-in or refresh.
pub struct Session {
    /// The JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// The opaque, single-use refresh token.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// The signed-in user.
    pub user: user::Model,
    /// The session the tokens belong to.
    pub session_id: Uuid,
}

/// A new opaque refresh token and the hash that is stored.
fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The longest email an account can have (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

fn invalid_credentials() -> ApiError {
    ApiError::InvalidCredentials
}

/// `login(email, password)`.
pub async fn login(
    deps: &Deps,
    email: &str,
    password: String,
    origin: &Origin,
) -> ApiResult<Session> {
    let db = &deps.db;
    let client = origin.ip;
    let now = Utc::now();
    let email = email.trim().to_lowercase();
    let account_key = throttle::account_key(&email);
    let address_key = client.map(throttle::address_key);

    // Throttle: this attempt is counted before any password work, atomically, per client
    // address and per account; over either limit it is refused without a check.
    let mut attempts = 0;
    if let Some(key) = &address_key {
        let attempt = throttle::attempt(
            db,
            &deps.config,
            key,
            deps.config.login_max_failures_per_address,
            now,
        )
        .await;
        attempts = login_refused(deps, origin, &email, attempt).await?;
    }
    // No account has such an email (users are validated on creation): refuse without
    // hashing, and without a key the database could not index.
    if email.chars().count() > MAX_EMAIL_LEN {
        return Err(ApiError::bad_input(
            "email",
            format!("must be at most {MAX_EMAIL_LEN} characters"),
        ));
    }
    let attempt = throttle::attempt(
        db,
        &deps.config,
        &account_key,
        deps.config.login_max_failures,
        now,
    )
    .await;
    let by_account = login_refused(deps, origin, &email, attempt).await?;
    attempts = attempts.max(by_account);

    // Verify: unknown emails are checked against a dummy hash so timing reveals nothing.
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    let phc = found.as_ref().map(|u| u.password_hash.clone());
    let password_ok = verify_password(password, phc).await?;
    let user = match found {
        Some(u) if password_ok && u.active => u,
        other => {
            tracing::warn!(target: "audit", event = "login.failure", email = %email, client = ?client, failures = attempts, "sign-in failed");
            let account = other.map(|u| u.id);
            login_failed(deps, origin, &email, account, "INVALID_CREDENTIALS").await?;
            tokio::time::sleep(throttle::slowdown(&deps.config, attempts)).await;
            return Err(invalid_credentials());
        }
    };

    // Act: clear the account's failures, give the address its attempt back, open a session.
    throttle::reset(db, &account_key).await?;
    if let Some(key) = &address_key {
        throttle::succeeded(db, key).await?;
    }
    let txn = db.begin().await?;
    let session_id = Uuid::new_v4();
    let expires =
        now + chrono::Duration::days(i64::try_from(deps.config.session_ttl_days).unwrap_or(30));
    session::ActiveModel {
        id: Set(session_id),
        user_id: Set(user.id),
        created_at: Set(now),
        expires_at: Set(expires),
        last_refreshed_at: Set(None),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    }
    .insert(&txn)
    .await?;
    let refresh_token = insert_refresh_token(&txn, session_id, now, expires).await?;
    let event = session_event(AuditAction::UserLogin, user.id, session_id, None);
    events::append(deps, &txn, Some(user.id), origin, event).await?;
    txn.commit().await?;
    let (access_token, expires_at) = issue_access(deps, &user, session_id)?;
    tracing::info!(target: "audit", event = "login.success", user_id = %user.id, session_id = %session_id, client = ?client, "signed in");
    Ok(Session {
        access_token,
        refresh_token,
        expires_at,
        user,
        session_id,
    })
}

/// The failed-sign-in event: the email tried and why (`INVALID_CREDENTIALS`, `LOCKED`);
/// the record is the account when one has that email. No actor: nobody signed in.
async fn login_failed(
    deps: &Deps,
    origin: &Origin,
    email: &str,
    account: Option<Uuid>,
    reason: &str,
) -> ApiResult<()> {
    // What was typed may be anything up to the request's limits: keep what an email can be.
    let email: String = email.chars().take(MAX_EMAIL_LEN).collect();
    let event = Event {
        action: AuditAction::UserLoginFailed,
        kind: account.map(|_| RecordKind::User),
        record_id: account,
        changes: vec![
            Change::new("email", Json::Null, Json::from(email)),
            Change::new("reason", Json::Null, Json::from(reason)),
        ],
    };
    events::append(deps, &deps.db, None, origin, event)
        .await
        .map(|_| ())
}

/// A throttle's answer to a sign-in attempt: the failures so far, or the refusal (recorded
/// as a failed sign-in, `LOCKED`).
async fn login_refused(
    deps: &Deps,
    origin: &Origin,
    email: &str,
    attempt: ApiResult<i32>,
) -> ApiResult<i32> {
    match attempt {
        Ok(n) => Ok(n),
        Err(e @ ApiError::RateLimited { .. }) => {
            tracing::warn!(target: "audit", event = "login.refused", email = %email, client = ?origin.ip, "sign-in refused while locked");
            let account = user::Entity::find()
                .filter(user::Column::Email.eq(email))
                .one(&deps.db)
                .await?
                .map(|u| u.id);
            login_failed(deps, origin, email, account, "LOCKED").await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// An event about session `session` of `user` (sign-in, sign-out, revocation).
fn session_event(action: AuditAction, user: Uuid, session: Uuid, reason: Option<&str>) -> Event {
    let mut changes = vec![Change::new(
        "sessionId",
        Json::Null,
        Json::from(session.to_string()),
    )];
    if let Some(reason) = reason {
        changes.push(Change::new("reason", Json::Null, Json::from(reason)));
    }
    Event::on(action, RecordKind::User, user, changes)
}

fn issue_access(
    deps: &Deps,
    user: &user::Model,
    session_id: Uuid,
) -> ApiResult<(String, DateTime<Utc>)> {
    let role = serde_json::to_value(user.role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    deps.tokens
        .issue(user.id, &role, session_id)
        .map_err(|e| ApiError::internal("signing an access token failed", e))
}

async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> ApiResult<String> {
    let (token, hash) = new_refresh_token();
    refresh_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session_id),
        token_hash: Set(hash),
        created_at: Set(now),
        expires_at: Set(expires),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Revokes a session (idempotent).
pub async fn revoke_session(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    reason: &str,
) -> ApiResult<()> {
    revoking(reason)
        .filter(session::Column::Id.eq(session_id))
        .exec(db)
        .await?;
    Ok(())
}

/// `UPDATE sessions SET revoked_at = now, revoked_reason = reason WHERE` still live (the
/// caller narrows it to a session or a user).
fn revoking(reason: &str) -> sea_orm::UpdateMany<session::Entity> {
    session::Entity::update_many()
        .col_expr(
            session::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .col_expr(
            session::Column::RevokedReason,
            sea_orm::sea_query::Expr::value(reason.to_owned()),
        )
        .filter(session::Column::RevokedAt.is_null())
}

/// Revokes every live session of a user, except `keep`.
pub async fn revoke_user_sessions(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> ApiResult<()> {
    let mut update = revoking(reason).filter(session::Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        update = update.filter(session::Column::Id.ne(keep));
    }
    update.exec(db).await?;
    Ok(())
}

/// The answer to a refresh that lost a race with the same client's other refresh.
fn refresh_raced() -> ApiError {
    ApiError::Conflict {
        message: "this refresh token was just used by another refresh; use the tokens that refresh returned".into(),
        field: Some("refreshToken".into()),
    }
}

/// `refreshSession(refreshToken)`: exchanges a refresh token for a new pair. A token that was
/// already used means it was stolen (or replayed): the whole session is revoked.
pub async fn refresh(deps: &Deps, token: &str, origin: &Origin) -> ApiResult<Session> {
    let db = &deps.db;
    let now = Utc::now();
    let hash = hash_refresh_token(token.trim());
    let Some(stored) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .one(db)
        .await?
    else {
        return Err(ApiError::Unauthenticated);
    };
    let Some((session, Some(user))) = session::Entity::find_by_id(stored.session_id)
        .find_also_related(user::Entity)
        .one(db)
        .await?
    else {
        return Err(ApiError::Unauthenticated);
    };
    if session.revoked_at.is_some() || session.expires_at <= now || stored.expires_at <= now {
        return Err(ApiError::Unauthenticated);
    }
    let grace =
        chrono::Duration::seconds(i64::try_from(deps.config.refresh_reuse_grace_secs).unwrap_or(0));
    if let Some(used_at) = stored.used_at
        && now - used_at <= grace
    {
        // A client's concurrent refreshes (two tabs, a retry): one won moments ago and its
        // new tokens are live. Refuse this one without ending the session.
        tracing::info!(target: "audit", event = "session.refresh_raced", user_id = %user.id, session_id = %session.id, "refresh token presented again within the grace period");
        return Err(refresh_raced());
    }
    if stored.used_at.is_some() {
        let txn = crate::service::begin_write(deps).await?;
        revoke_session(&txn, session.id, "refresh token reuse").await?;
        // Whoever presented the token is not known to be the user: no actor.
        let event = session_event(
            AuditAction::SessionRevoked,
            user.id,
            session.id,
            Some("REFRESH_TOKEN_REUSED"),
        );
        events::append(deps, &txn, None, origin, event).await?;
        txn.commit().await?;
        tracing::warn!(target: "audit", event = "session.reuse_detected", user_id = %user.id, session_id = %session.id, "refresh token reused; session revoked");
        return Err(ApiError::Unauthenticated);
    }
    if !user.active {
        return Err(ApiError::Unauthenticated);
    }

    let txn = crate::service::begin_write(deps).await?;
    // Claim the token atomically: of two concurrent exchanges only one wins.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::UsedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(refresh_token::Column::Id.eq(stored.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        // A concurrent refresh with the same token claimed it first: the same case as the
        // grace period above.
        txn.rollback().await?;
        tracing::info!(target: "audit", event = "session.refresh_raced", user_id = %user.id, session_id = %session.id, "concurrent refresh lost the race");
        return Err(refresh_raced());
    }
    let refresh_token = insert_refresh_token(&txn, session.id, now, session.expires_at).await?;
    session::Entity::update_many()
        .col_expr(
            session::Column::LastRefreshedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(session::Column::Id.eq(session.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let (access_token, expires_at) = issue_access(deps, &user, session.id)?;
    tracing::info!(target: "audit", event = "session.refreshed", user_id = %user.id, session_id = %session.id, "session refreshed");
    Ok(Session {
        access_token,
        refresh_token,
        expires_at,
        user,
        session_id: session.id,
    })
}

/// `logout`: ends the actor's session; its access and refresh tokens stop working.
pub async fn logout(deps: &Deps, actor: &Actor) -> ApiResult<bool> {
    let Some(session_id) = actor.session_id else {
        // SSO tokens have no session here; the identity provider ends them.
        return Ok(false);
    };
    let txn = crate::service::begin_write(deps).await?;
    revoke_session(&txn, session_id, "logout").await?;
    let event = session_event(AuditAction::UserLogout, actor.id, session_id, None);
    events::append_by(deps, &txn, &actor.viewer, event).await?;
    txn.commit().await?;
    tracing::info!(target: "audit", event = "logout", user_id = %actor.id, session_id = %session_id, "signed out");
    Ok(true)
}

/// `changePassword(currentPassword, newPassword)`: other sessions are signed out.
pub async fn change_password(
    deps: &Deps,
    actor: &Actor,
    current: String,
    new_password: String,
) -> ApiResult<bool> {
    // Load.
    let user = user::Entity::find_by_id(actor.id)
        .one(&deps.db)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    // Verify the current password (a stolen access token alone cannot change it).
    if !verify_password(current.clone(), Some(user.password_hash.clone())).await? {
        return Err(ApiError::bad_input(
            "currentPassword",
            "is not the current password",
        ));
    }
    validate_password(&new_password, &user.email).map_err(|_| {
        ApiError::bad_input(
            "newPassword",
            format!(
                "must be at least {} characters and not the email address",
                crate::auth::password::MIN_PASSWORD_LEN
            ),
        )
    })?;
    if new_password == current {
        return Err(ApiError::bad_input(
            "newPassword",
            "must differ from the current password",
        ));
    }
    // Act.
    let hash = hash_password(new_password).await?;
    let txn = crate::service::begin_write(deps).await?;
    let mut am: user::ActiveModel = user.into();
    am.password_hash = Set(hash);
    am.must_change_password = Set(false);
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    revoke_user_sessions(&txn, actor.id, actor.session_id, "password changed").await?;
    let changes = vec![events::password_changed()];
    let event = Event::on(
        AuditAction::PermissionChanged,
        RecordKind::User,
        actor.id,
        changes,
    );
    events::append_by(deps, &txn, &actor.viewer, event).await?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "password.changed", user_id = %actor.id, "password changed");
    Ok(true)
}

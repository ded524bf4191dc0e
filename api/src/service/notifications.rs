//! Notifications: what a user is told about, derived from the events of a write and stored
//! in its transaction. A deal assigned to you (created for you, or reassigned), shared with
//! you, or moved to another stage by someone else; an activity assigned to you. Never about
//! a record the recipient cannot read (the policy decides, as for any read), never about
//! what you did yourself.

use chrono::Utc;
use entity::enums::NotificationKind;
use entity::{activity, deal, notification, user};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::authz::Viewer;
use crate::error::ApiResult;
use crate::service::Deps;
use crate::service::events::{AuditAction, Event, RecordKind};
use crate::service::filter::Scalar;
use crate::service::list::{Page, PageArgs, SortKey, fetch_page};
use crate::service::record;

/// A notification to be written: who, what, about which deal or activity.
struct Draft {
    recipient: Uuid,
    kind: NotificationKind,
    title: String,
    body: String,
}

fn uuid_of(v: &Json) -> Option<Uuid> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// `CLOSED_WON` → `Closed won`.
pub(crate) fn words(name: &Json) -> String {
    let lower = name
        .as_str()
        .unwrap_or_default()
        .replace('_', " ")
        .to_lowercase();
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Writes the notifications `event` (by `actor`) causes, in the write's transaction.
pub(crate) async fn for_event(
    deps: &Deps,
    txn: &impl ConnectionTrait,
    actor: &Viewer,
    event: &Event,
    position: Option<i64>,
) -> ApiResult<()> {
    let (Some(kind), Some(id)) = (event.kind, event.record_id) else {
        return Ok(());
    };
    if event.action == AuditAction::RecordDeleted
        || !matches!(kind, RecordKind::Deal | RecordKind::Activity)
    {
        return Ok(());
    }
    let relevant = event.changes.iter().any(|c| {
        matches!(
            (kind, c.field.as_str()),
            (RecordKind::Deal, "ownerId" | "share" | "stage")
                | (RecordKind::Activity, "assignedToId")
        )
    });
    if !relevant {
        return Ok(());
    }
    let who = user::Entity::find_by_id(actor.user_id)
        .one(txn)
        .await?
        .map_or_else(|| "Someone".to_owned(), |u| u.name);
    let drafts = match kind {
        RecordKind::Deal => {
            let Some(deal) = deal::Entity::find_by_id(id).one(txn).await? else {
                return Ok(());
            };
            deal_drafts(event, &deal, &who)
        }
        _ => {
            let Some(activity) = activity::Entity::find_by_id(id).one(txn).await? else {
                return Ok(());
            };
            activity_drafts(event, &activity, &who)
        }
    };
    for draft in drafts {
        if draft.recipient == actor.user_id {
            continue;
        }
        write(deps, txn, (kind, id), draft, position).await?;
    }
    Ok(())
}

fn deal_drafts(event: &Event, deal: &deal::Model, who: &str) -> Vec<Draft> {
    let title = &deal.title;
    let mut drafts = Vec::new();
    for c in &event.changes {
        match c.field.as_str() {
            "ownerId" => {
                if let Some(owner) = uuid_of(&c.to) {
                    drafts.push(Draft {
                        recipient: owner,
                        kind: NotificationKind::DealAssigned,
                        title: "Deal assigned to you".into(),
                        body: format!("{who} assigned you \u{201c}{title}\u{201d}."),
                    });
                }
            }
            "share" => {
                if let Some(user) = uuid_of(&c.to["userId"]) {
                    let access = words(&c.to["permission"]).to_lowercase();
                    drafts.push(Draft {
                        recipient: user,
                        kind: NotificationKind::DealShared,
                        title: "Deal shared with you".into(),
                        body: format!(
                            "{who} shared \u{201c}{title}\u{201d} with you ({access} access)."
                        ),
                    });
                }
            }
            "stage" if event.action == AuditAction::RecordUpdated => {
                drafts.push(Draft {
                    recipient: deal.owner_id,
                    kind: NotificationKind::DealStageChanged,
                    title: format!("Deal moved to {}", words(&c.to)),
                    body: format!(
                        "{who} moved \u{201c}{title}\u{201d} from {} to {}.",
                        words(&c.from),
                        words(&c.to)
                    ),
                });
            }
            _ => {}
        }
    }
    drafts
}

fn activity_drafts(event: &Event, activity: &activity::Model, who: &str) -> Vec<Draft> {
    event
        .changes
        .iter()
        .filter(|c| c.field == "assignedToId")
        .filter_map(|c| uuid_of(&c.to))
        .map(|assignee| Draft {
            recipient: assignee,
            kind: NotificationKind::ActivityAssigned,
            title: "Activity assigned to you".into(),
            body: format!("{who} assigned you \u{201c}{}\u{201d}.", activity.subject),
        })
        .collect()
}

/// Stores `draft` if its recipient is active and may read the record.
async fn write(
    deps: &Deps,
    txn: &impl ConnectionTrait,
    (kind, id): (RecordKind, Uuid),
    draft: Draft,
    position: Option<i64>,
) -> ApiResult<()> {
    let Some(recipient) = user::Entity::find_by_id(draft.recipient).one(txn).await? else {
        return Ok(());
    };
    if !recipient.active {
        return Ok(());
    }
    let viewer = Viewer::load(txn, recipient.id, recipient.role, recipient.team_id).await?;
    let readable = match kind {
        RecordKind::Deal => record::is_readable::<deal::Entity>(deps, &viewer, txn, id).await?,
        _ => record::is_readable::<activity::Entity>(deps, &viewer, txn, id).await?,
    };
    if !readable {
        tracing::debug!(recipient = %recipient.id, record = %id, "notification skipped: the recipient cannot read the record");
        return Ok(());
    }
    let (deal_id, activity_id) = match kind {
        RecordKind::Deal => (Some(id), None),
        _ => (None, Some(id)),
    };
    notification::Entity::insert(notification::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(recipient.id),
        kind: Set(draft.kind),
        title: Set(draft.title),
        body: Set(draft.body),
        deal_id: Set(deal_id),
        company_id: Set(None),
        contact_id: Set(None),
        activity_id: Set(activity_id),
        event_position: Set(position),
        created_at: Set(Utc::now()),
        read_at: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The viewer's notifications, newest first (only unread ones with `unread_only`).
pub async fn list(
    deps: &Deps,
    viewer: &Viewer,
    unread_only: bool,
    page: &PageArgs,
) -> ApiResult<Page<notification::Model>> {
    let mut select =
        notification::Entity::find().filter(notification::Column::UserId.eq(viewer.user_id));
    if unread_only {
        select = select.filter(notification::Column::ReadAt.is_null());
    }
    let keys = [
        SortKey::column(notification::Column::CreatedAt, true),
        SortKey::column(notification::Column::Id, true),
    ];
    fetch_page(&deps.db, select, &keys, page, |n: &notification::Model| {
        vec![Scalar::Ts(n.created_at), Scalar::Uuid(n.id)]
    })
    .await
}

/// How many notifications the viewer has.
pub async fn count(deps: &Deps, viewer: &Viewer) -> ApiResult<u64> {
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .count(&deps.db)
        .await?)
}

/// How many of the viewer's notifications are unread.
pub async fn unread_count(deps: &Deps, viewer: &Viewer) -> ApiResult<u64> {
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .filter(notification::Column::ReadAt.is_null())
        .count(&deps.db)
        .await?)
}

/// Marks the viewer's notifications among `ids` (all of them with `None`) read; returns
/// how many were unread. Ids of other users' notifications are ignored.
pub async fn mark_read(deps: &Deps, viewer: &Viewer, ids: Option<&[Uuid]>) -> ApiResult<u64> {
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Utc::now()))
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(ids) = ids {
        update = update.filter(notification::Column::Id.is_in(ids.iter().copied()));
    }
    Ok(update.exec(&deps.db).await?.rows_affected)
}

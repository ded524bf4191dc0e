//! What each action does when its job runs, with the policy deciding for every person
//! involved: a notification or an email only goes to a recipient who may read the deal
//! (or activity), and its text is rendered from the fields *they* may read (a hidden amount
//! reads "hidden"); an activity is logged for the deal's owner and an owner is assigned
//! for the admin who set the automation up, each only if the policy lets that user do it.
//! Writes are recorded as the automation's (the event's `automation_id`).

use std::time::Duration;

use chrono::Utc;
use entity::enums::{NotificationKind, Role};
use entity::{activity, automation, company, deal, job, notification, team, user};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::definition::{Action, Recipient, TerritoryField, Trigger, WebhookFormat};
use super::{JobContext, SubjectKind, template, webhook};
use crate::authz::{Origin, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::events::enum_name;
use crate::service::notifications::words;
use crate::service::{Deps, deal as deals, money, record};

/// How a job's attempt ended.
#[derive(Debug)]
pub enum Outcome {
    /// Done (what was done).
    Done(String),
    /// Not done on purpose (why).
    Skipped(String),
    /// Failed; worth another attempt.
    Retry(String),
    /// Failed; no retry can mend it.
    Failed(String),
}

/// What a job is about: a deal; an activity (and its deal); or a user (a digest).
#[derive(Default)]
struct Subject {
    deal: Option<deal::Model>,
    activity: Option<activity::Model>,
    user: Option<user::Model>,
}

async fn subject(deps: &Deps, job: &job::Model, kind: SubjectKind) -> ApiResult<Subject> {
    let Some(id) = job.record_id else {
        return Ok(Subject::default());
    };
    let mut s = Subject::default();
    match kind {
        SubjectKind::User => s.user = user::Entity::find_by_id(id).one(&deps.db).await?,
        SubjectKind::Activity => {
            s.activity = activity::Entity::find_by_id(id).one(&deps.db).await?;
            if let Some(d) = s.activity.as_ref().and_then(|a| a.deal_id) {
                s.deal = deal::Entity::find_by_id(d).one(&deps.db).await?;
            }
        }
        SubjectKind::Deal => s.deal = deal::Entity::find_by_id(id).one(&deps.db).await?,
    }
    Ok(s)
}

/// A user's week as they may see it: open deals and their amount (amounts they may read),
/// deals closing in the next 7 days, open activities assigned to them due by then.
async fn digest(deps: &Deps, viewer: &Viewer) -> ApiResult<Json> {
    use entity::enums::DealStage;
    use sea_orm::{PaginatorTrait, QuerySelect};
    let today = Utc::now().date_naive();
    let week = today + chrono::Duration::days(7);
    let open = || {
        deal::Entity::find()
            .filter(deps.authz.scope(viewer, crate::authz::DealAction::Read))
            .filter(deal::Column::Stage.is_not_in([DealStage::ClosedWon, DealStage::ClosedLost]))
    };
    let rows: Vec<(i64, i32)> = open()
        .select_only()
        .column(deal::Column::AmountCents)
        .column_as(
            deps.authz.facts_expr(viewer, crate::authz::Kind::Deal),
            crate::authz::FACTS_COLUMN,
        )
        .into_tuple()
        .all(&deps.db)
        .await?;
    let amount: i64 = rows
        .iter()
        .filter(|(_, facts)| {
            deals::can_read_amount(
                deps,
                viewer,
                crate::authz::FactMask::from_bits(*facts as u8),
            )
        })
        .map(|(a, _)| a)
        .sum();
    let closing = open()
        .filter(deal::Column::ExpectedCloseDate.between(today, week))
        .count(&deps.db)
        .await?;
    let due = activity::Entity::find()
        .filter(deps.authz.scope(viewer, crate::authz::ActivityAction::Read))
        .filter(activity::Column::AssignedTo.eq(viewer.user_id))
        .filter(activity::Column::Completed.eq(false))
        .filter(activity::Column::DueAt.lte(Utc::now() + chrono::Duration::days(7)))
        .count(&deps.db)
        .await?;
    Ok(json!({
        "openDeals": rows.len(),
        "openAmount": money::from_cents(amount).to_string(),
        "closingThisWeek": closing,
        "tasksDue": due,
    }))
}

/// The viewer of an active user, acting for automation `automation`.
async fn acting(deps: &Deps, user_id: Uuid, automation: Uuid) -> ApiResult<Option<Viewer>> {
    let Some(u) = user::Entity::find_by_id(user_id).one(&deps.db).await? else {
        return Ok(None);
    };
    if !u.active {
        return Ok(None);
    }
    let mut viewer = Viewer::load(&deps.db, u.id, u.role, u.team_id).await?;
    viewer.origin = Origin {
        automation: Some(automation),
        ..Origin::NONE
    };
    Ok(Some(viewer))
}

/// What a template may use, as `viewer` may read it; `None` when they may not read the
/// deal (or the activity).
async fn context_for(
    deps: &Deps,
    viewer: &Viewer,
    subject: &Subject,
    context: &JobContext,
    recipient: Option<&str>,
) -> ApiResult<Option<Json>> {
    let mut out = json!({
        "previous": { "stage": context.previous_stage.as_ref().map(|s| words(&Json::String(s.clone()))) },
        "recipient": { "name": recipient },
    });
    let actor = match context.actor {
        Some(a) => user::Entity::find_by_id(a)
            .one(&deps.db)
            .await?
            .map(|u| u.name),
        None => None,
    };
    out["actor"] = json!({ "name": actor.unwrap_or_else(|| "Someone".into()) });
    if let Some(a) = &subject.activity {
        if !record::is_readable::<activity::Entity>(deps, viewer, &deps.db, a.id).await? {
            return Ok(None);
        }
        out["activity"] = json!({
            "id": a.id.to_string(),
            "subject": a.subject,
            "type": words(&enum_name(&a.kind)),
            "dueAt": a.due_at.map(|d| d.to_rfc3339()),
        });
    }
    if let Some(d) = &subject.deal {
        let row = match record::find::<deal::Entity>(deps, viewer, &deps.db, d.id).await {
            Ok(row) => row,
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let amount = if deals::can_read_amount(deps, viewer, row.facts) {
            Json::String(money::from_cents(d.amount_cents).to_string())
        } else {
            Json::String("hidden".into())
        };
        let owner = user::Entity::find_by_id(d.owner_id)
            .one(&deps.db)
            .await?
            .map(|u| u.name);
        let company = company::Entity::find_by_id(d.company_id)
            .one(&deps.db)
            .await?
            .filter(|_| true);
        let company_name = match company {
            Some(c)
                if record::is_readable::<company::Entity>(deps, viewer, &deps.db, c.id).await? =>
            {
                Some(c.name)
            }
            _ => None,
        };
        out["deal"] = json!({
            "id": d.id.to_string(),
            "title": d.title,
            "stage": words(&enum_name(&d.stage)),
            "amount": amount,
            "currency": d.currency,
            "probability": d.probability,
            "expectedCloseDate": d.expected_close_date.map(|x| x.to_string()),
            "url": format!("{}/deals/{}", deps.config.public_url.trim_end_matches('/'), d.id),
            "owner": owner,
        });
        out["company"] = json!({ "name": company_name });
    } else {
        out["deal"] = json!({});
        out["company"] = json!({ "name": Json::Null });
    }
    if let Some(u) = &subject.user {
        // A digest is its user's own, for them alone.
        if u.id != viewer.user_id {
            return Ok(None);
        }
        out["digest"] = digest(deps, viewer).await?;
    }
    Ok(Some(out))
}

/// The users `recipients` name for this subject (active ones, each once).
async fn recipients(
    deps: &Deps,
    subject: &Subject,
    recipients: &[Recipient],
) -> ApiResult<Vec<user::Model>> {
    let mut ids: Vec<Uuid> = Vec::new();
    let owner = match (&subject.user, &subject.deal) {
        (Some(u), _) => Some(u.id),
        (None, d) => d.as_ref().map(|d| d.owner_id),
    };
    for r in recipients {
        match r {
            Recipient::Owner => ids.extend(owner),
            Recipient::Assignee => match &subject.activity {
                Some(a) => ids.extend(a.assigned_to),
                None => ids.extend(owner),
            },
            Recipient::TeamManager => {
                if let Some(o) = owner
                    && let Some(u) = user::Entity::find_by_id(o).one(&deps.db).await?
                    && let Some(t) = u.team_id
                    && let Some(team) = team::Entity::find_by_id(t).one(&deps.db).await?
                {
                    ids.extend(team.manager_id);
                }
            }
            Recipient::Admins => {
                let admins = user::Entity::find()
                    .filter(user::Column::Role.eq(Role::Admin))
                    .filter(user::Column::Active.eq(true))
                    .all(&deps.db)
                    .await?;
                ids.extend(admins.into_iter().map(|u| u.id));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    let mut users = Vec::new();
    for id in ids {
        if let Some(u) = user::Entity::find_by_id(id).one(&deps.db).await?
            && u.active
        {
            users.push(u);
        }
    }
    Ok(users)
}

/// Runs one job.
pub async fn run(deps: &Deps, job: &job::Model, context: &JobContext) -> Outcome {
    match attempt(deps, job, context).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Retry(format!("{e:?}")),
    }
}

async fn attempt(deps: &Deps, job: &job::Model, context: &JobContext) -> ApiResult<Outcome> {
    let Some(automation) = automation::Entity::find_by_id(job.automation_id)
        .one(&deps.db)
        .await?
    else {
        return Ok(Outcome::Skipped("the automation was deleted".into()));
    };
    let subject = subject(deps, job, context.subject).await?;
    if job.record_id.is_some()
        && subject.deal.is_none()
        && subject.activity.is_none()
        && subject.user.is_none()
    {
        return Ok(Outcome::Skipped("the record was deleted".into()));
    }
    match &context.action {
        Action::Notify {
            recipients: who,
            title,
            body,
        } => notify(deps, job, &automation, &subject, context, who, title, body).await,
        Action::Email {
            recipients: who,
            subject: title,
            body,
        } => email(deps, &subject, context, who, title, body).await,
        Action::CreateActivity {
            kind,
            subject: title,
            description,
        } => {
            create_activity(
                deps,
                job,
                &automation,
                &subject,
                context,
                *kind,
                title,
                description.as_deref(),
            )
            .await
        }
        Action::Webhook {
            url,
            secret,
            format,
        } => {
            post_webhook(
                deps,
                &automation,
                &subject,
                context,
                url,
                secret.as_deref(),
                *format,
            )
            .await
        }
        Action::AssignOwner {
            rules,
            default_owner_id,
        } => assign_owner(deps, &automation, &subject, rules, *default_owner_id).await,
    }
}

/// Renders `source`; a failure is final (the template was checked when saved, so only a
/// value missing at run time gets here).
fn render(source: &str, context: &Json) -> Result<String, Outcome> {
    template::render(source, context).map_err(Outcome::Failed)
}

/// The recipients `who` names, each with `title` and `body` rendered from what they may
/// read, and how many were left out because they may not read the record; `Err(outcome)`
/// when a template fails (before anything is sent).
struct Readers {
    texts: Vec<(user::Model, String, String)>,
    refused: usize,
    total: usize,
}

async fn readers(
    deps: &Deps,
    subject: &Subject,
    context: &JobContext,
    who: &[Recipient],
    title: &str,
    body: &str,
) -> ApiResult<Result<Readers, Outcome>> {
    let users = recipients(deps, subject, who).await?;
    let total = users.len();
    let (mut texts, mut refused) = (Vec::new(), 0);
    for u in users {
        let viewer = Viewer::load(&deps.db, u.id, u.role, u.team_id).await?;
        let Some(ctx) = context_for(deps, &viewer, subject, context, Some(&u.name)).await? else {
            refused += 1;
            continue;
        };
        match (render(title, &ctx), render(body, &ctx)) {
            (Ok(t), Ok(b)) => texts.push((u, t, b)),
            (Err(o), _) | (_, Err(o)) => return Ok(Err(o)),
        }
    }
    Ok(Ok(Readers {
        texts,
        refused,
        total,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn notify(
    deps: &Deps,
    job: &job::Model,
    automation: &automation::Model,
    subject: &Subject,
    context: &JobContext,
    who: &[Recipient],
    title: &str,
    body: &str,
) -> ApiResult<Outcome> {
    let readers = match readers(deps, subject, context, who, title, body).await? {
        Ok(r) => r,
        Err(o) => return Ok(o),
    };
    let mut sent = 0;
    for (u, title, body) in &readers.texts {
        // One per job and recipient: a retried job does not notify twice.
        let id = derived_id(job.id, u.id);
        let inserted = notification::Entity::insert(notification::ActiveModel {
            id: Set(id),
            user_id: Set(u.id),
            kind: Set(context
                .notification_kind
                .unwrap_or(NotificationKind::Automation)),
            title: Set(title.chars().take(200).collect()),
            body: Set(body.chars().take(2000).collect()),
            deal_id: Set(subject.deal.as_ref().map(|d| d.id)),
            company_id: Set(None),
            contact_id: Set(None),
            activity_id: Set(subject.activity.as_ref().map(|a| a.id)),
            event_position: Set(None),
            created_at: Set(Utc::now()),
            read_at: Set(None),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&deps.db)
        .await?;
        let _ = inserted;
        sent += 1;
    }
    let refused = readers.refused;
    tracing::debug!(automation = %automation.id, sent, refused, "automation: notified");
    Ok(summary("notified", sent, refused, readers.total))
}

/// An id made from a job and a recipient (the same each attempt).
fn derived_id(job: Uuid, user: Uuid) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(job.as_bytes())
        .chain_update(user.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// How a write an action made through a service ended: done; refused by the policy
/// (skipped, `refused`); invalid (failed for good, `invalid` and the fields); anything else
/// is worth another attempt.
fn write_outcome(result: ApiResult<String>, refused: &str, invalid: &str) -> Outcome {
    match result {
        Ok(done) => Outcome::Done(done),
        Err(ApiError::Forbidden { .. } | ApiError::NotFound { .. }) => {
            Outcome::Skipped(refused.into())
        }
        Err(ApiError::BadUserInput(fields)) => Outcome::Failed(format!(
            "{invalid}: {}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Err(e) => Outcome::Retry(format!("{e:?}")),
    }
}

/// "notified 2 of 3 recipients (1 may not read the record)", or skipped when none was.
fn summary(verb: &str, sent: usize, refused: usize, total: usize) -> Outcome {
    let message =
        format!("{verb} {sent} of {total} recipients ({refused} may not read the record)");
    if sent == 0 {
        Outcome::Skipped(message)
    } else {
        Outcome::Done(message)
    }
}

async fn email(
    deps: &Deps,
    subject: &Subject,
    context: &JobContext,
    who: &[Recipient],
    title: &str,
    body: &str,
) -> ApiResult<Outcome> {
    use lettre::message::Mailbox;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let Some(url) = deps.config.smtp_url.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(Outcome::Skipped(
            "no mail server (CRM_SMTP_URL is not set)".into(),
        ));
    };
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
        Ok(t) => t.timeout(Some(Duration::from_secs(10))).build(),
        Err(e) => return Ok(Outcome::Failed(format!("CRM_SMTP_URL: {e}"))),
    };
    let from: Mailbox = match deps.config.mail_from.parse() {
        Ok(m) => m,
        Err(e) => return Ok(Outcome::Failed(format!("CRM_MAIL_FROM: {e}"))),
    };
    let readers = match readers(deps, subject, context, who, title, body).await? {
        Ok(r) => r,
        Err(o) => return Ok(o),
    };
    let (mut sent, mut refused) = (0, readers.refused);
    for (u, subject_line, text) in readers.texts {
        let to = match u.email.parse() {
            Ok(address) => Mailbox::new(Some(u.name.clone()), address),
            Err(_) => {
                refused += 1;
                continue;
            }
        };
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject_line.replace(['\r', '\n'], " "))
            .body(text);
        let message = match message {
            Ok(m) => m,
            Err(e) => return Ok(Outcome::Failed(format!("building the message: {e}"))),
        };
        if let Err(e) = transport.send(message).await {
            return Ok(Outcome::Retry(format!("sending mail: {e}")));
        }
        sent += 1;
    }
    Ok(summary("emailed", sent, refused, readers.total))
}

#[allow(clippy::too_many_arguments)]
async fn create_activity(
    deps: &Deps,
    job: &job::Model,
    automation: &automation::Model,
    subject: &Subject,
    context: &JobContext,
    kind: entity::enums::ActivityType,
    title: &str,
    description: Option<&str>,
) -> ApiResult<Outcome> {
    let Some(deal) = &subject.deal else {
        return Ok(Outcome::Skipped("no deal to log the activity on".into()));
    };
    let Some(owner) = acting(deps, deal.owner_id, automation.id).await? else {
        return Ok(Outcome::Skipped("the deal's owner is not active".into()));
    };
    let Some(ctx) = context_for(deps, &owner, subject, context, None).await? else {
        return Ok(Outcome::Skipped("the deal's owner may not read it".into()));
    };
    let subject_line = match render(title, &ctx) {
        Ok(s) => s,
        Err(o) => return Ok(o),
    };
    let description = match description.map(|d| render(d, &ctx)).transpose() {
        Ok(d) => d,
        Err(o) => return Ok(o),
    };
    let input = crate::service::activity::NewActivity {
        kind: Some(kind),
        subject: Some(subject_line.chars().take(200).collect()),
        description,
        deal_id: Some(deal.id),
        assigned_to: Some(deal.owner_id),
        // The job's id: a retried job finds the activity it made instead of a second one.
        id: Some(job.id),
        ..Default::default()
    };
    let made = crate::service::activity::create(deps, &owner, crate::service::At::Own, input).await;
    Ok(write_outcome(
        made.map(|row| format!("logged activity {}", row.model.id)),
        "the policy does not let the deal's owner log it",
        "the activity is not valid",
    ))
}

async fn post_webhook(
    deps: &Deps,
    automation: &automation::Model,
    subject: &Subject,
    context: &JobContext,
    url: &str,
    secret: Option<&str>,
    format: WebhookFormat,
) -> ApiResult<Outcome> {
    // What the webhook carries is what the admin who set it up may read.
    let Some(admin) = automation.created_by else {
        return Ok(Outcome::Skipped("the automation has no owner".into()));
    };
    let Some(viewer) = acting(deps, admin, automation.id).await? else {
        return Ok(Outcome::Skipped(
            "the automation's owner is not active".into(),
        ));
    };
    let Some(ctx) = context_for(deps, &viewer, subject, context, None).await? else {
        return Ok(Outcome::Skipped(
            "the automation's owner may not read the record".into(),
        ));
    };
    let s = |v: &Json| v.as_str().unwrap_or_default().to_owned();
    let title = s(&ctx["deal"]["title"]);
    let actor = s(&ctx["actor"]["name"]);
    let text = match context.trigger {
        Trigger::DealStageChanged => format!(
            "\u{201c}{title}\u{201d} moved from {} to {} by {actor}",
            s(&ctx["previous"]["stage"]),
            s(&ctx["deal"]["stage"])
        ),
        Trigger::DealCreated => format!("New deal \u{201c}{title}\u{201d} by {actor}"),
        Trigger::ActivityCreated => format!(
            "New activity \u{201c}{}\u{201d} by {actor}",
            s(&ctx["activity"]["subject"])
        ),
        _ => format!("\u{201c}{title}\u{201d} was updated by {actor}"),
    };
    let body = match format {
        WebhookFormat::Slack => json!({ "text": text }),
        WebhookFormat::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": text,
            "text": text,
        }),
        WebhookFormat::Json => json!({
            "automation": { "id": automation.id.to_string(), "name": automation.name },
            "trigger": context.trigger,
            "text": text,
            "deal": ctx["deal"],
            "previousStage": context.previous_stage,
            "activity": ctx.get("activity"),
            "at": Utc::now().to_rfc3339(),
        }),
    };
    match webhook::post(&deps.config, url, secret, &body).await {
        Ok(status) => Ok(Outcome::Done(format!("posted, answered {status}"))),
        Err(e) => Ok(Outcome::Retry(e)),
    }
}

async fn assign_owner(
    deps: &Deps,
    automation: &automation::Model,
    subject: &Subject,
    rules: &[super::definition::TerritoryRule],
    default_owner: Option<Uuid>,
) -> ApiResult<Outcome> {
    let Some(deal) = &subject.deal else {
        return Ok(Outcome::Skipped("no deal".into()));
    };
    let company = company::Entity::find_by_id(deal.company_id)
        .one(&deps.db)
        .await?;
    let value_of = |field: TerritoryField| -> Option<String> {
        let c = company.as_ref()?;
        let v = match field {
            TerritoryField::CompanyState => c.state.clone(),
            TerritoryField::CompanyCountry => c.country.clone(),
        }?;
        Some(v.trim().to_lowercase())
    };
    let owner = rules
        .iter()
        .find(|r| value_of(r.field).as_deref() == Some(r.value.trim().to_lowercase().as_str()))
        .map(|r| r.owner_id)
        .or(default_owner);
    let Some(owner) = owner else {
        return Ok(Outcome::Skipped("no territory rule matched".into()));
    };
    if owner == deal.owner_id {
        return Ok(Outcome::Done(
            "the deal already has the territory's owner".into(),
        ));
    }
    let Some(admin) = automation.created_by else {
        return Ok(Outcome::Skipped("the automation has no owner".into()));
    };
    let Some(viewer) = acting(deps, admin, automation.id).await? else {
        return Ok(Outcome::Skipped(
            "the automation's owner is not active".into(),
        ));
    };
    let moved = deals::reassign(deps, &viewer, deal.id, owner, None).await;
    Ok(write_outcome(
        moved.map(|_| format!("assigned to {owner}")),
        "the policy does not let the automation's owner reassign the deal",
        "the new owner is not valid",
    ))
}

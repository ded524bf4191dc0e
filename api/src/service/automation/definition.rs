//! Automations as admins set them up: trigger, condition, schedule, actions; checked in
//! full when saved; stored as JSON in `automations`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use entity::enums::ActivityType;
use entity::{automation, automation_run, deal, user};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use super::{template, webhook};
use crate::authz::{AutomationAction, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::filter::{Env, Filter};
use crate::service::{Deps, require_role_permission};

/// What fires an automation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Trigger {
    /// A deal was created.
    DealCreated,
    /// A deal was changed (any field).
    DealUpdated,
    /// A deal moved to another stage.
    DealStageChanged,
    /// An activity was created.
    ActivityCreated,
    /// A cron schedule.
    Schedule,
}

impl Trigger {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::DealCreated => "deal_created",
            Trigger::DealUpdated => "deal_updated",
            Trigger::DealStageChanged => "deal_stage_changed",
            Trigger::ActivityCreated => "activity_created",
            Trigger::Schedule => "schedule",
        }
    }

    fn parse(s: &str) -> ApiResult<Self> {
        [
            Trigger::DealCreated,
            Trigger::DealUpdated,
            Trigger::DealStageChanged,
            Trigger::ActivityCreated,
            Trigger::Schedule,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| ApiError::internal("reading an automation", format!("trigger {s}")))
    }
}

/// Who a notification or email goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Recipient {
    /// The deal's owner.
    Owner,
    /// The manager of the owner's team.
    TeamManager,
    /// The activity's assignee (a deal's owner for a deal).
    Assignee,
    /// Every active admin.
    Admins,
}

/// The body shape of a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookFormat {
    /// `{"event", "automation", "deal", "text", …}`.
    Json,
    /// Slack incoming webhook: `{"text"}`.
    Slack,
    /// Microsoft Teams incoming webhook: a message card.
    Teams,
}

/// The company field territory rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TerritoryField {
    /// The deal's company's state or region.
    CompanyState,
    /// The deal's company's country.
    CompanyCountry,
}

/// "Deals whose company's `field` is `value` go to `owner_id`" (case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerritoryRule {
    /// The company field.
    pub field: TerritoryField,
    /// The value to match.
    pub value: String,
    /// The new owner.
    pub owner_id: Uuid,
}

/// One thing an automation does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Action {
    /// Logs an activity on the deal, for its owner.
    CreateActivity {
        /// Kind of activity.
        kind: ActivityType,
        /// Subject template.
        subject: String,
        /// Description template.
        description: Option<String>,
    },
    /// Notifies users (in the app).
    Notify {
        /// Who.
        recipients: Vec<Recipient>,
        /// Title template.
        title: String,
        /// Body template.
        body: String,
    },
    /// Emails users.
    Email {
        /// Who.
        recipients: Vec<Recipient>,
        /// Subject template.
        subject: String,
        /// Body template (plain text).
        body: String,
    },
    /// Posts to a URL.
    Webhook {
        /// `http` or `https`, to an allowed host.
        url: String,
        /// Signs the body (`X-CRM-Signature: sha256=<hex HMAC>`) when set.
        secret: Option<String>,
        /// Body shape.
        format: WebhookFormat,
    },
    /// Gives a new deal an owner by territory.
    AssignOwner {
        /// First match wins.
        rules: Vec<TerritoryRule>,
        /// The owner when no rule matches (none: the deal keeps its owner).
        default_owner_id: Option<Uuid>,
    },
}

impl Action {
    /// The action's name, as in the input (`createActivity`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Action::CreateActivity { .. } => "createActivity",
            Action::Notify { .. } => "notify",
            Action::Email { .. } => "email",
            Action::Webhook { .. } => "webhook",
            Action::AssignOwner { .. } => "assignOwner",
        }
    }
}

/// A condition on the deal: a `DealFilter`, kept as the client wrote it.
#[derive(Clone)]
pub struct Condition {
    /// The filter input's JSON (GraphQL names).
    pub json: Json,
    filter: Filter<deal::Column>,
}

impl Condition {
    /// Reads a `DealFilter` JSON; a malformed one is `BAD_USER_INPUT` on `field`.
    pub fn parse(json: Json, field: &str) -> ApiResult<Self> {
        use crate::graphql::filter::RecordFilter;
        use async_graphql::InputType;
        let bad = |message: String| ApiError::bad_input(field, message);
        let value =
            async_graphql::Value::from_json(json.clone()).map_err(|e| bad(e.to_string()))?;
        let input = crate::graphql::deal::DealFilter::parse(Some(value))
            .map_err(|e| bad(e.into_server_error(Default::default()).message))?;
        // Parsing drops fields the filter does not have (the schema's validation refuses
        // them in a request; a stored condition is not validated again): a dropped field
        // would silently widen the condition, so it is refused, named.
        let kept = input.to_value().into_json().unwrap_or_default();
        if let Some(path) = dropped(&json, &kept, field) {
            return Err(ApiError::bad_input(path, "unknown field of DealFilter"));
        }
        let filter = input.to_filter().map_err(|e| match e {
            ApiError::BadUserInput(mut fields) => {
                for f in &mut fields {
                    f.field = format!("{field}.{}", f.field);
                }
                ApiError::BadUserInput(fields)
            }
            other => other,
        })?;
        Ok(Self { json, filter })
    }

    /// The filter.
    pub fn filter(&self) -> &Filter<deal::Column> {
        &self.filter
    }

    /// Whether deal `id` meets the condition (read as `viewer` reads deals).
    pub async fn holds(
        &self,
        deps: &Deps,
        db: &impl ConnectionTrait,
        viewer: &Viewer,
        id: Uuid,
    ) -> ApiResult<bool> {
        let env = Env { deps, viewer };
        Ok(deal::Entity::find()
            .filter(deal::Column::Id.eq(id))
            .filter(self.filter.condition(&env))
            .count(db)
            .await?
            > 0)
    }
}

/// The first key of `given` (a JSON input, at `path`) that `kept` (what parsing kept of it)
/// lacks; null values do not count.
fn dropped(given: &Json, kept: &Json, path: &str) -> Option<String> {
    match (given, kept) {
        (Json::Object(g), Json::Object(k)) => g.iter().find_map(|(key, v)| {
            let at = format!("{path}.{key}");
            match k.get(key) {
                _ if v.is_null() => None,
                None | Some(Json::Null) => Some(at),
                Some(kv) => dropped(v, kv, &at),
            }
        }),
        (Json::Array(g), Json::Array(k)) => g
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(i, (gv, kv))| dropped(gv, kv, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// A stored automation, read.
#[derive(Clone)]
pub struct Automation {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Whether it fires.
    pub enabled: bool,
    /// What fires it.
    pub trigger: Trigger,
    /// Only for deals meeting this.
    pub condition: Option<Condition>,
    /// Cron expression (UTC), for `SCHEDULE`.
    pub schedule: Option<String>,
    /// What it does, in order.
    pub actions: Vec<Action>,
    /// A default a new database starts with (which one).
    pub builtin: Option<String>,
    /// The admin who set it up.
    pub created_by: Option<Uuid>,
    /// Optimistic-concurrency counter.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Automation {
    /// Reads a row.
    pub fn from_model(m: &automation::Model) -> ApiResult<Self> {
        let broken = |e: String| ApiError::internal("reading an automation", e);
        let condition = match &m.deal_condition {
            Some(text) => {
                let json: Json = serde_json::from_str(text).map_err(|e| broken(e.to_string()))?;
                Some(
                    Condition::parse(json, "dealCondition")
                        .map_err(|e| broken(format!("{e:?}")))?,
                )
            }
            None => None,
        };
        Ok(Self {
            id: m.id,
            name: m.name.clone(),
            enabled: m.enabled,
            trigger: Trigger::parse(&m.trigger_on)?,
            condition,
            schedule: m.schedule.clone(),
            actions: serde_json::from_str(&m.actions).map_err(|e| broken(e.to_string()))?,
            builtin: m.builtin.clone(),
            created_by: m.created_by,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// `createAutomation` / `updateAutomation` input: `None` leaves a field as it is (a create
/// needs `name`, `trigger` and `actions`); `Some(None)` clears an optional one.
#[derive(Clone, Default)]
pub struct AutomationInput {
    /// Name: not blank, at most 200 characters.
    pub name: Option<String>,
    /// Whether it fires (default true).
    pub enabled: Option<bool>,
    /// What fires it.
    pub trigger: Option<Trigger>,
    /// A `DealFilter` as JSON.
    pub deal_condition: Option<Option<Json>>,
    /// Cron expression, for `SCHEDULE`.
    pub schedule: Option<Option<String>>,
    /// What it does.
    pub actions: Option<Vec<Action>>,
    /// The version the client last saw.
    pub expected_version: Option<i32>,
}

/// Longest name.
const MAX_NAME_CHARS: usize = 200;
/// Most actions per automation.
const MAX_ACTIONS: usize = 10;
/// Most territory rules per action.
const MAX_RULES: usize = 200;

/// A cron expression: five fields (minute hour day month weekday) or the crate's six or
/// seven (with seconds, and a year).
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {expr}")
    } else {
        expr.to_owned()
    };
    cron::Schedule::from_str(&full).map_err(|e| format!("is not a valid cron expression: {e}"))
}

/// An active user, or a problem on `field`.
async fn check_user(
    db: &impl ConnectionTrait,
    id: Uuid,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> ApiResult<()> {
    let active = user::Entity::find_by_id(id)
        .select_only()
        .column(user::Column::Active)
        .into_tuple::<bool>()
        .one(db)
        .await?;
    if active != Some(true) {
        errors.push(FieldError::new(field, "no such active user"));
    }
    Ok(())
}

/// Checks every action; problems are named `actions[i].<action>.<field>`.
async fn check_actions(
    deps: &Deps,
    db: &impl ConnectionTrait,
    trigger: Trigger,
    actions: &[Action],
    errors: &mut Vec<FieldError>,
) -> ApiResult<()> {
    if actions.is_empty() {
        errors.push(FieldError::new(
            "actions",
            "at least one action is required",
        ));
    }
    if actions.len() > MAX_ACTIONS {
        errors.push(FieldError::new(
            "actions",
            format!("at most {MAX_ACTIONS} actions"),
        ));
    }
    for (i, action) in actions.iter().enumerate() {
        let at = |f: &str| format!("actions[{i}].{}.{f}", action.name());
        match action {
            Action::CreateActivity {
                subject,
                description,
                ..
            } => {
                if subject.trim().is_empty() {
                    errors.push(FieldError::new(at("subject"), "is required"));
                }
                template::check(subject, &at("subject"), errors);
                if let Some(d) = description {
                    template::check(d, &at("description"), errors);
                }
            }
            Action::Notify {
                recipients,
                title,
                body,
            }
            | Action::Email {
                recipients,
                subject: title,
                body,
            } => {
                if recipients.is_empty() {
                    errors.push(FieldError::new(at("recipients"), "at least one recipient"));
                }
                let title_field = if matches!(action, Action::Email { .. }) {
                    "subject"
                } else {
                    "title"
                };
                if title.trim().is_empty() {
                    errors.push(FieldError::new(at(title_field), "is required"));
                }
                template::check(title, &at(title_field), errors);
                template::check(body, &at("body"), errors);
            }
            Action::Webhook { url, secret, .. } => {
                if let Err(message) = webhook::check_url(&deps.config, url).await {
                    errors.push(FieldError::new(at("url"), message));
                }
                if secret.as_ref().is_some_and(|s| s.len() > 500) {
                    errors.push(FieldError::new(
                        at("secret"),
                        "must be at most 500 characters",
                    ));
                }
            }
            Action::AssignOwner {
                rules,
                default_owner_id,
            } => {
                if !matches!(trigger, Trigger::DealCreated | Trigger::DealUpdated) {
                    errors.push(FieldError::new(
                        format!("actions[{i}].assignOwner"),
                        "only for DEAL_CREATED or DEAL_UPDATED automations",
                    ));
                }
                if rules.len() > MAX_RULES {
                    errors.push(FieldError::new(
                        at("rules"),
                        format!("at most {MAX_RULES} rules"),
                    ));
                }
                for (r, rule) in rules.iter().enumerate() {
                    if rule.value.trim().is_empty() {
                        errors.push(FieldError::new(
                            format!("actions[{i}].assignOwner.rules[{r}].value"),
                            "is required",
                        ));
                    }
                    check_user(
                        db,
                        rule.owner_id,
                        &format!("actions[{i}].assignOwner.rules[{r}].ownerId"),
                        errors,
                    )
                    .await?;
                }
                if let Some(d) = default_owner_id {
                    check_user(db, *d, &at("defaultOwnerId"), errors).await?;
                }
            }
        }
    }
    Ok(())
}

/// The automation `input` describes over `current` (none for a create), checked in full:
/// the columns it sets.
async fn checked(
    deps: &Deps,
    db: &impl ConnectionTrait,
    current: Option<&Automation>,
    input: AutomationInput,
) -> ApiResult<automation::ActiveModel> {
    let mut errors = Vec::new();
    let name = input
        .name
        .map(|n| n.trim().to_owned())
        .or_else(|| current.map(|c| c.name.clone()));
    match name.as_deref() {
        None | Some("") => errors.push(FieldError::new("name", "is required")),
        Some(n) if n.chars().count() > MAX_NAME_CHARS => errors.push(FieldError::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        )),
        _ => {}
    }
    let trigger = input.trigger.or(current.map(|c| c.trigger));
    if trigger.is_none() {
        errors.push(FieldError::new("trigger", "is required"));
    }
    let condition = match input.deal_condition {
        Some(Some(json)) => match Condition::parse(json, "dealCondition") {
            Ok(c) => Some(c),
            Err(ApiError::BadUserInput(mut e)) => {
                errors.append(&mut e);
                None
            }
            Err(e) => return Err(e),
        },
        Some(None) => None,
        None => current.and_then(|c| c.condition.clone()),
    };
    let schedule = match input.schedule {
        Some(s) => s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        None => current.and_then(|c| c.schedule.clone()),
    };
    match (trigger, &schedule) {
        (Some(Trigger::Schedule), None) => {
            errors.push(FieldError::new("schedule", "is required for SCHEDULE"));
        }
        (Some(Trigger::Schedule), Some(s)) => {
            if let Err(m) = parse_cron(s) {
                errors.push(FieldError::new("schedule", m));
            }
        }
        (Some(_), Some(_)) => {
            errors.push(FieldError::new("schedule", "only for the SCHEDULE trigger"));
        }
        _ => {}
    }
    let actions = input
        .actions
        .or_else(|| current.map(|c| c.actions.clone()))
        .unwrap_or_default();
    if let Some(t) = trigger {
        check_actions(deps, db, t, &actions, &mut errors).await?;
    }
    let (Some(name), Some(trigger), true) = (name, trigger, errors.is_empty()) else {
        return Err(ApiError::BadUserInput(errors));
    };
    let enabled = input.enabled.or(current.map(|c| c.enabled)).unwrap_or(true);
    Ok(automation::ActiveModel {
        name: Set(name),
        enabled: Set(enabled),
        trigger_on: Set(trigger.as_str().into()),
        deal_condition: Set(condition.map(|c| c.json.to_string())),
        schedule: Set(schedule),
        actions: Set(encode(&actions)?),
        ..Default::default()
    })
}

fn encode(actions: &[Action]) -> ApiResult<String> {
    serde_json::to_string(actions).map_err(|e| ApiError::internal("encoding actions", e))
}

/// `automations`: every automation, by name.
pub async fn list(deps: &Deps, viewer: &Viewer) -> ApiResult<Vec<Automation>> {
    require_role_permission(deps, viewer, AutomationAction::Read)?;
    automation::Entity::find()
        .order_by_asc(automation::Column::Name)
        .order_by_asc(automation::Column::Id)
        .all(&deps.db)
        .await?
        .iter()
        .map(Automation::from_model)
        .collect()
}

/// `automation(id)`.
pub async fn get(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Option<Automation>> {
    require_role_permission(deps, viewer, AutomationAction::Read)?;
    automation::Entity::find_by_id(id)
        .one(&deps.db)
        .await?
        .as_ref()
        .map(Automation::from_model)
        .transpose()
}

/// `createAutomation`.
pub async fn create(deps: &Deps, viewer: &Viewer, input: AutomationInput) -> ApiResult<Automation> {
    require_role_permission(deps, viewer, AutomationAction::Manage)?;
    let now = Utc::now();
    let model = automation::ActiveModel {
        id: Set(Uuid::now_v7()),
        builtin: Set(None),
        created_by: Set(Some(viewer.user_id)),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..checked(deps, &deps.db, None, input).await?
    }
    .insert(&deps.db)
    .await?;
    Automation::from_model(&model)
}

/// `updateAutomation`.
pub async fn update(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    input: AutomationInput,
) -> ApiResult<Automation> {
    require_role_permission(deps, viewer, AutomationAction::Manage)?;
    let Some(current) = get(deps, viewer, id).await? else {
        return Err(ApiError::NotFound {
            entity: "automation",
        });
    };
    crate::service::check_version(input.expected_version, current.version)?;
    let updated = automation::Entity::update_many()
        .set(automation::ActiveModel {
            version: Set(current.version + 1),
            updated_at: Set(Utc::now()),
            ..checked(deps, &deps.db, Some(&current), input).await?
        })
        .filter(automation::Column::Id.eq(id))
        .filter(automation::Column::Version.eq(current.version))
        .exec(&deps.db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(ApiError::Conflict {
            message: "the automation changed meanwhile; read it again".into(),
            field: None,
        });
    }
    get(deps, viewer, id).await?.ok_or(ApiError::NotFound {
        entity: "automation",
    })
}

/// `deleteAutomation`: removes it with its pending jobs and its runs.
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    require_role_permission(deps, viewer, AutomationAction::Manage)?;
    let deleted = automation::Entity::delete_by_id(id).exec(&deps.db).await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::NotFound {
            entity: "automation",
        });
    }
    Ok(id)
}

/// `automationRuns`: the attempts of one automation, newest first, `first` at most after
/// the run `after`.
pub async fn runs(
    deps: &Deps,
    viewer: &Viewer,
    automation_id: Uuid,
    first: u64,
    after: Option<Uuid>,
) -> ApiResult<(Vec<automation_run::Model>, bool)> {
    require_role_permission(deps, viewer, AutomationAction::Read)?;
    let mut select = automation_run::Entity::find()
        .filter(automation_run::Column::AutomationId.eq(automation_id));
    if let Some(after) = after {
        let Some(mark) = automation_run::Entity::find_by_id(after)
            .one(&deps.db)
            .await?
        else {
            return Err(ApiError::bad_input("after", "not a cursor of this list"));
        };
        use automation_run::Column as C;
        use sea_orm::sea_query::Condition;
        select = select.filter(
            Condition::any().add(C::StartedAt.lt(mark.started_at)).add(
                Condition::all()
                    .add(C::StartedAt.eq(mark.started_at))
                    .add(C::Id.lt(mark.id)),
            ),
        );
    }
    let mut rows = select
        .order_by_desc(automation_run::Column::StartedAt)
        .order_by_desc(automation_run::Column::Id)
        .limit(first + 1)
        .all(&deps.db)
        .await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

//! Workflow automations (admins): `automations`, `automation`, `automationRuns`,
//! `createAutomation`, `updateAutomation`, `deleteAutomation`.

use async_graphql::{
    Context, Enum, ID, InputObject, InputType, Json, MaybeUndefined, Object, OneofObject, Result,
    SimpleObject,
};
use chrono::{DateTime, Utc};
use entity::automation_run;
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::deal::DealFilter;
use crate::graphql::enums::ActivityType;
use crate::graphql::{actor, deps, gql, parse_id};
use crate::service::automation::definition::{
    self as def, Action, AutomationInput as Input, TerritoryRule,
};

/// What fires an automation.
#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::service::automation::definition::Trigger")]
pub enum AutomationTrigger {
    /// A deal was created.
    DealCreated,
    /// A deal was changed (any field).
    DealUpdated,
    /// A deal moved to another stage.
    DealStageChanged,
    /// An activity was created.
    ActivityCreated,
    /// A cron schedule (`schedule`, UTC).
    Schedule,
}

/// Who a notification or an email goes to. Someone who may not read the record gets
/// nothing.
#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::service::automation::definition::Recipient")]
pub enum Recipient {
    /// The deal's owner.
    Owner,
    /// The manager of the owner's team.
    TeamManager,
    /// The activity's assignee (the owner, for a deal).
    Assignee,
    /// Every active admin.
    Admins,
}

/// The shape of a webhook's body.
#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::service::automation::definition::WebhookFormat")]
pub enum WebhookFormat {
    /// `{automation, trigger, text, deal, previousStage, activity, at}`.
    Json,
    /// A Slack incoming webhook: `{text}`.
    Slack,
    /// A Microsoft Teams incoming webhook: a message card.
    Teams,
}

/// The company field a territory rule looks at.
#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::service::automation::definition::TerritoryField")]
pub enum TerritoryField {
    /// The deal's company's state or region.
    CompanyState,
    /// The deal's company's country.
    CompanyCountry,
}

/// How one attempt of an action ended.
#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
pub enum AutomationRunStatus {
    /// Done.
    Succeeded,
    /// Failed; it will be attempted again later.
    Retrying,
    /// Failed for good (after the last attempt, or a failure no retry mends).
    Failed,
    /// Not done on purpose (no mail server set up, no recipient may read the record…).
    Skipped,
}

/// `createActivity`: logs an activity on the deal, for its owner.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "CreateActivityActionInput")]
pub struct CreateActivityAction {
    /// Kind of activity.
    #[graphql(name = "type")]
    pub kind: ActivityType,
    /// Subject template (`Moved to {{ deal.stage }}`).
    pub subject: String,
    /// Description template.
    pub description: Option<String>,
}

/// `notify`: an in-app notification to each recipient who may read the record.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "NotifyActionInput")]
pub struct NotifyAction {
    /// Who.
    pub recipients: Vec<Recipient>,
    /// Title template.
    pub title: String,
    /// Body template.
    pub body: String,
}

/// `email`: a plain-text email to each recipient who may read the record, with only the
/// fields they may read.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "EmailActionInput")]
pub struct EmailAction {
    /// Who.
    pub recipients: Vec<Recipient>,
    /// Subject template.
    pub subject: String,
    /// Body template.
    pub body: String,
}

/// `webhook`: a POST to an allowed host.
#[derive(InputObject, Clone)]
pub struct WebhookActionInput {
    /// `http` or `https` URL, to a host allowed by `CRM_WEBHOOK_ALLOWED_HOSTS` (or any
    /// public host when that is empty).
    pub url: String,
    /// Signs the body: `X-CRM-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    pub secret: Option<String>,
    /// Body shape (default `JSON`).
    #[graphql(default_with = "WebhookFormat::Json")]
    pub format: WebhookFormat,
}

/// `webhook`: a POST to an allowed host (the secret is never shown).
#[derive(SimpleObject, Clone)]
pub struct WebhookAction {
    /// The URL.
    pub url: String,
    /// Whether bodies are signed.
    pub has_secret: bool,
    /// Body shape.
    pub format: WebhookFormat,
}

/// Deals whose company's `field` is `value` (ignoring case) go to `ownerId`.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "TerritoryRuleInput")]
pub struct TerritoryRuleSpec {
    /// The company field.
    pub field: TerritoryField,
    /// The value to match.
    pub value: String,
    /// The new owner (an active user).
    pub owner_id: ID,
}

/// `assignOwner`: gives the deal an owner by territory (first matching rule).
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "AssignOwnerActionInput")]
pub struct AssignOwnerAction {
    /// Rules, first match wins.
    pub rules: Vec<TerritoryRuleSpec>,
    /// The owner when no rule matches (none: the deal keeps its owner).
    pub default_owner_id: Option<ID>,
}

/// One action: exactly one field set.
#[derive(OneofObject, Clone)]
pub enum AutomationActionInput {
    /// Log an activity on the deal.
    CreateActivity(CreateActivityAction),
    /// Notify users in the app.
    Notify(NotifyAction),
    /// Email users.
    Email(EmailAction),
    /// Call a webhook.
    Webhook(WebhookActionInput),
    /// Assign the deal's owner by territory.
    AssignOwner(AssignOwnerAction),
}

/// One action of an automation: the field of its kind is set.
#[derive(SimpleObject, Default)]
pub struct AutomationAction {
    /// Log an activity on the deal.
    pub create_activity: Option<CreateActivityAction>,
    /// Notify users in the app.
    pub notify: Option<NotifyAction>,
    /// Email users.
    pub email: Option<EmailAction>,
    /// Call a webhook.
    pub webhook: Option<WebhookAction>,
    /// Assign the deal's owner by territory.
    pub assign_owner: Option<AssignOwnerAction>,
}

fn action_out(a: &Action) -> AutomationAction {
    match a.clone() {
        Action::CreateActivity {
            kind,
            subject,
            description,
        } => AutomationAction {
            create_activity: Some(CreateActivityAction {
                kind: kind.into(),
                subject,
                description,
            }),
            ..Default::default()
        },
        Action::Notify {
            recipients,
            title,
            body,
        } => AutomationAction {
            notify: Some(NotifyAction {
                recipients: recipients.into_iter().map(Into::into).collect(),
                title,
                body,
            }),
            ..Default::default()
        },
        Action::Email {
            recipients,
            subject,
            body,
        } => AutomationAction {
            email: Some(EmailAction {
                recipients: recipients.into_iter().map(Into::into).collect(),
                subject,
                body,
            }),
            ..Default::default()
        },
        Action::Webhook {
            url,
            secret,
            format,
        } => AutomationAction {
            webhook: Some(WebhookAction {
                url,
                has_secret: secret.is_some(),
                format: format.into(),
            }),
            ..Default::default()
        },
        Action::AssignOwner {
            rules,
            default_owner_id,
        } => AutomationAction {
            assign_owner: Some(AssignOwnerAction {
                rules: rules
                    .into_iter()
                    .map(|r| TerritoryRuleSpec {
                        field: r.field.into(),
                        value: r.value,
                        owner_id: ID(r.owner_id.to_string()),
                    })
                    .collect(),
                default_owner_id: default_owner_id.map(|d| ID(d.to_string())),
            }),
            ..Default::default()
        },
    }
}

/// The service's action; malformed ids are named `actions[i]…`.
fn action_in(i: usize, a: AutomationActionInput) -> Result<Action, ApiError> {
    let id = |v: &ID, field: String| -> Result<Uuid, ApiError> {
        Uuid::parse_str(v).map_err(|_| ApiError::bad_input(field, "is not a valid ID"))
    };
    Ok(match a {
        AutomationActionInput::CreateActivity(c) => Action::CreateActivity {
            kind: c.kind.into(),
            subject: c.subject,
            description: c.description,
        },
        AutomationActionInput::Notify(n) => Action::Notify {
            recipients: n.recipients.into_iter().map(Into::into).collect(),
            title: n.title,
            body: n.body,
        },
        AutomationActionInput::Email(e) => Action::Email {
            recipients: e.recipients.into_iter().map(Into::into).collect(),
            subject: e.subject,
            body: e.body,
        },
        AutomationActionInput::Webhook(w) => Action::Webhook {
            url: w.url,
            secret: w.secret.filter(|s| !s.is_empty()),
            format: w.format.into(),
        },
        AutomationActionInput::AssignOwner(a) => Action::AssignOwner {
            rules: a
                .rules
                .iter()
                .enumerate()
                .map(|(r, rule)| {
                    Ok(TerritoryRule {
                        field: rule.field.into(),
                        value: rule.value.clone(),
                        owner_id: id(
                            &rule.owner_id,
                            format!("actions[{i}].assignOwner.rules[{r}].ownerId"),
                        )?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            default_owner_id: a
                .default_owner_id
                .as_ref()
                .map(|d| id(d, format!("actions[{i}].assignOwner.defaultOwnerId")))
                .transpose()?,
        },
    })
}

/// Input of `createAutomation` and `updateAutomation` (omitted fields stay as they are).
#[derive(InputObject)]
pub struct AutomationInput {
    /// Name: not blank, at most 200 characters. Required to create.
    pub name: Option<String>,
    /// Whether it fires (default true).
    pub enabled: Option<bool>,
    /// What fires it. Required to create.
    pub trigger: Option<AutomationTrigger>,
    /// Only for deals meeting this (the filter `deals` takes; for an activity trigger, the
    /// activity's deal). `null` removes the condition.
    pub deal_condition: MaybeUndefined<DealFilter>,
    /// A cron expression in UTC for `SCHEDULE`: five fields (`0 8 * * MON`) or six with
    /// seconds first.
    pub schedule: MaybeUndefined<String>,
    /// What it does, in order (1 to 10). Templates may use `{{ deal.title }}`,
    /// `{{ deal.stage }}`, `{{ previous.stage }}`, `{{ deal.amount }}`, `{{ company.name }}`,
    /// `{{ actor.name }}`, `{{ deal.url }}` and the other variables in docs/automation.md.
    /// Required to create.
    pub actions: Option<Vec<AutomationActionInput>>,
}

fn input_of(input: AutomationInput, expected_version: Option<i32>) -> Result<Input, ApiError> {
    let deal_condition = match input.deal_condition {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(f) => {
            Some(Some(f.to_value().into_json().map_err(|e| {
                ApiError::bad_input("dealCondition", e.to_string())
            })?))
        }
    };
    let actions = input
        .actions
        .map(|list| {
            list.into_iter()
                .enumerate()
                .map(|(i, a)| action_in(i, a))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(Input {
        name: input.name,
        enabled: input.enabled,
        trigger: input.trigger.map(Into::into),
        deal_condition,
        schedule: match input.schedule {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(s) => Some(Some(s)),
        },
        actions,
        expected_version,
    })
}

/// An automation: when `trigger` fires (and the deal meets `dealCondition`), its actions
/// run, each as a job retried up to 5 times; every attempt is in `runs`.
pub struct Automation(def::Automation);

/// An automation: when `trigger` fires (and the deal meets `dealCondition`), its actions
/// run, each as a job retried up to 5 times; every attempt is in `automationRuns`.
#[Object]
impl Automation {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Whether it fires.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// What fires it.
    async fn trigger(&self) -> AutomationTrigger {
        self.0.trigger.into()
    }
    /// The deal condition, as the `DealFilter` it was given.
    async fn deal_condition(&self) -> Option<Json<serde_json::Value>> {
        self.0.condition.as_ref().map(|c| Json(c.json.clone()))
    }
    /// Cron expression (UTC), for `SCHEDULE`.
    async fn schedule(&self) -> Option<&str> {
        self.0.schedule.as_deref()
    }
    /// What it does, in order.
    async fn actions(&self) -> Vec<AutomationAction> {
        self.0.actions.iter().map(action_out).collect()
    }
    /// Optimistic-concurrency counter (`expectedVersion`).
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When it was set up.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One attempt of one action.
pub struct AutomationRun(automation_run::Model);

/// One attempt of one action of an automation.
#[Object]
impl AutomationRun {
    /// Stable identifier (a cursor for `after`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The job (one action for one trigger) it was an attempt of.
    async fn job_id(&self) -> ID {
        ID(self.0.job_id.to_string())
    }
    /// 1 for the first attempt.
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    /// How it ended.
    async fn status(&self) -> AutomationRunStatus {
        match self.0.status.as_str() {
            "succeeded" => AutomationRunStatus::Succeeded,
            "retrying" => AutomationRunStatus::Retrying,
            "skipped" => AutomationRunStatus::Skipped,
            _ => AutomationRunStatus::Failed,
        }
    }
    /// What happened (or why not).
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    /// Started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// Finished.
    async fn finished_at(&self) -> DateTime<Utc> {
        self.0.finished_at
    }
}

/// A page of runs, newest first.
#[derive(SimpleObject)]
pub struct AutomationRunPage {
    /// The runs.
    pub nodes: Vec<AutomationRun>,
    /// More are older: ask again with `after: endCursor`.
    pub has_next_page: bool,
    /// The last run's id.
    pub end_cursor: Option<ID>,
}

/// Automations (admins).
#[derive(Default)]
pub struct AutomationQuery;

#[Object]
impl AutomationQuery {
    /// Every automation, by name. Admins only (`FORBIDDEN` otherwise).
    async fn automations(&self, ctx: &Context<'_>) -> Result<Vec<Automation>> {
        let viewer = &actor(ctx)?.viewer;
        def::list(deps(ctx), viewer)
            .await
            .map(|l| l.into_iter().map(Automation).collect())
            .map_err(gql)
    }

    /// One automation (null if there is none with that id). Admins only.
    async fn automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Its id.")] id: ID,
    ) -> Result<Option<Automation>> {
        let viewer = &actor(ctx)?.viewer;
        let id = parse_id(&id, "id").map_err(gql)?;
        def::get(deps(ctx), viewer, id)
            .await
            .map(|a| a.map(Automation))
            .map_err(gql)
    }

    /// The attempts of an automation's actions, newest first. Admins only.
    async fn automation_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The automation.")] automation_id: ID,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Runs older than the run with this id (`endCursor`).")] after: Option<ID>,
    ) -> Result<AutomationRunPage> {
        let viewer = &actor(ctx)?.viewer;
        let automation_id = parse_id(&automation_id, "automationId").map_err(gql)?;
        let first = match first {
            None => 25,
            Some(n) if (1..=100).contains(&n) => n as u64,
            Some(_) => return Err(gql(ApiError::bad_input("first", "must be from 1 to 100"))),
        };
        let after = after
            .map(|a| parse_id(&a, "after"))
            .transpose()
            .map_err(gql)?;
        let (rows, more) = def::runs(deps(ctx), viewer, automation_id, first, after)
            .await
            .map_err(gql)?;
        Ok(AutomationRunPage {
            end_cursor: rows.last().map(|r| ID(r.id.to_string())),
            has_next_page: more,
            nodes: rows.into_iter().map(AutomationRun).collect(),
        })
    }
}

/// Managing automations (admins).
#[derive(Default)]
pub struct AutomationMutation;

#[Object]
impl AutomationMutation {
    /// Sets up an automation. Everything is checked now — templates (unknown variables),
    /// the cron expression, webhook hosts, owners, the condition — and every problem is
    /// reported at once (`BAD_USER_INPUT` naming each field, e.g.
    /// `actions[0].webhook.url`).
    async fn create_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The automation.")] input: AutomationInput,
    ) -> Result<Automation> {
        let viewer = &actor(ctx)?.viewer;
        let input = input_of(input, None).map_err(gql)?;
        def::create(deps(ctx), viewer, input)
            .await
            .map(Automation)
            .map_err(gql)
    }

    /// Changes an automation (given fields only); jobs already queued run as they were.
    async fn update_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The automation.")] id: ID,
        #[graphql(desc = "The changes.")] input: AutomationInput,
        #[graphql(desc = "The `version` last seen; stale is `CONFLICT`.")] expected_version: Option<
            i32,
        >,
    ) -> Result<Automation> {
        let viewer = &actor(ctx)?.viewer;
        let id = parse_id(&id, "id").map_err(gql)?;
        let input = input_of(input, expected_version).map_err(gql)?;
        def::update(deps(ctx), viewer, id, input)
            .await
            .map(Automation)
            .map_err(gql)
    }

    /// Deletes an automation with its queued jobs and its runs; returns its id.
    async fn delete_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The automation.")] id: ID,
    ) -> Result<ID> {
        let viewer = &actor(ctx)?.viewer;
        let id = parse_id(&id, "id").map_err(gql)?;
        def::delete(deps(ctx), viewer, id)
            .await
            .map(|id| ID(id.to_string()))
            .map_err(gql)
    }
}

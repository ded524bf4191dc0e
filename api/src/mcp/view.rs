//! What the tools answer: compact JSON for a model's context. Each record carries its id
//! (for follow-up calls) and the fields that matter, spelled as in GraphQL; a field the
//! policy hides from the user (a deal's amount) is `null`, exactly as in GraphQL. Errors
//! become tool errors (`isError: true`) with the code, a message naming the argument, and the
//! arguments at fault.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{activity, company, contact, deal};
use rmcp::model::CallToolResult;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::authz::Viewer;
use crate::error::ApiError;
use crate::mcp::args::{
    ActivityStatus, ActivityType, CompanySize, Department, Industry, Priority, Source, Stage,
    clipped,
};
use crate::service::Deps;
use crate::service::deal::can_read_amount;
use crate::service::list::WithFacts;
use crate::service::money::from_cents;

/// A tool's successful answer: the value as structured content, and as JSON text for
/// clients that only show text.
pub fn success(value: &impl Serialize) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => failure(&ApiError::internal("serializing a tool result", e)),
    }
}

/// A tool's failure, as a tool error the model can read and act on: `BAD_USER_INPUT` names
/// the arguments, `NOT_FOUND` says nothing about whether the record exists.
pub fn failure(err: &ApiError) -> CallToolResult {
    let mut error = json!({ "code": err.code(), "message": message(err) });
    match err {
        ApiError::BadUserInput(fields) => {
            error["field"] = json!(fields.first().map(|f| f.field.as_str()));
            error["fields"] = fields
                .iter()
                .map(|f| json!({ "field": f.field, "message": f.message }))
                .collect();
        }
        ApiError::Forbidden { field: Some(f) } | ApiError::Conflict { field: Some(f), .. } => {
            error["field"] = json!(f);
        }
        ApiError::RateLimited { retry_after_secs } => {
            error["retryAfterSeconds"] = json!(retry_after_secs);
        }
        _ => {}
    }
    CallToolResult::structured_error(json!({ "error": error }))
}

/// The message for a model: the API's, with what it means for the user where the API's is
/// terse.
fn message(err: &ApiError) -> String {
    match err {
        ApiError::NotFound { entity } => {
            format!("{entity} not found (it does not exist or you may not see it)")
        }
        ApiError::Forbidden { field: None } => {
            "not allowed: your permissions do not let you do this".to_owned()
        }
        other => other.to_string(),
    }
}

/// Longest activity description a result carries, in characters; longer ones end in `…`.
pub const MAX_DESCRIPTION: usize = 500;

/// An amount as the GraphQL `Decimal` spells it (`"1234.50"`).
fn money(cents: i64) -> String {
    from_cents(cents).to_string()
}

/// Names of the records a result mentions (owners, companies), looked up once per result
/// among those the user may read: a name the user may not see is `null`.
#[derive(Default)]
pub struct Names {
    /// Users by id.
    pub users: HashMap<Uuid, String>,
    /// Companies by id.
    pub companies: HashMap<Uuid, String>,
}

impl Names {
    /// The names of `users` and `companies` the viewer may read.
    pub async fn load(
        deps: &Deps,
        viewer: &Viewer,
        users: impl IntoIterator<Item = Uuid>,
        companies: impl IntoIterator<Item = Uuid>,
    ) -> crate::error::ApiResult<Self> {
        let distinct = |ids: &mut Vec<Uuid>| {
            ids.sort_unstable();
            ids.dedup();
        };
        let (mut user_ids, mut company_ids): (Vec<Uuid>, Vec<Uuid>) =
            (users.into_iter().collect(), companies.into_iter().collect());
        distinct(&mut user_ids);
        distinct(&mut company_ids);
        let users = crate::service::record::by_ids::<entity::user::Entity>(deps, viewer, &user_ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let companies =
            crate::service::record::by_ids::<company::Entity>(deps, viewer, &company_ids)
                .await?
                .into_iter()
                .map(|c| (c.model.id, c.model.name))
                .collect();
        Ok(Self { users, companies })
    }

    fn user(&self, id: Uuid) -> Option<String> {
        self.users.get(&id).cloned()
    }

    fn company(&self, id: Option<Uuid>) -> Option<String> {
        id.and_then(|id| self.companies.get(&id).cloned())
    }
}

/// A page of search results.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    /// The rows, in order.
    pub results: Vec<T>,
    /// How many rows match over all pages.
    pub total: u64,
    /// Whether more rows follow.
    pub more: bool,
    /// Pass as `cursor` to get the rows after these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// What to do next, for the model.
    pub hint: String,
    /// Today's date (UTC), for relative dates ("this week").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub today: Option<NaiveDate>,
}

impl<T> Listing<T> {
    /// A listing of `results` (with their cursors) out of `total`; `more` when rows follow.
    pub fn new(rows: Vec<(String, T)>, total: u64, more: bool) -> Self {
        let next_cursor = if more {
            rows.last().map(|(c, _)| c.clone())
        } else {
            None
        };
        let results: Vec<T> = rows.into_iter().map(|(_, r)| r).collect();
        let hint = match (results.len(), more) {
            (0, _) => "Nothing matches. Try fewer conditions or other words.".to_owned(),
            (n, true) => format!(
                "Showing {n} of {total}. Pass nextCursor as cursor (same arguments) for more, or \
                 narrow the search."
            ),
            (n, false) => format!("All {n} matches shown."),
        };
        Self {
            results,
            total,
            more,
            next_cursor,
            hint,
            today: None,
        }
    }
}

/// A company in a result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    id: Uuid,
    name: String,
    domain: Option<String>,
    industry: Option<Industry>,
    size: Option<CompanySize>,
    city: Option<String>,
    country: Option<String>,
    owner_id: Uuid,
    owner_name: Option<String>,
}

impl Company {
    /// The company of `row`.
    pub fn new(row: &WithFacts<company::Model>, names: &Names) -> Self {
        let m = &row.model;
        Self {
            id: m.id,
            name: m.name.clone(),
            domain: m.domain.clone(),
            industry: m.industry.map(Into::into),
            size: m.size.map(Into::into),
            city: m.city.clone(),
            country: m.country.clone(),
            owner_id: m.owner_id,
            owner_name: names.user(m.owner_id),
        }
    }
}

/// A contact in a result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    id: Uuid,
    full_name: String,
    title: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    department: Option<Department>,
    is_primary: bool,
    company_id: Option<Uuid>,
    company_name: Option<String>,
    owner_id: Uuid,
}

impl Contact {
    /// The contact of `row`.
    pub fn new(row: &WithFacts<contact::Model>, names: &Names) -> Self {
        let m = &row.model;
        Self {
            id: m.id,
            full_name: m.full_name.clone(),
            title: m.title.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            mobile: m.mobile.clone(),
            department: m.department.map(Into::into),
            is_primary: m.is_primary,
            company_id: m.company_id,
            company_name: names.company(m.company_id),
            owner_id: m.owner_id,
        }
    }
}

/// A deal in a result. `amount` is `null` when the user may not see it (amounts are never
/// empty otherwise).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deal {
    id: Uuid,
    title: String,
    stage: Stage,
    amount: Option<String>,
    currency: String,
    probability: i16,
    expected_close_date: Option<NaiveDate>,
    company_id: Uuid,
    company_name: Option<String>,
    owner_id: Uuid,
    owner_name: Option<String>,
}

impl Deal {
    /// The deal of `row` as `viewer` may see it.
    pub fn new(deps: &Deps, viewer: &Viewer, row: &WithFacts<deal::Model>, names: &Names) -> Self {
        let m = &row.model;
        Self {
            id: m.id,
            title: m.title.clone(),
            stage: m.stage.into(),
            amount: can_read_amount(deps, viewer, row.facts).then(|| money(m.amount_cents)),
            currency: m.currency.clone(),
            probability: m.probability,
            expected_close_date: m.expected_close_date,
            company_id: m.company_id,
            company_name: names.company(Some(m.company_id)),
            owner_id: m.owner_id,
            owner_name: names.user(m.owner_id),
        }
    }
}

/// An activity in a result (its description clipped to [`MAX_DESCRIPTION`]).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    id: Uuid,
    #[serde(rename = "type")]
    kind: ActivityType,
    subject: String,
    description: Option<String>,
    status: ActivityStatus,
    completed: bool,
    due_at: Option<DateTime<Utc>>,
    priority: Priority,
    deal_id: Option<Uuid>,
    company_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    assigned_to_id: Option<Uuid>,
    created_by_id: Uuid,
    created_at: DateTime<Utc>,
}

impl Activity {
    /// The activity of `row`.
    pub fn new(row: &WithFacts<activity::Model>) -> Self {
        let m = &row.model;
        Self {
            id: m.id,
            kind: m.kind.into(),
            subject: m.subject.clone(),
            description: m
                .description
                .as_deref()
                .map(|d| clipped(d, MAX_DESCRIPTION)),
            status: m.status.into(),
            completed: m.completed,
            due_at: m.due_at,
            priority: m.priority.into(),
            deal_id: m.deal_id,
            company_id: m.company_id,
            contact_id: m.contact_id,
            assigned_to_id: m.assigned_to,
            created_by_id: m.created_by,
            created_at: m.created_at,
        }
    }
}

/// `get_deal`'s answer: the deal with its company, main contact and recent activities, and
/// what the user may do with it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DealDetail {
    /// The deal's list fields.
    #[serde(flatten)]
    pub deal: Deal,
    /// When it closed.
    pub actual_close_date: Option<NaiveDate>,
    /// Where it came from.
    pub source: Option<Source>,
    /// How urgent it is.
    pub priority: Priority,
    /// Free-form notes.
    pub notes: Option<String>,
    /// The company, `null` when the user may not read it.
    pub company: Option<Company>,
    /// The main contact, `null` when none or the user may not read it.
    pub contact: Option<Contact>,
    /// The most recent activities the user may read, newest first.
    pub recent_activities: Vec<Activity>,
    /// How many activities of the deal the user may read.
    pub activity_count: u64,
    /// What the policy lets the user do with the deal.
    pub you_can: DealPermissions,
    /// Incremented by every change.
    pub version: i32,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What the user may do with a deal.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DealPermissions {
    /// Change it.
    pub update: bool,
    /// See its amount.
    pub see_amount: bool,
    /// Change its amount.
    pub change_amount: bool,
}

/// A pipeline figure: a count and sums (amounts the user may not see count as zero).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageLine {
    /// The stage.
    pub stage: Stage,
    /// Deals in it.
    pub count: u64,
    /// Sum of their amounts.
    pub total_amount: String,
    /// Sum of amount × probability ÷ 100.
    pub weighted_amount: String,
}

/// `pipeline_summary`'s answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    /// Per stage, in pipeline order.
    pub stages: Vec<StageLine>,
    /// The open stages together.
    pub open_deals: u64,
    /// Their amounts.
    pub open_amount: String,
    /// Their probability-weighted amounts.
    pub open_weighted_amount: String,
    /// The currency the figures are in, if one was asked for.
    pub currency: Option<String>,
    /// How to read the figures.
    pub note: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_clipped_on_a_character_boundary() {
        assert_eq!(clipped("short", 10), "short");
        assert_eq!(clipped("ééééé", 3), "ééé…");
        assert_eq!(clipped("exactly", 7), "exactly");
    }
}

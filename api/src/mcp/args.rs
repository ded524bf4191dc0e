//! The tools' arguments: one struct per tool, whose JSON schema (schemars) is what
//! `tools/list` advertises and whose deserializer is the only way a call's arguments are
//! read. Every name is the GraphQL input's (`companyId`, `expectedCloseDate`, `type` …), so a
//! service's validation error names the argument the model sent. Arguments that do not fit
//! (a wrong type, an unknown stage, a malformed id, an unknown argument) become
//! `BAD_USER_INPUT` naming the argument, which the tool answers as a tool error.

use std::borrow::Cow;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema, SchemaGenerator, json_schema};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::config::Limits;
use crate::error::{ApiError, ApiResult};

/// Rows a search returns when the call does not say.
pub const DEFAULT_LIMIT: i64 = 20;
/// The most rows one search returns.
pub const MAX_LIMIT: i64 = 50;

/// The input schema of a tool taking `A`, for `#[tool(input_schema = …)]`. The schema is
/// derived from a type of this module; one that is not an object is a programming error,
/// caught by the first `tools/list` in the tests.
pub fn schema<A: JsonSchema + 'static>() -> std::sync::Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_input::<A>()
        .unwrap_or_else(|e| panic!("the input schema of {}: {e}", std::any::type_name::<A>()))
}

/// A call's arguments as `A`: strings checked against the request limits first (no NUL
/// character, which PostgreSQL refuses in text; no string longer than the backstop), then
/// deserialized with the path of whatever does not fit.
pub fn parse<A: DeserializeOwned>(args: JsonObject, limits: &Limits) -> ApiResult<A> {
    let value = Value::Object(args);
    if let Err((path, message)) = check_strings(&value, limits) {
        return Err(ApiError::bad_input(path.trim_start_matches('.'), message));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // Missing and unknown arguments are reported on the whole object by serde; name
        // the argument itself.
        if let Some(name) = quoted_after(&message, "missing field `") {
            return ApiError::bad_input(name, "is required");
        }
        if let Some(name) = quoted_after(&message, "unknown field `") {
            let expected = message
                .split_once(", expected ")
                .map_or(String::new(), |(_, rest)| format!(" (expected {rest})"));
            // The name is the client's: echo a bounded part of it.
            let name = clipped(name, MAX_ECHOED_NAME);
            return ApiError::bad_input(name, format!("is not an argument of this tool{expected}"));
        }
        let field = if path == "." {
            "arguments".to_owned()
        } else {
            path
        };
        ApiError::bad_input(field, message)
    })
}

/// The longest unknown argument name an error repeats, in characters.
const MAX_ECHOED_NAME: usize = 64;

/// `text` cut to `max` characters, `…` marking a cut.
pub fn clipped(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The name in backquotes after `prefix`, if `message` starts with it.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// Refuses strings with a NUL character or over the configured length, with the path of
/// the first one (`.stage[1]`) and what is wrong. The path is built only for the string at
/// fault, on the way out: building every value's path on the way in would copy a long key
/// once per value beneath it (a megabyte key over a long array is gigabytes of copying).
fn check_strings(value: &Value, limits: &Limits) -> Result<(), (String, String)> {
    match value {
        Value::String(s) => {
            if s.contains('\0') {
                return Err((String::new(), "must not contain NUL characters".to_owned()));
            }
            if s.chars().count() > limits.max_string_length {
                return Err((
                    String::new(),
                    format!("must be at most {} characters", limits.max_string_length),
                ));
            }
            Ok(())
        }
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, v)| {
            check_strings(v, limits).map_err(|(path, message)| (format!("[{i}]{path}"), message))
        }),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check_strings(v, limits).map_err(|(path, message)| {
                (format!(".{}{path}", clipped(k, MAX_ECHOED_NAME)), message)
            })
        }),
        _ => Ok(()),
    }
}

/// The page size a search asked for: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] by default.
pub fn limit(limit: Option<i64>) -> ApiResult<i32> {
    match limit {
        None => Ok(DEFAULT_LIMIT as i32),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n as i32),
        Some(_) => Err(ApiError::bad_input(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// Declares a string-valued argument type: its JSON schema and a deserializer whose error
/// says what the value must look like (the path says which argument).
macro_rules! string_value {
    ($(#[$meta:meta])* $name:ident($inner:ty), $schema:tt, $parse:expr, $expected:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let parse: fn(&str) -> Option<$inner> = $parse;
                match Value::deserialize(d)? {
                    Value::String(s) => parse(s.trim()).map($name).ok_or_else(|| {
                        D::Error::custom(format!("{} (got {s:?})", $expected))
                    }),
                    other => Err(D::Error::custom(format!("{} (got {other})", $expected))),
                }
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
                json_schema!($schema)
            }
        }
    };
}

string_value!(
    /// A record id (a UUID, as an earlier result gave it).
    Id(Uuid),
    { "type": "string", "format": "uuid" },
    |s| Uuid::parse_str(s).ok(),
    "must be an id from an earlier result (a UUID)"
);

string_value!(
    /// A calendar day.
    Day(NaiveDate),
    { "type": "string", "format": "date" },
    |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
    "must be a date as YYYY-MM-DD"
);

string_value!(
    /// A point in time.
    Timestamp(DateTime<Utc>),
    { "type": "string", "format": "date-time" },
    |s| DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)),
    "must be a date and time in RFC 3339, e.g. 2026-05-01T14:00:00Z"
);

/// An amount of money: a JSON number or a decimal string (`"25000"`, `"1234.50"`); exact
/// in either case (a number is read from its shortest decimal form).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Money(pub rust_decimal::Decimal);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(d)? {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => {
                return Err(D::Error::custom(format!(
                    "must be an amount such as 25000 or \"1234.50\" (got {other})"
                )));
            }
        };
        let t = text.trim();
        rust_decimal::Decimal::from_str(t)
            .or_else(|_| rust_decimal::Decimal::from_scientific(t))
            .map(Money)
            .map_err(|_| {
                D::Error::custom(format!(
                    "must be an amount such as 25000 or \"1234.50\" (got {text:?})"
                ))
            })
    }
}

impl JsonSchema for Money {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Money".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        json_schema!({ "type": ["number", "string"] })
    }
}

/// One value or a list of them (`"PROPOSAL"` or `["PROPOSAL", "NEGOTIATION"]`): models
/// send either.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Array(items) => items,
            one => vec![one],
        };
        items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(D::Error::custom))
            .collect::<Result<_, _>>()
            .map(OneOrMany)
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> schemars::Schema {
        let one = generator.subschema_for::<T>();
        json_schema!({ "anyOf": [one, { "type": "array", "items": one }] })
    }
}

/// Declares a CRM enumeration as the tools spell it (the GraphQL names), converting to and
/// from the stored enum; results use the same spelling.
macro_rules! crm_enum {
    ($(#[$meta:meta])* $name:ident => $stored:ty { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[schemars(crate = "rmcp::schemars", inline)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)*
        }

        impl From<$name> for $stored {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => <$stored>::$variant,)*
                }
            }
        }

        impl From<$stored> for $name {
            fn from(v: $stored) -> Self {
                match v {
                    $(<$stored>::$variant => $name::$variant,)*
                }
            }
        }
    };
}

crm_enum! {
    /// A deal's pipeline stage, in pipeline order.
    Stage => entity::enums::DealStage {
        Prospecting = "PROSPECTING",
        Qualification = "QUALIFICATION",
        Proposal = "PROPOSAL",
        Negotiation = "NEGOTIATION",
        ClosedWon = "CLOSED_WON",
        ClosedLost = "CLOSED_LOST",
    }
}

crm_enum! {
    /// Where a deal came from.
    Source => entity::enums::DealSource {
        Website = "WEBSITE",
        Referral = "REFERRAL",
        ColdCall = "COLD_CALL",
        Event = "EVENT",
        Other = "OTHER",
    }
}

crm_enum! {
    /// How urgent something is.
    Priority => entity::enums::Priority {
        Low = "LOW",
        Medium = "MEDIUM",
        High = "HIGH",
    }
}

crm_enum! {
    /// What kind of activity.
    ActivityType => entity::enums::ActivityType {
        Call = "CALL",
        Email = "EMAIL",
        Meeting = "MEETING",
        Note = "NOTE",
        Task = "TASK",
    }
}

crm_enum! {
    /// Where an activity stands.
    ActivityStatus => entity::enums::ActivityStatus {
        Pending = "PENDING",
        InProgress = "IN_PROGRESS",
        Completed = "COMPLETED",
    }
}

crm_enum! {
    /// A contact's department.
    Department => entity::enums::Department {
        Sales = "SALES",
        Marketing = "MARKETING",
        Engineering = "ENGINEERING",
        Hr = "HR",
        Other = "OTHER",
    }
}

crm_enum! {
    /// A company's industry.
    Industry => entity::enums::Industry {
        Technology = "TECHNOLOGY",
        Healthcare = "HEALTHCARE",
        Finance = "FINANCE",
        Retail = "RETAIL",
        Manufacturing = "MANUFACTURING",
        Other = "OTHER",
    }
}

crm_enum! {
    /// A company's head count.
    CompanySize => entity::enums::CompanySize {
        S1To10 = "SIZE_1_10",
        S11To50 = "SIZE_11_50",
        S51To200 = "SIZE_51_200",
        S201To1000 = "SIZE_201_1000",
        S1000Plus = "SIZE_1000_PLUS",
    }
}

/// Whose deals, always among those the user may read. (The variants carry `//` comments:
/// doc comments would turn the schema's plain `enum` into a longer `oneOf`, and the
/// argument's description already explains them.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars", inline)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    // Deals the user owns.
    Me,
    // Deals owned by the user or a member of one of their teams (their own team, and the
    // teams they manage): the reports' `MY_TEAMS`.
    Team,
    // Every deal the user may read.
    #[default]
    All,
}

/// The order of a deal search (see [`Owner`] on the variants' comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars", inline)]
#[serde(rename_all = "camelCase")]
pub enum DealOrder {
    // Newest first (the `deals` list's default).
    #[default]
    Newest,
    // Soonest expected close date first, deals without one last.
    CloseDate,
    // Largest amount first, among the deals whose amount the user may see.
    Amount,
    // Most recently changed first.
    Updated,
}

// ---------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------

/// `search_companies`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchCompanies {
    /// Text to look for in the company name or web domain (case-insensitive). Omit it to
    /// list companies by name.
    pub query: Option<String>,
    /// Only companies in this industry.
    pub industry: Option<Industry>,
    /// How many companies to return: 1 to 50, default 20.
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous result, to continue the same search.
    pub cursor: Option<String>,
}

/// `search_contacts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchContacts {
    /// Text to look for in the full name or email address (case-insensitive).
    pub query: Option<String>,
    /// Only people at this company (an id from `search_companies`).
    pub company_id: Option<Id>,
    /// How many contacts to return: 1 to 50, default 20.
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous result, to continue the same search.
    pub cursor: Option<String>,
}

/// `search_deals`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchDeals {
    /// Text to look for in the deal title (case-insensitive).
    pub query: Option<String>,
    /// Only deals in this stage, or in any of these stages.
    pub stage: Option<OneOrMany<Stage>>,
    /// Only open deals (not CLOSED_WON or CLOSED_LOST).
    pub open_only: Option<bool>,
    /// Whose deals: "me", "team" (yours and your teams' members'), or "all" (default: every
    /// deal you may read).
    pub owner: Option<Owner>,
    /// Only deals with this company (an id from `search_companies`).
    pub company_id: Option<Id>,
    /// Only deals expected to close on or after this day (YYYY-MM-DD).
    pub close_from: Option<Day>,
    /// Only deals expected to close on or before this day (YYYY-MM-DD).
    pub close_to: Option<Day>,
    /// Only deals of at least this amount. Deals whose amount you may not see never match
    /// an amount condition.
    pub min_amount: Option<Money>,
    /// Only deals of at most this amount.
    pub max_amount: Option<Money>,
    /// Order: "newest" (default), "closeDate" (soonest expected close first), "amount"
    /// (largest first; only deals whose amount you may see), "updated" (most recently
    /// changed first).
    pub sort: Option<DealOrder>,
    /// How many deals to return: 1 to 50, default 20.
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous result, to continue the same search (same
    /// arguments otherwise).
    pub cursor: Option<String>,
}

/// `get_deal`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetDeal {
    /// The deal's id (from `search_deals`).
    pub deal_id: Id,
    /// How many of its most recent activities to include: 0 to 20, default 5.
    #[schemars(range(min = 0, max = 20))]
    pub activities: Option<i64>,
}

/// `pipeline_summary`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PipelineSummary {
    /// Whose deals: "me", "team" or "all" (default: every deal you may read).
    pub owner: Option<Owner>,
    /// Only deals in this ISO 4217 currency (e.g. "USD"). Without it, amounts in every
    /// currency are added as they are.
    pub currency: Option<String>,
    /// Only deals expected to close on or after this day (YYYY-MM-DD).
    pub close_from: Option<Day>,
    /// Only deals expected to close on or before this day (YYYY-MM-DD).
    pub close_to: Option<Day>,
}

/// `create_contact`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateContact {
    /// First name (a first or a last name is required).
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Job title, e.g. "VP of Sales".
    pub title: Option<String>,
    /// The company the person works at (an id from `search_companies`).
    pub company_id: Option<Id>,
    /// Email address (unique among contacts).
    pub email: Option<String>,
    /// Phone number in E.164, e.g. "+14155550100".
    pub phone: Option<String>,
    /// Mobile number in E.164.
    pub mobile: Option<String>,
    /// Department.
    pub department: Option<Department>,
    /// Whether this is the main contact at the company (default false).
    pub is_primary: Option<bool>,
    /// LinkedIn profile, an http(s) URL.
    pub linkedin_url: Option<String>,
    /// Free-form notes.
    pub notes: Option<String>,
    /// The owner (default: you); your permissions decide whom you may create contacts for.
    pub owner_id: Option<Id>,
}

/// `create_deal`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDeal {
    /// The company the deal is with (required; an id from `search_companies`).
    pub company_id: Id,
    /// What is being sold (required, at most 200 characters).
    pub title: String,
    /// Value, 0 to 999999999999.99 with at most two decimal places (default 0).
    pub amount: Option<Money>,
    /// ISO 4217 currency code (default "USD").
    pub currency: Option<String>,
    /// Stage (default PROSPECTING).
    pub stage: Option<Stage>,
    /// Expected close date, in the future (YYYY-MM-DD).
    pub expected_close_date: Option<Day>,
    /// The main contact, a person at the same company (an id from `search_contacts`).
    pub contact_id: Option<Id>,
    /// Where the deal came from.
    pub source: Option<Source>,
    /// Priority (default MEDIUM).
    pub priority: Option<Priority>,
    /// Free-form notes.
    pub notes: Option<String>,
    /// The owner (default: you); your permissions decide whom you may create deals for.
    pub owner_id: Option<Id>,
}

/// `log_activity`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogActivity {
    /// What kind of activity (required).
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// A short summary (required, at most 200 characters).
    pub subject: String,
    /// Details, at most 10,000 characters.
    pub description: Option<String>,
    /// true for something that already happened (a call just made); false or omitted for a
    /// to-do, usually with `dueAt`.
    pub completed: Option<bool>,
    /// When it is due (RFC 3339, e.g. "2026-05-01T14:00:00Z").
    pub due_at: Option<Timestamp>,
    /// PENDING, IN_PROGRESS or COMPLETED (must agree with `completed`).
    pub status: Option<ActivityStatus>,
    /// Priority (default MEDIUM).
    pub priority: Option<Priority>,
    /// The deal it is about (an id from `search_deals`).
    pub deal_id: Option<Id>,
    /// The company it is about.
    pub company_id: Option<Id>,
    /// The contact it is about.
    pub contact_id: Option<Id>,
    /// Who should do it (a user id; default: you).
    pub assigned_to_id: Option<Id>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        crate::config::Config::for_database("sqlite::memory:").limits
    }

    fn args(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    fn field_of(err: ApiError) -> String {
        match err {
            ApiError::BadUserInput(fields) => fields[0].field.clone(),
            other => panic!("not BAD_USER_INPUT: {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_argument() {
        let l = limits();
        let e = parse::<SearchDeals>(args(serde_json::json!({ "stage": ["WON"] })), &l);
        assert_eq!(field_of(e.unwrap_err()), "stage");
        let e = parse::<SearchDeals>(args(serde_json::json!({ "limit": "ten" })), &l);
        assert_eq!(field_of(e.unwrap_err()), "limit");
        let e = parse::<GetDeal>(args(serde_json::json!({ "dealId": "nope" })), &l);
        assert_eq!(field_of(e.unwrap_err()), "dealId");
        let e = parse::<GetDeal>(args(serde_json::json!({})), &l);
        assert_eq!(field_of(e.unwrap_err()), "dealId");
        let e = parse::<SearchDeals>(args(serde_json::json!({ "stages": "PROPOSAL" })), &l);
        assert_eq!(field_of(e.unwrap_err()), "stages");
        let e = parse::<CreateDeal>(
            args(serde_json::json!({ "companyId": Uuid::nil(), "title": "a\u{0}b" })),
            &l,
        );
        assert_eq!(field_of(e.unwrap_err()), "title");
    }

    #[test]
    fn one_or_many_and_money_accept_either_form() {
        let l = limits();
        let a: SearchDeals = parse(
            args(serde_json::json!({ "stage": "PROPOSAL", "minAmount": 1234.5, "maxAmount": "2000" })),
            &l,
        )
        .unwrap();
        assert_eq!(a.stage, Some(OneOrMany(vec![Stage::Proposal])));
        assert_eq!(a.min_amount.unwrap().0.to_string(), "1234.5");
        assert_eq!(a.max_amount.unwrap().0.to_string(), "2000");
    }

    #[test]
    fn a_bad_string_is_named_by_its_path_and_long_names_are_not_echoed_whole() {
        let l = limits();
        let e = parse::<SearchDeals>(
            args(serde_json::json!({ "stage": ["PROPOSAL", "\u{0}"] })),
            &l,
        );
        assert_eq!(field_of(e.unwrap_err()), "stage[1]");
        let key = "k".repeat(10_000);
        let e = parse::<SearchDeals>(args(serde_json::json!({ key.clone(): 1 })), &l);
        let field = field_of(e.unwrap_err());
        assert!(field.starts_with("kkk") && field.chars().count() == MAX_ECHOED_NAME + 1);
        let mut deep = serde_json::json!(["x\u{0}"]);
        for _ in 0..3 {
            deep = serde_json::json!({ key.clone(): [1, deep] });
        }
        let e = parse::<SearchDeals>(args(deep), &l);
        let field = field_of(e.unwrap_err());
        assert!(field.ends_with("[1][0]"), "{field}");
        assert!(field.chars().count() < 4 * (MAX_ECHOED_NAME + 8), "{field}");
    }

    #[test]
    fn amounts_out_of_range_are_refused_not_panicked_on() {
        let l = limits();
        for bad in [
            serde_json::json!("1e30"),
            serde_json::json!("1e-99999999999"),
            serde_json::json!("9".repeat(5000)),
            serde_json::json!(1e300),
            serde_json::json!("NaN"),
            serde_json::json!(true),
        ] {
            let e = parse::<SearchDeals>(args(serde_json::json!({ "minAmount": bad.clone() })), &l);
            match e {
                Err(e) => assert_eq!(field_of(e), "minAmount", "{bad}"),
                // A value that parses is out of range for cents, refused by `to_cents`.
                Ok(a) => assert!(
                    crate::service::money::to_cents(&a.min_amount.unwrap().0, "minAmount").is_err(),
                    "{bad}"
                ),
            }
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), 20);
        assert_eq!(limit(Some(50)).unwrap(), 50);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(-1)).is_err());
        assert!(limit(Some(51)).is_err());
    }
}

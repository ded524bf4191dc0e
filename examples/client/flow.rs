//! What the example client does, independent of how requests travel: sign in, then run
//! every document in `examples/graphql/` in the order a user of a CRM front end would,
//! feeding ids and versions from earlier answers into later requests.
//!
//! `examples/client.rs` drives it against a running server; the integration test
//! `tests/api/examples.rs` drives it, over the same HTTP transport, against the app served
//! on an ephemeral port over a freshly seeded database, so the example cannot rot unnoticed. The documents are compiled in with `include_str!`: the
//! files frontend teams copy are exactly what runs here.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// `login.graphql`.
pub const LOGIN: &str = include_str!("../graphql/login.graphql");
/// `me.graphql`.
pub const ME: &str = include_str!("../graphql/me.graphql");
/// `deals_list.graphql`.
pub const DEALS_LIST: &str = include_str!("../graphql/deals_list.graphql");
/// `deal_detail.graphql`.
pub const DEAL_DETAIL: &str = include_str!("../graphql/deal_detail.graphql");
/// `company_detail.graphql`.
pub const COMPANY_DETAIL: &str = include_str!("../graphql/company_detail.graphql");
/// `contacts_search.graphql`.
pub const CONTACTS_SEARCH: &str = include_str!("../graphql/contacts_search.graphql");
/// `my_open_tasks.graphql`.
pub const MY_OPEN_TASKS: &str = include_str!("../graphql/my_open_tasks.graphql");
/// `complete_activity.graphql`.
pub const COMPLETE_ACTIVITY: &str = include_str!("../graphql/complete_activity.graphql");
/// `create_company.graphql`.
pub const CREATE_COMPANY: &str = include_str!("../graphql/create_company.graphql");
/// `create_deal.graphql`.
pub const CREATE_DEAL: &str = include_str!("../graphql/create_deal.graphql");
/// `update_deal.graphql`.
pub const UPDATE_DEAL: &str = include_str!("../graphql/update_deal.graphql");
/// `move_deal.graphql`.
pub const MOVE_DEAL: &str = include_str!("../graphql/move_deal.graphql");

/// Every document, by file name, in the order the client runs them.
pub const DOCUMENTS: [(&str, &str); 12] = [
    ("login.graphql", LOGIN),
    ("me.graphql", ME),
    ("deals_list.graphql", DEALS_LIST),
    ("deal_detail.graphql", DEAL_DETAIL),
    ("company_detail.graphql", COMPANY_DETAIL),
    ("contacts_search.graphql", CONTACTS_SEARCH),
    ("my_open_tasks.graphql", MY_OPEN_TASKS),
    ("complete_activity.graphql", COMPLETE_ACTIVITY),
    ("create_company.graphql", CREATE_COMPANY),
    ("create_deal.graphql", CREATE_DEAL),
    ("update_deal.graphql", UPDATE_DEAL),
    ("move_deal.graphql", MOVE_DEAL),
];

/// How one GraphQL request reaches the server.
pub trait Transport {
    /// Sends `query` with `variables` (and `Authorization: Bearer <token>` when given) and
    /// returns the JSON response body, whatever its `errors`. An `Err` means no GraphQL
    /// response came back at all (server unreachable, not JSON, HTTP 401, …).
    async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value>;
}

/// One document run: which file, a one-line summary for people, and the `data` it returned.
pub struct Step {
    /// The document's file name in `examples/graphql/`.
    pub document: &'static str,
    /// A short readable summary of the answer.
    pub summary: String,
    /// The response's `data` (for the curious and for tests).
    pub data: Value,
}

/// Runs the whole tour as `email`, reporting each step to `report` as soon as it is done.
///
/// Mutations only touch the viewer's own open task and records this run creates (a
/// company named with a timestamp, and a deal in it), so running it again is harmless.
pub async fn run(
    transport: &impl Transport,
    email: &str,
    password: &str,
    report: &mut impl FnMut(Step),
) -> anyhow::Result<()> {
    let mut client = Client {
        transport,
        token: None,
    };

    // Sign in: every later request carries the access token.
    let data = client
        .send(
            "login.graphql",
            LOGIN,
            json!({ "email": email, "password": password }),
        )
        .await?;
    client.token = Some(text(&data, "/login/accessToken")?.to_owned());
    let summary = format!(
        "signed in as {} ({}), token expires {}",
        text(&data, "/login/user/name")?,
        text(&data, "/login/user/role")?,
        when(&data, "/login/expiresAt"),
    );
    report(step("login.graphql", summary, data));

    // Who am I: the id feeds the "my tasks" filter.
    let data = client.send("me.graphql", ME, json!({})).await?;
    let me_id = text(&data, "/me/id")?.to_owned();
    let team = match data.pointer("/me/team").filter(|t| !t.is_null()) {
        Some(t) => format!(
            "team {} (manager {})",
            text(t, "/name")?,
            opt(t, "/manager/name")
        ),
        None => "no team".to_owned(),
    };
    let summary = format!(
        "{} <{}>, {}, {team}",
        text(&data, "/me/name")?,
        text(&data, "/me/email")?,
        text(&data, "/me/role")?,
    );
    report(step("me.graphql", summary, data));

    // The pipeline table: qualified, open deals worth at least 10,000, largest first,
    // three per page; then the second page through the first page's end cursor. (The
    // amount filter only matches deals whose amount the viewer may read: for a rep, their
    // own and those shared with them to edit.)
    let mut list_vars = json!({
        "stages": ["QUALIFICATION", "PROPOSAL", "NEGOTIATION"],
        "minAmount": "10000",
        "orderBy": [{ "field": "AMOUNT", "direction": "DESC" }],
        "first": 3,
    });
    let mut what = "qualified open deals >= 10,000";
    let mut data = client
        .send("deals_list.graphql", DEALS_LIST, list_vars.clone())
        .await?;
    if list(&data, "/deals/edges")?.is_empty() {
        // Nothing the viewer may see the amount of: list every deal instead (a null
        // operand leaves that condition out).
        what = "deals (none qualified >= 10,000 with an amount you may see)";
        list_vars["stages"] = Value::Null;
        list_vars["minAmount"] = Value::Null;
        data = client
            .send("deals_list.graphql", DEALS_LIST, list_vars.clone())
            .await?;
    }
    let edges = list(&data, "/deals/edges")?;
    let Some(first) = edges.first() else {
        bail!(
            "deals_list.graphql: {email} sees no deals at all; is the demo organisation \
             seeded (`crm seed-demo`)?"
        );
    };
    let deal_id = text(first, "/node/id")?.to_owned();
    let mut summary = format!(
        "{} of {} {what}, first: {} ({}, {})",
        edges.len(),
        int(&data, "/deals/totalCount")?,
        text(first, "/node/title")?,
        text(first, "/node/stage")?,
        money(&first["node"]),
    );
    if data.pointer("/deals/pageInfo/hasNextPage") == Some(&Value::Bool(true)) {
        let mut next_vars = list_vars;
        next_vars["after"] = data["deals"]["pageInfo"]["endCursor"].clone();
        let next = client
            .send("deals_list.graphql", DEALS_LIST, next_vars)
            .await?;
        let next_edges = list(&next, "/deals/edges")?;
        let seen: Vec<&Value> = edges.iter().map(|e| &e["node"]["id"]).collect();
        if next_edges.iter().any(|e| seen.contains(&&e["node"]["id"])) {
            bail!("deals_list.graphql: the second page repeats a deal of the first");
        }
        let _ = write!(
            summary,
            "; page 2 (after the end cursor): {}",
            next_edges.len()
        );
    }
    report(step("deals_list.graphql", summary, data));

    // The deal page for the first row.
    let data = client
        .send("deal_detail.graphql", DEAL_DETAIL, json!({ "id": deal_id }))
        .await?;
    let deal = data
        .get("deal")
        .filter(|d| !d.is_null())
        .context("deal_detail.graphql: the deal just listed came back null")?;
    let company_id = text(deal, "/company/id")?.to_owned();
    let contact = deal.get("contact").filter(|c| !c.is_null());
    let summary = format!(
        "{}: company {} ({} contacts shown), contact {}, owner {} ({}), {} share(s), \
         {} of {} activities shown; you may update: {}, see amount: {}",
        text(deal, "/title")?,
        text(deal, "/company/name")?,
        list(deal, "/company/contacts/nodes")?.len(),
        contact.map_or("none".to_owned(), |c| opt(c, "/fullName")),
        opt(deal, "/owner/name"),
        opt(deal, "/owner/team/name"),
        list(deal, "/shares")?.len(),
        list(deal, "/activities/nodes")?.len(),
        int(deal, "/activities/totalCount")?,
        yes_no(deal, "/viewerCan/update"),
        yes_no(deal, "/viewerCan/readAmount"),
    );
    // Search for the deal's contact by last name (or the company by its first word).
    let search = contact
        .and_then(|c| c["fullName"].as_str())
        .or_else(|| deal["company"]["name"].as_str())
        .and_then(|name| name.split_whitespace().last())
        .unwrap_or("a")
        .to_owned();
    report(step("deal_detail.graphql", summary, data));

    // The company page of that deal.
    let data = client
        .send(
            "company_detail.graphql",
            COMPANY_DETAIL,
            json!({ "id": company_id }),
        )
        .await?;
    let company = data
        .get("company")
        .filter(|c| !c.is_null())
        .context("company_detail.graphql: the deal's company came back null")?;
    let summary = format!(
        "{} ({}, {}): {} contacts, {} deals, {} activities; owner {}",
        text(company, "/name")?,
        opt(company, "/industry"),
        opt(company, "/city"),
        int(company, "/contacts/totalCount")?,
        int(company, "/deals/totalCount")?,
        int(company, "/activities/totalCount")?,
        opt(company, "/owner/name"),
    );
    report(step("company_detail.graphql", summary, data));

    // The search box.
    let data = client
        .send(
            "contacts_search.graphql",
            CONTACTS_SEARCH,
            json!({ "search": search, "first": 5 }),
        )
        .await?;
    let found = list(&data, "/contacts/nodes")?;
    let summary = match found.first() {
        Some(c) => format!(
            "\"{search}\": {} contact(s), first: {} ({}, {})",
            int(&data, "/contacts/totalCount")?,
            text(c, "/fullName")?,
            opt(c, "/title"),
            opt(c, "/company/name"),
        ),
        None => format!("\"{search}\": no contacts"),
    };
    report(step("contacts_search.graphql", summary, data));

    // My open tasks, the most urgent first.
    let data = client
        .send(
            "my_open_tasks.graphql",
            MY_OPEN_TASKS,
            json!({ "me": me_id, "first": 5 }),
        )
        .await?;
    let tasks = list(&data, "/activities/nodes")?;
    let summary = match tasks.first() {
        Some(t) => format!(
            "{} open, next: {} ({}) due {}{}",
            int(&data, "/activities/totalCount")?,
            text(t, "/subject")?,
            text(t, "/type")?,
            when(t, "/dueAt"),
            t["deal"]["title"]
                .as_str()
                .map(|d| format!(" on {d}"))
                .unwrap_or_default(),
        ),
        None => "no open tasks".to_owned(),
    };
    let completable = tasks
        .iter()
        .find(|t| t.pointer("/viewerCan/complete") == Some(&Value::Bool(true)))
        .cloned();
    report(step("my_open_tasks.graphql", summary, data));

    // Tick off the most urgent one, with the version just read.
    match completable {
        Some(task) => {
            let data = client
                .send(
                    "complete_activity.graphql",
                    COMPLETE_ACTIVITY,
                    json!({ "id": task["id"], "expectedVersion": task["version"] }),
                )
                .await?;
            if data.pointer("/completeActivity/completed") != Some(&Value::Bool(true)) {
                bail!("complete_activity.graphql: the activity is still open: {data}");
            }
            let summary = format!(
                "completed \"{}\" at {} (version {} -> {})",
                text(&data, "/completeActivity/subject")?,
                when(&data, "/completeActivity/completedAt"),
                task["version"],
                int(&data, "/completeActivity/version")?,
            );
            report(step("complete_activity.graphql", summary, data));
        }
        None => report(step(
            "complete_activity.graphql",
            "skipped: no open task to complete".to_owned(),
            Value::Null,
        )),
    }

    // A new company, named so that every run creates a distinct one.
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S-%3f").to_string();
    let data = client
        .send(
            "create_company.graphql",
            CREATE_COMPANY,
            json!({ "input": {
                "name": format!("Example Client Co {stamp}"),
                "domain": format!("example-client-{stamp}.example"),
                "industry": "TECHNOLOGY",
                "size": "SIZE_11_50",
                "city": "Boston",
                "country": "US",
                "phone": "+16175550100",
                "website": format!("https://example-client-{stamp}.example"),
            }}),
        )
        .await?;
    let new_company = text(&data, "/createCompany/id")?.to_owned();
    let summary = format!(
        "created {} ({}), owner {}",
        text(&data, "/createCompany/name")?,
        opt(&data, "/createCompany/domain"),
        opt(&data, "/createCompany/owner/name"),
    );
    report(step("create_company.graphql", summary, data));

    // A deal in it, closing in a month.
    let close = (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string();
    let data = client
        .send(
            "create_deal.graphql",
            CREATE_DEAL,
            json!({ "input": {
                "companyId": new_company,
                "title": "Pilot program (example client)",
                "amount": "25000.00",
                "stage": "PROSPECTING",
                "expectedCloseDate": close,
                "source": "WEBSITE",
            }}),
        )
        .await?;
    let new_deal = text(&data, "/createDeal/id")?.to_owned();
    let created_version = int(&data, "/createDeal/version")?;
    let summary = format!(
        "created \"{}\" ({}, probability {} %, {}), closes {}, version {created_version}",
        text(&data, "/createDeal/title")?,
        text(&data, "/createDeal/stage")?,
        int(&data, "/createDeal/probability")?,
        money(&data["createDeal"]),
        opt(&data, "/createDeal/expectedCloseDate"),
    );
    report(step("create_deal.graphql", summary, data));

    // Edit it, sending the version read at creation...
    let data = client
        .send(
            "update_deal.graphql",
            UPDATE_DEAL,
            json!({ "id": new_deal, "input": {
                "priority": "HIGH",
                "amount": "27500.00",
                "notes": "Champion wants a two-week pilot.",
                "expectedVersion": created_version,
            }}),
        )
        .await?;
    let updated_version = int(&data, "/updateDeal/version")?;
    let mut summary = format!(
        "priority {}, amount {}, version {created_version} -> {updated_version}",
        text(&data, "/updateDeal/priority")?,
        opt(&data, "/updateDeal/amount"),
    );
    // ...and once more with that now stale version, as an offline client would: the
    // server must refuse it with CONFLICT rather than overwrite the first edit.
    let stale = client
        .send_raw(
            UPDATE_DEAL,
            json!({ "id": new_deal, "input": {
                "priority": "LOW",
                "expectedVersion": created_version,
            }}),
        )
        .await?;
    match stale["errors"][0]["extensions"]["code"].as_str() {
        Some("CONFLICT") => {
            summary.push_str("; replaying the stale version: CONFLICT, as it should")
        }
        _ => bail!(
            "update_deal.graphql: a stale expectedVersion ({created_version}) was not refused \
             with CONFLICT: {stale}"
        ),
    }
    report(step("update_deal.graphql", summary, data));

    // Pipeline board: one stage to the right.
    let data = client
        .send(
            "move_deal.graphql",
            MOVE_DEAL,
            json!({ "id": new_deal, "stage": "QUALIFICATION", "expectedVersion": updated_version }),
        )
        .await?;
    let summary = format!(
        "moved to {} (probability {} %), version {}",
        text(&data, "/moveDeal/stage")?,
        int(&data, "/moveDeal/probability")?,
        int(&data, "/moveDeal/version")?,
    );
    report(step("move_deal.graphql", summary, data));

    Ok(())
}

/// The transport plus the session token.
struct Client<'t, T> {
    transport: &'t T,
    token: Option<String>,
}

impl<T: Transport> Client<'_, T> {
    /// Runs `document`; any GraphQL error fails the step, naming the file.
    async fn send(&self, name: &str, document: &str, variables: Value) -> anyhow::Result<Value> {
        let body = self
            .send_raw(document, variables)
            .await
            .with_context(|| format!("{name}: no GraphQL response"))?;
        if let Some(errors) = body["errors"].as_array().filter(|e| !e.is_empty()) {
            bail!("{name} failed: {}", describe(errors));
        }
        match body.get("data") {
            Some(data) if data.is_object() => Ok(data.clone()),
            _ => bail!("{name}: the response has no data: {body}"),
        }
    }

    /// Runs `document` and returns the whole response, errors included.
    async fn send_raw(&self, document: &str, variables: Value) -> anyhow::Result<Value> {
        self.transport
            .post(self.token.as_deref(), document, variables)
            .await
    }
}

fn step(document: &'static str, summary: String, data: Value) -> Step {
    Step {
        document,
        summary,
        data,
    }
}

/// `CODE: message (field f)` for each error.
fn describe(errors: &[Value]) -> String {
    errors
        .iter()
        .map(|e| {
            let mut s = format!(
                "{}: {}",
                e["extensions"]["code"].as_str().unwrap_or("GRAPHQL"),
                e["message"].as_str().unwrap_or("(no message)")
            );
            if let Some(field) = e["extensions"]["field"].as_str() {
                let _ = write!(s, " (field {field})");
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn text<'v>(v: &'v Value, pointer: &str) -> anyhow::Result<&'v str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .with_context(|| format!("expected a string at {pointer} in {v}"))
}

fn int(v: &Value, pointer: &str) -> anyhow::Result<i64> {
    v.pointer(pointer)
        .and_then(Value::as_i64)
        .with_context(|| format!("expected an integer at {pointer} in {v}"))
}

fn list<'v>(v: &'v Value, pointer: &str) -> anyhow::Result<&'v [Value]> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .with_context(|| format!("expected a list at {pointer} in {v}"))
}

/// A nullable field for display: its text, or `-`.
fn opt(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// A `DateTime` to the minute (`2026-05-04 09:30 UTC`), or `-`.
fn when(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer).and_then(Value::as_str) {
        Some(t) if t.len() >= 16 => format!("{} {} UTC", &t[..10], &t[11..16]),
        Some(t) => t.to_owned(),
        None => "-".to_owned(),
    }
}

fn yes_no(v: &Value, pointer: &str) -> &'static str {
    if v.pointer(pointer) == Some(&Value::Bool(true)) {
        "yes"
    } else {
        "no"
    }
}

/// `USD 24500.00`, or `amount hidden` where the viewer may not read it.
fn money(deal: &Value) -> String {
    match (deal["currency"].as_str(), deal["amount"].as_str()) {
        (Some(cur), Some(amount)) => format!("{cur} {amount}"),
        _ => "amount hidden".to_owned(),
    }
}

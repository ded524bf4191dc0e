//! `pipeline` and `dashboard`: for a seeded organisation, every panel seen by a rep, a
//! manager and an admin equals a reference computed here from what that user can list
//! through `deals` / `companies` (paging through) and the amounts they can read (`amount`
//! is `null` when hidden). A policy edit changes the rep's sums; filters and owner scopes
//! narrow the pipeline.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use api::AppState;
use api::auth::Actor;
use chrono::{Datelike, Days, Months, NaiveDate};
use crm_testkit::{Org, Shape};
use entity::enums::{DealSource, DealStage, Role, SharePermission};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::authz_support::edited_policy;
use crate::helpers::TestApp;

// ---------------------------------------------------------------------------------------
// Running queries as a user, in process
// ---------------------------------------------------------------------------------------

/// A signed-in user of an app state (the state fixes the policy).
struct Client {
    state: AppState,
    actor: Actor,
}

impl Client {
    async fn new(state: &AppState, user: &entity::user::Model) -> Self {
        let actor = Actor::load(&state.db, user.id, None)
            .await
            .expect("actor")
            .expect("the user exists");
        Self {
            state: state.clone(),
            actor,
        }
    }

    async fn try_run(&self, query: &str, vars: Value) -> async_graphql::Response {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(vars))
            .data(api::graphql::loaders::for_viewer(
                self.state.deps.clone(),
                self.actor.viewer.clone(),
            ))
            .data(self.actor.clone());
        self.state.schema.execute(request).await
    }

    async fn run(&self, query: &str, vars: Value) -> Value {
        let response = self.try_run(query, vars).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().expect("json")
    }
}

// ---------------------------------------------------------------------------------------
// What the user can list
// ---------------------------------------------------------------------------------------

/// A deal as listed by `deals`.
#[derive(Debug, Clone)]
struct Listed {
    id: Uuid,
    /// `None` when the viewer may not read it.
    amount: Option<i64>,
    stage: String,
    probability: i64,
    expected: Option<NaiveDate>,
    actual: Option<NaiveDate>,
    source: Option<String>,
    owner: Uuid,
    company: Uuid,
    currency: String,
}

const DEALS: &str = "query($after: String, $f: DealFilter) {
  deals(first: 100, after: $after, filter: $f) {
    pageInfo { hasNextPage endCursor }
    nodes { id amount stage probability expectedCloseDate actualCloseDate source ownerId companyId currency }
  }
}";

const COMPANIES: &str = "query($after: String) {
  companies(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id name }
  }
}";

fn cents(v: &Value) -> Option<i64> {
    let d = rust_decimal::Decimal::from_str(v.as_str()?).expect("decimal");
    Some(i64::try_from(d * rust_decimal::Decimal::ONE_HUNDRED).expect("cents"))
}

fn date(v: &Value) -> Option<NaiveDate> {
    v.as_str()
        .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date"))
}

fn uuid(v: &Value) -> Uuid {
    Uuid::parse_str(v.as_str().expect("id")).expect("uuid")
}

/// Every page of a connection.
async fn all_nodes(client: &Client, query: &str, field: &str, filter: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = client
            .run(query, json!({ "after": after, "f": filter }))
            .await;
        let conn = &data[field];
        out.extend(conn["nodes"].as_array().expect("nodes").iter().cloned());
        if conn["pageInfo"]["hasNextPage"] != json!(true) {
            return out;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

async fn listed_deals(client: &Client, filter: Value) -> Vec<Listed> {
    all_nodes(client, DEALS, "deals", filter)
        .await
        .iter()
        .map(|n| Listed {
            id: uuid(&n["id"]),
            amount: cents(&n["amount"]),
            stage: n["stage"].as_str().expect("stage").to_owned(),
            probability: n["probability"].as_i64().expect("probability"),
            expected: date(&n["expectedCloseDate"]),
            actual: date(&n["actualCloseDate"]),
            source: n["source"].as_str().map(str::to_owned),
            owner: uuid(&n["ownerId"]),
            company: uuid(&n["companyId"]),
            currency: n["currency"].as_str().expect("currency").to_owned(),
        })
        .collect()
}

async fn listed_companies(client: &Client) -> HashMap<Uuid, String> {
    all_nodes(client, COMPANIES, "companies", Value::Null)
        .await
        .iter()
        .map(|n| (uuid(&n["id"]), n["name"].as_str().expect("name").to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The reference, in plain Rust over the listed rows
// ---------------------------------------------------------------------------------------

const STAGES: [&str; 6] = [
    "PROSPECTING",
    "QUALIFICATION",
    "PROPOSAL",
    "NEGOTIATION",
    "CLOSED_WON",
    "CLOSED_LOST",
];
const OPEN: [&str; 4] = ["PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION"];
const SOURCES: [&str; 5] = ["WEBSITE", "REFERRAL", "COLD_CALL", "EVENT", "OTHER"];

/// Cents as the API prints money: `-1234.05`.
fn money(c: i64) -> Value {
    let sign = if c < 0 { "-" } else { "" };
    let a = c.unsigned_abs();
    json!(format!("{sign}{}.{:02}", a / 100, a % 100))
}

/// Cents × percent as an exact amount with two to four decimal places.
fn weighted(cp: i64) -> Value {
    assert!(cp >= 0);
    let mut frac = format!("{:04}", cp % 10_000);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    json!(format!("{}.{frac}", cp / 10_000))
}

/// `part ÷ whole` in percent, two places, half away from zero; `null` when `whole` is 0.
fn pct(part: i64, whole: i64) -> Value {
    if whole == 0 {
        return Value::Null;
    }
    let n = part.abs() as i128 * 10_000;
    let w = whole as i128;
    let hundredths = (2 * n + w) / (2 * w);
    let sign = if part < 0 && hundredths > 0 { "-" } else { "" };
    json!(format!(
        "{sign}{}.{:02}",
        hundredths / 100,
        hundredths % 100
    ))
}

fn visible(d: &Listed) -> i64 {
    d.amount.unwrap_or(0)
}

fn stage_rows(deals: &[&Listed], stages: &[&str]) -> Value {
    Value::Array(
        stages
            .iter()
            .map(|s| {
                let in_stage: Vec<&&Listed> = deals.iter().filter(|d| d.stage == *s).collect();
                json!({
                    "stage": s,
                    "count": in_stage.len(),
                    "totalAmount": money(in_stage.iter().map(|d| visible(d)).sum()),
                    "weightedAmount": weighted(in_stage.iter().map(|d| visible(d) * d.probability).sum()),
                })
            })
            .collect(),
    )
}

fn month_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap()
}

/// The dashboard as the reference computes it.
fn expected_dashboard(
    deals: &[Listed],
    companies: &HashMap<Uuid, String>,
    as_of: NaiveDate,
    months: u32,
    closing_days: u64,
) -> Value {
    let all: Vec<&Listed> = deals.iter().collect();
    let won: Vec<&Listed> = all
        .iter()
        .copied()
        .filter(|d| d.stage == "CLOSED_WON")
        .collect();
    let this_start = month_start(as_of);
    let last_start = this_start - Months::new(1);
    let next_start = this_start + Months::new(1);
    let won_in = |from: NaiveDate, to: NaiveDate| -> (i64, i64) {
        let ds: Vec<&&Listed> = won
            .iter()
            .filter(|d| d.actual.is_some_and(|a| a >= from && a < to))
            .collect();
        (ds.len() as i64, ds.iter().map(|d| visible(d)).sum())
    };
    let (this_n, this_c) = won_in(this_start, next_start);
    let (last_n, last_c) = won_in(last_start, this_start);

    let until = as_of + Days::new(closing_days);
    let mut soon: Vec<&Listed> = all
        .iter()
        .copied()
        .filter(|d| OPEN.contains(&d.stage.as_str()))
        .filter(|d| d.expected.is_some_and(|e| e >= as_of && e <= until))
        .collect();
    soon.sort_by_key(|d| (d.expected, d.id));

    let won_n = won.len() as i64;
    let lost_n = all.iter().filter(|d| d.stage == "CLOSED_LOST").count() as i64;

    let by_month: Vec<Value> = (0..months)
        .rev()
        .map(|back| {
            let start = this_start - Months::new(back);
            let (n, c) = won_in(start, start + Months::new(1));
            json!({
                "month": start.format("%Y-%m").to_string(),
                "start": start.to_string(),
                "wonDeals": n,
                "revenue": money(c),
            })
        })
        .collect();

    let mut per_company: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    for d in won.iter().filter(|d| companies.contains_key(&d.company)) {
        let e = per_company.entry(d.company).or_default();
        e.0 += 1;
        e.1 += visible(d);
    }
    let mut top: Vec<(Uuid, i64, i64)> = per_company
        .into_iter()
        .filter(|(_, (_, c))| *c > 0)
        .map(|(id, (n, c))| (id, n, c))
        .collect();
    top.sort_by_key(|(id, _, c)| (-c, *id));
    top.truncate(10);

    let mut per_owner: BTreeMap<Uuid, (i64, i64, i64, i64)> = BTreeMap::new();
    for d in &all {
        let e = per_owner.entry(d.owner).or_default();
        e.0 += 1;
        if d.stage == "CLOSED_WON" {
            e.1 += 1;
            e.3 += visible(d);
        }
        if d.stage == "CLOSED_LOST" {
            e.2 += 1;
        }
    }
    let mut reps: Vec<(Uuid, (i64, i64, i64, i64))> = per_owner.into_iter().collect();
    reps.sort_by_key(|(id, (_, w, _, c))| (-c, -w, *id));

    let mut sources: Vec<Value> = SOURCES
        .iter()
        .map(|s| {
            let ds: Vec<&&Listed> = all
                .iter()
                .filter(|d| d.source.as_deref() == Some(s))
                .collect();
            json!({ "source": s, "count": ds.len(), "amount": money(ds.iter().map(|d| visible(d)).sum()) })
        })
        .collect();
    let unsourced: Vec<&&Listed> = all.iter().filter(|d| d.source.is_none()).collect();
    if !unsourced.is_empty() {
        sources.push(json!({
            "source": null,
            "count": unsourced.len(),
            "amount": money(unsourced.iter().map(|d| visible(d)).sum()),
        }));
    }

    json!({
        "asOf": as_of.to_string(),
        "revenue": {
            "thisMonthStart": this_start.to_string(),
            "lastMonthStart": last_start.to_string(),
            "thisMonth": money(this_c),
            "lastMonth": money(last_c),
            "thisMonthDeals": this_n,
            "lastMonthDeals": last_n,
            "change": money(this_c - last_c),
            "changePercent": pct(this_c - last_c, last_c),
        },
        "closingSoon": {
            "from": as_of.to_string(),
            "to": until.to_string(),
            "totalCount": soon.len(),
            "totalAmount": money(soon.iter().map(|d| visible(d)).sum()),
            "deals": soon.iter().take(50).map(|d| json!({
                "id": d.id.to_string(),
                "expectedCloseDate": d.expected.map(|e| e.to_string()),
                "amount": d.amount.map(money),
            })).collect::<Vec<_>>(),
        },
        "conversion": {
            "won": won_n,
            "lost": lost_n,
            "closed": won_n + lost_n,
            "rate": pct(won_n, won_n + lost_n),
        },
        "revenueByMonth": by_month,
        "openDealsByStage": stage_rows(&all, &OPEN),
        "topCompanies": top.iter().map(|(id, n, c)| json!({
            "companyId": id.to_string(),
            "name": companies[id],
            "wonDeals": n,
            "wonAmount": money(*c),
            "company": { "id": id.to_string() },
        })).collect::<Vec<_>>(),
        "repPerformance": reps.iter().map(|(id, (n, w, l, c))| json!({
            "ownerId": id.to_string(),
            "deals": n,
            "open": n - w - l,
            "won": w,
            "lost": l,
            "amountWon": money(*c),
            "winRate": pct(*w, w + l),
        })).collect::<Vec<_>>(),
        "dealsBySource": sources,
    })
}

const DASHBOARD: &str = "query($range: DashboardRange, $owner: OwnerScope, $currency: String) {
  dashboard(range: $range, owner: $owner, currency: $currency) {
    asOf
    revenue { thisMonthStart lastMonthStart thisMonth lastMonth thisMonthDeals lastMonthDeals change changePercent }
    closingSoon { from to totalCount totalAmount deals { id expectedCloseDate amount } }
    conversion { won lost closed rate }
    revenueByMonth { month start wonDeals revenue }
    openDealsByStage { stage count totalAmount weightedAmount }
    topCompanies { companyId name wonDeals wonAmount company { id } }
    repPerformance { ownerId deals open won lost amountWon winRate }
    dealsBySource { source count amount }
  }
}";

const PIPELINE: &str = "query($f: DealFilter, $owner: OwnerScope) {
  pipeline(filter: $f, owner: $owner) { stage count totalAmount weightedAmount }
}";

// ---------------------------------------------------------------------------------------
// The seeded organisation
// ---------------------------------------------------------------------------------------

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 17).unwrap()
}

struct Seeded {
    app: TestApp,
    org: Org,
    rep: Uuid,
    manager: Uuid,
    admin: Uuid,
}

/// A random organisation (teams, managers of several teams, deactivated users, shares) whose
/// deals cover every stage and source, with expected close dates around [`as_of`] and
/// close dates spread over the last fourteen months (many in this month and the last).
fn organisation(seed: u64) -> (Org, Uuid, Uuid, Uuid) {
    let mut org = Org::random(
        seed,
        Shape {
            teams: 3,
            admins: 1,
            managers: 3,
            reps: 8,
            companies: 18,
            contacts: 6,
            deals: 260,
            shares: 30,
            activities: 0,
        },
    );
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let as_of = as_of();
    let sources = [
        None,
        Some(DealSource::Website),
        Some(DealSource::Referral),
        Some(DealSource::ColdCall),
        Some(DealSource::Event),
        Some(DealSource::Other),
    ];
    for (i, d) in org.deals.iter_mut().enumerate() {
        let stage = DealStage::ALL[i % 6];
        d.stage = stage;
        if i % 5 == 0 {
            d.currency = "EUR".to_owned();
        }
        d.probability = stage.probability();
        d.source = sources[rng.gen_range(0..sources.len())];
        if rng.gen_bool(0.05) {
            d.amount_cents = 0;
        }
        d.expected_close_date =
            (!rng.gen_bool(0.1)).then(|| as_of + chrono::Duration::days(rng.gen_range(-10..35)));
        d.actual_close_date = stage.is_closed().then(|| {
            let back = if rng.gen_bool(0.4) {
                rng.gen_range(0..62)
            } else {
                rng.gen_range(0..430)
            };
            as_of - Days::new(back)
        });
    }

    // A rep in a team with colleagues who own deals; a manager of that team; an admin.
    let rep = org
        .users
        .iter()
        .filter(|u| u.role == Role::SalesRep)
        .find(|u| {
            u.team_id.is_some()
                && org
                    .deals
                    .iter()
                    .any(|d| d.owner_id != u.id && org.team_of(d.owner_id) == u.team_id)
        })
        .map(|u| u.id)
        .expect("a rep with teammates");
    let rep_team = org.team_of(rep).expect("team");
    let manager = org
        .users
        .iter()
        .find(|u| u.role == Role::Manager)
        .map(|u| u.id)
        .expect("a manager");
    org.set_manager(rep_team, manager);
    let admin = org
        .users
        .iter()
        .find(|u| u.role == Role::Admin)
        .map(|u| u.id)
        .expect("an admin");
    for u in &mut org.users {
        if [rep, manager, admin].contains(&u.id) {
            u.active = true;
        }
    }
    // Shares with the rep of deals outside their team, to view and to edit.
    let outside: Vec<Uuid> = org
        .deals
        .iter()
        .filter(|d| org.team_of(d.owner_id) != Some(rep_team) && d.owner_id != rep)
        .filter(|d| {
            !org.shares
                .iter()
                .any(|s| s.deal_id == d.id && s.user_id == rep)
        })
        .map(|d| d.id)
        .take(12)
        .collect();
    for (i, deal) in outside.into_iter().enumerate() {
        let permission = if i % 2 == 0 {
            SharePermission::View
        } else {
            SharePermission::Edit
        };
        org.share(deal, rep).permission(permission).add();
    }
    (org, rep, manager, admin)
}

async fn seeded() -> Seeded {
    let app = TestApp::new().await;
    let (mut org, rep, manager, admin) = organisation(11);
    org.insert(&app.db).await.expect("insert org");
    Seeded {
        app,
        org,
        rep,
        manager,
        admin,
    }
}

impl Seeded {
    async fn client(&self, user: Uuid) -> Client {
        Client::new(&self.app.state, self.org.find_user(user).expect("user")).await
    }
}

/// Compares a dashboard with the reference for `client`'s listed rows (and `owners`).
async fn check_dashboard(
    client: &Client,
    range: Value,
    args: Value,
    keep: impl Fn(&Listed) -> bool,
) -> Value {
    let deals: Vec<Listed> = listed_deals(client, Value::Null)
        .await
        .into_iter()
        .filter(|d| keep(d))
        .collect();
    let companies = listed_companies(client).await;
    let as_of = date(&range["asOf"]).unwrap_or_else(as_of);
    let months = range["months"].as_u64().unwrap_or(12) as u32;
    let days = range["closingWithinDays"].as_u64().unwrap_or(7);
    let got = client
        .run(
            DASHBOARD,
            json!({ "range": range, "owner": args["owner"], "currency": args["currency"] }),
        )
        .await;
    let expected = expected_dashboard(&deals, &companies, as_of, months, days);
    for panel in expected.as_object().expect("object").keys() {
        assert_eq!(
            got["dashboard"][panel], expected[panel],
            "panel {panel} for {:?} ({args}, range {range})",
            client.actor.role
        );
    }
    got["dashboard"].clone()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_panel_equals_the_reference_for_a_rep_a_manager_and_an_admin() {
    let s = seeded().await;
    let range = json!({ "asOf": as_of().to_string() });
    let wide = json!({ "asOf": as_of().to_string(), "months": 15, "closingWithinDays": 30 });
    let mut readable = Vec::new();
    for user in [s.rep, s.manager, s.admin] {
        let client = s.client(user).await;
        let got = check_dashboard(&client, range.clone(), json!({}), |_| true).await;
        // The organisation exercises every panel for every role (nothing vacuous).
        let nonzero = |v: &Value| v.as_u64().is_some_and(|n| n > 0);
        assert!(nonzero(&got["revenue"]["thisMonthDeals"]), "{got}");
        assert!(nonzero(&got["revenue"]["lastMonthDeals"]), "{got}");
        assert!(nonzero(&got["closingSoon"]["totalCount"]), "{got}");
        assert!(nonzero(&got["conversion"]["closed"]), "{got}");
        assert!(got["topCompanies"].as_array().unwrap().len() > 1, "{got}");
        assert!(got["repPerformance"].as_array().unwrap().len() > 1, "{got}");
        let months_with_revenue = got["revenueByMonth"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| nonzero(&m["wonDeals"]))
            .count();
        assert!(months_with_revenue > 6, "{got}");
        check_dashboard(&client, wide.clone(), json!({}), |_| true).await;
        readable.push(listed_deals(&client, Value::Null).await);
    }
    // The three views differ, and the rep's excludes amounts it may not read.
    let [rep, manager, admin] = [&readable[0], &readable[1], &readable[2]];
    assert!(rep.len() < admin.len() && manager.len() < admin.len());
    assert_eq!(admin.len(), s.org.deals.len());
    assert!(rep.iter().any(|d| d.amount.is_none()));
    assert!(rep.iter().any(|d| d.amount.is_some()));
    // The wide range lists more than 50 deals closing soon for the admin: the list stops
    // at 50, the count does not.
    let admin_client = s.client(s.admin).await;
    let got = admin_client.run(DASHBOARD, json!({ "range": wide })).await;
    assert_eq!(
        got["dashboard"]["closingSoon"]["deals"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert!(
        got["dashboard"]["closingSoon"]["totalCount"]
            .as_u64()
            .unwrap()
            > 50
    );
}

#[tokio::test]
async fn the_pipeline_equals_the_reference_for_every_role_and_owner_scope() {
    let s = seeded().await;
    for user in [s.rep, s.manager, s.admin] {
        let client = s.client(user).await;
        let deals = listed_deals(&client, Value::Null).await;
        let teams = s.org.teams_of(user);
        for owner in ["ALL", "ME", "MY_TEAMS"] {
            let keep: Vec<&Listed> = deals
                .iter()
                .filter(|d| match owner {
                    "ME" => d.owner == user,
                    "MY_TEAMS" => {
                        d.owner == user
                            || s.org.team_of(d.owner).is_some_and(|t| teams.contains(&t))
                    }
                    _ => true,
                })
                .collect();
            let got = client.run(PIPELINE, json!({ "owner": owner })).await;
            assert_eq!(
                got["pipeline"],
                stage_rows(&keep, &STAGES),
                "{:?} {owner}",
                client.actor.role
            );
        }
        // Owner scopes narrow the dashboard the same way.
        check_dashboard(
            &client,
            json!({ "asOf": as_of().to_string() }),
            json!({ "owner": "ME" }),
            |d| d.owner == user,
        )
        .await;
    }
}

#[tokio::test]
async fn the_pipeline_filter_is_the_deals_filter() {
    let s = seeded().await;
    let from = as_of();
    let to = as_of() + Days::new(20);
    let filters = [
        json!({ "expectedCloseDate": { "gte": from.to_string(), "lte": to.to_string() } }),
        json!({ "amount": { "gte": "20000" } }),
        json!({ "stage": { "in": ["PROPOSAL", "CLOSED_WON"] }, "source": { "eq": "REFERRAL" } }),
        json!({ "or": [{ "amount": { "lt": "10000" } }, { "expectedCloseDate": { "isNull": true } }] }),
    ];
    for user in [s.rep, s.manager, s.admin] {
        let client = s.client(user).await;
        for f in &filters {
            // The reference is what `deals` lists with the same filter.
            let deals = listed_deals(&client, f.clone()).await;
            let refs: Vec<&Listed> = deals.iter().collect();
            let got = client.run(PIPELINE, json!({ "f": f })).await;
            assert_eq!(got["pipeline"], stage_rows(&refs, &STAGES), "filter {f}");
        }
    }
    // The amount filter only matches amounts the viewer may read: the rep's filtered
    // pipeline has no deal with a hidden amount.
    let rep = s.client(s.rep).await;
    let visible_only = listed_deals(&rep, json!({ "amount": { "gte": "0" } })).await;
    let all = listed_deals(&rep, Value::Null).await;
    assert_eq!(
        visible_only.len(),
        all.iter().filter(|d| d.amount.is_some()).count()
    );
}

#[tokio::test]
async fn the_dashboard_can_be_limited_to_one_currency() {
    let s = seeded().await;
    let range = json!({ "asOf": as_of().to_string() });
    for user in [s.rep, s.manager, s.admin] {
        let client = s.client(user).await;
        for code in ["EUR", "usd"] {
            let upper = code.to_uppercase();
            check_dashboard(&client, range.clone(), json!({ "currency": code }), |d| {
                d.currency == upper
            })
            .await;
        }
    }
    let client = s.client(s.rep).await;
    let res = client
        .try_run(DASHBOARD, json!({ "currency": "euro" }))
        .await;
    let ext = serde_json::to_value(&res.errors[0].extensions).unwrap();
    assert_eq!(ext["code"], "BAD_USER_INPUT");
    assert!(ext.to_string().contains("currency"), "{ext}");
}

/// A sales rep named `name` in `team`, added to `org`.
fn rep(org: &mut Org, name: &str, team: Uuid) -> Uuid {
    org.user()
        .name(name)
        .role(Role::SalesRep)
        .team(team)
        .add()
        .id
}

/// Reps also see the amounts of their teammates' deals.
const TEAMMATES_AMOUNTS: &str = "
# Edited: reps also see the amounts of their teammates' deals.
has_permission(user: User, \"read:amount\", deal: Deal) if
    user.role = \"sales_rep\" and deal.in_team_of(user);
";

#[tokio::test]
async fn letting_reps_read_teammates_amounts_changes_the_reps_sums() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let east = org.team().name("East").add().id;
    let west = org.team().name("West").add().id;
    let rae = rep(&mut org, "Rae", east);
    let ray = rep(&mut org, "Ray", east);
    let wes = rep(&mut org, "Wes", west);
    let acme = org.company().name("Acme").owner(ray).add().id;
    for (title, owner, cents, stage) in [
        ("Rae's", rae, 10_000, DealStage::Proposal),
        ("Ray's", ray, 20_000, DealStage::Proposal),
        ("Ray's win", ray, 30_000, DealStage::ClosedWon),
        ("Wes's", wes, 40_000, DealStage::Proposal),
    ] {
        org.deal()
            .title(title)
            .owner(owner)
            .company(acme)
            .amount_cents(cents)
            .stage(stage)
            .closed_on(stage.is_closed().then(as_of))
            .expected_close(as_of() + Days::new(2))
            .add();
    }
    org.insert(&app.db).await.expect("insert");
    let rae_model = org.find_user(rae).unwrap().clone();

    let default_client = Client::new(&app.state, &rae_model).await;
    let edited_state = AppState::with_authorizer(
        app.db.clone(),
        (*app.state.config).clone(),
        edited_policy("deal.polar", "", TEAMMATES_AMOUNTS),
    )
    .expect("state");
    let edited_client = Client::new(&edited_state, &rae_model).await;

    let proposal = |v: &Value| {
        v["pipeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "PROPOSAL")
            .cloned()
            .unwrap()
    };
    let before = default_client.run(PIPELINE, json!({})).await;
    let after = edited_client.run(PIPELINE, json!({})).await;
    // Same rows (Wes's deal is still not readable), more amounts.
    assert_eq!(
        proposal(&before),
        json!({ "stage": "PROPOSAL", "count": 2, "totalAmount": "100.00", "weightedAmount": "50.00" })
    );
    assert_eq!(
        proposal(&after),
        json!({ "stage": "PROPOSAL", "count": 2, "totalAmount": "300.00", "weightedAmount": "150.00" })
    );

    let range = json!({ "range": { "asOf": as_of().to_string() } });
    let panels = "query($range: DashboardRange) { dashboard(range: $range) {
        revenue { thisMonth thisMonthDeals }
        topCompanies { name wonAmount }
        repPerformance { ownerName won amountWon }
        closingSoon { totalCount totalAmount }
    } }";
    let before = default_client.run(panels, range.clone()).await;
    let after = edited_client.run(panels, range).await;
    // Ties on the (visible) won amount go to the most deals won.
    insta::assert_json_snapshot!(
        "teammates_amounts_dashboards",
        json!({ "default_policy": before["dashboard"], "edited_policy": after["dashboard"] })
    );
}

#[tokio::test]
async fn reports_need_a_signed_in_user_and_valid_ranges() {
    let s = seeded().await;
    let (_, json) = s
        .app
        .gql(None, "{ pipeline { stage count } }", Value::Null)
        .await;
    assert_eq!(crate::helpers::error_code(&json), Some("UNAUTHENTICATED"));

    let client = s.client(s.rep).await;
    for (range, field) in [
        (json!({ "months": 0 }), "range.months"),
        (json!({ "months": 61 }), "range.months"),
        (
            json!({ "closingWithinDays": -1 }),
            "range.closingWithinDays",
        ),
    ] {
        let res = client
            .try_run(
                "query($r: DashboardRange) { dashboard(range: $r) { asOf } }",
                json!({ "r": range }),
            )
            .await;
        let err = res.errors.first().expect("an error");
        let ext = serde_json::to_value(&err.extensions).unwrap();
        assert_eq!(ext["code"], "BAD_USER_INPUT", "{range}");
        assert!(ext.to_string().contains(field), "{ext}");
    }
    // Without a range: today, in UTC.
    let got = client.run("{ dashboard { asOf } }", Value::Null).await;
    assert_eq!(
        got["dashboard"]["asOf"],
        chrono::Utc::now().date_naive().to_string()
    );
}

/// Rows of the totals tables (`deal_totals`, `deal_won_months`) that differ from the same
/// totals computed from `deals` now, both ways (groups emptied by the writes are left at
/// zero and ignored).
async fn totals_out_of_step(app: &TestApp) -> i64 {
    use sea_orm::ConnectionTrait;
    let backend = app.backend();
    let month = match backend {
        sea_orm::DbBackend::Postgres => "to_char(actual_close_date, 'YYYY-MM')",
        _ => "substr(actual_close_date, 1, 7)",
    };
    let sums = "COUNT(*), SUM(amount_cents / 100000000), SUM(amount_cents % 100000000), \
        SUM((amount_cents / 100000000) * probability), \
        SUM((amount_cents % 100000000) * probability)";
    let kept = "deals, cents_hi, cents_lo, weighted_hi, weighted_lo";
    let tables = [
        (
            "deal_totals",
            "owner_id, stage, currency, source".to_owned(),
            "owner_id, stage, currency, COALESCE(source, '')".to_owned(),
            "true".to_owned(),
        ),
        (
            "deal_won_months",
            "owner_id, currency, month".to_owned(),
            format!("owner_id, currency, {month}"),
            "stage = 'closed_won' AND actual_close_date IS NOT NULL".to_owned(),
        ),
        (
            "deal_won_companies",
            "owner_id, currency, company_id".to_owned(),
            "owner_id, currency, company_id".to_owned(),
            "stage = 'closed_won'".to_owned(),
        ),
    ];
    let mut out = 0;
    for (table, key, key_of_deals, only) in tables {
        let grouped = format!(
            "SELECT {key_of_deals}, {sums} FROM deals WHERE {only} GROUP BY {key_of_deals}"
        );
        let kept = format!("SELECT {key}, {kept} FROM {table} WHERE deals <> 0");
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM ({kept} EXCEPT {grouped}) a) \
             + (SELECT COUNT(*) FROM ({grouped} EXCEPT {kept}) b) AS n"
        );
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(backend, sql))
            .await
            .expect("compare totals")
            .expect("a row");
        out += row.try_get::<i64>("", "n").expect("n");
    }
    out
}

#[tokio::test]
async fn the_pipeline_stays_exact_through_every_kind_of_write() {
    let s = seeded().await;
    let admin = s.client(s.admin).await;
    let rep_team = s.org.team_of(s.rep);
    let shared_with_rep = |deal: Uuid| {
        s.org
            .shares
            .iter()
            .any(|sh| sh.deal_id == deal && sh.user_id == s.rep)
    };
    let pick = |pred: &dyn Fn(&entity::deal::Model) -> bool| {
        s.org
            .deals
            .iter()
            .filter(|d| pred(d) && !shared_with_rep(d.id))
            .map(|d| (d.id, d.owner_id))
            .next()
            .expect("a deal")
    };
    let (teammates, teammate) =
        pick(&|d| d.owner_id != s.rep && s.org.team_of(d.owner_id) == rep_team);
    let (outside, _) = pick(&|d| d.owner_id != s.rep && s.org.team_of(d.owner_id) != rep_team);
    let (own, _) = pick(&|d| d.owner_id == s.rep);
    let (doomed, _) =
        pick(&|d| s.org.team_of(d.owner_id) == rep_team && ![teammates, own].contains(&d.id));
    let other_team = s
        .org
        .teams
        .iter()
        .map(|t| t.id)
        .find(|t| Some(*t) != rep_team)
        .expect("another team");
    let seeded_share = s
        .org
        .shares
        .iter()
        .find(|sh| sh.user_id == s.rep)
        .map(|sh| sh.deal_id)
        .expect("a share with the rep");
    let company = s.org.deals[0].company_id;
    assert_eq!(totals_out_of_step(&s.app).await, 0, "after seeding");

    let created = admin
        .run(
            "mutation($c: ID!) { createDeal(input: { companyId: $c, title: \"New\", \
             amount: \"4321.09\", currency: \"CHF\", stage: PROPOSAL }) { id } }",
            json!({ "c": company }),
        )
        .await["createDeal"]["id"]
        .clone();
    let writes = [
        (
            "mutation($d: ID!, $o: ID!) { reassignDeal(id: $d, ownerId: $o) { id } }",
            json!({ "d": created, "o": s.rep }),
        ),
        (
            "mutation($d: ID!) { updateDeal(id: $d, input: { amount: \"123.45\", currency: \"GBP\", source: EVENT }) { id } }",
            json!({ "d": own }),
        ),
        (
            "mutation($d: ID!) { moveDeal(id: $d, stage: CLOSED_WON) { id } }",
            json!({ "d": teammates }),
        ),
        (
            "mutation($d: ID!, $u: ID!) { shareDeal(id: $d, userId: $u, permission: EDIT) { id } }",
            json!({ "d": teammates, "u": s.rep }),
        ),
        (
            "mutation($d: ID!, $u: ID!) { shareDeal(id: $d, userId: $u, permission: VIEW) { id } }",
            json!({ "d": outside, "u": s.rep }),
        ),
        (
            "mutation($d: ID!, $u: ID!) { unshareDeal(id: $d, userId: $u) { id } }",
            json!({ "d": seeded_share, "u": s.rep }),
        ),
        (
            "mutation($d: ID!) { deleteDeal(id: $d) }",
            json!({ "d": doomed }),
        ),
    ];
    for (mutation, vars) in writes {
        admin.run(mutation, vars.clone()).await;
        assert_eq!(
            totals_out_of_step(&s.app).await,
            0,
            "after {mutation} {vars}"
        );
    }
    // A hand-written statement is summed too (the triggers, not the API, keep the totals).
    s.app
        .raw(
            "UPDATE deals SET stage = 'negotiation', probability = 80, amount_cents = amount_cents + 7 WHERE id = $1",
            vec![outside.into()],
        )
        .await
        .expect("raw update");
    assert_eq!(totals_out_of_step(&s.app).await, 0, "after a raw update");
    // The won deal's close moves to an earlier month.
    let earlier = month_start(as_of()) - Days::new(40);
    s.app
        .raw(
            "UPDATE deals SET actual_close_date = $2 WHERE id = $1",
            vec![teammates.into(), earlier.into()],
        )
        .await
        .expect("raw update of the close date");
    assert_eq!(
        totals_out_of_step(&s.app).await,
        0,
        "after moving a close date"
    );
    let check = async || {
        for user in [s.rep, s.manager, s.admin] {
            let client = s.client(user).await;
            let deals = listed_deals(&client, Value::Null).await;
            let refs: Vec<&Listed> = deals.iter().collect();
            let got = client.run(PIPELINE, json!({})).await;
            assert_eq!(
                got["pipeline"],
                stage_rows(&refs, &STAGES),
                "{:?}",
                client.actor.role
            );
            // The list's count is added up from the same totals.
            let count = client
                .run("{ deals(first: 1) { totalCount } }", json!({}))
                .await;
            assert_eq!(
                count["deals"]["totalCount"],
                json!(deals.len()),
                "{:?}",
                client.actor.role
            );
            // Every panel, those added up from the totals (conversion, per rep, per source,
            // open stages) among them.
            let range = json!({ "asOf": as_of().to_string() });
            check_dashboard(&client, range, json!({}), |_| true).await;
        }
    };
    check().await;
    // The rep now reads the teammate's amount (shared to edit) and the outside deal.
    let rep = s.client(s.rep).await;
    let listed = listed_deals(&rep, Value::Null).await;
    assert!(
        listed
            .iter()
            .any(|d| d.id == teammates && d.amount.is_some())
    );
    assert!(listed.iter().any(|d| d.id == outside));
    // Moving the teammate to another team takes their deals out of the rep's totals at once
    // (teams are read when the report runs, not stored with the totals).
    admin
        .run(
            "mutation($u: ID!, $t: ID!) { updateUser(id: $u, input: { teamId: $t }) { id } }",
            json!({ "u": teammate, "t": other_team }),
        )
        .await;
    check().await;
}

/// The top companies are ranked in the database from the won-companies totals, the
/// companies a share changes read first: a team company with one cent of the rep's own
/// business, lifted to the top by a deal shared from another team, keeps both deals. With
/// a policy under which another team's companies are unreadable, the first rows read are
/// mostly those: the ranking reads further until ten readable companies are found.
#[tokio::test]
async fn top_companies_rank_exactly_past_shares_and_unreadable_companies() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let east = org.team().name("East").add().id;
    let west = org.team().name("West").add().id;
    let rae = rep(&mut org, "Rae", east);
    let wes = rep(&mut org, "Wes", west);
    let won = |org: &mut Org, owner: Uuid, company: Uuid, cents: i64| {
        org.deal()
            .title("Won")
            .owner(owner)
            .company(company)
            .amount_cents(cents)
            .stage(DealStage::ClosedWon)
            .closed_on(as_of())
            .add()
            .id
    };
    // Rae's own business: 15 of her team's companies (10.00 … 150.00), 15 of the other
    // team's (10,000.00 … 10,140.00), and one cent with "East 15".
    for i in 0..15_i64 {
        let e = org.company().name(format!("East {i}")).owner(rae).add().id;
        won(&mut org, rae, e, (i + 1) * 1_000);
        let w = org.company().name(format!("West {i}")).owner(wes).add().id;
        won(&mut org, rae, w, 1_000_000 + i * 1_000);
    }
    let tiny = org.company().name("East 15").owner(rae).add().id;
    won(&mut org, rae, tiny, 1);
    // Wes's 500,000.00 deal with that company, shared with Rae to edit.
    let big = won(&mut org, wes, tiny, 50_000_000);
    org.share(big, rae).permission(SharePermission::Edit).add();
    // Nine more of Wes's deals shared with Rae, worth cents: changed companies that rank
    // below everything else (and must not fill the list while better ones are unread).
    for i in 16..25_i64 {
        let e = org.company().name(format!("East {i}")).owner(rae).add().id;
        let deal = won(&mut org, wes, e, i - 15);
        org.share(deal, rae).permission(SharePermission::Edit).add();
    }
    org.insert(&app.db).await.expect("insert");
    let rae_model = org.find_user(rae).unwrap().clone();

    let query = "query($range: DashboardRange) { dashboard(range: $range) {
        topCompanies { name wonDeals wonAmount }
    } }";
    let range = json!({ "range": { "asOf": as_of().to_string() } });
    let top = |json: &Value| -> Vec<(String, u64, String)> {
        json["dashboard"]["topCompanies"]
            .as_array()
            .unwrap_or_else(|| panic!("{json}"))
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["wonDeals"].as_u64().unwrap(),
                    c["wonAmount"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let company =
        |name: &str, deals: u64, amount: &str| (name.to_owned(), deals, amount.to_owned());

    // Every company of a deal Rae may read is readable: East 15 first (both deals), then
    // the nine largest of the other team's.
    let client = Client::new(&app.state, &rae_model).await;
    let mut expected = vec![company("East 15", 2, "500000.01")];
    expected.extend(
        (6..15)
            .rev()
            .map(|i| company(&format!("West {i}"), 1, &format!("{}.00", 10_000 + i * 10))),
    );
    assert_eq!(top(&client.run(query, range.clone()).await), expected);

    // Companies readable only in the team: the other team's are skipped, past the first
    // rows read (the changed companies first, then the other team's fifteen and four of
    // Rae's team's, down to East 11: the ranking is exact only that far, so the rest is
    // read before the nine cent-sized companies could fill the list).
    let edited = AppState::with_authorizer(
        app.db.clone(),
        (*app.state.config).clone(),
        edited_policy(
            "company.polar",
            "has_role(user: User, \"viewer\", company: Company) if\n    company.linked_to_readable_deal(user);",
            "",
        ),
    )
    .expect("state");
    let client = Client::new(&edited, &rae_model).await;
    let mut expected = vec![company("East 15", 2, "500000.01")];
    expected.extend(
        (6..15)
            .rev()
            .map(|i| company(&format!("East {i}"), 1, &format!("{}.00", (i + 1) * 10))),
    );
    assert_eq!(top(&client.run(query, range).await), expected);
}

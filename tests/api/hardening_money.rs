//! The "report denial" finding: a rep saved a deal at `92233720368547758.07` (on PostgreSQL
//! `922337203685478` on a won deal was enough) and from then on `pipeline` and `dashboard`
//! were `INTERNAL` for that rep, their manager and every admin; on SQLite a large weighted
//! amount saturated. Now a deal amount is at most 999,999,999,999.99 (API and database), and
//! every money sum is exact however many deals reach it. Each test runs on SQLite, and on
//! PostgreSQL with `TEST_DATABASE_URL`.

use chrono::{Datelike, Months, NaiveDate, Utc};
use crm_testkit::Org;
use entity::enums::{DealSource, DealStage, Role};
use migration::{Migrator, MigratorTrait};
use sea_orm::ActiveEnum;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

/// 999,999,999,999.99 in cents.
const MAX: i64 = 99_999_999_999_999;

const CREATE: &str =
    "mutation($input: CreateDealInput!) { createDeal(input: $input) { id amount version } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateDealInput!) { updateDeal(id: $id, input: $input) { amount version } }";

/// The field and code of the first error.
fn bad_input_field(json: &Json) -> &str {
    assert_eq!(error_code(json), Some("BAD_USER_INPUT"), "{json}");
    json["errors"][0]["extensions"]["field"]
        .as_str()
        .expect("field")
}

/// Cents as the API prints money (`"123.45"`), computed without `Decimal`.
fn money(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// Cents × percent as the API prints weighted amounts: two to four decimal places.
fn weighted(cent_percent: i128) -> String {
    assert!(cent_percent >= 0);
    let c = cent_percent.unsigned_abs();
    let mut frac = format!("{:04}", c % 10_000);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{}.{frac}", c / 10_000)
}

/// `part ÷ whole` in percent, two places, half away from zero; `null` for a zero `whole`.
fn percent(part: i128, whole: i128) -> Json {
    if whole == 0 {
        return Json::Null;
    }
    let (x, w) = (part.unsigned_abs() * 10_000, whole.unsigned_abs());
    let hundredths = (2 * x + w) / (2 * w);
    let negative = (part < 0) != (whole < 0) && hundredths != 0;
    json!(money(if negative {
        -(hundredths as i128)
    } else {
        hundredths as i128
    }))
}

struct Fixture {
    app: TestApp,
    /// The rows built so far (tests add more).
    org: Org,
    rep: Uuid,
    teammate: Uuid,
    west_rep: Uuid,
    companies: Vec<Uuid>,
    rep_token: String,
    manager_token: String,
    admin_token: String,
}

/// East (manager `m`, reps `r1`, `r2`), West (`r3`, no manager), an admin; three companies
/// owned by `r1`.
async fn org() -> Fixture {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let m = org
        .user()
        .email("m@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m.id).insert(&app.db).await;
    let west = org.team().name("West").insert(&app.db).await;
    let r1 = org
        .user()
        .email("r1@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    let r2 = org
        .user()
        .email("r2@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    let r3 = org
        .user()
        .email("r3@example.com")
        .role(Role::SalesRep)
        .team(west.id)
        .insert(&app.db)
        .await;
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let mut companies = Vec::new();
    for name in ["Acme", "Globex", "Initech"] {
        companies.push(
            org.company()
                .name(name)
                .owner(r1.id)
                .insert(&app.db)
                .await
                .id,
        );
    }
    companies.sort();
    Fixture {
        rep_token: app.login("r1@example.com", PASSWORD).await.0,
        manager_token: app.login("m@example.com", PASSWORD).await.0,
        admin_token: app.login("admin@example.com", PASSWORD).await.0,
        rep: r1.id,
        teammate: r2.id,
        west_rep: r3.id,
        companies,
        app,
        org,
    }
}

fn future() -> String {
    (Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string()
}

async fn deal_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::deal::Entity::find().count(&app.db).await.unwrap()
}

/// `createDeal` of a won deal at `amount` by the rep.
async fn create_won(o: &Fixture, amount: &str) -> Json {
    let input = json!({
        "companyId": o.companies[0], "title": "Big", "amount": amount, "stage": "CLOSED_WON",
    });
    o.app
        .gql(Some(&o.rep_token), CREATE, json!({ "input": input }))
        .await
        .1
}

#[tokio::test]
async fn deal_amounts_above_the_maximum_are_bad_user_input() {
    let o = org().await;
    let create = |amount: &'static str| create_won(&o, amount);
    // The finding's values, the first cent above the maximum, a value past `i64` cents.
    for amount in [
        "92233720368547758.07",
        "922337203685478",
        "1000000000000.00",
        "999999999999.991",
        "92233720368547758.08",
        "79228162514264337593543950335",
    ] {
        let json = create(amount).await;
        assert_eq!(bad_input_field(&json), "amount", "{amount}: {json}");
        assert!(json["data"].is_null(), "{json}");
        let message = json["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("999999999999.99"), "{amount}: {message}");
    }
    let json = create("-0.01").await;
    assert_eq!(bad_input_field(&json), "amount");
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("negative")
    );
    assert_eq!(deal_count(&o.app).await, 0, "nothing written");

    // Exactly the maximum is accepted, and read back exactly.
    let json = create("999999999999.99").await;
    let created = &json["data"]["createDeal"];
    assert_eq!(created["amount"], "999999999999.99", "{json}");
    assert!(created["id"].is_string());

    // Updating: refused above the maximum, the stored amount unchanged; the maximum is fine.
    let input =
        json!({ "companyId": o.companies[0], "title": "Small", "expectedCloseDate": future() });
    let small = o
        .app
        .gql(Some(&o.rep_token), CREATE, json!({ "input": input }))
        .await
        .1;
    let small_id = small["data"]["createDeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for amount in ["92233720368547758.07", "1000000000000", "922337203685478"] {
        let json = o
            .app
            .gql(
                Some(&o.rep_token),
                UPDATE,
                json!({ "id": small_id, "input": { "amount": amount } }),
            )
            .await
            .1;
        assert_eq!(bad_input_field(&json), "amount", "{amount}: {json}");
    }
    let json = o
        .app
        .gql(
            Some(&o.rep_token),
            UPDATE,
            json!({ "id": small_id, "input": { "amount": "999999999999.99" } }),
        )
        .await
        .1;
    assert_eq!(
        json["data"]["updateDeal"]["amount"], "999999999999.99",
        "{json}"
    );
    assert_eq!(json["data"]["updateDeal"]["version"], 2, "only one write");

    // And the reports over these two maximal deals answer.
    let json = o
        .app
        .gql(
            Some(&o.rep_token),
            "{ pipeline { stage totalAmount weightedAmount } }",
            json!({}),
        )
        .await
        .1;
    assert!(json["errors"].is_null(), "{json}");
    let stages = json["data"]["pipeline"].as_array().unwrap();
    let won = stages.iter().find(|s| s["stage"] == "CLOSED_WON").unwrap();
    assert_eq!(won["totalAmount"], "999999999999.99");
    assert_eq!(won["weightedAmount"], "999999999999.99");
}

#[tokio::test]
async fn amount_filters_out_of_range_are_bad_user_input_not_internal() {
    let mut o = org().await;
    o.org
        .deal()
        .company(o.companies[0])
        .owner(o.rep)
        .title("Max")
        .amount_cents(MAX)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    let deals = "query($f: DealFilter) { deals(filter: $f) { totalCount } }";
    let pipeline = "query($f: DealFilter) { pipeline(filter: $f) { stage count } }";
    // Past `i64` cents: cannot be compared as stored, refused with the field named.
    for value in ["92233720368547758.08", "79228162514264337593543950335"] {
        for op in ["gte", "lt", "eq"] {
            for query in [deals, pipeline] {
                let json = o
                    .app
                    .gql(
                        Some(&o.rep_token),
                        query,
                        json!({ "f": { "amount": { op: value } } }),
                    )
                    .await
                    .1;
                assert_eq!(
                    bad_input_field(&json),
                    "filter.amount",
                    "{op} {value}: {json}"
                );
            }
        }
        let json = o
            .app
            .gql(
                Some(&o.rep_token),
                deals,
                json!({ "f": { "amount": { "in": ["1", value] } } }),
            )
            .await
            .1;
        assert_eq!(bad_input_field(&json), "filter.amount", "{json}");
    }
    // Above the maximum but convertible: an ordinary comparison.
    for (filter, expected) in [
        (json!({ "amount": { "lt": "92233720368547758.07" } }), 1),
        (json!({ "amount": { "gt": "999999999999.99" } }), 0),
        (json!({ "amount": { "gte": "999999999999.99" } }), 1),
    ] {
        let json = o
            .app
            .gql(Some(&o.rep_token), deals, json!({ "f": filter }))
            .await
            .1;
        assert_eq!(
            json["data"]["deals"]["totalCount"], expected,
            "{filter}: {json}"
        );
    }
}

/// Inserts a deal row below the ORM; `Err` is the database's refusal.
async fn raw_deal(
    app: &TestApp,
    company: Uuid,
    owner: Uuid,
    cents: i64,
) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    app.raw(
        "INSERT INTO deals (id, company_id, title, amount_cents, currency, stage, probability, priority, owner_id, version, created_at, updated_at) \
         VALUES ($1, $2, 'Raw', $3, 'USD', 'closed_won', 100, 'medium', $4, 1, $5, $6)",
        vec![
            id.into(),
            company.into(),
            cents.into(),
            owner.into(),
            Utc::now().into(),
            Utc::now().into(),
        ],
    )
    .await
    .map(|_| id)
}

#[tokio::test]
async fn the_database_refuses_amounts_above_the_maximum() {
    let o = org().await;
    for cents in [MAX + 1, 92_233_720_368_547_758, i64::MAX] {
        let err = raw_deal(&o.app, o.companies[0], o.rep, cents)
            .await
            .expect_err("refused by the database");
        assert!(
            err.to_string().contains("ck_deals_amount_max"),
            "{cents}: {err}"
        );
    }
    let id = raw_deal(&o.app, o.companies[0], o.rep, MAX)
        .await
        .expect("the maximum itself");
    let err = o
        .app
        .raw(
            "UPDATE deals SET amount_cents = amount_cents + 1 WHERE id = $1",
            vec![id.into()],
        )
        .await
        .expect_err("refused on update too");
    assert!(err.to_string().contains("ck_deals_amount_max"), "{err}");
    assert_eq!(deal_count(&o.app).await, 1);
}

// ---------------------------------------------------------------------------------------
// Thousands of deals at the maximum
// ---------------------------------------------------------------------------------------

/// One generated deal, as the reference sees it.
struct Row {
    company: Uuid,
    owner: Uuid,
    cents: i64,
    stage: &'static str,
    probability: i64,
    expected: Option<NaiveDate>,
    actual: Option<NaiveDate>,
    source: Option<&'static str>,
}

const STAGES: [(&str, &str, i64); 6] = [
    ("prospecting", "PROSPECTING", 10),
    ("qualification", "QUALIFICATION", 25),
    ("proposal", "PROPOSAL", 50),
    ("negotiation", "NEGOTIATION", 75),
    ("closed_won", "CLOSED_WON", 100),
    ("closed_lost", "CLOSED_LOST", 0),
];
const SOURCES: [(&str, &str); 5] = [
    ("website", "WEBSITE"),
    ("referral", "REFERRAL"),
    ("cold_call", "COLD_CALL"),
    ("event", "EVENT"),
    ("other", "OTHER"),
];

/// 3,000 deals at the maximum amount, 60 % won (this month and last), the rest spread over
/// the other stages; owned by the rep, their teammate and a rep of another team.
fn generate(o: &Fixture, as_of: NaiveDate) -> Vec<Row> {
    let last_month = as_of.checked_sub_months(Months::new(1)).unwrap();
    (0..3_000usize)
        .map(|i| {
            let owner = match i % 6 {
                0..=2 => o.rep,
                3 | 4 => o.teammate,
                _ => o.west_rep,
            };
            let (stage, probability) = match i % 10 {
                0..=5 => ("closed_won", 100),
                6 => ("closed_lost", 0),
                7 => ("prospecting", 10),
                8 => ("proposal", 50),
                _ => ("negotiation", 75),
            };
            let closed = stage.starts_with("closed");
            let actual = closed.then(|| {
                let month = if (i / 10) % 5 < 3 { as_of } else { last_month };
                month.with_day(1 + (i % 20) as u32).unwrap()
            });
            let expected = (!closed).then(|| as_of + chrono::Duration::days((i % 13) as i64));
            Row {
                company: o.companies[i % 7 % 3],
                owner,
                cents: MAX,
                stage,
                probability,
                expected,
                actual,
                source: [Some("website"), Some("referral"), Some("event"), None][i % 4],
            }
        })
        .collect()
}

/// Writes the rows, many a statement (stages and sources by their stored names).
async fn insert_rows(o: &mut Fixture, rows: &[Row]) {
    for r in rows {
        let stage = DealStage::try_from_value(&r.stage.to_owned()).expect("stage");
        let source = r
            .source
            .map(|s| DealSource::try_from_value(&s.to_owned()).expect("source"));
        o.org
            .deal()
            .company(r.company)
            .owner(r.owner)
            .title("Max")
            .amount_cents(r.cents)
            .stage(stage)
            .probability(r.probability as i16)
            .expected_close(r.expected)
            .closed_on(r.actual)
            .source(source)
            .add();
    }
    o.org.insert(&o.app.db).await.expect("bulk insert");
}

const PIPELINE: &str = "{ pipeline { stage count totalAmount weightedAmount } }";
const DASHBOARD: &str = "query($asOf: Date!) {
  dashboard(range: { asOf: $asOf, months: 2, closingWithinDays: 7 }) {
    revenue { thisMonth lastMonth change changePercent thisMonthDeals lastMonthDeals }
    closingSoon { totalCount totalAmount }
    conversion { won lost closed rate }
    revenueByMonth { month wonDeals revenue }
    openDealsByStage { stage count totalAmount weightedAmount }
    topCompanies { companyId wonDeals wonAmount }
    repPerformance { ownerId deals won lost amountWon winRate }
    dealsBySource { source count amount }
  }
}";

/// The expected `pipeline` and `dashboard` for a viewer who reads the deals of `readable`
/// owners and the amounts of `visible` owners, computed here with `i128`.
fn expected(rows: &[Row], readable: &[Uuid], visible: &[Uuid], as_of: NaiveDate) -> (Json, Json) {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| readable.contains(&r.owner))
        .collect();
    let amount = |r: &Row| -> i128 {
        if visible.contains(&r.owner) {
            i128::from(r.cents)
        } else {
            0
        }
    };
    let stage_total = |stage: &str, ui: &str| {
        let in_stage: Vec<&&Row> = rows.iter().filter(|r| r.stage == stage).collect();
        json!({
            "stage": ui,
            "count": in_stage.len(),
            "totalAmount": money(in_stage.iter().map(|r| amount(r)).sum()),
            "weightedAmount": weighted(in_stage.iter().map(|r| amount(r) * i128::from(r.probability)).sum()),
        })
    };
    let pipeline: Vec<Json> = STAGES.iter().map(|(s, ui, _)| stage_total(s, ui)).collect();
    let open: Vec<Json> = STAGES[..4]
        .iter()
        .map(|(s, ui, _)| stage_total(s, ui))
        .collect();

    let this_month = as_of.with_day(1).unwrap();
    let last_month = this_month.checked_sub_months(Months::new(1)).unwrap();
    let won: Vec<&&Row> = rows.iter().filter(|r| r.stage == "closed_won").collect();
    let won_in = |start: NaiveDate| {
        let end = start.checked_add_months(Months::new(1)).unwrap();
        let ds: Vec<&&&Row> = won
            .iter()
            .filter(|r| r.actual.is_some_and(|d| d >= start && d < end))
            .collect();
        (ds.len(), ds.iter().map(|r| amount(r)).sum::<i128>())
    };
    let (this_n, this_c) = won_in(this_month);
    let (last_n, last_c) = won_in(last_month);
    let soon: Vec<&&Row> = rows
        .iter()
        .filter(|r| {
            r.expected
                .is_some_and(|d| d >= as_of && d <= as_of + chrono::Duration::days(7))
        })
        .collect();
    let lost = rows.iter().filter(|r| r.stage == "closed_lost").count();

    let mut companies: Vec<(Uuid, usize, i128)> = Vec::new();
    for r in &won {
        match companies.iter_mut().find(|c| c.0 == r.company) {
            Some(c) => {
                c.1 += 1;
                c.2 += amount(r);
            }
            None => companies.push((r.company, 1, amount(r))),
        }
    }
    companies.retain(|c| c.2 > 0);
    companies.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));

    let mut owners: Vec<(Uuid, usize, usize, usize, i128)> = Vec::new();
    for r in &rows {
        let i = match owners.iter().position(|o| o.0 == r.owner) {
            Some(i) => i,
            None => {
                owners.push((r.owner, 0, 0, 0, 0));
                owners.len() - 1
            }
        };
        let o = &mut owners[i];
        o.1 += 1;
        if r.stage == "closed_won" {
            o.2 += 1;
            o.4 += amount(r);
        } else if r.stage == "closed_lost" {
            o.3 += 1;
        }
    }
    owners.sort_by(|a, b| b.4.cmp(&a.4).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));

    let mut sources: Vec<Json> = SOURCES
        .iter()
        .map(|(db, ui)| {
            let ds: Vec<&&Row> = rows.iter().filter(|r| r.source == Some(*db)).collect();
            json!({ "source": ui, "count": ds.len(), "amount": money(ds.iter().map(|r| amount(r)).sum()) })
        })
        .collect();
    let unsourced: Vec<&&Row> = rows.iter().filter(|r| r.source.is_none()).collect();
    if !unsourced.is_empty() {
        sources.push(json!({
            "source": null,
            "count": unsourced.len(),
            "amount": money(unsourced.iter().map(|r| amount(r)).sum()),
        }));
    }

    let dashboard = json!({
        "revenue": {
            "thisMonth": money(this_c),
            "lastMonth": money(last_c),
            "change": money(this_c - last_c),
            "changePercent": percent(this_c - last_c, last_c),
            "thisMonthDeals": this_n,
            "lastMonthDeals": last_n,
        },
        "closingSoon": {
            "totalCount": soon.len(),
            "totalAmount": money(soon.iter().map(|r| amount(r)).sum()),
        },
        "conversion": {
            "won": won.len(),
            "lost": lost,
            "closed": won.len() + lost,
            "rate": percent(won.len() as i128, (won.len() + lost) as i128),
        },
        "revenueByMonth": [
            { "month": last_month.format("%Y-%m").to_string(), "wonDeals": last_n, "revenue": money(last_c) },
            { "month": this_month.format("%Y-%m").to_string(), "wonDeals": this_n, "revenue": money(this_c) },
        ],
        "openDealsByStage": open,
        "topCompanies": companies.iter().map(|(id, n, c)| json!({
            "companyId": id.to_string(), "wonDeals": n, "wonAmount": money(*c),
        })).collect::<Vec<_>>(),
        "repPerformance": owners.iter().map(|(id, n, w, l, c)| json!({
            "ownerId": id.to_string(), "deals": n, "won": w, "lost": l,
            "amountWon": money(*c), "winRate": percent(*w as i128, (*w + *l) as i128),
        })).collect::<Vec<_>>(),
        "dealsBySource": sources,
    });
    (json!(pipeline), dashboard)
}

async fn reports(app: &TestApp, token: &str, as_of: NaiveDate) -> (Json, Json) {
    let (_, pipeline) = app.gql(Some(token), PIPELINE, json!({})).await;
    assert!(pipeline["errors"].is_null(), "{pipeline}");
    let (_, dashboard) = app
        .gql(Some(token), DASHBOARD, json!({ "asOf": as_of.to_string() }))
        .await;
    assert!(dashboard["errors"].is_null(), "{dashboard}");
    (
        pipeline["data"]["pipeline"].clone(),
        dashboard["data"]["dashboard"].clone(),
    )
}

#[tokio::test]
async fn reports_stay_exact_over_thousands_of_deals_at_the_maximum() {
    let mut o = org().await;
    let as_of = NaiveDate::from_ymd_opt(2026, 3, 25).unwrap();
    let rows = generate(&o, as_of);
    insert_rows(&mut o, &rows).await;
    assert_eq!(deal_count(&o.app).await, 3_000);

    // The sums this data produces are past what a 64-bit sum holds.
    let won_weighted: i128 = rows
        .iter()
        .filter(|r| r.stage == "closed_won")
        .map(|r| i128::from(r.cents) * 100)
        .sum();
    assert!(won_weighted > i128::from(i64::MAX), "{won_weighted}");

    let everyone = [o.rep, o.teammate, o.west_rep];
    let east = [o.rep, o.teammate];
    for (who, token, readable, visible) in [
        ("rep", &o.rep_token, &east[..], &[o.rep][..]),
        ("manager", &o.manager_token, &east[..], &east[..]),
        ("admin", &o.admin_token, &everyone[..], &everyone[..]),
    ] {
        let (pipeline, dashboard) = reports(&o.app, token, as_of).await;
        let (want_pipeline, want_dashboard) = expected(&rows, readable, visible, as_of);
        assert_eq!(pipeline, want_pipeline, "{who}: pipeline");
        for (panel, want) in want_dashboard.as_object().unwrap() {
            assert_eq!(&dashboard[panel], want, "{who}: {panel}");
        }
    }
    // The admin's won column, spelled out: 1,800 deals × 999,999,999,999.99.
    let (pipeline, _) = reports(&o.app, &o.admin_token, as_of).await;
    assert_eq!(pipeline[4]["stage"], "CLOSED_WON");
    assert_eq!(pipeline[4]["count"], 1_800);
    assert_eq!(pipeline[4]["totalAmount"], "1799999999999982.00");
    assert_eq!(pipeline[4]["weightedAmount"], "1799999999999982.00");

    // The process is fine afterwards: health, an ordinary list, a write.
    let (status, _, _) = o
        .app
        .request(
            axum::http::Request::get("/healthz")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::OK);
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep_token),
            "{ deals(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(json["data"]["deals"]["totalCount"], 2_500, "{json}");
    let input = json!({ "companyId": o.companies[0], "title": "After", "amount": "1.00", "expectedCloseDate": future() });
    let (_, json) = o
        .app
        .gql(Some(&o.rep_token), CREATE, json!({ "input": input }))
        .await;
    assert_eq!(json["data"]["createDeal"]["amount"], "1.00", "{json}");
}

/// Deals stored above the limit before it existed (the attacker's rows survive the
/// migration, see `ck_deals_amount_max`): the reports still answer, exactly, and writing
/// such a deal again asks for a lower amount instead of failing with `INTERNAL`.
#[tokio::test]
async fn reports_sum_oversized_amounts_stored_before_the_limit() {
    let o = org().await;
    // Down past the limit and every migration after it.
    let steps = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name().contains("add_deal_amount_max"))
        .expect("the amount limit migration")
        + 1;
    Migrator::down(&o.app.db, Some(steps as u32))
        .await
        .expect("back to before the limit");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            raw_deal(&o.app, o.companies[0], o.rep, i64::MAX)
                .await
                .expect("no limit yet"),
        );
    }
    Migrator::up(&o.app.db, None).await.expect("migrate");

    let five = 5 * i128::from(i64::MAX);
    for token in [&o.rep_token, &o.manager_token, &o.admin_token] {
        let (_, json) = o.app.gql(Some(token), PIPELINE, json!({})).await;
        assert!(json["errors"].is_null(), "{json}");
        let won = &json["data"]["pipeline"][4];
        assert_eq!(won["stage"], "CLOSED_WON");
        assert_eq!(won["totalAmount"], money(five), "{json}");
        assert_eq!(won["weightedAmount"], weighted(five * 100), "{json}");
        let (_, json) = o
            .app
            .gql(
                Some(token),
                "{ dashboard { topCompanies { wonAmount } repPerformance { amountWon } } }",
                json!({}),
            )
            .await;
        assert!(json["errors"].is_null(), "{json}");
        assert_eq!(
            json["data"]["dashboard"]["topCompanies"][0]["wonAmount"],
            money(five)
        );
        assert_eq!(
            json["data"]["dashboard"]["repPerformance"][0]["amountWon"],
            money(five)
        );
    }

    // Renaming the deal leaves its amount as is, above the limit: refused, with the field.
    let json = o
        .app
        .gql(
            Some(&o.rep_token),
            UPDATE,
            json!({ "id": ids[0], "input": { "title": "Renamed" } }),
        )
        .await
        .1;
    assert_eq!(bad_input_field(&json), "amount", "{json}");
    let json = o
        .app
        .gql(
            Some(&o.rep_token),
            UPDATE,
            json!({ "id": ids[0], "input": { "title": "Renamed", "amount": "999999999999.99" } }),
        )
        .await
        .1;
    assert_eq!(
        json["data"]["updateDeal"]["amount"], "999999999999.99",
        "{json}"
    );
}

//! Deals: reads scoped by the policy in SQL, each row carrying its facts so per-row and
//! per-field decisions are table lookups.

use chrono::{NaiveDate, Utc};
use entity::enums::{DealSource, DealStage, Priority, SharePermission};
use entity::{company, contact, deal, deal_share, user};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use crate::authz::{
    CompanyAction, ContactAction, DealAction, DealFacts, FACTS_COLUMN, Fact, FactMask, Kind, Viewer,
};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::db_error::{Parent, write_error};
use crate::service::list::{
    CursorKind, CursorValue, Page, PageArgs, SortKey, WithFacts, fetch_page,
};
use crate::service::{Deps, begin_write, check_version, record, require_allowed};

/// A deal as the viewer sees it: the row and its facts.
pub type DealRow = WithFacts<deal::Model>;

/// What a deals list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealSort {
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Title.
    Title,
    /// Amount (only amounts the viewer may read; hidden ones sort as empty).
    Amount,
    /// Pipeline order of the stage.
    Stage,
    /// Expected close date.
    ExpectedCloseDate,
}

/// A `deals` column, table-qualified (subqueries of the policy scope use other aliases).
pub fn col(c: deal::Column) -> SimpleExpr {
    Expr::col((Alias::new("deals"), c))
}

/// The amount as the viewer may see it: `amount_cents` where the policy lets them read it,
/// NULL elsewhere. Filters and sorts on amount use this, so they reveal nothing hidden.
pub fn visible_amount(deps: &Deps, viewer: &Viewer) -> SimpleExpr {
    let cond = deps.authz.field_condition(viewer, DealAction::ReadAmount);
    Expr::case(cond, col(deal::Column::AmountCents))
        .finally(Expr::val(Option::<i64>::None))
        .into()
}

/// Pipeline position of the stage column (1 = prospecting … 6 = closed lost).
fn stage_rank() -> SimpleExpr {
    let mut case = Expr::case(
        Expr::expr(col(deal::Column::Stage)).eq("prospecting"),
        Expr::val(1),
    );
    for (i, s) in [
        "qualification",
        "proposal",
        "negotiation",
        "closed_won",
        "closed_lost",
    ]
    .iter()
    .enumerate()
    {
        case = case.case(
            Expr::expr(col(deal::Column::Stage)).eq(*s),
            Expr::val(i as i32 + 2),
        );
    }
    case.finally(Expr::val(99)).into()
}

fn stage_rank_of(stage: DealStage) -> i64 {
    DealStage::ALL
        .iter()
        .position(|s| *s == stage)
        .map_or(99, |p| p as i64 + 1)
}

/// The base query: readable deals with their facts.
pub fn readable(deps: &Deps, viewer: &Viewer) -> Select<deal::Entity> {
    deal::Entity::find()
        .filter(deps.authz.scope(viewer, DealAction::Read))
        .column_as(deps.authz.facts_expr(viewer, Kind::Deal), FACTS_COLUMN)
}

/// Whether the viewer may read this row's amount.
pub fn can_read_amount(deps: &Deps, viewer: &Viewer, facts: FactMask) -> bool {
    deps.authz
        .decide(viewer.role, DealAction::ReadAmount, facts)
}

/// One page of the deals the viewer may read, matching `filter`, in `order` (then id).
pub async fn list(
    deps: &Deps,
    viewer: &Viewer,
    filter: Condition,
    order: &[(DealSort, bool)],
    page: &PageArgs,
) -> ApiResult<Page<DealRow>> {
    let order: Vec<(DealSort, bool)> = if order.is_empty() {
        vec![(DealSort::CreatedAt, true)]
    } else {
        order.to_vec()
    };
    let amount = visible_amount(deps, viewer);
    let mut keys: Vec<SortKey> = order
        .iter()
        .map(|(field, desc)| match field {
            DealSort::CreatedAt => SortKey::column(deal::Column::CreatedAt, *desc),
            DealSort::UpdatedAt => SortKey::column(deal::Column::UpdatedAt, *desc),
            DealSort::Title => SortKey::column(deal::Column::Title, *desc),
            DealSort::Amount => SortKey::new(amount.clone(), CursorKind::Int, *desc),
            DealSort::Stage => SortKey::new(stage_rank(), CursorKind::Int, *desc),
            DealSort::ExpectedCloseDate => SortKey::column(deal::Column::ExpectedCloseDate, *desc),
        })
        .collect();
    keys.push(SortKey::column(deal::Column::Id, false));
    let select = readable(deps, viewer).filter(filter);
    fetch_page(&deps.db, select, &keys, page, |row: &DealRow| {
        let m = &row.model;
        let mut values: Vec<CursorValue> = order
            .iter()
            .map(|(field, _)| match field {
                DealSort::CreatedAt => CursorValue::Ts(m.created_at),
                DealSort::UpdatedAt => CursorValue::Ts(m.updated_at),
                DealSort::Title => CursorValue::Str(m.title.clone()),
                DealSort::Amount => {
                    if can_read_amount(deps, viewer, row.facts) {
                        CursorValue::Int(m.amount_cents)
                    } else {
                        CursorValue::Null
                    }
                }
                DealSort::Stage => CursorValue::Int(stage_rank_of(m.stage)),
                DealSort::ExpectedCloseDate => m
                    .expected_close_date
                    .map_or(CursorValue::Null, CursorValue::Date),
            })
            .collect();
        values.push(CursorValue::Uuid(m.id));
        values
    })
    .await
}

/// How many deals the viewer may read match `filter` (the `totalCount` of the list).
pub async fn count(deps: &Deps, viewer: &Viewer, filter: Condition) -> ApiResult<u64> {
    Ok(deal::Entity::find()
        .filter(deps.authz.aggregate_scope(viewer, DealAction::Read))
        .filter(filter)
        .count(&deps.db)
        .await?)
}

/// One deal the viewer may read; unreadable and missing are the same `NOT_FOUND`.
pub async fn get(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<DealRow> {
    record::find::<deal::Entity>(deps, viewer, &deps.db, id).await
}

/// Readable deals among `ids` (for relation loaders).
pub async fn by_ids(deps: &Deps, viewer: &Viewer, ids: &[Uuid]) -> ApiResult<Vec<DealRow>> {
    Ok(readable(deps, viewer)
        .filter(deal::Column::Id.is_in(ids.iter().copied()))
        .into_model::<DealRow>()
        .all(&deps.db)
        .await?)
}

// ---------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------

/// Active ISO 4217 currency codes.
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL";

/// Normalises and checks an ISO 4217 code.
fn currency(code: &str, errors: &mut Vec<FieldError>) -> String {
    let code = code.trim().to_uppercase();
    if code.len() != 3 || !CURRENCIES.split(' ').any(|c| c == code) {
        errors.push(FieldError::new(
            "currency",
            "is not an ISO 4217 currency code",
        ));
    }
    code
}

fn title(t: &str, errors: &mut Vec<FieldError>) -> String {
    let t = t.trim().to_owned();
    if t.is_empty() || t.chars().count() > 200 {
        errors.push(FieldError::new(
            "title",
            "is required (at most 200 characters)",
        ));
    }
    t
}

/// A deal amount as cents (see [`crate::service::money::deal_amount`]: not negative, at
/// most two decimal places, at most 999,999,999,999.99).
fn amount(a: &rust_decimal::Decimal, errors: &mut Vec<FieldError>) -> i64 {
    match crate::service::money::deal_amount(a, "amount") {
        Ok(c) => c,
        Err(ApiError::BadUserInput(mut e)) => {
            errors.append(&mut e);
            0
        }
        Err(_) => 0,
    }
}

/// The error of rewriting a deal row. A deal stored above the maximum amount before
/// `ck_deals_amount_max` existed is refused by the database on any update that leaves the
/// amount as it is (PostgreSQL checks the whole new row; the SQLite trigger does the same):
/// that is `BAD_USER_INPUT` on `amount`, asking for a lower one, not `INTERNAL`.
fn amount_limit(err: sea_orm::DbErr) -> ApiError {
    if is_amount_limit(&err) {
        ApiError::bad_input(
            "amount",
            format!(
                "must be at most {}: this deal's stored amount is above it, set a lower one",
                crate::service::money::max_amount()
            ),
        )
    } else {
        ApiError::from(err)
    }
}

/// Whether the database refused a deal row for its amount (`ck_deals_amount_max`).
fn is_amount_limit(err: &sea_orm::DbErr) -> bool {
    err.to_string().contains("ck_deals_amount_max")
}

/// `createDeal` input.
pub struct NewDeal {
    /// Company (required, readable by the viewer).
    pub company_id: Uuid,
    /// Main contact (readable, of the same company).
    pub contact_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Amount; `None` is zero.
    pub amount: Option<rust_decimal::Decimal>,
    /// ISO 4217; `None` is USD.
    pub currency: Option<String>,
    /// Stage; `None` is prospecting.
    pub stage: Option<DealStage>,
    /// Expected close date: in the future.
    pub expected_close_date: Option<NaiveDate>,
    /// Source.
    pub source: Option<DealSource>,
    /// Priority; `None` is medium.
    pub priority: Option<Priority>,
    /// Notes.
    pub notes: Option<String>,
    /// Owner; `None` is the actor.
    pub owner_id: Option<Uuid>,
}

/// `updateDeal` input: `None` leaves a field unchanged; `Some(None)` clears it.
#[derive(Default)]
pub struct DealChanges {
    /// Title.
    pub title: Option<String>,
    /// Amount.
    pub amount: Option<rust_decimal::Decimal>,
    /// Currency.
    pub currency: Option<String>,
    /// Stage (as `moveDeal`).
    pub stage: Option<DealStage>,
    /// Expected close date.
    pub expected_close_date: Option<Option<NaiveDate>>,
    /// Source.
    pub source: Option<Option<DealSource>>,
    /// Priority.
    pub priority: Option<Priority>,
    /// Notes.
    pub notes: Option<Option<String>>,
    /// Contact.
    pub contact_id: Option<Option<Uuid>>,
    /// The version the client last saw.
    pub expected_version: Option<i32>,
}

/// Checks that a company (and contact) exist *and are readable*; anything else reads as
/// "no such" so existence is not revealed.
async fn check_links(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    company_id: Uuid,
    contact_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> ApiResult<()> {
    let company_ok = company::Entity::find_by_id(company_id)
        .filter(deps.authz.scope(viewer, CompanyAction::Read))
        .one(db)
        .await?
        .is_some();
    if !company_ok {
        errors.push(FieldError::new("companyId", "no such company"));
    }
    if let Some(contact_id) = contact_id {
        match contact::Entity::find_by_id(contact_id)
            .filter(deps.authz.scope(viewer, ContactAction::Read))
            .one(db)
            .await?
        {
            None => errors.push(FieldError::new("contactId", "no such contact")),
            Some(c) if c.company_id.is_some_and(|id| id != company_id) => errors.push(
                FieldError::new("contactId", "belongs to another company than the deal"),
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The team of an active user, or a BAD_USER_INPUT on `field`.
async fn active_user_team(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> ApiResult<Option<Uuid>> {
    match user::Entity::find_by_id(user_id).one(db).await? {
        Some(u) if u.active => Ok(u.team_id),
        _ => {
            errors.push(FieldError::new(field, "no such active user"));
            Ok(None)
        }
    }
}

/// The deal a share belongs to: gone meanwhile is the deal `NOT_FOUND`.
const DEAL_OF_SHARE: Parent = Parent::Target {
    constraint: "fk_deal_shares_deal_id",
    entity: "Deal",
};

/// The links a deal write sets, for [`write_error`].
fn links_of_deal(company: Option<Uuid>, contact: Option<Uuid>) -> Vec<Parent> {
    let mut links = Vec::new();
    if company.is_some() {
        links.push(Parent::Link {
            constraint: "fk_deals_company_id",
            field: "companyId",
            what: "company",
        });
    }
    if contact.is_some() {
        links.push(Parent::Link {
            constraint: "fk_deals_contact_id",
            field: "contactId",
            what: "contact",
        });
    }
    links
}

/// `createDeal`.
pub async fn create(deps: &Deps, viewer: &Viewer, input: NewDeal) -> ApiResult<DealRow> {
    let txn = begin_write(deps).await?;
    let mut errors = Vec::new();
    // Validate.
    let owner_id = input.owner_id.unwrap_or(viewer.user_id);
    let owner_team = active_user_team(&txn, owner_id, "ownerId", &mut errors).await?;
    let title = title(&input.title, &mut errors);
    let cents = input.amount.as_ref().map_or(0, |a| amount(a, &mut errors));
    let currency = currency(input.currency.as_deref().unwrap_or("USD"), &mut errors);
    let today = Utc::now().date_naive();
    if input.expected_close_date.is_some_and(|d| d <= today) {
        errors.push(FieldError::new(
            "expectedCloseDate",
            "must be in the future",
        ));
    }
    check_links(
        deps,
        viewer,
        &txn,
        input.company_id,
        input.contact_id,
        &mut errors,
    )
    .await?;
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    // Authorize the deal as it would be.
    let facts = viewer.facts(&DealFacts {
        owner_id,
        owner_team_id: owner_team,
        share: None,
    });
    require_allowed(deps, viewer, DealAction::Create, facts)?;
    if input.amount.is_some()
        && !deps
            .authz
            .decide(viewer.role, DealAction::UpdateAmount, facts)
    {
        return Err(ApiError::Forbidden {
            field: Some("amount".into()),
        });
    }
    // Act.
    let stage = input.stage.unwrap_or(DealStage::Prospecting);
    let now = Utc::now();
    let id = Uuid::new_v4();
    deal::ActiveModel {
        id: Set(id),
        company_id: Set(input.company_id),
        contact_id: Set(input.contact_id),
        title: Set(title),
        amount_cents: Set(cents),
        currency: Set(currency),
        stage: Set(stage),
        probability: Set(stage.probability()),
        expected_close_date: Set(input.expected_close_date),
        actual_close_date: Set(stage.is_closed().then_some(today)),
        source: Set(input.source),
        priority: Set(input.priority.unwrap_or(Priority::Medium)),
        notes: Set(input
            .notes
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())),
        owner_id: Set(owner_id),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| write_error(e, &links_of_deal(Some(input.company_id), input.contact_id)))?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "deal.created", user_id = %viewer.user_id, deal_id = %id, "deal created");
    get(deps, viewer, id).await
}

/// The stage columns for a move: probability follows, closing dates the close.
fn apply_stage(am: &mut deal::ActiveModel, current: &deal::Model, stage: DealStage) {
    am.stage = Set(stage);
    am.probability = Set(stage.probability());
    if stage.is_closed() && !current.stage.is_closed() {
        am.actual_close_date = Set(Some(Utc::now().date_naive()));
    } else if !stage.is_closed() {
        am.actual_close_date = Set(None);
    }
}

/// `updateDeal`.
pub async fn update(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    changes: DealChanges,
) -> ApiResult<DealRow> {
    let txn = begin_write(deps).await?;
    // Load and authorize.
    let row = record::load_for::<deal::Entity>(deps, viewer, &txn, id, DealAction::Update).await?;
    check_version(changes.expected_version, row.model.version)?;
    if changes.amount.is_some()
        && !deps
            .authz
            .decide(viewer.role, DealAction::UpdateAmount, row.facts)
    {
        return Err(ApiError::Forbidden {
            field: Some("amount".into()),
        });
    }
    // Validate.
    let current = &row.model;
    let mut errors = Vec::new();
    let mut am = deal::ActiveModel {
        id: Unchanged(id),
        ..Default::default()
    };
    if let Some(t) = &changes.title {
        am.title = Set(title(t, &mut errors));
    }
    if let Some(a) = &changes.amount {
        am.amount_cents = Set(amount(a, &mut errors));
    }
    if let Some(c) = &changes.currency {
        am.currency = Set(currency(c, &mut errors));
    }
    if let Some(contact) = changes.contact_id {
        if contact.is_some() {
            check_links(deps, viewer, &txn, current.company_id, contact, &mut errors).await?;
        }
        am.contact_id = Set(contact);
    }
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    if let Some(stage) = changes.stage {
        apply_stage(&mut am, current, stage);
    }
    if let Some(d) = changes.expected_close_date {
        am.expected_close_date = Set(d);
    }
    if let Some(s) = changes.source {
        am.source = Set(s);
    }
    if let Some(p) = changes.priority {
        am.priority = Set(p);
    }
    if let Some(n) = changes.notes {
        am.notes = Set(n.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()));
    }
    // Act.
    let links = links_of_deal(None, changes.contact_id.flatten());
    record::write_versioned(&txn, id, current.version, am, |e| {
        if is_amount_limit(&e) {
            amount_limit(e)
        } else {
            write_error(e, &links)
        }
    })
    .await?;
    txn.commit().await?;
    tracing::info!(target: "audit", event = "deal.updated", user_id = %viewer.user_id, deal_id = %id, "deal updated");
    get(deps, viewer, id).await
}

/// `moveDeal`: a stage change (probability and close date follow).
pub async fn move_to(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    stage: DealStage,
    expected_version: Option<i32>,
) -> ApiResult<DealRow> {
    update(
        deps,
        viewer,
        id,
        DealChanges {
            stage: Some(stage),
            expected_version,
            ..Default::default()
        },
    )
    .await
}

/// `reassignDeal`: allowed when the policy allows `reassign` on the deal both as it is and
/// as it would be with the new owner (so managers reassign only within their teams).
pub async fn reassign(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    new_owner: Uuid,
    expected_version: Option<i32>,
) -> ApiResult<DealRow> {
    let txn = begin_write(deps).await?;
    let row =
        record::load_for::<deal::Entity>(deps, viewer, &txn, id, DealAction::Reassign).await?;
    check_version(expected_version, row.model.version)?;
    let mut errors = Vec::new();
    let team = active_user_team(&txn, new_owner, "ownerId", &mut errors).await?;
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    let share = if row.facts.has(Kind::Deal, Fact::SharedEdit) {
        Some(SharePermission::Edit)
    } else if row.facts.has(Kind::Deal, Fact::SharedView) {
        Some(SharePermission::View)
    } else {
        None
    };
    let after = viewer.facts(&DealFacts {
        owner_id: new_owner,
        owner_team_id: team,
        share,
    });
    if !deps.authz.decide(viewer.role, DealAction::Reassign, after) {
        return Err(ApiError::Forbidden {
            field: Some("ownerId".into()),
        });
    }
    let am = deal::ActiveModel {
        id: Unchanged(id),
        owner_id: Set(new_owner),
        ..Default::default()
    };
    record::write_versioned(&txn, id, row.model.version, am, amount_limit).await?;
    // The new owner needs no share of their own deal.
    deal_share::Entity::delete_many()
        .filter(deal_share::Column::DealId.eq(id))
        .filter(deal_share::Column::UserId.eq(new_owner))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(target: "audit", event = "deal.reassigned", user_id = %viewer.user_id, deal_id = %id, new_owner = %new_owner, "deal reassigned");
    get(deps, viewer, id).await
}

/// `shareDeal`: gives (or changes) a user's access to the deal.
pub async fn share(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    user_id: Uuid,
    permission: SharePermission,
) -> ApiResult<DealRow> {
    let txn = begin_write(deps).await?;
    let row = record::load_for::<deal::Entity>(deps, viewer, &txn, id, DealAction::Share).await?;
    let mut errors = Vec::new();
    active_user_team(&txn, user_id, "userId", &mut errors).await?;
    if row.model.owner_id == user_id {
        errors.push(FieldError::new("userId", "already owns the deal"));
    }
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    // Act: one statement, so two concurrent shares to the same user both succeed (the
    // later permission wins) instead of one failing on the unique (deal, user) index.
    deal_share::Entity::insert(deal_share::ActiveModel {
        id: Set(Uuid::new_v4()),
        deal_id: Set(id),
        user_id: Set(user_id),
        permission: Set(permission),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([deal_share::Column::DealId, deal_share::Column::UserId])
            .update_column(deal_share::Column::Permission)
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await
    .map_err(|e| write_error(e, &[DEAL_OF_SHARE]))?;
    txn.commit().await?;
    tracing::info!(target: "audit", event = "deal.shared", user_id = %viewer.user_id, deal_id = %id, with = %user_id, ?permission, "deal shared");
    get(deps, viewer, id).await
}

/// `unshareDeal`: removes a user's share (idempotent).
pub async fn unshare(deps: &Deps, viewer: &Viewer, id: Uuid, user_id: Uuid) -> ApiResult<DealRow> {
    let txn = begin_write(deps).await?;
    record::load_for::<deal::Entity>(deps, viewer, &txn, id, DealAction::Share).await?;
    deal_share::Entity::delete_many()
        .filter(deal_share::Column::DealId.eq(id))
        .filter(deal_share::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(target: "audit", event = "deal.unshared", user_id = %viewer.user_id, deal_id = %id, with = %user_id, "deal unshared");
    get(deps, viewer, id).await
}

/// `deleteDeal`: its shares and activities go with it.
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    let txn = begin_write(deps).await?;
    record::load_for::<deal::Entity>(deps, viewer, &txn, id, DealAction::Delete).await?;
    deal::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    tracing::info!(target: "audit", event = "deal.deleted", user_id = %viewer.user_id, deal_id = %id, "deal deleted");
    Ok(id)
}

/// Shares of deals (for the `shares` field), keyed by deal.
pub async fn shares_of(
    db: &impl ConnectionTrait,
    deal_ids: &[Uuid],
) -> ApiResult<Vec<deal_share::Model>> {
    Ok(deal_share::Entity::find()
        .filter(deal_share::Column::DealId.is_in(deal_ids.iter().copied()))
        .order_by_asc(deal_share::Column::CreatedAt)
        .order_by_asc(deal_share::Column::Id)
        .all(db)
        .await?)
}

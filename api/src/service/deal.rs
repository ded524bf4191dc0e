//! Deals: reads scoped by the policy in SQL, each row carrying its facts so per-row and
//! per-field decisions are table lookups.

use chrono::{NaiveDate, Utc};
use entity::enums::{DealSource, DealStage, Priority, SharePermission};
use entity::{company, contact, deal, deal_share};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Alias, Expr, OnConflict, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::authz::{DealAction, DealFacts, Fact, FactMask, Kind, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::db_error::{Parent, write_error};
use crate::service::events::{self, AuditAction};
use crate::service::filter::{Env, Field, Scalar};
use crate::service::list::{CursorKind, WithFacts, enum_rank, enum_rank_of};
use crate::service::record::{Record, SortSpec, sort_enum};
use crate::service::related::ToOne;
use crate::service::{At, Deps, begin_write, check_version, record, require_allowed};

/// A deal as the viewer sees it: the row and its facts.
pub type DealRow = WithFacts<deal::Model>;

/// The keys a deal list can be ordered by, named once: [`DealSort`] here and the GraphQL
/// order field are both declared from this list (`deal_sort_keys!(declare)`).
macro_rules! deal_sort_keys {
    ($declare:ident) => {
        $declare! {
            /// Fields deals can be ordered by.
            DealSort as DealOrderField {
                /// Creation time.
                CreatedAt,
                /// Last change.
                UpdatedAt,
                /// Title.
                Title,
                /// Amount; amounts hidden from the viewer sort as empty.
                Amount,
                /// Pipeline order of the stage.
                Stage,
                /// Expected close date.
                ExpectedCloseDate,
            }
        }
    };
}

pub(crate) use deal_sort_keys;

deal_sort_keys!(sort_enum);

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

/// Whether the viewer may read this row's amount.
pub fn can_read_amount(deps: &Deps, viewer: &Viewer, facts: FactMask) -> bool {
    deps.authz
        .decide(viewer.role, DealAction::ReadAmount, facts)
}

impl Record for deal::Entity {
    const KIND: Kind = Kind::Deal;
    type Action = DealAction;
    const READ: DealAction = DealAction::Read;
    const ID: deal::Column = deal::Column::Id;
    const SEARCH: &'static [deal::Column] = &[deal::Column::Title];
    const DEFAULT_ORDER: (DealSort, bool) = (DealSort::CreatedAt, true);
    type Row = DealRow;
    type Sort = DealSort;
    const TO_ONE: &'static [ToOne] = &[ToOne::COMPANY, ToOne::CONTACT, ToOne::OWNER];

    fn row_at(res: &sea_orm::QueryResult, first: usize) -> Option<Result<DealRow, sea_orm::DbErr>> {
        Some(crate::service::related::Positional::at(res, first))
    }

    fn sort<'a>(sort: DealSort, env: &Env<'a>) -> Vec<SortSpec<'a, DealRow>> {
        use deal::Column as C;
        let (deps, viewer) = (env.deps, env.viewer);
        vec![match sort {
            DealSort::CreatedAt => {
                SortSpec::column(C::CreatedAt, |r: &DealRow| Scalar::Ts(r.model.created_at))
            }
            DealSort::UpdatedAt => {
                SortSpec::column(C::UpdatedAt, |r: &DealRow| Scalar::Ts(r.model.updated_at))
            }
            DealSort::Title => {
                SortSpec::column(C::Title, |r: &DealRow| Scalar::Str(r.model.title.clone()))
            }
            DealSort::Amount => SortSpec::computed(
                visible_amount(deps, viewer),
                CursorKind::Int,
                move |r: &DealRow| {
                    if can_read_amount(deps, viewer, r.facts) {
                        Scalar::Int(r.model.amount_cents)
                    } else {
                        Scalar::Null
                    }
                },
            ),
            // Pipeline order (1 = prospecting … 6 = closed lost).
            DealSort::Stage => SortSpec::computed(
                enum_rank::<DealStage>(col(C::Stage)),
                CursorKind::Int,
                |r: &DealRow| Scalar::Int(enum_rank_of(&r.model.stage)),
            ),
            DealSort::ExpectedCloseDate => SortSpec::column(C::ExpectedCloseDate, |r: &DealRow| {
                Scalar::opt(r.model.expected_close_date, Scalar::Date)
            }),
        }]
    }
}

record::versioned!(deal, DealAction);

/// Filters see the amount as the viewer may: hidden amounts compare as empty.
impl Field for deal::Column {
    fn expr(self, env: &Env<'_>) -> SimpleExpr {
        match self {
            deal::Column::AmountCents => visible_amount(env.deps, env.viewer),
            c => record::qualified(c),
        }
    }
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
    /// An id chosen by the client (an offline create): a replay returns the record.
    pub id: Option<Uuid>,
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
    if !record::is_readable::<company::Entity>(deps, viewer, db, company_id).await? {
        errors.push(FieldError::new("companyId", "no such company"));
    }
    if let Some(contact_id) = contact_id {
        match record::find::<contact::Entity>(deps, viewer, db, contact_id).await {
            Err(ApiError::NotFound { .. }) => {
                errors.push(FieldError::new("contactId", "no such contact"))
            }
            Err(e) => return Err(e),
            Ok(c) if c.model.company_id.is_some_and(|id| id != company_id) => errors.push(
                FieldError::new("contactId", "belongs to another company than the deal"),
            ),
            Ok(_) => {}
        }
    }
    Ok(())
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
pub async fn create(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    input: NewDeal,
) -> ApiResult<DealRow> {
    if let Some(row) =
        record::replayed::<deal::Entity>(deps, viewer, &at.reader(deps), input.id).await?
    {
        return Ok(row);
    }
    let txn = at.begin(deps).await?;
    let mut errors = Vec::new();
    // Validate.
    let (owner_id, owner_team) =
        record::new_owner(&txn, viewer, input.owner_id, &mut errors).await?;
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
    let id = record::new_id(input.id);
    let am = deal::ActiveModel {
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
        ..Default::default()
    };
    record::create::<deal::Entity, _>(deps, viewer, at, txn, (id, am), input.id.is_some(), |e| {
        write_error(e, &links_of_deal(Some(input.company_id), input.contact_id))
    })
    .await
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

/// `updateDeal`, and `moveDeal` (a stage change: probability and close date follow).
pub async fn update(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    id: Uuid,
    changes: DealChanges,
) -> ApiResult<DealRow> {
    let txn = at.begin(deps).await?;
    // Load and authorize.
    let row = record::load_for_change::<deal::Entity>(
        deps,
        viewer,
        &txn,
        id,
        DealAction::Update,
        changes.expected_version,
    )
    .await?;
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
    let changes = record::write_versioned(&txn, current, am, |e| {
        if is_amount_limit(&e) {
            amount_limit(e)
        } else {
            write_error(e, &links)
        }
    })
    .await?;
    record::commit::<deal::Entity>(
        deps,
        viewer,
        at,
        txn,
        id,
        AuditAction::RecordUpdated,
        changes,
    )
    .await
}

/// `deleteDeal`: its shares and activities go with it.
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    record::delete::<deal::Entity>(deps, viewer, id).await
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
    let team = record::active_user_team(&txn, new_owner, "ownerId", &mut errors)
        .await?
        .flatten();
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
    let mut changes = record::write_versioned(&txn, &row.model, am, amount_limit).await?;
    // The new owner needs no share of their own deal.
    changes.extend(remove_share(&txn, id, new_owner).await?);
    commit_change(deps, viewer, txn, id, changes).await
}

/// Records a deal change made in a transaction of its own, commits, and reads the deal back.
async fn commit_change(
    deps: &Deps,
    viewer: &Viewer,
    txn: sea_orm::DatabaseTransaction,
    id: Uuid,
    changes: Vec<events::Change>,
) -> ApiResult<DealRow> {
    record::commit::<deal::Entity>(
        deps,
        viewer,
        At::Own,
        txn,
        id,
        AuditAction::RecordUpdated,
        changes,
    )
    .await
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
    record::active_user_team(&txn, user_id, "userId", &mut errors).await?;
    if row.model.owner_id == user_id {
        errors.push(FieldError::new("userId", "already owns the deal"));
    }
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    // Act: one statement, so two concurrent shares to the same user both succeed (the
    // later permission wins) instead of one failing on the unique (deal, user) index.
    let before = share_of(&txn, id, user_id).await?;
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
    let changes = vec![share_change(user_id, before, Some(permission))];
    commit_change(deps, viewer, txn, id, changes).await
}

/// `unshareDeal`: removes a user's share (idempotent).
pub async fn unshare(deps: &Deps, viewer: &Viewer, id: Uuid, user_id: Uuid) -> ApiResult<DealRow> {
    let txn = begin_write(deps).await?;
    record::load_for::<deal::Entity>(deps, viewer, &txn, id, DealAction::Share).await?;
    let changes = remove_share(&txn, id, user_id).await?.into_iter().collect();
    commit_change(deps, viewer, txn, id, changes).await
}

/// The permission `user` has through a share of deal `id`, if any.
async fn share_of(
    db: &impl ConnectionTrait,
    id: Uuid,
    user: Uuid,
) -> ApiResult<Option<SharePermission>> {
    Ok(deal_share::Entity::find()
        .filter(deal_share::Column::DealId.eq(id))
        .filter(deal_share::Column::UserId.eq(user))
        .one(db)
        .await?
        .map(|s| s.permission))
}

/// A change of `user`'s share, as an event records it: field `share`, each side
/// `{"userId", "permission"}` or null.
fn share_change(
    user: Uuid,
    from: Option<SharePermission>,
    to: Option<SharePermission>,
) -> events::Change {
    let side = |p: Option<SharePermission>| {
        p.map_or(serde_json::Value::Null, |p| {
            serde_json::json!({ "userId": user.to_string(), "permission": events::enum_name(&p) })
        })
    };
    events::Change::new("share", side(from), side(to))
}

/// Removes `user`'s share of deal `id`, if any; returns the change it made (none when
/// there was no share).
async fn remove_share(
    db: &impl ConnectionTrait,
    id: Uuid,
    user: Uuid,
) -> ApiResult<Option<events::Change>> {
    let Some(before) = share_of(db, id, user).await? else {
        return Ok(None);
    };
    let removed = deal_share::Entity::delete_many()
        .filter(deal_share::Column::DealId.eq(id))
        .filter(deal_share::Column::UserId.eq(user))
        .exec(db)
        .await?;
    // A concurrent unshare may have removed it since it was read: then this one changed
    // nothing.
    Ok((removed.rows_affected == 1).then(|| share_change(user, Some(before), None)))
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

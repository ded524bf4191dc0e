//! Deals: reads scoped by the policy in SQL, each row carrying its facts so per-row and
//! per-field decisions are table lookups.

use entity::deal;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Select,
};
use uuid::Uuid;

use crate::authz::{FACTS_COLUMN, FactMask, Kind, Viewer, action};
use crate::error::{ApiError, ApiResult};
use crate::service::Deps;
use crate::service::list::{CursorValue, Page, PageArgs, SortKey, WithFacts, fetch_page};

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

fn col(c: deal::Column) -> SimpleExpr {
    Expr::col((Alias::new("deals"), c)).into()
}

/// The amount as the viewer may see it: `amount_cents` where the policy lets them read it,
/// NULL elsewhere. Filters and sorts on amount use this, so they reveal nothing hidden.
pub fn visible_amount(deps: &Deps, viewer: &Viewer) -> SimpleExpr {
    let cond = deps
        .authz
        .field_condition(viewer, Kind::Deal, action::READ_AMOUNT);
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
        case = case.case(Expr::expr(col(deal::Column::Stage)).eq(*s), Expr::val(i as i32 + 2));
    }
    case.finally(Expr::val(99)).into()
}

fn stage_rank_of(stage: entity::enums::DealStage) -> i64 {
    entity::enums::DealStage::ALL
        .iter()
        .position(|s| *s == stage)
        .map_or(99, |p| p as i64 + 1)
}

/// The base query: readable deals with their facts.
pub fn readable(deps: &Deps, viewer: &Viewer) -> Select<deal::Entity> {
    deal::Entity::find()
        .filter(deps.authz.scope(viewer, Kind::Deal, action::READ))
        .column_as(deps.authz.facts_expr(viewer, Kind::Deal), FACTS_COLUMN)
}

/// Whether the viewer may read this row's amount.
pub fn can_read_amount(deps: &Deps, viewer: &Viewer, facts: FactMask) -> bool {
    deps.authz
        .decide(viewer.role, Kind::Deal, action::READ_AMOUNT, facts)
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
        .map(|(field, desc)| {
            let expr = match field {
                DealSort::CreatedAt => col(deal::Column::CreatedAt),
                DealSort::UpdatedAt => col(deal::Column::UpdatedAt),
                DealSort::Title => col(deal::Column::Title),
                DealSort::Amount => amount.clone(),
                DealSort::Stage => stage_rank(),
                DealSort::ExpectedCloseDate => col(deal::Column::ExpectedCloseDate),
            };
            SortKey::new(expr, *desc)
        })
        .collect();
    keys.push(SortKey::asc(col(deal::Column::Id)));
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
        .filter(deps.authz.scope(viewer, Kind::Deal, action::READ))
        .filter(filter)
        .count(&deps.db)
        .await?)
}

/// One deal the viewer may read; unreadable and missing are the same `NOT_FOUND`.
pub async fn get(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<DealRow> {
    readable(deps, viewer)
        .filter(deal::Column::Id.eq(id))
        .into_model::<DealRow>()
        .one(&deps.db)
        .await?
        .ok_or(ApiError::NotFound { entity: "Deal" })
}

/// Readable deals among `ids` (for relation loaders).
pub async fn by_ids(deps: &Deps, viewer: &Viewer, ids: &[Uuid]) -> ApiResult<Vec<DealRow>> {
    Ok(readable(deps, viewer)
        .filter(deal::Column::Id.is_in(ids.iter().copied()))
        .into_model::<DealRow>()
        .all(&deps.db)
        .await?)
}

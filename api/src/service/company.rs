//! Companies: reads scoped by the policy in SQL (each row carrying its facts), and validated,
//! versioned writes decided by the policy.

use chrono::Utc;
use entity::enums::{CompanySize, Industry};
use entity::{company, deal, user};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, Select, SqlErr,
};
use uuid::Uuid;

use crate::authz::{CompanyAction, CompanyFacts, DealAction, FACTS_COLUMN, Kind, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::filter::{Op, condition};
use crate::service::list::{CursorValue, Page, PageArgs, SortKey, WithFacts, fetch_page};
use crate::service::validate::{self, Errors};
use crate::service::{Deps, begin_write, check_version, record, require_allowed, unique_violation};

/// A company as the viewer sees it: the row and its facts.
pub type CompanyRow = WithFacts<company::Model>;

/// Longest company name.
pub const MAX_NAME: usize = 200;
/// Longest address, city, state or country.
const MAX_TEXT: usize = 200;
/// Longest street address.
const MAX_ADDRESS: usize = 500;

/// What a companies list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanySort {
    /// Name.
    Name,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// City (companies without one last when ascending).
    City,
    /// Industry, by its stored name.
    Industry,
}

/// `companies.<c>`, qualified (the scope's subqueries reference the table by name).
pub fn col(c: company::Column) -> SimpleExpr {
    Expr::col((Alias::new("companies"), c))
}

/// Every company with its facts relative to the viewer, unscoped (for a row just written).
fn with_facts(deps: &Deps, viewer: &Viewer) -> Select<company::Entity> {
    company::Entity::find().column_as(deps.authz.facts_expr(viewer, Kind::Company), FACTS_COLUMN)
}

/// The base query: readable companies with their facts.
pub fn readable(deps: &Deps, viewer: &Viewer) -> Select<company::Entity> {
    with_facts(deps, viewer).filter(deps.authz.scope(viewer, CompanyAction::Read))
}

/// `search`: the name or the domain contains `text`, ignoring case.
pub fn search_condition(text: &str) -> Condition {
    Condition::any()
        .add(condition(
            col(company::Column::Name),
            Op::Contains(text.to_owned()),
        ))
        .add(condition(
            col(company::Column::Domain),
            Op::Contains(text.to_owned()),
        ))
}

fn opt_str(v: Option<&String>) -> CursorValue {
    v.map_or(CursorValue::Null, |s| CursorValue::Str(s.clone()))
}

/// One page of the companies the viewer may read, matching `filter`, in `order` (default:
/// name ascending), ties broken by id.
pub async fn list(
    deps: &Deps,
    viewer: &Viewer,
    filter: Condition,
    order: &[(CompanySort, bool)],
    page: &PageArgs,
) -> ApiResult<Page<CompanyRow>> {
    let order: Vec<(CompanySort, bool)> = if order.is_empty() {
        vec![(CompanySort::Name, false)]
    } else {
        order.to_vec()
    };
    let mut keys: Vec<SortKey> = order
        .iter()
        .map(|(field, desc)| {
            let c = match field {
                CompanySort::Name => company::Column::Name,
                CompanySort::CreatedAt => company::Column::CreatedAt,
                CompanySort::UpdatedAt => company::Column::UpdatedAt,
                CompanySort::City => company::Column::City,
                CompanySort::Industry => company::Column::Industry,
            };
            SortKey::column(c, *desc)
        })
        .collect();
    keys.push(SortKey::column(company::Column::Id, false));
    let select = readable(deps, viewer).filter(filter);
    fetch_page(&deps.db, select, &keys, page, |row: &CompanyRow| {
        let m = &row.model;
        let mut values: Vec<CursorValue> = order
            .iter()
            .map(|(field, _)| match field {
                CompanySort::Name => CursorValue::Str(m.name.clone()),
                CompanySort::CreatedAt => CursorValue::Ts(m.created_at),
                CompanySort::UpdatedAt => CursorValue::Ts(m.updated_at),
                CompanySort::City => opt_str(m.city.as_ref()),
                CompanySort::Industry => m.industry.map_or(CursorValue::Null, |i| {
                    CursorValue::Str(sea_orm::ActiveEnum::to_value(&i))
                }),
            })
            .collect();
        values.push(CursorValue::Uuid(m.id));
        values
    })
    .await
}

/// How many companies the viewer may read match `filter` (the `totalCount` of the list).
pub async fn count(deps: &Deps, viewer: &Viewer, filter: Condition) -> ApiResult<u64> {
    Ok(company::Entity::find()
        .filter(deps.authz.aggregate_scope(viewer, CompanyAction::Read))
        .filter(filter)
        .count(&deps.db)
        .await?)
}

/// One company the viewer may read; unreadable and missing are the same `NOT_FOUND`.
pub async fn get(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<CompanyRow> {
    record::find::<company::Entity>(deps, viewer, &deps.db, id).await
}

/// Readable companies among `ids` (for relation loaders); unreadable and missing ids are
/// left out.
pub async fn by_ids(deps: &Deps, viewer: &Viewer, ids: &[Uuid]) -> ApiResult<Vec<CompanyRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(readable(deps, viewer)
        .filter(company::Column::Id.is_in(ids.iter().copied()))
        .into_model::<CompanyRow>()
        .all(&deps.db)
        .await?)
}

/// Whether the viewer may read company `id` (`companyId` references are checked with it, so
/// an unreadable company reads as "no such company").
pub async fn is_readable(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
) -> ApiResult<bool> {
    Ok(company::Entity::find()
        .filter(deps.authz.scope(viewer, CompanyAction::Read))
        .filter(company::Column::Id.eq(id))
        .count(db)
        .await?
        > 0)
}

/// `createCompany` input.
#[derive(Debug, Default)]
pub struct NewCompany {
    /// Required, at most 200 characters, unique ignoring case.
    pub name: String,
    /// Web domain (stored lowercase), unique.
    pub domain: Option<String>,
    /// Industry.
    pub industry: Option<Industry>,
    /// Head-count bracket.
    pub size: Option<CompanySize>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Main phone, E.164.
    pub phone: Option<String>,
    /// Website, an http(s) URL.
    pub website: Option<String>,
    /// Owner; `None` is the viewer.
    pub owner_id: Option<Uuid>,
}

/// `updateCompany` input: `None` leaves a field unchanged, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct CompanyChanges {
    /// New name.
    pub name: Option<String>,
    /// New domain.
    pub domain: Option<Option<String>>,
    /// New industry.
    pub industry: Option<Option<Industry>>,
    /// New size.
    pub size: Option<Option<CompanySize>>,
    /// New address.
    pub address: Option<Option<String>>,
    /// New city.
    pub city: Option<Option<String>>,
    /// New state.
    pub state: Option<Option<String>>,
    /// New country.
    pub country: Option<Option<String>>,
    /// New phone.
    pub phone: Option<Option<String>>,
    /// New website.
    pub website: Option<Option<String>>,
    /// New owner (see [`update`] for what that needs).
    pub owner_id: Option<Uuid>,
    /// The version the client last read; a different stored version is `CONFLICT`.
    pub expected_version: Option<i32>,
}

/// Maps a unique violation of one of `indexes` (`(index name, input field, what)`) to
/// `CONFLICT` on its field; any other error is `INTERNAL` (logged, never sent).
pub fn map_unique(err: DbErr, indexes: &[(&str, &str, &str)]) -> ApiError {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() {
        for (index, field, what) in indexes {
            if message.contains(index) {
                return unique_violation(err, field, what);
            }
        }
    }
    ApiError::from(err)
}

const UNIQUE: &[(&str, &str, &str)] = &[
    (
        "ux_companies_name_lower",
        "name",
        "a company with this name",
    ),
    (
        "ux_companies_domain_lower",
        "domain",
        "a company with this domain",
    ),
];

/// The team of an active user, or `None` after recording "no such active user" on `field`.
pub(crate) async fn active_user_team(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    field: &str,
    errors: &mut Errors,
) -> ApiResult<Option<Option<Uuid>>> {
    match user::Entity::find_by_id(user_id).one(db).await? {
        Some(u) if u.active => Ok(Some(u.team_id)),
        _ => {
            errors.push(field, "no such active user");
            Ok(None)
        }
    }
}

/// `CONFLICT` if another company (not `except`) has this name or domain, ignoring case.
async fn check_unique(
    db: &impl ConnectionTrait,
    name: Option<&str>,
    domain: Option<&str>,
    except: Option<Uuid>,
) -> ApiResult<()> {
    let taken = |column: company::Column, value: &str| {
        let mut q = company::Entity::find()
            .filter(Expr::expr(Func::lower(col(column))).eq(value.to_lowercase()));
        if let Some(id) = except {
            q = q.filter(company::Column::Id.ne(id));
        }
        q
    };
    if let Some(n) = name
        && taken(company::Column::Name, n).count(db).await? > 0
    {
        return Err(ApiError::Conflict {
            message: "a company with this name already exists".into(),
            field: Some("name".into()),
        });
    }
    if let Some(d) = domain
        && taken(company::Column::Domain, d).count(db).await? > 0
    {
        return Err(ApiError::Conflict {
            message: "a company with this domain already exists".into(),
            field: Some("domain".into()),
        });
    }
    Ok(())
}

fn name(errors: &mut Errors, value: &str) -> Option<String> {
    errors.check(validate::required_text("name", value, MAX_NAME))
}

/// `createCompany`: the policy decides `create` on the company as it would be (its owner and
/// the owner's team).
pub async fn create(deps: &Deps, viewer: &Viewer, input: NewCompany) -> ApiResult<CompanyRow> {
    let txn = begin_write(deps).await?;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let owner_id = input.owner_id.unwrap_or(viewer.user_id);
    let owner_team = active_user_team(&txn, owner_id, "ownerId", &mut errors).await?;
    let name = name(&mut errors, &input.name);
    let domain = validate::optional(&mut errors, input.domain, |v| validate::domain("domain", v));
    let address = validate::optional(&mut errors, input.address, |v| {
        validate::text("address", v, MAX_ADDRESS)
    });
    let city = validate::optional(&mut errors, input.city, |v| {
        validate::text("city", v, MAX_TEXT)
    });
    let state = validate::optional(&mut errors, input.state, |v| {
        validate::text("state", v, MAX_TEXT)
    });
    let country = validate::optional(&mut errors, input.country, |v| {
        validate::text("country", v, MAX_TEXT)
    });
    let phone = validate::optional(&mut errors, input.phone, |v| validate::phone("phone", v));
    let website = validate::optional(&mut errors, input.website, |v| validate::url("website", v));
    errors.finish()?;
    let (Some(name), Some(owner_team)) = (name, owner_team) else {
        return Err(ApiError::internal(
            "company create",
            "validation passed without values",
        ));
    };
    // Authorize the company as it would be.
    let facts = viewer.facts(&CompanyFacts {
        owner_id,
        owner_team_id: owner_team,
        linked_to_readable_deal: false,
    });
    require_allowed(deps, viewer, CompanyAction::Create, facts)?;
    check_unique(&txn, Some(&name), domain.as_deref(), None).await?;
    // Act.
    let now = Utc::now();
    let id = Uuid::new_v4();
    company::ActiveModel {
        id: Set(id),
        name: Set(name),
        domain: Set(domain),
        industry: Set(input.industry),
        size: Set(input.size),
        address: Set(address),
        city: Set(city),
        state: Set(state),
        country: Set(country),
        phone: Set(phone),
        website: Set(website),
        owner_id: Set(owner_id),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| map_unique(e, UNIQUE))?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "company.created", user_id = %viewer.user_id, company_id = %id, owner_id = %owner_id, "company created");
    get(deps, viewer, id).await
}

/// `updateCompany`.
///
/// Needs `update` on the company as it is. Changing the owner additionally needs `create`
/// on the company as it would be with the new owner (the new owner's facts), so an actor can
/// hand a company only to someone they could have created it for: a manager within their
/// teams, an admin to anyone, a rep to nobody else.
pub async fn update(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    changes: CompanyChanges,
) -> ApiResult<CompanyRow> {
    let txn = begin_write(deps).await?;
    // Load and authorize.
    let row =
        record::load_for::<company::Entity>(deps, viewer, &txn, id, CompanyAction::Update).await?;
    check_version(changes.expected_version, row.model.version)?;
    let current = &row.model;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let mut new_owner = None;
    if let Some(owner) = changes.owner_id.filter(|o| *o != current.owner_id)
        && let Some(team) = active_user_team(&txn, owner, "ownerId", &mut errors).await?
    {
        new_owner = Some((owner, team));
    }
    let mut am = company::ActiveModel {
        id: Unchanged(id),
        ..Default::default()
    };
    let name = changes.name.as_deref().and_then(|n| name(&mut errors, n));
    let domain = validate::optional_change(&mut errors, changes.domain, |v| {
        validate::domain("domain", v)
    });
    let text = |errors: &mut Errors, change, field: &'static str, max| {
        validate::optional_change(errors, change, |v| validate::text(field, v, max))
    };
    let address = text(&mut errors, changes.address, "address", MAX_ADDRESS);
    let city = text(&mut errors, changes.city, "city", MAX_TEXT);
    let state = text(&mut errors, changes.state, "state", MAX_TEXT);
    let country = text(&mut errors, changes.country, "country", MAX_TEXT);
    let phone =
        validate::optional_change(&mut errors, changes.phone, |v| validate::phone("phone", v));
    let website = validate::optional_change(&mut errors, changes.website, |v| {
        validate::url("website", v)
    });
    errors.finish()?;
    // Authorize the hand-over: the company as it would be.
    if let Some((owner, team)) = new_owner {
        let after = viewer.facts(&CompanyFacts {
            owner_id: owner,
            owner_team_id: team,
            linked_to_readable_deal: false,
        });
        if !deps.authz.decide(viewer.role, CompanyAction::Create, after) {
            tracing::info!(target: "audit", event = "forbidden", user_id = %viewer.user_id, company_id = %id, new_owner = %owner, "company owner change denied by policy");
            return Err(ApiError::Forbidden {
                field: Some("ownerId".into()),
            });
        }
        am.owner_id = Set(owner);
    }
    check_unique(
        &txn,
        name.as_deref(),
        domain.as_ref().and_then(Option::as_deref),
        Some(id),
    )
    .await?;
    if let Some(n) = name {
        am.name = Set(n);
    }
    if let Some(d) = domain {
        am.domain = Set(d);
    }
    if let Some(i) = changes.industry {
        am.industry = Set(i);
    }
    if let Some(s) = changes.size {
        am.size = Set(s);
    }
    if let Some(a) = address {
        am.address = Set(a);
    }
    if let Some(c) = city {
        am.city = Set(c);
    }
    if let Some(s) = state {
        am.state = Set(s);
    }
    if let Some(c) = country {
        am.country = Set(c);
    }
    if let Some(p) = phone {
        am.phone = Set(p);
    }
    if let Some(w) = website {
        am.website = Set(w);
    }
    // Act.
    record::write_versioned(&txn, id, current.version, am, |e| map_unique(e, UNIQUE)).await?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "company.updated", user_id = %viewer.user_id, company_id = %id, version = current.version + 1, "company updated");
    get(deps, viewer, id).await
}

/// `deleteCompany`: refused with `CONFLICT` (field `id`) while deals reference the company;
/// its contacts and activities stay, with their company cleared (by the foreign keys).
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    let txn = begin_write(deps).await?;
    // Load and authorize.
    record::load_for::<company::Entity>(deps, viewer, &txn, id, CompanyAction::Delete).await?;
    // Check what blocks it. The count names only deals the viewer may read.
    let deals = deal::Entity::find()
        .filter(deal::Column::CompanyId.eq(id))
        .count(&txn)
        .await?;
    if deals > 0 {
        let visible = deal::Entity::find()
            .filter(deps.authz.scope(viewer, DealAction::Read))
            .filter(deal::Column::CompanyId.eq(id))
            .count(&txn)
            .await?;
        return Err(blocked_by_deals(deals, visible));
    }
    // Act.
    company::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            // A deal created since the count.
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => blocked_by_deals(1, 0),
            _ => ApiError::from(e),
        })?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "company.deleted", user_id = %viewer.user_id, company_id = %id, "company deleted");
    Ok(id)
}

fn blocked_by_deals(total: u64, visible: u64) -> ApiError {
    let plural = |n: u64| if n == 1 { "deal" } else { "deals" };
    let message = if total == visible {
        format!(
            "company has {total} {}; delete or move them first",
            plural(total)
        )
    } else {
        format!(
            "company has deals ({visible} of them visible to you); they must be deleted or moved first"
        )
    };
    ApiError::Conflict {
        message,
        field: Some("id".into()),
    }
}

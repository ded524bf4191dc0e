//! Companies: reads scoped by the policy in SQL (each row carrying its facts), and validated,
//! versioned writes decided by the policy.

use entity::enums::{CompanySize, Industry};
use entity::{company, deal};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, SqlErr,
};
use uuid::Uuid;

use crate::authz::{CompanyAction, CompanyFacts, DealAction, Kind, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::events::{self, AuditAction, RecordKind};
use crate::service::filter::{Env, Scalar};
use crate::service::list::WithFacts;
use crate::service::record::{Record, SortSpec, change, sort_enum};
use crate::service::related::ToOne;
use crate::service::validate::{self, Errors};
use crate::service::{At, Deps, begin_write, record, require_allowed, unique_violation};

/// A company as the viewer sees it: the row and its facts.
pub type CompanyRow = WithFacts<company::Model>;

/// Longest company name.
pub const MAX_NAME: usize = 200;
/// Longest address, city, state or country.
const MAX_TEXT: usize = 200;
/// Longest street address.
const MAX_ADDRESS: usize = 500;

/// The keys a company list can be ordered by, named once: [`CompanySort`] here and the GraphQL
/// order field are both declared from this list (`company_sort_keys!(declare)`).
macro_rules! company_sort_keys {
    ($declare:ident) => {
        $declare! {
            /// Fields companies can be ordered by.
            CompanySort as CompanyOrderField {
                /// Name.
                Name,
                /// Creation time.
                CreatedAt,
                /// Last change.
                UpdatedAt,
                /// City; companies without one sort as empty.
                City,
                /// Industry, by name; companies without one sort as empty.
                Industry,
            }
        }
    };
}

pub(crate) use company_sort_keys;

company_sort_keys!(sort_enum);

impl Record for company::Entity {
    const KIND: Kind = Kind::Company;
    type Action = CompanyAction;
    const READ: CompanyAction = CompanyAction::Read;
    const ID: company::Column = company::Column::Id;
    const SEARCH: &'static [company::Column] = &[company::Column::Name, company::Column::Domain];
    const DEFAULT_ORDER: (CompanySort, bool) = (CompanySort::Name, false);
    type Row = CompanyRow;
    type Sort = CompanySort;
    const TO_ONE: &'static [ToOne] = &[ToOne::OWNER];

    fn row_at(
        res: &sea_orm::QueryResult,
        first: usize,
    ) -> Option<Result<CompanyRow, sea_orm::DbErr>> {
        Some(crate::service::related::Positional::at(res, first))
    }

    fn sort<'a>(sort: CompanySort, _: &Env<'a>) -> Vec<SortSpec<'a, CompanyRow>> {
        use company::Column as C;
        vec![match sort {
            CompanySort::Name => {
                SortSpec::column(C::Name, |r: &CompanyRow| Scalar::Str(r.model.name.clone()))
            }
            CompanySort::CreatedAt => SortSpec::column(C::CreatedAt, |r: &CompanyRow| {
                Scalar::Ts(r.model.created_at)
            }),
            CompanySort::UpdatedAt => SortSpec::column(C::UpdatedAt, |r: &CompanyRow| {
                Scalar::Ts(r.model.updated_at)
            }),
            CompanySort::City => SortSpec::column(C::City, |r: &CompanyRow| {
                Scalar::opt_str(r.model.city.as_ref())
            }),
            CompanySort::Industry => SortSpec::column(C::Industry, |r: &CompanyRow| {
                Scalar::opt(r.model.industry, Scalar::of_enum)
            }),
        }]
    }
}

record::versioned!(company, CompanyAction);

record::plain_fields!(company::Column);

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
    /// An id chosen by the client (an offline create): a replay returns the record.
    pub id: Option<Uuid>,
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

/// `CONFLICT` if another company (not `except`) has this name or domain, ignoring case.
async fn check_unique(
    db: &impl ConnectionTrait,
    name: Option<&str>,
    domain: Option<&str>,
    except: Option<Uuid>,
) -> ApiResult<()> {
    let taken = |column: company::Column, value: &str| {
        let mut q = company::Entity::find()
            .filter(Expr::expr(Func::lower(record::qualified(column))).eq(value.to_lowercase()));
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
pub async fn create(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    input: NewCompany,
) -> ApiResult<CompanyRow> {
    if let Some(row) =
        record::replayed::<company::Entity>(deps, viewer, &at.reader(deps), input.id).await?
    {
        return Ok(row);
    }
    let txn = at.begin(deps).await?;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let (owner_id, owner_team) =
        record::new_owner(&txn, viewer, input.owner_id, &mut errors).await?;
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
    let Some(name) = name else {
        return Err(ApiError::internal(
            "company create",
            "validation passed without a name",
        ));
    };
    // Authorize the company as it would be.
    let facts = viewer.facts(&CompanyFacts::owned(owner_id, owner_team));
    require_allowed(deps, viewer, CompanyAction::Create, facts)?;
    check_unique(&txn, Some(&name), domain.as_deref(), None).await?;
    // Act.
    let id = record::new_id(input.id);
    let am = company::ActiveModel {
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
        ..Default::default()
    };
    record::create::<company::Entity, _>(deps, viewer, at, txn, (id, am), input.id.is_some(), |e| {
        map_unique(e, UNIQUE)
    })
    .await
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
    at: At<'_>,
    id: Uuid,
    changes: CompanyChanges,
) -> ApiResult<CompanyRow> {
    let txn = at.begin(deps).await?;
    // Load and authorize.
    let row = record::load_for_change::<company::Entity>(
        deps,
        viewer,
        &txn,
        id,
        CompanyAction::Update,
        changes.expected_version,
    )
    .await?;
    let current = &row.model;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let new_owner =
        record::owner_change(&txn, changes.owner_id, current.owner_id, &mut errors).await?;
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
        let after = viewer.facts(&CompanyFacts::owned(owner, team));
        record::require_handover::<company::Entity>(deps, viewer, id, after)?;
    }
    check_unique(
        &txn,
        name.as_deref(),
        domain.as_ref().and_then(Option::as_deref),
        Some(id),
    )
    .await?;
    let am = company::ActiveModel {
        id: Unchanged(id),
        owner_id: change(new_owner.map(|(owner, _)| owner)),
        name: change(name),
        domain: change(domain),
        industry: change(changes.industry),
        size: change(changes.size),
        address: change(address),
        city: change(city),
        state: change(state),
        country: change(country),
        phone: change(phone),
        website: change(website),
        ..Default::default()
    };
    // Act.
    let changes = record::write_versioned(&txn, current, am, |e| map_unique(e, UNIQUE)).await?;
    record::commit::<company::Entity>(
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

/// `deleteCompany`: refused with `CONFLICT` (field `id`) while deals reference the company;
/// its contacts and activities stay, with their company cleared (by the foreign keys).
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    let txn = begin_write(deps).await?;
    // Load and authorize.
    let row =
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
    let cascade = events::cascade(&txn, RecordKind::Company, id).await?;
    let files = crate::service::attachment::files_going_with(&txn, RecordKind::Company, id).await?;
    company::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            // A deal created since the count.
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => blocked_by_deals(1, 0),
            _ => ApiError::from(e),
        })?;
    record::record_delete::<company::Entity>(deps, viewer, &txn, id, &row.model, cascade).await?;
    txn.commit().await?;
    // Its attachments went with it; their files go once unreferenced.
    crate::service::attachment::release(deps, files).await;
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

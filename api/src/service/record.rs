//! One abstraction over the record kinds (deals, companies, contacts, activities, users,
//! teams): each kind says once how its rows are read (scope and facts), which fields a
//! filter may test and how each ordering key is computed *and* put into a cursor; the
//! generic operations below — a page, its count, rows by id, "is this row readable",
//! nested children — serve every kind.
//!
//! [`Versioned`] adds what the guarded, versioned kinds share on writes: the
//! load-and-authorize step and the optimistic-concurrency update.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, NullOrdering, Order, Query, SimpleExpr, WindowStatement,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;

use crate::authz::{Action, FACTS_COLUMN, FactMask, Kind, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::events::{self, AuditAction, Audited, Change, Event};
use crate::service::filter::{Env, Field, Filter, Scalar};
use crate::service::list::{CursorKind, Page, PageArgs, SortKey, fetch_page_with};
use crate::service::related::{self, Join, Related, ToOne};
use crate::service::{At, Deps, require_allowed};

/// One ordering key of a kind: the SQL it orders by and the value a row puts into its
/// cursor, side by side so they cannot disagree.
pub struct SortSpec<'a, R> {
    /// What to order by.
    pub expr: SimpleExpr,
    /// The kind of value `expr` yields (checked when a cursor comes back).
    pub kind: CursorKind,
    /// The row's value of `expr`.
    pub value: Box<dyn Fn(&R) -> Scalar + Send + Sync + 'a>,
}

impl<'a, R> SortSpec<'a, R> {
    /// A table-qualified column, whose value the row gives through `value`.
    pub fn column<C: ColumnTrait>(c: C, value: impl Fn(&R) -> Scalar + Send + Sync + 'a) -> Self {
        let key = SortKey::column(c, false);
        Self {
            expr: key.expr,
            kind: key.kind,
            value: Box::new(value),
        }
    }

    /// A computed expression of values of `kind`.
    pub fn computed(
        expr: SimpleExpr,
        kind: CursorKind,
        value: impl Fn(&R) -> Scalar + Send + Sync + 'a,
    ) -> Self {
        Self {
            expr,
            kind,
            value: Box::new(value),
        }
    }
}

/// A kind of record the API lists, filters, pages and loads by id.
pub trait Record: EntityTrait {
    /// The policy's resource kind.
    const KIND: Kind;
    /// The kind's actions.
    type Action: Copy + Into<Action> + Send + Sync + 'static;
    /// Seeing a row (and listing it).
    const READ: Self::Action;
    /// The GraphQL type name, for `NOT_FOUND` (the policy's class name).
    const NAME: &'static str = Self::KIND.polar_class();
    /// Its `id` column.
    const ID: Self::Column;
    /// The fields searched by a list's `search` argument.
    const SEARCH: &'static [Self::Column];
    /// The order of a list that asks for none (and of nested lists), ascending unless
    /// `true`.
    const DEFAULT_ORDER: (Self::Sort, bool);
    /// A row as read for a viewer (with its facts where the kind has them).
    type Row: FromQueryResult + Identified + Clone + Send + Sync + 'static;
    /// What lists of this kind may be ordered by.
    type Sort: Copy + Send + Sync + 'static;

    /// The rows the viewer may read, each with its facts column (kinds without facts
    /// override this).
    fn readable(deps: &Deps, viewer: &Viewer) -> Select<Self> {
        guarded(deps, viewer)
    }

    /// The row whose columns start at column `first` of `res`, read by position
    /// (`related::Positional`), for kinds that can: `None` reads it by name.
    fn row_at(res: &sea_orm::QueryResult, first: usize) -> Option<Result<Self::Row, DbErr>> {
        let _ = (res, first);
        None
    }

    /// Whether [`Record::readable_few`] is the same rows as [`Record::readable`] (kinds
    /// whose `readable` is the policy's scope with facts).
    const PLANS_FEW: bool = true;

    /// The same rows as [`Record::readable`], for a viewer who can read only a few of them
    /// (see [`list`]): the scope in the shape that reads them through its own indexes
    /// (`Authorizer::few_rows_scope`).
    fn readable_few(deps: &Deps, viewer: &Viewer) -> Select<Self> {
        let backend = deps.db.get_database_backend();
        Self::find()
            .filter(deps.authz.few_rows_scope(viewer, Self::READ, backend))
            .column_as(deps.authz.facts_expr(viewer, Self::KIND), FACTS_COLUMN)
    }

    /// The same rows for counting, as disjoint selections whose counts add up (no facts;
    /// one per term of the policy's scope, see `Authorizer::disjoint_scopes`).
    fn counted(deps: &Deps, viewer: &Viewer) -> Vec<Select<Self>> {
        deps.authz
            .disjoint_scopes(viewer, Self::READ, deps.db.get_database_backend())
            .into_iter()
            .map(|part| Self::find().filter(part))
            .collect()
    }

    /// The ordering keys of one sort field (usually one; a name may be two).
    fn sort<'a>(sort: Self::Sort, env: &Env<'a>) -> Vec<SortSpec<'a, Self::Row>>;

    /// The to-one relations a page can read in its own statement (`service::related`).
    const TO_ONE: &'static [ToOne] = &[];
}

/// What a list shows: which rows (filter and search) in which order.
pub struct ListQuery<R: Record> {
    /// Conditions on the rows.
    pub filter: Filter<R::Column>,
    /// Text to look for in the kind's search fields.
    pub search: Option<String>,
    /// Ordering keys with `true` for descending; empty is the kind's default order.
    pub order: Vec<(R::Sort, bool)>,
}

impl<R: Record> Clone for ListQuery<R> {
    fn clone(&self) -> Self {
        Self {
            filter: self.filter.clone(),
            search: self.search.clone(),
            order: self.order.clone(),
        }
    }
}

impl<R: Record> Default for ListQuery<R> {
    fn default() -> Self {
        Self {
            filter: Filter::default(),
            search: None,
            order: Vec::new(),
        }
    }
}

impl<R: Record> ListQuery<R>
where
    R::Column: Field,
{
    fn condition(&self, env: &Env<'_>) -> sea_orm::Condition {
        let search = Filter::search(R::SEARCH, self.search.as_deref());
        sea_orm::Condition::all()
            .add(self.filter.condition(env))
            .add(search.condition(env))
    }
}

/// The ordering keys of `order` (the default order when empty), ending with the id.
fn sort_specs<'a, R: Record>(
    order: &[(R::Sort, bool)],
    env: &Env<'a>,
) -> Vec<(SortSpec<'a, R::Row>, bool)> {
    let default = [R::DEFAULT_ORDER];
    let order = if order.is_empty() {
        &default[..]
    } else {
        order
    };
    let mut specs: Vec<(SortSpec<'a, R::Row>, bool)> = order
        .iter()
        .flat_map(|(sort, desc)| R::sort(*sort, env).into_iter().map(move |s| (s, *desc)))
        .collect();
    specs.push((
        SortSpec::column(R::ID, |r: &R::Row| Scalar::Uuid(r.id())),
        false,
    ));
    specs
}

/// One page of the rows the viewer may read matching `query`.
///
/// Two plans select the same rows. Usually the page walks the list's order (an index) and
/// tests each row against the scope, stopping at the page's end: cheap when a good share of
/// the rows is readable. A viewer who can read only a few rows of a large table (a rep
/// alone in a team: 50 deals of 100,000) would have the walk visit every row; for them
/// ([`reads_few`]) the page reads the scope's rows through its indexes and sorts them.
pub async fn list<R>(
    deps: &Deps,
    viewer: &Viewer,
    query: &ListQuery<R>,
    page: &PageArgs,
) -> ApiResult<Page<R::Row>>
where
    R: Record,
    R::Column: Field,
{
    Ok(list_joined(deps, viewer, query, page, &[]).await?.0)
}

/// [`list`], with the related records of `joins` (some of [`Record::TO_ONE`]) of each row
/// read in the same statement, in the page's order.
pub async fn list_joined<R>(
    deps: &Deps,
    viewer: &Viewer,
    query: &ListQuery<R>,
    page: &PageArgs,
    joins: &[Join],
) -> ApiResult<(Page<R::Row>, Vec<Vec<Related>>)>
where
    R: Record,
    R::Column: Field,
{
    let env = Env { deps, viewer };
    let specs = sort_specs::<R>(&query.order, &env);
    let mut keys = sort_keys(&specs);
    let select = if reads_few::<R>(deps, viewer).await? {
        let backend = deps.db.get_database_backend();
        keys = keys.iter().map(|k| k.unindexed(backend)).collect();
        R::readable_few(deps, viewer)
    } else {
        R::readable(deps, viewer)
    }
    .filter(query.condition(&env));
    let mut select = select;
    let table = R::default().table_name();
    related::join(
        deps,
        viewer,
        QueryTrait::query(&mut select),
        table,
        R::KIND,
        joins,
    );
    let layout = related::Layout::new(joins);
    fetch_page_with(
        &deps.db,
        select,
        &keys,
        page,
        |res| layout.row::<R>(res),
        |row: &R::Row| specs.iter().map(|(s, _)| (s.value)(row)).collect(),
        |res| related::read::<R>(deps, viewer, res, &layout, joins),
    )
    .await
}

/// How long a viewer's [`reads_few`] answer is reused.
const SHAPE_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Per user and kind, whether they read few rows, and since when: a hint for the plan of
/// their pages, never for which rows they see (both plans select the same rows), so an
/// answer a minute old — or another instance's different answer — only costs time.
pub struct PageShapes {
    seen: std::sync::Mutex<lru::LruCache<(Uuid, Kind), (bool, std::time::Instant)>>,
}

impl Default for PageShapes {
    fn default() -> Self {
        Self {
            seen: std::sync::Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(10_000).expect("non-zero"),
            )),
        }
    }
}

/// Whether `viewer` can read at most `few_rows` (`CRM_FEW_ROWS`, 1,000) rows of kind `R`:
/// sorting that many costs less than walking the table in list order to find a page of
/// them (the walk visits about `page size × table size ÷ readable rows` rows). Neither
/// planner can tell from the scope's shape alone (SQLite plans without the bound values,
/// PostgreSQL estimates a subquery's selectivity blind), so: one bounded count through the
/// scope's indexes — `SELECT COUNT(*) FROM (SELECT 1 … LIMIT few_rows + 1)` — remembered
/// for a minute. A viewer the policy does not restrict never reads few.
pub async fn reads_few<R: Record>(deps: &Deps, viewer: &Viewer) -> ApiResult<bool> {
    let few_rows = deps.config.limits.few_rows;
    if !R::PLANS_FEW || few_rows == 0 {
        return Ok(false);
    }
    // Asked on every page: the remembered answer first, before any SQL is built.
    let key = (viewer.user_id, R::KIND);
    {
        let mut seen = deps.page_shapes.seen.lock().expect("page shapes");
        if let Some((few, at)) = seen.get(&key)
            && at.elapsed() < SHAPE_FOR
        {
            return Ok(*few);
        }
    }
    let scope = deps
        .authz
        .few_rows_scope(viewer, R::READ, deps.db.get_database_backend());
    let few = !scope.is_empty() && count_at_most::<R>(deps, scope, few_rows + 1).await? <= few_rows;
    deps.page_shapes
        .seen
        .lock()
        .expect("page shapes")
        .put(key, (few, std::time::Instant::now()));
    Ok(few)
}

/// How many rows of kind `R` match `scope`, counting no further than `limit`.
async fn count_at_most<R: Record>(
    deps: &Deps,
    scope: sea_orm::Condition,
    limit: u64,
) -> ApiResult<u64> {
    let matching = R::find()
        .select_only()
        .expr(Expr::val(1))
        .filter(scope)
        .limit(limit)
        .into_query();
    let statement = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from_subquery(matching, Alias::new("matching"))
        .to_owned();
    let n: i64 = deps
        .db
        .query_one(&statement)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("a count".into()))?
        .try_get("", "n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Checks `page` against `query`'s order exactly as [`list`] would (sizes, cursors),
/// without reading anything: for a connection asked only for its `totalCount`.
pub fn check_list<R>(
    deps: &Deps,
    viewer: &Viewer,
    query: &ListQuery<R>,
    page: &PageArgs,
) -> ApiResult<()>
where
    R: Record,
    R::Column: Field,
{
    let env = Env { deps, viewer };
    let keys = sort_keys(&sort_specs::<R>(&query.order, &env));
    crate::service::list::checked(R::find(), &keys, page).map(|_| ())
}

fn sort_keys<R>(specs: &[(SortSpec<'_, R>, bool)]) -> Vec<SortKey> {
    specs
        .iter()
        .map(|(s, desc)| SortKey::new(s.expr.clone(), s.kind, *desc))
        .collect()
}

/// At most `limit` rows matching `query` that the policy lets the viewer do `action` with
/// (`export`), in the list's order, each with the viewer's facts (which decide the
/// guarded fields, as when reading).
pub async fn rows_for<R>(
    deps: &Deps,
    viewer: &Viewer,
    action: R::Action,
    query: &ListQuery<R>,
    limit: u64,
) -> ApiResult<Vec<R::Row>>
where
    R: Record,
    R::Column: Field,
{
    let env = Env { deps, viewer };
    let keys = sort_keys(&sort_specs::<R>(&query.order, &env));
    let select = R::find()
        .filter(deps.authz.scope(viewer, action))
        .column_as(deps.authz.facts_expr(viewer, R::KIND), FACTS_COLUMN)
        .filter(query.condition(&env));
    Ok(crate::service::list::ordered(select, &keys, true)
        .limit(limit)
        .into_model::<R::Row>()
        .all(&deps.db)
        .await?)
}

/// How many rows the viewer may read match `query` (a list's `totalCount`).
pub async fn count<R>(deps: &Deps, viewer: &Viewer, query: &ListQuery<R>) -> ApiResult<u64>
where
    R: Record,
    R::Column: Field,
    R::Model: Sync,
{
    let env = Env { deps, viewer };
    let condition = query.condition(&env);
    // Every readable deal: added up from the deals' totals table (a rep's count reads a few
    // hundred totals instead of counting tens of thousands of deals).
    if R::KIND == Kind::Deal && query.search.is_none() && query.filter.condition(&env).is_empty() {
        return crate::service::report::readable_deals_count(deps, viewer).await;
    }
    let parts = R::counted(deps, viewer)
        .into_iter()
        .map(|part| part.filter(condition.clone()))
        .collect();
    crate::service::list::count_parts(&deps.db, parts).await
}

/// Row `id` if the viewer may read it; missing and unreadable are the same `NOT_FOUND`.
/// `db` is the pool or a write's transaction.
pub async fn find<R: Record>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
) -> ApiResult<R::Row> {
    R::readable(deps, viewer)
        .filter(R::ID.eq(id))
        .into_model::<R::Row>()
        .one(db)
        .await?
        .ok_or(ApiError::NotFound { entity: R::NAME })
}

/// The readable rows among `ids`, in no particular order (for relation loaders).
pub async fn by_ids<R: Record>(
    deps: &Deps,
    viewer: &Viewer,
    ids: &[Uuid],
) -> ApiResult<Vec<R::Row>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(R::readable(deps, viewer)
        .filter(R::ID.is_in(ids.iter().copied()))
        .into_model::<R::Row>()
        .all(&deps.db)
        .await?)
}

/// [`by_ids`] for rows on which the facts of `known` hold (established by the caller; see
/// `Authorizer::scope_knowing`), for kinds whose [`Record::readable`] is the policy's scope
/// with facts.
pub async fn by_ids_knowing<R: Record>(
    deps: &Deps,
    viewer: &Viewer,
    ids: &[Uuid],
    known: FactMask,
) -> ApiResult<Vec<R::Row>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(R::find()
        .filter(deps.authz.scope_knowing(viewer, R::READ, known))
        .column_as(
            deps.authz.facts_expr_knowing(viewer, R::KIND, known),
            FACTS_COLUMN,
        )
        .filter(R::ID.is_in(ids.iter().copied()))
        .into_model::<R::Row>()
        .all(&deps.db)
        .await?)
}

/// Whether the viewer may read row `id`: a reference to a record (`companyId`, …) is
/// checked with it, so an unreadable record reads exactly like a missing one.
pub async fn is_readable<R>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
) -> ApiResult<bool>
where
    R: Record,
    R::Model: Sync,
{
    Ok(R::find()
        .filter(deps.authz.scope(viewer, R::READ))
        .filter(R::ID.eq(id))
        .count(db)
        .await?
        > 0)
}

/// The first `limit` readable children of each parent in the kind's default order, with
/// each parent's total, in one statement (a window per parent): the rows behind a nested
/// connection such as `company { deals(first: 10) { totalCount nodes { … } } }` for a
/// whole page of companies. `parent` is the child's foreign key column.
pub async fn children<R: Record>(
    deps: &Deps,
    viewer: &Viewer,
    parent: &'static str,
    parents: &[Uuid],
    limit: u64,
) -> ApiResult<HashMap<Uuid, (Vec<R::Row>, u64)>> {
    let env = Env { deps, viewer };
    let parent_ref = (Alias::new(R::default().table_name()), Alias::new(parent));
    let mut rows_order = WindowStatement::partition_by(parent_ref.clone());
    for (spec, desc) in sort_specs::<R>(&[], &env) {
        let (order, nulls) = if desc {
            (Order::Desc, NullOrdering::First)
        } else {
            (Order::Asc, NullOrdering::Last)
        };
        rows_order.order_by_expr_with_nulls(spec.expr, order, nulls);
    }
    let mut inner = R::readable(deps, viewer)
        .filter(Expr::col(parent_ref.clone()).is_in(parents.iter().copied()))
        .into_query();
    inner
        .expr_window_as(Expr::cust("ROW_NUMBER()"), rows_order, Alias::new("crm_rn"))
        .expr_window_as(
            Expr::cust("COUNT(*)"),
            WindowStatement::partition_by(parent_ref),
            Alias::new("crm_total"),
        );
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("crm_children"))
        .and_where(Expr::col(Alias::new("crm_rn")).lte(limit as i64))
        .order_by(Alias::new("crm_rn"), Order::Asc)
        .to_owned();
    let db = &deps.db;
    let rows = db
        .query_all_raw(db.get_database_backend().build(&outer))
        .await?;
    let mut out: HashMap<Uuid, (Vec<R::Row>, u64)> =
        parents.iter().map(|p| (*p, (Vec::new(), 0))).collect();
    for row in rows {
        let Some(parent_id) = row.try_get::<Option<Uuid>>("", parent)? else {
            continue;
        };
        let total: i64 = row.try_get("", "crm_total")?;
        let entry = out.entry(parent_id).or_default();
        entry.0.push(R::Row::from_query_result(&row, "")?);
        entry.1 = u64::try_from(total).unwrap_or(0);
    }
    Ok(out)
}

/// The cursor a row of the kind's default order has (nested lists continue in the
/// top-level list with it).
pub fn default_cursor<R: Record>(deps: &Deps, viewer: &Viewer, row: &R::Row) -> Vec<Scalar> {
    let env = Env { deps, viewer };
    sort_specs::<R>(&[], &env)
        .iter()
        .map(|(s, _)| (s.value)(row))
        .collect()
}

/// A row's id.
pub trait Identified {
    /// The id.
    fn id(&self) -> Uuid;
}

/// A guarded, versioned kind: its rows carry their facts, it is written with optimistic
/// concurrency, created and deleted by the policy's `create` and `delete`.
macro_rules! versioned {
    ($module:ident, $action:ident) => {
        impl $crate::service::record::Identified
            for $crate::service::list::WithFacts<entity::$module::Model>
        {
            fn id(&self) -> uuid::Uuid {
                self.model.id
            }
        }

        impl $crate::service::record::Versioned for entity::$module::Entity {
            const CREATE: $action = $action::Create;
            const DELETE: $action = $action::Delete;
            const VERSION: entity::$module::Column = entity::$module::Column::Version;
            const CREATED_AT: entity::$module::Column = entity::$module::Column::CreatedAt;
            const UPDATED_AT: entity::$module::Column = entity::$module::Column::UpdatedAt;
        }
    };
}

pub(crate) use versioned;

/// A kind whose rows are guarded by the policy and written with optimistic concurrency
/// (`version`, `updated_at`).
pub trait Versioned: Record {
    /// Creating a record (asked about the record as it would be).
    const CREATE: Self::Action;
    /// Deleting a record.
    const DELETE: Self::Action;
    /// Its `version` column.
    const VERSION: Self::Column;
    /// Its `created_at` column.
    const CREATED_AT: Self::Column;
    /// Its `updated_at` column.
    const UPDATED_AT: Self::Column;
}

/// Loads a record for a write, inside the write's transaction: unreadable is `NOT_FOUND`,
/// readable but not allowed `FORBIDDEN`.
pub(crate) async fn load_for<E>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
    action: E::Action,
) -> ApiResult<crate::service::list::WithFacts<E::Model>>
where
    E: Versioned<Row = crate::service::list::WithFacts<<E as EntityTrait>::Model>>,
{
    let row = find::<E>(deps, viewer, db, id).await?;
    require_allowed(deps, viewer, action, row.facts)?;
    Ok(row)
}

/// Writes `am` over `before` only if its stored version is still the one `before` has
/// (`UPDATE … SET …, version = version + 1 WHERE id = ? AND version = ?`), setting
/// `updated_at`: of two writers that read the same version, one wins and the other gets
/// `CONFLICT` on `expectedVersion`. `on_error` maps a failed statement (a unique index, say).
/// Returns the changed fields, for the write's event.
pub(crate) async fn write_versioned<E, A>(
    db: &impl ConnectionTrait,
    before: &E::Model,
    mut am: A,
    on_error: impl FnOnce(DbErr) -> ApiError,
) -> ApiResult<Vec<Change>>
where
    E: Versioned,
    E::Model: Audited,
    A: ActiveModelTrait<Entity = E> + Send,
{
    let id: Uuid = value_of::<E, Uuid>(before, E::ID)?;
    let version: i32 = value_of::<E, i32>(before, E::VERSION)?;
    let mut after = before.clone();
    for column in <E::Column as sea_orm::Iterable>::iter() {
        if let sea_orm::ActiveValue::Set(v) = am.get(column) {
            sea_orm::ModelTrait::try_set(&mut after, column, v)?;
        }
    }
    am.set(E::UPDATED_AT, Utc::now().into());
    let res = E::update_many()
        .set(am)
        .col_expr(E::VERSION, Expr::col(E::VERSION).add(1))
        .filter(E::ID.eq(id))
        .filter(E::VERSION.eq(version))
        .exec(db)
        .await
        .map_err(on_error)?;
    if res.rows_affected == 1 {
        Ok(events::diff(before, &after))
    } else {
        Err(ApiError::Conflict {
            message: format!(
                "the {} changed meanwhile; reload and retry",
                E::NAME.to_lowercase()
            ),
            field: Some("expectedVersion".to_owned()),
        })
    }
}

/// A column's value in a model, typed.
fn value_of<E: EntityTrait, T: sea_orm::sea_query::ValueType>(
    m: &E::Model,
    c: E::Column,
) -> ApiResult<T> {
    T::try_from(sea_orm::ModelTrait::get(m, c))
        .map_err(|_| ApiError::internal("record column", "unexpected value type"))
}

/// The team of user `user_id` (`Some(team)`) if they exist and are active, as owners,
/// assignees and share recipients must be; otherwise `None` after recording "no such
/// active user" on `field`.
pub(crate) async fn active_user_team(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    field: &str,
    errors: &mut impl Extend<FieldError>,
) -> ApiResult<Option<Option<Uuid>>> {
    match entity::user::Entity::find_by_id(user_id).one(db).await? {
        Some(u) if u.active => Ok(Some(u.team_id)),
        _ => {
            errors.extend([FieldError::new(field, "no such active user")]);
            Ok(None)
        }
    }
}

/// The rows of a guarded kind the viewer may read, each with its facts column.
pub(crate) fn guarded<E: Record>(deps: &Deps, viewer: &Viewer) -> Select<E> {
    E::find()
        .filter(deps.authz.scope(viewer, E::READ))
        .column_as(deps.authz.facts_expr(viewer, E::KIND), FACTS_COLUMN)
}

/// A table-qualified column (the policy scope's subqueries use other aliases).
pub fn qualified<C: ColumnTrait>(c: C) -> SimpleExpr {
    Expr::col((c.entity_name(), c))
}

/// A kind's plain columns as filter fields.
macro_rules! plain_fields {
    ($($column:ty),* $(,)?) => {$(
        impl $crate::service::filter::Field for $column {
            fn expr(self, _: &$crate::service::filter::Env<'_>) -> sea_orm::sea_query::SimpleExpr {
                $crate::service::record::qualified(self)
            }
        }
    )*};
}

pub(crate) use plain_fields;

/// A create that names its own id (`client_id`, generated by an offline client) and may be
/// a replay: `Some(row)` when that record exists and the viewer may read it (the same
/// create arriving again gets the record it made the first time, nothing is written),
/// `None` when no record has the id. An id taken by a record the viewer cannot read is
/// refused on `id`, the same whoever made it.
pub(crate) async fn replayed<R>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    client_id: Option<Uuid>,
) -> ApiResult<Option<R::Row>>
where
    R: Record,
    R::Model: Sync,
{
    let Some(id) = client_id else {
        return Ok(None);
    };
    match find::<R>(deps, viewer, db, id).await {
        Ok(row) => Ok(Some(row)),
        Err(ApiError::NotFound { .. }) => {
            if R::find().filter(R::ID.eq(id)).count(db).await? > 0 {
                Err(ApiError::bad_input(
                    "id",
                    "is already used by another record",
                ))
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(e),
    }
}

/// The id of a new record: the client's (checked by [`replayed`] first) or a fresh one.
pub(crate) fn new_id(client_id: Option<Uuid>) -> Uuid {
    client_id.unwrap_or_else(Uuid::new_v4)
}

/// The answer to a failed insert of new record `id` (its transaction rolled back): when the
/// client chose the id (`client_id`) and another request's insert of it won a race, the
/// replay's answer (the record, or `id` refused); otherwise `on_error`'s.
pub(crate) async fn insert_failed<R>(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    (id, client_id): (Uuid, bool),
    err: DbErr,
    on_error: impl FnOnce(DbErr) -> ApiError,
) -> ApiResult<R::Row>
where
    R: Record,
    R::Model: Sync,
{
    let taken = client_id
        && matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        );
    if taken && let Some(row) = replayed::<R>(deps, viewer, &at.reader(deps), Some(id)).await? {
        return Ok(row);
    }
    Err(on_error(err))
}

/// Inserts a new record `id` from `am` (its version 1, created and updated now), records
/// `RECORD_CREATED`, commits and returns the row as the viewer reads it. `on_error` maps a
/// failed insert (a unique index, a foreign key). `client_id` is whether the client chose
/// `id`: two replays of one create racing on PostgreSQL both pass [`replayed`], and the
/// one whose insert meets the other's row answers as a replay.
pub(crate) async fn create<E, A>(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    txn: sea_orm::DatabaseTransaction,
    (id, mut am): (Uuid, A),
    client_id: bool,
    on_error: impl FnOnce(DbErr) -> ApiError,
) -> ApiResult<E::Row>
where
    E: Versioned,
    E::Model: Audited + Sync,
    A: ActiveModelTrait<Entity = E> + Send + sea_orm::TryIntoModel<E::Model>,
{
    stamp_new(&mut am);
    let model = am.clone().try_into_model()?;
    if let Err(err) = E::insert(am).exec_without_returning(&txn).await {
        drop(txn);
        return insert_failed::<E>(deps, viewer, at, (id, client_id), err, on_error).await;
    }
    let changes = events::created(&model);
    commit::<E>(
        deps,
        viewer,
        at,
        txn,
        id,
        AuditAction::RecordCreated,
        changes,
    )
    .await
}

/// Sets a new record's version (1) and its creation and change times (now).
pub(crate) fn stamp_new<E: Versioned, A: ActiveModelTrait<Entity = E>>(am: &mut A) {
    let now = Utc::now();
    am.set(E::VERSION, 1.into());
    am.set(E::CREATED_AT, now.into());
    am.set(E::UPDATED_AT, now.into());
}

/// Records the event of a write to record `id` in its transaction, with the notifications
/// it causes.
pub(crate) async fn log<R>(
    deps: &Deps,
    viewer: &Viewer,
    txn: &impl ConnectionTrait,
    id: Uuid,
    action: AuditAction,
    changes: Vec<Change>,
) -> ApiResult<()>
where
    R: Record,
    R::Model: Audited,
{
    let event = Event::on(action, <R::Model as Audited>::KIND, id, changes);
    let position = events::append_by(deps, txn, viewer, event.clone()).await?;
    crate::service::notifications::for_event(deps, txn, viewer, &event, position).await?;
    crate::service::automation::enqueue(deps, txn, viewer, &event, position).await
}

/// Records the event of a write, commits and returns the row as the viewer now reads it
/// (every create and change of a guarded record ends here).
pub(crate) async fn commit<R>(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    txn: sea_orm::DatabaseTransaction,
    id: Uuid,
    action: AuditAction,
    changes: Vec<Change>,
) -> ApiResult<R::Row>
where
    R: Record,
    R::Model: Audited,
{
    log::<R>(deps, viewer, &txn, id, action, changes).await?;
    txn.commit().await?;
    find::<R>(deps, viewer, &at.reader(deps), id).await
}

/// The owner of a record about to be created (`requested`, or the viewer) and their team
/// (`None` also when "no such active user" was recorded on `ownerId`).
pub(crate) async fn new_owner(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    requested: Option<Uuid>,
    errors: &mut impl Extend<FieldError>,
) -> ApiResult<(Uuid, Option<Uuid>)> {
    let owner = requested.unwrap_or(viewer.user_id);
    let team = active_user_team(db, owner, "ownerId", errors).await?;
    Ok((owner, team.flatten()))
}

/// A change of owner to `requested` when it differs from `current`: the new owner and
/// their team, or `None` (no change, or "no such active user" recorded on `ownerId`).
pub(crate) async fn owner_change(
    db: &impl ConnectionTrait,
    requested: Option<Uuid>,
    current: Uuid,
    errors: &mut impl Extend<FieldError>,
) -> ApiResult<Option<(Uuid, Option<Uuid>)>> {
    let Some(owner) = requested.filter(|o| *o != current) else {
        return Ok(None);
    };
    Ok(active_user_team(db, owner, "ownerId", errors)
        .await?
        .map(|team| (owner, team)))
}

/// A hand-over to another owner is allowed when the viewer could create the record for
/// them: `create` on the record as it would be (`after`, its facts with the new owner).
/// Otherwise `FORBIDDEN` on `ownerId`.
pub(crate) fn require_handover<R: Versioned>(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    after: crate::authz::FactMask,
) -> ApiResult<()> {
    if deps.authz.decide(viewer.role, R::CREATE, after) {
        Ok(())
    } else {
        tracing::info!(target: "audit", event = "forbidden", user_id = %viewer.user_id, kind = R::NAME, record_id = %id, "owner change denied by policy");
        Err(ApiError::Forbidden {
            field: Some("ownerId".into()),
        })
    }
}

/// Loads a versioned record for a change inside the write's transaction: unreadable is
/// `NOT_FOUND`, not allowed `FORBIDDEN`, changed since the client's `expected` version
/// `CONFLICT`.
pub(crate) async fn load_for_change<E>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
    action: E::Action,
    expected: Option<i32>,
) -> ApiResult<crate::service::list::WithFacts<E::Model>>
where
    E: Versioned<Row = crate::service::list::WithFacts<<E as EntityTrait>::Model>>,
{
    let row = load_for::<E>(deps, viewer, db, id, action).await?;
    let sea_orm::Value::Int(Some(version)) = sea_orm::ModelTrait::get(&row.model, E::VERSION)
    else {
        return Err(ApiError::internal("record version", "not an integer"));
    };
    crate::service::check_version(expected, version)?;
    Ok(row)
}

/// Deletes record `id` if the policy lets the viewer (`delete`); what references it goes
/// or is cleared by the foreign keys, each recorded as an event of its own (attachments go
/// with their record; their files once unreferenced, after the commit). Returns the id.
pub(crate) async fn delete<E>(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid>
where
    E: Versioned<Row = crate::service::list::WithFacts<<E as EntityTrait>::Model>>,
    E::Model: Audited,
{
    let txn = crate::service::begin_write(deps).await?;
    let row = load_for::<E>(deps, viewer, &txn, id, E::DELETE).await?;
    let cascade = events::cascade(&txn, <E::Model as Audited>::KIND, id).await?;
    let files =
        crate::service::attachment::files_going_with(&txn, <E::Model as Audited>::KIND, id).await?;
    E::delete_many().filter(E::ID.eq(id)).exec(&txn).await?;
    record_delete::<E>(deps, viewer, &txn, id, &row.model, cascade).await?;
    txn.commit().await?;
    crate::service::attachment::release(deps, files).await;
    Ok(id)
}

/// Records the deletion of `model` (and what it did to other records, `cascade`).
pub(crate) async fn record_delete<E>(
    deps: &Deps,
    viewer: &Viewer,
    txn: &impl ConnectionTrait,
    id: Uuid,
    model: &E::Model,
    cascade: Vec<Event>,
) -> ApiResult<()>
where
    E: Record,
    E::Model: Audited,
{
    let changes = events::deleted(model);
    log::<E>(deps, viewer, txn, id, AuditAction::RecordDeleted, changes).await?;
    for event in cascade {
        events::append_by(deps, txn, viewer, event).await?;
    }
    Ok(())
}

/// Declares a kind's sort enum from its list of sort keys (`xxx_sort_keys!(sort_enum)`):
/// the list names each key once, for the service and for the API's order field.
macro_rules! sort_enum {
    ($(#[$meta:meta])* $name:ident as $api:ident { $($(#[$vmeta:meta])* $variant:ident,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }
    };
}

pub(crate) use sort_enum;

/// An update's column value: the change if there is one, else left as it is.
pub(crate) fn change<T: Into<sea_orm::Value>>(value: Option<T>) -> sea_orm::ActiveValue<T> {
    value.map_or(sea_orm::ActiveValue::NotSet, sea_orm::ActiveValue::Set)
}

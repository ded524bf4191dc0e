//! What the guarded, versioned records (deals, companies, contacts, activities) share: one
//! readable row by id, the load-and-authorize step of every write, and the versioned update.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Select,
};
use uuid::Uuid;

use crate::authz::{Action, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::list::WithFacts;
use crate::service::{Deps, require_allowed};

/// A record kind whose rows are guarded by the policy and written with optimistic
/// concurrency (`version`, `updated_at`).
pub(crate) trait Record: EntityTrait {
    /// The policy's actions on it (and thereby its resource kind).
    type Action: Into<Action>;
    /// The GraphQL type name, for `NOT_FOUND`.
    const NAME: &'static str;
    /// Its `id` column.
    const ID: Self::Column;
    /// Its `version` column.
    const VERSION: Self::Column;
    /// Its `updated_at` column.
    const UPDATED_AT: Self::Column;
    /// The rows the viewer may read, with their facts column (the service's `readable`).
    fn readable(deps: &Deps, viewer: &Viewer) -> Select<Self>;
}

macro_rules! record {
    ($module:ident, $action:ident, $name:literal) => {
        impl Record for entity::$module::Entity {
            type Action = crate::authz::$action;
            const NAME: &'static str = $name;
            const ID: Self::Column = entity::$module::Column::Id;
            const VERSION: Self::Column = entity::$module::Column::Version;
            const UPDATED_AT: Self::Column = entity::$module::Column::UpdatedAt;
            fn readable(deps: &Deps, viewer: &Viewer) -> Select<Self> {
                crate::service::$module::readable(deps, viewer)
            }
        }
    };
}

record!(deal, DealAction, "Deal");
record!(company, CompanyAction, "Company");
record!(contact, ContactAction, "Contact");
record!(activity, ActivityAction, "Activity");

/// Row `id` with its facts, if the viewer may read it; missing and unreadable are the same
/// `NOT_FOUND`. `db` is the pool or a write's transaction.
pub(crate) async fn find<E>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
) -> ApiResult<WithFacts<E::Model>>
where
    E: Record,
    E::Model: Sync,
{
    E::readable(deps, viewer)
        .filter(E::ID.eq(id))
        .into_model::<WithFacts<E::Model>>()
        .one(db)
        .await?
        .ok_or(ApiError::NotFound { entity: E::NAME })
}

/// Loads a record for a write, inside the write's transaction: unreadable is `NOT_FOUND`,
/// readable but not allowed `FORBIDDEN`.
pub(crate) async fn load_for<E>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
    action: E::Action,
) -> ApiResult<WithFacts<E::Model>>
where
    E: Record,
    E::Model: Sync,
{
    let row = find::<E>(deps, viewer, db, id).await?;
    require_allowed(deps, viewer, action, row.facts)?;
    Ok(row)
}

/// Writes `am` to row `id` only if its stored version is still `version`
/// (`UPDATE … SET …, version = version + 1 WHERE id = ? AND version = ?`), setting
/// `updated_at`: of two writers that read the same version, one wins and the other gets
/// `CONFLICT` on `expectedVersion`. `on_error` maps a failed statement (a unique index, say).
pub(crate) async fn write_versioned<E, A>(
    db: &impl ConnectionTrait,
    id: Uuid,
    version: i32,
    mut am: A,
    on_error: impl FnOnce(DbErr) -> ApiError,
) -> ApiResult<()>
where
    E: Record,
    A: ActiveModelTrait<Entity = E> + Send,
{
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
        Ok(())
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

//! The GraphQL schema, organised by entity: each module owns its query and mutation
//! objects, its types and its inputs; the roots merge them.

pub mod activity;
pub mod attachment;
pub mod audit;
mod auth;
pub mod automation;
pub mod company;
pub mod connection;
pub mod contact;
pub mod deal;
pub mod enums;
pub mod export;
pub mod filter;
pub mod import;
pub mod limits;
pub mod lists;
pub mod loaders;
pub mod node;
pub mod notification;
pub(crate) mod nulls;
pub mod record;
pub mod report;
pub mod scalars;
pub mod selected;
pub mod sync;
mod system;
mod team;
mod user;

use async_graphql::{Context, ErrorExtensions, ID, MergedObject, Schema, SchemaBuilder};
use uuid::Uuid;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::service::Deps;

pub use activity::{Activity, ActivityMutation, ActivityQuery};
pub use auth::{AuthMutation, AuthQuery};
pub use company::{Company, CompanyMutation, CompanyQuery};
pub use contact::{Contact, ContactMutation, ContactQuery};
pub use deal::{Deal, DealMutation, DealQuery};
pub use system::SystemQuery;
pub use team::{Team, TeamListQuery, TeamMutation, TeamQuery};
pub use user::{User, UserListQuery, UserMutation, UserQuery};

/// The query root.
#[derive(MergedObject, Default)]
pub struct Query(
    SystemQuery,
    audit::AuditQuery,
    automation::AutomationQuery,
    notification::NotificationQuery,
    sync::SyncQuery,
    AuthQuery,
    UserListQuery,
    UserQuery,
    TeamListQuery,
    TeamQuery,
    DealQuery,
    ActivityQuery,
    CompanyQuery,
    ContactQuery,
    report::ReportQuery,
    node::NodeQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct Mutation(
    AuthMutation,
    automation::AutomationMutation,
    attachment::AttachmentMutation,
    export::ExportMutation,
    import::ImportMutation,
    notification::NotificationMutation,
    UserMutation,
    TeamMutation,
    DealMutation,
    ActivityMutation,
    CompanyMutation,
    ContactMutation,
);

/// The executable schema type.
pub type CrmSchema = Schema<Query, Mutation, sync::LiveSubscription>;

/// The schema with its limits, without data: add [`Deps`] with `.data(..)` before
/// `.finish()`.
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, sync::LiveSubscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        sync::LiveSubscription,
    )
    .limit_depth(20)
    .limit_complexity(5_000)
    .limit_recursive_depth(32)
}

/// The SDL clients rely on; `schema.graphql` must equal it.
pub fn export_sdl() -> String {
    schema_builder().finish().sdl()
}

/// The services' dependencies.
pub(crate) fn deps<'a>(ctx: &Context<'a>) -> &'a Deps {
    ctx.data_unchecked::<Deps>()
}

/// The signed-in actor, or `UNAUTHENTICATED`. An actor whose password was reset by an admin
/// must change it first (`FORBIDDEN`, `reason: PASSWORD_CHANGE_REQUIRED`).
pub(crate) fn actor<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Actor> {
    let actor = actor_even_if_password_expired(ctx)?;
    if actor.must_change_password {
        return Err(ApiError::Forbidden { field: None }
            .extend()
            .extend_with(|_, e| e.set("reason", "PASSWORD_CHANGE_REQUIRED")));
    }
    Ok(actor)
}

/// The signed-in actor, also when they must still change a reset password. Under a
/// `login` or `refreshSession` field of an anonymous request, the user just signed in.
pub(crate) fn actor_even_if_password_expired<'a>(
    ctx: &Context<'a>,
) -> async_graphql::Result<&'a Actor> {
    ctx.data_opt::<Actor>()
        .or_else(|| signed_in_here(ctx).map(|s| &s.actor))
        .ok_or_else(|| ApiError::Unauthenticated.extend())
}

/// The user a `login` / `refreshSession` field above `ctx` signed in, if any.
pub(crate) fn signed_in_here<'a>(ctx: &Context<'a>) -> Option<&'a SignedIn> {
    let slots = ctx.data_opt::<SignedInSlots>()?;
    let mut node = ctx.path_node.as_ref()?;
    while let Some(parent) = node.parent {
        node = parent;
    }
    let async_graphql::QueryPathSegment::Name(key) = node.segment else {
        return None;
    };
    slots.find(key)
}

/// Who a sign-in in this request made the actor of its own payload, so that
/// `login { user { team { members { name } } } }` resolves like any signed-in query.
pub struct SignedIn {
    /// The response key of the `login` / `refreshSession` field.
    key: String,
    /// The signed-in actor.
    pub actor: Actor,
    /// Their per-request loaders.
    pub loader: loaders::RequestLoader,
}

/// Room for the sign-ins of one request (mutations run one after the other; a document
/// signing in more than [`SIGN_INS_PER_REQUEST`] times gets plain payloads after that).
#[derive(Default)]
pub struct SignedInSlots([std::sync::OnceLock<SignedIn>; SIGN_INS_PER_REQUEST]);

/// See [`SignedInSlots`].
pub const SIGN_INS_PER_REQUEST: usize = 4;

impl SignedInSlots {
    /// Records a sign-in made by the field at `key`.
    pub(crate) fn record(&self, key: &str, actor: Actor, loader: loaders::RequestLoader) {
        let mut entry = Some(SignedIn {
            key: key.to_owned(),
            actor,
            loader,
        });
        for slot in &self.0 {
            match slot.set(entry.take().expect("one entry")) {
                Ok(()) => return,
                Err(back) => entry = Some(back),
            }
        }
    }

    fn find(&self, key: &str) -> Option<&SignedIn> {
        self.0.iter().filter_map(|s| s.get()).find(|s| s.key == key)
    }
}

/// Adds what every resolver may ask for to a request from any transport: the client
/// address, the actor with their loaders, and room for sign-ins.
pub fn with_request_data(
    request: async_graphql::Request,
    deps: &Deps,
    origin: crate::authz::Origin,
    actor: Option<Actor>,
) -> async_graphql::Request {
    let request = request
        .data(crate::auth::ClientAddr(origin.ip))
        .data(origin.clone())
        .data(SignedInSlots::default())
        .data(selected::DocumentFields::default());
    match actor {
        Some(mut actor) => {
            actor.viewer.origin = origin;
            let loader = loaders::for_viewer(deps.clone(), actor.viewer.clone());
            request.data(loader).data(actor)
        }
        None => request,
    }
}

/// Parses a client-supplied ID; a malformed one is `BAD_USER_INPUT` on `field`.
pub(crate) fn parse_id(id: &ID, field: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input(field, "is not a valid ID"))
}

/// Converts a service error for GraphQL.
pub(crate) fn gql(err: ApiError) -> async_graphql::Error {
    err.extend()
}

/// A by-id read as a nullable field: missing or unreadable (`NOT_FOUND`) is `null`.
pub(crate) fn or_none<T>(found: crate::error::ApiResult<T>) -> async_graphql::Result<Option<T>> {
    match found {
        Ok(v) => Ok(Some(v)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(gql(e)),
    }
}

/// An optional client ID; malformed is `BAD_USER_INPUT` on `field`.
pub(crate) fn parse_opt_id(id: Option<&ID>, field: &str) -> crate::error::ApiResult<Option<Uuid>> {
    id.map(|id| parse_id(id, field)).transpose()
}

/// A mutation's result as its node, read for `viewer`.
pub(crate) fn wrap<N: record::FromRow>(
    row: crate::error::ApiResult<N::Row>,
    viewer: &crate::authz::Viewer,
) -> async_graphql::Result<N> {
    row.map(|row| N::from_row(row, viewer)).map_err(gql)
}

//! What every record type of the schema shares: the node wrapper of a guarded row
//! ([`record_node!`]), and the top-level list fields ([`record_list!`]), so a
//! kind's GraphQL module only describes its own fields.

use crate::authz::Viewer;

/// A GraphQL node built from a row read for a viewer.
pub trait FromRow {
    /// The row (as the service reads it).
    type Row;
    /// The node of `row`, read for `viewer`.
    fn from_row(row: Self::Row, viewer: &Viewer) -> Self;
}

impl FromRow for crate::graphql::User {
    type Row = entity::user::Model;
    fn from_row(row: Self::Row, _: &Viewer) -> Self {
        Self(row)
    }
}

impl FromRow for crate::graphql::audit::AuditEntry {
    type Row = crate::service::audit::Entry;
    fn from_row(row: Self::Row, _: &Viewer) -> Self {
        Self(row)
    }
}

impl FromRow for crate::graphql::Team {
    type Row = entity::team::Model;
    fn from_row(row: Self::Row, _: &Viewer) -> Self {
        Self(row)
    }
}

/// Declares the node type of a guarded kind: the row with its facts and the viewer it was
/// read for; `can` decides an action on it from the facts, without a query.
macro_rules! record_node {
    ($(#[$meta:meta])* $name:ident, $row:ty, $model:ty, $action:ty) => {
        $(#[$meta])*
        pub struct $name {
            row: $row,
            viewer: $crate::authz::Viewer,
        }

        impl $name {
            /// Wraps a row read for `viewer`.
            pub fn new(row: $row, viewer: &$crate::authz::Viewer) -> Self {
                Self {
                    row,
                    viewer: viewer.clone(),
                }
            }

            /// The stored row.
            pub fn model(&self) -> &$model {
                &self.row.model
            }

            /// The viewer the row was read for.
            pub fn viewer(&self) -> &$crate::authz::Viewer {
                &self.viewer
            }

            /// The history of this record (`history(first, after)`): its events, the
            /// fields the viewer may not read redacted.
            async fn history_page(
                &self,
                ctx: &async_graphql::Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> async_graphql::Result<$crate::graphql::audit::AuditEntryConnection> {
                let page = $crate::service::list::PageArgs {
                    first,
                    after,
                    ..Default::default()
                };
                $crate::graphql::audit::history(
                    ctx,
                    &self.viewer,
                    <$action>::KIND,
                    self.row.model.id,
                    self.row.facts,
                    page,
                )
                .await
            }

            /// Whether the policy lets the viewer do `action` on this row.
            fn can(&self, ctx: &async_graphql::Context<'_>, action: $action) -> bool {
                $crate::graphql::deps(ctx)
                    .authz
                    .decide(self.viewer.role, action, self.row.facts)
            }
        }

        impl $crate::graphql::record::FromRow for $name {
            type Row = $row;
            fn from_row(row: $row, viewer: &$crate::authz::Viewer) -> Self {
                Self::new(row, viewer)
            }
        }
    };
}

pub(crate) use record_node;

/// Declares a kind's connection types, its top-level list field (a Relay connection with
/// `filter`, optional `search` and `orderBy`) and, for guarded kinds, its by-id field, as an
/// object of its own merged into the query root. The descriptions are the types', the
/// fields' and their arguments'.
macro_rules! record_list {
    (
        $query:ident for $entity:ty => $conn:ident, $edge:ident of $node:ty {
            connection: $conn_doc:literal,
            edge: $edge_doc:literal,
            $(#[$doc:meta])*
            $field:ident(
                filter: $filter:ty = $filter_desc:literal,
                $(search = $search_desc:literal,)?
                order_by: $order:ty = $order_desc:literal $(,)?
            )
            $(
                $(#[$by_id_doc:meta])*
                $by_id:ident(id = $id_desc:literal)
            )?
        }
    ) => {
        $crate::graphql::connection::connection!($conn, $edge, $node, $conn_doc, $edge_doc);

        #[doc = concat!("The `", stringify!($field), "` list.")]
        #[derive(Default)]
        pub struct $query;

        #[async_graphql::Object]
        impl $query {
            $(#[$doc])*
            #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
            async fn $field(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "Rows after this cursor.")] after: Option<String>,
                #[graphql(desc = "Rows before this cursor.")] before: Option<String>,
                #[graphql(desc = "How many rows from the start (default 25, at most 100).")]
                first: Option<i32>,
                #[graphql(desc = "How many rows from the end (at most 100).")] last: Option<i32>,
                #[graphql(desc = $filter_desc)] filter: Option<$filter>,
                $(#[graphql(desc = $search_desc)] search: Option<String>,)?
                #[graphql(desc = $order_desc)] order_by: Option<Vec<$order>>,
            ) -> async_graphql::Result<$conn> {
                let viewer = &$crate::graphql::actor(ctx)?.viewer;
                $crate::graphql::record::record_list!(@no_search search $($search_desc)?);
                let args = $crate::graphql::connection::ListArgs {
                    page: $crate::service::list::PageArgs {
                        first,
                        after,
                        last,
                        before,
                    },
                    filter,
                    search,
                    order_by,
                };
                $conn::list::<$entity, _, _>(ctx, args, viewer).await
            }

            $(
                $(#[$by_id_doc])*
                async fn $by_id(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(desc = $id_desc)] id: async_graphql::ID,
                ) -> async_graphql::Result<Option<$node>> {
                    let viewer = &$crate::graphql::actor(ctx)?.viewer;
                    let id = $crate::graphql::parse_id(&id, "id").map_err($crate::graphql::gql)?;
                    let deps = $crate::graphql::deps(ctx);
                    let row = $crate::service::record::find::<$entity>(deps, viewer, &deps.db, id);
                    Ok($crate::graphql::or_none(row.await)?.map(|row| {
                        <$node as $crate::graphql::record::FromRow>::from_row(row, viewer)
                    }))
                }
            )?
        }
    };
    (@no_search $search:ident $desc:literal) => {};
    (@no_search $search:ident) => {
        let $search: Option<String> = None;
    };
}

pub(crate) use record_list;

//! Relay connections with documented types (async-graphql's generic `Connection` carries no
//! description into the SDL). `connection!` declares `XConnection` and `XEdge` for a node
//! type; pages are built from a service [`Page`] and a total that is either known (nested
//! connections get it from the same statement) or counted lazily, only when asked for.

use std::sync::Arc;

use async_graphql::Context;
use async_graphql::connection::PageInfo;
use futures_util::future::BoxFuture;

use crate::error::ApiResult;
use crate::graphql::filter::{RecordFilter, RecordOrder};
use crate::graphql::{actor, deps, gql};
use crate::service::filter::Field;
use crate::service::list::{Page, PageArgs};
use crate::service::record::{self, ListQuery, Record};
use crate::service::related::Join;

/// The `totalCount` of a connection.
#[derive(Clone)]
pub enum Total {
    /// Already known.
    Known(u64),
    /// Counted on demand (a `COUNT(*)` over the same scope and filter).
    Lazy(Arc<dyn Fn() -> BoxFuture<'static, ApiResult<u64>> + Send + Sync>),
}

impl Total {
    /// Resolves the count.
    pub async fn get(&self) -> async_graphql::Result<u64> {
        match self {
            Total::Known(n) => Ok(*n),
            Total::Lazy(f) => f().await.map_err(crate::graphql::gql),
        }
    }
}

/// The arguments of a top-level list field.
pub struct ListArgs<F, O> {
    /// `first`, `after`, `last`, `before`.
    pub page: PageArgs,
    /// The `filter` input.
    pub filter: Option<F>,
    /// The `search` text.
    pub search: Option<String>,
    /// The `orderBy` keys.
    pub order_by: Option<Vec<O>>,
}

/// A top-level connection's page of kind `R` for the signed-in viewer, and its total,
/// counted only if the client asks for `totalCount`.
pub(crate) async fn list_page<R, F, O>(
    ctx: &Context<'_>,
    args: ListArgs<F, O>,
) -> async_graphql::Result<(Page<R::Row>, Total)>
where
    R: Record,
    R::Column: Field + Send + Sync,
    R::Model: Sync,
    F: RecordFilter<Field = R::Column>,
    O: RecordOrder<Sort = R::Sort>,
{
    let viewer = actor(ctx)?.viewer.clone();
    let deps = deps(ctx).clone();
    let query = ListQuery::<R> {
        filter: args
            .filter
            .as_ref()
            .map(RecordFilter::to_filter)
            .transpose()
            .map_err(gql)?
            .unwrap_or_default(),
        search: args.search,
        order: args
            .order_by
            .unwrap_or_default()
            .iter()
            .map(O::key)
            .collect(),
    };
    // `{ totalCount }` alone: the arguments are checked as for a page, no page is read.
    let look = ctx.look_ahead();
    let page = if ["edges", "nodes", "pageInfo"]
        .iter()
        .any(|f| look.field(f).exists())
    {
        // The nodes' to-one relations the selection asks for are read by the page's own
        // statement and handed to the loaders.
        let nodes = [look.field("nodes"), look.field("edges").field("node")];
        let joins: Vec<Join> = R::TO_ONE
            .iter()
            .filter(|to_one| nodes.iter().any(|n| n.field(to_one.field).exists()))
            .map(|to_one| Join {
                to_one,
                wanted: crate::graphql::selected::columns(ctx, to_one.kind),
            })
            .collect();
        let (page, related) = record::list_joined(&deps, &viewer, &query, &args.page, &joins)
            .await
            .map_err(gql)?;
        if !joins.is_empty() {
            crate::graphql::loaders::prime(crate::graphql::loaders::loader(ctx)?, related);
        }
        page
    } else {
        record::check_list(&deps, &viewer, &query, &args.page).map_err(gql)?;
        Page {
            rows: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
        }
    };
    let query = Arc::new(query);
    let total = Total::Lazy(Arc::new(move || {
        let (deps, viewer, query) = (deps.clone(), viewer.clone(), query.clone());
        Box::pin(async move { record::count(&deps, &viewer, &query).await })
    }));
    Ok((page, total))
}

/// Page info for a service page.
pub fn page_info<M>(page: &Page<M>) -> PageInfo {
    PageInfo {
        has_previous_page: page.has_previous_page,
        has_next_page: page.has_next_page,
        start_cursor: page.rows.first().map(|(c, _)| c.clone()),
        end_cursor: page.rows.last().map(|(c, _)| c.clone()),
    }
}

/// Declares `$conn` and `$edge` for `$node`; `$what` names the nodes in the docs.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $conn_doc:literal, $edge_doc:literal) => {
        #[doc = $conn_doc]
        pub struct $conn {
            /// The rows with their cursors.
            pub edges: Vec<$edge>,
            /// Where this page is.
            pub page_info: async_graphql::connection::PageInfo,
            /// The number of matching rows over all pages.
            pub total: $crate::graphql::connection::Total,
        }

        impl $conn {
            /// A top-level list of kind `R` for the signed-in viewer (see
            /// [`list_page`](crate::graphql::connection::list_page)).
            #[allow(dead_code, reason = "the audit log is not a record list")]
            pub(crate) async fn list<R, F, O>(
                ctx: &async_graphql::Context<'_>,
                args: $crate::graphql::connection::ListArgs<F, O>,
                viewer: &$crate::authz::Viewer,
            ) -> async_graphql::Result<Self>
            where
                R: $crate::service::record::Record<
                        Row = <$node as $crate::graphql::record::FromRow>::Row,
                    >,
                R::Column: $crate::service::filter::Field + Send + Sync,
                R::Model: Sync,
                F: $crate::graphql::filter::RecordFilter<Field = R::Column>,
                O: $crate::graphql::filter::RecordOrder<Sort = R::Sort>,
            {
                let (page, total) =
                    $crate::graphql::connection::list_page::<R, F, O>(ctx, args).await?;
                Ok(Self::from_page(page, total, |row| {
                    <$node as $crate::graphql::record::FromRow>::from_row(row, viewer)
                }))
            }

            /// A nested list of kind `R` under `parent` (see
            /// [`children`](crate::graphql::loaders::children)).
            #[allow(
                dead_code,
                reason = "only kinds that hang off a record have nested lists"
            )]
            pub(crate) async fn nested<R>(
                ctx: &async_graphql::Context<'_>,
                parent: $crate::graphql::loaders::Parent,
                first: Option<i32>,
                viewer: &$crate::authz::Viewer,
            ) -> async_graphql::Result<Self>
            where
                R: $crate::service::record::Record<
                        Row = <$node as $crate::graphql::record::FromRow>::Row,
                    >,
            {
                let (page, total) =
                    $crate::graphql::loaders::children::<R>(ctx, parent, first).await?;
                Ok(Self::from_page(page, total, |row| {
                    <$node as $crate::graphql::record::FromRow>::from_row(row, viewer)
                }))
            }

            /// A connection from a service page whose rows become nodes through `node`.
            pub fn from_page<M>(
                page: $crate::service::list::Page<M>,
                total: $crate::graphql::connection::Total,
                node: impl Fn(M) -> $node,
            ) -> Self {
                let page_info = $crate::graphql::connection::page_info(&page);
                Self {
                    edges: page
                        .rows
                        .into_iter()
                        .map(|(cursor, row)| $edge {
                            cursor,
                            node: node(row),
                        })
                        .collect(),
                    page_info,
                    total,
                }
            }
        }

        #[doc = $conn_doc]
        #[async_graphql::Object]
        impl $conn {
            /// The rows of this page, each with the cursor to continue after it.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            /// The rows of this page, without cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
            /// Cursors and whether more pages exist.
            async fn page_info(&self) -> &async_graphql::connection::PageInfo {
                &self.page_info
            }
            /// How many rows match over all pages (only rows the viewer may read).
            async fn total_count(&self) -> async_graphql::Result<u64> {
                self.total.get().await
            }
        }

        #[doc = $edge_doc]
        pub struct $edge {
            /// Opaque position of this row; pass it as `after` or `before`.
            pub cursor: String,
            /// The row.
            pub node: $node,
        }

        #[doc = $edge_doc]
        #[async_graphql::Object]
        impl $edge {
            /// Opaque position of this row; pass it as `after` or `before`.
            async fn cursor(&self) -> &str {
                &self.cursor
            }
            /// The row.
            async fn node(&self) -> &$node {
                &self.node
            }
        }
    };
}

pub(crate) use connection;

//! Relay connections with documented types (async-graphql's generic `Connection` carries no
//! description into the SDL). `connection!` declares `XConnection` and `XEdge` for a node
//! type; pages are built from a service [`Page`] and a total that is either known (nested
//! connections get it from the same statement) or counted lazily, only when asked for.

use std::sync::Arc;

use async_graphql::connection::PageInfo;
use entity::{team, user};
use futures_util::future::BoxFuture;

use sea_orm::Condition;

use crate::authz::Viewer;
use crate::error::ApiResult;
use crate::service::Deps;
use crate::service::activity::{ActivityRow, ActivitySort};
use crate::service::company::{CompanyRow, CompanySort};
use crate::service::contact::{ContactRow, ContactSort};
use crate::service::deal::{DealRow, DealSort};
use crate::service::list::{Page, PageArgs};
use crate::service::team::TeamSort;
use crate::service::user::UserSort;

/// The `totalCount` of a connection.
#[derive(Clone)]
pub enum Total {
    /// Already known.
    Known(u64),
    /// Counted on demand (a `COUNT(*)` over the same scope and filter).
    Lazy(Arc<dyn Fn() -> BoxFuture<'static, ApiResult<u64>> + Send + Sync>),
}

impl Total {
    /// A count run only if the client asks for `totalCount`: `count(deps, viewer, filter)`.
    pub fn counting(
        deps: &Deps,
        viewer: &Viewer,
        filter: Condition,
        count: fn(Deps, Viewer, Condition) -> BoxFuture<'static, ApiResult<u64>>,
    ) -> Self {
        let (deps, viewer) = (deps.clone(), viewer.clone());
        Total::Lazy(Arc::new(move || {
            count(deps.clone(), viewer.clone(), filter.clone())
        }))
    }

    /// Resolves the count.
    pub async fn get(&self) -> async_graphql::Result<u64> {
        match self {
            Total::Known(n) => Ok(*n),
            Total::Lazy(f) => f().await.map_err(crate::graphql::gql),
        }
    }
}

/// A service's paged list and its count: what a top-level connection resolver needs.
pub(crate) trait Listing: Sized + Send + 'static {
    /// The service's sort keys.
    type Sort: Send + Sync;
    /// One page of the rows the viewer may read matching `filter`, in `order`.
    fn list<'a>(
        deps: &'a Deps,
        viewer: &'a Viewer,
        filter: Condition,
        order: &'a [(Self::Sort, bool)],
        page: &'a PageArgs,
    ) -> impl Future<Output = ApiResult<Page<Self>>> + Send + 'a;
    /// How many rows the viewer may read match `filter`.
    fn count(deps: Deps, viewer: Viewer, filter: Condition) -> BoxFuture<'static, ApiResult<u64>>;
}

macro_rules! listing {
    ($row:ty, $service:ident, $sort:ty) => {
        impl Listing for $row {
            type Sort = $sort;
            fn list<'a>(
                deps: &'a Deps,
                viewer: &'a Viewer,
                filter: Condition,
                order: &'a [(Self::Sort, bool)],
                page: &'a PageArgs,
            ) -> impl Future<Output = ApiResult<Page<Self>>> + Send + 'a {
                crate::service::$service::list(deps, viewer, filter, order, page)
            }
            fn count(
                deps: Deps,
                viewer: Viewer,
                filter: Condition,
            ) -> BoxFuture<'static, ApiResult<u64>> {
                Box::pin(
                    async move { crate::service::$service::count(&deps, &viewer, filter).await },
                )
            }
        }
    };
}

listing!(DealRow, deal, DealSort);
listing!(CompanyRow, company, CompanySort);
listing!(ContactRow, contact, ContactSort);
listing!(ActivityRow, activity, ActivitySort);
listing!(team::Model, team, TeamSort);
listing!(user::Model, user, UserSort);

/// A top-level connection's page (`first`/`after` or `last`/`before`) of the rows matching
/// `filter` in `order`, and its total, counted only if the client asks for `totalCount`.
pub(crate) async fn list_page<R: Listing>(
    deps: &Deps,
    viewer: &Viewer,
    filter: Condition,
    order: Vec<(R::Sort, bool)>,
    page: PageArgs,
) -> async_graphql::Result<(Page<R>, Total)> {
    let rows = R::list(deps, viewer, filter.clone(), &order, &page)
        .await
        .map_err(crate::graphql::gql)?;
    Ok((rows, Total::counting(deps, viewer, filter, R::count)))
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

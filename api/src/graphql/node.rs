//! Relay global object identification: `interface Node`, `node(id)`, `nodes(ids)`.
//!
//! Ids stay the UUIDs every type already returns (no base64 "Type:uuid" wrapping): clients
//! keep the ids they store, and a UUID is unique across tables by construction. `node`
//! looks the id up kind by kind (one statement per kind, each scoped by the policy), so a
//! record the viewer cannot read is `null` exactly like a missing one.

use std::collections::HashMap;

use async_graphql::{Context, ID, Interface, Object, Result};
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::{
    Activity, Company, Contact, Deal, Team, User, actor, deps, gql, loaders, parse_id,
};
use crate::service::record::{self, Record};
use entity::{activity, company, contact, deal};

/// Most ids one `nodes` call takes.
pub const MAX_NODES: usize = 100;

/// A record with a globally unique ID (Relay's object identification): Relay and urql's
/// normalised caches refetch any record through `node(id:)`.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The record's UUID, unique across all types."
))]
pub enum Node {
    /// A company.
    Company(Company),
    /// A contact.
    Contact(Contact),
    /// A deal.
    Deal(Deal),
    /// An activity.
    Activity(Activity),
    /// A user.
    User(User),
    /// A team.
    Team(Team),
}

/// `node` and `nodes`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any record by its ID, whatever its type; `null` when it does not exist or the viewer
    /// may not read it.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record's ID.")] id: ID,
    ) -> Result<Option<Node>> {
        let id = parse_id(&id, "id").map_err(gql)?;
        Ok(lookup(ctx, &[id]).await?.remove(&id))
    }

    /// Records by their IDs (at most 100), in the order asked; `null` for each that does not
    /// exist or that the viewer may not read.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The records' IDs.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(gql(ApiError::bad_input(
                "ids",
                format!("at most {MAX_NODES} ids"),
            )));
        }
        let ids: Vec<Uuid> = ids
            .iter()
            .map(|id| parse_id(id, "ids"))
            .collect::<Result<_, _>>()
            .map_err(gql)?;
        let mut found = lookup(ctx, &ids).await?;
        Ok(ids.iter().map(|id| found.remove(id)).collect())
    }
}

/// The readable records among `ids`, one statement per kind for the ids not found yet.
async fn lookup(ctx: &Context<'_>, ids: &[Uuid]) -> Result<HashMap<Uuid, Node>> {
    let viewer = &actor(ctx)?.viewer;
    let _deps = deps(ctx);
    let mut found: HashMap<Uuid, Node> = HashMap::new();
    let rest = |found: &HashMap<Uuid, Node>| -> Vec<Uuid> {
        ids.iter()
            .copied()
            .filter(|id| !found.contains_key(id))
            .collect()
    };
    /// Adds the readable rows of kind `R` among the ids not found yet.
    async fn add<R: Record>(
        ctx: &Context<'_>,
        ids: &[Uuid],
        found: &mut HashMap<Uuid, Node>,
        node: impl Fn(R::Row) -> Node,
    ) -> Result<()> {
        let left: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| !found.contains_key(id))
            .collect();
        if !left.is_empty() {
            let viewer = &actor(ctx)?.viewer;
            for row in record::by_ids::<R>(crate::graphql::deps(ctx), viewer, &left)
                .await
                .map_err(gql)?
            {
                found.insert(R::id(&row), node(row));
            }
        }
        Ok(())
    }
    add::<deal::Entity>(ctx, ids, &mut found, |r| Node::Deal(Deal::new(r, viewer))).await?;
    add::<company::Entity>(ctx, ids, &mut found, |r| {
        Node::Company(Company::new(r, viewer))
    })
    .await?;
    add::<contact::Entity>(ctx, ids, &mut found, |r| {
        Node::Contact(Contact::new(r, viewer))
    })
    .await?;
    add::<activity::Entity>(ctx, ids, &mut found, |r| {
        Node::Activity(Activity::new(r, viewer))
    })
    .await?;
    // Users and teams through the request's loaders (the directory's visibility rules).
    for id in rest(&found) {
        if let Some(user) = loaders::user(ctx, id).await? {
            found.insert(id, Node::User(user));
        } else if let Some(team) = loaders::team(ctx, id).await? {
            found.insert(id, Node::Team(team));
        }
    }
    Ok(found)
}

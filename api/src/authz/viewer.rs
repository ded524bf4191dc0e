//! The viewer: who is asking, as the fact expressions need it (id, role, teams).

use entity::enums::Role;
use entity::team;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::sea_query::{Condition, Expr};

use super::actions::Action;
use super::facts::RecordFacts;
use super::model::{FactMask, Kind};
use super::sql::Shape;

/// The user a decision is about, with what facts are relative to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's role.
    pub role: Role,
    /// "Their teams": the user's own team plus every team they manage, sorted, no duplicates.
    pub team_ids: Vec<Uuid>,
    /// The SQL already built for this viewer: a request's viewer (and its clones) builds
    /// each scope and facts expression once.
    pub(crate) built: Built,
    /// Where the request came from, recorded with the events it writes.
    pub origin: Origin,
}

/// Where a request came from: its id (`x-request-id`) and the client's address.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The request id.
    pub request_id: Option<String>,
    /// The client's address.
    pub ip: Option<std::net::IpAddr>,
    /// The automation acting (its writes are recorded as the automation's and trigger no
    /// automation in turn).
    pub automation: Option<uuid::Uuid>,
}

impl Origin {
    /// No request (a command-line action, a test).
    pub const NONE: Origin = Origin {
        request_id: None,
        ip: None,
        automation: None,
    };
}

/// Where a request came from is not part of who the viewer is.
impl PartialEq for Origin {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Origin {}

/// What a compiled SQL piece is for: one authorizer's scope of an action in a shape, or its
/// facts expression of a kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BuiltKey {
    /// `Authorizer::scope` / `aggregate_scope` / `scope_knowing` (the known facts' bits).
    Scope(u64, Action, Shape, u8),
    /// `Authorizer::facts_expr` / `facts_expr_knowing` (the known facts' bits).
    Facts(u64, Kind, u8),
    /// `Authorizer::disjoint_scopes` (its SQL differs on PostgreSQL: `true`).
    Parts(u64, Action, bool),
}

/// The viewer's built SQL, shared by clones (`None` for a viewer made in a `const`).
#[derive(Clone, Default)]
pub(crate) struct Built(Option<Arc<Mutex<HashMap<BuiltKey, BuiltSql>>>>);

#[derive(Clone)]
enum BuiltSql {
    Condition(Condition),
    Conditions(Vec<Condition>),
    Expr(Expr),
}

impl Built {
    /// Nothing built yet.
    pub(crate) const NONE: Built = Built(None);

    fn fresh() -> Self {
        Self(Some(Arc::default()))
    }

    fn get_or(&self, key: BuiltKey, build: impl FnOnce() -> BuiltSql) -> BuiltSql {
        let Some(map) = &self.0 else {
            return build();
        };
        if let Some(found) = map.lock().expect("viewer cache").get(&key) {
            return found.clone();
        }
        let built = build();
        map.lock().expect("viewer cache").insert(key, built.clone());
        built
    }

    /// How many pieces are built (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |m| m.lock().expect("viewer cache").len())
    }

    /// The condition under `key`, built once.
    pub(crate) fn condition(&self, key: BuiltKey, build: impl FnOnce() -> Condition) -> Condition {
        match self.get_or(key, || BuiltSql::Condition(build())) {
            BuiltSql::Condition(c) => c,
            _ => unreachable!("scope keys hold conditions"),
        }
    }

    /// The conditions under `key`, built once.
    pub(crate) fn conditions(
        &self,
        key: BuiltKey,
        build: impl FnOnce() -> Vec<Condition>,
    ) -> Vec<Condition> {
        match self.get_or(key, || BuiltSql::Conditions(build())) {
            BuiltSql::Conditions(c) => c,
            _ => unreachable!("parts keys hold lists of conditions"),
        }
    }

    /// The expression under `key`, built once.
    pub(crate) fn expr(&self, key: BuiltKey, build: impl FnOnce() -> Expr) -> Expr {
        match self.get_or(key, || BuiltSql::Expr(build())) {
            BuiltSql::Expr(e) => e,
            _ => unreachable!("facts keys hold expressions"),
        }
    }
}

/// The cache is not part of who the viewer is.
impl PartialEq for Built {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Built {}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Built")
    }
}

impl Viewer {
    /// A viewer with these teams (sorted and deduplicated here).
    pub fn new(user_id: Uuid, role: Role, team_ids: impl IntoIterator<Item = Uuid>) -> Self {
        let mut team_ids: Vec<Uuid> = team_ids.into_iter().collect();
        team_ids.sort_unstable();
        team_ids.dedup();
        Self {
            user_id,
            role,
            team_ids,
            built: Built::fresh(),
            origin: Origin::NONE,
        }
    }

    /// The viewer for a user whose own team is `team_id`: adds the teams they manage.
    pub async fn load(
        db: &impl ConnectionTrait,
        user_id: Uuid,
        role: Role,
        team_id: Option<Uuid>,
    ) -> Result<Self, DbErr> {
        let managed: Vec<Uuid> = team::Entity::find()
            .select_only()
            .column(team::Column::Id)
            .filter(team::Column::ManagerId.eq(user_id))
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self::new(user_id, role, team_id.into_iter().chain(managed)))
    }

    /// Whether `team` is one of the viewer's teams (`None` never is).
    pub fn has_team(&self, team: Option<Uuid>) -> bool {
        team.is_some_and(|t| self.team_ids.binary_search(&t).is_ok())
    }

    /// The facts of `record` relative to this viewer, by the Rust checks of its kind's table:
    /// `viewer.facts(&DealFacts { owner_id, owner_team_id, share: None })`. Use it for a
    /// record about to be created or changed (pass it as it would be); rows read from the
    /// database get theirs from SQL ([`super::Authorizer::facts_expr`]).
    pub fn facts<R: RecordFacts>(&self, record: &R) -> FactMask {
        R::FACTS
            .iter()
            .enumerate()
            .filter(|(_, def)| (def.holds)(record, self))
            .fold(FactMask::NONE, |mask, (bit, _)| {
                FactMask::from_bits(mask.bits() | 1 << bit)
            })
    }
}

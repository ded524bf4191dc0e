//! `teams`: a group of sales reps; a manager manages one or more teams.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The manager of this team; a manager may manage several teams.
    pub manager_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// `teams` and `users` point at each other (`teams.manager_id`, `users.team_id`), so there are
/// two paths between them and no `Related<user::Entity>` impl here: pick the relation explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `teams.manager_id → users.id` (on delete: set null).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ManagerId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Manager,
    /// Users whose `team_id` is this team.
    #[sea_orm(has_many = "super::user::Entity", via_rel = "Relation::Team")]
    Members,
}

impl ActiveModelBehavior for ActiveModel {}

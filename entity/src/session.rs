//! `sessions`: one sign-in of a user, i.e. one refresh-token family.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// Also the `sid` claim of the access tokens issued in this session.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTimeUtc,
    /// After this no refresh is accepted; the user signs in again.
    pub expires_at: DateTimeUtc,
    pub last_refreshed_at: Option<DateTimeUtc>,
    /// Set by logout, by refresh-token reuse, by deactivation or a password change.
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `sessions.user_id → users.id` (on delete: cascade).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The refresh tokens issued in this session.
    #[sea_orm(has_many = "super::refresh_token::Entity")]
    RefreshTokens,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::refresh_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshTokens.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

//! `exports`: a CSV export, downloadable by its exporter until it expires.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The exporter (the only one who may download it).
    pub user_id: Uuid,
    /// `DEAL`, `COMPANY`, `CONTACT`, `ACTIVITY`.
    pub kind: String,
    pub row_count: i32,
    /// More rows matched than the cap allowed.
    pub truncated: bool,
    /// The CSV text (UTF-8).
    pub content: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

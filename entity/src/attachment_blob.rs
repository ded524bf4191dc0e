//! `attachment_blobs`: one row per file in object storage (key `sha256/<hex>`), referenced
//! by every attachment with those bytes. Uploads and the removal of unreferenced files lock
//! the row, so a file is never removed while an upload is about to reference it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachment_blobs")]
pub struct Model {
    /// Lowercase hex SHA-256 of the bytes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    /// When it was first stored.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `attachments`: a file attached to one company, contact, deal or activity (exactly one of
//! the four record columns is set). The bytes are in object storage under `sha256`; the row
//! says what the uploader called the file and what it is.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The attachment is deleted with its company.
    pub company_id: Option<Uuid>,
    /// The attachment is deleted with its contact.
    pub contact_id: Option<Uuid>,
    /// The attachment is deleted with its deal.
    pub deal_id: Option<Uuid>,
    /// The attachment is deleted with its activity.
    pub activity_id: Option<Uuid>,
    /// The uploader's name for the file, without any directory; non-empty.
    pub file_name: String,
    /// Sniffed from the bytes (never the client's word alone).
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lowercase hex SHA-256 of the bytes: the stored file (`attachment_blobs`).
    pub sha256: String,
    pub uploaded_by: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `attachments.company_id → companies.id` (on delete: cascade).
    #[sea_orm(
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id",
        on_delete = "Cascade"
    )]
    Company,
    /// `attachments.contact_id → contacts.id` (on delete: cascade).
    #[sea_orm(
        belongs_to = "super::contact::Entity",
        from = "Column::ContactId",
        to = "super::contact::Column::Id",
        on_delete = "Cascade"
    )]
    Contact,
    /// `attachments.deal_id → deals.id` (on delete: cascade).
    #[sea_orm(
        belongs_to = "super::deal::Entity",
        from = "Column::DealId",
        to = "super::deal::Column::Id",
        on_delete = "Cascade"
    )]
    Deal,
    /// `attachments.activity_id → activities.id` (on delete: cascade).
    #[sea_orm(
        belongs_to = "super::activity::Entity",
        from = "Column::ActivityId",
        to = "super::activity::Column::Id",
        on_delete = "Cascade"
    )]
    Activity,
    /// `attachments.sha256 → attachment_blobs.sha256` (on delete: restrict).
    #[sea_orm(
        belongs_to = "super::attachment_blob::Entity",
        from = "Column::Sha256",
        to = "super::attachment_blob::Column::Sha256",
        on_delete = "Restrict"
    )]
    Blob,
    /// `attachments.uploaded_by → users.id` (on delete: restrict).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UploadedBy",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    UploadedBy,
}

impl ActiveModelBehavior for ActiveModel {}

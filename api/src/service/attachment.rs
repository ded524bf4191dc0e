//! Attachments: files on companies, contacts, deals and activities.
//!
//! Who may do what is the record's own policy decision: whoever may read the record lists
//! and downloads its attachments; whoever may `update` it uploads and deletes them. A
//! record the viewer may not read is `NOT_FOUND`, exactly like a missing one (and so is an
//! attachment on it).
//!
//! The bytes are stored through [`crate::storage`] under their SHA-256, so a retried upload
//! (or the same file on another record) stores nothing new; `attachment_blobs` has a row
//! per stored file. A file is removed once no attachment references it, after the commit
//! that removed the last reference ([`release`]): removal and uploads lock the file's row,
//! and an upload checks under that lock that the file is (still) there, putting it back if
//! a removal won the race — so an attachment never references a missing file, while a
//! leftover file (a crash between commit and removal) costs only space.
//!
//! Uploads and deletions are changes of their record: a `RECORD_UPDATED` event on it with
//! the field `attachment` (like a deal's `share`), in the same transaction, so they are in
//! the audit log and the record's history, and a deal's count as `DEAL_UPDATED` for
//! automations. A record's deletion removes its attachments by foreign key; its
//! `RECORD_DELETED` event stands for them.

use std::collections::HashMap;
use std::io::Read;

use chrono::Utc;
use entity::{activity, attachment, attachment_blob, company, contact, deal};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::WindowStatement;
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QuerySelect, QueryTrait, SqlErr,
};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::authz::{ActivityAction, CompanyAction, ContactAction, DealAction, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::events::{AuditAction, Change, RecordKind};
use crate::service::filter::Scalar;
use crate::service::list::{Page, PageArgs, SortKey, encode_cursor, fetch_page};
use crate::service::{Deps, begin_write, record};
use crate::storage::{Download, StorageError};

/// The name missing and hidden attachments share in `NOT_FOUND`.
const ATTACHMENT: &str = "Attachment";

/// Bytes read from the start of a file to tell its type.
const SNIFF_BYTES: usize = 64 * 1024;

/// Longest file name kept, in characters.
const MAX_FILE_NAME: usize = 255;

/// The record an attachment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A company.
    Company(Uuid),
    /// A contact.
    Contact(Uuid),
    /// A deal.
    Deal(Uuid),
    /// An activity.
    Activity(Uuid),
}

impl Target {
    /// Record `id` of `kind`; users and teams take no attachments (`BAD_USER_INPUT` on
    /// `kind`).
    pub fn new(kind: RecordKind, id: Uuid) -> ApiResult<Self> {
        match kind {
            RecordKind::Company => Ok(Self::Company(id)),
            RecordKind::Contact => Ok(Self::Contact(id)),
            RecordKind::Deal => Ok(Self::Deal(id)),
            RecordKind::Activity => Ok(Self::Activity(id)),
            RecordKind::User | RecordKind::Team => Err(ApiError::bad_input(
                "kind",
                "attachments are on companies, contacts, deals and activities",
            )),
        }
    }

    /// The record of a stored attachment.
    pub fn of(a: &attachment::Model) -> ApiResult<Self> {
        match (a.company_id, a.contact_id, a.deal_id, a.activity_id) {
            (Some(id), None, None, None) => Ok(Self::Company(id)),
            (None, Some(id), None, None) => Ok(Self::Contact(id)),
            (None, None, Some(id), None) => Ok(Self::Deal(id)),
            (None, None, None, Some(id)) => Ok(Self::Activity(id)),
            _ => Err(ApiError::internal(
                "attachment",
                format!("attachment {} is not on exactly one record", a.id),
            )),
        }
    }

    /// The record's id.
    pub fn id(self) -> Uuid {
        match self {
            Self::Company(id) | Self::Contact(id) | Self::Deal(id) | Self::Activity(id) => id,
        }
    }

    /// The kind of record.
    pub fn kind(self) -> RecordKind {
        match self {
            Self::Company(_) => RecordKind::Company,
            Self::Contact(_) => RecordKind::Contact,
            Self::Deal(_) => RecordKind::Deal,
            Self::Activity(_) => RecordKind::Activity,
        }
    }

    /// The attachments column that references this kind of record.
    fn column(self) -> attachment::Column {
        column_of(self.kind())
    }

    /// The record's type name in `NOT_FOUND`.
    fn name(self) -> &'static str {
        match self {
            Self::Company(_) => "Company",
            Self::Contact(_) => "Contact",
            Self::Deal(_) => "Deal",
            Self::Activity(_) => "Activity",
        }
    }
}

/// The attachments column that references records of `kind` (users and teams: none; the
/// company column is returned and matches nothing of theirs).
fn column_of(kind: RecordKind) -> attachment::Column {
    match kind {
        RecordKind::Contact => attachment::Column::ContactId,
        RecordKind::Deal => attachment::Column::DealId,
        RecordKind::Activity => attachment::Column::ActivityId,
        RecordKind::Company | RecordKind::User | RecordKind::Team => attachment::Column::CompanyId,
    }
}

/// Refuses unless the viewer may update the record: unreadable (or missing) is `NOT_FOUND`,
/// readable but not updatable `FORBIDDEN`.
async fn require_update(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    target: Target,
) -> ApiResult<()> {
    match target {
        Target::Company(id) => {
            record::load_for::<company::Entity>(deps, viewer, db, id, CompanyAction::Update)
                .await
                .map(drop)
        }
        Target::Contact(id) => {
            record::load_for::<contact::Entity>(deps, viewer, db, id, ContactAction::Update)
                .await
                .map(drop)
        }
        Target::Deal(id) => {
            record::load_for::<deal::Entity>(deps, viewer, db, id, DealAction::Update)
                .await
                .map(drop)
        }
        Target::Activity(id) => {
            record::load_for::<activity::Entity>(deps, viewer, db, id, ActivityAction::Update)
                .await
                .map(drop)
        }
    }
}

/// Whether the viewer may read the record.
async fn is_readable(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    target: Target,
) -> ApiResult<bool> {
    match target {
        Target::Company(id) => record::is_readable::<company::Entity>(deps, viewer, db, id).await,
        Target::Contact(id) => record::is_readable::<contact::Entity>(deps, viewer, db, id).await,
        Target::Deal(id) => record::is_readable::<deal::Entity>(deps, viewer, db, id).await,
        Target::Activity(id) => record::is_readable::<activity::Entity>(deps, viewer, db, id).await,
    }
}

/// Records an attachment change of the record as its `RECORD_UPDATED` event.
async fn log(
    deps: &Deps,
    viewer: &Viewer,
    txn: &impl ConnectionTrait,
    target: Target,
    change: Change,
) -> ApiResult<()> {
    let (id, changes, action) = (target.id(), vec![change], AuditAction::RecordUpdated);
    match target {
        Target::Company(_) => {
            record::log::<company::Entity>(deps, viewer, txn, id, action, changes).await
        }
        Target::Contact(_) => {
            record::log::<contact::Entity>(deps, viewer, txn, id, action, changes).await
        }
        Target::Deal(_) => {
            record::log::<deal::Entity>(deps, viewer, txn, id, action, changes).await
        }
        Target::Activity(_) => {
            record::log::<activity::Entity>(deps, viewer, txn, id, action, changes).await
        }
    }
}

/// An attachment as its event records it.
fn described(a: &attachment::Model) -> Json {
    json!({
        "id": a.id.to_string(),
        "fileName": a.file_name,
        "contentType": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
    })
}

fn storage_failed(e: StorageError) -> ApiError {
    ApiError::internal("attachment storage", e)
}

/// A file as it arrived in an upload.
pub struct NewFile {
    /// The client's name for it (any directory part is dropped).
    pub file_name: String,
    /// The client's content type, if it sent one (a hint only).
    pub claimed_type: Option<String>,
    /// The bytes, spooled to a temporary file.
    pub content: std::fs::File,
}

/// What reading a file through told: its SHA-256 (lowercase hex) and its first bytes.
struct Inspected {
    sha256: String,
    head: Vec<u8>,
}

/// Hashes `file` from its start (blocking reads) and keeps its first [`SNIFF_BYTES`].
fn inspect(file: &std::fs::File) -> std::io::Result<Inspected> {
    use std::io::Seek;
    let mut file = file.try_clone()?;
    file.rewind()?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if head.len() < SNIFF_BYTES {
            let take = n.min(SNIFF_BYTES - head.len());
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
    }
    Ok(Inspected {
        sha256: format!("{:x}", hasher.finalize()),
        head,
    })
}

/// Types a client may claim for bytes that carry no signature: plain text kinds a browser
/// will not run. Anything else unrecognised is `application/octet-stream`.
const HARMLESS_TYPES: [&str; 4] = [
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/json",
];

/// The content type of a file that starts with `head`: what its bytes are (magic numbers,
/// via `infer`); failing that the client's claim if it is a harmless text type and the
/// bytes are text; otherwise `application/octet-stream`. Never the client's word alone.
pub fn content_type(head: &[u8], claimed: Option<&str>) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    let claimed = claimed
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    match claimed {
        Some(c) if HARMLESS_TYPES.contains(&c.as_str()) && is_text(head) => c,
        _ => "application/octet-stream".to_owned(),
    }
}

/// UTF-8 without NUL bytes (a character cut at the end of `head` is fine).
fn is_text(head: &[u8]) -> bool {
    !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
}

/// A file name fit to store and to send back: the last path segment, without control and
/// bidirectional formatting characters (which could disguise an extension), trimmed, at
/// most [`MAX_FILE_NAME`] characters; `attachment` when nothing is left.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        })
        .collect();
    let trimmed: String = cleaned.trim().chars().take(MAX_FILE_NAME).collect();
    let trimmed = trimmed.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        "attachment".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Locks the row of stored file `sha256` until the transaction ends (creating the row if
/// there is none): uploads and [`release`] agree through it on whether the file exists.
async fn lock_file(txn: &impl ConnectionTrait, sha256: &str) -> ApiResult<()> {
    attachment_blob::Entity::insert(attachment_blob::ActiveModel {
        sha256: Set(sha256.to_owned()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(attachment_blob::Column::Sha256)
            .update_column(attachment_blob::Column::Sha256)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// `uploadAttachment`: attaches `file` to record `record_id` of `kind`, if the viewer may
/// update the record. At most `CRM_ATTACHMENT_MAX_BYTES` (`BAD_USER_INPUT` on `file`).
pub async fn upload(
    deps: &Deps,
    viewer: &Viewer,
    kind: RecordKind,
    record_id: Uuid,
    file: NewFile,
) -> ApiResult<attachment::Model> {
    // Authorize before touching the file: missing and unreadable alike are NOT_FOUND.
    let target = Target::new(kind, record_id)?;
    require_update(deps, viewer, &deps.db, target).await?;
    // Check the file: its size, its hash and what its bytes are.
    let size = file
        .content
        .metadata()
        .map_err(|e| ApiError::internal("reading an upload", e))?
        .len();
    let max = deps.config.attachment_max_bytes as u64;
    if size > max {
        return Err(ApiError::bad_input(
            "file",
            format!("is larger than {max} bytes (the attachment limit)"),
        ));
    }
    let content = file.content;
    let (content, inspected) = tokio::task::spawn_blocking(move || {
        let inspected = inspect(&content);
        (content, inspected)
    })
    .await
    .map_err(|e| ApiError::internal("reading an upload", e))?;
    let Inspected { sha256, head } =
        inspected.map_err(|e| ApiError::internal("reading an upload", e))?;
    let content_type = content_type(&head, file.claimed_type.as_deref());
    // Store the bytes unless they are stored already (a retry, or the same file elsewhere).
    let storage = &deps.storage;
    let mut stored_here = false;
    if !storage.exists(&sha256).await.map_err(storage_failed)? {
        storage
            .put_file(&sha256, &content, size)
            .await
            .map_err(storage_failed)?;
        stored_here = true;
    }
    let model = attachment::Model {
        id: Uuid::new_v4(),
        company_id: matches!(target, Target::Company(_)).then_some(record_id),
        contact_id: matches!(target, Target::Contact(_)).then_some(record_id),
        deal_id: matches!(target, Target::Deal(_)).then_some(record_id),
        activity_id: matches!(target, Target::Activity(_)).then_some(record_id),
        file_name: clean_file_name(&file.file_name),
        content_type,
        size: size as i64,
        sha256,
        uploaded_by: viewer.user_id,
        created_at: Utc::now(),
    };
    let recorded = record_upload(deps, viewer, target, &model, &content).await;
    if recorded.is_err() && stored_here {
        // Nothing references the bytes this request stored: remove them (unless another
        // upload of the same file references them by now).
        release(deps, [model.sha256.clone()]).await;
    }
    recorded.map(|()| model)
}

/// The upload's transaction: authorize again, make sure the file is stored (under its
/// lock), insert the attachment, record the event.
async fn record_upload(
    deps: &Deps,
    viewer: &Viewer,
    target: Target,
    model: &attachment::Model,
    content: &std::fs::File,
) -> ApiResult<()> {
    let txn = begin_write(deps).await?;
    require_update(deps, viewer, &txn, target).await?;
    lock_file(&txn, &model.sha256).await?;
    // A removal that committed since the check above may have taken the file away; under
    // the lock it is either there or put back now.
    let storage = &deps.storage;
    if !storage
        .exists(&model.sha256)
        .await
        .map_err(storage_failed)?
    {
        storage
            .put_file(&model.sha256, content, model.size as u64)
            .await
            .map_err(storage_failed)?;
    }
    attachment::Entity::insert(attachment::ActiveModel {
        id: Set(model.id),
        company_id: Set(model.company_id),
        contact_id: Set(model.contact_id),
        deal_id: Set(model.deal_id),
        activity_id: Set(model.activity_id),
        file_name: Set(model.file_name.clone()),
        content_type: Set(model.content_type.clone()),
        size: Set(model.size),
        sha256: Set(model.sha256.clone()),
        uploaded_by: Set(model.uploaded_by),
        created_at: Set(model.created_at),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        // The record was deleted meanwhile.
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => ApiError::NotFound {
            entity: target.name(),
        },
        _ => ApiError::from(e),
    })?;
    let change = Change::new("attachment", Json::Null, described(model));
    log(deps, viewer, &txn, target, change).await?;
    txn.commit().await?;
    Ok(())
}

/// Attachment `id` if the viewer may read its record; missing and hidden are the same
/// `NOT_FOUND`.
pub async fn find(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<attachment::Model> {
    let not_found = ApiError::NotFound { entity: ATTACHMENT };
    let Some(row) = attachment::Entity::find_by_id(id).one(&deps.db).await? else {
        return Err(not_found);
    };
    if is_readable(deps, viewer, &deps.db, Target::of(&row)?).await? {
        Ok(row)
    } else {
        Err(not_found)
    }
}

/// `GET /attachments/{id}`: the attachment and its bytes as a stream, for whoever may read
/// its record.
pub async fn open(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
) -> ApiResult<(attachment::Model, Download)> {
    let row = find(deps, viewer, id).await?;
    let download = deps.storage.get(&row.sha256).await.map_err(|e| {
        ApiError::internal(
            "attachment storage",
            format!("attachment {} ({}): {e}", row.id, row.sha256),
        )
    })?;
    Ok((row, download))
}

/// `deleteAttachment`: removes attachment `id` if the viewer may update its record (the
/// same rule as uploading: on a shared record, anyone who may edit it tidies its files,
/// whoever uploaded them). Returns the id.
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    let not_found = || ApiError::NotFound { entity: ATTACHMENT };
    let txn = begin_write(deps).await?;
    // Load and authorize: an attachment on a record the viewer may not read is missing.
    let row = attachment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let target = Target::of(&row)?;
    require_update(deps, viewer, &txn, target)
        .await
        .map_err(|e| match e {
            ApiError::NotFound { .. } => not_found(),
            e => e,
        })?;
    // Act, record.
    attachment::Entity::delete_by_id(id).exec(&txn).await?;
    let change = Change::new("attachment", described(&row), Json::Null);
    log(deps, viewer, &txn, target, change).await?;
    txn.commit().await?;
    // The file goes once nothing references it.
    release(deps, [row.sha256]).await;
    Ok(id)
}

/// The stored files of the attachments that deleting record `id` of `kind` deletes (by
/// foreign key): the record's own, and for a deal its activities'. Read inside the
/// deletion's transaction, before it; pass them to [`release`] after the commit.
pub async fn files_going_with(
    db: &impl ConnectionTrait,
    kind: RecordKind,
    id: Uuid,
) -> ApiResult<Vec<String>> {
    if matches!(kind, RecordKind::User | RecordKind::Team) {
        return Ok(Vec::new());
    }
    let mut which = sea_orm::Condition::any().add(column_of(kind).eq(id));
    if kind == RecordKind::Deal {
        which = which.add(
            attachment::Column::ActivityId.in_subquery(
                activity::Entity::find()
                    .select_only()
                    .column(activity::Column::Id)
                    .filter(activity::Column::DealId.eq(id))
                    .into_query(),
            ),
        );
    }
    Ok(attachment::Entity::find()
        .select_only()
        .column(attachment::Column::Sha256)
        .distinct()
        .filter(which)
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// Removes each stored file among `files` that no attachment references any more. Runs
/// after the commit that removed the references; a failure is logged and leaves the file
/// (harmless: only an unreferenced file can be left over).
pub async fn release(deps: &Deps, files: impl IntoIterator<Item = String>) {
    let mut files: Vec<String> = files.into_iter().collect();
    files.sort();
    files.dedup();
    for sha256 in files {
        if let Err(e) = release_one(deps, &sha256).await {
            tracing::warn!(error = ?e, %sha256, "an unreferenced attachment file was left in storage");
        }
    }
}

async fn release_one(deps: &Deps, sha256: &str) -> ApiResult<()> {
    let txn = begin_write(deps).await?;
    lock_file(&txn, sha256).await?;
    let used = attachment::Entity::find()
        .filter(attachment::Column::Sha256.eq(sha256))
        .count(&txn)
        .await?
        > 0;
    if !used {
        deps.storage.delete(sha256).await.map_err(storage_failed)?;
        attachment_blob::Entity::delete_by_id(sha256.to_owned())
            .exec(&txn)
            .await?;
        tracing::info!(%sha256, "removed an attachment file no attachment references");
    }
    txn.commit().await?;
    Ok(())
}

/// The order of a record's attachments: newest first, ties by id.
fn order() -> [SortKey; 2] {
    [
        SortKey::column(attachment::Column::CreatedAt, true).not_null(),
        SortKey::column(attachment::Column::Id, true).not_null(),
    ]
}

/// A row's position in [`order`], as a cursor.
fn cursor_values(a: &attachment::Model) -> Vec<Scalar> {
    vec![Scalar::Ts(a.created_at), Scalar::Uuid(a.id)]
}

/// The cursor of attachment `a` in its record's list.
pub fn cursor(a: &attachment::Model) -> String {
    encode_cursor(&cursor_values(a))
}

/// A page of the record's attachments, newest first. The caller has established that the
/// viewer may read the record.
pub async fn page(
    deps: &Deps,
    target: Target,
    args: &PageArgs,
) -> ApiResult<Page<attachment::Model>> {
    let select = attachment::Entity::find().filter(target.column().eq(target.id()));
    fetch_page(&deps.db, select, &order(), args, cursor_values).await
}

/// How many attachments the record has.
pub async fn count(deps: &Deps, target: Target) -> ApiResult<u64> {
    Ok(attachment::Entity::find()
        .filter(target.column().eq(target.id()))
        .count(&deps.db)
        .await?)
}

/// The first `limit` attachments of each record of `kind` among `ids`, newest first, and
/// each record's total, in one statement (a window per record): the first pages of
/// `attachments` for a whole page of records. The caller has established that the viewer
/// may read the records.
pub async fn first_pages(
    deps: &Deps,
    kind: RecordKind,
    ids: &[Uuid],
    limit: u64,
) -> ApiResult<HashMap<Uuid, (Vec<attachment::Model>, u64)>> {
    let mut out: HashMap<Uuid, (Vec<attachment::Model>, u64)> =
        ids.iter().map(|id| (*id, (Vec::new(), 0))).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let column = column_of(kind);
    let parent = (attachment::Entity, column);
    let mut rows_order = WindowStatement::partition_by(parent);
    for key in order() {
        let way = if key.desc { Order::Desc } else { Order::Asc };
        rows_order.order_by_expr(key.expr, way);
    }
    let mut inner = attachment::Entity::find()
        .filter(column.is_in(ids.iter().copied()))
        .into_query();
    inner
        .expr_window_as(Expr::cust("ROW_NUMBER()"), rows_order, Alias::new("crm_rn"))
        .expr_window_as(
            Expr::cust("COUNT(*)"),
            WindowStatement::partition_by(parent),
            Alias::new("crm_total"),
        );
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("crm_attachments"))
        .and_where(Expr::col(Alias::new("crm_rn")).lte(limit as i64))
        .order_by(Alias::new("crm_rn"), Order::Asc)
        .to_owned();
    let db = &deps.db;
    let rows = db
        .query_all_raw(db.get_database_backend().build(&outer))
        .await?;
    for row in rows {
        let a = attachment::Model::from_query_result(&row, "")?;
        let total: i64 = row.try_get("", "crm_total")?;
        let Some(record) = Target::of(&a).ok().map(Target::id) else {
            continue;
        };
        let entry = out.entry(record).or_default();
        entry.0.push(a);
        entry.1 = u64::try_from(total).unwrap_or(0);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(content_type(PNG, Some("text/html")), "image/png");
        assert_eq!(content_type(b"%PDF-1.7\n", None), "application/pdf");
        assert_eq!(
            content_type(
                b"<!DOCTYPE html><html><script>x</script>",
                Some("text/plain")
            ),
            "text/html"
        );
    }

    #[test]
    fn claims_count_only_for_harmless_text() {
        assert_eq!(content_type(b"a,b\n1,2\n", Some("text/csv")), "text/csv");
        assert_eq!(
            content_type(b"hello", Some("Text/Plain; charset=utf-8")),
            "text/plain"
        );
        assert_eq!(
            content_type(b"<svg onload=alert(1)>", Some("image/svg+xml")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(b"hi", Some("text/html")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(b"\0\x01\x02", Some("text/plain")),
            "application/octet-stream"
        );
        assert_eq!(content_type(b"plain", None), "application/octet-stream");
        // A multi-byte character cut at the end of the sniffed head is still text.
        assert_eq!(
            content_type("é".as_bytes()[..1].as_ref(), Some("text/plain")),
            "text/plain"
        );
    }

    #[test]
    fn file_names_lose_paths_and_tricks() {
        assert_eq!(clean_file_name("C:\\Users\\x\\report.pdf"), "report.pdf");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("inv\u{202E}fdp.exe"), "invfdp.exe");
        assert_eq!(clean_file_name("a\r\nb.txt"), "ab.txt");
        assert_eq!(clean_file_name("  "), "attachment");
        assert_eq!(clean_file_name(".."), "attachment");
        assert_eq!(clean_file_name("dir/"), "attachment");
        assert_eq!(clean_file_name(&"x".repeat(300)).chars().count(), 255);
        assert_eq!(clean_file_name("Angebot März.pdf"), "Angebot März.pdf");
    }
}

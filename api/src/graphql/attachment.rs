//! Attachments: the `Attachment` type, the `attachments(first, after)` connection every
//! company, contact, deal and activity has, `uploadAttachment` (a GraphQL multipart
//! request) and `deleteAttachment`. The bytes are downloaded with `GET /attachments/{id}`
//! and a bearer token (`crate::http`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, Object, Result, Upload};
use chrono::{DateTime, Utc};
use entity::attachment;
use uuid::Uuid;

use crate::error::ApiError;
use crate::graphql::connection::{Total, connection};
use crate::graphql::enums::RecordKind;
use crate::graphql::loaders::{Loaders, loader, nested_first};
use crate::graphql::{User, actor, deps, gql, parse_id};
use crate::service::attachment::{self as service, NewFile, Target};
use crate::service::list::{Page, PageArgs};

/// A file attached to a company, contact, deal or activity.
pub struct Attachment(attachment::Model);

/// A file attached to a company, contact, deal or activity. Whoever may read the record may
/// list and download its attachments; whoever may edit it may add and delete them.
#[Object]
impl Attachment {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The uploader's name for the file (without any folder).
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// What the file is, as its bytes tell (e.g. `image/png`, `application/pdf`);
    /// `application/octet-stream` when they do not say and the uploader's type was not a
    /// plain text one. Never the uploader's word alone.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size in bytes.
    async fn size(&self) -> i64 {
        self.0.size
    }
    /// SHA-256 of the bytes, lowercase hex: the same file attached twice has the same hash
    /// (and is stored once).
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// When it was uploaded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who uploaded it, if visible in the directory.
    async fn uploaded_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        crate::graphql::loaders::user(ctx, self.0.uploaded_by).await
    }
    /// Where to download it with your bearer token (`GET`), relative to this server. It
    /// comes as a download (`Content-Disposition: attachment`), never shown inline.
    async fn download_url(&self) -> String {
        format!("/attachments/{}", self.0.id)
    }
}

impl crate::graphql::record::FromRow for Attachment {
    type Row = attachment::Model;
    fn from_row(row: Self::Row, _: &crate::authz::Viewer) -> Self {
        Self(row)
    }
}

connection!(
    AttachmentConnection,
    AttachmentEdge,
    Attachment,
    "A page of a record's attachments, newest first.",
    "An attachment and its cursor."
);

/// The first page (`first` rows) of one record's attachments.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AttachmentsOf(pub Target, pub u64);

/// One windowed statement per kind of record and page size.
impl Loader<AttachmentsOf> for Loaders {
    type Value = (Vec<attachment::Model>, u64);
    type Error = Arc<async_graphql::Error>;

    async fn load(
        &self,
        keys: &[AttachmentsOf],
    ) -> Result<HashMap<AttachmentsOf, Self::Value>, Self::Error> {
        let mut groups: HashMap<(entity::enums::RecordKind, u64), Vec<Uuid>> = HashMap::new();
        for AttachmentsOf(target, first) in keys {
            groups
                .entry((target.kind(), *first))
                .or_default()
                .push(target.id());
        }
        let mut out = HashMap::new();
        for ((kind, first), ids) in groups {
            let mut found = service::first_pages(self.deps(), kind, &ids, first)
                .await
                .map_err(|e| Arc::new(gql(e)))?;
            for key in keys.iter().filter(|k| k.0.kind() == kind && k.1 == first) {
                out.insert(*key, found.remove(&key.0.id()).unwrap_or_default());
            }
        }
        Ok(out)
    }
}

/// The `attachments(first, after)` of a record the viewer may read: the first page of a
/// whole page of records in one statement; later pages (`after`) one record at a time.
pub(crate) async fn of(
    ctx: &Context<'_>,
    target: Target,
    first: Option<i32>,
    after: Option<String>,
) -> Result<AttachmentConnection> {
    let Some(after) = after else {
        let first = nested_first(first)?;
        let (rows, total) = loader(ctx)?
            .load_one(AttachmentsOf(target, first))
            .await
            .map_err(|e| (*e).clone())?
            .unwrap_or_default();
        let page = Page {
            has_next_page: total > rows.len() as u64,
            has_previous_page: false,
            rows: rows.into_iter().map(|a| (service::cursor(&a), a)).collect(),
        };
        return Ok(AttachmentConnection::from_page(
            page,
            Total::Known(total),
            Attachment,
        ));
    };
    let deps = deps(ctx).clone();
    let args = PageArgs {
        first,
        after: Some(after),
        ..Default::default()
    };
    let page = service::page(&deps, target, &args).await.map_err(gql)?;
    let total = Total::Lazy(Arc::new(move || {
        let deps = deps.clone();
        Box::pin(async move { service::count(&deps, target).await })
    }));
    Ok(AttachmentConnection::from_page(page, total, Attachment))
}

/// Adding and removing attachments.
#[derive(Default)]
pub struct AttachmentMutation;

#[Object]
impl AttachmentMutation {
    /// Attaches a file to a company, contact, deal or activity you may edit. Send it as a
    /// GraphQL multipart request (`operations`, `map`, the file part; with the header
    /// `Apollo-Require-Preflight: true`). At most `CRM_ATTACHMENT_MAX_BYTES` (25 MiB):
    /// larger is `BAD_USER_INPUT` on `file`. A record you may read but not edit is
    /// `FORBIDDEN`; one you may not read is `NOT_FOUND`, as if it did not exist. Recorded in
    /// the record's history.
    async fn upload_attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The kind of record: `COMPANY`, `CONTACT`, `DEAL` or `ACTIVITY`.")]
        kind: RecordKind,
        #[graphql(desc = "The record.")] record_id: ID,
        #[graphql(desc = "The file.")] file: Upload,
    ) -> Result<Attachment> {
        let actor = actor(ctx)?;
        let record_id = parse_id(&record_id, "recordId").map_err(gql)?;
        let upload = file.value(ctx).map_err(|e| {
            gql(ApiError::internal(
                "reading an upload",
                format!("the spooled file: {e}"),
            ))
        })?;
        let file = NewFile {
            file_name: upload.filename,
            claimed_type: upload.content_type,
            content: upload.content,
        };
        service::upload(deps(ctx), &actor.viewer, kind.into(), record_id, file)
            .await
            .map(Attachment)
            .map_err(gql)
    }

    /// Deletes an attachment of a record you may edit (whoever uploaded it); returns its
    /// ID. The stored file goes once no attachment has the same bytes. Recorded in the
    /// record's history.
    async fn delete_attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The attachment.")] id: ID,
    ) -> Result<ID> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        service::delete(deps(ctx), &actor.viewer, id)
            .await
            .map(|id| ID(id.to_string()))
            .map_err(gql)
    }
}

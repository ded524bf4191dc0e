//! CSV imports: `importCsv` (a GraphQL multipart request carrying the file).

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, Upload};

use crate::error::ApiError;
use crate::graphql::enums::RecordKind;
use crate::graphql::{actor, deps, gql};
use crate::service::import::{self, ImportRequest};

/// What an import does with the rows that pass.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Check every row as the import would write it, write nothing (the report says what
    /// would happen).
    DryRun,
    /// Write every row, or none when one fails.
    AllOrNothing,
    /// Write the rows that pass; report the others.
    ValidRows,
}

/// What an import does with a row matching an existing record: a company with the same
/// domain or name, a contact with the same email (deals and activities have no duplicates).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Leave the existing record alone (the row counts as skipped).
    Skip,
    /// Update the existing record with the row's non-empty cells (as `updateCompany` /
    /// `updateContact` would, policy included).
    Update,
    /// The row fails with `CONFLICT`.
    Fail,
}

/// Which field a column fills.
#[derive(InputObject, SimpleObject, Clone, Debug)]
#[graphql(input_name = "ImportMappingInput")]
pub struct ImportMapping {
    /// The column's header, as in the file (case-insensitive).
    pub column: String,
    /// The field it fills, e.g. `name`, `company` (a company's name, domain or id),
    /// `owner` (a user's email or id), `expectedCloseDate`.
    pub field: String,
}

/// One problem with one row.
#[derive(SimpleObject, Clone, Debug)]
pub struct ImportRowError {
    /// The row's line in the file (the header is line 1).
    pub row: i32,
    /// The column, when the problem is one cell's.
    pub column: Option<String>,
    /// The field, when the problem is one field's.
    pub field: Option<String>,
    /// The code the matching mutation would answer with (`BAD_USER_INPUT`, `FORBIDDEN`,
    /// `CONFLICT`, `NOT_FOUND`).
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// What an import did: for a dry run, or an `ALL_OR_NOTHING` import that failed, what it
/// would have done (`committed: false`; an `ALL_OR_NOTHING` import that failed counts
/// nothing as created, updated or skipped).
#[derive(SimpleObject, Clone, Debug)]
pub struct ImportReport {
    /// Data rows read (the header not counted).
    pub rows: i32,
    /// Records created.
    pub created: i32,
    /// Existing records updated (`onDuplicate: UPDATE`).
    pub updated: i32,
    /// Duplicates left alone (`onDuplicate: SKIP`).
    pub skipped: i32,
    /// Rows that failed.
    pub failed: i32,
    /// Whether the writes were kept.
    pub committed: bool,
    /// The first 1,000 problems, in file order.
    pub errors: Vec<ImportRowError>,
    /// The columns used and the field each fills.
    pub columns: Vec<ImportMapping>,
    /// The columns no field took (check the mapping when one should have).
    pub ignored_columns: Vec<String>,
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<import::ImportReport> for ImportReport {
    fn from(r: import::ImportReport) -> Self {
        Self {
            rows: count(r.rows),
            created: count(r.created),
            updated: count(r.updated),
            skipped: count(r.skipped),
            failed: count(r.failed),
            committed: r.committed,
            errors: r
                .errors
                .into_iter()
                .map(|e| ImportRowError {
                    row: count(e.row),
                    column: e.column,
                    field: e.field,
                    code: e.code.to_owned(),
                    message: e.message,
                })
                .collect(),
            columns: r
                .columns
                .into_iter()
                .map(|(column, field)| ImportMapping {
                    column,
                    field: field.to_owned(),
                })
                .collect(),
            ignored_columns: r.ignored_columns,
        }
    }
}

/// CSV imports.
#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports companies, contacts, deals or activities from a CSV file (UTF-8, a header
    /// line first; send it as a GraphQL multipart request with the header
    /// `Apollo-Require-Preflight: true`). Headers are matched to fields ignoring case,
    /// spaces and underscores (`first_name` is `firstName`) unless `mapping` says
    /// otherwise. Each row is checked exactly as the matching create (or update) mutation
    /// checks it — validation and policy: the owner defaults to you, and naming someone you
    /// may not create records for fails that row. Deals and contacts name their company by
    /// name, domain or id; owners and assignees are emails or ids. Run `DRY_RUN` first.
    /// At most `CRM_IMPORT_MAX_ROWS` rows and `CRM_IMPORT_MAX_BYTES` bytes. Recorded in the
    /// audit log (`IMPORT_COMPLETED`), and each record written like any other write.
    async fn import_csv(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the rows are.")] kind: RecordKind,
        #[graphql(desc = "The CSV file.")] file: Upload,
        #[graphql(desc = "Columns whose header does not name their field.")] mapping: Option<
            Vec<ImportMapping>,
        >,
        #[graphql(
            desc = "Check only (the default, `DRY_RUN`), all or nothing, or the valid rows."
        )]
        mode: Option<ImportMode>,
        #[graphql(desc = "What to do with rows matching an existing record (default `FAIL`).")]
        on_duplicate: Option<OnDuplicate>,
    ) -> Result<ImportReport> {
        let viewer = &actor(ctx)?.viewer;
        let upload = file.value(ctx).map_err(|_| {
            gql(ApiError::bad_input(
                "file",
                "send the file in a multipart request (GraphQL multipart request spec)",
            ))
        })?;
        let request = ImportRequest {
            kind: kind.into(),
            file: upload.content,
            file_name: upload.filename,
            mapping: mapping
                .unwrap_or_default()
                .into_iter()
                .map(|m| (m.column, m.field))
                .collect(),
            mode: match mode.unwrap_or(ImportMode::DryRun) {
                ImportMode::DryRun => import::ImportMode::DryRun,
                ImportMode::AllOrNothing => import::ImportMode::AllOrNothing,
                ImportMode::ValidRows => import::ImportMode::ValidRows,
            },
            on_duplicate: match on_duplicate.unwrap_or(OnDuplicate::Fail) {
                OnDuplicate::Skip => import::OnDuplicate::Skip,
                OnDuplicate::Update => import::OnDuplicate::Update,
                OnDuplicate::Fail => import::OnDuplicate::Fail,
            },
        };
        import::import(deps(ctx), viewer, request)
            .await
            .map(ImportReport::from)
            .map_err(gql)
    }
}

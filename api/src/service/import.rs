//! CSV imports of companies, contacts, deals and activities.
//!
//! Each row goes through the same service create (or, for a duplicate with `UPDATE`, update)
//! as the mutations, so it is validated and authorized exactly as they are: the owner
//! defaults to the importer, and a rep naming another owner is refused on that row. Every
//! row runs in a savepoint of one transaction: a failing row undoes only itself. `DRY_RUN`
//! rolls everything back (the report says what would happen, duplicates within the file
//! included), `ALL_OR_NOTHING` commits only when no row failed, `VALID_ROWS` commits the
//! rows that passed, in chunks (so other writers get their turn on SQLite).
//!
//! The file is read as a stream from the upload's temporary file on a blocking thread
//! (the `csv` crate), a bounded channel apart from the writes: memory does not grow with
//! the file. Bounds: `CRM_IMPORT_MAX_BYTES`, `CRM_IMPORT_MAX_ROWS` (counted in a first
//! pass, before anything is written). docs/import.md has the column rules.

use std::collections::HashMap;
use std::io::{BufReader, Seek};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use entity::enums::{
    ActivityStatus, ActivityType, CompanySize, DealSource, DealStage, Department, Industry,
    Priority, RecordKind,
};
use entity::{company, contact, user};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, Iterable, QueryFilter, QuerySelect};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::authz::Viewer;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::activity::NewActivity;
use crate::service::company::{CompanyChanges, NewCompany};
use crate::service::contact::{ContactChanges, NewContact};
use crate::service::deal::NewDeal;
use crate::service::events::{self, AuditAction, Change, Event, enum_name};
use crate::service::{At, Deps, activity, begin_write, company as companies, contact as contacts};
use crate::service::{deal as deals, record};

/// What an import does with the rows that pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Check every row, write nothing.
    DryRun,
    /// Write every row, or none when one fails.
    AllOrNothing,
    /// Write the rows that pass, report the others.
    ValidRows,
}

/// What an import does with a row that matches an existing record (a company by domain or
/// name, a contact by email).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Leave the record as it is; the row counts as skipped.
    Skip,
    /// Update the record with the row's non-empty cells.
    Update,
    /// The row fails.
    Fail,
}

/// One import.
pub struct ImportRequest {
    /// Companies, contacts, deals or activities.
    pub kind: RecordKind,
    /// The uploaded file (a temporary file, read from the start).
    pub file: std::fs::File,
    /// Its name, for the audit log.
    pub file_name: String,
    /// Explicit `(column, field)` pairs; other columns are matched by name.
    pub mapping: Vec<(String, String)>,
    /// What to do with the rows.
    pub mode: ImportMode,
    /// What to do with duplicates.
    pub on_duplicate: OnDuplicate,
}

/// A row's problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The row's line in the file (the header is line 1).
    pub row: u64,
    /// The column, when the problem is one cell's.
    pub column: Option<String>,
    /// The field (as the import names it: `name`, `company`, `owner` …).
    pub field: Option<String>,
    /// The error code the matching mutation would return (`BAD_USER_INPUT`, `FORBIDDEN`,
    /// `CONFLICT`, `NOT_FOUND`).
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

/// What an import did (or, for a dry run or a rolled-back import, would have done).
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Records created.
    pub created: u64,
    /// Records updated (duplicates with `UPDATE`).
    pub updated: u64,
    /// Duplicates left alone (`SKIP`).
    pub skipped: u64,
    /// Rows that failed.
    pub failed: u64,
    /// Whether the writes were kept.
    pub committed: bool,
    /// The first [`MAX_REPORTED_ERRORS`] problems, in file order.
    pub errors: Vec<RowError>,
    /// The columns used, with the field each fills.
    pub columns: Vec<(String, &'static str)>,
    /// The columns no field took.
    pub ignored_columns: Vec<String>,
}

/// Row problems listed in a report (all are counted in `failed`).
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// Rows committed together by `VALID_ROWS`.
const CHUNK_ROWS: u64 = 500;

/// A field an import can fill: its name and the other spellings a header may use.
struct Spec {
    field: &'static str,
    aliases: &'static [&'static str],
    required: bool,
}

const fn opt(field: &'static str, aliases: &'static [&'static str]) -> Spec {
    Spec {
        field,
        aliases,
        required: false,
    }
}

const fn req(field: &'static str, aliases: &'static [&'static str]) -> Spec {
    Spec {
        field,
        aliases,
        required: true,
    }
}

const OWNER: Spec = opt("owner", &["ownerId", "ownerEmail"]);

const COMPANY_FIELDS: &[Spec] = &[
    req("name", &["companyName"]),
    opt("domain", &[]),
    opt("industry", &[]),
    opt("size", &["companySize"]),
    opt("address", &[]),
    opt("city", &[]),
    opt("state", &[]),
    opt("country", &[]),
    opt("phone", &[]),
    opt("website", &["url"]),
    OWNER,
];

const CONTACT_FIELDS: &[Spec] = &[
    opt("firstName", &[]),
    opt("lastName", &[]),
    opt("email", &[]),
    opt("phone", &[]),
    opt("mobile", &[]),
    opt("title", &["jobTitle"]),
    opt("department", &[]),
    opt("isPrimary", &["primary"]),
    opt("linkedinUrl", &["linkedin"]),
    opt("notes", &[]),
    opt("company", &["companyId", "companyName", "companyDomain"]),
    OWNER,
];

const DEAL_FIELDS: &[Spec] = &[
    req("title", &["name", "dealName"]),
    req("company", &["companyId", "companyName", "companyDomain"]),
    opt("contact", &["contactId", "contactEmail"]),
    opt("amount", &["value"]),
    opt("currency", &[]),
    opt("stage", &[]),
    opt("expectedCloseDate", &["closeDate"]),
    opt("source", &[]),
    opt("priority", &[]),
    opt("notes", &[]),
    OWNER,
];

const ACTIVITY_FIELDS: &[Spec] = &[
    req("type", &["kind", "activityType"]),
    req("subject", &[]),
    opt("description", &[]),
    opt("dueAt", &["due", "dueDate"]),
    opt("completed", &["done"]),
    opt("priority", &[]),
    opt("status", &[]),
    opt("company", &["companyId", "companyName", "companyDomain"]),
    opt("contact", &["contactId", "contactEmail"]),
    opt("deal", &["dealId"]),
    opt("assignedTo", &["assignedToId", "assignee", "assigneeEmail"]),
];

fn fields_of(kind: RecordKind) -> ApiResult<&'static [Spec]> {
    Ok(match kind {
        RecordKind::Company => COMPANY_FIELDS,
        RecordKind::Contact => CONTACT_FIELDS,
        RecordKind::Deal => DEAL_FIELDS,
        RecordKind::Activity => ACTIVITY_FIELDS,
        _ => {
            return Err(ApiError::bad_input(
                "kind",
                "import companies, contacts, deals or activities",
            ));
        }
    })
}

/// A header or field name reduced to what identifies it: `First Name`, `first_name` and
/// `firstName` are one; `+` reads as "plus" (`1000+`).
fn norm(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c == '+' {
                "plus".chars().collect::<Vec<_>>()
            } else if c.is_alphanumeric() {
                c.to_lowercase().collect()
            } else {
                Vec::new()
            }
        })
        .collect()
}

/// Which field each column fills.
struct Columns {
    headers: Vec<String>,
    bound: Vec<Option<&'static str>>,
}

impl Columns {
    fn bind(
        specs: &'static [Spec],
        headers: Vec<String>,
        mapping: &[(String, String)],
    ) -> ApiResult<Self> {
        let spec_of = |name: &str| {
            let n = norm(name);
            specs
                .iter()
                .find(|s| norm(s.field) == n || s.aliases.iter().any(|a| norm(a) == n))
        };
        let mut bound: Vec<Option<&'static str>> = vec![None; headers.len()];
        let mut errors = Vec::new();
        for (i, (column, field)) in mapping.iter().enumerate() {
            let Some(spec) = spec_of(field) else {
                let known: Vec<&str> = specs.iter().map(|s| s.field).collect();
                errors.push(FieldError::new(
                    format!("mapping.{i}.field"),
                    format!(
                        "is not a field of this import: use one of {}",
                        known.join(", ")
                    ),
                ));
                continue;
            };
            let Some(at) = headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(column.trim()))
            else {
                errors.push(FieldError::new(
                    format!("mapping.{i}.column"),
                    format!("no such column in the file (it has {})", headers.join(", ")),
                ));
                continue;
            };
            if bound.contains(&Some(spec.field)) {
                errors.push(FieldError::new(
                    format!("mapping.{i}.field"),
                    format!("`{}` is already filled by another column", spec.field),
                ));
                continue;
            }
            bound[at] = Some(spec.field);
        }
        if !errors.is_empty() {
            return Err(ApiError::BadUserInput(errors));
        }
        let explicit: Vec<String> = mapping
            .iter()
            .map(|(c, _)| c.trim().to_lowercase())
            .collect();
        for (at, header) in headers.iter().enumerate() {
            if bound[at].is_some() || explicit.contains(&header.trim().to_lowercase()) {
                continue;
            }
            if let Some(spec) = spec_of(header)
                && !bound.contains(&Some(spec.field))
            {
                bound[at] = Some(spec.field);
            }
        }
        let missing: Vec<&str> = specs
            .iter()
            .filter(|s| s.required && !bound.contains(&Some(s.field)))
            .map(|s| s.field)
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::bad_input(
                "mapping",
                format!(
                    "no column for the required field(s) {} (columns: {})",
                    missing.join(", "),
                    headers.join(", ")
                ),
            ));
        }
        Ok(Self { headers, bound })
    }

    fn column_of(&self, field: &str) -> Option<String> {
        self.bound
            .iter()
            .position(|b| *b == Some(field))
            .map(|at| self.headers[at].clone())
    }
}

/// One data row read from the file.
struct Line {
    row: u64,
    cells: Vec<Result<String, ()>>,
}

/// What the reading thread sends.
enum Read {
    Line(Line),
    Failed(u64, String),
}

/// A cell as written, with the export's formula guard undone (`'=x` is `=x`), so an
/// exported file imports back as it was.
fn cell(raw: &[u8]) -> Result<String, ()> {
    let text = std::str::from_utf8(raw).map_err(|_| ())?.trim();
    if text.contains('\0') {
        // Not text a database column takes (PostgreSQL refuses NUL outright).
        return Err(());
    }
    let unguarded = match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => text,
    };
    Ok(unguarded.to_owned())
}

fn csv_reader(file: std::fs::File) -> csv::Reader<BufReader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(64 * 1024, file))
}

/// The header and the number of data rows (a first pass over the file), then the file
/// back at its start.
fn survey(mut file: std::fs::File) -> ApiResult<(Vec<String>, u64, std::fs::File)> {
    let unreadable = |e: csv::Error| ApiError::bad_input("file", format!("is not CSV: {e}"));
    let mut reader = csv_reader(
        file.try_clone()
            .map_err(|e| ApiError::internal("import", e))?,
    );
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(unreadable)? {
        return Err(ApiError::bad_input(
            "file",
            "is empty: its first line must name the columns",
        ));
    }
    let mut headers = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let raw = if i == 0 {
            raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
        } else {
            raw
        };
        let header = cell(raw)
            .map_err(|()| ApiError::bad_input("file", "its first line is not UTF-8 text"))?;
        headers.push(header);
    }
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).map_err(unreadable)? {
        if !is_blank(&record) {
            rows += 1;
        }
    }
    drop(reader);
    file.rewind().map_err(|e| ApiError::internal("import", e))?;
    Ok((headers, rows, file))
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace))
}

/// Reads the data rows on a blocking thread into a bounded channel.
fn stream(file: std::fs::File) -> tokio::sync::mpsc::Receiver<Read> {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::task::spawn_blocking(move || {
        let mut reader = csv_reader(file);
        let mut record = csv::ByteRecord::new();
        let mut first = true;
        loop {
            let line = record.position().map_or(0, |p| p.line());
            let item = match reader.read_byte_record(&mut record) {
                Ok(false) => return,
                Ok(true) if std::mem::take(&mut first) || is_blank(&record) => continue,
                Ok(true) => Read::Line(Line {
                    row: record.position().map_or(0, |p| p.line()),
                    cells: record.iter().map(cell).collect(),
                }),
                Err(e) => Read::Failed(line + 1, e.to_string()),
            };
            let stop = matches!(item, Read::Failed(..));
            if tx.blocking_send(item).is_err() || stop {
                return;
            }
        }
    });
    rx
}

/// Imports `request.file` as `viewer`.
pub async fn import(
    deps: &Deps,
    viewer: &Viewer,
    request: ImportRequest,
) -> ApiResult<ImportReport> {
    let specs = fields_of(request.kind)?;
    let config = &deps.config;
    let size = request
        .file
        .metadata()
        .map_err(|e| ApiError::internal("import", e))?
        .len();
    if size > config.import_max_bytes as u64 {
        return Err(ApiError::bad_input(
            "file",
            format!("is larger than {} bytes", config.import_max_bytes),
        ));
    }
    let file = request.file;
    let (headers, rows, file) = tokio::task::spawn_blocking(move || survey(file))
        .await
        .map_err(|e| ApiError::internal("import", e))??;
    if rows > u64::from(config.import_max_rows) {
        return Err(ApiError::bad_input(
            "file",
            format!(
                "has {rows} rows, more than the {} an import may hold: split it",
                config.import_max_rows
            ),
        ));
    }
    let columns = Columns::bind(specs, headers, &request.mapping)?;
    let mut report = ImportReport {
        columns: columns
            .headers
            .iter()
            .zip(&columns.bound)
            .filter_map(|(h, b)| b.map(|f| (h.clone(), f)))
            .collect(),
        ignored_columns: columns
            .headers
            .iter()
            .zip(&columns.bound)
            .filter(|(_, b)| b.is_none())
            .map(|(h, _)| h.clone())
            .collect(),
        ..Default::default()
    };
    let mut importer = Importer {
        deps,
        viewer,
        kind: request.kind,
        columns: &columns,
        on_duplicate: request.on_duplicate,
        refs: HashMap::new(),
    };
    let mut lines = stream(file);
    let mut txn = begin_write(deps).await?;
    while let Some(item) = lines.recv().await {
        report.rows += 1;
        let outcome = match item {
            Read::Line(line) => importer.row(&txn, &line).await?,
            Read::Failed(row, message) => Outcome::Failed(vec![RowError {
                row,
                column: None,
                field: None,
                code: "BAD_USER_INPUT",
                message: format!("the file cannot be read from here on: {message}"),
            }]),
        };
        match outcome {
            Outcome::Created => report.created += 1,
            Outcome::Updated => report.updated += 1,
            Outcome::Skipped => report.skipped += 1,
            Outcome::Failed(errors) => {
                report.failed += 1;
                let room = MAX_REPORTED_ERRORS.saturating_sub(report.errors.len());
                report.errors.extend(errors.into_iter().take(room));
            }
        }
        if request.mode == ImportMode::ValidRows && report.rows.is_multiple_of(CHUNK_ROWS) {
            txn.commit().await?;
            txn = begin_write(deps).await?;
        }
    }
    report.committed = match request.mode {
        ImportMode::DryRun => false,
        ImportMode::AllOrNothing => report.failed == 0,
        ImportMode::ValidRows => true,
    };
    if !report.committed && request.mode == ImportMode::AllOrNothing {
        report.created = 0;
        report.updated = 0;
        report.skipped = 0;
    }
    // The audit entry goes with the rows it describes (a fresh transaction when they were
    // rolled back); a dry run writes nothing.
    let event = (request.mode != ImportMode::DryRun)
        .then(|| audit_event(&request.file_name, request.kind, request.mode, &report));
    if report.committed {
        if let Some(event) = event {
            events::append_by(deps, &txn, viewer, event).await?;
        }
        txn.commit().await?;
    } else {
        txn.rollback().await?;
        if let Some(event) = event {
            let own = begin_write(deps).await?;
            events::append_by(deps, &own, viewer, event).await?;
            own.commit().await?;
        }
    }
    Ok(report)
}

fn audit_event(
    file_name: &str,
    kind: RecordKind,
    mode: ImportMode,
    report: &ImportReport,
) -> Event {
    let change = |field: &str, to: Json| Change {
        field: field.into(),
        from: Json::Null,
        to,
    };
    let mode = match mode {
        ImportMode::DryRun => "DRY_RUN",
        ImportMode::AllOrNothing => "ALL_OR_NOTHING",
        ImportMode::ValidRows => "VALID_ROWS",
    };
    Event {
        action: AuditAction::ImportCompleted,
        kind: None,
        record_id: None,
        changes: vec![
            change("kind", enum_name(&kind)),
            change("fileName", Json::String(file_name.to_owned())),
            change("mode", Json::String(mode.into())),
            change("rows", Json::from(report.rows)),
            change("created", Json::from(report.created)),
            change("updated", Json::from(report.updated)),
            change("skipped", Json::from(report.skipped)),
            change("failed", Json::from(report.failed)),
            change("committed", Json::Bool(report.committed)),
        ],
    }
}

/// What became of one row.
enum Outcome {
    Created,
    Updated,
    Skipped,
    Failed(Vec<RowError>),
}

/// A reference a cell makes to another record.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Company,
    Contact,
    User,
}

struct Importer<'a> {
    deps: &'a Deps,
    viewer: &'a Viewer,
    kind: RecordKind,
    columns: &'a Columns,
    on_duplicate: OnDuplicate,
    /// References already looked up (a deal file names the same companies again and again).
    refs: HashMap<(Target, String), Option<Uuid>>,
}

/// The cells of one row by field, and the problems found reading them.
struct Cells<'a> {
    row: u64,
    columns: &'a Columns,
    values: HashMap<&'static str, String>,
    errors: Vec<RowError>,
}

impl Cells<'_> {
    fn error(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        self.errors.push(RowError {
            row: self.row,
            column: self.columns.column_of(field),
            field: Some(field.to_owned()),
            code,
            message: message.into(),
        });
    }

    fn has(&self, field: &str) -> bool {
        self.values.contains_key(field)
    }

    fn text(&self, field: &str) -> Option<String> {
        self.values.get(field).cloned()
    }

    fn parse<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.values.get(field)?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(field, "BAD_USER_INPUT", message);
                None
            }
        }
    }
}

/// An enum cell, by its stored name (`Closed Won`, `51-200`) or its GraphQL name
/// (`CLOSED_WON`), ignoring case, spaces and punctuation.
fn choice<T: Iterable + Serialize>(cell: &str) -> Result<T, String> {
    let want = norm(cell);
    let stored = |v: &T| {
        serde_json::to_value(v)
            .ok()
            .and_then(|j| j.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let graphql = |v: &T| enum_name(v).as_str().map(str::to_owned).unwrap_or_default();
    T::iter()
        .find(|v| norm(&stored(v)) == want || norm(&graphql(v)) == want)
        .ok_or_else(|| {
            let names: Vec<String> = T::iter().map(|v| stored(&v)).collect();
            format!("must be one of {}", names.join(", "))
        })
}

fn decimal(cell: &str) -> Result<rust_decimal::Decimal, String> {
    let compact: String = cell
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' ' | '$' | '€' | '£'))
        .collect();
    compact
        .parse()
        .map_err(|_| "must be a number such as 1250.50".to_owned())
}

fn date(cell: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(cell, "%Y-%m-%d").map_err(|_| "must be a date as YYYY-MM-DD".into())
}

/// A time: RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DD` read as UTC.
fn time(cell: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(cell) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(cell, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(cell, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err("must be a time such as 2027-03-01T09:30:00Z (or 2027-03-01 09:30, UTC)".into())
}

fn boolean(cell: &str) -> Result<bool, String> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "x" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

/// A web address; one written without a scheme (`acme.com`) is read as `https://acme.com`.
fn website(cell: &str) -> Result<String, String> {
    let lower = cell.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.contains("://") {
        Ok(cell.to_owned())
    } else {
        Ok(format!("https://{cell}"))
    }
}

impl Importer<'_> {
    async fn row(&mut self, txn: &DatabaseTransaction, line: &Line) -> ApiResult<Outcome> {
        let mut cells = Cells {
            row: line.row,
            columns: self.columns,
            values: HashMap::new(),
            errors: Vec::new(),
        };
        for (at, value) in line.cells.iter().enumerate() {
            let Some(Some(field)) = self.columns.bound.get(at) else {
                continue;
            };
            match value {
                Ok(v) if v.is_empty() => {}
                Ok(v) => {
                    cells.values.insert(field, v.clone());
                }
                Err(()) => cells.error(
                    field,
                    "BAD_USER_INPUT",
                    "is not text (not UTF-8, or a NUL character)",
                ),
            }
        }
        let result = match self.kind {
            RecordKind::Company => self.company(txn, &mut cells).await?,
            RecordKind::Contact => self.contact(txn, &mut cells).await?,
            RecordKind::Deal => self.deal(txn, &mut cells).await?,
            _ => self.activity(txn, &mut cells).await?,
        };
        let Some(result) = result else {
            return Ok(Outcome::Failed(cells.errors));
        };
        match result {
            Ok(outcome) => Ok(outcome),
            Err(err) => {
                let errors = self.explain(&cells, err)?;
                Ok(Outcome::Failed(errors))
            }
        }
    }

    /// A service's refusal as the row's errors, in the import's terms; an error that is not
    /// about the row (the database failing) ends the import.
    fn explain(&self, cells: &Cells<'_>, err: ApiError) -> ApiResult<Vec<RowError>> {
        let at = |field: Option<String>, code: &'static str, message: String| {
            let field = field.map(|f| self.import_field(&f));
            RowError {
                row: cells.row,
                column: field.as_deref().and_then(|f| self.columns.column_of(f)),
                field,
                code,
                message,
            }
        };
        Ok(match err {
            ApiError::BadUserInput(fields) => fields
                .into_iter()
                .map(|f| at(Some(f.field), "BAD_USER_INPUT", f.message))
                .collect(),
            ApiError::Conflict { message, field } => vec![at(field, "CONFLICT", message)],
            ApiError::Forbidden { field } => {
                // Naming someone else as owner is what a rep's refused row usually does.
                let field = field.or_else(|| cells.has("owner").then(|| "owner".to_owned()));
                let message = match field.as_deref() {
                    Some("owner") => "not allowed to import this record for this owner".into(),
                    Some(f) => format!("not allowed to write field `{f}`"),
                    None => "not allowed: the policy refuses this record for you".into(),
                };
                vec![at(field, "FORBIDDEN", message)]
            }
            ApiError::NotFound { entity } => {
                vec![at(None, "NOT_FOUND", format!("{entity} not found"))]
            }
            other => return Err(other),
        })
    }

    /// A service's field name (`companyId`) as the import's (`company`).
    fn import_field(&self, field: &str) -> String {
        let renamed = match field {
            "ownerId" => "owner",
            "companyId" => "company",
            "contactId" => "contact",
            "dealId" => "deal",
            "assignedToId" => "assignedTo",
            other => other,
        };
        renamed.to_owned()
    }

    /// The record a reference cell names: an id, or a company's name or domain, a
    /// contact's or a user's email. `None` (with the row's error) when nothing matches.
    /// Whether the viewer may read it is the service's decision, with the same message
    /// for a hidden record as for a missing one.
    async fn reference(
        &mut self,
        txn: &DatabaseTransaction,
        cells: &mut Cells<'_>,
        field: &str,
        target: Target,
    ) -> ApiResult<Option<Uuid>> {
        let Some(value) = cells.text(field) else {
            return Ok(None);
        };
        if let Ok(id) = Uuid::parse_str(&value) {
            return Ok(Some(id));
        }
        let key = (target, value.clone());
        let found = match self.refs.get(&key) {
            Some(found) => *found,
            None => {
                let found = lookup(txn, target, &key.1).await?;
                self.refs.insert(key, found);
                found
            }
        };
        if found.is_none() {
            let message = match target {
                Target::Company => "no such company",
                Target::Contact => "no such contact",
                Target::User => "no such active user",
            };
            cells.error(field, "BAD_USER_INPUT", message);
        }
        Ok(found)
    }

    async fn company(
        &mut self,
        txn: &DatabaseTransaction,
        cells: &mut Cells<'_>,
    ) -> ApiResult<Option<ApiResult<Outcome>>> {
        let owner_id = self.reference(txn, cells, "owner", Target::User).await?;
        let input = NewCompany {
            name: cells.text("name").unwrap_or_default(),
            domain: cells.text("domain"),
            industry: cells.parse("industry", choice::<Industry>),
            size: cells.parse("size", choice::<CompanySize>),
            address: cells.text("address"),
            city: cells.text("city"),
            state: cells.text("state"),
            country: cells.text("country"),
            phone: cells.text("phone"),
            website: cells.parse("website", website),
            owner_id,
            id: None,
        };
        if !cells.errors.is_empty() {
            return Ok(None);
        }
        let existing = find_company(txn, input.domain.as_deref(), Some(&input.name)).await?;
        let (deps, viewer, at) = (self.deps, self.viewer, At::Within(txn));
        let (existing, by) = existing.map_or((None, "name"), |(id, by)| (Some(id), by));
        Ok(match self.duplicate(cells, existing, by)? {
            Dup::New => Some(
                companies::create(deps, viewer, at, input)
                    .await
                    .map(|_| Outcome::Created),
            ),
            Dup::Update(id) => {
                let changes = CompanyChanges {
                    name: Some(input.name),
                    domain: input.domain.map(Some),
                    industry: input.industry.map(Some),
                    size: input.size.map(Some),
                    address: input.address.map(Some),
                    city: input.city.map(Some),
                    state: input.state.map(Some),
                    country: input.country.map(Some),
                    phone: input.phone.map(Some),
                    website: input.website.map(Some),
                    owner_id: input.owner_id,
                    expected_version: None,
                };
                Some(
                    companies::update(deps, viewer, at, id, changes)
                        .await
                        .map(|_| Outcome::Updated),
                )
            }
            Dup::Done(outcome) => Some(Ok(outcome)),
        })
    }

    async fn contact(
        &mut self,
        txn: &DatabaseTransaction,
        cells: &mut Cells<'_>,
    ) -> ApiResult<Option<ApiResult<Outcome>>> {
        let company_id = self
            .reference(txn, cells, "company", Target::Company)
            .await?;
        let owner_id = self.reference(txn, cells, "owner", Target::User).await?;
        let primary = cells.parse("isPrimary", boolean);
        let input = NewContact {
            company_id,
            first_name: cells.text("firstName"),
            last_name: cells.text("lastName"),
            email: cells.text("email"),
            phone: cells.text("phone"),
            mobile: cells.text("mobile"),
            title: cells.text("title"),
            department: cells.parse("department", choice::<Department>),
            is_primary: primary.unwrap_or(false),
            linkedin_url: cells.parse("linkedinUrl", website),
            notes: cells.text("notes"),
            id: None,
            owner_id,
        };
        if !cells.errors.is_empty() {
            return Ok(None);
        }
        let existing = match input.email.as_deref() {
            Some(email) => lookup(txn, Target::Contact, email).await?,
            None => None,
        };
        let (deps, viewer, at) = (self.deps, self.viewer, At::Within(txn));
        Ok(match self.duplicate(cells, existing, "email")? {
            Dup::New => Some(
                contacts::create(deps, viewer, at, input)
                    .await
                    .map(|_| Outcome::Created),
            ),
            Dup::Update(id) => {
                let changes = ContactChanges {
                    company_id: input.company_id.map(Some),
                    first_name: input.first_name.map(Some),
                    last_name: input.last_name.map(Some),
                    email: input.email.map(Some),
                    phone: input.phone.map(Some),
                    mobile: input.mobile.map(Some),
                    title: input.title.map(Some),
                    department: input.department.map(Some),
                    is_primary: primary,
                    linkedin_url: input.linkedin_url.map(Some),
                    notes: input.notes.map(Some),
                    owner_id: input.owner_id,
                    expected_version: None,
                };
                Some(
                    contacts::update(deps, viewer, at, id, changes)
                        .await
                        .map(|_| Outcome::Updated),
                )
            }
            Dup::Done(outcome) => Some(Ok(outcome)),
        })
    }

    async fn deal(
        &mut self,
        txn: &DatabaseTransaction,
        cells: &mut Cells<'_>,
    ) -> ApiResult<Option<ApiResult<Outcome>>> {
        let company_id = self
            .reference(txn, cells, "company", Target::Company)
            .await?;
        if !cells.has("company") {
            cells.error("company", "BAD_USER_INPUT", "is required");
        }
        let contact_id = self
            .reference(txn, cells, "contact", Target::Contact)
            .await?;
        let owner_id = self.reference(txn, cells, "owner", Target::User).await?;
        let amount = cells.parse("amount", decimal);
        let stage = cells.parse("stage", choice::<DealStage>);
        let expected_close_date = cells.parse("expectedCloseDate", date);
        let source = cells.parse("source", choice::<DealSource>);
        let priority = cells.parse("priority", choice::<Priority>);
        let (Some(company_id), true) = (company_id, cells.errors.is_empty()) else {
            return Ok(None);
        };
        let input = NewDeal {
            company_id,
            contact_id,
            title: cells.text("title").unwrap_or_default(),
            amount,
            currency: cells.text("currency"),
            stage,
            expected_close_date,
            source,
            priority,
            notes: cells.text("notes"),
            owner_id,
            id: None,
        };
        let made = deals::create(self.deps, self.viewer, At::Within(txn), input).await;
        Ok(Some(made.map(|_| Outcome::Created)))
    }

    async fn activity(
        &mut self,
        txn: &DatabaseTransaction,
        cells: &mut Cells<'_>,
    ) -> ApiResult<Option<ApiResult<Outcome>>> {
        let company_id = self
            .reference(txn, cells, "company", Target::Company)
            .await?;
        let contact_id = self
            .reference(txn, cells, "contact", Target::Contact)
            .await?;
        let assigned_to = self
            .reference(txn, cells, "assignedTo", Target::User)
            .await?;
        let deal_id = cells.parse("deal", |v| {
            Uuid::parse_str(v).map_err(|_| "must be a deal id".to_owned())
        });
        let input = NewActivity {
            kind: cells.parse("type", choice::<ActivityType>),
            subject: cells.text("subject"),
            description: cells.text("description"),
            due_at: cells.parse("dueAt", time),
            completed: cells.parse("completed", boolean),
            priority: cells.parse("priority", choice::<Priority>),
            status: cells.parse("status", choice::<ActivityStatus>),
            company_id,
            contact_id,
            deal_id,
            assigned_to,
            id: None,
        };
        if !cells.errors.is_empty() {
            return Ok(None);
        }
        let made = activity::create(self.deps, self.viewer, At::Within(txn), input).await;
        Ok(Some(made.map(|_| Outcome::Created)))
    }

    /// What to do with a row that matches `existing` (found by `field`).
    fn duplicate(
        &self,
        cells: &mut Cells<'_>,
        existing: Option<Uuid>,
        field: &str,
    ) -> ApiResult<Dup> {
        let Some(id) = existing else {
            return Ok(Dup::New);
        };
        Ok(match self.on_duplicate {
            OnDuplicate::Skip => Dup::Done(Outcome::Skipped),
            OnDuplicate::Update => Dup::Update(id),
            OnDuplicate::Fail => {
                cells.error(
                    field,
                    "CONFLICT",
                    "matches an existing record (onDuplicate: FAIL)",
                );
                Dup::Done(Outcome::Failed(std::mem::take(&mut cells.errors)))
            }
        })
    }
}

enum Dup {
    New,
    Update(Uuid),
    Done(Outcome),
}

/// The company with this domain, else with this name (case-insensitive), and the field
/// that matched.
async fn find_company(
    txn: &DatabaseTransaction,
    domain: Option<&str>,
    name: Option<&str>,
) -> ApiResult<Option<(Uuid, &'static str)>> {
    if let Some(d) = domain
        && let Some(id) = by_lower(txn, company::Column::Domain, d.trim()).await?
    {
        return Ok(Some((id, "domain")));
    }
    Ok(match name {
        Some(n) => by_lower(txn, company::Column::Name, n.trim())
            .await?
            .map(|id| (id, "name")),
        None => None,
    })
}

async fn by_lower(
    txn: &DatabaseTransaction,
    column: company::Column,
    value: &str,
) -> ApiResult<Option<Uuid>> {
    Ok(company::Entity::find()
        .select_only()
        .column(company::Column::Id)
        .filter(same_text(record::qualified(column), value))
        .into_tuple()
        .one(txn)
        .await?)
}

/// `lower(column) = lower(value)`: the comparison the unique indexes make (on SQLite,
/// `lower` folds ASCII letters only: lowering in Rust would miss `Ärzte` there).
fn same_text(
    column: sea_orm::sea_query::SimpleExpr,
    value: &str,
) -> sea_orm::sea_query::SimpleExpr {
    Expr::expr(Func::lower(column)).eq(Func::lower(Expr::val(value.trim())))
}

/// A record by what a cell says: a company's name or domain, a contact's or an active
/// user's email (ignoring case).
async fn lookup(txn: &DatabaseTransaction, target: Target, key: &str) -> ApiResult<Option<Uuid>> {
    Ok(match target {
        Target::Company => find_company(txn, Some(key), Some(key))
            .await?
            .map(|(id, _)| id),
        Target::Contact => {
            contact::Entity::find()
                .select_only()
                .column(contact::Column::Id)
                .filter(same_text(record::qualified(contact::Column::Email), key))
                .into_tuple()
                .one(txn)
                .await?
        }
        Target::User => {
            user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .filter(same_text(record::qualified(user::Column::Email), key))
                .filter(user::Column::Active.eq(true))
                .into_tuple()
                .one(txn)
                .await?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_loosely() {
        assert_eq!(norm("First Name"), norm("firstName"));
        assert_eq!(norm("expected_close_date"), norm("expectedCloseDate"));
        assert_eq!(norm("1000+"), "1000plus");
    }

    #[test]
    fn enums_by_either_name() {
        assert_eq!(choice::<DealStage>("Closed Won"), Ok(DealStage::ClosedWon));
        assert_eq!(choice::<DealStage>("CLOSED_WON"), Ok(DealStage::ClosedWon));
        assert_eq!(choice::<CompanySize>("51-200"), Ok(CompanySize::S51To200));
        assert_eq!(
            choice::<CompanySize>("SIZE_1000_PLUS"),
            Ok(CompanySize::S1000Plus)
        );
        assert!(
            choice::<Industry>("Mining")
                .unwrap_err()
                .contains("Technology")
        );
    }

    #[test]
    fn guarded_cells_come_back() {
        assert_eq!(cell(b"'+15551234567"), Ok("+15551234567".into()));
        assert_eq!(cell(b"'=1+1"), Ok("=1+1".into()));
        assert_eq!(cell(b"O'Brien"), Ok("O'Brien".into()));
        assert_eq!(cell(b"'quoted'"), Ok("'quoted'".into()));
        assert_eq!(cell(b"\xff"), Err(()));
    }

    #[test]
    fn cells_parse() {
        assert_eq!(website("acme.com"), Ok("https://acme.com".into()));
        assert_eq!(
            decimal("50,000.50").map(|d| d.to_string()),
            Ok("50000.50".into())
        );
        assert!(date("12/15/2027").is_err());
        assert!(time("2027-03-01 09:30").is_ok());
        assert_eq!(boolean("Yes"), Ok(true));
    }
}

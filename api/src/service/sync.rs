//! Offline sync: a client takes `syncCursor`, lists everything, and from then on asks for
//! `changes(since)`: the records it may read that it does not hold in their current state
//! (`UPSERT`, with the fields it may read now) and `DELETE` tombstones for records it was
//! given that are gone or no longer readable (deleted, reassigned away, unshared, the viewer
//! moved to another team or demoted).
//!
//! The server keeps, per client (`sync_clients`), what it sent (`sync_known`: each record's
//! version and the facts mask it was read under). An answer is the difference between that
//! and what the policy lets the viewer read now, computed with the same scope and facts as
//! the lists — so nothing about a record the viewer cannot read is ever sent: a tombstone
//! only names a record the client was given. The events table says whether anything
//! happened at all since the last complete answer (no event: nothing to compare).
//!
//! Every change of an answer carries a cursor; the client comes back with the last one it
//! applied. What the server sent past that cursor is forgotten and sent again, so a lost
//! answer or a half-applied page loses nothing (`pending_*` in `sync_known`).
//!
//! Known limit: a record that becomes readable and then unreadable again between
//! `syncCursor` and the client's listing can stay on the client until it next changes
//! (the server never knew the client held it). See `docs/sync.md`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::enums::RecordKind;
use entity::{activity, company, contact, deal, event, sync_client, sync_known};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, TransactionTrait,
};
use uuid::Uuid;

use crate::authz::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::service::list::WithFacts;
use crate::service::record::{self, Versioned};
use crate::service::{Deps, begin_write};

/// The kinds a client syncs.
pub const KINDS: [RecordKind; 4] = [
    RecordKind::Company,
    RecordKind::Contact,
    RecordKind::Deal,
    RecordKind::Activity,
];

/// The most changes one answer carries.
pub const MAX_FIRST: usize = 1000;

/// A place in one client's stream of changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The client (`sync_clients.id`).
    pub client: Uuid,
    /// The answer it came from.
    pub call: i64,
    /// How far into the client's stream.
    pub seq: i64,
}

impl Cursor {
    /// The opaque text clients hold.
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("s1:{}:{}:{}", self.client, self.call, self.seq))
    }

    /// Reads a cursor from `field`; anything that is not one is `BAD_USER_INPUT`.
    pub fn parse(text: &str, field: &str) -> ApiResult<Self> {
        use base64::Engine;
        let bad = || ApiError::bad_input(field, "is not a sync cursor (take one with syncCursor)");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.split(':');
        let (Some("s1"), Some(client), Some(call), Some(seq), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        Ok(Self {
            client: Uuid::parse_str(client).map_err(|_| bad())?,
            call: call.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// Upsert or tombstone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The record as the viewer may read it now.
    Upsert,
    /// The client should drop the record.
    Delete,
}

/// A record of a synced kind, as the viewer reads it.
#[derive(Clone, Debug)]
pub enum SyncedRow {
    /// A company.
    Company(WithFacts<company::Model>),
    /// A contact.
    Contact(WithFacts<contact::Model>),
    /// A deal.
    Deal(WithFacts<deal::Model>),
    /// An activity.
    Activity(WithFacts<activity::Model>),
}

impl SyncedRow {
    /// The record's id.
    pub fn id(&self) -> Uuid {
        match self {
            SyncedRow::Company(r) => r.model.id,
            SyncedRow::Contact(r) => r.model.id,
            SyncedRow::Deal(r) => r.model.id,
            SyncedRow::Activity(r) => r.model.id,
        }
    }
}

/// One change for a client.
#[derive(Clone, Debug)]
pub struct SyncChange {
    /// Upsert or tombstone.
    pub op: Op,
    /// The record's kind.
    pub kind: RecordKind,
    /// The record's id.
    pub id: Uuid,
    /// When the record last changed (an upsert), or when the tombstone was made.
    pub at: DateTime<Utc>,
    /// Where to come back after applying this change.
    pub cursor: Cursor,
    /// The record (upserts only).
    pub row: Option<SyncedRow>,
}

/// One answer of `changes`.
#[derive(Clone, Debug)]
pub struct ChangeSet {
    /// The changes, tombstones first.
    pub changes: Vec<SyncChange>,
    /// Where to come back after applying them all.
    pub cursor: Cursor,
    /// Whether more changes are waiting (ask again at once with `cursor`).
    pub has_more: bool,
}

/// A kind clients sync: versioned, read with its facts.
pub(crate) trait Synced:
    Versioned<Row = WithFacts<<Self as sea_orm::EntityTrait>::Model>>
where
    Self::Model: Sync,
{
    /// Its name in `RecordKind`.
    const SYNC_KIND: RecordKind;
    /// The row as a [`SyncedRow`].
    fn wrap(row: Self::Row) -> SyncedRow;
    /// The row's version.
    fn version(model: &Self::Model) -> i32;
    /// When the row last changed.
    fn updated_at(model: &Self::Model) -> DateTime<Utc>;
}

macro_rules! synced {
    ($module:ident, $kind:ident) => {
        impl Synced for $module::Entity {
            const SYNC_KIND: RecordKind = RecordKind::$kind;
            fn wrap(row: Self::Row) -> SyncedRow {
                SyncedRow::$kind(row)
            }
            fn version(model: &Self::Model) -> i32 {
                model.version
            }
            fn updated_at(model: &Self::Model) -> DateTime<Utc> {
                model.updated_at
            }
        }
    };
}

synced!(company, Company);
synced!(contact, Contact);
synced!(deal, Deal);
synced!(activity, Activity);

/// What the facts a client was sent depend on besides the record: the viewer's role and
/// teams and the policy. When it changes, everything the client holds is sent again.
pub(crate) fn viewer_sig(deps: &Deps, viewer: &Viewer) -> String {
    let teams: Vec<String> = viewer.team_ids.iter().map(Uuid::to_string).collect();
    format!(
        "{:?}|{}|{}",
        viewer.role,
        teams.join(","),
        deps.authz.fingerprint()
    )
}

/// The newest event readers may see (commit order), `(0, 0)` with none.
pub(crate) async fn latest_event(db: &impl ConnectionTrait) -> ApiResult<(i64, i64)> {
    let select = crate::service::audit::readable_events(db).await?;
    let backend = db.get_database_backend();
    let row: Option<(i64, i64)> = crate::service::audit::in_reading_order(backend, select, true)
        .select_only()
        .column(event::Column::Txid)
        .column(event::Column::Position)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.unwrap_or((0, 0)))
}

/// `syncCursor`: a new client replica holding everything the viewer may read now (the
/// client lists it next). The latest event is read first, so whatever commits meanwhile is
/// looked at again by the first `changes`.
/// `ephemeral`: made by a subscription without a cursor (purged a day after its last use).
pub async fn start(deps: &Deps, viewer: &Viewer, ephemeral: bool) -> ApiResult<Cursor> {
    let (txid, position) = latest_event(&deps.db).await?;
    let id = Uuid::new_v4();
    let now = Utc::now();
    let txn = begin_write(deps).await?;
    sync_client::Entity::insert(sync_client::ActiveModel {
        id: Set(id),
        user_id: Set(viewer.user_id),
        call_no: Set(0),
        base_seq: Set(0),
        issued_seq: Set(0),
        txid: Set(txid),
        position: Set(position),
        pending_txid: Set(None),
        pending_position: Set(None),
        viewer_sig: Set(viewer_sig(deps, viewer)),
        ephemeral: Set(ephemeral),
        created_at: Set(now),
        used_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    remember_all::<company::Entity>(deps, viewer, &txn, id).await?;
    remember_all::<contact::Entity>(deps, viewer, &txn, id).await?;
    remember_all::<deal::Entity>(deps, viewer, &txn, id).await?;
    remember_all::<activity::Entity>(deps, viewer, &txn, id).await?;
    txn.commit().await?;
    Ok(Cursor {
        client: id,
        call: 0,
        seq: 0,
    })
}

/// Records every row of `E` the viewer may read as held by `client` (one statement).
async fn remember_all<E>(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    client: Uuid,
) -> ApiResult<()>
where
    E: Synced,
    E::Model: Sync,
{
    let rows = E::find()
        .select_only()
        .expr(Expr::val(client))
        .expr(Expr::val(E::SYNC_KIND.to_value()))
        .column(E::ID)
        .column(E::VERSION)
        .expr(deps.authz.facts_expr(viewer, E::KIND))
        .filter(deps.authz.aggregate_scope(viewer, E::READ))
        .into_query();
    let insert = Query::insert()
        .into_table(sync_known::Entity)
        .columns([
            sync_known::Column::ClientId,
            sync_known::Column::Kind,
            sync_known::Column::RecordId,
            sync_known::Column::Version,
            sync_known::Column::Facts,
        ])
        .select_from(rows)
        .map_err(|e| ApiError::internal("sync: remember", e))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// The client of `cursor` if it is the viewer's and the cursor is still honoured: at the
/// client's confirmed place, or within the last answer.
async fn client_of(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    cursor: Cursor,
) -> ApiResult<sync_client::Model> {
    let client = sync_client::Entity::find_by_id(cursor.client)
        .filter(sync_client::Column::UserId.eq(viewer.user_id))
        .one(db)
        .await?
        .ok_or(ApiError::SyncCursorExpired)?;
    // Within the last answer or subscription: any later place (a subscription does not
    // record every change it sends; what a cursor confirms past what was recorded changes
    // nothing).
    let at_base = cursor.seq == client.base_seq;
    let in_last = cursor.call == client.call_no && cursor.seq >= client.base_seq;
    if at_base || in_last {
        Ok(client)
    } else {
        Err(ApiError::SyncCursorExpired)
    }
}

/// The last sequence number handed out to `client`: a subscription hands them out without
/// writing `issued_seq`, its pending rows say how far it went.
async fn issued_seq(db: &impl ConnectionTrait, client: &sync_client::Model) -> ApiResult<i64> {
    let pending: Option<Option<i64>> = sync_known::Entity::find()
        .select_only()
        .expr(sea_orm::sea_query::Func::max(Expr::col(
            sync_known::Column::PendingSeq,
        )))
        .filter(sync_known::Column::ClientId.eq(client.id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(client.issued_seq.max(pending.flatten().unwrap_or(0)))
}

/// Makes what the client confirmed (changes up to `seq`) its known state and forgets what
/// was sent past it.
async fn confirm(db: &impl ConnectionTrait, client: Uuid, seq: i64) -> ApiResult<()> {
    use sync_known::Column as K;
    let mine = || K::ClientId.eq(client);
    // Tombstones applied: the client holds nothing of these any more.
    sync_known::Entity::delete_many()
        .filter(mine())
        .filter(K::PendingSeq.lte(seq))
        .filter(K::PendingPresent.eq(false))
        .exec(db)
        .await?;
    // Upserts applied.
    sync_known::Entity::update_many()
        .col_expr(K::Version, Expr::col(K::PendingVersion))
        .col_expr(K::Facts, Expr::col(K::PendingFacts))
        .col_expr(K::PendingSeq, Expr::value(Option::<i64>::None))
        .col_expr(K::PendingPresent, Expr::value(Option::<bool>::None))
        .col_expr(K::PendingVersion, Expr::value(Option::<i32>::None))
        .col_expr(K::PendingFacts, Expr::value(Option::<i32>::None))
        .filter(mine())
        .filter(K::PendingSeq.lte(seq))
        .exec(db)
        .await?;
    // Sent past the cursor and not applied: forgotten (a record the client never held
    // goes entirely).
    sync_known::Entity::delete_many()
        .filter(mine())
        .filter(K::PendingSeq.gt(seq))
        .filter(K::Version.is_null())
        .exec(db)
        .await?;
    sync_known::Entity::update_many()
        .col_expr(K::PendingSeq, Expr::value(Option::<i64>::None))
        .col_expr(K::PendingPresent, Expr::value(Option::<bool>::None))
        .col_expr(K::PendingVersion, Expr::value(Option::<i32>::None))
        .col_expr(K::PendingFacts, Expr::value(Option::<i32>::None))
        .filter(mine())
        .filter(K::PendingSeq.gt(seq))
        .exec(db)
        .await?;
    Ok(())
}

/// What the client holds of a record, as far as the server knows: the version and facts
/// of its last change sent (`None` versions: nothing).
pub(crate) fn holding(k: &sync_known::Model) -> (Option<i32>, Option<i32>) {
    match k.pending_present {
        Some(true) => (k.pending_version, k.pending_facts),
        Some(false) => (None, None),
        None => (k.version, k.facts),
    }
}

/// A difference found for one record.
struct Found {
    kind: RecordKind,
    id: Uuid,
    op: Op,
}

/// The records of `E` the client holds that differ from what the viewer may read now:
/// tombstones for held records no longer readable, upserts for readable records not held,
/// held at another version, or held under other facts (`facts` of `None` on a held record
/// means "send again").
async fn diff<E>(deps: &Deps, viewer: &Viewer, client: Uuid, out: &mut Vec<Found>) -> ApiResult<()>
where
    E: Synced,
    E::Model: Sync,
{
    use sync_known::Column as K;
    let held: Vec<sync_known::Model> = sync_known::Entity::find()
        .filter(K::ClientId.eq(client))
        .filter(K::Kind.eq(E::SYNC_KIND))
        .all(&deps.db)
        .await?;
    let mut held: HashMap<Uuid, (Option<i32>, Option<i32>)> = held
        .into_iter()
        .map(|k| (k.record_id, holding(&k)))
        .collect();
    let now: Vec<(Uuid, i32, i32)> = E::find()
        .select_only()
        .column(E::ID)
        .column(E::VERSION)
        .expr(deps.authz.facts_expr(viewer, E::KIND))
        .filter(deps.authz.aggregate_scope(viewer, E::READ))
        .order_by_asc(E::ID)
        .into_tuple()
        .all(&deps.db)
        .await?;
    let mut upserts = Vec::new();
    for (id, version, facts) in now {
        match held.remove(&id) {
            Some((Some(v), Some(f))) if v == version && f == facts => {}
            _ => upserts.push(id),
        }
    }
    let mut gone: Vec<Uuid> = held
        .into_iter()
        .filter(|(_, (version, _))| version.is_some())
        .map(|(id, _)| id)
        .collect();
    gone.sort();
    out.extend(gone.into_iter().map(|id| Found {
        kind: E::SYNC_KIND,
        id,
        op: Op::Delete,
    }));
    out.extend(upserts.into_iter().map(|id| Found {
        kind: E::SYNC_KIND,
        id,
        op: Op::Upsert,
    }));
    Ok(())
}

/// The current rows of `E` among `ids` the viewer may read, by id.
async fn rows_of<E>(
    deps: &Deps,
    viewer: &Viewer,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, SyncedRow>>
where
    E: Synced,
    E::Model: Sync,
{
    let rows = record::by_ids::<E>(deps, viewer, ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let row = E::wrap(row);
            (row.id(), row)
        })
        .collect())
}

/// The version and facts a row is sent with.
pub(crate) fn stamp(row: &SyncedRow) -> (i32, i32, DateTime<Utc>) {
    fn of<E: Synced>(row: &WithFacts<E::Model>) -> (i32, i32, DateTime<Utc>)
    where
        E::Model: Sync,
    {
        (
            E::version(&row.model),
            row.facts.bits() as i32,
            E::updated_at(&row.model),
        )
    }
    match row {
        SyncedRow::Company(r) => of::<company::Entity>(r),
        SyncedRow::Contact(r) => of::<contact::Entity>(r),
        SyncedRow::Deal(r) => of::<deal::Entity>(r),
        SyncedRow::Activity(r) => of::<activity::Entity>(r),
    }
}

/// An answer being given to a client: its cursor confirmed, a new call opened.
#[derive(Clone, Debug)]
pub(crate) struct Opened {
    /// The client.
    pub(crate) client: Uuid,
    /// The call: cursors of this answer name it.
    pub(crate) call: i64,
    /// The last sequence number handed out (the confirmed one at first).
    pub(crate) seq: i64,
    /// The last event the client has seen in full.
    pub(crate) seen: (i64, i64),
    /// The client's facts were computed for another role, teams or policy.
    pub(crate) resend: bool,
}

impl Opened {
    /// The cursor after everything handed out so far.
    pub(crate) fn cursor(&self) -> Cursor {
        Cursor {
            client: self.client,
            call: self.call,
            seq: self.seq,
        }
    }
}

/// Confirms what the client applied (changes up to `since`) and opens a new answer for it.
pub(crate) async fn open(deps: &Deps, viewer: &Viewer, since: Cursor) -> ApiResult<Opened> {
    let sig = viewer_sig(deps, viewer);
    let txn = begin_write(deps).await?;
    let client = client_of(&txn, viewer, since).await?;
    let issued = issued_seq(&txn, &client).await?;
    confirm(&txn, client.id, since.seq).await?;
    let call = client.call_no + 1;
    let resend = client.viewer_sig != sig;
    if resend {
        // Facts the client holds were computed for another role, teams or policy.
        sync_known::Entity::update_many()
            .col_expr(sync_known::Column::Facts, Expr::value(Option::<i32>::None))
            .filter(sync_known::Column::ClientId.eq(client.id))
            .exec(&txn)
            .await?;
    }
    // The last answer was complete and the client applied all of it: its events are seen.
    let seen = match (client.pending_txid, client.pending_position) {
        (Some(txid), Some(position)) if since.seq == issued => (txid, position),
        _ => (client.txid, client.position),
    };
    let opened = sync_client::Entity::update_many()
        .col_expr(sync_client::Column::Txid, Expr::value(seen.0))
        .col_expr(sync_client::Column::Position, Expr::value(seen.1))
        .col_expr(
            sync_client::Column::PendingTxid,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            sync_client::Column::PendingPosition,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(sync_client::Column::CallNo, Expr::value(call))
        .col_expr(sync_client::Column::BaseSeq, Expr::value(since.seq))
        .col_expr(sync_client::Column::IssuedSeq, Expr::value(since.seq))
        .col_expr(sync_client::Column::ViewerSig, Expr::value(sig))
        .col_expr(sync_client::Column::UsedAt, Expr::value(Utc::now()))
        .filter(sync_client::Column::Id.eq(client.id))
        .filter(sync_client::Column::CallNo.eq(client.call_no))
        .exec(&txn)
        .await?;
    if opened.rows_affected != 1 {
        return Err(busy());
    }
    txn.commit().await?;
    Ok(Opened {
        client: client.id,
        call,
        seq: since.seq,
        seen,
        resend,
    })
}

/// The viewer of an open answer changed (a new role or team): if that can change what it
/// may read of the records the client holds, everything it holds is sent again by the next
/// comparison.
pub(crate) async fn viewer_changed(deps: &Deps, opened: &Opened, viewer: &Viewer) -> ApiResult<()> {
    let sig = viewer_sig(deps, viewer);
    let txn = begin_write(deps).await?;
    let changed = sync_client::Entity::update_many()
        .col_expr(sync_client::Column::ViewerSig, Expr::value(sig.clone()))
        .filter(sync_client::Column::Id.eq(opened.client))
        .filter(sync_client::Column::ViewerSig.ne(sig))
        .exec(&txn)
        .await?;
    if changed.rows_affected > 0 {
        sync_known::Entity::update_many()
            .col_expr(sync_known::Column::Facts, Expr::value(Option::<i32>::None))
            .col_expr(
                sync_known::Column::PendingFacts,
                Expr::value(Option::<i32>::None),
            )
            .filter(sync_known::Column::ClientId.eq(opened.client))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Marks `clients` used now (live subscriptions keep their copies from the purge).
pub(crate) async fn touch(deps: &Deps, clients: Vec<Uuid>) -> ApiResult<()> {
    for chunk in clients.chunks(500) {
        sync_client::Entity::update_many()
            .col_expr(sync_client::Column::UsedAt, Expr::value(Utc::now()))
            .filter(sync_client::Column::Id.is_in(chunk.iter().copied()))
            .exec(&deps.db)
            .await?;
    }
    Ok(())
}

/// `changes(since, kinds, first)`.
pub async fn changes(
    deps: &Deps,
    viewer: &Viewer,
    since: Cursor,
    kinds: &[RecordKind],
    first: usize,
) -> ApiResult<ChangeSet> {
    let mut opened = open(deps, viewer, since).await?;
    // Anything new since the last complete answer?
    let latest = latest_event(&deps.db).await?;
    if !opened.resend && latest <= opened.seen {
        return Ok(ChangeSet {
            changes: Vec::new(),
            cursor: opened.cursor(),
            has_more: false,
        });
    }
    let (changes, has_more) = answer(deps, viewer, &mut opened, kinds, first, latest).await?;
    Ok(ChangeSet {
        changes,
        cursor: opened.cursor(),
        has_more,
    })
}

/// One page of an opened answer: the differences (at most `first`), recorded as pending.
/// `latest` is the last event read before comparing: when the page completes the answer
/// for every kind, it is what the client will have seen once it applies the page.
pub(crate) async fn answer(
    deps: &Deps,
    viewer: &Viewer,
    opened: &mut Opened,
    kinds: &[RecordKind],
    first: usize,
    latest: (i64, i64),
) -> ApiResult<(Vec<SyncChange>, bool)> {
    let first = first.clamp(1, MAX_FIRST);
    let all_kinds = KINDS.iter().all(|k| kinds.contains(k));
    let client = opened.client;
    let mut found = Vec::new();
    for kind in KINDS.iter().filter(|k| kinds.contains(k)) {
        match kind {
            RecordKind::Company => {
                diff::<company::Entity>(deps, viewer, client, &mut found).await?
            }
            RecordKind::Contact => {
                diff::<contact::Entity>(deps, viewer, client, &mut found).await?
            }
            RecordKind::Deal => diff::<deal::Entity>(deps, viewer, client, &mut found).await?,
            RecordKind::Activity => {
                diff::<activity::Entity>(deps, viewer, client, &mut found).await?
            }
            RecordKind::User | RecordKind::Team => {}
        }
    }
    let has_more = found.len() > first;
    found.truncate(first);
    let mut rows = HashMap::new();
    for kind in KINDS {
        let ids: Vec<Uuid> = found
            .iter()
            .filter(|f| f.kind == kind && f.op == Op::Upsert)
            .map(|f| f.id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let found_rows = match kind {
            RecordKind::Company => rows_of::<company::Entity>(deps, viewer, &ids).await?,
            RecordKind::Contact => rows_of::<contact::Entity>(deps, viewer, &ids).await?,
            RecordKind::Deal => rows_of::<deal::Entity>(deps, viewer, &ids).await?,
            _ => rows_of::<activity::Entity>(deps, viewer, &ids).await?,
        };
        rows.extend(found_rows.into_iter().map(|(id, row)| ((kind, id), row)));
    }
    let now = Utc::now();
    let mut out = Vec::with_capacity(found.len());
    for f in found {
        let row = match f.op {
            Op::Upsert => match rows.remove(&(f.kind, f.id)) {
                Some(row) => Some(row),
                // Unreadable since the comparison: a later event brings it back.
                None => continue,
            },
            Op::Delete => None,
        };
        out.push(stamped(opened, f.kind, f.id, row, now));
    }
    // Record what this page sends (pending until the client comes back past it).
    let txn = begin_write(deps).await?;
    let mut update = sync_client::Entity::update_many()
        .col_expr(sync_client::Column::IssuedSeq, Expr::value(opened.seq))
        .filter(sync_client::Column::Id.eq(client))
        .filter(sync_client::Column::CallNo.eq(opened.call));
    if !has_more && all_kinds {
        update = update
            .col_expr(sync_client::Column::PendingTxid, Expr::value(latest.0))
            .col_expr(sync_client::Column::PendingPosition, Expr::value(latest.1));
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        return Err(busy());
    }
    write_pending(&txn, &out).await?;
    txn.commit().await?;
    Ok((out, has_more))
}

/// The next change of an opened answer: its sequence number and cursor.
pub(crate) fn stamped(
    opened: &mut Opened,
    kind: RecordKind,
    id: Uuid,
    row: Option<SyncedRow>,
    now: DateTime<Utc>,
) -> SyncChange {
    opened.seq += 1;
    let (op, at) = match &row {
        Some(r) => (Op::Upsert, stamp(r).2),
        None => (Op::Delete, now),
    };
    SyncChange {
        op,
        kind,
        id,
        at,
        cursor: opened.cursor(),
        row,
    }
}

/// Another answer for the same client started meanwhile (two devices sharing a cursor, or
/// a retry racing its original).
fn busy() -> ApiError {
    ApiError::Conflict {
        message: "another sync of this client is running; retry with the same cursor".into(),
        field: Some("since".into()),
    }
}

/// Records changes sent to their clients as pending: a new row for a record the client
/// did not hold, else the pending columns of its row (a change still pending from before is
/// taken as applied first: the client got it, since it got one after it).
pub(crate) async fn write_pending<'a>(
    db: &impl ConnectionTrait,
    sent: impl IntoIterator<Item = &'a SyncChange>,
) -> ApiResult<()> {
    use sync_known::Column as K;
    let rows: Vec<sync_known::ActiveModel> = sent
        .into_iter()
        .map(|c| {
            let (version, facts) = match &c.row {
                Some(r) => {
                    let (version, facts, _) = stamp(r);
                    (Some(version), Some(facts))
                }
                None => (None, None),
            };
            sync_known::ActiveModel {
                client_id: Set(c.cursor.client),
                kind: Set(c.kind),
                record_id: Set(c.id),
                version: Set(None),
                facts: Set(None),
                pending_seq: Set(Some(c.cursor.seq)),
                pending_present: Set(Some(c.op == Op::Upsert)),
                pending_version: Set(version),
                pending_facts: Set(facts),
            }
        })
        .collect();
    let promoted = |column: &str| {
        Expr::cust(format!(
            "CASE WHEN sync_known.pending_seq IS NULL THEN sync_known.{column} \
             WHEN sync_known.pending_present THEN sync_known.pending_{column} END"
        ))
    };
    // 9 values a row; well under every backend's limit on bound parameters.
    for chunk in rows.chunks(500) {
        sync_known::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([K::ClientId, K::Kind, K::RecordId])
                    .value(K::Version, promoted("version"))
                    .value(K::Facts, promoted("facts"))
                    .update_columns([
                        K::PendingSeq,
                        K::PendingPresent,
                        K::PendingVersion,
                        K::PendingFacts,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Deletes clients unused for longer than the retention period, and ephemeral ones unused
/// for a day (their cursors then answer `SYNC_CURSOR_EXPIRED`); returns how many went.
pub async fn purge(deps: &Deps, now: DateTime<Utc>) -> ApiResult<u64> {
    let cutoff = now - chrono::Duration::days(i64::from(deps.config.audit_retention_days));
    let txn = deps.db.begin().await?;
    let res = sync_client::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(sync_client::Column::UsedAt.lt(cutoff))
                .add(
                    sea_orm::Condition::all()
                        .add(sync_client::Column::Ephemeral.eq(true))
                        .add(sync_client::Column::UsedAt.lt(now - chrono::Duration::days(1))),
                ),
        )
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(res.rows_affected)
}

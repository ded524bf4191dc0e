//! Live delivery: `recordChanged` and `notificationAdded` subscriptions.
//!
//! Each instance runs one dispatcher. It reads the events table in commit order (below the
//! horizon, like every reader), in batches, and for each batch:
//! - finds the records the batch may have changed for someone: the records of the events,
//!   and those whose readability follows from them (a deal's company and contact, before
//!   and after a move, and the activities on all of these);
//! - loads those records with what their facts need (owners' teams, the viewers' shares,
//!   the deals linked to each company and contact) in a fixed number of statements;
//! - decides, for every subscriber of the instance, which of them they may read now, with
//!   the compiled policy's tables over facts computed in Rust by the same checks the
//!   differential test holds to the SQL — no statement per subscriber;
//! - compares with what each subscriber's client holds (`sync_known`, one statement for all
//!   subscribers) and sends an `UPSERT` (with the fields the viewer may read) or a `DELETE`
//!   tombstone (only for a record the client holds), recording as pending (one statement)
//!   the sends that change what a copy holds (a new record, a tombstone).
//!
//! A batch with user or team changes (a role, a team, a manager) can change what anyone may
//! read: every subscriber is then compared in full, as `changes` does. A subscriber is a
//! sync client: it resumes from the cursor of the last change it applied, on any instance,
//! after any restart; what was sent after that cursor is sent again.
//!
//! Wake-ups: on PostgreSQL a trigger on `events` notifies `crm_events` at commit and every
//! instance listens; on SQLite the writer wakes its own process. A wake-up only shortens the
//! wait: the dispatcher also polls, so a lost one delays, never loses.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use entity::enums::{RecordKind, SharePermission};
use entity::{activity, company, contact, deal, deal_share, event, notification, sync_known, user};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use crate::authz::{
    ActivityAction, ActivityFacts, CompanyAction, CompanyFacts, ContactAction, ContactFacts,
    DealAction, DealFacts, FactMask, Kind, Viewer,
};
use crate::error::ApiResult;
use crate::service::Deps;
use crate::service::list::WithFacts;
use crate::service::sync::{self, Opened, SyncChange, SyncedRow};

/// Events read per batch.
const BATCH: u64 = 500;
/// Changes buffered per subscriber; a client that falls further behind is disconnected
/// (it resumes from its last cursor).
const BUFFER: usize = 1024;
/// How often the dispatcher looks without a wake-up.
const POLL: Duration = Duration::from_millis(1000);

/// This instance's live delivery. Cheap to clone.
#[derive(Clone, Default)]
pub struct Live {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    wake: Notify,
    started: AtomicBool,
    /// Subscribers waiting to be caught up and added.
    joining: Mutex<Vec<Subscriber>>,
    /// Notification subscribers: user → senders.
    notes: Mutex<Vec<NoteSubscriber>>,
}

/// A `recordChanged` subscriber.
struct Subscriber {
    viewer: Viewer,
    kinds: Vec<RecordKind>,
    opened: Opened,
    tx: mpsc::Sender<Delivered>,
}

/// A change with the viewer it was decided for (a role or team change is seen by the
/// subscriber's next changes).
pub type Delivered = (SyncChange, Viewer);

/// A `notificationAdded` subscriber.
struct NoteSubscriber {
    viewer: Viewer,
    tx: mpsc::Sender<(notification::Model, Viewer)>,
}

impl Live {
    /// Wakes the dispatcher: an event was written (it looks after a short pause, so the
    /// write has committed).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    fn ensure_started(&self, deps: &Deps) {
        if !self.inner.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(dispatch(deps.clone()));
            if deps.db.get_database_backend() == DbBackend::Postgres {
                tokio::spawn(listen(deps.clone()));
            }
        }
    }

    /// Subscribes `viewer` to changes of `kinds` for the client of `since` (resumed after
    /// the last change it applied), or for a new client holding what the viewer may read
    /// now. Errors (a cursor not honoured) come back before anything is sent.
    pub async fn record_changes(
        &self,
        deps: &Deps,
        viewer: &Viewer,
        kinds: Vec<RecordKind>,
        since: Option<sync::Cursor>,
    ) -> ApiResult<mpsc::Receiver<Delivered>> {
        let since = match since {
            Some(c) => c,
            None => sync::start(deps, viewer, true).await?,
        };
        let opened = sync::open(deps, viewer, since).await?;
        let (tx, rx) = mpsc::channel(BUFFER);
        self.inner.joining.lock().expect("live").push(Subscriber {
            viewer: viewer.clone(),
            kinds,
            opened,
            tx,
        });
        self.ensure_started(deps);
        self.wake();
        Ok(rx)
    }

    /// Subscribes `viewer` to their new notifications (each sent with the viewer as they
    /// are when it is sent).
    pub fn notifications(
        &self,
        deps: &Deps,
        viewer: &Viewer,
    ) -> mpsc::Receiver<(notification::Model, Viewer)> {
        let (tx, rx) = mpsc::channel(BUFFER);
        self.inner.notes.lock().expect("live").push(NoteSubscriber {
            viewer: viewer.clone(),
            tx,
        });
        self.ensure_started(deps);
        rx
    }
}

/// Wakes the dispatcher on every `crm_events` notification (PostgreSQL).
async fn listen(deps: Deps) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let pool = deps.db.get_postgres_connection_pool();
        match PgListener::connect_with(pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen("crm_events").await {
                    tracing::warn!(error = %e, "live: LISTEN failed");
                } else {
                    // Whatever happened while not listening is picked up by this wake-up.
                    deps.live.wake();
                    while listener.recv().await.is_ok() {
                        deps.live.wake();
                    }
                    tracing::warn!("live: the notification connection dropped; reconnecting");
                }
            }
            Err(e) => tracing::warn!(error = %e, "live: cannot open a notification connection"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The dispatcher: joins new subscribers, then delivers each batch of events.
async fn dispatch(deps: Deps) {
    let mut subscribers: Vec<Subscriber> = Vec::new();
    let mut seen = sync::latest_event(&deps.db).await.unwrap_or_default();
    let mut last_touch = std::time::Instant::now();
    loop {
        let woken = tokio::select! {
            () = deps.live.inner.wake.notified() => true,
            () = tokio::time::sleep(POLL) => false,
        };
        if woken {
            // Let the write that woke us commit, and more of its kind join the batch.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Copies in use stay out of the purge: touched when their subscription ends, and
        // hourly while it lasts.
        let ended: Vec<Uuid> = subscribers
            .iter()
            .filter(|s| s.tx.is_closed())
            .map(|s| s.opened.client)
            .collect();
        subscribers.retain(|s| !s.tx.is_closed());
        let hourly = last_touch.elapsed() >= Duration::from_secs(3600);
        let touched: Vec<Uuid> = if hourly {
            last_touch = std::time::Instant::now();
            ended
                .into_iter()
                .chain(subscribers.iter().map(|s| s.opened.client))
                .collect()
        } else {
            ended
        };
        if !touched.is_empty()
            && let Err(e) = sync::touch(&deps, touched).await
        {
            tracing::warn!(error = %e, "live: marking copies used failed");
        }
        deps.live
            .inner
            .notes
            .lock()
            .expect("live")
            .retain(|s| !s.tx.is_closed());
        let joining: Vec<Subscriber> =
            std::mem::take(&mut *deps.live.inner.joining.lock().expect("live"));
        for mut s in joining {
            match catch_up(&deps, &mut s).await {
                Ok(()) => subscribers.push(s),
                Err(e) => tracing::warn!(error = %e, "live: catching a subscriber up failed"),
            }
        }
        loop {
            match next_batch(&deps, seen).await {
                Ok(events) if events.is_empty() => break,
                Ok(events) => {
                    let last = events.last().map(|e| (e.txid, e.position));
                    let began = std::time::Instant::now();
                    let lag = events.first().map(|e| Utc::now() - e.at);
                    let delivered = deliver(&deps, &mut subscribers, &events).await;
                    tracing::debug!(
                        events = events.len(),
                        subscribers = subscribers.len(),
                        ms = began.elapsed().as_secs_f64() * 1000.0,
                        lag_ms = lag.map(|l| l.num_milliseconds()),
                        "live: batch delivered"
                    );
                    if let Err(e) = delivered {
                        tracing::warn!(error = %e, "live: delivering a batch failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break;
                    }
                    if let Some(last) = last {
                        seen = last;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live: reading events failed");
                    break;
                }
            }
        }
    }
}

/// The next events after `seen`, in commit order, below the horizon.
async fn next_batch(deps: &Deps, seen: (i64, i64)) -> ApiResult<Vec<event::Model>> {
    use crate::service::audit::{after, in_reading_order, readable_events};
    let backend = deps.db.get_database_backend();
    let select = readable_events(&deps.db)
        .await?
        .filter(after(backend, seen));
    Ok(in_reading_order(backend, select, false)
        .limit(BATCH)
        .all(&deps.db)
        .await?)
}

/// Brings a joining subscriber's client up to date, as `changes` would, sending what
/// differs.
async fn catch_up(deps: &Deps, s: &mut Subscriber) -> ApiResult<()> {
    let latest = sync::latest_event(&deps.db).await?;
    loop {
        let (changes, more) = sync::answer(
            deps,
            &s.viewer,
            &mut s.opened,
            &s.kinds,
            sync::MAX_FIRST,
            latest,
        )
        .await?;
        for c in changes {
            if s.tx.try_send((c, s.viewer.clone())).is_err() {
                return Ok(()); // gone or too slow: dropped at the next round
            }
        }
        if !more {
            return Ok(());
        }
    }
}

/// Delivers one batch of events to every subscriber.
async fn deliver(
    deps: &Deps,
    subscribers: &mut [Subscriber],
    events: &[event::Model],
) -> ApiResult<()> {
    notify(deps, events).await?;
    if subscribers.is_empty() {
        return Ok(());
    }
    let permissions = events
        .iter()
        .any(|e| matches!(e.kind, Some(RecordKind::User | RecordKind::Team)));
    if permissions {
        refresh_notes(deps).await?;
        // Anyone's reach may have changed: refresh each viewer and compare everything.
        for s in subscribers.iter_mut() {
            match reload(deps, &s.viewer).await? {
                Some(viewer) => {
                    sync::viewer_changed(deps, &s.opened, &viewer).await?;
                    s.viewer = viewer;
                    catch_up(deps, s).await?;
                }
                // Deactivated or deleted: the subscription ends.
                None => s.tx = mpsc::channel(1).0,
            }
        }
        return Ok(());
    }
    let t0 = std::time::Instant::now();
    let world = World::load(deps, events).await?;
    let t1 = t0.elapsed();
    if world.touched.is_empty() {
        return Ok(());
    }
    let held = holdings(deps, subscribers, &world).await?;
    let t2 = t0.elapsed();
    let now = Utc::now();
    // What each user may read of the touched records, decided once per user (a user's
    // subscriptions — tabs, devices — share it).
    let mut decided: HashMap<Uuid, Vec<Option<SyncedRow>>> = HashMap::new();
    // (subscriber, change, whether the copy's membership changes: recorded as pending).
    let mut sent: Vec<(usize, SyncChange, bool)> = Vec::new();
    for (i, s) in subscribers.iter_mut().enumerate() {
        let rows = decided.entry(s.viewer.user_id).or_insert_with(|| {
            let mut eval = Eval::new(deps, &world, &s.viewer);
            world
                .touched
                .iter()
                .map(|&(kind, id)| eval.row(kind, id))
                .collect()
        });
        for (&(kind, id), row) in world.touched.iter().zip(rows.iter()) {
            if !s.kinds.contains(&kind) {
                continue;
            }
            let holding = held
                .get(&(s.opened.client, kind, id))
                .copied()
                .unwrap_or((None, None));
            match row {
                Some(row) => {
                    let (version, facts, _) = sync::stamp(row);
                    if holding == (Some(version), Some(facts)) {
                        continue;
                    }
                    let row = Some(row.clone());
                    let change = sync::stamped(&mut s.opened, kind, id, row, now);
                    sent.push((i, change, holding.0.is_none()));
                }
                None if holding.0.is_some() => {
                    sent.push((i, sync::stamped(&mut s.opened, kind, id, None, now), true));
                }
                None => {}
            }
        }
    }
    if sent.is_empty() {
        return Ok(());
    }
    // Only what changes a copy's membership is recorded (a record it now holds, or a
    // tombstone): a newer version of a record it already holds is not, so a copy resumed
    // later gets such records again (its stored versions are older) — never fewer.
    let t3 = t0.elapsed();
    sync::write_pending(&deps.db, sent.iter().filter(|c| c.2).map(|(_, c, _)| c)).await?;
    let t4 = t0.elapsed();
    tracing::debug!(
        loaded = ?t1,
        held = ?t2,
        decided = ?t3,
        recorded = ?t4,
        touched = world.touched.len(),
        sent = sent.len(),
        "live: batch phases (time since the batch began)"
    );
    for (i, c, _) in sent {
        let s = &mut subscribers[i];
        if s.tx.try_send((c, s.viewer.clone())).is_err() {
            // Too slow or gone: disconnect; it resumes from its last cursor.
            s.tx = mpsc::channel(1).0;
        }
    }
    Ok(())
}

/// Sends the notifications caused by `events` to their users' subscribers (one statement).
async fn notify(deps: &Deps, events: &[event::Model]) -> ApiResult<()> {
    let users: HashSet<Uuid> = deps
        .live
        .inner
        .notes
        .lock()
        .expect("live")
        .iter()
        .map(|s| s.viewer.user_id)
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    let positions: Vec<i64> = events.iter().map(|e| e.position).collect();
    let found = notification::Entity::find()
        .filter(notification::Column::EventPosition.is_in(positions))
        .filter(notification::Column::UserId.is_in(users))
        .order_by_asc(notification::Column::EventPosition)
        .all(&deps.db)
        .await?;
    let mut notes = deps.live.inner.notes.lock().expect("live");
    for n in found {
        for s in notes.iter_mut().filter(|s| s.viewer.user_id == n.user_id) {
            if s.tx.try_send((n.clone(), s.viewer.clone())).is_err() {
                s.tx = mpsc::channel(1).0;
            }
        }
    }
    Ok(())
}

/// Refreshes the notification subscribers' viewers; a deactivated user's end.
async fn refresh_notes(deps: &Deps) -> ApiResult<()> {
    let viewers: Vec<Viewer> = deps
        .live
        .inner
        .notes
        .lock()
        .expect("live")
        .iter()
        .map(|s| s.viewer.clone())
        .collect();
    let mut fresh = Vec::with_capacity(viewers.len());
    for v in &viewers {
        fresh.push(reload(deps, v).await?);
    }
    let mut notes = deps.live.inner.notes.lock().expect("live");
    // Subscribers added meanwhile are at the end, already fresh.
    for (s, f) in notes.iter_mut().zip(fresh) {
        match f {
            Some(v) => s.viewer = v,
            None => s.tx = mpsc::channel(1).0,
        }
    }
    Ok(())
}

/// The viewer of `viewer`'s user as they are now (`None`: deactivated or gone).
async fn reload(deps: &Deps, viewer: &Viewer) -> ApiResult<Option<Viewer>> {
    let Some(u) = user::Entity::find_by_id(viewer.user_id)
        .one(&deps.db)
        .await?
    else {
        return Ok(None);
    };
    if !u.active {
        return Ok(None);
    }
    let mut fresh = Viewer::load(&deps.db, u.id, u.role, u.team_id).await?;
    fresh.origin = viewer.origin.clone();
    Ok(Some(fresh))
}

/// What each subscriber's client holds of the touched records (one statement per 500
/// subscribers).
async fn holdings(
    deps: &Deps,
    subscribers: &[Subscriber],
    world: &World,
) -> ApiResult<HashMap<(Uuid, RecordKind, Uuid), (Option<i32>, Option<i32>)>> {
    let ids: Vec<Uuid> = world.touched.iter().map(|(_, id)| *id).collect();
    let mut kinds: Vec<RecordKind> = world.touched.iter().map(|(k, _)| *k).collect();
    kinds.sort_by_key(|k| *k as u8);
    kinds.dedup();
    let mut out = HashMap::new();
    for chunk in subscribers.chunks(500) {
        let clients: Vec<Uuid> = chunk.iter().map(|s| s.opened.client).collect();
        // Every column of the key is constrained, so each (client, kind, record) is one
        // probe of the primary key instead of a walk over all the client holds.
        let rows = sync_known::Entity::find()
            .filter(sync_known::Column::ClientId.is_in(clients))
            .filter(sync_known::Column::Kind.is_in(kinds.iter().copied()))
            .filter(sync_known::Column::RecordId.is_in(ids.iter().copied()))
            .all(&deps.db)
            .await?;
        out.extend(
            rows.into_iter()
                .map(|k| ((k.client_id, k.kind, k.record_id), sync::holding(&k))),
        );
    }
    Ok(out)
}

/// The records a batch touched, with everything their facts read.
#[derive(Default)]
struct World {
    /// The records to decide, in event order, each once.
    touched: Vec<(RecordKind, Uuid)>,
    deals: HashMap<Uuid, deal::Model>,
    companies: HashMap<Uuid, company::Model>,
    contacts: HashMap<Uuid, contact::Model>,
    activities: HashMap<Uuid, activity::Model>,
    /// Each user's own team.
    teams: HashMap<Uuid, Option<Uuid>>,
    /// (deal, user) → the share.
    shares: HashMap<(Uuid, Uuid), SharePermission>,
    /// Company → its deals; contact → its deals.
    company_deals: HashMap<Uuid, Vec<Uuid>>,
    contact_deals: HashMap<Uuid, Vec<Uuid>>,
}

/// Whether event `e` (on a record of `kind`) can change who may read *other* records: by
/// the facts of `authz/facts.rs`, a company's or contact's readability follows its deals'
/// (`linked_to_readable_deal`), an activity's its deal's, company's and contact's
/// (`on_readable_record`). So: creating or deleting a record, and changing a deal's owner,
/// company, contact or shares, or a company's or contact's owner. Other changes (a title,
/// a stage) change only the record itself. A new fact that reads another record must be
/// added here.
fn reaches(e: &event::Model, kind: RecordKind, changes: &[crate::service::events::Change]) -> bool {
    use crate::service::events::AuditAction;
    if matches!(
        e.action,
        AuditAction::RecordCreated | AuditAction::RecordDeleted
    ) {
        return true;
    }
    changes.iter().any(|c| {
        matches!(
            (kind, c.field.as_str()),
            (
                RecordKind::Deal,
                "ownerId" | "companyId" | "contactId" | "share"
            ) | (RecordKind::Company | RecordKind::Contact, "ownerId")
        )
    })
}

/// An id in an event's change value (`companyId` from/to).
fn id_of(value: &serde_json::Value) -> Option<Uuid> {
    value.as_str().and_then(|s| Uuid::parse_str(s).ok())
}

impl World {
    async fn load(deps: &Deps, events: &[event::Model]) -> ApiResult<Self> {
        let db = &deps.db;
        let mut touched: Vec<(RecordKind, Uuid)> = Vec::new();
        let mut seen: HashSet<(RecordKind, Uuid)> = HashSet::new();
        let mut touch = |kind: RecordKind, id: Uuid, touched: &mut Vec<_>| {
            if seen.insert((kind, id)) {
                touched.push((kind, id));
            }
        };
        // The events' own records; for events that can change who may read other records
        // (see `reaches`), the companies and contacts a deal left.
        let mut reach: HashSet<(RecordKind, Uuid)> = HashSet::new();
        for e in events {
            let (Some(kind), Some(id)) = (e.kind, e.record_id) else {
                continue;
            };
            if !sync::KINDS.contains(&kind) {
                continue;
            }
            touch(kind, id, &mut touched);
            let changes = crate::service::audit::changes_of(e);
            if !reaches(e, kind, &changes) {
                continue;
            }
            reach.insert((kind, id));
            for c in changes {
                let linked = match (kind, c.field.as_str()) {
                    (RecordKind::Deal, "companyId") => RecordKind::Company,
                    (RecordKind::Deal, "contactId") => RecordKind::Contact,
                    _ => continue,
                };
                for v in [&c.from, &c.to] {
                    if let Some(id) = id_of(v) {
                        touch(linked, id, &mut touched);
                        reach.insert((linked, id));
                    }
                }
            }
        }
        let reached = |reach: &HashSet<(RecordKind, Uuid)>, kind: RecordKind| -> Vec<Uuid> {
            reach
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| *id)
                .collect()
        };
        // The touched deals; a reaching deal's company and contact.
        let deals0: Vec<Uuid> = touched
            .iter()
            .filter(|(k, _)| *k == RecordKind::Deal)
            .map(|(_, id)| *id)
            .collect();
        let mut world = World::default();
        if !deals0.is_empty() {
            for d in deal::Entity::find()
                .filter(deal::Column::Id.is_in(deals0.clone()))
                .all(db)
                .await?
            {
                if reach.contains(&(RecordKind::Deal, d.id)) {
                    touch(RecordKind::Company, d.company_id, &mut touched);
                    reach.insert((RecordKind::Company, d.company_id));
                    if let Some(c) = d.contact_id {
                        touch(RecordKind::Contact, c, &mut touched);
                        reach.insert((RecordKind::Contact, c));
                    }
                }
                world.deals.insert(d.id, d);
            }
        }
        // The touched activities, and the activities on what reaching events touched.
        let activities0: Vec<Uuid> = touched
            .iter()
            .filter(|(k, _)| *k == RecordKind::Activity)
            .map(|(_, id)| *id)
            .collect();
        let on = Condition::any()
            .add(activity::Column::Id.is_in(activities0))
            .add(activity::Column::DealId.is_in(reached(&reach, RecordKind::Deal)))
            .add(activity::Column::CompanyId.is_in(reached(&reach, RecordKind::Company)))
            .add(activity::Column::ContactId.is_in(reached(&reach, RecordKind::Contact)));
        let companies0: Vec<Uuid> = touched
            .iter()
            .filter(|(k, _)| *k == RecordKind::Company)
            .map(|(_, id)| *id)
            .collect();
        let contacts0: Vec<Uuid> = touched
            .iter()
            .filter(|(k, _)| *k == RecordKind::Contact)
            .map(|(_, id)| *id)
            .collect();
        let mut deals_needed: HashSet<Uuid> = deals0.into_iter().collect();
        let mut companies_needed: HashSet<Uuid> = companies0.into_iter().collect();
        let mut contacts_needed: HashSet<Uuid> = contacts0.into_iter().collect();
        for a in activity::Entity::find().filter(on).all(db).await? {
            touch(RecordKind::Activity, a.id, &mut touched);
            deals_needed.extend(a.deal_id);
            companies_needed.extend(a.company_id);
            contacts_needed.extend(a.contact_id);
            world.activities.insert(a.id, a);
        }
        // Companies and contacts, and every deal their facts (and the activities') read.
        if !companies_needed.is_empty() {
            for c in company::Entity::find()
                .filter(company::Column::Id.is_in(companies_needed.iter().copied()))
                .all(db)
                .await?
            {
                world.companies.insert(c.id, c);
            }
        }
        if !contacts_needed.is_empty() {
            for c in contact::Entity::find()
                .filter(contact::Column::Id.is_in(contacts_needed.iter().copied()))
                .all(db)
                .await?
            {
                world.contacts.insert(c.id, c);
            }
        }
        let linked = Condition::any()
            .add(deal::Column::Id.is_in(deals_needed.iter().copied()))
            .add(deal::Column::CompanyId.is_in(companies_needed.iter().copied()))
            .add(deal::Column::ContactId.is_in(contacts_needed.iter().copied()));
        for d in deal::Entity::find().filter(linked).all(db).await? {
            world
                .company_deals
                .entry(d.company_id)
                .or_default()
                .push(d.id);
            if let Some(c) = d.contact_id {
                world.contact_deals.entry(c).or_default().push(d.id);
            }
            world.deals.insert(d.id, d);
        }
        if !world.deals.is_empty() {
            for s in deal_share::Entity::find()
                .filter(deal_share::Column::DealId.is_in(world.deals.keys().copied()))
                .all(db)
                .await?
            {
                world.shares.insert((s.deal_id, s.user_id), s.permission);
            }
        }
        let mut people: HashSet<Uuid> = HashSet::new();
        people.extend(world.deals.values().map(|d| d.owner_id));
        people.extend(world.companies.values().map(|c| c.owner_id));
        people.extend(world.contacts.values().map(|c| c.owner_id));
        for a in world.activities.values() {
            people.insert(a.created_by);
            people.extend(a.assigned_to);
        }
        if !people.is_empty() {
            let teams: Vec<(Uuid, Option<Uuid>)> = user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .column(user::Column::TeamId)
                .filter(user::Column::Id.is_in(people))
                .into_tuple()
                .all(db)
                .await?;
            world.teams = teams.into_iter().collect();
        }
        world.touched = touched;
        Ok(world)
    }

    fn team(&self, user: Uuid) -> Option<Uuid> {
        self.teams.get(&user).copied().flatten()
    }
}

/// Decisions for one viewer over a world, each record's readability decided once.
struct Eval<'a> {
    deps: &'a Deps,
    world: &'a World,
    viewer: &'a Viewer,
    read: HashMap<(Kind, Uuid), bool>,
}

impl<'a> Eval<'a> {
    fn new(deps: &'a Deps, world: &'a World, viewer: &'a Viewer) -> Self {
        Self {
            deps,
            world,
            viewer,
            read: HashMap::new(),
        }
    }

    /// The facts of record `id` of `kind` for the viewer (`None`: not in the world).
    fn mask(&mut self, kind: Kind, id: Uuid) -> Option<FactMask> {
        let world = self.world;
        let v = self.viewer;
        Some(match kind {
            Kind::Deal => {
                let d = world.deals.get(&id)?;
                v.facts(&DealFacts {
                    owner_id: d.owner_id,
                    owner_team_id: world.team(d.owner_id),
                    share: world.shares.get(&(d.id, v.user_id)).copied(),
                })
            }
            Kind::Company => {
                let c = world.companies.get(&id)?;
                v.facts(&CompanyFacts {
                    owner_id: c.owner_id,
                    owner_team_id: world.team(c.owner_id),
                    linked_to_readable_deal: self.linked(world.company_deals.get(&id)),
                })
            }
            Kind::Contact => {
                let c = world.contacts.get(&id)?;
                v.facts(&ContactFacts {
                    owner_id: c.owner_id,
                    owner_team_id: world.team(c.owner_id),
                    linked_to_readable_deal: self.linked(world.contact_deals.get(&id)),
                })
            }
            Kind::Activity => {
                let a = world.activities.get(&id)?;
                let on_readable_record = a.deal_id.is_some_and(|d| self.readable(Kind::Deal, d))
                    || a.company_id
                        .is_some_and(|c| self.readable(Kind::Company, c))
                    || a.contact_id
                        .is_some_and(|c| self.readable(Kind::Contact, c));
                v.facts(&ActivityFacts {
                    created_by: a.created_by,
                    creator_team_id: world.team(a.created_by),
                    assigned_to: a.assigned_to,
                    assignee_team_id: a.assigned_to.and_then(|u| world.team(u)),
                    on_readable_record,
                })
            }
            _ => return None,
        })
    }

    /// Whether the viewer may read record `id` of `kind` (by the policy's `read` rule).
    fn readable(&mut self, kind: Kind, id: Uuid) -> bool {
        if let Some(&r) = self.read.get(&(kind, id)) {
            return r;
        }
        let read: crate::authz::Action = match kind {
            Kind::Deal => DealAction::Read.into(),
            Kind::Company => CompanyAction::Read.into(),
            Kind::Contact => ContactAction::Read.into(),
            _ => ActivityAction::Read.into(),
        };
        let r = self
            .mask(kind, id)
            .is_some_and(|m| self.deps.authz.decide(self.viewer.role, read, m));
        self.read.insert((kind, id), r);
        r
    }

    fn linked(&mut self, deals: Option<&Vec<Uuid>>) -> bool {
        deals.is_some_and(|ds| ds.iter().any(|&d| self.readable(Kind::Deal, d)))
    }

    /// The record as the viewer may read it now, with its facts as the SQL facts column
    /// gives them (only the facts some decision of the role reads); `None` when it is gone
    /// or unreadable.
    fn row(&mut self, kind: RecordKind, id: Uuid) -> Option<SyncedRow> {
        let policy_kind = match kind {
            RecordKind::Deal => Kind::Deal,
            RecordKind::Company => Kind::Company,
            RecordKind::Contact => Kind::Contact,
            RecordKind::Activity => Kind::Activity,
            RecordKind::User | RecordKind::Team => return None,
        };
        if !self.readable(policy_kind, id) {
            return None;
        }
        let mask = self.mask(policy_kind, id)?;
        let relevant = self
            .deps
            .authz
            .relevant_facts(self.viewer.role, policy_kind);
        let facts = FactMask::from_bits(mask.bits() & relevant.bits());
        let w = self.world;
        Some(match kind {
            RecordKind::Deal => SyncedRow::Deal(WithFacts {
                model: w.deals.get(&id)?.clone(),
                facts,
            }),
            RecordKind::Company => SyncedRow::Company(WithFacts {
                model: w.companies.get(&id)?.clone(),
                facts,
            }),
            RecordKind::Contact => SyncedRow::Contact(WithFacts {
                model: w.contacts.get(&id)?.clone(),
                facts,
            }),
            _ => SyncedRow::Activity(WithFacts {
                model: w.activities.get(&id)?.clone(),
                facts,
            }),
        })
    }
}

//! What each tool does, as calls to the same services the GraphQL resolvers call: lists
//! through `service::record::list` (the policy's read scope in SQL, hidden amounts compared
//! as empty), reports through `service::report`, writes through the create services (their
//! validation, their policy decision, their audit event in the same transaction).

use entity::enums::DealStage;
use entity::{activity, company, contact, deal, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::authz::{DealAction, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::mcp::args::{self, DealOrder, Owner};
use crate::mcp::view::{self, Listing, Names};
use crate::service::activity::{ActivitySort, NewActivity};
use crate::service::contact::NewContact;
use crate::service::deal::{DealSort, NewDeal};
use crate::service::filter::{Field, Filter, Op, Scalar};
use crate::service::list::PageArgs;
use crate::service::record::{self, ListQuery, Record};
use crate::service::report::{self, DealSet, OPEN_STAGES, Owners};
use crate::service::{At, Deps, money};

/// Recent activities `get_deal` includes by default.
const DEFAULT_ACTIVITIES: i64 = 5;
/// The most recent activities `get_deal` includes.
const MAX_ACTIVITIES: i64 = 20;

/// What a result row names besides itself: a user (its owner) and a company.
type Mentions = (Option<Uuid>, Option<Uuid>);

/// One page of `query` for the viewer (at most `limit` rows after `cursor`) as a listing
/// with the number of rows matching it: each row shown by `show`, with the names of the
/// users and companies `mentions` gives, looked up once for the page. Errors name the
/// tool's arguments (`query`, `cursor`), not the GraphQL ones.
async fn search<R, T>(
    deps: &Deps,
    viewer: &Viewer,
    query: ListQuery<R>,
    (limit, cursor): (Option<i64>, Option<String>),
    mentions: impl Fn(&R::Row) -> Mentions,
    show: impl Fn(&R::Row, &Names) -> T,
) -> ApiResult<Listing<T>>
where
    R: Record,
    R::Column: Field,
    R::Model: Sync,
{
    let max = deps.config.limits.max_search_length;
    if query
        .search
        .as_ref()
        .is_some_and(|s| s.chars().count() > max)
    {
        return Err(ApiError::bad_input(
            "query",
            format!("must be at most {max} characters"),
        ));
    }
    let page = PageArgs {
        first: Some(args::limit(limit)?),
        after: cursor,
        ..Default::default()
    };
    let page = record::list(deps, viewer, &query, &page)
        .await
        .map_err(|e| renamed(e, "after", "cursor"))?;
    let total = record::count(deps, viewer, &query).await?;
    let named: Vec<Mentions> = page.rows.iter().map(|(_, r)| mentions(r)).collect();
    let names = Names::load(
        deps,
        viewer,
        named.iter().filter_map(|m| m.0),
        named.iter().filter_map(|m| m.1),
    )
    .await?;
    let rows = page
        .rows
        .iter()
        .map(|(c, r)| (c.clone(), show(r, &names)))
        .collect();
    Ok(Listing::new(rows, total, page.has_next_page))
}

/// `err` with the input field `from` called `to`.
fn renamed(err: ApiError, from: &str, to: &str) -> ApiError {
    match err {
        ApiError::BadUserInput(mut fields) => {
            for f in &mut fields {
                if f.field == from {
                    f.field = to.to_owned();
                }
            }
            ApiError::BadUserInput(fields)
        }
        other => other,
    }
}

/// `search_companies`.
pub async fn search_companies(
    deps: Deps,
    viewer: Viewer,
    a: args::SearchCompanies,
) -> ApiResult<impl Serialize> {
    let industry = a.industry.map(|i| {
        let stored = entity::enums::Industry::from(i);
        Filter::Is(company::Column::Industry, Op::Eq(Scalar::of_enum(stored)))
    });
    let query = ListQuery::<company::Entity> {
        filter: Filter::All(industry.into_iter().collect()),
        search: a.query,
        order: Vec::new(),
    };
    search(
        &deps,
        &viewer,
        query,
        (a.limit, a.cursor),
        |r| (Some(r.model.owner_id), None),
        view::Company::new,
    )
    .await
}

/// `search_contacts`.
pub async fn search_contacts(
    deps: Deps,
    viewer: Viewer,
    a: args::SearchContacts,
) -> ApiResult<impl Serialize> {
    let company = a
        .company_id
        .map(|id| Filter::Is(contact::Column::CompanyId, Op::Eq(Scalar::Uuid(id.0))));
    let query = ListQuery::<contact::Entity> {
        filter: Filter::All(company.into_iter().collect()),
        search: a.query,
        order: Vec::new(),
    };
    search(
        &deps,
        &viewer,
        query,
        (a.limit, a.cursor),
        |r| (None, r.model.company_id),
        view::Contact::new,
    )
    .await
}

/// The owners `owner` narrows deals to (`None`: no narrowing): the viewer, or the viewer
/// and every member of their teams — the same deals as the reports' `MY_TEAMS`.
async fn owners(deps: &Deps, viewer: &Viewer, owner: Owner) -> ApiResult<Option<Vec<Uuid>>> {
    match owner {
        Owner::All => Ok(None),
        Owner::Me => Ok(Some(vec![viewer.user_id])),
        Owner::Team => {
            let mut ids = vec![viewer.user_id];
            if !viewer.team_ids.is_empty() {
                let members: Vec<Uuid> = user::Entity::find()
                    .select_only()
                    .column(user::Column::Id)
                    .filter(user::Column::TeamId.is_in(viewer.team_ids.iter().copied()))
                    .into_tuple()
                    .all(&deps.db)
                    .await?;
                ids.extend(members);
                // The user is usually a member of their own team too.
                ids.sort_unstable();
                ids.dedup();
            }
            Ok(Some(ids))
        }
    }
}

/// The conditions on expected close dates, as `deals(filter: {expectedCloseDate: …})`.
fn close_dates(from: Option<args::Day>, to: Option<args::Day>) -> Vec<Filter<deal::Column>> {
    let mut all = Vec::new();
    if let Some(d) = from {
        all.push(Filter::Is(
            deal::Column::ExpectedCloseDate,
            Op::Gte(Scalar::Date(d.0)),
        ));
    }
    if let Some(d) = to {
        all.push(Filter::Is(
            deal::Column::ExpectedCloseDate,
            Op::Lte(Scalar::Date(d.0)),
        ));
    }
    all
}

/// A stage set as a condition on the stored stage. Each stage is bound once however often
/// the call names it: a list of thousands of repeats is still one short `IN`, not more
/// parameters than the database takes in one statement.
fn stages_in(stages: impl IntoIterator<Item = DealStage>) -> Filter<deal::Column> {
    let mut distinct: Vec<DealStage> = Vec::new();
    for stage in stages {
        if !distinct.contains(&stage) {
            distinct.push(stage);
        }
    }
    Filter::Is(
        deal::Column::Stage,
        Op::In(distinct.into_iter().map(Scalar::of_enum).collect()),
    )
}

/// `search_deals`: the `deals` list with the filter these arguments describe (the amount
/// conditions see only the amounts the user may see, as `deals(filter: {amount: …})` does).
pub async fn search_deals(
    deps: Deps,
    viewer: Viewer,
    a: args::SearchDeals,
) -> ApiResult<impl Serialize> {
    let mut all = Vec::new();
    if let Some(stages) = a.stage {
        all.push(stages_in(stages.0.into_iter().map(Into::into)));
    }
    if a.open_only == Some(true) {
        all.push(stages_in(OPEN_STAGES));
    }
    if let Some(ids) = owners(&deps, &viewer, a.owner.unwrap_or_default()).await? {
        let ids = ids.into_iter().map(Scalar::Uuid).collect();
        all.push(Filter::Is(deal::Column::OwnerId, Op::In(ids)));
    }
    if let Some(id) = a.company_id {
        all.push(Filter::Is(
            deal::Column::CompanyId,
            Op::Eq(Scalar::Uuid(id.0)),
        ));
    }
    all.extend(close_dates(a.close_from, a.close_to));
    for (bound, field, op) in [
        (a.min_amount, "minAmount", Op::Gte as fn(Scalar) -> Op),
        (a.max_amount, "maxAmount", Op::Lte),
    ] {
        if let Some(m) = bound {
            let cents = money::to_cents(&m.0, field)?;
            all.push(Filter::Is(
                deal::Column::AmountCents,
                op(Scalar::Int(cents)),
            ));
        }
    }
    let order = match a.sort.unwrap_or_default() {
        DealOrder::Newest => Vec::new(),
        DealOrder::CloseDate => vec![(DealSort::ExpectedCloseDate, false)],
        DealOrder::Amount => {
            // A hidden amount cannot be ranked (descending, it would sort first, as empty).
            all.push(Filter::Is(deal::Column::AmountCents, Op::IsNull(false)));
            vec![(DealSort::Amount, true)]
        }
        DealOrder::Updated => vec![(DealSort::UpdatedAt, true)],
    };
    let query = ListQuery::<deal::Entity> {
        filter: Filter::All(all),
        search: a.query,
        order,
    };
    let mut listing = search(
        &deps,
        &viewer,
        query,
        (a.limit, a.cursor),
        |r| (Some(r.model.owner_id), Some(r.model.company_id)),
        |r, names| view::Deal::new(&deps, &viewer, r, names),
    )
    .await?;
    listing.today = Some(chrono::Utc::now().date_naive());
    Ok(listing)
}

/// A readable record by id, `None` when it is missing or hidden.
async fn readable<R: Record>(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Option<R::Row>> {
    match record::find::<R>(deps, viewer, &deps.db, id).await {
        Ok(row) => Ok(Some(row)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `get_deal`: the deal (`NOT_FOUND` when missing or hidden), its company and contact when
/// readable, its most recent readable activities.
pub async fn get_deal(deps: Deps, viewer: Viewer, a: args::GetDeal) -> ApiResult<impl Serialize> {
    let recent = a.activities.unwrap_or(DEFAULT_ACTIVITIES);
    if !(0..=MAX_ACTIVITIES).contains(&recent) {
        return Err(ApiError::bad_input(
            "activities",
            format!("must be between 0 and {MAX_ACTIVITIES}"),
        ));
    }
    let row = record::find::<deal::Entity>(&deps, &viewer, &deps.db, a.deal_id.0).await?;
    let m = &row.model;
    let company = readable::<company::Entity>(&deps, &viewer, m.company_id).await?;
    let contact = match m.contact_id {
        Some(id) => readable::<contact::Entity>(&deps, &viewer, id).await?,
        None => None,
    };
    let activities = ListQuery::<activity::Entity> {
        filter: Filter::Is(activity::Column::DealId, Op::Eq(Scalar::Uuid(m.id))),
        search: None,
        order: vec![(ActivitySort::CreatedAt, true)],
    };
    let page = PageArgs {
        first: Some(recent as i32),
        ..Default::default()
    };
    let recent = record::list(&deps, &viewer, &activities, &page).await?;
    let activity_count = record::count(&deps, &viewer, &activities).await?;
    let names = Names::load(
        &deps,
        &viewer,
        company.iter().map(|c| c.model.owner_id).chain([m.owner_id]),
        [m.company_id],
    )
    .await?;
    let can = |action| deps.authz.decide(viewer.role, action, row.facts);
    Ok(view::DealDetail {
        deal: view::Deal::new(&deps, &viewer, &row, &names),
        actual_close_date: m.actual_close_date,
        source: m.source.map(Into::into),
        priority: m.priority.into(),
        notes: m.notes.clone(),
        company: company.as_ref().map(|c| view::Company::new(c, &names)),
        contact: contact.as_ref().map(|c| view::Contact::new(c, &names)),
        recent_activities: recent
            .rows
            .iter()
            .map(|(_, r)| view::Activity::new(r))
            .collect(),
        activity_count,
        you_can: view::DealPermissions {
            update: can(DealAction::Update),
            see_amount: can(DealAction::ReadAmount),
            change_amount: can(DealAction::UpdateAmount),
        },
        version: m.version,
        updated_at: m.updated_at,
    })
}

/// `pipeline_summary`: the `pipeline` report (per stage: readable deals, the amounts the
/// user may read, weighted by probability) and the open stages' totals.
pub async fn pipeline_summary(
    deps: Deps,
    viewer: Viewer,
    a: args::PipelineSummary,
) -> ApiResult<impl Serialize> {
    let owners = match a.owner.unwrap_or_default() {
        Owner::Me => Owners::Mine,
        Owner::Team => Owners::MyTeams,
        Owner::All => Owners::All,
    };
    let filter = Filter::All(close_dates(a.close_from, a.close_to));
    let set = DealSet::new(&deps, &viewer, owners, a.currency.as_deref(), &filter)?;
    let stages = report::pipeline(&deps, &viewer, &set).await?;
    let (mut open_deals, mut open_cents, mut open_weighted) = (0, 0, 0);
    let mut lines = Vec::with_capacity(stages.len());
    for t in stages {
        if OPEN_STAGES.contains(&t.stage) {
            open_deals += t.count;
            open_cents += t.amount_cents;
            open_weighted += t.weighted_cent_percent;
        }
        lines.push(view::StageLine {
            stage: t.stage.into(),
            count: t.count,
            total_amount: money::sum_from_cents(t.amount_cents)?.to_string(),
            weighted_amount: report::weighted_amount(t.weighted_cent_percent)?.to_string(),
        });
    }
    Ok(view::Pipeline {
        stages: lines,
        open_deals,
        open_amount: money::sum_from_cents(open_cents)?.to_string(),
        open_weighted_amount: report::weighted_amount(open_weighted)?.to_string(),
        currency: a.currency.map(|c| c.trim().to_uppercase()),
        note: "Counts cover every deal you may read; amounts you may not see count as zero. \
               Without a currency, amounts in different currencies are added as they are.",
    })
}

/// `create_contact`, through `service::contact::create`.
pub async fn create_contact(
    deps: Deps,
    viewer: Viewer,
    a: args::CreateContact,
) -> ApiResult<impl Serialize> {
    let input = NewContact {
        company_id: a.company_id.map(|i| i.0),
        first_name: a.first_name,
        last_name: a.last_name,
        email: a.email,
        phone: a.phone,
        mobile: a.mobile,
        title: a.title,
        department: a.department.map(Into::into),
        is_primary: a.is_primary.unwrap_or(false),
        linkedin_url: a.linkedin_url,
        notes: a.notes,
        id: None,
        owner_id: a.owner_id.map(|i| i.0),
    };
    let row = crate::service::contact::create(&deps, &viewer, At::Own, input).await?;
    let names = Names::load(&deps, &viewer, [], row.model.company_id).await?;
    Ok(view::Contact::new(&row, &names))
}

/// `create_deal`, through `service::deal::create`.
pub async fn create_deal(
    deps: Deps,
    viewer: Viewer,
    a: args::CreateDeal,
) -> ApiResult<impl Serialize> {
    let input = NewDeal {
        company_id: a.company_id.0,
        contact_id: a.contact_id.map(|i| i.0),
        title: a.title,
        amount: a.amount.map(|m| m.0),
        currency: a.currency,
        stage: a.stage.map(Into::into),
        expected_close_date: a.expected_close_date.map(|d| d.0),
        source: a.source.map(Into::into),
        priority: a.priority.map(Into::into),
        notes: a.notes,
        owner_id: a.owner_id.map(|i| i.0),
        id: None,
    };
    let row = crate::service::deal::create(&deps, &viewer, At::Own, input).await?;
    let names = Names::load(&deps, &viewer, [row.model.owner_id], [row.model.company_id]).await?;
    Ok(view::Deal::new(&deps, &viewer, &row, &names))
}

/// `log_activity`, through `service::activity::create`.
pub async fn log_activity(
    deps: Deps,
    viewer: Viewer,
    a: args::LogActivity,
) -> ApiResult<impl Serialize> {
    let input = NewActivity {
        kind: Some(a.kind.into()),
        subject: Some(a.subject),
        description: a.description,
        due_at: a.due_at.map(|t| t.0),
        completed: a.completed,
        priority: a.priority.map(Into::into),
        status: a.status.map(Into::into),
        company_id: a.company_id.map(|i| i.0),
        contact_id: a.contact_id.map(|i| i.0),
        deal_id: a.deal_id.map(|i| i.0),
        assigned_to: a.assigned_to_id.map(|i| i.0),
        id: None,
    };
    let row = crate::service::activity::create(&deps, &viewer, At::Own, input).await?;
    Ok(view::Activity::new(&row))
}

//! Every rule of the default policy (DESIGN.md, "Default policy"): an allow test and a deny
//! test, named after the rule, driven through the engine over real rows — the SQL scope
//! (`WHERE`) and the compiled decision on the SQL facts mask, which must agree — or, for a
//! record about to be created or reassigned, the facts computed in Rust.
//!
//! The world: teams East (manager Mia, reps Rae, Ray and the deactivated Ivy), West (manager
//! Walt, rep Wes) and North (rep Nora, also managed by Mia); admin Ada has no team.

use api::authz::{
    Action, ActivityAction, AuditLogAction, CompanyAction, CompanyFacts, ContactAction,
    ContactFacts, DealAction, DealFacts, ExportAction, Kind, TeamAction, UserAction, Viewer,
};
use crm_testkit::Org;
use entity::deal_share;
use entity::enums::{Role, SharePermission};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::authz_support::{DEFAULT, fast_path};
use crate::helpers::TestApp;

struct World {
    app: TestApp,
    org: Org,
    // Users
    ada: Uuid,
    mia: Uuid,
    walt: Uuid,
    rae: Uuid,
    ray: Uuid,
    wes: Uuid,
    nora: Uuid,
    ivy: Uuid,
    // Companies
    c_rae: Uuid,
    c_ray: Uuid,
    c_wes: Uuid,
    c_shared: Uuid,
    c_nora: Uuid,
    // Contacts
    k_rae: Uuid,
    k_ray: Uuid,
    k_wes: Uuid,
    k_shared: Uuid,
    // Deals
    d_rae: Uuid,
    d_ray: Uuid,
    d_wes: Uuid,
    d_view: Uuid,
    d_edit: Uuid,
    d_nora: Uuid,
    d_mia: Uuid,
    // Activities
    a_by_rae: Uuid,
    a_for_rae: Uuid,
    a_on_view: Uuid,
    a_wes: Uuid,
    a_ray: Uuid,
    a_nora: Uuid,
}

impl World {
    async fn new() -> World {
        let app = TestApp::new().await;
        let mut org = Org::new();
        let east = org.team().name("East").add().id;
        let west = org.team().name("West").add().id;
        let north = org.team().name("North").add().id;
        let ada = org.user().name("Ada").role(Role::Admin).add().id;
        let mia = org
            .user()
            .name("Mia")
            .role(Role::Manager)
            .team(east)
            .add()
            .id;
        let walt = org
            .user()
            .name("Walt")
            .role(Role::Manager)
            .team(west)
            .add()
            .id;
        let rae = org
            .user()
            .name("Rae")
            .role(Role::SalesRep)
            .team(east)
            .add()
            .id;
        let ray = org
            .user()
            .name("Ray")
            .role(Role::SalesRep)
            .team(east)
            .add()
            .id;
        let wes = org
            .user()
            .name("Wes")
            .role(Role::SalesRep)
            .team(west)
            .add()
            .id;
        let nora = org
            .user()
            .name("Nora")
            .role(Role::SalesRep)
            .team(north)
            .add()
            .id;
        let ivy = org
            .user()
            .name("Ivy")
            .role(Role::SalesRep)
            .team(east)
            .inactive()
            .add()
            .id;
        org.set_manager(east, mia);
        org.set_manager(north, mia);
        org.set_manager(west, walt);

        let c_rae = org.company().name("Rae Co").owner(rae).add().id;
        let c_ray = org.company().name("Ray Co").owner(ray).add().id;
        let c_wes = org.company().name("Wes Co").owner(wes).add().id;
        let c_shared = org.company().name("Shared Co").owner(wes).add().id;
        let c_nora = org.company().name("Nora Co").owner(nora).add().id;

        let k_rae = org
            .contact()
            .first("Rae Contact")
            .notes(format!("Notes about {}", "Rae Contact"))
            .owner(rae)
            .company(c_rae)
            .add()
            .id;
        let k_ray = org
            .contact()
            .first("Ray Contact")
            .notes(format!("Notes about {}", "Ray Contact"))
            .owner(ray)
            .company(c_ray)
            .add()
            .id;
        let k_wes = org
            .contact()
            .first("Wes Contact")
            .notes(format!("Notes about {}", "Wes Contact"))
            .owner(wes)
            .company(c_wes)
            .add()
            .id;
        let k_shared = org
            .contact()
            .first("Shared Contact")
            .notes(format!("Notes about {}", "Shared Contact"))
            .owner(wes)
            .company(c_shared)
            .add()
            .id;

        let d_rae = org
            .deal()
            .title("Rae deal")
            .owner(rae)
            .company(c_rae)
            .contact(k_rae)
            .amount_cents(100)
            .add()
            .id;
        let d_ray = org
            .deal()
            .title("Ray deal")
            .owner(ray)
            .company(c_ray)
            .contact(k_ray)
            .amount_cents(200)
            .add()
            .id;
        let d_wes = org
            .deal()
            .title("Wes deal")
            .owner(wes)
            .company(c_wes)
            .contact(k_wes)
            .amount_cents(400)
            .add()
            .id;
        let d_view = org
            .deal()
            .title("Wes deal shared to view")
            .owner(wes)
            .company(c_shared)
            .contact(k_shared)
            .amount_cents(800)
            .add()
            .id;
        let d_edit = org
            .deal()
            .title("Wes deal shared to edit")
            .owner(wes)
            .company(c_shared)
            .amount_cents(1600)
            .add()
            .id;
        let d_nora = org
            .deal()
            .title("Nora deal")
            .owner(nora)
            .company(c_nora)
            .amount_cents(3200)
            .add()
            .id;
        let d_mia = org
            .deal()
            .title("Mia deal")
            .owner(mia)
            .company(c_ray)
            .amount_cents(6400)
            .add()
            .id;
        org.share(d_view, rae)
            .permission(SharePermission::View)
            .add();
        org.share(d_edit, rae)
            .permission(SharePermission::Edit)
            .add();

        let a_by_rae = org
            .activity()
            .subject("Rae's task")
            .created_by(rae)
            .unassigned()
            .add()
            .id;
        let a_for_rae = org
            .activity()
            .subject("For Rae")
            .created_by(wes)
            .assigned_to(rae)
            .add()
            .id;
        let a_on_view = org
            .activity()
            .subject("On shared deal")
            .created_by(wes)
            .unassigned()
            .deal(d_view)
            .add()
            .id;
        let a_wes = org
            .activity()
            .subject("Wes's call")
            .created_by(wes)
            .unassigned()
            .deal(d_wes)
            .company(c_wes)
            .add()
            .id;
        let a_ray = org
            .activity()
            .subject("Ray's task")
            .created_by(ray)
            .unassigned()
            .add()
            .id;
        let a_nora = org
            .activity()
            .subject("Nora's task")
            .created_by(nora)
            .assigned_to(nora)
            .add()
            .id;

        org.insert(&app.db).await.expect("insert the world");
        World {
            app,
            org,
            ada,
            mia,
            walt,
            rae,
            ray,
            wes,
            nora,
            ivy,
            c_rae,
            c_ray,
            c_wes,
            c_shared,
            c_nora,
            k_rae,
            k_ray,
            k_wes,
            k_shared,
            d_rae,
            d_ray,
            d_wes,
            d_view,
            d_edit,
            d_nora,
            d_mia,
            a_by_rae,
            a_for_rae,
            a_on_view,
            a_wes,
            a_ray,
            a_nora,
        }
    }

    /// The viewer as the server builds it: from the database.
    async fn viewer(&self, user: Uuid) -> Viewer {
        let u = self.org.find_user(user).expect("user");
        Viewer::load(&self.app.db, u.id, u.role, u.team_id)
            .await
            .expect("load viewer")
    }

    fn team_of(&self, user: Uuid) -> Option<Uuid> {
        self.org.team_of(user)
    }

    /// May `user` do `action` on an existing record? (SQL scope and mask, which must agree.)
    async fn can(&self, user: Uuid, action: impl Into<Action>, id: Uuid) -> bool {
        let viewer = self.viewer(user).await;
        fast_path(&self.app.db, &DEFAULT, &viewer, action, id).await
    }

    /// May `user` create a deal (or company, contact) owned by `owner`?
    async fn can_create(&self, user: Uuid, kind: Kind, owner: Uuid) -> bool {
        let viewer = self.viewer(user).await;
        let team = self.team_of(owner);
        let (create, facts): (Action, _) = match kind {
            Kind::Deal => (
                DealAction::Create.into(),
                viewer.facts(&DealFacts {
                    owner_id: owner,
                    owner_team_id: team,
                    share: None,
                }),
            ),
            Kind::Company => (
                CompanyAction::Create.into(),
                viewer.facts(&CompanyFacts {
                    owner_id: owner,
                    owner_team_id: team,
                    linked_to_readable_deal: false,
                }),
            ),
            Kind::Contact => (
                ContactAction::Create.into(),
                viewer.facts(&ContactFacts {
                    owner_id: owner,
                    owner_team_id: team,
                    linked_to_readable_deal: false,
                }),
            ),
            _ => panic!("not an owned kind"),
        };
        DEFAULT.decide(viewer.role, create, facts)
    }

    /// May `user` give `deal` to `new_owner`? Asked about the deal as it is and as it would be.
    async fn can_reassign(&self, user: Uuid, deal: Uuid, new_owner: Uuid) -> bool {
        let viewer = self.viewer(user).await;
        let share = deal_share::Entity::find()
            .filter(deal_share::Column::DealId.eq(deal))
            .filter(deal_share::Column::UserId.eq(user))
            .one(&self.app.db)
            .await
            .expect("share")
            .map(|s| s.permission);
        let after = viewer.facts(&DealFacts {
            owner_id: new_owner,
            owner_team_id: self.team_of(new_owner),
            share,
        });
        self.can(user, DealAction::Reassign, deal).await
            && DEFAULT.decide(viewer.role, DealAction::Reassign, after)
    }

    /// A role-only decision (Team, AuditLog, Export, creating users).
    fn role_may(&self, user: Uuid, action: impl Into<Action>) -> bool {
        let role = self.org.find_user(user).expect("user").role;
        DEFAULT.allowed_without_facts(role, action)
    }
}

// ---------------------------------------------------------------------------------------
// Deals: read

#[tokio::test]
async fn rep_reads_own_deal() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::Read, w.d_rae).await);
}

#[tokio::test]
async fn rep_cannot_read_other_teams_deal() {
    let w = World::new().await;
    assert!(!w.can(w.rae, DealAction::Read, w.d_wes).await);
    assert!(!w.can(w.rae, DealAction::Read, w.d_nora).await);
}

#[tokio::test]
async fn rep_reads_teammates_deal() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::Read, w.d_ray).await);
    assert!(w.can(w.rae, DealAction::Read, w.d_mia).await);
}

#[tokio::test]
async fn rep_reads_deal_shared_with_them() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::Read, w.d_view).await);
    assert!(w.can(w.rae, DealAction::Read, w.d_edit).await);
}

#[tokio::test]
async fn rep_cannot_read_deal_shared_with_someone_else() {
    let w = World::new().await;
    assert!(!w.can(w.ray, DealAction::Read, w.d_view).await);
}

#[tokio::test]
async fn manager_reads_deals_of_all_their_teams_and_own() {
    let w = World::new().await;
    for deal in [w.d_rae, w.d_ray, w.d_nora, w.d_mia] {
        assert!(w.can(w.mia, DealAction::Read, deal).await);
    }
}

#[tokio::test]
async fn manager_cannot_read_other_teams_deal() {
    let w = World::new().await;
    assert!(!w.can(w.mia, DealAction::Read, w.d_wes).await);
    assert!(!w.can(w.walt, DealAction::Read, w.d_rae).await);
}

#[tokio::test]
async fn admin_reads_every_deal() {
    let w = World::new().await;
    for d in &w.org.deals {
        assert!(w.can(w.ada, DealAction::Read, d.id).await);
    }
}

#[tokio::test]
async fn rep_lists_exactly_the_deals_they_may_read() {
    let w = World::new().await;
    let viewer = w.viewer(w.rae).await;
    let listed =
        crate::authz_support::scoped_ids(&w.app.db, &DEFAULT, &viewer, DealAction::Read).await;
    let expected = [w.d_rae, w.d_ray, w.d_mia, w.d_view, w.d_edit]
        .into_iter()
        .collect();
    assert_eq!(listed, expected);
}

// ---------------------------------------------------------------------------------------
// Deals: create

#[tokio::test]
async fn rep_creates_deal_for_self() {
    let w = World::new().await;
    assert!(w.can_create(w.rae, Kind::Deal, w.rae).await);
}

#[tokio::test]
async fn rep_cannot_create_deal_for_teammate() {
    let w = World::new().await;
    assert!(!w.can_create(w.rae, Kind::Deal, w.ray).await);
}

#[tokio::test]
async fn manager_creates_deal_for_self_or_team_member() {
    let w = World::new().await;
    assert!(w.can_create(w.mia, Kind::Deal, w.mia).await);
    assert!(w.can_create(w.mia, Kind::Deal, w.ray).await);
    assert!(w.can_create(w.mia, Kind::Deal, w.nora).await);
}

#[tokio::test]
async fn manager_cannot_create_deal_for_other_team() {
    let w = World::new().await;
    assert!(!w.can_create(w.mia, Kind::Deal, w.wes).await);
}

#[tokio::test]
async fn admin_creates_deal_for_anyone() {
    let w = World::new().await;
    assert!(w.can_create(w.ada, Kind::Deal, w.wes).await);
}

// ---------------------------------------------------------------------------------------
// Deals: update

#[tokio::test]
async fn rep_updates_own_deal() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::Update, w.d_rae).await);
}

#[tokio::test]
async fn rep_cannot_update_teammates_deal() {
    let w = World::new().await;
    assert!(!w.can(w.rae, DealAction::Update, w.d_ray).await);
}

#[tokio::test]
async fn rep_updates_deal_shared_with_edit() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::Update, w.d_edit).await);
}

#[tokio::test]
async fn rep_cannot_update_deal_shared_with_view() {
    let w = World::new().await;
    assert!(!w.can(w.rae, DealAction::Update, w.d_view).await);
}

#[tokio::test]
async fn manager_updates_team_deal() {
    let w = World::new().await;
    assert!(w.can(w.mia, DealAction::Update, w.d_ray).await);
    assert!(w.can(w.mia, DealAction::Update, w.d_nora).await);
}

#[tokio::test]
async fn manager_cannot_update_other_teams_deal() {
    let w = World::new().await;
    assert!(!w.can(w.mia, DealAction::Update, w.d_wes).await);
}

#[tokio::test]
async fn admin_updates_any_deal() {
    let w = World::new().await;
    assert!(w.can(w.ada, DealAction::Update, w.d_wes).await);
}

// ---------------------------------------------------------------------------------------
// Deletes

#[tokio::test]
async fn rep_never_deletes() {
    let w = World::new().await;
    assert!(!w.can(w.rae, DealAction::Delete, w.d_rae).await);
    assert!(!w.can(w.rae, DealAction::Delete, w.d_edit).await);
    assert!(!w.can(w.rae, CompanyAction::Delete, w.c_rae).await);
    assert!(!w.can(w.rae, ContactAction::Delete, w.k_rae).await);
    assert!(!w.can(w.rae, ActivityAction::Delete, w.a_by_rae).await);
    assert!(!DEFAULT.allowed_for_some(Role::SalesRep, DealAction::Delete));
    assert!(!DEFAULT.allowed_for_some(Role::SalesRep, CompanyAction::Delete));
    assert!(!DEFAULT.allowed_for_some(Role::SalesRep, ContactAction::Delete));
    assert!(!DEFAULT.allowed_for_some(Role::SalesRep, ActivityAction::Delete));
}

#[tokio::test]
async fn manager_deletes_team_deal() {
    let w = World::new().await;
    assert!(w.can(w.mia, DealAction::Delete, w.d_ray).await);
    assert!(w.can(w.mia, DealAction::Delete, w.d_mia).await);
}

#[tokio::test]
async fn manager_cannot_delete_other_teams_deal() {
    let w = World::new().await;
    assert!(!w.can(w.mia, DealAction::Delete, w.d_wes).await);
}

#[tokio::test]
async fn admin_deletes_any_deal() {
    let w = World::new().await;
    assert!(w.can(w.ada, DealAction::Delete, w.d_wes).await);
}

// ---------------------------------------------------------------------------------------
// Deals: reassign

#[tokio::test]
async fn rep_never_reassigns() {
    let w = World::new().await;
    assert!(!w.can_reassign(w.rae, w.d_rae, w.ray).await);
    assert!(!w.can_reassign(w.rae, w.d_edit, w.rae).await);
}

#[tokio::test]
async fn manager_reassigns_within_team() {
    let w = World::new().await;
    assert!(w.can_reassign(w.mia, w.d_ray, w.rae).await);
    // Across the teams they manage.
    assert!(w.can_reassign(w.mia, w.d_ray, w.nora).await);
}

#[tokio::test]
async fn manager_cannot_reassign_outside_their_teams() {
    let w = World::new().await;
    // To someone outside their teams…
    assert!(!w.can_reassign(w.mia, w.d_ray, w.wes).await);
    // …or a deal outside their teams.
    assert!(!w.can_reassign(w.mia, w.d_wes, w.rae).await);
}

#[tokio::test]
async fn admin_reassigns_to_anyone() {
    let w = World::new().await;
    assert!(w.can_reassign(w.ada, w.d_ray, w.wes).await);
}

// ---------------------------------------------------------------------------------------
// Deals: share

#[tokio::test]
async fn rep_shares_own_deal() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::Share, w.d_rae).await);
}

#[tokio::test]
async fn rep_cannot_share_deal_they_do_not_own() {
    let w = World::new().await;
    assert!(!w.can(w.rae, DealAction::Share, w.d_ray).await);
    assert!(!w.can(w.rae, DealAction::Share, w.d_edit).await);
}

#[tokio::test]
async fn manager_shares_team_deal() {
    let w = World::new().await;
    assert!(w.can(w.mia, DealAction::Share, w.d_ray).await);
}

#[tokio::test]
async fn manager_cannot_share_other_teams_deal() {
    let w = World::new().await;
    assert!(!w.can(w.mia, DealAction::Share, w.d_wes).await);
}

#[tokio::test]
async fn admin_shares_any_deal() {
    let w = World::new().await;
    assert!(w.can(w.ada, DealAction::Share, w.d_wes).await);
}

// ---------------------------------------------------------------------------------------
// Field deal.amount (read and write)

#[tokio::test]
async fn rep_reads_and_writes_amount_of_own_deal() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::ReadAmount, w.d_rae).await);
    assert!(w.can(w.rae, DealAction::UpdateAmount, w.d_rae).await);
}

#[tokio::test]
async fn rep_cannot_read_or_write_amount_of_teammates_deal() {
    let w = World::new().await;
    assert!(!w.can(w.rae, DealAction::ReadAmount, w.d_ray).await);
    assert!(!w.can(w.rae, DealAction::UpdateAmount, w.d_ray).await);
}

#[tokio::test]
async fn rep_reads_and_writes_amount_of_deal_shared_with_edit() {
    let w = World::new().await;
    assert!(w.can(w.rae, DealAction::ReadAmount, w.d_edit).await);
    assert!(w.can(w.rae, DealAction::UpdateAmount, w.d_edit).await);
}

#[tokio::test]
async fn rep_cannot_read_amount_of_deal_shared_with_view() {
    let w = World::new().await;
    assert!(!w.can(w.rae, DealAction::ReadAmount, w.d_view).await);
    assert!(!w.can(w.rae, DealAction::UpdateAmount, w.d_view).await);
}

#[tokio::test]
async fn manager_reads_and_writes_amount_of_team_deal() {
    let w = World::new().await;
    assert!(w.can(w.mia, DealAction::ReadAmount, w.d_ray).await);
    assert!(w.can(w.mia, DealAction::UpdateAmount, w.d_nora).await);
}

#[tokio::test]
async fn manager_cannot_read_amount_of_other_teams_deal() {
    let w = World::new().await;
    assert!(!w.can(w.mia, DealAction::ReadAmount, w.d_wes).await);
}

#[tokio::test]
async fn admin_reads_every_amount() {
    let w = World::new().await;
    assert!(w.can(w.ada, DealAction::ReadAmount, w.d_wes).await);
    assert!(w.can(w.ada, DealAction::UpdateAmount, w.d_wes).await);
}

/// `SUM(CASE WHEN <read:amount> THEN amount_cents ELSE 0 END)` over the readable deals.
async fn readable_amount_sum(w: &World, user: Uuid) -> (i64, i64) {
    let viewer = w.viewer(user).await;
    let amount = Expr::col(("deals", "amount_cents"));
    let readable_amount = Expr::case(
        DEFAULT.field_condition(&viewer, DealAction::ReadAmount),
        amount,
    )
    .finally(0);
    let readable_amount: Expr = readable_amount.into();
    let select = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .expr_as(readable_amount.sum().cast_as("bigint"), Alias::new("total"))
        .from("deals")
        .cond_where(DEFAULT.scope(&viewer, DealAction::Read))
        .to_owned();
    let row = w
        .app
        .db
        .query_one(&select)
        .await
        .expect("sum")
        .expect("row");
    (
        row.try_get::<i64>("", "n").expect("n"),
        row.try_get::<Option<i64>>("", "total")
            .expect("total")
            .unwrap_or(0),
    )
}

#[tokio::test]
async fn sums_count_only_amounts_the_viewer_may_read() {
    let w = World::new().await;
    // Rae reads five deals, and the amounts of two: her own (100) and the one shared to edit
    // (1600) — not Ray's (200), Mia's (6400) or the one shared to view (800).
    assert_eq!(readable_amount_sum(&w, w.rae).await, (5, 1700));
    // Mia: East and North (100 + 200 + 3200 + 6400).
    assert_eq!(readable_amount_sum(&w, w.mia).await, (4, 9900));
    assert_eq!(readable_amount_sum(&w, w.ada).await, (7, 12700));
}

// ---------------------------------------------------------------------------------------
// Companies and contacts: read

#[tokio::test]
async fn rep_reads_own_company_and_contact() {
    let w = World::new().await;
    assert!(w.can(w.rae, CompanyAction::Read, w.c_rae).await);
    assert!(w.can(w.rae, ContactAction::Read, w.k_rae).await);
}

#[tokio::test]
async fn rep_reads_teammates_company_and_contact() {
    let w = World::new().await;
    assert!(w.can(w.rae, CompanyAction::Read, w.c_ray).await);
    assert!(w.can(w.rae, ContactAction::Read, w.k_ray).await);
}

#[tokio::test]
async fn rep_reads_company_and_contact_linked_to_readable_deal() {
    let w = World::new().await;
    assert!(w.can(w.rae, CompanyAction::Read, w.c_shared).await);
    assert!(w.can(w.rae, ContactAction::Read, w.k_shared).await);
}

#[tokio::test]
async fn rep_cannot_read_other_teams_company_or_contact() {
    let w = World::new().await;
    // Linked only to a deal Rae cannot read.
    assert!(!w.can(w.rae, CompanyAction::Read, w.c_wes).await);
    assert!(!w.can(w.rae, ContactAction::Read, w.k_wes).await);
    assert!(!w.can(w.rae, CompanyAction::Read, w.c_nora).await);
}

#[tokio::test]
async fn manager_reads_team_companies_and_contacts() {
    let w = World::new().await;
    assert!(w.can(w.mia, CompanyAction::Read, w.c_nora).await);
    assert!(w.can(w.mia, ContactAction::Read, w.k_ray).await);
}

#[tokio::test]
async fn manager_cannot_read_other_teams_company_or_contact() {
    let w = World::new().await;
    assert!(!w.can(w.mia, CompanyAction::Read, w.c_wes).await);
    assert!(!w.can(w.mia, ContactAction::Read, w.k_wes).await);
}

#[tokio::test]
async fn admin_reads_every_company_and_contact() {
    let w = World::new().await;
    assert!(w.can(w.ada, CompanyAction::Read, w.c_wes).await);
    assert!(w.can(w.ada, ContactAction::Read, w.k_wes).await);
}

// ---------------------------------------------------------------------------------------
// Companies and contacts: create, update, delete

#[tokio::test]
async fn rep_creates_company_and_contact_for_self() {
    let w = World::new().await;
    assert!(w.can_create(w.rae, Kind::Company, w.rae).await);
    assert!(w.can_create(w.rae, Kind::Contact, w.rae).await);
}

#[tokio::test]
async fn rep_cannot_create_company_or_contact_for_someone_else() {
    let w = World::new().await;
    assert!(!w.can_create(w.rae, Kind::Company, w.ray).await);
    assert!(!w.can_create(w.rae, Kind::Contact, w.wes).await);
}

#[tokio::test]
async fn manager_creates_company_and_contact_for_team_member() {
    let w = World::new().await;
    assert!(w.can_create(w.mia, Kind::Company, w.nora).await);
    assert!(w.can_create(w.mia, Kind::Contact, w.ray).await);
}

#[tokio::test]
async fn manager_cannot_create_company_or_contact_for_other_team() {
    let w = World::new().await;
    assert!(!w.can_create(w.mia, Kind::Company, w.wes).await);
    assert!(!w.can_create(w.mia, Kind::Contact, w.wes).await);
}

#[tokio::test]
async fn rep_updates_own_company_and_contact() {
    let w = World::new().await;
    assert!(w.can(w.rae, CompanyAction::Update, w.c_rae).await);
    assert!(w.can(w.rae, ContactAction::Update, w.k_rae).await);
}

#[tokio::test]
async fn rep_cannot_update_company_or_contact_they_only_read() {
    let w = World::new().await;
    assert!(!w.can(w.rae, CompanyAction::Update, w.c_ray).await);
    assert!(!w.can(w.rae, CompanyAction::Update, w.c_shared).await);
    assert!(!w.can(w.rae, ContactAction::Update, w.k_shared).await);
}

#[tokio::test]
async fn manager_updates_team_company_and_contact() {
    let w = World::new().await;
    assert!(w.can(w.mia, CompanyAction::Update, w.c_ray).await);
    assert!(w.can(w.mia, ContactAction::Update, w.k_rae).await);
}

#[tokio::test]
async fn manager_cannot_update_other_teams_company_or_contact() {
    let w = World::new().await;
    assert!(!w.can(w.walt, CompanyAction::Update, w.c_ray).await);
    assert!(!w.can(w.walt, ContactAction::Update, w.k_rae).await);
}

#[tokio::test]
async fn manager_deletes_team_company_and_contact() {
    let w = World::new().await;
    assert!(w.can(w.mia, CompanyAction::Delete, w.c_ray).await);
    assert!(w.can(w.mia, ContactAction::Delete, w.k_ray).await);
}

#[tokio::test]
async fn manager_cannot_delete_other_teams_company_or_contact() {
    let w = World::new().await;
    assert!(!w.can(w.mia, CompanyAction::Delete, w.c_wes).await);
    assert!(!w.can(w.mia, ContactAction::Delete, w.k_wes).await);
}

#[tokio::test]
async fn admin_changes_any_company_and_contact() {
    let w = World::new().await;
    assert!(w.can(w.ada, CompanyAction::Update, w.c_wes).await);
    assert!(w.can(w.ada, ContactAction::Delete, w.k_wes).await);
    assert!(w.can_create(w.ada, Kind::Company, w.wes).await);
}

// ---------------------------------------------------------------------------------------
// Field contact.notes (write)

#[tokio::test]
async fn contact_notes_writable_by_owner_only() {
    let w = World::new().await;
    assert!(w.can(w.rae, ContactAction::UpdateNotes, w.k_rae).await);
    assert!(w.can(w.wes, ContactAction::UpdateNotes, w.k_wes).await);
}

#[tokio::test]
async fn readers_cannot_write_contact_notes() {
    let w = World::new().await;
    // Rae reads Ray's contact (and its notes) but cannot edit the notes.
    assert!(w.can(w.rae, ContactAction::Read, w.k_ray).await);
    assert!(!w.can(w.rae, ContactAction::UpdateNotes, w.k_ray).await);
    // Nor can Ray's manager, who may update the rest of the contact.
    assert!(w.can(w.mia, ContactAction::Update, w.k_ray).await);
    assert!(!w.can(w.mia, ContactAction::UpdateNotes, w.k_ray).await);
}

#[tokio::test]
async fn admin_writes_any_contact_notes() {
    let w = World::new().await;
    assert!(w.can(w.ada, ContactAction::UpdateNotes, w.k_ray).await);
}

// ---------------------------------------------------------------------------------------
// Activities

#[tokio::test]
async fn rep_reads_activity_they_created_or_are_assigned() {
    let w = World::new().await;
    assert!(w.can(w.rae, ActivityAction::Read, w.a_by_rae).await);
    assert!(w.can(w.rae, ActivityAction::Read, w.a_for_rae).await);
}

#[tokio::test]
async fn rep_reads_activity_on_readable_record() {
    let w = World::new().await;
    assert!(w.can(w.rae, ActivityAction::Read, w.a_on_view).await);
}

#[tokio::test]
async fn rep_cannot_read_activity_on_unreadable_records() {
    let w = World::new().await;
    assert!(!w.can(w.rae, ActivityAction::Read, w.a_wes).await);
    // A teammate's activity on no record is not the rep's to see.
    assert!(!w.can(w.rae, ActivityAction::Read, w.a_ray).await);
}

#[tokio::test]
async fn manager_reads_team_activities() {
    let w = World::new().await;
    assert!(w.can(w.mia, ActivityAction::Read, w.a_ray).await);
    assert!(w.can(w.mia, ActivityAction::Read, w.a_nora).await);
    // Created by, or assigned to, a member of the manager's team.
    assert!(w.can(w.walt, ActivityAction::Read, w.a_for_rae).await);
}

#[tokio::test]
async fn manager_cannot_read_other_teams_activity() {
    let w = World::new().await;
    assert!(!w.can(w.mia, ActivityAction::Read, w.a_wes).await);
    assert!(!w.can(w.walt, ActivityAction::Read, w.a_ray).await);
}

#[tokio::test]
async fn rep_completes_activity_they_created_or_are_assigned() {
    let w = World::new().await;
    assert!(w.can(w.rae, ActivityAction::Complete, w.a_for_rae).await);
    assert!(w.can(w.rae, ActivityAction::Update, w.a_by_rae).await);
}

#[tokio::test]
async fn rep_cannot_update_activity_they_only_read() {
    let w = World::new().await;
    assert!(w.can(w.rae, ActivityAction::Read, w.a_on_view).await);
    assert!(!w.can(w.rae, ActivityAction::Update, w.a_on_view).await);
    assert!(!w.can(w.rae, ActivityAction::Complete, w.a_on_view).await);
}

#[tokio::test]
async fn manager_updates_team_activity() {
    let w = World::new().await;
    assert!(w.can(w.mia, ActivityAction::Update, w.a_ray).await);
    assert!(w.can(w.walt, ActivityAction::Complete, w.a_for_rae).await);
}

#[tokio::test]
async fn manager_cannot_update_other_teams_activity() {
    let w = World::new().await;
    assert!(!w.can(w.walt, ActivityAction::Update, w.a_ray).await);
    assert!(!w.can(w.mia, ActivityAction::Complete, w.a_wes).await);
}

#[tokio::test]
async fn admin_updates_any_activity() {
    let w = World::new().await;
    assert!(w.can(w.ada, ActivityAction::Update, w.a_wes).await);
}

// ---------------------------------------------------------------------------------------
// Users (the directory) and their administration

#[tokio::test]
async fn rep_reads_active_users() {
    let w = World::new().await;
    assert!(w.can(w.rae, UserAction::Read, w.wes).await);
    assert!(w.can(w.rae, UserAction::Read, w.ada).await);
}

#[tokio::test]
async fn rep_cannot_read_deactivated_users() {
    let w = World::new().await;
    assert!(!w.can(w.rae, UserAction::Read, w.ivy).await);
}

#[tokio::test]
async fn managers_and_admins_read_deactivated_users() {
    let w = World::new().await;
    assert!(w.can(w.walt, UserAction::Read, w.ivy).await);
    assert!(w.can(w.ada, UserAction::Read, w.ivy).await);
}

#[tokio::test]
async fn admin_administers_users() {
    let w = World::new().await;
    assert!(w.role_may(w.ada, UserAction::Create));
    for a in [
        UserAction::Update,
        UserAction::UpdateRole,
        UserAction::UpdateTeam,
        UserAction::Deactivate,
        UserAction::ResetPassword,
    ] {
        assert!(w.can(w.ada, a, w.rae).await, "{a}");
    }
}

#[tokio::test]
async fn reps_and_managers_never_administer_users() {
    let w = World::new().await;
    for user in [w.rae, w.mia] {
        assert!(!w.role_may(user, UserAction::Create));
        for a in [
            UserAction::Update,
            UserAction::UpdateRole,
            UserAction::UpdateTeam,
            UserAction::Deactivate,
            UserAction::ResetPassword,
        ] {
            // Not even on themselves, or on their own team.
            assert!(!w.can(user, a, user).await, "{a}");
            assert!(!w.can(user, a, w.ray).await, "{a}");
        }
    }
}

#[tokio::test]
async fn deciding_on_a_loaded_user_matches_the_sql_path() {
    let w = World::new().await;
    for user in [w.rae, w.mia, w.ada] {
        let viewer = w.viewer(user).await;
        for target in &w.org.users {
            for &a in UserAction::ALL {
                let expected = w.can(user, a, target.id).await;
                assert_eq!(DEFAULT.decide_user(&viewer, a, target), expected, "{a}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Teams, audit log, exports

#[tokio::test]
async fn everyone_reads_teams() {
    let w = World::new().await;
    for user in [w.rae, w.mia, w.ada] {
        assert!(w.role_may(user, TeamAction::Read));
    }
}

#[tokio::test]
async fn only_admins_create_and_update_teams() {
    let w = World::new().await;
    assert!(w.role_may(w.ada, TeamAction::Create));
    assert!(w.role_may(w.ada, TeamAction::Update));
    for user in [w.rae, w.mia] {
        assert!(!w.role_may(user, TeamAction::Create));
        assert!(!w.role_may(user, TeamAction::Update));
    }
}

#[tokio::test]
async fn admin_reads_audit_log() {
    let w = World::new().await;
    assert!(w.role_may(w.ada, AuditLogAction::Read));
}

#[tokio::test]
async fn reps_and_managers_cannot_read_audit_log() {
    let w = World::new().await;
    assert!(!w.role_may(w.rae, AuditLogAction::Read));
    assert!(!w.role_may(w.mia, AuditLogAction::Read));
}

#[tokio::test]
async fn manager_exports_team_data() {
    let w = World::new().await;
    assert!(w.role_may(w.mia, ExportAction::Create));
    assert!(w.can(w.mia, DealAction::Export, w.d_ray).await);
    assert!(w.can(w.mia, CompanyAction::Export, w.c_nora).await);
    assert!(w.can(w.mia, ActivityAction::Export, w.a_ray).await);
}

#[tokio::test]
async fn manager_cannot_export_other_teams_data() {
    let w = World::new().await;
    assert!(!w.can(w.mia, DealAction::Export, w.d_wes).await);
    assert!(!w.can(w.mia, ContactAction::Export, w.k_wes).await);
}

#[tokio::test]
async fn rep_never_exports() {
    let w = World::new().await;
    assert!(!w.role_may(w.rae, ExportAction::Create));
    assert!(!w.can(w.rae, DealAction::Export, w.d_rae).await);
}

#[tokio::test]
async fn admin_exports_everything() {
    let w = World::new().await;
    assert!(w.role_may(w.ada, ExportAction::Create));
    assert!(w.can(w.ada, DealAction::Export, w.d_wes).await);
}

// ---------------------------------------------------------------------------------------
// Viewer

#[tokio::test]
async fn a_managers_teams_are_their_own_and_the_ones_they_manage() {
    let w = World::new().await;
    let mia = w.viewer(w.mia).await;
    assert_eq!(mia.team_ids, w.org.teams_of(w.mia));
    assert_eq!(mia.team_ids.len(), 2);
    let rae = w.viewer(w.rae).await;
    assert_eq!(
        rae.team_ids,
        w.team_of(w.rae).into_iter().collect::<Vec<_>>()
    );
    let ada = w.viewer(w.ada).await;
    assert!(ada.team_ids.is_empty());
    let _ = (w.nora, w.c_nora);
}

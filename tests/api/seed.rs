//! The demo organisation seeds into an empty database with every stage represented.

use entity::enums::{DealStage, Role};
use entity::{activity, company, contact, deal, team, user};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::TestApp;

#[tokio::test]
async fn demo_org_has_teams_roles_records_and_every_stage() {
    let app = TestApp::new().await;
    assert!(api::seed::is_empty(&app.db).await.unwrap());
    let logins = api::seed::seed_demo(&app.db).await.unwrap();
    assert!(!api::seed::is_empty(&app.db).await.unwrap());

    assert!(logins.iter().any(|l| l.role == Role::Admin));
    assert!(logins.iter().filter(|l| l.role == Role::Manager).count() >= 2);
    assert!(logins.iter().filter(|l| l.role == Role::SalesRep).count() >= 4);

    let teams = team::Entity::find().all(&app.db).await.unwrap();
    assert!(teams.len() >= 2);
    for t in &teams {
        let manager = user::Entity::find_by_id(t.manager_id.expect("team has a manager"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(manager.role, Role::Manager);
        assert_eq!(manager.team_id, Some(t.id));
    }
    assert!(company::Entity::find().count(&app.db).await.unwrap() >= 24);
    assert!(contact::Entity::find().count(&app.db).await.unwrap() >= 24);
    assert!(activity::Entity::find().count(&app.db).await.unwrap() >= 24);
    for stage in DealStage::ALL {
        let deals = deal::Entity::find()
            .filter(deal::Column::Stage.eq(stage))
            .all(&app.db)
            .await
            .unwrap();
        assert!(!deals.is_empty(), "{stage:?}");
        for d in deals {
            assert_eq!(d.probability, stage.probability());
            assert_eq!(d.actual_close_date.is_some(), stage.is_closed());
        }
    }
    // Every demo user can log in with the demo password.
    let admin = user::Entity::find()
        .filter(user::Column::Email.eq("admin@demo.crm"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        api::auth::password::verify_password(
            api::seed::DEMO_PASSWORD.to_owned(),
            Some(admin.password_hash)
        )
        .await
        .unwrap()
    );
}

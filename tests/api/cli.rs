//! Startup rules and the administrator bootstrap.

use api::config::Config;
use entity::enums::Role;

use crate::helpers::TestApp;

#[test]
fn postgres_refuses_to_start_without_a_jwt_secret() {
    let mut config = Config::for_database("postgres://postgres@127.0.0.1/crm");
    config.jwt_secret = None;
    let err = config.validate().unwrap_err();
    assert!(err.contains("CRM_JWT_SECRET"), "{err}");

    config.jwt_secret = Some("short".into());
    assert!(config.validate().is_err(), "short secrets are refused");

    config.jwt_secret = Some("x".repeat(32));
    assert!(config.validate().is_ok());

    let mut embedded = Config::for_database(api::config::DEFAULT_DATABASE_URL);
    embedded.jwt_secret = None;
    assert!(
        embedded.validate().is_ok(),
        "the embedded default needs no secret"
    );
}

#[tokio::test]
async fn create_admin_bootstraps_an_admin_and_refuses_bad_input() {
    let app = TestApp::new().await;
    let admin = api::cli::create_admin(
        &app.db,
        " Root@Example.COM ",
        "Root",
        "correct horse battery staple".into(),
    )
    .await
    .unwrap();
    assert_eq!(admin.email, "root@example.com");
    assert_eq!(admin.role, Role::Admin);
    assert!(admin.password_hash.starts_with("$argon2id$"));

    let dup = api::cli::create_admin(
        &app.db,
        "root@example.com",
        "Again",
        "another long password".into(),
    )
    .await
    .unwrap_err();
    assert!(dup.to_string().contains("email"), "{dup}");

    let short = api::cli::create_admin(&app.db, "b@example.com", "B", "short".into())
        .await
        .unwrap_err();
    assert!(short.to_string().contains("password"), "{short}");
}

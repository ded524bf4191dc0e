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

#[test]
fn the_built_in_policy_is_the_policies_directory() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".polar"))
        .collect();
    on_disk.sort();
    let mut built_in: Vec<String> = api::authz::builtin::DEFAULT_POLICY
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    built_in.sort();
    assert_eq!(
        on_disk, built_in,
        "add new policy files to api/src/authz/builtin.rs"
    );
    let from_disk = api::authz::Authorizer::load(std::path::Path::new(dir)).unwrap();
    let compiled_in =
        api::authz::Authorizer::from_sources(api::authz::builtin::DEFAULT_POLICY).unwrap();
    assert_eq!(from_disk.describe_all(), compiled_in.describe_all());
}

//! Nothing secret reaches the logs: passwords, tokens and hashes never appear, at any level.

use crm_testkit::Org;
use std::io::Write;
use std::sync::{Arc, Mutex};

use entity::enums::Role;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide capture: a global TRACE subscriber, installed on first use. (A
/// thread-local one misses events whose callsites other tests' threads registered first.)
fn capture() -> &'static Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        capture
    })
}

#[test]
fn sign_in_refresh_and_failures_log_no_secrets() {
    let capture = capture();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (secrets, rep_id) = rt.block_on(async {
        let app = TestApp::new().await;
        let mut org = Org::new();
        let rep = org.user().email("rep@example.com").role(Role::SalesRep).insert(&app.db).await;
        let (_, failed) = app
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({"e": "rep@example.com", "p": "wrong-but-secret-password"}),
            )
            .await;
        assert!(failed["errors"].is_array());
        let (access, refresh) = app.login("rep@example.com", PASSWORD).await;
        let (_, json) = app
            .gql(
                None,
                "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }",
                json!({"t": refresh}),
            )
            .await;
        let access2 = json["data"]["refreshSession"]["accessToken"].as_str().unwrap().to_owned();
        let refresh2 = json["data"]["refreshSession"]["refreshToken"].as_str().unwrap().to_owned();
        app.gql(Some(&access2), "mutation { logout }", json!({})).await;
        (
            vec![
                PASSWORD.to_owned(),
                "wrong-but-secret-password".to_owned(),
                access,
                refresh,
                access2,
                refresh2,
                rep.password_hash.clone(),
            ],
            rep.id,
        )
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let rep = rep_id.to_string();
    for event in [
        "login.failure",
        "login.success",
        "session.refreshed",
        "logout",
    ] {
        assert!(
            logs.lines()
                .any(|l| l.contains(event) && (l.contains(&rep) || l.contains("rep@example.com"))),
            "audit line {event} for this user is written"
        );
    }
    for secret in secrets {
        assert!(!logs.contains(&secret), "secret leaked into logs: {secret}");
        // Tokens are long; no fragment of them either.
        if secret.len() > 40 {
            assert!(!logs.contains(&secret[secret.len() - 24..]));
        }
    }
}

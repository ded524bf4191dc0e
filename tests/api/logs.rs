//! Nothing secret reaches the logs: passwords, tokens and hashes never appear, at any level.

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

#[test]
fn sign_in_refresh_and_failures_log_no_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // A current-thread runtime keeps every span and event on this thread's subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (secrets, rep_id) = rt.block_on(async {
        let app = TestApp::new().await;
        let rep = app.user("rep@example.com", Role::SalesRep, None).await;
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
    drop(_guard);
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("login.success"),
        "audit lines are written: {logs}"
    );
    assert!(logs.contains(&rep_id.to_string()));
    for secret in secrets {
        assert!(!logs.contains(&secret), "secret leaked into logs: {secret}");
        // Tokens are long; no fragment of them either.
        if secret.len() > 40 {
            assert!(!logs.contains(&secret[secret.len() - 24..]));
        }
    }
}

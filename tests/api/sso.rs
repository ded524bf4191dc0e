//! The SSO hook: ES256 tokens from an external identity provider, verified with a PEM
//! public key or a JWKS file, map their email claim to an active user.

use axum::http::StatusCode;
use crm_testkit::Org;
use entity::enums::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;

use crate::helpers::TestApp;

pub(crate) const ISSUER: &str = "https://idp.example.test";
pub(crate) const AUDIENCE: &str = "crm-sso";

pub(crate) struct Idp {
    pub(crate) encoding: EncodingKey,
    pub(crate) public_pem: String,
    jwk: serde_json::Value,
}

pub(crate) fn identity_provider() -> Idp {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let private_pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
    let public = secret.public_key();
    let public_pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let mut jwk: serde_json::Value = serde_json::from_str(&public.to_jwk_string()).unwrap();
    jwk["kid"] = json!("idp-key-1");
    jwk["alg"] = json!("ES256");
    jwk["use"] = json!("sig");
    Idp {
        encoding: EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        public_pem,
        jwk,
    }
}

fn external_token(idp: &Idp, email: &str, aud: &str, kid: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &json!({ "sub": "idp-user-1", "email": email, "iss": ISSUER, "aud": aud, "iat": now, "exp": now + 300 }),
        &idp.encoding,
    )
    .unwrap()
}

async fn check_sso(app: &TestApp, idp: &Idp, kid: Option<&str>) {
    let mut org = Org::new();
    let rep = org
        .user()
        .email("sso.rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let me = "{ me { id } }";
    let (status, json) = app
        .gql(
            Some(&external_token(idp, "SSO.Rep@example.com", AUDIENCE, kid)),
            me,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["data"]["me"]["id"], rep.id.to_string());

    for (why, token) in [
        (
            "wrong audience",
            external_token(idp, "sso.rep@example.com", "other", kid),
        ),
        (
            "unknown user",
            external_token(idp, "stranger@example.com", AUDIENCE, kid),
        ),
        (
            "other key",
            external_token(&identity_provider(), "sso.rep@example.com", AUDIENCE, kid),
        ),
    ] {
        let (status, _) = app.gql(Some(&token), me, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
    }
}

#[tokio::test]
async fn sso_tokens_verified_with_a_pem_key_map_to_users() {
    let idp = identity_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idp.pem");
    std::fs::write(&path, &idp.public_pem).unwrap();
    let app = TestApp::with_config(|c| {
        c.sso_public_key_file = Some(path.clone());
        c.sso_issuer = Some(ISSUER.into());
        c.sso_audience = Some(AUDIENCE.into());
    })
    .await;
    check_sso(&app, &idp, None).await;
}

#[tokio::test]
async fn sso_tokens_verified_with_a_jwks_file_map_to_users() {
    let idp = identity_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, json!({ "keys": [idp.jwk] }).to_string()).unwrap();
    let app = TestApp::with_config(|c| {
        c.sso_jwks_file = Some(path.clone());
        c.sso_issuer = Some(ISSUER.into());
        c.sso_audience = Some(AUDIENCE.into());
    })
    .await;
    check_sso(&app, &idp, Some("idp-key-1")).await;
}

#[tokio::test]
async fn external_algorithms_are_refused_without_sso() {
    let idp = identity_provider();
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("sso.rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (status, _) = app
        .gql(
            Some(&external_token(&idp, "sso.rep@example.com", AUDIENCE, None)),
            "{ me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

//! Access tokens: HS256 JWTs this server issues, and optionally RS256/ES256 tokens from an
//! external identity provider (SSO). The accepted algorithms are pinned per key: a token
//! signed with anything else — `none` included — is refused.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;

/// Tokens may be this many seconds past `exp` or before `nbf` (clock skew between
/// instances and identity providers).
const LEEWAY_SECS: u64 = 5;

/// Claims of the access tokens this server issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The role at issue time (informational: each request reloads the current role).
    pub role: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Session id: revoking the session invalidates the token.
    pub sid: String,
    /// Token id.
    pub jti: String,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSubject {
    /// A token this server issued.
    Session {
        /// The user.
        user_id: Uuid,
        /// The session it belongs to.
        session_id: Uuid,
    },
    /// A token from the external identity provider; the email maps to an active user.
    External {
        /// The email claim.
        email: String,
    },
}

/// Why a token was refused (logged, never sent in detail).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or an unknown algorithm (including `none`).
    #[error("malformed token")]
    Malformed,
    /// Signed with an algorithm this server does not accept for that key.
    #[error("algorithm not accepted")]
    Algorithm,
    /// Bad signature, expired, wrong issuer or audience, missing claims.
    #[error("invalid token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    /// SSO token without a usable email claim.
    #[error("external token lacks the email claim")]
    NoEmail,
}

/// External identity provider settings.
struct Sso {
    /// Keys by `kid` (JWKS); `None` key id for a single PEM key.
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
    issuer: String,
    audience: String,
    email_claim: String,
}

/// Issues and verifies access tokens.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    sso: Option<Sso>,
}

impl TokenService {
    /// Builds the keys from configuration. Without a secret (embedded default only) a random
    /// one is generated: tokens then last as long as the process.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let secret = match &config.jwt_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "CRM_JWT_SECRET is not set: using a random secret, sessions end when the server stops"
                );
                let mut bytes = vec![0u8; 48];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                bytes
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl_secs: i64::try_from(config.access_token_ttl_secs).unwrap_or(900),
            sso: Sso::from_config(config)?,
        })
    }

    /// A signed access token for `user_id` in `session_id`, and when it expires.
    pub fn issue(
        &self,
        user_id: Uuid,
        role: &str,
        session_id: Uuid,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let exp = now + chrono::Duration::seconds(self.ttl_secs);
        let claims = Claims {
            sub: user_id.to_string(),
            role: role.to_owned(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sid: session_id.to_string(),
            jti: Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, exp))
    }

    /// Verifies a bearer token: signature, algorithm, expiry, issuer, audience.
    pub fn verify(&self, token: &str) -> Result<TokenSubject, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        match header.alg {
            Algorithm::HS256 => {
                let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
                    .map_err(TokenError::Invalid)?;
                let user_id =
                    Uuid::parse_str(&data.claims.sub).map_err(|_| TokenError::Malformed)?;
                let session_id =
                    Uuid::parse_str(&data.claims.sid).map_err(|_| TokenError::Malformed)?;
                Ok(TokenSubject::Session {
                    user_id,
                    session_id,
                })
            }
            Algorithm::RS256 | Algorithm::ES256 => match &self.sso {
                Some(sso) => sso.verify(token, header.alg, header.kid.as_deref()),
                None => Err(TokenError::Algorithm),
            },
            _ => Err(TokenError::Algorithm),
        }
    }
}

impl Sso {
    fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        use anyhow::Context;
        let mut keys = Vec::new();
        if let Some(path) = &config.sso_public_key_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading SSO public key {}", path.display()))?;
            if let Ok(k) = DecodingKey::from_rsa_pem(&pem) {
                keys.push((None, Algorithm::RS256, k));
            } else {
                let k = DecodingKey::from_ec_pem(&pem).with_context(|| {
                    format!("{} is neither an RSA nor an EC public key", path.display())
                })?;
                keys.push((None, Algorithm::ES256, k));
            }
        }
        if let Some(path) = &config.sso_jwks_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading SSO JWKS {}", path.display()))?;
            let set: JwkSet = serde_json::from_str(&text)
                .with_context(|| format!("parsing SSO JWKS {}", path.display()))?;
            for jwk in &set.keys {
                let alg = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => continue,
                };
                let key = DecodingKey::from_jwk(jwk).context("unusable key in SSO JWKS")?;
                keys.push((jwk.common.key_id.clone(), alg, key));
            }
        }
        if keys.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            keys,
            issuer: config.sso_issuer.clone().unwrap_or_default(),
            audience: config.sso_audience.clone().unwrap_or_default(),
            email_claim: config.sso_email_claim.clone(),
        }))
    }

    fn verify(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<TokenSubject, TokenError> {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        // A token is not good before its `nbf` (when it has one), with the same leeway.
        validation.validate_nbf = true;
        let candidates = self.keys.iter().filter(|(key_kid, key_alg, _)| {
            *key_alg == alg && (kid.is_none() || key_kid.is_none() || key_kid.as_deref() == kid)
        });
        let mut last_err = TokenError::Algorithm;
        for (_, _, key) in candidates {
            match jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(
                token,
                key,
                &validation,
            ) {
                Ok(data) => {
                    let email = data
                        .claims
                        .get(&self.email_claim)
                        .and_then(serde_json::Value::as_str)
                        .map(|e| e.trim().to_lowercase())
                        .filter(|e| !e.is_empty())
                        .ok_or(TokenError::NoEmail)?;
                    return Ok(TokenSubject::External { email });
                }
                Err(e) => last_err = TokenError::Invalid(e),
            }
        }
        Err(last_err)
    }
}

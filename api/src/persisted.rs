//! Persisted queries: Apollo's automatic persisted queries (APQ) and an optional
//! trusted-documents mode.
//!
//! APQ: a client sends `extensions.persistedQuery.sha256Hash` without the query; an unknown
//! hash answers `PERSISTED_QUERY_NOT_FOUND`, the client resends with the query, and the
//! server keeps it (after checking the hash) for next time. Each instance learns on its own
//! (nothing is shared: a miss costs one round trip), in a cache bounded in bytes.
//!
//! Trusted documents (`CRM_TRUSTED_DOCUMENTS=manifest.json`, Apollo's persisted query
//! manifest): only the operations listed there run, by hash or by identical text; anything
//! else is refused. For locked-down mobile apps: no one can send the API a query the app
//! does not contain.
//!
//! The stored text goes through the same request limits as any query (the cache keeps
//! text, not parsed documents, so nothing is parsed before the lexical depth check).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use async_graphql::Request;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Where the documents come from.
pub struct PersistedQueries {
    mode: Mode,
}

enum Mode {
    /// Learn hashes from clients, up to `max_bytes` of query text.
    Automatic(Mutex<Cache>),
    /// Only these documents (hash → text) run.
    Trusted(HashMap<String, String>),
}

struct Cache {
    entries: lru::LruCache<String, String>,
    bytes: usize,
    max_bytes: usize,
}

impl PersistedQueries {
    /// An APQ cache holding at most `max_bytes` of query text.
    pub fn automatic(max_bytes: usize) -> Self {
        Self {
            mode: Mode::Automatic(Mutex::new(Cache {
                entries: lru::LruCache::unbounded(),
                bytes: 0,
                max_bytes,
            })),
        }
    }

    /// Trusted documents from an Apollo persisted query manifest
    /// (`{"operations": [{"id": "<sha256>", "body": "…"}, …]}`). Each id is checked against
    /// its body.
    pub fn trusted(manifest: &Path) -> anyhow::Result<Self> {
        #[derive(serde::Deserialize)]
        struct Manifest {
            operations: Vec<Operation>,
        }
        #[derive(serde::Deserialize)]
        struct Operation {
            id: String,
            body: String,
        }
        use anyhow::Context;
        let text = std::fs::read_to_string(manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let parsed: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a persisted query manifest", manifest.display()))?;
        let mut documents = HashMap::new();
        for op in parsed.operations {
            let hash = sha256_hex(&op.body);
            anyhow::ensure!(
                hash == op.id.to_ascii_lowercase(),
                "{}: operation {} does not match the sha256 of its body",
                manifest.display(),
                op.id
            );
            documents.insert(hash, op.body);
        }
        Ok(Self {
            mode: Mode::Trusted(documents),
        })
    }

    /// Fills in (or checks) the request's query from its `persistedQuery` extension, which
    /// it then removes (resolving twice is harmless).
    pub fn resolve(&self, request: &mut Request) -> Result<(), ApiError> {
        let hash = match request.extensions.remove("persistedQuery") {
            Some(value) => Some(persisted_hash(&value)?),
            None => None,
        };
        match (&self.mode, hash) {
            (Mode::Automatic(_), None) => Ok(()),
            (Mode::Automatic(cache), Some(hash)) => {
                let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
                if request.query.is_empty() {
                    match cache.entries.get(&hash) {
                        Some(query) => {
                            request.query = query.clone();
                            Ok(())
                        }
                        None => Err(ApiError::PersistedQueryNotFound),
                    }
                } else {
                    check_hash(&request.query, &hash)?;
                    cache.insert(hash, request.query.clone());
                    Ok(())
                }
            }
            (Mode::Trusted(documents), hash) => {
                let hash = match hash {
                    Some(hash) => hash,
                    None => sha256_hex(&request.query),
                };
                match documents.get(&hash) {
                    Some(query) if request.query.is_empty() || *query == request.query => {
                        request.query = query.clone();
                        Ok(())
                    }
                    _ if request.query.is_empty() => Err(ApiError::PersistedQueryNotFound),
                    _ => Err(ApiError::BadRequest(
                        "this server runs only its trusted documents".into(),
                    )),
                }
            }
        }
    }
}

impl Cache {
    fn insert(&mut self, hash: String, query: String) {
        if query.len() > self.max_bytes {
            return;
        }
        self.bytes += query.len();
        if let Some(old) = self.entries.put(hash, query) {
            self.bytes -= old.len();
        }
        while self.bytes > self.max_bytes {
            match self.entries.pop_lru() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash of a `persistedQuery` extension (`{"version": 1, "sha256Hash": "…"}`).
fn persisted_hash(value: &async_graphql::Value) -> Result<String, ApiError> {
    let async_graphql::Value::Object(fields) = value else {
        return Err(ApiError::BadRequest(
            "extensions.persistedQuery must be an object".into(),
        ));
    };
    match fields.get("version") {
        Some(async_graphql::Value::Number(n)) if n.as_i64() == Some(1) => {}
        _ => {
            return Err(ApiError::BadRequest(
                "extensions.persistedQuery.version must be 1".into(),
            ));
        }
    }
    match fields.get("sha256Hash") {
        Some(async_graphql::Value::String(h))
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(h.to_ascii_lowercase())
        }
        _ => Err(ApiError::BadRequest(
            "extensions.persistedQuery.sha256Hash must be 64 hex digits".into(),
        )),
    }
}

fn check_hash(query: &str, hash: &str) -> Result<(), ApiError> {
    if sha256_hex(query) == hash {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "extensions.persistedQuery.sha256Hash is not the sha256 of the query".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut r = Request::new(query);
        r.extensions.insert(
            "persistedQuery".into(),
            async_graphql::value!({ "version": 1, "sha256Hash": hash }),
        );
        r
    }

    #[test]
    fn the_cache_is_bounded_in_bytes_and_forgets_the_least_recent() {
        let apq = PersistedQueries::automatic(40);
        let a = "{ a: __typename }";
        let b = "{ b: __typename }";
        let c = "{ c: __typename }";
        for q in [a, b] {
            apq.resolve(&mut with_hash(q, &sha256_hex(q))).unwrap();
        }
        // Touch a, then c pushes out b (3 × 17 bytes > 40).
        apq.resolve(&mut with_hash("", &sha256_hex(a))).unwrap();
        apq.resolve(&mut with_hash(c, &sha256_hex(c))).unwrap();
        let mut r = with_hash("", &sha256_hex(b));
        assert!(matches!(
            apq.resolve(&mut r),
            Err(ApiError::PersistedQueryNotFound)
        ));
        let mut r = with_hash("", &sha256_hex(a));
        apq.resolve(&mut r).unwrap();
        assert_eq!(r.query, a);
        // A wrong hash is refused and not stored.
        let mut r = with_hash("{ evil }", &sha256_hex(a));
        assert!(matches!(apq.resolve(&mut r), Err(ApiError::BadRequest(_))));
    }
}

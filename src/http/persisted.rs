//! Persisted queries: Apollo's automatic persisted queries (a sha256 hash in
//! `extensions.persistedQuery` stands for a document the server has seen), and trusted
//! documents for production (`SALESGRAPH_TRUSTED_DOCUMENTS`: a JSON object of hash → document
//! as graphql-codegen writes it; then only admins may run anything else).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Value;
use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::auth::Role;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistedError {
    /// The exact message Apollo Client's persisted-queries link looks for.
    #[error("PersistedQueryNotFound")]
    NotFound,
    #[error("the request has no `query` (and no persisted query hash)")]
    NoQuery,
    #[error("extensions.persistedQuery.sha256Hash {given} is not the sha256 of the query (that is {actual})")]
    HashMismatch { given: String, actual: String },
    #[error("extensions.persistedQuery: {0}")]
    Malformed(String),
    #[error(
        "this server runs trusted documents only: the {0} role may run only the operations in its manifest"
    )]
    NotTrusted(Role),
}

impl PersistedError {
    pub fn code(&self) -> &'static str {
        match self {
            PersistedError::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            PersistedError::NotTrusted(_) => "FORBIDDEN",
            _ => "BAD_USER_INPUT",
        }
    }
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Reads a trusted-documents manifest: a JSON object of sha256 hash → document.
pub fn load_manifest(path: &std::path::Path) -> Result<HashMap<String, Arc<str>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let entries: HashMap<String, String> = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a JSON object of hash → document: {e}", path.display()))?;
    let mut manifest = HashMap::with_capacity(entries.len());
    for (hash, document) in entries {
        let actual = sha256_hex(&document);
        let hash = hash.strip_prefix("sha256:").unwrap_or(&hash).to_ascii_lowercase();
        if actual != hash {
            return Err(format!("{}: the document under {hash} hashes to {actual}", path.display()));
        }
        manifest.insert(hash, Arc::from(document));
    }
    Ok(manifest)
}

pub struct PersistedQueries {
    automatic: Cache<String, Arc<str>>,
    trusted: Option<HashMap<String, Arc<str>>>,
}

impl PersistedQueries {
    pub fn new(trusted: Option<HashMap<String, Arc<str>>>) -> Self {
        Self { automatic: Cache::builder().max_capacity(10_000).build(), trusted }
    }

    fn requested_hash(request: &async_graphql::Request) -> Result<Option<String>, PersistedError> {
        let Some(persisted) = request.extensions.0.get("persistedQuery") else { return Ok(None) };
        let Value::Object(fields) = persisted else {
            return Err(PersistedError::Malformed("expected an object with version and sha256Hash".into()));
        };
        match fields.get("version") {
            Some(Value::Number(n)) if n.as_i64() == Some(1) => {}
            _ => return Err(PersistedError::Malformed("only version 1 is supported".into())),
        }
        match fields.get("sha256Hash") {
            Some(Value::String(hash)) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Some(hash.to_ascii_lowercase()))
            }
            _ => Err(PersistedError::Malformed("sha256Hash must be 64 hexadecimal digits".into())),
        }
    }

    /// Fills in the document of a hash-only request, remembers new ones, and enforces the
    /// trusted-documents mode.
    pub async fn resolve(
        &self,
        request: &mut async_graphql::Request,
        role: Role,
    ) -> Result<(), PersistedError> {
        let hash = Self::requested_hash(request)?;
        if request.query.trim().is_empty() {
            let hash = hash.ok_or(PersistedError::NoQuery)?;
            let known = match self.trusted.as_ref().and_then(|t| t.get(&hash)) {
                Some(document) => Some(document.clone()),
                None => self.automatic.get(&hash).await,
            };
            request.query = known.ok_or(PersistedError::NotFound)?.to_string();
        } else if let Some(given) = hash {
            let actual = sha256_hex(&request.query);
            if actual != given {
                return Err(PersistedError::HashMismatch { given, actual });
            }
            self.automatic.insert(given, Arc::from(request.query.as_str())).await;
        }
        self.admit(&request.query, role)
    }

    /// Whether `role` may run this document text: always, unless trusted documents are on
    /// and it is not among them (admins may run anything).
    pub fn admit(&self, query: &str, role: Role) -> Result<(), PersistedError> {
        match &self.trusted {
            Some(trusted) if role != Role::Admin && !trusted.contains_key(&sha256_hex(query)) => {
                Err(PersistedError::NotTrusted(role))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, hash: Option<&str>) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        if let Some(hash) = hash {
            let extension = serde_json::json!({ "version": 1, "sha256Hash": hash });
            request.extensions.0.insert("persistedQuery".into(), Value::from_json(extension).expect("json"));
        }
        request
    }

    #[tokio::test]
    async fn automatic_round_trip() {
        let queries = PersistedQueries::new(None);
        let query = "{ me { role } }";
        let hash = sha256_hex(query);
        let mut hash_only = request("", Some(&hash));
        assert_eq!(queries.resolve(&mut hash_only, Role::Analyst).await, Err(PersistedError::NotFound));
        assert_eq!(queries.resolve(&mut request(query, Some(&hash)), Role::Analyst).await, Ok(()));
        let mut hash_only = request("", Some(&hash));
        assert_eq!(queries.resolve(&mut hash_only, Role::Analyst).await, Ok(()));
        assert_eq!(hash_only.query, query);
        let wrong = "0".repeat(64);
        assert!(matches!(
            queries.resolve(&mut request(query, Some(&wrong)), Role::Analyst).await,
            Err(PersistedError::HashMismatch { .. })
        ));
        assert_eq!(
            queries.resolve(&mut request("", None), Role::Analyst).await,
            Err(PersistedError::NoQuery)
        );
    }

    #[tokio::test]
    async fn trusted_documents_bind_everyone_but_admins() {
        let listed = "{ models { name } }";
        let queries = PersistedQueries::new(Some(HashMap::from([(sha256_hex(listed), Arc::from(listed))])));
        assert_eq!(queries.resolve(&mut request(listed, None), Role::Analyst).await, Ok(()));
        let mut by_hash = request("", Some(&sha256_hex(listed)));
        assert_eq!(queries.resolve(&mut by_hash, Role::Manager).await, Ok(()));
        assert_eq!(by_hash.query, listed);
        let other = "{ me { role } }";
        assert_eq!(
            queries.resolve(&mut request(other, None), Role::Analyst).await,
            Err(PersistedError::NotTrusted(Role::Analyst))
        );
        assert_eq!(queries.resolve(&mut request(other, None), Role::Admin).await, Ok(()));
    }
}

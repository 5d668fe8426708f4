//! The response cache: serialized answers keyed by data version, viewer scope and the normalized
//! request, so that a repeat costs a hash and a lookup.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;
use sha2::{Digest, Sha256};

pub type CacheKey = [u8; 32];

#[derive(Clone)]
pub struct ResponseCache {
    inner: Option<Cache<CacheKey, Bytes>>,
}

/// Collapses runs of white space outside string literals, so that formatting does not split
/// the cache; what the query means is untouched.
pub fn normalize_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut pending_space = false;
    for ch in query.trim().chars() {
        if in_string {
            out.push(ch);
            match (escaped, ch) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        if ch.is_whitespace() || ch == ',' {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        if ch == '"' {
            in_string = true;
        }
        out.push(ch);
    }
    out
}

pub fn key(version: i64, scope: &str, operation: Option<&str>, variables: &str, query: &str) -> CacheKey {
    let mut hasher = Sha256::new();
    for part in
        [version.to_string().as_str(), scope, operation.unwrap_or(""), variables, &normalize_query(query)]
    {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

impl ResponseCache {
    pub fn new(enabled: bool) -> Self {
        let inner = enabled.then(|| {
            Cache::builder()
                .max_capacity(256 * 1024 * 1024)
                .weigher(|_k: &CacheKey, v: &Bytes| v.len().try_into().unwrap_or(u32::MAX))
                .time_to_live(Duration::from_secs(3600))
                .build()
        });
        Self { inner }
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    pub async fn get(&self, key: &CacheKey) -> Option<Bytes> {
        self.inner.as_ref()?.get(key).await
    }

    pub async fn insert(&self, key: CacheKey, value: Bytes) {
        if let Some(cache) = &self.inner {
            cache.insert(key, value).await;
        }
    }

    pub fn invalidate_all(&self) {
        if let Some(cache) = &self.inner {
            cache.invalidate_all();
        }
    }
}

/// `ask`'s caches: parsed questions (by question, date and data version) and whole answers
/// (also by viewer scope), so that a repeated question costs a lookup.
#[derive(Clone)]
pub struct AskCache {
    parses: Option<Cache<CacheKey, Arc<crate::ask::Parsed>>>,
    answers: Option<Cache<CacheKey, Arc<crate::ask::Answer>>>,
}

impl AskCache {
    pub fn new(enabled: bool) -> Self {
        fn build<V: Clone + Send + Sync + 'static>() -> Cache<CacheKey, V> {
            Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(3600)).build()
        }
        Self { parses: enabled.then(build), answers: enabled.then(build) }
    }

    /// The parse of a question, from the cache or made now.
    pub async fn parse(
        &self,
        key: CacheKey,
        make: impl FnOnce() -> crate::ask::Parsed,
    ) -> Arc<crate::ask::Parsed> {
        match &self.parses {
            Some(cache) => cache.get_with(key, async move { Arc::new(make()) }).await,
            None => Arc::new(make()),
        }
    }

    pub async fn answer(&self, key: &CacheKey) -> Option<Arc<crate::ask::Answer>> {
        self.answers.as_ref()?.get(key).await
    }

    pub async fn keep_answer(&self, key: CacheKey, answer: Arc<crate::ask::Answer>) {
        if let Some(cache) = &self.answers {
            cache.insert(key, answer).await;
        }
    }

    pub fn invalidate_all(&self) {
        if let Some(cache) = &self.parses {
            cache.invalidate_all();
        }
        if let Some(cache) = &self.answers {
            cache.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_does_not_change_the_key_but_strings_do() {
        assert_eq!(normalize_query("{ a\n   b, c }"), "{ a b c }");
        assert_eq!(normalize_query("{ a(x: \"p  q\") }"), "{ a(x: \"p  q\") }");
        assert_eq!(key(1, "admin:", None, "{}", "{ a b }"), key(1, "admin:", None, "{}", "{\n  a\n  b\n}"));
        assert_ne!(key(1, "admin:", None, "{}", "{ a }"), key(2, "admin:", None, "{}", "{ a }"));
        assert_ne!(
            key(1, "manager:Asia", None, "{}", "{ a }"),
            key(1, "manager:Europe", None, "{}", "{ a }")
        );
    }
}

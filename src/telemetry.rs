//! Logs and request tracing: the subscriber every command logs through, and the span each HTTP
//! request runs in. The span carries a request id, which every event inside it (the audit line
//! among them) is logged with and which the response returns as `x-request-id`, so that a
//! client's report of a failed request leads to its log lines.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client.
const MAX_INCOMING_ID: usize = 64;

/// Logs to standard error at the level `RUST_LOG` sets (default `info`).
pub fn init_subscriber() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
}

/// The id of a request: the caller's own `x-request-id` when it is a plain token (up to 64
/// letters, digits, `-`, `_` or `.`, as a gateway in front passes it on), otherwise a fresh
/// random one, so that nothing a client sends can forge or garble a log line.
pub fn request_id(incoming: Option<&HeaderValue>) -> String {
    let plain = |id: &&str| {
        !id.is_empty()
            && id.len() <= MAX_INCOMING_ID
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if let Some(id) = incoming.and_then(|value| value.to_str().ok()).filter(plain) {
        return id.to_string();
    }
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source is no reason to refuse a request: time and a counter stay unique here.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes[..8].copy_from_slice(&(nanos.as_nanos() as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    }
    hex::encode(bytes)
}

tokio::task_local! {
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request this task serves ("-" outside one): the audit line states it itself,
/// so that it stays there even where a log filter leaves the request span out.
pub fn current_request_id() -> String {
    CURRENT_REQUEST_ID.try_with(String::clone).unwrap_or_else(|_| "-".to_string())
}

/// Middleware: runs the request in a `request` span (id, method, path) and returns the id.
pub async fn request_span(request: Request, next: Next) -> Response {
    let id = request_id(request.headers().get(&REQUEST_ID));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = CURRENT_REQUEST_ID.scope(id.clone(), next.run(request)).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_incoming_ids_are_kept_and_others_replaced() {
        let keep = HeaderValue::from_static("gw-1234.abc_DEF");
        assert_eq!(request_id(Some(&keep)), "gw-1234.abc_DEF");
        for odd in ["", "a b", "id\"=x", "ünï", &"x".repeat(65)] {
            let value = HeaderValue::from_str(odd).unwrap_or(HeaderValue::from_static("bad value"));
            let id = request_id(Some(&value));
            assert_eq!(id.len(), 32, "{odd:?} -> {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        assert_ne!(request_id(None), request_id(None));
    }
}

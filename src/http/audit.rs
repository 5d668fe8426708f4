//! The audit trail: one `audit` log event per request with who asked (subject, role, regions),
//! which operation, how it ended, and the request's id (its `x-request-id`). Never the token,
//! the query text or its variables.

use axum::http::StatusCode;

use crate::auth::{AuthError, Viewer};

/// The distinct `extensions.code`s of a response's errors, in order of first appearance.
pub fn error_codes(response: &async_graphql::Response) -> Vec<&str> {
    let mut codes: Vec<&str> = Vec::new();
    for error in &response.errors {
        let code = crate::graphql::error::code_of(error).unwrap_or("UNKNOWN");
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// "ok", or "errors: FORBIDDEN, BAD_USER_INPUT".
pub fn outcome(codes: &[&str]) -> String {
    if codes.is_empty() { "ok".to_string() } else { format!("errors: {}", codes.join(", ")) }
}

pub fn answered(viewer: &Viewer, operation: Option<&str>, status: StatusCode, codes: &[&str], cached: bool) {
    close_operation_span(status, codes, cached);
    tracing::info!(
        target: "audit",
        request_id = %crate::telemetry::current_request_id(),
        subject = %viewer.subject,
        role = %viewer.role,
        regions = %viewer.regions.join(","),
        operation = operation.unwrap_or("-"),
        status = status.as_u16(),
        outcome = %outcome(codes),
        cached,
        "graphql request"
    );
}

/// States the outcome on the operation's trace span, when one is being exported: the error codes
/// and the HTTP status, never a message (messages may quote what the client sent).
fn close_operation_span(status: StatusCode, codes: &[&str], cached: bool) {
    if !crate::telemetry::otlp::exporting() {
        return;
    }
    let span = tracing::Span::current();
    span.record("http.response.status_code", status.as_u16());
    span.record("salesgraph.cache", if cached { "hit" } else { "miss" });
    if codes.is_empty() && !status.is_client_error() && !status.is_server_error() {
        span.record("otel.status_code", "OK");
    } else {
        span.record("otel.status_code", "ERROR");
        span.record("graphql.error.codes", codes.join(","));
    }
}

pub fn unauthenticated(error: &AuthError) {
    tracing::info!(
        target: "audit",
        request_id = %crate::telemetry::current_request_id(),
        status = 401,
        outcome = "UNAUTHENTICATED",
        reason = %error,
        "graphql request refused"
    );
}

pub fn rate_limited(viewer: &Viewer) {
    tracing::info!(
        target: "audit",
        request_id = %crate::telemetry::current_request_id(),
        subject = %viewer.subject,
        role = %viewer.role,
        status = 429,
        outcome = "RATE_LIMITED",
        "graphql request refused"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_name_the_codes() {
        assert_eq!(outcome(&[]), "ok");
        assert_eq!(outcome(&["FORBIDDEN", "BAD_USER_INPUT"]), "errors: FORBIDDEN, BAD_USER_INPUT");
    }
}

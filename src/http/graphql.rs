//! The GraphQL endpoint: authentication, the response cache, limits and error codes around
//! async-graphql's execution.

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::HttpState;
use crate::auth::{AuthError, Viewer};
use crate::cache;
use crate::graphql::error::ensure_codes;
use crate::graphql::loaders;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains(GRAPHQL_RESPONSE))
}

fn authenticate(state: &HttpState, headers: &HeaderMap) -> Result<Viewer, AuthError> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    state.app.tokens.verify_header(header)
}

/// 401 with a GraphQL error and no data.
fn unauthorized(error: AuthError) -> Response {
    let mut response = error_response(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &error.to_string());
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

pub async fn post(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("request body over {} bytes", state.app.settings.max_body_bytes),
            );
        }
        Err(rejection) => {
            return error_response(rejection.status(), "BAD_USER_INPUT", &rejection.body_text());
        }
    };
    let viewer = match authenticate(&state, &headers) {
        Ok(viewer) => viewer,
        Err(error) => return unauthorized(error),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("body is not a GraphQL request: {e}"),
            );
        }
    };
    execute(&state, viewer, request, wants_graphql_response(&headers), true).await
}

pub async fn get(State(state): State<HttpState>, headers: HeaderMap, uri: Uri) -> Response {
    let accepts_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if accepts_html && uri.query().is_none_or(|q| !q.contains("query=")) {
        return Html(GraphiQLSource::build().endpoint("/graphql").title("salesgraph").finish())
            .into_response();
    }
    let viewer = match authenticate(&state, &headers) {
        Ok(viewer) => viewer,
        Err(error) => return unauthorized(error),
    };
    let request = match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
        Ok(request) => request,
        Err(e) => {
            return error_response(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &format!("bad GET query: {e}"));
        }
    };
    execute(&state, viewer, request, wants_graphql_response(&headers), false).await
}

fn only_queries(query: &str) -> Option<bool> {
    let document = async_graphql::parser::parse_query(query).ok()?;
    Some(document.operations.iter().all(|(_, op)| op.node.ty == OperationType::Query))
}

async fn execute(
    state: &HttpState,
    viewer: Viewer,
    request: async_graphql::Request,
    graphql_media_type: bool,
    mutations_allowed: bool,
) -> Response {
    let app = &state.app;
    let content_type = if graphql_media_type { GRAPHQL_RESPONSE } else { "application/json" };
    let cache_key = app.cache.enabled().then(|| {
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        cache::key(
            app.snapshot().version,
            &viewer.scope_key(),
            request.operation_name.as_deref(),
            &variables,
            &request.query,
        )
    });
    if let Some(key) = &cache_key
        && let Some(body) = app.cache.get(key).await
    {
        app.metrics.cache_hits.inc();
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type), (header::HeaderName::from_static("x-cache"), "hit")],
            body,
        )
            .into_response();
    }
    let queries_only = only_queries(&request.query);
    if !mutations_allowed && queries_only == Some(false) {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "mutations must be sent with POST",
        );
    }
    let request = request
        .data(app.clone())
        .data(viewer)
        .data(loaders::models(app.store.clone()))
        .data(loaders::countries(app.store.clone()));
    let timeout = app.settings.request_timeout;
    let mut response = match tokio::time::timeout(timeout, state.schema.execute(request)).await {
        Ok(response) => response,
        Err(_) => {
            return error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "TIMEOUT",
                &format!("the request took longer than {}", humantime::format_duration(timeout)),
            );
        }
    };
    ensure_codes(&mut response);
    let failed_before_execution = response.data == async_graphql::Value::Null && response.is_err();
    let body = match serde_json::to_vec(&response) {
        Ok(body) => Bytes::from(body),
        Err(e) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                &format!("cannot encode the response: {e}"),
            );
        }
    };
    if let Some(key) = cache_key
        && queries_only == Some(true)
        && response.errors.is_empty()
    {
        app.metrics.cache_misses.inc();
        app.cache.insert(key, body.clone()).await;
    }
    let status =
        if graphql_media_type && failed_before_execution { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (
        status,
        [(header::CONTENT_TYPE, content_type), (header::HeaderName::from_static("x-cache"), "miss")],
        body,
    )
        .into_response()
}

//! The GraphQL endpoint: authentication, the response cache, limits and error codes around
//! async-graphql's execution.

use super::parsed::NotParsed;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::HttpState;
use super::audit;
use crate::access::RequestAccess;
use crate::auth::{AuthError, Viewer};
use crate::cache;
use crate::graphql::error::ensure_codes;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    error_response_as(status, code, message, "application/json")
}

/// A GraphQL error without data, in the media type the client asked for.
fn error_response_as(status: StatusCode, code: &str, message: &str, content_type: &'static str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, [(header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
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
    audit::unauthenticated(&error);
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
    // Only JSON bodies: a form or text/plain POST is what a browser sends cross-site without
    // a preflight, so refusing them closes the CSRF door too.
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_body {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send the request as JSON with `Content-Type: application/json`",
        );
    }
    let viewer = match authenticate(&state, &headers) {
        Ok(viewer) => viewer,
        Err(error) => return unauthorized(error),
    };
    if let Some(response) = over_rate_limit(&state, &viewer) {
        return response;
    }
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
    let transport = Transport { graphql_media_type: wants_graphql_response(&headers), get: None };
    execute(&state, viewer, request, transport).await
}

pub async fn get(State(state): State<HttpState>, headers: HeaderMap, uri: Uri) -> Response {
    let accepts_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let asks_something = uri.query().is_some_and(|q| q.contains("query=") || q.contains("extensions="));
    if accepts_html && !asks_something {
        return super::graphiql::page(State(state)).await.into_response();
    }
    let viewer = match authenticate(&state, &headers) {
        Ok(viewer) => viewer,
        Err(error) => return unauthorized(error),
    };
    if let Some(response) = over_rate_limit(&state, &viewer) {
        return response;
    }
    let request = match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
        Ok(request) => request,
        Err(e) => {
            return error_response(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &format!("bad GET query: {e}"));
        }
    };
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    let transport =
        Transport { graphql_media_type: wants_graphql_response(&headers), get: Some(if_none_match) };
    execute(&state, viewer, request, transport).await
}

/// How the request came: the response media type, and for GET the client's cached ETag.
struct Transport {
    graphql_media_type: bool,
    /// `Some` for GET (mutations refused, ETags given), holding `If-None-Match`.
    get: Option<Option<String>>,
}

/// The ETag of a GET answer: the cache key (data version, viewer scope, normalized request).
fn etag_of(key: &cache::CacheKey) -> String {
    format!("\"{}\"", hex::encode(&key[..16]))
}

fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
}

/// The headers that let a browser or BI tool reuse a GET answer for this viewer only.
fn cache_headers(response: &mut Response, etag: &str, max_age: std::time::Duration) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("private, max-age={}", max_age.as_secs())) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
}

/// 429 with `RATE_LIMITED` and `Retry-After` when the subject's bucket is empty.
fn over_rate_limit(state: &HttpState, viewer: &Viewer) -> Option<Response> {
    let Err(wait) = state.app.rate_limiter.check(&viewer.subject) else { return None };
    audit::rate_limited(viewer);
    let limit = state.app.settings.rate_limit;
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        &format!(
            "more than {limit} requests per second from \"{}\": retry in {} ms",
            viewer.subject,
            wait.as_millis()
        ),
    );
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(response)
}

/// What the parsed document says before any validation: whether it only reads, or why it is
/// refused. A document that does not parse is left to the schema, which names the error.
fn inspect(
    parsed: &super::parsed::ParsedQueries,
    request: &mut async_graphql::Request,
    max_fields: usize,
    introspection: bool,
) -> Result<Option<bool>, (&'static str, String)> {
    let too_many_written = |written: usize| {
        ("QUERY_TOO_COMPLEX", format!("the query selects {written} fields: at most {max_fields} are allowed"))
    };
    let query = match parsed.get(&request.query, max_fields) {
        Ok(query) => query,
        Err(NotParsed::TooManyFields(written)) => return Err(too_many_written(written)),
        Err(NotParsed::Invalid) => return Ok(None),
    };
    if query.written_fields > max_fields {
        return Err(too_many_written(query.written_fields));
    }
    if !introspection && query.asks_for_introspection {
        return Err((
            "BAD_USER_INPUT",
            "introspection is switched off on this server (SALESGRAPH_INTROSPECTION=off)".to_string(),
        ));
    }
    let expanded = query.expanded_fields;
    if expanded > max_fields as u64 {
        let count = if expanded == u64::MAX { "more than 2^64".to_string() } else { expanded.to_string() };
        return Err((
            "QUERY_TOO_COMPLEX",
            format!(
                "the query resolves {count} fields once aliases and fragments are expanded: at most {max_fields} are allowed"
            ),
        ));
    }
    // The schema executes this copy rather than parsing the text again.
    request.set_parsed_query(query.document.clone());
    Ok(Some(query.queries_only))
}

async fn execute(
    state: &HttpState,
    viewer: Viewer,
    mut request: async_graphql::Request,
    transport: Transport,
) -> Response {
    let app = &state.app;
    let graphql_media_type = transport.graphql_media_type;
    let access = RequestAccess::new(viewer, app.policy.current());
    let operation = request.operation_name.clone();
    let content_type = if graphql_media_type { GRAPHQL_RESPONSE } else { "application/json" };
    if let Err(error) = app.persisted.resolve(&mut request, access.viewer.role).await {
        let code = error.code();
        let status = match code {
            "PERSISTED_QUERY_NOT_FOUND" => StatusCode::OK,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        audit::answered(&access.viewer, operation.as_deref(), status, &[code], false);
        return error_response_as(status, code, &error.to_string(), content_type);
    }
    let key = {
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        cache::key(
            app.snapshot().version,
            &access.scope_key(),
            request.operation_name.as_deref(),
            &variables,
            &request.query,
        )
    };
    let etag = transport.get.as_ref().map(|_| etag_of(&key));
    if let (Some(etag), Some(Some(if_none_match))) = (&etag, &transport.get)
        && matches_etag(if_none_match, etag)
    {
        audit::answered(&access.viewer, operation.as_deref(), StatusCode::NOT_MODIFIED, &[], true);
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(&mut response, etag, app.settings.http_max_age);
        return response;
    }
    let cache_key = app.cache.enabled().then_some(key);
    if let Some(key) = &cache_key
        && let Some(body) = app.cache.get(key).await
    {
        app.metrics.cache_hits.inc();
        audit::answered(&access.viewer, operation.as_deref(), StatusCode::OK, &[], true);
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type), (header::HeaderName::from_static("x-cache"), "hit")],
            body,
        )
            .into_response();
        if let Some(etag) = &etag {
            cache_headers(&mut response, etag, app.settings.http_max_age);
        }
        return response;
    }
    let queries_only =
        match inspect(&state.parsed, &mut request, app.settings.max_complexity, app.settings.introspection) {
            Ok(queries_only) => queries_only,
            Err((code, message)) => {
                // The GraphQL-over-HTTP rule for a request that fails before execution.
                let status = if graphql_media_type { StatusCode::BAD_REQUEST } else { StatusCode::OK };
                audit::answered(&access.viewer, operation.as_deref(), status, &[code], false);
                return error_response_as(status, code, &message, content_type);
            }
        };
    if transport.get.is_some() && queries_only == Some(false) {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "mutations must be sent with POST",
        );
    }
    let viewer = access.viewer.clone();
    let request = crate::graphql::request_data(request, app, access).data(state.schema.clone());
    let timeout = app.settings.request_timeout;
    let mut response = match tokio::time::timeout(timeout, state.schema.execute(request)).await {
        Ok(response) => response,
        Err(_) => {
            audit::answered(&viewer, operation.as_deref(), StatusCode::GATEWAY_TIMEOUT, &["TIMEOUT"], false);
            return error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "TIMEOUT",
                &format!("the request took longer than {}", humantime::format_duration(timeout)),
            );
        }
    };
    ensure_codes(&mut response);
    // A request that never reached execution (parse or validation errors, none with a path)
    // has no `data` entry at all, as GraphQL over HTTP says.
    let failed_before_execution = response.data == async_graphql::Value::Null
        && response.is_err()
        && response.errors.iter().all(|e| e.path.is_empty());
    // Straight to bytes, in the order the query selected; only an answer without `data` takes
    // the detour through a JSON value (building one cost as much as writing the bytes).
    let encoded = if failed_before_execution {
        serde_json::to_value(&response).and_then(|mut value| {
            if let Some(object) = value.as_object_mut() {
                object.remove("data");
            }
            serde_json::to_vec(&value)
        })
    } else {
        serde_json::to_vec(&response)
    };
    let body = match encoded {
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
    audit::answered(&viewer, operation.as_deref(), status, &audit::error_codes(&response), false);
    let cacheable = response.errors.is_empty();
    let mut http_response = (
        status,
        [(header::CONTENT_TYPE, content_type), (header::HeaderName::from_static("x-cache"), "miss")],
        body,
    )
        .into_response();
    if let Some(etag) = etag.filter(|_| cacheable) {
        cache_headers(&mut http_response, &etag, app.settings.http_max_age);
    }
    http_response
}

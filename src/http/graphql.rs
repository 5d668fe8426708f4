//! The GraphQL endpoint: authentication, the response cache, limits and error codes around
//! async-graphql's execution.

use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::HttpState;
use super::audit;
use crate::access::RequestAccess;
use crate::auth::{AuthError, Viewer};
use crate::cache;
use crate::export::ExportFormat;
use crate::graphql::error::ensure_codes;
use crate::graphql::parsed::{NotParsed, ParsedQueries};

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

fn wants_cost(headers: &HeaderMap) -> bool {
    crate::graphql::cost::asks_for_cost(
        headers.get(crate::graphql::cost::COST_HEADER).and_then(|v| v.to_str().ok()),
    )
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

/// The request's body, read within the body deadline and the size limit.
async fn read_body(state: &HttpState, body: axum::body::Body) -> Result<Bytes, Response> {
    let settings = &state.app.settings;
    let limit = settings.max_body_bytes;
    match tokio::time::timeout(settings.body_read_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            // axum wraps http-body-util's LengthLimitError; its text is the stable part.
            let too_large = format!("{error} {error:?}").contains("length limit exceeded")
                || format!("{error:?}").contains("LengthLimitError");
            Err(if too_large {
                error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    &format!("request body over {limit} bytes"),
                )
            } else {
                error_response(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    &format!("cannot read the request body: {error}"),
                )
            })
        }
        Err(_) => {
            let mut response = error_response(
                StatusCode::REQUEST_TIMEOUT,
                "TIMEOUT",
                &format!(
                    "the request body did not arrive within {} (SALESGRAPH_BODY_READ_TIMEOUT)",
                    humantime::format_duration(settings.body_read_timeout)
                ),
            );
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(response)
        }
    }
}

pub async fn post(
    State(state): State<HttpState>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let export = match export_format(&headers, &uri) {
        Ok(export) => export,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message),
    };
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => return response,
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
    let transport = Transport {
        graphql_media_type: wants_graphql_response(&headers),
        get: None,
        cost: wants_cost(&headers),
        export,
    };
    execute(&state, viewer, request, transport).await
}

pub async fn get(State(state): State<HttpState>, headers: HeaderMap, uri: Uri) -> Response {
    let accepts_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let asks_something = uri.query().is_some_and(|q| q.contains("query=") || q.contains("extensions="));
    if accepts_html && !asks_something {
        return super::graphiql::page(State(state)).await.into_response();
    }
    let export = match export_format(&headers, &uri) {
        Ok(export) => export,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message),
    };
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
    let transport = Transport {
        graphql_media_type: wants_graphql_response(&headers),
        get: Some(if_none_match),
        cost: wants_cost(&headers),
        export,
    };
    execute(&state, viewer, request, transport).await
}

/// async-graphql's messages that say too little: depth and complexity errors name neither the
/// limit nor its setting, and an `_entities` representation it cannot match says only "Entity
/// not found.".
fn explain_engine_errors(response: &mut async_graphql::Response, settings: &crate::config::ServeSettings) {
    for error in &mut response.errors {
        if error.message == "Query is too complex." {
            error.message = format!(
                "the query is more complex than the limit of {} (SALESGRAPH_MAX_COMPLEXITY): each field counts 1, a list field its page size or limit",
                settings.max_complexity
            );
        } else if error.message == "Entity not found." {
            error.message = "a representation in `_entities` matches no entity of this subgraph: salesgraph resolves `CarModel` by `id` or by `name` and `Country` by `code`, each representation with its `__typename`".to_string();
        } else if error.message == "Query is nested too deep." {
            error.message = format!(
                "the query nests selections deeper than the limit of {} (SALESGRAPH_MAX_DEPTH)",
                settings.max_depth
            );
        }
    }
}

/// How the request came: the response media type, and for GET the client's cached ETag.
struct Transport {
    graphql_media_type: bool,
    /// `Some` for GET (mutations refused, ETags given), holding `If-None-Match`.
    get: Option<Option<String>>,
    /// The client asked for `extensions.cost`: the answer is computed, never taken from (or
    /// put into) the response cache, whose answers carry no cost.
    cost: bool,
    /// The answer goes out as a table ([`crate::export`]) rather than JSON.
    export: Option<ExportFormat>,
}

/// The table format a request asks for: its `format=` parameter (`csv`, `parquet`, `json`),
/// else its `Accept` header. A `format=` salesgraph does not write is refused, named.
fn export_format(headers: &HeaderMap, uri: &Uri) -> Result<Option<ExportFormat>, String> {
    let named = uri.query().into_iter().flat_map(|query| query.split('&')).find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "format").then(|| value.to_string())
    });
    if let Some(name) = named {
        return match ExportFormat::named(&name) {
            Some(format) => Ok(Some(format)),
            None if name.eq_ignore_ascii_case("json") => Ok(None),
            None => Err(format!(
                "`format={name}` is not a format salesgraph answers in: use csv, parquet or json"
            )),
        };
    }
    Ok(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).and_then(ExportFormat::accepted))
}

/// A JSON answer turned into the table the client asked for. Answers with errors stay JSON,
/// with their codes, so that a refused field never turns into a table without it.
async fn exported(response: Response, format: ExportFormat) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "cannot read the answer to export it",
        );
    };
    let data = match crate::export::data_of(&bytes) {
        Ok(Some(data)) => data,
        Ok(None) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
        Err(e) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                &format!("cannot export the answer: {e}"),
            );
        }
    };
    let written = crate::export::table(&data).and_then(|mut table| {
        let bytes = crate::export::write(&mut table, format)?;
        Ok((table.name, bytes))
    });
    let (name, table) = match written {
        Ok(written) => written,
        Err(error @ crate::export::ExportError::NoList) => {
            return error_response(StatusCode::NOT_ACCEPTABLE, "BAD_USER_INPUT", &error.to_string());
        }
        Err(error) => {
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", &error.to_string());
        }
    };
    parts.headers.remove(header::ETAG);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    parts.headers.append(header::VARY, HeaderValue::from_static("Authorization, Accept"));
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("inline; filename=\"{name}.{}\"", format.extension()))
    {
        parts.headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Response::from_parts(parts, axum::body::Body::from(table))
}

/// The ETag of a GET answer: the cache key (data version, viewer scope, normalized request)
/// and the subject, since an answer may hold per-viewer values (`me`).
fn etag_of(key: &cache::CacheKey, subject: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(key);
    hasher.update(subject.as_bytes());
    format!("\"{}\"", hex::encode(&hasher.finalize()[..16]))
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
    // One URL answers JSON or a table, by `Accept`.
    headers.insert(header::VARY, HeaderValue::from_static("Authorization, Accept"));
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
    parsed: &ParsedQueries,
    request: &mut async_graphql::Request,
    max_fields: usize,
    introspection: bool,
) -> Result<Option<Inspected>, (&'static str, String)> {
    let too_many_written = |written: usize| {
        ("QUERY_TOO_COMPLEX", format!("the query selects {written} fields: at most {max_fields} are allowed"))
    };
    let query = match parsed.get(&request.query, max_fields) {
        Ok(query) => query,
        Err(NotParsed::TooManyFields(written)) => return Err(too_many_written(written)),
        Err(NotParsed::Invalid) => return Ok(None),
        Err(NotParsed::TooDeep(message)) => return Err(("BAD_USER_INPUT", message)),
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
    let operation = query
        .operation(request.operation_name.as_deref())
        .map(|(kind, name)| (kind, name.map(str::to_string)));
    Ok(Some(Inspected {
        queries_only: query.queries_only,
        reads_the_viewer: query.reads_the_viewer,
        operation,
    }))
}

/// What [`inspect`] learnt of a document that parsed.
struct Inspected {
    queries_only: bool,
    reads_the_viewer: bool,
    /// The type and name of the operation the request runs, when the document has it.
    operation: Option<(OperationType, Option<String>)>,
}

/// Runs one operation in its trace span (created only while traces are exported): named by the
/// operation once its document is read, and closed with the outcome the audit line states.
async fn execute(
    state: &HttpState,
    viewer: Viewer,
    request: async_graphql::Request,
    transport: Transport,
) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!(
        target: crate::telemetry::TRACE_TARGET,
        "graphql.operation",
        otel.name = "GraphQL Operation",
        graphql.operation.name = tracing::field::Empty,
        graphql.operation.type = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        graphql.error.codes = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        salesgraph.cache = tracing::field::Empty,
    );
    let export = transport.export;
    let response = execute_operation(state, viewer, request, transport).instrument(span).await;
    match export {
        Some(format) => exported(response, format).await,
        None => response,
    }
}

/// Names the current operation span by the operation's type and name, as OpenTelemetry's
/// GraphQL conventions do ("query TopModels").
fn name_operation_span(kind: OperationType, name: Option<&str>) {
    if !crate::telemetry::otlp::exporting() {
        return;
    }
    let span = tracing::Span::current();
    let kind = match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    span.record("graphql.operation.type", kind);
    if let Some(name) = name {
        span.record("graphql.operation.name", name);
    }
    // The exported span has started by now (its children need its id), and a started span
    // takes a new name only through OpenTelemetry's own API.
    let named = name.map_or_else(|| kind.to_string(), |name| format!("{kind} {name}"));
    use opentelemetry::trace::TraceContextExt;
    tracing_opentelemetry::OpenTelemetrySpanExt::context(&span).span().update_name(named);
}

async fn execute_operation(
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
    // Tables carry no ETag: one URL answers JSON and tables, by `Accept`.
    let etag = transport
        .get
        .as_ref()
        .filter(|_| !transport.cost && transport.export.is_none())
        .map(|_| etag_of(&key, &access.viewer.subject));
    if let (Some(etag), Some(Some(if_none_match))) = (&etag, &transport.get)
        && matches_etag(if_none_match, etag)
    {
        audit::answered(&access.viewer, operation.as_deref(), StatusCode::NOT_MODIFIED, &[], true);
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(&mut response, etag, app.settings.http_max_age);
        return response;
    }
    let cache_key = (app.cache.enabled() && !transport.cost).then_some(key);
    if let Some(key) = &cache_key
        && let Some(body) = app.cache.get(key).await
    {
        // Only queries are cached.
        name_operation_span(OperationType::Query, operation.as_deref());
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
    let inspected =
        match inspect(&state.parsed, &mut request, app.settings.max_complexity, app.settings.introspection) {
            Ok(inspected) => inspected,
            Err((code, message)) => {
                // The GraphQL-over-HTTP rule for a request that fails before execution.
                let status = if graphql_media_type { StatusCode::BAD_REQUEST } else { StatusCode::OK };
                audit::answered(&access.viewer, operation.as_deref(), status, &[code], false);
                return error_response_as(status, code, &message, content_type);
            }
        };
    if let Some((kind, name)) = inspected.as_ref().and_then(|i| i.operation.as_ref()) {
        name_operation_span(*kind, name.as_deref());
    }
    let queries_only = inspected.as_ref().map(|i| i.queries_only);
    // Answers that differ between viewers of one scope (`me`) are not shared through the cache.
    let shareable = inspected.as_ref().is_some_and(|i| i.queries_only && !i.reads_the_viewer);
    if transport.get.is_some() && queries_only == Some(false) {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "mutations must be sent with POST",
        );
    }
    let viewer = access.viewer.clone();
    let mut request = crate::graphql::request_data(request, app, access).data(state.schema.clone());
    if transport.cost {
        request = request.data(crate::graphql::cost::CostRequested);
    }
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
    explain_engine_errors(&mut response, &app.settings);
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
        && shareable
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

//! HTTP: the router, the GraphQL endpoint, health and metrics.

mod audit;
pub mod connections;
mod dashboard;
pub mod graphiql;
mod graphql;
mod health;
pub mod persisted;
pub mod rate_limit;
mod subscriptions;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::app::AppContext;
use crate::graphql::AppSchema;
use crate::graphql::parsed::ParsedQueries;
use crate::metrics::{PathLabels, RequestLabels};

/// What every handler shares, behind one `Arc`: axum clones the state for the handler and for
/// each middleware that takes it, on every request, and one reference count is cheaper than a
/// handful that both cores contend for (their clones and drops were a twentieth of a cached
/// answer's time).
#[derive(Clone)]
pub struct HttpState(Arc<SharedState>);

pub struct SharedState {
    pub app: Arc<AppContext>,
    pub schema: AppSchema,
    pub parsed: ParsedQueries,
}

impl HttpState {
    pub fn new(app: Arc<AppContext>, schema: AppSchema) -> Self {
        Self(Arc::new(SharedState { app, schema, parsed: ParsedQueries::default() }))
    }
}

impl std::ops::Deref for HttpState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

pub fn router(state: HttpState) -> Router {
    let origins = state.app.settings.cors_origins.clone();
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{name}", get(graphiql::asset))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/assets/{name}", get(dashboard::asset))
        .route("/dashboard/dev-tokens", get(dashboard::dev_tokens))
        .route("/graphql/ws", get(subscriptions::upgrade))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(cors(&origins))
        .layer(middleware::from_fn_with_state(state.clone(), refuse_foreign_origins))
        .layer(middleware::from_fn_with_state(state.clone(), dev_mode_loopback_only))
        .layer(CompressionLayer::new())
        // Outermost: every refusal and every log line of a request carries its id.
        .layer(middleware::from_fn(crate::telemetry::request_span))
        .with_state(state)
}

/// CORS for the configured origins only (none by default: no browser page elsewhere may call).
fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static(crate::graphql::cost::COST_HEADER),
        ])
        .expose_headers([header::ETAG, crate::telemetry::REQUEST_ID])
        .max_age(std::time::Duration::from_secs(600))
}

/// A request a browser sent from another site's page, from an origin not configured, is
/// refused before it reaches anything: same-origin pages (the dashboard) and non-browser
/// clients, which send no `Origin`, pass.
async fn refuse_foreign_origins(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin {
        let same_site = host.is_some_and(|host| {
            origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
        });
        let configured = state.app.settings.cors_origins.iter().any(|o| o.trim() == origin);
        if !same_site && !configured {
            let body = serde_json::json!({ "errors": [{
                "message": format!("origin {origin} is not allowed (SALESGRAPH_CORS_ORIGINS)"),
                "extensions": { "code": "FORBIDDEN" }
            }] });
            return (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "application/json")], body.to_string())
                .into_response();
        }
    }
    next.run(request).await
}

/// Whether a `Host` header names this machine: `localhost` (or a name under it), a 127.x
/// address or `[::1]`, with any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host
            .rsplit_once(':')
            .map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "::1"
        || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Dev mode hands out tokens to whoever asks (the dashboard's sign-in, GraphiQL): it answers
/// only requests addressed to this machine, so that a web page elsewhere cannot reach it by
/// pointing a name of its own at 127.0.0.1 (DNS rebinding).
async fn dev_mode_loopback_only(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    if state.app.tokens.dev_mode {
        let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !is_loopback_host(host) {
            let body = serde_json::json!({ "errors": [{
                "message": format!(
                    "in dev mode (no SALESGRAPH_JWT_SECRET) salesgraph answers only requests to localhost, not to Host \"{host}\""
                ),
                "extensions": { "code": "FORBIDDEN" }
            }] });
            return (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "application/json")], body.to_string())
                .into_response();
        }
    }
    next.run(request).await
}

/// Counts requests and their latency by route and status.
async fn record_metrics(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let metrics = &state.app.metrics;
    metrics
        .requests
        .get_or_create(&RequestLabels { path: path.clone(), status: response.status().as_u16() })
        .inc();
    metrics.latency.get_or_create(&PathLabels { path }).observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_pass_in_dev_mode() {
        for host in
            ["localhost", "localhost:8080", "127.0.0.1:8080", "127.1.2.3", "[::1]:8080", "app.localhost"]
        {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "",
            "10.0.0.1",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}

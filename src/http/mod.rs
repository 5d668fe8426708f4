//! HTTP: the router, the GraphQL endpoint, health and metrics.

mod audit;
mod graphql;
mod health;
pub mod rate_limit;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use crate::app::AppContext;
use crate::graphql::AppSchema;
use crate::metrics::{PathLabels, RequestLabels};

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<AppContext>,
    pub schema: AppSchema,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .with_state(state)
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

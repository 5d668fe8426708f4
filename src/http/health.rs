use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sea_orm::{ConnectionTrait, Statement};

use super::HttpState;
use crate::metrics::PoolLabels;

/// Liveness: the process answers.
pub async fn live() -> &'static str {
    "ok"
}

/// How long readiness waits for the database.
const READY_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers, the data is loaded, and (unless
/// `SALESGRAPH_READY_AFTER_WARMUP=off`) the background passes have finished once. Only the first
/// warm-up counts: after an ingest a replica stays ready while its passes catch up, or every
/// replica would leave the load balancer at once.
pub async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    let app = &state.app;
    let store = &app.store;
    let replica_answers = match store.replica() {
        Some(replica) => answers(replica).await,
        None => true,
    };
    let reachable = answers(&store.db).await && replica_answers;
    let version = app.snapshot().version;
    let warming = if app.settings.ready_after_warmup { app.warming_up() } else { Vec::new() };
    let reason = if !reachable {
        "database unreachable".to_string()
    } else if version <= 0 {
        "data not loaded".to_string()
    } else if !warming.is_empty() {
        format!("warming up: {}", warming.join(", "))
    } else {
        return (StatusCode::OK, format!("{{\"status\":\"ready\",\"dataVersion\":{version}}}"));
    };
    let body = serde_json::json!({ "status": "not ready", "reason": reason });
    (StatusCode::SERVICE_UNAVAILABLE, body.to_string())
}

/// Whether `db` answers a trivial query within the probe's time. A database that is gone makes
/// the pool wait for a connection: answer the probe in time instead of hanging until the pool
/// gives up.
async fn answers(db: &sea_orm::DatabaseConnection) -> bool {
    let probe = db.query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT 1"));
    matches!(tokio::time::timeout(READY_PROBE_TIMEOUT, probe).await, Ok(Ok(_)))
}

/// Prometheus text format.
pub async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let metrics = &state.app.metrics;
    let db = &state.app.store.db;
    let (size, idle) = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
    };
    metrics.db_pool.get_or_create(&PoolLabels { state: "idle".into() }).set(i64::from(idle));
    metrics
        .db_pool
        .get_or_create(&PoolLabels { state: "active".into() })
        .set(i64::from(size.saturating_sub(idle)));
    ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.render())
}

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

/// Readiness: the database answers and the data is loaded.
pub async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    let store = &state.app.store;
    let replica_answers = match store.replica() {
        Some(replica) => answers(replica).await,
        None => true,
    };
    let reachable = answers(&store.db).await && replica_answers;
    let version = state.app.snapshot().version;
    if reachable && version > 0 {
        (StatusCode::OK, format!("{{\"status\":\"ready\",\"dataVersion\":{version}}}"))
    } else {
        let reason = if reachable { "data not loaded" } else { "database unreachable" };
        (StatusCode::SERVICE_UNAVAILABLE, format!("{{\"status\":\"not ready\",\"reason\":\"{reason}\"}}"))
    }
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

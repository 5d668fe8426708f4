//! The GraphQL API against a real server on an ephemeral port, on SQLite or PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod analytics;
mod auth;
mod cache;
mod pagination;
mod planning;
mod schema;
mod summary;

use common::{TestDb, TestServer, date};
use salesgraph::store::seed::SeedOptions;

/// A small seeded data set shared in shape by the API tests: 2023-01 to 2024-06.
pub async fn seeded_server(rows: u64) -> TestServer {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows,
        seed: 11,
        from: date(2023, 1, 1),
        until: date(2024, 6, 30),
        seasonal: true,
    })
    .await;
    TestServer::start(db).await
}

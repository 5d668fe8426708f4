//! The GraphQL API against a real server on an ephemeral port, on SQLite or PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod analytics;
mod ask;
mod auth;
mod cache;
mod clients;
mod compare;
mod dashboard;
mod date_precision;
mod deploy;
mod exports;
mod federation;
mod filter_agreement;
mod fuzz;
mod hardening;
mod limits;
mod outage;
mod pagination;
mod partitions;
mod planning;
mod read_replica;
mod replicas;
mod schema;
mod sql;
mod summary;
mod telemetry;

use common::{TestDb, TestServer, date};
use salesgraph::store::seed::SeedOptions;

/// A small seeded data set shared in shape by the API tests: 2023-01 to 2024-06.
pub async fn seeded_server(rows: u64) -> TestServer {
    TestServer::start(seeded_server_db(rows).await).await
}

/// The database behind [`seeded_server`], for servers started with other settings.
pub async fn seeded_server_db(rows: u64) -> TestDb {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows,
        seed: 11,
        from: date(2023, 1, 1),
        until: date(2024, 6, 30),
        seasonal: true,
    })
    .await;
    db
}

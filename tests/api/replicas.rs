//! Two servers on one database, as replicas run: an import through one reaches the other's
//! in-memory data and cache within a second. On PostgreSQL the second replica's poll is set to
//! ten minutes, so only LISTEN/NOTIFY can bring the news in time.

use std::time::{Duration, Instant};

use sea_orm::DbBackend;
use serde_json::json;

use super::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_through_one_replica_reaches_the_other_within_a_second() {
    let db = super::seeded_server_db(300).await;
    let shared = db.share().await;
    let on_postgres = db.backend() == DbBackend::Postgres;
    let first = TestServer::start(db).await;
    let second = TestServer::start_with(shared, |s| {
        if on_postgres {
            s.refresh_interval = Duration::from_secs(600);
        }
    })
    .await;
    let total = "{ salesSummary(filter: { countries: [\"DE\"] }, groupBy: []) { units } }";
    let units = |data: &serde_json::Value| data["salesSummary"][0]["units"].as_i64().unwrap_or(0);
    let before = units(&second.data(total, json!({})).await);
    // Cached on the second replica now.
    let (_, cache, _) = second.post(Some(&second.admin_token()), total, json!({})).await;
    assert_eq!(cache.as_deref(), Some("hit"));

    first
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": "sold_on,model,country,units\n2024-02-02,X5,DE,9\n" }),
        )
        .await;
    let landed = Instant::now();
    loop {
        let now = units(&second.data(total, json!({})).await);
        if now == before + 9 {
            break;
        }
        assert!(
            landed.elapsed() < Duration::from_secs(1),
            "the second replica still answers {now} (expected {}) a second after the import",
            before + 9
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("the other replica saw the import after {:?}", landed.elapsed());
}

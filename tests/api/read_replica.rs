//! `DATABASE_READ_URL`: request-path reads go to the read replica, ingests and the in-memory
//! data stay on the primary, and the replica's pool refuses writes. The "replica" here is a
//! second database holding other sales, so that every answer shows which side it came from.

use sea_orm::ConnectionTrait;
use serde_json::json;

use super::common::{TestDb, TestServer, date};
use salesgraph::store::seed::SeedOptions;

async fn replica_db() -> TestDb {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 200,
        seed: 5,
        from: date(2019, 1, 1),
        until: date(2019, 12, 31),
        seasonal: true,
    })
    .await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_replica_and_writes_to_the_primary() {
    let primary = super::seeded_server_db(300).await;
    let replica = replica_db().await;
    let replica_url = replica.url.clone();
    // Pages read the table, not the primary's newest rows held in memory.
    let server = TestServer::start_with(primary, |s| {
        s.database_read_url = Some(replica_url.into());
        s.recent_rows_mib = 0;
    })
    .await;
    assert!(server.context.store.replica().is_some());

    // Pages come from the replica (2019), the totals from the primary's in-memory data (2023-24).
    let page = server.data("{ sales(first: 5) { edges { node { soldOn } } } }", json!({})).await;
    let days: Vec<&str> = page["sales"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["soldOn"].as_str())
        .collect();
    assert_eq!(days.len(), 5, "{page}");
    assert!(
        days.iter().all(|day| day.starts_with("2019-")),
        "pages were not read from the replica: {days:?}"
    );
    let status = server.data("{ dataStatus { lastSaleDay } }", json!({})).await;
    let last_day = status["dataStatus"]["lastSaleDay"].as_str().unwrap_or_default();
    assert!(last_day.starts_with("2024-"), "the snapshot must come from the primary: {status}");

    let primary_rows = server.db.scalar_i64("SELECT COUNT(*) FROM sale").await;
    let replica_rows = replica.scalar_i64("SELECT COUNT(*) FROM sale").await;
    let landed = server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": "sold_on,model,country,units\n2024-02-02,X5,DE,9\n" }),
        )
        .await;
    assert_eq!(landed["importSales"]["landed"], true, "{landed}");
    assert_eq!(server.db.scalar_i64("SELECT COUNT(*) FROM sale").await, primary_rows + 1);
    assert_eq!(
        replica.scalar_i64("SELECT COUNT(*) FROM sale").await,
        replica_rows,
        "an import reached the replica"
    );

    // The replica's pool refuses writes, whatever asks it to.
    let refused = server.context.store.read().execute_unprepared("DELETE FROM sale").await;
    assert!(refused.is_err(), "a write went through the read-only pool");
    assert_eq!(replica.scalar_i64("SELECT COUNT(*) FROM sale").await, replica_rows);

    server.wait_until_ready().await;
    let (status, body) = server.get_text("/readyz").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_cannot_serve_stops_the_start_with_a_reason() {
    let primary = TestDb::new().await;
    let other_kind = match primary.backend() {
        sea_orm::DbBackend::Postgres => "sqlite://replica.db".to_string(),
        _ => "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
    };
    let unreachable = match primary.backend() {
        sea_orm::DbBackend::Postgres => "postgres://postgres@127.0.0.1:1/salesgraph".to_string(),
        _ => format!("sqlite://{}", std::env::temp_dir().join("salesgraph-no-such-dir/replica.db").display()),
    };
    for (url, expected) in [(other_kind, "same kind"), (unreachable, "cannot connect")] {
        let settings = salesgraph::config::ServeSettings {
            listen: "127.0.0.1:0".parse().expect("address"),
            no_seed: true,
            warm_forecasts: false,
            database_read_url: Some(url.clone().into()),
            ..Default::default()
        };
        let error = match salesgraph::startup::Application::build(&primary.url, settings).await {
            Ok(_) => panic!("started with DATABASE_READ_URL={url}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("DATABASE_READ_URL") && error.contains(expected), "{url}: {error}");
    }
}

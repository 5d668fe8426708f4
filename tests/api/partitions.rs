//! PostgreSQL keeps `sale` partitioned by month: an ingest creates the partitions of the months
//! it brings (and only those), and a date-range page reads only its months' partitions.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use super::common::TestServer;

fn partition_names(plan: &str) -> std::collections::BTreeSet<String> {
    plan.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| {
            word.len() == "sale_y2024m01".len() && word.starts_with("sale_y") && word[11..].len() == 2
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_get_partitions_as_data_arrives_and_ranges_read_only_theirs() {
    let db = super::seeded_server_db(300).await;
    if db.backend() != DbBackend::Postgres {
        println!("skipped: partitions are PostgreSQL's (set DATABASE_URL to run)");
        return;
    }
    // The seed spans 2023-01 to 2024-06: eighteen months, eighteen partitions.
    let partitions = db
        .rows(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'sale'::regclass ORDER BY 1",
        )
        .await;
    assert_eq!(partitions.len(), 18, "{partitions:?}");
    assert_eq!(partitions.first().map(String::as_str), Some("sale_y2023m01"));
    assert_eq!(partitions.last().map(String::as_str), Some("sale_y2024m06"));
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM ONLY sale").await, 0, "rows outside the partitions");

    // An import into a new month creates its partition; the rows land there and nowhere else.
    let server = TestServer::start(db).await;
    let landed = server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": "sold_on,model,country,units\n2025-03-04,X5,DE,9\n2025-03-20,X3,FR,2\n" }),
        )
        .await;
    assert_eq!(landed["importSales"]["landed"], true, "{landed}");
    assert_eq!(server.db.scalar_i64("SELECT COUNT(*) FROM sale_y2025m03").await, 2);
    assert_eq!(server.db.scalar_i64("SELECT COUNT(*) FROM sale WHERE sold_on >= '2025-03-01'").await, 2);

    // An ingest that rolls back takes its new partitions with it.
    {
        use salesgraph::store::ingest::IngestWriter;
        use sea_orm::TransactionTrait;
        let sale = super::common::plain_sale(super::date(2026, 7, 1));
        let txn = server.db.db.begin().await.expect("transaction");
        let mut writer = IngestWriter::new(&server.db.db);
        writer.write(&txn, vec![sale]).await.expect("write");
        writer.finish(&txn).await.expect("finish");
        let inside = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT COUNT(*) FROM pg_class WHERE relname = 'sale_y2026m07'",
            ))
            .await
            .expect("count")
            .and_then(|row| row.try_get_by_index::<i64>(0).ok());
        assert_eq!(inside, Some(1), "the ingest did not create its month's partition");
        txn.rollback().await.expect("rollback");
        writer.close().await;
    }
    assert_eq!(
        server.db.scalar_i64("SELECT COUNT(*) FROM pg_class WHERE relname = 'sale_y2026m07'").await,
        0
    );

    // A page over two days of one month is planned over that month's partition alone.
    use salesgraph::domain::ResolvedFilter;
    use salesgraph::store::sales::{Direction, page_statement};
    let filter = ResolvedFilter {
        from: Some(super::date(2024, 2, 10)),
        to: Some(super::date(2024, 2, 11)),
        ..ResolvedFilter::default()
    };
    let page = page_statement(DbBackend::Postgres, &filter, Direction::Forward, None, 50);
    let explain = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN {}", page.sql),
        page.values.map(|v| v.0).unwrap_or_default(),
    );
    let plan: Vec<String> = server
        .db
        .db
        .query_all_raw(explain)
        .await
        .expect("explain")
        .iter()
        .map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap_or_default())
        .collect();
    let plan = plan.join("\n");
    assert_eq!(
        partition_names(&plan).into_iter().collect::<Vec<_>>(),
        vec!["sale_y2024m02".to_string()],
        "the page reads other months:\n{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_partitioning_is_converted_whole() {
    use migration::{Migrator, MigratorTrait};
    let db = super::seeded_server_db(200).await;
    if db.backend() != DbBackend::Postgres {
        println!("skipped: partitions are PostgreSQL's (set DATABASE_URL to run)");
        return;
    }
    // Back to one plain table, as a database made before this migration had it (the later
    // migrations undone on the way).
    Migrator::down(&db.db, Some(3)).await.expect("migrate down");
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'sale'::regclass").await, 0);
    let before = db.checksum().await;
    let max_id = db.scalar_i64("SELECT MAX(id) FROM sale").await;

    Migrator::up(&db.db, None).await.expect("migrate up");
    assert_eq!(db.checksum().await, before, "the conversion changed the data");
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM ONLY sale").await, 0);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'sale'::regclass").await,
        18
    );
    for (name, _) in migration::POSTGRES_SALE_INDEXES {
        let sql = format!("SELECT COUNT(*) FROM pg_indexes WHERE indexname = '{name}'");
        assert_eq!(db.scalar_i64(&sql).await, 1, "index {name} missing after the conversion");
    }
    // New rows continue the old ids.
    let server = TestServer::start(db).await;
    server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": "sold_on,model,country,units\n2024-02-02,X5,DE,9\n" }),
        )
        .await;
    assert!(server.db.scalar_i64("SELECT MAX(id) FROM sale").await > max_id);
}

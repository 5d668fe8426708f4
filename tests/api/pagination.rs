use std::collections::HashSet;

use serde_json::json;

use super::seeded_server;
use crate::common::TestServer;

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $filter: SalesFilter) {
  sales(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id soldOn units } }
  }
}";

fn ids(page: &serde_json::Value) -> Vec<i64> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").parse().expect("numeric id"))
        .collect()
}

/// Waits until the server holds the recent sale rows of its current data version.
async fn recent_rows_ready(server: &TestServer) {
    server.wait_for_background_pass("salesgraph_recent_rows_ready_version").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_forward_and_backward_from_memory_yields_every_row_once() {
    let server = seeded_server(3_000).await;
    recent_rows_ready(&server).await;
    let before = server.metric("salesgraph_db_queries_total").await;
    walk_every_row(&server).await;
    assert_eq!(
        server.metric("salesgraph_db_queries_total").await,
        before,
        "pages and counts of whole months read the database although every month is in memory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_forward_and_backward_through_the_table_yields_every_row_once() {
    let server =
        TestServer::start_with(super::seeded_server_db(3_000).await, |s| s.recent_rows_mib = 0).await;
    let before = server.metric("salesgraph_db_queries_total").await;
    walk_every_row(&server).await;
    assert!(server.metric("salesgraph_db_queries_total").await > before, "the pages read the table");
    assert_eq!(server.metric("salesgraph_recent_rows_bytes").await, 0.0);
}

async fn walk_every_row(server: &TestServer) {
    let total = server.db.scalar_i64("SELECT COUNT(*) FROM sale").await;
    assert!(total > 2_000, "seeded {total} rows");

    let mut forward = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = server.data(PAGE, json!({ "first": 700, "after": after })).await;
        let page = &data["sales"];
        assert_eq!(page["totalCount"], json!(total));
        forward.extend(ids(page));
        if !page["pageInfo"]["hasNextPage"].as_bool().expect("flag") {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(forward.len() as i64, total, "forward walk missed or repeated rows");
    assert_eq!(forward.iter().collect::<HashSet<_>>().len() as i64, total);
    // Newest first, ties by id: the order the database gives for (sold_on DESC, id DESC).
    let expected: Vec<i64> = server
        .db
        .rows("SELECT id FROM sale ORDER BY sold_on DESC, id DESC")
        .await
        .iter()
        .map(|r| r.parse().expect("id"))
        .collect();
    assert_eq!(forward, expected);

    let mut backward = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = server.data(PAGE, json!({ "last": 700, "before": before })).await;
        let page = &data["sales"];
        let mut chunk = ids(page);
        chunk.extend(backward);
        backward = chunk;
        if !page["pageInfo"]["hasPreviousPage"].as_bool().expect("flag") {
            break;
        }
        before = page["pageInfo"]["startCursor"].as_str().map(str::to_string);
    }
    assert_eq!(backward, expected, "backward walk differs from the forward order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_apply_to_pages_and_counts_and_bad_sizes_are_named() {
    let server = seeded_server(1_500).await;
    let filter =
        json!({ "countries": ["DE"], "from": "2023-03-15", "to": "2023-09-10", "fuelTypes": ["DIESEL"] });
    let data = server.data(PAGE, json!({ "first": 1000, "filter": filter })).await;
    let expected = server
        .db
        .scalar_i64(
            "SELECT COUNT(*) FROM sale WHERE country_code = 'DE' AND sold_on >= '2023-03-15' \
             AND sold_on <= '2023-09-10' AND fuel_type = 'DIESEL'",
        )
        .await;
    assert!(expected > 0);
    assert_eq!(data["sales"]["totalCount"], json!(expected));
    assert_eq!(ids(&data["sales"]).len() as i64, expected);

    for (args, named) in
        [(json!({ "first": 0 }), "0"), (json!({ "first": 1001 }), "1001"), (json!({ "last": -5 }), "-5")]
    {
        let (status, _, body) = server.post(Some(&server.admin_token()), PAGE, args).await;
        assert_eq!(status, 200);
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(error["message"].as_str().expect("message").contains(named), "{body}");
        assert!(body["data"]["sales"].is_null());
    }
    let (_, _, body) =
        server.post(Some(&server.admin_token()), PAGE, json!({ "first": 5, "after": "garbage" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_sales_with_models_and_countries_costs_constant_queries() {
    // Read from the table (pages from memory cost none: see the tests of recent rows).
    let server =
        TestServer::start_with(super::seeded_server_db(2_000).await, |s| s.recent_rows_mib = 0).await;
    let query = "query($n: Int) { sales(first: $n) { totalCount edges { node { id model { name bodyType } country { code name region } } } } }";
    let before = server.metric("salesgraph_db_queries_total").await;
    let data = server.data(query, json!({ "n": 1000 })).await;
    let after = server.metric("salesgraph_db_queries_total").await;
    let edges = data["sales"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1000);
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["model"]["name"].is_string() && e["node"]["country"]["code"].is_string())
    );
    let large = after - before;
    let data = server.data(query, json!({ "n": 10 })).await;
    assert_eq!(data["sales"]["edges"].as_array().expect("edges").len(), 10);
    let small = server.metric("salesgraph_db_queries_total").await - after;
    assert_eq!(large, 1.0, "a page of 1,000 took {large} queries: models and countries come from memory");
    assert_eq!(large, small, "query count must not grow with the page");

    // What is not asked for is not loaded: a bare page is one query.
    let before = server.metric("salesgraph_db_queries_total").await;
    server.data("{ sales(first: 1000) { edges { node { id units } } } }", json!({})).await;
    assert_eq!(server.metric("salesgraph_db_queries_total").await - before, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_read_from_the_index_that_matches_their_order() {
    use salesgraph::domain::ResolvedFilter;
    use salesgraph::store::sales::{Direction, SaleCursor, page_statement};
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    let db = super::seeded_server_db(300).await;
    let backend = db.backend();
    let cursor = SaleCursor { sold_on: super::date(2024, 1, 15), id: 100 };
    let everything = ResolvedFilter::default();
    let one_market = ResolvedFilter { countries: Some(["DE".to_string()].into()), ..Default::default() };
    let one_model = ResolvedFilter { model_ids: Some([3].into()), ..Default::default() };
    // (filter, the index a page must read in order: its name, or its partitions' copies' suffix)
    let pages = [
        (&everything, ("idx_sale_sold_on_id", "_sold_on_id_idx")),
        (&one_market, ("idx_sale_country_sold_on", "_country_code_sold_on_id_idx")),
        (&one_model, ("idx_sale_model_sold_on", "_model_id_sold_on_id_idx")),
    ];
    for ((filter, (index, partition_index)), (direction, cursor)) in pages.iter().flat_map(|page| {
        [(Direction::Forward, None), (Direction::Forward, Some(cursor)), (Direction::Backward, Some(cursor))]
            .map(|walk| (*page, walk))
    }) {
        let page = page_statement(backend, filter, direction, cursor, 100);
        let explain = Statement::from_sql_and_values(
            backend,
            match backend {
                DbBackend::Postgres => format!("EXPLAIN {}", page.sql),
                _ => format!("EXPLAIN QUERY PLAN {}", page.sql),
            },
            page.values.map(|v| v.0).unwrap_or_default(),
        );
        // One transaction, so that the planner settings and the EXPLAIN share a connection.
        // With scans and sorts priced out, a Sort can only remain when no index delivers the
        // order (on a tiny table the planner would otherwise prefer them whatever the indexes).
        let txn = db.db.begin().await.expect("transaction");
        if backend == DbBackend::Postgres {
            for setting in ["enable_seqscan", "enable_bitmapscan", "enable_sort"] {
                txn.execute_unprepared(&format!("SET LOCAL {setting} = off")).await.expect("planner setting");
            }
        }
        let plan: Vec<String> = txn
            .query_all_raw(explain)
            .await
            .expect("explain")
            .iter()
            .map(|row| {
                let column = if backend == DbBackend::Postgres { "QUERY PLAN" } else { "detail" };
                row.try_get::<String>("", column).unwrap_or_default()
            })
            .collect();
        txn.rollback().await.expect("rollback");
        let plan = plan.join("\n");
        // On PostgreSQL each monthly partition has its copy of the index, named after it.
        let read_from = match backend {
            DbBackend::Postgres => plan.contains(partition_index),
            _ => plan.lines().any(|line| line.split_whitespace().any(|word| word == index)),
        };
        assert!(read_from, "{filter:?} {direction:?} {cursor:?}: not read from {index}:\n{plan}");
        assert!(
            !plan.contains("Sort") && !plan.contains("TEMP B-TREE"),
            "{filter:?} {direction:?} {cursor:?}: sorted instead of read in order:\n{plan}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_window_that_misses_rows_is_read_again_without_it() {
    use salesgraph::domain::ResolvedFilter;
    use salesgraph::store::sales::{Direction, page};

    let server = super::seeded_server(300).await;
    let store = &server.context.store;
    let all = ResolvedFilter::default();
    let unbounded = page(store, &all, Direction::Forward, None, 10, None).await.expect("page");
    // A window past every sale (as a stale in-memory view could give) finds nothing; the page
    // must still be the real newest ten.
    let stale =
        page(store, &all, Direction::Forward, None, 10, Some(super::date(2030, 1, 1))).await.expect("page");
    let ids = |p: &salesgraph::store::sales::Page| p.rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(&stale), ids(&unbounded));
    assert_eq!(stale.has_more, unbounded.has_more);
    assert_eq!(unbounded.rows.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_names_models_and_markets_newer_than_the_catalogue_in_memory() {
    use sea_orm::ConnectionTrait;

    // Rows written behind the server's back reach only pages read from the table.
    let server = TestServer::start_with(super::seeded_server_db(50).await, |s| s.recent_rows_mib = 0).await;
    // Written behind the server's back, without a data version bump: its catalogue in memory
    // stays without them, as a replica's does until its refresh.
    for sql in [
        "INSERT INTO car_model (id, name, body_type) VALUES (999, 'Concept Z', 'SUV')",
        "INSERT INTO country (code, name, region) VALUES ('ZZ', 'Zedland', 'Europe')",
        "INSERT INTO sale (sold_on, model_id, country_code, units, fuel_type, transmission, date_precision) \
         SELECT MAX(sold_on), 999, 'ZZ', 1, 'PETROL', 'AUTOMATIC', 'DAY' FROM sale",
    ] {
        server.db.db.execute_unprepared(sql).await.expect(sql);
    }
    let before = server.metric("salesgraph_db_queries_total").await;
    let data = server
        .data("{ sales(first: 3) { edges { node { model { name } country { code name } } } } }", json!({}))
        .await;
    let newest = &data["sales"]["edges"][0]["node"];
    assert_eq!(newest["model"]["name"], "Concept Z", "{data}");
    assert_eq!(newest["country"]["name"], "Zedland", "{data}");
    let queries = server.metric("salesgraph_db_queries_total").await - before;
    assert_eq!(
        queries, 3.0,
        "the page, then one query each for the model and the market the catalogue lacks"
    );
}

/// Ids of a page read straight from the sale table, newest first.
async fn table_ids(server: &TestServer, where_clause: &str, limit: usize) -> Vec<i64> {
    server
        .db
        .rows(&format!(
            "SELECT id FROM sale WHERE {where_clause} ORDER BY sold_on DESC, id DESC LIMIT {limit}"
        ))
        .await
        .iter()
        .map(|r| r.parse().expect("id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_from_memory_equal_the_tables_and_follow_imports() {
    use salesgraph::domain::ResolvedFilter;
    use salesgraph::store::sales::{Direction, SaleCursor, page};

    let server = seeded_server(2_000).await;
    recent_rows_ready(&server).await;
    let store = &server.context.store;
    let newest_day = super::date(2024, 6, 30);
    let filters = [
        ResolvedFilter::default(),
        ResolvedFilter { countries: Some(["DE".to_string(), "FR".to_string()].into()), ..Default::default() },
        ResolvedFilter {
            from: Some(super::date(2023, 11, 20)),
            to: Some(super::date(2024, 2, 10)),
            model_ids: Some([1, 3, 5].into()),
            ..Default::default()
        },
    ];
    let cursors = [None, Some(SaleCursor { sold_on: super::date(2024, 1, 15), id: 700 })];
    let before = server.metric("salesgraph_db_queries_total").await;
    let mut compared = 0;
    for filter in &filters {
        for cursor in cursors {
            for direction in [Direction::Forward, Direction::Backward] {
                for size in [1, 40, 1_000] {
                    let snapshot = server.context.snapshot();
                    // No window: the whole history must be held, as it is at this size.
                    let Some(from_memory) = snapshot.cube.recent_page(filter, direction, cursor, size, None)
                    else {
                        panic!("{filter:?} {direction:?} {cursor:?} {size}: not cut from memory");
                    };
                    let from_table = page(store, filter, direction, cursor, size, None).await.expect("page");
                    assert_eq!(from_memory, from_table, "{filter:?} {direction:?} {cursor:?} {size}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 36);
    // The comparison's own table reads went through the store: one each, none for memory.
    assert_eq!(server.metric("salesgraph_db_queries_total").await - before, 36.0);

    // Through the API, a page is one read of memory, no query.
    let first_page =
        "{ sales(first: 25) { edges { node { id soldOn units model { name } country { code } } } } }";
    let before = server.metric("salesgraph_db_queries_total").await;
    let data = server.data(first_page, json!({})).await;
    assert_eq!(server.metric("salesgraph_db_queries_total").await, before, "a first page read the table");
    assert_eq!(ids(&data["sales"]), table_ids(&server, "1 = 1", 25).await);

    // A sale on the newest day: the next page has it at once (its month no longer matches the
    // cube, so the table is read), then from memory again once the month is reloaded.
    server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": format!("sold_on,model,country,units\n{newest_day},X5,DE,3\n") }),
        )
        .await;
    let expected = table_ids(&server, "1 = 1", 25).await;
    let data = server.data(first_page, json!({})).await;
    assert_eq!(ids(&data["sales"]), expected, "the imported sale is missing from the first page");
    recent_rows_ready(&server).await;
    let before = server.metric("salesgraph_db_queries_total").await;
    let data = server.data(first_page, json!({})).await;
    assert_eq!(ids(&data["sales"]), expected);
    assert_eq!(
        server.metric("salesgraph_db_queries_total").await,
        before,
        "the month the import touched was not reloaded"
    );
    assert!(server.metric("salesgraph_recent_rows_bytes").await > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseed_with_equal_totals_replaces_the_rows_in_memory() {
    let server = seeded_server(800).await;
    recent_rows_ready(&server).await;
    let first_page = "{ sales(first: 30) { edges { node { id } } } }";
    let old = ids(&server.data(first_page, json!({})).await["sales"]);
    // The same arguments give the same rows, month totals and all, under new ids: only the
    // ids' span tells the held months are stale.
    let version = server.metric("salesgraph_data_version").await;
    server
        .db
        .seed(&salesgraph::store::seed::SeedOptions {
            rows: 800,
            seed: 11,
            from: super::date(2023, 1, 1),
            until: super::date(2024, 6, 30),
            seasonal: true,
        })
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.metric("salesgraph_data_version").await == version {
        assert!(std::time::Instant::now() < deadline, "the reseed was not noticed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    recent_rows_ready(&server).await;
    let expected = table_ids(&server, "1 = 1", 30).await;
    assert_eq!(ids(&server.data(first_page, json!({})).await["sales"]), expected);
    assert_ne!(old, expected, "ids are never reused (a sequence, AUTOINCREMENT): the rows are new");
}

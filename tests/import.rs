//! CSV and Parquet import through the command line: formats, mapping, all-or-nothing, the rollup in step.

mod common;

use common::TestDb;

fn write_csv(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write csv");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canonical_import_into_a_new_database_before_any_seed() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        &dir,
        "sales.csv",
        "sold_on,model,country,units,unit_price_usd,fuel_type,transmission,color\n\
         2024-03-05,X5,DE,3,70000,Diesel,automatic,Black\n\
         2024-03-06,3 Series,Germany,2,,PETROL,MANUAL,\n\
         2024-04-01,BMW x-5,us,1,65000.50,hybrid,Automatic,White\n\
         2024-04-02,Neue Klasse,DE,4,60000,ELECTRIC,,\n",
    );
    let out = db.cli(&["import", &file]);
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    assert!(
        common::stdout(&out).contains("rows read: 4, landed: 4, rejected: 0"),
        "{}",
        common::stdout(&out)
    );

    assert_eq!(db.scalar_i64("SELECT SUM(units) FROM sale").await, 10);
    if db.backend() == sea_orm::DbBackend::Postgres {
        // The rows came through COPY and staging tables, which are gone afterwards.
        assert_eq!(
            db.scalar_i64("SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'sale_staging_%'").await,
            0
        );
    }
    // A row without a price has no revenue (null, not zero).
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM sale WHERE revenue IS NULL").await, 1);
    assert_eq!(
        db.scalar_i64("SELECT CAST(SUM(revenue) AS BIGINT) FROM sale").await,
        3 * 70_000 + 65_000 + 4 * 60_000
    );
    // "BMW x-5" is X5; "Germany" and "us" are countries by name and by code.
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM sale s JOIN car_model m ON m.id = s.model_id WHERE m.name = 'X5'"
        )
        .await,
        2
    );
    // Unknown models join the catalogue; a missing transmission is UNKNOWN.
    assert_eq!(db.rows("SELECT body_type FROM car_model WHERE name = 'Neue Klasse'").await, vec!["UNKNOWN"]);
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM sale WHERE transmission = 'UNKNOWN'").await, 1);
    assert_eq!(
        db.scalar_i64("SELECT version FROM data_version").await,
        2,
        "an import bumps the data version"
    );
    db.assert_rollup_matches_sales().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_import_with_german_headers_day_first_dates_and_decimal_commas() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        &dir,
        "verkauf.csv",
        " Datum ;Modell;Land;Stückzahl;Preis;;Bemerkung\n\
         05.03.2024; \"X3\" ;DE;8.300,00;52.000,00;;ok\n\
         31.12.2023;i4;AT;2;;;\n",
    );
    let out = db.cli(&[
        "import",
        &file,
        "--delimiter",
        ";",
        "--map",
        "sold_on=Datum,model=Modell,country=Land,units=Stückzahl,unit_price_usd=Preis",
        "--date-format",
        "%d.%m.%Y",
        "--decimal-comma",
    ]);
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    assert_eq!(
        db.rows("SELECT sold_on, units FROM sale ORDER BY sold_on").await,
        vec!["2023-12-31|2", "2024-03-05|8300"]
    );
    assert_eq!(db.scalar_i64("SELECT CAST(SUM(revenue) AS BIGINT) FROM sale").await, 8_300 * 52_000);
    db.assert_rollup_matches_sales().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn year_month_split_region_rows_and_a_market_from_set() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let split =
        write_csv(&dir, "split.csv", "Year,Month,Model,Quantity\n2023,3,iX,40\n2023,April,iX,\"1,200\"\n");
    let out = db.cli(&[
        "import",
        &split,
        "--map",
        "year=Year,month=Month,model=Model,units=Quantity",
        "--set",
        "country=NO",
    ]);
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    assert_eq!(
        db.rows("SELECT sold_on, country_code, units, date_precision FROM sale ORDER BY sold_on").await,
        vec!["2023-03-01|NO|40|MONTH", "2023-04-01|NO|1200|MONTH"]
    );

    let regions =
        write_csv(&dir, "regions.csv", "Region,Year,Model\nEurope,2022,X1\nAsia,2022,X1\nEurope,2022,X2\n");
    let out = db.cli(&["import", &regions, "--map", "region=Region,year=Year,model=Model"]);
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    assert_eq!(
        db.rows("SELECT code, name, region FROM country WHERE code IN ('XA', 'XE') ORDER BY code").await,
        vec!["XA|Asia (unallocated)|Asia", "XE|Europe (unallocated)|Europe"]
    );
    assert_eq!(
        db.rows("SELECT sold_on, country_code, units, date_precision FROM sale WHERE country_code = 'XE' ORDER BY id").await,
        vec!["2022-01-01|XE|1|YEAR", "2022-01-01|XE|1|YEAR"]
    );
    db.assert_rollup_matches_sales().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_rejected_whole_with_its_line_numbers_and_changes_nothing() {
    let db = TestDb::new().await;
    db.seed(&salesgraph::store::seed::SeedOptions {
        from: common::date(2024, 1, 1),
        ..common::small_seed(1_000, 1)
    })
    .await;
    let before = db.checksum().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        &dir,
        "bad.csv",
        "sold_on,model,country,units\n\
         2024-03-05,X5,DE,3\n\
         2024-02-30,X5,DE,3\n\
         2024-03-07,Brand New,Atlantis,1\n\
         2024-03-08,X1,FR,-2\n\
         2024-03-09,X1,FR,2\n",
    );
    let out = db.cli(&["import", &file]);
    assert!(!out.status.success(), "a bad file must fail");
    let report = common::stdout(&out);
    assert!(report.contains("rows read: 5, landed: 0, rejected: 3"), "{report}");
    assert!(report.contains("line 3:") && report.contains("2024-02-30"), "{report}");
    assert!(report.contains("line 4:") && report.contains("Atlantis"), "{report}");
    assert!(report.contains("line 5:") && report.contains("-2"), "{report}");
    assert!(!report.contains("line 2:") && !report.contains("line 6:"), "{report}");
    assert_eq!(db.checksum().await, before, "a rejected file must leave the database unchanged");
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM car_model WHERE name = 'Brand New'").await, 0);

    // With --skip-invalid the good rows land and the bad ones are reported.
    let out = db.cli(&["import", &file, "--skip-invalid"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stdout(&out).contains("rows read: 5, landed: 2, rejected: 3"),
        "{}",
        common::stdout(&out)
    );
    assert_ne!(db.checksum().await, before);
    db.assert_rollup_matches_sales().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_mistakes_name_what_is_wrong() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(&dir, "odd.csv", "Date,Car\n2024-01-01,X5\n");
    let out = db.cli(&["import", &file, "--map", "sold_on=Date,model=Vehicle"]);
    assert!(!out.status.success());
    assert!(common::stderr(&out).contains("\"Vehicle\""), "{}", common::stderr(&out));
    let out = db.cli(&["import", &file, "--map", "sold_on=Date,model=Car"]);
    assert!(common::stderr(&out).contains("country"), "{}", common::stderr(&out));
    let out = db.cli(&["import", &file, "--map", "wheels=Car"]);
    assert!(common::stderr(&out).contains("wheels"), "{}", common::stderr(&out));
    let out = db.cli(&["import", "/nonexistent/file.csv"]);
    assert!(common::stderr(&out).contains("/nonexistent/file.csv"), "{}", common::stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_load_without_per_row_foreign_keys_still_refuses_unknown_models_and_countries() {
    use salesgraph::store::ingest::{IngestWriter, NewSale};
    use sea_orm::TransactionTrait;

    let db = TestDb::new().await;
    let bulk = salesgraph::db::connect_for_bulk_load(&db.url).await.expect("bulk connection");
    let before = db.checksum().await;
    let good = common::plain_sale(common::date(2024, 5, 6));
    for bad in
        [NewSale { model_id: 99_999, ..good.clone() }, NewSale { country_code: "QQ".into(), ..good.clone() }]
    {
        let txn = bulk.begin().await.expect("transaction");
        let mut writer = IngestWriter::new(&bulk);
        let outcome = async {
            writer.write(&txn, vec![good.clone(), bad.clone()]).await?;
            writer.finish(&txn).await
        }
        .await;
        let error = outcome.expect_err("an unknown model or country landed").to_string();
        // SQLite's bulk connection and PostgreSQL's partitioned table check no keys per row.
        assert!(error.contains("which the catalogue lacks"), "{error}");
        txn.rollback().await.expect("rollback");
        writer.close().await;
    }
    assert_eq!(db.checksum().await, before, "a refused ingest changed the database");
}

/// The journal mode of a SQLite file as a connection of `db` sees it.
async fn journal_mode(db: &sea_orm::DatabaseConnection) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA journal_mode"))
        .await
        .expect("journal mode")
        .expect("a row");
    row.try_get_by_index::<String>(0).expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_load_alone_on_its_sqlite_file_writes_through_a_rollback_journal_and_restores_wal() {
    // SQLite's journal modes, whatever backend the rest of the run targets.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bulk.db").display());
    let alone = salesgraph::db::connect_for_bulk_load(&url).await.expect("bulk-load pool");
    assert_eq!(journal_mode(&alone).await, "delete", "alone on the file: rows are written once");
    salesgraph::db::end_bulk_load(&alone).await.expect("back to WAL");
    assert_eq!(journal_mode(&alone).await, "wal");
    drop(alone);

    // With a server's pool on the file, the load keeps WAL mode rather than waiting for it.
    let server = salesgraph::db::connect(&url).await.expect("server pool");
    assert_eq!(journal_mode(&server).await, "wal");
    let started = std::time::Instant::now();
    let beside = salesgraph::db::connect_for_bulk_load(&url).await.expect("bulk-load pool beside a server");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the load waited for the server");
    assert_eq!(journal_mode(&beside).await, "wal");
    drop(beside);

    // The command line leaves a file it loaded alone in WAL mode, with the rows landed.
    drop(server);
    let file =
        write_csv(&dir, "sales.csv", "sold_on,model,country,units\n2024-03-05,X5,DE,3\n2024-03-06,X3,FR,2\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"))
        .args(["import", &file])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run salesgraph");
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    let after = salesgraph::db::connect(&url).await.expect("pool");
    assert_eq!(journal_mode(&after).await, "wal");
    use sea_orm::{ConnectionTrait, Statement};
    let units = after
        .query_one_raw(Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT SUM(units) FROM sale"))
        .await
        .expect("sum")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("units");
    assert_eq!(units, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_imports_at_once_both_land_one_after_the_other() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let rows = |country: &str| -> String {
        let mut text = String::from("sold_on,model,country,units\n");
        for i in 0..40_000 {
            text.push_str(&format!("2024-{:02}-{:02},X5,{country},1\n", i % 12 + 1, i % 28 + 1));
        }
        text
    };
    let first = write_csv(&dir, "de.csv", &rows("DE"));
    let second = write_csv(&dir, "fr.csv", &rows("FR"));
    let spawn = |file: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"))
            .args(["import", file])
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run salesgraph import")
    };
    let (a, b) = (spawn(&first), spawn(&second));
    for child in [a, b] {
        let out = child.wait_with_output().expect("import finishes");
        assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    }
    assert_eq!(db.scalar_i64("SELECT SUM(units) FROM sale").await, 80_000);
    db.assert_rollup_matches_sales().await;
}

/// A row of a test Parquet file: day, model, market, units, unit price, fuel type.
type ParquetRow<'a> = (&'a str, &'a str, &'a str, i64, Option<f64>, &'a str);

/// A Parquet file as a data warehouse exports it: typed columns (a date, an integer, a float
/// with nulls), another column order and an extra column the import ignores.
fn write_parquet(dir: &tempfile::TempDir, name: &str, rows: &[ParquetRow]) -> String {
    use polars::prelude::*;
    let day = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date");
    let dates: Vec<chrono::NaiveDate> = rows.iter().map(|r| day(r.0)).collect();
    let columns: Vec<Column> = vec![
        Series::new("model".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()).into(),
        Series::new("sold_on".into(), dates).into(),
        Series::new("country".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()).into(),
        Series::new("units".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()).into(),
        Series::new("unit_price_usd".into(), rows.iter().map(|r| r.4).collect::<Vec<_>>()).into(),
        Series::new("fuel_type".into(), rows.iter().map(|r| r.5).collect::<Vec<_>>()).into(),
        Series::new("dealer_note".into(), rows.iter().map(|_| "ignored").collect::<Vec<_>>()).into(),
    ];
    let mut frame = DataFrame::new(rows.len(), columns).expect("frame");
    let path = dir.path().join(name);
    let file = std::fs::File::create(&path).expect("create parquet");
    ParquetWriter::new(file).finish(&mut frame).expect("write parquet");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_file_lands_like_its_csv_and_a_bad_row_is_named_by_its_row() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = write_parquet(
        &dir,
        "bad.parquet",
        &[
            ("2024-03-05", "X5", "DE", 3, Some(70_000.0), "DIESEL"),
            ("2024-03-06", "X5", "Atlantis", 1, None, "PETROL"),
            ("2024-03-07", "X1", "FR", -2, None, "PETROL"),
        ],
    );
    let out = db.cli(&["import", &bad]);
    assert!(!out.status.success(), "a bad file must fail");
    let report = common::stdout(&out);
    assert!(report.contains("rows read: 3, landed: 0, rejected: 2"), "{report}");
    assert!(report.contains("row 2:") && report.contains("Atlantis"), "{report}");
    assert!(report.contains("row 3:") && report.contains("-2"), "{report}");
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM sale").await, 0, "a rejected file lands nothing");

    // A name without the .parquet ending is still read as Parquet: the file says what it is.
    let good = write_parquet(
        &dir,
        "export.dat",
        &[
            ("2024-03-05", "X5", "DE", 3, Some(70_000.0), "Diesel"),
            ("2024-03-06", "3 Series", "Germany", 2, None, "petrol"),
            ("2024-04-01", "Neue Klasse", "us", 4, Some(60_000.0), "ELECTRIC"),
        ],
    );
    let out = db.cli(&["import", &good]);
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    assert!(
        common::stdout(&out).contains("rows read: 3, landed: 3, rejected: 0"),
        "{}",
        common::stdout(&out)
    );
    assert_eq!(db.scalar_i64("SELECT SUM(units) FROM sale").await, 9);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM sale WHERE revenue IS NULL").await,
        1,
        "a null price has no revenue"
    );
    assert_eq!(db.scalar_i64("SELECT CAST(SUM(revenue) AS BIGINT) FROM sale").await, 210_000 + 240_000);
    assert_eq!(
        db.rows("SELECT CAST(sold_on AS TEXT) FROM sale ORDER BY sold_on").await,
        vec!["2024-03-05", "2024-03-06", "2024-04-01"],
        "dates land on their own day"
    );
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM sale WHERE country_code = 'US'").await, 1);
    db.assert_rollup_matches_sales().await;

    // A file that only looks like Parquet is refused with what is wrong, and nothing lands.
    let broken = dir.path().join("broken.parquet");
    std::fs::write(&broken, b"PAR1 this is not a parquet file").expect("write");
    let out = db.cli(&["import", &broken.display().to_string()]);
    assert!(!out.status.success());
    assert!(common::stderr(&out).contains("Parquet"), "{}", common::stderr(&out));
    assert_eq!(db.scalar_i64("SELECT SUM(units) FROM sale").await, 9);
}

//! The generator: determinism, the planted patterns as stored rows, the rollup and the cube.

mod common;

use common::{TestDb, date, small_seed};
use salesgraph::cube::Cube;

/// Units per calendar month (1-12) of one market, summed over all years.
async fn units_by_calendar_month(db: &TestDb, country: &str) -> [f64; 12] {
    let month = match db.backend() {
        sea_orm::DbBackend::Postgres => "CAST(EXTRACT(MONTH FROM sold_on) AS BIGINT)",
        _ => "CAST(substr(sold_on, 6, 2) AS BIGINT)",
    };
    let rows = db
        .rows(&format!(
            "SELECT {month}, SUM(units) FROM sale WHERE country_code = '{country}' GROUP BY {month} ORDER BY 1"
        ))
        .await;
    let mut units = [0.0; 12];
    for row in rows {
        let (m, u) = row.split_once('|').expect("two columns");
        units[m.parse::<usize>().expect("month") - 1] = u.parse().expect("units");
    }
    units
}

async fn yearly_units(db: &TestDb, model: &str, year: i32) -> i64 {
    db.scalar_i64(&format!(
        "SELECT SUM(s.units) FROM sale s JOIN car_model m ON m.id = s.model_id \
         WHERE m.name = '{model}' AND s.sold_on >= '{year}-01-01' AND s.sold_on <= '{year}-12-31'"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_arguments_give_identical_data_and_other_seeds_differ() {
    let (a, b, c) = (TestDb::new().await, TestDb::new().await, TestDb::new().await);
    let options = salesgraph::store::seed::SeedOptions { from: date(2022, 1, 1), ..small_seed(4_000, 7) };
    a.seed(&options).await;
    b.seed(&options).await;
    c.seed(&salesgraph::store::seed::SeedOptions { seed: 8, ..options.clone() }).await;
    let rows = a.scalar_i64("SELECT COUNT(*) FROM sale").await;
    assert!((3_000..=5_000).contains(&rows), "asked for about 4,000 rows, got {rows}");
    assert_eq!(a.checksum().await, b.checksum().await, "same arguments must give the same data");
    assert_ne!(a.checksum().await, c.checksum().await, "another seed must give other data");
    // Re-seeding replaces the data rather than adding to it.
    a.seed(&options).await;
    assert_eq!(a.scalar_i64("SELECT COUNT(*) FROM sale").await, rows);
    assert_eq!(
        a.rows("SELECT sold_on, units FROM sale ORDER BY id LIMIT 50").await,
        b.rows("SELECT sold_on, units FROM sale ORDER BY id LIMIT 50").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_rows_carry_the_planted_patterns() {
    let db = TestDb::new().await;
    db.seed(&small_seed(30_000, 42)).await;
    db.assert_rollup_matches_sales().await;

    // Worldwide volume is realistic whatever the row count: about 2 million units a year.
    let units_2019 = db
        .scalar_i64("SELECT SUM(units) FROM sale WHERE sold_on >= '2019-01-01' AND sold_on <= '2019-12-31'")
        .await;
    assert!((1_500_000..3_000_000).contains(&units_2019), "2019 units: {units_2019}");

    // GB peaks in March and September, troughs in February and August.
    let gb = units_by_calendar_month(&db, "GB").await;
    let mean = gb.iter().sum::<f64>() / 12.0;
    for peak in [2, 8] {
        assert!(gb[peak] > 1.5 * mean, "GB month {} is not a peak: {gb:?}", peak + 1);
    }
    for trough in [1, 7] {
        assert!(gb[trough] < 0.7 * mean, "GB month {} is not a trough: {gb:?}", trough + 1);
    }
    // US troughs in January-February; CN peaks in January.
    let us = units_by_calendar_month(&db, "US").await;
    let us_mean = us.iter().sum::<f64>() / 12.0;
    assert!(us[0] < 0.85 * us_mean && us[1] < 0.85 * us_mean, "US: {us:?}");
    let cn = units_by_calendar_month(&db, "CN").await;
    assert!(cn.iter().cloned().fold(0.0, f64::max) == cn[0], "CN January is not the peak: {cn:?}");

    // Electric models grow; 7 Series declines; i3 stops after 2022.
    let (ix_2022, ix_2024) = (yearly_units(&db, "iX", 2022).await, yearly_units(&db, "iX", 2024).await);
    assert!(ix_2024 as f64 > 1.4 * ix_2022 as f64, "iX 2022 {ix_2022} → 2024 {ix_2024}");
    let (s7_2015, s7_2024) =
        (yearly_units(&db, "7 Series", 2015).await, yearly_units(&db, "7 Series", 2024).await);
    assert!((s7_2024 as f64) < 0.9 * s7_2015 as f64, "7 Series 2015 {s7_2015} → 2024 {s7_2024}");
    assert_eq!(yearly_units(&db, "i3", 2023).await, 0);
    assert_eq!(yearly_units(&db, "i4", 2020).await, 0, "i4 sold before its launch");

    // Norway's electric share reaches about 90% by 2024.
    let no_total = db
        .scalar_i64("SELECT SUM(units) FROM sale WHERE country_code = 'NO' AND sold_on >= '2024-01-01'")
        .await;
    let no_electric = db
        .scalar_i64("SELECT SUM(units) FROM sale WHERE country_code = 'NO' AND sold_on >= '2024-01-01' AND fuel_type = 'ELECTRIC'")
        .await;
    let share = no_electric as f64 / no_total as f64;
    assert!((0.8..0.97).contains(&share), "Norway's electric share in 2024: {share:.2}");

    // Inventory plants: short and long positions as of the last month, against average demand.
    let cover = |model: &'static str, country: &'static str| {
        let db = &db;
        async move {
            let on_hand = db
                .scalar_i64(&format!(
                    "SELECT CAST(i.on_hand AS BIGINT) FROM inventory i JOIN car_model m ON m.id = i.model_id \
                     WHERE m.name = '{model}' AND i.country_code = '{country}'"
                ))
                .await;
            let sold_2024 = db
                .scalar_i64(&format!(
                    "SELECT SUM(s.units) FROM sale s JOIN car_model m ON m.id = s.model_id WHERE m.name = '{model}' \
                     AND s.country_code = '{country}' AND s.sold_on >= '2024-07-01'"
                ))
                .await;
            on_hand as f64 / (sold_2024 as f64 / 6.0)
        }
    };
    for (model, country) in [("iX", "NO"), ("X5", "US"), ("i4", "DE")] {
        let months = cover(model, country).await;
        assert!(months < 1.2, "{model} in {country} should be short: {months:.2} months of cover");
    }
    for (model, country) in [("7 Series", "US"), ("Z4", "GB")] {
        let months = cover(model, country).await;
        assert!(months > 6.0, "{model} in {country} should be long: {months:.2} months of cover");
    }

    // The planted facts are stored for tests and analytics to read.
    let facts = db.rows("SELECT facts FROM seed_run").await;
    let facts: serde_json::Value = serde_json::from_str(&facts[0]).expect("facts are JSON");
    assert_eq!(facts["stock_short"][0], serde_json::json!(["iX", "NO"]));
    assert!(facts["seasonality"]["GB"][2].as_f64().expect("GB March") > 1.8);

    // The cube holds the rollup: same units as the sale table, sized by groups, not rows.
    let cube = Cube::load(&db.db).await.expect("cube loads");
    assert_eq!(cube.total_units(), db.scalar_i64("SELECT SUM(units) FROM sale").await);
    assert_eq!(cube.len() as i64, db.scalar_i64("SELECT COUNT(*) FROM monthly_rollup").await);
    assert_eq!(cube.version, db.scalar_i64("SELECT version FROM data_version").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_command_reports_and_refuses_a_reversed_range() {
    let db = TestDb::new().await;
    let ok =
        db.cli(&["seed", "--rows", "2000", "--seed", "3", "--from", "2023-01-01", "--until", "2023-06-30"]);
    assert!(ok.status.success(), "{}", common::stderr(&ok));
    assert!(common::stdout(&ok).contains("seeded"), "{}", common::stdout(&ok));
    let bad = db.cli(&["seed", "--from", "2024-01-01", "--until", "2023-01-01"]);
    assert!(!bad.status.success());
    assert!(common::stderr(&bad).contains("2024-01-01"), "{}", common::stderr(&bad));
    let bad_date = db.cli(&["seed", "--from", "2024-13-01"]);
    assert!(!bad_date.status.success());
    assert!(common::stderr(&bad_date).contains("2024-13-01"), "{}", common::stderr(&bad_date));
}

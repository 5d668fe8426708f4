//! Sales recorded by year or by quarter count in yearly or quarterly figures and in totals over
//! whole periods, never in a month they may not have been sold in: monthly analytics refuse
//! data with no monthly dates, naming the precision, and leave coarse rows out of mixed data,
//! saying so.

use serde_json::{Value, json};

use super::common::{self, TestDb, TestServer};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write csv");
    path.display().to_string()
}

fn import(db: &TestDb, args: &[&str]) {
    let out = db.cli(&[&["import"], args].concat());
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
}

const YEARLY_DE: [(i32, i64); 5] = [(2019, 1200), (2020, 1300), (2021, 1450), (2022, 1500), (2023, 1700)];
const FR_YEARLY_UNITS: i64 = 5_000;

/// Germany's X5 by year only, Great Britain's X3 by quarter only, France's iX by month with a
/// June peak plus a large figure by year on top.
async fn server() -> TestServer {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let yearly: String = YEARLY_DE.iter().map(|(year, units)| format!("{year},X5,{units}\n")).collect();
    import(
        &db,
        &[
            &write(&dir, "yearly.csv", &format!("Year,Model,Units\n{yearly}")),
            "--map",
            "year=Year,model=Model,units=Units",
            "--set",
            "country=DE",
        ],
    );
    let mut quarterly = String::from("sold_on,model,country,units\n");
    for year in 2021..=2023 {
        for quarter in 1..=4 {
            quarterly.push_str(&format!("{year}-Q{quarter},X3,GB,{}\n", 100 * quarter));
        }
    }
    import(&db, &[&write(&dir, "quarterly.csv", &quarterly)]);
    let mut monthly = String::from("sold_on,model,country,units\n");
    for year in 2021..=2023 {
        for month in 1..=12 {
            let units = if month == 6 { 300 } else { 100 + (month * 7 + year) % 11 };
            monthly.push_str(&format!("{year}-{month:02}-15,iX,FR,{units}\n"));
        }
    }
    import(&db, &[&write(&dir, "monthly.csv", &monthly)]);
    let fr_yearly: String = (2021..=2023).map(|year| format!("{year},iX,FR,{FR_YEARLY_UNITS}\n")).collect();
    import(
        &db,
        &[
            &write(&dir, "fr_yearly.csv", &format!("Year,Model,Country,Units\n{fr_yearly}")),
            "--map",
            "year=Year,model=Model,country=Country,units=Units",
        ],
    );
    db.assert_rollup_matches_sales().await;
    TestServer::start(db).await
}

/// The first error of a request that must fail: its code and message.
async fn refusal(server: &TestServer, query: &str, variables: Value) -> (String, String) {
    let (_, _, body) = server.post(Some(&server.admin_token()), query, variables).await;
    let error = &body["errors"][0];
    assert!(!error.is_null(), "expected an error: {body}");
    (
        error["extensions"]["code"].as_str().unwrap_or_default().to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

const SEASONALITY: &str =
    "query($f: SalesFilter) { seasonality(filter: $f) { monthlyIndex peakMonths months notes } }";
const TREND: &str = "query($f: SalesFilter, $g: Granularity) { trend(filter: $f, granularity: $g) { points { period value } notes } }";
const FORECAST: &str =
    "query($f: SalesFilter) { forecast(filter: $f) { predictions { model { name } } notes } }";
const SUMMARY: &str = "query($f: SalesFilter, $by: [Dimension!]!, $g: Granularity) { salesSummary(filter: $f, groupBy: $by, granularity: $g) { period units } }";

fn units(rows: &Value) -> Vec<i64> {
    rows.as_array().expect("rows").iter().map(|r| r["units"].as_i64().expect("units")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coarse_dates_count_only_in_periods_that_hold_them() {
    let server = server().await;
    let de = json!({ "countries": ["DE"] });
    let gb = json!({ "countries": ["GB"] });
    let fr = json!({ "countries": ["FR"] });

    // Monthly analytics over yearly-only or quarterly-only data are refused, naming the precision.
    let (code, message) = refusal(&server, SEASONALITY, json!({ "f": de })).await;
    assert_eq!(code, "BAD_USER_INPUT", "{message}");
    assert!(message.contains("date precision YEAR") && message.contains("seasonality"), "{message}");
    let (code, message) = refusal(&server, SEASONALITY, json!({ "f": gb })).await;
    assert_eq!(code, "BAD_USER_INPUT", "{message}");
    assert!(message.contains("date precision QUARTER"), "{message}");
    let (code, message) = refusal(&server, TREND, json!({ "f": de, "g": "MONTH" })).await;
    assert_eq!(code, "BAD_USER_INPUT", "{message}");
    assert!(message.contains("granularity YEAR"), "{message}");
    let (code, message) = refusal(&server, TREND, json!({ "f": gb, "g": "MONTH" })).await;
    assert!(code == "BAD_USER_INPUT" && message.contains("granularity QUARTER"), "{code}: {message}");
    let (code, message) = refusal(&server, FORECAST, json!({ "f": de })).await;
    assert_eq!(code, "BAD_USER_INPUT", "{message}");
    assert!(message.contains("forecast") && message.contains("date precision YEAR"), "{message}");

    // By year, and by quarter, they are whole.
    let yearly = server.data(TREND, json!({ "f": de, "g": "YEAR" })).await;
    let values: Vec<i64> = yearly["trend"]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["value"].as_f64().expect("value") as i64)
        .collect();
    assert_eq!(values, YEARLY_DE.map(|(_, units)| units).to_vec());
    assert_eq!(yearly["trend"]["notes"], json!([]));
    let since_2021 = json!({ "countries": ["GB"], "from": "2021-01-01" });
    let quarterly = server.data(TREND, json!({ "f": since_2021, "g": "QUARTER" })).await;
    let points = quarterly["trend"]["points"].as_array().expect("points");
    assert_eq!(points.len(), 12, "{quarterly}");
    assert_eq!(points[1]["period"], "2021-04-01");
    assert_eq!(points[1]["value"].as_f64(), Some(200.0));

    // Summaries: no month holds them, totals over whole years do, half a year does not.
    let by_month = server.data(SUMMARY, json!({ "f": de, "by": ["PERIOD"], "g": "MONTH" })).await;
    assert_eq!(by_month["salesSummary"], json!([]), "{by_month}");
    let by_quarter = server.data(SUMMARY, json!({ "f": gb, "by": ["PERIOD"], "g": "QUARTER" })).await;
    assert_eq!(units(&by_quarter["salesSummary"]).iter().sum::<i64>(), 3 * 1000);
    let total = server.data(SUMMARY, json!({ "f": de, "by": [] })).await;
    assert_eq!(units(&total["salesSummary"]), vec![YEARLY_DE.iter().map(|(_, u)| u).sum::<i64>()]);
    let whole_2021 = json!({ "countries": ["DE"], "from": "2021-01-01", "to": "2021-12-31" });
    let total = server.data(SUMMARY, json!({ "f": whole_2021, "by": [] })).await;
    assert_eq!(units(&total["salesSummary"]), vec![1450]);
    let half_2021 = json!({ "countries": ["DE"], "from": "2021-01-01", "to": "2021-06-30" });
    let total = server.data(SUMMARY, json!({ "f": half_2021, "by": [] })).await;
    assert_eq!(units(&total["salesSummary"]), vec![0], "half a year cannot hold a year's sales");

    // Mixed data: the monthly rows alone, and a note on what was left out.
    let mixed = server.data(SEASONALITY, json!({ "f": fr })).await;
    let seasonality = &mixed["seasonality"];
    assert_eq!(seasonality["peakMonths"][0], 6, "the planted June peak, not January: {mixed}");
    assert_eq!(seasonality["months"], 35, "36 months, the last cut at its 15th");
    let notes = seasonality["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{mixed}");
    let note = notes[0].as_str().expect("note");
    assert!(note.contains(&format!("{} units in 3 sale rows", 3 * FR_YEARLY_UNITS)), "{note}");
    assert!(note.contains("date precision YEAR"), "{note}");
    let forecast = server.data(FORECAST, json!({ "f": fr })).await;
    assert_eq!(forecast["forecast"]["predictions"][0]["model"]["name"], "iX");
    assert!(forecast["forecast"]["notes"][0].as_str().is_some_and(|n| n.contains("date precision YEAR")));
    let january = server
        .data(
            SUMMARY,
            json!({ "f": { "countries": ["FR"], "from": "2022-01-01", "to": "2022-01-31" }, "by": [] }),
        )
        .await;
    let planted_january = 100 + (7 + 2022) % 11;
    assert_eq!(units(&january["salesSummary"]), vec![planted_january]);

    // Ask carries the reason in its notes rather than failing, and the notes of mixed data.
    let ask = "query($q: String!) { ask(question: $q, asOf: \"2024-01-15\") { interpretation { intent } notes rows } }";
    let answer = server.data(ask, json!({ "q": "seasonality in Germany" })).await;
    assert_eq!(answer["ask"]["interpretation"]["intent"], "SEASONALITY", "{answer}");
    assert_eq!(answer["ask"]["rows"], json!([]));
    let notes = answer["ask"]["notes"].to_string();
    assert!(notes.contains("date precision YEAR"), "{answer}");
    let answer = server.data(ask, json!({ "q": "seasonality in France" })).await;
    assert_eq!(answer["ask"]["rows"].as_array().map(Vec::len), Some(12), "{answer}");
    assert!(answer["ask"]["notes"].to_string().contains("date precision YEAR"), "{answer}");
}

/// A database that took rows by year before the coarse-dated rollup existed gets it filled in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_sums_the_coarse_rows_already_landed() {
    use migration::{Migrator, MigratorTrait};
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file =
        write(&dir, "years.csv", "Year,Model,Country,Units\n2022,X5,DE,10\n2022,X5,DE,5\n2023,i4,FR,7\n");
    import(&db, &[&file, "--map", "year=Year,model=Model,country=Country,units=Units"]);
    Migrator::down(&db.db, Some(1)).await.expect("migrate down");
    Migrator::up(&db.db, None).await.expect("migrate up");
    assert_eq!(db.scalar_i64("SELECT CAST(SUM(units) AS BIGINT) FROM coarse_dated_rollup").await, 22);
    db.assert_rollup_matches_sales().await;
}

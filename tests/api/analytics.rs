//! Trend and seasonality find what the generator planted (data.md), through GraphQL.

use serde_json::json;

use super::common::{TestDb, TestServer, date};
use salesgraph::store::seed::SeedOptions;

async fn server(seasonal: bool) -> TestServer {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 25_000,
        seed: 5,
        from: date(2014, 1, 1),
        until: date(2024, 12, 31),
        seasonal,
    })
    .await;
    TestServer::start(db).await
}

const SEASONALITY: &str = "query($f: SalesFilter) { seasonality(filter: $f) { monthlyIndex peakMonths troughMonths strength months } }";
const TREND: &str = "query($f: SalesFilter) { trend(filter: $f) { direction slopePerMonth yearOverYear points { period value partial yearOverYear movingAverage } } }";

fn months(value: &serde_json::Value) -> Vec<u64> {
    value.as_array().expect("months").iter().map(|m| m.as_u64().expect("month")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seasonality_and_trend_find_the_planted_patterns() {
    let server = server(true).await;
    let gb = server.data(SEASONALITY, json!({ "f": { "countries": ["GB"] } })).await;
    let peaks = months(&gb["seasonality"]["peakMonths"]);
    assert!(peaks.contains(&3) && peaks.contains(&9), "GB peaks: {gb}");
    let index = gb["seasonality"]["monthlyIndex"].as_array().expect("index");
    assert_eq!(index.len(), 12);
    let mean = index.iter().map(|v| v.as_f64().expect("f64")).sum::<f64>() / 12.0;
    assert!((mean - 1.0).abs() < 1e-6);

    let us = server.data(SEASONALITY, json!({ "f": { "countries": ["US"] } })).await;
    let troughs = months(&us["seasonality"]["troughMonths"]);
    assert!(troughs.contains(&1) || troughs.contains(&2), "US troughs: {us}");
    let cn = server.data(SEASONALITY, json!({ "f": { "countries": ["CN"] } })).await;
    assert!(months(&cn["seasonality"]["peakMonths"]).contains(&1), "CN peaks: {cn}");

    for model in ["iX", "X7"] {
        let trend = server.data(TREND, json!({ "f": { "models": [model], "from": "2022-01-01" } })).await;
        assert_eq!(trend["trend"]["direction"], "UP", "{model}: {}", trend["trend"]["direction"]);
    }
    let seven = server.data(TREND, json!({ "f": { "models": ["7 Series"], "from": "2015-01-01" } })).await;
    assert_eq!(seven["trend"]["direction"], "DOWN", "7 Series: slope {}", seven["trend"]["slopePerMonth"]);

    // A range ending mid-month marks its last point partial.
    let partial = server.data(TREND, json!({ "f": { "from": "2024-01-01", "to": "2024-06-15" } })).await;
    let points = partial["trend"]["points"].as_array().expect("points");
    assert_eq!(points.len(), 6);
    assert_eq!(points[5]["partial"], json!(true));
    assert_eq!(points[4]["partial"], json!(false));
    assert!(points[5]["yearOverYear"].is_null());

    // Too short a series is refused with the reason, not answered with an invented pattern.
    let (_, _, body) =
        server.post(Some(&server.admin_token()), SEASONALITY, json!({ "f": { "from": "2024-01-01" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert!(body["errors"][0]["message"].as_str().expect("message").contains("24"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_without_planted_seasons_has_little_strength() {
    let server = server(false).await;
    let flat = server.data(SEASONALITY, json!({ "f": { "regions": ["Europe"] } })).await;
    let strength = flat["seasonality"]["strength"].as_f64().expect("strength");
    assert!(strength < 0.2, "strength without seasonality: {strength}");
}

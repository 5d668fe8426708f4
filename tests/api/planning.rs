//! Forecasts and inventory plans rediscover the generator's plants (data.md 3 and 6).

use serde_json::json;

use super::common::{TestDb, TestServer, date};
use salesgraph::store::seed::SeedOptions;

const FORECAST: &str = "query($f: SalesFilter, $limit: Int, $h: Int) {
  forecast(filter: $f, limit: $limit, horizonMonths: $h) {
    method
    backtest { holdoutMonths mase smape baselineSmape }
    predictions { rank model { name } country { code } units lower upper months { month units lower upper } }
  }
}";
const PLAN: &str = "query($c: String!) {
  inventoryPlan(country: $c) { model { name } forecastUnits safetyStock onHand recommendedStock reorderUnits status reasons }
}";

fn status_of(plan: &serde_json::Value, model: &str) -> String {
    plan["inventoryPlan"]
        .as_array()
        .expect("plan")
        .iter()
        .find(|r| r["model"]["name"] == model)
        .unwrap_or_else(|| panic!("{model} missing from {plan}"))["status"]
        .as_str()
        .expect("status")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecasts_beat_seasonal_naive_and_plans_flag_the_planted_stock() {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 150_000,
        seed: 9,
        from: date(2018, 1, 1),
        until: date(2024, 12, 31),
        seasonal: true,
    })
    .await;
    let server = TestServer::start(db).await;

    for country in ["DE", "US", "CN"] {
        let data = server.data(FORECAST, json!({ "f": { "countries": [country] }, "limit": 10 })).await;
        let forecast = &data["forecast"];
        let backtest = &forecast["backtest"];
        let (smape, baseline) = (
            backtest["smape"].as_f64().expect("smape"),
            backtest["baselineSmape"].as_f64().expect("baseline"),
        );
        assert!(smape < baseline, "{country}: sMAPE {smape:.1} does not beat seasonal naive {baseline:.1}");
        assert_eq!(backtest["holdoutMonths"], json!(12));
        let predictions = forecast["predictions"].as_array().expect("predictions");
        assert_eq!(predictions.len(), 10);
        for p in predictions {
            assert_eq!(p["country"]["code"], json!(country));
            let months = p["months"].as_array().expect("months");
            assert_eq!(months.len(), 3);
            assert_eq!(months[0]["month"], json!("2025-01-01"));
            let (lower, units, upper) =
                (p["lower"].as_f64().unwrap(), p["units"].as_f64().unwrap(), p["upper"].as_f64().unwrap());
            assert!(lower <= units && units <= upper, "{p}");
        }
        if country == "US" {
            let top3: Vec<&str> =
                predictions[..3].iter().map(|p| p["model"]["name"].as_str().expect("name")).collect();
            assert!(top3.contains(&"X5"), "US top 3: {top3:?}");
        }
    }

    // A forecast "as of" a past date uses only the data up to then.
    let past = server
        .data(FORECAST, json!({ "f": { "countries": ["DE"], "to": "2023-06-30" }, "limit": 1, "h": 2 }))
        .await;
    let months = past["forecast"]["predictions"][0]["months"].as_array().expect("months");
    assert_eq!(
        months.iter().map(|m| m["month"].clone()).collect::<Vec<_>>(),
        vec![json!("2023-07-01"), json!("2023-08-01")]
    );

    let no = server.data(PLAN, json!({ "c": "Norway" })).await;
    assert_eq!(status_of(&no, "iX"), "SHORT", "{no}");
    let us = server.data(PLAN, json!({ "c": "US" })).await;
    assert_eq!(status_of(&us, "X5"), "SHORT", "{us}");
    assert_eq!(status_of(&us, "7 Series"), "EXCESS", "{us}");

    let marketing = server
        .data("{ marketingPriorities(filter: { countries: [\"DE\"] }, limit: 3) { rank model { name } score reasons } }", json!({}))
        .await;
    let top3: Vec<&str> = marketing["marketingPriorities"]
        .as_array()
        .expect("priorities")
        .iter()
        .map(|p| p["model"]["name"].as_str().expect("name"))
        .collect();
    assert!(top3.contains(&"8 Series"), "DE marketing top 3: {marketing}");
    assert!(
        marketing["marketingPriorities"][0]["reasons"][0]
            .as_str()
            .expect("reason")
            .contains("year over year")
    );

    let segments = server
        .data("{ segments { k silhouette segments { id label models { name } centroid { averagePrice unitsPerYear growth electricShare } } } }", json!({}))
        .await;
    let analysis = &segments["segments"];
    let segment_of = |model: &str| {
        analysis["segments"]
            .as_array()
            .expect("segments")
            .iter()
            .position(|s| s["models"].as_array().expect("models").iter().any(|m| m["name"] == model))
            .unwrap_or_else(|| panic!("{model} in no segment: {analysis}"))
    };
    assert_eq!(segment_of("7 Series"), segment_of("M5"), "{analysis}");
    assert_eq!(segment_of("i4"), segment_of("iX"), "{analysis}");
    assert_ne!(segment_of("3 Series"), segment_of("i7"), "{analysis}");
    assert!(analysis["silhouette"].as_f64().expect("silhouette") > 0.4, "{analysis}");

    let (_, _, body) = server.post(Some(&server.admin_token()), PLAN, json!({ "c": "Atlantis" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let (_, _, body) = server.post(Some(&server.admin_token()), FORECAST, json!({ "h": 0 })).await;
    assert!(body["errors"][0]["message"].as_str().expect("message").contains("horizonMonths"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backtests_are_computed_ahead_and_reused_by_forecasts() {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 8_000,
        seed: 4,
        from: date(2019, 1, 1),
        until: date(2023, 12, 31),
        seasonal: true,
    })
    .await;
    let server = TestServer::start_with(db, |s| s.warm_forecasts = true).await;
    // The background pass fills the snapshot's memo and then says so.
    let version = server.context.snapshot().version;
    for _ in 0..600 {
        if server.context.metrics.backtests_ready.get() == version {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(server.context.metrics.backtests_ready.get(), version);
    let memo = || server.context.snapshot().forecast_memo.backtest_count();
    let settled = memo();
    assert!(settled >= 5, "backtests computed ahead: {settled}");

    let data = server.data(FORECAST, json!({ "f": { "countries": ["DE"] }, "limit": 5 })).await;
    assert!(data["forecast"]["method"].as_str().expect("method").contains("AutoETS"), "{data}");
    assert!(data["forecast"]["backtest"]["smape"].as_f64().expect("smape") > 0.0, "{data}");
    assert_eq!(memo(), settled, "the forecast reused the backtests computed ahead");
    // The inventory plan forecasts every model of the market: all of them were fitted ahead.
    let fits = server.context.snapshot().forecast_memo.forecast_count();
    let plan = server.data(PLAN, json!({ "c": "DE" })).await;
    assert!(!plan["inventoryPlan"].as_array().expect("plan").is_empty(), "{plan}");
    assert_eq!(server.context.snapshot().forecast_memo.forecast_count(), fits, "the plan reused the fits");
}

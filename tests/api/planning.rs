//! Forecasts and inventory plans rediscover the generator's plants (data.md 3 and 6).

use serde_json::json;

use super::common::{TestDb, TestServer, date};
use salesgraph::store::seed::SeedOptions;

const FORECAST: &str = "query($f: SalesFilter, $limit: Int, $h: Int) {
  forecast(filter: $f, limit: $limit, horizonMonths: $h) {
    method
    backtest { holdoutMonths mase smape baselineSmape coverage }
    predictions { rank model { name } country { code } units lower upper months { month units lower upper } }
  }
}";
const PLAN: &str = "query($c: String!) {
  inventoryPlan(country: $c) { model { name } forecastUnits safetyStock onHand recommendedStock reorderUnits status reasons }
}";

/// Units, lower and upper of a prediction or a month.
fn interval_of(forecast: &serde_json::Value) -> (f64, f64, f64) {
    let figure = |name: &str| forecast[name].as_f64().unwrap_or_else(|| panic!("{name} in {forecast}"));
    (figure("units"), figure("lower"), figure("upper"))
}

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
        // The intervals of the totals are calibrated on the backtest's own errors: on series
        // they were not calibrated on they hold about 80%, and they are narrow enough to plan with.
        let coverage = backtest["coverage"].as_f64().expect("coverage");
        assert!((0.65..=0.92).contains(&coverage), "{country}: coverage {coverage}");
        let mut ratios: Vec<f64> = Vec::new();
        for p in forecast["predictions"].as_array().expect("predictions") {
            let (units, lower, upper) = interval_of(p);
            assert!(0.0 <= lower && lower <= units && units <= upper, "{country}: {p}");
            for m in p["months"].as_array().expect("months") {
                let (u, l, h) = interval_of(m);
                assert!(0.0 <= l && l <= u && u <= h, "{country}: {m}");
            }
            if units / 3.0 > 100.0 && lower > 0.0 {
                ratios.push(upper / lower);
            }
        }
        ratios.sort_by(f64::total_cmp);
        assert!(!ratios.is_empty() && ratios[ratios.len() / 2] < 2.0, "{country}: upper/lower {ratios:?}");
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

const PRIORITIES: &str = "query($c: String!) {
  marketingPriorities(filter: { countries: [$c] }, limit: 50) {
    model { name }
    explanations { kind value comparedWith units comparedWithUnits from to comparedFrom comparedTo text }
  }
}";

fn explanation<'a>(
    priorities: &'a serde_json::Value,
    model: &str,
    kind: &str,
) -> Option<&'a serde_json::Value> {
    priorities["marketingPriorities"]
        .as_array()
        .expect("priorities")
        .iter()
        .find(|p| p["model"]["name"] == model)?["explanations"]
        .as_array()
        .expect("explanations")
        .iter()
        .find(|e| e["kind"] == kind)
}

/// Units `salesSummary` gives for one model in one market over `from`..=`to`.
async fn summary_units(server: &TestServer, country: &str, model: &str, from: &str, to: &str) -> f64 {
    let data = server
        .data(
            "query($f: SalesFilter) { salesSummary(filter: $f, groupBy: [COUNTRY]) { units } }",
            json!({ "f": { "countries": [country], "models": [model], "from": from, "to": to } }),
        )
        .await;
    data["salesSummary"]
        .as_array()
        .expect("summary")
        .iter()
        .map(|r| r["units"].as_f64().expect("units"))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_planted_thirty_percent_below_its_forecast_is_said_to_be_so() {
    // Five steady models in Austria for five years, sold mid-month; the X5 sells 30% less in
    // September to November 2024. December, the last month, is partial (the data ends on the
    // 15th): the comparison must cover the three whole months before it, with no partial month.
    let mut csv = String::from("sold_on,model,country,units\n");
    for (index, (model, level)) in
        [("X5", 200.0), ("X3", 300.0), ("X1", 260.0), ("3 Series", 150.0), ("i4", 120.0)]
            .into_iter()
            .enumerate()
    {
        for month in 0..60 {
            let (year, month_of_year) = (2020 + month / 12, month % 12 + 1);
            // A small, fixed wobble so that the series are not constant.
            let wobble = 1.0 + 0.03 * (((month * 7 + index as i32 * 3) % 5) as f64 - 2.0) / 2.0;
            let short =
                if model == "X5" && year == 2024 && (9..=11).contains(&month_of_year) { 0.7 } else { 1.0 };
            let units = (level * wobble * short).round();
            csv.push_str(&format!("{year}-{month_of_year:02}-15,{model},AT,{units}\n"));
        }
    }
    let server = TestServer::start(TestDb::new().await).await;
    let landed = server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed rowsLanded } }",
            json!({ "csv": csv }),
        )
        .await;
    assert_eq!(landed["importSales"]["landed"], true, "{landed}");

    let priorities = server.data(PRIORITIES, json!({ "c": "AT" })).await;
    let short = explanation(&priorities, "X5", "AGAINST_FORECAST")
        .unwrap_or_else(|| panic!("no against-forecast reason for the X5: {priorities}"));
    let gap = short["value"].as_f64().expect("gap");
    assert!((-0.35..=-0.25).contains(&gap), "gap {gap}: {short}");
    let text = short["text"].as_str().expect("text");
    assert!(text.contains(&format!("{:.0}% below", -gap * 100.0)), "{text}");
    assert_eq!(
        (short["from"].as_str(), short["to"].as_str()),
        (Some("2024-09-01"), Some("2024-11-30")),
        "{short}"
    );
    assert_eq!(
        short["units"].as_f64(),
        Some(summary_units(&server, "AT", "X5", "2024-09-01", "2024-11-30").await)
    );
    for steady in ["X3", "X1", "3 Series", "i4"] {
        if let Some(reason) = explanation(&priorities, steady, "AGAINST_FORECAST") {
            let gap = reason["value"].as_f64().expect("gap");
            assert!(gap.abs() < 0.1, "{steady} is steady, yet {reason}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_marketing_reason_states_what_sales_summary_gives_over_the_days_it_names() {
    let db = TestDb::new().await;
    db.seed(&super::common::small_seed(40_000, 5)).await;
    let server = TestServer::start(db).await;
    let mut checked = 0;
    for country in ["DE", "US"] {
        let priorities = server.data(PRIORITIES, json!({ "c": country })).await;
        for priority in priorities["marketingPriorities"].as_array().expect("priorities") {
            let model = priority["model"]["name"].as_str().expect("name");
            for reason in priority["explanations"].as_array().expect("explanations") {
                let Some(units) = reason["units"].as_f64() else { continue };
                let (from, to) = (reason["from"].as_str().expect("from"), reason["to"].as_str().expect("to"));
                let text = reason["text"].as_str().expect("text");
                assert_eq!(
                    units,
                    summary_units(&server, country, model, from, to).await,
                    "{country} {model}: {reason}"
                );
                assert!(
                    text.contains(&format!("{units:.0}")) && text.contains(from) && text.contains(to),
                    "{text}"
                );
                let compared = reason["comparedWithUnits"].as_f64().expect("compared units");
                if reason["kind"] == "MOMENTUM" {
                    let (from, to) = (
                        reason["comparedFrom"].as_str().expect("from"),
                        reason["comparedTo"].as_str().expect("to"),
                    );
                    assert_eq!(compared, summary_units(&server, country, model, from, to).await, "{reason}");
                }
                let change = reason["value"].as_f64().expect("value");
                assert!((change - (units / compared - 1.0)).abs() < 1e-9, "{reason}");
                assert!(text.contains(&format!("{:.0}%", change.abs() * 100.0)), "{text}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} reasons with figures");
}

const MARKET_FORECAST: &str = "query($f: SalesFilter) {
  forecast(filter: $f, limit: 100) {
    backtest { smape baselineSmape coverage }
    predictions { method units lower upper backtest { smape baselineSmape } }
  }
}";

/// The acceptance set: 300,000 generated rows, every model of each of the ten largest
/// markets, 3 months ahead from the backtest's origins. Each series' method is chosen on months
/// before the ones its errors are reported on, so these figures are not flattered. Three seeds,
/// since one data set can pass by luck what another fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecasts_chosen_by_their_backtest_never_lose_to_seasonal_naive_in_a_market() {
    for seed in [11, 7, 23] {
        forecasts_hold_up_on_a_generated_set(seed).await;
    }
}

async fn forecasts_hold_up_on_a_generated_set(seed: u64) {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 300_000,
        seed,
        from: date(2018, 1, 1),
        until: date(2025, 6, 30),
        seasonal: true,
    })
    .await;
    let server = TestServer::start(db).await;
    let markets =
        server.data("{ salesSummary(groupBy: [COUNTRY]) { country { code } units } }", json!({})).await;
    let mut markets: Vec<(String, i64)> = markets["salesSummary"]
        .as_array()
        .expect("summary")
        .iter()
        .map(|r| {
            (r["country"]["code"].as_str().expect("code").to_string(), r["units"].as_i64().expect("units"))
        })
        .collect();
    markets.sort_by_key(|(_, units)| std::cmp::Reverse(*units));
    let (mut inside, mut judged, mut ratios) = (0.0, 0.0, Vec::new());
    let (mut all_worse, mut all_series, mut markets_over) = (0, 0, Vec::new());
    for (country, _) in markets.iter().take(10) {
        let data = server.data(MARKET_FORECAST, json!({ "f": { "countries": [country] } })).await;
        let forecast = &data["forecast"];
        let figure = |value: &serde_json::Value, name: &str| {
            value[name].as_f64().unwrap_or_else(|| panic!("{country}: {name} in {value}"))
        };
        let backtest = &forecast["backtest"];
        let (smape, baseline) = (figure(backtest, "smape"), figure(backtest, "baselineSmape"));
        if smape > baseline + 1e-9 {
            markets_over.push(format!("{country}: sMAPE {smape:.1} worse than seasonal naive {baseline:.1}"));
        }
        let predictions = forecast["predictions"].as_array().expect("predictions");
        let worse: Vec<String> = predictions
            .iter()
            .filter(|p| figure(&p["backtest"], "smape") > figure(&p["backtest"], "baselineSmape") + 1e-9)
            .map(|p| format!("{} {}", p["method"], p["backtest"]))
            .collect();
        eprintln!(
            "{country}: sMAPE {smape:.2} against {baseline:.2}, {} of {} series worse",
            worse.len(),
            predictions.len()
        );
        all_worse += worse.len();
        all_series += predictions.len();
        if worse.len() * 10 > predictions.len() {
            markets_over.push(format!("{country}: {} of {}: {worse:?}", worse.len(), predictions.len()));
        }
        assert!(predictions.iter().all(|p| !p["method"].as_str().expect("method").is_empty()));
        let coverage = figure(backtest, "coverage");
        inside += coverage * predictions.len() as f64;
        judged += predictions.len() as f64;
        for p in predictions {
            let (units, lower, upper) = interval_of(p);
            if units / 3.0 > 100.0 && lower > 0.0 {
                ratios.push(upper / lower);
            }
        }
    }
    let coverage = inside / judged;
    eprintln!(
        "seed {seed}: {all_worse} of {all_series} series worse than seasonal naive; pooled coverage {coverage:.3}"
    );
    assert!(markets_over.is_empty(), "seed {seed}: markets that lose to seasonal naive: {markets_over:#?}");
    assert!((0.75..=0.85).contains(&coverage), "seed {seed}: pooled coverage {coverage:.3}");
    ratios.sort_by(f64::total_cmp);
    assert!(!ratios.is_empty() && ratios[ratios.len() / 2] < 2.0, "seed {seed}: upper/lower {ratios:?}");
}

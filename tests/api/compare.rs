//! Comparisons: for random filters, groupings and ranges (across 29 February and across years),
//! each group's `previous`, `change` and `changeRatio` equal what a plain loop over the raw sale
//! rows gives; groups of one range only meet 0; the analyst gets units and FORBIDDEN for money.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use super::common::TestServer;

const CASES: usize = 300;
const FIRST_DAY: (i32, u32, u32) = (2023, 1, 1);

#[derive(Debug, Clone)]
struct Raw {
    sold_on: NaiveDate,
    model: String,
    country: String,
    region: String,
    fuel_type: String,
    units: i64,
}

async fn raw_rows(server: &TestServer) -> Vec<Raw> {
    server
        .db
        .rows(
            "SELECT s.sold_on, m.name, s.country_code, c.region, s.fuel_type, s.units FROM sale s \
             JOIN car_model m ON m.id = s.model_id JOIN country c ON c.code = s.country_code",
        )
        .await
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            Raw {
                sold_on: f[0].parse().expect("day"),
                model: f[1].to_string(),
                country: f[2].to_string(),
                region: f[3].to_string(),
                fuel_type: f[4].to_string(),
                units: f[5].parse().expect("units"),
            }
        })
        .collect()
}

/// A seeded server taking hundreds of requests back to back: the per-viewer rate limit is not
/// what these tests test.
async fn property_server() -> TestServer {
    TestServer::start_with(super::seeded_server_db(3_000).await, |s| s.rate_limit = 100_000).await
}

/// The raw rows, and the markets and models they name.
async fn raw_rows_and_names(server: &TestServer) -> (Vec<Raw>, Vec<String>, Vec<String>) {
    let raw = raw_rows(server).await;
    let names = |name: fn(&Raw) -> &String| {
        raw.iter().map(|r| name(r).clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect()
    };
    let (countries, models) = (names(|r| &r.country), names(|r| &r.model));
    (raw, countries, models)
}

#[derive(Debug, Clone)]
struct Case {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    countries: Option<Vec<String>>,
    models: Option<Vec<String>>,
    group_by: Vec<&'static str>,
    /// `compareTo`, or else `compareRange`.
    compare_to: Option<&'static str>,
    compare_range: (NaiveDate, NaiveDate),
}

fn day() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).expect("day");
    (0i64..560).prop_map(move |offset| first + chrono::Duration::days(offset))
}

fn ordered(a: NaiveDate, b: NaiveDate) -> (NaiveDate, NaiveDate) {
    if a <= b { (a, b) } else { (b, a) }
}

fn cases(countries: Vec<String>, models: Vec<String>) -> impl Strategy<Value = Case> {
    let some_of = |choices: Vec<String>| {
        let n = choices.len();
        proptest::option::weighted(0.5, proptest::sample::subsequence(choices, 1..=n.min(5)))
    };
    (
        proptest::option::weighted(0.85, day()),
        proptest::option::weighted(0.85, day()),
        some_of(countries),
        some_of(models),
        proptest::sample::subsequence(vec!["MODEL", "COUNTRY", "REGION", "FUEL_TYPE", "PERIOD"], 0..=2),
        prop_oneof![Just(Some("PREVIOUS_PERIOD")), Just(Some("PREVIOUS_YEAR")), Just(None)],
        day(),
        day(),
    )
        .prop_map(|(a, b, countries, models, group_by, compare_to, c, d)| {
            let (from, to) = match (a, b) {
                (Some(a), Some(b)) => {
                    let (a, b) = ordered(a, b);
                    (Some(a), Some(b))
                }
                other => other,
            };
            // PERIOD is compared with the range a whole number of months before: a range named
            // by hand may lie anywhere, so it goes with the other groupings.
            let group_by = if compare_to.is_none() {
                group_by.into_iter().filter(|d| *d != "PERIOD").collect()
            } else {
                group_by
            };
            Case { from, to, countries, models, group_by, compare_to, compare_range: ordered(c, d) }
        })
}

fn year_before(day: NaiveDate) -> NaiveDate {
    day.checked_sub_months(Months::new(12)).expect("a year before")
}

/// The group of a row as the test names it; `period` is the month the group stands for.
fn key(row: &Raw, group_by: &[&str], period: Option<NaiveDate>) -> String {
    group_by
        .iter()
        .map(|d| match *d {
            "MODEL" => row.model.clone(),
            "COUNTRY" => row.country.clone(),
            "REGION" => row.region.clone(),
            "FUEL_TYPE" => row.fuel_type.clone(),
            _ => period.map(|p| p.to_string()).unwrap_or_default(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn month_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(chrono::Datelike::year(&day), chrono::Datelike::month(&day), 1).expect("month")
}

fn months_between(earlier: NaiveDate, later: NaiveDate) -> u32 {
    use chrono::Datelike;
    ((later.year() - earlier.year()) * 12 + later.month() as i32 - earlier.month() as i32) as u32
}

fn answer_key(row: &Value, group_by: &[&str]) -> String {
    group_by
        .iter()
        .map(|d| match *d {
            "MODEL" => row["model"]["name"].as_str().unwrap_or_default().to_string(),
            "COUNTRY" => row["country"]["code"].as_str().unwrap_or_default().to_string(),
            "REGION" => row["region"].as_str().unwrap_or_default().to_string(),
            "FUEL_TYPE" => row["fuelType"].as_str().unwrap_or_default().to_string(),
            _ => row["period"].as_str().unwrap_or_default().to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

const SUMMARY: &str = "query($f: SalesFilter, $by: [Dimension!]!, $to: Comparison, $range: DateRange) {
  salesSummary(filter: $f, groupBy: $by, compareTo: $to, compareRange: $range) {
    period model { name } country { code } region fuelType units previous { units } change changeRatio } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_group_is_compared_as_the_raw_rows_say() {
    let server = property_server().await;
    let (raw, countries, models) = raw_rows_and_names(&server).await;
    let last_sale = raw.iter().map(|r| r.sold_on).max().expect("sales");
    let first_month = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).expect("day");

    let mut runner = TestRunner::new(Config { cases: CASES as u32, ..Config::default() });
    let strategy = cases(countries, models);
    let mut across_leap_day = 0;
    for case_number in 0..CASES {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let (from, to) = (case.from.unwrap_or(first_month), case.to.unwrap_or(last_sale));
        let (first, last) = match case.compare_to {
            Some("PREVIOUS_PERIOD") => {
                let days = (to - from).num_days() + 1;
                (from - chrono::Duration::days(days), from - chrono::Duration::days(1))
            }
            Some(_) => (year_before(from), year_before(to)),
            None => case.compare_range,
        };
        let leap_day = NaiveDate::from_ymd_opt(2024, 2, 29).expect("day");
        across_leap_day += usize::from((from..=to).contains(&leap_day) || (first..=last).contains(&leap_day));
        let shift = months_between(month_start(first), month_start(from));
        let passes = |row: &Raw| {
            case.countries.as_ref().is_none_or(|c| c.contains(&row.country))
                && case.models.as_ref().is_none_or(|m| m.contains(&row.model))
        };
        let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for row in raw.iter().filter(|r| passes(r)) {
            if (from..=to).contains(&row.sold_on) {
                expected.entry(key(row, &case.group_by, Some(month_start(row.sold_on)))).or_default().0 +=
                    row.units;
            }
            if (first..=last).contains(&row.sold_on) {
                let stands_for = month_start(row.sold_on).checked_add_months(Months::new(shift));
                expected.entry(key(row, &case.group_by, stands_for)).or_default().1 += row.units;
            }
        }
        if case.group_by.is_empty() {
            expected.entry(String::new()).or_default();
        }

        let filter = json!({
            "from": case.from, "to": case.to, "countries": case.countries, "models": case.models,
        });
        let variables = json!({
            "f": filter, "by": case.group_by, "to": case.compare_to,
            "range": case.compare_to.is_none().then(|| json!({ "from": case.compare_range.0, "to": case.compare_range.1 })),
        });
        let data = server.data(SUMMARY, variables).await;
        let answer: BTreeMap<String, (i64, i64)> = data["salesSummary"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| {
                let (now, then) = (
                    row["units"].as_i64().expect("units"),
                    row["previous"]["units"].as_i64().expect("previous"),
                );
                assert_eq!(
                    row["change"].as_f64(),
                    Some((now - then) as f64),
                    "case {case_number}: {case:?} {row}"
                );
                let ratio = (then != 0).then(|| (now - then) as f64 / then as f64);
                assert_eq!(
                    row["changeRatio"].as_f64().map(|r| (r * 1e9).round()),
                    ratio.map(|r| (r * 1e9).round()),
                    "case {case_number}: {case:?} {row}"
                );
                (answer_key(row, &case.group_by), (now, then))
            })
            .collect();
        assert_eq!(
            answer, expected,
            "case {case_number}: {case:?} ({from} to {to} against {first} to {last})"
        );
    }
    assert!(across_leap_day > CASES / 10, "only {across_leap_day} cases crossed 29 February");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_rank_by_change_and_keep_money_and_regions_to_their_roles() {
    let server = TestServer::start(super::seeded_server_db(2_000).await).await;
    let query = "query($f: SalesFilter, $rank: RankBy, $to: Comparison) {
      salesSummary(filter: $f, groupBy: [MODEL], compareTo: $to, rankBy: $rank, limit: 3) { model { name } units change changeRatio previous { units revenue } } }";
    let filter = json!({ "from": "2024-01-01", "to": "2024-06-30" });
    let data = server.data(query, json!({ "f": filter, "rank": "CHANGE", "to": "PREVIOUS_YEAR" })).await;
    let changes: Vec<f64> = data["salesSummary"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["change"].as_f64().expect("change"))
        .collect();
    assert_eq!(changes.len(), 3);
    assert!(changes.windows(2).all(|w| w[0] >= w[1]), "ranked by change: {changes:?}");
    let full = server
        .data(
            query.replace("limit: 3", "limit: 1000").as_str(),
            json!({ "f": filter, "rank": "CHANGE", "to": "PREVIOUS_YEAR" }),
        )
        .await;
    let largest = full["salesSummary"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["change"].as_f64().expect("change"))
        .fold(f64::MIN, f64::max);
    assert_eq!(changes[0], largest, "the limit keeps the largest changes");

    // Ranking by the change needs a comparison; both kinds of comparison at once are refused.
    let (_, _, body) =
        server.post(Some(&server.admin_token()), query, json!({ "f": filter, "rank": "CHANGE" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("compareTo")), "{body}");
    let both = "{ salesSummary(groupBy: [], compareTo: PREVIOUS_YEAR, compareRange: { from: \"2023-01-01\", to: \"2023-02-01\" }) { units } }";
    let (_, _, body) = server.post(Some(&server.admin_token()), both, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");

    // The analyst compares units; the money of the previous range is forbidden like today's.
    let analyst = server.token(salesgraph::auth::Role::Analyst, &[]);
    let (_, _, body) =
        server.post(Some(&analyst), query, json!({ "f": filter, "to": "PREVIOUS_YEAR" })).await;
    assert!(body["data"]["salesSummary"][0]["previous"]["units"].is_i64(), "{body}");
    assert!(body["data"]["salesSummary"][0]["previous"]["revenue"].is_null(), "{body}");
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["extensions"]["code"].as_str())
        .collect();
    assert!(!codes.is_empty() && codes.iter().all(|c| *c == "FORBIDDEN"), "{body}");

    // A manager's comparison covers their regions in both ranges.
    let manager = server.token(salesgraph::auth::Role::Manager, &["Europe"]);
    let total = "query($to: Comparison) { salesSummary(filter: { from: \"2024-01-01\", to: \"2024-03-31\" }, groupBy: [], compareTo: $to) { units previous { units } } }";
    let (_, _, body) = server.post(Some(&manager), total, json!({ "to": "PREVIOUS_YEAR" })).await;
    let europe = server
        .data(
            "{ now: salesSummary(filter: { regions: [\"Europe\"], from: \"2024-01-01\", to: \"2024-03-31\" }, groupBy: []) { units } then: salesSummary(filter: { regions: [\"Europe\"], from: \"2023-01-01\", to: \"2023-03-31\" }, groupBy: []) { units } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["salesSummary"][0]["units"], europe["now"][0]["units"], "{body}");
    assert_eq!(body["data"]["salesSummary"][0]["previous"]["units"], europe["then"][0]["units"], "{body}");

    // topModels carries the same comparison.
    let top = server
        .data(
            "{ topModels(filter: { from: \"2024-01-01\", to: \"2024-06-30\" }, compareTo: PREVIOUS_YEAR, limit: 2) { model { name } units previous { units } change } }",
            json!({}),
        )
        .await;
    for model in top["topModels"].as_array().expect("models") {
        let (now, then) =
            (model["units"].as_i64().expect("units"), model["previous"]["units"].as_i64().expect("then"));
        assert_eq!(model["change"].as_f64(), Some((now - then) as f64), "{model}");
    }
}

const WINDOWS: &str = "query($f: SalesFilter, $by: [Dimension!]!, $g: Granularity, $months: Int!) {
  salesSummary(filter: $f, groupBy: $by, granularity: $g) {
    period model { name } country { code } region units runningTotal rollingAverage(months: $months) shareOfTotal rankWithin(dimension: PERIOD) } }";

/// For random filters and groupings by period (and one more dimension), the running total,
/// the rolling average and the share of the period equal what the raw rows give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_over_periods_are_what_the_raw_rows_say() {
    let server = property_server().await;
    let (raw, countries, models) = raw_rows_and_names(&server).await;
    let first_month = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).expect("day");
    let strategy = (
        cases(countries, models),
        prop_oneof![Just("MONTH"), Just("QUARTER")],
        prop_oneof![Just(None), Just(Some("MODEL")), Just(Some("REGION"))],
    );
    let mut runner = TestRunner::new(Config { cases: CASES as u32, ..Config::default() });
    for case_number in 0..CASES {
        let (case, granularity, other) = strategy.new_tree(&mut runner).expect("a case").current();
        let step = if granularity == "MONTH" { 1 } else { 3 };
        let months = if step == 1 { 3 } else { 6 };
        let group_by: Vec<&str> = std::iter::once("PERIOD").chain(other).collect();
        let period_of = |day: NaiveDate| {
            use chrono::Datelike;
            NaiveDate::from_ymd_opt(day.year(), (day.month0() / step) * step + 1, 1).expect("period")
        };
        let passes = |row: &Raw| {
            case.from.is_none_or(|f| f <= row.sold_on)
                && case.to.is_none_or(|t| row.sold_on <= t)
                && case.countries.as_ref().is_none_or(|c| c.contains(&row.country))
                && case.models.as_ref().is_none_or(|m| m.contains(&row.model))
        };
        // Units by series and period, and by period.
        let mut cells: BTreeMap<(String, NaiveDate), i64> = BTreeMap::new();
        let mut period_totals: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for row in raw.iter().filter(|r| passes(r)) {
            let series = key(row, &group_by[1..], None);
            *cells.entry((series, period_of(row.sold_on))).or_default() += row.units;
            *period_totals.entry(period_of(row.sold_on)).or_default() += row.units;
        }
        let first_period = period_of(case.from.unwrap_or(first_month));
        let units_at =
            |series: &str, period: NaiveDate| cells.get(&(series.to_string(), period)).copied().unwrap_or(0);

        let filter =
            json!({ "from": case.from, "to": case.to, "countries": case.countries, "models": case.models });
        let data = server
            .data(WINDOWS, json!({ "f": filter, "by": group_by, "g": granularity, "months": months }))
            .await;
        let rows = data["salesSummary"].as_array().expect("rows");
        assert_eq!(rows.len(), cells.len(), "case {case_number}: {case:?}");
        for row in rows {
            let period: NaiveDate = row["period"].as_str().expect("period").parse().expect("day");
            let series = answer_key(row, &group_by[1..]);
            let units = units_at(&series, period);
            assert_eq!(row["units"].as_i64(), Some(units), "case {case_number}: {row}");
            let year_to_date: i64 = cells
                .range(
                    (
                        series.clone(),
                        NaiveDate::from_ymd_opt(chrono::Datelike::year(&period), 1, 1).expect("day"),
                    )..=(series.clone(), period),
                )
                .map(|(_, units)| units)
                .sum();
            assert_eq!(row["runningTotal"].as_f64(), Some(year_to_date as f64), "case {case_number}: {row}");
            let window: Vec<NaiveDate> = (0..months / step)
                .map(|k| period.checked_sub_months(Months::new(k * step)).expect("period"))
                .collect();
            let expected_rolling = (window.iter().all(|p| *p >= first_period)).then(|| {
                window.iter().map(|p| units_at(&series, *p)).sum::<i64>() as f64 / window.len() as f64
            });
            assert_eq!(
                row["rollingAverage"].as_f64().map(|v| (v * 1e6).round()),
                expected_rolling.map(|v| (v * 1e6).round()),
                "case {case_number}: {row}"
            );
            let share = units as f64 / period_totals[&period] as f64;
            assert!(
                (row["shareOfTotal"].as_f64().expect("share") - share).abs() < 1e-9,
                "case {case_number}: {row}"
            );
            let expected_rank = if group_by.len() < 2 {
                None
            } else {
                Some(cells.iter().filter(|((_, p), u)| *p == period && **u > units).count() as i64 + 1)
            };
            assert_eq!(row["rankWithin"].as_i64(), expected_rank, "case {case_number}: {row}");
        }
    }
}

const TREND: &str = "query($f: SalesFilter, $g: Granularity, $to: Comparison) {
  trend(filter: $f, granularity: $g, compareTo: $to) { points { period value previous change changeRatio } } }";

/// The day `months` earlier, the last day of a month staying the last day of its month (where a
/// period ends).
fn months_earlier(day: NaiveDate, months: u32) -> NaiveDate {
    let next = day.succ_opt().expect("next day");
    if chrono::Datelike::day(&next) == 1 {
        next.checked_sub_months(Months::new(months)).and_then(|d| d.pred_opt()).expect("day")
    } else {
        day.checked_sub_months(Months::new(months)).expect("day")
    }
}

/// Each period of a compared trend carries what the raw rows hold over the same days of the
/// period before it, or of the same period a year earlier; nothing where that lies before the
/// data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_period_of_a_trend_is_compared_as_the_raw_rows_say() {
    let server = property_server().await;
    let (raw, countries, models) = raw_rows_and_names(&server).await;
    let first_sale = raw.iter().map(|r| r.sold_on).min().expect("sales");
    let last_sale = raw.iter().map(|r| r.sold_on).max().expect("sales");
    let strategy = (cases(countries, models), prop_oneof![Just("MONTH"), Just("QUARTER"), Just("YEAR")]);
    let mut runner = TestRunner::new(Config { cases: 120, ..Config::default() });
    let mut compared = 0;
    for case_number in 0..120 {
        let (case, granularity) = strategy.new_tree(&mut runner).expect("a case").current();
        let comparison = case.compare_to.unwrap_or("PREVIOUS_YEAR");
        let step: u32 = match granularity {
            "MONTH" => 1,
            "QUARTER" => 3,
            _ => 12,
        };
        let shift = if comparison == "PREVIOUS_PERIOD" { step } else { 12 };
        let period_of = |day: NaiveDate| {
            use chrono::Datelike;
            NaiveDate::from_ymd_opt(day.year(), (day.month0() / step) * step + 1, 1).expect("period")
        };
        let units_between = |from: NaiveDate, to: NaiveDate| -> f64 {
            raw.iter()
                .filter(|r| {
                    from <= r.sold_on
                        && r.sold_on <= to
                        && case.countries.as_ref().is_none_or(|c| c.contains(&r.country))
                        && case.models.as_ref().is_none_or(|m| m.contains(&r.model))
                })
                .map(|r| r.units as f64)
                .sum()
        };
        let covered_until = case.to.map_or(last_sale, |to| to.min(last_sale));
        let filter =
            json!({ "from": case.from, "to": case.to, "countries": case.countries, "models": case.models });
        let data = server.data(TREND, json!({ "f": filter, "g": granularity, "to": comparison })).await;
        for point in data["trend"]["points"].as_array().expect("points") {
            let period: NaiveDate = point["period"].as_str().expect("period").parse().expect("day");
            let period_end =
                period.checked_add_months(Months::new(step)).and_then(|d| d.pred_opt()).expect("end");
            let (first, last) = (case.from.map_or(period, |f| f.max(period)), period_end.min(covered_until));
            let expected = (period.checked_sub_months(Months::new(shift)).expect("earlier")
                >= period_of(first_sale))
            .then(|| {
                let start = first.checked_sub_months(Months::new(shift)).expect("earlier start");
                units_between(start, months_earlier(last, shift))
            });
            let context = format!("case {case_number} {granularity} {comparison}: {case:?} {point}");
            assert_eq!(point["previous"].as_f64(), expected, "{context}");
            let value = point["value"].as_f64().expect("value");
            assert_eq!(point["change"].as_f64(), expected.map(|before| value - before), "{context}");
            let ratio = expected.filter(|b| *b != 0.0).map(|before| value / before - 1.0);
            assert_eq!(
                point["changeRatio"].as_f64().map(|r| (r * 1e9).round()),
                ratio.map(|r| (r * 1e9).round()),
                "{context}"
            );
            compared += usize::from(expected.is_some());
        }
    }
    assert!(compared > 150, "only {compared} periods had an earlier one to compare with");
}

use std::collections::BTreeMap;

use serde_json::json;

use super::common::TestServer;
use super::seeded_server;

/// One raw sale as the test reads it straight from the table.
struct RawSale {
    sold_on: String,
    model: String,
    country: String,
    region: String,
    body: String,
    fuel: String,
    transmission: String,
    units: i64,
    revenue: Option<f64>,
}

async fn raw_sales(server: &TestServer, from: &str, to: &str) -> Vec<RawSale> {
    server
        .db
        .rows(&format!(
            "SELECT s.sold_on, m.name, s.country_code, c.region, m.body_type, s.fuel_type, s.transmission, \
             CAST(s.units AS BIGINT), s.revenue FROM sale s JOIN car_model m ON m.id = s.model_id \
             JOIN country c ON c.code = s.country_code WHERE s.sold_on >= '{from}' AND s.sold_on <= '{to}'"
        ))
        .await
        .into_iter()
        .map(|row| {
            let f: Vec<&str> = row.split('|').collect();
            RawSale {
                sold_on: f[0].to_string(),
                model: f[1].to_string(),
                country: f[2].to_string(),
                region: f[3].to_string(),
                body: f[4].to_string(),
                fuel: f[5].to_string(),
                transmission: f[6].to_string(),
                units: f[7].parse().expect("units"),
                revenue: f[8].parse().ok(),
            }
        })
        .collect()
}

fn period(day: &str, granularity: &str) -> String {
    let (year, month) = (&day[..4], day[5..7].parse::<u32>().expect("month"));
    match granularity {
        "MONTH" => format!("{year}-{month:02}-01"),
        "QUARTER" => format!("{year}-{:02}-01", (month - 1) / 3 * 3 + 1),
        _ => format!("{year}-01-01"),
    }
}

fn key_of(sale: &RawSale, dimensions: &[&str], granularity: &str) -> String {
    dimensions
        .iter()
        .map(|d| match *d {
            "PERIOD" => period(&sale.sold_on, granularity),
            "MODEL" => sale.model.clone(),
            "COUNTRY" => sale.country.clone(),
            "REGION" => sale.region.clone(),
            "BODY_TYPE" => sale.body.clone(),
            "FUEL_TYPE" => sale.fuel.clone(),
            _ => sale.transmission.clone(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn key_of_aggregate(row: &serde_json::Value, dimensions: &[&str]) -> String {
    dimensions
        .iter()
        .map(|d| {
            let value = match *d {
                "PERIOD" => &row["period"],
                "MODEL" => &row["model"]["name"],
                "COUNTRY" => &row["country"]["code"],
                "REGION" => &row["region"],
                "BODY_TYPE" => &row["bodyType"],
                "FUEL_TYPE" => &row["fuelType"],
                _ => &row["transmission"],
            };
            value.as_str().expect("dimension value").to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

const SUMMARY: &str = "query($filter: SalesFilter, $groupBy: [Dimension!]!, $granularity: Granularity) {
  salesSummary(filter: $filter, groupBy: $groupBy, granularity: $granularity) {
    period model { name } country { code } region bodyType fuelType transmission units revenue averagePrice
  }
}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grouping_equals_an_independent_sum_over_raw_rows() {
    let server = seeded_server(2_500).await;
    // A range that starts and ends inside months: its edges come from the rows, the rest from the cube.
    let (from, to) = ("2023-02-17", "2024-03-09");
    let raw = raw_sales(&server, from, to).await;
    assert!(raw.len() > 500);
    let groupings: &[(&[&str], &str)] = &[
        (&[], "MONTH"),
        (&["PERIOD"], "MONTH"),
        (&["PERIOD"], "QUARTER"),
        (&["PERIOD"], "YEAR"),
        (&["MODEL"], "MONTH"),
        (&["COUNTRY"], "MONTH"),
        (&["REGION"], "MONTH"),
        (&["BODY_TYPE"], "MONTH"),
        (&["FUEL_TYPE"], "MONTH"),
        (&["TRANSMISSION"], "MONTH"),
        (&["MODEL", "COUNTRY"], "MONTH"),
        (&["PERIOD", "REGION", "FUEL_TYPE"], "QUARTER"),
    ];
    for (dimensions, granularity) in groupings {
        let mut expected: BTreeMap<String, (i64, f64)> = BTreeMap::new();
        for sale in &raw {
            let entry = expected.entry(key_of(sale, dimensions, granularity)).or_default();
            entry.0 += sale.units;
            entry.1 += sale.revenue.unwrap_or(0.0);
        }
        let data = server
            .data(
                SUMMARY,
                json!({ "filter": { "from": from, "to": to }, "groupBy": dimensions, "granularity": granularity }),
            )
            .await;
        let rows = data["salesSummary"].as_array().expect("rows");
        assert_eq!(rows.len(), expected.len(), "group count for {dimensions:?} {granularity}");
        let mut previous = i64::MAX;
        for row in rows {
            let key = key_of_aggregate(row, dimensions);
            let (units, revenue) =
                expected.get(&key).unwrap_or_else(|| panic!("unexpected group {key} for {dimensions:?}"));
            let got_units = row["units"].as_i64().expect("units");
            assert_eq!(got_units, *units, "units of {key} for {dimensions:?} {granularity}");
            let got_revenue = row["revenue"].as_f64().expect("revenue");
            assert!(
                (got_revenue - revenue).abs() <= 1e-6 * revenue.max(1.0),
                "revenue of {key}: {got_revenue} vs {revenue}"
            );
            assert!(got_units <= previous, "not ordered by units descending");
            previous = got_units;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_limits_and_rankings_agree_with_raw_rows() {
    let server = seeded_server(2_500).await;
    let (from, to) = ("2023-01-01", "2023-12-31");
    let raw = raw_sales(&server, from, to).await;
    let europe_suv: i64 =
        raw.iter().filter(|s| s.region == "Europe" && s.body == "SUV").map(|s| s.units).sum();
    let data = server
        .data(SUMMARY, json!({ "filter": { "from": from, "to": to, "regions": ["Europe"], "bodyTypes": ["SUV"] }, "groupBy": [] }))
        .await;
    assert_eq!(data["salesSummary"][0]["units"], json!(europe_suv));

    let mut by_model: BTreeMap<&str, i64> = BTreeMap::new();
    for sale in raw.iter().filter(|s| s.country == "DE") {
        *by_model.entry(sale.model.as_str()).or_default() += sale.units;
    }
    let total: i64 = by_model.values().sum();
    let mut ranked: Vec<(&str, i64)> = by_model.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let data = server
        .data(
            "query($f: SalesFilter) { topModels(filter: $f, limit: 3) { rank model { name } units revenue share } }",
            json!({ "f": { "from": from, "to": to, "countries": ["Germany"] } }),
        )
        .await;
    let top = data["topModels"].as_array().expect("ranking");
    assert_eq!(top.len(), 3);
    for (i, row) in top.iter().enumerate() {
        assert_eq!(row["rank"], json!(i + 1));
        assert_eq!(row["units"], json!(ranked[i].1), "{row}");
        let share = row["share"].as_f64().expect("share");
        assert!((share - ranked[i].1 as f64 / total as f64).abs() < 1e-9);
    }

    let ascending = server
        .data(
            "query($f: SalesFilter) { topModels(filter: $f, order: ASC, limit: 1) { model { name } units } }",
            json!({ "f": { "from": from, "to": to, "countries": ["DE"] } }),
        )
        .await;
    assert_eq!(ascending["topModels"][0]["units"], json!(ranked.last().expect("a model").1));

    // Mistakes name the bad value.
    for (filter, named) in [
        (json!({ "countries": ["Atlantis"] }), "Atlantis"),
        (json!({ "models": ["Model T"] }), "Model T"),
        (json!({ "from": "2024-05-01", "to": "2024-04-01" }), "2024-05-01"),
        (json!({ "regions": ["Mars"] }), "Mars"),
        (json!({ "from": "2024-02-30" }), "2024-02-30"),
    ] {
        let (status, _, body) = server
            .post(Some(&server.admin_token()), SUMMARY, json!({ "filter": filter, "groupBy": [] }))
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(body["errors"][0]["message"].as_str().expect("message").contains(named), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bi_tool_pages_through_every_group_exactly_once() {
    let server = super::seeded_server(20_000).await;
    let query = "query($after: String) {
        salesSummaryConnection(groupBy: [MODEL, COUNTRY, PERIOD], granularity: MONTH, first: 1000, after: $after) {
            totalCount
            pageInfo { hasNextPage hasPreviousPage endCursor }
            edges { cursor node { model { name } country { code } period units revenue } }
        }
    }";
    let mut after = serde_json::Value::Null;
    let mut seen = std::collections::BTreeSet::new();
    let (mut units, mut revenue, mut pages) = (0i64, 0f64, 0);
    let mut total_count;
    loop {
        let data = server.data(query, serde_json::json!({ "after": after })).await;
        let connection = &data["salesSummaryConnection"];
        total_count = connection["totalCount"].as_u64().expect("totalCount");
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], serde_json::json!(pages > 0));
        for edge in connection["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            let key = format!("{}|{}|{}", node["model"]["name"], node["country"]["code"], node["period"]);
            assert!(seen.insert(key.clone()), "group {key} came twice");
            units += node["units"].as_i64().expect("units");
            revenue += node["revenue"].as_f64().unwrap_or(0.0);
        }
        pages += 1;
        if connection["pageInfo"]["hasNextPage"] != serde_json::json!(true) {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert!(seen.len() > 5_000, "only {} groups: the walk must cover more than 5,000", seen.len());
    assert_eq!(seen.len() as u64, total_count);
    assert_eq!(pages, seen.len().div_ceil(1000));
    let totals = server.data("{ salesSummary(groupBy: []) { units revenue } }", serde_json::json!({})).await;
    assert_eq!(units, totals["salesSummary"][0]["units"].as_i64().expect("units"));
    let expected = totals["salesSummary"][0]["revenue"].as_f64().expect("revenue");
    assert!((revenue - expected).abs() <= expected * 1e-9, "{revenue} vs {expected}");

    // A cursor from before an import is refused, not silently shifted.
    let first = server.data(query, serde_json::json!({ "after": null })).await;
    let cursor = first["salesSummaryConnection"]["pageInfo"]["endCursor"].clone();
    server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            serde_json::json!({ "csv": "sold_on,model,country,units\n2023-02-02,X5,DE,1\n" }),
        )
        .await;
    let (_, _, body) =
        server.post(Some(&server.admin_token()), query, serde_json::json!({ "after": cursor })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
}

/// Waits until the server holds the day groups of its current data version.
async fn day_groups_ready(server: &TestServer) {
    server.wait_for_background_pass("salesgraph_day_groups_ready_version").await;
}

/// Units by country between two days, summed straight from the sale rows.
async fn raw_units_by_country(server: &TestServer, from: &str, to: &str) -> BTreeMap<String, i64> {
    let mut units = BTreeMap::new();
    for sale in raw_sales(server, from, to).await {
        *units.entry(sale.country).or_default() += sale.units;
    }
    units
}

async fn units_by_country(server: &TestServer, from: &str, to: &str) -> BTreeMap<String, i64> {
    let data =
        server.data(SUMMARY, json!({ "filter": { "from": from, "to": to }, "groupBy": ["COUNTRY"] })).await;
    data["salesSummary"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| (key_of_aggregate(row, &["COUNTRY"]), row["units"].as_i64().expect("units")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_ranges_are_summed_in_memory_and_stay_exact_when_an_import_lands_in_an_edge_month() {
    let server = seeded_server(2_500).await;
    let (from, to) = ("2023-02-17", "2024-03-09");
    day_groups_ready(&server).await;
    assert!(server.metric("salesgraph_day_groups_bytes").await > 0.0);

    let before = server.metric("salesgraph_db_queries_total").await;
    let answer = units_by_country(&server, from, to).await;
    assert_eq!(
        server.metric("salesgraph_db_queries_total").await,
        before,
        "a day range read the database although its edge months are in memory"
    );
    assert_eq!(answer, raw_units_by_country(&server, from, to).await);

    // A sale inside the range's last, partial month: answers include it at once (the month's
    // day groups no longer match the cube, so the rows are read), then from memory again.
    server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": "sold_on,model,country,units\n2024-03-05,X5,DE,7\n2024-03-20,X5,DE,100\n" }),
        )
        .await;
    let expected = raw_units_by_country(&server, from, to).await;
    assert_eq!(expected["DE"], answer["DE"] + 7, "the sale of 20 March lies outside the range");
    assert_eq!(units_by_country(&server, from, to).await, expected);
    day_groups_ready(&server).await;
    let before = server.metric("salesgraph_db_queries_total").await;
    assert_eq!(units_by_country(&server, from, to).await, expected);
    assert_eq!(
        server.metric("salesgraph_db_queries_total").await,
        before,
        "the touched month was not reloaded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_memory_for_day_groups_day_ranges_read_the_rows() {
    let server = TestServer::start_with(super::seeded_server_db(1_000).await, |s| s.day_groups_mib = 0).await;
    let (from, to) = ("2023-02-17", "2024-03-09");
    let before = server.metric("salesgraph_db_queries_total").await;
    assert_eq!(units_by_country(&server, from, to).await, raw_units_by_country(&server, from, to).await);
    assert!(server.metric("salesgraph_db_queries_total").await > before);
    assert_eq!(server.metric("salesgraph_day_groups_bytes").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_named_by_any_of_its_names_filters_as_its_code_does() {
    let server = super::seeded_server(400).await;
    let totals = |country: &str| {
        let query =
            format!(r#"{{ salesSummary(filter: {{ countries: ["{country}"] }}, groupBy: []) {{ units }} }}"#);
        let server = &server;
        async move { server.data(&query, serde_json::json!({})).await["salesSummary"].clone() }
    };
    let by_code = totals("DE").await;
    assert!(by_code[0]["units"].as_i64().is_some_and(|units| units > 0), "{by_code}");
    for name in ["Germany", "DEU", "Deutschland", "deutschland"] {
        assert_eq!(totals(name).await, by_code, "{name}");
    }
    let (_, _, body) = server
        .post(
            Some(&server.admin_token()),
            r#"{ salesSummary(filter: {countries: ["Atlantis"]}, groupBy: []) { units } }"#,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("Atlantis")), "{body}");
}

//! `ask` against the real server: each intent's rows equal those of the structured query a
//! frontend would send (written here by hand), access rules and scope apply, answers are cached.

use salesgraph::ask::{Intent, Interpretation};
use salesgraph::auth::Role;
use salesgraph::summary::compare::Comparison;
use salesgraph::summary::{Granularity, Metric, SortOrder};
use serde_json::{Value, json};

use super::common::{TestDb, TestServer, ask_spec, date};
use salesgraph::store::seed::SeedOptions;

const ASK: &str = "query($q: String!, $asOf: Date) { ask(question: $q, asOf: $asOf) {
    question confidence cached columns rows notes
    interpretation { intent models countries regions bodyTypes fuelTypes from to limit metric order granularity compareTo }
    alternatives { intent metric confidence }
} }";

/// A JSON scalar as an answer cell.
fn text(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::String(s) => json!(s),
        Value::Array(items) => {
            json!(items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect::<Vec<_>>().join("; "))
        }
        other => json!(other.to_string()),
    }
}

fn pick(item: &Value, path: &str) -> Value {
    path.split('.').fold(item.clone(), |v, key| v[key].clone())
}

/// Rows from a list of objects, one cell per path; `#` is the 1-based position.
fn rows(list: &Value, paths: &[&str]) -> Value {
    let items = list.as_array().cloned().unwrap_or_default();
    json!(
        items
            .iter()
            .enumerate()
            .map(|(i, item)| paths
                .iter()
                .map(|p| if *p == "#" { json!((i + 1).to_string()) } else { text(&pick(item, p)) })
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

async fn ask(server: &TestServer, token: &str, question: &str, as_of: &str) -> Value {
    let (status, _, body) = server.post(Some(token), ASK, json!({ "q": question, "asOf": as_of })).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_intent_answers_with_the_rows_of_its_structured_query() {
    // Two and a half years: seasonality needs two full ones.
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 1_500,
        seed: 5,
        from: date(2022, 1, 1),
        until: date(2024, 6, 30),
        seasonal: true,
    })
    .await;
    let server = TestServer::start(db).await;
    let admin = server.admin_token();
    let year = json!({ "from": "2023-01-01", "to": "2023-12-31" });
    let with = |extra: Value| {
        let mut filter = year.clone();
        for (k, v) in extra.as_object().expect("object") {
            filter[k] = v.clone();
        }
        filter
    };
    struct Case {
        question: &'static str,
        intent: &'static str,
        query: String,
        variables: Value,
        list: &'static str,
        paths: Vec<&'static str>,
        /// Items of the list kept: those whose value at the path is this one.
        only: Option<(&'static str, &'static str)>,
    }
    let cases = vec![
        Case {
            question: "top 3 models in Germany in 2023",
            intent: "TOP_MODELS",
            query: "query($f: SalesFilter) { r: topModels(filter: $f, limit: 3) { rank model { name } units share } }".into(),
            variables: json!({ "f": with(json!({ "countries": ["DE"] })) }),
            list: "r",
            paths: vec!["rank", "model.name", "units", "share"],
            only: None,
        },
        Case {
            question: "top 3 countries for the X5 in 2023",
            intent: "TOP_COUNTRIES",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [COUNTRY], limit: 3) { country { code name } units } }".into(),
            variables: json!({ "f": with(json!({ "models": ["X5"] })) }),
            list: "r",
            paths: vec!["#", "country.code", "country.name", "units"],
            only: None,
        },
        Case {
            question: "how many cars were sold in Europe in 2023",
            intent: "TOTAL",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: []) { units } }".into(),
            variables: json!({ "f": with(json!({ "regions": ["Europe"] })) }),
            list: "r",
            paths: vec!["units"],
            only: None,
        },
        Case {
            question: "monthly sales in Germany in 2023",
            intent: "TREND",
            query: "query($f: SalesFilter) { r: trend(filter: $f, granularity: MONTH) { points { period value } } }".into(),
            variables: json!({ "f": with(json!({ "countries": ["DE"] })) }),
            list: "r.points",
            paths: vec!["period", "value"],
            only: None,
        },
        Case {
            question: "compare the X5 and the X3 in 2023",
            intent: "COMPARE",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [MODEL]) { model { name } units } }".into(),
            variables: json!({ "f": with(json!({ "models": ["X5", "X3"] })) }),
            list: "r",
            paths: vec!["model.name", "units"],
            only: None,
        },
        Case {
            question: "when do sales peak in Europe",
            intent: "SEASONALITY",
            query: "query($f: SalesFilter) { r: seasonality(filter: $f) { monthlyIndex } }".into(),
            variables: json!({ "f": { "regions": ["Europe"] } }),
            list: "r.monthlyIndex",
            paths: vec!["#", ""],
            only: None,
        },
        Case {
            question: "forecast the top 3 models in Germany next quarter",
            intent: "FORECAST",
            query: "query($f: SalesFilter) { r: forecast(filter: $f, horizonMonths: 3, limit: 3) { predictions { rank model { name } units lower upper } } }".into(),
            variables: json!({ "f": { "countries": ["DE"], "to": "2024-03-31" } }),
            list: "r.predictions",
            paths: vec!["rank", "model.name", "units", "lower", "upper"],
            only: None,
        },
        Case {
            question: "which models need marketing in Germany",
            intent: "MARKETING",
            query: "query($f: SalesFilter) { r: marketingPriorities(filter: $f, limit: 10) { rank model { name } score reasons } }".into(),
            variables: json!({ "f": { "countries": ["DE"] } }),
            list: "r",
            paths: vec!["rank", "model.name", "score", "reasons"],
            only: None,
        },
        Case {
            question: "what should we stock in Germany",
            intent: "INVENTORY",
            query: "{ r: inventoryPlan(country: \"DE\", horizonMonths: 3) { model { name } status forecastUnits safetyStock onHand recommendedStock reorderUnits } }".into(),
            variables: json!({}),
            list: "r",
            paths: vec!["model.name", "status", "forecastUnits", "safetyStock", "onHand", "recommendedStock", "reorderUnits"],
            only: None,
        },
        Case {
            question: "the X1 in Germany this year against last year",
            intent: "TOTAL",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [], compareTo: PREVIOUS_YEAR) { units previous { units } change changeRatio } }".into(),
            variables: json!({ "f": { "models": ["X1"], "countries": ["DE"], "from": "2024-01-01", "to": "2024-02-15" } }),
            list: "r",
            paths: vec!["units", "previous.units", "change", "changeRatio"],
            only: None,
        },
        Case {
            question: "Germany sales in March 2023 against February 2023",
            intent: "TOTAL",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [], compareRange: { from: \"2023-02-01\", to: \"2023-02-28\" }) { units previous { units } change changeRatio } }".into(),
            variables: json!({ "f": { "countries": ["DE"], "from": "2023-03-01", "to": "2023-03-31" } }),
            list: "r",
            paths: vec!["units", "previous.units", "change", "changeRatio"],
            only: None,
        },
        Case {
            question: "X5 sales in Q4 2023 against the quarter before",
            intent: "TOTAL",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [], compareTo: PREVIOUS_PERIOD) { units previous { units } change changeRatio } }".into(),
            variables: json!({ "f": { "models": ["X5"], "from": "2023-10-01", "to": "2023-12-31" } }),
            list: "r",
            paths: vec!["units", "previous.units", "change", "changeRatio"],
            only: None,
        },
        Case {
            question: "fastest growing models in Germany in 2023",
            intent: "GROWTH",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [MODEL], compareTo: PREVIOUS_YEAR, rankBy: CHANGE, limit: 5) { model { name } units previous { units } change changeRatio } }".into(),
            variables: json!({ "f": with(json!({ "countries": ["DE"] })) }),
            list: "r",
            paths: vec!["#", "model.name", "units", "previous.units", "change", "changeRatio"],
            only: None,
        },
        Case {
            question: "what part of German sales were electric in 2023",
            intent: "SHARE",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [FUEL_TYPE]) { fuelType units shareOfTotal } }".into(),
            variables: json!({ "f": with(json!({ "countries": ["DE"] })) }),
            list: "r",
            paths: vec!["fuelType", "units", "shareOfTotal"],
            only: Some(("fuelType", "ELECTRIC")),
        },
        Case {
            question: "electric share of Germany by year",
            intent: "SHARE",
            query: "query($f: SalesFilter) { r: salesSummary(filter: $f, groupBy: [PERIOD, FUEL_TYPE], granularity: YEAR) { period fuelType units shareOfTotal } }".into(),
            variables: json!({ "f": { "countries": ["DE"] } }),
            list: "r",
            paths: vec!["period", "fuelType", "units", "shareOfTotal"],
            only: Some(("fuelType", "ELECTRIC")),
        },
    ];
    for case in cases {
        // asOf in the middle of Q1 2024: "next quarter" is Q2 2024, forecast from data to March.
        let body = ask(&server, &admin, case.question, "2024-02-15").await;
        assert!(body.get("errors").is_none(), "{}: {body}", case.question);
        let answer = &body["data"]["ask"];
        assert_eq!(answer["interpretation"]["intent"], case.intent, "{}: {answer}", case.question);
        assert!(answer["confidence"].as_f64().unwrap_or(0.0) >= 0.5, "{}: {answer}", case.question);
        let structured = server.data(&case.query, case.variables.clone()).await;
        let mut list = case.list.split('.').fold(structured.clone(), |v, k| v[k].clone());
        if let Some((path, value)) = case.only {
            list = json!(
                list.as_array()
                    .expect("list")
                    .iter()
                    .filter(|item| pick(item, path) == json!(value))
                    .collect::<Vec<_>>()
            );
        }
        let expected = if case.paths.contains(&"") {
            json!(
                list.as_array()
                    .expect("list")
                    .iter()
                    .enumerate()
                    .map(|(i, v)| vec![json!((i + 1).to_string()), text(v)])
                    .collect::<Vec<_>>()
            )
        } else {
            rows(&list, &case.paths)
        };
        assert!(
            !expected.as_array().expect("rows").is_empty(),
            "{}: the structured query is empty",
            case.question
        );
        assert_eq!(answer["rows"], expected, "{}", case.question);
        assert_eq!(answer["columns"].as_array().map(Vec::len), Some(case.paths.len()), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_scope_cache_and_bad_questions() {
    let server = super::seeded_server(900).await;
    let admin = server.admin_token();

    // A manager's question is answered inside its regions.
    let manager = server.token(Role::Manager, &["Europe"]);
    let as_manager = ask(&server, &manager, "top 3 models in 2023", "2024-02-15").await;
    let as_admin = ask(&server, &admin, "top 3 models in Europe in 2023", "2024-02-15").await;
    assert_eq!(as_manager["data"]["ask"]["rows"], as_admin["data"]["ask"]["rows"]);
    assert!(!as_admin["data"]["ask"]["rows"].as_array().expect("rows").is_empty());
    let outside = ask(&server, &manager, "top 3 models in the US in 2023", "2024-02-15").await;
    assert_eq!(outside["errors"][0]["extensions"]["code"], "FORBIDDEN", "{outside}");
    assert_eq!(outside["data"]["ask"]["rows"], json!([]), "{outside}");

    // An analyst never gets money: FORBIDDEN, with the units reading offered.
    let analyst = server.token(Role::Analyst, &[]);
    let money = ask(&server, &analyst, "top 3 models by revenue in Germany in 2023", "2024-02-15").await;
    assert_eq!(money["errors"][0]["extensions"]["code"], "FORBIDDEN", "{money}");
    assert_eq!(money["errors"][0]["path"], json!(["ask"]), "{money}");
    assert_eq!(money["data"]["ask"]["rows"], json!([]));
    let alternatives = money["data"]["ask"]["alternatives"].as_array().expect("alternatives");
    assert!(alternatives.iter().any(|a| a["metric"] == "UNITS" && a["intent"] == "TOP_MODELS"), "{money}");
    assert!(!money.to_string().contains("revenue\":"), "no revenue column values leak: {money}");

    // Repeats come from the cache; an import makes the answer fresh again.
    let question = "how many cars were sold in Germany in 2023";
    let first = ask(&server, &admin, question, "2024-02-15").await;
    assert_eq!(first["data"]["ask"]["cached"], json!(false));
    let again = ask(&server, &admin, &format!("  {question}  "), "2024-02-15").await;
    assert_eq!(again["data"]["ask"]["cached"], json!(true), "{again}");
    assert_eq!(again["data"]["ask"]["rows"], first["data"]["ask"]["rows"]);
    let import = "mutation($csv: String!) { importSales(csv: $csv) { landed } }";
    server.data(import, json!({ "csv": "sold_on,model,country,units\n2023-03-03,X5,DE,7\n" })).await;
    let fresh = ask(&server, &admin, question, "2024-02-15").await;
    assert_eq!(fresh["data"]["ask"]["cached"], json!(false), "{fresh}");
    let units = |b: &Value| {
        b["data"]["ask"]["rows"][0][0].as_str().and_then(|s| s.parse::<i64>().ok()).expect("units")
    };
    assert_eq!(units(&fresh), units(&first) + 7);

    // The dictionaries follow the catalogue: a model that an import adds is understood.
    let new_model = "how many Neue Klasse were sold in Germany in 2023";
    let before = ask(&server, &admin, new_model, "2024-02-15").await;
    assert_eq!(before["data"]["ask"]["interpretation"]["intent"], "UNKNOWN", "{before}");
    server.data(import, json!({ "csv": "sold_on,model,country,units\n2023-05-05,Neue Klasse,DE,4\n" })).await;
    let after = ask(&server, &admin, new_model, "2024-02-15").await;
    assert_eq!(after["data"]["ask"]["interpretation"]["intent"], "TOTAL", "{after}");
    assert_eq!(after["data"]["ask"]["interpretation"]["models"], json!(["Neue Klasse"]));
    assert_eq!(after["data"]["ask"]["rows"], json!([["4"]]), "{after}");

    // Out of scope, unknown places, and input that is no question.
    let joke = ask(&server, &admin, "tell me a joke", "2024-02-15").await;
    assert_eq!(joke["data"]["ask"]["interpretation"]["intent"], "UNKNOWN");
    assert!(joke["data"]["ask"]["confidence"].as_f64().expect("confidence") < 0.5);
    assert_eq!(joke["data"]["ask"]["rows"], json!([]));
    let atlantis = ask(&server, &admin, "top 5 models in Atlantis", "2024-02-15").await;
    assert!(atlantis["data"]["ask"]["confidence"].as_f64().expect("confidence") < 0.5);
    assert!(atlantis["data"]["ask"]["notes"].to_string().contains("Atlantis"), "{atlantis}");
    assert_eq!(atlantis["data"]["ask"]["rows"], json!([]));
    let long = ask(&server, &admin, &"sales ".repeat(2_000), "2024-02-15").await;
    assert_eq!(long["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{long}");
    let nothing = ask(&server, &admin, " \t ", "2024-02-15").await;
    assert_eq!(nothing["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{nothing}");
}

/// Rows a share keeps: those whose value at the path is one of these.
type KeptRows = (&'static str, Vec<String>);

/// The query a reading stands for, written here from the reading itself rather than by ask's
/// own code: its document, variables, the cells of each row, and which rows a share keeps.
fn hand_written(i: &Interpretation) -> (String, Value, Vec<&'static str>, Option<KeptRows>) {
    let mut filter = serde_json::Map::new();
    if let Some(from) = i.from {
        filter.insert("from".into(), json!(from.to_string()));
    }
    if let Some(to) = i.to {
        filter.insert("to".into(), json!(to.to_string()));
    }
    let mut list = |name: &str, values: Vec<String>| {
        if !values.is_empty() {
            filter.insert(name.into(), json!(values));
        }
    };
    list("countries", i.countries.clone());
    list("regions", i.regions.clone());
    let share_of = |i: &Interpretation| {
        if !i.fuel_types.is_empty() {
            (
                "FUEL_TYPE",
                "fuelType",
                "fuelType",
                i.fuel_types.iter().map(|f| f.as_str().to_string()).collect(),
            )
        } else if !i.body_types.is_empty() {
            (
                "BODY_TYPE",
                "bodyType",
                "bodyType",
                i.body_types.iter().map(|b| b.as_str().to_string()).collect(),
            )
        } else {
            ("MODEL", "model { name }", "model.name", i.models.clone())
        }
    };
    let share = (i.intent == Intent::Share).then(|| share_of(i));
    let part = share.as_ref().map(|(dimension, ..)| *dimension);
    if part != Some("MODEL") {
        list("models", i.models.clone());
    }
    if part != Some("BODY_TYPE") {
        list("bodyTypes", i.body_types.iter().map(|b| b.as_str().to_string()).collect());
    }
    if part != Some("FUEL_TYPE") {
        list("fuelTypes", i.fuel_types.iter().map(|f| f.as_str().to_string()).collect());
    }
    let variables = json!({ "f": Value::Object(filter) });
    let money = i.metric == Metric::Revenue;
    let (measure, measure_paths, previous_paths) = if money {
        ("units revenue", vec!["units", "revenue"], vec!["previous.units", "previous.revenue"])
    } else {
        ("units", vec!["units"], vec!["previous.units"])
    };
    let metric = if money { "REVENUE" } else { "UNITS" };
    let compare = match i.compare {
        Some(Comparison::PreviousYear) => "compareTo: PREVIOUS_YEAR".to_string(),
        Some(Comparison::PreviousPeriod) => "compareTo: PREVIOUS_PERIOD".to_string(),
        Some(Comparison::Range(from, to)) => format!("compareRange: {{ from: \"{from}\", to: \"{to}\" }}"),
        None => String::new(),
    };
    let changes = vec!["change", "changeRatio"];
    match i.intent {
        Intent::Total if i.compare.is_some() => (
            format!(
                "query($f: SalesFilter) {{ r: salesSummary(filter: $f, groupBy: [], metric: {metric}, {compare}) {{ {measure} previous {{ {measure} }} change changeRatio }} }}"
            ),
            variables,
            [measure_paths, previous_paths, changes].concat(),
            None,
        ),
        Intent::Total => (
            format!("query($f: SalesFilter) {{ r: salesSummary(filter: $f, groupBy: []) {{ {measure} }} }}"),
            variables,
            measure_paths,
            None,
        ),
        Intent::Growth => {
            let order = if i.order == SortOrder::Asc { "ASC" } else { "DESC" };
            let limit = i.limit.unwrap_or(5);
            (
                format!(
                    "query($f: SalesFilter) {{ r: salesSummary(filter: $f, groupBy: [MODEL], metric: {metric}, order: {order}, limit: {limit}, rankBy: CHANGE, {compare}) {{ model {{ name }} {measure} previous {{ {measure} }} change changeRatio }} }}"
                ),
                variables,
                [vec!["#", "model.name"], measure_paths, previous_paths, changes].concat(),
                None,
            )
        }
        Intent::Share => {
            let (dimension, selection, path, values) = share.expect("a share");
            let (group_by, granularity, period) = match i.granularity {
                Some(granularity) => {
                    let name = match granularity {
                        Granularity::Month => "MONTH",
                        Granularity::Quarter => "QUARTER",
                        Granularity::Year => "YEAR",
                    };
                    (format!("[PERIOD, {dimension}]"), format!(", granularity: {name}"), vec!["period"])
                }
                None => (format!("[{dimension}]"), String::new(), Vec::new()),
            };
            (
                format!(
                    "query($f: SalesFilter) {{ r: salesSummary(filter: $f, groupBy: {group_by}{granularity}) {{ period {selection} {measure} shareOfTotal }} }}"
                ),
                variables,
                [period, vec![path], measure_paths, vec!["shareOfTotal"]].concat(),
                Some((path, values)),
            )
        }
        Intent::Compare => (
            format!(
                "query($f: SalesFilter) {{ r: salesSummary(filter: $f, groupBy: [MODEL]) {{ model {{ name }} {measure} }} }}"
            ),
            variables,
            [vec!["model.name"], measure_paths].concat(),
            None,
        ),
        other => panic!("no hand-written query for {other:?}"),
    }
}

/// Every question of the corpus's comparisons block (periods compared, growth, shares) answers
/// with the rows of the query its expected reading stands for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_comparison_question_of_the_corpus_answers_with_its_query() {
    let server =
        TestServer::start_with(super::seeded_server_db(3_000).await, |s| s.rate_limit = 100_000).await;
    let admin = server.admin_token();
    let questions = ask_spec::block("# comparisons");
    assert!(questions.len() >= 40, "{} questions", questions.len());
    let mut with_rows = 0;
    for (as_of, question, reading) in &questions {
        let (query, variables, paths, only) = hand_written(reading);
        let body = ask(&server, &admin, question, &as_of.to_string()).await;
        assert!(body.get("errors").is_none(), "{question}: {body}");
        let answer = &body["data"]["ask"];
        assert_eq!(answer["interpretation"]["intent"], reading.intent.name(), "{question}: {answer}");
        let structured = server.data(&query, variables).await;
        let mut list = structured["r"].clone();
        if let Some((path, values)) = only {
            let kept: Vec<Value> = list
                .as_array()
                .expect("list")
                .iter()
                .filter(|item| pick(item, path).as_str().is_some_and(|v| values.iter().any(|w| w == v)))
                .cloned()
                .collect();
            list = json!(kept);
        }
        let expected = rows(&list, &paths);
        with_rows += usize::from(expected.as_array().is_some_and(|rows| !rows.is_empty()));
        assert_eq!(answer["rows"], expected, "{question}: {query}");
        assert_eq!(answer["columns"].as_array().map(Vec::len), Some(paths.len()), "{question}: {answer}");
    }
    assert!(with_rows * 4 >= questions.len() * 3, "only {with_rows} of {} answers had rows", questions.len());
}

/// The cell of `column` in every row of an ask answer.
fn column(answer: &Value, column: &str) -> Vec<Value> {
    let columns = answer["columns"].as_array().expect("columns");
    let at =
        columns.iter().position(|c| c == column).unwrap_or_else(|| panic!("no column {column}: {answer}"));
    answer["rows"].as_array().expect("rows").iter().map(|row| row[at].clone()).collect()
}

fn number(cell: &Value) -> f64 {
    cell.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a number: {cell}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn average_price_month_on_month_and_fuel_comparisons_answer_from_the_api() {
    let server = super::seeded_server(1_200).await;
    let executive = server.token(Role::Executive, &[]);

    // Average price: revenue per unit of the same filter, as the summary gives it.
    let asked = ask(&server, &executive, "avg price of the X5 in Germany in 2023", "2024-02-15").await;
    let answer = &asked["data"]["ask"];
    assert_eq!(answer["interpretation"]["intent"], "AVERAGE_PRICE", "{asked}");
    let direct = server
        .data(
            "{ salesSummary(filter: { models: [\"X5\"], countries: [\"DE\"], from: \"2023-01-01\", to: \"2023-12-31\" }, groupBy: [], metric: REVENUE) { units revenue averagePrice } }",
            json!({}),
        )
        .await;
    let summary = &direct["salesSummary"][0];
    let (units, revenue) = (number(&column(answer, "units")[0]), number(&column(answer, "revenue")[0]));
    assert!(units > 0.0, "{asked}");
    assert_eq!(units, summary["units"].as_f64().expect("units"));
    assert!((number(&column(answer, "averagePrice")[0]) - revenue / units).abs() < 1e-6 * revenue, "{asked}");

    // An analyst may not see money: FORBIDDEN, with the units total offered.
    let analyst = server.token(Role::Analyst, &[]);
    let refused = ask(&server, &analyst, "avg price of the X5 in Germany in 2023", "2024-02-15").await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    assert_eq!(refused["data"]["ask"]["rows"], json!([]));
    let alternatives = refused["data"]["ask"]["alternatives"].as_array().expect("alternatives");
    assert!(alternatives.iter().any(|a| a["intent"] == "TOTAL" && a["metric"] == "UNITS"), "{refused}");

    // Month on month: each month with the one before.
    let asked = ask(&server, &executive, "month on month x5 sales in germany in 2023", "2024-02-15").await;
    let answer = &asked["data"]["ask"];
    assert_eq!(answer["interpretation"]["compareTo"], "PREVIOUS_PERIOD", "{asked}");
    let units = column(answer, "units");
    let previous = column(answer, "previousUnits");
    assert_eq!(units.len(), 12, "{asked}");
    for month in 1..12 {
        assert_eq!(number(&previous[month]), number(&units[month - 1]), "month {month}: {asked}");
    }

    // Two fuels side by side.
    let asked =
        ask(&server, &executive, "how does diesel compare with petrol in germany in 2023", "2024-02-15")
            .await;
    let answer = &asked["data"]["ask"];
    let mut fuels = column(answer, "fuelType");
    fuels.sort_by_key(Value::to_string);
    assert_eq!(fuels, [json!("DIESEL"), json!("PETROL")], "{asked}");
}

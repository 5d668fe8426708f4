//! Random GraphQL requests against the real server (a property test standing in for cargo fuzz
//! on stable CI): whatever arrives, the answer is a GraphQL response with a code, never a
//! panic, a 500 or a dead server.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use salesgraph::auth::Role;
use serde_json::{Value, json};

const WORDS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "...",
    "!",
    "$v",
    "=",
    "@include(if: true)",
    "@skip(if: $v)",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "Query",
    "CarModel",
    "Sale",
    "__typename",
    "__schema",
    "__type(name: \"Sale\")",
    "types",
    "fields",
    "name",
    "models",
    "countries",
    "me",
    "role",
    "sales",
    "edges",
    "node",
    "revenue",
    "unitPrice",
    "basePrice",
    "totalCount",
    "first:",
    "after:",
    "topModels",
    "limit:",
    "metric:",
    "REVENUE",
    "UNITS",
    "salesSummary",
    "groupBy:",
    "MODEL",
    "trend",
    "forecast",
    "horizonMonths:",
    "segments",
    "k:",
    "inventoryPlan",
    "country:",
    "filter:",
    "countries:",
    "\"DE\"",
    "\"Atlantis\"",
    "regions:",
    "\"Europe\"",
    "from:",
    "\"2024-13-45\"",
    "\"2024-01-01\"",
    "-1",
    "0",
    "3",
    "99999999999",
    "1e309",
    "null",
    "true",
    "\"\\u0000\"",
    "\"😀\"",
    "importSales",
    "csv:",
    "\"sold_on,model,country,units\\n\"",
    "a:",
    "b:",
    "#",
    "\n",
    ",",
];

fn request_strategy() -> impl Strategy<Value = (String, Value)> {
    let query = prop::collection::vec(prop::sample::select(WORDS), 0..40).prop_map(|words| words.join(" "));
    let variables = prop_oneof![
        Just(json!({})),
        Just(json!({ "v": true })),
        Just(json!({ "v": "REVENUE" })),
        Just(json!({ "v": { "countries": ["US"] } })),
        any::<String>().prop_map(|s| json!({ "v": s })),
        any::<i64>().prop_map(|n| json!({ "v": n })),
    ];
    (query, variables)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_get_graphql_answers_and_the_server_survives() {
    let server = super::seeded_server(200).await;
    let tokens =
        [server.admin_token(), server.token(Role::Analyst, &[]), server.token(Role::Manager, &["Asia"])];
    let mut runner = TestRunner::new(Config { cases: 200, ..Config::default() });
    let strategy = request_strategy();
    for case in 0..200 {
        let (query, variables) = strategy.new_tree(&mut runner).expect("a case").current();
        let token = &tokens[case % tokens.len()];
        let (status, _, body) = server.post(Some(token), &query, variables.clone()).await;
        assert!(matches!(status, 200 | 400 | 405), "status {status} for {query:?} with {variables}: {body}");
        assert!(body.get("data").is_some() || body.get("errors").is_some(), "{query:?}: {body}");
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            assert!(!code.is_empty() && code != "INTERNAL", "{query:?} with {variables}: {body}");
        }
    }
    let (status, _, body) = server.post(Some(&tokens[0]), "{ me { role } }", json!({})).await;
    assert_eq!(status, 200, "{body}");
}

/// A value nested `depth` deep in brackets chosen by `kinds` (list, object, or a mix), written
/// as GraphQL input (`json` false) or as JSON.
fn nested(depth: usize, kinds: &[u8], json: bool) -> String {
    let mut open = String::with_capacity(depth * 8);
    let mut close = String::with_capacity(depth * 2);
    for level in 0..depth {
        if kinds[level % kinds.len()].is_multiple_of(2) {
            open.push('[');
            close.insert(0, ']');
        } else {
            open.push_str(if json { "{\"from\":" } else { "{from: " });
            close.insert(0, '}');
        }
    }
    format!("{open}\"DE\"{close}")
}

fn depth_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..40, 40usize..200, 200usize..3_000, Just(100_000usize)]
}

/// Where a nested value goes: an argument, a variable's default, a directive's argument, the
/// variables, or an ask question's text (a string: never nesting).
fn nested_request(depth: usize, kinds: Vec<u8>, place: u8) -> (String, Value) {
    match place % 5 {
        0 => (
            format!("{{ trend(filter: {{countries: {}}}) {{ direction }} }}", nested(depth, &kinds, false)),
            json!({}),
        ),
        1 => (
            format!(
                "query($f: SalesFilter = {{countries: {}}}) {{ trend(filter: $f) {{ direction }} }}",
                nested(depth, &kinds, false)
            ),
            json!({}),
        ),
        2 => (format!("{{ me @include(if: {}) {{ role }} }}", nested(depth, &kinds, false)), json!({})),
        3 => {
            let variables: Value =
                serde_json::from_str(&nested(depth.min(120), &kinds, true)).unwrap_or(Value::Null);
            (
                "query($c: [String!]) { trend(filter: {countries: $c}) { direction } }".to_string(),
                json!({ "c": variables }),
            )
        }
        _ => (
            "query($q: String!) { ask(question: $q) { notes } }".to_string(),
            json!({ "q": nested(depth.min(2_000), &kinds, false) }),
        ),
    }
}

/// Random nesting in every place a request can carry it: the answer is a coded GraphQL error or
/// data, never an abort. `SALESGRAPH_FUZZ_SECONDS` runs it for that long instead of 150 cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_nesting_anywhere_in_a_request_never_brings_the_server_down() {
    let server = super::seeded_server(200).await;
    let token = server.token(Role::Analyst, &[]);
    let deadline = std::env::var("SALESGRAPH_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let mut runner = TestRunner::new(Config::default());
    let strategy = (depth_strategy(), prop::collection::vec(any::<u8>(), 1..8), any::<u8>());
    let mut cases = 0u64;
    loop {
        let done = match deadline {
            Some(deadline) => std::time::Instant::now() >= deadline,
            None => cases >= 150,
        };
        if done {
            break;
        }
        let (depth, kinds, place) = strategy.new_tree(&mut runner).expect("a case").current();
        let (query, variables) = nested_request(depth, kinds, place);
        if query.len() > 256 * 1024 - 1024 {
            continue;
        }
        let (status, _, body) = server.post(Some(&token), &query, variables).await;
        assert!(matches!(status, 200 | 400), "status {status} at depth {depth}, place {place}: {body}");
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            assert!(!code.is_empty() && code != "INTERNAL", "depth {depth}, place {place}: {body}");
        }
        cases += 1;
    }
    println!("{cases} nested requests answered");
    let (status, _, body) = server.post(Some(&token), "{ me { role } }", json!({})).await;
    assert_eq!(status, 200, "{body}");
}

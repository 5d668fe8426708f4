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

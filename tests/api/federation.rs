//! salesgraph as an Apollo Federation v2 subgraph: its SDL, entities resolved in one batch per
//! type under the same policy as ordinary fields, and the cost of each operation. Composition
//! and a gateway with a second subgraph run with Apollo's own packages (`federation.mjs`).

use reqwest::header::AUTHORIZATION;
use salesgraph::auth::Role;
use serde_json::{Value, json};

use super::clients::clients_dir;
use super::common::TestServer;

/// A labelled sample from /metrics, 0 when absent.
async fn sample(server: &TestServer, series: &str) -> f64 {
    let (_, text) = server.get_text("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn entities(server: &TestServer, token: &str, representations: Value, selection: &str) -> Value {
    let query =
        format!("query($r: [_Any!]!) {{ _entities(representations: $r) {{ __typename {selection} }} }}");
    let (status, _, body) = server.post(Some(token), &query, json!({ "r": representations })).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subgraph_sdl_links_federation_v2_and_keys_models_and_markets() {
    let server = super::seeded_server(50).await;
    let data = server.data("{ _service { sdl } }", json!({})).await;
    let sdl = data["_service"]["sdl"].as_str().expect("sdl");
    assert_eq!(sdl, salesgraph::graphql::subgraph_sdl(), "_service answers what the CLI prints");
    assert!(sdl.contains("url: \"https://specs.apollo.dev/federation/v2."), "{sdl}");
    assert!(sdl.contains("type CarModel @key(fields: \"id\") @key(fields: \"name\")"), "{sdl}");
    assert!(sdl.contains("type Country @key(fields: \"code\")"), "{sdl}");
    assert!(!sdl.contains("_entities") && !sdl.contains("type Subscription"), "{sdl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_load_in_one_batch_per_key_and_answer_as_the_catalogue_does() {
    let server = super::seeded_server(50).await;
    let admin = server.admin_token();
    let catalogue = server
        .data("{ models { id name bodyType basePrice } countries { code name region } }", json!({}))
        .await;
    let models = catalogue["models"].as_array().expect("models");
    let countries = catalogue["countries"].as_array().expect("countries");
    let mut representations: Vec<Value> =
        models.iter().take(6).map(|m| json!({ "__typename": "CarModel", "id": m["id"] })).collect();
    representations.extend(
        models.iter().skip(6).take(3).map(|m| json!({ "__typename": "CarModel", "name": m["name"] })),
    );
    representations
        .extend(countries.iter().take(4).map(|c| json!({ "__typename": "Country", "code": c["code"] })));
    representations.push(json!({ "__typename": "CarModel", "id": "999999" }));

    let models_series = "salesgraph_dataloader_batches_total{loader=\"models\"}";
    let countries_series = "salesgraph_dataloader_batches_total{loader=\"countries\"}";
    let (models_before, countries_before) =
        (sample(&server, models_series).await, sample(&server, countries_series).await);
    let body = entities(
        &server,
        &admin,
        json!(representations),
        "... on CarModel { id name bodyType basePrice } ... on Country { code name region }",
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    // One batch for the ids and one for the names: a loader batches each key type apart.
    assert_eq!(sample(&server, models_series).await - models_before, 2.0);
    assert_eq!(sample(&server, countries_series).await - countries_before, 1.0);

    let answered = body["data"]["_entities"].as_array().expect("entities");
    assert_eq!(answered.len(), 14);
    for (index, model) in models.iter().take(9).enumerate() {
        let expected = json!({ "__typename": "CarModel", "id": model["id"], "name": model["name"],
            "bodyType": model["bodyType"], "basePrice": model["basePrice"] });
        assert_eq!(answered[index], expected);
    }
    for (index, country) in countries.iter().take(4).enumerate() {
        let expected = json!({ "__typename": "Country", "code": country["code"], "name": country["name"],
            "region": country["region"] });
        assert_eq!(answered[9 + index], expected);
    }
    assert_eq!(answered[13], Value::Null, "an id the catalogue lacks is null");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_keep_the_policy_of_ordinary_fields() {
    let server = super::seeded_server(50).await;
    let catalogue = server.data("{ models { id } }", json!({})).await;
    let mut ids: Vec<Value> =
        catalogue["models"].as_array().expect("models").iter().take(3).map(|m| m["id"].clone()).collect();
    // A router may send one representation twice: each place gets its own error.
    ids.push(ids[0].clone());
    let representations =
        json!(ids.iter().map(|id| json!({ "__typename": "CarModel", "id": id })).collect::<Vec<_>>());

    let analyst = server.token(Role::Analyst, &[]);
    let body =
        entities(&server, &analyst, representations.clone(), "... on CarModel { name basePrice }").await;
    let errors = body["errors"].as_array().expect("the analyst's prices are refused");
    assert_eq!(errors.len(), 4, "{body}");
    for (index, error) in errors.iter().enumerate() {
        assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{body}");
        assert_eq!(error["path"], json!(["_entities", index, "basePrice"]), "{body}");
    }
    for entity in body["data"]["_entities"].as_array().expect("entities") {
        assert!(entity["name"].is_string() && entity["basePrice"].is_null(), "{body}");
    }
    let (_, _, ordinary) = server.post(Some(&analyst), "{ models { basePrice } }", json!({})).await;
    assert_eq!(ordinary["errors"][0]["extensions"]["code"], "FORBIDDEN", "the ordinary field refuses alike");

    // A manager resolves a market outside its regions exactly as `countries` shows it.
    let manager = server.token(Role::Manager, &["Europe"]);
    let (_, _, listed) = server.post(Some(&manager), "{ countries { code name region } }", json!({})).await;
    let us = listed["data"]["countries"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["code"] == "US").cloned())
        .expect("the catalogue lists US");
    let body = entities(
        &server,
        &manager,
        json!([{ "__typename": "Country", "code": "US" }]),
        "... on Country { code name region }",
    )
    .await;
    let mut expected = us;
    expected["__typename"] = json!("Country");
    assert_eq!(body["data"]["_entities"][0], expected, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_report_their_cost_when_asked_and_in_the_metrics() {
    let server = super::seeded_server(50).await;
    let admin = server.admin_token();
    let ask = |limit: u32, with_header: bool| {
        let mut request = server
            .request(reqwest::Method::POST, "/graphql")
            .header(AUTHORIZATION, format!("Bearer {admin}"))
            .json(&json!({ "query": format!("query TopModels {{ topModels(limit: {limit}) {{ model {{ name }} units }} }}"),
                "operationName": "TopModels" }));
        if with_header {
            request = request.header("x-salesgraph-cost", "on");
        }
        async move { request.send().await.expect("request").json::<Value>().await.expect("json") }
    };
    let small = ask(3, true).await;
    let large = ask(30, true).await;
    let plain = ask(4, false).await;
    let cost = |body: &Value| body["extensions"]["cost"]["complexity"].as_u64().expect("a cost");
    assert!(cost(&large) > cost(&small), "{small} {large}");
    assert_eq!(small["extensions"]["cost"]["maxComplexity"], json!(server.context.settings.max_complexity));
    assert_eq!(small["extensions"]["cost"]["maxDepth"], json!(server.context.settings.max_depth));
    assert_eq!(small["extensions"]["cost"]["depth"], json!(3), "{small}");
    assert!(plain.get("extensions").is_none_or(|e| e.get("cost").is_none()), "{plain}");

    let count = sample(&server, "salesgraph_operation_complexity_count{operation=\"TopModels\"}").await;
    let sum = sample(&server, "salesgraph_operation_complexity_sum{operation=\"TopModels\"}").await;
    assert_eq!(count, 3.0, "every executed operation is measured");
    assert!(sum >= (cost(&small) + cost(&large)) as f64, "{sum}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_composes_a_supergraph_and_its_gateway_crosses_into_salesgraph() {
    let dir = clients_dir();
    if !dir.join("node_modules/@apollo/gateway").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the JavaScript clients first: npm ci --prefix tests/clients"
        );
        println!(
            "skipped: run `npm ci --prefix tests/clients` to compose and serve a supergraph with Apollo's tools"
        );
        return;
    }
    let server = super::seeded_server(300).await;
    let output = tokio::process::Command::new("node")
        .arg(dir.join("federation.mjs"))
        .arg(format!("{}/graphql", server.base))
        .arg(server.admin_token())
        .arg(server.token(Role::Analyst, &[]))
        .arg(server.token(Role::Manager, &["Europe"]))
        .output()
        .await
        .expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(
        output.status.success(),
        "federation failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("checks pass"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_representation_of_no_entity_here_is_refused_with_what_is_accepted() {
    let server = super::seeded_server(50).await;
    let admin = server.admin_token();
    for representation in
        [json!({ "__typename": "Dealer", "id": "1" }), json!({ "__typename": "CarModel", "sku": "x" })]
    {
        let body = entities(&server, &admin, json!([representation]), "").await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("`CarModel` by `id` or by `name`") && message.contains("`Country` by `code`"),
            "{body}"
        );
    }
}

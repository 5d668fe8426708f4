//! The dashboard at /dashboard: served from the binary under a same-origin-only content
//! security policy, signing in with dev tokens only in dev mode, and driven in headless
//! Chromium as executive and analyst (tests/clients/dashboard.mjs).

use reqwest::Method;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use salesgraph::auth::Role;
use salesgraph::store::seed::SeedOptions;
use serde_json::json;

use super::clients::{chromium_with_playwright, clients_dir};
use super::common::{TestDb, TestServer, date};

#[tokio::test]
async fn the_page_and_its_assets_come_from_the_binary_under_a_same_origin_policy() {
    let server = super::seeded_server(300).await;
    let page = server.request(Method::GET, "/dashboard").send().await.expect("request");
    assert_eq!(page.status(), 200);
    let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().expect("ascii").to_string();
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'"] {
        assert!(policy.contains(directive), "{directive} missing from {policy}");
    }
    let html = page.text().await.expect("html");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing from elsewhere: {html}");
    for (asset, content_type) in [
        ("dashboard.js", "text/javascript"),
        ("dashboard.css", "text/css"),
        ("chart.umd.min.js", "text/javascript"),
        ("graphql-ws.min.js", "text/javascript"),
    ] {
        assert!(html.contains(&format!("/dashboard/assets/{asset}")), "the page loads {asset}");
        let response =
            server.request(Method::GET, &format!("/dashboard/assets/{asset}")).send().await.expect("request");
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(response.headers()[CONTENT_TYPE], content_type, "{asset}");
    }
    let missing = server.request(Method::GET, "/dashboard/assets/other.js").send().await.expect("request");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn dev_tokens_are_handed_out_only_in_dev_mode() {
    let configured = super::seeded_server(50).await;
    let none = configured.get_json("/dashboard/dev-tokens").await;
    assert_eq!(none, json!([]), "a server with a secret hands out no tokens");

    let dev = TestServer::start_with(super::seeded_server_db(50).await, |s| s.jwt_secret = None).await;
    let tokens = dev.get_json("/dashboard/dev-tokens").await;
    let tokens = tokens.as_array().expect("a list");
    let roles: Vec<&str> = tokens.iter().filter_map(|t| t["role"].as_str()).collect();
    assert_eq!(roles, ["admin", "executive", "manager", "analyst"]);
    for token in tokens {
        let (status, _, body) =
            dev.post(token["token"].as_str(), "{ me { role regions limitedToRegions } }", json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["me"]["role"], token["role"], "{body}");
        assert_eq!(body["data"]["me"]["regions"], token["regions"], "{body}");
    }
    let manager = tokens.iter().find(|t| t["role"] == "manager").expect("a manager");
    assert_eq!(manager["regions"], json!(["Europe"]));
}

#[tokio::test]
async fn the_viewer_says_what_it_may_not_see_and_how_fresh_the_data_is() {
    let server = super::seeded_server(300).await;
    let query = "{ me { deniedFields limitedToRegions } dataStatus { version firstMonth lastSaleDay } }";
    let data = |role, regions: &'static [&'static str]| {
        let token = server.token(role, regions);
        let server = &server;
        async move {
            let (status, _, body) = server.post(Some(&token), query, json!({})).await;
            assert_eq!(status, 200, "{body}");
            body["data"].clone()
        }
    };
    let analyst = data(Role::Analyst, &[]).await;
    let denied: Vec<&str> =
        analyst["me"]["deniedFields"].as_array().expect("list").iter().filter_map(|v| v.as_str()).collect();
    for coordinate in ["Query.inventoryPlan", "Sale.revenue", "SalesAggregate.revenue", "Metric.REVENUE"] {
        assert!(denied.contains(&coordinate), "analysts may not use {coordinate}: {denied:?}");
    }
    assert!(!denied.contains(&"Query.sales"), "analysts read rows");
    assert_eq!(analyst["me"]["limitedToRegions"], false);

    let executive = data(Role::Executive, &[]).await;
    assert_eq!(executive["me"]["deniedFields"], json!(["Mutation.importSales", "Query.sales"]));
    let manager = data(Role::Manager, &["Europe"]).await;
    assert_eq!(manager["me"]["limitedToRegions"], true);
    assert_eq!(data(Role::Admin, &[]).await["me"]["deniedFields"], json!([]));

    // The seeded span: 2023-01 to 2024-06.
    assert_eq!(executive["dataStatus"]["firstMonth"], "2023-01-01");
    let last = executive["dataStatus"]["lastSaleDay"].as_str().expect("a day");
    assert!(last.starts_with("2024-06"), "{last}");
    assert!(executive["dataStatus"]["version"].as_i64().expect("a version") > 0);
}

#[tokio::test]
async fn ask_answers_the_alternative_a_user_picked() {
    let server = super::seeded_server(300).await;
    let token = server.token(Role::Executive, &[]);
    let query = "query($q: String!, $alt: Int) { ask(question: $q, asOf: \"2024-06-30\", alternative: $alt) {
        interpretation { intent models countries } alternatives { intent models countries } notes rows } }";
    let question = "X5 sales in Germany";
    let (_, _, asked) = server.post(Some(&token), query, json!({ "q": question })).await;
    let best = asked["data"]["ask"]["interpretation"].clone();
    let alternatives = asked["data"]["ask"]["alternatives"].as_array().expect("alternatives").clone();
    assert!(!alternatives.is_empty(), "the question has alternative readings: {asked}");

    let (_, _, picked) = server.post(Some(&token), query, json!({ "q": question, "alt": 1 })).await;
    let answer = &picked["data"]["ask"];
    assert_eq!(answer["interpretation"], alternatives[0], "{picked}");
    assert_eq!(answer["alternatives"][0], best, "the former best reading is offered back: {picked}");
    assert!(
        answer["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("alternative 1"))),
        "{picked}"
    );

    let count = alternatives.len();
    let (_, _, refused) = server.post(Some(&token), query, json!({ "q": question, "alt": count + 1 })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    let message = refused["errors"][0]["message"].as_str().expect("message");
    assert!(message.contains(&format!("alternative {}", count + 1)), "{message}");
}

/// Enough history for every panel: seasonality needs two years, the forecast's backtest one more.
async fn dashboard_db() -> TestDb {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 12_000,
        seed: 5,
        from: date(2020, 1, 1),
        until: date(2024, 6, 30),
        seasonal: true,
    })
    .await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executive_and_analyst_use_the_dashboard_in_chromium() {
    let Some(chromium) = chromium_with_playwright() else {
        return;
    };
    let server = TestServer::start(dashboard_db().await).await;
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let output = tokio::process::Command::new("node")
        .arg(clients_dir().join("dashboard.mjs"))
        .arg(&server.base)
        .arg(server.token(Role::Executive, &[]))
        .arg(server.token(Role::Analyst, &[]))
        .arg(server.admin_token())
        .arg(&artifacts)
        .arg(chromium)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    println!("{stdout}screenshots in {}", artifacts.display());
    for shot in ["dashboard-executive.png", "dashboard-executive-filtered.png", "dashboard-analyst.png"] {
        assert!(artifacts.join(shot).exists(), "{shot} saved");
    }
}

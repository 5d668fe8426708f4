//! What off-the-shelf clients rely on: the GraphQL over HTTP audit suite (graphql-http, run
//! with Node), persisted queries, ETags, compression, CORS and CSRF refusals.

use reqwest::Method;
use reqwest::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    ORIGIN, VARY,
};
use salesgraph::auth::Role;
use salesgraph::http::persisted::sha256_hex;
use serde_json::{Value, json};

use super::common::{TestDb, TestServer};

pub(super) fn clients_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Whether `python3` imports `modules` (comma-separated; tests/clients/requirements.txt installs
/// them); otherwise false after saying how to get them, which CI (CI=true) does not accept.
pub(super) fn python_has(modules: &str, to_do: &str) -> bool {
    let ready = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|output| output.status.success());
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Python clients first: pip install -r tests/clients/requirements.txt"
        );
        println!("skipped: run `pip install -r tests/clients/requirements.txt` to {to_do}");
    }
    ready
}

/// Debian's Chromium, when it and playwright-core (`npm ci --prefix tests/clients`) are here;
/// otherwise None after saying why, which CI (CI=true, set by .ci/run) does not accept.
pub(super) fn chromium_with_playwright() -> Option<&'static std::path::Path> {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    if clients_dir().join("node_modules/playwright-core").exists() && chromium.exists() {
        return Some(chromium);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install Chromium and the JavaScript clients (see .ci/run)"
    );
    println!(
        "skipped the browser test: needs /usr/bin/chromium (apt-get install chromium) and npm ci --prefix tests/clients"
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_over_http_audit_suite_passes_every_audit() {
    let dir = clients_dir();
    if !dir.join("node_modules/graphql-http").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the JavaScript clients first: npm ci --prefix tests/clients"
        );
        println!("skipped: run `npm ci --prefix tests/clients` to audit GraphQL over HTTP with graphql-http");
        return;
    }
    let server = super::seeded_server(200).await;
    let output = tokio::process::Command::new("node")
        .arg(dir.join("audit.mjs"))
        .arg(format!("{}/graphql", server.base))
        .arg(server.admin_token())
        .output()
        .await
        .expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(output.status.success(), "audits failed:\n{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains("audits: 61 of 61 pass"), "{report}");
}

async fn post_json(server: &TestServer, token: &str, body: Value) -> (u16, Value) {
    let response = server
        .request(Method::POST, "/graphql")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_persisted_queries_round_trip_over_post_and_get() {
    let server = TestServer::start(TestDb::new().await).await;
    let token = server.token(Role::Analyst, &[]);
    let query = "{ models { name } }";
    let hash = sha256_hex(query);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let (status, body) = post_json(&server, &token, json!({ "extensions": extensions })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    let (status, body) =
        post_json(&server, &token, json!({ "query": query, "extensions": extensions })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["models"].as_array().is_some_and(|m| !m.is_empty()), "{body}");
    let (_, by_hash) = post_json(&server, &token, json!({ "extensions": extensions })).await;
    assert_eq!(by_hash["data"], body["data"]);

    let url = format!("/graphql?extensions={}", super::common::urlencode(&extensions.to_string()));
    let response = server
        .request(Method::GET, &url)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let got: Value = response.json().await.expect("json");
    assert_eq!(got["data"], body["data"]);

    let wrong = json!({ "query": "{ me { role } }", "extensions": extensions });
    let (status, body) = post_json(&server, &token, wrong).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].clone()), (400, json!("BAD_USER_INPUT")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_answers_carry_etags_and_a_repeat_is_304_until_data_lands() {
    let server = super::seeded_server(200).await;
    let token = server.admin_token();
    let url =
        format!("/graphql?query={}", super::common::urlencode("{ salesSummary(groupBy: []) { units } }"));
    let get = |etag: Option<String>| {
        let mut request = server.request(Method::GET, &url).header(AUTHORIZATION, format!("Bearer {token}"));
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        request.send()
    };
    let first = get(None).await.expect("request");
    assert_eq!(first.status(), 200);
    let etag = first.headers()[ETAG].to_str().expect("etag").to_string();
    assert!(first.headers()[CACHE_CONTROL].to_str().expect("cache-control").starts_with("private, max-age="));
    assert_eq!(first.headers()[VARY], "Authorization, Accept");
    let again = get(Some(etag.clone())).await.expect("request");
    assert_eq!(again.status(), 304);
    assert!(again.text().await.expect("body").is_empty());

    let analyst = server.token(Role::Analyst, &[]);
    let other_viewer = server
        .request(Method::GET, &url)
        .header(AUTHORIZATION, format!("Bearer {analyst}"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(other_viewer.status(), 200, "an ETag does not cross scopes");

    server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": "sold_on,model,country,units\n2024-01-03,X5,DE,3\n" }),
        )
        .await;
    let after = get(Some(etag.clone())).await.expect("request");
    assert_eq!(after.status(), 200, "new data, new ETag");
    assert_ne!(after.headers()[ETAG].to_str().expect("etag"), etag);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_compressed_as_the_client_accepts() {
    let server = super::seeded_server(200).await;
    let raw = reqwest::Client::builder().no_gzip().no_brotli().build().expect("client");
    for encoding in ["gzip", "br"] {
        let response = raw
            .post(format!("{}/graphql", server.base))
            .header(AUTHORIZATION, format!("Bearer {}", server.admin_token()))
            .header(ACCEPT_ENCODING, encoding)
            .json(
                &json!({ "query": "{ models { name bodyType basePrice } countries { code name region } }" }),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get(CONTENT_ENCODING).map(|v| v.to_str().unwrap_or_default()),
            Some(encoding)
        );
    }
    // The usual client decompresses transparently.
    let data = server.data("{ models { name } }", json!({})).await;
    assert!(data["models"].as_array().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_and_simple_request_posts_are_refused() {
    let server = TestServer::start_with(TestDb::new().await, |s| {
        s.cors_origins = vec!["https://dash.example".to_string()];
    })
    .await;
    let token = server.admin_token();
    let query = json!({ "query": "{ me { role } }" });
    let from = |origin: &str| {
        server
            .request(Method::POST, "/graphql")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(ORIGIN, origin)
            .json(&query)
            .send()
    };
    let evil = from("https://evil.example").await.expect("request");
    assert_eq!(evil.status(), 403);
    let body: Value = evil.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let allowed = from("https://dash.example").await.expect("request");
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://dash.example");
    let preflight = server
        .request(Method::OPTIONS, "/graphql")
        .header(ORIGIN, "https://dash.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .expect("request");
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://dash.example");

    // What a page elsewhere could send without a preflight: a form or text/plain POST.
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
    {
        let response = server
            .request(Method::POST, "/graphql")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, content_type)
            .body(query.to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 415, "{content_type}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_documents_bind_every_role_but_admin() {
    let listed = "query Models { models { name } }";
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("persisted-documents.json");
    std::fs::write(&manifest, json!({ sha256_hex(listed): listed }).to_string()).expect("write manifest");
    let path = manifest.clone();
    let server = TestServer::start_with(TestDb::new().await, move |s| s.trusted_documents = Some(path)).await;
    let analyst = server.token(Role::Analyst, &[]);
    let (status, body) = post_json(&server, &analyst, json!({ "query": listed })).await;
    assert_eq!(status, 200, "{body}");
    let by_hash =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(listed) } } });
    let (status, body) = post_json(&server, &analyst, by_hash).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["models"].is_array(), "{body}");
    let (status, body) = post_json(&server, &analyst, json!({ "query": "{ me { role } }" })).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (403, json!("FORBIDDEN")),
        "{body}"
    );
    let (status, _) = post_json(&server, &server.admin_token(), json!({ "query": "{ me { role } }" })).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_from_the_binary_and_renders_offline_in_chromium() {
    let server = super::seeded_server(300).await;
    let page = server
        .request(Method::GET, "/graphql")
        .header(reqwest::header::ACCEPT, "text/html")
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("/graphiql/graphiql.min.js"), "{html}");
    assert!(
        !html.contains("unpkg") && !html.contains("src=\"http"),
        "the page must not load from a CDN: {html}"
    );
    for (asset, content_type) in [("graphiql.min.js", "text/javascript"), ("graphiql.min.css", "text/css")] {
        let response =
            server.request(Method::GET, &format!("/graphiql/{asset}")).send().await.expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], content_type);
    }
    assert_eq!(
        server.request(Method::GET, "/graphiql/nothing.js").send().await.expect("request").status(),
        404
    );

    let Some(chromium) = chromium_with_playwright() else {
        return;
    };
    let output = tokio::process::Command::new("node")
        .arg(clients_dir().join("graphiql.mjs"))
        .arg(&server.base)
        .arg(server.admin_token())
        .arg(chromium)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codegen_builds_typed_clients_and_every_example_query_runs() {
    // Every example is valid against the running schema (no document-level errors).
    let server = super::seeded_server(300).await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/queries");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/queries") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "graphql") {
            continue;
        }
        let document = std::fs::read_to_string(&path).expect("read example");
        let variables = json!({ "question": "top 3 models in Germany last year", "asOf": "2024-06-30", "csv": "sold_on,model,country,units\n" });
        let (status, _, body) = server.post(Some(&server.admin_token()), &document, variables).await;
        assert_eq!(status, 200, "{}: {body}", path.display());
        for error in body["errors"].as_array().into_iter().flatten() {
            assert!(error.get("path").is_some(), "{} does not validate: {body}", path.display());
        }
        count += 1;
    }
    assert!(count >= 5, "the README's queries live in examples/queries");

    let dir = clients_dir();
    if !dir.join("node_modules/.bin/graphql-codegen").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must run npm ci --prefix tests/clients");
        println!("skipped codegen: run `npm ci --prefix tests/clients`");
        return;
    }
    for (program, args) in [
        ("node_modules/.bin/graphql-codegen", vec!["--config", "codegen.yml"]),
        ("node_modules/.bin/tsc", vec!["--noEmit", "--strict", "generated/types.ts"]),
    ] {
        let output = tokio::process::Command::new(dir.join(program))
            .args(&args)
            .current_dir(&dir)
            .output()
            .await
            .expect("runs");
        assert!(
            output.status.success(),
            "{program} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let types = std::fs::read_to_string(dir.join("generated/types.ts")).expect("generated types");
    assert!(types.contains("export type TopModelsInGermanyQuery"), "codegen typed the README's query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graphql_ws_client_receives_updates_and_a_bad_token_is_closed_with_4403() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = clients_dir();
    if !dir.join("node_modules/graphql-ws").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must run npm ci --prefix tests/clients");
        println!("skipped: run `npm ci --prefix tests/clients` for the graphql-ws client");
        return;
    }
    let server = super::seeded_server(200).await;
    let ws_url = format!("{}/graphql/ws", server.base.replacen("http://", "ws://", 1));
    let manager = server.token(Role::Manager, &["Europe"]);
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("subscribe.mjs"))
        .arg(&ws_url)
        .arg(&manager)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line()).await;
    assert_eq!(first.ok().and_then(|l| l.ok()).flatten().as_deref(), Some("subscribed"));
    // Give the server a moment to register the subscription, then land German data.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = server
        .data("{ salesSummary(filter: { countries: [\"DE\"] }, groupBy: []) { units } }", json!({}))
        .await;
    server
        .data(
            "mutation($csv: String!) { importSales(csv: $csv) { landed } }",
            json!({ "csv": "sold_on,model,country,units\n2024-03-03,X5,DE,5\n" }),
        )
        .await;
    let update = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .ok()
        .and_then(|l| l.ok())
        .flatten()
        .expect("an update within 20 s");
    let update: Value = serde_json::from_str(&update).expect("json");
    let units = before["salesSummary"][0]["units"].as_i64().expect("units");
    assert_eq!(update["data"]["salesUpdated"]["units"], json!(units + 5), "{update}");
    assert!(child.wait().await.expect("node exits").success());

    let refused = tokio::process::Command::new("node")
        .arg(dir.join("subscribe.mjs"))
        .arg(&ws_url)
        .arg("not-a-token")
        .arg("expect-close")
        .output()
        .await
        .expect("node runs");
    let report = String::from_utf8_lossy(&refused.stdout);
    assert!(refused.status.success(), "{report}{}", String::from_utf8_lossy(&refused.stderr));
    assert!(report.contains("closed 4403"), "{report}");
}

//! A hostile user with a valid token: requests built to crash or exhaust the server, and paths
//! around the policy. Each test is one finding of a probe of the release server; each failed
//! before its fix.

use salesgraph::auth::Role;
use serde_json::{Value, json};

use super::common::{TestDb, TestServer};

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("<none>")
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

/// The server still answers a cheap query: it neither crashed nor hangs.
async fn still_serving(server: &TestServer) {
    let (status, _, body) = server.post(Some(&server.admin_token()), "{ me { role } }", json!({})).await;
    assert_eq!((status, &body["data"]["me"]["role"]), (200, &json!("admin")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_input_values_are_refused_before_the_parser_recurses() {
    let server = TestServer::start(TestDb::new().await).await;
    let analyst = server.token(Role::Analyst, &[]);
    let nested_list = |depth: usize| format!("{}\"DE\"{}", "[".repeat(depth), "]".repeat(depth));
    let nested_object =
        |depth: usize| format!("{}\"2024-01-01\"{}", "{from: ".repeat(depth), "}".repeat(depth));
    let queries = [
        format!("{{ trend(filter: {{countries: {}}}) {{ direction }} }}", nested_list(1_500)),
        format!("{{ trend(filter: {}) {{ direction }} }}", nested_object(2_000)),
        format!(
            "query($f: SalesFilter = {{countries: {}}}) {{ trend(filter: $f) {{ direction }} }}",
            nested_list(1_500)
        ),
        format!("{{ me @include(if: {}) {{ role }} }}", nested_list(1_500)),
        format!("{{ trend(filter: {{countries: {}}}) {{ direction }} }}", nested_list(100_000)),
    ];
    for query in &queries {
        let (status, _, body) = server.post(Some(&analyst), query, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(message(&body).contains("nests"), "{body}");
    }
    // Variables: nested past the limit in JSON, and past what the JSON reader takes at all.
    let mut value = json!("DE");
    for _ in 0..100 {
        value = json!([value]);
    }
    let (_, _, body) = server
        .post(
            Some(&analyst),
            "query($c: [String!]) { trend(filter: {countries: $c}) { direction } }",
            json!({ "c": value }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("variables nest"), "{body}");
    let deep_json = format!(
        "{{\"query\": \"{{ me {{ role }} }}\", \"variables\": {{\"c\": {}1{}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let response = server
        .request(reqwest::Method::POST, "/graphql")
        .bearer_auth(&analyst)
        .header("content-type", "application/json")
        .body(deep_json)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    // GET carries the same document.
    let get = format!("/graphql?query={}", super::common::urlencode(&queries[0]));
    let response =
        server.request(reqwest::Method::GET, &get).bearer_auth(&analyst).send().await.expect("GET");
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_outside_the_accepted_range_are_refused_and_series_follow_the_data() {
    let server = super::seeded_server(300).await;
    let analyst = server.token(Role::Analyst, &[]);
    for from in ["0001-01-01", "-9999-01-01", "+10000-01-01", "1899-12-31", "2200-01-01"] {
        let started = std::time::Instant::now();
        let query = format!("{{ trend(filter: {{from: \"{from}\"}}) {{ direction }} }}");
        let (_, _, body) = server.post(Some(&analyst), &query, json!({})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{from}: {body}");
        assert!(
            message(&body).contains(from.trim_start_matches('+')) || message(&body).contains(from),
            "{body}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{from} took {:?}", started.elapsed());
    }
    // The widest accepted range gives a series over the data's months (2023-01 to 2024-06).
    let wide = "{ trend(filter: {from: \"1900-01-01\", to: \"2199-12-31\"}) { points { period } } }";
    let data = server.data(wide, json!({})).await;
    let points = data["trend"]["points"].as_array().expect("points");
    assert_eq!(points.len(), 18, "{data}");
    assert_eq!(points[0]["period"], "2023-01-01");
    // A hundred aliased trends over that range are cheap.
    let aliases: String = (0..100)
        .map(|i| {
            format!(" t{i}: trend(filter: {{from: \"1900-01-01\", to: \"2199-12-31\"}}) {{ direction }}")
        })
        .collect();
    let started = std::time::Instant::now();
    let (status, _, body) = server.post(Some(&analyst), &format!("{{{aliases} }}"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "100 trends took {:?}", started.elapsed());
}

const IMPORT: &str = "mutation($csv: String!, $skip: Boolean) {
    importSales(csv: $csv, options: { skipInvalid: $skip }) { landed rowsRead rowsLanded rowsRejected errors { line reason } }
}";

async fn import(server: &TestServer, csv: &str) -> Value {
    server.data(IMPORT, json!({ "csv": csv, "skip": false })).await["importSales"].clone()
}

/// Each bad row is refused with its line and a reason naming the value; nothing lands.
async fn assert_refused(server: &TestServer, rows: &[&str], expected: &[&str]) {
    let csv = format!("sold_on,model,country,units,unit_price_usd\n{}\n", rows.join("\n"));
    let before = server.db.checksum().await;
    let result = import(server, &csv).await;
    assert_eq!(result["landed"], json!(false), "{result}");
    let errors = result["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), rows.len(), "every row refused: {result}");
    for (i, (error, expected)) in errors.iter().zip(expected).enumerate() {
        assert_eq!(error["line"], json!(i + 2), "{result}");
        let reason = error["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(expected), "line {}: {reason:?} does not name {expected:?}", i + 2);
    }
    assert_eq!(server.db.checksum().await, before, "a refused import changed the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_refuse_out_of_range_dates_numbers_and_names() {
    let server = TestServer::start(TestDb::new().await).await;
    assert_refused(
        &server,
        &[
            "0000-01-01,X5,DE,1,",
            "9999-12-31,X5,DE,1,",
            "+10000-01-01,X5,DE,1,",
            "-0001-01-01,X5,DE,1,",
            "2024-1-1,X5,DE,1,",
            "\" 2024-01-01\",X5,DE,1,",
        ],
        &["0000-01-01", "9999-12-31", "+10000-01-01", "-0001-01-01", "2024-1-1", " 2024-01-01"],
    )
    .await;
    assert_refused(
        &server,
        &["2024-01-02,X5,DE,1,1e308", "2024-01-02,X5,DE,1e9,", "2024-01-02,X5,DE,2147483647,"],
        &["1e308", "1e9", "2147483647"],
    )
    .await;
    let long = "M".repeat(100_000);
    assert_refused(
        &server,
        &[
            &format!("2024-01-02,{long},DE,1,"),
            "2024-01-02,\"X\u{0}5\",DE,1,",
            "2024-01-02,<script>alert(1)</script>,DE,1,",
        ],
        &["100000 characters", "\\0", "'<'"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_csv_is_refused_and_an_empty_import_changes_nothing() {
    let server = TestServer::start(TestDb::new().await).await;
    let version = || async {
        server.data("{ dataStatus { version } }", json!({})).await["dataStatus"]["version"].clone()
    };
    let before = version().await;
    let checksum = server.db.checksum().await;
    let result = import(&server, "sold_on,model,country,units\n").await;
    assert_eq!(
        (result["landed"].clone(), result["rowsLanded"].clone()),
        (json!(false), json!(0)),
        "{result}"
    );
    assert_eq!(server.db.checksum().await, checksum, "a header-only file changed the database");
    assert_eq!(version().await, before, "a header-only file bumped the data version");

    let result = import(&server, "sold_on,model,country,units\n2024-01-02,X5,DE,1,7\n").await;
    assert_eq!(result["landed"], json!(false), "{result}");
    assert_eq!(result["errors"][0]["line"], json!(2), "{result}");
    assert!(result["errors"][0]["reason"].as_str().unwrap_or_default().contains("5 fields"), "{result}");

    let (_, _, body) = server
        .post(
            Some(&server.admin_token()),
            IMPORT,
            json!({ "csv": "sold_on,model,country,units,units\n2024-01-02,X5,DE,1,2\n" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("\"units\" twice"), "{body}");
    assert_eq!(server.db.checksum().await, checksum);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_name_the_argument_the_value_and_the_limit() {
    let server = super::seeded_server_db(30_000).await;
    let server = TestServer::start(server).await;
    let analyst = server.token(Role::Analyst, &[]);
    let (_, _, body) = server.post(Some(&analyst), "{ sales(first: 5000) { totalCount } }", json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(["`first`", "5000", "1000"].iter().all(|part| message(&body).contains(part)), "{body}");
    let (_, _, body) = server.post(Some(&analyst), "{ topModels(limit: 10001) { units } }", json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("10001"), "{body}");
    let (_, _, body) = server.post(Some(&analyst), "{ topModels(limit: 5000) { units } }", json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(message(&body).contains("2000"), "the complexity error names its limit: {body}");

    // Without `limit`, the same cap: every dimension over 30,000 rows is more than 10,000 groups.
    let everything = "{ salesSummary(groupBy: [PERIOD, MODEL, COUNTRY, FUEL_TYPE, TRANSMISSION], granularity: MONTH) { units } }";
    let (_, _, body) = server.post(Some(&analyst), everything, json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("10000") && message(&body).contains("salesSummaryConnection"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_default_or_an_argument_default_cannot_carry_a_protected_value() {
    let server = super::seeded_server(300).await;
    let analyst = server.token(Role::Analyst, &[]);
    for query in [
        "query($m: Metric = REVENUE) { trend(metric: $m) { points { value } } }",
        "query($m: Metric = REVENUE) { topModels(metric: $m) { share } }",
        "query($m: Metric = REVENUE) { salesSummary(groupBy: [MODEL], metric: $m) { units } }",
        "query($m: Metric = REVENUE) { salesSummaryConnection(groupBy: [MODEL], metric: $m) { totalCount } }",
        "query Named($m: Metric = REVENUE) { topModels(metric: $m) { units } }",
    ] {
        let (_, _, body) = server.post(Some(&analyst), query, json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN", "{query}: {body}");
        let get = format!("/graphql?query={}", super::common::urlencode(query));
        let response =
            server.request(reqwest::Method::GET, &get).bearer_auth(&analyst).send().await.expect("GET");
        let body: Value = response.json().await.expect("json");
        assert_eq!(code(&body), "FORBIDDEN", "GET {query}: {body}");
    }
    // The variable given explicitly still wins over its default.
    let (_, _, body) = server
        .post(
            Some(&analyst),
            "query($m: Metric = REVENUE) { topModels(metric: $m) { units } }",
            json!({ "m": "UNITS" }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_viewer_values_are_never_shared_through_the_cache() {
    let server = TestServer::start(TestDb::new().await).await;
    for subject in ["alice", "bob", "carol"] {
        let viewer = salesgraph::auth::Viewer::new(subject, Role::Executive, vec![]);
        let token = salesgraph::auth::TokenKeys::hs256(super::common::TEST_SECRET.as_bytes())
            .issue(&viewer, std::time::Duration::from_secs(60))
            .expect("token");
        for _ in 0..2 {
            let (_, _, body) = server.post(Some(&token), "{ me { subject role } }", json!({})).await;
            assert_eq!(body["data"]["me"]["subject"], json!(subject), "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_policy_is_refused_at_start_and_on_reload() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("policy.csv");
    std::fs::write(&path, "").expect("write policy");
    let settings = salesgraph::config::ServeSettings {
        listen: "127.0.0.1:0".parse().expect("address"),
        jwt_secret: Some(super::common::TEST_SECRET.into()),
        policy: Some(path.clone()),
        ..Default::default()
    };
    let db = TestDb::new().await;
    let refused = salesgraph::startup::Application::build(&db.url, settings).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.to_string().contains("protects nothing")),
        "an empty policy started the server"
    );

    std::fs::write(&path, salesgraph::access::policy::DEFAULT_POLICY).expect("write policy");
    let policy_path = path.clone();
    let server = TestServer::start_with(db, move |s| s.policy = Some(policy_path)).await;
    std::fs::write(&path, "").expect("empty the policy");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let analyst = server.token(Role::Analyst, &[]);
    let (_, _, body) = server
        .post(Some(&analyst), IMPORT, json!({ "csv": "sold_on,model,country,units\n2024-01-02,X5,DE,1\n" }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "an emptied policy opened importSales: {body}");
    let (_, _, body) = server.post(Some(&analyst), "{ models { basePrice } }", json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_answers_only_loopback_hosts_and_graphiql_has_a_content_security_policy() {
    let server = TestServer::start_with(TestDb::new().await, |s| s.jwt_secret = None).await;
    let response = server
        .request(reqwest::Method::GET, "/dashboard/dev-tokens")
        .header("host", "evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap_or_default();
    assert!(!text.contains("eyJ"), "a token was handed to a foreign host: {text}");
    let response =
        server.request(reqwest::Method::GET, "/dashboard/dev-tokens").send().await.expect("request");
    assert_eq!(response.status(), 200, "loopback still gets its dev tokens");

    let response = server
        .request(reqwest::Method::GET, "/graphql")
        .header("accept", "text/html")
        .send()
        .await
        .expect("GraphiQL");
    let policy = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self' 'nonce-"),
        "{policy}"
    );
    let page = response.text().await.unwrap_or_default();
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap_or("none");
    assert!(page.contains(&format!("<script nonce=\"{nonce}\">")), "the inline script carries the nonce");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_server_never_seeds_an_empty_database() {
    let server = TestServer::start_with(TestDb::new().await, |s| s.no_seed = false).await;
    assert_eq!(
        server.db.scalar_i64("SELECT COUNT(*) FROM sale").await,
        0,
        "a configured secret seeded demo data"
    );
    let settings = |secret: Option<&str>, seed_if_empty: bool| salesgraph::config::ServeSettings {
        jwt_secret: secret.map(Into::into),
        seed_if_empty,
        ..Default::default()
    };
    assert!(settings(None, false).seeds_when_empty(), "dev mode seeds");
    assert!(!settings(Some("s"), false).seeds_when_empty());
    assert!(settings(Some("s"), true).seeds_when_empty());
    assert!(!salesgraph::config::ServeSettings { no_seed: true, ..settings(None, true) }.seeds_when_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_command_writes_the_configured_issuer_and_audience() {
    let server = TestServer::start_with(TestDb::new().await, |s| {
        s.jwt_issuer = Some("https://id.example".into());
        s.jwt_audience = Some("salesgraph".into());
    })
    .await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"))
        .args(["token", "--role", "Analyst"])
        .env("SALESGRAPH_JWT_SECRET", super::common::TEST_SECRET)
        .env("SALESGRAPH_JWT_ISSUER", "https://id.example")
        .env("SALESGRAPH_JWT_AUDIENCE", "salesgraph")
        .output()
        .expect("run salesgraph token");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let (status, _, body) = server.post(Some(&token), "{ me { role } }", json!({})).await;
    assert_eq!((status, &body["data"]["me"]["role"]), (200, &json!("analyst")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_staging_tables_are_swept_and_live_ones_kept() {
    let Some(_) = super::common::postgres_url() else { return };
    let db = TestDb::new().await;
    db.db
        .execute_unprepared("CREATE UNLOGGED TABLE sale_staging_999999999_1_0 (x int)")
        .await
        .expect("stale");
    db.db
        .execute_unprepared(
            "DO $$ BEGIN EXECUTE format('CREATE UNLOGGED TABLE sale_staging_%s_1_0 (x int)', pg_backend_pid()); END $$",
        )
        .await
        .expect("live");
    let server = TestServer::start(db).await;
    let tables = server
        .db
        .rows("SELECT tablename::text FROM pg_tables WHERE tablename LIKE 'sale\\_staging\\_%' ORDER BY 1")
        .await;
    assert_eq!(tables.len(), 1, "the stale table stays or the live one went: {tables:?}");
    assert!(!tables[0].contains("999999999"), "{tables:?}");
}

use sea_orm::ConnectionTrait as _;

/// A graphql-transport-ws connection, initialised with `token`.
async fn open_socket(
    server: &TestServer,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}/graphql/ws", server.base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connects");
    let init =
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(tokio_tungstenite::tungstenite::Message::text(init.to_string())).await.expect("init");
    let ack = next_json(&mut socket).await.expect("an answer to connection_init");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

/// The next text message as JSON; `None` when the socket closes (its close frame is dropped).
async fn next_json(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Option<Value> {
    use futures_util::StreamExt as _;
    loop {
        let message =
            tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await.ok()??.ok()?;
        match message {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                return serde_json::from_str(text.as_str()).ok();
            }
            tokio_tungstenite::tungstenite::Message::Close(frame) => {
                return Some(json!({ "closed": frame.map(|f| u16::from(f.code)) }));
            }
            _ => continue,
        }
    }
}

async fn subscribe(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    id: &str,
    query: &str,
) {
    use futures_util::SinkExt as _;
    let message = json!({ "id": id, "type": "subscribe", "payload": { "query": query } });
    socket.send(tokio_tungstenite::tungstenite::Message::text(message.to_string())).await.expect("send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_documents_bind_websocket_operations_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listed = "{ me { role } }";
    let manifest = dir.path().join("trusted.json");
    let hash = salesgraph::http::persisted::sha256_hex(listed);
    std::fs::write(&manifest, json!({ hash: listed }).to_string()).expect("manifest");
    let server =
        TestServer::start_with(TestDb::new().await, move |s| s.trusted_documents = Some(manifest)).await;
    let mut socket = open_socket(&server, &server.token(Role::Analyst, &[])).await;
    subscribe(&mut socket, "1", "{ models { name } }").await;
    let answer = next_json(&mut socket).await.expect("an answer");
    assert_eq!(next_json(&mut socket).await.expect("complete")["type"], "complete");
    let text = answer.to_string();
    assert!(text.contains("FORBIDDEN") && !text.contains("\"name\""), "an untrusted document ran: {answer}");
    subscribe(&mut socket, "2", listed).await;
    let answer = next_json(&mut socket).await.expect("an answer");
    assert_eq!(answer["payload"]["data"]["me"]["role"], "analyst", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_closes_when_its_token_expires_and_obeys_the_rate_limit() {
    let server = TestServer::start_with(TestDb::new().await, |s| s.rate_limit = 20).await;
    let viewer = salesgraph::auth::Viewer::new("short-lived", Role::Analyst, vec![]);
    // The server tolerates 30 s of clock skew past `exp`: a token that expired 28 s ago is
    // accepted now and refused two seconds later.
    let token = {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        let claims = json!({ "sub": "short-lived", "role": "analyst", "exp": now - 28 });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(super::common::TEST_SECRET.as_bytes()),
        )
        .expect("token")
    };
    let _ = viewer;
    let mut socket = open_socket(&server, &token).await;
    let started = std::time::Instant::now();
    let mut closed = None;
    while started.elapsed() < std::time::Duration::from_secs(8) {
        match next_json(&mut socket).await {
            Some(message) if message.get("closed").is_some() => {
                closed = Some(message["closed"].clone());
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    assert_eq!(closed, Some(json!(4401)), "the socket outlived its token");

    // 200 pipelined operations with a limit of 20 per second: most are refused.
    let mut socket = open_socket(&server, &server.token(Role::Analyst, &[])).await;
    for i in 0..200 {
        subscribe(&mut socket, &i.to_string(), "{ me { role } }").await;
    }
    let mut limited = 0;
    let mut answered = 0;
    while answered + limited < 200 {
        let Some(message) = next_json(&mut socket).await else { break };
        if message["type"] == "complete" {
            continue;
        }
        if message.to_string().contains("RATE_LIMITED") {
            limited += 1;
        } else if message["payload"]["data"]["me"]["role"] == "analyst" {
            answered += 1;
        }
    }
    assert!(limited >= 150, "{limited} of 200 pipelined operations were limited ({answered} answered)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_the_freshness_of_its_own_regions_only() {
    let server = super::seeded_server(300).await;
    let europe = server.token(Role::Manager, &["Europe"]);
    let status = || async {
        let (_, _, body) =
            server.post(Some(&europe), "{ dataStatus { version firstMonth lastSaleDay } }", json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["dataStatus"].clone()
    };
    let before = status().await;
    let result = import(&server, "sold_on,model,country,units\n2024-07-15,X5,US,1\n").await;
    assert_eq!(result["landed"], json!(true), "{result}");
    server.context.refresh().await.expect("refresh");
    assert_eq!(status().await, before, "an import in the Americas moved Europe's data status");
    let result = import(&server, "sold_on,model,country,units\n2024-07-15,X5,DE,1\n").await;
    assert_eq!(result["landed"], json!(true), "{result}");
    server.context.refresh().await.expect("refresh");
    let after = status().await;
    assert_ne!(after["version"], before["version"], "{after}");
    assert_eq!(after["lastSaleDay"], "2024-07-15", "{after}");
}

/// Money in an answer's data: a figure after a dollar sign or in a phrase that only money
/// explains, in any text; or a money field that carries a value.
fn money_in(value: &Value, path: &str, hits: &mut Vec<String>) {
    const MONEY_FIELDS: [&str; 5] = ["revenue", "averagePrice", "unitPrice", "basePrice", "revenueSum"];
    const MONEY_PHRASES: [&str; 5] =
        ["revenue share", "average price", "× the market's $", "price $", "share of revenue"];
    match value {
        Value::String(text) => {
            let lower = text.to_lowercase();
            let dollar_figure =
                text.match_indices('$').any(|(i, _)| text[i + 1..].starts_with(|c: char| c.is_ascii_digit()));
            if dollar_figure || MONEY_PHRASES.iter().any(|phrase| lower.contains(phrase)) {
                hits.push(format!("{path}: {text}"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                money_in(item, &format!("{path}[{i}]"), hits);
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                if MONEY_FIELDS.contains(&key.as_str()) && !field.is_null() {
                    hits.push(format!("{path}.{key} = {field}"));
                }
                money_in(field, &format!("{path}.{key}"), hits);
            }
        }
        _ => {}
    }
}

/// The GraphQL documents of the dashboard's script (those written out whole).
fn dashboard_queries() -> Vec<String> {
    let script = include_str!("../../assets/dashboard/dashboard.js");
    script
        .split('`')
        .filter(|part| part.trim_start().starts_with("query ") && !part.contains("${"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_shows_an_analyst_money_in_fields_or_in_text() {
    let server = TestServer::start(super::seeded_server_db(3_000).await).await;
    let analyst = server.token(Role::Analyst, &[]);
    let executive = server.token(Role::Executive, &[]);
    let mut documents: Vec<(String, Value)> = Vec::new();
    let variables = json!({
        "filter": { "countries": ["DE"] }, "previous": { "countries": ["DE"] }, "all": {},
        "hasPrevious": true, "money": false, "price": false, "limit": 10, "horizon": 3, "country": "DE",
        "first": 20, "question": "which models deserve marketing in Germany", "asOf": "2024-06-30",
        "csv": "sold_on,model,country,units\n"
    });
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/queries");
    for entry in std::fs::read_dir(&examples).expect("examples/queries") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "graphql") {
            documents.push((std::fs::read_to_string(&path).expect("read example"), variables.clone()));
        }
    }
    for query in dashboard_queries() {
        documents.push((query, variables.clone()));
    }
    for extra in [
        "{ marketingPriorities(filter: {countries: [\"DE\"]}) { reasons explanations { kind value comparedWith text } } }",
        "{ segments { segments { label centroid { averagePrice unitsPerYear } } } }",
        "{ segments(filter: {countries: [\"US\"]}) { segments { label } } }",
    ] {
        documents.push((extra.to_string(), json!({})));
    }
    let corpus = include_str!("../ask/corpus.txt");
    let ask = "query($q: String!, $asOf: Date) { ask(question: $q, asOf: $asOf) { notes columns rows } }";
    let mut as_of = "2024-06-30".to_string();
    for line in corpus.lines().map(str::trim) {
        if let Some(date) = line.strip_prefix("@asOf") {
            as_of = date.trim().to_string();
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let question = line.split("||").next().unwrap_or_default().trim();
        documents.push((ask.to_string(), json!({ "q": question, "asOf": as_of })));
    }
    assert!(documents.len() > 190, "{} documents", documents.len());

    let mut hits = Vec::new();
    let mut executive_saw_money = false;
    for (document, variables) in &documents {
        let (_, _, body) = server.post(Some(&analyst), document, variables.clone()).await;
        money_in(&body["data"], &document.chars().take(60).collect::<String>(), &mut hits);
        if !executive_saw_money && document.contains("marketingPriorities") {
            let (_, _, body) = server.post(Some(&executive), document, variables.clone()).await;
            let mut executive_hits = Vec::new();
            money_in(&body["data"], "", &mut executive_hits);
            executive_saw_money = !executive_hits.is_empty();
        }
    }
    assert!(hits.is_empty(), "an analyst saw money:\n{}", hits.join("\n"));
    assert!(executive_saw_money, "the scan finds money where it is allowed (else it proves nothing)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_lose_their_connection_at_the_header_and_body_deadlines() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = TestServer::start_with(TestDb::new().await, |s| {
        s.header_read_timeout = std::time::Duration::from_millis(800);
        s.body_read_timeout = std::time::Duration::from_millis(800);
    })
    .await;
    let address = server.base.trim_start_matches("http://").to_string();

    // Headers trickled one byte at a time: cut off near the deadline, not when they end.
    let mut slow_headers = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let started = std::time::Instant::now();
    let request = b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
    let mut cut_off = false;
    for byte in request.iter().cycle().take(400) {
        if slow_headers.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut buffer = [0u8; 256];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(1), slow_headers.read(&mut buffer)).await
        {
            cut_off = true;
            break;
        }
        if started.elapsed() > std::time::Duration::from_secs(5) {
            break;
        }
    }
    assert!(cut_off, "a client trickling headers kept its connection for {:?}", started.elapsed());
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "cut off after {:?}", started.elapsed());

    // Headers whole, the body never sent: 408 at the body deadline.
    let mut slow_body = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let token = server.admin_token();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n{{\"query\":"
    );
    slow_body.write_all(head.as_bytes()).await.expect("write");
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), slow_body.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("SALESGRAPH_BODY_READ_TIMEOUT"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "answered after {:?}", started.elapsed());
    still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_ready_only_once_its_background_passes_have_run() {
    let server =
        TestServer::start_with(super::seeded_server_db(300).await, |s| s.warm_forecasts = true).await;
    server.wait_until_ready().await;
    // Whatever the order the passes finish in, readiness waits for each of them.
    for (gauge, pass) in [
        (&server.context.metrics.day_groups_ready, "day groups"),
        (&server.context.metrics.recent_rows_ready, "recent rows"),
        (&server.context.metrics.backtests_ready, "forecasts"),
    ] {
        let finished = gauge.get();
        gauge.set(0);
        let (status, body) = server.get_text("/readyz").await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("warming up") && body.contains(pass), "{body}");
        gauge.set(finished);
        assert_eq!(server.get_text("/readyz").await.0, 200);
    }

    let eager = TestServer::start_with(super::seeded_server_db(300).await, |s| {
        s.warm_forecasts = true;
        s.ready_after_warmup = false;
    })
    .await;
    eager.context.metrics.backtests_ready.set(0);
    assert_eq!(
        eager.get_text("/readyz").await.0,
        200,
        "SALESGRAPH_READY_AFTER_WARMUP=off keeps the old rule"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_import_can_push_a_total_past_a_graphql_int() {
    let server = TestServer::start(TestDb::new().await).await;
    let rows: String = (0..2_200).map(|i| format!("2024-01-{:02},X5,DE,1000000\n", i % 28 + 1)).collect();
    let checksum = server.db.checksum().await;
    let (_, _, body) = server
        .post(
            Some(&server.admin_token()),
            IMPORT,
            json!({ "csv": format!("sold_on,model,country,units\n{rows}") }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("2147483647"), "{body}");
    assert_eq!(server.db.checksum().await, checksum, "a refused import changed the database");
    // Just under the line lands, and its total is a valid Int.
    let rows: String = (0..2_000).map(|i| format!("2024-01-{:02},X5,DE,1000000\n", i % 28 + 1)).collect();
    let result = import(&server, &format!("sold_on,model,country,units\n{rows}")).await;
    assert_eq!(result["landed"], json!(true), "{result}");
    let total = server.data("{ salesSummary(groupBy: []) { units } }", json!({})).await;
    assert_eq!(total["salesSummary"][0]["units"], json!(2_000_000_000i64));
}

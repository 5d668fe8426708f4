use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use salesgraph::auth::Role;
use serde_json::json;

use super::common::{TEST_SECRET, TestDb, TestServer};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

fn signed(secret: &str, claims: serde_json::Value) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes()))
        .expect("token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_get_401_and_no_data() {
    let server = TestServer::start(TestDb::new().await).await;
    let query = "{ models { name } me { role } }";
    let expired = signed(TEST_SECRET, json!({ "sub": "x", "role": "admin", "exp": now() - 3600 }));
    let wrong_secret = signed("another-secret", json!({ "sub": "x", "role": "admin", "exp": now() + 3600 }));
    let unknown_role = signed(TEST_SECRET, json!({ "sub": "x", "role": "janitor", "exp": now() + 3600 }));
    let no_expiry = signed(TEST_SECRET, json!({ "sub": "x", "role": "admin" }));
    for (name, token) in [
        ("missing", None),
        ("malformed", Some("not-a-jwt")),
        ("wrongly signed", Some(wrong_secret.as_str())),
        ("expired", Some(expired.as_str())),
        ("unknown role", Some(unknown_role.as_str())),
        ("without exp", Some(no_expiry.as_str())),
    ] {
        let (status, _, body) = server.post(token, query, json!({})).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{name}: {body}");
        assert!(body.get("data").is_none(), "{name}: data leaked: {body}");
    }
    let manager = server.token(Role::Manager, &["Europe", "Asia"]);
    let (status, _, body) = server.post(Some(&manager), "{ me { subject role regions } }", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["me"],
        json!({ "subject": "tester", "role": "manager", "regions": ["Asia", "Europe"] })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_command_mints_what_the_server_accepts() {
    let server = TestServer::start(TestDb::new().await).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"))
        .args(["token", "--role", "analyst", "--sub", "ana", "--ttl", "5m"])
        .env("SALESGRAPH_JWT_SECRET", TEST_SECRET)
        .output()
        .expect("run salesgraph token");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).expect("utf-8").trim().to_string();
    let (status, _, body) = server.post(Some(&token), "{ me { subject role } }", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"], json!({ "subject": "ana", "role": "analyst" }));

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"))
        .args(["token", "--role", "overlord"])
        .env("SALESGRAPH_JWT_SECRET", TEST_SECRET)
        .output()
        .expect("run salesgraph token");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("overlord"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_import_and_what_lands_is_all_or_nothing() {
    let server = TestServer::start(TestDb::new().await).await;
    let mutation = "mutation($csv: String!, $skip: Boolean) {
        importSales(csv: $csv, options: { skipInvalid: $skip }) { landed rowsRead rowsLanded rowsRejected errors { line reason } }
    }";
    let csv = "sold_on,model,country,units,unit_price_usd\n2024-01-05,X5,DE,2,70000\n2024-01-06,X5,Atlantis,1,70000\n";
    let analyst = server.token(Role::Analyst, &[]);
    let (_, _, body) = server.post(Some(&analyst), mutation, json!({ "csv": csv })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");

    let data = server.data(mutation, json!({ "csv": csv })).await;
    assert_eq!(data["importSales"]["landed"], json!(false));
    assert_eq!(data["importSales"]["errors"][0]["line"], json!(3));
    assert_eq!(server.db.scalar_i64("SELECT COUNT(*) FROM sale").await, 0);

    let data = server.data(mutation, json!({ "csv": csv, "skip": true })).await;
    assert_eq!(data["importSales"]["rowsLanded"], json!(1));
    let totals = server.data("{ salesSummary(groupBy: []) { units revenue } }", json!({})).await;
    assert_eq!(totals["salesSummary"][0], json!({ "units": 2, "revenue": 140000.0 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_answer_without_a_token() {
    let server = super::seeded_server(300).await;
    assert_eq!(server.get_text("/healthz").await, (200, "ok".to_string()));
    server.wait_until_ready().await;
    let (status, body) = server.get_text("/readyz").await;
    assert_eq!(status, 200, "{body}");
    server.data("{ models { name } }", json!({})).await;
    let (status, metrics) = server.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("salesgraph_http_requests_total"), "{metrics}");
    assert!(metrics.contains("salesgraph_db_pool_connections"), "{metrics}");
}

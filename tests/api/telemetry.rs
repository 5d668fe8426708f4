//! Every HTTP request runs in a span with a request id, returned as `x-request-id` and logged
//! with the request's audit line.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;

use super::common::{TestDb, TestServer};

/// Everything this test binary logs from the moment a test first asks for it.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(logs.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("audit=info")
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in the API tests");
        logs
    })
    .clone()
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn id_of(response: &reqwest::Response) -> String {
    response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_has_an_id_that_the_response_returns_and_the_audit_line_carries() {
    let logs = captured_logs();
    let server = TestServer::start(TestDb::new().await).await;
    let query = json!({ "query": "{ me { role } }" });
    let ask = |id: Option<&str>, token: Option<String>| {
        let mut request = server.request(reqwest::Method::POST, "/graphql").json(&query);
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let first = ask(None, Some(server.admin_token())).await.expect("request");
    let second = ask(None, Some(server.admin_token())).await.expect("request");
    let (first, second) = (id_of(&first), id_of(&second));
    assert_eq!(first.len(), 32, "{first}");
    assert_ne!(first, second, "ids are per request");

    // A gateway's own id is kept; one that could garble a log line is replaced.
    let kept = ask(Some("gateway-42.a_b"), Some(server.admin_token())).await.expect("request");
    assert_eq!(id_of(&kept), "gateway-42.a_b");
    let replaced = ask(Some("x\" outcome=ok"), Some(server.admin_token())).await.expect("request");
    assert_eq!(id_of(&replaced).len(), 32);

    // Refusals carry it too, and so do other paths.
    let refused = ask(None, None).await.expect("request");
    assert_eq!(refused.status(), 401);
    let refused_id = id_of(&refused);
    let health = server.request(reqwest::Method::GET, "/healthz").send().await.expect("health");
    assert_eq!(id_of(&health).len(), 32);

    let logs = String::from_utf8_lossy(&logs.lock().unwrap_or_else(|e| e.into_inner())).to_string();
    for id in [&first, &second, "gateway-42.a_b", &refused_id] {
        let line = logs
            .lines()
            .find(|line| line.contains(&format!("request_id={id}")))
            .unwrap_or_else(|| panic!("no log line with request id {id} in:\n{logs}"));
        assert!(line.contains("graphql request"), "{line}");
    }
}

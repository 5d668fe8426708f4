//! SIGTERM under load: the real binary finishes the requests it is answering, refuses new
//! ones, and exits 0.

mod common;

use std::time::{Duration, Instant};

use common::{ServerProcess, TestDb, date};
use salesgraph::store::seed::SeedOptions;

const SECRET: &str = "shutdown-test-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_zero() {
    let db = TestDb::new().await;
    db.seed(&SeedOptions {
        rows: 6_000,
        seed: 3,
        from: date(2019, 1, 1),
        until: date(2023, 12, 31),
        seasonal: true,
    })
    .await;
    let server = ServerProcess::start(
        &db,
        SECRET,
        // Every request computes: slow enough to be in flight when the signal comes.
        &[("SALESGRAPH_CACHE", "off"), ("SALESGRAPH_RATE_LIMIT", "0")],
    )
    .await;
    let base = server.base().to_string();
    let mut child = server.child;
    let viewer = salesgraph::auth::Viewer::new("load", salesgraph::auth::Role::Admin, Vec::new());
    let token = salesgraph::auth::TokenKeys::hs256(SECRET.as_bytes())
        .issue(&viewer, Duration::from_secs(600))
        .expect("token");
    let client = reqwest::Client::new();
    let request = |country: &str| {
        let body = serde_json::json!({
            "query": format!("{{ forecast(filter: {{countries: [\"{country}\"]}}, limit: 30, horizonMonths: 3) {{ backtest {{ smape }} }} }}")
        });
        client.post(format!("{base}/graphql")).bearer_auth(&token).json(&body).send()
    };
    // Requests in flight...
    let in_flight: Vec<_> = ["DE", "US", "CN", "GB", "FR", "JP"]
        .into_iter()
        .map(|country| {
            let request = request(country);
            tokio::spawn(async move {
                let response = request.await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await?;
                Ok::<_, reqwest::Error>((status, body, Instant::now()))
            })
        })
        .collect();
    // ...when SIGTERM arrives (each takes a few hundred milliseconds in a debug build).
    tokio::time::sleep(Duration::from_millis(60)).await;
    let pid = child.id().expect("pid").to_string();
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(kill.success());

    let mut finished_after_signal = 0;
    for handle in in_flight {
        let (status, body, at) = handle.await.expect("task").expect("an in-flight request completes");
        assert_eq!(status, 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");
        if at > signalled {
            finished_after_signal += 1;
        }
    }
    assert!(finished_after_signal > 0, "no request was still in flight at the signal: make them slower");

    // New requests are refused once the server has stopped accepting.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A fresh client: no kept-alive connection from the requests above.
    let refused =
        reqwest::Client::new().get(format!("{base}/healthz")).timeout(Duration::from_secs(2)).send().await;
    assert!(refused.is_err(), "a new request was answered after SIGTERM: {refused:?}");

    let status =
        tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exits").expect("status");
    assert!(status.success(), "exit status {status}");
}

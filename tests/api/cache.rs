use std::time::{Duration, Instant};

use serde_json::json;

use super::seeded_server;

const TOP: &str = "{ topModels(filter: { countries: [\"DE\"] }, limit: 3) { model { name } units } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_are_served_from_the_cache_until_an_import_lands() {
    let server = seeded_server(1_500).await;
    let token = server.admin_token();
    let (_, first_cache, first) = server.post(Some(&token), TOP, json!({})).await;
    let (_, second_cache, second) = server.post(Some(&token), TOP, json!({})).await;
    assert_eq!(first_cache.as_deref(), Some("miss"));
    assert_eq!(second_cache.as_deref(), Some("hit"));
    assert_eq!(first, second, "a cached answer must equal the computed one");
    assert!(server.metric("salesgraph_cache_hits_total").await >= 1.0);

    // A command-line import into the same database, from another process.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("more.csv");
    std::fs::write(&file, "sold_on,model,country,units\n2024-06-30,Z4,DE,100000\n").expect("csv");
    let out = server.db.cli(&["import", file.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let started = Instant::now();
    loop {
        let (_, cache, body) = server.post(Some(&token), TOP, json!({})).await;
        if body["data"]["topModels"][0]["model"]["name"] == "Z4" {
            assert_eq!(cache.as_deref(), Some("miss"));
            assert!(body["data"]["topModels"][0]["units"].as_i64().expect("units") >= 100_000, "{body}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the import was not visible within 5 s: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_the_same_with_the_cache_off() {
    let server = seeded_server(800).await;
    let db = server.db.share().await;
    let uncached = super::common::TestServer::start_with(db, |s| s.cache = false).await;
    let query = "{ salesSummary(groupBy: [MODEL, FUEL_TYPE], filter: { from: \"2023-04-10\", to: \"2024-01-20\" }) { model { name } fuelType units revenue } }";
    let (_, _, warm) = server.post(Some(&server.admin_token()), query, json!({})).await;
    let (_, cached, warm_again) = server.post(Some(&server.admin_token()), query, json!({})).await;
    let (_, off, cold) = uncached.post(Some(&uncached.admin_token()), query, json!({})).await;
    let (_, off_again, _) = uncached.post(Some(&uncached.admin_token()), query, json!({})).await;
    assert_eq!(cached.as_deref(), Some("hit"));
    assert_eq!(off.as_deref(), Some("miss"));
    assert_eq!(off_again.as_deref(), Some("miss"), "SALESGRAPH_CACHE=off must not cache");
    assert_eq!(warm, cold);
    assert_eq!(warm, warm_again);
}

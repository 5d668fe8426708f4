//! Losing PostgreSQL under load, through a TCP proxy this test cuts and restores (never the
//! machine's shared server): requests fail with a clear error and `/readyz` says not ready
//! while it is gone; everything recovers within 5 s of its return, without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::DbBackend;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::common::TestServer;

/// Forwards connections to PostgreSQL until cut; while cut, drops every new connection.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accept_cut, accept_links) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if accept_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accept_links.lock().expect("links").push(link);
            }
        });
        Self { port, cut, links }
    }

    /// The database is gone: open connections die, new ones are dropped.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// The `host:port` of a `postgres://user@host:port/db` URL, and the URL pointed at `port` on
/// this machine instead.
fn split_host(url: &str, port: u16) -> (String, String) {
    let (scheme_user, rest) = url.split_once('@').expect("a user@host URL");
    let (host_port, path) = rest.split_once('/').expect("a database name");
    (host_port.to_string(), format!("{scheme_user}@127.0.0.1:{port}/{path}"))
}

/// What one request of the load saw, and when.
struct Outcome {
    phase: u8,
    at: Instant,
    took: Duration,
    ok: bool,
    body: serde_json::Value,
}

const BEFORE: u8 = 0;
const CUT: u8 = 1;
const RESTORED: u8 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_postgres_under_load_fails_clearly_and_recovers_without_a_restart() {
    let db = super::seeded_server_db(300).await;
    if db.backend() != DbBackend::Postgres {
        println!("skipped: the outage test needs DATABASE_URL=postgres://… (it cuts a proxy to PostgreSQL)");
        return;
    }
    let mut proxied = db.share().await;
    let (upstream, _) = split_host(&proxied.url, 0);
    let proxy = Proxy::start(upstream).await;
    proxied.url = split_host(&proxied.url, proxy.port).1;
    // Polling every ten minutes: after the outage only a resumed LISTEN brings news in time.
    // Pages read the table: cut from the rows in memory they would not need PostgreSQL at all.
    let server = Arc::new(
        TestServer::start_with(proxied, |s| {
            s.cache = false;
            s.rate_limit = 0;
            s.refresh_interval = Duration::from_secs(600);
            s.recent_rows_mib = 0;
        })
        .await,
    );
    let rows = "{ sales(first: 3) { totalCount edges { node { id } } } }";
    let ready = || async { server.get_text("/readyz").await.0 };
    server.wait_until_ready().await;
    assert_eq!(ready().await, 200);
    let count = |data: &serde_json::Value| data["sales"]["totalCount"].as_i64().unwrap_or(0);
    let total = count(&server.data(rows, json!({})).await);
    let dir = tempfile::tempdir().expect("temp dir");
    let import = |name: &str, day: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, format!("sold_on,model,country,units\n{day},X5,DE,9\n")).expect("write csv");
        // Straight to PostgreSQL, not through the proxy: another process that still reaches it.
        let out = db.cli(&["import", &file.display().to_string()]);
        assert!(out.status.success(), "{}", super::common::stderr(&out));
    };

    // The load: six clients asking for a page over and over, through the whole outage.
    let phase = Arc::new(std::sync::atomic::AtomicU8::new(BEFORE));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..6 {
        let (server, phase, stop) = (server.clone(), phase.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let token = server.admin_token();
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let asked_in = phase.load(Ordering::SeqCst);
                let started = Instant::now();
                let (status, _, body) = server.post(Some(&token), rows, json!({})).await;
                let ok = status == 200 && body["errors"].is_null();
                seen.push(Outcome { phase: asked_in, at: Instant::now(), took: started.elapsed(), ok, body });
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    proxy.cut();
    let cut_at = Instant::now();
    phase.store(CUT, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Data lands while this server cannot hear of it: its notification is lost to it.
    import("during.csv", "2024-02-03");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ready().await, 503, "readiness while PostgreSQL is gone");

    proxy.restore();
    let back = Instant::now();
    phase.store(RESTORED, Ordering::SeqCst);
    loop {
        if ready().await == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(5), "readiness not back 5 s after PostgreSQL returned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The notification sent during the outage was lost; the resumed LISTEN session catches up.
    while count(&server.data(rows, json!({})).await) != total + 1 {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the import made during the outage had not arrived 5 s after PostgreSQL returned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caught_up = back.elapsed();
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(caught_up)).await;
    stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for client in clients {
        outcomes.extend(client.await.expect("a client"));
    }

    // Answered before the cut: all fine. Anything in flight at the cut or later may fail, but
    // only with the clear error.
    let before: Vec<&Outcome> = outcomes.iter().filter(|o| o.phase == BEFORE && o.at < cut_at).collect();
    assert!(!before.is_empty(), "no request answered before the outage");
    if let Some(failed) = before.iter().find(|o| !o.ok) {
        panic!("a request failed before the outage: {}", failed.body);
    }
    let during: Vec<&Outcome> = outcomes.iter().filter(|o| o.phase == CUT).collect();
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    assert!(during.iter().any(|o| !o.ok), "no request failed while PostgreSQL was gone");
    for failure in &failures {
        let error = &failure.body["errors"][0];
        assert_eq!(error["extensions"]["code"], "INTERNAL", "{}", failure.body);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains("database is unreachable"), "an unclear failure: {}", failure.body);
    }
    let slowest = during.iter().map(|o| o.took).max().unwrap_or_default();
    assert!(slowest < Duration::from_secs(8), "a request hung for {slowest:?} while PostgreSQL was gone");
    let last_failure = outcomes.iter().filter(|o| !o.ok).map(|o| o.at).max().expect("failures");
    let recovered = last_failure.saturating_duration_since(back);
    let first_answer = outcomes.iter().filter(|o| o.ok && o.at > back).map(|o| o.at - back).min();
    assert!(
        recovered < Duration::from_secs(5),
        "requests still failed {recovered:?} after PostgreSQL returned"
    );
    let after = outcomes.iter().filter(|o| o.phase == RESTORED && o.at > last_failure).count();
    assert!(after >= 12, "only {after} requests succeeded after the recovery");
    println!(
        "{} requests: {} before, {} during the outage ({} failed clearly, slowest {slowest:?}), \
         last failure {recovered:?} and first answer {first_answer:?} after PostgreSQL returned",
        outcomes.len(),
        before.len(),
        during.len(),
        failures.len()
    );

    // And later imports by another process arrive through it as before.
    import("after.csv", "2024-02-04");
    let landed = Instant::now();
    while count(&server.data(rows, json!({})).await) != total + 2 {
        assert!(
            landed.elapsed() < Duration::from_secs(3),
            "the import did not reach the server: LISTEN did not resume"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "the import made during the outage arrived {caught_up:?} after PostgreSQL returned, one after it in {:?}",
        landed.elapsed()
    );
}

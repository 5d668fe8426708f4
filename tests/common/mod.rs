//! Test support: a fresh database per test (a SQLite file, or a new PostgreSQL database when
//! `DATABASE_URL` names a server), the command-line binary, and checksums of stored data.
#![allow(dead_code)]

pub mod ask_spec;

use std::process::{Command, Output};

use salesgraph::store::seed::{self, SeedOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sha2::{Digest, Sha256};

pub struct TestDb {
    pub url: String,
    pub db: DatabaseConnection,
    _dir: Option<tempfile::TempDir>,
    pg_cleanup: Option<(String, String)>,
}

fn unique_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(
        "sg_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The server URL tests use for PostgreSQL, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDb {
    /// An empty, migrated database of the backend this test run targets.
    pub async fn new() -> Self {
        match postgres_url() {
            Some(server) => {
                let name = unique_name();
                let admin = sea_orm::Database::connect(server.as_str()).await.expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                drop(admin);
                let url = with_database(&server, &name);
                let db = salesgraph::db::connect_and_migrate(&url).await.expect("migrate");
                Self { url, db, _dir: None, pg_cleanup: Some((server, name)) }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let db = salesgraph::db::connect_and_migrate(&url).await.expect("migrate");
                Self { url, db, _dir: Some(dir), pg_cleanup: None }
            }
        }
    }

    /// Another handle on the same database (for a second server); the first keeps ownership.
    pub async fn share(&self) -> TestDb {
        let db = salesgraph::db::connect_and_migrate(&self.url).await.expect("connect");
        TestDb { url: self.url.clone(), db, _dir: None, pg_cleanup: None }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Runs the `salesgraph` binary against this database.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_salesgraph"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run salesgraph")
    }

    pub async fn seed(&self, options: &SeedOptions) {
        seed::run(&self.db, options, false).await.expect("seed");
    }

    /// Rows of a query, each as text fields joined by '|'.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        let rows = self.db.query_all_raw(Statement::from_string(self.backend(), sql)).await.expect(sql);
        rows.iter().map(row_text).collect()
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.backend(), sql))
            .await
            .expect(sql)
            .expect("a row");
        row.try_get_by_index::<Option<i64>>(0).expect("an integer").unwrap_or(0)
    }

    /// A checksum of every table's content, in a fixed order.
    pub async fn checksum(&self) -> String {
        let mut hasher = Sha256::new();
        for sql in [
            "SELECT id, name, body_type, base_price, fuels, launch_year, end_year FROM car_model ORDER BY id",
            "SELECT code, name, region FROM country ORDER BY code",
            "SELECT id, sold_on, model_id, country_code, units, unit_price, revenue, fuel_type, transmission, color, date_precision FROM sale ORDER BY id",
            "SELECT month, model_id, country_code, fuel_type, transmission, units, revenue, priced_units, row_count, coarse_rows FROM monthly_rollup ORDER BY month, model_id, country_code, fuel_type, transmission",
            "SELECT model_id, country_code, on_hand, as_of FROM inventory ORDER BY model_id, country_code",
            "SELECT version FROM data_version",
        ] {
            for row in self.rows(sql).await {
                hasher.update(row.as_bytes());
                hasher.update(b"\n");
            }
        }
        hex::encode(hasher.finalize())
    }

    /// Checks that the rollup equals a GROUP BY over the raw rows.
    pub async fn assert_rollup_matches_sales(&self) {
        let month = match self.backend() {
            DbBackend::Postgres => "to_char(sold_on, 'YYYY-MM')",
            _ => "substr(sold_on, 1, 7)",
        };
        let rollup_month = match self.backend() {
            DbBackend::Postgres => "to_char(month, 'YYYY-MM')",
            _ => "substr(month, 1, 7)",
        };
        let from_sales = self
            .rows(&format!(
                "SELECT {month} AS m, model_id, country_code, fuel_type, transmission, SUM(units), \
                 CAST(COALESCE(SUM(revenue), 0) AS DOUBLE PRECISION), \
                 SUM(CASE WHEN revenue IS NULL THEN 0 ELSE units END), COUNT(*) \
                 FROM sale GROUP BY {month}, model_id, country_code, fuel_type, transmission \
                 ORDER BY 1, 2, 3, 4, 5"
            ))
            .await;
        let from_rollup = self
            .rows(&format!(
                "SELECT {rollup_month} AS m, model_id, country_code, fuel_type, transmission, units, \
                 CAST(revenue AS DOUBLE PRECISION), priced_units, row_count \
                 FROM monthly_rollup ORDER BY 1, 2, 3, 4, 5"
            ))
            .await;
        assert!(!from_sales.is_empty(), "no sales to compare");
        assert_eq!(from_sales.len(), from_rollup.len(), "rollup groups differ from the sales' groups");
        for (a, b) in from_sales.iter().zip(&from_rollup) {
            let (a, b): (Vec<&str>, Vec<&str>) = (a.split('|').collect(), b.split('|').collect());
            // Revenue (column 6) is a float sum whose last bits depend on the order of addition.
            let (ra, rb): (f64, f64) = (a[6].parse().expect("revenue"), b[6].parse().expect("revenue"));
            assert!((ra - rb).abs() <= 1e-6 * ra.abs().max(1.0), "revenue differs: {a:?} vs {b:?}");
            assert_eq!(
                (&a[..6], &a[7..]),
                (&b[..6], &b[7..]),
                "rollup group differs from the sales' GROUP BY"
            );
        }
        // Rows dated only by quarter or year have their own rollup too, by precision.
        let day = match self.backend() {
            DbBackend::Postgres => "to_char(sold_on, 'YYYY-MM-DD')",
            _ => "sold_on",
        };
        let coarse_from_sales = self
            .rows(&format!(
                "SELECT {day}, model_id, country_code, fuel_type, transmission, date_precision, SUM(units), \
                 SUM(CASE WHEN revenue IS NULL THEN 0 ELSE units END), COUNT(*) \
                 FROM sale WHERE date_precision IN ('QUARTER', 'YEAR') \
                 GROUP BY {day}, model_id, country_code, fuel_type, transmission, date_precision \
                 ORDER BY 1, 2, 3, 4, 5, 6"
            ))
            .await;
        let coarse_month = match self.backend() {
            DbBackend::Postgres => "to_char(month, 'YYYY-MM-DD')",
            _ => "month",
        };
        let coarse_rollup = self
            .rows(&format!(
                "SELECT {coarse_month}, model_id, country_code, fuel_type, transmission, date_precision, units, \
                 priced_units, row_count FROM coarse_dated_rollup ORDER BY 1, 2, 3, 4, 5, 6"
            ))
            .await;
        assert_eq!(
            coarse_from_sales, coarse_rollup,
            "the coarse-dated rollup differs from the sales' GROUP BY"
        );
    }
}

fn row_text(row: &sea_orm::QueryResult) -> String {
    let mut fields = Vec::new();
    for i in 0.. {
        let text = if let Ok(v) = row.try_get_by_index::<Option<i64>>(i) {
            v.map_or("NULL".into(), |v| v.to_string())
        } else if let Ok(v) = row.try_get_by_index::<Option<i32>>(i) {
            v.map_or("NULL".into(), |v| v.to_string())
        } else if let Ok(v) = row.try_get_by_index::<Option<f64>>(i) {
            v.map_or("NULL".into(), |v| format!("{v:.4}"))
        } else if let Ok(v) = row.try_get_by_index::<Option<String>>(i) {
            v.unwrap_or_else(|| "NULL".into())
        } else if let Ok(v) = row.try_get_by_index::<Option<chrono::NaiveDate>>(i) {
            v.map_or("NULL".into(), |v| v.to_string())
        } else if let Ok(v) = row.try_get_by_index::<Option<chrono::NaiveDateTime>>(i) {
            v.map_or("NULL".into(), |v| v.to_string())
        } else {
            break;
        };
        fields.push(text);
    }
    fields.join("|")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg_cleanup.take() {
            // Dropping needs async I/O; run it on a runtime of its own so any test runtime may drop
            // us. FORCE ends the pool's connections, which belong to the test's runtime.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                runtime.block_on(async move {
                    if let Ok(admin) = sea_orm::Database::connect(server.as_str()).await {
                        let _ = admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// One sale of model 1 (from the catalogue) in Germany on `day`, unpriced: for tests that
/// drive the ingest directly.
pub fn plain_sale(day: chrono::NaiveDate) -> salesgraph::store::ingest::NewSale {
    use salesgraph::domain::{DatePrecision, FuelType, Transmission};
    salesgraph::store::ingest::NewSale {
        sold_on: day,
        model_id: 1,
        country_code: "DE".into(),
        units: 1,
        unit_price: None,
        fuel_type: FuelType::Petrol,
        transmission: Transmission::Automatic,
        color: None,
        date_precision: DatePrecision::Day,
    }
}

/// A small data set that still carries every planted pattern.
pub fn small_seed(rows: u64, seed: u64) -> SeedOptions {
    SeedOptions { rows, seed, from: date(2015, 1, 1), until: date(2024, 12, 31), seasonal: true }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A real server on an ephemeral port over a test database.
pub struct TestServer {
    pub base: String,
    /// The SQL endpoint's address, when the test turned it on.
    pub sql: Option<std::net::SocketAddr>,
    pub db: TestDb,
    pub context: std::sync::Arc<salesgraph::app::AppContext>,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub const TEST_SECRET: &str = "test-secret-for-salesgraph";

impl TestServer {
    pub async fn start(db: TestDb) -> Self {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: TestDb, tweak: impl FnOnce(&mut salesgraph::config::ServeSettings)) -> Self {
        let mut settings = salesgraph::config::ServeSettings {
            listen: "127.0.0.1:0".parse().expect("address"),
            jwt_secret: Some(TEST_SECRET.into()),
            no_seed: true,
            refresh_interval: std::time::Duration::from_millis(200),
            // Backtests computed ahead would compete with the tests for two cores; the one test
            // of them turns them on.
            warm_forecasts: false,
            ..Default::default()
        };
        tweak(&mut settings);
        let application =
            salesgraph::startup::Application::build(&db.url, settings).await.expect("server builds");
        let address = application.local_addr().expect("bound");
        let sql = application.sql_local_addr();
        let context = application.context();
        let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(application.run_until_stopped(async move {
            let _ = receiver.await;
        }));
        Self {
            base: format!("http://{address}"),
            sql,
            db,
            context,
            client: reqwest::Client::new(),
            shutdown: Some(sender),
        }
    }

    pub fn token(&self, role: salesgraph::auth::Role, regions: &[&str]) -> String {
        let viewer =
            salesgraph::auth::Viewer::new("tester", role, regions.iter().map(|r| r.to_string()).collect());
        salesgraph::auth::TokenKeys::hs256(TEST_SECRET.as_bytes())
            .issue(&viewer, std::time::Duration::from_secs(600))
            .expect("token")
    }

    /// A request to `path` on the server, for tests that need headers or methods of their own.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub fn admin_token(&self) -> String {
        self.token(salesgraph::auth::Role::Admin, &[])
    }

    /// POSTs a GraphQL request with an optional bearer token; returns status, x-cache and body.
    pub async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> (u16, Option<String>, serde_json::Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let cache = response.headers().get("x-cache").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, cache, body)
    }

    /// Runs a query as admin and returns `data`, failing on any error.
    pub async fn data(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        let (status, _, body) = self.post(Some(&self.admin_token()), query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// GETs `path` and reads its JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.request(reqwest::Method::GET, path).send().await.expect("request");
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().await.expect("a JSON body")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }

    /// A counter or gauge from /metrics (summed over its labels).
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get_text("/metrics").await;
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Waits (up to 20 s) until `/readyz` answers 200 (the background passes have run once).
    pub async fn wait_until_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (status, body) = self.get_text("/readyz").await;
            if status == 200 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "not ready within 20 s: {body}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 20 s) until the gauge `ready_version` reaches the data version served: the
    /// background pass it reports on has finished for the current data.
    pub async fn wait_for_background_pass(&self, ready_version: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let version = self.metric("salesgraph_data_version").await;
            if version > 0.0 && self.metric(ready_version).await == version {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{ready_version} did not reach {version} within 20 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// A query-string component with everything but unreserved characters percent-encoded.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The real `salesgraph serve` binary over a test database, on an ephemeral port.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    /// The GraphQL endpoint's URL, as the server printed it.
    pub graphql_url: String,
}

impl ServerProcess {
    /// Starts the binary with `secret` as its JWT secret, warm-ups off, logs at `warn`, and
    /// `env` on top; returns once it says where it serves.
    pub async fn start(db: &TestDb, secret: &str, env: &[(&str, &str)]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"));
        command
            .arg("serve")
            .arg("--no-seed")
            .env("DATABASE_URL", &db.url)
            .env("SALESGRAPH_LISTEN", "127.0.0.1:0")
            .env("SALESGRAPH_SQL_LISTEN", "off")
            .env("SALESGRAPH_JWT_SECRET", secret)
            .env("SALESGRAPH_WARM_FORECASTS", "off")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start salesgraph");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let graphql_url = loop {
            let line =
                lines.next_line().await.expect("read stdout").expect("the server says where it serves");
            if let Some(rest) = line.strip_prefix("salesgraph serving ") {
                break rest.split_whitespace().next().expect("url").to_string();
            }
        };
        Self { child, graphql_url }
    }

    /// The server's base URL (without `/graphql`).
    pub fn base(&self) -> &str {
        self.graphql_url.trim_end_matches("/graphql")
    }
}

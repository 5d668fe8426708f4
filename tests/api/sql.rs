//! The PostgreSQL-protocol SQL endpoint with real clients: psql here, psycopg, SQLAlchemy and
//! pandas (tests/clients/sql.py), and the PostgreSQL JDBC driver (tests/clients/jdbc). Sums are
//! checked against the GraphQL API's answers for the same filter and viewer.

use std::collections::BTreeMap;
use std::process::Output;

use salesgraph::auth::Role;
use salesgraph::config::ServeSettings;
use serde_json::{Value, json};

use super::clients::clients_dir;
use super::common::TestServer;

async fn sql_server(rows: u64) -> TestServer {
    sql_server_with(rows, |_| {}).await
}

async fn sql_server_with(rows: u64, tweak: impl FnOnce(&mut ServeSettings)) -> TestServer {
    let db = super::seeded_server_db(rows).await;
    TestServer::start_with(db, |settings| {
        settings.sql_listen = salesgraph::config::SqlListen(Some("127.0.0.1:0".parse().expect("address")));
        tweak(settings);
    })
    .await
}

/// Runs psql against the endpoint as `token`, unaligned and tuples only, with verbose errors
/// (so that they carry their SQLSTATE).
async fn psql(server: &TestServer, token: &str, commands: &[&str]) -> Output {
    psql_command(server, token, "sslmode=disable", commands)
        .output()
        .await
        .expect("psql runs (apt-get install postgresql-client)")
}

fn psql_command(server: &TestServer, token: &str, tls: &str, commands: &[&str]) -> tokio::process::Command {
    let address = server.sql.expect("the SQL endpoint is on");
    let mut command = tokio::process::Command::new("psql");
    command
        .arg(format!("host={} port={} user=bi dbname=salesgraph {tls}", address.ip(), address.port()))
        .args(["-X", "-A", "-t", "-v", "VERBOSITY=verbose"])
        .env("PGPASSWORD", token)
        .env("PGCONNECT_TIMEOUT", "10");
    for sql in commands {
        command.args(["-c", sql]);
    }
    command
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `country|units` lines into a map.
fn sums(output: &Output) -> BTreeMap<String, i64> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('|')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Units by country from `salesSummary` for `filter`, as `viewer` sees them.
async fn api_units_by_country(server: &TestServer, token: &str, filter: Value) -> BTreeMap<String, i64> {
    let (status, _, body) = server
        .post(
            Some(token),
            "query($f: SalesFilter) { salesSummary(filter: $f, groupBy: [COUNTRY]) { country { code } units } }",
            json!({ "f": filter }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["salesSummary"]
        .as_array()
        .unwrap_or_else(|| panic!("groups: {body}"))
        .iter()
        .map(|group| {
            (
                group["country"]["code"].as_str().expect("code").to_string(),
                group["units"].as_i64().expect("units"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_lists_the_tables_and_columns_and_a_group_by_matches_sales_summary() {
    let server = sql_server(3_000).await;
    let token = server.admin_token();

    let listed = psql(&server, &token, &["\\dt"]).await;
    assert!(listed.status.success(), "{}", text(&listed));
    let tables = String::from_utf8_lossy(&listed.stdout);
    for table in ["sales", "sales_monthly", "car_models", "countries"] {
        assert!(
            tables.lines().any(|line| line.split('|').nth(1) == Some(table)),
            "\\dt lists {table}:\n{tables}"
        );
    }

    let described = psql(&server, &token, &["\\d sales"]).await;
    assert!(described.status.success(), "{}", text(&described));
    let columns = String::from_utf8_lossy(&described.stdout);
    for (column, kind) in [
        ("id", "bigint"),
        ("sold_on", "date"),
        ("model", "text"),
        ("country", "text"),
        ("region", "text"),
        ("units", "bigint"),
        ("unit_price_usd", "double precision"),
        ("revenue", "double precision"),
    ] {
        let line = columns.lines().find(|line| line.split('|').next() == Some(column));
        let line = line.unwrap_or_else(|| panic!("\\d sales lists {column}:\n{columns}"));
        assert!(line.contains(kind), "{column} is {kind}: {line}");
    }

    let grouped = psql(
        &server,
        &token,
        &["SELECT country, SUM(units) FROM sales_monthly \
           WHERE month >= DATE '2024-01-01' AND month <= DATE '2024-06-30' GROUP BY country ORDER BY country"],
    )
    .await;
    assert!(grouped.status.success(), "{}", text(&grouped));
    let by_sql = sums(&grouped);
    let by_api =
        api_units_by_country(&server, &token, json!({ "from": "2024-01-01", "to": "2024-06-30" })).await;
    assert!(by_api.len() > 3, "{by_api:?}");
    assert_eq!(by_sql, by_api);

    // The rows themselves add up to the same: the fact table and the rollup agree.
    let from_rows = psql(
        &server,
        &token,
        &["SELECT country, SUM(units) FROM sales WHERE sold_on BETWEEN '2024-01-01' AND '2024-06-30' \
           GROUP BY country ORDER BY 1"],
    )
    .await;
    assert!(from_rows.status.success(), "{}", text(&from_rows));
    assert_eq!(sums(&from_rows), by_api);
}

/// The sale rows are read with only the columns a statement uses, several of them derived from
/// one stored column (region from the country, body type from the model): each projection must
/// still describe the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_of_the_sale_rows_agrees_with_the_catalogue_and_the_rollup() {
    let server = sql_server(3_000).await;
    let token = server.admin_token();
    let one = |sql: &'static str| {
        let server = &server;
        let token = token.clone();
        async move {
            let output = psql(server, &token, &[sql]).await;
            assert!(output.status.success(), "{sql}: {}", text(&output));
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
    };
    let counted = one("SELECT COUNT(*) FROM sales").await;
    assert_eq!(counted, one("SELECT SUM(sale_rows) FROM sales_monthly").await);
    assert!(counted.parse::<i64>().expect("a count") >= 3_000, "{counted}");
    let regions =
        "SELECT COUNT(*) FROM sales s JOIN countries c ON s.country = c.code WHERE s.region = c.region";
    assert_eq!(one(regions).await, counted, "every row's region is its country's");
    let bodies =
        "SELECT COUNT(*) FROM sales s JOIN car_models m ON s.model = m.name WHERE s.body_type = m.body_type";
    assert_eq!(one(bodies).await, counted, "every row's body type is its model's");
    assert_eq!(
        one("SELECT SUM(units) FROM sales").await,
        one("SELECT SUM(units) FROM sales_monthly").await,
        "the rows' units are the rollup's"
    );
    let by_region =
        psql(&server, &token, &["SELECT region, SUM(units) FROM sales GROUP BY 1 ORDER BY 1"]).await;
    let rolled_up =
        psql(&server, &token, &["SELECT region, SUM(units) FROM sales_monthly GROUP BY 1 ORDER BY 1"]).await;
    assert!(sums(&by_region).len() > 1, "{}", text(&by_region));
    assert_eq!(sums(&by_region), sums(&rolled_up));
    let first =
        one("SELECT id, sold_on, model, country, region, body_type, fuel_type, transmission, color, \
                     units, unit_price_usd, revenue, date_precision FROM sales ORDER BY id LIMIT 1")
        .await;
    let fields: Vec<&str> = first.split('|').collect();
    assert_eq!(fields.len(), 13, "{first}");
    assert!(fields[1].len() == 10 && ["DAY", "MONTH", "QUARTER", "YEAR"].contains(&fields[12]), "{first}");
    // A limit below a filter still keeps only the filter's rows.
    let limited = one("SELECT country FROM sales WHERE country = 'DE' LIMIT 5").await;
    assert_eq!(limited.lines().collect::<Vec<_>>(), vec!["DE"; 5], "{limited}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_sees_what_its_token_may_see() {
    let server = sql_server(2_000).await;

    // A manager's every table holds only its regions' rows.
    let manager = server.token(Role::Manager, &["Europe"]);
    let monthly =
        psql(&server, &manager, &["SELECT country, SUM(units) FROM sales_monthly GROUP BY 1 ORDER BY 1"])
            .await;
    assert!(monthly.status.success(), "{}", text(&monthly));
    let api = api_units_by_country(&server, &manager, json!({})).await;
    assert!(!api.is_empty());
    assert_eq!(sums(&monthly), api, "sales_monthly: the manager's countries and sums");
    let rows =
        psql(&server, &manager, &["SELECT country, SUM(units) FROM sales GROUP BY 1 ORDER BY 1"]).await;
    assert_eq!(sums(&rows), api, "sales: {}", text(&rows));
    let regions = psql(&server, &manager, &["SELECT DISTINCT region FROM countries"]).await;
    assert_eq!(String::from_utf8_lossy(&regions.stdout).trim(), "Europe", "{}", text(&regions));
    // Naming another region's market returns nothing rather than its rows.
    let outside = psql(&server, &manager, &["SELECT COUNT(*) FROM sales_monthly WHERE country = 'US'"]).await;
    assert_eq!(String::from_utf8_lossy(&outside.stdout).trim(), "0", "{}", text(&outside));

    // An analyst may count cars but not see money, whichever way the column is reached.
    let analyst = server.token(Role::Analyst, &[]);
    let units = psql(&server, &analyst, &["SELECT SUM(units) FROM sales_monthly"]).await;
    assert!(units.status.success(), "{}", text(&units));
    for sql in [
        "SELECT SUM(revenue) FROM sales_monthly",
        "SELECT * FROM sales LIMIT 1",
        "SELECT model FROM sales_monthly WHERE revenue > 0 LIMIT 1",
        "SELECT name FROM car_models ORDER BY base_price DESC LIMIT 1",
        "SELECT units FROM (SELECT units, unit_price_usd FROM sales) AS s WHERE unit_price_usd > 1",
    ] {
        let refused = psql(&server, &analyst, &[sql]).await;
        let said = text(&refused);
        assert!(!refused.status.success(), "{sql}: {said}");
        assert!(said.contains("42501"), "{sql}: {said}");
        assert!(said.contains("may not see money"), "{sql}: {said}");
    }
    let named = text(&psql(&server, &analyst, &["SELECT SUM(revenue) FROM sales_monthly"]).await);
    assert!(named.contains("\"revenue\""), "the refused column is named: {named}");

    // An executive reads the rollup, not the sale rows.
    let executive = server.token(Role::Executive, &[]);
    let rollup = psql(&server, &executive, &["SELECT SUM(revenue) > 0 FROM sales_monthly"]).await;
    assert_eq!(String::from_utf8_lossy(&rollup.stdout).trim(), "t", "{}", text(&rollup));
    let rows = psql(&server, &executive, &["SELECT COUNT(*) FROM sales"]).await;
    assert!(!rows.status.success());
    assert!(text(&rows).contains("42501") && text(&rows).contains("\"sales\""), "{}", text(&rows));

    // A token that is not one: refused at login with the reason.
    let wrong = psql(&server, "not-a-token", &["SELECT 1"]).await;
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("password authentication failed"), "{}", text(&wrong));
    assert!(text(&wrong).contains("salesgraph token"), "{}", text(&wrong));
    let forged = salesgraph::auth::TokenKeys::hs256(b"another-secret-entirely-of-some-length")
        .issue(
            &salesgraph::auth::Viewer::new("mallory", Role::Admin, vec![]),
            std::time::Duration::from_secs(60),
        )
        .expect("token");
    let refused = psql(&server, &forged, &["SELECT 1"]).await;
    assert!(text(&refused).contains("bad signature"), "{}", text(&refused));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_is_read_only() {
    let server = sql_server(200).await;
    let admin = server.admin_token();
    for sql in [
        "INSERT INTO countries VALUES ('ZZ', 'Nowhere', 'Europe')",
        "DELETE FROM sales",
        "CREATE TABLE notes (text VARCHAR)",
        "DROP TABLE sales",
    ] {
        let refused = psql(&server, &admin, &[sql]).await;
        assert!(!refused.status.success(), "{sql}: {}", text(&refused));
    }
    let counted = psql(&server, &admin, &["SELECT COUNT(*) FROM countries WHERE code = 'ZZ'"]).await;
    assert_eq!(String::from_utf8_lossy(&counted.stdout).trim(), "0");
    let tables = psql(&server, &admin, &["\\dt"]).await;
    assert!(!String::from_utf8_lossy(&tables.stdout).contains("notes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_sqlalchemy_and_pandas_connect_as_superset_does() {
    if !super::clients::python_has("psycopg, sqlalchemy, pandas", "connect with psycopg and SQLAlchemy") {
        return;
    }
    let server = sql_server(2_000).await;
    let address = server.sql.expect("on");
    let admin = server.admin_token();
    let manager = server.token(Role::Manager, &["Europe"]);
    let expected = json!({
        "units_2024_by_country": api_units_by_country(&server, &admin, json!({ "from": "2024-01-01", "to": "2024-12-31" })).await,
        "units_de_2024": api_units_by_country(&server, &admin, json!({ "from": "2024-01-01", "to": "2024-12-31", "countries": ["DE"] })).await.get("DE"),
        "manager_units_by_country": api_units_by_country(&server, &manager, json!({})).await,
        "tokens": {
            "admin": admin,
            "manager": manager,
            "analyst": server.token(Role::Analyst, &[]),
            "executive": server.token(Role::Executive, &[]),
        },
    });
    run_python_client("sql.py", address, &expected.to_string()).await;
}

/// An Execute that asks for every row sends them as they are made: psycopg's `cursor.stream`
/// of eight billion rows gets its first 100,000 long before the statement's time limit, where a
/// server that gathered the result before sending would end it at the limit with nothing sent
/// (and memory growing all the while).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extended_protocol_read_streams_its_rows_as_they_are_made() {
    if !super::clients::python_has("psycopg", "stream rows with psycopg") {
        return;
    }
    let server = sql_server_with(2_000, |settings| {
        settings.sql_statement_timeout = std::time::Duration::from_secs(10);
    })
    .await;
    let address = server.sql.expect("on");
    run_python_client("sql_stream.py", address, &server.admin_token()).await;
}

/// Runs a Python client of tests/clients against the endpoint at `address` with `argument`,
/// and requires it to end well with "checks pass".
async fn run_python_client(script: &str, address: std::net::SocketAddr, argument: &str) {
    let output = tokio::process::Command::new("python3")
        .arg(clients_dir().join(script))
        .arg(address.ip().to_string())
        .arg(address.port().to_string())
        .arg(argument)
        .output()
        .await
        .expect("python3 runs");
    assert_client_passed(&output);
}

/// A client's run ended well and said "checks pass".
fn assert_client_passed(output: &Output) {
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(output.status.success(), "{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains("checks pass"), "{report}");
}

/// The PostgreSQL JDBC driver's jar: Debian's libpostgresql-jdbc-java, which .ci/run installs.
fn jdbc_driver() -> Option<&'static std::path::Path> {
    let jar = std::path::Path::new("/usr/share/java/postgresql.jar");
    if jar.exists() && std::process::Command::new("java").arg("-version").output().is_ok() {
        return Some(jar);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install Java and libpostgresql-jdbc-java (see .ci/run)"
    );
    println!(
        "skipped: needs java and /usr/share/java/postgresql.jar (apt-get install libpostgresql-jdbc-java)"
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jdbc_driver_reads_the_metadata_and_runs_a_prepared_statement() {
    let Some(jar) = jdbc_driver() else { return };
    let server = sql_server(2_000).await;
    let address = server.sql.expect("on");
    let admin = server.admin_token();
    let de_2024 = api_units_by_country(
        &server,
        &admin,
        json!({ "from": "2024-01-01", "to": "2024-12-31", "countries": ["DE"] }),
    )
    .await;
    let output = tokio::process::Command::new("java")
        .arg("-cp")
        .arg(jar)
        .arg(clients_dir().join("jdbc/SqlClient.java"))
        .arg(format!("jdbc:postgresql://{}:{}/salesgraph?sslmode=disable", address.ip(), address.port()))
        .arg(&admin)
        .arg(de_2024.get("DE").copied().unwrap_or(0).to_string())
        .arg("not-a-token")
        .output()
        .await
        .expect("java runs");
    assert_client_passed(&output);
}

/// A statement that runs for minutes: three copies of the sales rows' units joined with each
/// other (8 billion combinations over 2,000 rows), one column each so that memory stays small.
const ENDLESS: &str = "SELECT COUNT(*) FROM (SELECT units FROM sales) a, (SELECT units FROM sales) b, \
     (SELECT units FROM sales) c WHERE a.units + b.units + c.units < 0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_ends_at_the_time_limit_whatever_the_session_sets() {
    let server = sql_server_with(2_000, |settings| {
        settings.sql_statement_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    let token = server.admin_token();
    let started = std::time::Instant::now();
    let ended = psql(&server, &token, &["SET statement_timeout = 0", ENDLESS]).await;
    let elapsed = started.elapsed();
    let said = text(&ended);
    assert!(!ended.status.success(), "{said}");
    assert!(said.contains("57014") && said.contains("statement timeout"), "{said}");
    assert!(elapsed < std::time::Duration::from_secs(8), "ended after {elapsed:?}: {said}");

    // A session may ask for less than the server's limit.
    let ended = psql(&server, &token, &["SET statement_timeout = '300ms'", ENDLESS]).await;
    assert!(text(&ended).contains("57014"), "{}", text(&ended));
    // Not yet bounded in time: right after a stopped statement, the next one can wait seconds
    // for the engine's workers, so only its ending with 57014 is checked here.

    // The connection's next statement runs as usual.
    let after = psql(&server, &token, &["SELECT COUNT(*) FROM countries WHERE code = 'DE'"]).await;
    assert_eq!(String::from_utf8_lossy(&after.stdout).trim(), "1", "{}", text(&after));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_cancels_a_running_statement_on_interrupt() {
    let server = sql_server(2_000).await;
    let token = server.admin_token();
    let running = psql_command(&server, &token, "sslmode=disable", &[ENDLESS])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql runs (apt-get install postgresql-client)");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pid = running.id().expect("psql is running");
    // psql answers SIGINT with a cancel request on a new connection, as on Ctrl-C.
    let interrupted = tokio::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().await;
    assert!(interrupted.expect("kill runs").success());
    let cancelled_at = std::time::Instant::now();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), running.wait_with_output())
        .await
        .expect("the statement ends within 10 s of the cancel request")
        .expect("psql's output");
    let said = text(&ended);
    assert!(said.contains("57014") && said.contains("user request"), "{said}");
    assert!(cancelled_at.elapsed() < std::time::Duration::from_secs(5), "{:?}", cancelled_at.elapsed());
}

/// A self-signed certificate and key for `localhost` and 127.0.0.1, made by openssl.
fn self_signed_certificate(folder: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (certificate, key) = (folder.join("sql.crt"), folder.join("sql.key"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    (certificate, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_certificate_connections_use_tls_and_clear_text_is_refused() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (certificate, key) = self_signed_certificate(folder.path());
    let server = sql_server_with(500, |settings| {
        settings.sql_tls_cert = Some(certificate.clone());
        settings.sql_tls_key = Some(key.clone());
    })
    .await;
    let token = server.admin_token();
    let verified = format!("sslmode=verify-full sslrootcert={}", certificate.display());
    let secure =
        psql_command(&server, &token, &verified, &["SELECT COUNT(*) FROM countries WHERE code = 'DE'"])
            .output()
            .await
            .expect("psql runs");
    let said = text(&secure);
    assert!(String::from_utf8_lossy(&secure.stdout).trim().ends_with('1'), "{said}");

    let clear = psql(&server, &token, &["SELECT 1"]).await;
    let said = text(&clear);
    assert!(!clear.status.success(), "{said}");
    assert!(said.contains("only TLS connections") && said.contains("sslmode=require"), "{said}");
}

#[tokio::test]
async fn a_certificate_that_cannot_be_read_stops_the_start_naming_the_file() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (certificate, _) = self_signed_certificate(folder.path());
    let not_a_key = folder.path().join("empty.key");
    std::fs::write(&not_a_key, "").expect("write");
    let db = super::seeded_server_db(50).await;
    let mut settings = ServeSettings {
        sql_listen: salesgraph::config::SqlListen(Some("127.0.0.1:0".parse().expect("address"))),
        sql_tls_cert: Some(certificate),
        sql_tls_key: Some(not_a_key),
        listen: "127.0.0.1:0".parse().expect("address"),
        no_seed: true,
        ..ServeSettings::default()
    };
    settings.jwt_secret = Some(super::common::TEST_SECRET.into());
    let refused = salesgraph::startup::Application::build(&db.url, settings).await;
    let message = refused.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("empty.key") && message.contains("private key"), "{message}");
}

//! Settings: flags over environment over defaults (clap reads both), validated once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use crate::db::DEFAULT_DATABASE_URL;

/// Where the data lives; shared by every command that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Database URL: a SQLite file (`sqlite://salesgraph.db`, the default) or `postgres://…`.
    #[arg(long = "database-url", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true,
          hide_env_values = true, value_parser = parse_secret)]
    pub url: SecretString,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("\"{text}\" is not a duration such as 10s or 8h: {e}"))
}

/// A setting that may carry a password or a key: held so that no `Debug` of the settings prints it.
fn parse_secret(text: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(text))
}

fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(format!("\"{other}\" is neither on nor off")),
    }
}

/// Settings of `salesgraph serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// A read replica of the database (same kind as DATABASE_URL): sale pages, partial-month
    /// sums, inventory and catalogue lookups are read there; ingests and the in-memory data
    /// stay on the primary. Unset: everything on the primary.
    #[arg(long = "database-read-url", env = "DATABASE_READ_URL", hide_env_values = true, value_parser = parse_secret)]
    pub database_read_url: Option<SecretString>,
    /// PostgreSQL connections this replica keeps open at most (to DATABASE_URL, and as many to
    /// DATABASE_READ_URL). Fewer than the concurrent requests is fine: a request waits for a
    /// free connection, and PostgreSQL runs best with few busy backends per core.
    #[arg(long, env = "SALESGRAPH_DB_POOL_SIZE", default_value_t = crate::db::DEFAULT_POOL_SIZE,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub db_pool_size: u32,
    /// Address to listen on.
    #[arg(long, env = "SALESGRAPH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// HS256 secret for bearer tokens; unset: dev mode with an ephemeral secret and printed tokens.
    #[arg(long, env = "SALESGRAPH_JWT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub jwt_secret: Option<SecretString>,
    /// Response cache: `on`, or `off` to answer every query from the data.
    #[arg(long, env = "SALESGRAPH_CACHE", default_value = "on", value_parser = parse_switch)]
    pub cache: bool,
    /// Deepest query accepted (introspection counts too).
    #[arg(long, env = "SALESGRAPH_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,
    /// Most complex query accepted (each field 1, lists times their page size or limit).
    #[arg(long, env = "SALESGRAPH_MAX_COMPLEXITY", default_value_t = 2_000)]
    pub max_complexity: usize,
    /// Largest request body in bytes.
    #[arg(long, env = "SALESGRAPH_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// Time allowed per request.
    #[arg(long, env = "SALESGRAPH_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Time a client has to send a request's headers, from the connection's first byte or the
    /// previous request's end; a client still sending them then is disconnected.
    #[arg(long, env = "SALESGRAPH_HEADER_READ_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body once its headers have arrived: a slower one
    /// gets 408 and the connection is closed.
    #[arg(long, env = "SALESGRAPH_BODY_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_read_timeout: Duration,
    /// Schema introspection: `on` or `off`.
    #[arg(long, env = "SALESGRAPH_INTROSPECTION", default_value = "on", value_parser = parse_switch)]
    pub introspection: bool,
    /// How often to look for data that another process landed.
    #[arg(long, env = "SALESGRAPH_REFRESH_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub refresh_interval: Duration,
    /// Never seed, not even in dev mode.
    #[arg(long, env = "SALESGRAPH_NO_SEED")]
    pub no_seed: bool,
    /// Seed an empty database with the generated demo data set on start even when a secret is
    /// configured. Without it, only dev mode (no secret, no public key) seeds: a production
    /// database that is empty stays empty until real data is imported.
    #[arg(long, env = "SALESGRAPH_SEED_IF_EMPTY")]
    pub seed_if_empty: bool,
    /// A casbin policy file (CSV lines, see policy/policy.csv); unset: the built-in policy.
    /// Reloaded when it changes or on SIGHUP.
    #[arg(long, env = "SALESGRAPH_POLICY")]
    pub policy: Option<PathBuf>,
    /// Requests per second per subject (a token bucket with as many in reserve); 0: no limit.
    #[arg(long, env = "SALESGRAPH_RATE_LIMIT", default_value_t = 200)]
    pub rate_limit: u32,
    /// PEM public key for RS256 tokens from an identity provider.
    #[arg(long, env = "SALESGRAPH_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "SALESGRAPH_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "SALESGRAPH_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// A JSON manifest of sha256 hash → document; when set, roles other than admin may run
    /// only these operations.
    #[arg(long, env = "SALESGRAPH_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<PathBuf>,
    /// Browser origins allowed to call the API (comma-separated); none by default.
    #[arg(long, env = "SALESGRAPH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Base URL of GraphiQL's scripts and styles (a company mirror); unset: served from the binary.
    #[arg(long, env = "SALESGRAPH_GRAPHIQL_ASSETS")]
    pub graphiql_assets: Option<String>,
    /// How long browsers and BI tools may reuse a GET answer (Cache-Control: private, max-age).
    #[arg(long, env = "SALESGRAPH_HTTP_MAX_AGE", default_value = "60s", value_parser = parse_duration)]
    pub http_max_age: Duration,
    /// Compute the usual forecasts' backtests in the background after each ingest (`on`), or
    /// only when a query first needs them (`off`).
    #[arg(long, env = "SALESGRAPH_WARM_FORECASTS", default_value = "on", value_parser = parse_switch)]
    pub warm_forecasts: bool,
    /// `/readyz` answers ready only once the background passes (day groups, recent rows,
    /// forecasts, as switched on) have finished once, so that a load balancer sends traffic to a
    /// warm replica; `off`: ready as soon as the data is loaded.
    #[arg(long, env = "SALESGRAPH_READY_AFTER_WARMUP", default_value = "on", value_parser = parse_switch)]
    pub ready_after_warmup: bool,
    /// Memory for sale rows grouped by day (MiB), which answer the partial months of day ranges
    /// without a database query; newest months first, older ones are read from the database.
    /// 0: none.
    #[arg(long, env = "SALESGRAPH_DAY_GROUPS_MIB", default_value_t = 512)]
    pub day_groups_mib: usize,
    /// Memory for the newest months' sale rows (MiB), from which pages of sales are cut without
    /// a database query; pages reaching older months read the database. 0: none.
    #[arg(long, env = "SALESGRAPH_RECENT_ROWS_MIB", default_value_t = 64)]
    pub recent_rows_mib: usize,
    /// Address of the PostgreSQL-protocol SQL endpoint for BI tools, or `off`.
    #[arg(long, env = "SALESGRAPH_SQL_LISTEN", default_value = "127.0.0.1:5433", value_parser = parse_sql_listen)]
    pub sql_listen: SqlListen,
    /// SQL connections open at once at most; a connection beyond them is closed at once.
    #[arg(long, env = "SALESGRAPH_SQL_MAX_CONNECTIONS", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sql_max_connections: u32,
    /// Memory the SQL engine may use for all queries together (MiB): sorts, joins and groups
    /// beyond it fail with SQLSTATE 53200 rather than take the server's memory.
    #[arg(long, env = "SALESGRAPH_SQL_MEMORY_MIB", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(16..=1_048_576))]
    pub sql_memory_mib: u32,
    /// The longest one SQL statement may run, its rows included: past it the statement ends
    /// with SQLSTATE 57014. A client's `SET statement_timeout` may lower it, never raise it.
    #[arg(long, env = "SALESGRAPH_SQL_STATEMENT_TIMEOUT", default_value = "120s", value_parser = parse_duration)]
    pub sql_statement_timeout: Duration,
    /// PEM certificate chain for TLS on the SQL endpoint (with `SALESGRAPH_SQL_TLS_KEY`). When
    /// set, a connection must use TLS (`sslmode=require`): the password is a token.
    #[arg(long, env = "SALESGRAPH_SQL_TLS_CERT", requires = "sql_tls_key")]
    pub sql_tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `SALESGRAPH_SQL_TLS_CERT`.
    #[arg(long, env = "SALESGRAPH_SQL_TLS_KEY", requires = "sql_tls_cert")]
    pub sql_tls_key: Option<PathBuf>,
}

/// Where the SQL endpoint listens: an address, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlListen(pub Option<SocketAddr>);

fn parse_sql_listen(text: &str) -> Result<SqlListen, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(SqlListen(None));
    }
    text.trim()
        .parse()
        .map(|address| SqlListen(Some(address)))
        .map_err(|_| format!("\"{text}\" is neither an address such as 127.0.0.1:5433 nor off"))
}

impl ServeSettings {
    /// Dev mode: no secret and no public key, so tokens are made up at start-up.
    pub fn dev_mode(&self) -> bool {
        self.jwt_secret().is_none() && self.jwt_public_key.is_none()
    }

    /// The HS256 secret, when one is set and not empty.
    pub fn jwt_secret(&self) -> Option<&str> {
        self.jwt_secret.as_ref().map(ExposeSecret::expose_secret).filter(|s| !s.is_empty())
    }

    /// The read replica's URL, when one is set and not blank.
    pub fn database_read_url(&self) -> Option<&str> {
        self.database_read_url.as_ref().map(ExposeSecret::expose_secret).filter(|url| !url.trim().is_empty())
    }

    /// Whether an empty database gets the demo data set on start.
    pub fn seeds_when_empty(&self) -> bool {
        !self.no_seed && (self.seed_if_empty || self.dev_mode())
    }
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            database_read_url: None,
            db_pool_size: crate::db::DEFAULT_POOL_SIZE,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            cache: true,
            max_depth: 15,
            max_complexity: 2_000,
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(10),
            introspection: true,
            refresh_interval: Duration::from_secs(1),
            no_seed: false,
            seed_if_empty: false,
            policy: None,
            rate_limit: 200,
            jwt_public_key: None,
            jwt_issuer: None,
            jwt_audience: None,
            trusted_documents: None,
            cors_origins: Vec::new(),
            graphiql_assets: None,
            http_max_age: Duration::from_secs(60),
            warm_forecasts: true,
            ready_after_warmup: true,
            day_groups_mib: 512,
            recent_rows_mib: 64,
            // Embedded and test servers turn the SQL endpoint on themselves.
            sql_listen: SqlListen(None),
            sql_max_connections: 64,
            sql_memory_mib: 512,
            sql_statement_timeout: Duration::from_secs(120),
            sql_tls_cert: None,
            sql_tls_key: None,
        }
    }
}

/// Settings of `salesgraph token`.
#[derive(Debug, Clone, Args)]
pub struct TokenSettings {
    /// admin, executive, manager or analyst.
    #[arg(long)]
    pub role: String,
    /// A region the token is scoped to (managers); repeat for several.
    #[arg(long = "region")]
    pub regions: Vec<String>,
    /// The subject (user name) in the token.
    #[arg(long, default_value = "cli")]
    pub sub: String,
    /// How long the token is valid, e.g. 30m, 8h, 7d.
    #[arg(long, default_value = "8h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// The HS256 secret the server is configured with.
    #[arg(long, env = "SALESGRAPH_JWT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub jwt_secret: Option<SecretString>,
    /// The `iss` claim to write (the server's SALESGRAPH_JWT_ISSUER, which it then requires).
    #[arg(long, env = "SALESGRAPH_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The `aud` claim to write (the server's SALESGRAPH_JWT_AUDIENCE, which it then requires).
    #[arg(long, env = "SALESGRAPH_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_and_durations() {
        assert_eq!(parse_switch("OFF"), Ok(false));
        assert!(parse_switch("maybe").unwrap_err().contains("maybe"));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert!(parse_duration("soon").unwrap_err().contains("soon"));
    }

    #[test]
    fn no_debug_of_the_settings_prints_a_secret() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "salesgraph",
            "--database-url",
            "postgres://sales:pa55-primary@db.internal/sales",
            "serve",
            "--database-read-url",
            "postgres://sales:pa55-replica@replica.internal/sales",
            "--jwt-secret",
            "jwt-secret-of-forty-characters-0123456789",
        ])
        .expect("arguments");
        let Some(crate::cli::Command::Serve(settings)) = &cli.command else { panic!("serve") };
        assert_eq!(settings.jwt_secret(), Some("jwt-secret-of-forty-characters-0123456789"));
        assert_eq!(
            settings.database_read_url(),
            Some("postgres://sales:pa55-replica@replica.internal/sales")
        );
        assert_eq!(cli.database.url.expose_secret(), "postgres://sales:pa55-primary@db.internal/sales");
        for printed in [format!("{cli:?}"), format!("{settings:?}"), format!("{settings:#?}")] {
            for secret in ["pa55-primary", "pa55-replica", "jwt-secret-of-forty"] {
                assert!(!printed.contains(secret), "{secret} printed in {printed}");
            }
            assert!(printed.contains("REDACTED"), "{printed}");
        }
        let token = crate::cli::Cli::try_parse_from([
            "salesgraph",
            "token",
            "--role",
            "admin",
            "--jwt-secret",
            "jwt-secret-of-forty-characters-0123456789",
        ])
        .expect("arguments");
        assert!(!format!("{token:?}").contains("jwt-secret-of-forty"));
    }
}

//! Settings: flags over environment over defaults (clap reads both), validated once at start-up.

use std::net::SocketAddr;

use clap::Args;

use crate::db::DEFAULT_DATABASE_URL;

/// Where the data lives; shared by every command that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Database URL: a SQLite file (`sqlite://salesgraph.db`, the default) or `postgres://…`.
    #[arg(long = "database-url", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub url: String,
}

/// Settings of `salesgraph serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "SALESGRAPH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 8080)) }
    }
}

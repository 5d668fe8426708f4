//! Building and running the server: migrate, seed an empty database, load the data, bind, serve
//! until told to stop (finishing in-flight requests), and follow ingests from any process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;

use crate::app::{AppContext, AppError};
use crate::config::ServeSettings;
use crate::graphql::{SchemaLimits, build_schema};
use crate::http::{HttpState, router};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("seeding the empty database: {0}")]
    Seed(#[from] StoreError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("DATABASE_READ_URL: {0}")]
    ReadReplica(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Sql(#[from] crate::sql::SqlError),
}

pub struct Application {
    listener: TcpListener,
    sql: Option<crate::sql::SqlEndpoint>,
    context: Arc<AppContext>,
    router: axum::Router,
}

impl Application {
    pub async fn build(database_url: &str, settings: ServeSettings) -> Result<Self, StartupError> {
        let db = crate::db::connect_sized_and_migrate(database_url, settings.db_pool_size).await?;
        let read_replica = match settings.database_read_url() {
            Some(url) => Some(connect_read_replica(&db, url, settings.db_pool_size).await?),
            None => None,
        };
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            match crate::store::staging::sweep_stale_in(db.get_postgres_connection_pool()).await {
                Ok(0) => {}
                Ok(dropped) => tracing::info!(dropped, "dropped staging tables of interrupted ingests"),
                Err(error) => tracing::warn!(%error, "could not sweep stale staging tables"),
            }
        }
        if settings.seeds_when_empty() && crate::store::seed::seed_if_empty(&db).await? {
            tracing::info!("the database was empty: seeded the default data set");
        }
        let address = settings.listen;
        let limits = SchemaLimits {
            max_depth: settings.max_depth,
            max_complexity: settings.max_complexity,
            introspection: settings.introspection,
        };
        let max_body = settings.max_body_bytes;
        let context = AppContext::new(settings, db, read_replica).await?;
        context.warm_forecasts();
        context.sync_held_months();
        let schema = build_schema(limits);
        let router = router(HttpState::new(context.clone(), schema)).layer(DefaultBodyLimit::max(max_body));
        let listener =
            TcpListener::bind(address).await.map_err(|source| StartupError::Bind { address, source })?;
        let sql = match context.settings.sql_listen.0 {
            Some(address) => Some(crate::sql::SqlEndpoint::bind(address, context.clone()).await?),
            None => None,
        };
        Ok(Self { listener, sql, context, router })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the SQL endpoint listens, when it is on.
    pub fn sql_local_addr(&self) -> Option<SocketAddr> {
        self.sql.as_ref().and_then(|sql| sql.local_addr().ok())
    }

    pub fn context(&self) -> Arc<AppContext> {
        self.context.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let refresher = tokio::spawn(follow_data_version(self.context.clone()));
        let listener = tokio::spawn(listen_for_data(self.context.clone()));
        let context = self.context.clone();
        let policy_follower = tokio::spawn(
            self.context
                .policy
                .clone()
                .follow(self.context.settings.refresh_interval, move || context.invalidate_caches()),
        );
        let sql = self.sql.map(|sql| tokio::spawn(sql.serve()));
        let header_read_timeout = self.context.settings.header_read_timeout;
        let result =
            crate::http::connections::serve(self.listener, self.router, header_read_timeout, shutdown).await;
        if let Some(sql) = sql {
            sql.abort();
        }
        refresher.abort();
        listener.abort();
        policy_follower.abort();
        result
    }
}

/// Opens the read replica's pool: of the primary's kind, and answering before the server starts,
/// so that a wrong URL fails the start with a reason instead of every later request.
async fn connect_read_replica(
    primary: &sea_orm::DatabaseConnection,
    url: &str,
    pool_size: u32,
) -> Result<sea_orm::DatabaseConnection, StartupError> {
    use sea_orm::{ConnectionTrait, Statement};
    let read_backend = crate::db::backend_of(url);
    let primary_backend = primary.get_database_backend();
    if read_backend != primary_backend {
        return Err(StartupError::ReadReplica(format!(
            "the replica is {read_backend:?} but DATABASE_URL is {primary_backend:?}: both must be the same kind"
        )));
    }
    let read = crate::db::connect_read_only(url, pool_size)
        .await
        .map_err(|e| StartupError::ReadReplica(format!("cannot connect: {e}")))?;
    read.query_one_raw(Statement::from_string(read_backend, "SELECT id FROM sale LIMIT 1"))
        .await
        .map_err(|e| StartupError::ReadReplica(format!("cannot read the sale table there: {e}")))?;
    Ok(read)
}

/// Reloads the in-memory data when another process (or a command-line import) lands data.
async fn follow_data_version(context: Arc<AppContext>) {
    let mut ticker = tokio::time::interval(context.settings.refresh_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = context.refresh().await {
            tracing::warn!(%error, "could not check the data version");
        }
    }
}

/// On PostgreSQL, reloads as soon as any process commits data (LISTEN on the channel that
/// `data_version::bump` notifies), so replicas agree within milliseconds; the poll above stays
/// as the safety net for lost connections. Reconnects after errors.
async fn listen_for_data(context: Arc<AppContext>) {
    if context.store.backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let pool = context.store.db.get_postgres_connection_pool().clone();
    loop {
        if let Err(error) = listen_until_lost(&context, &pool).await {
            tracing::warn!(%error, "data notifications interrupted: reconnecting in a second");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// One LISTEN session: catches up once (notifications sent while no one listened are lost),
/// then reloads on every notification until the connection fails.
async fn listen_until_lost(
    context: &AppContext,
    pool: &sea_orm::sqlx::PgPool,
) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(crate::store::data_version::CHANNEL).await?;
    loop {
        if let Err(error) = context.refresh().await {
            tracing::warn!(%error, "could not reload after a data notification");
        }
        // `None`: the connection was lost; a fresh session catches up on what it missed.
        if listener.try_recv().await?.is_none() {
            return Err(sea_orm::sqlx::Error::Protocol("the notification connection was lost".into()));
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

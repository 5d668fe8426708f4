//! The PostgreSQL-protocol SQL endpoint for BI tools that speak only SQL: pgwire speaks the
//! protocol, DataFusion plans and runs the SQL, and datafusion-postgres joins them with the
//! `pg_catalog` that psql, JDBC and SQLAlchemy read. The password is a salesgraph token; each
//! connection runs as its viewer, and its tables (`tables`) apply the same policy as the API.

mod compat;
mod login;
mod read_only;
mod statement;
pub mod tables;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, Parser};
use futures_util::Sink;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::{Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::Response;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionManager, DEFAULT_NAME, ErrorHandler, PgWireConnectionState,
    PgWireServerHandlers,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Execute;
use tokio::net::TcpListener;

use crate::app::AppContext;
use tables::{ConnectionViewer, Refusal, SalesgraphTable, TABLES};

/// The database name the tables live in (any name is accepted at login).
pub const DATABASE: &str = "salesgraph";

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("SALESGRAPH_SQL_LISTEN: cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("setting up the SQL engine: {0}")]
    Engine(String),
    #[error("SALESGRAPH_SQL_TLS_CERT/KEY: {path} {reason}")]
    Tls { path: String, reason: String },
}

/// The endpoint, bound and ready to serve.
pub struct SqlEndpoint {
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// What every connection shares: the application, the engine's catalogue and settings, the
/// registries that cancel requests find a connection's running statement in, and TLS.
struct Shared {
    app: Arc<AppContext>,
    base: SessionContext,
    catalog_queries: Arc<compat::CatalogSubqueries>,
    connections: Arc<ConnectionManager>,
    cancels: Arc<statement::Cancels>,
    process_ids: Arc<pgwire::api::RandomPidSecretKeyGenerator>,
    slots: Arc<tokio::sync::Semaphore>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
}

impl SqlEndpoint {
    pub async fn bind(address: SocketAddr, app: Arc<AppContext>) -> Result<Self, SqlError> {
        let listener =
            TcpListener::bind(address).await.map_err(|source| SqlError::Bind { address, source })?;
        let settings = &app.settings;
        let tls = match (&settings.sql_tls_cert, &settings.sql_tls_key) {
            (Some(certificate), Some(key)) => Some(tls::acceptor(certificate, key)?),
            _ => {
                if !address.ip().is_loopback() {
                    tracing::warn!(%address, "SQL endpoint without TLS on a non-loopback address: tokens travel in clear text; set SALESGRAPH_SQL_TLS_CERT and SALESGRAPH_SQL_TLS_KEY");
                }
                None
            }
        };
        let base = engine(&app, settings.sql_memory_mib as usize).await?;
        let slots = Arc::new(tokio::sync::Semaphore::new(settings.sql_max_connections as usize));
        let catalog_queries = Arc::new(
            compat::CatalogSubqueries::new(&base).await.map_err(|e| SqlError::Engine(e.to_string()))?,
        );
        let shared = Arc::new(Shared {
            base,
            catalog_queries,
            connections: Arc::new(ConnectionManager::new()),
            cancels: Arc::default(),
            process_ids: Arc::new(pgwire::api::RandomPidSecretKeyGenerator::default()),
            slots,
            tls,
            app,
        });
        Ok(Self { listener, shared })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the task is dropped; each runs on its own task.
    pub async fn serve(self) {
        tracing::info!(
            address = ?self.listener.local_addr().ok(),
            tls = self.shared.tls.is_some(),
            "SQL endpoint listening"
        );
        loop {
            let (socket, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "SQL endpoint: accept failed");
                    continue;
                }
            };
            let Ok(slot) = self.shared.slots.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "SQL endpoint: connection refused, every connection slot is taken");
                drop(socket);
                continue;
            };
            let handlers = Connection::new(&self.shared, peer);
            let tls = self.shared.tls.clone();
            tokio::spawn(async move {
                if let Err(error) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                    tracing::debug!(%error, %peer, "SQL connection ended with an error");
                }
                drop(slot);
            });
        }
    }
}

/// The engine every connection's session starts from: the four tables in `salesgraph.public`,
/// `pg_catalog` and `information_schema` for the tools' catalogue queries, and a memory limit
/// so that no query can take the server's memory. Each statement runs in one partition: BI
/// tools send many small statements at once, and splitting each over the cores costs more in
/// hand-overs than it gains (docs/benchmarks.md#sql-endpoint); a statement's rows are made on
/// a task of their own (`statement`), so it still runs beside the connection that sends them.
async fn engine(app: &Arc<AppContext>, memory_mib: usize) -> Result<SessionContext, SqlError> {
    let failed = |e: &dyn std::fmt::Display| SqlError::Engine(e.to_string());
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema(DATABASE, "public")
        .with_target_partitions(1);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(memory_mib.saturating_mul(1024 * 1024), 1.0)
        .build_arc()
        .map_err(|e| failed(&e))?;
    let context = SessionContext::new_with_config_rt(config, runtime);
    let catalog =
        context.catalog(DATABASE).ok_or_else(|| SqlError::Engine(format!("no catalog {DATABASE}")))?;
    let sale_reads = Arc::new(tokio::sync::Semaphore::new(tables::SALE_READS_AT_ONCE));
    let tables = TABLES.map(|spec| -> (&str, Arc<dyn datafusion::catalog::TableProvider>) {
        (spec.name, Arc::new(SalesgraphTable::new(app.clone(), spec, sale_reads.clone())))
    });
    catalog
        .register_schema("public", Arc::new(read_only::FixedTables::new(tables)))
        .map_err(|e| failed(&e))?;
    setup_pg_catalog(&context, DATABASE, EmptyContextProvider).map_err(|e| failed(&e))?;
    compat::register_functions(&context).await.map_err(|e| failed(&e))?;
    Ok(context)
}

/// One client connection's handlers: its login, its session (a copy of the engine's, carrying
/// the viewer once logged in) and the error translation.
struct Connection {
    login: Arc<login::Login>,
    session: Arc<AuditedSession>,
    cancel: Arc<statement::CancelRequests>,
    errors: Arc<SqlStates>,
}

impl Connection {
    fn new(shared: &Shared, peer: SocketAddr) -> Self {
        let viewer = Arc::new(ConnectionViewer::default());
        let cancel_signal = Arc::new(statement::CancelSignal::default());
        let mut state = shared.base.state();
        state.config_mut().set_extension(viewer.clone());
        let service = DfSessionService::new_with_hooks(
            Arc::new(SessionContext::new_with_state(state)),
            read_only::hooks(shared.catalog_queries.clone()),
        );
        Self {
            login: Arc::new(login::Login::new(
                shared.app.clone(),
                viewer.clone(),
                shared.connections.clone(),
                shared.process_ids.clone(),
                login::Cancelling { cancels: shared.cancels.clone(), signal: cancel_signal.clone() },
                peer,
            )),
            session: Arc::new(AuditedSession {
                inner: service,
                viewer: viewer.clone(),
                cancel_signal,
                longest: shared.app.settings.sql_statement_timeout,
            }),
            cancel: Arc::new(statement::CancelRequests::new(
                shared.cancels.clone(),
                DefaultCancelHandler::new(shared.connections.clone()),
            )),
            errors: Arc::new(SqlStates { viewer }),
        }
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.session.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.session.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.login.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        self.errors.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

/// datafusion-postgres' session, with each statement bounded in time and by cancel requests
/// (`statement`) and written to the audit log.
struct AuditedSession {
    inner: DfSessionService,
    viewer: Arc<ConnectionViewer>,
    cancel_signal: Arc<statement::CancelSignal>,
    longest: std::time::Duration,
}

impl AuditedSession {
    fn audit(&self, protocol: &'static str, statement: &str) {
        let Some(viewer) = self.viewer.get() else { return };
        tracing::info!(
            target: "audit",
            subject = %viewer.subject,
            role = %viewer.role,
            regions = %viewer.regions.join(","),
            protocol,
            statement = %statement_digest(statement),
            outcome = "ok",
            "sql statement"
        );
    }
}

/// A short digest of a statement's text, so that the audit log can tell statements apart and
/// match repeats without holding the text (which may quote what the user typed).
fn statement_digest(statement: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(statement.as_bytes());
    let verb = statement.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    format!("{verb} {}", hex::encode(&hash[..6]))
}

#[async_trait]
impl SimpleQueryHandler for AuditedSession {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let bounds = statement::StatementBounds::start(client, &self.cancel_signal, self.longest);
        let responses = bounds.plan(SimpleQueryHandler::do_query(&self.inner, client, query)).await?;
        self.audit("simple", query);
        Ok(responses.into_iter().map(|response| bounds.bound(response)).collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for AuditedSession {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.inner.query_parser()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let bounds = statement::StatementBounds::start(client, &self.cancel_signal, self.longest);
        let response =
            bounds.plan(ExtendedQueryHandler::do_query(&self.inner, client, portal, max_rows)).await?;
        self.audit("extended", &portal.statement.statement.0);
        Ok(bounds.bound(response))
    }

    /// An Execute that asks for every row (max_rows 0, what psycopg, SQLAlchemy and most
    /// drivers send) streams them to the socket as the engine makes them, so that memory stays
    /// bounded by the socket's buffers whatever the result's size; pgwire's own handling
    /// gathers such a result whole before sending it. Executes with a row limit (JDBC's
    /// fetch size, named cursors) hold at most that many rows and keep pgwire's handling.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let portal_name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let unstarted = match client.portal_store().get_portal(portal_name) {
            Some(Entry::Value(portal)) if message.max_rows == 0 => {
                let state = portal.state();
                let initial = matches!(*state.lock().await, PortalExecutionState::Initial);
                initial.then_some(portal)
            }
            _ => None,
        };
        let Some(portal) = unstarted else { return self._on_execute(client, message).await };
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let response = ExtendedQueryHandler::do_query(self, client, &portal, 0).await?;
        // Executing the portal again answers no rows, as PostgreSQL's finished portals do.
        *portal.state().lock().await = PortalExecutionState::Finished;
        let status = send_whole_response(client, response).await?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        Ok(())
    }
}

/// Sends one Execute's whole response, its rows as they come, and answers the connection's
/// transaction status after it (the cases other than rows as pgwire answers them).
async fn send_whole_response<C>(
    client: &mut C,
    response: Response,
) -> PgWireResult<pgwire::messages::response::TransactionStatus>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore,
    C::Error: std::fmt::Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    use futures_util::SinkExt;
    use pgwire::api::query::{send_execution_response, send_query_response};
    let status = client.transaction_status();
    Ok(match response {
        Response::Query(rows) => {
            send_query_response(client, rows, false).await?;
            status
        }
        Response::EmptyQuery => {
            let empty = pgwire::messages::response::EmptyQueryResponse::new();
            client.feed(PgWireBackendMessage::EmptyQueryResponse(empty)).await?;
            status
        }
        Response::Execution(tag) => {
            send_execution_response(client, tag).await?;
            status
        }
        Response::TransactionStart(tag) => {
            send_execution_response(client, tag).await?;
            status.to_in_transaction_state()
        }
        Response::TransactionEnd(tag) => {
            send_execution_response(client, tag).await?;
            client.portal_store().rm_portal(DEFAULT_NAME);
            status.to_idle_state()
        }
        Response::Error(error) => {
            client.send(PgWireBackendMessage::ErrorResponse((*error).into())).await?;
            status.to_error_state()
        }
        Response::CopyIn(_) | Response::CopyOut(_) | Response::CopyBoth(_) => {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".into(),
                "25006".into(),
                "COPY is not available: the SQL endpoint is read-only".into(),
            ))));
        }
    })
}

/// Gives errors their PostgreSQL codes, so that tools show what went wrong: a refused scan is
/// 42501 (insufficient privilege), an unknown table 42P01, an unknown column 42703, a syntax
/// error 42601; and writes refusals to the audit log.
struct SqlStates {
    viewer: Arc<ConnectionViewer>,
}

impl ErrorHandler for SqlStates {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        let Some(info) = explained(error) else { return };
        if let Some(viewer) = self.viewer.get() {
            tracing::info!(
                target: "audit",
                subject = %viewer.subject,
                role = %viewer.role,
                regions = %viewer.regions.join(","),
                outcome = %info.code,
                "sql statement refused"
            );
        }
        *error = PgWireError::UserError(Box::new(info));
    }
}

/// The PostgreSQL error an engine error stands for, when it is one a client should see coded.
fn explained(error: &PgWireError) -> Option<ErrorInfo> {
    let PgWireError::ApiError(inner) = error else { return None };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(current) = cause {
        if let Some(refusal) = current.downcast_ref::<Refusal>() {
            let code = match refusal {
                Refusal::Expired => "28P01",
                _ => "42501",
            };
            return Some(ErrorInfo::new("ERROR".into(), code.into(), refusal.to_string()));
        }
        if let Some(engine) = current.downcast_ref::<datafusion::error::DataFusionError>() {
            if let datafusion::error::DataFusionError::External(external) = engine {
                cause = Some(external.as_ref());
                continue;
            }
            if let Some(code) = engine_sqlstate(engine) {
                return Some(ErrorInfo::new("ERROR".into(), code.into(), engine.to_string()));
            }
        }
        cause = current.source();
    }
    None
}

fn engine_sqlstate(error: &datafusion::error::DataFusionError) -> Option<&'static str> {
    use datafusion::error::DataFusionError;
    match error.find_root() {
        DataFusionError::SQL(..) => Some("42601"),
        DataFusionError::SchemaError(schema, _) => match schema.as_ref() {
            datafusion::common::SchemaError::FieldNotFound { .. } => Some("42703"),
            _ => Some("42P10"),
        },
        DataFusionError::Plan(message) if message.contains("table") && message.contains("not found") => {
            Some("42P01")
        }
        DataFusionError::Plan(_) => Some("42601"),
        DataFusionError::NotImplemented(_) => Some("0A000"),
        DataFusionError::ResourcesExhausted(_) => Some("53200"),
        _ => None,
    }
}

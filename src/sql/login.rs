//! Logging in to the SQL endpoint: the password is a salesgraph token (HS256 or RS256, checked
//! exactly as the HTTP API checks a bearer token); user and database names are free. A token
//! that fails is the PostgreSQL error 28P01 with the reason.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::pgwire;
use futures_util::{Sink, SinkExt};
use pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use pgwire::api::{
    ClientInfo, ConnectionGuard, ConnectionHandle, ConnectionManager, PgWireConnectionState,
    PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::statement::{CancelSignal, Cancels, STATEMENT_TIMEOUT_KEY};
use super::tables::ConnectionViewer;
use crate::app::AppContext;

/// Where a logged-in connection registers, so that cancel requests naming its process id and
/// secret key reach its statements.
pub struct Cancelling {
    pub cancels: Arc<Cancels>,
    pub signal: Arc<CancelSignal>,
}

pub struct Login {
    app: Arc<AppContext>,
    viewer: Arc<ConnectionViewer>,
    connections: Arc<ConnectionManager>,
    process_ids: Arc<RandomPidSecretKeyGenerator>,
    cancelling: Cancelling,
    parameters: DefaultServerParameterProvider,
    peer: SocketAddr,
}

impl Login {
    pub fn new(
        app: Arc<AppContext>,
        viewer: Arc<ConnectionViewer>,
        connections: Arc<ConnectionManager>,
        process_ids: Arc<RandomPidSecretKeyGenerator>,
        cancelling: Cancelling,
        peer: SocketAddr,
    ) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        // A viewer is never a superuser, and the endpoint never writes.
        parameters.is_superuser = false;
        parameters.default_transaction_read_only = true;
        Self { app, viewer, connections, process_ids, cancelling, parameters, peer }
    }
}

#[async_trait]
impl StartupHandler for Login {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                // With a certificate configured the token must not cross the network in clear.
                if self.app.settings.sql_tls_cert.is_some() && !client.is_secure() {
                    tracing::info!(target: "audit", peer = %self.peer, outcome = "28000", "sql connection refused: no TLS");
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        "28000".into(),
                        "this endpoint accepts only TLS connections: connect with sslmode=require".into(),
                    ))));
                }
                pgwire::api::auth::protocol_negotiation(client, startup).await?;
                pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(password) => {
                let password = password.into_password()?;
                let user = client.metadata().get(pgwire::api::METADATA_USER).cloned().unwrap_or_default();
                let bearer = format!("Bearer {}", password.password.trim());
                let (viewer, until) = match self.app.tokens.verify_header_until(Some(&bearer)) {
                    Ok(verified) => verified,
                    Err(reason) => {
                        tracing::info!(
                            target: "audit",
                            peer = %self.peer,
                            outcome = "28P01",
                            %reason,
                            "sql connection refused"
                        );
                        return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                            "FATAL".into(),
                            "28P01".into(),
                            format!(
                                "password authentication failed for user \"{user}\": the password must be a salesgraph token ({reason})"
                            ),
                        ))));
                    }
                };
                tracing::info!(
                    target: "audit",
                    peer = %self.peer,
                    subject = %viewer.subject,
                    role = %viewer.role,
                    regions = %viewer.regions.join(","),
                    outcome = "ok",
                    "sql connection"
                );
                self.viewer.log_in(viewer, until);
                let timeout_ms = self.app.settings.sql_statement_timeout.as_millis().to_string();
                client.metadata_mut().insert(STATEMENT_TIMEOUT_KEY.to_string(), timeout_ms);
                let (pid, secret_key) = self.process_ids.generate(client);
                client.set_pid_and_secret_key(pid, secret_key.clone());
                let registration =
                    self.cancelling.cancels.register(pid, secret_key.clone(), self.cancelling.signal.clone());
                client.session_extensions().insert(registration);
                let (handle, guard) = self.connections.register(pid, secret_key);
                client.session_extensions().insert::<Arc<ConnectionHandle>>(handle);
                client.session_extensions().insert::<ConnectionGuard>(guard);
                pgwire::api::auth::finish_authentication(client, &self.parameters).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

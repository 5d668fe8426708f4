//! Rules every operation obeys whatever transport brought it (HTTP, WebSocket, `ask`'s inner
//! queries), checked when its text is about to be parsed: the nesting limits (before the parser
//! and the validator recurse), trusted documents (when configured) and, for operations that
//! arrive on a WebSocket, the subject's rate limit, which HTTP applies per request earlier.
//! The same extension measures what the operation costs ([`super::cost`]): async-graphql runs
//! every extension's `resolve` hook, boxed, around every field, so each extension added to the
//! schema is paid on each field of each answer, and these rules need none of their own.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};

use super::cost::{CostLimits, CostRequested, MeasuredCost};
use super::error::coded_server_error;

use crate::access::RequestAccess;
use crate::app::AppContext;

/// Marks the operations of one WebSocket connection (its session data): each counts against
/// the subject's rate limit like an HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct OverWebSocket;

/// Marks the operations `ask` writes itself from a question: the question's own operation was
/// admitted, and the documents it generates are the server's, not the client's.
#[derive(Debug, Clone, Copy)]
pub struct GeneratedByAsk;

/// The extension: one per schema, made with the limits the cost is measured against.
pub struct OperationRules {
    pub cost_limits: CostLimits,
}

impl ExtensionFactory for OperationRules {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RulesOfOneOperation { cost: MeasuredCost::new(self.cost_limits) })
    }
}

struct RulesOfOneOperation {
    cost: MeasuredCost,
}

#[async_trait::async_trait]
impl Extension for RulesOfOneOperation {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(message) = super::limits::nesting_error(query, variables) {
            return Err(coded_server_error("BAD_USER_INPUT", message));
        }
        if let (Some(app), Some(access)) =
            (ctx.data_opt::<Arc<AppContext>>(), ctx.data_opt::<RequestAccess>())
        {
            if ctx.data_opt::<OverWebSocket>().is_some()
                && let Err(wait) = app.rate_limiter.check(&access.viewer.subject)
            {
                return Err(coded_server_error(
                    "RATE_LIMITED",
                    format!(
                        "more than {} operations per second from \"{}\": retry in {} ms",
                        app.settings.rate_limit,
                        access.viewer.subject,
                        wait.as_millis()
                    ),
                ));
            }
            if ctx.data_opt::<GeneratedByAsk>().is_none()
                && let Err(error) = app.persisted.admit(query, access.viewer.role)
            {
                return Err(coded_server_error(error.code(), error.to_string()));
            }
        }
        next.run(ctx, query, variables).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        self.cost.note(&result);
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let metrics = ctx
            .data_opt::<Arc<AppContext>>()
            .filter(|_| ctx.data_opt::<GeneratedByAsk>().is_none())
            .map(|app| &app.metrics);
        let requested = ctx.data_opt::<CostRequested>().is_some();
        self.cost.report(operation_name, metrics, requested, &mut response);
        response
    }
}

//! What each operation costs: the complexity the limit is checked against (each field counts 1,
//! a list field its page size or limit), recorded per operation name in the metrics, and
//! returned in `extensions.cost` to a client that asks with `x-salesgraph-cost: on`, so that
//! the teams that own queries can see what they spend before the limit refuses them.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation};
use async_graphql::{Response, ServerError, ValidationResult, Value};

use super::operation_rules::GeneratedByAsk;
use crate::app::AppContext;

/// The request header that asks for `extensions.cost`.
pub const COST_HEADER: &str = "x-salesgraph-cost";

/// Marks a request whose client asked for its cost in the answer.
#[derive(Debug, Clone, Copy)]
pub struct CostRequested;

/// The limits an operation's cost is measured against.
pub struct OperationCost {
    pub max_complexity: usize,
    pub max_depth: usize,
}

impl ExtensionFactory for OperationCost {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostOfOneRequest {
            max_complexity: self.max_complexity,
            max_depth: self.max_depth,
            validated: Mutex::new(None),
        })
    }
}

struct CostOfOneRequest {
    max_complexity: usize,
    max_depth: usize,
    validated: Mutex<Option<(usize, usize)>>,
}

/// `extensions.cost` of an answer.
fn cost_value(complexity: usize, depth: usize, max_complexity: usize, max_depth: usize) -> Value {
    let number = |n: usize| Value::from(n as u64);
    Value::Object(
        [
            ("complexity", number(complexity)),
            ("maxComplexity", number(max_complexity)),
            ("depth", number(depth)),
            ("maxDepth", number(max_depth)),
        ]
        .into_iter()
        .map(|(name, value)| (async_graphql::Name::new(name), value))
        .collect(),
    )
}

#[async_trait::async_trait]
impl Extension for CostOfOneRequest {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if let Ok(mut validated) = self.validated.lock() {
            *validated = Some((result.complexity, result.depth));
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let validated = self.validated.lock().ok().and_then(|validated| *validated);
        let Some((complexity, depth)) = validated else { return response };
        if ctx.data_opt::<GeneratedByAsk>().is_none()
            && let Some(app) = ctx.data_opt::<Arc<AppContext>>()
        {
            app.metrics.observe_operation_cost(operation_name, complexity);
        }
        if ctx.data_opt::<CostRequested>().is_some() {
            response.extensions.insert(
                "cost".to_string(),
                cost_value(complexity, depth, self.max_complexity, self.max_depth),
            );
        }
        response
    }
}

/// Whether a header value asks for the cost (`on`, `true`, `1`).
pub fn asks_for_cost(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_asks_for_the_cost_only_when_switched_on() {
        assert!(asks_for_cost(Some("on")) && asks_for_cost(Some(" ON ")) && asks_for_cost(Some("1")));
        assert!(!asks_for_cost(None) && !asks_for_cost(Some("off")) && !asks_for_cost(Some("")));
    }
}

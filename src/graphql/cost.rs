//! What each operation costs: the complexity the limit is checked against (each field counts 1,
//! a list field its page size or limit), recorded per operation name in the metrics, and
//! returned in `extensions.cost` to a client that asks with `x-salesgraph-cost: on`, so that
//! the teams that own queries can see what they spend before the limit refuses them.

use std::sync::Mutex;

use async_graphql::{Response, ValidationResult, Value};

use crate::metrics::Metrics;

/// The request header that asks for `extensions.cost`.
pub const COST_HEADER: &str = "x-salesgraph-cost";

/// Marks a request whose client asked for its cost in the answer.
#[derive(Debug, Clone, Copy)]
pub struct CostRequested;

/// The limits an operation's cost is measured against.
#[derive(Debug, Clone, Copy)]
pub struct CostLimits {
    pub max_complexity: usize,
    pub max_depth: usize,
}

/// The cost of one request's operation: noted when validation measures it, reported when the
/// operation has run.
pub struct MeasuredCost {
    limits: CostLimits,
    validated: Mutex<Option<(usize, usize)>>,
}

impl MeasuredCost {
    pub fn new(limits: CostLimits) -> Self {
        Self { limits, validated: Mutex::new(None) }
    }

    pub fn note(&self, validated: &ValidationResult) {
        if let Ok(mut noted) = self.validated.lock() {
            *noted = Some((validated.complexity, validated.depth));
        }
    }

    /// Records the cost in `metrics` (given for the client's own operations, not for those
    /// `ask` writes) and states it in `extensions.cost` when the client asked.
    pub fn report(
        &self,
        operation_name: Option<&str>,
        metrics: Option<&Metrics>,
        requested: bool,
        response: &mut Response,
    ) {
        let noted = self.validated.lock().ok().and_then(|noted| *noted);
        let Some((complexity, depth)) = noted else { return };
        if let Some(metrics) = metrics {
            metrics.observe_operation_cost(operation_name, complexity);
        }
        if requested {
            response.extensions.insert("cost".to_string(), cost_value(complexity, depth, self.limits));
        }
    }
}

/// `extensions.cost` of an answer.
fn cost_value(complexity: usize, depth: usize, limits: CostLimits) -> Value {
    let number = |n: usize| Value::from(n as u64);
    Value::Object(
        [
            ("complexity", number(complexity)),
            ("maxComplexity", number(limits.max_complexity)),
            ("depth", number(depth)),
            ("maxDepth", number(limits.max_depth)),
        ]
        .into_iter()
        .map(|(name, value)| (async_graphql::Name::new(name), value))
        .collect(),
    )
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

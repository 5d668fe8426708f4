//! Prometheus metrics (the official `prometheus-client`, with a registry per application rather
//! than a process-wide one, so that several servers in one test process keep their own counts).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub path: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PathLabels {
    pub path: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoaderLabels {
    pub loader: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

/// Distinct operation names the cost histogram keeps apart: names come from clients, so a
/// client inventing a name per request must not grow the registry without end.
const OPERATIONS_NAMED: usize = 200;
/// The label of operations sent without a name, and of names beyond [`OPERATIONS_NAMED`].
pub const ANONYMOUS_OPERATION: &str = "(anonymous)";
pub const OTHER_OPERATION: &str = "(other)";

type HistogramFamily = Family<PathLabels, Histogram, fn() -> Histogram>;
type CostFamily = Family<OperationLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: HistogramFamily,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub db_queries: Counter,
    pub db_pool: Family<PoolLabels, Gauge>,
    pub data_version: Gauge,
    /// The data version whose usual forecast backtests are all computed (0: none yet).
    pub backtests_ready: Gauge,
    /// The data version whose day groups are all in memory (or as many as the budget allows).
    pub day_groups_ready: Gauge,
    /// Heap bytes of the day groups held.
    pub day_groups_bytes: Gauge,
    /// The data version whose recent sale rows are checked and in memory (as the budget allows).
    pub recent_rows_ready: Gauge,
    /// Heap bytes of the recent sale rows held.
    pub recent_rows_bytes: Gauge,
    /// Batches the request dataloaders ran, by loader (models, countries): entities and pages
    /// that name many models should cost one batch per request each.
    pub loader_batches: Family<LoaderLabels, Counter>,
    /// The complexity of each executed operation, by operation name.
    operation_cost: CostFamily,
    operations_named: std::sync::Mutex<std::collections::HashSet<String>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
}

fn cost_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("salesgraph");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let (cache_hits, cache_misses, db_queries) =
            (Counter::default(), Counter::default(), Counter::default());
        let db_pool = Family::<PoolLabels, Gauge>::default();
        let data_version = Gauge::default();
        let backtests_ready = Gauge::default();
        let (day_groups_ready, day_groups_bytes) = (Gauge::default(), Gauge::default());
        let (recent_rows_ready, recent_rows_bytes) = (Gauge::default(), Gauge::default());
        let loader_batches = Family::<LoaderLabels, Counter>::default();
        let operation_cost: CostFamily = Family::new_with_constructor(cost_histogram);
        registry.register("http_requests", "HTTP requests by path and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        registry.register("cache_hits", "GraphQL answers served from the response cache", cache_hits.clone());
        registry.register(
            "cache_misses",
            "Cacheable GraphQL answers computed from the data",
            cache_misses.clone(),
        );
        registry.register("db_queries", "Database queries run on request paths", db_queries.clone());
        registry.register("db_pool_connections", "Database pool connections by state", db_pool.clone());
        registry.register("data_version", "Data version currently served", data_version.clone());
        registry.register(
            "backtests_ready_version",
            "Data version whose usual forecast backtests are computed ahead",
            backtests_ready.clone(),
        );
        registry.register(
            "day_groups_ready_version",
            "Data version whose day groups (for partial months of day ranges) are in memory",
            day_groups_ready.clone(),
        );
        registry.register("day_groups_bytes", "Heap bytes of the day groups held", day_groups_bytes.clone());
        registry.register(
            "recent_rows_ready_version",
            "Data version whose newest months' sale rows (for pages) are in memory",
            recent_rows_ready.clone(),
        );
        registry.register(
            "recent_rows_bytes",
            "Heap bytes of the recent sale rows held",
            recent_rows_bytes.clone(),
        );
        registry.register(
            "dataloader_batches",
            "Batches the per-request dataloaders ran, by loader",
            loader_batches.clone(),
        );
        registry.register(
            "operation_complexity",
            "Complexity of executed GraphQL operations (as SALESGRAPH_MAX_COMPLEXITY counts it), by operation name",
            operation_cost.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            cache_hits,
            cache_misses,
            db_queries,
            db_pool,
            data_version,
            backtests_ready,
            day_groups_ready,
            day_groups_bytes,
            recent_rows_ready,
            recent_rows_bytes,
            loader_batches,
            operation_cost,
            operations_named: Default::default(),
        }
    }

    /// The batch counter of one dataloader.
    pub fn loader_batches(&self, loader: &str) -> Counter {
        self.loader_batches.get_or_create(&LoaderLabels { loader: loader.to_string() }).clone()
    }

    /// Records an executed operation's complexity under its name (or a shared label once
    /// [`OPERATIONS_NAMED`] names are known).
    pub fn observe_operation_cost(&self, operation: Option<&str>, complexity: usize) {
        let label = match operation {
            None => ANONYMOUS_OPERATION.to_string(),
            Some(name) => match self.operations_named.lock() {
                Ok(named) if named.contains(name) => name.to_string(),
                Ok(mut named) if named.len() < OPERATIONS_NAMED => {
                    named.insert(name.to_string());
                    name.to_string()
                }
                _ => OTHER_OPERATION.to_string(),
            },
        };
        self.operation_cost.get_or_create(&OperationLabels { operation: label }).observe(complexity as f64);
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_beyond_the_bound_share_one_label() {
        let metrics = Metrics::new();
        for i in 0..OPERATIONS_NAMED + 50 {
            metrics.observe_operation_cost(Some(&format!("Op{i}")), 3);
        }
        metrics.observe_operation_cost(Some("Op0"), 5);
        metrics.observe_operation_cost(None, 1);
        let text = metrics.render();
        let labels: std::collections::HashSet<&str> = text
            .lines()
            .filter(|line| line.starts_with("salesgraph_operation_complexity_count"))
            .filter_map(|line| line.split('"').nth(1))
            .collect();
        assert_eq!(labels.len(), OPERATIONS_NAMED + 2, "named, other and anonymous");
        assert!(labels.contains(OTHER_OPERATION) && labels.contains(ANONYMOUS_OPERATION));
        assert!(text.contains("salesgraph_operation_complexity_count{operation=\"Op0\"} 2"), "{text}");
    }
}

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

type HistogramFamily = Family<PathLabels, Histogram, fn() -> Histogram>;

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
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
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
        }
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

//! Logs and request tracing: the subscriber every command logs through, and the span each HTTP
//! request runs in. The span carries a request id, which every event inside it (the audit line
//! among them) is logged with and which the response returns as `x-request-id`, so that a
//! client's report of a failed request leads to its log lines.
//!
//! With OpenTelemetry export switched on ([`otlp`]), the request span continues the trace of an
//! incoming W3C `traceparent`, and spans made for traces only (the GraphQL operation, expensive
//! resolvers, database queries) are exported beneath it; the log lines never show them.

pub mod otlp;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing::Metadata;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{FilterExt, LevelFilter, dynamic_filter_fn, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use otlp::TelemetryError;

/// The target of spans made for traces only: exported when tracing is on, never logged, and
/// never created when it is off.
pub const TRACE_TARGET: &str = "salesgraph::trace";

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client.
const MAX_INCOMING_ID: usize = 64;

/// Spans made for traces only: ours, and those sea-orm makes for each database query.
fn trace_only(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && (metadata.target() == TRACE_TARGET || metadata.target().starts_with("sea_orm"))
}

/// The most detailed spans a trace takes: finer ones stay out of exported traces.
const TRACED_MAX_LEVEL: tracing::Level = tracing::Level::INFO;

/// The spans a trace is made of: salesgraph's (the request span among them) and sea-orm's.
fn traced(metadata: &Metadata<'_>) -> bool {
    metadata.is_span()
        && *metadata.level() <= TRACED_MAX_LEVEL
        && (metadata.target().starts_with("salesgraph") || metadata.target().starts_with("sea_orm"))
}

/// The running trace export, flushed by [`Telemetry::shutdown`].
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still batched and stops the exporter (a no-op when none runs).
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else { return };
        // The SDK's shutdown blocks until its export thread is done, and that export runs on
        // this runtime: wait for it off the runtime's workers.
        let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = stopped {
            tracing::warn!(%error, "the last traces may not have been exported");
        }
    }
}

/// Logs to standard error at the level `RUST_LOG` sets (default `info`), and exports traces
/// when the `OTEL_*` variables ask for it.
pub fn init_subscriber() -> Result<Telemetry, TelemetryError> {
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = otlp::start()?;
    let logs = log_layer(log_filter);
    // Two arms rather than an `Option` layer: a `None` layer stands for one that wants every
    // callsite, which turns each `debug!`/`trace!` the libraries make on a request's way into
    // a filter evaluation per call, even when only warnings are logged.
    match &provider {
        Some(provider) => tracing_subscriber::registry().with(logs).with(trace_layer(provider)).init(),
        None => tracing_subscriber::registry().with(logs).init(),
    }
    Ok(Telemetry { provider })
}

/// The log lines: what `log_filter` lets through, without the spans made for traces only.
/// The second filter rules out no level, and says so: without a hint the pair would have none,
/// and `tracing` would ask the filters about every `debug!`/`trace!` callsite on every call
/// rather than dismissing those below the log level with one comparison.
fn log_layer<S>(log_filter: EnvFilter) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let not_trace_only = filter_fn(|metadata| !trace_only(metadata)).with_max_level_hint(LevelFilter::TRACE);
    tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(log_filter.and(not_trace_only))
}

fn trace_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider;
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(otlp::SERVICE_NAME))
        .with_location(false)
        .with_threads(false)
        // A database query outside any request (the data-version poll, ingest) would be a
        // trace of its own every second: only queries a traced span runs are exported.
        .with_filter(
            dynamic_filter_fn(|metadata, cx| {
                traced(metadata)
                    && (!metadata.target().starts_with("sea_orm") || cx.lookup_current().is_some())
            })
            .with_max_level_hint(LevelFilter::from_level(TRACED_MAX_LEVEL)),
        )
}

/// The id of a request: the caller's own `x-request-id` when it is a plain token (up to 64
/// letters, digits, `-`, `_` or `.`, as a gateway in front passes it on), otherwise a fresh
/// one, so that nothing a client sends can forge or garble a log line.
pub fn request_id(incoming: Option<&HeaderValue>) -> String {
    let plain = |id: &&str| {
        !id.is_empty()
            && id.len() <= MAX_INCOMING_ID
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if let Some(id) = incoming.and_then(|value| value.to_str().ok()).filter(plain) {
        return id.to_string();
    }
    fresh_request_id()
}

/// 32 hex digits: this process's random half, then a count of the ids it has made. An id only
/// has to be unique, not secret, and a system call for random bytes on every request cost a
/// cached answer a fiftieth of its time.
fn fresh_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            // No entropy source is no reason to refuse requests: the start time and the
            // process id still tell processes apart.
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            bytes = ((nanos.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)).to_le_bytes();
        }
        u64::from_le_bytes(bytes)
    });
    format!("{process:016x}{:016x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

tokio::task_local! {
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request this task serves ("-" outside one): the audit line states it itself,
/// so that it stays there even where a log filter leaves the request span out.
pub fn current_request_id() -> String {
    CURRENT_REQUEST_ID.try_with(String::clone).unwrap_or_else(|_| "-".to_string())
}

/// Middleware: runs the request in a `request` span (id, method, path) and returns the id.
/// While traces are exported, the span continues the trace of the request's `traceparent`.
pub async fn request_span(request: Request, next: Next) -> Response {
    let id = request_id(request.headers().get(&REQUEST_ID));
    let (method, path) = (request.method(), request.uri().path());
    let span = if otlp::exporting() {
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %method,
            path = %path,
            otel.kind = "server",
            // The method alone, as OpenTelemetry names a server span without a route template:
            // a path a client chose must not make span names without bound.
            otel.name = %method,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&opentelemetry_http::HeaderExtractor(request.headers()))
        });
        // A span the trace filter left out has no parent to set: nothing is lost.
        let _ = span.set_parent(parent);
        span
    } else {
        tracing::info_span!("request", request_id = %id, method = %method, path = %path)
    };
    let mut response = CURRENT_REQUEST_ID.scope(id.clone(), next.run(request)).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Subscriber;

    #[test]
    fn levels_below_the_log_level_are_dismissed_without_asking_the_filters() {
        let subscriber = tracing_subscriber::registry().with(log_layer(EnvFilter::new("warn")));
        assert_eq!(subscriber.max_level_hint(), Some(LevelFilter::WARN));
        tracing::subscriber::with_default(subscriber, || {
            assert!(tracing::info_span!("request").is_disabled());
            assert!(tracing::warn_span!(target: TRACE_TARGET, "graphql.operation").is_disabled());
            assert!(!tracing::warn_span!("request").is_disabled());
        });
        let verbose = tracing_subscriber::registry().with(log_layer(EnvFilter::new("info,hyper=trace")));
        assert_eq!(verbose.max_level_hint(), Some(LevelFilter::TRACE));
    }

    #[test]
    fn plain_incoming_ids_are_kept_and_others_replaced() {
        let keep = HeaderValue::from_static("gw-1234.abc_DEF");
        assert_eq!(request_id(Some(&keep)), "gw-1234.abc_DEF");
        for odd in ["", "a b", "id\"=x", "ünï", &"x".repeat(65)] {
            let value = HeaderValue::from_str(odd).unwrap_or(HeaderValue::from_static("bad value"));
            let id = request_id(Some(&value));
            assert_eq!(id.len(), 32, "{odd:?} -> {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        assert_ne!(request_id(None), request_id(None));
    }
}

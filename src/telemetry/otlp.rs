//! OpenTelemetry trace export, configured by the standard `OTEL_*` variables: with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, the spans of
//! every request are batched and sent over OTLP/HTTP (protobuf) to a collector; without it no
//! exporter, no propagator and no trace-only span exists, so tracing costs nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_http::hyper::HyperClient;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The name traces carry when `OTEL_SERVICE_NAME` does not set another, and the instrumentation
/// scope of salesgraph's spans.
pub(super) const SERVICE_NAME: &str = "salesgraph";

/// How long one export may take when `OTEL_EXPORTER_OTLP_TIMEOUT` does not say (the standard's
/// default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: the request middleware reads `traceparent` only then.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// A setting of the trace export that salesgraph cannot honour, named as the operator wrote it.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "{variable}={value:?} is not supported: salesgraph exports traces over OTLP/HTTP with protobuf; set it to \"http/protobuf\" or unset it"
    )]
    UnsupportedProtocol { variable: &'static str, value: String },
    #[error("OTEL_TRACES_EXPORTER={0:?} is not supported: use \"otlp\", or \"none\" to export no traces")]
    UnsupportedExporter(String),
    #[error("{variable}={value:?} is not a number of milliseconds")]
    InvalidTimeout { variable: &'static str, value: String },
    #[error("trace export runs on the server's Tokio runtime, and none is running")]
    NoRuntime,
    #[error("the OTLP trace exporter cannot be built: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// What the `OTEL_*` variables ask of trace export.
#[derive(Debug, PartialEq, Eq)]
pub struct ExportSettings {
    pub timeout: Duration,
}

/// Reads the standard variables through `var`: `None` when no trace is to be exported (no
/// endpoint, `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`). The endpoint itself,
/// headers, sampler, batch sizes and resource attributes are read by the OpenTelemetry SDK.
pub fn export_settings(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<ExportSettings>, TelemetryError> {
    let set = |name: &str| var(name).map(|value| value.trim().to_string()).filter(|value| !value.is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match set("OTEL_TRACES_EXPORTER") {
        Some(exporter) if exporter.eq_ignore_ascii_case("none") => return Ok(None),
        Some(exporter) if !exporter.eq_ignore_ascii_case("otlp") => {
            return Err(TelemetryError::UnsupportedExporter(exporter));
        }
        _ => {}
    }
    if set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none() && set("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
        return Ok(None);
    }
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(value) = set(variable) {
            if !value.eq_ignore_ascii_case("http/protobuf") {
                return Err(TelemetryError::UnsupportedProtocol { variable, value });
            }
            break;
        }
    }
    let mut timeout = DEFAULT_TIMEOUT;
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"] {
        if let Some(value) = set(variable) {
            let millis: u64 = value
                .parse()
                .map_err(|_| TelemetryError::InvalidTimeout { variable, value: value.clone() })?;
            timeout = Duration::from_millis(millis);
            break;
        }
    }
    Ok(Some(ExportSettings { timeout }))
}

/// The tracer provider the environment asks for, started; `None` when it asks for none.
pub fn start() -> Result<Option<SdkTracerProvider>, TelemetryError> {
    let Some(settings) = export_settings(|name| std::env::var(name).ok())? else {
        return Ok(None);
    };
    let client = OnServerRuntime {
        runtime: tokio::runtime::Handle::try_current().map_err(|_| TelemetryError::NoRuntime)?,
        client: Arc::new(HyperClient::with_default_connector(settings.timeout, None)),
    };
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_timeout(settings.timeout)
        .build()?;
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |name| name.trim().is_empty()) {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    let provider =
        SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    EXPORTING.store(true, Ordering::Relaxed);
    Ok(Some(provider))
}

/// The HTTP client of the exporter. The SDK exports from a thread of its own, which has no
/// Tokio reactor for hyper's connections, so each export runs as a task on the server's runtime.
#[derive(Debug)]
struct OnServerRuntime {
    runtime: tokio::runtime::Handle,
    client: Arc<HyperClient>,
}

#[async_trait::async_trait]
impl HttpClient for OnServerRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime.spawn(async move { client.send_bytes(request).await }).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<ExportSettings>, TelemetryError> {
        export_settings(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string()))
    }

    #[test]
    fn traces_are_exported_only_when_an_endpoint_is_set_and_nothing_switches_them_off() {
        assert_eq!(settings(&[]).unwrap(), None);
        assert_eq!(settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).unwrap(), None);
        let on = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]).unwrap();
        assert_eq!(on, Some(ExportSettings { timeout: DEFAULT_TIMEOUT }));
        assert!(
            settings(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")]).unwrap().is_some()
        );
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(settings(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]).unwrap(), None);
        assert_eq!(settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]).unwrap(), None);
        assert!(settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "otlp")]).unwrap().is_some());
    }

    #[test]
    fn settings_salesgraph_cannot_honour_are_named() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let error = settings(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err().to_string();
        assert!(
            error.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\"") && error.contains("http/protobuf"),
            "{error}"
        );
        let signal = settings(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]);
        assert!(signal.unwrap_err().to_string().contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"));
        assert!(settings(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).unwrap().is_some());
        let error = settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err().to_string();
        assert!(error.contains("\"zipkin\""), "{error}");
        let error = settings(&[endpoint, ("OTEL_EXPORTER_OTLP_TIMEOUT", "5s")]).unwrap_err().to_string();
        assert!(error.contains("OTEL_EXPORTER_OTLP_TIMEOUT=\"5s\""), "{error}");
        let timeout = settings(&[endpoint, ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")]).unwrap().unwrap().timeout;
        assert_eq!(timeout, Duration::from_millis(2500));
    }
}

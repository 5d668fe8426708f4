//! OpenTelemetry traces: the real binary, with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an
//! OTLP/HTTP receiver run by this test, continues the trace of a router's `traceparent` and
//! exports the request, the GraphQL operation (named, typed, with its outcome), the expensive
//! resolvers and the database queries beneath it, and never the token or the variables.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use common::{ServerProcess, TestDb, small_seed};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use prost::Message;
use salesgraph::auth::{Role, TokenKeys, Viewer};
use serde_json::json;

const SECRET: &str = "traces-test-secret";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const ROUTER_SPAN_ID: &str = "00f067aa0ba902b7";

/// A span as received, with the service that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<String> {
        self.span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| text(kv.value.as_ref()))
    }
    fn trace_id(&self) -> String {
        hex::encode(&self.span.trace_id)
    }
    fn span_id(&self) -> String {
        hex::encode(&self.span.span_id)
    }
    fn parent_id(&self) -> String {
        hex::encode(&self.span.parent_span_id)
    }
    fn status(&self) -> StatusCode {
        self.span.status.as_ref().map_or(StatusCode::Unset, |status| status.code())
    }
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        other => Some(format!("{other:?}")),
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// The collector's side of OTLP/HTTP: protobuf export requests on `/v1/traces`.
async fn receive(State(inbox): State<Inbox>, body: Bytes) -> axum::http::StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return axum::http::StatusCode::BAD_REQUEST;
    };
    let mut inbox = inbox.lock().unwrap_or_else(|e| e.into_inner());
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv: &&KeyValue| kv.key == "service.name"))
            .and_then(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                inbox.push(Received { service: service.clone(), span });
            }
        }
    }
    axum::http::StatusCode::OK
}

async fn start_receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let app = axum::Router::new().route("/v1/traces", post(receive)).with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let address = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), inbox)
}

/// Waits until the receiver holds a span that `done` accepts; returns everything received.
async fn spans_until(inbox: &Inbox, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans = inbox.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if done(&spans) {
            return spans;
        }
        assert!(Instant::now() < deadline, "spans never arrived; received: {:#?}", names(&spans));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn names(spans: &[Received]) -> Vec<(String, String, String)> {
    spans.iter().map(|s| (s.span.name.clone(), s.span_id(), s.parent_id())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operation_continues_the_routers_trace_with_resolver_and_database_spans_and_no_secrets() {
    let db = TestDb::new().await;
    db.seed(&small_seed(4_000, 5)).await;
    let (collector, inbox) = start_receiver().await;
    let server = ServerProcess::start(
        &db,
        SECRET,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", ""),
        ],
    )
    .await;
    let base = server.graphql_url.clone();
    let mut child = server.child;
    let keys = TokenKeys::hs256(SECRET.as_bytes());
    let admin =
        keys.issue(&Viewer::new("tracer", Role::Admin, Vec::new()), Duration::from_secs(600)).expect("token");
    let analyst = keys
        .issue(&Viewer::new("analyst-7", Role::Analyst, Vec::new()), Duration::from_secs(600))
        .expect("token");
    let client = reqwest::Client::new();
    let post = |token: &str, traceparent: Option<String>, body: serde_json::Value| {
        let mut request = client.post(&base).bearer_auth(token).json(&body);
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        async move { request.send().await.expect("send").json::<serde_json::Value>().await.expect("json") }
    };

    // Through a router: its traceparent, a named query with variables, expensive resolvers and
    // a resolver that reads the database (stock on hand).
    let secret_variable = "2023-02-17";
    let answer = post(
        &admin,
        Some(format!("00-{TRACE_ID}-{ROUTER_SPAN_ID}-01")),
        json!({
            "query": "query MarketOutlook($to: Date!) {
                topModels(filter: { countries: [\"DE\"], to: $to }, limit: 3) { units }
                forecast(filter: { countries: [\"DE\"] }, limit: 2, horizonMonths: 3) { predictions { units } }
                inventoryPlan(country: \"DE\") { onHand }
            }",
            "operationName": "MarketOutlook",
            "variables": { "to": secret_variable },
        }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    // Without a router, and refused: an analyst asking for money.
    let refused = post(&analyst, None, json!({ "query": "{ models { name basePrice } }" })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");

    spans_until(&inbox, |spans| {
        spans.iter().any(|s| s.span.name == "query MarketOutlook")
            && spans.iter().any(|s| s.span.name == "query" && s.status() == StatusCode::Error)
    })
    .await;
    // Spans of the same request may come in a later batch than the operation's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spans = inbox.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let by_id: HashMap<String, &Received> = spans.iter().map(|s| (s.span_id(), s)).collect();

    let operation = spans.iter().find(|s| s.span.name == "query MarketOutlook").expect("the operation span");
    assert_eq!(operation.service, "salesgraph");
    assert_eq!(operation.trace_id(), TRACE_ID, "the operation continues the router's trace");
    assert_eq!(operation.attribute("graphql.operation.name").as_deref(), Some("MarketOutlook"));
    assert_eq!(operation.attribute("graphql.operation.type").as_deref(), Some("query"));
    assert_eq!(operation.attribute("http.response.status_code").as_deref(), Some("200"));
    assert_eq!(operation.status(), StatusCode::Ok);
    let request = by_id.get(&operation.parent_id()).expect("the operation's parent was exported");
    assert_eq!(request.span.name, "POST");
    assert_eq!(request.parent_id(), ROUTER_SPAN_ID, "the request span's parent is the router's span");

    // Resolvers and database queries beneath the operation.
    let under_operation = |span: &Received| {
        let mut at = span;
        for _ in 0..16 {
            if at.span_id() == operation.span_id() {
                return true;
            }
            match by_id.get(&at.parent_id()) {
                Some(parent) => at = parent,
                None => return false,
            }
        }
        false
    };
    for name in ["forecast models", "inventory plan", "summarize"] {
        let span = spans.iter().find(|s| s.span.name == name).unwrap_or_else(|| panic!("no {name:?} span"));
        assert!(under_operation(span), "{name:?} is not beneath the operation: {:#?}", names(&spans));
        assert_eq!(span.trace_id(), TRACE_ID);
    }
    let database: Vec<&Received> =
        spans.iter().filter(|s| s.attribute("db.system").is_some() && under_operation(s)).collect();
    assert!(!database.is_empty(), "no database span beneath the operation: {:#?}", names(&spans));
    let backend = if db.url.starts_with("postgres") { "postgresql" } else { "sqlite" };
    assert!(database.iter().all(|s| s.attribute("db.system").as_deref() == Some(backend)));
    // Queries outside any request (the poll for new data versions) make no traces of their own.
    let lone_queries: Vec<_> = spans
        .iter()
        .filter(|s| s.span.name.starts_with("sea_orm") && s.span.parent_span_id.is_empty())
        .collect();
    assert!(lone_queries.is_empty(), "database spans without a request: {:#?}", names(&spans));

    // The refused operation: a trace of its own, its outcome stated by code.
    let refused_span = spans
        .iter()
        .find(|s| s.span.name == "query" && s.status() == StatusCode::Error)
        .expect("the refused operation");
    assert_ne!(refused_span.trace_id(), TRACE_ID);
    assert_eq!(refused_span.attribute("graphql.error.codes").as_deref(), Some("FORBIDDEN"));
    assert_eq!(refused_span.attribute("graphql.operation.name"), None, "an anonymous operation");

    // Nothing a client sent in confidence: no token, no variable, no query text.
    for span in &spans {
        for kv in &span.span.attributes {
            let value = text(kv.value.as_ref()).unwrap_or_default();
            for secret in [admin.as_str(), analyst.as_str(), secret_variable, "basePrice", "topModels"] {
                assert!(!value.contains(secret), "{} carries {:?} in {}", span.span.name, secret, kv.key);
            }
        }
    }
    let _ = child.kill().await;
}

#[tokio::test]
async fn a_protocol_salesgraph_cannot_export_with_stops_it_with_the_setting_named() {
    let db = TestDb::new().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_salesgraph"))
        .arg("schema")
        .env("DATABASE_URL", &db.url)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .output()
        .await
        .expect("run salesgraph");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\"") && stderr.contains("http/protobuf"),
        "{stderr}"
    );
}

//! Traces over OTLP/HTTP (protobuf) to a collector, when `telemetry.otlp_endpoint` is set.
//!
//! - Every HTTP request is a server span named `METHOD /route/{template}`; a W3C `traceparent`
//!   header on the request makes it a child of the caller's span.
//! - The service functions' spans (`#[tracing::instrument]`, debug level) are its children, at
//!   any log level: the exporter has its own filter.
//! - The request span records `trace_id` and `span_id`, so JSON log lines written during a
//!   request carry them (under `span`).
//! - Spans are batched and sent from the exporter's own thread; a collector that is down costs
//!   dropped spans, never a slower request. `Tracing::shutdown` flushes what is queued.

use opentelemetry::{
    Context, KeyValue,
    propagation::{Extractor, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use poem::http::{HeaderMap, Method};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The exporter pipeline; keep it for the life of the process and shut it down at the end.
pub struct Tracing {
    provider: SdkTracerProvider,
}

/// The tracer for spans made after the fact (database statements, [`statement_span`]); set
/// once when tracing is installed.
static STATEMENT_TRACER: std::sync::OnceLock<opentelemetry_sdk::trace::Tracer> =
    std::sync::OnceLock::new();

impl Tracing {
    /// Export to `endpoint` (the collector's base URL, e.g. `http://otel-collector:4318`; spans
    /// go to `{endpoint}/v1/traces`).
    pub fn new(endpoint: &url::Url) -> anyhow::Result<Self> {
        let traces = format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'));
        // A blocking client owns a runtime of its own, which may not be made (or dropped)
        // inside the server's: build it on a thread of its own; the exporter then lives on the
        // batch processor's thread.
        let client = std::thread::spawn(|| {
            reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("building the OTLP HTTP client panicked"))??;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(traces)
            .with_http_client(client)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name("colink")
                    .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                    .build(),
            )
            .build();
        let _ = STATEMENT_TRACER.set(provider.tracer("colink::db"));
        Ok(Self { provider })
    }

    pub fn tracer(&self) -> opentelemetry_sdk::trace::Tracer {
        self.provider.tracer("colink")
    }

    /// Send the spans still queued (at most a few seconds), then stop the exporter.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: flushing traces: {e}");
        }
    }
}

/// The span of one HTTP request, a child of the caller's when the request carries a W3C
/// `traceparent`. Its name and route are filled in by [`finish_request_span`].
pub fn request_span(method: &Method, headers: &HeaderMap) -> tracing::Span {
    let span = tracing::info_span!(
        target: "colink::http",
        "request",
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let ids = context.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", ids.trace_id().to_string());
        span.record("span_id", ids.span_id().to_string());
    }
    span
}

/// Name the request span after its route and record the answer.
pub fn finish_request_span(
    span: &tracing::Span,
    method: &Method,
    route: Option<&str>,
    status: u16,
) {
    let route = route.unwrap_or("unmatched");
    // The span was started when its ids were read (`request_span`): rename it directly.
    span.context()
        .span()
        .update_name(format!("{method} {route}"));
    span.record("http.route", route);
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}

/// The current span's context as a W3C `traceparent` (to carry it across a queue or a process).
pub fn current_traceparent() -> Option<String> {
    traceparent(&tracing::Span::current().context())
}

fn traceparent(context: &Context) -> Option<String> {
    let ids = context.span().span_context().clone();
    ids.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            ids.trace_id(),
            ids.span_id(),
            ids.trace_flags().to_u8()
        )
    })
}

/// A span continuing the trace of `traceparent` (a message's, across the outbox and the bus).
pub fn continued(span: tracing::Span, traceparent: Option<&str>) -> tracing::Span {
    if let Some(value) = traceparent {
        let mut headers = HeaderMap::new();
        if let Ok(v) = value.parse() {
            headers.insert("traceparent", v);
            let parent = TraceContextPropagator::new().extract(&Headers(&headers));
            let _ = span.set_parent(parent);
        }
    }
    span
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// A span for one database statement that just ran in the current task, as a child of the
/// current span (none for statements outside a traced operation). Named `OPERATION table`
/// (`SELECT users`); the statement text is left out, since a hand-written expression may hold
/// values.
pub fn statement_span(sql: &str, elapsed: std::time::Duration, failed: bool, system: &'static str) {
    use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
    let Some(tracer) = STATEMENT_TRACER.get() else {
        return;
    };
    let parent = tracing::Span::current().context();
    if !parent.span().span_context().is_valid() {
        return;
    }
    let end = std::time::SystemTime::now();
    let (operation, table) = summary(sql);
    let name = match &table {
        Some(table) => format!("{operation} {table}"),
        None => operation.clone(),
    };
    let mut attributes = vec![
        KeyValue::new("db.system.name", system),
        KeyValue::new("db.operation.name", operation),
    ];
    if let Some(table) = table {
        attributes.push(KeyValue::new("db.collection.name", table));
    }
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(end.checked_sub(elapsed).unwrap_or(end))
        .with_attributes(attributes)
        .start_with_context(tracer, &parent);
    if failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}

/// The statement's operation (`SELECT`) and first table (after FROM, INTO or UPDATE).
fn summary(sql: &str) -> (String, Option<String>) {
    let mut words = sql.split_whitespace();
    let operation = words.next().unwrap_or("SQL").to_ascii_uppercase();
    let mut words = sql.split_whitespace().peekable();
    let mut table = None;
    while let Some(word) = words.next() {
        if ["FROM", "INTO", "UPDATE"]
            .iter()
            .any(|k| word.eq_ignore_ascii_case(k))
            && let Some(next) = words.peek()
        {
            let name: String = next
                .trim_matches(|c| c == '"' || c == '`' || c == '(')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                table = Some(name);
                break;
            }
        }
    }
    (operation, table)
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn statements_are_named_by_operation_and_table() {
        assert_eq!(
            summary(r#"SELECT "users"."id" FROM "users" WHERE "users"."id" = $1"#),
            ("SELECT".into(), Some("users".into()))
        );
        assert_eq!(
            summary(r#"INSERT INTO "messages" ("id") VALUES (?)"#),
            ("INSERT".into(), Some("messages".into()))
        );
        assert_eq!(summary("BEGIN"), ("BEGIN".into(), None));
    }
}

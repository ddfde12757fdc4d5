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

//! Prometheus metrics, rendered in the text exposition format for `GET /metrics`.
//!
//! Two kinds of series, so that nothing is counted in two places:
//! - **Counted where it happens**, in [`Metrics`]' registry: HTTP requests and their duration
//!   (the edge, `api::edge`), messages stored (the message writer, after its commit), outbox
//!   publishes and dead letters (the relay), uploads completed, process figures.
//! - **Read at scrape time** ([`Reading`], taken by `service::system::reading`) from the state that
//!   already keeps them: the WebSocket gateway's counters (`realtime::metrics`), the outbox
//!   backlog, the search index's lag, the database pool, uploads cleaned, active users.
//!
//! Invariants:
//! - No label holds user data or an unbounded set of values: `route` is the template of the route
//!   that matched (`/api/v1/channels/{channel_id}`) or `unmatched`; `method` is a standard method
//!   or `other`; `status` is the numeric code; `reason` and `state` come from fixed lists here.
//! - Names follow Prometheus conventions: base units (seconds, bytes) and `_total` on counters.

use std::{borrow::Cow, collections::HashMap, time::Duration};

use poem::http::Method;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder, proto::MetricFamily,
};

/// Request durations, in seconds: fine below 100 ms where most requests are, and a bucket at
/// 2 s for the latency alert (`packaging/observability`).
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// One publish to the bus: microseconds in process, milliseconds to a broker.
const PUBLISH_BUCKETS: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
];

/// Why an event went to the dead-letter count instead of its consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetter {
    /// An outbox row whose payload is not an event this version knows: skipped by the relay so
    /// the rows behind it are published.
    Undecodable,
    /// A Kafka record a consumer could not read as an event (another program's, a newer
    /// version's, or damaged): copied to `<prefix>dlq` and skipped.
    UnreadableRecord,
    /// A work consumer (a plugin) failed on an event three times: set aside (Kafka: copied to
    /// `<prefix>dlq`) so the events behind it are handled.
    WorkFailed,
}

impl DeadLetter {
    const ALL: [DeadLetter; 3] = [
        DeadLetter::Undecodable,
        DeadLetter::UnreadableRecord,
        DeadLetter::WorkFailed,
    ];

    fn label(self) -> &'static str {
        match self {
            DeadLetter::Undecodable => "undecodable",
            DeadLetter::UnreadableRecord => "unreadable_record",
            DeadLetter::WorkFailed => "work_failed",
        }
    }
}

/// The series counted where things happen. Cheap to update from any task.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    /// Messages stored, counted after their transaction commits (duplicates by `client_id` are
    /// not new messages).
    pub messages_created: IntCounter,
    /// Uploads completed (the file confirmed and its content stored).
    pub uploads_completed: IntCounter,
    /// How long one publish to the bus took.
    pub outbox_publish: Histogram,
    /// Events the relay published (with `outbox_publish`'s sum: the bus's throughput).
    pub outbox_published: IntCounter,
    /// From a message's creation (its commit) to the hub's fan-out on this node: the outbox
    /// relay and the bus.
    pub fanout: Histogram,
    dead_letters: IntCounterVec,
    /// Partitions of the events topic this node's work consumers hold, by group (Kafka).
    pub work_partitions: IntGaugeVec,
    /// Plugin deliveries, by plugin and outcome (`delivered`, `failed`: an attempt that is
    /// tried again, `set_aside`: the last attempt failed).
    pub plugin_deliveries: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered."),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from receiving a request to its response head.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let messages_created = IntCounter::new(
            "messages_created_total",
            "Messages stored (top-level messages and thread replies).",
        )?;
        let uploads_completed =
            IntCounter::new("uploads_completed_total", "Files uploaded and confirmed.")?;
        let outbox_publish = Histogram::with_opts(
            HistogramOpts::new(
                "outbox_publish_duration_seconds",
                "Time the event bus took to accept one batch of events from the outbox relay \
                 (the events committed together, or read together while catching up).",
            )
            .buckets(PUBLISH_BUCKETS.to_vec()),
        )?;
        let outbox_published = IntCounter::new(
            "outbox_published_events_total",
            "Events the outbox relay published to the bus.",
        )?;
        let fanout = Histogram::with_opts(
            HistogramOpts::new(
                "websocket_fanout_duration_seconds",
                "Time from a message's creation to its fan-out to WebSocket clients.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
        )?;
        let (dead_letters, work_partitions, plugin_deliveries) = bus_series()?;
        let build = IntGaugeVec::new(
            Opts::new(
                "colink_build_info",
                "The running CoLink version (always 1).",
            ),
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(messages_created.clone()))?;
        registry.register(Box::new(uploads_completed.clone()))?;
        registry.register(Box::new(outbox_publish.clone()))?;
        registry.register(Box::new(outbox_published.clone()))?;
        registry.register(Box::new(fanout.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(work_partitions.clone()))?;
        registry.register(Box::new(plugin_deliveries.clone()))?;
        registry.register(Box::new(build))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            messages_created,
            uploads_completed,
            outbox_publish,
            outbox_published,
            fanout,
            dead_letters,
            work_partitions,
            plugin_deliveries,
        })
    }

    /// One answered request. `route` is the matched route's template ([`RouteNames::label`]),
    /// `None` when no route matched.
    pub fn observe_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: u16,
        took: Duration,
    ) {
        let method = method_label(method);
        let route = route.unwrap_or("unmatched");
        let status = status.to_string();
        self.http_requests
            .with_label_values(&[method, route, &status])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(took.as_secs_f64());
    }

    pub fn dead_letter(&self, reason: DeadLetter) {
        self.dead_letters.with_label_values(&[reason.label()]).inc();
    }

    /// Every series, in the text exposition format.
    pub fn render(&self, reading: &Reading) -> Result<String, prometheus::Error> {
        let mut families = self.registry.gather();
        families.extend(reading.families()?);
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new().encode(&families, &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// The bus consumers' series: `bus_dlq_events_total`, `bus_work_partitions` and
/// `plugin_deliveries_total`.
fn bus_series() -> Result<(IntCounterVec, IntGaugeVec, IntCounterVec), prometheus::Error> {
    let dead_letters = IntCounterVec::new(
        Opts::new(
            "bus_dlq_events_total",
            "Events set aside instead of delivered, by reason.",
        ),
        &["reason"],
    )?;
    for reason in DeadLetter::ALL {
        dead_letters.with_label_values(&[reason.label()]);
    }
    let work_partitions = IntGaugeVec::new(
        Opts::new(
            "bus_work_partitions",
            "Partitions of the events topic this node's work consumers hold (Kafka), by group.",
        ),
        &["group"],
    )?;
    let plugin_deliveries = IntCounterVec::new(
        Opts::new(
            "plugin_deliveries_total",
            "Deliveries of events to plugins (webhooks), by plugin and outcome: delivered, \
             failed (an attempt that is tried again), set_aside (the last attempt failed).",
        ),
        &["plugin", "outcome"],
    )?;
    Ok((dead_letters, work_partitions, plugin_deliveries))
}

/// The standard methods by name; anything else (extension methods) is `other`.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// The `route` label of a matched pattern: the OpenAPI path template for API operations
/// (poem-openapi registers `/channels/{id}/messages` as `/channels/:param0/messages`), poem's
/// own pattern in the same spelling otherwise.
#[derive(Debug, Default)]
pub struct RouteNames {
    templates: HashMap<String, String>,
    /// Where the API is nested: a path under it that no operation matched is reported with
    /// this pattern, and labelled `unmatched`.
    prefix: String,
}

impl RouteNames {
    /// From the OpenAPI document (JSON) whose paths are served under `prefix`.
    pub fn from_openapi(spec: &str, prefix: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let names = doc
            .get("paths")
            .and_then(|p| p.as_object())
            .into_iter()
            .flatten()
            .map(|(template, _)| {
                let mut n = 0;
                let registered: Vec<String> = template
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') && segment.ends_with('}') {
                            n += 1;
                            format!(":param{}", n - 1)
                        } else {
                            segment.to_owned()
                        }
                    })
                    .collect();
                (
                    format!("{prefix}{}", registered.join("/")),
                    format!("{prefix}{template}"),
                )
            })
            .collect();
        Self {
            templates: names,
            prefix: prefix.to_owned(),
        }
    }

    pub fn label<'a>(&'a self, pattern: &'a str) -> Cow<'a, str> {
        match self.templates.get(pattern) {
            Some(template) => Cow::Borrowed(template),
            None if pattern == self.prefix => Cow::Borrowed("unmatched"),
            None => route_label(pattern),
        }
    }
}

/// poem's pattern in OpenAPI's spelling: `:name` and `*name` segments become `{name}`.
fn route_label(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains([':', '*']) {
        return Cow::Borrowed(pattern);
    }
    let segments: Vec<Cow<'_, str>> = pattern
        .split('/')
        .map(|segment| match segment.strip_prefix([':', '*']) {
            Some(name) => Cow::Owned(format!("{{{name}}}")),
            None => Cow::Borrowed(segment),
        })
        .collect();
    Cow::Owned(segments.join("/"))
}

/// What the server already keeps and `/metrics` reads at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub websocket: crate::realtime::metrics::Snapshot,
    /// Outbox rows committed and not yet published (`None`: the database did not answer).
    pub outbox_pending: Option<u64>,
    /// How far the search index is behind the newest message; `None` when search is off or
    /// PostgreSQL's (which has no lag).
    pub search_lag: Option<Duration>,
    /// The request pool's connections: (in use, idle).
    pub db_pool: (u64, u64),
    /// Abandoned uploads removed since start.
    pub uploads_cleaned: u64,
    /// People (`None`: the database did not answer).
    pub users: Option<People>,
}

/// Accounts of people (bots and deactivated accounts left out).
#[derive(Debug, Clone, Copy, Default)]
pub struct People {
    pub total: u64,
    /// Active since midnight UTC.
    pub active_today: u64,
    pub active_30_days: u64,
}

impl Reading {
    fn families(&self) -> Result<Vec<MetricFamily>, prometheus::Error> {
        let scratch = Scratch(Registry::new());
        self.websocket_families(&scratch)?;
        if let Some(pending) = self.outbox_pending {
            scratch.gauge(
                "outbox_pending_events",
                "Outbox events committed and not yet published to the bus.",
                clamp(pending),
            )?;
        }
        if let Some(lag) = self.search_lag {
            let g = prometheus::Gauge::new(
                "search_index_lag_seconds",
                "How far the search index is behind the newest stored message.",
            )?;
            g.set(lag.as_secs_f64());
            scratch.0.register(Box::new(g))?;
        }
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database connections of the request pool, by state.",
            ),
            &["state"],
        )?;
        pool.with_label_values(&["active"])
            .set(clamp(self.db_pool.0));
        pool.with_label_values(&["idle"]).set(clamp(self.db_pool.1));
        scratch.0.register(Box::new(pool))?;
        scratch.counter(
            "uploads_cleaned_total",
            "Abandoned uploads removed since the server started.",
            self.uploads_cleaned,
        )?;
        if let Some(people) = self.users {
            let active = IntGaugeVec::new(
                Opts::new(
                    "users_active",
                    "People who used CoLink in the window (1d: since midnight UTC; 30d: 30 days).",
                ),
                &["window"],
            )?;
            active
                .with_label_values(&["1d"])
                .set(clamp(people.active_today));
            active
                .with_label_values(&["30d"])
                .set(clamp(people.active_30_days));
            scratch.0.register(Box::new(active))?;
            scratch.gauge(
                "users",
                "Accounts of people (bots and deactivated accounts left out).",
                clamp(people.total),
            )?;
        }
        Ok(scratch.0.gather())
    }

    fn websocket_families(&self, scratch: &Scratch) -> Result<(), prometheus::Error> {
        let ws = &self.websocket;
        scratch.gauge(
            "websocket_connections",
            "Open WebSocket connections.",
            ws.connections,
        )?;
        scratch.counter(
            "websocket_events_delivered_total",
            "Frames queued for WebSocket clients (events, typing, presence).",
            ws.frames_delivered,
        )?;
        scratch.counter(
            "websocket_events_dropped_total",
            "Frames that could not be queued because the connection was full or closing.",
            ws.frames_dropped,
        )?;
        scratch.counter(
            "websocket_slow_disconnects_total",
            "WebSocket connections closed because the client stopped reading.",
            ws.slow_disconnects,
        )?;
        scratch.counter(
            "websocket_lag_resyncs_total",
            "Times the gateway fell behind the bus and told its clients to resync.",
            ws.lag_resyncs,
        )?;
        scratch.counter(
            "websocket_rate_limited_frames_total",
            "Client frames refused by the per-connection rate limit.",
            ws.rate_limited_frames,
        )?;
        scratch.counter(
            "websocket_rejected_connections_total",
            "WebSocket connections refused (bad credential, too many for the user).",
            ws.rejected_connections,
        )?;
        Ok(())
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A registry filled for one scrape.
struct Scratch(Registry);

impl Scratch {
    fn gauge(&self, name: &str, help: &str, value: i64) -> Result<(), prometheus::Error> {
        let g = IntGauge::new(name, help)?;
        g.set(value);
        self.0.register(Box::new(g))
    }

    fn counter(&self, name: &str, help: &str, value: u64) -> Result<(), prometheus::Error> {
        let c = IntCounter::new(name, help)?;
        c.inc_by(value);
        self.0.register(Box::new(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled_by_template() {
        assert_eq!(
            route_label("/api/v1/channels/:channel_id/messages"),
            "/api/v1/channels/{channel_id}/messages"
        );
        assert_eq!(route_label("/api/v1/users/me"), "/api/v1/users/me");
        assert_eq!(route_label("/*path"), "/{path}");
    }

    #[test]
    fn api_routes_are_labelled_by_their_openapi_template() {
        let spec = r#"{"paths": {"/channels/{id}/messages": {}, "/users/me": {}}}"#;
        let names = RouteNames::from_openapi(spec, "/api/v1");
        assert_eq!(
            names.label("/api/v1/channels/:param0/messages"),
            "/api/v1/channels/{id}/messages"
        );
        assert_eq!(names.label("/api/v1/users/me"), "/api/v1/users/me");
        assert_eq!(names.label("/docs/:rest"), "/docs/{rest}");
        assert_eq!(names.label("/api/v1"), "unmatched");
    }

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&odd), "other");
    }

    #[test]
    fn every_named_series_is_rendered_even_before_anything_happened() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_request(
            &Method::GET,
            Some("/api/v1/channels/{channel_id}"),
            200,
            Duration::from_millis(3),
        );
        let reading = Reading {
            outbox_pending: Some(0),
            ..Reading::default()
        };
        let text = metrics.render(&reading).unwrap();
        for name in [
            "http_requests_total{method=\"GET\",route=\"/api/v1/channels/{channel_id}\",status=\"200\"} 1",
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/channels/{channel_id}\",le=\"0.005\"} 1",
            "messages_created_total 0",
            "bus_dlq_events_total{reason=\"undecodable\"} 0",
            "websocket_connections 0",
            "outbox_pending_events 0",
            "db_pool_connections{state=\"idle\"} 0",
            "uploads_cleaned_total 0",
            "colink_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}

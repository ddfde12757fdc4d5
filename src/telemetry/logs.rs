//! Logging: one structured line per event, pretty on a terminal or JSON (`telemetry.log_format`),
//! and, with `telemetry.otlp_endpoint`, spans exported over OTLP (`otlp.rs`). Installed once per
//! process by the CLI, never by `App::build`, so tests can run many apps in one process.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, Layer, filter::filter_fn, fmt, prelude::*};

use super::otlp::Tracing;
use crate::config::{LogFormat, TelemetryConfig};

/// What `init` installed that must be shut down at exit (the trace exporter).
pub struct Installed {
    pub tracing: Option<Tracing>,
}

impl Installed {
    /// Flush what is still queued for export.
    pub fn shutdown(&self) {
        if let Some(tracing) = &self.tracing {
            tracing.shutdown();
        }
    }
}

pub fn init(config: &TelemetryConfig) -> anyhow::Result<Installed> {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.log_format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let tracing = config
        .otlp_endpoint
        .as_ref()
        .map(Tracing::new)
        .transpose()?;
    // The exporter takes CoLink's spans down to debug (the service functions') whatever the log
    // level: traces are sampled by the collector, not by the log filter.
    let otel = tracing.as_ref().map(|t| {
        tracing_opentelemetry::layer()
            .with_tracer(t.tracer())
            .with_filter(filter_fn(|meta| {
                meta.is_span()
                    && meta.target().starts_with("colink")
                    && *meta.level() <= tracing::Level::DEBUG
            }))
    });
    let registry = tracing_subscriber::registry().with(otel);
    let result = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(tracing.is_some())
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().compact().with_filter(filter))
            .try_init()
    };
    // Already installed (e.g. twice in one test process): keep the first.
    let _ = result;
    Ok(Installed { tracing })
}

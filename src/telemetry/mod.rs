//! What CoLink tells operators about itself: logs (`logs.rs`), Prometheus metrics (`metrics.rs`,
//! served at `GET /metrics` or on `telemetry.metrics_bind`) and OTLP traces (`otlp.rs`).

mod logs;
pub mod metrics;
pub mod otlp;

pub use logs::init;
pub use metrics::Metrics;

//! What CoLink tells operators about itself: logs (`logs.rs`) and Prometheus metrics
//! (`metrics.rs`, served at `GET /metrics` or on `telemetry.metrics_bind`).

mod logs;
pub mod metrics;

pub use logs::init;
pub use metrics::Metrics;

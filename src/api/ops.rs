//! Operations endpoints (no `/api/v1` prefix): liveness, readiness and metrics.

use std::sync::Arc;

use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{Data, Json},
};
use serde_json::json;

use crate::app::AppState;

/// The process is alive.
#[handler]
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: each backend with its status and how long its probe took. 503 (`unavailable`) when
/// a backend the server needs (database, kv, storage) fails; 200 with `degraded` when only an
/// optional part is impaired (the search index being rebuilt, a shared bus down: everything
/// else works meanwhile, changes wait in the outbox); 200 with `ready` otherwise. `node` names
/// the node that answered.
#[handler]
pub async fn ready(state: Data<&Arc<AppState>>) -> Response {
    let probes = crate::service::system::probe_required(&state).await;
    let unavailable = probes.iter().any(|p| p.failed());
    let mut checks = serde_json::Map::new();
    for probe in &probes {
        let mut check = match &probe.result {
            Some(Err(e)) => json!({ "status": "error", "error": e }),
            _ => json!({ "status": "ok" }),
        };
        check["backend"] = probe.kind.into();
        check["latency_ms"] = json!((probe.latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0);
        checks.insert(probe.name.into(), check);
    }
    let (search, search_impaired) = match state.search.progress() {
        crate::search::Progress::Ready { lag, .. } => (
            json!({
                "status": "ok",
                "backend": "tantivy",
                "documents": state.search.documents(),
                "lag_seconds": lag.as_secs_f64(),
            }),
            false,
        ),
        crate::search::Progress::Live => (json!({ "status": "ok", "backend": "postgres" }), false),
        crate::search::Progress::Off => (json!({ "status": "off" }), false),
        crate::search::Progress::Rebuilding { done, total } => (
            json!({
                "status": "rebuilding",
                "backend": "tantivy",
                "done": done,
                "total": total,
            }),
            true,
        ),
    };
    checks.insert("search".into(), search);
    let bus = crate::service::system::probe_bus(&state).await;
    let bus_impaired = bus.failed();
    checks.insert(
        "bus".into(),
        match &bus.result {
            Some(Err(e)) => json!({ "status": "error", "backend": bus.kind, "error": e }),
            _ => json!({ "status": "ok", "backend": bus.kind }),
        },
    );
    let (status, code) = if unavailable {
        ("unavailable", StatusCode::SERVICE_UNAVAILABLE)
    } else if search_impaired || bus_impaired {
        ("degraded", StatusCode::OK)
    } else {
        ("ready", StatusCode::OK)
    };
    Json(json!({ "status": status, "node": state.node_id, "checks": checks }))
        .with_status(code)
        .into_response()
}

/// Prometheus metrics in the text exposition format (see `telemetry::metrics`); 404 here when
/// they are served on `telemetry.metrics_bind` instead.
#[handler]
pub async fn metrics(state: Data<&Arc<AppState>>) -> Response {
    if state.config.telemetry.metrics_bind.is_some() {
        return super::problem::response(
            crate::error::ErrorCode::NotFound,
            "metrics are served on telemetry.metrics_bind",
            None,
        );
    }
    render_metrics(&state).await
}

/// `/metrics` on the listener of `telemetry.metrics_bind`.
#[handler]
pub async fn metrics_listener(state: Data<&Arc<AppState>>) -> Response {
    render_metrics(&state).await
}

async fn render_metrics(state: &AppState) -> Response {
    let reading = crate::service::system::reading(state).await;
    match state.metrics.render(&reading) {
        Ok(text) => Response::builder()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "rendering the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

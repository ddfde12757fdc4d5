//! Operations endpoints (no `/api/v1` prefix): liveness and readiness.

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

/// Every configured backend answers; 503 with the failing checks otherwise.
#[handler]
pub async fn ready(state: Data<&Arc<AppState>>) -> Response {
    let probes = crate::service::system::probe_required(&state).await;
    let ok = !probes.iter().any(|p| p.failed());
    let mut checks = serde_json::Map::new();
    for probe in &probes {
        let check = match &probe.result {
            Some(Err(e)) => json!({ "status": "error", "error": e }),
            _ => json!({ "status": "ok" }),
        };
        checks.insert(probe.name.into(), check);
    }
    // Search does not decide readiness: while its index is rebuilt, everything else works.
    let search = match state.search.progress() {
        crate::search::Progress::Ready { lag, .. } => json!({
            "status": "ok",
            "documents": state.search.documents(),
            "lag_seconds": lag.as_secs_f64(),
        }),
        crate::search::Progress::Live => json!({ "status": "ok", "backend": "postgres" }),
        crate::search::Progress::Off => json!({ "status": "off" }),
        crate::search::Progress::Rebuilding { done, total } => json!({
            "status": "rebuilding",
            "done": done,
            "total": total,
        }),
    };
    checks.insert("search".into(), search);
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "checks": checks,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Json(body).with_status(status).into_response()
}

//! `GET /admin/system`: version, uptime, backends and the effective configuration.

use std::sync::Arc;

use poem_openapi::{Object, OpenApi, payload::Json};
use time::OffsetDateTime;

use crate::{
    api::{
        ApiTags,
        security::BearerAuth,
        statuses::{self as s, ApiResult},
    },
    app::AppState,
    service::{system, users},
};

pub struct SystemApi {
    pub state: Arc<AppState>,
}

/// One backend and how it answered just now.
#[derive(Object)]
struct Backend {
    /// database, kv, storage, search, bus or email.
    name: String,
    /// The configured implementation: sqlite or postgres, embedded, fs or s3, tantivy, postgres
    /// or off, memory, smtp or mailbox.
    kind: String,
    /// ok, error, or unchecked (parts without a probe: the in-process bus, mail delivery;
    /// search while off).
    health: String,
    /// How long the probe took, in milliseconds (0 when unchecked).
    latency_ms: f64,
    /// Why the probe failed.
    #[oai(skip_serializing_if_is_none)]
    error: Option<String>,
}

#[derive(Object)]
struct SystemInfo {
    version: String,
    started_at: OffsetDateTime,
    uptime_seconds: u64,
    backends: Vec<Backend>,
    /// The effective configuration (`colink check-config`), secrets redacted.
    config: serde_json::Value,
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl SystemApi {
    /// This server: version, uptime, each backend with its kind, health and probe latency, and
    /// the effective configuration with secrets redacted.
    #[oai(path = "/system", method = "get")]
    async fn system(&self, auth: BearerAuth) -> ApiResult<Json<SystemInfo>, (s::Authed,)> {
        users::require_admin(auth.0)?;
        let probes = system::probe_all(&self.state).await;
        let backends = probes
            .into_iter()
            .map(|p| {
                let (health, error) = match p.result {
                    Some(Ok(())) => ("ok", None),
                    Some(Err(e)) => ("error", Some(e)),
                    None => ("unchecked", None),
                };
                Backend {
                    name: p.name.into(),
                    kind: p.kind.into(),
                    health: health.into(),
                    latency_ms: p.latency.as_secs_f64() * 1000.0,
                    error,
                }
            })
            .collect();
        let uptime = OffsetDateTime::now_utc() - self.state.started_at;
        Ok(Json(SystemInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: self.state.started_at,
            uptime_seconds: u64::try_from(uptime.whole_seconds()).unwrap_or(0),
            backends,
            config: self.state.config.redacted_json(),
        }))
    }
}

//! `GET /admin/system`: version, uptime, backends and the effective configuration;
//! `GET /admin/stats`: the workspace's numbers.

use std::sync::Arc;

use poem_openapi::{Object, OpenApi, payload::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    api::{
        ApiTags,
        security::BearerAuth,
        statuses::{self as s, ApiResult},
    },
    app::AppState,
    service::{stats, system, users},
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
    /// The backend server's version (the database's, e.g. `PostgreSQL 15.19` or
    /// `SQLite 3.46.0`); absent for parts that run inside CoLink and have none of their own.
    #[oai(skip_serializing_if_is_none)]
    version: Option<String>,
    /// How long the backend server has been up (PostgreSQL); absent for parts that run inside
    /// CoLink (up as long as it is).
    #[oai(skip_serializing_if_is_none)]
    uptime_seconds: Option<u64>,
}

#[derive(Object)]
struct SystemInfo {
    version: String,
    started_at: OffsetDateTime,
    uptime_seconds: u64,
    backends: Vec<Backend>,
    /// The effective configuration (the file and environment, with the run-time settings
    /// changed in the console laid over it), secrets redacted.
    config: serde_json::Value,
}

/// Messages sent on one UTC day.
#[derive(Object)]
struct DayCount {
    /// YYYY-MM-DD (UTC).
    day: String,
    messages: i64,
}

/// People active on one UTC day.
#[derive(Object)]
struct DayActive {
    /// YYYY-MM-DD (UTC).
    day: String,
    /// People (not bots) who used CoLink that day, recorded to about a minute.
    users: i64,
}

/// A channel and its messages in the last 7 days.
#[derive(Object)]
struct ChannelCount {
    id: Uuid,
    name: String,
    /// public or private.
    kind: String,
    messages: i64,
}

/// People.
#[derive(Object)]
struct UserStats {
    /// Accounts that are not deactivated, bots left out.
    total: u64,
    /// Active since 00:00 UTC today (recorded activity, to about a minute).
    active_today: u64,
    /// Active in the last 30 days.
    active_30_days: u64,
}

/// The workspace's numbers.
#[derive(Object)]
struct Stats {
    users: UserStats,
    /// Messages sent today (UTC), replies and later-deleted ones included.
    messages_today: i64,
    /// The last 30 UTC days, oldest first, today last (0 for days without messages).
    messages_per_day: Vec<DayCount>,
    /// The last 30 UTC days, oldest first, today last (0 for days without activity).
    active_users_per_day: Vec<DayActive>,
    /// Stored files (confirmed, not deleted) and their bytes.
    files: u64,
    storage_bytes: i64,
    /// Open reports in the moderation queue.
    open_reports: u64,
    /// Public and private channels with the most messages in the last 7 days, most first (at
    /// most 10; DMs are not listed).
    top_channels: Vec<ChannelCount>,
}

/// What this server is doing right now.
#[derive(Object)]
struct Live {
    /// Open WebSocket connections on this server.
    connections: i64,
    /// People with at least one of them.
    users_connected: u64,
    /// Messages created in the last 60 seconds (in every conversation, on every server: the
    /// count of `message.created` events this server received).
    messages_last_minute: u64,
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl SystemApi {
    /// Live counters of this server, read from memory (cheap enough to poll every few
    /// seconds): connections, connected people, messages in the last minute.
    #[oai(path = "/live", method = "get")]
    async fn live(&self, auth: BearerAuth) -> ApiResult<Json<Live>, (s::Authed,)> {
        users::require_admin(auth.0)?;
        let realtime = &self.state.realtime;
        let second = crate::domain::clock::now().unix_timestamp();
        Ok(Json(Live {
            connections: realtime.metrics.snapshot().connections,
            users_connected: realtime.hub.connected_users() as u64,
            messages_last_minute: realtime.metrics.messages.last_minute(second),
        }))
    }

    /// The workspace's numbers: people and their activity, messages today and per day for 30
    /// days, files and bytes stored, open reports, the busiest channels of the week. Read from
    /// rollups: the cost does not grow with the number of messages.
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, auth: BearerAuth) -> ApiResult<Json<Stats>, (s::Authed,)> {
        users::require_admin(auth.0)?;
        let st = stats::collect(&self.state, crate::domain::clock::now()).await?;
        Ok(Json(Stats {
            users: UserStats {
                total: st.users_total,
                active_today: st.users_active_today,
                active_30_days: st.users_active_30_days,
            },
            messages_today: st.messages_today,
            messages_per_day: st
                .messages_per_day
                .into_iter()
                .map(|d| DayCount {
                    day: d.day,
                    messages: d.count,
                })
                .collect(),
            active_users_per_day: st
                .active_per_day
                .into_iter()
                .map(|d| DayActive {
                    day: d.day,
                    users: d.count,
                })
                .collect(),
            files: st.files,
            storage_bytes: st.storage_bytes,
            open_reports: st.open_reports,
            top_channels: st
                .top_channels
                .into_iter()
                .map(|c| ChannelCount {
                    id: c.channel.id,
                    name: c.channel.name.unwrap_or_default(),
                    kind: c.channel.kind.as_str().into(),
                    messages: c.messages,
                })
                .collect(),
        }))
    }

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
                    version: p.version,
                    uptime_seconds: p.uptime.map(|u| u.as_secs()),
                }
            })
            .collect();
        let uptime = OffsetDateTime::now_utc() - self.state.started_at;
        Ok(Json(SystemInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: self.state.started_at,
            uptime_seconds: u64::try_from(uptime.whole_seconds()).unwrap_or(0),
            backends,
            config: self.state.settings.get().redacted_json(),
        }))
    }
}

//! `GET /admin/settings`, `PUT` / `DELETE /admin/settings/{key}`: see `service::settings`.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use crate::{
    api::{
        ApiTags,
        body::JsonBody,
        dto::NoContent,
        security::{BearerAuth, meta},
        statuses::{self as s, ApiResult},
    },
    app::AppState,
    service::{settings, users},
};

pub struct SettingsApi {
    pub state: Arc<AppState>,
}

/// One key of the effective configuration.
#[derive(Object)]
struct SettingView {
    /// The configuration key, e.g. `auth.registration` (`[auth]` `registration` in the file).
    key: String,
    /// Its value in force, secrets redacted; a rate limit is its `{max, window}` table.
    value: serde_json::Value,
    /// Changeable here, taking effect on every server within seconds; otherwise set it in the
    /// file or the environment and restart.
    runtime: bool,
    /// Changed here: overrides the file and the environment until reset.
    overridden: bool,
    /// What it does, from `config.example.toml`.
    #[oai(skip_serializing_if_is_none)]
    doc: Option<String>,
    /// The environment variable that sets it, e.g. `COLINK_AUTH__REGISTRATION`.
    env: String,
}

#[derive(Object)]
struct SettingList {
    /// In the configuration's order.
    items: Vec<SettingView>,
}

/// A new value for a run-time setting.
#[derive(Object)]
struct SettingBody {
    /// As the configuration file would hold it, in JSON: `"open"`, `50`, `"30d"`,
    /// `{"max": 10, "window": "15m"}`.
    value: serde_json::Value,
}

fn view(s: settings::Setting) -> SettingView {
    SettingView {
        key: s.key,
        value: s.value,
        runtime: s.runtime,
        overridden: s.overridden,
        doc: s.doc.map(str::to_string),
        env: s.env,
    }
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl SettingsApi {
    /// The effective configuration key by key (secrets redacted), each with its documentation,
    /// whether it can change at run time, and whether it was changed here.
    #[oai(path = "/settings", method = "get")]
    async fn settings(&self, auth: BearerAuth) -> ApiResult<Json<SettingList>, (s::Authed,)> {
        users::require_admin(auth.0)?;
        let items = settings::describe(&self.state)
            .into_iter()
            .map(view)
            .collect();
        Ok(Json(SettingList { items }))
    }

    /// Change a run-time setting: checked exactly as the configuration file would be (400
    /// naming the problem), stored, audited, and in force on every server within seconds. 409
    /// for a key read only at start-up; 404 for a key that does not exist.
    #[oai(path = "/settings/:key", method = "put")]
    async fn set(
        &self,
        req: &Request,
        auth: BearerAuth,
        key: Path<String>,
        body: JsonBody<SettingBody>,
    ) -> ApiResult<Json<SettingView>, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        settings::set(&self.state, meta, auth.0, &key.0, body.0.value).await?;
        self.one(&key.0)
    }

    /// Go back to the value of the configuration file and environment. Audited.
    #[oai(path = "/settings/:key", method = "delete")]
    async fn reset(
        &self,
        req: &Request,
        auth: BearerAuth,
        key: Path<String>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        settings::reset(&self.state, meta, auth.0, &key.0).await?;
        Ok(NoContent::NoContent)
    }
}

impl SettingsApi {
    fn one<S>(&self, key: &str) -> ApiResult<Json<SettingView>, S> {
        settings::describe(&self.state)
            .into_iter()
            .find(|s| s.key == key)
            .map(|s| Json(view(s)))
            .ok_or_else(|| crate::error::AppError::not_found("setting").into())
    }
}

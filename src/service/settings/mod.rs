//! Run-time settings: the configuration keys admins may change while CoLink runs (the
//! registration policy, rate limits, the audit retention), stored in the `settings` table and
//! applied on every node without a restart; and the effective configuration as the admin
//! console shows it, key by key, with each key's documentation.
//!
//! Invariants:
//! - The effective configuration is the file/environment configuration with the stored
//!   overrides laid over it, re-read through the configuration's own types and `validate()`:
//!   an override is exactly as valid as the same value in `config.toml` (a value the
//!   configuration would refuse is refused with 400, naming the key).
//! - Only [`RUNTIME_KEYS`] can be overridden; every other key is shown read-only with the file
//!   key and environment variable that set it.
//! - Each node reloads the overrides every [`RELOAD_EVERY`] (and at once after a change it made),
//!   so a change applies everywhere within seconds; code that reads a run-time key reads
//!   [`LiveConfig::get`], never the start-up configuration.
//! - Secrets are never shown: values come from the redacted configuration.

mod docs;

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::Value;

use super::{Principal, RequestMeta, audit, now, users};
use crate::{
    app::AppState,
    config::Config,
    db::entity::setting,
    error::{AppError, AppResult},
};

/// How often each node reads the stored overrides again.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// The keys that may change at run time; each names a value or a whole table of the
/// configuration (a rate limit's `{max, window}`, a write bucket's `{capacity, per_minute}`).
pub const RUNTIME_KEYS: &[&str] = &[
    "auth.registration",
    "limits.mention_all_max_members",
    "limits.login_per_ip",
    "limits.login_per_account",
    "limits.second_factor_per_user",
    "limits.register_per_ip",
    "limits.password_reset_per_ip",
    "limits.password_reset_per_address",
    "limits.verification_per_address",
    "limits.writes.messages",
    "limits.writes.replies",
    "limits.writes.reactions",
    "limits.writes.conversations",
    "limits.writes.invites",
    "limits.writes.ws_tickets",
    "limits.writes.uploads",
    "audit.retention",
];

/// The configuration in force: the start-up configuration and the stored overrides.
pub struct LiveConfig {
    base: Config,
    current: RwLock<Live>,
}

struct Live {
    config: Arc<Config>,
    overrides: BTreeMap<String, Value>,
}

impl LiveConfig {
    pub fn new(base: Config) -> Self {
        Self {
            current: RwLock::new(Live {
                config: Arc::new(base.clone()),
                overrides: BTreeMap::new(),
            }),
            base,
        }
    }

    /// `base` with the stored overrides.
    pub async fn load(base: Config, db: &impl ConnectionTrait) -> AppResult<Self> {
        let live = Self::new(base);
        live.reload(db).await?;
        Ok(live)
    }

    /// The configuration in force now.
    pub fn get(&self) -> Arc<Config> {
        self.read().config.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Read the stored overrides again; true when they changed. A stored value that no longer
    /// fits (say, after an upgrade) is left out with a warning rather than stopping the node.
    pub async fn reload(&self, db: &impl ConnectionTrait) -> AppResult<bool> {
        let mut stored = BTreeMap::new();
        for row in setting::Entity::find().all(db).await? {
            match serde_json::from_str::<Value>(&row.value) {
                Ok(value) if RUNTIME_KEYS.contains(&row.key.as_str()) => {
                    stored.insert(row.key, value);
                }
                _ => {
                    tracing::warn!(key = %row.key, "ignoring a stored setting that does not apply")
                }
            }
        }
        if stored == self.read().overrides {
            return Ok(false);
        }
        let mut kept = BTreeMap::new();
        let mut config = self.base.clone();
        for (key, value) in stored {
            let mut trial = kept.clone();
            trial.insert(key.clone(), value.clone());
            match overlay(&self.base, &trial) {
                Ok(next) => {
                    config = next;
                    kept = trial;
                }
                Err(e) => tracing::warn!(key = %key, error = %e, "ignoring a stored setting"),
            }
        }
        let mut live = self.current.write().unwrap_or_else(|e| e.into_inner());
        *live = Live {
            config: Arc::new(config),
            overrides: kept,
        };
        Ok(true)
    }

    /// Whether `key` is stored (overrides the file and environment).
    pub fn is_overridden(&self, key: &str) -> bool {
        self.read().overrides.contains_key(key)
    }
}

/// `base` with `overrides` laid over it, read back through the configuration's types and
/// validation; the error names the key the way the configuration would.
fn overlay(base: &Config, overrides: &BTreeMap<String, Value>) -> Result<Config, String> {
    let mut tree = serde_json::to_value(base).map_err(|e| e.to_string())?;
    for (key, value) in overrides {
        let mut cursor = &mut tree;
        let parts: Vec<&str> = key.split('.').collect();
        let (last, path) = parts.split_last().ok_or("empty key")?;
        for part in path {
            cursor = cursor
                .get_mut(*part)
                .ok_or_else(|| format!("{key}: no such setting"))?;
        }
        let slot = cursor
            .get_mut(*last)
            .ok_or_else(|| format!("{key}: no such setting"))?;
        *slot = value.clone();
    }
    let config: Config =
        serde_json::from_value(tree).map_err(|e| format!("not a valid value: {e}"))?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Change a run-time setting (admins): stored, audited with the old and new values, in force on
/// this node at once and on the others within [`RELOAD_EVERY`].
pub async fn set(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    key: &str,
    value: Value,
) -> AppResult<()> {
    users::require_admin(principal)?;
    let key = runtime_key(key)?;
    let mut trial = state.settings.read().overrides.clone();
    trial.insert(key.to_string(), value.clone());
    overlay(&state.settings.base, &trial)
        .map_err(|e| AppError::validation(format!("value: {e}")))?;
    store(state, meta, principal, key, Some(value)).await
}

/// Go back to the file and environment's value of `key`.
pub async fn reset(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    key: &str,
) -> AppResult<()> {
    users::require_admin(principal)?;
    let key = runtime_key(key)?;
    if !state.settings.is_overridden(key) {
        return Ok(());
    }
    store(state, meta, principal, key, None).await
}

/// Store `key`'s override (`None`: remove it) with its audit entry, then reload.
async fn store(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    key: &'static str,
    value: Option<Value>,
) -> AppResult<()> {
    let before = shown(&state.settings.get(), key);
    let details = match &value {
        Some(to) => serde_json::json!({ "key": key, "from": before, "to": to }),
        None => serde_json::json!({ "key": key, "from": before, "to": null, "reset": true }),
    };
    state
        .write(move |tx| {
            Box::pin(async move {
                setting::Entity::delete_by_id(key.to_string())
                    .exec(tx)
                    .await?;
                if let Some(value) = value {
                    setting::ActiveModel {
                        key: Set(key.to_string()),
                        value: Set(value.to_string()),
                        updated_by: Set(principal.audit_actor()),
                        updated_at: Set(now()),
                    }
                    .insert(tx)
                    .await?;
                }
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: principal.audit_actor(),
                        action: audit::action::SETTING_CHANGED,
                        target: None,
                        details: Some(details),
                    },
                )
                .await
            })
        })
        .await?;
    state.settings.reload(&state.db).await?;
    Ok(())
}

fn runtime_key(key: &str) -> AppResult<&'static str> {
    if let Some(k) = RUNTIME_KEYS.iter().find(|k| **k == key) {
        return Ok(k);
    }
    if docs::of(key).is_some() {
        Err(AppError::conflict(format!(
            "{key} is read at start-up: set it in the configuration file or the environment \
             ({}) and restart",
            env_var(key)
        )))
    } else {
        Err(AppError::not_found("setting"))
    }
}

/// The environment variable that sets `key`.
pub fn env_var(key: &str) -> String {
    format!("COLINK_{}", key.to_uppercase().replace('.', "__"))
}

/// `key`'s value in `config`, secrets redacted.
fn shown(config: &Config, key: &str) -> Value {
    let mut cursor = config.redacted_json();
    for part in key.split('.') {
        cursor = cursor.get(part).cloned().unwrap_or(Value::Null);
    }
    cursor
}

/// One key of the effective configuration, as the console shows it.
pub struct Setting {
    pub key: String,
    pub value: Value,
    /// Changeable here; otherwise set in the file or environment and restart.
    pub runtime: bool,
    /// Stored here, overriding the file and environment.
    pub overridden: bool,
    pub doc: Option<&'static str>,
    pub env: String,
}

/// Every key of the effective configuration, secrets redacted, in the configuration's order;
/// a run-time key that names a table (a rate limit) is one entry.
pub fn describe(state: &AppState) -> Vec<Setting> {
    let config = state.settings.get().redacted_json();
    let mut out = Vec::new();
    flatten(state, "", &config, &mut out);
    out
}

fn flatten(state: &AppState, prefix: &str, value: &Value, out: &mut Vec<Setting>) {
    let runtime = RUNTIME_KEYS.contains(&prefix);
    match value {
        Value::Object(map) if !runtime => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(state, &key, v, out);
            }
        }
        _ => out.push(Setting {
            key: prefix.to_string(),
            value: value.clone(),
            runtime,
            overridden: state.settings.is_overridden(prefix),
            doc: docs::of(prefix),
            env: env_var(prefix),
        }),
    }
}

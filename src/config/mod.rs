//! Configuration: built-in defaults < config file < `COLINK_*` environment (`__` nests).
//!
//! Every key is documented with its default in `config.example.toml`. Unknown keys and invalid
//! values stop start-up with a message naming the key.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

mod audit;
mod backends;
mod limits;
mod net;
mod oidc;
mod plugins;
mod realtime;
mod redact;
mod search;
mod server;
mod sources;
mod storage;
mod values;
mod writes;
pub use audit::AuditConfig;
pub use backends::{BusBackend, BusConfig, ClusterConfig, KvBackend, KvConfig, SaslMechanism};
pub use limits::{LimitsConfig, RateLimit};
pub use net::IpRange;
pub use oidc::{OidcConfig, OidcProvider, ProviderKind};
pub use plugins::{PluginsConfig, WEBHOOK_EVENTS, WebhookConfig};
pub use realtime::RealtimeConfig;
use redact::redact_url;
pub use search::{SearchBackend, SearchConfig};
pub use server::ServerConfig;
pub use sources::{ConfigError, env_warnings};
pub use storage::{CHUNK_RANGE, MIB, S3Config, ScannerKind, StorageBackend, StorageConfig};
pub use values::{HumanDuration, Secret};
pub use writes::WriteLimits;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the SQLite database, the kv store, keys and the mailbox.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub kv: KvConfig,
    pub bus: BusConfig,
    pub auth: AuthConfig,
    pub email: EmailConfig,
    pub limits: LimitsConfig,
    pub telemetry: TelemetryConfig,
    pub realtime: RealtimeConfig,
    pub storage: StorageConfig,
    pub search: SearchConfig,
    pub plugins: PluginsConfig,
    pub audit: AuditConfig,
    pub cluster: ClusterConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./colink-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            kv: KvConfig::default(),
            bus: BusConfig::default(),
            auth: AuthConfig::default(),
            email: EmailConfig::default(),
            limits: LimitsConfig::default(),
            telemetry: TelemetryConfig::default(),
            realtime: RealtimeConfig::default(),
            storage: StorageConfig::default(),
            search: SearchConfig::default(),
            plugins: PluginsConfig::default(),
            audit: AuditConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`. Unset: `<data_dir>/colink.db`.
    pub url: Option<Secret>,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    Open,
    Invite,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub registration: Registration,
    pub access_ttl: HumanDuration,
    pub refresh_ttl: HumanDuration,
    /// A session ends this long after its login, however often it is refreshed.
    pub session_max_age: HumanDuration,
    pub require_totp: bool,
    /// Master secret (≥ 32 chars) for token signing and TOTP-secret encryption. Unset: a random
    /// key is generated into `<data_dir>/secret.key` (mode 0600). Set it on every node of a cluster.
    pub secret_key: Option<Secret>,
    /// `false`: no password sign-in, registration or reset; people sign in through
    /// `[[auth.oidc.providers]]` only (the setup of the first owner still takes a password).
    pub password_login: bool,
    pub oidc: OidcConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            registration: Registration::Invite,
            access_ttl: HumanDuration(Duration::from_secs(15 * 60)),
            refresh_ttl: HumanDuration(Duration::from_secs(30 * 24 * 3600)),
            session_max_age: HumanDuration(Duration::from_secs(90 * 24 * 3600)),
            require_totp: false,
            secret_key: None,
            password_login: true,
            oidc: OidcConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:port`, `smtps://user:pass@host`. Unset: mail goes to `<data_dir>/mailbox/`.
    pub smtp_url: Option<Secret>,
    pub from: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "CoLink <colink@localhost>".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    Auto,
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info` or `colink=debug,info`.
    pub level: String,
    /// Serve `GET /metrics` on this address only, instead of on `server.bind` (keep it off the
    /// public port; e.g. `127.0.0.1:9090` or a cluster-internal address).
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g.
    /// `http://otel-collector:4318` (spans go to `/v1/traces` under it). Unset: no tracing.
    pub otlp_endpoint: Option<url::Url>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Auto,
            level: "info".into(),
            metrics_bind: None,
            otlp_endpoint: None,
        }
    }
}

impl Config {
    /// Load defaults < `file` (when given; `config.toml` in the working directory otherwise, if
    /// present) < `COLINK_*` environment, then validate. `COLINK_*` variables that name no
    /// setting are left out here (see [`env_warnings`]), so a typo cannot stop start-up.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::MissingFile(sources::absolute(path)));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(sources::absolute(path))),
            None => figment = figment.merge(Toml::file("config.toml")),
        }
        let known = sources::known_keys();
        figment = figment.merge(
            Env::prefixed("COLINK_")
                .split("__")
                .filter(move |key| sources::is_known(&known, &key.into())),
        );
        let config: Config = figment.extract().map_err(sources::describe)?;
        config.validate().map_err(|e| e.located(&figment))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_storage()?;
        self.validate_server()?;
        self.validate_auth()?;
        self.validate_mail_and_telemetry()?;
        self.limits.validate()?;
        self.realtime.validate()?;
        self.storage.validate()?;
        self.plugins.validate()?;
        self.limits.writes.validate()
    }

    /// `[database]` and `[bus]`.
    fn validate_storage(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| Err(ConfigError::invalid(key, problem));
        if let Some(url) = &self.database.url {
            let u = url.expose();
            if !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://"))
            {
                return invalid("database.url", "must start with sqlite: or postgres://");
            }
        }
        if self.search.backend == SearchBackend::Postgres && self.is_sqlite() {
            return invalid(
                "search.backend",
                "\"postgres\" needs a PostgreSQL database (database.url = \"postgres://…\"); \
                 with SQLite use \"tantivy\"",
            );
        }
        if self.audit.retention.0 < std::time::Duration::from_secs(86_400) {
            return invalid("audit.retention", "must be at least 1d");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        self.kv.validate()?;
        self.bus.validate(&self.kv)?;
        self.validate_cluster()
    }

    /// `[server]`.
    fn validate_server(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| Err(ConfigError::invalid(key, problem));
        if self.server.trust_forwarded_for.is_some() {
            return invalid(
                "server.trust_forwarded_for",
                "was replaced by `server.trusted_proxies`, a list of the proxies' addresses or \
                 CIDR blocks (e.g. [\"127.0.0.1\", \"10.0.0.0/8\"])",
            );
        }
        if self.server.max_body_bytes < 1024 {
            return invalid("server.max_body_bytes", "must be at least 1024");
        }
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return invalid("server.max_connections", "must be between 1 and 1000000");
        }
        for (key, value) in [
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("server.body_read_timeout", self.server.body_read_timeout),
            ("server.write_timeout", self.server.write_timeout),
            ("server.shutdown_timeout", self.server.shutdown_timeout),
        ] {
            if value.secs() == 0 {
                return invalid(key, "must be at least 1s");
            }
        }
        for origin in &self.server.cors_origins {
            if url::Url::parse(origin).is_err() {
                return invalid("server.cors_origins", "each entry must be an origin URL");
            }
        }
        Ok(())
    }

    /// `[auth]`: lifetimes that fit together, a long enough key.
    fn validate_auth(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| Err(ConfigError::invalid(key, problem));
        if self.auth.access_ttl.secs() < 30 {
            return invalid("auth.access_ttl", "must be at least 30s");
        }
        if self.auth.session_max_age.secs() < self.auth.access_ttl.secs() {
            return invalid(
                "auth.session_max_age",
                "must not be shorter than auth.access_ttl",
            );
        }
        if self.auth.refresh_ttl.secs() < self.auth.access_ttl.secs() {
            return invalid(
                "auth.refresh_ttl",
                "must not be shorter than auth.access_ttl",
            );
        }
        if let Some(key) = &self.auth.secret_key
            && key.expose().len() < 32
        {
            return invalid("auth.secret_key", "must be at least 32 characters");
        }
        self.auth.oidc.validate(self.auth.password_login)
    }

    /// `[email]` and `[telemetry]`.
    fn validate_mail_and_telemetry(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| Err(ConfigError::invalid(key, problem));
        if let Some(smtp) = &self.email.smtp_url {
            let u = smtp.expose();
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                return invalid("email.smtp_url", "must start with smtp:// or smtps://");
            }
        }
        if self.email.from.parse::<lettre::message::Mailbox>().is_err() {
            return invalid(
                "email.from",
                "must be a mailbox like `CoLink <colink@example.com>`",
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&self.telemetry.level).is_err() {
            return invalid(
                "telemetry.level",
                "is not a valid log filter (e.g. \"info\")",
            );
        }
        if self.telemetry.metrics_bind.is_some()
            && self.telemetry.metrics_bind == Some(self.server.bind)
            && self.server.bind.port() != 0
        {
            return invalid(
                "telemetry.metrics_bind",
                "must differ from server.bind (leave it unset to serve /metrics there)",
            );
        }
        Ok(())
    }

    /// The database URL in effect: configured, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("colink.db").display()
            ),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// `data_dir` as an absolute path (relative ones are taken from the working directory).
    pub fn data_dir_absolute(&self) -> std::path::PathBuf {
        sources::absolute(&self.data_dir)
    }

    /// Where the data lives, for people: `SQLite file /abs/colink.db`, or the PostgreSQL URL
    /// with its password redacted.
    pub fn database_location(&self) -> String {
        let url = self.database_url();
        if !url.starts_with("sqlite:") {
            return format!("PostgreSQL {}", redact_url(&url));
        }
        match self.sqlite_path() {
            Some(path) => format!("SQLite file {}", path.display()),
            None => "SQLite in memory".into(),
        }
    }

    /// The SQLite database file (absolute), when the database is one: not PostgreSQL, not in
    /// memory.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        let url = self.database_url();
        let rest = url.strip_prefix("sqlite:")?;
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        Some(sources::absolute(Path::new(path)))
    }

    /// Where the `fs` storage backend keeps file objects: `storage.root`, or `<data_dir>/files`.
    pub fn files_root(&self) -> std::path::PathBuf {
        self.storage
            .root
            .clone()
            .unwrap_or_else(|| self.data_dir_absolute().join("files"))
    }

    /// Public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(u) => u.as_str().trim_end_matches('/').to_string(),
            None => format!("http://{}", self.server.bind),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
        assert_eq!(Config::default().server.bind.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn redaction_hides_credentials_but_keeps_hosts() {
        let mut c = Config::default();
        c.database.url = Some(Secret::new("postgres://colink:hunter2@db:5432/colink"));
        c.auth.secret_key = Some(Secret::new("x".repeat(40)));
        let out = c.redacted_toml();
        assert!(!out.contains("hunter2"), "{out}");
        assert!(!out.contains(&"x".repeat(40)), "{out}");
        assert!(out.contains("db:5432"), "{out}");
    }

    #[test]
    fn redaction_hides_webhook_secrets_and_the_paths_of_their_urls() {
        let mut c = Config::default();
        c.plugins.webhooks.push(WebhookConfig {
            name: "ci".into(),
            url: "https://hooks.example/services/T0/tok3n".into(),
            secret: Secret::new("s3cret-s3cret-s3cret"),
            events: Vec::new(),
        });
        let out = c.redacted_toml();
        assert!(!out.contains("s3cret") && !out.contains("tok3n"), "{out}");
        assert!(out.contains("https://hooks.example/[redacted]"), "{out}");
    }

    #[test]
    fn environment_overrides_nested_keys_and_ignores_unrelated_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COLINK_SERVER__BIND", "127.0.0.1:9999");
            jail.set_env("COLINK_AUTH__ACCESS_TTL", "5m");
            jail.set_env("COLINK_TEST_DATABASE_URL", "postgres://elsewhere");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.bind.to_string(), "127.0.0.1:9999");
            assert_eq!(c.auth.access_ttl.secs(), 300);
            jail.set_env("COLINK_SERVER__BIND", "not-an-address");
            let err = Config::load(None).unwrap_err().to_string().to_lowercase();
            assert!(err.contains("server.bind"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn environment_sets_keys_without_a_default() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COLINK_BUS__BROKERS", "kafka-1:9092,kafka-2:9092");
            jail.set_env("COLINK_BUS__REPLICATION_FACTOR", "3");
            jail.set_env("COLINK_BUS__URL", "redis://bus:6379");
            jail.set_env("COLINK_CLUSTER__NODE_ID", "node-7");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.bus.brokers.as_deref(), Some("kafka-1:9092,kafka-2:9092"));
            assert_eq!(c.bus.replication_factor, Some(3));
            assert_eq!(
                c.bus.url.as_ref().map(Secret::expose),
                Some("redis://bus:6379")
            );
            assert_eq!(c.cluster.node_id.as_deref(), Some("node-7"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[server]\nbnid = \"x\"\n")?;
            let err = Config::load(Some(std::path::Path::new("c.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("bnid"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_parse_and_the_old_key_points_to_them() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"]\n",
            )?;
            let c =
                Config::load(Some(std::path::Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.server.trusted_proxies.len(), 3);
            jail.create_file(
                "bad.toml",
                "[server]\ntrusted_proxies = [\"10.0.0.0/99\"]\n",
            )?;
            let err = Config::load(Some(std::path::Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("trusted_proxies") && err.contains("10.0.0.0/99"),
                "{err}"
            );
            jail.create_file("old.toml", "[server]\ntrust_forwarded_for = true\n")?;
            let err = Config::load(Some(std::path::Path::new("old.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("server.trusted_proxies"), "{err}");
            jail.set_env("COLINK_SERVER__TRUSTED_PROXIES", "[\"::1\"]");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.trusted_proxies[0].to_string(), "::1");
            Ok(())
        });
    }

    /// config.example.toml documents every key with its default: it must parse to exactly the
    /// built-in defaults, and every default key must appear in it (commented out or not).
    #[test]
    fn example_config_matches_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let example: Config = toml::from_str(&text).unwrap();
        assert_eq!(example.redacted_toml(), Config::default().redacted_toml());
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        let mut keys = Vec::new();
        collect_keys(&defaults, "", &mut keys);
        keys.extend(sources::OPTIONAL_KEYS.iter().map(|k| k.to_string()));
        for key in keys {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(
                text.lines().any(|l| l
                    .trim_start_matches(['#', ' '])
                    .starts_with(&format!("{leaf} ="))),
                "config.example.toml does not document `{key}`"
            );
        }
    }

    fn collect_keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        if let toml::Value::Table(table) = value {
            for (k, v) in table {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() {
                    collect_keys(v, &key, out);
                } else {
                    out.push(key);
                }
            }
        }
    }

    #[test]
    fn invalid_values_name_the_key() {
        let mut c = Config::default();
        c.auth.secret_key = Some(Secret::new("short"));
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("auth.secret_key"), "{msg}");
    }
}

//! `[kv]` and `[bus]`: the ephemeral store and the event bus, embedded by default, shared
//! servers (Redis) when several nodes serve one deployment.

use std::{path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use super::{ConfigError, HumanDuration, Secret};

/// Where TTL keys, counters and token buckets (rate limits, tickets, challenges) live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvBackend {
    /// A redb file in the data dir; token buckets in memory. One node only.
    Embedded,
    /// A Redis server (`kv.url`) shared by every node: rate limits hold across the cluster.
    Redis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    pub backend: KvBackend,
    /// Embedded: file path (default `<data_dir>/kv.redb`).
    pub path: Option<PathBuf>,
    /// Redis: `redis://[user:password@]host:port[/db]`, `rediss://…` for TLS, or
    /// `redis+unix:///path/to/socket`.
    pub url: Option<Secret>,
    /// Redis: prepended to every key, so several deployments can share one server.
    pub prefix: String,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            backend: KvBackend::Embedded,
            path: None,
            url: None,
            prefix: "colink:".into(),
        }
    }
}

/// Longest `kv.prefix`: it is repeated in every key.
const MAX_PREFIX: usize = 64;

impl KvConfig {
    /// `kv.url` with its password hidden, for messages.
    pub fn url_shown(&self) -> String {
        self.url
            .as_ref()
            .map(|url| super::redact::redact_url(url.expose()))
            .unwrap_or_default()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.prefix.len() > MAX_PREFIX || self.prefix.chars().any(char::is_whitespace) {
            return Err(ConfigError::invalid(
                "kv.prefix",
                "must be at most 64 characters, without spaces",
            ));
        }
        match (&self.url, self.backend) {
            (None, KvBackend::Redis) => Err(ConfigError::invalid(
                "kv.url",
                "is required with kv.backend = \"redis\" (e.g. \"redis://127.0.0.1:6379\")",
            )),
            (Some(url), KvBackend::Redis) if !is_redis_url(url.expose()) => {
                Err(ConfigError::invalid(
                    "kv.url",
                    "must start with redis://, rediss:// or redis+unix://",
                ))
            }
            _ => Ok(()),
        }
    }
}

fn is_redis_url(url: &str) -> bool {
    ["redis://", "rediss://", "redis+unix://", "unix://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
        && redis::IntoConnectionInfo::into_connection_info(url).is_ok()
}

/// How committed events reach every node's subscribers (WebSocket fan-out, the indexer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusBackend {
    /// In-process: one node.
    Memory,
    /// Redis pub/sub (`bus.url`, or `kv.url` when the kv is Redis): every node.
    Redis,
    /// Kafka (`bus.brokers`): durable, every node; a topic per event type for other programs.
    Kafka,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    pub backend: BusBackend,
    /// Redis: the server's URL; default `kv.url` when `kv.backend = "redis"`.
    pub url: Option<Secret>,
    /// Kafka: the bootstrap brokers, `"host:port,host:port"` or `["host:port", …]`.
    #[serde(deserialize_with = "brokers_list")]
    pub brokers: Option<String>,
    /// Names of the bus's channels and topics (`<prefix>events`, Kafka also `<prefix>dlq` and
    /// `<prefix><event type>`).
    pub topic_prefix: String,
    /// Kafka: partitions of the topics created on start (existing topics are left as they are).
    pub partitions: u32,
    /// Kafka: replicas of each topic created on start; default the brokers' own default.
    pub replication_factor: Option<u16>,
    /// Kafka: reach the brokers over TLS (their certificates checked against `tls_ca_file`,
    /// else the system's certificate authorities, and their host names verified). Amazon MSK's
    /// TLS listeners (port 9094), Confluent, Aiven.
    pub tls: bool,
    /// Kafka with `tls`: a PEM file of the certificate authorities that signed the brokers'
    /// certificates (a private CA); default the system's.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Kafka: authenticate to the brokers with SASL (Confluent Cloud: `PLAIN` with `tls`;
    /// Amazon MSK: `SCRAM-SHA-512`); needs `sasl_username` and `sasl_password`.
    pub sasl_mechanism: Option<SaslMechanism>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<Secret>,
    /// Events buffered per subscriber before a slow one starts losing them.
    pub buffer: usize,
    /// How long published outbox rows are kept before they are pruned.
    pub outbox_retention: HumanDuration,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            backend: BusBackend::Memory,
            url: None,
            brokers: None,
            topic_prefix: "colink.".into(),
            partitions: 6,
            replication_factor: None,
            tls: false,
            tls_ca_file: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            buffer: 8192,
            outbox_retention: HumanDuration(Duration::from_secs(24 * 3600)),
        }
    }
}

impl BusConfig {
    pub(super) fn validate(&self, kv: &KvConfig) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| Err(ConfigError::invalid(key, problem));
        if !(16..=1_048_576).contains(&self.buffer) {
            return invalid("bus.buffer", "must be between 16 and 1048576");
        }
        if self.topic_prefix.is_empty()
            || self.topic_prefix.len() > MAX_PREFIX
            || !self
                .topic_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return invalid(
                "bus.topic_prefix",
                "must be 1 to 64 characters among letters, digits, '.', '_' and '-'",
            );
        }
        if !(1..=1024).contains(&self.partitions) {
            return invalid("bus.partitions", "must be between 1 and 1024");
        }
        if self.replication_factor == Some(0) {
            return invalid("bus.replication_factor", "must be at least 1");
        }
        self.validate_kafka_security()?;
        if self.backend == BusBackend::Kafka {
            return match self.brokers.as_deref() {
                None => invalid(
                    "bus.brokers",
                    "is required with bus.backend = \"kafka\" (e.g. \"kafka-1:9092,kafka-2:9092\")",
                ),
                Some(brokers) if !brokers.split(',').all(is_host_port) => {
                    invalid("bus.brokers", "must be a comma-separated list of host:port")
                }
                Some(_) => Ok(()),
            };
        }
        match (self.backend, self.redis_url(kv)) {
            (BusBackend::Redis, None) => invalid(
                "bus.url",
                "is required with bus.backend = \"redis\" (or set kv.url with kv.backend = \"redis\")",
            ),
            (BusBackend::Redis, Some(url)) if !is_redis_url(url.expose()) => invalid(
                "bus.url",
                "must start with redis://, rediss:// or redis+unix://",
            ),
            _ => Ok(()),
        }
    }

    /// `bus.tls*` and `bus.sasl_*`: the Kafka bus's only.
    fn validate_kafka_security(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| Err(ConfigError::invalid(key, problem));
        let kafka_only = [
            ("bus.tls", self.tls),
            ("bus.tls_ca_file", self.tls_ca_file.is_some()),
            ("bus.sasl_mechanism", self.sasl_mechanism.is_some()),
            ("bus.sasl_username", self.sasl_username.is_some()),
            ("bus.sasl_password", self.sasl_password.is_some()),
        ];
        if self.backend != BusBackend::Kafka
            && let Some((key, _)) = kafka_only.iter().find(|(_, set)| *set)
        {
            return invalid(
                key,
                "applies to the Kafka bus only (a Redis bus reaches its server over TLS with a \
                 rediss:// URL, with its credentials in the URL)",
            );
        }
        if let Some(file) = &self.tls_ca_file {
            if !self.tls {
                return invalid("bus.tls_ca_file", "needs bus.tls = true");
            }
            if std::fs::File::open(file).is_err() {
                return invalid(
                    "bus.tls_ca_file",
                    &format!("{} cannot be read", file.display()),
                );
            }
        }
        match self.sasl_mechanism {
            None if self.sasl_username.is_some() || self.sasl_password.is_some() => invalid(
                "bus.sasl_mechanism",
                "is required with bus.sasl_username/sasl_password (\"PLAIN\", \"SCRAM-SHA-256\" \
                 or \"SCRAM-SHA-512\")",
            ),
            Some(_) if self.sasl_username.as_deref().is_none_or(str::is_empty) => {
                invalid("bus.sasl_username", "is required with bus.sasl_mechanism")
            }
            Some(_) if self.sasl_password.is_none() => {
                invalid("bus.sasl_password", "is required with bus.sasl_mechanism")
            }
            Some(SaslMechanism::Plain) if !self.tls => invalid(
                "bus.sasl_mechanism",
                "\"PLAIN\" sends the password as it is: it needs bus.tls = true",
            ),
            _ => Ok(()),
        }
    }

    /// The Redis bus's server: `bus.url`, else the Redis kv's.
    pub fn redis_url<'a>(&'a self, kv: &'a KvConfig) -> Option<&'a Secret> {
        self.url
            .as_ref()
            .or(kv.url.as_ref().filter(|_| kv.backend == KvBackend::Redis))
    }
}

/// How the Kafka bus authenticates to the brokers (`bus.sasl_mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The name librdkafka (and Kafka) give it.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// `bus.brokers` as a comma-separated string or a list of strings, kept comma-separated.
fn brokers_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Brokers {
        Joined(String),
        Listed(Vec<String>),
    }
    Ok(match Option::<Brokers>::deserialize(d)? {
        None => None,
        Some(Brokers::Joined(s)) => Some(s),
        Some(Brokers::Listed(list)) => Some(list.join(",")),
    })
}

/// `host:port`, as a Kafka bootstrap server is written.
fn is_host_port(entry: &str) -> bool {
    entry.trim().rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !host.chars().any(char::is_whitespace)
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    })
}

/// `[cluster]`: several `colink serve` nodes behind one URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Several nodes serve one deployment: start-up refuses the embedded backends, which one
    /// node alone can see.
    pub enabled: bool,
    /// This node's name in leases, logs and `/ready`; default the host name and a random
    /// suffix (unique per start).
    pub node_id: Option<String>,
    /// How long leader-only work (the outbox relay, clean-ups) stays with a node that stopped
    /// renewing its lease before another node takes it over.
    pub lease_ttl: HumanDuration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            node_id: None,
            lease_ttl: HumanDuration(Duration::from_secs(10)),
        }
    }
}

impl super::Config {
    /// A shared bus needs a shared kv (the relay's lease); a cluster needs shared everything.
    pub(super) fn validate_cluster(&self) -> Result<(), ConfigError> {
        use super::StorageBackend;
        let invalid = |key, problem: &str| Err(ConfigError::invalid(key, problem));
        let lease = self.cluster.lease_ttl.0;
        if lease < Duration::from_secs(2) || lease > Duration::from_secs(300) {
            return invalid("cluster.lease_ttl", "must be between 2s and 5m");
        }
        if let Some(id) = &self.cluster.node_id
            && (id.is_empty()
                || id.len() > MAX_PREFIX
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return invalid(
                "cluster.node_id",
                "must be 1 to 64 characters among letters, digits, '.', '_' and '-'",
            );
        }
        if self.bus.backend != BusBackend::Memory && self.kv.backend != KvBackend::Redis {
            return invalid(
                "kv.backend",
                "must be \"redis\" with a shared bus: the nodes agree through it on which one \
                 relays the outbox",
            );
        }
        if !self.cluster.enabled {
            return Ok(());
        }
        let needs = |key, problem: &str| {
            invalid(
                key,
                &format!("{problem} with cluster.enabled = true (every node must see it)"),
            )
        };
        if self.is_sqlite() {
            return needs("database.url", "must be a PostgreSQL URL");
        }
        if self.kv.backend != KvBackend::Redis {
            return needs("kv.backend", "must be \"redis\"");
        }
        if self.bus.backend == BusBackend::Memory {
            return needs("bus.backend", "must be \"redis\" or \"kafka\"");
        }
        if self.storage.backend != StorageBackend::S3 {
            return needs("storage.backend", "must be \"s3\"");
        }
        if self.auth.secret_key.is_none() {
            return needs(
                "auth.secret_key",
                "must be set, the same on every node (it signs the tokens every node accepts)",
            );
        }
        Ok(())
    }

    /// This node's id: `cluster.node_id`, or the host name and a random suffix.
    pub fn node_id(&self) -> String {
        self.cluster.node_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "colink".into());
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            format!("{host}-{}", &suffix[..8])
        })
    }
}

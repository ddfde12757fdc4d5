//! Opening the backends `AppState` is made of, as configured: the kv store, the leader lease,
//! presence, the event bus and the search index.

use std::sync::Arc;

use anyhow::Context;

use super::KvChoice;
use crate::{
    bus::{EventBus, KafkaBus, KafkaOptions, MemoryBus, RedisBus},
    config::{BusBackend, Config, KvBackend, Secret},
    kv::{Kv, RedbKv, RedisKv},
};

/// The kv store, and the embedded store again when it is one (its purge runs as a worker).
pub(super) async fn open_kv(
    config: &Config,
    kv_choice: &KvChoice,
) -> anyhow::Result<(Arc<dyn Kv>, Option<RedbKv>)> {
    Ok(match (kv_choice, config.kv.backend) {
        (KvChoice::InMemory, _) => (Arc::new(RedbKv::in_memory()?), None),
        (KvChoice::Configured, KvBackend::Embedded) => {
            let path = config
                .kv
                .path
                .clone()
                .unwrap_or_else(|| config.data_dir.join("kv.redb"));
            let store = RedbKv::open(&path)?;
            (Arc::new(store.clone()), Some(store))
        }
        (KvChoice::Configured, KvBackend::Redis) => {
            let url = config
                .kv
                .url
                .as_ref()
                .map(Secret::expose)
                .unwrap_or_default();
            let store = RedisKv::open(url, &config.kv.prefix)
                .await
                .with_context(|| format!("connecting to kv.url = {}", config.kv.url_shown()))?;
            (Arc::new(store), None)
        }
    })
}

/// With an in-process bus this node is the only one; with a shared bus, the nodes take turns
/// at leader-only work under a lease in the (shared) kv store.
pub(super) fn leader_lease(
    config: &Config,
    kv_choice: &KvChoice,
    kv: &Arc<dyn Kv>,
    node_id: &str,
) -> (
    Option<crate::cluster::LeaseKeeper>,
    crate::cluster::Leadership,
) {
    match (kv_choice, config.bus.backend) {
        (KvChoice::InMemory, _) | (_, BusBackend::Memory) => {
            (None, crate::cluster::Leadership::sole())
        }
        (KvChoice::Configured, _) => {
            let (keeper, leadership) = crate::cluster::lease(
                kv.clone(),
                "leader",
                node_id.to_owned(),
                config.cluster.lease_ttl.0,
            );
            (Some(keeper), leadership)
        }
    }
}

/// Presence: in memory, or in the Redis of a Redis kv, shared by the nodes.
pub(super) async fn open_presence(
    config: &Config,
    kv_choice: &KvChoice,
    node_id: &str,
) -> anyhow::Result<Arc<dyn crate::realtime::presence::PresenceStore>> {
    use crate::realtime::{Realtime, presence_redis::RedisPresence};
    Ok(match (kv_choice, config.kv.backend) {
        (KvChoice::Configured, KvBackend::Redis) => {
            let url = config.kv.url.as_ref().map(Secret::expose);
            let conn = crate::kv::connect_redis(url.unwrap_or_default())
                .await
                .with_context(|| format!("connecting to kv.url = {}", config.kv.url_shown()))?;
            Arc::new(RedisPresence::new(
                conn,
                &config.kv.prefix,
                node_id,
                config.realtime.away_after.0,
                config.realtime.offline_grace.0,
            ))
        }
        _ => Realtime::memory_presence(&config.realtime),
    })
}

/// The event bus: in-process, or Redis pub/sub or Kafka shared by the nodes (CLI commands,
/// which publish nothing and relay nothing, keep to an in-process one).
pub(super) async fn open_bus(
    config: &Config,
    kv_choice: &KvChoice,
    node_id: &str,
    metrics: &Arc<crate::telemetry::Metrics>,
) -> anyhow::Result<Arc<dyn EventBus>> {
    Ok(match (kv_choice, config.bus.backend) {
        (KvChoice::InMemory, _) | (_, BusBackend::Memory) => {
            Arc::new(MemoryBus::new(config.bus.buffer))
        }
        (KvChoice::Configured, BusBackend::Redis) => {
            let url = config.bus.redis_url(&config.kv).map(Secret::expose);
            Arc::new(
                RedisBus::open(url.unwrap_or_default(), &config.bus.topic_prefix)
                    .await
                    .context("connecting to the Redis bus (bus.url or kv.url)")?,
            )
        }
        (KvChoice::Configured, BusBackend::Kafka) => {
            let options = KafkaOptions {
                brokers: config.bus.brokers.as_deref().unwrap_or_default(),
                topic_prefix: &config.bus.topic_prefix,
                partitions: config.bus.partitions,
                replication_factor: config.bus.replication_factor,
                node_id,
                tls: config.bus.tls.then_some(config.bus.tls_ca_file.as_deref()),
                sasl: config.bus.sasl_mechanism.map(|mechanism| {
                    (
                        mechanism.as_str(),
                        config.bus.sasl_username.as_deref().unwrap_or_default(),
                        config
                            .bus
                            .sasl_password
                            .as_ref()
                            .map(Secret::expose)
                            .unwrap_or_default(),
                    )
                }),
            };
            Arc::new(
                KafkaBus::open(&options, metrics.clone())
                    .await
                    .context("opening the Kafka bus (bus.brokers)")?,
            )
        }
    })
}

/// The search index: the server's own, or none when search is off and for CLI commands (they
/// run beside a server and must not take its index lock; they search nothing).
pub(super) async fn open_search(
    config: &Config,
    kv_choice: &KvChoice,
    db: &sea_orm::DatabaseConnection,
) -> anyhow::Result<(crate::search::Search, Option<crate::search::Upkeep>)> {
    use crate::{config::SearchBackend, search::Search};
    if matches!(kv_choice, KvChoice::InMemory) || !config.search.enabled {
        return Ok((Search::off()?, None));
    }
    let (search, upkeep) = match config.search.backend {
        SearchBackend::Tantivy => {
            let dir = config.search.index_dir(&config.data_dir);
            Search::tantivy(&dir)
                .with_context(|| format!("opening the search index in {}", dir.display()))?
        }
        SearchBackend::Postgres => Search::postgres(db.clone())
            .await
            .context("opening PostgreSQL search")?,
    };
    Ok((search, Some(upkeep)))
}

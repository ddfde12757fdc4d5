use std::{
    path::Path,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{
    Counter, Kv, KvError,
    buckets::{Bucket, Buckets},
};

/// key → 8-byte big-endian expiry in ms since the epoch (0 = never) ‖ value.
const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

#[derive(Clone)]
pub struct RedbKv {
    db: Arc<Database>,
    /// Token buckets live in memory: they are taken on every write request, and a restart that
    /// refills them only errs on the generous side.
    buckets: Arc<Buckets>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn encode(value: &[u8], expires_at: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The value and its expiry, or `None` when expired or malformed.
fn decode(raw: &[u8], now: u64) -> Option<(u64, &[u8])> {
    let (head, value) = raw.split_at_checked(8)?;
    let expires_at = u64::from_be_bytes(head.try_into().ok()?);
    (expires_at == 0 || expires_at > now).then_some((expires_at, value))
}

fn expiry(ttl: Option<Duration>, now: u64) -> u64 {
    ttl.map(|t| now.saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)))
        .unwrap_or(0)
}

impl RedbKv {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database::create(path)
            .map_err(|e| anyhow::anyhow!("opening kv store {}: {e}", path.display()))?;
        let tx = db.begin_write()?;
        tx.open_table(TABLE)?;
        tx.commit()?;
        Ok(Self {
            db: Arc::new(db),
            buckets: Arc::default(),
        })
    }

    /// A store that lives only as long as the process (CLI commands).
    pub fn in_memory() -> anyhow::Result<Self> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| anyhow::anyhow!("in-memory kv: {e}"))?;
        let tx = db.begin_write()?;
        tx.open_table(TABLE)?;
        tx.commit()?;
        Ok(Self {
            db: Arc::new(db),
            buckets: Arc::default(),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, KvError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(KvError::backend)?
            .map_err(KvError::backend)
    }

    /// Delete expired entries (and refilled token buckets); returns how many went.
    pub async fn purge_expired(&self) -> Result<usize, KvError> {
        let buckets = self.buckets.purge(std::time::Instant::now());
        self.blocking(move |db| {
            let now = now_ms();
            let tx = db.begin_write()?;
            let removed = {
                let mut table = tx.open_table(TABLE)?;
                let before = table.len()?;
                table.retain(|_, raw| decode(raw, now).is_some())?;
                before - table.len()?
            };
            tx.commit()?;
            Ok(usize::try_from(removed)
                .unwrap_or(usize::MAX)
                .saturating_add(buckets))
        })
        .await
    }
}

#[async_trait]
impl Kv for RedbKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(TABLE)?;
            let now = now_ms();
            Ok(table
                .get(key.as_str())?
                .and_then(|raw| decode(raw.value(), now).map(|(_, v)| v.to_vec())))
        })
        .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.blocking(move |db| {
            let tx = db.begin_write()?;
            tx.open_table(TABLE)?.insert(
                key.as_str(),
                encode(&value, expiry(ttl, now_ms())).as_slice(),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let tx = db.begin_write()?;
            let taken = {
                let mut table = tx.open_table(TABLE)?;
                let removed = table.remove(key.as_str())?;
                let now = now_ms();
                removed.and_then(|raw| decode(raw.value(), now).map(|(_, v)| v.to_vec()))
            };
            tx.commit()?;
            Ok(taken)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let tx = db.begin_write()?;
            tx.open_table(TABLE)?.remove(key.as_str())?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<Counter, KvError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let now = now_ms();
            let tx = db.begin_write()?;
            let (count, expires_at) = {
                let mut table = tx.open_table(TABLE)?;
                let current = table.get(key.as_str())?.and_then(|raw| {
                    let (exp, v) = decode(raw.value(), now)?;
                    Some((u64::from_le_bytes(v.try_into().ok()?), exp))
                });
                let (count, expires_at) = match current {
                    Some((count, exp)) => (count.saturating_add(1), exp),
                    None => (1, expiry(Some(window), now)),
                };
                table.insert(
                    key.as_str(),
                    encode(&count.to_le_bytes(), expires_at).as_slice(),
                )?;
                (count, expires_at)
            };
            tx.commit()?;
            Ok(Counter {
                count,
                resets_in: Duration::from_millis(expires_at.saturating_sub(now)),
            })
        })
        .await
    }

    async fn take_token(&self, key: &str, bucket: Bucket) -> Result<Option<Duration>, KvError> {
        Ok(self.buckets.take(key, bucket, std::time::Instant::now()))
    }

    async fn peek(&self, key: &str) -> Result<Option<Counter>, KvError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(TABLE)?;
            let now = now_ms();
            Ok(table.get(key.as_str())?.and_then(|raw| {
                let (expires_at, v) = decode(raw.value(), now)?;
                Some(Counter {
                    count: u64::from_le_bytes(v.try_into().ok()?),
                    resets_in: Duration::from_millis(expires_at.saturating_sub(now)),
                })
            }))
        })
        .await
    }

    async fn hold_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, KvError> {
        let (key, holder) = (format!("lease:{key}"), holder.to_owned());
        self.blocking(move |db| {
            let now = now_ms();
            let tx = db.begin_write()?;
            let held = {
                let mut table = tx.open_table(TABLE)?;
                let other = table.get(key.as_str())?.is_some_and(|raw| {
                    decode(raw.value(), now).is_some_and(|(_, h)| h != holder.as_bytes())
                });
                if !other {
                    table.insert(
                        key.as_str(),
                        encode(holder.as_bytes(), expiry(Some(ttl), now)).as_slice(),
                    )?;
                }
                !other
            };
            tx.commit()?;
            Ok(held)
        })
        .await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), KvError> {
        let (key, holder) = (format!("lease:{key}"), holder.to_owned());
        self.blocking(move |db| {
            let now = now_ms();
            let tx = db.begin_write()?;
            {
                let mut table = tx.open_table(TABLE)?;
                let ours = table.get(key.as_str())?.is_some_and(|raw| {
                    decode(raw.value(), now).is_some_and(|(_, h)| h == holder.as_bytes())
                });
                if ours {
                    table.remove(key.as_str())?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> Result<(), KvError> {
        self.blocking(|db| {
            let tx = db.begin_read()?;
            tx.open_table(TABLE)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, RedbKv) {
        let dir = tempfile::tempdir().unwrap();
        let kv = RedbKv::open(&dir.path().join("kv.redb")).unwrap();
        (dir, kv)
    }

    #[tokio::test]
    async fn set_get_take() {
        let (_d, kv) = store();
        kv.set("a", b"1", None).await.unwrap();
        assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(kv.take("a").await.unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(kv.take("a").await.unwrap(), None, "take is single-use");
    }

    #[tokio::test]
    async fn expired_values_are_gone() {
        let (_d, kv) = store();
        kv.set("old", b"x", Some(Duration::ZERO)).await.unwrap();
        kv.set("new", b"y", Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(kv.get("old").await.unwrap(), None);
        assert_eq!(kv.purge_expired().await.unwrap(), 1);
        assert!(kv.get("new").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn counters_count_within_a_window_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.redb");
        {
            let kv = RedbKv::open(&path).unwrap();
            for expected in 1..=3 {
                let c = kv
                    .incr("login:1.2.3.4", Duration::from_secs(60))
                    .await
                    .unwrap();
                assert_eq!(c.count, expected);
                assert!(
                    c.resets_in <= Duration::from_secs(60) && c.resets_in > Duration::from_secs(50)
                );
            }
        }
        let kv = RedbKv::open(&path).unwrap();
        assert_eq!(
            kv.incr("login:1.2.3.4", Duration::from_secs(60))
                .await
                .unwrap()
                .count,
            4
        );
        let peeked = kv.peek("login:1.2.3.4").await.unwrap().unwrap();
        assert_eq!(peeked.count, 4, "peek does not count");
        assert_eq!(kv.peek("login:1.2.3.4").await.unwrap().unwrap().count, 4);
        assert_eq!(kv.peek("never").await.unwrap(), None);
        let fresh = kv.incr("other", Duration::ZERO).await.unwrap();
        assert_eq!(fresh.count, 1);
        assert_eq!(
            kv.incr("other", Duration::from_secs(5))
                .await
                .unwrap()
                .count,
            1,
            "expired window restarts"
        );
        kv.incr("brief", Duration::ZERO).await.unwrap();
        assert_eq!(kv.peek("brief").await.unwrap(), None, "window over");
    }
}

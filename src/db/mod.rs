//! Database connection (SQLite or PostgreSQL through sea-orm) and entities.

pub mod entity;
mod nodelay;
pub mod statements;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{config::Config, error::AppResult};

/// Prepared statements kept per pooled connection (sqlx's default).
const POOL_STATEMENT_CACHE: usize = 100;

/// Prepared statements kept by the message writer's connection. Its batch statements have one
/// text per batch shape (rows, channels, authors in the batch), so with the default of 100 it
/// prepared most of them again on every batch: ~15 % of the server's CPU in the `send`
/// benchmark. The shapes are bounded by the batch size (512), and so is this cache's memory.
const WRITER_STATEMENT_CACHE: usize = 2048;

/// How much of the SQLite file each connection reads through a shared memory map instead of
/// `read()` calls (SQLite's own ceiling, `SQLITE_MAX_MMAP_SIZE`, is 2 GiB). Without it every
/// connection copies each page it touches from the OS page cache into its own 2 MB page cache,
/// which a large database overflows at once: in the `mix` benchmark at 1,000,000 messages the
/// copying and re-caching was about a tenth of the server's time (docs/benchmarks.md, issue 9).
/// Mapped pages are the OS page cache itself — shared by all connections, counted as file-backed
/// (not anonymous) memory, and given back by the kernel under pressure.
const SQLITE_MMAP_BYTES: u64 = 2 << 30;

/// The pool's connections (in use, idle), for the metrics.
pub fn pool_usage(db: &DatabaseConnection) -> (u64, u64) {
    use sea_orm::DatabaseConnectionType as Pool;
    let (size, idle) = match &db.inner {
        Pool::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        Pool::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    let idle = idle as u64;
    (u64::from(size).saturating_sub(idle), idle)
}

/// Open the configured database. SQLite gets WAL, a busy timeout, foreign keys and
/// `synchronous=NORMAL` on every pooled connection.
pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    connect_with(
        config,
        config.database.max_connections,
        POOL_STATEMENT_CACHE,
    )
    .await
}

/// A group-commit writer's own connection (see [`WRITER_STATEMENT_CACHE`]).
pub async fn connect_writer(config: &Config) -> anyhow::Result<DatabaseConnection> {
    connect_with(config, 1, WRITER_STATEMENT_CACHE).await
}

/// A pool of exactly `connections`, each keeping up to `statements` prepared statements.
async fn connect_with(
    config: &Config,
    connections: u32,
    statements: usize,
) -> anyhow::Result<DatabaseConnection> {
    let url = config.database_url();
    if config.is_sqlite() && config.database.url.is_none() {
        crate::identity::keys::create_private_dir(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // A local SQLite file needs no liveness ping before every use of a pooled connection.
        .test_before_acquire(!config.is_sqlite())
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .synchronous(SqliteSynchronous::Normal)
                // Checkpoints run in the background (`checkpoint`), not inside a commit.
                .pragma("wal_autocheckpoint", "0")
                .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string())
                .create_if_missing(true)
                .statement_cache_capacity(statements)
        })
        .map_sqlx_postgres_opts(move |opts| opts.statement_cache_capacity(statements));
    if let Some(port) = postgres_tcp_port(options.get_url()) {
        options.map_sqlx_postgres_pool_opts(move |pool| {
            pool.after_connect(move |_connection, _meta| {
                Box::pin(async move {
                    nodelay::set_on_connections_to(port);
                    Ok(())
                })
            })
        });
    }
    let mut db = Database::connect(options)
        .await
        .context("connecting to the database (database.url)")?;
    let system = if config.is_sqlite() {
        "sqlite"
    } else {
        "postgresql"
    };
    db.set_metric_callback(move |info| {
        statements::note();
        crate::telemetry::otlp::statement_span(
            &info.statement.sql,
            info.elapsed,
            info.failed,
            system,
        );
    });
    Ok(db)
}

/// The server port of a PostgreSQL URL that connects over TCP (not a Unix socket).
fn postgres_tcp_port(url: &str) -> Option<u16> {
    let url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return None;
    }
    let unix_socket = url
        .query_pairs()
        .any(|(k, v)| k == "host" && v.starts_with('/'));
    if unix_socket
        || url
            .host_str()
            .is_none_or(|h| h.is_empty() || h.starts_with('%'))
    {
        return None;
    }
    Some(url.port().unwrap_or(5432))
}

/// Copy the SQLite write-ahead log into the database file without blocking writers (a passive
/// checkpoint). The server runs it every second so that commits never stall on checkpoint I/O;
/// a no-op on PostgreSQL.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await?;
    }
    Ok(())
}

/// Apply every pending migration.
pub async fn migrate_up(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("running migrations")
}

/// Serialises write transactions in-process on SQLite, which allows one writer at a time: queued
/// writers wait here (FIFO, asynchronously) instead of inside SQLite's busy handler, which sleeps
/// for up to 100 ms at a time even when the lock frees a microsecond later. PostgreSQL: no gate.
#[derive(Clone, Default)]
pub struct WriteGate(Option<Arc<Mutex<()>>>);

/// Held for the life of a write transaction (drop it after the commit).
pub type WriteGuard = Option<OwnedMutexGuard<()>>;

impl WriteGate {
    pub fn for_connection(db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DbBackend::Sqlite => Self(Some(Arc::new(Mutex::new(())))),
            _ => Self(None),
        }
    }

    pub async fn enter(&self) -> WriteGuard {
        match &self.0 {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }
}

/// Begin a transaction that will write, after passing the write gate. On SQLite it starts
/// `IMMEDIATE`, taking the write lock up front: a deferred transaction that reads and then writes
/// fails with "database is locked" when another writer got in between. PostgreSQL ignores it.
pub async fn begin_write(
    db: &DatabaseConnection,
    gate: &WriteGate,
) -> Result<(DatabaseTransaction, WriteGuard), DbErr> {
    let guard = gate.enter().await;
    let tx = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok((tx, guard))
}

/// Run `work` in a write transaction (see [`begin_write`]); commit on `Ok`, roll back on `Err`.
pub async fn write<T, F>(db: &DatabaseConnection, gate: &WriteGate, work: F) -> AppResult<T>
where
    F: for<'c> FnOnce(
        &'c DatabaseTransaction,
    ) -> Pin<Box<dyn Future<Output = AppResult<T>> + Send + 'c>>,
{
    let (tx, _write) = begin_write(db, gate).await?;
    let out = work(&tx).await?;
    tx.commit().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::postgres_tcp_port;

    #[test]
    fn tcp_port_of_postgres_urls() {
        assert_eq!(
            postgres_tcp_port("postgres://u@127.0.0.1:5433/db"),
            Some(5433)
        );
        assert_eq!(
            postgres_tcp_port("postgresql://u@db.example.com/db"),
            Some(5432)
        );
        assert_eq!(
            postgres_tcp_port("postgres://u@localhost/db?host=/var/run/postgresql"),
            None
        );
        assert_eq!(postgres_tcp_port("sqlite://colink.db?mode=rwc"), None);
    }
}

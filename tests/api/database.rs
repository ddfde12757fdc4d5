//! The database connection as the server configures it.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::spawn_app;

/// SQLite runs with WAL, foreign keys and `synchronous=NORMAL` (and a busy timeout) on the
/// server's own pool.
#[tokio::test]
async fn sqlite_pragmas_are_in_effect() {
    let app = spawn_app().await;
    if !app.config.is_sqlite() {
        eprintln!("skipping: the suite runs against PostgreSQL");
        return;
    }
    let pragma = |name: &'static str| {
        let db = app.state.db.clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    format!("PRAGMA {name}"),
                ))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("PRAGMA {name} returned no row"));
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("foreign_keys").await, "1");
    // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    assert_eq!(pragma("synchronous").await, "1");
    assert_eq!(pragma("busy_timeout").await, "10000");
}

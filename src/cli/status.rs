//! `colink status`: what this installation is and how it is doing, read from the data dir and
//! the database, and from the running server's `/ready` when one answers at `server.bind`.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::{
    config::{Config, SearchBackend},
    db::{self, entity::outbox},
    search::tantivy_index::TantivyIndex,
};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let mut out = Lines::default();
    out.line("colink", format!("CoLink {}", env!("CARGO_PKG_VERSION")));
    out.line("data dir", config.data_dir_absolute().display().to_string());
    out.line("database", config.database_location());
    if let Some(file) = config.sqlite_path()
        && !file.exists()
    {
        out.line("schema", "no database yet: `colink serve` creates it");
        out.line("server", server_state(config).await);
        return super::output::print(&out.0);
    }
    let db = db::connect(config).await?;
    let applied = Migrator::get_applied_migrations(&db).await?;
    let pending = Migrator::get_pending_migrations(&db).await?;
    out.line(
        "schema",
        format!(
            "{} migrations applied (latest {}), {} pending{}",
            applied.len(),
            applied.last().map_or("none", |m| m.name()),
            pending.len(),
            if pending.is_empty() {
                ""
            } else {
                ": `colink serve` or `colink migrate up` applies them"
            }
        ),
    );
    let waiting = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .count(&db)
        .await?;
    out.line(
        "outbox",
        format!("{waiting} events not yet recorded as published to the bus"),
    );
    db.close().await.ok();
    out.line("search", search_state(config));
    out.line("server", server_state(config).await);
    super::output::print(&out.0)
}

/// `name  value` lines, the names aligned.
#[derive(Default)]
pub(super) struct Lines(pub String);

impl Lines {
    pub(super) fn line(&mut self, name: &str, value: impl std::fmt::Display) {
        self.0.push_str(&format!("{name:<14}{value}\n"));
    }
}

fn search_state(config: &Config) -> String {
    if !config.search.enabled {
        return "off (search.enabled = false)".into();
    }
    if config.search.backend == SearchBackend::Postgres {
        return "PostgreSQL full-text search (always current)".into();
    }
    let dir = config.search.index_dir(&config.data_dir);
    let in_use = if TantivyIndex::in_use(&dir) {
        "; in use by a running server"
    } else {
        ""
    };
    match TantivyIndex::describe(&dir) {
        Ok((documents, watermark)) => format!(
            "tantivy index at {}: {documents} documents, current to {}{in_use}",
            dir.display(),
            watermark
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        ),
        Err(reason) => format!(
            "tantivy index at {}: rebuilt from the database on the next start ({reason}){in_use}",
            dir.display()
        ),
    }
}

/// Where this host reaches the server configured at `server.bind`: an unspecified address
/// (`0.0.0.0:8080`) is asked on the loopback interface.
pub(super) fn local_address(config: &Config) -> std::net::SocketAddr {
    let mut addr = config.server.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// The running server's readiness, asked at `server.bind`.
pub(super) async fn server_state(config: &Config) -> String {
    let addr = local_address(config);
    let url = format!("http://{addr}/ready");
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => return format!("not asked ({e})"),
    };
    let answer = match client.get(&url).send().await {
        Ok(answer) => answer,
        Err(_) => return format!("not answering at {url}"),
    };
    let code = answer.status();
    let body: serde_json::Value = answer
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let checks = body["checks"]
        .as_object()
        .map(|checks| {
            checks
                .iter()
                .map(|(name, c)| match c["latency_ms"].as_f64() {
                    Some(ms) => format!("{name} {} {ms} ms", c["status"].as_str().unwrap_or("?")),
                    None => format!("{name} {}", c["status"].as_str().unwrap_or("?")),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!(
        "running at http://{addr}: {} (HTTP {}; {checks})",
        body["status"].as_str().unwrap_or("unknown"),
        code.as_u16()
    )
}

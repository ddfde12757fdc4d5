//! `colink backup --out FILE` and `colink restore FILE` (see `crate::backup`).

use std::path::Path;

use crate::{backup, config::Config};

pub async fn create(config: &Config, out: &Path) -> anyhow::Result<()> {
    let summary = backup::create(config, out).await?;
    let m = &summary.manifest;
    let mut text = format!(
        "backup written: {} ({})\n  database: {} people, {} messages ({} migrations)\n  files: {}\n",
        out.display(),
        human_bytes(summary.bytes),
        m.users,
        m.messages,
        m.migrations.len(),
        files_line(config, m.files),
    );
    text.push_str(if m.includes_key {
        "  master key: included — keep this file as secret as the key itself\n"
    } else {
        "  master key: not included (auth.secret_key is set in the configuration: keep it)\n"
    });
    text.push_str(
        "  not included: the kv store (rate limits, tickets: it starts empty) and the search \
         index (rebuilt from the database on the first start)\n",
    );
    super::output::print(&text)
}

pub async fn restore(config: &Config, archive: &Path) -> anyhow::Result<()> {
    let summary = backup::restore(config, archive).await?;
    let m = &summary.manifest;
    let mut text = format!(
        "restored {} (CoLink {}, {}) into {}\n  database: {} people, {} messages\n  files: {}\n",
        archive.display(),
        m.colink_version,
        m.created_at,
        config.data_dir_absolute().display(),
        m.users,
        m.messages,
        files_line(config, m.files),
    );
    if m.includes_key && config.auth.secret_key.is_some() {
        text.push_str(
            "  master key: the backup's key was not restored because auth.secret_key is set; \
             it must be the key the backup was made with, or two-factor secrets and signed \
             links stop working\n",
        );
    }
    text.push_str(
        "  next: start the server (`colink serve`); it applies pending migrations and rebuilds \
         the search index\n",
    );
    super::output::print(&text)
}

fn files_line(config: &Config, files: u64) -> String {
    match config.storage.backend {
        crate::config::StorageBackend::Fs => format!("{files} objects"),
        crate::config::StorageBackend::S3 => {
            "in S3 (not copied: protect the bucket with versioning)".into()
        }
    }
}

fn human_bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / MIB)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

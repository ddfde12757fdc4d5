//! Backup and restore of a single-node CoLink (`colink backup`, `colink restore`).
//!
//! A backup is one gzip-compressed tar archive:
//!
//! | entry           | what                                                                  |
//! |-----------------|-----------------------------------------------------------------------|
//! | `manifest.json` | first: format, CoLink version, time, applied migrations, counts       |
//! | `colink.db`     | a consistent snapshot of the SQLite database (`VACUUM INTO`)          |
//! | `secret.key`    | the master key, when it lives in the data dir (not `auth.secret_key`) |
//! | `config.toml`   | the effective configuration, secrets redacted (for reference)         |
//! | `files/…`       | the file objects of the `fs` storage backend                          |
//!
//! Invariants:
//! - Online: the server keeps running. The snapshot is one read transaction, so it holds every
//!   commit made before it began — every message acknowledged before the backup started.
//! - Files are copied after the snapshot, so every file the snapshot refers to is there (objects
//!   never change once stored; one deleted meanwhile is left out, as it would be anyway).
//! - Not backed up, by design: the kv store (rate-limit counters, single-use tickets, MFA
//!   challenges, recent sign-in addresses: it starts empty), the search index (rebuilt from the
//!   database on the first start) and the mailbox of undelivered mails.
//! - The archive holds the master key: it is written with mode 0600, appears whole or not at all
//!   (written to `FILE.partial`, then renamed), and must be kept like the key itself.
//! - Restore writes only into an empty data dir and only the entries above; any other name, an
//!   absolute path or `..` refuses the archive.
//! - PostgreSQL and S3 deployments back up with their own tools (`pg_dump` or point-in-time
//!   recovery, bucket versioning): `backup` refuses a PostgreSQL database and says so.

use std::{
    fs::{self, File},
    io::{BufWriter, Read, Write},
    path::{Component, Path, PathBuf},
};

use anyhow::{Context, bail};
use flate2::{Compression, read::GzDecoder, write::GzEncoder};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde::{Deserialize, Serialize};

use crate::{
    config::{Config, StorageBackend},
    db::entity::{message, user},
};

/// The archive layout's version; `restore` refuses others.
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "colink.db";
const KEY: &str = "secret.key";
const CONFIG: &str = "config.toml";
const FILES: &str = "files";
/// Where restore leaves the backed-up configuration, for the operator to compare.
const RESTORED_CONFIG: &str = "config.from-backup.toml";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub colink_version: String,
    pub created_at: String,
    /// Migrations applied to the database, oldest first.
    pub migrations: Vec<String>,
    pub users: u64,
    pub messages: u64,
    pub files: u64,
    pub includes_key: bool,
}

/// What a backup or a restore did.
#[derive(Debug)]
pub struct Summary {
    pub manifest: Manifest,
    /// The archive's size (backup) or the data dir written (restore).
    pub bytes: u64,
}

/// Write a backup of the data `config` points at to `out`, while the server may be running.
pub async fn create(config: &Config, out: &Path) -> anyhow::Result<Summary> {
    let Some(database) = config.sqlite_path() else {
        bail!(
            "`colink backup` covers the embedded SQLite database; this server uses PostgreSQL \
             ({}): back it up with pg_dump or point-in-time recovery, and the files with the \
             bucket's versioning (see the README, Backup and restore)",
            config.database_location()
        );
    };
    if !database.exists() {
        bail!("no database at {}", database.display());
    }
    let out = std::path::absolute(out).with_context(|| format!("{}", out.display()))?;
    let snapshot = sibling(&out, "db.partial");
    let _ = fs::remove_file(&snapshot);
    let result = async {
        snapshot_sqlite(&database, &snapshot).await?;
        let (migrations, users, messages) = describe(&snapshot).await?;
        let key = config.data_dir_absolute().join(KEY);
        let key = (config.auth.secret_key.is_none() && key.exists()).then_some(key);
        let files_root =
            (config.storage.backend == StorageBackend::Fs).then(|| config.files_root());
        let mut manifest = Manifest {
            format: FORMAT,
            colink_version: env!("CARGO_PKG_VERSION").into(),
            created_at: now_rfc3339(),
            migrations,
            users,
            messages,
            files: 0,
            includes_key: key.is_some(),
        };
        let redacted = config.redacted_toml();
        let out2 = out.clone();
        let snapshot2 = snapshot.clone();
        tokio::task::spawn_blocking(move || {
            manifest.files = files_root.as_deref().map_or(Ok(0), count_files)?;
            let bytes = write_archive(
                &out2,
                &manifest,
                &snapshot2,
                key.as_deref(),
                &redacted,
                files_root.as_deref(),
            )?;
            Ok::<_, anyhow::Error>(Summary { manifest, bytes })
        })
        .await?
    }
    .await;
    let _ = fs::remove_file(&snapshot);
    result
}

/// `path` with `.suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn sqlite_url(path: &Path, mode: &str) -> String {
    format!("sqlite://{}?mode={mode}", path.display())
}

/// A consistent copy of the live database: `VACUUM INTO` reads one snapshot (WAL readers do not
/// block the server's writer, nor it them) and writes a compact database file.
async fn snapshot_sqlite(database: &Path, into: &Path) -> anyhow::Result<()> {
    let db = Database::connect(sqlite_url(database, "rw"))
        .await
        .with_context(|| format!("opening {}", database.display()))?;
    let target = into.to_string_lossy().replace('\'', "''");
    let result = db
        .execute_unprepared(&format!("VACUUM INTO '{target}'"))
        .await
        .with_context(|| {
            format!(
                "snapshotting {} into {}",
                database.display(),
                into.display()
            )
        });
    db.close().await.ok();
    result.map(|_| ())
}

/// The applied migrations and the number of people and messages of a database file.
async fn describe(database: &Path) -> anyhow::Result<(Vec<String>, u64, u64)> {
    let db = Database::connect(sqlite_url(database, "ro")).await?;
    let result = async {
        let migrations = applied_migrations(&db).await?;
        let users = user::Entity::find().count(&db).await?;
        let messages = message::Entity::find().count(&db).await?;
        Ok::<_, anyhow::Error>((migrations, users, messages))
    }
    .await;
    db.close().await.ok();
    result
}

async fn applied_migrations(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    use sea_orm::Statement;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String>("", "version")?))
        .collect()
}

fn count_files(root: &Path) -> anyhow::Result<u64> {
    let mut n = 0;
    walk_files(root, &mut |_, _| {
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// Every regular file under `root` (skipping `.partial/`, where uploads in progress live), with
/// its path relative to `root`. A file removed during the walk is skipped.
fn walk_files(
    root: &Path,
    visit: &mut dyn FnMut(&Path, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            if kind.is_dir() {
                if relative != Path::new(".partial") {
                    pending.push(path);
                }
            } else if kind.is_file() {
                visit(&path, &relative)?;
            }
        }
    }
    Ok(())
}

fn write_archive(
    out: &Path,
    manifest: &Manifest,
    snapshot: &Path,
    key: Option<&Path>,
    redacted_config: &str,
    files_root: Option<&Path>,
) -> anyhow::Result<u64> {
    let partial = sibling(out, "partial");
    let file = private_file(&partial)?;
    let mut tar = tar::Builder::new(GzEncoder::new(BufWriter::new(file), Compression::fast()));
    let write = |tar: &mut tar::Builder<_>| -> anyhow::Result<()> {
        append_bytes(tar, MANIFEST, &serde_json::to_vec_pretty(manifest)?)?;
        tar.append_path_with_name(snapshot, DATABASE)?;
        if let Some(key) = key {
            tar.append_path_with_name(key, KEY)?;
        }
        append_bytes(tar, CONFIG, redacted_config.as_bytes())?;
        if let Some(root) = files_root {
            walk_files(root, &mut |path, relative| {
                match File::open(path) {
                    Ok(mut f) => tar.append_file(Path::new(FILES).join(relative), &mut f)?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
                }
                Ok(())
            })?;
        }
        Ok(())
    };
    let written = write(&mut tar).and_then(|()| {
        let buffered = tar.into_inner()?.finish()?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file.metadata()?.len())
    });
    match written {
        Ok(bytes) => {
            fs::rename(&partial, out)
                .with_context(|| format!("moving {} to {}", partial.display(), out.display()))?;
            Ok(bytes)
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e.context(format!("writing {}", out.display())))
        }
    }
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0));
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)?;
    Ok(())
}

/// A new file only its owner may read (the archive holds the master key).
fn private_file(path: &Path) -> anyhow::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Restore `archive` into the (empty) data dir `config` points at.
pub async fn restore(config: &Config, archive: &Path) -> anyhow::Result<Summary> {
    let Some(database) = config.sqlite_path() else {
        bail!(
            "`colink restore` restores the embedded SQLite database; database.url points at \
             PostgreSQL ({}): restore it with pg_restore",
            config.database_location()
        );
    };
    let target = Target {
        database,
        data_dir: config.data_dir_absolute(),
        files_root: (config.storage.backend == StorageBackend::Fs).then(|| config.files_root()),
    };
    target.check_empty()?;
    crate::identity::keys::create_private_dir(&target.data_dir)
        .with_context(|| format!("creating data_dir {}", target.data_dir.display()))?;
    let archive = archive.to_path_buf();
    let configured_key = config.auth.secret_key.is_some();
    let (manifest, bytes) =
        tokio::task::spawn_blocking(move || target.unpack(&archive, configured_key)).await??;
    Ok(Summary { manifest, bytes })
}

struct Target {
    database: PathBuf,
    data_dir: PathBuf,
    files_root: Option<PathBuf>,
}

impl Target {
    /// Restore never overwrites: the database, the key and the files must not exist yet.
    fn check_empty(&self) -> anyhow::Result<()> {
        let key = self.data_dir.join(KEY);
        for existing in [&self.database, &key] {
            if existing.exists() {
                bail!(
                    "{} exists: restore into an empty data dir (set data_dir or \
                     COLINK_DATA_DIR to a new directory)",
                    existing.display()
                );
            }
        }
        if let Some(root) = &self.files_root
            && count_files(root)? > 0
        {
            bail!(
                "{} already holds files: restore into an empty data dir",
                root.display()
            );
        }
        Ok(())
    }

    fn unpack(&self, archive: &Path, configured_key: bool) -> anyhow::Result<(Manifest, u64)> {
        let file = File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
        let mut tar = tar::Archive::new(GzDecoder::new(file));
        let mut entries = tar.entries().context("reading the archive")?;
        let manifest = match entries.next() {
            Some(first) => {
                let mut first = first?;
                if first.path()?.as_ref() != Path::new(MANIFEST) {
                    bail!("not a CoLink backup: it does not start with {MANIFEST}");
                }
                let mut text = String::new();
                first.by_ref().take(1 << 20).read_to_string(&mut text)?;
                check_manifest(serde_json::from_str(&text).context("reading the manifest")?)?
            }
            None => bail!("the archive is empty"),
        };
        let staged = sibling(&self.database, "restoring");
        let mut bytes = 0;
        let mut have_database = false;
        for entry in entries {
            let mut entry = entry?;
            let name = entry.path()?.into_owned();
            bytes += entry.size();
            let destination = match name.to_str() {
                Some(DATABASE) => {
                    have_database = true;
                    staged.clone()
                }
                Some(KEY) if configured_key => continue, // auth.secret_key wins; see the CLI's note
                Some(KEY) => self.data_dir.join(KEY),
                Some(CONFIG) => self.data_dir.join(RESTORED_CONFIG),
                _ => match (name.strip_prefix(FILES), &self.files_root) {
                    (Ok(relative), Some(root)) if is_plain_relative(relative) => {
                        root.join(relative)
                    }
                    (Ok(_), None) => continue, // files live in S3 here
                    _ => bail!("unexpected entry in the archive: {}", name.display()),
                },
            };
            if let Some(parent) = destination.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut out = private_file(&destination)?;
            std::io::copy(&mut entry, &mut out)
                .with_context(|| format!("writing {}", destination.display()))?;
            out.sync_all()?;
        }
        if !have_database {
            bail!("the archive holds no database");
        }
        fs::rename(&staged, &self.database)?;
        Ok((manifest, bytes))
    }
}

/// A relative path of plain names only: no root, no `..`, not empty.
fn is_plain_relative(path: &Path) -> bool {
    path.components().count() > 0 && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// The manifest of an archive this version can restore: its format, and only migrations it
/// knows (a backup from a newer CoLink would need migrations this binary lacks).
fn check_manifest(manifest: Manifest) -> anyhow::Result<Manifest> {
    if manifest.format != FORMAT {
        bail!(
            "backup format {} is not supported by this CoLink (format {FORMAT})",
            manifest.format
        );
    }
    let known: std::collections::HashSet<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    if let Some(unknown) = manifest.migrations.iter().find(|m| !known.contains(*m)) {
        bail!(
            "the backup was made by a newer CoLink ({}; migration {unknown} is unknown here): \
             restore it with that version or a later one",
            manifest.colink_version
        );
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_must_be_plain_and_relative() {
        assert!(is_plain_relative(Path::new("ab/cd/original")));
        assert!(!is_plain_relative(Path::new("../etc/passwd")));
        assert!(!is_plain_relative(Path::new("/etc/passwd")));
        assert!(!is_plain_relative(Path::new("a/../../b")));
        assert!(!is_plain_relative(Path::new("")));
    }

    #[test]
    fn a_backup_from_a_newer_version_is_refused() {
        let manifest = Manifest {
            format: FORMAT,
            colink_version: "9.0.0".into(),
            created_at: String::new(),
            migrations: vec!["m9999_from_the_future".into()],
            users: 0,
            messages: 0,
            files: 0,
            includes_key: false,
        };
        let e = check_manifest(manifest).unwrap_err().to_string();
        assert!(e.contains("newer CoLink"), "{e}");
    }
}

//! The `colink` command line. Each subcommand lives in its own file.

mod admin;
mod admin_moderation;
mod admin_users;
mod backup;
mod check_config;
mod doctor;
mod healthcheck;
mod manpage;
mod migrate;
mod openapi;
mod output;
mod reindex;
mod serve;
mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "colink",
    version,
    about = "CoLink: self-hosted team chat in one binary"
)]
pub struct Cli {
    /// Configuration file (default: ./config.toml if present). Environment variables
    /// COLINK_* override it, with __ for nesting (COLINK_DATABASE__URL).
    #[arg(long, short, global = true, env = "COLINK_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve,
    /// Apply or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<migrate::MigrateAction>,
    },
    /// Administer users and bot clients from the shell.
    Admin {
        #[command(subcommand)]
        action: admin::AdminAction,
    },
    /// Write a consistent backup of the data dir (SQLite database, master key, files) to FILE
    /// while the server runs. PostgreSQL deployments use pg_dump instead.
    Backup {
        /// The archive to write (a .tar.gz; it holds the master key: keep it private).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into an empty data dir (data_dir / COLINK_DATA_DIR).
    Restore {
        /// The archive written by `colink backup`.
        file: PathBuf,
    },
    /// Version, schema and pending migrations, outbox backlog, search index, and the running
    /// server's readiness.
    Status,
    /// Check the installation: data dir and key permissions, disk space, every backend, the
    /// database clock. Exits 1 when a check fails.
    Doctor,
    /// Ask the running server's /health at server.bind: exit 0 when it answers 200 OK, 1
    /// otherwise (a container's HEALTHCHECK, where no curl is installed).
    Healthcheck,
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
    /// Load and validate the configuration, then print it with secrets redacted.
    CheckConfig,
    /// Print this manual as a man page (roff) to stdout: `colink manpage > colink.1`.
    Manpage,
}

impl Cli {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }
}

/// Run the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if matches!(cli.command, Some(Command::Manpage)) {
        // Needs no configuration: packagers run it at build time.
        return manpage::run();
    }
    let config = cli.load_config()?;
    // Misspelt COLINK_* variables: told once, in the log for `serve`, on stderr otherwise.
    let warnings = crate::config::env_warnings(std::env::vars());
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Serve) {
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
    }
    match command {
        Command::Serve => serve::run(config, &warnings).await,
        Command::Migrate { action } => {
            migrate::run(config, action.unwrap_or(migrate::MigrateAction::Status)).await
        }
        Command::Admin { action } => admin::run(config, action).await,
        Command::Backup { out } => backup::create(&config, &out).await,
        Command::Restore { file } => backup::restore(&config, &file).await,
        Command::Status => status::run(&config).await,
        Command::Doctor => doctor::run(&config).await,
        Command::Healthcheck => healthcheck::run(&config).await,
        Command::Openapi => openapi::run(config).await,
        Command::CheckConfig => check_config::run(&config),
        Command::Manpage => manpage::run(),
    }
}

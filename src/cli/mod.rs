//! The `colink` command line. Each subcommand lives in its own file.

mod admin;
mod admin_moderation;
mod admin_users;
mod check_config;
mod migrate;
mod openapi;
mod output;
mod reindex;
mod serve;

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
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
    /// Load and validate the configuration, then print it with secrets redacted.
    CheckConfig,
}

impl Cli {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }
}

/// Run the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
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
        Command::Openapi => openapi::run(config).await,
        Command::CheckConfig => check_config::run(&config),
    }
}

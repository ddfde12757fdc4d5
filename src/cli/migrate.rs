use clap::Subcommand;
use migration::{Migrator, MigratorTrait};

use crate::{config::Config, db};

#[derive(Subcommand, Debug, Clone, Copy)]
pub enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back the most recent migration.
    Down,
    /// List migrations and whether each is applied (the default).
    Status,
}

pub async fn run(config: Config, action: MigrateAction) -> anyhow::Result<()> {
    let db = db::connect(&config).await?;
    match action {
        MigrateAction::Up => {
            Migrator::up(&db, None).await?;
            println!("migrations applied");
        }
        MigrateAction::Down => {
            Migrator::down(&db, Some(1)).await?;
            println!("rolled back one migration");
        }
        MigrateAction::Status => {
            for m in Migrator::get_migration_with_status(&db).await? {
                println!(
                    "{:<10} {}",
                    format!("{:?}", m.status()).to_lowercase(),
                    m.name()
                );
            }
        }
    }
    Ok(())
}

use crate::config::Config;

pub fn run(config: &Config) -> anyhow::Result<()> {
    println!("# effective configuration (secrets redacted)");
    print!("{}", config.redacted_toml());
    println!(
        "# database in use: {}",
        if config.is_sqlite() {
            "sqlite"
        } else {
            "postgres"
        }
    );
    Ok(())
}

use crate::config::Config;

pub fn run(config: &Config) -> anyhow::Result<()> {
    let mut out = String::from("# effective configuration (secrets redacted)\n");
    out.push_str(&config.redacted_toml());
    out.push_str(&format!(
        "# data_dir: {}\n",
        config.data_dir_absolute().display()
    ));
    out.push_str(&format!("# database: {}\n", config.database_location()));
    super::output::print(&out)
}

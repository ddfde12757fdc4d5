use std::sync::Arc;

use crate::{app::AppState, config::Config};

/// Print the OpenAPI document. Uses a throwaway in-memory database so it needs no data dir.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("colink-openapi-{}", std::process::id()));
    config.data_dir = dir.clone();
    config.database.url = Some(crate::config::Secret::new("sqlite::memory:"));
    config.database.max_connections = 1;
    config.kv.path = None;
    let document = AppState::open_for_cli(config)
        .await
        .map(|state| crate::api::openapi_json(&Arc::new(state)));
    let _ = std::fs::remove_dir_all(dir);
    super::output::print(&format!("{}\n", document?))
}
